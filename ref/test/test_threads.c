/* Threads share a duct safely with locking on: concurrent senders,
 * batches among single sends, concurrent receivers, and both directions
 * at once.  Messages are big enough (up to hundreds of KiB, 8 MiB in the
 * last test) that the kernel takes each in several writes, so frames that
 * interleave would be caught; each carries its sender, its sequence number
 * and a checksum of its body.  ci/test.sh also runs this file under
 * ThreadSanitizer (ctest -L threads).
 *
 * Failures found inside a loop are recorded, the connection is shut down
 * so every other thread stops at once, the threads are joined, and only
 * then does the test fail: no thread outlives its test. */
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "duct/json.h"
#include "testutil.h"

/* ---- Messages that check themselves ------------------------------------- */

enum { MAGIC = 0x7448524d }; /* "MRHt" */

/* The first bytes of every payload (copied in and out: payloads are not
 * aligned).  nbatch is 0 for a message sent alone. */
struct hdr {
	uint32_t magic;
	uint32_t tid, seq;       /* sender thread, its n-th message */
	uint32_t batch, idx;     /* the sender's batch number, place in it */
	uint32_t nbatch;         /* messages in that batch */
	uint64_t len;            /* the whole payload's length */
	uint64_t sum;            /* hash of the bytes after the header */
};

static uint64_t mix(uint64_t x)
{
	x += 0x9e3779b97f4a7c15u;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9u;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebu;
	return x ^ (x >> 31);
}

static uint64_t body_hash(const uint8_t *p, size_t n)
{
	uint64_t h = n, w;
	size_t i = 0;
	for (; i + 8 <= n; i += 8) {
		memcpy(&w, p + i, 8);
		h = mix(h ^ w);
	}
	for (; i < n; i++)
		h = mix(h ^ p[i]);
	return h;
}

/* A message's length: mostly large, some small, up to about 384 KiB. */
static size_t msg_len(uint32_t tid, uint32_t seq)
{
	uint64_t r = mix(((uint64_t)tid << 32) | seq);
	if (r % 4 == 0)
		return sizeof(struct hdr) + (size_t)(r >> 8) % 512;
	return sizeof(struct hdr) + (size_t)(r >> 8) % (384 << 10);
}

/* Writes a whole message of len bytes (len >= sizeof(struct hdr)). */
static void make_msg(uint8_t *buf, size_t len, struct hdr h)
{
	uint8_t *body = buf + sizeof h;
	size_t n = len - sizeof h, i = 0;
	uint64_t s = mix(((uint64_t)h.tid << 32) ^ h.seq ^
			 ((uint64_t)h.idx << 48));
	for (; i + 8 <= n; i += 8) {
		uint64_t w = mix(s + i);
		memcpy(body + i, &w, 8);
	}
	for (; i < n; i++)
		body[i] = (uint8_t)mix(s + i);
	h.magic = MAGIC;
	h.len = len;
	h.sum = body_hash(body, n);
	memcpy(buf, &h, sizeof h);
}

/* NULL if p[0..len) is a whole message (its header read into *h), else
 * what is wrong with it. */
static const char *check_msg(const void *p, size_t len, struct hdr *h)
{
	if (len < sizeof *h)
		return "shorter than a header";
	memcpy(h, p, sizeof *h);
	if (h->magic != MAGIC)
		return "bad magic: not the start of a message";
	if (h->len != len)
		return "length differs from the one its sender wrote";
	const uint8_t *body = (const uint8_t *)p + sizeof *h;
	if (body_hash(body, len - sizeof *h) != h->sum)
		return "checksum mismatch: bytes of another frame inside";
	return NULL;
}

/* ---- Failing from any thread -------------------------------------------- */

/* The first failure of a test, from whichever thread saw it. */
static pthread_mutex_t fail_mu = PTHREAD_MUTEX_INITIALIZER;
static char fail_text[512];
static int fail_fd = -1; /* shut down on failure, so every thread stops */

