/* Batches: duct_send_many() and duct_recv_many() (SEND-7, RECV-8), their
 * error paths, their system calls and their allocations.  This file
 * interposes sendmsg and read, as test_syscalls does: libduct is linked
 * statically, so its calls resolve to these. */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "testutil.h"

static int counting;
static size_t sendmsg_calls, read_calls;

ssize_t sendmsg(int fd, const struct msghdr *msg, int flags)
{
	static ssize_t (*real)(int, const struct msghdr *, int);
	if (!real)
		real = (ssize_t(*)(int, const struct msghdr *, int))dlsym(RTLD_NEXT, "sendmsg");
	sendmsg_calls += counting;
	return real(fd, msg, flags);
}

ssize_t read(int fd, void *buf, size_t n)
{
	static ssize_t (*real)(int, void *, size_t);
	if (!real)
		real = (ssize_t(*)(int, void *, size_t))dlsym(RTLD_NEXT, "read");
	read_calls += counting;
	return real(fd, buf, n);
}

/* Reads exactly n bytes (loops: one read is not "got n bytes"). */
static void raw_read(int fd, void *p, size_t n)
{
	size_t have = 0;
	while (have < n) {
		ssize_t k = read(fd, (uint8_t *)p + have, n - have);
		assert_true(k > 0);
		have += (size_t)k;
	}
}

static int raw_readable(int fd)
{
	struct pollfd p = {.fd = fd, .events = POLLIN};
	return poll(&p, 1, 0) == 1;
}

/* Message i of a test batch: length i % 23 (0 included), bytes i + k. */
static size_t msg_len(size_t i) { return i % 23; }

static void fill_msgs(duct_iov *m, uint8_t (*bufs)[32], size_t n)
{
	for (size_t i = 0; i < n; i++) {
		for (size_t k = 0; k < 32; k++)
			bufs[i][k] = (uint8_t)(i + k);
		m[i] = (duct_iov){msg_len(i) ? bufs[i] : NULL, msg_len(i)};
	}
}

static void check_msg(const void *p, size_t len, size_t i)
{
	assert_int_equal(len, msg_len(i));
	for (size_t k = 0; k < len; k++)
		assert_int_equal(((const uint8_t *)p)[k], (uint8_t)(i + k));
}

/* SEND-7: a batch is the same bytes on the wire as its messages sent one
 * by one with duct_send(). */
static void batch_send_many_wire_bytes(void **state)
{
	(void)state;
	enum { N = 40 };
	duct_iov m[N];
	uint8_t bufs[N][32];
	fill_msgs(m, bufs, N);
	int ra, rb;
	duct *a = tu_raw_pair(&ra), *b = tu_raw_pair(&rb);
	size_t sent = 99, total = 0;
	assert_status(DUCT_OK, duct_send_many(a, m, N, &sent));
	assert_int_equal(sent, N);
	for (size_t i = 0; i < N; i++) {
		assert_status(DUCT_OK, duct_send(b, m[i].base, m[i].len));
		total += DUCT_HEADER_SIZE + m[i].len;
	}
	uint8_t *wa = malloc(total), *wb = malloc(total);
	raw_read(ra, wa, total);
	raw_read(rb, wb, total);
	assert_memory_equal(wa, wb, total);
	assert_memory_equal(wa, "\x54\0\0\0\0\x54\0\0\0\1\1", 11);
	assert_false(raw_readable(ra)); /* nothing more */
	free(wa);
	free(wb);
	duct_free(a);
	duct_free(b);
	close(ra);
	close(rb);
}

/* SEND-7, RECV-8: more messages than one sendmsg() may carry: one call per
 * IOV_MAX / 2 messages, every message intact and in order; the receiver
 * takes them in far fewer calls than messages. */
static void batch_send_many_beyond_iov_max(void **state)
{
	(void)state;
	enum { N = 3000 };
	static duct_iov m[N];
	static uint8_t bufs[N][32];
	fill_msgs(m, bufs, N);
	duct *p, *c;
	assert_status(DUCT_OK, duct_pair(&p, &c));
	size_t sent;
	sendmsg_calls = 0;
	counting = 1;
	assert_status(DUCT_OK, duct_send_many(p, m, N, &sent));
	counting = 0;
	assert_int_equal(sent, N);
	size_t per_call = IOV_MAX / 2;
	assert_int_equal(sendmsg_calls, (N + per_call - 1) / per_call);
	duct_iov got[N];
	size_t i = 0, calls = 0;
	while (i < N) {
		size_t k;
		assert_status(DUCT_OK, duct_recv_many(c, got, N, &k));
		for (size_t j = 0; j < k; j++)
			check_msg(got[j].base, got[j].len, i + j);
		i += k;
		calls++;
	}
	assert_int_equal(i, N);
	assert_true(calls < 20);
	duct_free(p);
	duct_free(c);
}

