/*
 * The hand-written cases.  Each names the requirements it checks; ids are
 * stable (`section.slug`) and never renumbered.  Vector-driven cases are in
 * vectors.c.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "conform.h"

#define MIB (1u << 20)

static void put_header(uint8_t h[5], uint32_t len)
{
	h[0] = 0x54;
	h[1] = (uint8_t)(len >> 24);
	h[2] = (uint8_t)(len >> 16);
	h[3] = (uint8_t)(len >> 8);
	h[4] = (uint8_t)len;
}

/* A whole frame carrying p[0..n). */
static bytes frame(const void *p, size_t n)
{
	bytes b = {0};
	uint8_t h[5];
	put_header(h, (uint32_t)n);
	bytes_put(&b, h, 5);
	bytes_put(&b, p, n);
	return b;
}

/* Sends a frame from the runner and checks the testee's recv reply. */
static void runner_to_testee(cx *c, const char *payload)
{
	bytes f = frame(payload, strlen(payload));
	peer_write(c, f.p, f.n);
	char *h = hex((const uint8_t *)payload, strlen(payload));
	char want[4096];
	snprintf(want, sizeof want, "ok %s", h);
	cx_expect(c, 5000, want, "recv");
	free(h);
	bytes_free(&f);
}

/* ---- frame ---------------------------------------------------------- */

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
	put_header(h, (uint32_t)len);
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

static void frame_send_many(cx *c, const void *arg)
{
	(void)arg;
	cx_send_cmd(c, "send-many %d 7", MANY);
	uint8_t want[64], got[64];
	for (size_t k = 0; k < MANY && !cx_failed(c); k++) {
		size_t n = many_message(k, 7, want);
		uint8_t h[5];
		if (peer_read(c, h, 5, 20000))
			break;
		uint32_t len = (uint32_t)h[1] << 24 | (uint32_t)h[2] << 16 |
			       (uint32_t)h[3] << 8 | h[4];
		if (h[0] != 0x54 || len != n) {
			cx_fail(c, "message %zu of %d: expected header 54 %08zx, got %02x %08x",
				k, MANY, n, h[0], len);
			break;
		}
		if (peer_read(c, got, n, 20000) == 0 && memcmp(got, want, n) != 0)
			cx_fail(c, "message %zu of %d: payload differs (lost, reordered or "
				"corrupted)", k, MANY);
	}
	if (cx_wait_reply(c, 20000) == 0 && strcmp(c->reply, "ok") != 0)
		cx_fail(c, "send-many: expected 'ok', got '%s'", c->reply);
}

static void frame_recv_many(cx *c, const void *arg)
{
	(void)arg;
	bytes s = {0};
	uint8_t p[64];
	for (size_t k = 0; k < MANY; k++) {
		size_t n = many_message(k, 11, p);
		bytes f = frame(p, n);
		bytes_put(&s, f.p, f.n);
		bytes_free(&f);
	}
	char want[40];
	snprintf(want, sizeof want, "ok %016llx", (unsigned long long)many_digest(MANY, 11));
	cx_send_cmd(c, "recv-many %d", MANY);
	peer_write_async(c, s.p, s.n, NULL, 0, 0, 0);
	if (cx_wait_reply(c, 30000) == 0 && !cx_reply_is(c, want))
		cx_fail(c, "recv-many %d\nexpected: %s\ngot:      %s", MANY, want, c->reply);
	peer_join(c, 1);
	bytes_free(&s);
}

/* ---- recv --------------------------------------------------------------- */

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
	put_header(h, 60 * MIB);
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

/* ---- send --------------------------------------------------------------- */

static void send_after_peer_closed(cx *c, const void *arg)
{
	(void)arg;
	peer_close(c);
	for (int i = 0; i < 100 && !cx_failed(c); i++) {
		if (cx_cmd(c, 5000, "send 41"))
			return;
		if (cx_reply_is(c, "error pipe"))
			return;
		if (strcmp(c->reply, "ok") != 0) {
			cx_fail(c, "send to a closed peer: expected 'error pipe', got '%s'", c->reply);
			return;
		}
		usleep(5000); /* TCP learns of the close from the peer's RST */
	}
	cx_fail(c, "100 sends to a closed peer all succeeded (SEND-3)");
}

