/*
 * The interop matrix: two testees, one as parent and one as child, joined
 * by their own duct; the runner steers both over their control channels
 * and checks what crossed from what each reports.  main.c runs every
 * ordered pair (an implementation with itself included) over each
 * transport.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conform.h"

static int failed(const cx *p, const cx *ch)
{
	return cx_failed(p) || cx_failed(ch);
}

/* One side sends, the other receives: the receive's reply must be want. */
static void across(cx *from, cx *to, const char *send, const char *recv, const char *want)
{
	if (cx_send_cmd(from, "%s", send))
		return;
	if (cx_cmd(to, 60000, "%s", recv) == 0 && !cx_reply_is(to, want))
		cx_fail(to, "'%.40s' by the other side, then '%s' here\nexpected: %.200s\n"
			"got:      %.200s", send, recv, want, to->reply);
	if (cx_wait_reply(from, 60000) == 0 && strcmp(from->reply, "ok") != 0)
		cx_fail(from, "'%.40s': expected 'ok', got '%.200s'", send, from->reply);
}

static void many_both_ways(cx *p, cx *ch, const void *arg)
{
	(void)arg;
	char want[40];
	snprintf(want, sizeof want, "ok %016llx", (unsigned long long)many_digest(10000, 7));
	across(p, ch, "send-many 10000 7", "recv-many 10000", want);
	snprintf(want, sizeof want, "ok %016llx", (unsigned long long)many_digest(10000, 11));
	across(ch, p, "send-many 10000 11", "recv-many 10000", want);
}

static void empty_both_ways(cx *p, cx *ch, const void *arg)
{
	(void)arg;
	across(p, ch, "send -", "recv", "ok -");
	across(ch, p, "send -", "recv", "ok -");
	across(p, ch, "send 00", "recv", "ok 00");
	across(ch, p, "send 00", "recv", "ok 00");
}

static void big_both_ways(cx *p, cx *ch, const void *arg)
{
	(void)arg;
	/* send-pattern's bytes repeat every 256: hash 16 MiB of them period
	 * by period. */
	size_t len = 16 * MIB;
	uint8_t period[256];
	pattern(period, sizeof period, 3);
	uint64_t h = FNV_INIT;
	for (size_t i = 0; i < len; i += sizeof period)
		h = fnv1a(h, period, sizeof period);
	char want[64];
	snprintf(want, sizeof want, "ok %zu %016llx", len, (unsigned long long)h);
	across(p, ch, "send-pattern 16777216 3", "recv-digest", want);
	across(ch, p, "send-pattern 16777216 3", "recv-digest", want);
}

/* One JSON vector: from sends its input raw, to echoes it through its
 * default serializer, from receives the bytes raw. */
struct echo {
	cx *from, *to;
	int n;
};

static void echo_one(void *ctx, const char *id, const bytes *input, const bytes *python,
		     const bytes *alt, int may_refuse, int invalid)
{
	struct echo *e = ctx;
	if (failed(e->from, e->to))
		return;
	e->n++;
	char *h = hex(input->p, input->n);
	int rc = cx_cmd(e->from, 5000, "send %s", h);
	free(h);
	if (rc || cx_cmd(e->to, 10000, "echo-value"))
		return;
	if (!strncmp(e->to->reply, "error decode", 12) || !strncmp(e->to->reply, "error range", 11)) {
		if (!invalid && !may_refuse)
			cx_fail(e->to, "%s: Python decodes this payload; echo-value said '%.200s'",
				id, e->to->reply);
		return;
	}
	if (invalid || strcmp(e->to->reply, "ok") != 0) {
		cx_fail(e->to, "%s: echo-value of %s JSON: expected %s, got '%.200s'", id,
			invalid ? "invalid" : "valid", invalid ? "'error decode'" : "'ok'",
			e->to->reply);
		return;
	}
	if (cx_cmd(e->from, 10000, "recv") || strncmp(e->from->reply, "ok ", 3) != 0) {
		if (!cx_failed(e->from))
			cx_fail(e->from, "%s: recv of the echo gave '%.200s'", id, e->from->reply);
		return;
	}
	bytes got = {0};
	unhex(e->from->reply + 3, &got);
	int same = got.n == python->n && (!got.n || !memcmp(got.p, python->p, got.n));
	int other = alt->n && got.n == alt->n && !memcmp(got.p, alt->p, got.n);
	if (!same && !other)
		cx_fail(e->to, "%s: echoed as other bytes than Python's json.dumps gives\n"
			"expected: %.*s\ngot:      %.*s", id, (int)(python->n < 160 ? python->n : 160),
			(const char *)python->p, (int)(got.n < 160 ? got.n : 160), (const char *)got.p);
	bytes_free(&got);
}