static void record_failure(const char *fmt, ...)
{
	pthread_mutex_lock(&fail_mu);
	if (!fail_text[0]) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(fail_text, sizeof fail_text, fmt, ap);
		va_end(ap);
		if (fail_fd >= 0)
			shutdown(fail_fd, SHUT_RDWR);
	}
	pthread_mutex_unlock(&fail_mu);
}

static int failed(void)
{
	pthread_mutex_lock(&fail_mu);
	int f = fail_text[0] != '\0';
	pthread_mutex_unlock(&fail_mu);
	return f;
}

static void reset_failure(int fd)
{
	pthread_mutex_lock(&fail_mu);
	fail_text[0] = '\0';
	fail_fd = fd;
	pthread_mutex_unlock(&fail_mu);
}

/* Before closing the descriptor a failure would shut down. */
static void disarm_failure_fd(void)
{
	pthread_mutex_lock(&fail_mu);
	fail_fd = -1;
	pthread_mutex_unlock(&fail_mu);
}

/* Called once every thread is joined. */
static void assert_no_failure(void)
{
	disarm_failure_fd();
	if (fail_text[0])
		fail_msg("%s", fail_text);
}

/* ---- Connections --------------------------------------------------------- */

/* A connected pair over transport t: 0 socketpair, 1 "unix:", 2 "tcp:". */
static void connect_pair(int t, duct **p, duct **c)
{
	if (t == 0) {
		assert_status(DUCT_OK, duct_pair(p, c));
		return;
	}
	tu_connect_over(t == 1 ? "unix:" : "tcp:", p, c);
}

static const char *transport_name[] = {"socketpair", "unix:", "tcp:"};

/* Timeouts that turn a hang into a failure well within ctest's. */
static void bound_timeouts(duct *d)
{
	assert_status(DUCT_OK, duct_set_timeouts(d, 20000, 20000));
}

/* ---- Senders ------------------------------------------------------------- */

enum { MAX_THREADS = 8 };

struct sender {
	duct *d;
	uint32_t tid;
	uint32_t count;   /* messages to send */
	int batches;      /* send them in batches through duct_send_many */
	pthread_barrier_t *start;
};

/* Batch k of a batching sender: how many messages (1 to 8), except every
 * sixth batch, longer than one sendmsg() takes (IOV_MAX/2 = 512 on Linux),
 * so the batch spans several system calls. */
static uint32_t batch_size(uint32_t tid, uint32_t k)
{
	if (k % 6 == 3)
		return 700;
	return 1 + (uint32_t)(mix(((uint64_t)tid << 40) | k) % 8);
}

/* The length of message idx of a batch of n: the long batch is of small
 * messages, the others as msg_len(). */
static size_t batch_msg_len(uint32_t tid, uint32_t seq, uint32_t n)
{
	if (n > 8)
		return sizeof(struct hdr) + seq % 200;
	return msg_len(tid, seq);
}

static void *sender_main(void *arg)
{
	struct sender *s = arg;
	uint8_t *buf = malloc((size_t)8 * ((384 << 10) + 600));
	duct_iov *m = malloc(700 * sizeof *m);
	size_t *off = malloc(700 * sizeof *off);
	pthread_barrier_wait(s->start);
	if (!buf || !m || !off) {
		record_failure("thread %u: out of memory", s->tid);
		goto out;
	}
	uint32_t seq = 0;
	for (uint32_t k = 0; seq < s->count && !failed(); k++) {
		if (!s->batches) {
			size_t len = msg_len(s->tid, seq);
			make_msg(buf, len,
				 (struct hdr){.tid = s->tid, .seq = seq});
			int rc = duct_send(s->d, buf, len);
			if (rc != DUCT_OK) {
				record_failure("thread %u: duct_send #%u: %s",
					       s->tid, seq, duct_err_name(rc));
				break;
			}
			seq++;
			continue;
		}
		uint32_t n = batch_size(s->tid, k);
		if (n > s->count - seq)
			n = s->count - seq;
		size_t at = 0;
		for (uint32_t i = 0; i < n; i++) {
			size_t len = batch_msg_len(s->tid, seq + i, n);
			struct hdr h = {.tid = s->tid, .seq = seq + i,
					.batch = k, .idx = i, .nbatch = n};
			make_msg(buf + at, len, h);
			off[i] = at;
			m[i].len = len;
			at += len;
		}
		for (uint32_t i = 0; i < n; i++)
			m[i].base = buf + off[i];
		size_t sent = 0;
		int rc = duct_send_many(s->d, m, n, &sent);
		if (rc != DUCT_OK || sent != n) {
			record_failure("thread %u: duct_send_many batch %u: "
				       "%s, %zu of %u sent", s->tid, k,
				       duct_err_name(rc), sent, n);
			break;
		}
		seq += n;
	}
out:
	free(buf);
	free(m);
	free(off);
	return NULL;
}