/* ---- lifecycle ---------------------------------------------------------- */

static int start_parent(cx *c, char *addr, size_t n)
{
	const char *t = c->tr == TR_UNIX ? "unix" : "tcp";
	if (cx_cmd(c, 5000, "parent %s", t))
		return -1;
	if (strncmp(c->reply, "ok ", 3) != 0) {
		cx_fail(c, "'parent %s' failed: %s", t, c->reply);
		return -1;
	}
	snprintf(addr, n, "%s", c->reply + 3);
	return 0;
}

static void life_listen_timeout(cx *c, const void *arg)
{
	(void)arg;
	char addr[300];
	if (start_parent(c, addr, sizeof addr))
		return;
	long t0 = now_ms();
	if (cx_expect(c, 5000, "error timeout", "listen 300"))
		return;
	long took = now_ms() - t0;
	if (took < 299)
		cx_fail(c, "listen 300 with nobody coming returned after %ld ms", took);
	int err;
	c->sock = peer_connect_to(c, addr, &err);
	if (c->sock < 0 && !cx_failed(c))
		cx_fail(c, "after a listen timeout the parent no longer listens: %s",
			strerror(err));
	cx_expect(c, 5000, "ok", "listen 5000");
	runner_to_testee(c, "after");
}

static void life_one_child(cx *c, const void *arg)
{
	(void)arg;
	char addr[300];
	if (start_parent(c, addr, sizeof addr))
		return;
	int err;
	c->sock = peer_connect_to(c, addr, &err);
	if (c->sock < 0) {
		cx_fail(c, "cannot connect to %s: %s", addr, strerror(err));
		return;
	}
	if (cx_expect(c, 5000, "ok", "listen 5000"))
		return;
	int second = peer_connect_to(c, addr, &err);
	if (second >= 0) {
		close(second);
		cx_fail(c, "a second child connected to %s after the first was accepted "
			"(LIFE-3: exactly one child)", addr);
	}
	runner_to_testee(c, "first");
	if (!cx_failed(c) && c->tr == TR_UNIX && access(addr + 5, F_OK) == 0)
		cx_fail(c, "the Unix path %s still exists after accept (LIFE-3)", addr + 5);
}

static void life_private_dir(cx *c, const void *arg)
{
	(void)arg;
	char addr[300];
	if (start_parent(c, addr, sizeof addr))
		return;
	char *slash = strrchr(addr, '/');
	if (!slash) {
		cx_fail(c, "no directory in %s", addr);
		return;
	}
	*slash = '\0';
	struct stat st;
	if (stat(addr + 5, &st) != 0)
		cx_fail(c, "cannot stat %s: %s", addr + 5, strerror(errno));
	else if ((st.st_mode & 077) != 0 || st.st_uid != getuid())
		cx_fail(c, "the socket's directory %s has mode %03o, owner %d: others can "
			"reach the socket (SEC-2 wants a private 0700 directory)", addr + 5,
			st.st_mode & 0777, (int)st.st_uid);
}

static void life_already_connected(cx *c, const void *arg)
{
	(void)arg;
	if (cx_cmd(c, 5000, "listen 100") == 0 && strncmp(c->reply, "error state", 11) != 0)
		cx_fail(c, "listen on a connected parent: expected 'error state', got '%s'",
			c->reply);
	runner_to_testee(c, "still");
}

static void life_child_retry(cx *c, const void *arg)
{
	(void)arg;
	/* Learn an address, stop listening, let the child try, listen again
	 * on the same address. */
	if (peer_listen(c))
		return;
	close(c->lsock);
	c->lsock = -1;
	if (c->tr == TR_UNIX)
		unlink(c->addr + 5);
	cx_send_cmd(c, "child %s", c->addr);
	usleep(700 * 1000);
	if (peer_listen(c) || peer_accept(c, 15000) || cx_wait_reply(c, 15000))
		return;
	if (strcmp(c->reply, "ok") != 0)
		cx_fail(c, "a child started 0.7 s before its parent listened: expected 'ok' "
			"(LIFE-5: retry ENOENT/ECONNREFUSED), got '%s'", c->reply);
	runner_to_testee(c, "late");
}

