/* Messages over real sockets: send, recv outcomes, poll, timeouts, close,
 * values, locking.  A raw socket end plays the peer where the test needs
 * to put exact bytes on the wire. */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "duct/json.h"
#include "testutil.h"

static long elapsed_ms(const struct timespec *t0)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (t.tv_sec - t0->tv_sec) * 1000 + (t.tv_nsec - t0->tv_nsec) / 1000000;
}

/* FRAME-1, FRAME-3: what duct_send puts on the wire, byte for byte. */
static void io_send_wire_bytes(void **state)
{
	(void)state;
	int raw;
	duct *d = tu_raw_pair(&raw);
	assert_status(DUCT_OK, duct_send(d, "hi", 2));
	assert_status(DUCT_OK, duct_send(d, NULL, 0));
	uint8_t got[12];
	size_t have = 0;
	while (have < sizeof got) {
		ssize_t n = read(raw, got + have, sizeof got - have);
		assert_true(n > 0);
		have += (size_t)n;
	}
	assert_memory_equal(got, "\x54\0\0\0\2hi\x54\0\0\0\0", 12);
	duct_free(d);
	close(raw);
}

/* RECV-1, RECV-2: messages, then a clean close, which stays a close. */
static void io_recv_messages_then_eof(void **state)
{
	(void)state;
	int raw;
	duct *d = tu_raw_pair(&raw);
	tu_raw_write(raw, "\x54\0\0\0\3abc\x54\0\0\0\0\x54\0\0\0\1z", 19);
	close(raw);
	tu_expect_msg(d, "abc", 3);
	tu_expect_msg(d, NULL, 0);
	tu_expect_msg(d, "z", 1);
	const void *m;
	size_t n;
	assert_status(DUCT_EOF, duct_recv(d, &m, &n));
	assert_status(DUCT_EOF, duct_recv(d, &m, &n));
	assert_int_equal(duct_poll(d, 0), 1); /* POLL-1: EOF is readable */
	duct_free(d);
}

/* RECV-3: the peer closes inside the header and inside the payload. */
static void io_recv_truncated(void **state)
{
	(void)state;
	const char *cuts[] = {"\x54", "\x54\0\0", "\x54\0\0\0\5", "\x54\0\0\0\5ab"};
	const size_t lens[] = {1, 3, 5, 7};
	for (size_t i = 0; i < 4; i++) {
		int raw;
		duct *d = tu_raw_pair(&raw);
		tu_raw_write(raw, "\x54\0\0\0\1k", 6);
		tu_raw_write(raw, cuts[i], lens[i]);
		close(raw);
		tu_expect_msg(d, "k", 1);
		const void *m;
		size_t n;
		assert_status(DUCT_ETRUNCATED, duct_recv(d, &m, &n));
		assert_status(DUCT_ETRUNCATED, duct_recv(d, &m, &n));
		duct_free(d);
	}
}

/* RECV-4, RECV-5, RECV-7: bad magic after a good frame; the connection is
 * shut down so the peer sees EOF, and the error is sticky. */
static void io_recv_bad_magic(void **state)
{
	(void)state;
	int raw;
	duct *d = tu_raw_pair(&raw);
	tu_raw_write(raw, "\x54\0\0\0\1kGET / HTTP/1.0\r\n", 22);
	tu_expect_msg(d, "k", 1);
	const void *m;
	size_t n;
	assert_status(DUCT_EMAGIC, duct_recv(d, &m, &n));
	assert_status(DUCT_EMAGIC, duct_recv(d, &m, &n));
	assert_int_equal(duct_poll(d, 0), 1);
	char buf[8];
	assert_int_equal(read(raw, buf, sizeof buf), 0); /* peer sees EOF */
	assert_status(DUCT_EPIPE, duct_send(d, "x", 1));
	duct_free(d);
	close(raw);
}

/* SEC-1, RECV-6: 0xFFFFFFFF announced -> refused on the header, without an
 * allocation of that size; a smaller limit works the same way. */
