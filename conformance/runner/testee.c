/* The testee process and its control channel (TESTEE.md sections 1-2). */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "conform.h"

/* The longest control line the runner takes (a recv reply is the message
 * in hex: 4 MiB holds any the cases ask for); past it the testee is
 * failed, not buffered (the runner's memory stays bounded). */
#define LINE_MAX_BYTES (4u << 20)

char *testee_command(const char *v, const char *libduct, const char *srcdir, char **name)
{
	char *cmd = NULL;
	if (!strcmp(v, "libduct")) {
		cmd = strdup(libduct);
	} else if (!strcmp(v, "python") || !strcmp(v, "ductworks")) {
		/* The system's Python where there is one: it starts in 20 ms, a
		 * version manager's shim of python3 in 150 ms, paid per case. */
		const char *py = access("/usr/bin/python3", X_OK) == 0 ? "/usr/bin/python3"
									 : "python3";
		if (asprintf(&cmd, "%s %s/conformance/testees/%s/testee.py", py, srcdir, v) < 0)
			abort();
	}
	if (cmd) {
		*name = strdup(v);
		return cmd;
	}
	/* NAME=CMD, or a bare CMD named by itself. */
	const char *eq = strchr(v, '=');
	int named = eq && eq > v && !memchr(v, ' ', (size_t)(eq - v));
	*name = named ? strndup(v, (size_t)(eq - v)) : strdup(v);
	return strdup(named ? eq + 1 : v);
}

int testee_start(cx *c, const char *cmd)
{
	int in[2], out[2];
	char tmpl[] = "/tmp/duct-conform-stderr-XXXXXX";
	int errfd = mkstemp(tmpl);
	if (errfd < 0 || pipe2(in, O_CLOEXEC) || pipe2(out, O_CLOEXEC)) {
		cx_fail(c, "cannot start the testee: %s", strerror(errno));
		return -1;
	}
	c->stderr_path = strdup(tmpl);
	c->pid = fork();
	if (c->pid == 0) {
		/* Under --netns an interop pair's child stays on the runner's
		 * side, so that the pair's duct crosses the link too. */
		if (!(c->kase && c->kase->pair && c->role == ROLE_CHILD))
			net_enter_testee_ns();
		dup2(in[0], 0);
		dup2(out[1], 1);
		dup2(errfd, 2);
		/* Nothing else of ours, or of whoever started us: what the
		 * testee holds is its own (sec.cloexec counts it). */
		for (int fd = 3; fd < 1024; fd++)
			close(fd);
		signal(SIGPIPE, SIG_DFL); /* the testee must cope on its own */
		setpgid(0, 0);            /* so the kill reaches its children */
		/* exec: the testee itself, not a shell, is the process we
		 * watch (its signals, its memory), unless CMD is a script. */
		char *line;
		if (asprintf(&line, strpbrk(cmd, ";&|()<>`$\n") ? "%s" : "exec %s", cmd) < 0)
			_exit(127);
		execl("/bin/sh", "sh", "-c", line, (char *)NULL);
		_exit(127);
	}
	close(in[0]);
	close(out[1]);
	close(errfd);
	c->in_fd = in[1];
	c->out_fd = out[0];
	if (c->pid < 0) {
		cx_fail(c, "fork: %s", strerror(errno));
		return -1;
	}
	return 0;
}

/* How the testee ended, if it has: "crashed (signal 13)" etc. */
static const char *death(cx *c, char *buf, size_t n)
{
	int status;
	for (int i = 0; i < 50; i++) { /* give a dying process 0.5 s */
		pid_t r = waitpid(c->pid, &status, WNOHANG);
		if (r == c->pid) {
			c->pid = -1;
			/* A shell reports its child's death by signal N as
			 * status 128+N. */
			int sig = WIFSIGNALED(status) ? WTERMSIG(status)
				  : WEXITSTATUS(status) > 128 ? WEXITSTATUS(status) - 128 : 0;
			if (sig)
				snprintf(buf, n, "crashed (signal %d, %s)", sig, strsignal(sig));
			else
				snprintf(buf, n, "exited with status %d", WEXITSTATUS(status));
			c->unavailable = !sig && WEXITSTATUS(status) == 77;
			return buf;
		}
		usleep(10000);
	}
	return NULL;
}