static void life_child_gives_up(cx *c, const void *arg)
{
	(void)arg;
	const char *addr = c->tr == TR_UNIX ? "unix:/nonexistent-duct-conform/duct.sock"
					    : "tcp:127.0.0.1:1";
	if (cx_cmd(c, 60000, "child %s", addr))
		return;
	if (strncmp(c->reply, "error connect", 13) != 0)
		cx_fail(c, "connecting to nothing: expected 'error connect' after bounded "
			"retries, got '%s'", c->reply);
}

/* ---- poll --------------------------------------------------------------- */

/* Runs "poll MS" and checks the answer; returns the runner-measured time. */
static long poll_expect(cx *c, int ms, const char *want)
{
	long t0 = now_ms();
	if (cx_cmd(c, ms + 5000, "poll %d", ms))
		return -1;
	long took = now_ms() - t0;
	if (strncmp(c->reply, want, strlen(want)) != 0)
		cx_fail(c, "poll %d: expected '%s ...', got '%s'", ms, want, c->reply);
	return took;
}

static void poll_zero(cx *c, const void *arg)
{
	(void)arg;
	for (int i = 0; i < 5 && !cx_failed(c); i++) {
		long took = poll_expect(c, 0, "ok false");
		if (took > cx_ms(c, 500))
			cx_fail(c, "poll 0 took %ld ms (POLL-2: it must not block)", took);
	}
}

static void poll_timeout(cx *c, const void *arg)
{
	(void)arg;
	long took = poll_expect(c, 300, "ok false");
	if (!cx_failed(c) && took < 299)
		cx_fail(c, "poll 300 on an idle duct returned false after %ld ms (POLL-3)", took);
}

static void poll_timeout_prompt(cx *c, const void *arg)
{
	(void)arg;
	long took = poll_expect(c, 300, "ok false");
	if (!cx_failed(c) && took > 300 + cx_ms(c, 500))
		cx_fail(c, "poll 300 on an idle duct returned after %ld ms", took);
}

static void poll_data(cx *c, const void *arg)
{
	(void)arg;
	bytes f = frame("d", 1);
	peer_write(c, f.p, f.n);
	long took = poll_expect(c, 5000, "ok true");
	if (!cx_failed(c) && took > cx_ms(c, 2000))
		cx_fail(c, "poll took %ld ms to see a waiting message", took);
	poll_expect(c, 0, "ok true"); /* it did not consume */
	cx_expect(c, 5000, "ok 64", "recv");
	bytes_free(&f);
}

static void poll_partial(cx *c, const void *arg)
{
	(void)arg;
	static const uint8_t part[] = {0x54, 0, 0};
	peer_write(c, part, sizeof part);
	poll_expect(c, 5000, "ok true");
	static const uint8_t rest[] = {0, 1, 'p'};
	peer_write(c, rest, sizeof rest);
	cx_expect(c, 5000, "ok 70", "recv");
}

static void poll_eof(cx *c, const void *arg)
{
	(void)arg;
	peer_close(c);
	long took = poll_expect(c, 5000, "ok true");
	if (!cx_failed(c) && took > cx_ms(c, 2000))
		cx_fail(c, "poll took %ld ms to see the peer's close", took);
	cx_expect(c, 5000, "error eof", "recv");
}

static void poll_buffered(cx *c, const void *arg)
{
	(void)arg;
	static const uint8_t two[] = {0x54, 0, 0, 0, 1, 'a', 0x54, 0, 0, 0, 1, 'b'};
	peer_write(c, two, sizeof two);
	usleep(50 * 1000); /* both frames arrive together */
	cx_expect(c, 5000, "ok 61", "recv");
	poll_expect(c, 0, "ok true");
	cx_expect(c, 5000, "ok 62", "recv");
}

/* ---- close -------------------------------------------------------------- */

static void close_twice(cx *c, const void *arg)
{
	(void)arg;
	cx_expect(c, 5000, "ok", "close");
	cx_expect(c, 5000, "ok", "close");
	if (!cx_failed(c) && !peer_eof_within(c, 2000))
		cx_fail(c, "the peer saw no EOF after the testee closed (CLOSE-4)");
}