static void io_recv_too_big(void **state)
{
	(void)state;
	int raw;
	duct *d = tu_raw_pair(&raw);
	tu_alloc_install();
	tu_raw_write(raw, "\x54\xff\xff\xff\xff", 5);
	const void *m;
	size_t n;
	assert_status(DUCT_ETOOBIG, duct_recv(d, &m, &n));
	assert_true(tu_alloc_bytes <= (64u << 10));
	tu_alloc_uninstall();
	duct_free(d);
	close(raw);

	d = tu_raw_pair(&raw);
	assert_status(DUCT_OK, duct_set_max_message(d, 3));
	tu_raw_write(raw, "\x54\0\0\0\3abc\x54\0\0\0\4abcd", 17);
	tu_expect_msg(d, "abc", 3);
	assert_status(DUCT_ETOOBIG, duct_recv(d, &m, &n));
	duct_free(d);
	close(raw);
}

/* FRAME-7: the peer dribbles frames one byte per write. */
static void io_recv_byte_at_a_time(void **state)
{
	(void)state;
	int raw;
	duct *d = tu_raw_pair(&raw);
	static const uint8_t stream[] = "\x54\0\0\0\5hello\x54\0\0\0\0\x54\0\0\0\2ok";
	pid_t pid = fork();
	if (pid == 0) {
		for (size_t i = 0; i < sizeof stream - 1; i++) {
			if (write(raw, stream + i, 1) != 1)
				_exit(1);
			usleep(500);
		}
		_exit(0);
	}
	close(raw);
	tu_expect_msg(d, "hello", 5);
	tu_expect_msg(d, NULL, 0);
	tu_expect_msg(d, "ok", 2);
	const void *m;
	size_t n;
	assert_status(DUCT_EOF, duct_recv(d, &m, &n));
	waitpid(pid, NULL, 0);
	duct_free(d);
}

struct bulk {
	duct *d;
	size_t len;
	int count;
	int rc;
};

static void *bulk_sender(void *arg)
{
	struct bulk *b = arg;
	uint8_t *p = malloc(b->len ? b->len : 1);
	for (int i = 0; i < b->count && b->rc == DUCT_OK; i++) {
		for (size_t k = 0; k < b->len; k++)
			p[k] = (uint8_t)(k * 31 + (size_t)i);
		b->rc = duct_send(b->d, p, b->len);
	}
	free(p);
	return NULL;
}

/* Out of memory while a large message arrives is reported, not a crash. */
static void io_recv_enomem(void **state)
{
	(void)state;
	duct *p, *c;
	assert_status(DUCT_OK, duct_pair(&p, &c));
	struct bulk b = {p, 1u << 20, 1, DUCT_OK};
	pthread_t th;
	pthread_create(&th, NULL, bulk_sender, &b);
	tu_alloc_install();
	tu_fail_after = 0;
	const void *m;
	size_t n;
	assert_status(DUCT_ENOMEM, duct_recv(c, &m, &n));
	tu_alloc_uninstall();
	assert_status(DUCT_OK, duct_recv(c, &m, &n)); /* nothing was lost */
	assert_int_equal(n, b.len);
	pthread_join(th, NULL);
	duct_free(p);
	duct_free(c);
}

/* FRAME-3, SEND-1: 16 MiB messages over both transports, intact; far more
 * than a socket buffer, so the send loops over short writes. */
static void io_send_16mib(void **state)
{
	(void)state;
	const char *addrs[] = {"unix:", "tcp:"};
	for (int t = 0; t < 2; t++) {
		duct *p, *c;
		tu_connect_over(addrs[t], &p, &c);
		struct bulk b = {c, 16u << 20, 2, DUCT_OK};
		pthread_t th;
		pthread_create(&th, NULL, bulk_sender, &b);
		for (int i = 0; i < 2; i++) {
			const uint8_t *m;
			size_t n;
			assert_status(DUCT_OK, duct_recv(p, (const void **)&m, &n));
			assert_int_equal(n, b.len);
			for (size_t k = 0; k < n; k += 997)
				assert_int_equal(m[k], (uint8_t)(k * 31 + (size_t)i));
		}
		pthread_join(th, NULL);
		assert_status(DUCT_OK, b.rc);
		duct_free(c);
		duct_free(p);
	}
}

/* POLL-2, POLL-3: 0 never blocks; a timeout is honoured; true on data, on a
 * partial frame and on EOF; poll never consumes. */
