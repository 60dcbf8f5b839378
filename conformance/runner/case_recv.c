/*
 * The cases of PROTOCOL.md section 3, receiving: bad magic, limits, memory.
 */
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "conform.h"

/* After a bad magic byte: the same error again, no resync onto the valid
 * frame that follows, and the connection shut down. */
static void recv_magic_dead(cx *c, const void *arg)
{
	(void)arg;
	static const uint8_t s[] = {'X', 0x54, 0, 0, 0, 1, 'A'};
	peer_write(c, s, sizeof s);
	cx_expect(c, 5000, "error magic", "recv");
	if (cx_cmd(c, 5000, "recv") == 0 && !cx_reply_is(c, "error magic"))
		cx_fail(c, "the second recv after a bad magic byte gave '%s'; expected the "
			"same error (RECV-5: no message after a protocol error, sticky)",
			c->reply);
	if (!cx_failed(c) && !peer_eof_within(c, 1000))
		cx_fail(c, "the testee kept the connection open after a protocol error "
			"(RECV-5: shut it down so the peer sees EOF)");
}

/* 0xFFFFFFFF announced under the testee's default limit. */
static void recv_default_limit(cx *c, const void *arg)
{
	(void)arg;
	static const uint8_t h[] = {0x54, 0xff, 0xff, 0xff, 0xff, 'x'};
	peer_write(c, h, sizeof h);
	if (cx_cmd(c, 3000, "recv") == 0 && !cx_reply_is(c, "error toobig"))
		cx_fail(c, "a header announcing 4 GiB: expected 'error toobig', got '%s'",
			c->reply);
}

/* RECV-6: the limit is checked before allocating: the testee's peak
 * virtual memory must not jump by the announced size. */
static void recv_no_alloc_before_check(cx *c, const void *arg)
{
	(void)arg;
	if (cx_cmd(c, 5000, "set-max 1000"))
		return;
	if (strcmp(c->reply, "ok") != 0) {
		cx_unsupported(c, "set-max");
		return;
	}
	long before = testee_vm_peak_kb(c);
	static const uint8_t h[] = {0x54, 0x7f, 0xff, 0xff, 0xf0, 'x'};
	peer_write(c, h, sizeof h);
	cx_expect(c, 5000, "error toobig", "recv");
	long after = testee_vm_peak_kb(c);
	if (!cx_failed(c) && before > 0 && after - before > 256 * 1024)
		cx_fail(c, "the testee's peak virtual memory grew by %ld MiB on a header it "
			"refused: it allocated before checking the length", (after - before) / 1024);
}

/* SEC-1: memory follows what the peer sent, not what it announced. */
static void recv_trickle_memory(cx *c, const void *arg)
{
	(void)arg;
	long before = testee_vm_peak_kb(c);
	uint8_t h[5];
	frame_header(h, 60 * MIB);
	cx_send_cmd(c, "recv-digest");
	peer_write(c, h, 5);
	static uint8_t chunk[64 * 1024];
	for (int i = 0; i < 16; i++)
		peer_write(c, chunk, sizeof chunk);
	usleep(200 * 1000);
	long after = testee_vm_peak_kb(c);
	peer_close(c);
	if (cx_wait_reply(c, 5000) == 0 && !cx_reply_is(c, "error truncated"))
		cx_fail(c, "closed 1 MiB into a 60 MiB frame: expected 'error truncated', got '%s'",
			c->reply);
	if (!cx_failed(c) && before > 0 && after - before > 32 * 1024)
		cx_fail(c, "peak virtual memory grew by %ld MiB after 1 MiB of a frame that "
			"announced 60 MiB (SEC-1: grow with what was received)",
			(after - before) / 1024);
}

/* RECV-9: a TCP reset counts as a close (RECV-2, RECV-3).  The runner sends part of
 * a frame (or a whole one, arg "boundary"), lets the testee's recv take
 * those bytes and block, then resets the connection (SO_LINGER 0): the
 * recv must end at once, truncated mid-frame, eof at a boundary. */
static void recv_reset(cx *c, const void *arg)
{
	int boundary = arg != NULL;
	static const uint8_t part[] = {0x54, 0, 0, 0, 10, 'h', 'a'};
	bytes whole = frame("ok", 2);
	if (boundary)
		peer_write(c, whole.p, whole.n);
	else
		peer_write(c, part, sizeof part);
	bytes_free(&whole);
	if (boundary)
		cx_expect(c, 5000, "ok 6f6b", "recv");
	if (cx_send_cmd(c, "recv"))
		return;
	usleep(200000); /* the testee reads what came and waits for more */
	struct linger rst = {1, 0};
	setsockopt(c->sock, SOL_SOCKET, SO_LINGER, &rst, sizeof rst);
	peer_close(c);
	const char *want = boundary ? "error eof" : "error truncated";
	if (cx_wait_reply(c, 5000) == 0 && !cx_reply_is(c, want))
		cx_fail(c, "recv, then the runner reset the connection %s\nexpected: %s\n"
			"got:      %.200s", boundary ? "between frames" : "7 bytes into a 15-byte "
			"frame", want, c->reply);
}

static const conf_case cases[] = {
	{"recv.reset_mid_frame", "RECV-9 RECV-3", LV_SHOULD, CF_TCP_ONLY, recv_reset, NULL,
	 "a TCP reset 7 bytes into a frame, recv waiting: 'truncated' at once", NULL, NULL},
	{"recv.reset_at_boundary", "RECV-9 RECV-2", LV_SHOULD, CF_TCP_ONLY, recv_reset, "boundary",
	 "a TCP reset between frames, recv waiting: 'eof' at once", NULL, NULL},
	{"recv.magic_is_final", "RECV-5", LV_SHOULD, 0, recv_magic_dead, NULL,
	 "after a bad magic byte: same error again, no resync, connection shut down", NULL, NULL},
	{"recv.default_limit", "SEC-1 RECV-6", LV_SHOULD, 0, recv_default_limit, NULL,
	 "a header announcing 4 GiB is refused under the default limit", NULL, NULL},
	{"recv.no_alloc_before_check", "RECV-6", LV_MUST, 0, recv_no_alloc_before_check, NULL,
	 "an over-limit length is refused before any allocation of that size", NULL, NULL},
	{"recv.trickle_memory", "SEC-1", LV_SHOULD, CF_TIMED, recv_trickle_memory, NULL,
	 "memory grows with the bytes received, not the length announced", NULL, NULL},
};

void cases_recv(conf_case **v, size_t *n)
{
	cases_add_all(v, n, cases, sizeof cases / sizeof cases[0]);
}