static void close_delivers_first(cx *c, const void *arg)
{
	(void)arg;
	cx_expect(c, 5000, "ok", "send 01");
	cx_expect(c, 5000, "ok", "send 0202");
	cx_expect(c, 5000, "ok", "close");
	peer_expect_frame(c, "\1", 1, 5000);
	peer_expect_frame(c, "\2\2", 2, 5000);
	if (!cx_failed(c) && !peer_eof_within(c, 2000))
		cx_fail(c, "no EOF after the last message (CLOSE-4)");
}

static void close_then_use(cx *c, const void *arg)
{
	(void)arg;
	cx_expect(c, 5000, "ok", "close");
	if (cx_cmd(c, 5000, "send 41") == 0 && strncmp(c->reply, "error ", 6) != 0)
		cx_fail(c, "send after close: expected an error, got '%s'", c->reply);
	if (cx_cmd(c, 5000, "recv") == 0 && strncmp(c->reply, "error ", 6) != 0)
		cx_fail(c, "recv after close: expected an error, got '%s'", c->reply);
}

/* ---- timeouts ----------------------------------------------------------- */

static int want_timeout_feature(cx *c, int ms)
{
	if (cx_cmd(c, 5000, "set-timeout %d", ms))
		return -1;
	if (strcmp(c->reply, "ok") != 0) {
		cx_unsupported(c, "set-timeout");
		return -1;
	}
	return 0;
}

static void time_recv_timeout(cx *c, const void *arg)
{
	(void)arg;
	if (want_timeout_feature(c, 200))
		return;
	long t0 = now_ms();
	cx_expect(c, 5000, "error timeout", "recv");
	long took = now_ms() - t0;
	if (!cx_failed(c) && (took < 190 || took > 200 + cx_ms(c, 2000)))
		cx_fail(c, "a 200 ms receive timeout fired after %ld ms", took);
}

static void time_recv_keeps_partial(cx *c, const void *arg)
{
	(void)arg;
	if (want_timeout_feature(c, 300))
		return;
	static const uint8_t part[] = {0x54, 0, 0, 0, 4, 'a', 'b'};
	peer_write(c, part, sizeof part);
	cx_expect(c, 5000, "error timeout", "recv");
	peer_write(c, "cd", 2);
	cx_expect(c, 5000, "ok 61626364", "recv");
}

/* ---- serializer --------------------------------------------------------- */

static void json_error_keeps_connection(cx *c, const void *arg)
{
	(void)arg;
	bytes bad = frame("{bad", 4), good = frame("[1, 2]", 6);
	peer_write(c, bad.p, bad.n);
	if (cx_cmd(c, 5000, "echo-value") == 0 && strncmp(c->reply, "error decode", 12) != 0)
		cx_fail(c, "echo-value of '{bad': expected 'error decode', got '%s'", c->reply);
	peer_write(c, good.p, good.n);
	cx_expect(c, 5000, "ok", "echo-value");
	peer_expect_frame(c, "[1, 2]", 6, 5000);
	bytes_free(&bad);
	bytes_free(&good);
}

