/*
 * duct-testee: the libduct testee of the conformance suite.
 *
 * It speaks the line protocol of conformance/TESTEE.md (contract version 1.2)
 * on stdin/stdout and drives one libduct duct.  It is an adapter, not a
 * test: it does what each command says and reports what libduct returned,
 * mapped to the contract's error classes.  The runner plays the peer.
 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "duct/duct.h"
#include "duct/json.h"

/* The one duct of this process, NULL until parent or child succeeds. */
static duct *d;

/* set-max and set-timeout apply to the current duct and to every duct made
 * after them (TESTEE.md), so they are kept here as well as in the duct. */
static int have_max, have_timeout;
static uint32_t max_message;
static int timeout_ms;

static int quitting;

/* A command's return value when it has already replied; never a libduct
 * status (those are 0, negative, or DUCT_NEED_MORE). */
enum { REPLIED = 1000 };

/* signal-handler's SIGUSR1 must interrupt libduct, never the testee's own
 * control channel (a getline cut by EINTR ends the session, a reply cut
 * loses its tail): it is blocked except while a command runs. */
static void usr1(int how)
{
	sigset_t s;
	sigemptyset(&s);
	sigaddset(&s, SIGUSR1);
	sigprocmask(how, &s, NULL);
}

/* Ends the reply line.  The runner waits for each reply, so one left in a
 * buffer would hang it; a testee that cannot report any more stops. */
static void end_reply(void)
{
	putchar('\n');
	if (fflush(stdout) != 0) {
		perror("duct-testee: stdout");
		exit(1);
	}
}

__attribute__((format(printf, 1, 2))) static void reply(const char *fmt, ...)
{
	va_list ap;
	usr1(SIG_BLOCK);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	end_reply();
}

/* libduct status -> the contract's error class; anything else is "other". */
static const struct {
	int code;
	const char *cls;
} classes[] = {
	{DUCT_EOF, "eof"},         {DUCT_ETRUNCATED, "truncated"},
	{DUCT_EMAGIC, "magic"},    {DUCT_ETOOBIG, "toobig"},
	{DUCT_EPIPE, "pipe"},      {DUCT_ETIMEDOUT, "timeout"},
	{DUCT_EJSON, "decode"},    {DUCT_ERANGE, "range"},
	{DUCT_EVALUE, "decode"},   {DUCT_ESTATE, "state"},
	{DUCT_ECONNECT, "connect"},
};

/* Replies "ok" or "error CLASS[extra]", where extra is recv-many's " K".
 * libduct's own message follows when the class alone does not say what
 * happened: for "other", and for a "decode" of valid JSON (JSON-12). */
static void reply_status(int rc, const char *extra)
{
	const char *cls = "other";
	if (rc == DUCT_OK) {
		reply("ok");
		return;
	}
	for (size_t i = 0; i < sizeof classes / sizeof *classes; i++)
		if (classes[i].code == rc)
			cls = classes[i].cls;
	if (strcmp(cls, "other") == 0 || rc == DUCT_EVALUE)
		reply("error %s%s %s (%s)", cls, extra, duct_strerror(rc),
		      duct_err_name(rc));
	else
		reply("error %s%s", cls, extra);
}

/* Strict decimal: digits only (no sign, no spaces), at most max.  Nineteen
 * digits always fit in 64 bits, so strtoull cannot overflow. */
static int parse_num(const char *s, unsigned long long max,
		     unsigned long long *out)
{
	size_t n = strlen(s);
	if (n == 0 || n > 19 || strspn(s, "0123456789") != n)
		return 0;
	*out = strtoull(s, NULL, 10);
	return *out <= max;
}

static int hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* Decodes lowercase hex in place: byte i lands at s[i], behind the digits
 * still to read, so a 2 MiB line needs no second buffer.  "-" is empty. */
