/*
 * The JSON decoder and the default serializer (JSON-1, JSON-5..9).
 *
 * json-c parses, in strict mode.  Measured against Python's json.loads
 * (json-c 0.16), strict mode still takes things Python refuses: "-01",
 * "00" and "1." as numbers, raw control characters inside strings; it
 * silently clamps integers outside [-2^63, 2^64-1]; it truncates an object
 * key at an escaped U+0000 ({"\u0000k": 1} becomes {"": 1}, keys are C
 * strings); it stops at a NUL byte, reporting success; and it turns the
 * escaped surrogate pair of a code point whose low 16 bits fall in
 * D800..DFFF (U+1D800..U+1DFFF, U+2D800.. up to U+10DFFF; "\ud876\udc00"
 * is U+2D800, a CJK ideograph) into U+FFFD, because it tests the combined
 * code point with IS_HIGH_SURROGATE/IS_LOW_SURROGATE, which look at the low
 * 16 bits only.  One pass over the text before json-c (duct__json_prescan)
 * closes those gaps, so that libduct accepts Python's grammar exactly and
 * never changes a value.
 */
#include <limits.h>
#include <pthread.h>
#include <string.h>

#include "duct/json.h"
#include "internal.h"
#include "utf8.h"

enum { DUCT__BIG_INT = 1, DUCT__BAD_PAIR = 2, DUCT__NUL_KEY = 4 }; /* prescan findings */

static int duct__is_digit(const uint8_t *p, size_t n, size_t i)
{
	return i < n && p[i] >= '0' && p[i] <= '9';
}

static size_t duct__skip_digits(const uint8_t *p, size_t n, size_t i)
{
	while (duct__is_digit(p, n, i))
		i++;
	return i;
}

/*
 * Checks the number at p[*i] against Python's grammar
 * -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][-+]?[0-9]+)? and leaves *i on its last
 * byte.  Notes an integer outside json-c's range (JSON-6) in *found.
 */
static int duct__json_number(const uint8_t *p, size_t n, size_t *i, int *found)
{
	size_t j = *i + (p[*i] == '-'), d0 = j, d1;
	int integer = 1;

	if (j < n && p[j] == 'I') { /* -Infinity: json-c checks the word */
		*i = j - 1;
		return DUCT_OK;
	}
	if (j < n && p[j] == '0')
		j++;
	else if (duct__is_digit(p, n, j))
		j = duct__skip_digits(p, n, j);
	else
		return DUCT_EJSON;
	d1 = j;
	if (j < n && p[j] == '.') {
		if (!duct__is_digit(p, n, ++j))
			return DUCT_EJSON;
		j = duct__skip_digits(p, n, j), integer = 0;
	}
	if (j < n && (p[j] == 'e' || p[j] == 'E')) {
		j += j + 1 < n && (p[j + 1] == '+' || p[j + 1] == '-');
		if (!duct__is_digit(p, n, ++j))
			return DUCT_EJSON;
		j = duct__skip_digits(p, n, j), integer = 0;
	}
	/* "00", "1.2.3", "1-2": json-c would read a prefix or accept. */
	if (j < n && strchr("0123456789.+-eE", p[j]) && p[j])
		return DUCT_EJSON;
	if (integer) {
		const char *max = p[*i] == '-' ? "9223372036854775808"
					       : "18446744073709551615";
		size_t nd = d1 - d0, nm = strlen(max);
		if (nd > nm || (nd == nm && memcmp(p + d0, max, nd) > 0))
			*found |= DUCT__BIG_INT;
	}
	*i = j - 1;
	return DUCT_OK;
}

static long duct__hex4(const uint8_t *p)
{
	long v = 0;

	for (int i = 0; i < 4; i++) {
		int c = p[i] | 0x20; /* lowercase letters; digits unchanged */
		if (c >= '0' && c <= '9')
			v = v * 16 + c - '0';
		else if (c >= 'a' && c <= 'f')
			v = v * 16 + c - 'a' + 10;
		else
			return -1;
	}
	return v;
}

/* The code point of an escaped surrogate pair at p that json-c 0.16 would
 * turn into U+FFFD (see the top comment), else 0. */
