/*
 * JSON encode + decode of a typical message, in process (no sockets).
 *
 *   duct    libduct's default serializer (duct_json_serializer): Python's
 *           exact bytes out, U+FFFD replacement and range checks in;
 *   json-c  json-c's own printer and tokener on the same value, which do
 *           not give Python's bytes: the reference for what the Python
 *           compatibility costs.
 *
 * Each iteration encodes the value into a reused buffer, decodes the bytes
 * into a new value, checks it and frees it: what duct_send_value() plus
 * duct_recv_value() cost beyond the socket.
 */
#include <stdlib.h>
#include <string.h>

#include "bench.h"
#include "duct/json.h"

/* A typical RPC-style message: nested object, ints, floats, a non-ASCII
 * string, an array, a bool and a null; 200 bytes or so as Python prints
 * it. */
static const char TYPICAL[] =
	"{\"id\": 123456, \"method\": \"sensor.update\", \"params\": "
	"{\"name\": \"pump-7 \\u00e9tage 2\", \"values\": [1.5, 2.25, -3.0, "
	"1e-07, 42], \"ok\": true, \"unit\": null, \"tags\": [\"a\", \"b\", "
	"\"c\"]}, \"ts\": 1700000000.123}";

struct json_ctx {
	int impl;
	json_object *value;
	duct_buf buf;
	json_tokener *tok;
	int keys;
	uint64_t bytes;
};

void *bench_json_setup(int impl)
{
	struct json_ctx *j = calloc(1, sizeof *j);
	if (!j) {
		bench_fail("json: out of memory");
		return NULL;
	}
	j->impl = impl;
	if (duct_json_decode((const uint8_t *)TYPICAL, sizeof TYPICAL - 1,
			     &j->value) != DUCT_OK ||
	    !(j->tok = json_tokener_new())) {
		bench_fail("json: cannot set up the typical message");
		bench_json_free(j, NULL);
		return NULL;
	}
	j->keys = json_object_object_length(j->value);
	return j;
}

static int check(struct json_ctx *j, json_object *got)
{
	int ok = got && json_object_is_type(got, json_type_object) &&
		 json_object_object_length(got) == j->keys;
	json_object_put(got);
	return ok ? 0 : bench_fail("json: decoded value differs");
}

int bench_json_run(void *ctx, uint64_t n)
{
	struct json_ctx *j = ctx;
	const duct_serializer *s = &duct_json_serializer;
	for (uint64_t i = 0; i < n; i++) {
		json_object *got = NULL;
		if (j->impl == 0) {
			j->buf.len = 0;
			if (s->encode(s->ctx, j->value, &j->buf) != DUCT_OK ||
			    s->decode(s->ctx, j->buf.data, j->buf.len,
				      (void **)&got) != DUCT_OK)
				return bench_fail("json: libduct codec failed");
			j->bytes += j->buf.len;
		} else {
			size_t len;
			const char *txt = json_object_to_json_string_length(
				j->value, JSON_C_TO_STRING_PLAIN, &len);
			json_tokener_reset(j->tok);
			got = json_tokener_parse_ex(j->tok, txt, (int)len);
			j->bytes += len;
		}
		if (check(j, got) != 0)
			return -1;
	}
	return 0;
}

void bench_json_free(void *ctx, uint64_t *bytes)
{
	struct json_ctx *j = ctx;
	if (!j)
		return;
	if (bytes)
		*bytes = j->bytes;
	json_object_put(j->value);
	if (j->tok)
		json_tokener_free(j->tok);
	duct_buf_free(&j->buf);
	free(j);
}