static int unhex(char *s, size_t *len)
{
	size_t n = strlen(s);
	*len = 0;
	if (strcmp(s, "-") == 0)
		return 1;
	if (n == 0 || n % 2)
		return 0;
	for (size_t i = 0; i < n; i += 2) {
		int hi = hex_digit(s[i]), lo = hex_digit(s[i + 1]);
		if (hi < 0 || lo < 0)
			return 0;
		s[i / 2] = (char)(hi << 4 | lo);
	}
	*len = n / 2;
	return 1;
}

/* Replies "ok HEX" with one fwrite of a table-built buffer: a 16 MiB
 * message takes well under a second, where printf per byte would not. */
static int reply_hex(const uint8_t *p, size_t len)
{
	static const char digits[] = "0123456789abcdef";
	char *out = malloc(2 * len + 1);
	if (!out)
		return DUCT_ENOMEM;
	for (size_t i = 0; i < len; i++) {
		out[2 * i] = digits[p[i] >> 4];
		out[2 * i + 1] = digits[p[i] & 15];
	}
	usr1(SIG_BLOCK);
	fputs(len ? "ok " : "ok -", stdout);
	fwrite(out, 1, 2 * len, stdout);
	free(out);
	end_reply();
	return REPLIED;
}

#define FNV_OFFSET UINT64_C(0xcbf29ce484222325)

static uint64_t fnv1a(uint64_t h, const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		h = (h ^ p[i]) * UINT64_C(0x100000001b3);
	return h;
}

/* Gives duct x every setting stored so far. */
static int apply_settings(duct *x)
{
	int rc = DUCT_OK;
	if (x && have_max)
		rc = duct_set_max_message(x, max_message);
	if (x && rc == DUCT_OK && have_timeout)
		rc = duct_set_timeouts(x, timeout_ms, timeout_ms);
	return rc;
}

/* ---- Commands.  Each returns a libduct status for dispatch to report,
 * or REPLIED.  Arguments arrive parsed and checked (see commands[]). ---- */

struct args {
	char *word;              /* a word or decoded hex */
	size_t len;              /* length of the decoded hex */
	unsigned long long n[2]; /* numbers */
};

static int cmd_hello(struct args *a)
{
	(void)a;
	reply("ok 1.2 libduct-1.0 max timeout bench fork signals huge spawn threads bind");
	return REPLIED;
}

/* Makes the parent or child duct; on failure none is left behind, so the
 * runner may try again. */
static int cmd_parent(struct args *a)
{
	int rc;
	/* "unix:" is a fresh path in a private directory, "tcp:" loopback
	 * port 0: a fresh address of the testee's choosing.  An address
	 * itself is feature bind's (TESTEE.md 3.7). */
	const char *where = !strcmp(a->word, "unix") ? "unix:"
			    : !strcmp(a->word, "tcp") ? "tcp:"
			    : !strncmp(a->word, "tcp:", 4) ? a->word : NULL;
	if (!where) {
		reply("error other bad argument");
		return REPLIED;
	}
	d = duct_parent_new(where, &rc);
	if (d && (rc = apply_settings(d)) == DUCT_OK &&
	    (rc = duct_bind(d)) == DUCT_OK) {
		reply("ok %s", duct_address(d));
		return REPLIED;
	}
	duct_free(d);
	d = NULL;
	return rc;
}

static int cmd_child(struct args *a)
{
	int rc;
	d = duct_child_new(a->word, &rc);
	/* Settings first, so set-timeout also bounds each connect attempt. */
	if (d && (rc = apply_settings(d)) == DUCT_OK &&
	    (rc = duct_connect(d)) == DUCT_OK)
		return DUCT_OK;
	if (rc == DUCT_ECONNECT)
		reply("error connect retries exhausted, last error: %s",
		      strerror(duct_last_errno(d)));
	duct_free(d);
	d = NULL;
	return rc == DUCT_ECONNECT ? REPLIED : rc;
}

