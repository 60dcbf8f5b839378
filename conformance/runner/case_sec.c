/*
 * The cases of PROTOCOL.md section 9, safety, that no other section's
 * cases check already.
 */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

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

int sec_report_fds(void)
{
	DIR *dir = opendir("/proc/self/fd");
	if (!dir)
		return 1;
	struct dirent *e;
	char path[64], target[256];
	while ((e = readdir(dir))) {
		int fd = atoi(e->d_name);
		if (e->d_name[0] == '.' || fd == dirfd(dir))
			continue;
		snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
		ssize_t n = readlink(path, target, sizeof target - 1);
		target[n < 0 ? 0 : n] = '\0';
		for (char *t = target; *t; t++)
			if (*t <= ' ' || *t > '~')
				*t = '_';
		printf("%d:%s ", fd, target);
	}
	closedir(dir);
	printf("\n");
	return 0;
}

/* SEC-4: the duct's descriptors are close-on-exec.  The testee (feature
 * spawn) starts this runner under the name REPORT_FDS_NAME, which lists
 * what it inherited: anything past 0, 1 and 2 leaked. */
static void sec_cloexec(cx *c, const void *arg)
{
	(void)arg;
	char dir[] = "/tmp/duct-conform-XXXXXX", self[PATH_MAX], prog[64], cmd[96];
	ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
	if (n < 0 || !mkdtemp(dir)) {
		cx_fail(c, "runner: cannot find itself or make a directory: %s", strerror(errno));
		return;
	}
	self[n] = '\0';
	snprintf(prog, sizeof prog, "%s/" REPORT_FDS_NAME, dir);
	snprintf(cmd, sizeof cmd, "spawn %s", prog);
	if (symlink(self, prog) != 0)
		cx_fail(c, "runner: symlink %s: %s", prog, strerror(errno));
	else if (cx_optional(c, 15000, cmd) == 0 && strncmp(c->reply, "ok ", 3) != 0)
		cx_fail(c, "%s: expected 'ok FD:WHAT ...', got '%.200s'", cmd, c->reply);
	else if (!cx_failed(c)) {
		char *leaked = NULL;
		for (char *w = strtok(c->reply + 3, " "); w; w = strtok(NULL, " "))
			if (atoi(w) > 2)
				appendf(&leaked, " %s", w);
		if (leaked)
			cx_fail(c, "a program the testee started inherited%s (SEC-4: every "
				"descriptor of the implementation is close-on-exec)", leaked);
		free(leaked);
	}
	unlink(prog);
	rmdir(dir);
}

static const conf_case cases[] = {
	{"sec.cloexec", "SEC-4", LV_SHOULD, 0, sec_cloexec, NULL,
	 "a program the testee starts (feature spawn) inherits no descriptor of the duct",
	 NULL, NULL},
	{"sec.eintr", "SEC-6", LV_MUST, CF_TIMED, sec_eintr, NULL,
	 "a signal every ms during recv, poll and send fails none (feature signals)", NULL,
	 NULL},
};

void cases_sec(conf_case **v, size_t *n)
{
	cases_add_all(v, n, cases, sizeof cases / sizeof cases[0]);
}