/* ---- The checking receiver ----------------------------------------------- */

/* One receiver's view of the stream from several senders. */
struct order {
	uint32_t next[MAX_THREADS];  /* next seq expected from each thread */
	int in_batch;                /* inside a batch: its sender and place */
	uint32_t batch_tid, batch, batch_idx, batch_n;
};

/* Checks message p[0..len) against what came before; NULL if fine. */
static const char *check_order(struct order *o, const void *p, size_t len,
			       uint32_t nthreads, char *why, size_t whylen)
{
	struct hdr h;
	const char *bad = check_msg(p, len, &h);
	if (bad)
		return bad;
	if (h.tid >= nthreads)
		return "unknown sender";
	if (h.seq != o->next[h.tid]) {
		snprintf(why, whylen, "thread %u: message %u arrived, %u "
			 "expected", h.tid, h.seq, o->next[h.tid]);
		return why;
	}
	o->next[h.tid]++;
	if (o->in_batch &&
	    (h.tid != o->batch_tid || h.batch != o->batch ||
	     h.idx != o->batch_idx)) {
		char what[64] = "sent alone";
		if (h.nbatch)
			snprintf(what, sizeof what, "#%u of its batch %u",
				 h.idx, h.batch);
		snprintf(why, whylen, "thread %u's message %u (%s) inside "
			 "thread %u's batch %u, which had %u of %u", h.tid,
			 h.seq, what, o->batch_tid, o->batch, o->batch_idx,
			 o->batch_n);
		return why;
	}
	if (h.nbatch == 0)
		return NULL;
	if (!o->in_batch) {
		if (h.idx != 0)
			return "a batch did not start with its first message";
		o->in_batch = 1;
		o->batch_tid = h.tid;
		o->batch = h.batch;
		o->batch_n = h.nbatch;
		o->batch_idx = 0;
	}
	if (++o->batch_idx == o->batch_n)
		o->in_batch = 0;
	return NULL;
}

/* Runs senders s[0..n) on p and checks, on c, what arrives: every frame
 * whole, each sender's messages all there and in order, each batch
 * contiguous.  use_many: receive with duct_recv_many. */
static void run_senders(duct *p, duct *c, struct sender *s, uint32_t n,
			int use_many)
{
	pthread_t th[MAX_THREADS];
	pthread_barrier_t start;
	uint32_t total = 0;
	pthread_barrier_init(&start, NULL, n);
	reset_failure(duct_fileno(c));
	for (uint32_t i = 0; i < n; i++) {
		s[i].d = p;
		s[i].tid = i;
		s[i].start = &start;
		total += s[i].count;
		assert_int_equal(pthread_create(&th[i], NULL, sender_main,
						&s[i]), 0);
	}
	struct order o = {0};
	char why[256];
	for (uint32_t got = 0; got < total && !failed();) {
		duct_iov m[64];
		size_t k = 1;
		int rc = use_many ? duct_recv_many(c, m, 64, &k)
				  : duct_recv(c, &m[0].base, &m[0].len);
		if (rc != DUCT_OK) {
			record_failure("receive after %u of %u messages: %s",
				       got, total, duct_err_name(rc));
			break;
		}
		for (size_t j = 0; j < k; j++, got++) {
			const char *bad = check_order(&o, m[j].base, m[j].len,
						      n, why, sizeof why);
			if (bad) {
				record_failure("message %u of %u: %s", got,
					       total, bad);
				break;
			}
		}
	}
	for (uint32_t i = 0; i < n; i++)
		pthread_join(th[i], NULL);
	pthread_barrier_destroy(&start);
	assert_no_failure();
	for (uint32_t i = 0; i < n; i++)
		assert_int_equal(o.next[i], s[i].count);
	assert_false(o.in_batch);
}

