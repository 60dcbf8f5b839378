/*
 * The demo program (DUCT_DEMO), run as a user would: the parent binds,
 * fork+execs a copy of itself with the address on the command line, and the
 * child reaches its parent through that address (LIFE-1..3, ADDR-1/ADDR-2).
 * Its stdout is captured through a pipe and checked line by line.  Every
 * run has a deadline; a demo that does not finish in time is killed.
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "testutil.h"

#define RUN_MS 30000 /* one demo run, start to exit */
#define OUT_MAX (1 << 16)

struct run {
	int status;  /* waitpid() status */
	size_t len;  /* stdout bytes captured */
	char *out;   /* NUL-terminated */
	char *err;   /* stderr, NUL-terminated */
};

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Runs DUCT_DEMO with args, capturing stdout and stderr.  Kills it and
 * fails if it has not exited within RUN_MS. */
static void run_demo(struct run *r, const char *const *args)
{
	const char *argv[8] = {"duct-demo"};
	int out[2], err[2];
	size_t k = 1, elen = 0;
	for (; args[k - 1]; k++) {
		assert_true(k < 7);
		argv[k] = args[k - 1];
	}
	argv[k] = NULL;
	memset(r, 0, sizeof *r);
	r->out = calloc(1, OUT_MAX);
	r->err = calloc(1, OUT_MAX);
	assert_true(r->out && r->err);
	assert_int_equal(pipe2(out, O_CLOEXEC), 0);
	assert_int_equal(pipe2(err, O_CLOEXEC), 0);
	fflush(NULL);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		dup2(out[1], STDOUT_FILENO);
		dup2(err[1], STDERR_FILENO);
		execv(DUCT_DEMO, (char *const *)argv);
		_exit(127);
	}
	close(out[1]);
	close(err[1]);

	/* Read both pipes until EOF: the demo's child shares them too, so EOF
	 * means both processes are gone (or closed them). */
	int64_t deadline = now_ms() + RUN_MS;
	struct pollfd p[2] = {{.fd = out[0], .events = POLLIN},
			      {.fd = err[0], .events = POLLIN}};
	while (p[0].fd >= 0 || p[1].fd >= 0) {
		int left = (int)(deadline - now_ms());
		int n = left > 0 ? poll(p, 2, left) : 0;
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			kill(pid, SIGKILL);
			waitpid(pid, NULL, 0);
			fail_msg("duct-demo did not finish within %d ms; stdout so far:\n%s",
				 RUN_MS, r->out);
		}
		for (int i = 0; i < 2; i++) {
			if (p[i].fd < 0 || !p[i].revents)
				continue;
			char *buf = i ? r->err : r->out;
			size_t *len = i ? &elen : &r->len;
			ssize_t got = read(p[i].fd, buf + *len, OUT_MAX - 1 - *len);
			if (got < 0 && errno == EINTR)
				continue;
			if (got <= 0) {
				close(p[i].fd);
				p[i].fd = -1;
			} else {
				*len += (size_t)got;
			}
		}
	}
	/* The pipes are closed, so the process is exiting: still bounded. */
	for (;;) {
		pid_t w = waitpid(pid, &r->status, WNOHANG);
		if (w == pid)
			break;
		if (now_ms() > deadline) {
			kill(pid, SIGKILL);
			waitpid(pid, NULL, 0);
			fail_msg("duct-demo closed its output but did not exit");
		}
		usleep(10000);
	}
}

static void run_free(struct run *r)
{
	free(r->out);
	free(r->err);
}

static int exit_code(const struct run *r)
{
	return WIFEXITED(r->status) ? WEXITSTATUS(r->status) : -1;
}

/* Counts the lines starting with prefix; the nth's remainder into *rest. */
static int count_lines(const char *out, const char *prefix, int nth, const char **rest)
{
	int count = 0;
	for (const char *l = out; *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : l + strlen(l)) {
		if (strncmp(l, prefix, strlen(prefix)) != 0)
			continue;
		if (count++ == nth && rest)
			*rest = l + strlen(prefix);
	}
	return count;
}

/* Returns the line at s (up to '\n') as a new string. */
static char *line_at(const char *s)
{
	return strndup(s, strcspn(s, "\n"));
}

/* Python's json.dumps of i / 3.0 for i = 0, 1, 2. */
static const char *const ratios[] = {"0.0", "0.3333333333333333", "0.6666666666666666"};

