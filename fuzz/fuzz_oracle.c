/*
 * The reference decoding every frame harness compares against: a
 * duct_reader fed the whole stream at once, itself checked against
 * PROTOCOL.md section 3 read directly off the bytes (FRAME-1..3, RECV-2..6,
 * SEC-1).  Shared by fuzz_frame (which chunks the stream) and fuzz_recv
 * (which sends it through a socket).
 */
#include <string.h>

#include "fuzz_common.h"

void fuzz_check_frame(const uint8_t *stream, const struct fuzz_frame_ref *want,
                      const uint8_t *p, size_t len)
{
	FUZZ_CHECK(len == want->len, "frame at %zu: length %zu, want %u",
	           want->pos, len, (unsigned)want->len);
	FUZZ_CHECK(len == 0 || p != NULL, "frame at %zu: NULL payload",
	           want->pos);
	/* memcmp reads every byte of the borrowed payload: an over-read or a
	 * stale buffer shows up here under ASan or as a mismatch. */
	FUZZ_CHECK(len == 0 || memcmp(p, stream + want->pos + DUCT_HEADER_SIZE,
	                              len) == 0,
	           "frame at %zu: payload differs from the stream", want->pos);
}

/* The outcome of the stream's tail at offset, from the spec alone. */
static void check_terminal(const uint8_t *s, size_t n, uint32_t max,
                           uint64_t off, int rc)
{
	size_t left = n - (size_t)off;
	switch (rc) {
	case DUCT_EOF: /* RECV-2: the stream ends on a frame boundary */
		FUZZ_CHECK(left == 0, "EOF with %zu bytes left", left);
		break;
	case DUCT_ETRUNCATED: /* RECV-3: it ends inside a frame */
		FUZZ_CHECK(left > 0 && s[off] == DUCT_MAGIC,
		           "TRUNCATED at %llu: %zu bytes left",
		           (unsigned long long)off, left);
		FUZZ_CHECK(
		    left < DUCT_HEADER_SIZE ||
		        (duct_get32(s + off + 1) <= max &&
		         DUCT_HEADER_SIZE + (uint64_t)duct_get32(s + off + 1) >
		             left),
		    "TRUNCATED at %llu, but the frame is whole or too big",
		    (unsigned long long)off);
		break;
	case DUCT_EMAGIC: /* FRAME-2, RECV-4 */
		FUZZ_CHECK(left > 0 && s[off] != DUCT_MAGIC,
		           "EMAGIC at %llu without a bad magic byte",
		           (unsigned long long)off);
		break;
	case DUCT_ETOOBIG: /* SEC-1, RECV-6: known from the 4 length bytes */
		FUZZ_CHECK(left >= DUCT_HEADER_SIZE && s[off] == DUCT_MAGIC &&
		               duct_get32(s + off + 1) > max,
		           "ETOOBIG at %llu without a length over %u",
		           (unsigned long long)off, (unsigned)max);
		break;
	default:
		FUZZ_CHECK(0, "unexpected outcome %s", duct_err_name(rc));
	}
}

int fuzz_reader_oracle(const uint8_t *stream, size_t n, uint32_t max,
                       fuzz_frames *frames, uint64_t *offset)
{
	duct_reader *r = duct_reader_new(max);
	FUZZ_CHECK(r != NULL, "duct_reader_new failed");
	/* Before any byte: nothing to return, and a clean end (RECV-2). */
	const uint8_t *p = NULL;
	size_t len = 0;
	FUZZ_CHECK(duct_reader_next(r, &p, &len) == DUCT_NEED_MORE,
	           "an empty reader returned something");
	FUZZ_CHECK(duct_reader_finish(r) == DUCT_EOF, "empty stream not EOF");

	FUZZ_CHECK(duct_reader_feed(r, stream, n) == DUCT_OK, "feed failed");
	size_t pos = 0;
	int rc;
	while ((rc = duct_reader_next(r, &p, &len)) == DUCT_OK) {
		/* FRAME-1: the frame re-encodes to the bytes it came from. */
		uint8_t hdr[DUCT_HEADER_SIZE];
		FUZZ_CHECK(len <= max, "frame of %zu over the limit %u", len,
		           (unsigned)max);
		FUZZ_CHECK(pos + DUCT_HEADER_SIZE + len <= n,
		           "frame at %zu runs past the stream", pos);
		duct_frame_header(hdr, (uint32_t)len);
		FUZZ_CHECK(memcmp(hdr, stream + pos, sizeof hdr) == 0,
		           "frame at %zu: header does not re-encode", pos);
		/* The stateless parser agrees with the reader. */
		uint32_t plen = 0;
		FUZZ_CHECK(duct_frame_parse(stream + pos, n - pos, max,
		                            &plen) == DUCT_OK &&
		               plen == len,
		           "frame at %zu: duct_frame_parse disagrees", pos);
		fuzz_frames_push(frames, pos, (uint32_t)len);
		fuzz_check_frame(stream, &frames->v[frames->n - 1], p, len);
		pos += DUCT_HEADER_SIZE + len;
		FUZZ_CHECK(duct_reader_offset(r) == pos,
		           "offset %llu after a frame, want %zu",
		           (unsigned long long)duct_reader_offset(r), pos);
	}
	FUZZ_CHECK(duct_reader_offset(r) == pos, "offset %llu, want %zu",
	           (unsigned long long)duct_reader_offset(r), pos);
	FUZZ_CHECK(duct_reader_buffered(r) == n - pos,
	           "%zu bytes buffered, want %zu", duct_reader_buffered(r),
	           n - pos);
	/* The stateless parser agrees on the tail after the last frame: the
	 * same error, or, where the reader needs more, an empty tail or part
	 * of a header, or a whole one announcing more than the tail holds. */
	uint32_t plen = 0;
	int prc = duct_frame_parse(stream + pos, n - pos, max, &plen);
	if (rc == DUCT_NEED_MORE) {
		FUZZ_CHECK(n - pos < DUCT_HEADER_SIZE
		               ? prc == DUCT_NEED_MORE
		               : prc == DUCT_OK &&
		                     DUCT_HEADER_SIZE + (uint64_t)plen > n - pos,
		           "duct_frame_parse gave %s on the %zu-byte tail at %zu",
		           duct_err_name(prc), n - pos, pos);
		rc = duct_reader_finish(r);
		FUZZ_CHECK(rc == DUCT_EOF || rc == DUCT_ETRUNCATED,
		           "finish after NEED_MORE gave %s", duct_err_name(rc));
	} else {
		FUZZ_CHECK(prc == rc, "duct_frame_parse gave %s on the error at %zu",
		           duct_err_name(prc), pos);
		/* RECV-5: the error is sticky, through next and finish. */
		FUZZ_CHECK(duct_reader_next(r, &p, &len) == rc &&
		               duct_reader_finish(r) == rc,
		           "%s is not sticky", duct_err_name(rc));
	}
	check_terminal(stream, n, max, pos, rc);
	*offset = duct_reader_offset(r);
	duct_reader_free(r);
	return rc;
}
