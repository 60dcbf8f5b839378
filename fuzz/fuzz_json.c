/*
 * Fuzz target: the default deserializer and serializer (json.h).
 *
 * Input: a message payload, as duct_recv_value would hand it to
 * duct_json_decode.  Oracles, each abort()ing on a mismatch:
 *
 *   1. duct_json_decode never crashes and returns DUCT_OK, DUCT_EJSON,
 *      DUCT_ERANGE or DUCT_EVALUE (JSON-6, JSON-11, JSON-12), with no value
 *      on error.
 *   2. Round trip (JSON-2..5): when it decodes, e1 = encode(value) is
 *      printable ASCII (ensure_ascii, JSON-3), decodes again to the same
 *      value (doubles compared bit for bit, NaN equal to NaN), and
 *      re-encodes to exactly e1: decode(encode(decode(x))) == decode(x),
 *      compared through the encoder and structurally.
 *   3. UTF-8 replacement (JSON-7): sanitize(x) is valid UTF-8 (sanitizing
 *      it again changes nothing), and decoding x or sanitize(x) gives the
 *      same outcome and value (the decoder's copy and in-place paths).
 *   4. Strings: the input taken as a string of arbitrary bytes encodes to
 *      printable ASCII that decodes back to sanitize(x) (the encoder's
 *      escapes and its own U+FFFD replacement, JSON-3, JSON-7).
 *   5. Doubles: the first 8 bytes taken as an IEEE 754 double format
 *      (duct_json_format_double, JSON-4) to text that reads back as the same
 *      double, through strtod and through duct_json_decode, and no shorter
 *      correctly rounded decimal reads back (Python's repr is the shortest).
 *   6. Integers (JSON-6): the first 8 bytes taken as a uint64 v, and values
 *      at the 64-bit edges chosen by v, written in decimal with either sign
 *      and with one more digit: every integer in [-2^63, 2^64-1] decodes to
 *      exactly itself, every other one is refused with DUCT_ERANGE (json-c
 *      would clamp it silently).
 */
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "duct/json.h"
#include "fuzz_common.h"

/* Structural equality; doubles by their bits, any NaN equal to any NaN. */
static int same_value(json_object *a, json_object *b)
{
	enum json_type t = json_object_get_type(a);
	if (t != json_object_get_type(b))
		return 0;
	switch (t) {
	case json_type_null:
		return 1;
	case json_type_boolean:
		return json_object_get_boolean(a) == json_object_get_boolean(b);
	case json_type_double: {
		double x = json_object_get_double(a);
		double y = json_object_get_double(b);
		if (isnan(x) || isnan(y))
			return isnan(x) && isnan(y);
		return memcmp(&x, &y, sizeof x) == 0;
	}
	case json_type_int:
		return json_object_get_int64(a) == json_object_get_int64(b) &&
		       json_object_get_uint64(a) == json_object_get_uint64(b);
	case json_type_string: {
		int n = json_object_get_string_len(a);
		return n == json_object_get_string_len(b) &&
		       memcmp(json_object_get_string(a),
		              json_object_get_string(b), (size_t)n) == 0;
	}
	case json_type_array: {
		size_t n = json_object_array_length(a);
		if (n != json_object_array_length(b))
			return 0;
		for (size_t i = 0; i < n; i++)
			if (!same_value(json_object_array_get_idx(a, i),
			                json_object_array_get_idx(b, i)))
				return 0;
		return 1;
	}
	case json_type_object: {
		if (json_object_object_length(a) !=
		    json_object_object_length(b))
			return 0;
		/* Insertion order matters: it is the order on the wire. */
		struct json_object_iterator ia = json_object_iter_begin(a);
		struct json_object_iterator ea = json_object_iter_end(a);
		struct json_object_iterator ib = json_object_iter_begin(b);
		for (; !json_object_iter_equal(&ia, &ea);
		     json_object_iter_next(&ia), json_object_iter_next(&ib)) {
			if (strcmp(json_object_iter_peek_name(&ia),
			           json_object_iter_peek_name(&ib)) != 0 ||
			    !same_value(json_object_iter_peek_value(&ia),
			                json_object_iter_peek_value(&ib)))
				return 0;
		}
		return 1;
	}
	}
	return 0;
}

static void check_ascii(const duct_buf *b, const char *what)
{
	for (size_t i = 0; i < b->len; i++)
		FUZZ_CHECK(b->data[i] >= 0x20 && b->data[i] < 0x7f,
		           "%s: byte %zu is 0x%02x, not printable ASCII", what,
		           i, b->data[i]);
}