static int cmd_listen(struct args *a) { return duct_listen(d, (int)a->n[0]); }

static int cmd_send(struct args *a) { return duct_send(d, a->word, a->len); }

static int cmd_send_pattern(struct args *a)
{
	size_t len = (size_t)a->n[0];
	uint8_t *buf = malloc(len ? len : 1);
	if (!buf)
		return DUCT_ENOMEM;
	for (size_t i = 0; i < len; i++)
		buf[i] = (uint8_t)(7 * i + a->n[1]);
	int rc = duct_send(d, buf, len);
	free(buf);
	return rc;
}

static int cmd_send_many(struct args *a)
{
	uint8_t msg[61];
	int rc = DUCT_OK;
	for (unsigned long long k = 0; k < a->n[0] && rc == DUCT_OK; k++) {
		size_t n = (size_t)((k + a->n[1]) % 61);
		for (size_t i = 0; i < n; i++)
			msg[i] = (uint8_t)(31 * k + i);
		rc = duct_send(d, msg, n);
	}
	return rc;
}

static int cmd_recv(struct args *a)
{
	const void *p;
	size_t len;
	int rc = duct_recv(d, &p, &len);
	(void)a;
	return rc == DUCT_OK ? reply_hex(p, len) : rc;
}

static int cmd_recv_digest(struct args *a)
{
	const void *p;
	size_t len;
	int rc = duct_recv(d, &p, &len);
	(void)a;
	if (rc != DUCT_OK)
		return rc;
	reply("ok %zu %016" PRIx64, len, fnv1a(FNV_OFFSET, p, len));
	return REPLIED;
}

static int cmd_recv_many(struct args *a)
{
	uint64_t h = FNV_OFFSET;
	for (unsigned long long k = 0; k < a->n[0]; k++) {
		const void *p;
		size_t len;
		uint8_t be[4];
		int rc = duct_recv(d, &p, &len);
		if (rc != DUCT_OK) {
			char extra[32];
			snprintf(extra, sizeof extra, " %llu", k);
			reply_status(rc, extra);
			return REPLIED;
		}
		duct_put32(be, (uint32_t)len);
		h = fnv1a(fnv1a(h, be, 4), p, len);
	}
	reply("ok %016" PRIx64, h);
	return REPLIED;
}

static int cmd_poll(struct args *a)
{
	struct timespec t0, t1;
	/* Monotonic, so a clock step cannot fake a short or a long poll. */
	clock_gettime(CLOCK_MONOTONIC, &t0);
	int rc = duct_poll(d, (int)a->n[0]);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	if (rc < 0)
		return rc;
	long long ns = (long long)(t1.tv_sec - t0.tv_sec) * 1000000000 +
		       (t1.tv_nsec - t0.tv_nsec);
	reply("ok %s %lld", rc ? "true" : "false", ns / 1000000);
	return REPLIED;
}

static int cmd_echo_value(struct args *a)
{
	void *v;
	int rc = duct_recv_value(d, &v);
	(void)a;
	if (rc == DUCT_OK) {
		rc = duct_send_value(d, v);
		duct_free_value(d, v);
	}
	return rc;
}

/* The bench feature (TESTEE.md section 3.1): hot loops with one reply at
 * the end, so that the runner times libduct, not the control channel. */

/* Message bytes: send-pattern's pattern with SEED 0, made once per size. */
static uint8_t *bench_message(size_t len)
{
	static uint8_t *buf;
	static size_t have = SIZE_MAX;
	if (len != have) {
		uint8_t *p = realloc(buf, len ? len : 1);
		if (!p)
			return NULL;
		buf = p;
		for (size_t i = 0; i < len; i++)
			buf[i] = (uint8_t)(7 * i);
		have = len;
	}
	return buf;
}

