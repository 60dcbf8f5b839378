/*
 * Testees as benchmark systems: any implementation behind the testee
 * contract (conformance/TESTEE.md, feature bench) timed in the same run as
 * the raw socket and libduct.  The testee runs the hot loop inside its
 * implementation (bench-send, bench-recv, bench-echo, bench-echo-value),
 * one control-channel line per loop, never per message.  The other end of
 * the duct is libduct in this process (sys_duct.c), the fastest peer here,
 * so that what is timed is the testee's cost; with --pair it is a second
 * testee.  The control channel is the conformance runner's own (cx,
 * conformance/runner/testee.c).
 *
 * What is timed, on this process's clock:
 *   NAME        (stream) the testee sends: from the first byte readable
 *               here to the last message received;
 *   NAME-recv   (stream) the testee receives: from the first send to its
 *               "ok", which it writes after checking the last message;
 *   NAME        (rtt) each round trip of bench-echo, as for every system;
 *   NAME-value  (rtt) the same through the testee's default serializer:
 *               the message is a JSON string of SIZE bytes;
 *   A>B         (stream) A, parent, sends to B, child: from A's command to
 *               B's "ok".
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench.h"
#include "conform.h"
#include "duct/duct.h"

struct bench_tee {
	cx t, child;     /* the testee; with --pair, the second one */
	int pair;
	void *conn;      /* libduct's end (sys_duct.c); NULL for a pair */
};

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* The first line of what the testee wrote on stderr, for a failure. */
static void first_stderr_line(const cx *c, char *buf, size_t n)
{
	FILE *f = c->stderr_path ? fopen(c->stderr_path, "r") : NULL;
	buf[0] = '\0';
	if (f && fgets(buf, (int)n, f))
		buf[strcspn(buf, "\n")] = '\0';
	if (f)
		fclose(f);
}

/* A failed cx becomes the case's failure; -1. */
static int tee_failed(const bench_testee *who, const cx *c)
{
	char err[200];
	first_stderr_line(c, err, sizeof err);
	return bench_fail("testee %s: %s%s%s", who->name, c->msg ? c->msg : "failed",
			  err[0] ? "; its stderr: " : "", err);
}

static int start(const bench_testee *who, cx *c, int transport)
{
	cx_init(c, NULL, ROLE_CHILD, transport == BENCH_TCP ? TR_TCP : TR_UNIX, 1.0);
	if (testee_start(c, who->cmd) || testee_hello(c))
		return tee_failed(who, c);
	if (!cx_has_feature(c, "bench"))
		return bench_fail("testee %s does not offer the bench feature (TESTEE.md "
				  "section 3.1); its hello: %s", who->name, c->reply);
	return 0;
}

/* The reply of a loop command must be "ok". */
static int expect_ok(const bench_testee *who, cx *c, const char *what)
{
	if (cx_wait_reply(c, BENCH_TIMEOUT_MS))
		return tee_failed(who, c);
	if (strcmp(c->reply, "ok") != 0)
		return bench_fail("testee %s: %s: %.200s", who->name, what, c->reply);
	return 0;
}

static void stop(cx *c)
{
	testee_stop(c);
	peer_cleanup(c);
	cx_release(c);
}

int bench_testee_probe(const bench_testee *who, int *unavailable)
{
	cx c;
	int rc = start(who, &c, BENCH_UNIX);
	*unavailable = c.unavailable;
	stop(&c);
	return rc;
}

bench_tee *bench_tee_setup(const bench_case *k, const char *dir)
{
	bench_tee *x = calloc(1, sizeof *x);
	if (!x) {
		bench_fail("out of memory");
		return NULL;
	}
	cx_init(&x->t, NULL, ROLE_CHILD, TR_UNIX, 1.0);
	cx_init(&x->child, NULL, ROLE_CHILD, TR_UNIX, 1.0);
	if (start(k->testee, &x->t, k->transport) != 0)
		goto fail;
	if (k->child) {
		x->pair = 1;
		if (start(k->child, &x->child, k->transport) != 0)
			goto fail;
		if (cx_pair_connect(&x->t, &x->child, 0) != 0) {
			tee_failed(cx_failed(&x->t) ? k->testee : k->child,
				   cx_failed(&x->t) ? &x->t : &x->child);
			goto fail;
		}
		return x;
	}
	void *srv = NULL;
	char addr[256];
	if (bench_sys_duct.listen(k->transport, dir, &srv, addr, sizeof addr) != 0) {
		bench_sys_duct.close_srv(srv);
		goto fail;
	}
	if (cx_send_cmd(&x->t, "child %s", addr)) {
		bench_sys_duct.close_srv(srv);
		tee_failed(k->testee, &x->t);
		goto fail;
	}
	if (bench_sys_duct.accept(srv, &x->conn) != 0 ||
	    expect_ok(k->testee, &x->t, "child") != 0)
		goto fail;
	return x;
fail:;
	char why[512];
	snprintf(why, sizeof why, "%s", bench_error());
	bench_tee_free(x);
	bench_fail("%s", why);
	return NULL;
}