static void io_poll_outcomes(void **state)
{
	(void)state;
	int raw;
	duct *d = tu_raw_pair(&raw);
	struct timespec t0;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (int i = 0; i < 100; i++)
		assert_int_equal(duct_poll(d, 0), 0);
	assert_true(elapsed_ms(&t0) < 500);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_int_equal(duct_poll(d, 200), 0);
	long ms = elapsed_ms(&t0);
	assert_true(ms >= 200 && ms < 3000);
	tu_raw_write(raw, "\x54\0\0", 3); /* part of a header */
	assert_int_equal(duct_poll(d, 1000), 1);
	tu_raw_write(raw, "\0\1x", 3);
	assert_int_equal(duct_poll(d, 0), 1);
	assert_int_equal(duct_poll(d, 0), 1);
	tu_expect_msg(d, "x", 1);
	assert_int_equal(duct_poll(d, 0), 0);
	close(raw);
	assert_int_equal(duct_poll(d, -1), 1);
	duct_free(d);
}

/* Messages read together in one read() are all reported by poll. */
static void io_poll_buffered_frames(void **state)
{
	(void)state;
	int raw;
	duct *d = tu_raw_pair(&raw);
	tu_raw_write(raw, "\x54\0\0\0\1a\x54\0\0\0\1b", 12);
	tu_expect_msg(d, "a", 1);
	/* "b" is in libduct's buffer now, not in the socket. */
	assert_int_equal(duct_poll(d, 0), 1);
	tu_expect_msg(d, "b", 1);
	assert_int_equal(duct_poll(d, 0), 0);
	duct_free(d);
	close(raw);
}

/* TIME-1, TIME-2: a recv timeout loses nothing already received. */
static void io_recv_timeout_keeps_partial(void **state)
{
	(void)state;
	int raw;
	duct *d = tu_raw_pair(&raw);
	assert_status(DUCT_OK, duct_set_timeouts(d, 1000, 100));
	const void *m;
	size_t n;
	struct timespec t0;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_status(DUCT_ETIMEDOUT, duct_recv(d, &m, &n));
	long ms = elapsed_ms(&t0);
	assert_true(ms >= 90 && ms < 3000);
	tu_raw_write(raw, "\x54\0\0\0\4ab", 7);
	assert_status(DUCT_ETIMEDOUT, duct_recv(d, &m, &n));
	tu_raw_write(raw, "cd", 2);
	tu_expect_msg(d, "abcd", 4);
	duct_free(d);
	close(raw);
}

/* SEND-6: a payload that cannot be framed is refused before any write. */
static void io_send_too_large(void **state)
{
	(void)state;
	if (sizeof(size_t) <= 4)
		skip();
	int raw;
	duct *d = tu_raw_pair(&raw);
	static const char one = 'x';
	assert_status(DUCT_EINVAL, duct_send(d, &one, (size_t)UINT32_MAX + 1));
	assert_status(DUCT_OK, duct_send(d, &one, 1)); /* still framed */
	duct_free(d);
	close(raw);
}

/* CLOSE-1: idempotent; a closed duct refuses work with ESTATE. */
static void io_close_twice(void **state)
{
	(void)state;
	duct *p, *c;
	assert_status(DUCT_OK, duct_pair(&p, &c));
	assert_status(DUCT_OK, duct_close(p));
	assert_status(DUCT_OK, duct_close(p));
	assert_int_equal(duct_fileno(p), -1);
	const void *m;
	size_t n;
	assert_status(DUCT_ESTATE, duct_send(p, "x", 1));
	assert_status(DUCT_ESTATE, duct_recv(p, &m, &n));
	assert_status(DUCT_ESTATE, duct_poll(p, 0));
	assert_status(DUCT_EOF, duct_recv(c, &m, &n)); /* CLOSE-4 */
	duct_free(p);
	duct_free(c);
}

/* CLOSE-2, CLOSE-3: close in a forked process leaves the connection
 * working here; shutdown in a forked process ends it for everyone. */
