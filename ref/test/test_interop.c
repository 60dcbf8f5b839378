/*
 * Interoperability: libduct against peer.py, an independent stdlib-only
 * Python implementation of the protocol (the original library's serializer:
 * json.dumps / json.loads).  Both roles, both transports.
 *
 * Every reply is checked three ways:
 *   1. its raw bytes equal the literal Python bytes in the tables below,
 *      which were produced by /usr/bin/python3's json.dumps (ground truth);
 *   2. its raw bytes equal duct_json_encode({"echo": v, "peer": "python"}),
 *      which cross-checks the C encoder against Python's (JSON-2..6);
 *   3. duct_json_decode() of the reply gives back v (json_object_equal, or
 *      by re-encoding where NaN makes equality meaningless).
 * One duct_send is one duct_recv on the other side (FRAME-6), in lock step
 * and pipelined.  Each test has a deadline (alarm) and kills its peer on
 * failure, so nothing hangs.
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "duct/json.h"
#include "testutil.h"

#ifndef PYTHON /* overridable, to test the skip */
#define PYTHON "/usr/bin/python3"
#endif
#define PEER_PY DUCT_SOURCE_DIR "/ref/test/peer.py"
#define DEADLINE_S 90  /* whole test, enforced by alarm() */
#define STEP_MS 20000  /* one I/O step, a peer's startup or exit */

/* ---- Test data (Python bytes from json.dumps(json.loads(text))) --------- */

struct value_case {
	const char *name;
	const char *text; /* parsed by json-c's tokener (NaN/Infinity ok) */
	const char *py;   /* json.dumps of the same value */
};

static const struct value_case values[] = {
	{"null", "null", "null"},
	{"true", "true", "true"},
	{"false", "false", "false"},
	{"zero", "0", "0"},
	{"neg", "-1", "-1"},
	{"int64_max", "9223372036854775807", "9223372036854775807"},
	{"int64_min", "-9223372036854775808", "-9223372036854775808"}, /* -2^63 */
	{"uint_2p63", "9223372036854775808", "9223372036854775808"},
	{"uint64_max", "18446744073709551615", "18446744073709551615"}, /* 2^64-1 */
	{"empty_string", "\"\"", "\"\""},
	{"empty_list", "[]", "[]"},
	{"empty_object", "{}", "{}"},
	{"empty_nested", "[[], {}, [[]], {\"\": {}}]", "[[], {}, [[]], {\"\": {}}]"},
	{"ascii", "\"hello, world\"", "\"hello, world\""},
	/* JSON-3: ensure_ascii, lowercase hex, astral chars as surrogate pairs */
	{"e_acute", "\"h\xc3\xa9llo\"", "\"h\\u00e9llo\""},
	{"emoji_astral", "\"\xf0\x9f\x98\x80 \xf0\x9f\xa6\x86\"",
	 "\"\\ud83d\\ude00 \\ud83e\\udd86\""},
	{"bmp_mix", "\"\xe2\x80\xa8\xe2\x82\xac\xef\xbf\xbf\xc3\xbf\"",
	 "\"\\u2028\\u20ac\\uffff\\u00ff\""},
	{"escapes", "\"\\u0000\\u001f\\n\\r\\t\\b\\f\\\"\\\\/\\u007f\"",
	 "\"\\u0000\\u001f\\n\\r\\t\\b\\f\\\"\\\\/\\u007f\""},
	{"utf8_key", "{\"cl\xc3\xa9\": \"\xf0\x9f\x98\x80\"}",
	 "{\"cl\\u00e9\": \"\\ud83d\\ude00\"}"},
	/* JSON-2: ", " and ": ", insertion order kept */
	{"nested",
	 "{\"a\": [1, {\"b\": [true, null, {}]}], \"c\": {\"d\": [], \"e\": \"f\"}, \"g\": 2.5}",
	 "{\"a\": [1, {\"b\": [true, null, {}]}], \"c\": {\"d\": [], \"e\": \"f\"}, \"g\": 2.5}"},
	{"key_order", "{\"z\":1,\"a\":2,\"m\":3}", "{\"z\": 1, \"a\": 2, \"m\": 3}"},
	{"mixed_list", "[1, \"two\", 3.0, [4], {\"five\": 5}, null, false]",
	 "[1, \"two\", 3.0, [4], {\"five\": 5}, null, false]"},
	/* JSON-4: floats as Python's repr (shortest round trip) */
	{"float_0_1", "0.1", "0.1"},
	{"float_1e16", "1e16", "1e+16"},
	{"float_1e_7", "1E-7", "1e-07"},
	{"float_neg_zero", "-0.0", "-0.0"},
	{"float_one", "1.0", "1.0"},
	{"float_1e15", "1e15", "1000000000000000.0"},
	{"float_1e_4", "0.0001", "0.0001"},
	{"float_1e_5", "0.00001", "1e-05"},
	{"float_sum", "0.30000000000000004", "0.30000000000000004"},
	{"float_max", "1.7976931348623157e308", "1.7976931348623157e+308"},
	{"float_min_sub", "5e-324", "5e-324"},
	{"float_1e22", "1e22", "1e+22"},
	{"float_big", "123456789012345678901234567890.0", "1.2345678901234568e+29"},
	{"float_third", "0.3333333333333333", "0.3333333333333333"},
	{"float_neg", "-2.5e-300", "-2.5e-300"},
	{"float_100", "100.0", "100.0"},
	/* JSON-5: the bare words, not standard JSON */
	{"nan", "NaN", "NaN"},
	{"infinity", "Infinity", "Infinity"},
	{"neg_infinity", "-Infinity", "-Infinity"},
	{"nonfinite_list", "[NaN, Infinity, -Infinity, -0.0]",
	 "[NaN, Infinity, -Infinity, -0.0]"},
};
#define NVALUES (sizeof values / sizeof values[0])

