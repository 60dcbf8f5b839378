/*
 * The JSON encoder: the bytes of Python's json.dumps(value) (JSON-2..6).
 *
 * It is written by hand because no JSON library in Debian emits Python's
 * bytes: jansson prints 17 significant digits (0.10000000000000001),
 * uppercase escapes (\u00E9) and cannot hold NaN; json-c 0.16 prints 17
 * digits too (0.10000000000000001) or a parsed double's source text (1E5,
 * 1e400), escapes "/" as "\/", leaves non-ASCII raw and has no ", " / ": "
 * layout (JSON_C_TO_STRING_SPACED gives { "a": [ 1, 2 ] }).  json-c
 * remains the value model.
 */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "duct/json.h"
#include "internal.h"
#include "utf8.h"

#define DUCT__PUT(b, lit) duct_buf_append((b), (lit), sizeof(lit) - 1)
#define DUCT__TRY(expr)                                                        \
	do {                                                                   \
		int rc_ = (expr);                                              \
		if (rc_ != DUCT_OK)                                            \
			return rc_;                                            \
	} while (0)

/*
 * Fills dig with p + 1 significant digits of |v| (|v| ~ d.ddd * 10^x) that
 * read back as |v|, if there are any: the correctly rounded ones, or, at a
 * power of two, the ones rounded up.  There the gap to the double below is
 * half the gap above, so a decimal above v may read back while the nearest
 * one, below, does not (2^863 is 6.150157786156811e+259; Python's dtoa
 * finds those too).  Returns the digit count, trailing zeros dropped, or 0.
 * Digits and exponent are read and written without a radix character, so
 * the locale does not matter.
 */
static int duct__digits(double v, int p, char dig[20], int *x)
{
	char e[48], *c = e;
	int nd = 0, ex;

	snprintf(e, sizeof e, "%.*e", p, fabs(v));
	for (; *c != 'e'; c++)
		if (*c >= '0' && *c <= '9')
			dig[nd++] = *c;
	*x = atoi(c + 1);
	for (int up = 0; up < 2; up++) {
		if (up) {
			if (fabs(frexp(v, &ex)) != 0.5)
				break;
			int i = nd - 1;
			while (i >= 0 && dig[i] == '9')
				dig[i--] = '0';
			if (i < 0)
				dig[0] = '1', ++*x;
			else
				dig[i]++;
			while (nd > 1 && dig[nd - 1] == '0')
				nd--;
		}
		snprintf(e, sizeof e, "%.*se%d", nd, dig, *x - nd + 1);
		if (strtod(e, NULL) == fabs(v))
			return nd;
	}
	return 0;
}

int duct_json_format_double(double v, duct_buf *out)
{
	char o[48], dig[20];
	int lo = 0, hi = 16, nd, x;
	size_t k = 0;

	/* json.dumps' words, not repr()'s "nan"/"inf" (JSON-5). */
	if (isnan(v))
		return DUCT__PUT(out, "NaN");
	if (isinf(v))
		return v > 0 ? DUCT__PUT(out, "Infinity") : DUCT__PUT(out, "-Infinity");
	/* Python's repr is the shortest decimal that reads back as v.  If p
	 * digits do, p + 1 do (they are at least as close), so the count can
	 * be binary searched; 17 always do. */
	while (lo < hi) {
		int mid = (lo + hi) / 2;
		if (duct__digits(v, mid, dig, &x))
			hi = mid;
		else
			lo = mid + 1;
	}
	nd = duct__digits(v, lo, dig, &x);
	if (signbit(v))
		o[k++] = '-';
	/* Layout of float_repr_style 'short' (Python/pystrtod.c):
	 * exponent form outside 1e-4 <= |v| < 1e16, else fixed with ".0". */
	if (x < -4 || x >= 16) {
		o[k++] = dig[0];
		if (nd > 1) {
			o[k++] = '.';
			memcpy(o + k, dig + 1, (size_t)nd - 1);
			k += (size_t)nd - 1;
		}
		k += (size_t)snprintf(o + k, sizeof o - k, "e%c%02d",
				      x < 0 ? '-' : '+', abs(x));
	} else { /* the digit for 10^pos, from the highest to the lowest */
		int last = x - nd + 1 < -1 ? x - nd + 1 : -1;
		for (int pos = x > 0 ? x : 0; pos >= last; pos--) {
			o[k++] = x - pos >= 0 && x - pos < nd ? dig[x - pos] : '0';
			if (pos == 0)
				o[k++] = '.';
		}
	}
	return duct_buf_append(out, o, k);
}

/* Writes the escape \uXXXX (lowercase, as Python) at q; returns its end. */
static char *duct__u_escape(char *q, uint32_t u)
{
	static const char hex[] = "0123456789abcdef";

	*q++ = '\\', *q++ = 'u';
	for (int shift = 12; shift >= 0; shift -= 4)
		*q++ = hex[u >> shift & 0xF];
	return q;
}

