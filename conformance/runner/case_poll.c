/*
 * The cases of PROTOCOL.md section 7: poll, close and timeouts.
 */
#include <stdint.h>
#include <sys/ioctl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conform.h"

/*
 * Poll's timing is judged by the ELAPSED the testee measures around its
 * poll call (TESTEE.md), so that the control channel's latency neither
 * hides a slow poll nor fails a fast one, and by the median of several
 * tries, so that one descheduled try proves nothing.  The runner's own
 * clock bounds ELAPSED from above: a testee cannot report a poll shorter
 * than the round trip that carried it.  Bounds are fixed, not scaled by
 * --timeout-scale: a defect of 20 ms must fail on any machine.  Noise
 * measured here, 2 cores with the full test suite running beside, 40 runs
 * of each of libduct, pyduct and the original: poll 0, and a poll with a
 * message or the peer's close waiting, reported 0 ms every time; a poll
 * 300 reported 300 to 309 ms.
 */
enum { TRIES = 5, PROMPT_MS = 10, LATE_MS = 50 };

/* Runs "poll MS", checks the answer starts with want ("ok true", "ok
 * false"); returns the testee's ELAPSED, or -1 when the case has failed. */
static long poll_expect(cx *c, int ms, const char *want)
{
	long t0 = now_ms(), elapsed = -1;
	if (cx_cmd(c, ms + 5000, "poll %d", ms))
		return -1;
	long took = now_ms() - t0;
	size_t n = strlen(want);
	if (strncmp(c->reply, want, n) != 0 || sscanf(c->reply + n, " %ld", &elapsed) != 1 ||
	    elapsed < 0)
		cx_fail(c, "poll %d: expected '%s ELAPSED', got '%s'", ms, want, c->reply);
	else if (elapsed > took + 1)
		cx_fail(c, "poll %d: ELAPSED %ld ms, but the whole command took %ld ms by the "
			"runner's clock", ms, elapsed, took);
	return cx_failed(c) ? -1 : elapsed;
}

/* The median ELAPSED of TRIES polls, or -1. */
static long poll_median(cx *c, int ms, const char *want)
{
	long v[TRIES];
	for (int i = 0; i < TRIES; i++)
		if ((v[i] = poll_expect(c, ms, want)) < 0)
			return -1;
	return median(v, TRIES);
}

static void poll_zero(cx *c, const void *arg)
{
	(void)arg;
	long med = poll_median(c, 0, "ok false");
	if (med > PROMPT_MS)
		cx_fail(c, "poll 0 took %ld ms (median of %d; POLL-2: it must not block)", med,
			TRIES);
}

static void poll_timeout(cx *c, const void *arg)
{
	(void)arg;
	long t0 = now_ms(), elapsed = poll_expect(c, 300, "ok false"), took = now_ms() - t0;
	/* ELAPSED is whole milliseconds, rounded down. */
	if (elapsed >= 0 && (elapsed < 299 || took < 299))
		cx_fail(c, "poll 300 on an idle duct returned false after %ld ms (POLL-3)",
			elapsed < 299 ? elapsed : took);
}

static void poll_timeout_prompt(cx *c, const void *arg)
{
	(void)arg;
	long med = poll_median(c, 300, "ok false");
	if (med > 300 + LATE_MS)
		cx_fail(c, "poll 300 on an idle duct returned after %ld ms (median of %d)", med,
			TRIES);
}