/* Raw payloads sent with duct_send(), and what the Python peer answers.
 * A payload that fails to decode costs that message only (JSON-11). */
struct raw_case {
	const char *name;
	const char *raw;
	size_t len;
	const char *reply; /* exact bytes from peer.py (json.dumps) */
	int c_reply;       /* duct_json_decode() of the reply */
	int c_raw;         /* duct_json_decode() of raw: agrees with Python */
};

#define ERR_REPLY(n) "{\"error\": \"JSONDecodeError\", \"len\": " #n "}"
static const struct raw_case raws[] = {
	/* The 0-byte message: json.loads('') fails. */
	{"empty", "", 0, ERR_REPLY(0), DUCT_OK, DUCT_EJSON},
	/* JSON-7: invalid UTF-8 becomes U+FFFD, maximal subparts. */
	{"bad_utf8_only", "\xff\xfe", 2, ERR_REPLY(2), DUCT_OK, DUCT_EJSON},
	{"bad_utf8_in_string", "\"a\xff" "b\xe2\x82\"", 7,
	 "{\"echo\": \"a\\ufffdb\\ufffd\", \"peer\": \"python\"}", DUCT_OK, DUCT_OK},
	{"overlong_and_surrogate_utf8", "\"\xc0\xaf\xed\xa0\x80\"", 7,
	 "{\"echo\": \"\\ufffd\\ufffd\\ufffd\\ufffd\\ufffd\", \"peer\": \"python\"}",
	 DUCT_OK, DUCT_OK},
	{"truncated_json", "[1, 2", 5, ERR_REPLY(5), DUCT_OK, DUCT_EJSON},
	{"trailing_garbage", "{} x", 4, ERR_REPLY(4), DUCT_OK, DUCT_EJSON},
	{"bare_nan", "NaN", 3, "{\"echo\": NaN, \"peer\": \"python\"}", DUCT_OK, DUCT_OK},
	/* JSON-6: Python's ints are unbounded; C must refuse, not clamp. */
	{"int_2p64", "18446744073709551616", 20,
	 "{\"echo\": 18446744073709551616, \"peer\": \"python\"}", DUCT_ERANGE, DUCT_ERANGE},
	{"int_2p70", "1180591620717411303424", 22,
	 "{\"echo\": 1180591620717411303424, \"peer\": \"python\"}", DUCT_ERANGE, DUCT_ERANGE},
	{"int_below_min", "-9223372036854775809", 20,
	 "{\"echo\": -9223372036854775809, \"peer\": \"python\"}", DUCT_ERANGE, DUCT_ERANGE},
	/* JSON-8: last duplicate key wins; any JSON whitespace. */
	{"dup_keys", "{\"a\": 1, \"a\": 2}", 16,
	 "{\"echo\": {\"a\": 2}, \"peer\": \"python\"}", DUCT_OK, DUCT_OK},
	{"compact", "{\"a\":[1,2],\"b\":{\"c\":1e5}}", 25,
	 "{\"echo\": {\"a\": [1, 2], \"b\": {\"c\": 100000.0}}, \"peer\": \"python\"}",
	 DUCT_OK, DUCT_OK},
	{"whitespace", " \t\n[ 1 ,\r\n 2 ] ", 15, "{\"echo\": [1, 2], \"peer\": \"python\"}",
	 DUCT_OK, DUCT_OK},
	{"upper_escape", "\"\\u00E9\\uD83D\\uDE00\"", 20,
	 "{\"echo\": \"\\u00e9\\ud83d\\ude00\", \"peer\": \"python\"}", DUCT_OK, DUCT_OK},
	/* JSON-12: Python takes U+0000 in a key; json-c keys are C strings,
	 * so libduct refuses the message rather than cut the key. */
	{"nul_in_key", "{\"\\u0000k\": 1}", 14,
	 "{\"echo\": {\"\\u0000k\": 1}, \"peer\": \"python\"}", DUCT_EVALUE, DUCT_EVALUE},
	/* Python keeps a lone surrogate; libduct, through json-c, makes it
	 * U+FFFD, as JSON-10 allows. */
	{"lone_surrogate", "\"\\ud800\"", 8,
	 "{\"echo\": \"\\ud800\", \"peer\": \"python\"}", DUCT_OK, DUCT_OK},
};
#define NRAWS (sizeof raws / sizeof raws[0])
/* What libduct makes of the lone surrogate (json-c: U+FFFD). */
#define LONE_C "{\"echo\": \"\\ufffd\", \"peer\": \"python\"}"

