/* Invalid UTF-8 replaced as Python's bytes.decode('utf-8', 'replace') does
 * (JSON-7). */
#include <string.h>

#include "duct/json.h"
#include "internal.h"
#include "utf8.h"

int duct__utf8_next(const uint8_t *p, size_t n, uint32_t *cp)
{
	uint8_t c = p[0], lo = 0x80, hi = 0xBF;
	int len;
	uint32_t v;

	if (c < 0x80) {
		*cp = c;
		return 1;
	}
	/* C0, C1 (overlong) and F5..FF (beyond U+10FFFF) never start one.  The
	 * narrowed second-byte ranges exclude overlongs (E0, F0), surrogates
	 * (ED) and code points above U+10FFFF (F4). */
	if (c >= 0xC2 && c <= 0xDF) {
		len = 2, v = c & 0x1F;
	} else if (c >= 0xE0 && c <= 0xEF) {
		len = 3, v = c & 0x0F;
		lo = c == 0xE0 ? 0xA0 : 0x80;
		hi = c == 0xED ? 0x9F : 0xBF;
	} else if (c >= 0xF0 && c <= 0xF4) {
		len = 4, v = c & 0x07;
		lo = c == 0xF0 ? 0x90 : 0x80;
		hi = c == 0xF4 ? 0x8F : 0xBF;
	} else {
		return -1;
	}
	for (int i = 1; i < len; i++) {
		/* A truncated prefix is one U+FFFD; scanning resumes at p[i]. */
		if ((size_t)i >= n || p[i] < lo || p[i] > hi)
			return -i;
		v = v << 6 | (p[i] & 0x3F);
		lo = 0x80, hi = 0xBF;
	}
	*cp = v;
	return len;
}

size_t duct__utf8_valid_len(const uint8_t *p, size_t n)
{
	size_t i = 0;
	uint32_t cp;

	while (i < n) {
		uint64_t w;
		/* Fast path: eight ASCII bytes at a time. */
		if (n - i >= 8) {
			memcpy(&w, p + i, 8);
			if (!(w & 0x8080808080808080u)) {
				i += 8;
				continue;
			}
		}
		int k = duct__utf8_next(p + i, n - i, &cp);
		if (k < 0)
			break;
		i += (size_t)k;
	}
	return i;
}

int duct_utf8_sanitize(const uint8_t *in, size_t len, duct_buf *out)
{
	size_t start = out->len;
	uint32_t cp;

	if (duct__buf_reserve(out, len) != DUCT_OK)
		return DUCT_ENOMEM;
	for (;;) {
		size_t ok = duct__utf8_valid_len(in, len);
		if (duct_buf_append(out, in, ok) != DUCT_OK)
			goto nomem;
		if (ok == len)
			return DUCT_OK;
		in += ok, len -= ok;
		size_t bad = (size_t)-duct__utf8_next(in, len, &cp);
		if (duct_buf_append(out, "\xEF\xBF\xBD", 3) != DUCT_OK)
			goto nomem;
		in += bad, len -= bad;
	}
nomem:
	out->len = start;
	return DUCT_ENOMEM;
}
