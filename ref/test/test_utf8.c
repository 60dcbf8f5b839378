/*
 * duct_utf8_sanitize: invalid UTF-8 replaced as Python's
 * bytes.decode('utf-8', 'replace') does (JSON-7).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "duct/json.h"
#include "testutil.h"

#define VECTORS DUCT_SOURCE_DIR "/vectors/json/python_json.json"

static uint8_t *unhex(const char *h, size_t *len)
{
	*len = strlen(h) / 2;
	uint8_t *b = malloc(*len + 1);
	assert_non_null(b);
	for (size_t i = 0; i < *len; i++)
		assert_int_equal(sscanf(h + 2 * i, "%2hhx", &b[i]), 1);
	return b;
}

static void sanitize(const uint8_t *in, size_t len, duct_buf *out)
{
	out->len = 0;
	assert_status(DUCT_OK, duct_utf8_sanitize(in, len, out));
}

/* UTF-8 of code point c into p; returns its length. */
static size_t put_utf8(uint8_t *p, uint32_t c)
{
	if (c < 0x80)
		return p[0] = (uint8_t)c, 1;
	if (c < 0x800)
		return p[0] = (uint8_t)(0xC0 | c >> 6), p[1] = 0x80 | (c & 0x3F), 2;
	if (c < 0x10000)
		return p[0] = (uint8_t)(0xE0 | c >> 12),
		       p[1] = 0x80 | (c >> 6 & 0x3F), p[2] = 0x80 | (c & 0x3F), 3;
	return p[0] = (uint8_t)(0xF0 | c >> 18), p[1] = 0x80 | (c >> 12 & 0x3F),
	       p[2] = 0x80 | (c >> 6 & 0x3F), p[3] = 0x80 | (c & 0x3F), 4;
}

/* JSON-7: Python's output for every sequence of the vector table. */
static void utf8_sanitize_python_vectors(void **state)
{
	(void)state;
	json_object *all = json_object_from_file(VECTORS), *rows;
	size_t n = 0, bad = 0;
	duct_buf out = {0};
	assert_non_null(all);
	for (size_t i = 0; i < json_object_array_length(all); i++) {
		json_object *c = json_object_array_get_idx(all, i), *kind;
		json_object_object_get_ex(c, "kind", &kind);
		if (strcmp(json_object_get_string(kind), "utf8_replace"))
			continue;
		assert_true(json_object_object_get_ex(c, "rows", &rows));
		for (size_t r = 0; r < json_object_array_length(rows); r++) {
			json_object *row = json_object_array_get_idx(rows, r);
			const char *hex_in = json_object_get_string(
				json_object_array_get_idx(row, 0));
			const char *hex_want = json_object_get_string(
				json_object_array_get_idx(row, 1));
			size_t ilen, wlen;
			uint8_t *in = unhex(hex_in, &ilen);
			uint8_t *want = unhex(hex_want, &wlen);
			sanitize(in, ilen, &out);
			if (out.len != wlen || memcmp(out.data, want, wlen)) {
				fprintf(stderr, "input %s\n", hex_in);
				bad++;
			}
			free(in);
			free(want);
			n++;
		}
	}
	assert_true(n > 1000);
	assert_int_equal(bad, 0);
	duct_buf_free(&out);
	json_object_put(all);
}

/* JSON-7: every scalar value (no surrogates) passes unchanged. */
static void utf8_sanitize_all_code_points(void **state)
{
	(void)state;
	size_t cap = 0x110000 * 4, len = 0;
	uint8_t *in = malloc(cap);
	assert_non_null(in);
	for (uint32_t c = 0; c < 0x110000; c++)
		if (c < 0xD800 || c > 0xDFFF)
			len += put_utf8(in + len, c);
	duct_buf out = {0};
	sanitize(in, len, &out);
	assert_int_equal(out.len, len);
	assert_memory_equal(out.data, in, len);
	duct_buf_free(&out);
	free(in);
}

/* JSON-7: a surrogate or a code point above U+10FFFF, however encoded, is
 * replaced per maximal subpart: ED A0 80 and F4 90 80 80 give three and
 * four U+FFFD (the lead byte cannot start a valid sequence with them). */