/* ---- Helpers ------------------------------------------------------------ */

static pid_t g_peer = -1; /* for the alarm handler */

static void on_alarm(int sig)
{
	static const char msg[] = "test_interop: deadline exceeded, killing the peer\n";
	(void)sig;
	if (g_peer > 0)
		kill(g_peer, SIGKILL);
	(void)!write(2, msg, sizeof msg - 1);
	_exit(1);
}

struct peer {
	pid_t pid;
	int out; /* read end of the peer's stdout */
};

struct fixture {
	struct peer peer;
	duct *d;
	char dir[64]; /* a private directory for explicit Unix paths */
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof *f);
	if (!f)
		return -1;
	f->peer.pid = -1;
	f->peer.out = -1;
	*state = f;
	alarm(DEADLINE_S);
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	duct_free(f->d);
	if (f->peer.pid > 0) { /* a failed test: never leave the peer behind */
		kill(f->peer.pid, SIGKILL);
		waitpid(f->peer.pid, NULL, 0);
	}
	if (f->peer.out >= 0)
		close(f->peer.out);
	if (f->dir[0])
		rmdir(f->dir);
	g_peer = -1;
	alarm(0);
	free(f);
	return 0;
}

static void require_python(void)
{
	if (access(PYTHON, X_OK) != 0) {
		print_message("no " PYTHON ": skipped\n");
		skip();
	}
}

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Starts peer.py with its stdout on a pipe.  sends: script-mode values. */
static void peer_start(struct peer *p, const char *role, const char *address,
		       const char *mode, const struct value_case *sends, size_t nsends)
{
	const char **argv = calloc(10 + nsends, sizeof *argv);
	char **sendv = calloc(nsends + 1, sizeof *sendv);
	size_t k = 0;
	int fds[2];
	assert_true(argv && sendv);
	argv[k++] = "python3";
	argv[k++] = PEER_PY;
	argv[k++] = "--role";
	argv[k++] = role;
	argv[k++] = "--address";
	argv[k++] = address;
	argv[k++] = "--mode";
	argv[k++] = mode;
	for (size_t i = 0; i < nsends; i++) {
		/* "--send=-1": argparse would take "--send -Infinity" for an
		 * option. */
		assert_true(asprintf(&sendv[i], "--send=%s", sends[i].text) > 0);
		argv[k++] = sendv[i];
	}
	assert_int_equal(pipe2(fds, O_CLOEXEC), 0);
	fflush(NULL);
	p->pid = fork();
	assert_true(p->pid >= 0);
	if (p->pid == 0) {
		dup2(fds[1], STDOUT_FILENO); /* dup2 clears CLOEXEC on fd 1 */
		execv(PYTHON, (char *const *)argv);
		_exit(127);
	}
	g_peer = p->pid;
	close(fds[1]);
	p->out = fds[0];
	for (size_t i = 0; i < nsends; i++)
		free(sendv[i]);
	free(sendv);
	free(argv);
}

/* Reads the peer's stdout until EOF (or one line if line), with a deadline. */
static size_t peer_read(struct peer *p, char *buf, size_t n, int line)
{
	int64_t deadline = now_ms() + STEP_MS;
	size_t got = 0;
	while (got + 1 < n) {
		struct pollfd pfd = {.fd = p->out, .events = POLLIN};
		int left = (int)(deadline - now_ms());
		int ready = left > 0 ? poll(&pfd, 1, left) : 0;
		if (ready < 0 && errno == EINTR)
			continue;
		if (ready <= 0)
			fail_msg("peer.py: no output within %d ms", STEP_MS);
		ssize_t r = read(p->out, buf + got, line ? 1 : n - 1 - got);
		if (r < 0 && errno == EINTR)
			continue;
		assert_true(r >= 0);
		if (r == 0)
			break;
		got += (size_t)r;
		if (line && buf[got - 1] == '\n')
			break;
	}
	buf[got] = '\0';
	return got;
}

/* Waits for the peer to exit with code: 0 when it saw our close as a clean
 * EOF (RECV-2), 1 when it reported a protocol error.  Bounded. */