static const conf_case builtin[] = {
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
	{"recv.magic_is_final", "RECV-5", LV_SHOULD, 0, recv_magic_dead, NULL,
	 "after a bad magic byte: same error again, no resync, connection shut down", NULL, NULL},
	{"recv.default_limit", "SEC-1 RECV-6", LV_SHOULD, 0, recv_default_limit, NULL,
	 "a header announcing 4 GiB is refused under the default limit", NULL, NULL},
	{"recv.no_alloc_before_check", "RECV-6", LV_MUST, 0, recv_no_alloc_before_check, NULL,
	 "an over-limit length is refused before any allocation of that size", NULL, NULL},
	{"recv.trickle_memory", "SEC-1", LV_SHOULD, 0, recv_trickle_memory, NULL,
	 "memory grows with the bytes received, not the length announced", NULL, NULL},
	{"send.after_peer_closed", "SEND-3 SEC-3", LV_MUST, 0, send_after_peer_closed, NULL,
	 "sending to a closed peer fails with 'pipe' and the testee lives (SIGPIPE)", NULL, NULL},
	{"life.listen_timeout", "LIFE-2", LV_MUST, CF_NO_SETUP | CF_PARENT_ONLY,
	 life_listen_timeout, NULL, "listen with nobody coming times out, then still works", NULL, NULL},
	{"life.one_child", "LIFE-3", LV_MUST, CF_NO_SETUP | CF_PARENT_ONLY, life_one_child,
	 NULL, "after accept: listener closed, Unix path gone, a second child refused", NULL, NULL},
	{"life.private_dir", "SEC-2", LV_SHOULD, CF_NO_SETUP | CF_PARENT_ONLY | CF_UNIX_ONLY,
	 life_private_dir, NULL, "a fresh Unix path lives in a 0700 directory", NULL, NULL},
	{"life.already_connected", "LIFE-4", LV_MUST, CF_PARENT_ONLY, life_already_connected,
	 NULL, "listen on a connected parent is an 'already connected' error", NULL, NULL},
	{"life.child_retry", "LIFE-5", LV_SHOULD, CF_NO_SETUP | CF_CHILD_ONLY, life_child_retry,
	 NULL, "a child started before its parent listens connects on a retry", NULL, NULL},
	{"life.child_gives_up", "LIFE-5", LV_SHOULD, CF_NO_SETUP | CF_CHILD_ONLY,
	 life_child_gives_up, NULL, "connecting to nothing fails after bounded retries", NULL, NULL},
	{"poll.zero_does_not_block", "POLL-2", LV_MUST, 0, poll_zero, NULL,
	 "poll 0 on an idle duct answers false at once", NULL, NULL},
	{"poll.timeout_honoured", "POLL-3", LV_MUST, 0, poll_timeout, NULL,
	 "poll 300 on an idle duct is false, not before 300 ms", NULL, NULL},
	{"poll.timeout_prompt", "POLL-3", LV_SHOULD, 0, poll_timeout_prompt, NULL,
	 "poll 300 on an idle duct returns soon after 300 ms", NULL, NULL},
	{"poll.true_on_data", "POLL-1", LV_MUST, 0, poll_data, NULL,
	 "poll sees a waiting message and does not consume it", NULL, NULL},
	{"poll.true_on_partial", "POLL-1", LV_MUST, 0, poll_partial, NULL,
	 "poll is true on part of a frame", NULL, NULL},
	{"poll.true_on_eof", "POLL-1 RECV-2", LV_MUST, 0, poll_eof, NULL,
	 "poll is true when the peer closed", NULL, NULL},
	{"poll.true_on_buffered", "POLL-1", LV_MUST, 0, poll_buffered, NULL,
	 "poll is true for a message already read into the testee's buffer", NULL, NULL},
	{"close.idempotent", "CLOSE-1 CLOSE-4", LV_MUST, 0, close_twice, NULL,
	 "close twice is fine; the peer sees EOF", NULL, NULL},
	{"close.delivers_first", "CLOSE-4", LV_MUST, 0, close_delivers_first, NULL,
	 "messages sent before close arrive, then EOF", NULL, NULL},
	{"close.then_use", "CLOSE-1", LV_MUST, 0, close_then_use, NULL,
	 "send and recv after close are errors, not crashes", NULL, NULL},
	{"time.recv_timeout", "TIME-1", LV_SHOULD, 0, time_recv_timeout, NULL,
	 "a receive times out after the configured time", NULL, NULL},
	{"time.recv_keeps_partial", "TIME-2", LV_MUST, 0, time_recv_keeps_partial, NULL,
	 "a receive that times out mid-frame loses nothing", NULL, NULL},
	{"json.error_keeps_connection", "JSON-11", LV_MUST, 0, json_error_keeps_connection,
	 NULL, "a payload that does not decode costs that message only", NULL, NULL},
};

void cases_free(conf_case *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (v[i].free_arg)
			v[i].free_arg(v[i].arg);
	free(v);
	cases_vectors_free();
}

void cases_builtin(conf_case **v, size_t *n)
{
	for (size_t i = 0; i < sizeof builtin / sizeof builtin[0]; i++)
		cases_add(v, n, &builtin[i]);
}