/* n == 0 sends nothing and succeeds; sent may be NULL. */
static void batch_send_many_empty(void **state)
{
	(void)state;
	int raw;
	duct *d = tu_raw_pair(&raw);
	size_t sent = 99;
	assert_status(DUCT_OK, duct_send_many(d, NULL, 0, &sent));
	assert_int_equal(sent, 0);
	duct_iov one = {"x", 1};
	assert_status(DUCT_OK, duct_send_many(d, &one, 1, NULL));
	uint8_t got[6];
	raw_read(raw, got, sizeof got);
	assert_memory_equal(got, "\x54\0\0\0\1x", 6);
	assert_false(raw_readable(raw));
	duct_free(d);
	close(raw);
}

/* SEND-6: a batch holding an unframable message, or a NULL array, writes
 * nothing at all, and the duct stays usable. */
static void batch_send_many_einval(void **state)
{
	(void)state;
	int raw;
	duct *d = tu_raw_pair(&raw);
	assert_status(DUCT_OK, duct_set_timeouts(d, 200, 200));
	size_t sent = 99;
	assert_status(DUCT_EINVAL, duct_send_many(d, NULL, 3, &sent));
	assert_int_equal(sent, 0);
	if (sizeof(size_t) > 4) {
		static const char x = 'x';
		duct_iov m[3] = {{"a", 1}, {&x, (size_t)UINT32_MAX + 1}, {"b", 1}};
		sent = 99;
		assert_status(DUCT_EINVAL, duct_send_many(d, m, 3, &sent));
		assert_int_equal(sent, 0);
	}
	assert_false(raw_readable(raw));
	assert_status(DUCT_OK, duct_send_many(d, (duct_iov[]){{"ok", 2}}, 1, NULL));
	uint8_t got[7];
	raw_read(raw, got, sizeof got);
	assert_memory_equal(got, "\x54\0\0\0\2ok", 7);
	duct_free(d);
	close(raw);
}

/* CLOSE-1, SEND-3: a closed duct refuses; a gone peer is DUCT_EPIPE with
 * nothing delivered, and the process lives (SIGPIPE is at its default). */
static void batch_send_many_closed(void **state)
{
	(void)state;
	duct_iov m[2] = {{"a", 1}, {"b", 1}};
	size_t sent = 99;
	duct *p, *c;
	assert_status(DUCT_OK, duct_pair(&p, &c));
	duct_close(p);
	assert_status(DUCT_ESTATE, duct_send_many(p, m, 2, &sent));
	assert_int_equal(sent, 0);
	duct_free(c); /* the peer goes away */
	duct_free(p);

	assert_status(DUCT_OK, duct_pair(&p, &c));
	duct_free(c);
	sent = 99;
	assert_status(DUCT_EPIPE, duct_send_many(p, m, 2, &sent));
	assert_int_equal(sent, 0);
	duct_free(p);
}

/* Fills the socket buffer of d's connection with 1-byte writes, so the
 * next send blocks before writing anything.  Returns the bytes written. */
static size_t fill_socket(duct *d)
{
	int fd = duct_fileno(d);
	int fl = fcntl(fd, F_GETFL);
	fcntl(fd, F_SETFL, fl | O_NONBLOCK);
	size_t n = 0;
	while (send(fd, "z", 1, MSG_NOSIGNAL) == 1)
		n++;
	assert_true(errno == EAGAIN || errno == EWOULDBLOCK);
	fcntl(fd, F_SETFL, fl);
	return n;
}

/* TIME-1, SEND-5: a timeout before any byte of a batch leaves the stream
 * framed: the duct stays usable and the batch can be sent again. */
static void batch_send_many_timeout_between_frames(void **state)
{
	(void)state;
	int raw;
	duct *d = tu_raw_pair(&raw);
	assert_status(DUCT_OK, duct_set_timeouts(d, 100, 100));
	size_t filler = fill_socket(d);
	duct_iov m[2] = {{"a", 1}, {"bc", 2}};
	size_t sent = 99;
	assert_status(DUCT_ETIMEDOUT, duct_send_many(d, m, 2, &sent));
	assert_int_equal(sent, 0);
	uint8_t *junk = malloc(filler);
	raw_read(raw, junk, filler); /* the reader catches up */
	free(junk);
	assert_status(DUCT_OK, duct_send_many(d, m, 2, &sent));
	assert_int_equal(sent, 2);
	uint8_t got[13];
	raw_read(raw, got, sizeof got);
	assert_memory_equal(got, "\x54\0\0\0\1a\x54\0\0\0\2bc", 13);
	duct_free(d);
	close(raw);
}