static void io_close_fork_no_shutdown(void **state)
{
	(void)state;
	duct *p, *c;
	assert_status(DUCT_OK, duct_pair(&p, &c));
	pid_t pid = fork();
	if (pid == 0) {
		duct_close(p);
		_exit(0);
	}
	waitpid(pid, NULL, 0);
	assert_status(DUCT_OK, duct_send(p, "still", 5));
	tu_expect_msg(c, "still", 5);
	pid = fork();
	if (pid == 0) {
		_exit(duct_shutdown(p) == DUCT_OK ? 0 : 1);
	}
	int status;
	waitpid(pid, &status, 0);
	assert_int_equal(WEXITSTATUS(status), 0);
	const void *m;
	size_t n;
	assert_status(DUCT_EOF, duct_recv(c, &m, &n));
	assert_status(DUCT_EPIPE, duct_send(p, "x", 1));
	duct_free(p);
	duct_free(c);
}

/* JSON-1, JSON-11: values through the default serializer; a payload that
 * is not JSON costs that message only. */
static void io_recv_value_json(void **state)
{
	(void)state;
	duct *p, *c;
	assert_status(DUCT_OK, duct_pair(&p, &c));
	json_object *v = json_tokener_parse("{\"a\": [1, 2.5, \"\\u00e9\"]}");
	assert_status(DUCT_OK, duct_send_value(p, v));
	assert_status(DUCT_OK, duct_send(p, "{not json", 9));
	assert_status(DUCT_OK, duct_send_value(p, v));
	void *got;
	assert_status(DUCT_OK, duct_recv_value(c, &got));
	assert_true(json_object_equal(v, got));
	duct_free_value(c, got);
	assert_status(DUCT_EJSON, duct_recv_value(c, &got));
	assert_null(got);
	assert_status(DUCT_OK, duct_recv_value(c, &got));
	assert_true(json_object_equal(v, got));
	duct_free_value(c, got);
	duct_free_value(c, NULL);
	json_object_put(v);
	duct_free(p);
	duct_free(c);
}

static int upper_encode(void *ctx, const void *value, duct_buf *out)
{
	(void)ctx;
	const char *s = value;
	for (; *s; s++) {
		char u = (char)(*s >= 'a' && *s <= 'z' ? *s - 32 : *s);
		int rc = duct_buf_append(out, &u, 1);
		if (rc)
			return rc;
	}
	return DUCT_OK;
}

static int upper_decode(void *ctx, const uint8_t *data, size_t len, void **value)
{
	(void)ctx;
	if (len == 0)
		return DUCT_EJSON;
	char *s = malloc(len + 1);
	memcpy(s, data, len);
	s[len] = '\0';
	*value = s;
	return DUCT_OK;
}

static void upper_free(void *ctx, void *value)
{
	(void)ctx;
	free(value);
}

/* JSON-1: serializers are pluggable per duct. */
static void io_set_serializer_custom(void **state)
{
	(void)state;
	duct *p, *c;
	assert_status(DUCT_OK, duct_pair(&p, &c));
	duct_serializer bad = {upper_encode, NULL, upper_free, NULL};
	assert_status(DUCT_EINVAL, duct_set_serializer(p, &bad));
	duct_serializer up = {upper_encode, upper_decode, upper_free, NULL};
	assert_status(DUCT_OK, duct_set_serializer(p, &up));
	assert_status(DUCT_OK, duct_set_serializer(c, &up));
	assert_status(DUCT_OK, duct_send_value(p, "shout"));
	void *got;
	assert_status(DUCT_OK, duct_recv_value(c, &got));
	assert_string_equal(got, "SHOUT");
	duct_free_value(c, got);
	assert_status(DUCT_OK, duct_send(p, NULL, 0));
	assert_status(DUCT_EJSON, duct_recv_value(c, &got));
	assert_status(DUCT_OK, duct_set_serializer(c, NULL)); /* back to JSON */
	assert_status(DUCT_OK, duct_send(p, "[1]", 3));
	assert_status(DUCT_OK, duct_recv_value(c, &got));
	assert_int_equal(json_object_array_length(got), 1);
	duct_free_value(c, got);
	duct_free(p);
	duct_free(c);
}