/* JSON strings of SIZE bytes for the -value cases: the same bytes come
 * back from any serializer that writes Python's json.dumps output. */
void bench_tee_value(uint8_t *p, size_t len)
{
	for (size_t k = 0; k < len; k++)
		p[k] = k == 0 || k == len - 1 ? '"' : (uint8_t)('a' + k % 26);
}

static int recv_value(void *conn, const uint8_t *want, size_t len)
{
	const void *p;
	size_t got;
	int rc = duct_recv(conn, &p, &got);
	if (rc != DUCT_OK)
		return bench_fail("duct: recv: %s", duct_strerror(rc));
	if (got != len || memcmp(p, want, len) != 0)
		return bench_fail("the testee's echo of a %zu-byte JSON string differs "
				  "(%zu bytes)", len, got);
	return 0;
}

/* Our end of the duct failed (rc -1): the testee's reply, if it comes at
 * once, says why. */
static int ours(bench_tee *x, const bench_case *k, int rc)
{
	if (rc == 0 || !cx_reply_within(&x->t, 500))
		return rc;
	char why[512];
	snprintf(why, sizeof why, "%s", bench_error());
	return bench_fail("%s; testee %s: %.200s", why, k->testee->name, x->t.reply);
}

int bench_tee_run(bench_tee *x, const bench_case *k, uint64_t n, const uint8_t *payload,
		  uint32_t *rtt_ns, uint64_t *elapsed_ns)
{
	const bench_sys *d = &bench_sys_duct;
	unsigned long long count = (unsigned long long)n;
	uint64_t t0 = 0, t1 = 0;
	cx *t = &x->t;
	int rc;
	if (x->pair) {
		if (cx_send_cmd(&x->child, "bench-recv %llu %zu", count, k->size))
			return tee_failed(k->child, &x->child);
		t0 = now_ns();
		if (cx_send_cmd(t, "bench-send %llu %zu", count, k->size))
			return tee_failed(k->testee, t);
		rc = expect_ok(k->child, &x->child, "bench-recv");
		t1 = now_ns();
		if (rc == 0)
			rc = expect_ok(k->testee, t, "bench-send");
	} else if (k->kind == BENCH_STREAM && !k->testee_recv) {
		if (cx_send_cmd(t, "bench-send %llu %zu", count, k->size))
			return tee_failed(k->testee, t);
		rc = duct_poll(x->conn, BENCH_TIMEOUT_MS) == 1 ? 0
		     : bench_fail("testee %s: no message within %d ms of bench-send",
				  k->testee->name, BENCH_TIMEOUT_MS);
		t0 = now_ns();
		if (rc == 0)
			rc = ours(x, k, d->recv_n(x->conn, k->size, n));
		t1 = now_ns();
		if (rc == 0)
			rc = expect_ok(k->testee, t, "bench-send");
	} else if (k->kind == BENCH_STREAM) {
		if (cx_send_cmd(t, "bench-recv %llu %zu", count, k->size))
			return tee_failed(k->testee, t);
		t0 = now_ns();
		rc = ours(x, k, d->send_n(x->conn, payload, k->size, n));
		if (rc == 0)
			rc = expect_ok(k->testee, t, "bench-recv");
		t1 = now_ns();
	} else {
		if (cx_send_cmd(t, k->value ? "bench-echo-value %llu" : "bench-echo %llu", count))
			return tee_failed(k->testee, t);
		rc = 0;
		for (uint64_t i = 0; i < n && rc == 0; i++) {
			uint64_t a = now_ns();
			rc = d->send1(x->conn, payload, k->size);
			if (rc == 0)
				rc = k->value ? recv_value(x->conn, payload, k->size)
					      : d->recv1(x->conn, k->size);
			uint64_t dt = now_ns() - a;
			rtt_ns[i] = dt > UINT32_MAX ? UINT32_MAX : (uint32_t)dt;
			t1 += dt;
		}
		rc = ours(x, k, rc);
		if (rc == 0)
			rc = expect_ok(k->testee, t, k->value ? "bench-echo-value" : "bench-echo");
	}
	*elapsed_ns = t1 - t0;
	return rc;
}

void bench_tee_free(bench_tee *x)
{
	if (!x)
		return;
	if (x->conn)
		bench_sys_duct.close(x->conn);
	stop(&x->t);
	stop(&x->child);
	free(x);
}