/* ensure_ascii: printable ASCII as is, the rest escaped (JSON-3). */
static int duct__put_string(duct_buf *b, const char *str, size_t n)
{
	static const char short_esc[128] = {['"'] = '"', ['\\'] = '\\',
		['\n'] = 'n', ['\r'] = 'r', ['\t'] = 't', ['\b'] = 'b', ['\f'] = 'f'};
	const uint8_t *p = (const uint8_t *)str, *end = p + n;
	char esc[12], *q;
	uint32_t cp;

	DUCT__TRY(DUCT__PUT(b, "\""));
	while (p < end) {
		const uint8_t *run = p;
		while (p < end && *p >= 0x20 && *p < 0x7f && !short_esc[*p])
			p++;
		DUCT__TRY(duct_buf_append(b, run, (size_t)(p - run)));
		if (p == end)
			break;
		q = esc;
		if (*p < 0x80 && short_esc[*p]) {
			*q++ = '\\', *q++ = short_esc[*p++];
		} else {
			/* A string json-c parsed is valid UTF-8, but one built
			 * with json_object_new_string_len() may not be: each
			 * maximal invalid subpart becomes U+FFFD, as it would
			 * had the peer decoded those bytes (JSON-7). */
			int len = duct__utf8_next(p, (size_t)(end - p), &cp);
			p += len < 0 ? -len : len;
			if (len < 0)
				cp = 0xFFFD;
			if (cp >= 0x10000) { /* a surrogate pair */
				q = duct__u_escape(q, 0xD800 | (cp - 0x10000) >> 10);
				cp = 0xDC00 | (cp & 0x3FF);
			}
			q = duct__u_escape(q, cp);
		}
		DUCT__TRY(duct_buf_append(b, esc, (size_t)(q - esc)));
	}
	return DUCT__PUT(b, "\"");
}

/* depth: the number of arrays and objects around v. */
static int duct__encode(const json_object *v, duct_buf *b, int depth)
{
	char num[24];
	int n;

	switch (json_object_get_type(v)) {
	case json_type_null:
		return DUCT__PUT(b, "null");
	case json_type_boolean:
		return json_object_get_boolean(v) ? DUCT__PUT(b, "true")
						  : DUCT__PUT(b, "false");
	case json_type_double:
		return duct_json_format_double(json_object_get_double(v), b);
	case json_type_int:
		/* json-c holds int64 or uint64; get_int64 clamps the latter. */
		if (json_object_get_int64(v) < 0)
			n = snprintf(num, sizeof num, "%" PRId64,
				     json_object_get_int64(v));
		else
			n = snprintf(num, sizeof num, "%" PRIu64,
				     json_object_get_uint64(v));
		return duct_buf_append(b, num, (size_t)n);
	case json_type_string:
		return duct__put_string(b, json_object_get_string((json_object *)v),
					(size_t)json_object_get_string_len(v));
	case json_type_array:
		if (depth >= DUCT_JSON_MAX_DEPTH)
			return DUCT_EENCODE;
		DUCT__TRY(DUCT__PUT(b, "["));
		for (size_t i = 0; i < json_object_array_length(v); i++) {
			if (i)
				DUCT__TRY(DUCT__PUT(b, ", "));
			DUCT__TRY(duct__encode(json_object_array_get_idx(v, i), b,
					       depth + 1));
		}
		return DUCT__PUT(b, "]");
	case json_type_object: {
		if (depth >= DUCT_JSON_MAX_DEPTH)
			return DUCT_EENCODE;
		struct json_object_iterator it, end;
		it = json_object_iter_begin((json_object *)v);
		end = json_object_iter_end(v);
		DUCT__TRY(DUCT__PUT(b, "{"));
		/* json-c iterates in insertion order, as a Python dict. */
		for (int i = 0; !json_object_iter_equal(&it, &end); i++) {
			const char *key = json_object_iter_peek_name(&it);
			if (i)
				DUCT__TRY(DUCT__PUT(b, ", "));
			DUCT__TRY(duct__put_string(b, key, strlen(key)));
			DUCT__TRY(DUCT__PUT(b, ": "));
			DUCT__TRY(duct__encode(json_object_iter_peek_value(&it), b,
					       depth + 1));
			json_object_iter_next(&it);
		}
		return DUCT__PUT(b, "}");
	}
	}
	return DUCT_EENCODE;
}

int duct_json_encode(const json_object *value, duct_buf *out)
{
	size_t start = out->len;
	int rc = duct__encode(value, out, 0);

	if (rc != DUCT_OK)
		out->len = start; /* no partial output on failure */
	return rc;
}