/* SEND-4, FRAME-6: six threads send through one duct with locking on,
 * messages of up to 384 KiB (several writes each, on every transport):
 * every frame arrives whole, and each thread's messages all arrive, in
 * the order it sent them. */
static void threads_send_no_interleave(void **state)
{
	(void)state;
	for (int t = 0; t < 3; t++) {
		duct *p, *c;
		connect_pair(t, &p, &c);
		assert_status(DUCT_OK, duct_set_locking(p, 1));
		bound_timeouts(p);
		bound_timeouts(c);
		struct sender s[6];
		for (int i = 0; i < 6; i++)
			s[i] = (struct sender){.count = 40};
		print_message("%s\n", transport_name[t]);
		run_senders(p, c, s, 6, 0);
		duct_free(p);
		duct_free(c);
	}
}

/* SEND-7, SEND-4, RECV-8: three threads send batches (1 to 8 messages of
 * up to 384 KiB, and every sixth batch 700 small ones, more than one
 * sendmsg() carries) while three others send single messages, all on one
 * locked duct, over a socketpair and TCP: no other thread's frame lands
 * inside a batch, not even between its sendmsg() calls, every frame is
 * whole and every thread's messages arrive in order.  The receiver takes
 * them with duct_recv_many. */
static void threads_send_many_batches_contiguous(void **state)
{
	(void)state;
	for (int t = 0; t < 3; t += 2) {
		duct *p, *c;
		connect_pair(t, &p, &c);
		assert_status(DUCT_OK, duct_set_locking(p, 1));
		bound_timeouts(p);
		bound_timeouts(c);
		struct sender s[6];
		for (int i = 0; i < 6; i++)
			s[i] = (struct sender){.count = i < 3 ? 2400 : 80,
					       .batches = i < 3};
		print_message("%s\n", transport_name[t]);
		run_senders(p, c, s, 6, 1);
		duct_free(p);
		duct_free(c);
	}
}

/* ---- Concurrent receivers ----------------------------------------------- */

/*
 * duct.h lends a payload "until the next call on d": with several
 * receivers, that next call can come from another thread at any moment,
 * so a thread that reads the payload duct_recv() lent it races with it.
 * These tests therefore check what locking does promise without reading
 * borrowed bytes: with duct_recv and duct_recv_many, that the frames are
 * whole and each goes to exactly one receiver (each message has its own
 * length, the only thing read); with duct_recv_value, whose decoding
 * happens under the receive lock, the contents too.
 */

enum { RECEIVERS = 4, LEN_MSGS = 4000 };

/* Message k's length, unique to it: small ones are k bytes, every 16th
 * is 64 KiB or more, so it takes several reads. */
static size_t unique_len(uint32_t k)
{
	return k % 16 == 0 ? (64 << 10) + (size_t)k * 16 : (size_t)k;
}

static uint32_t len_to_k(size_t len)
{
	if (len >= (64 << 10))
		return (uint32_t)((len - (64 << 10)) / 16);
	return (uint32_t)len;
}

struct len_sender {
	duct *d;
	pthread_barrier_t *start;
};

static void *len_sender_main(void *arg)
{
	struct len_sender *s = arg;
	uint8_t *buf = calloc(1, unique_len(LEN_MSGS - LEN_MSGS % 16));
	pthread_barrier_wait(s->start);
	if (!buf) {
		record_failure("out of memory");
		return NULL;
	}
	for (uint32_t k = 1; k < LEN_MSGS && !failed(); k++) {
		int rc = duct_send(s->d, buf, unique_len(k));
		if (rc != DUCT_OK) {
			record_failure("duct_send #%u: %s", k,
				       duct_err_name(rc));
			break;
		}
	}
	free(buf);
	return NULL;
}