static void utf8_sanitize_classes(void **state)
{
	(void)state;
	static const struct {
		const char *in, *want;
	} t[] = {
		{"", ""},
		{"a\x80" "b", "a\xEF\xBF\xBD" "b"},
		{"\xe2\x82", "\xEF\xBF\xBD"},
		{"\xe2\x82\xe2\x82\xac", "\xEF\xBF\xBD\xe2\x82\xac"},
		{"\xed\xa0\x80", "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD"},
		{"\xf4\x90\x80\x80",
		 "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD"},
		{"\xf0\x9f\x98", "\xEF\xBF\xBD"},
		{"\xc0\xaf", "\xEF\xBF\xBD\xEF\xBF\xBD"},
		{"\xf4\x8f\xbf\xbf", "\xf4\x8f\xbf\xbf"},
	};
	duct_buf out = {0};
	for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
		sanitize((const uint8_t *)t[i].in, strlen(t[i].in), &out);
		assert_int_equal(out.len, strlen(t[i].want));
		assert_memory_equal(out.data, t[i].want, out.len);
	}
	duct_buf_free(&out);
}

/* JSON-7: on random bytes the output is valid UTF-8: sanitizing it again
 * changes nothing. */
static void utf8_sanitize_random(void **state)
{
	(void)state;
	static const uint8_t pick[] = {0x00, 0x41, 0x7f, 0x80, 0x8f, 0x90, 0x9f,
				       0xa0, 0xbf, 0xc0, 0xc2, 0xdf, 0xe0, 0xed,
				       0xef, 0xf0, 0xf4, 0xf5, 0xff};
	uint64_t x = 0x9E3779B97F4A7C15u;
	uint8_t in[64];
	duct_buf a = {0}, b = {0};
	for (int i = 0; i < 100000; i++) {
		size_t n = 0;
		for (; n < (size_t)(i % 64); n++) {
			x ^= x << 13, x ^= x >> 7, x ^= x << 17;
			in[n] = pick[x % sizeof pick];
		}
		sanitize(in, n, &a);
		sanitize(a.data, a.len, &b);
		assert_int_equal(a.len, b.len);
		if (a.len)
			assert_memory_equal(a.data, b.data, a.len);
		assert_true(a.len >= n); /* 1..3 bad bytes become 3 */
	}
	duct_buf_free(&a);
	duct_buf_free(&b);
}

/* Appends: what out held stays. */
static void utf8_sanitize_appends(void **state)
{
	(void)state;
	duct_buf out = {0};
	assert_status(DUCT_OK, duct_buf_append(&out, "ok:", 3));
	assert_status(DUCT_OK, duct_utf8_sanitize((const uint8_t *)"\xff", 1, &out));
	assert_int_equal(out.len, 6);
	assert_memory_equal(out.data, "ok:\xEF\xBF\xBD", 6);
	duct_buf_free(&out);
}

/* Every failed allocation gives DUCT_ENOMEM and leaves out as it was. */
static void utf8_sanitize_enomem(void **state)
{
	(void)state;
	uint8_t in[1000];
	for (size_t i = 0; i < sizeof in; i++)
		in[i] = i % 3 ? 'a' : 0xff; /* grows the output past its input */
	tu_alloc_install();
	int failures = 0;
	for (long k = 0;; k++) {
		duct_buf out = {0};
		assert_status(DUCT_OK, duct_buf_append(&out, "ab", 2));
		tu_fail_after = k;
		int rc = duct_utf8_sanitize(in, sizeof in, &out);
		tu_fail_after = -1;
		if (rc == DUCT_OK) {
			assert_int_equal(out.len, 2 + 666 + 334 * 3);
			duct_buf_free(&out);
			break;
		}
		assert_status(DUCT_ENOMEM, rc);
		assert_int_equal(out.len, 2);
		failures++;
		duct_buf_free(&out);
	}
	tu_alloc_uninstall();
	assert_true(failures >= 2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(utf8_sanitize_python_vectors),
		cmocka_unit_test(utf8_sanitize_all_code_points),
		cmocka_unit_test(utf8_sanitize_classes),
		cmocka_unit_test(utf8_sanitize_random),
		cmocka_unit_test(utf8_sanitize_appends),
		cmocka_unit_test(utf8_sanitize_enomem),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