static int cmd_bench_send(struct args *a)
{
	size_t len = (size_t)a->n[1];
	const uint8_t *m = bench_message(len);
	int rc = m ? DUCT_OK : DUCT_ENOMEM;
	for (unsigned long long k = 0; k < a->n[0] && rc == DUCT_OK; k++)
		rc = duct_send(d, m, len);
	return rc;
}

/* Each message must have the length asked and the pattern's first and last
 * byte; the reply names the first one that does not. */
static int cmd_bench_recv(struct args *a)
{
	size_t want = (size_t)a->n[1];
	for (unsigned long long k = 0; k < a->n[0]; k++) {
		const uint8_t *p;
		size_t len;
		int rc = duct_recv(d, (const void **)&p, &len);
		if (rc != DUCT_OK) {
			char extra[32];
			snprintf(extra, sizeof extra, " %llu", k);
			reply_status(rc, extra);
			return REPLIED;
		}
		if (len != want || (len && (p[0] != 0 ||
					    p[len - 1] != (uint8_t)(7 * (len - 1))))) {
			reply("error other %llu message of %zu bytes, not the "
			      "pattern of %zu", k, len, want);
			return REPLIED;
		}
	}
	return DUCT_OK;
}

/* Feature threads (TESTEE.md 3.6, TIME-3): one thread receives COUNT
 * messages while this one sends COUNT, locking on, as a threaded
 * application of libduct would have it. */
struct receiver {
	unsigned long long count, k;
	size_t want, badlen;
	int rc, bad;
};

static void *receive_all(void *arg)
{
	struct receiver *r = arg;
	for (r->k = 0; r->k < r->count; r->k++) {
		const uint8_t *p;
		size_t len;
		if ((r->rc = duct_recv(d, (const void **)&p, &len)) != DUCT_OK)
			return NULL;
		if (len != r->want || (len && (p[0] != 0 || p[len - 1] != (uint8_t)(7 * (len - 1))))) {
			r->bad = 1;
			r->badlen = len;
			return NULL;
		}
	}
	return NULL;
}

static int cmd_both_ways(struct args *a)
{
	struct receiver r = {.count = a->n[0], .want = (size_t)a->n[1]};
	pthread_t t;
	int rc = duct_set_locking(d, 1);
	if (rc != DUCT_OK)
		return rc;
	if (pthread_create(&t, NULL, receive_all, &r) != 0)
		return DUCT_ENOMEM;
	rc = cmd_bench_send(a);
	pthread_join(t, NULL);
	if (r.bad) {
		reply("error other %llu message of %zu bytes, not the pattern of %zu", r.k,
		      r.badlen, r.want);
		return REPLIED;
	}
	return rc != DUCT_OK ? rc : r.rc;
}

static int cmd_bench_echo(struct args *a)
{
	int rc = DUCT_OK;
	for (unsigned long long k = 0; k < a->n[0] && rc == DUCT_OK; k++) {
		const void *p;
		size_t len;
		/* p is lent until the next receive: sent back first. */
		if ((rc = duct_recv(d, &p, &len)) == DUCT_OK)
			rc = duct_send(d, p, len);
	}
	return rc;
}

static int cmd_bench_echo_value(struct args *a)
{
	int rc = DUCT_OK;
	for (unsigned long long k = 0; k < a->n[0] && rc == DUCT_OK; k++)
		rc = cmd_echo_value(a);
	return rc;
}

/* Feature fork (TESTEE.md 3.2, CLOSE-2): a forked copy closes the duct and
 * exits; the duct must go on working here. */
static int cmd_fork_close(struct args *a)
{
	(void)a;
	pid_t pid = fork();
	if (pid < 0)
		return duct_syserr(errno);
	if (pid == 0)
		_exit(duct_close(d) == DUCT_OK ? 0 : 1);
	int status;
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		reply("error other the forked copy's close failed");
		return REPLIED;
	}
	return DUCT_OK;
}

/* Feature huge (TESTEE.md 3.4, SEND-6): LEN zero bytes from a mapping
 * that costs nothing until read, so that 4 GiB can be offered. */