/* Oracle 2. */
static void check_round_trip(json_object *v)
{
	duct_buf e1 = {0}, e2 = {0};
	json_object *v2 = NULL;
	int rc = duct_json_encode(v, &e1);
	FUZZ_CHECK(rc == DUCT_OK, "encoding a decoded value: %s",
	           duct_err_name(rc));
	check_ascii(&e1, "encode(decode(x))");
	rc = duct_json_decode(e1.data, e1.len, &v2);
	FUZZ_CHECK(rc == DUCT_OK, "decoding our own encoding %.*s: %s",
	           (int)(e1.len < 200 ? e1.len : 200), (const char *)e1.data,
	           duct_err_name(rc));
	FUZZ_CHECK(same_value(v, v2), "decode(encode(v)) != v for %.*s",
	           (int)(e1.len < 200 ? e1.len : 200), (const char *)e1.data);
	rc = duct_json_encode(v2, &e2);
	FUZZ_CHECK(rc == DUCT_OK, "re-encoding: %s", duct_err_name(rc));
	FUZZ_CHECK(e1.len == e2.len && memcmp(e1.data, e2.data, e1.len) == 0,
	           "encodings differ: %.*s / %.*s",
	           (int)(e1.len < 200 ? e1.len : 200), (const char *)e1.data,
	           (int)(e2.len < 200 ? e2.len : 200), (const char *)e2.data);
	json_object_put(v2);
	duct_buf_free(&e1);
	duct_buf_free(&e2);
}

/* Oracle 4. */
static void check_string(const uint8_t *data, size_t size,
                         const duct_buf *clean)
{
	json_object *s =
	    json_object_new_string_len((const char *)data, (int)size);
	json_object *back = NULL;
	duct_buf e = {0};
	FUZZ_CHECK(s != NULL, "out of memory");
	int rc = duct_json_encode(s, &e);
	FUZZ_CHECK(rc == DUCT_OK, "encoding a string: %s", duct_err_name(rc));
	check_ascii(&e, "encode(string)");
	rc = duct_json_decode(e.data, e.len, &back);
	FUZZ_CHECK(rc == DUCT_OK, "decoding an encoded string: %s",
	           duct_err_name(rc));
	FUZZ_CHECK(
	    json_object_get_type(back) == json_type_string &&
	        (size_t)json_object_get_string_len(back) == clean->len &&
	        (clean->len == 0 || memcmp(json_object_get_string(back),
	                                   clean->data, clean->len) == 0),
	    "string does not come back as its UTF-8 replacement");
	json_object_put(back);
	json_object_put(s);
	duct_buf_free(&e);
}

/* Oracle 5. */
static void check_double(const uint8_t *data)
{
	double v, w;
	memcpy(&v, data, sizeof v);
	duct_buf t = {0};
	FUZZ_CHECK(duct_json_format_double(v, &t) == DUCT_OK, "format failed");
	FUZZ_CHECK(duct_buf_append(&t, "", 1) == DUCT_OK, "out of memory");
	const char *text = (const char *)t.data;
	if (isnan(v)) {
		FUZZ_CHECK(strcmp(text, "NaN") == 0, "NaN is %s", text);
	} else if (isinf(v)) {
		FUZZ_CHECK(strcmp(text, v > 0 ? "Infinity" : "-Infinity") == 0,
		           "infinity is %s", text);
	} else {
		w = strtod(text, NULL);
		FUZZ_CHECK(memcmp(&v, &w, sizeof v) == 0,
		           "%.17g formats as %s, which reads back as %.17g", v,
		           text, w);
		/* Significant digits: those of the mantissa, leading and
		 * trailing zeros dropped. */
		char dig[40];
		int nd = 0;
		for (const char *c = text; *c && *c != 'e'; c++)
			if (*c >= '0' && *c <= '9' && (nd || *c != '0'))
				dig[nd++] = *c;
		while (nd > 1 && dig[nd - 1] == '0')
			nd--;
		FUZZ_CHECK(nd <= 17, "%s: %d digits", text, nd);
		FUZZ_CHECK(nd > 0 || v == 0, "%s: no digits", text);
		if (nd > 1) {
			char shorter[48];
			snprintf(shorter, sizeof shorter, "%.*e", nd - 2, v);
			w = strtod(shorter, NULL);
			FUZZ_CHECK(memcmp(&v, &w, sizeof v) != 0,
			           "%s is not the shortest: %s reads back too",
			           text, shorter);
		}
	}
	json_object *o = NULL;
	int rc = duct_json_decode(t.data, t.len - 1, &o);
	FUZZ_CHECK(rc == DUCT_OK && json_object_get_type(o) == json_type_double,
	           "%s does not decode as a double: %s", text,
	           duct_err_name(rc));
	w = json_object_get_double(o);
	FUZZ_CHECK(isnan(v) ? isnan(w) : memcmp(&v, &w, sizeof v) == 0,
	           "%s decodes as %.17g", text, w);
	json_object_put(o);
	duct_buf_free(&t);
}