/* TIME-1, SEND-5: a timeout inside a frame forbids every later send, by
 * batch or not; *sent counts only the messages written whole. */
static void batch_send_many_timeout_mid_frame(void **state)
{
	(void)state;
	int raw;
	duct *d = tu_raw_pair(&raw);
	assert_status(DUCT_OK, duct_set_timeouts(d, 100, 100));
	size_t big = 8u << 20;
	uint8_t *p = calloc(1, big);
	duct_iov m[3] = {{"a", 1}, {p, big}, {"b", 1}};
	size_t sent = 99;
	assert_status(DUCT_ETIMEDOUT, duct_send_many(d, m, 3, &sent));
	assert_int_equal(sent, 1);
	assert_status(DUCT_ESTATE, duct_send_many(d, m, 1, &sent));
	assert_int_equal(sent, 0);
	assert_status(DUCT_ESTATE, duct_send(d, "x", 1));
	free(p);
	duct_free(d);
	close(raw);
}

/* RECV-8: every whole frame already buffered comes out of one call, with
 * no read beyond the one that brought them; all payloads stay valid
 * together until the next receive. */
static void batch_recv_many_drains_buffered(void **state)
{
	(void)state;
	enum { N = 100 };
	duct_iov m[N];
	uint8_t bufs[N][32];
	fill_msgs(m, bufs, N);
	int raw;
	duct *d = tu_raw_pair(&raw);
	duct *s;
	int sv[2];
	/* Build the stream with a second duct, then write it in one go. */
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	s = duct_from_fd(sv[0], NULL);
	assert_status(DUCT_OK, duct_send_many(s, m, N, NULL));
	uint8_t stream[N * (DUCT_HEADER_SIZE + 32)];
	size_t len = 0;
	for (size_t i = 0; i < N; i++)
		len += DUCT_HEADER_SIZE + msg_len(i);
	raw_read(sv[1], stream, len);
	tu_raw_write(raw, stream, len);
	duct_iov got[N + 5];
	size_t n = 0;
	read_calls = 0;
	counting = 1;
	assert_status(DUCT_OK, duct_recv_many(d, got, N + 5, &n));
	counting = 0;
	assert_int_equal(n, N);
	assert_int_equal(read_calls, 1);
	for (size_t i = 0; i < N; i++)
		check_msg(got[i].base, got[i].len, i);
	assert_int_equal(duct_poll(d, 0), 0); /* nothing left behind */
	duct_free(s);
	close(sv[1]);
	duct_free(d);
	close(raw);
}

/* RECV-8: max bounds a call; the rest stays buffered for the next one,
 * which does not read either; single and batch receives mix freely. */
static void batch_recv_many_max(void **state)
{
	(void)state;
	int raw;
	duct *d = tu_raw_pair(&raw);
	tu_raw_write(raw, "\x54\0\0\0\1a\x54\0\0\0\1b\x54\0\0\0\1c\x54\0\0\0\1d"
		       "\x54\0\0\0\1e\x54\0\0\0\0\x54\0\0\0\1g", 41);
	duct_iov got[3];
	size_t n;
	assert_status(DUCT_OK, duct_recv_many(d, got, 3, &n));
	assert_int_equal(n, 3);
	assert_memory_equal(got[0].base, "a", 1);
	assert_memory_equal(got[2].base, "c", 1);
	read_calls = 0;
	counting = 1;
	const void *p;
	size_t len;
	assert_status(DUCT_OK, duct_recv(d, &p, &len));
	assert_memory_equal(p, "d", 1);
	assert_status(DUCT_OK, duct_recv_many(d, got, 3, &n));
	counting = 0;
	assert_int_equal(read_calls, 0);
	assert_int_equal(n, 3);
	assert_memory_equal(got[0].base, "e", 1);
	assert_int_equal(got[1].len, 0);
	assert_memory_equal(got[2].base, "g", 1);
	duct_free(d);
	close(raw);
}

