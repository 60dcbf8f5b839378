/* Integrity under load: a million messages each way over each transport,
 * sent and received at once by two threads per duct, every one checked;
 * and TIME-3's two faces: two single-threaded peers that only send stall
 * each other until the send timeout fires, while a receiver thread per
 * side lets the same messages through.
 *
 * The load runs use a real parent and a child from fork(), each with a
 * sender and a receiver thread on its one duct (locking on).  Message seq
 * of a direction is fully determined by (direction, seq, message count),
 * so a receiver regenerates what it expects and compares:
 *
 *   +-----------+-----------------+------------------------------+
 *   | seq: u64  | check: u64      | body: PRNG(direction, seq)   |
 *   +-----------+-----------------+------------------------------+
 *
 * check is an FNV-1a-64 (over 64-bit words) of direction, seq, length and
 * body.  A message shorter than 16 bytes is the first bytes of that
 * header; one shorter than 8 carries no seq and is taken as the next one.
 *
 * DUCT_LOAD_MESSAGES sets the number of messages each way per transport
 * (default 10^6, 10^5 under a sanitizer). */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "testutil.h"

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define LOAD_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define LOAD_SANITIZED 1
#endif
#endif
#ifndef LOAD_SANITIZED
#define LOAD_SANITIZED 0
#endif

#define MIB ((size_t)1 << 20)
#define MAX_SIZE MIB        /* the largest load message, exactly 1 MiB */
#define BATCH 64            /* messages per duct_send_many / recv_many */
#define HDR 16              /* seq + check */

/* Direction keys: what the parent sends and what the child sends differ,
 * so a message that crossed over (or echoed back) cannot pass. */
#define KEY_DOWN UINT64_C(0x5041524e54444f57) /* parent -> child */
#define KEY_UP UINT64_C(0x4348494c44205550)   /* child -> parent */

static double now_s(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static long elapsed_ms(const struct timespec *t0)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (t.tv_sec - t0->tv_sec) * 1000 +
	       (t.tv_nsec - t0->tv_nsec) / 1000000;
}

/* ---- Messages ------------------------------------------------------------ */

