/*
 * duct-icount: fixed workloads whose instruction counts, measured under
 * valgrind's callgrind, gate CI (bench/icount/icount.py).  Unlike wall
 * time, the count of a fixed workload is the same on a busy machine and a
 * quiet one, so a 2% budget is meaningful.
 *
 *   duct-icount frame     the codec: duct_frame_parse() and the reader,
 *                         a stream of 1000 frames of mixed sizes fed in
 *                         uneven chunks, 20 times
 *   duct-icount json      the default serializer: encode + decode of a
 *                         typical message, 500 times
 *   duct-icount sendrecv  libduct over a socketpair, in process: 2000
 *                         duct_send() + duct_recv() of 64 bytes, then 20
 *                         batches of 256 through duct_send_many() and
 *                         duct_recv_many()
 *
 * Each workload is one function named icount_<workload>, which is what
 * callgrind counts (--toggle-collect), so start-up and set-up are not.
 * Every workload checks its results and exits 1 if one is wrong.
 */
#include <json-c/linkhash.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "duct/duct.h"
#include "duct/json.h"

#define NOINLINE __attribute__((noinline))

static int failed(const char *what)
{
	fprintf(stderr, "duct-icount: %s\n", what);
	return 1;
}

/* ---- frame ------------------------------------------------------------- */

enum { FRAMES = 1000 };
static uint8_t stream[FRAMES * (DUCT_HEADER_SIZE + 300)];
static size_t stream_len;

static size_t frame_size(int i) { return (size_t)(i * 37 % 300); }

NOINLINE int icount_frame(duct_reader *r)
{
	uint64_t total = 0;
	for (int round = 0; round < 20; round++) {
		/* The stateless parser on every header, */
		for (size_t off = 0; off < stream_len;) {
			uint32_t len;
			if (duct_frame_parse(stream + off, stream_len - off,
					     DUCT_MAX_MESSAGE_DEFAULT, &len) != DUCT_OK)
				return failed("frame: parse");
			off += DUCT_HEADER_SIZE + len;
		}
		/* then the reader, fed in chunks that split headers. */
		int got = 0;
		for (size_t off = 0; off < stream_len;) {
			size_t chunk = 997 + (off % 3);
			if (chunk > stream_len - off)
				chunk = stream_len - off;
			if (duct_reader_feed(r, stream + off, chunk) != DUCT_OK)
				return failed("frame: feed");
			off += chunk;
			const uint8_t *p;
			size_t len;
			while (duct_reader_next(r, &p, &len) == DUCT_OK) {
				if (len != frame_size(got))
					return failed("frame: wrong length");
				total += len;
				got++;
			}
		}
		if (got != FRAMES)
			return failed("frame: frames lost");
	}
	return total == 0;
}

/* ---- json -------------------------------------------------------------- */

static const char TYPICAL[] =
	"{\"id\": 123456, \"method\": \"sensor.update\", \"params\": "
	"{\"name\": \"pump-7 \\u00e9tage 2\", \"values\": [1.5, 2.25, -3.0, "
	"1e-07, 42], \"ok\": true, \"unit\": null, \"tags\": [\"a\", \"b\", "
	"\"c\"]}, \"ts\": 1700000000.123}";

NOINLINE int icount_json(json_object *v, duct_buf *buf)
{
	const duct_serializer *s = &duct_json_serializer;
	for (int i = 0; i < 500; i++) {
		void *got = NULL;
		buf->len = 0;
		if (s->encode(s->ctx, v, buf) != DUCT_OK ||
		    buf->len != sizeof TYPICAL - 1 ||
		    memcmp(buf->data, TYPICAL, buf->len) != 0)
			return failed("json: encode");
		if (s->decode(s->ctx, buf->data, buf->len, &got) != DUCT_OK ||
		    !json_object_equal(v, got))
			return failed("json: decode");
		s->free_value(s->ctx, got);
	}
	return 0;
}

/* ---- sendrecv ---------------------------------------------------------- */

NOINLINE int icount_sendrecv(duct *p, duct *c)
{
	static uint8_t msg[64];
	for (int i = 0; i < 2000; i++) {
		const void *m;
		size_t len;
		msg[0] = (uint8_t)i;
		if (duct_send(p, msg, sizeof msg) != DUCT_OK ||
		    duct_recv(c, &m, &len) != DUCT_OK || len != sizeof msg ||
		    *(const uint8_t *)m != (uint8_t)i)
			return failed("sendrecv: single");
	}
	duct_iov out[256], in[256];
	for (int i = 0; i < 256; i++)
		out[i] = (duct_iov){msg, (size_t)i % 65};
	for (int b = 0; b < 20; b++) {
		if (duct_send_many(p, out, 256, NULL) != DUCT_OK)
			return failed("sendrecv: send_many");
		for (size_t got = 0, n; got < 256; got += n) {
			if (duct_recv_many(c, in, 256 - got, &n) != DUCT_OK)
				return failed("sendrecv: recv_many");
			for (size_t k = 0; k < n; k++)
				if (in[k].len != (got + k) % 65)
					return failed("sendrecv: batch length");
		}
	}
	return 0;
}

int main(int argc, char **argv)
{
	const char *w = argc == 2 ? argv[1] : "";
	/* json-c seeds its default string hash at random: the perl-like hash
	 * has no seed, so its collisions, and our counts, repeat. */
	json_global_set_string_hash(JSON_C_STR_HASH_PERLLIKE);
	if (strcmp(w, "frame") == 0) {
		for (int i = 0; i < FRAMES; i++) {
			duct_frame_header(stream + stream_len, (uint32_t)frame_size(i));
			stream_len += DUCT_HEADER_SIZE;
			memset(stream + stream_len, i, frame_size(i));
			stream_len += frame_size(i);
		}
		duct_reader *r = duct_reader_new(DUCT_MAX_MESSAGE_DEFAULT);
		int rc = r ? icount_frame(r) : failed("out of memory");
		duct_reader_free(r);
		return rc;
	}
	if (strcmp(w, "json") == 0) {
		json_object *v;
		duct_buf buf = {0};
		if (duct_json_decode((const uint8_t *)TYPICAL, sizeof TYPICAL - 1,
				     &v) != DUCT_OK)
			return failed("json: cannot parse the typical message");
		int rc = icount_json(v, &buf);
		json_object_put(v);
		duct_buf_free(&buf);
		return rc;
	}
	if (strcmp(w, "sendrecv") == 0) {
		duct *p, *c;
		if (duct_pair(&p, &c) != DUCT_OK)
			return failed("duct_pair");
		int rc = icount_sendrecv(p, c);
		duct_free(p);
		duct_free(c);
		return rc;
	}
	fprintf(stderr, "usage: duct-icount frame|json|sendrecv\n");
	return 2;
}