struct receiver {
	duct *d;
	int id;
	int use_many;
	pthread_barrier_t *start;
	uint32_t *seen;    /* per message k: how many receivers got it */
	pthread_mutex_t *seen_mu;
	uint32_t got;      /* messages this receiver took */
	uint32_t calls;
};

/* Receives until EOF, noting only each message's length. */
static void *len_receiver_main(void *arg)
{
	struct receiver *r = arg;
	uint32_t last = 0;
	pthread_barrier_wait(r->start);
	for (;;) {
		duct_iov m[16];
		size_t n = 1;
		int rc = r->use_many ? duct_recv_many(r->d, m, 16, &n)
				     : duct_recv(r->d, &m[0].base, &m[0].len);
		if (rc == DUCT_EOF)
			break;
		if (rc != DUCT_OK) {
			record_failure("receiver %d: %s after %u messages",
				       r->id, duct_err_name(rc), r->got);
			break;
		}
		r->calls++;
		for (size_t j = 0; j < n; j++) {
			uint32_t k = len_to_k(m[j].len);
			if (k == 0 || k >= LEN_MSGS ||
			    unique_len(k) != m[j].len) {
				record_failure("receiver %d: a %zu-byte "
					       "message nobody sent", r->id,
					       m[j].len);
				return NULL;
			}
			/* One receiver sees a part of the stream, in order. */
			if (k <= last) {
				record_failure("receiver %d: message %u "
					       "after %u", r->id, k, last);
				return NULL;
			}
			last = k;
			pthread_mutex_lock(r->seen_mu);
			r->seen[k]++;
			pthread_mutex_unlock(r->seen_mu);
			r->got++;
		}
	}
	return NULL;
}

/* SEND-4 (concurrent receivers), RECV-8, RECV-2, CLOSE-4: four threads
 * receive from one locked duct, two with duct_recv and two with
 * duct_recv_many, while a thread sends 4000 messages (every 16th over
 * 64 KiB): each message goes to exactly one receiver, whole, each
 * receiver's share is in stream order, and all see EOF once the sender's
 * end is closed. */
static void threads_recv_concurrent_whole_once(void **state)
{
	(void)state;
	duct *p, *c;
	connect_pair(0, &p, &c);
	assert_status(DUCT_OK, duct_set_locking(c, 1));
	bound_timeouts(p);
	bound_timeouts(c);
	reset_failure(duct_fileno(p));
	uint32_t *seen = calloc(LEN_MSGS, sizeof *seen);
	assert_non_null(seen);
	pthread_mutex_t seen_mu = PTHREAD_MUTEX_INITIALIZER;
	pthread_barrier_t start;
	pthread_barrier_init(&start, NULL, RECEIVERS + 1);
	struct receiver r[RECEIVERS];
	pthread_t th[RECEIVERS + 1];
	for (int i = 0; i < RECEIVERS; i++) {
		r[i] = (struct receiver){c, i, i % 2, &start, seen, &seen_mu,
					 0, 0};
		assert_int_equal(pthread_create(&th[i], NULL, len_receiver_main,
						&r[i]), 0);
	}
	struct len_sender s = {p, &start};
	assert_int_equal(pthread_create(&th[RECEIVERS], NULL, len_sender_main,
					&s), 0);
	pthread_join(th[RECEIVERS], NULL);
	disarm_failure_fd();
	duct_close(p); /* CLOSE-4: everything sent, then EOF for everyone */
	for (int i = 0; i < RECEIVERS; i++)
		pthread_join(th[i], NULL);
	pthread_barrier_destroy(&start);
	duct_free(p);
	duct_free(c);
	assert_no_failure();
	uint32_t total = 0;
	for (int i = 0; i < RECEIVERS; i++) {
		print_message("receiver %d (%s): %u messages in %u calls\n", i,
			      r[i].use_many ? "recv_many" : "recv", r[i].got,
			      r[i].calls);
		total += r[i].got;
	}
	for (uint32_t k = 1; k < LEN_MSGS; k++)
		if (seen[k] != 1)
			fail_msg("message %u received %u times", k, seen[k]);
	assert_int_equal(total, LEN_MSGS - 1);
	free(seen);
}