/* splitmix64's finaliser: seq -> well-spread bits. */
static uint64_t mix64(uint64_t x)
{
	x += UINT64_C(0x9e3779b97f4a7c15);
	x = (x ^ (x >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
	x = (x ^ (x >> 27)) * UINT64_C(0x94d049bb133111eb);
	return x ^ (x >> 31);
}

/* xorshift64*: the body's byte stream. */
static inline uint64_t prng_next(uint64_t *s)
{
	uint64_t x = *s;
	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*s = x;
	return x * UINT64_C(0x2545f4914f6cdd1d);
}

#define FNV_OFFSET UINT64_C(0xcbf29ce484222325)
#define FNV_PRIME UINT64_C(0x100000001b3)

/* FNV-1a over whole words.  Each step is a bijection of the running hash
 * for a fixed word, so a change confined to one word always changes the
 * result. */
static inline uint64_t fnv_word(uint64_t h, uint64_t w)
{
	return (h ^ w) * FNV_PRIME;
}

/*
 * The size of message seq of n: most 0..256 bytes, about 0.6% 4..64 KiB,
 * 0.02% 64 KiB..1 MiB and 0.01% exactly 1 MiB; the first and last two are
 * the edges, 0 and 1 MiB.  About 480 MiB per 10^6 messages.
 */
static size_t msg_size(uint64_t seq, uint64_t n)
{
	if (seq == 0 || seq + 2 == n)
		return 0;
	if (seq == 1 || seq + 1 == n)
		return MAX_SIZE;
	uint64_t r = mix64(seq ^ UINT64_C(0x73697a6573));
	unsigned cls = (unsigned)(r % 10000);
	r >>= 20;
	if (cls < 1)
		return MAX_SIZE;
	if (cls < 3)
		return 64 * 1024 + (size_t)(r % (MAX_SIZE - 64 * 1024));
	if (cls < 63)
		return 4 * 1024 + (size_t)(r % (60 * 1024 + 1));
	return (size_t)(r % 257);
}

static uint64_t hash_start(uint64_t key, uint64_t seq, size_t len)
{
	return fnv_word(fnv_word(FNV_OFFSET ^ key, seq), (uint64_t)len);
}

/* Writes the len bytes of message seq of direction key into buf. */
static void make_msg(uint8_t *buf, size_t len, uint64_t seq, uint64_t key)
{
	uint64_t st = mix64(seq ^ key) | 1;
	uint64_t h = hash_start(key, seq, len);
	size_t body = len > HDR ? len - HDR : 0, k = 0;
	uint8_t *p = buf + HDR;
	for (; k + 8 <= body; k += 8) {
		uint64_t w = prng_next(&st);
		memcpy(p + k, &w, 8);
		h = fnv_word(h, w);
	}
	if (k < body) {
		uint64_t w = prng_next(&st), t = 0;
		memcpy(p + k, &w, body - k);
		memcpy(&t, &w, body - k);
		h = fnv_word(h, t);
	}
	uint8_t hdr[HDR];
	memcpy(hdr, &seq, 8);
	memcpy(hdr + 8, &h, 8);
	memcpy(buf, hdr, len < HDR ? len : HDR);
}

/*
 * 0 if m[0..len) is exactly message seq of direction key (a len the
 * caller has checked): the body is regenerated and compared word by word,
 * and the received check must be the hash of the received body.
 */
static int check_msg(const uint8_t *m, size_t len, uint64_t seq, uint64_t key)
{
	uint64_t st = mix64(seq ^ key) | 1;
	uint64_t h = hash_start(key, seq, len);
	size_t body = len > HDR ? len - HDR : 0, k = 0;
	const uint8_t *p = m + HDR;
	int bad = 0;
	for (; k + 8 <= body; k += 8) {
		uint64_t w, want = prng_next(&st);
		memcpy(&w, p + k, 8);
		bad |= w != want;
		h = fnv_word(h, w);
	}
	if (k < body) {
		uint64_t w = 0, want = prng_next(&st), t = 0;
		memcpy(&w, p + k, body - k);
		memcpy(&t, &want, body - k);
		bad |= w != t;
		h = fnv_word(h, w);
	}
	uint8_t hdr[HDR];
	memcpy(hdr, &seq, 8);
	memcpy(hdr + 8, &h, 8);
	if (len && memcmp(m, hdr, len < HDR ? len : HDR) != 0)
		bad = 1;
	return bad;
}

/* ---- One side of a load run: a sender and a receiver thread -------------- */

/* What a receiver saw.  lost counts messages never received intact. */
struct tally {
	uint64_t msgs, bytes;
	uint64_t lost, duplicated, reordered, corrupt;
	uint64_t last;         /* seq of the last good message */
	uint64_t many_calls;   /* duct_recv_many calls that returned >1 */
	int end;               /* the status that ended the stream */
	int again;             /* one more receive after it */
};

/* The child's results, sent to the parent through a pipe. */
struct report {
	struct tally t;
	uint64_t sent;
	int send_rc, shut_errno;
};

struct side {
	duct *d;
	uint64_t n;
	uint64_t send_key, recv_key;
	int batches;            /* use duct_send_many / duct_recv_many too */
	/* sender */
	uint64_t sent;
	int send_rc, shut_errno;
	/* receiver */
	struct tally t;
	uint8_t *seen;          /* one bit per seq */
	uint64_t next;          /* one past the highest good seq */
};

static int is_msg(const struct side *s, const uint8_t *m, size_t len,
		  uint64_t seq)
{
	return seq < s->n && len == msg_size(seq, s->n) &&
	       check_msg(m, len, seq, s->recv_key) == 0;
}

/* A message under 8 bytes carries no seq: it should be the next one.  If
 * it is not, the nearest seq it matches is taken, so that a late or
 * repeated one is counted as such rather than as corrupt. */
static int find_short(const struct side *s, const uint8_t *m, size_t len,
		      uint64_t *seq)
{
	if (is_msg(s, m, len, s->next)) {
		*seq = s->next;
		return 1;
	}
	for (uint64_t d = 1; d <= BATCH; d++) {
		if (d <= s->next && is_msg(s, m, len, s->next - d)) {
			*seq = s->next - d;
			return 1;
		}
		if (is_msg(s, m, len, s->next + d)) {
			*seq = s->next + d;
			return 1;
		}
	}
	return 0;
}

static void tally_msg(struct side *s, const uint8_t *m, size_t len)
{
	struct tally *t = &s->t;
	t->msgs++;
	t->bytes += len;
	uint64_t seq;
	if (len >= 8)
		memcpy(&seq, m, 8);
	if (len >= 8 ? !is_msg(s, m, len, seq) : !find_short(s, m, len, &seq)) {
		t->corrupt++;
		return;
	}
	uint8_t bit = (uint8_t)(1u << (seq & 7));
	if (s->seen[seq >> 3] & bit) {
		t->duplicated++;
		return;
	}
	s->seen[seq >> 3] |= bit;
	if (seq < s->next)
		t->reordered++; /* arrived after a later one */
	else
		s->next = seq + 1;
	t->last = seq;
}

static void *receiver(void *arg)
{
	struct side *s = arg;
	int rc;
	for (unsigned call = 0;; call++) {
		if (s->batches && call % 2) {
			duct_iov v[BATCH];
			size_t k;
			rc = duct_recv_many(s->d, v, BATCH, &k);
			if (rc != DUCT_OK)
				break;
			s->t.many_calls += k > 1;
			for (size_t i = 0; i < k; i++)
				tally_msg(s, v[i].base, v[i].len);
		} else {
			const void *m;
			size_t len;
			if ((rc = duct_recv(s->d, &m, &len)) != DUCT_OK)
				break;
			tally_msg(s, m, len);
		}
	}
	s->t.end = rc;
	const void *m;
	size_t len;
	s->t.again = duct_recv(s->d, &m, &len);
	for (uint64_t i = 0; i < s->n; i++)
		s->t.lost += !(s->seen[i >> 3] & (1u << (i & 7)));
	return NULL;
}

static void *sender(void *arg)
{
	struct side *s = arg;
	uint8_t *buf = malloc(MAX_SIZE), *arena = NULL;
	size_t cap = 0;
	int rc = buf ? DUCT_OK : DUCT_ENOMEM;
	for (uint64_t seq = 0; seq < s->n && rc == DUCT_OK;) {
		if (s->batches && seq / BATCH % 2) {
			/* Every other block of BATCH goes as one batch. */
			uint64_t end = seq + BATCH < s->n ? seq + BATCH : s->n;
			duct_iov v[BATCH];
			size_t total = 0, k = 0;
			for (uint64_t i = seq; i < end; i++)
				total += msg_size(i, s->n);
			if (total > cap) {
				uint8_t *a = realloc(arena, total);
				if (!a) {
					rc = DUCT_ENOMEM;
					break;
				}
				arena = a;
				cap = total;
			}
			total = 0;
			for (uint64_t i = seq; i < end; i++, k++) {
				size_t len = msg_size(i, s->n);
				make_msg(arena + total, len, i, s->send_key);
				v[k] = (duct_iov){arena + total, len};
				total += len;
			}
			size_t sent = 0;
			rc = duct_send_many(s->d, v, k, &sent);
			s->sent += sent;
			seq = end;
		} else {
			size_t len = msg_size(seq, s->n);
			make_msg(buf, len, seq, s->send_key);
			if ((rc = duct_send(s->d, buf, len)) == DUCT_OK)
				s->sent++;
			seq++;
		}
	}
	s->send_rc = rc;
	/* Done sending, still receiving: end this direction only, so the
	 * peer's receiver sees a clean close after the last message.  (No
	 * libduct call half-closes; duct_shutdown() ends both ways.) */
	if (shutdown(duct_fileno(s->d), SHUT_WR) != 0)
		s->shut_errno = errno;
	free(buf);
	free(arena);
	return NULL;
}

/* Runs both threads on s->d until both directions are done. */
static int run_side(struct side *s)
{
	s->seen = calloc(s->n / 8 + 1, 1);
	if (!s->seen)
		return DUCT_ENOMEM;
	pthread_t ts, tr;
	if (pthread_create(&tr, NULL, receiver, s) != 0) {
		free(s->seen);
		return DUCT_ENOMEM;
	}
	if (pthread_create(&ts, NULL, sender, s) != 0) {
		/* Unblock the receiver: nothing will come from us. */
		shutdown(duct_fileno(s->d), SHUT_RDWR);
		pthread_join(tr, NULL);
		free(s->seen);
		return DUCT_ENOMEM;
	}
	pthread_join(ts, NULL);
	pthread_join(tr, NULL);
	free(s->seen);
	s->seen = NULL;
	return DUCT_OK;
}

/* All n messages, each once, in order, intact, then EOF, then EOF again. */
static int tally_ok(const struct tally *t, uint64_t n, uint64_t bytes)
{
	return t->msgs == n && t->bytes == bytes && t->lost == 0 &&
	       t->duplicated == 0 && t->reordered == 0 && t->corrupt == 0 &&
	       t->last == n - 1 && t->end == DUCT_EOF &&
	       t->again == DUCT_EOF;
}

static uint64_t total_bytes(uint64_t n)
{
	uint64_t b = 0;
	for (uint64_t i = 0; i < n; i++)
		b += msg_size(i, n);
	return b;
}

static void print_tally(const char *who, const struct tally *t)
{
	fprintf(stderr,
		"test_load: %s received %llu msgs, %llu B; lost %llu, "
		"duplicated %llu, reordered %llu, corrupt %llu, last %llu, "
		"end %s, then %s\n",
		who, (unsigned long long)t->msgs, (unsigned long long)t->bytes,
		(unsigned long long)t->lost, (unsigned long long)t->duplicated,
		(unsigned long long)t->reordered,
		(unsigned long long)t->corrupt, (unsigned long long)t->last,
		duct_err_name(t->end), duct_err_name(t->again));
}

/* The child process: connect, run its side, report; never returns.
 * exit(), not _exit(): the sanitizers' end-of-process checks (leaks,
 * races) then count in the status the parent asserts. */
static void child_main(int addr_fd, int report_fd, uint64_t n, int batches)
{
	char addr[512];
	size_t have = 0;
	ssize_t k;
	while (have < sizeof addr - 1 &&
	       (k = read(addr_fd, addr + have, sizeof addr - 1 - have)) != 0) {
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0)
			exit(2);
		have += (size_t)k;
	}
	addr[have] = '\0';
	close(addr_fd);
	struct report rep;
	memset(&rep, 0, sizeof rep);
	rep.send_rc = rep.t.end = DUCT_ESTATE;
	int err = 0, ok = 0;
	duct *c = duct_child_new(addr, &err);
	struct side s = {.d = c, .n = n, .send_key = KEY_UP,
			 .recv_key = KEY_DOWN, .batches = batches};
	if (c && duct_set_connect_retry(c, 50, 100) == DUCT_OK &&
	    duct_connect(c) == DUCT_OK && duct_set_locking(c, 1) == DUCT_OK &&
	    run_side(&s) == DUCT_OK) {
		rep.t = s.t;
		rep.sent = s.sent;
		rep.send_rc = s.send_rc;
		rep.shut_errno = s.shut_errno;
		ok = tally_ok(&s.t, n, total_bytes(n)) &&
		     s.send_rc == DUCT_OK && s.sent == n && s.shut_errno == 0;
	} else {
		fprintf(stderr, "test_load: child: no connection to %s or no "
			"threads\n", addr);
	}
	if (write(report_fd, &rep, sizeof rep) != (ssize_t)sizeof rep)
		ok = 0;
	close(report_fd);
	duct_free(c);
	exit(ok ? 0 : 3);
}

static uint64_t load_messages(void)
{
	const char *e = getenv("DUCT_LOAD_MESSAGES");
	if (e && *e) {
		char *end;
		errno = 0;
		unsigned long long v = strtoull(e, &end, 10);
		if (errno || *end || v < 1 || v > UINT64_C(1) << 32) {
			fprintf(stderr,
				"test_load: bad DUCT_LOAD_MESSAGES=%s\n", e);
			fail();
		}
		return v;
	}
	return LOAD_SANITIZED ? 100000 : 1000000;
}

/*
 * n messages each way between a parent on address and a forked child,
 * both sending and receiving at once; batches mixes in duct_send_many and
 * duct_recv_many.  Prints one line of figures.
 */
static void load_both_ways(const char *address, const char *label, int batches)
{
	uint64_t n = load_messages(), bytes = total_bytes(n);
	int to_child[2], to_parent[2];
	assert_int_equal(pipe2(to_child, O_CLOEXEC), 0);
	assert_int_equal(pipe2(to_parent, O_CLOEXEC), 0);
	fflush(stdout);
	fflush(stderr);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(to_child[1]);
		close(to_parent[0]);
		child_main(to_child[0], to_parent[1], n, batches);
	}
	close(to_child[0]);
	close(to_parent[1]);

	int err = 0, rc = DUCT_EADDR;
	duct *p = duct_parent_new(address, &err);
	if (p && (rc = duct_bind(p)) == DUCT_OK) {
		const char *a = duct_address(p);
		if (write(to_child[1], a, strlen(a)) != (ssize_t)strlen(a))
			rc = duct_syserr(errno);
	}
	close(to_child[1]); /* the child reads the address up to EOF */
	if (rc == DUCT_OK)
		rc = duct_listen(p, 30000);
	if (rc == DUCT_OK)
		rc = duct_set_locking(p, 1);
	struct side s = {.d = p, .n = n, .send_key = KEY_DOWN,
			 .recv_key = KEY_UP, .batches = batches};
	double t0 = now_s();
	if (rc == DUCT_OK)
		rc = run_side(&s);
	double secs = now_s() - t0;
	if (rc != DUCT_OK)
		kill(pid, SIGKILL); /* do not leave it waiting for us */

	struct report rep;
	memset(&rep, 0, sizeof rep);
	ssize_t got = read(to_parent[0], &rep, sizeof rep);
	close(to_parent[0]);
	int status = 0;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	duct_free(p);
	assert_status(DUCT_OK, rc);
	assert_int_equal(got, (ssize_t)sizeof rep);

	char many[80] = "";
	if (batches)
		snprintf(many, sizeof many,
			 " (send_many/recv_many; %llu recv_many calls gave >1)",
			 (unsigned long long)(s.t.many_calls +
					      rep.t.many_calls));
	printf("test_load: %s%s: %llu msgs each way; %llu B parent->child, "
	       "%llu B child->parent; %.2f s; lost %llu, duplicated %llu, "
	       "reordered %llu, corrupt %llu%s\n",
	       label, many, (unsigned long long)n,
	       (unsigned long long)rep.t.bytes, (unsigned long long)s.t.bytes,
	       secs,
	       (unsigned long long)(s.t.lost + rep.t.lost),
	       (unsigned long long)(s.t.duplicated + rep.t.duplicated),
	       (unsigned long long)(s.t.reordered + rep.t.reordered),
	       (unsigned long long)(s.t.corrupt + rep.t.corrupt),
	       LOAD_SANITIZED ? " [sanitizer build]" : "");
	fflush(stdout);
	if (!tally_ok(&s.t, n, bytes))
		print_tally("parent", &s.t);
	if (!tally_ok(&rep.t, n, bytes))
		print_tally("child", &rep.t);

	/* The child checked its side too and says so by its status. */
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	/* Both senders sent all n, then half-closed. */
	assert_status(DUCT_OK, s.send_rc);
	assert_int_equal(s.sent, n);
	assert_int_equal(s.shut_errno, 0);
	assert_status(DUCT_OK, rep.send_rc);
	assert_int_equal(rep.sent, n);
	assert_int_equal(rep.shut_errno, 0);
	/* Parent to child, as the child received it. */
	assert_int_equal(rep.t.msgs, n);
	assert_int_equal(rep.t.bytes, bytes);
	assert_int_equal(rep.t.lost + rep.t.duplicated + rep.t.reordered +
			 rep.t.corrupt, 0);
	assert_int_equal(rep.t.last, n - 1);
	assert_status(DUCT_EOF, rep.t.end);
	assert_status(DUCT_EOF, rep.t.again);
	/* Child to parent, as the parent received it. */
	assert_int_equal(s.t.msgs, n);
	assert_int_equal(s.t.bytes, bytes);
	assert_int_equal(s.t.lost, 0);
	assert_int_equal(s.t.duplicated, 0);
	assert_int_equal(s.t.reordered, 0);
	assert_int_equal(s.t.corrupt, 0);
	assert_int_equal(s.t.last, n - 1);
	assert_status(DUCT_EOF, s.t.end);   /* exactly after the last one */
	assert_status(DUCT_EOF, s.t.again); /* and it stays a close */
}

