/*
 * The cases of PROTOCOL.md section 2, framing: what goes out on the wire
 * and what comes in, whole, at every size.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conform.h"

static void frame_send_small(cx *c, const void *arg)
{
	(void)arg;
	cx_expect(c, 5000, "ok", "send 6869");
	peer_expect_frame(c, "hi", 2, 5000);
}

static void frame_send_empty(cx *c, const void *arg)
{
	(void)arg;
	cx_expect(c, 5000, "ok", "send -");
	peer_expect_frame(c, "", 0, 5000);
	cx_expect(c, 5000, "ok", "send 00");
	peer_expect_frame(c, "\0", 1, 5000);
}

static void send_pattern(cx *c, size_t len, unsigned seed)
{
	uint8_t *want = malloc(len ? len : 1);
	pattern(want, len, seed);
	/* The testee blocks until we read a big message, so the command is
	 * sent first and its reply collected after the bytes. */
	cx_send_cmd(c, "send-pattern %zu %u", len, seed);
	peer_expect_frame(c, want, len, 20000);
	if (cx_wait_reply(c, 20000) == 0 && strcmp(c->reply, "ok") != 0)
		cx_fail(c, "send-pattern %zu: expected 'ok', got '%s'", len, c->reply);
	free(want);
}

static void frame_send_sizes(cx *c, const void *arg)
{
	(void)arg;
	static const size_t sizes[] = {1, 255, 256, 65535, 65536, 65537};
	for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++)
		send_pattern(c, sizes[i], (unsigned)i);
}

static void frame_send_16mib(cx *c, const void *arg)
{
	(void)arg;
	send_pattern(c, 16 * MIB, 3);
}

static void recv_pattern(cx *c, size_t len, unsigned seed)
{
	bytes f = {0};
	uint8_t h[5];
	frame_header(h, (uint32_t)len);
	bytes_put(&f, h, 5);
	uint8_t *p = malloc(len ? len : 1);
	pattern(p, len, seed);
	bytes_put(&f, p, len);
	char want[64];
	snprintf(want, sizeof want, "ok %zu %016llx", len,
		 (unsigned long long)fnv1a(FNV_INIT, p, len));
	cx_send_cmd(c, "recv-digest");
	peer_write_async(c, f.p, f.n, NULL, 0, 0, 0);
	if (cx_wait_reply(c, 20000) == 0 && !cx_reply_is(c, want))
		cx_fail(c, "recv-digest of a %zu-byte message\nexpected: %s\ngot:      %s",
			len, want, c->reply);
	peer_join(c, 1);
	free(p);
	bytes_free(&f);
}

static void frame_recv_16mib(cx *c, const void *arg)
{
	(void)arg;
	recv_pattern(c, 16 * MIB, 5);
}

enum { MANY = 100000 };

/* Reads send-many COUNT SEED's messages from the testee, checking each. */
static void read_many(cx *c, size_t count, unsigned seed)
{
	uint8_t want[64], got[64];
	for (size_t k = 0; k < count && !cx_failed(c); k++) {
		size_t n = many_message(k, seed, want);
		uint8_t h[5];
		if (peer_read(c, h, 5, 20000))
			break;
		uint32_t len = (uint32_t)h[1] << 24 | (uint32_t)h[2] << 16 |
			       (uint32_t)h[3] << 8 | h[4];
		if (h[0] != 0x54 || len != n) {
			cx_fail(c, "message %zu of %zu: expected header 54 %08zx, got %02x %08x",
				k, count, n, h[0], len);
			break;
		}
		if (peer_read(c, got, n, 20000) == 0 && memcmp(got, want, n) != 0)
			cx_fail(c, "message %zu of %zu: payload differs (lost, reordered or "
				"corrupted)", k, count);
	}
	if (cx_wait_reply(c, 20000) == 0 && strcmp(c->reply, "ok") != 0)
		cx_fail(c, "send-many: expected 'ok', got '%s'", c->reply);
}