void testee_stop(cx *c)
{
	if (c->in_fd >= 0) {
		if (write(c->in_fd, "quit\n", 5) < 0) {
			/* it is gone already: fine */
		}
		close(c->in_fd);
		c->in_fd = -1;
	}
	if (c->pid > 0) {
		/* A testee that ignores quit is not a failure; it is killed. */
		for (int i = 0; i < 20 && waitpid(c->pid, NULL, WNOHANG) == 0; i++)
			usleep(5000);
		kill(-c->pid, SIGKILL);
		kill(c->pid, SIGKILL);
		waitpid(c->pid, NULL, 0);
		c->pid = -1;
	}
	if (c->out_fd >= 0)
		close(c->out_fd);
	c->out_fd = -1;
}

static void log_ctl(cx *c, const char *dir, const char *line)
{
	size_t n = strlen(line);
	bytes_put(&c->ctl, dir, 2);
	if (n > 200) {
		bytes_put(&c->ctl, line, 200);
		char more[48];
		int k = snprintf(more, sizeof more, "... (%zu bytes)", n);
		bytes_put(&c->ctl, more, (size_t)k);
	} else {
		bytes_put(&c->ctl, line, n);
	}
	bytes_put(&c->ctl, "\n", 1);
}

static int read_line(cx *c, int ms);

int cx_send_cmd(cx *c, const char *fmt, ...)
{
	if (cx_failed(c))
		return -1;
	/* A line already there answers no command: a second answer, or one
	 * the testee made up. */
	if (c->out_fd >= 0 && read_line(c, 0) == 1) {
		cx_fail(c, "the testee wrote '%.200s' with no command waiting for a reply "
			"(TESTEE.md: exactly one reply a command)", c->reply);
		return -1;
	}
	char *line;
	va_list ap;
	va_start(ap, fmt);
	int n = vasprintf(&line, fmt, ap);
	va_end(ap);
	if (n < 0)
		abort();
	log_ctl(c, "> ", line);
	line[n] = '\n';
	size_t off = 0;
	while (off < (size_t)n + 1) {
		ssize_t w = write(c->in_fd, line + off, (size_t)n + 1 - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0) {
			char buf[80];
			const char *d = death(c, buf, sizeof buf);
			cx_fail(c, "the testee %s", d ? d : "stopped reading commands");
			free(line);
			return -1;
		}
		off += (size_t)w;
	}
	free(line);
	return 0;
}

/* Takes one line out of rbuf if there is one.  Lines are ASCII
 * (TESTEE.md section 2): any other byte, NUL and terminal escapes
 * included, becomes '?', so that no report or terminal gets it. */
static int take_line(cx *c)
{
	char *nl = c->rlen ? memchr(c->rbuf, '\n', c->rlen) : NULL;
	if (!nl)
		return 0;
	size_t len = (size_t)(nl - c->rbuf);
	free(c->reply);
	c->reply = malloc(len + 1);
	for (size_t i = 0; i < len; i++)
		c->reply[i] = c->rbuf[i] >= ' ' && c->rbuf[i] <= '~' ? c->rbuf[i] : '?';
	c->reply[len] = '\0';
	memmove(c->rbuf, nl + 1, c->rlen - len - 1);
	c->rlen -= len + 1;
	log_ctl(c, "< ", c->reply);
	return 1;
}

/* Reads until a line or the deadline.  1 line, 0 timeout, -1 EOF, -2 a
 * line over LINE_MAX_BYTES. */
static int read_line(cx *c, int ms)
{
	long deadline = now_ms() + ms;
	while (!take_line(c)) {
		long left = deadline - now_ms();
		if (c->rlen >= LINE_MAX_BYTES)
			return -2;
		if (left <= 0)
			return 0;
		struct pollfd p = {.fd = c->out_fd, .events = POLLIN};
		int r = poll(&p, 1, (int)left);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			continue;
		if (c->rcap - c->rlen < 65536) {
			c->rcap = c->rcap * 2 + 65536;
			if (c->rcap > LINE_MAX_BYTES + 65536)
				c->rcap = LINE_MAX_BYTES + 65536;
			c->rbuf = realloc(c->rbuf, c->rcap);
		}
		ssize_t n = read(c->out_fd, c->rbuf + c->rlen, c->rcap - c->rlen);
		if (n <= 0)
			return -1;
		c->rlen += (size_t)n;
	}
	return 1;
}