static void announce_scale(void)
{
	static int once;
	if (once++)
		return;
	const char *e = getenv("DUCT_LOAD_MESSAGES");
	if (e && *e)
		printf("test_load: DUCT_LOAD_MESSAGES=%s messages each way per "
		       "transport\n", e);
	else if (LOAD_SANITIZED)
		printf("test_load: sanitizer build: %llu messages each way per "
		       "transport, not 10^6 (DUCT_LOAD_MESSAGES overrides)\n",
		       (unsigned long long)load_messages());
	fflush(stdout);
}

/* FRAME-3, FRAME-5, FRAME-6, RECV-1, RECV-2, RECV-7, SEND-1, TIME-3:
 * 10^6 messages of 0 B to 1 MiB each way over a Unix socket, sent and
 * received at once by two threads on each duct (locking on):
 * none lost, duplicated, reordered or corrupted, each checked against its
 * regenerated bytes and checksum; after the sender's clean shutdown the
 * receiver gets DUCT_EOF exactly after the last message, and again. */
static void load_unix_both_ways(void **state)
{
	(void)state;
	announce_scale();
	load_both_ways("unix:", "unix", 0);
}

/* FRAME-3, FRAME-5, FRAME-6, RECV-1, RECV-2, RECV-7, RECV-8, SEND-7,
 * TIME-3: the same over TCP loopback, with half the messages sent in
 * batches by duct_send_many and half the receives done by duct_recv_many,
 * both ways: the peer cannot tell the difference. */