static void peer_wait(struct peer *p, int code)
{
	int64_t deadline = now_ms() + STEP_MS;
	int status = 0;
	for (;;) {
		pid_t r = waitpid(p->pid, &status, WNOHANG);
		if (r == p->pid)
			break;
		assert_true(r == 0 || errno == EINTR);
		if (now_ms() > deadline)
			fail_msg("peer.py did not exit within %d ms", STEP_MS);
		usleep(10000);
	}
	p->pid = -1;
	g_peer = -1;
	if (!WIFEXITED(status) || WEXITSTATUS(status) != code)
		fail_msg("peer.py ended with status 0x%x, expected exit %d", status, code);
}

/* Reads "ADDRESS <address>\n" from a Python parent. */
static void peer_address(struct peer *p, char *addr, size_t n)
{
	char line[512];
	size_t len = peer_read(p, line, sizeof line, 1);
	if (len < 9 || strncmp(line, "ADDRESS ", 8) != 0 || line[len - 1] != '\n')
		fail_msg("peer.py printed '%s', expected 'ADDRESS <address>'", line);
	line[len - 1] = '\0';
	assert_true(len - 8 < n);
	strcpy(addr, line + 8);
}

/* Prints up to 200 bytes of a payload from offset at - 40, with C escapes,
 * for failure messages. */
static void show(const char *label, const void *data, size_t len, size_t at)
{
	const unsigned char *s = data;
	size_t from = at > 40 ? at - 40 : 0, to = len - from > 200 ? from + 200 : len;
	fprintf(stderr, "  %s (%zu bytes) from offset %zu: %s\"", label, len, from,
		from ? "..." : "");
	for (size_t i = from; i < to; i++) {
		if (s[i] == '"' || s[i] == '\\')
			fprintf(stderr, "\\%c", s[i]);
		else if (s[i] >= 0x20 && s[i] < 0x7f)
			fputc(s[i], stderr);
		else
			fprintf(stderr, "\\x%02x", s[i]);
	}
	fprintf(stderr, "\"%s\n", to < len ? "..." : "");
}

static void assert_bytes(const char *what, const char *name, const void *want,
			 size_t wlen, const void *got, size_t glen)
{
	if (wlen == glen && memcmp(want, got, wlen) == 0)
		return;
	size_t i = 0;
	while (i < wlen && i < glen && ((const char *)want)[i] == ((const char *)got)[i])
		i++;
	fprintf(stderr, "%s [%s]: bytes differ at offset %zu\n", what, name, i);
	show("expected", want, wlen, i);
	show("actual", got, glen, i);
	fail_msg("%s [%s]: byte mismatch", what, name);
}

static const struct value_case *find_value(const char *name)
{
	for (size_t i = 0; i < NVALUES; i++)
		if (strcmp(values[i].name, name) == 0)
			return &values[i];
	fail_msg("no value case %s", name);
	return NULL;
}

/* Parses JSON text with json-c's tokener (which takes NaN and Infinity). */
static json_object *parse_text(const struct value_case *c)
{
	json_tokener *tok = json_tokener_new();
	size_t len = strlen(c->text);
	/* len + 1: the NUL tells the tokener a bare word or number ended. */
	json_object *v = json_tokener_parse_ex(tok, c->text, (int)len + 1);
	if (json_tokener_get_error(tok) != json_tokener_success ||
	    json_tokener_get_parse_end(tok) != len)
		fail_msg("json-c cannot parse the text of case %s", c->name);
	json_tokener_free(tok);
	return v;
}

static json_object *wrap_echo(json_object *v)
{
	json_object *w = json_object_new_object();
	json_object_object_add(w, "echo", json_object_get(v));
	json_object_object_add(w, "peer", json_object_new_string("python"));
	return w;
}

/* The expected reply: {"echo": <py>, "peer": "python"}. */
static char *echo_bytes(const char *py, size_t pylen, size_t *len)
{
	static const char a[] = "{\"echo\": ", b[] = ", \"peer\": \"python\"}";
	char *s = malloc(sizeof a + pylen + sizeof b);
	assert_non_null(s);
	memcpy(s, a, sizeof a - 1);
	memcpy(s + sizeof a - 1, py, pylen);
	memcpy(s + sizeof a - 1 + pylen, b, sizeof b);
	*len = sizeof a - 1 + pylen + sizeof b - 1;
	return s;
}

static void assert_encodes_to(const char *what, const char *name,
			      const json_object *v, const void *want, size_t wlen)
{
	duct_buf b = {0};
	assert_status(DUCT_OK, duct_json_encode(v, &b));
	assert_bytes(what, name, want, wlen, b.data, b.len);
	duct_buf_free(&b);
}