/* Bad arguments are refused before anything is read. */
static void batch_recv_many_einval(void **state)
{
	(void)state;
	int raw;
	duct *d = tu_raw_pair(&raw);
	tu_raw_write(raw, "\x54\0\0\0\1a", 6);
	duct_iov got[2];
	size_t n = 99;
	assert_status(DUCT_EINVAL, duct_recv_many(d, got, 0, &n));
	assert_int_equal(n, 0);
	n = 99;
	assert_status(DUCT_EINVAL, duct_recv_many(d, NULL, 2, &n));
	assert_int_equal(n, 0);
	assert_status(DUCT_EINVAL, duct_recv_many(d, got, 2, NULL));
	assert_status(DUCT_OK, duct_recv_many(d, got, 2, &n)); /* nothing lost */
	assert_int_equal(n, 1);
	duct_free(d);
	close(raw);
}

/* RECV-7, RECV-5, RECV-4: good frames before a bad magic byte are
 * delivered first; the error comes with the next call, stays, and the
 * connection is shut down so the peer sees EOF. */
static void batch_recv_many_then_bad_magic(void **state)
{
	(void)state;
	int raw;
	duct *d = tu_raw_pair(&raw);
	tu_raw_write(raw, "\x54\0\0\0\1a\x54\0\0\0\1bGET / HTTP/1.0\r\n", 28);
	duct_iov got[8];
	size_t n;
	assert_status(DUCT_OK, duct_recv_many(d, got, 8, &n));
	assert_int_equal(n, 2);
	assert_memory_equal(got[1].base, "b", 1);
	char buf[4];
	struct pollfd pf = {.fd = raw, .events = POLLIN};
	assert_int_equal(poll(&pf, 1, 2000), 1); /* shut down at once */
	assert_int_equal(read(raw, buf, sizeof buf), 0);
	n = 99;
	assert_status(DUCT_EMAGIC, duct_recv_many(d, got, 8, &n));
	assert_int_equal(n, 0);
	assert_status(DUCT_EMAGIC, duct_recv_many(d, got, 8, &n));
	const void *p;
	size_t len;
	assert_status(DUCT_EMAGIC, duct_recv(d, &p, &len));
	duct_free(d);
	close(raw);
}

/* RECV-7, RECV-2, RECV-3: frames, then a clean close or a close inside a
 * frame: the frames first, then the outcome, which stays. */
static void batch_recv_many_then_close(void **state)
{
	(void)state;
	for (int cut = 0; cut < 2; cut++) {
		int raw;
		duct *d = tu_raw_pair(&raw);
		tu_raw_write(raw, "\x54\0\0\0\1a\x54\0\0\0\2bc\x54\0\0", cut ? 16 : 13);
		close(raw);
		duct_iov got[8];
		size_t n;
		assert_status(DUCT_OK, duct_recv_many(d, got, 8, &n));
		assert_int_equal(n, 2);
		int want = cut ? DUCT_ETRUNCATED : DUCT_EOF;
		assert_status(want, duct_recv_many(d, got, 8, &n));
		assert_int_equal(n, 0);
		assert_status(want, duct_recv_many(d, got, 8, &n));
		assert_int_equal(duct_poll(d, 0), 1); /* POLL-1 */
		duct_free(d);
	}
}

/* TIME-2: a receive timeout with part of a frame in loses nothing. */
static void batch_recv_many_timeout(void **state)
{
	(void)state;
	int raw;
	duct *d = tu_raw_pair(&raw);
	assert_status(DUCT_OK, duct_set_timeouts(d, 1000, 50));
	duct_iov got[4];
	size_t n = 99;
	assert_status(DUCT_ETIMEDOUT, duct_recv_many(d, got, 4, &n));
	assert_int_equal(n, 0);
	tu_raw_write(raw, "\x54\0\0\0\3a", 6);
	assert_status(DUCT_ETIMEDOUT, duct_recv_many(d, got, 4, &n));
	tu_raw_write(raw, "bc\x54\0\0\0\1d", 8);
	assert_status(DUCT_OK, duct_recv_many(d, got, 4, &n));
	assert_int_equal(n, 2);
	assert_memory_equal(got[0].base, "abc", 3);
	assert_memory_equal(got[1].base, "d", 1);
	duct_free(d);
	close(raw);
}

/* Out of memory while the first frame arrives is reported, not a crash,
 * and nothing is lost. */
static void batch_recv_many_enomem(void **state)
{
	(void)state;
	int raw;
	duct *d = tu_raw_pair(&raw);
	tu_raw_write(raw, "\x54\0\0\0\1a", 6);
	duct_iov got[2];
	size_t n = 99;
	tu_alloc_install();
	tu_fail_after = 0;
	assert_status(DUCT_ENOMEM, duct_recv_many(d, got, 2, &n));
	tu_alloc_uninstall();
	assert_int_equal(n, 0);
	assert_status(DUCT_OK, duct_recv_many(d, got, 2, &n));
	assert_int_equal(n, 1);
	assert_memory_equal(got[0].base, "a", 1);
	duct_free(d);
	close(raw);
}