static void load_tcp_both_ways(void **state)
{
	(void)state;
	announce_scale();
	load_both_ways("tcp:", "tcp", 1);
}

/* ---- TIME-3: a stall turned into timeouts, and no stall with receivers --- */

#define BIG ((size_t)16 << 20) /* far over the socket buffers both ways */
#define STALL_MS 400           /* the send timeout of both peers */
#define STALL_BOUND_MS 10000   /* "bounded": generous, for slow builds */

struct big_send {
	duct *d;
	const uint8_t *buf;
	int rc;
	long ms;
};

static void *big_sender(void *arg)
{
	struct big_send *b = arg;
	struct timespec t0;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	b->rc = duct_send(b->d, b->buf, BIG);
	b->ms = elapsed_ms(&t0);
	return NULL;
}

struct big_recv {
	duct *d;
	uint64_t key;
	int rc, intact;
};

static void *big_receiver(void *arg)
{
	struct big_recv *b = arg;
	const void *m;
	size_t len;
	b->rc = duct_recv(b->d, &m, &len);
	b->intact = b->rc == DUCT_OK && len == BIG &&
		    check_msg(m, len, 0, b->key) == 0;
	return NULL;
}

/* Joins t within STALL_BOUND_MS; if it hangs, shuts both ducts down so it
 * returns, and fails. */