/* Checks one echo reply (all three ways: see the top of the file). */
static void check_echo_reply(const struct value_case *c, json_object *v,
			     const void *p, size_t n)
{
	size_t wlen;
	char *want = echo_bytes(c->py, strlen(c->py), &wlen);
	assert_bytes("reply vs Python's json.dumps", c->name, want, wlen, p, n);
	free(want);
	json_object *w = wrap_echo(v);
	assert_encodes_to("duct_json_encode vs reply", c->name, w, p, n);
	json_object_put(w);

	json_object *r = NULL, *e = NULL;
	assert_status(DUCT_OK, duct_json_decode(p, n, &r));
	assert_true(json_object_object_get_ex(r, "echo", &e));
	if (strstr(c->py, "NaN") == NULL && !json_object_equal(e, v))
		fail_msg("[%s]: the decoded echo differs from the value sent", c->name);
	assert_encodes_to("re-encoded decoded echo", c->name, e, c->py, strlen(c->py));
	json_object_put(r);
}

/* One value, one reply. */
static void exchange_one(duct *d, const char *name)
{
	const struct value_case *c = find_value(name);
	json_object *v = parse_text(c);
	const void *p;
	size_t n;
	assert_status(DUCT_OK, duct_send_value(d, v));
	assert_status(DUCT_OK, duct_recv(d, &p, &n));
	check_echo_reply(c, v, p, n);
	json_object_put(v);
}

/* 1 MiB of a 16-byte unit, and the unit as json.dumps escapes it. */
#define BIG_UNIT "0123456789\xc3\xa9\xf0\x9f\x98\x80"
#define BIG_UNIT_PY "0123456789\\u00e9\\ud83d\\ude00"
#define BIG_LEN ((size_t)1 << 20)

static void exchange_big(duct *d)
{
	const size_t units = BIG_LEN / (sizeof BIG_UNIT - 1);
	char *s = malloc(BIG_LEN), *py = malloc(units * (sizeof BIG_UNIT_PY - 1) + 3);
	size_t k = 0;
	assert_true(s && py && sizeof BIG_UNIT - 1 == 16);
	py[k++] = '"';
	for (size_t i = 0; i < units; i++) {
		memcpy(s + i * 16, BIG_UNIT, 16);
		memcpy(py + k, BIG_UNIT_PY, sizeof BIG_UNIT_PY - 1);
		k += sizeof BIG_UNIT_PY - 1;
	}
	py[k++] = '"';
	py[k] = '\0';
	json_object *v = json_object_new_string_len(s, (int)BIG_LEN);
	const struct value_case c = {"string_1MiB", NULL, py};
	const void *p;
	size_t n;
	assert_status(DUCT_OK, duct_send_value(d, v));
	assert_status(DUCT_OK, duct_recv(d, &p, &n));
	check_echo_reply(&c, v, p, n);
	json_object_put(v);
	free(s);
	free(py);
}

/* JSON-9: Python echoes depth lists nested (the reply is one deeper); the
 * C decoder takes 500 levels and refuses beyond its limit of 512, and the
 * duct stays usable either way (JSON-11). */
static void exchange_deep(duct *d, int depth, int c_status)
{
	size_t len = 2 * (size_t)depth, wlen;
	char *text = malloc(len + 1);
	const void *p;
	size_t n;
	json_object *r = NULL;
	assert_non_null(text);
	memset(text, '[', (size_t)depth);
	memset(text + depth, ']', (size_t)depth);
	text[len] = '\0';
	assert_status(DUCT_OK, duct_send(d, text, len));
	assert_status(DUCT_OK, duct_recv(d, &p, &n));
	char *want = echo_bytes(text, len, &wlen);
	assert_bytes("deep reply vs Python", "deep", want, wlen, p, n);
	assert_status(c_status, duct_json_decode(p, n, &r));
	if (r)
		assert_encodes_to("re-encoded deep reply", "deep", r, want, wlen);
	json_object_put(r);
	free(want);
	free(text);
}

/*
 * The whole conversation with an echo peer: every value in lock step, the
 * raw payloads, 1 MiB, then all the values pipelined (FRAME-6: N sends are
 * N recvs, whatever the socket coalesces).
 */