static int cmd_send_zeros(struct args *a)
{
	size_t len = (size_t)a->n[0];
	void *p = len ? mmap(NULL, len, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
			     -1, 0)
		      : NULL;
	if (p == MAP_FAILED)
		return duct_syserr(errno);
	int rc = duct_send(d, p, len);
	if (p)
		munmap(p, len);
	return rc;
}

/* Feature spawn (TESTEE.md 3.5, SEC-4): PROGRAM inherits whatever is not
 * close-on-exec, as any program the application starts would. */
static int cmd_spawn(struct args *a)
{
	int out[2], in = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (in < 0 || pipe2(out, O_CLOEXEC) != 0)
		return duct_syserr(errno);
	pid_t pid = fork();
	if (pid == 0) {
		dup2(in, 0);
		dup2(out[1], 1);
		execl(a->word, a->word, (char *)NULL);
		_exit(127);
	}
	close(in);
	close(out[1]);
	char line[4096];
	size_t n = 0;
	ssize_t k;
	while (n < sizeof line - 1 &&
	       ((k = read(out[0], line + n, sizeof line - 1 - n)) > 0 || (k < 0 && errno == EINTR)))
		n += k > 0 ? (size_t)k : 0;
	close(out[0]);
	line[n] = '\0';
	line[strcspn(line, "\n")] = '\0';
	int status = 0;
	while (pid > 0 && waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (pid < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
		reply("error other %s did not run or failed", a->word);
	else
		reply("ok%s%s", line[0] ? " " : "", line);
	return REPLIED;
}

static void ignore_signal(int sig) { (void)sig; }

/* Feature signals (TESTEE.md 3.3, SEC-6): SIGUSR1 does nothing but
 * interrupt; without SA_RESTART every blocking call sees EINTR. */
static int cmd_signal_handler(struct args *a)
{
	(void)a;
	struct sigaction sa = {.sa_handler = ignore_signal};
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGUSR1, &sa, NULL) != 0)
		return duct_syserr(errno);
	reply("ok %ld", (long)getpid());
	return REPLIED;
}

static int cmd_close(struct args *a)
{
	(void)a;
	return duct_close(d);
}

static int cmd_set_max(struct args *a)
{
	have_max = 1;
	max_message = (uint32_t)a->n[0];
	return apply_settings(d);
}

static int cmd_set_timeout(struct args *a)
{
	have_timeout = 1;
	timeout_ms = (int)a->n[0];
	return apply_settings(d);
}

static int cmd_quit(struct args *a)
{
	(void)a;
	quitting = 1;
	return REPLIED; /* the contract: quit has no reply */
}

enum need { ANY, DUCT, NO_DUCT };

/* args: one letter per argument: w word, x hex, n number (at most max). */
static const struct command {
	const char *name, *args;
	unsigned long long max;
	enum need need;
	int (*run)(struct args *a);
} commands[] = {
	{"hello", "", 0, ANY, cmd_hello},
	{"parent", "w", 0, NO_DUCT, cmd_parent},
	{"child", "w", 0, NO_DUCT, cmd_child},
	{"listen", "n", INT_MAX, DUCT, cmd_listen},
	{"send", "x", 0, DUCT, cmd_send},
	{"send-pattern", "nn", UINT32_MAX, DUCT, cmd_send_pattern},
	{"send-many", "nn", UINT32_MAX, DUCT, cmd_send_many},
	{"recv", "", 0, DUCT, cmd_recv},
	{"recv-digest", "", 0, DUCT, cmd_recv_digest},
	{"recv-many", "n", UINT32_MAX, DUCT, cmd_recv_many},
	{"poll", "n", INT_MAX, DUCT, cmd_poll},
	{"echo-value", "", 0, DUCT, cmd_echo_value},
	{"bench-send", "nn", UINT32_MAX, DUCT, cmd_bench_send},
	{"bench-recv", "nn", UINT32_MAX, DUCT, cmd_bench_recv},
	{"bench-echo", "n", UINT32_MAX, DUCT, cmd_bench_echo},
	{"bench-echo-value", "n", UINT32_MAX, DUCT, cmd_bench_echo_value},
	{"fork-close", "", 0, DUCT, cmd_fork_close},
	{"signal-handler", "", 0, ANY, cmd_signal_handler},
	{"send-zeros", "n", ULLONG_MAX, DUCT, cmd_send_zeros},
	{"spawn", "w", 0, ANY, cmd_spawn},
	{"both-ways", "nn", UINT32_MAX, DUCT, cmd_both_ways},
	{"close", "", 0, DUCT, cmd_close},
	{"set-max", "n", UINT32_MAX, ANY, cmd_set_max},
	{"set-timeout", "n", INT_MAX, ANY, cmd_set_timeout},
	{"quit", "", 0, ANY, cmd_quit},
};