static void join_bounded(pthread_t t, duct *p, duct *c)
{
	struct timespec dl;
	clock_gettime(CLOCK_REALTIME, &dl);
	dl.tv_sec += STALL_BOUND_MS / 1000;
	if (pthread_timedjoin_np(t, NULL, &dl) == 0)
		return;
	shutdown(duct_fileno(p), SHUT_RDWR);
	shutdown(duct_fileno(c), SHUT_RDWR);
	pthread_join(t, NULL);
	fail_msg("a sender or receiver still blocked after %d ms: a hang",
		 STALL_BOUND_MS);
}

/* TIME-3, TIME-1, SEND-5: two single-threaded peers each send 16 MiB and
 * neither reads: the socket buffers fill both ways and each blocks the
 * other.  The send timeout turns that into DUCT_ETIMEDOUT on both sides
 * (no sooner than the timeout, well within a bound), never a hang; both
 * frames are cut, so both ducts refuse further sends. */
static void time3_stalled_peers_time_out(void **state)
{
	(void)state;
	const char *addrs[] = {"unix:", "tcp:"}, *names[] = {"unix", "tcp"};
	uint8_t *down = malloc(BIG), *up = malloc(BIG);
	assert_non_null(down);
	assert_non_null(up);
	make_msg(down, BIG, 0, KEY_DOWN);
	make_msg(up, BIG, 0, KEY_UP);
	for (int t = 0; t < 2; t++) {
		duct *p, *c;
		tu_connect_over(addrs[t], &p, &c);
		assert_status(DUCT_OK,
			      duct_set_timeouts(p, STALL_MS, STALL_MS));
		assert_status(DUCT_OK,
			      duct_set_timeouts(c, STALL_MS, STALL_MS));
		struct big_send a = {p, down, DUCT_OK, 0};
		struct big_send b = {c, up, DUCT_OK, 0};
		pthread_t ta, tb;
		assert_int_equal(pthread_create(&ta, NULL, big_sender, &a), 0);
		assert_int_equal(pthread_create(&tb, NULL, big_sender, &b), 0);
		join_bounded(ta, p, c);
		join_bounded(tb, p, c);
		printf("test_load: %s: 16 MiB each way, nobody reading, send "
		       "timeout %d ms: %s after %ld ms and %s after %ld ms\n",
		       names[t], STALL_MS, duct_err_name(a.rc), a.ms,
		       duct_err_name(b.rc), b.ms);
		fflush(stdout);
		assert_status(DUCT_ETIMEDOUT, a.rc);
		assert_status(DUCT_ETIMEDOUT, b.rc);
		/* No sooner than the timeout (less a tick), and bounded. */
		assert_true(a.ms >= STALL_MS * 9 / 10 && a.ms < STALL_BOUND_MS);
		assert_true(b.ms >= STALL_MS * 9 / 10 && b.ms < STALL_BOUND_MS);
		assert_status(DUCT_ESTATE, duct_send(p, "x", 1));
		assert_status(DUCT_ESTATE, duct_send(c, "x", 1));
		duct_free(c);
		duct_free(p);
	}
	free(down);
	free(up);
}