static void exchange_echo(duct *d)
{
	json_object *v[NVALUES];
	const void *p;
	size_t n;

	assert_status(DUCT_OK, duct_set_timeouts(d, STEP_MS, STEP_MS));
	for (size_t i = 0; i < NVALUES; i++) {
		v[i] = parse_text(&values[i]);
		/* JSON-2..6: the C encoder alone gives Python's bytes. */
		assert_encodes_to("duct_json_encode vs json.dumps", values[i].name,
				  v[i], values[i].py, strlen(values[i].py));
		assert_status(DUCT_OK, duct_send_value(d, v[i]));
		assert_status(DUCT_OK, duct_recv(d, &p, &n));
		check_echo_reply(&values[i], v[i], p, n);
	}

	for (size_t i = 0; i < NRAWS; i++) {
		const struct raw_case *c = &raws[i];
		json_object *r = NULL;
		assert_status(DUCT_OK, duct_send(d, c->raw, c->len));
		assert_status(DUCT_OK, duct_recv(d, &p, &n));
		assert_bytes("raw reply vs Python", c->name, c->reply, strlen(c->reply), p, n);
		assert_status(c->c_reply, duct_json_decode(p, n, &r));
		if (r && strcmp(c->name, "lone_surrogate") != 0)
			assert_encodes_to("re-encoded raw reply", c->name, r, p, n);
		json_object_put(r);
		/* The C decoder agrees with Python on the same bytes. */
		r = NULL;
		assert_status(c->c_raw, duct_json_decode((const uint8_t *)c->raw, c->len, &r));
		if (c->c_raw == DUCT_OK && strncmp(c->reply, "{\"echo\": ", 9) == 0) {
			json_object *w = wrap_echo(r);
			if (strcmp(c->name, "lone_surrogate") == 0)
				assert_encodes_to("json-c lone surrogate", c->name, w,
						  LONE_C, sizeof LONE_C - 1);
			else
				assert_encodes_to("C decode of raw vs Python", c->name, w,
						  c->reply, strlen(c->reply));
			json_object_put(w);
		}
		json_object_put(r);
		/* JSON-11 through the duct: duct_recv_value() reports the reply
		 * it cannot decode, and the next message still arrives. */
		void *val = NULL;
		assert_status(DUCT_OK, duct_send(d, c->raw, c->len));
		assert_status(c->c_reply, duct_recv_value(d, &val));
		if (c->c_reply != DUCT_OK)
			assert_null(val);
		duct_free_value(d, val);
	}

	exchange_big(d);
	exchange_deep(d, 500, DUCT_OK);
	exchange_deep(d, 600, DUCT_EJSON);

	for (size_t i = 0; i < NVALUES; i++)
		assert_status(DUCT_OK, duct_send_value(d, v[i]));
	assert_status(DUCT_OK, duct_send(d, "", 0));
	for (size_t i = 0; i < NVALUES; i++) {
		assert_status(DUCT_OK, duct_recv(d, &p, &n));
		check_echo_reply(&values[i], v[i], p, n);
		json_object_put(v[i]);
	}
	assert_status(DUCT_OK, duct_recv(d, &p, &n));
	assert_bytes("pipelined empty message", "empty", ERR_REPLY(0),
		     sizeof ERR_REPLY(0) - 1, p, n);
	assert_int_equal(duct_poll(d, 0), 0); /* nothing more came */
}

/* The C side of script mode: decode, re-encode, send back (Python checks
 * the bytes are its own). */
static void serve_script(duct *d, struct peer *p, size_t nsends)
{
	void *v;
	size_t count = 0;
	int rc;
	char *out = malloc(1 << 16);
	assert_non_null(out);
	assert_status(DUCT_OK, duct_set_timeouts(d, STEP_MS, STEP_MS));
	while ((rc = duct_recv_value(d, &v)) == DUCT_OK) {
		assert_status(DUCT_OK, duct_send_value(d, v));
		duct_free_value(d, v);
		count++;
	}
	assert_status(DUCT_EOF, rc);
	assert_int_equal(count, nsends);
	size_t len = peer_read(p, out, 1 << 16, 0);
	size_t lines = 0;
	for (size_t i = 0; i < len; i++)
		lines += out[i] == '\n';
	assert_int_equal(lines, nsends);
	free(out);
	peer_wait(p, 0);
}

/* A C parent binds; checks the address syntax (ADDR-1, ADDR-2).  path gets
 * the Unix path, or the whole TCP address, for c_parent_accept(). */
static duct *c_parent_bind(const char *address, char *path, size_t n)
{
	int err = 0;
	duct *d = duct_parent_new(address, &err);
	assert_non_null(d);
	assert_status(DUCT_OK, duct_bind(d)); /* LIFE-1 */
	const char *a = duct_address(d);
	assert_non_null(a);
	if (strncmp(address, "unix:", 5) == 0) {
		struct stat st;
		assert_true(strncmp(a, "unix:/", 6) == 0); /* ADDR-1 */
		if (address[5]) /* an explicit path is used as given */
			assert_string_equal(a, address);
		assert_true(strlen(a + 5) < n);
		strcpy(path, a + 5);
		assert_int_equal(stat(path, &st), 0);
		assert_true(S_ISSOCK(st.st_mode));
		if (!address[5]) { /* ADDR-3, SEC-2: a fresh path in a 0700 dir */
			char dir[256];
			snprintf(dir, sizeof dir, "%s", path);
			assert_int_equal(stat(dirname(dir), &st), 0);
			assert_int_equal(st.st_mode & 0777, 0700);
		}
	} else {
		const char *port = strrchr(a, ':') + 1;
		/* ADDR-2; ADDR-3: "tcp:" alone is loopback, ephemeral port. */
		assert_true(strncmp(a, "tcp:127.0.0.1:", 14) == 0 ||
			    strncmp(a, "tcp:[::1]:", 10) == 0);
		assert_true(strspn(port, "0123456789") == strlen(port));
		assert_true(atoi(port) > 0 && atoi(port) < 65536);
		assert_true(strlen(a) < n);
		strcpy(path, a);
	}
	return d;
}