/* No allocation per message or per batch once warm, sending and receiving
 * by batch over a real connection. */
static void batch_steady_state_no_alloc(void **state)
{
	(void)state;
	enum { N = 64 };
	duct_iov m[N];
	uint8_t bufs[N][32];
	fill_msgs(m, bufs, N);
	duct *p, *c;
	assert_status(DUCT_OK, duct_pair(&p, &c));
	duct_iov got[N];
	size_t n;
	for (int warm = 0; warm < 2; warm++) {
		if (warm)
			tu_alloc_install();
		for (int round = 0; round < 500; round++) {
			assert_status(DUCT_OK, duct_send_many(p, m, N, NULL));
			for (size_t i = 0; i < N; i += n) {
				assert_status(DUCT_OK,
					      duct_recv_many(c, got, N - i, &n));
				check_msg(got[0].base, got[0].len, i);
			}
		}
	}
	assert_int_equal(tu_allocs, 0);
	tu_alloc_uninstall();
	duct_free(p);
	duct_free(c);
}


struct big_sender {
	duct *d;
	int rc;
};

enum { BIG_N = 24 };

static size_t big_len(int i) { return i % 3 == 0 ? 0 : (size_t)(i * 97u) << 10; }

static void *big_send(void *arg)
{
	struct big_sender *s = arg;
	static uint8_t data[(BIG_N * 97u) << 10];
	duct_iov m[BIG_N];
	for (size_t k = 0; k < sizeof data; k++)
		data[k] = (uint8_t)(k * 7);
	for (int i = 0; i < BIG_N; i++)
		m[i] = (duct_iov){data, big_len(i)};
	size_t sent = 0;
	s->rc = duct_send_many(s->d, m, BIG_N, &sent);
	if (s->rc == DUCT_OK && sent != BIG_N)
		s->rc = DUCT_EINVAL;
	return NULL;
}

/* SEND-1, SEND-7, FRAME-6: a batch of large messages (up to 2 MiB, far
 * more than a socket buffer) over TCP and Unix: the kernel takes it in
 * many short writes, and every message arrives intact and in order. */
static void batch_send_many_large_short_writes(void **state)
{
	(void)state;
	const char *addrs[] = {"unix:", "tcp:"};
	for (int t = 0; t < 2; t++) {
		int err;
		duct *p = duct_parent_new(addrs[t], &err);
		assert_status(DUCT_OK, duct_bind(p));
		duct *c = duct_child_new(duct_address(p), &err);
		assert_status(DUCT_OK, duct_connect(c));
		assert_status(DUCT_OK, duct_listen(p, 5000));
		struct big_sender s = {c, DUCT_OK};
		pthread_t th;
		pthread_create(&th, NULL, big_send, &s);
		for (int i = 0; i < BIG_N;) {
			duct_iov got[BIG_N];
			size_t n;
			assert_status(DUCT_OK, duct_recv_many(p, got, BIG_N, &n));
			for (size_t j = 0; j < n; j++, i++) {
				const uint8_t *q = got[j].base;
				assert_int_equal(got[j].len, big_len(i));
				for (size_t k = 0; k < got[j].len; k += 4093)
					assert_int_equal(q[k], (uint8_t)(k * 7));
			}
		}
		pthread_join(th, NULL);
		assert_status(DUCT_OK, s.rc);
		duct_free(c);
		duct_free(p);
	}
}

int main(void)
{
	signal(SIGPIPE, SIG_DFL); /* prove the library never needs SIG_IGN */
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(batch_send_many_wire_bytes),
		cmocka_unit_test(batch_send_many_beyond_iov_max),
		cmocka_unit_test(batch_send_many_empty),
		cmocka_unit_test(batch_send_many_einval),
		cmocka_unit_test(batch_send_many_closed),
		cmocka_unit_test(batch_send_many_timeout_between_frames),
		cmocka_unit_test(batch_send_many_timeout_mid_frame),
		cmocka_unit_test(batch_recv_many_drains_buffered),
		cmocka_unit_test(batch_recv_many_max),
		cmocka_unit_test(batch_recv_many_einval),
		cmocka_unit_test(batch_recv_many_then_bad_magic),
		cmocka_unit_test(batch_recv_many_then_close),
		cmocka_unit_test(batch_recv_many_timeout),
		cmocka_unit_test(batch_recv_many_enomem),
		cmocka_unit_test(batch_steady_state_no_alloc),
		cmocka_unit_test(batch_send_many_large_short_writes),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