/* A serializer of raw bytes: decode copies the payload out (under the
 * receive lock, inside duct_recv_value), so the value is the receiver's
 * own. */
struct bytes {
	size_t len;
	uint8_t *data;
};

static int bytes_encode(void *ctx, const void *value, duct_buf *out)
{
	(void)ctx;
	const struct bytes *b = value;
	return duct_buf_append(out, b->data, b->len);
}

static int bytes_decode(void *ctx, const uint8_t *data, size_t len,
			void **value)
{
	(void)ctx;
	struct bytes *b = malloc(sizeof *b);
	if (!b || !(b->data = malloc(len ? len : 1))) {
		free(b);
		return DUCT_ENOMEM;
	}
	if (len)
		memcpy(b->data, data, len);
	b->len = len;
	*value = b;
	return DUCT_OK;
}

static void bytes_free(void *ctx, void *value)
{
	(void)ctx;
	struct bytes *b = value;
	free(b->data);
	free(b);
}

static const duct_serializer bytes_serializer = {bytes_encode, bytes_decode,
						 bytes_free, NULL};

enum { VALUE_SENDERS = 3, VALUE_MSGS = 60 };

struct value_sender {
	duct *d;
	uint32_t tid;
	pthread_barrier_t *start;
};

static void *value_sender_main(void *arg)
{
	struct value_sender *s = arg;
	struct bytes b = {0, malloc(sizeof(struct hdr) + (384 << 10))};
	pthread_barrier_wait(s->start);
	if (!b.data) {
		record_failure("out of memory");
		return NULL;
	}
	for (uint32_t seq = 0; seq < VALUE_MSGS && !failed(); seq++) {
		b.len = msg_len(s->tid, seq);
		make_msg(b.data, b.len,
			 (struct hdr){.tid = s->tid, .seq = seq});
		int rc = duct_send_value(s->d, &b);
		if (rc != DUCT_OK) {
			record_failure("sender %u: duct_send_value #%u: %s",
				       s->tid, seq, duct_err_name(rc));
			break;
		}
	}
	free(b.data);
	return NULL;
}

static void *value_receiver_main(void *arg)
{
	struct receiver *r = arg;
	uint32_t next[VALUE_SENDERS] = {0};
	pthread_barrier_wait(r->start);
	for (;;) {
		void *v;
		int rc = duct_recv_value(r->d, &v);
		if (rc == DUCT_EOF)
			break;
		if (rc != DUCT_OK) {
			record_failure("receiver %d: %s after %u messages",
				       r->id, duct_err_name(rc), r->got);
			break;
		}
		const struct bytes *b = v;
		struct hdr h;
		const char *bad = check_msg(b->data, b->len, &h);
		if (!bad && h.tid >= VALUE_SENDERS)
			bad = "unknown sender";
		else if (!bad && h.seq < next[h.tid])
			bad = "a sender's messages out of order";
		if (bad) {
			record_failure("receiver %d: %s", r->id, bad);
			duct_free_value(r->d, v);
			break;
		}
		next[h.tid] = h.seq + 1;
		pthread_mutex_lock(r->seen_mu);
		r->seen[h.tid * VALUE_MSGS + h.seq]++;
		pthread_mutex_unlock(r->seen_mu);
		r->got++;
		duct_free_value(r->d, v);
	}
	return NULL;
}

/* SEND-4, JSON-1: three senders and four receivers on one pair of locked
 * ducts, through duct_send_value/duct_recv_value and a serializer that
 * copies: every message reaches exactly one receiver, whole (checksum),
 * and each receiver gets each sender's messages in order. */