/* LIFE-2/3: one child accepted; the listener is closed and its Unix path
 * (with the private directory) is gone, so nobody else can connect. */
static void c_parent_accept(duct *d, const char *address, const char *where)
{
	assert_status(DUCT_OK, duct_listen(d, STEP_MS));
	assert_int_equal(duct_listener_fileno(d), -1);
	assert_true(duct_fileno(d) >= 0);
	if (strncmp(address, "unix:", 5) == 0) {
		char dir[256];
		assert_int_equal(access(where, F_OK), -1);
		assert_int_equal(errno, ENOENT);
		snprintf(dir, sizeof dir, "%s", where);
		if (strcmp(address, "unix:") == 0) {
			assert_int_equal(access(dirname(dir), F_OK), -1);
			assert_int_equal(errno, ENOENT);
		}
	} else {
		/* A second TCP child is refused: the port is closed. */
		int err = 0;
		duct *other = duct_child_new(where, &err);
		assert_non_null(other);
		assert_status(DUCT_OK, duct_set_connect_retry(other, 0, 0));
		assert_status(DUCT_ECONNECT, duct_connect(other));
		assert_int_equal(duct_last_errno(other), ECONNREFUSED);
		duct_free(other);
	}
}

/* ---- Tests -------------------------------------------------------------- */

/* C parent + Python child (LIFE-1..3, ADDR-1/ADDR-2, FRAME-1, FRAME-6). */
static void c_parent_python_child(void **state, const char *address)
{
	struct fixture *f = *state;
	char where[256];
	require_python();
	f->d = c_parent_bind(address, where, sizeof where);
	peer_start(&f->peer, "child", duct_address(f->d), "echo", NULL, 0);
	c_parent_accept(f->d, address, where);
	exchange_echo(f->d);
	duct_close(f->d); /* the peer sees EOF and exits 0 */
	peer_wait(&f->peer, 0);
}

static void interop_c_parent_python_child_unix(void **state)
{
	c_parent_python_child(state, "unix:");
}

static void interop_c_parent_python_child_tcp(void **state)
{
	c_parent_python_child(state, "tcp:");
}

/* ADDR-1: a parent at an explicit path; the path is removed on accept, the
 * directory (not the library's) is left alone. */
static void interop_c_parent_python_child_explicit_path(void **state)
{
	struct fixture *f = *state;
	char address[128];
	struct stat st;
	strcpy(f->dir, "/tmp/duct-interop-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(address, sizeof address, "unix:%s/explicit.sock", f->dir);
	c_parent_python_child(state, address);
	assert_int_equal(access(address + 5, F_OK), -1);
	assert_int_equal(stat(f->dir, &st), 0);
}

/* Python parent + C child: the child learns the address from the parent's
 * "ADDRESS" line and reports the same address once connected (ADDR-1/2). */
static void python_parent_c_child(void **state, const char *address)
{
	struct fixture *f = *state;
	char addr[256];
	int err = 0;
	require_python();
	peer_start(&f->peer, "parent", address, "echo", NULL, 0);
	peer_address(&f->peer, addr, sizeof addr);
	assert_true(strncmp(addr, address, strlen(address)) == 0);
	f->d = duct_child_new(addr, &err);
	assert_non_null(f->d);
	assert_status(DUCT_OK, duct_connect(f->d));
	assert_non_null(duct_address(f->d));
	assert_string_equal(duct_address(f->d), addr);
	exchange_echo(f->d);
	duct_close(f->d);
	peer_wait(&f->peer, 0);
	if (address[0] == 'u') /* the peer removed its path (LIFE-3) */
		assert_int_equal(access(addr + 5, F_OK), -1);
}

static void interop_python_parent_c_child_unix(void **state)
{
	python_parent_c_child(state, "unix:");
}

static void interop_python_parent_c_child_tcp(void **state)
{
	python_parent_c_child(state, "tcp:");
}

/* ADDR-2: a host name works as well as a numeric host; the connected
 * duct reports the numeric address it reached. */
static void interop_python_parent_c_child_tcp_localhost(void **state)
{
	struct fixture *f = *state;
	char addr[256], byname[256];
	int err = 0;
	require_python();
	peer_start(&f->peer, "parent", "tcp:localhost:0", "echo", NULL, 0);
	peer_address(&f->peer, addr, sizeof addr);
	assert_true(strncmp(addr, "tcp:127.0.0.1:", 14) == 0);
	snprintf(byname, sizeof byname, "tcp:localhost:%s", addr + 14);
	f->d = duct_child_new(byname, &err);
	assert_non_null(f->d);
	assert_status(DUCT_OK, duct_connect(f->d));
	assert_string_equal(duct_address(f->d), addr);
	exchange_one(f->d, "emoji_astral");
	duct_close(f->d);
	peer_wait(&f->peer, 0);
}

/* FRAME-1, the other way round: the Python peer refuses a bad magic byte
 * and a frame cut short, with a message and exit status 1. */
static void interop_python_peer_rejects_bad_frames(void **state)
{
	static const struct {
		const char *bytes;
		size_t len;
	} bad[] = {
		{"X\0\0\0\0", 5},              /* bad magic */
		{"T\0\0\0\x09[1, ", 9},        /* 4 of 9 payload bytes, then EOF */
		{"T\0\0", 3},                    /* EOF inside the length */
	};
	struct fixture *f = *state;
	char where[256];
	require_python();
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		f->d = c_parent_bind("unix:", where, sizeof where);
		peer_start(&f->peer, "child", duct_address(f->d), "echo", NULL, 0);
		c_parent_accept(f->d, "unix:", where);
		assert_int_equal(write(duct_fileno(f->d), bad[i].bytes, bad[i].len),
				 (ssize_t)bad[i].len);
		duct_close(f->d);
		peer_wait(&f->peer, 1);
		close(f->peer.out);
		f->peer.out = -1;
		duct_free(f->d);
		f->d = NULL;
	}
}