static void demo_transport(const char *transport)
{
	struct run r;
	const char *args[] = {"--transport", transport, "--count", "3", NULL};
	const char *rest = NULL;
	run_demo(&r, args);
	if (exit_code(&r) != 0)
		fail_msg("duct-demo --transport %s exited with status 0x%x\nstdout:\n%s\nstderr:\n%s",
			 transport, r.status, r.out, r.err);

	/* ADDR-1 / ADDR-2: the bound address, in the address syntax. */
	const char *bound = strstr(r.out, " bound at ");
	assert_non_null(bound);
	char *addr = line_at(bound + strlen(" bound at "));
	if (strcmp(transport, "unix") == 0) {
		assert_true(strncmp(addr, "unix:/", 6) == 0);
		/* LIFE-3: the path and its private directory are gone. */
		assert_int_equal(access(addr + 5, F_OK), -1);
		assert_int_equal(errno, ENOENT);
		assert_int_equal(access(dirname(addr + 5), F_OK), -1);
		assert_int_equal(errno, ENOENT);
	} else {
		assert_true(strncmp(addr, "tcp:127.0.0.1:", 14) == 0 ||
			    strncmp(addr, "tcp:[::1]:", 10) == 0);
		const char *port = strrchr(addr, ':') + 1;
		assert_true(*port && strspn(port, "0123456789") == strlen(port));
		assert_true(atoi(port) > 0);
	}
	free(addr);

	/* LIFE-2/3: exactly one child, then the listener is closed. */
	assert_non_null(strstr(r.out, "listener closed"));
	assert_int_equal(count_lines(r.out, "child ", 0, &rest), 2);
	long child_pid = strtol(rest, NULL, 10);
	assert_true(child_pid > 0);

	/* FRAME-6: three messages, three replies, in order, with the bytes
	 * Python's json.dumps gives (the child echoes with its pid added). */
	assert_int_equal(count_lines(r.out, "parent -> ", 0, NULL), 3);
	assert_int_equal(count_lines(r.out, "parent <- ", 0, NULL), 3);
	for (int i = 0; i < 3; i++) {
		char msg[256], want[512];
		snprintf(msg, sizeof msg,
			 "{\"seq\": %d, \"text\": \"h\\u00e9llo \\ud83e\\udd86\", \"ratio\": %s}",
			 i, ratios[i]);
		snprintf(want, sizeof want, "{\"echo\": %s, \"child_pid\": %ld}", msg, child_pid);
		count_lines(r.out, "parent -> ", i, &rest);
		char *got = line_at(rest);
		assert_string_equal(got, msg);
		free(got);
		count_lines(r.out, "parent <- ", i, &rest);
		got = line_at(rest);
		assert_string_equal(got, want);
		free(got);
	}
	assert_non_null(strstr(r.out, "child exited with status 0\n"));
	run_free(&r);
}

static void demo_unix_three_messages(void **state)
{
	(void)state;
	demo_transport("unix");
}

static void demo_tcp_three_messages(void **state)
{
	(void)state;
	demo_transport("tcp");
}

static void demo_count_zero(void **state)
{
	struct run r;
	const char *args[] = {"--count", "0", NULL};
	(void)state;
	run_demo(&r, args);
	assert_int_equal(exit_code(&r), 0);
	assert_non_null(strstr(r.out, "listener closed"));
	assert_int_equal(count_lines(r.out, "parent <- ", 0, NULL), 0);
	run_free(&r);
}

static void demo_help(void **state)
{
	struct run r;
	const char *args[] = {"--help", NULL};
	(void)state;
	run_demo(&r, args);
	assert_int_equal(exit_code(&r), 0);
	assert_true(strncmp(r.out, "usage: duct-demo", 16) == 0);
	assert_string_equal(r.err, "");
	run_free(&r);
}

static void demo_bad_arguments(void **state)
{
	static const char *const bad[][4] = {
		{"--bogus", NULL},
		{"--transport", "udp", NULL},
		{"--transport", NULL},
		{"--count", NULL},
		{"--count", "-1", NULL},
		{"--count", "abc", NULL},
		{"--count", "2x", NULL},
	};
	(void)state;
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		struct run r;
		run_demo(&r, bad[i]);
		if (exit_code(&r) != 2)
			fail_msg("duct-demo %s: status 0x%x, expected exit 2", bad[i][0], r.status);
		assert_non_null(strstr(r.err, "usage: duct-demo"));
		assert_string_equal(r.out, ""); /* nothing started */
		run_free(&r);
	}
}

/* A child given a malformed address fails at once with a message (ADDR-1). */
static void demo_child_bad_address(void **state)
{
	struct run r;
	const char *args[] = {"--child", "udp:127.0.0.1:9", NULL};
	(void)state;
	run_demo(&r, args);
	assert_int_not_equal(exit_code(&r), 0);
	assert_int_not_equal(exit_code(&r), -1);
	assert_non_null(strstr(r.err, "duct-demo: "));
	run_free(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(demo_unix_three_messages),
		cmocka_unit_test(demo_tcp_three_messages),
		cmocka_unit_test(demo_count_zero),
		cmocka_unit_test(demo_help),
		cmocka_unit_test(demo_bad_arguments),
		cmocka_unit_test(demo_child_bad_address),
	};
	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