static void threads_recv_value_concurrent(void **state)
{
	(void)state;
	duct *p, *c;
	connect_pair(1, &p, &c);
	assert_status(DUCT_OK, duct_set_locking(p, 1));
	assert_status(DUCT_OK, duct_set_locking(c, 1));
	assert_status(DUCT_OK, duct_set_serializer(p, &bytes_serializer));
	assert_status(DUCT_OK, duct_set_serializer(c, &bytes_serializer));
	bound_timeouts(p);
	bound_timeouts(c);
	reset_failure(duct_fileno(p));
	uint32_t seen[VALUE_SENDERS * VALUE_MSGS] = {0};
	pthread_mutex_t seen_mu = PTHREAD_MUTEX_INITIALIZER;
	pthread_barrier_t start;
	pthread_barrier_init(&start, NULL, RECEIVERS + VALUE_SENDERS);
	struct receiver r[RECEIVERS];
	struct value_sender s[VALUE_SENDERS];
	pthread_t rt[RECEIVERS], st[VALUE_SENDERS];
	for (int i = 0; i < RECEIVERS; i++) {
		r[i] = (struct receiver){c, i, 0, &start, seen, &seen_mu, 0, 0};
		assert_int_equal(pthread_create(&rt[i], NULL,
						value_receiver_main, &r[i]), 0);
	}
	for (uint32_t i = 0; i < VALUE_SENDERS; i++) {
		s[i] = (struct value_sender){p, i, &start};
		assert_int_equal(pthread_create(&st[i], NULL,
						value_sender_main, &s[i]), 0);
	}
	for (int i = 0; i < VALUE_SENDERS; i++)
		pthread_join(st[i], NULL);
	disarm_failure_fd();
	duct_close(p);
	for (int i = 0; i < RECEIVERS; i++)
		pthread_join(rt[i], NULL);
	pthread_barrier_destroy(&start);
	duct_free(p);
	duct_free(c);
	assert_no_failure();
	for (int i = 0; i < VALUE_SENDERS * VALUE_MSGS; i++)
		if (seen[i] != 1)
			fail_msg("sender %d's message %d received %u times",
				 i / VALUE_MSGS, i % VALUE_MSGS, seen[i]);
}

/* ---- Both directions at once --------------------------------------------- */

enum { BIG = 8 << 20, BIG_MSGS = 2 };

struct big_end {
	duct *d;
	uint32_t tid;      /* which side sent what this end receives: 1 - tid */
	pthread_barrier_t *start;
};

static void *big_sender_main(void *arg)
{
	struct big_end *e = arg;
	uint8_t *buf = malloc(BIG);
	pthread_barrier_wait(e->start);
	if (!buf) {
		record_failure("out of memory");
		return NULL;
	}
	for (uint32_t seq = 0; seq < BIG_MSGS && !failed(); seq++) {
		make_msg(buf, BIG, (struct hdr){.tid = e->tid, .seq = seq});
		int rc = duct_send(e->d, buf, BIG);
		if (rc != DUCT_OK) {
			record_failure("side %u: duct_send of 8 MiB #%u: %s",
				       e->tid, seq, duct_err_name(rc));
			break;
		}
	}
	free(buf);
	return NULL;
}

static void *big_receiver_main(void *arg)
{
	struct big_end *e = arg;
	pthread_barrier_wait(e->start);
	for (uint32_t seq = 0; seq < BIG_MSGS && !failed(); seq++) {
		const void *m;
		size_t n;
		int rc = duct_recv(e->d, &m, &n);
		if (rc != DUCT_OK) {
			record_failure("side %u: duct_recv #%u: %s", e->tid,
				       seq, duct_err_name(rc));
			break;
		}
		struct hdr h;
		const char *bad = check_msg(m, n, &h);
		if (!bad && (h.tid != 1 - e->tid || h.seq != seq))
			bad = "not the message expected next";
		if (bad) {
			record_failure("side %u, message %u: %s", e->tid,
				       seq, bad);
			break;
		}
	}
	return NULL;
}

/* TIME-3, FRAME-5: on each side of a connection one thread sends two
 * 8 MiB messages (far more than the socket buffers) while another
 * receives, all four at once, on locked ducts: nothing deadlocks (each
 * direction has its own lock), and every message arrives whole.  The
 * 20 s timeouts turn a deadlock into a failure. */