/* The frames of send-many COUNT SEED, back to back. */
static bytes many_stream(size_t count, unsigned seed)
{
	bytes s = {0};
	uint8_t p[64];
	for (size_t k = 0; k < count; k++) {
		size_t n = many_message(k, seed, p);
		bytes f = frame(p, n);
		bytes_put(&s, f.p, f.n);
		bytes_free(&f);
	}
	return s;
}

/* recv-many COUNT must report the digest of send-many COUNT SEED. */
static void expect_recv_many(cx *c, size_t count, unsigned seed)
{
	char want[40];
	snprintf(want, sizeof want, "ok %016llx", (unsigned long long)many_digest(count, seed));
	if (cx_wait_reply(c, 30000) == 0 && !cx_reply_is(c, want))
		cx_fail(c, "recv-many %zu\nexpected: %s\ngot:      %s", count, want, c->reply);
}

static void frame_send_many(cx *c, const void *arg)
{
	(void)arg;
	cx_send_cmd(c, "send-many %d 7", MANY);
	read_many(c, MANY, 7);
}

static void frame_recv_many(cx *c, const void *arg)
{
	(void)arg;
	bytes s = many_stream(MANY, 11);
	cx_send_cmd(c, "recv-many %d", MANY);
	peer_write_async(c, s.p, s.n, NULL, 0, 0, 0);
	expect_recv_many(c, MANY, 11);
	peer_join(c, 1);
	bytes_free(&s);
}

/* FRAME-5: the runner streams to the testee while the testee streams to the
 * runner, each far more than the socket buffers hold, so both directions
 * carry frames at once; then the testee receives what was streamed to it. */
static void frame_both_ways(cx *c, const void *arg)
{
	(void)arg;
	enum { BOTH = 20000 };
	bytes s = many_stream(BOTH, 11);
	peer_write_async(c, s.p, s.n, NULL, 0, 0, 0);
	cx_send_cmd(c, "send-many %d 7", BOTH);
	read_many(c, BOTH, 7);
	cx_send_cmd(c, "recv-many %d", BOTH);
	expect_recv_many(c, BOTH, 11);
	peer_join(c, 1);
	bytes_free(&s);
}

static const conf_case cases[] = {
	{"frame.send_small", "FRAME-1", LV_MUST, 0, frame_send_small, NULL,
	 "a 2-byte message goes out as 54 00 00 00 02 68 69", NULL, NULL},
	{"frame.send_empty", "FRAME-3", LV_MUST, 0, frame_send_empty, NULL,
	 "the empty message and a lone NUL byte are messages", NULL, NULL},
	{"frame.send_sizes", "FRAME-1 FRAME-3", LV_MUST, 0, frame_send_sizes, NULL,
	 "lengths 1, 255, 256, 65535, 65536, 65537 on the wire", NULL, NULL},
	{"frame.send_16mib", "FRAME-3 SEND-1", LV_MUST, 0, frame_send_16mib, NULL,
	 "a 16 MiB message, far over any socket buffer", NULL, NULL},
	{"frame.recv_16mib", "FRAME-3 RECV-1", LV_MUST, 0, frame_recv_16mib, NULL,
	 "a 16 MiB message received whole", NULL, NULL},
	{"frame.send_many", "FRAME-6", LV_MUST, 0, frame_send_many, NULL,
	 "10^5 messages out, none lost, merged, split or reordered", NULL, NULL},
	{"frame.recv_many", "FRAME-6 FRAME-7", LV_MUST, 0, frame_recv_many, NULL,
	 "10^5 messages in, back to back", NULL, NULL},
	{"frame.both_ways_at_once", "FRAME-5", LV_MUST, 0, frame_both_ways, NULL,
	 "2x10^4 messages each way, the two streams in flight at the same time", NULL, NULL},
};

void cases_frame(conf_case **v, size_t *n)
{
	cases_add_all(v, n, cases, sizeof cases / sizeof cases[0]);
}
