/*
 * The cases of PROTOCOL.md section 9, safety, that no other section's
 * cases check already.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "conform.h"

/* Sends SIGUSR1 to pid every millisecond until told to stop. */
struct storm {
	pid_t pid;
	atomic_int stop;
	long sent;
};

static void *storm(void *arg)
{
	struct storm *s = arg;
	const struct timespec ms = {0, 1000000};
	while (!atomic_load(&s->stop) && kill(s->pid, SIGUSR1) == 0) {
		s->sent++;
		nanosleep(&ms, NULL);
	}
	return NULL;
}

/* SEC-6: with a do-nothing handler installed, a signal every millisecond
 * interrupts a blocked receive, an idle poll and a send that waits for
 * room; none of them may fail or end early. */
static void sec_eintr(cx *c, const void *arg)
{
	(void)arg;
	if (cx_optional(c, 5000, "signal-handler"))
		return;
	long pid;
	if (sscanf(c->reply, "ok %ld", &pid) != 1 || pid <= 1) {
		cx_fail(c, "signal-handler: expected 'ok PID', got '%s'", c->reply);
		return;
	}
	struct storm s = {.pid = (pid_t)pid};
	pthread_t t;
	if (pthread_create(&t, NULL, storm, &s) != 0) {
		cx_fail(c, "runner: pthread_create: %s", strerror(errno));
		return;
	}
	const struct timespec pause = {0, 200000000};

	/* A receive blocked for 200 ms of signals, then its message. */
	bytes f = frame("sig", 3);
	if (cx_send_cmd(c, "recv") == 0) {
		nanosleep(&pause, NULL);
		peer_write(c, f.p, f.n);
		if (cx_wait_reply(c, 5000) == 0 && strcmp(c->reply, "ok 736967") != 0)
			cx_fail(c, "recv under a signal every ms: expected 'ok 736967', got '%s' "
				"(SEC-6: EINTR must not fail it)", c->reply);
	}
	bytes_free(&f);

	/* An idle poll runs its whole timeout. */
	long elapsed;
	if (cx_cmd(c, 5000, "poll 300") == 0 &&
	    (sscanf(c->reply, "ok false %ld", &elapsed) != 1 || elapsed < 299))
		cx_fail(c, "poll 300 on an idle duct under a signal every ms: expected 'ok false' "
			"after 300 ms, got '%s' (SEC-6)", c->reply);

	/* A send far over the socket buffers, which the runner reads only
	 * after 200 ms: it waits for room, interrupted. */
	if (!cx_failed(c) && cx_send_cmd(c, "send-pattern %u 4", 4 * MIB) == 0) {
		nanosleep(&pause, NULL);
		uint8_t *want = malloc(4 * MIB);
		if (!want) {
			cx_fail(c, "runner: out of memory");
		} else {
			pattern(want, 4 * MIB, 4);
			peer_expect_frame(c, want, 4 * MIB, 10000);
			free(want);
		}
		if (cx_wait_reply(c, 5000) == 0 && strcmp(c->reply, "ok") != 0)
			cx_fail(c, "send of 4 MiB under a signal every ms: expected 'ok', got '%s' "
				"(SEC-6)", c->reply);
	}
	atomic_store(&s.stop, 1);
	pthread_join(t, NULL);
	if (!cx_failed(c) && s.sent < 100)
		cx_fail(c, "runner: only %ld signals reached the testee", s.sent);
}

static const conf_case cases[] = {
	{"sec.eintr", "SEC-6", LV_MUST, CF_TIMED, sec_eintr, NULL,
	 "a signal every ms during recv, poll and send fails none (feature signals)", NULL,
	 NULL},
};

void cases_sec(conf_case **v, size_t *n)
{
	cases_add_all(v, n, cases, sizeof cases / sizeof cases[0]);
}
