/*
 * The cases of PROTOCOL.md section 4, sending.
 */
#include <poll.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "conform.h"

static void send_after_peer_closed(cx *c, const void *arg)
{
	(void)arg;
	peer_close(c);
	cx_expect_pipe(c);
}

/* SEND-2, ADDR-4: in a TCP ping-pong of small messages the testee's reply
 * must not wait for an ACK.  Header and payload in two writes without
 * TCP_NODELAY hold the payload back until the runner's delayed ACK (40 ms
 * or more on Linux) on every round trip.  The bound is fixed, not scaled:
 * a slow machine adds milliseconds, the stall adds tens of them. */
static void send_small_no_stall(cx *c, const void *arg)
{
	(void)arg;
	enum { ROUNDS = 21, BOUND_MS = 20 };
	long took[ROUNDS];
	uint8_t msg[100];
	pattern(msg, sizeof msg, 9);
	char *h = hex(msg, sizeof msg);
	bytes ping = frame("p", 1);
	int done = 0;
	for (; done < ROUNDS && !cx_failed(c); done++) {
		peer_write(c, ping.p, ping.n);
		if (cx_expect(c, 5000, "ok 70", "recv"))
			break;
		long t0 = now_ms();
		cx_send_cmd(c, "send %s", h);
		if (peer_expect_frame(c, msg, sizeof msg, 5000))
			break;
		took[done] = now_ms() - t0;
		if (cx_wait_reply(c, 5000) == 0 && strcmp(c->reply, "ok") != 0)
			cx_fail(c, "send of 100 bytes: expected 'ok', got '%s'", c->reply);
	}
	free(h);
	bytes_free(&ping);
	if (cx_failed(c))
		return;
	long med = median(took, ROUNDS);
	if (med > BOUND_MS)
		cx_fail(c, "a 100-byte reply in a TCP ping-pong took %ld ms (median of %d; "
			"fastest %ld, slowest %ld): it waits for an ACK; send the header and "
			"payload in one write (SEND-2) and set TCP_NODELAY (ADDR-4)",
			med, ROUNDS, took[0], took[ROUNDS - 1]);
}

/* Reads what the testee sent until it goes quiet or closes; every byte
 * must continue the frame of send-pattern LEN SEED from offset *at. */
static void read_cut_frame(cx *c, size_t *at, size_t len, unsigned seed)
{
	uint8_t h[5], buf[65536], period[256];
	frame_header(h, (uint32_t)len);
	pattern(period, sizeof period, seed);
	while (!cx_failed(c)) {
		struct pollfd p = {.fd = c->sock, .events = POLLIN};
		if (poll(&p, 1, cx_ms(c, 500)) <= 0)
			return;
		ssize_t r = recv(c->sock, buf, sizeof buf, 0);
		if (r <= 0)
			return;
		for (ssize_t i = 0; i < r; i++, (*at)++) {
			uint8_t want = *at < 5 ? h[*at] : period[(*at - 5) % 256];
			if (*at >= 5 + len || buf[i] != want) {
				cx_fail(c, "byte %zu from the start of the cut frame is %02x, not "
					"the cut frame's: a later send wrote into the stream (SEND-5)",
					*at, buf[i]);
				return;
			}
		}
	}
}

/* SEND-5: a send cut mid-frame by its timeout leaves the stream unframed,
 * so no later send may write a byte: once the runner has made room, all it
 * reads must still be a prefix of the cut frame. */
static void send_cut_frame_is_final(cx *c, const void *arg)
{
	(void)arg;
	const size_t len = 16 * MIB;
	size_t at = 0;
	if (cx_set_timeout(c, 300))
		return;
	if (cx_cmd(c, 30000, "send-pattern %zu 1", len))
		return;
	if (strncmp(c->reply, "error ", 6) != 0) {
		cx_fail(c, "a 16 MiB send to a peer that reads nothing, under set-timeout 300: "
			"expected an error, got '%s'", c->reply);
		return;
	}
	read_cut_frame(c, &at, len, 1); /* room for the next send */
	if (cx_cmd(c, 5000, "send 41") == 0 && strcmp(c->reply, "ok") == 0)
		cx_fail(c, "after a send cut mid-frame, the next send succeeded: it framed "
			"a message inside the cut one (SEND-5)");
	read_cut_frame(c, &at, len, 1);
}

/* SEND-6: a payload over 2^32-1 bytes cannot be framed: the send fails
 * before a byte is written, and the stream stays framed.  send-zeros
 * offers 4 GiB that cost the testee nothing until read. */
static void send_too_long(cx *c, const void *arg)
{
	(void)arg;
	if (cx_send_cmd(c, "send-zeros 4294967296"))
		return;
	long deadline = now_ms() + cx_ms(c, 10000);
	while (!cx_reply_within(c, 20)) {
		struct pollfd p = {.fd = c->sock, .events = POLLIN};
		if (poll(&p, 1, 0) > 0) {
			/* A testee streaming 4 GiB stops when we close. */
			uint8_t b[16];
			ssize_t k = recv(c->sock, b, sizeof b, 0);
			char *h = hex(b, k > 0 ? (size_t)k : 0);
			cx_fail(c, "send-zeros 4294967296: the testee wrote to the wire (%s) instead "
				"of failing first (SEND-6)", h);
			free(h);
			peer_close(c);
			return;
		}
		if (now_ms() > deadline) {
			cx_wait_reply(c, 0); /* says how the testee ended, or that it hung */
			return;
		}
	}
	if (cx_reply_is(c, "error unsupported")) {
		cx_unsupported(c, "send-zeros (feature huge)");
		return;
	}
	if (strncmp(c->reply, "error ", 6) != 0) {
		cx_fail(c, "send-zeros 4294967296: expected an error (SEND-6), got '%.200s'",
			c->reply);
		return;
	}
	/* Nothing was written: the next message is the stream's first frame. */
	if (cx_expect(c, 5000, "ok", "send 4142") == 0)
		peer_expect_frame(c, "AB", 2, 5000);
}

static const conf_case cases[] = {
	{"send.after_peer_closed", "SEND-3 SEC-3", LV_MUST, 0, send_after_peer_closed, NULL,
	 "sending to a closed peer fails with 'pipe' and the testee lives (SIGPIPE)", NULL, NULL},
	{"send.small_no_stall", "SEND-2 ADDR-4", LV_SHOULD, CF_TCP_ONLY | CF_TIMED,
	 send_small_no_stall, NULL,
	 "TCP ping-pong of 100-byte messages: the median reply takes under 20 ms", NULL, NULL},
	{"send.too_long", "SEND-6", LV_MUST, CF_ONCE, send_too_long, NULL,
	 "a 4 GiB message (feature huge) fails before a byte is written; the next one is "
	 "the first frame", NULL, NULL},
	{"send.cut_frame_is_final", "SEND-5", LV_MUST, CF_TIMED, send_cut_frame_is_final, NULL,
	 "after a send times out mid-frame, nothing more reaches the wire", NULL, NULL},
};

void cases_send(conf_case **v, size_t *n)
{
	cases_add_all(v, n, cases, sizeof cases / sizeof cases[0]);
}