/* No allocation per message in steady state, raw or through JSON encode. */
static void io_send_recv_steady_state_no_alloc(void **state)
{
	(void)state;
	duct *p, *c;
	assert_status(DUCT_OK, duct_pair(&p, &c));
	json_object *v = json_tokener_parse("{\"seq\": 1, \"data\": \"xxxxxxxx\"}");
	const void *m;
	size_t n;
	for (int i = 0; i < 10; i++) { /* warm-up: buffers reach their size */
		assert_status(DUCT_OK, duct_send_value(p, v));
		assert_status(DUCT_OK, duct_recv(c, &m, &n));
	}
	tu_alloc_install();
	for (int i = 0; i < 10000; i++) {
		assert_status(DUCT_OK, duct_send(p, "0123456789", (size_t)(i % 11)));
		assert_status(DUCT_OK, duct_recv(c, &m, &n));
		assert_int_equal(n, i % 11);
		assert_status(DUCT_OK, duct_send_value(p, v));
		assert_status(DUCT_OK, duct_recv(c, &m, &n));
	}
	assert_int_equal(tu_allocs, 0);
	tu_alloc_uninstall();
	json_object_put(v);
	duct_free(p);
	duct_free(c);
}

/* FRAME-5: each direction is independent: both sides send before either
 * reads. */
static void io_send_both_directions(void **state)
{
	(void)state;
	duct *p, *c;
	assert_status(DUCT_OK, duct_pair(&p, &c));
	for (int i = 0; i < 3; i++) {
		assert_status(DUCT_OK, duct_send(p, "down", 4));
		assert_status(DUCT_OK, duct_send(c, "up", 2));
	}
	for (int i = 0; i < 3; i++) {
		tu_expect_msg(c, "down", 4);
		tu_expect_msg(p, "up", 2);
	}
	duct_free(p);
	duct_free(c);
}

struct seq_sender {
	duct *d;
	int count;
	int rc;
};

static void *seq_send(void *arg)
{
	struct seq_sender *s = arg;
	uint8_t buf[64];
	for (int i = 0; i < s->count && s->rc == DUCT_OK; i++) {
		size_t len = 4 + (size_t)(i % 60);
		memset(buf, (uint8_t)i, len);
		memcpy(buf, &i, 4);
		s->rc = duct_send(s->d, buf, len);
	}
	return NULL;
}

/* FRAME-6: 10^5 messages in a row, none lost, merged, split or reordered,
 * over both transports. */
static void io_recv_many_in_order(void **state)
{
	(void)state;
	const char *addrs[] = {"unix:", "tcp:"};
	for (int t = 0; t < 2; t++) {
		duct *p, *c;
		tu_connect_over(addrs[t], &p, &c);
		struct seq_sender s = {c, 100000, DUCT_OK};
		pthread_t th;
		pthread_create(&th, NULL, seq_send, &s);
		for (int i = 0; i < s.count; i++) {
			const uint8_t *m;
			size_t n;
			int seq;
			assert_status(DUCT_OK, duct_recv(p, (const void **)&m, &n));
			assert_int_equal(n, 4 + (size_t)(i % 60));
			memcpy(&seq, m, 4);
			assert_int_equal(seq, i);
			if (n > 4)
				assert_int_equal(m[n - 1], (uint8_t)i);
		}
		pthread_join(th, NULL);
		assert_status(DUCT_OK, s.rc);
		duct_free(c);
		assert_status(DUCT_EOF, duct_recv(p, (const void **)&(const void *){0}, &(size_t){0}));
		duct_free(p);
	}
}

int main(void)
{
	signal(SIGPIPE, SIG_DFL); /* prove the library never needs SIG_IGN */
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(io_send_wire_bytes),
		cmocka_unit_test(io_recv_messages_then_eof),
		cmocka_unit_test(io_recv_truncated),
		cmocka_unit_test(io_recv_bad_magic),
		cmocka_unit_test(io_recv_too_big),
		cmocka_unit_test(io_recv_byte_at_a_time),
		cmocka_unit_test(io_send_16mib),
		cmocka_unit_test(io_recv_enomem),
		cmocka_unit_test(io_poll_outcomes),
		cmocka_unit_test(io_poll_buffered_frames),
		cmocka_unit_test(io_recv_timeout_keeps_partial),
		cmocka_unit_test(io_send_too_large),
		cmocka_unit_test(io_close_twice),
		cmocka_unit_test(io_close_fork_no_shutdown),
		cmocka_unit_test(io_recv_value_json),
		cmocka_unit_test(io_set_serializer_custom),
		cmocka_unit_test(io_send_recv_steady_state_no_alloc),
		cmocka_unit_test(io_send_both_directions),
		cmocka_unit_test(io_recv_many_in_order),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