static void json_vectors(cx *p, cx *ch, const void *arg)
{
	(void)arg;
	struct echo e = {p, ch, 0};
	json_vectors_each(echo_one, &e);
	e = (struct echo){ch, p, 0};
	json_vectors_each(echo_one, &e);
	if (!failed(p, ch) && e.n == 0)
		cx_fail(p, "no JSON vectors were loaded");
}

static void poll_across(cx *p, cx *ch, const void *arg)
{
	(void)arg;
	if (cx_cmd(p, 5000, "poll 0") == 0 && strncmp(p->reply, "ok false", 8) != 0)
		cx_fail(p, "poll 0 on an idle duct: expected 'ok false ...', got '%s'", p->reply);
	cx_expect(ch, 5000, "ok", "send 64");
	if (cx_cmd(p, 10000, "poll 5000") == 0 && strncmp(p->reply, "ok true", 7) != 0)
		cx_fail(p, "poll with a message waiting: expected 'ok true ...', got '%s'", p->reply);
	cx_expect(p, 5000, "ok 64", "recv");
	cx_expect(ch, 5000, "ok", "close");
	if (cx_cmd(p, 10000, "poll 5000") == 0 && strncmp(p->reply, "ok true", 7) != 0)
		cx_fail(p, "poll after the child closed: expected 'ok true ...', got '%s'", p->reply);
	cx_expect(p, 5000, "error eof", "recv");
}

static void close_at_boundary(cx *p, cx *ch, const void *arg)
{
	(void)arg;
	cx_expect(p, 5000, "ok", "send 01");
	cx_expect(p, 5000, "ok", "send 0202");
	cx_expect(p, 5000, "ok", "close");
	cx_expect(ch, 5000, "ok 01", "recv");
	cx_expect(ch, 5000, "ok 0202", "recv");
	cx_expect(ch, 5000, "error eof", "recv");
}

static void send_after_close(cx *p, cx *ch, const void *arg)
{
	(void)arg;
	if (cx_expect(ch, 5000, "ok", "close") == 0)
		cx_expect_pipe(p);
}

static void child_first(cx *p, cx *ch, const void *arg)
{
	(void)arg;
	if (cx_pair_connect(p, ch, 1))
		return;
	across(p, ch, "send 6869", "recv", "ok 6869");
	across(ch, p, "send 6f6b", "recv", "ok 6f6b");
}

int interop_connect(cx *p, cx *ch, const conf_case *k)
{
	return k->flags & CF_NO_SETUP ? 0 : cx_pair_connect(p, ch, 0);
}

/* Every interop case is a MUST: each checks what two conforming
 * implementations must agree on. */
#define PAIR(id_, reqs_, flags_, fn_, about_) \
	{.id = id_, .reqs = reqs_, .level = LV_MUST, .flags = flags_, .pair = fn_, .about = about_}

static const conf_case interop[] = {
	PAIR("interop.many_both_ways", "FRAME-6 FRAME-7", 0, many_both_ways,
	     "10^4 messages of 0 to 60 bytes each way, digests compared"),
	PAIR("interop.empty_both_ways", "FRAME-3", 0, empty_both_ways,
	     "the empty message and a lone NUL byte, each way"),
	PAIR("interop.16mib_both_ways", "FRAME-3 SEND-1 RECV-1", 0, big_both_ways,
	     "a 16 MiB message each way"),
	PAIR("interop.json_vectors", "JSON-1 JSON-2 JSON-3 JSON-4 JSON-5 JSON-8", 0, json_vectors,
	     "every JSON vector sent raw by one side, echoed by the other's serializer, "
	     "compared with Python's bytes; both ways"),
	PAIR("interop.poll_across", "POLL-1 POLL-2 RECV-2", 0, poll_across,
	     "the parent polls: nothing, then a message, then the child's close"),
	PAIR("interop.close_at_boundary", "CLOSE-4 RECV-2", 0, close_at_boundary,
	     "the parent sends two messages and closes: both arrive, then eof"),
	PAIR("interop.send_after_close", "SEND-3 SEC-3", 0, send_after_close,
	     "the child closes; the parent's sends end in 'pipe'"),
	PAIR("interop.child_first", "LIFE-1 LIFE-3", CF_NO_SETUP, child_first,
	     "the child connects before the parent listens, then a message each way"),
};

void cases_interop(conf_case **v, size_t *n)
{
	cases_add_all(v, n, interop, sizeof interop / sizeof interop[0]);
}