static void threads_both_directions_large(void **state)
{
	(void)state;
	for (int t = 1; t < 3; t++) {
		duct *p, *c;
		connect_pair(t, &p, &c);
		duct *d[2] = {p, c};
		for (int i = 0; i < 2; i++) {
			assert_status(DUCT_OK, duct_set_locking(d[i], 1));
			bound_timeouts(d[i]);
		}
		reset_failure(duct_fileno(p));
		pthread_barrier_t start;
		pthread_barrier_init(&start, NULL, 4);
		struct big_end e[2];
		pthread_t th[4];
		for (uint32_t i = 0; i < 2; i++) {
			e[i] = (struct big_end){d[i], i, &start};
			assert_int_equal(pthread_create(&th[2 * i], NULL,
							big_sender_main, &e[i]),
					 0);
			assert_int_equal(pthread_create(&th[2 * i + 1], NULL,
							big_receiver_main,
							&e[i]),
					 0);
		}
		for (int i = 0; i < 4; i++)
			pthread_join(th[i], NULL);
		pthread_barrier_destroy(&start);
		print_message("%s\n", transport_name[t]);
		duct_free(p);
		duct_free(c);
		assert_no_failure();
	}
}

static void *blocked_receiver(void *arg)
{
	const void *m;
	size_t n;
	static int rc;
	rc = duct_recv(arg, &m, &n);
	return &rc;
}

/* POLL-2, TIME-3: with locking on, a poll does not wait behind a thread
 * blocked in a receive: poll(0) answers at once, a timed poll within its
 * timeout. */
static void threads_poll_beside_blocked_recv(void **state)
{
	(void)state;
	duct *p, *c;
	connect_pair(0, &p, &c);
	assert_status(DUCT_OK, duct_set_locking(c, 1));
	assert_status(DUCT_OK, duct_set_timeouts(c, -1, 20000));
	pthread_t t;
	assert_int_equal(pthread_create(&t, NULL, blocked_receiver, c), 0);
	usleep(50 * 1000); /* let it block in read() holding the lock */
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_int_equal(duct_poll(c, 0), 0);
	assert_int_equal(duct_poll(c, 100), 0);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	long ms = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
	assert_true(ms >= 100 && ms < 5000);
	duct_free(p); /* EOF ends the blocked receive */
	void *rc;
	assert_int_equal(pthread_join(t, &rc), 0);
	assert_status(DUCT_EOF, *(int *)rc);
	duct_free(c);
}

/* Decodes texts in turn, good and bad, counting wrong outcomes. */
static void *json_decoder(void *arg)
{
	static const char *texts[] = {"{\"a\": [1, 2.5, \"x\"]}", "[1,", "true",
				      "-01", "\"\\u00e9\""};
	static const int ok[] = {1, 0, 1, 0, 1};
	long *wrong = arg;
	for (int i = 0; i < 2000; i++) {
		int k = i % 5;
		json_object *v = NULL;
		int rc = duct_json_decode((const uint8_t *)texts[k],
					  strlen(texts[k]), &v);
		if ((rc == DUCT_OK) != ok[k] || (rc == DUCT_OK) != (v != NULL))
			(*wrong)++;
		json_object_put(v);
	}
	return NULL;
}

/* JSON-8, JSON-11: the JSON decoder keeps one tokener per thread and
 * resets it for every text; threads decoding at once, failures mixed in,
 * never see each other's state (ThreadSanitizer watches), and each
 * thread's tokener goes with its thread (LeakSanitizer, valgrind). */
static void threads_json_decode_concurrent(void **state)
{
	(void)state;
	enum { N = 4 };
	pthread_t t[N];
	long wrong[N] = {0};
	for (int i = 0; i < N; i++)
		assert_int_equal(pthread_create(&t[i], NULL, json_decoder, &wrong[i]), 0);
	for (int i = 0; i < N; i++) {
		assert_int_equal(pthread_join(t[i], NULL), 0);
		assert_int_equal(wrong[i], 0);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(threads_send_no_interleave),
		cmocka_unit_test(threads_send_many_batches_contiguous),
		cmocka_unit_test(threads_recv_concurrent_whole_once),
		cmocka_unit_test(threads_recv_value_concurrent),
		cmocka_unit_test(threads_both_directions_large),
		cmocka_unit_test(threads_poll_beside_blocked_recv),
		cmocka_unit_test(threads_json_decode_concurrent),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