static uint32_t duct__json_bad_pair(const uint8_t *p, size_t n)
{
	if (n < 12 || p[1] != 'u' || p[6] != '\\' || p[7] != 'u')
		return 0;
	long hi = duct__hex4(p + 2), lo = duct__hex4(p + 8);
	if (hi < 0xD800 || hi > 0xDBFF || lo < 0xDC00 || lo > 0xDFFF)
		return 0;
	uint32_t cp = 0x10000 + (uint32_t)(hi - 0xD800) * 0x400 +
		      (uint32_t)(lo - 0xDC00);
	return (cp & 0xF800) == 0xD800 ? cp : 0;
}

/* Rewrites those pairs in p[0..n) as raw UTF-8, which json-c copies as is.
 * The text only shrinks, so it is done in place.  Returns the new length.
 * Outside strings a backslash is malformed JSON anyway. */
static size_t duct__json_fix_pairs(uint8_t *p, size_t n)
{
	size_t r = 0, w = 0;
	uint32_t cp;

	while (r < n) {
		if (p[r] == '\\' && (cp = duct__json_bad_pair(p + r, n - r)) != 0) {
			p[w++] = (uint8_t)(0xF0 | cp >> 18);
			p[w++] = (uint8_t)(0x80 | (cp >> 12 & 0x3F));
			p[w++] = (uint8_t)(0x80 | (cp >> 6 & 0x3F));
			p[w++] = (uint8_t)(0x80 | (cp & 0x3F));
			r += 12;
			continue;
		}
		if (p[r] == '\\' && r + 1 < n) /* and the escaped character */
			p[w++] = p[r++];
		p[w++] = p[r++];
	}
	return w;
}

/*
 * Finds what json-c would accept or change silently (see the top comment),
 * and nesting deeper than DUCT_JSON_MAX_DEPTH arrays and objects (JSON-9),
 * before json-c allocates anything.  Strings are skipped, not decoded.
 */
static int duct__json_prescan(const uint8_t *p, size_t n, int *found)
{
	int depth = 0;

	for (size_t i = 0; i < n; i++) {
		switch (p[i]) {
		case '"': {
			int nul = 0;
			for (i++; i < n && p[i] != '"'; i++) {
				if (p[i] < 0x20) /* Python's strict=True */
					return DUCT_EJSON;
				if (p[i] == '\\') {
					nul |= n - i > 5 &&
					       !memcmp(p + i + 1, "u0000", 5);
					if (duct__json_bad_pair(p + i, n - i))
						*found |= DUCT__BAD_PAIR;
					i++;
				}
			}
			if (nul) { /* a key with U+0000: json-c would cut it */
				size_t j = i + 1;
				while (j < n && strchr(" \t\n\r", p[j]) && p[j])
					j++;
				if (j < n && p[j] == ':')
					*found |= DUCT__NUL_KEY;
			}
			break;
		}
		case '[':
		case '{':
			if (++depth > DUCT_JSON_MAX_DEPTH)
				return DUCT_EJSON;
			break;
		case ']':
		case '}':
			depth--;
			break;
		case '\0': /* json-c would stop here and report success */
			return DUCT_EJSON;
		default:
			if ((p[i] == '-' || duct__is_digit(p, n, i)) &&
			    duct__json_number(p, n, &i, found) != DUCT_OK)
				return DUCT_EJSON;
		}
	}
	return DUCT_OK;
}

/*
 * One tokener per thread, reset for each text: making one zeroes its stack
 * of 513 levels (about 16 KB), 9% of a decode (bench/README.md).  Freed
 * when its thread exits; without a key (pthread_key_create failed) each
 * text gets its own, as before.
 */
static pthread_key_t duct__tok_key;
static pthread_once_t duct__tok_once = PTHREAD_ONCE_INIT;
static int duct__tok_keyed;

static void duct__tok_free(void *tok) { json_tokener_free(tok); }

static void duct__tok_init(void)
{
	duct__tok_keyed = pthread_key_create(&duct__tok_key, duct__tok_free) == 0;
}

static json_tokener *duct__tok_get(void)
{
	pthread_once(&duct__tok_once, duct__tok_init);
	json_tokener *tok = duct__tok_keyed ? pthread_getspecific(duct__tok_key) : NULL;
	if (tok) {
		json_tokener_reset(tok);
		return tok;
	}
	/* The prescan bounds the nesting of arrays and objects; json-c also
	 * counts the scalar inside the innermost one, hence + 1. */
	tok = json_tokener_new_ex(DUCT_JSON_MAX_DEPTH + 1);
	if (tok) {
		json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
		if (duct__tok_keyed && pthread_setspecific(duct__tok_key, tok) != 0)
			duct__tok_keyed = 0; /* kept nowhere: freed after use */
	}
	return tok;
}