/* Checks words[1..argc) against c->args into a.  0 if one is bad. */
static int parse_args(const struct command *c, char **words, int argc,
		      struct args *a)
{
	int nums = 0;
	if ((size_t)argc != strlen(c->args) + 1)
		return 0;
	for (int i = 1; i < argc; i++) {
		char kind = c->args[i - 1], *w = words[i];
		if (kind == 'n' && !parse_num(w, c->max, &a->n[nums++]))
			return 0;
		if (kind == 'x' && !unhex(w, &a->len))
			return 0;
		if (kind != 'n')
			a->word = w;
	}
	return 1;
}

/* Splits line at single spaces, finds the command and runs it. */
static void dispatch(char *line)
{
	char *words[4];
	int argc = 0, rc;
	struct args a = {0};
	/* At most 4 words: a fourth means "too many" for every command. */
	for (char *p = line; p && argc < 4;) {
		words[argc++] = p;
		if ((p = strchr(p, ' ')))
			*p++ = '\0';
	}
	for (size_t i = 0; i < sizeof commands / sizeof *commands; i++) {
		const struct command *c = &commands[i];
		if (strcmp(words[0], c->name) != 0)
			continue;
		/* The state first: a command with no duct to act on is in
		 * the wrong state whatever its arguments (TESTEE.md). */
		if ((c->need == DUCT && !d) || (c->need == NO_DUCT && d))
			reply("error state %s",
			      d ? "a duct exists already" : "no duct yet");
		else if (!parse_args(c, words, argc, &a))
			reply("error other bad argument");
		else {
			usr1(SIG_UNBLOCK);
			rc = c->run(&a);
			usr1(SIG_BLOCK);
			if (rc != REPLIED)
				reply_status(rc, "");
		}
		return;
	}
	reply("error unsupported");
}

int main(int argc, char **argv)
{
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;

	if (argc > 1) {
		int help = argc == 2 && strcmp(argv[1], "--help") == 0;
		if (!help)
			fprintf(stderr, "duct-testee: unknown argument '%s'\n",
				argv[1]);
		fputs("usage: duct-testee\n"
		      "Reads commands on stdin and answers each with one line "
		      "on stdout, as\nconformance/TESTEE.md (contract version "
		      "1.2) says; normally run by duct-conform.\n",
		      help ? stdout : stderr);
		return help ? 0 : 2;
	}
	/* libduct sends with MSG_NOSIGNAL; this covers our own stdout should
	 * the runner go away.  A test program may do so in main (SEC-3). */
	signal(SIGPIPE, SIG_IGN);
	usr1(SIG_BLOCK);
	/* getline, since a 16 MiB send is a 32 MiB line. */
	while (!quitting && (n = getline(&line, &cap, stdin)) >= 0) {
		if (n > 0 && line[n - 1] == '\n')
			line[n - 1] = '\0';
		dispatch(line);
	}
	free(line);
	duct_free(d);
	return 0;
}