/* TIME-3, CLOSE-4: the same 16 MiB messages both ways with the
 * same short send timeout, but a receiver thread per side (locking on):
 * both directions move at once, both sends complete, both messages arrive
 * intact, and a close after them is a clean one. */
static void time3_receivers_keep_both_ways_moving(void **state)
{
	(void)state;
	const char *addrs[] = {"unix:", "tcp:"}, *names[] = {"unix", "tcp"};
	uint8_t *down = malloc(BIG), *up = malloc(BIG);
	assert_non_null(down);
	assert_non_null(up);
	make_msg(down, BIG, 0, KEY_DOWN);
	make_msg(up, BIG, 0, KEY_UP);
	for (int t = 0; t < 2; t++) {
		duct *p, *c;
		tu_connect_over(addrs[t], &p, &c);
		assert_status(DUCT_OK, duct_set_timeouts(p, STALL_MS, 5000));
		assert_status(DUCT_OK, duct_set_timeouts(c, STALL_MS, 5000));
		assert_status(DUCT_OK, duct_set_locking(p, 1));
		assert_status(DUCT_OK, duct_set_locking(c, 1));
		struct big_send a = {p, down, DUCT_OK, 0};
		struct big_send b = {c, up, DUCT_OK, 0};
		struct big_recv ra = {p, KEY_UP, DUCT_OK, 0};
		struct big_recv rb = {c, KEY_DOWN, DUCT_OK, 0};
		pthread_t th[4];
		assert_int_equal(
			pthread_create(&th[0], NULL, big_receiver, &ra), 0);
		assert_int_equal(
			pthread_create(&th[1], NULL, big_receiver, &rb), 0);
		assert_int_equal(pthread_create(&th[2], NULL, big_sender, &a),
				 0);
		assert_int_equal(pthread_create(&th[3], NULL, big_sender, &b),
				 0);
		for (int i = 0; i < 4; i++)
			join_bounded(th[i], p, c);
		printf("test_load: %s: 16 MiB each way, a receiver per side: "
		       "sends %s in %ld ms and %s in %ld ms\n", names[t],
		       duct_err_name(a.rc), a.ms, duct_err_name(b.rc), b.ms);
		fflush(stdout);
		assert_status(DUCT_OK, a.rc);
		assert_status(DUCT_OK, b.rc);
		assert_status(DUCT_OK, ra.rc);
		assert_status(DUCT_OK, rb.rc);
		assert_true(ra.intact);
		assert_true(rb.intact);
		duct_free(c);
		const void *m;
		size_t len;
		assert_status(DUCT_EOF, duct_recv(p, &m, &len));
		duct_free(p);
	}
	free(down);
	free(up);
}

int main(void)
{
	signal(SIGPIPE, SIG_DFL); /* the library must not need SIG_IGN */
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(load_unix_both_ways),
		cmocka_unit_test(load_tcp_both_ways),
		cmocka_unit_test(time3_stalled_peers_time_out),
		cmocka_unit_test(time3_receivers_keep_both_ways_moving),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
