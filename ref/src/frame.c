/* The stateless half of the codec: header encoder and parser (FRAME-1, FRAME-2). */
#include "duct/frame.h"

void duct_frame_header(uint8_t out[DUCT_HEADER_SIZE], uint32_t len)
{
	out[0] = DUCT_MAGIC;
	duct_put32(out + 1, len);
}

int duct_frame_parse(const uint8_t *buf, size_t len, uint32_t max,
		     uint32_t *payload_len)
{
	if (len == 0)
		return DUCT_NEED_MORE;
	/* The magic is checked on the first byte so a desynchronised stream
	 * fails at once instead of waiting for four more bytes (RECV-4). */
	if (buf[0] != DUCT_MAGIC)
		return DUCT_EMAGIC;
	if (len < DUCT_HEADER_SIZE)
		return DUCT_NEED_MORE;
	*payload_len = duct_get32(buf + 1);
	/* Checked before anyone waits for, allocates or copies the payload. */
	return *payload_len > max ? DUCT_ETOOBIG : DUCT_OK;
}