int cx_reply_within(cx *c, int ms)
{
	return !cx_failed(c) && read_line(c, ms) == 1;
}

int cx_wait_reply(cx *c, int ms)
{
	if (cx_failed(c))
		return -1;
	int r = read_line(c, cx_ms(c, ms));
	if (r == 1)
		return 0;
	char buf[80];
	const char *d = r == -2 ? NULL : death(c, buf, sizeof buf);
	if (r == -2)
		cx_fail(c, "the testee wrote a control line of more than %u bytes (TESTEE.md: "
			"one line a reply); the runner stopped reading it", LINE_MAX_BYTES);
	else if (d)
		cx_fail(c, "the testee %s", d);
	else if (r == 0)
		cx_fail(c, "the testee hung: no reply within %d ms", cx_ms(c, ms));
	else
		cx_fail(c, "the testee closed its stdout");
	return -1;
}

/* Sends the formatted command and waits for its reply; *line keeps the
 * command for messages. */
static int vcmd(cx *c, int ms, char **line, const char *fmt, va_list ap)
{
	*line = NULL;
	if (cx_failed(c))
		return -1;
	if (vasprintf(line, fmt, ap) < 0)
		abort();
	int rc = cx_send_cmd(c, "%s", *line);
	return rc ? rc : cx_wait_reply(c, ms);
}

int cx_cmd(cx *c, int ms, const char *fmt, ...)
{
	char *line;
	va_list ap;
	va_start(ap, fmt);
	int rc = vcmd(c, ms, &line, fmt, ap);
	va_end(ap);
	free(line);
	return rc;
}

int cx_expect(cx *c, int ms, const char *want, const char *fmt, ...)
{
	char *line;
	va_list ap;
	va_start(ap, fmt);
	int rc = vcmd(c, ms, &line, fmt, ap);
	va_end(ap);
	if (rc == 0 && !cx_reply_is(c, want)) {
		/* Long replies (hex payloads) are cut in the message. */
		cx_fail(c, "command '%.60s%s'\nexpected: %.200s\ngot:      %.200s",
			line, strlen(line) > 60 ? "..." : "", want, c->reply);
		rc = -1;
	}
	free(line);
	return rc;
}

int testee_hello(cx *c)
{
	if (cx_cmd(c, 10000, "hello"))
		return -1;
	/* "ok VERSION NAME FEATURE...": versions 1 to 1.2 (TESTEE.md). */
	char version[16] = "";
	int name_at = 0;
	sscanf(c->reply, "ok %15s %n", version, &name_at);
	if (strcmp(version, "1") != 0 && strcmp(version, "1.1") != 0 &&
	    strcmp(version, "1.2") != 0) {
		cx_fail(c, "the testee speaks contract '%s'; this runner knows versions "
			"1, 1.1 and 1.2", c->reply);
		return -1;
	}
	if (name_at && strchr(c->reply + name_at, ' '))
		snprintf(c->features, sizeof c->features, "%s", strchr(c->reply + name_at, ' ') + 1);
	return 0;
}

int cx_reply_is(const cx *c, const char *want)
{
	size_t n = strlen(want);
	/* "error CLASS" may be followed by free text (TESTEE.md section 2). */
	return strncmp(c->reply, want, n) == 0 &&
	       (c->reply[n] == '\0' || (c->reply[n] == ' ' && !strncmp(want, "error ", 6)));
}

int cx_has_feature(const cx *c, const char *f)
{
	size_t n = strlen(f);
	for (const char *p = c->features; (p = strstr(p, f)); p += n)
		if ((p == c->features || p[-1] == ' ') && (p[n] == ' ' || p[n] == '\0'))
			return 1;
	return 0;
}

long testee_vm_peak_kb(const cx *c)
{
	char path[64], line[256];
	snprintf(path, sizeof path, "/proc/%d/status", (int)c->pid);
	FILE *f = fopen(path, "r");
	long kb = -1;
	while (f && fgets(line, sizeof line, f))
		if (sscanf(line, "VmPeak: %ld kB", &kb) == 1)
			break;
	if (f)
		fclose(f);
	return kb;
}