static void poll_data(cx *c, const void *arg)
{
	(void)arg;
	bytes f = frame("d", 1);
	peer_write(c, f.p, f.n);
	/* Polls do not consume: the message is there for every try. */
	long med = poll_median(c, 5000, "ok true");
	if (med > PROMPT_MS)
		cx_fail(c, "poll took %ld ms to see a waiting message (median of %d)", med, TRIES);
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
	long med = poll_median(c, 5000, "ok true");
	if (med > PROMPT_MS)
		cx_fail(c, "poll took %ld ms to see the peer's close (median of %d)", med, TRIES);
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

/* CLOSE-2: close does not shut the socket down, so a copy closed in a
 * forked process leaves the duct working here, both ways. */
static void close_in_fork(cx *c, const void *arg)
{
	(void)arg;
	if (cx_optional(c, 10000, "fork-close"))
		return;
	if (strcmp(c->reply, "ok") != 0) {
		cx_fail(c, "fork-close: expected 'ok', got '%s'", c->reply);
		return;
	}
	bytes f = frame("in", 2);
	peer_write(c, f.p, f.n);
	bytes_free(&f);
	if (cx_cmd(c, 5000, "recv") == 0 && strcmp(c->reply, "ok 696e") != 0)
		cx_fail(c, "after a forked copy closed the duct, recv: expected 'ok 696e', got '%s' "
			"(CLOSE-2: close must not shut the socket down)", c->reply);
	if (cx_cmd(c, 5000, "send 6f7574") == 0 && strcmp(c->reply, "ok") != 0)
		cx_fail(c, "after a forked copy closed the duct, send: expected 'ok', got '%s' "
			"(CLOSE-2)", c->reply);
	peer_expect_frame(c, "out", 3, 5000);
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

/* TIME-1: the median of three 200 ms receive timeouts, as the runner
 * sees them (command to reply), lies in [190, 250] ms.  Measured here, 10
 * tries a testee under load: 200.6-205.4 ms (libduct), 200.4-202.3
 * (pyduct), 200.4-201.8 (the original); a timeout 25% late fails. */
static void time_recv_timeout(cx *c, const void *arg)
{
	(void)arg;
	if (cx_set_timeout(c, 200))
		return;
	long m = cx_median_ms(c, "error timeout", "recv");
	if (m >= 0 && (m < 190 || m > 200 + cx_ms(c, 50)))
		cx_fail(c, "a 200 ms receive timeout fired after %ld ms (median of 3; "
			"allowed: 190 to %d)", m, 200 + cx_ms(c, 50));
}

static void time_recv_keeps_partial(cx *c, const void *arg)
{
	(void)arg;
	if (cx_set_timeout(c, 300))
		return;
	static const uint8_t part[] = {0x54, 0, 0, 0, 4, 'a', 'b'};
	peer_write(c, part, sizeof part);
	cx_expect(c, 5000, "error timeout", "recv");
	peer_write(c, "cd", 2);
	cx_expect(c, 5000, "ok 61626364", "recv");
}

/* TIME-1 on the sending side: the runner stops reading while the testee
 * sends 16 MiB, more than the sockets' buffers hold.  Once they are full
 * the send makes no progress, and 300 ms later it must fail as a timeout:
 * not later (filling the buffers takes milliseconds), and not sooner. */
static void time_send_timeout(cx *c, const void *arg)
{
	(void)arg;
	if (cx_set_timeout(c, 300))
		return;
	long t0 = now_ms();
	if (cx_cmd(c, 30000, "send-pattern %u 2", 16 * MIB))
		return;
	long took = now_ms() - t0;
	if (!cx_reply_is(c, "error timeout"))
		cx_fail(c, "a 16 MiB send to a peer that reads nothing, under set-timeout 300: "
			"expected 'error timeout' (TIME-1), got '%s'", c->reply);
	else if (took < 300 || took > 300 + cx_ms(c, 2000))
		cx_fail(c, "a 16 MiB send to a peer that reads nothing, under set-timeout 300, "
			"failed after %ld ms (allowed: 300 to %d)", took, 300 + cx_ms(c, 2000));
}

/* TIME-3: both directions at once.  The testee (feature threads) sends
 * COUNT messages from one thread while another receives COUNT.  The runner
 * first lets the testee's sending fill its socket (so that the testee's
 * send is blocked), then sends all of its own 8 MiB before it reads any: a
 * testee whose receive waits for its send stalls both sides, whichever of
 * its threads ran first. */
static void time_both_ways(cx *c, const void *arg)
{
	(void)arg;
	enum { COUNT = 8, SIZE = 1 << 20 };
	if (!cx_has_feature(c, "threads")) {
		cx_unsupported(c, "both-ways (feature threads)");
		return;
	}
	if (cx_send_cmd(c, "both-ways %d %d", COUNT, SIZE))
		return;
	uint8_t *p = malloc(SIZE);
	pattern(p, SIZE, 0);
	bytes f = frame(p, SIZE), got = {0};
	/* Until the bytes queued here stop growing for 100 ms (2 s at most). */
	int queued = -1, was = -2;
	for (long t0 = now_ms(), still = now_ms(); now_ms() - t0 < 2000 && now_ms() - still < 100;) {
		usleep(10000);
		if (ioctl(c->sock, FIONREAD, &queued) != 0 || queued != was)
			still = now_ms();
		was = queued;
	}
	for (int i = 0; i < COUNT && !cx_failed(c); i++)
		peer_write(c, f.p, f.n);
	if (cx_failed(c))
		appendf(&c->msg, "\nwhile it was sending its own %d messages of %d bytes: it "
			"cannot receive and send at once (TIME-3)", COUNT, SIZE);
	for (int i = 0; i < COUNT && !cx_failed(c); i++) {
		if (peer_read_frame(c, &got, SIZE, 10000) == 0 &&
		    (got.n != SIZE || memcmp(got.p, p, SIZE) != 0))
			cx_fail(c, "both-ways: message %d of the testee is not %d bytes of the "
				"pattern", i, SIZE);
		got.n = 0;
	}
	if (!cx_failed(c) && cx_wait_reply(c, 10000) == 0 && strcmp(c->reply, "ok") != 0)
		cx_fail(c, "both-ways %d %d: expected 'ok', got '%.200s'", COUNT, SIZE, c->reply);
	bytes_free(&got);
	bytes_free(&f);
	free(p);
}

static const conf_case cases[] = {
	{"poll.zero_does_not_block", "POLL-2", LV_MUST, CF_TIMED, poll_zero, NULL,
	 "poll 0 on an idle duct answers false at once", NULL, NULL},
	{"poll.timeout_honoured", "POLL-3", LV_MUST, CF_TIMED, poll_timeout, NULL,
	 "poll 300 on an idle duct is false, not before 300 ms", NULL, NULL},
	{"poll.timeout_prompt", "POLL-3", LV_SHOULD, CF_TIMED, poll_timeout_prompt, NULL,
	 "poll 300 on an idle duct returns soon after 300 ms", NULL, NULL},
	{"poll.true_on_data", "POLL-1", LV_MUST, CF_TIMED, poll_data, NULL,
	 "poll sees a waiting message and does not consume it", NULL, NULL},
	{"poll.true_on_partial", "POLL-1", LV_MUST, CF_TIMED, poll_partial, NULL,
	 "poll is true on part of a frame", NULL, NULL},
	{"poll.true_on_eof", "POLL-1 RECV-2", LV_MUST, CF_TIMED, poll_eof, NULL,
	 "poll is true when the peer closed", NULL, NULL},
	{"poll.true_on_buffered", "POLL-1", LV_MUST, CF_TIMED, poll_buffered, NULL,
	 "poll is true for a message already read into the testee's buffer", NULL, NULL},
	{"close.idempotent", "CLOSE-1 CLOSE-4", LV_MUST, 0, close_twice, NULL,
	 "close twice is fine; the peer sees EOF", NULL, NULL},
	{"close.delivers_first", "CLOSE-4", LV_MUST, 0, close_delivers_first, NULL,
	 "messages sent before close arrive, then EOF", NULL, NULL},
	{"close.in_fork", "CLOSE-2", LV_MUST, 0, close_in_fork, NULL,
	 "a forked copy closes the duct; it still works both ways here (feature fork)", NULL,
	 NULL},
	{"close.then_use", "CLOSE-1", LV_MUST, 0, close_then_use, NULL,
	 "send and recv after close are errors, not crashes", NULL, NULL},
	{"time.recv_timeout", "TIME-1", LV_SHOULD, CF_TIMED, time_recv_timeout, NULL,
	 "a 200 ms receive timeout fires within 190-250 ms (median of 3)", NULL, NULL},
	{"time.send_timeout", "TIME-1", LV_SHOULD, CF_TIMED, time_send_timeout, NULL,
	 "a 16 MiB send to a peer that stops reading fails as 'timeout' 0.3 to 2.3 s "
	 "later", NULL, NULL},
	{"time.both_ways", "TIME-3", LV_SHOULD, 0, time_both_ways, NULL,
	 "one thread sends 8 MiB while another receives 8 MiB (feature threads); the "
	 "runner reads only after sending", NULL, NULL},
	{"time.recv_keeps_partial", "TIME-2", LV_MUST, CF_TIMED, time_recv_keeps_partial, NULL,
	 "a receive that times out mid-frame loses nothing", NULL, NULL},
};

void cases_poll(conf_case **v, size_t *n)
{
	cases_add_all(v, n, cases, sizeof cases / sizeof cases[0]);
}