/* Oracle 6: text is an integer of magnitude mag (negative if neg),
 * in_range if it lies in [-2^63, 2^64-1]. */
static void check_int_text(const char *text, int in_range, int neg,
                           uint64_t mag)
{
	json_object *o = NULL;
	int rc = duct_json_decode((const uint8_t *)text, strlen(text), &o);
	if (!in_range) {
		FUZZ_CHECK(rc == DUCT_ERANGE, "%s: %s, want DUCT_ERANGE", text,
		           duct_err_name(rc));
		return;
	}
	FUZZ_CHECK(rc == DUCT_OK && json_object_get_type(o) == json_type_int,
	           "%s: %s, want an integer", text, duct_err_name(rc));
	if (neg)
		FUZZ_CHECK(
		    json_object_get_int64(o) ==
		        (mag == (uint64_t)1 << 63 ? INT64_MIN : -(int64_t)mag),
		    "%s decodes as %" PRId64, text, json_object_get_int64(o));
	else
		FUZZ_CHECK(json_object_get_uint64(o) == mag,
		           "%s decodes as %" PRIu64, text,
		           json_object_get_uint64(o));
	json_object_put(o);
}

static void check_ints(uint64_t v, unsigned digit)
{
	const uint64_t lim_neg = (uint64_t)1 << 63; /* magnitude of -2^63 */
	char t[32];
	snprintf(t, sizeof t, "%" PRIu64, v);
	check_int_text(t, 1, 0, v);
	snprintf(t, sizeof t, "-%" PRIu64, v);
	check_int_text(t, v <= lim_neg, 1, v);
	/* One more digit: 10 v + digit, which may overflow 64 bits. */
	int fits = v < UINT64_MAX / 10 ||
	           (v == UINT64_MAX / 10 && digit <= UINT64_MAX % 10);
	uint64_t w = fits ? v * 10 + digit : 0;
	if (v == 0)
		return; /* "0d" is not a number (no leading zeros) */
	snprintf(t, sizeof t, "%" PRIu64 "%u", v, digit);
	check_int_text(t, fits, 0, w);
	snprintf(t, sizeof t, "-%" PRIu64 "%u", v, digit);
	check_int_text(t, fits && w <= lim_neg, 1, w);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > (1u << 24))
		return 0; /* json-c takes an int length; stay well inside */

	/* Oracle 1. */
	json_object *v = NULL;
	int rc = duct_json_decode(data, size, &v);
	FUZZ_CHECK(rc == DUCT_OK || rc == DUCT_EJSON || rc == DUCT_ERANGE ||
	               rc == DUCT_EVALUE,
	           "decode gave %s", duct_err_name(rc));
	FUZZ_CHECK(rc == DUCT_OK || v == NULL, "a value with an error");

	/* Oracle 3. */
	duct_buf clean = {0}, again = {0};
	FUZZ_CHECK(duct_utf8_sanitize(data, size, &clean) == DUCT_OK,
	           "sanitize failed");
	FUZZ_CHECK(duct_utf8_sanitize(clean.data, clean.len, &again) == DUCT_OK,
	           "sanitize failed");
	FUZZ_CHECK(again.len == clean.len &&
	               (clean.len == 0 ||
	                memcmp(again.data, clean.data, clean.len) == 0),
	           "sanitize(x) is not valid UTF-8: sanitizing it changes it");
	json_object *vc = NULL;
	int rcc = duct_json_decode(clean.data, clean.len, &vc);
	FUZZ_CHECK(rcc == rc, "decode(x): %s, decode(sanitize(x)): %s",
	           duct_err_name(rc), duct_err_name(rcc));
	FUZZ_CHECK(same_value(v, vc), "decode(x) != decode(sanitize(x))");
	json_object_put(vc);

	/* Oracle 2. */
	if (rc == DUCT_OK)
		check_round_trip(v);
	json_object_put(v);

	/* Oracles 4 and 5. */
	check_string(data, size, &clean);
	if (size >= sizeof(double)) {
		check_double(data);
		/* Oracle 6: v, and one edge, chosen by v's low bits: 2^64 - 1,
		 * 2^63 (either sign) or a tenth of them (the extra digit), each
		 * give or take one. */
		static const uint64_t edges[4] = {UINT64_MAX, UINT64_MAX / 10,
		                                  (uint64_t)1 << 63,
		                                  ((uint64_t)1 << 63) / 10};
		uint64_t v;
		memcpy(&v, data, sizeof v);
		unsigned digit = (unsigned)(v >> 4) % 10;
		check_ints(v, digit);
		check_ints(edges[v & 3] - 1 + (v >> 2 & 3) % 3, digit);
	}

	duct_buf_free(&clean);
	duct_buf_free(&again);
	return 0;
}