/* LIFE-5: a C child started before its parent retries on ENOENT. */
static void interop_c_child_connect_retry_unix(void **state)
{
	struct fixture *f = *state;
	char addr[128];
	int err = 0;
	require_python();
	strcpy(f->dir, "/tmp/duct-interop-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(addr, sizeof addr, "unix:%s/parent.sock", f->dir);
	f->d = duct_child_new(addr, &err);
	assert_non_null(f->d);
	/* No parent yet: without retries the connect fails at once. */
	assert_status(DUCT_OK, duct_set_connect_retry(f->d, 0, 0));
	assert_status(DUCT_ECONNECT, duct_connect(f->d));
	assert_int_equal(duct_last_errno(f->d), ENOENT);
	/* The parent starts now; python's startup makes the first attempts
	 * fail with ENOENT, and the retries carry the child through. */
	peer_start(&f->peer, "parent", addr, "echo", NULL, 0);
	assert_status(DUCT_OK, duct_set_connect_retry(f->d, 100, 100));
	assert_status(DUCT_OK, duct_connect(f->d));
	char line[256];
	peer_address(&f->peer, line, sizeof line);
	assert_string_equal(line, addr);
	assert_string_equal(duct_address(f->d), addr);

	exchange_one(f->d, "e_acute");
	duct_close(f->d);
	peer_wait(&f->peer, 0);
}

/* Python sends (json.dumps bytes); C decodes and re-encodes; Python checks
 * the bytes came back identical (JSON-2..6 in the Python -> C direction). */
static void interop_script_c_parent_unix(void **state)
{
	struct fixture *f = *state;
	char where[256];
	require_python();
	f->d = c_parent_bind("unix:", where, sizeof where);
	peer_start(&f->peer, "child", duct_address(f->d), "script", values, NVALUES);
	c_parent_accept(f->d, "unix:", where);
	serve_script(f->d, &f->peer, NVALUES);
}

static void interop_script_python_parent_tcp(void **state)
{
	struct fixture *f = *state;
	char addr[256];
	int err = 0;
	require_python();
	peer_start(&f->peer, "parent", "tcp:", "script", values, NVALUES);
	peer_address(&f->peer, addr, sizeof addr);
	f->d = duct_child_new(addr, &err);
	assert_non_null(f->d);
	assert_status(DUCT_OK, duct_connect(f->d));
	serve_script(f->d, &f->peer, NVALUES);
}

int main(void)
{
	signal(SIGPIPE, SIG_IGN);
	signal(SIGALRM, on_alarm);
	setenv("PYTHONUTF8", "1", 1); /* argv texts are UTF-8 */
	setenv("PYTHONDONTWRITEBYTECODE", "1", 1);
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(interop_c_parent_python_child_unix),
		T(interop_c_parent_python_child_tcp),
		T(interop_c_parent_python_child_explicit_path),
		T(interop_python_parent_c_child_unix),
		T(interop_python_parent_c_child_tcp),
		T(interop_python_parent_c_child_tcp_localhost),
		T(interop_c_child_connect_retry_unix),
		T(interop_python_peer_rejects_bad_frames),
		T(interop_script_c_parent_unix),
		T(interop_script_python_parent_tcp),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