static void duct__tok_put(json_tokener *tok)
{
	if (!duct__tok_keyed || pthread_getspecific(duct__tok_key) != tok)
		json_tokener_free(tok);
}

/* A tokener that failed a text is not reused: json_tokener_reset() (json-c
 * 0.16) leaves a pending high surrogate of the failed text set, and it then
 * joined the next text's first \u escape, an extra U+FFFD in a valid text
 * (found by fuzz_json's oracle 4).  Failures are rare; a new one is cheap
 * enough for them. */
static void duct__tok_drop(json_tokener *tok)
{
	if (duct__tok_keyed && pthread_getspecific(duct__tok_key) == tok)
		pthread_setspecific(duct__tok_key, NULL);
	json_tokener_free(tok);
}

static int duct__json_parse(const uint8_t *data, size_t len, json_object **value)
{
	json_tokener *tok;
	json_object *o;
	enum json_tokener_error e;
	size_t end;

	/* json-c takes an int length.  Bigger texts are refused rather than
	 * fed in pieces through a path no test exercises. */
	if (len >= INT_MAX)
		return DUCT_EJSON;
	if (!(tok = duct__tok_get()))
		return DUCT_ENOMEM;
	o = json_tokener_parse_ex(tok, (const char *)data, (int)len);
	e = json_tokener_get_error(tok);
	end = json_tokener_get_parse_end(tok);
	if (e == json_tokener_continue) {
		/* A top-level number ends only at a delimiter: show json-c the
		 * end of input (NUL is its end-of-text mark). */
		o = json_tokener_parse_ex(tok, "", 1);
		e = json_tokener_get_error(tok);
		end = len;
	}
	if (e != json_tokener_success || end != len) {
		duct__tok_drop(tok);
		json_object_put(o);
		return DUCT_EJSON;
	}
	duct__tok_put(tok);
	*value = o;
	return DUCT_OK;
}

int duct_json_decode(const uint8_t *data, size_t len, json_object **value)
{
	duct_buf copy = {0};
	size_t ok = duct__utf8_valid_len(data, len);
	int rc, found = 0;

	*value = NULL;
	if (len == 0)
		return DUCT_EJSON;
	/* The usual input (valid UTF-8, no pair json-c would spoil) is parsed
	 * where it is, without a copy. */
	if (ok < len) { /* JSON-7 */
		if ((rc = duct_buf_append(&copy, data, ok)) != DUCT_OK ||
		    (rc = duct_utf8_sanitize(data + ok, len - ok, &copy)) != DUCT_OK)
			goto out;
		data = copy.data, len = copy.len;
	}
	if ((rc = duct__json_prescan(data, len, &found)) != DUCT_OK)
		goto out;
	if (found & DUCT__BAD_PAIR) {
		if (data != copy.data &&
		    (rc = duct_buf_append(&copy, data, len)) != DUCT_OK)
			goto out;
		copy.len = duct__json_fix_pairs(copy.data, copy.len);
		data = copy.data, len = copy.len;
	}
	if ((rc = duct__json_parse(data, len, value)) != DUCT_OK)
		goto out;
	/* JSON-6, JSON-12: refuse what json-c clamped or cut.  Malformed
	 * JSON takes precedence, so this is checked after parsing. */
	if (found & (DUCT__BIG_INT | DUCT__NUL_KEY)) {
		json_object_put(*value);
		*value = NULL;
		rc = found & DUCT__BIG_INT ? DUCT_ERANGE : DUCT_EVALUE;
	}
out:
	duct_buf_free(&copy);
	return rc;
}

static int duct__json_enc(void *ctx, const void *value, duct_buf *out)
{
	(void)ctx;
	return duct_json_encode(value, out);
}

static int duct__json_dec(void *ctx, const uint8_t *data, size_t len,
			  void **value)
{
	json_object *o;
	int rc = duct_json_decode(data, len, &o);

	(void)ctx;
	*value = o;
	return rc;
}

static void duct__json_free(void *ctx, void *value)
{
	(void)ctx;
	json_object_put(value);
}

const duct_serializer duct_json_serializer = {duct__json_enc, duct__json_dec,
					      duct__json_free, NULL};
