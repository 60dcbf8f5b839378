/*
 * Fuzz target: the receive path end to end (duct.h), against the pure
 * reader as a second oracle.
 *
 * Input: [max byte] [repeat byte] [receive byte] body...
 *   - max byte: duct_set_max_message(), fuzz_max_from_byte() (fuzz_common.h);
 *   - repeat byte: 0x00..0xEF the stream is the body, 0xF0..0xFE the body
 *     written 2, 4, ... times up to 4 KiB (fuzz_repeat), 0xFF up to
 *     256 KiB, so a small input can fill the socket and make duct_recv
 *     read many times into a growing buffer; only 0xFF, so that the
 *     expensive long streams (a writer thread, tens of reads) stay rare
 *     (fuzz/README.md, "Speed");
 *   - receive byte: bits 0-1 pick the calls: duct_recv only,
 *     duct_recv_many only, or the two in turn (starting with either);
 *     bits 2-7 + 1 are the batch size of duct_recv_many (1..64);
 *   - the stream is written into the raw end of a Unix socketpair whose
 *     other end is wrapped with duct_from_fd(); the raw end is then closed.
 *
 * The duct receives until it reports an outcome other than DUCT_OK.  The
 * messages must be exactly the frames a duct_reader finds in the same
 * bytes (fuzz_reader_oracle), and the outcome the same (RECV-1..7); each
 * batch of duct_recv_many holds 1..max messages whose borrowed payloads
 * are all checked after the call (valid together, RECV-8), and a failed
 * call returns none.  After DUCT_EMAGIC or DUCT_ETOOBIG the next call
 * repeats it (RECV-5) and the connection is shut down, so the writer is
 * not left blocked.
 *
 * What fits in the socket buffer is written at once from this thread
 * (the usual case: fuzz inputs are small), so no thread is needed; a
 * bigger input has its rest written by a thread while duct_recv reads, so
 * it cannot deadlock.  Writes use MSG_NOSIGNAL: the receiver may shut the
 * connection down before the writer is done.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include "duct/duct.h"
#include "fuzz_common.h"

/* The longest stream of the usual repeat values: well inside the socket
 * buffer, so no writer thread. */
#define RECV_STREAM ((size_t)4 << 10)

struct writer {
	int fd;
	const uint8_t *p;
	size_t left;
};

/* Writes what is left: returns at EAGAIN (the first, non-blocking pass),
 * when all is written, or when the receiver is gone (EPIPE, ECONNRESET). */
static void write_some(struct writer *w)
{
	while (w->left > 0) {
		ssize_t n = send(w->fd, w->p, w->left, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return;
		w->p += n;
		w->left -= (size_t)n;
	}
}

/* The writer thread: the rest of the stream, then close, so the duct
 * sees the end of the stream. */
static void *write_rest(void *arg)
{
	struct writer *w = arg;
	write_some(w);
	close(w->fd);
	return NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 3)
		return 0;
	uint32_t max = fuzz_max_from_byte(data[0]);
	int mode = data[2] & 3;
	size_t batch_max = (size_t)(data[2] >> 2) + 1;
	size_t n;
	uint8_t *s = fuzz_repeat(data + 3, size - 3, data[1],
	                         data[1] == 0xFF ? FUZZ_MAX_STREAM : RECV_STREAM,
	                         &n);

	fuzz_frames want = {0};
	uint64_t want_off = 0;
	int want_rc = fuzz_reader_oracle(s, n, max, &want, &want_off);

	int sv[2];
	FUZZ_CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0,
	           "socketpair: errno %d", errno);
	int err = DUCT_OK;
	duct *d = duct_from_fd(sv[1], &err);
	FUZZ_CHECK(d != NULL, "duct_from_fd: %s", duct_err_name(err));
	FUZZ_CHECK(duct_set_max_message(d, max) == DUCT_OK, "set_max failed");
	/* Everything is written and the writer closes, so a timeout means
	 * duct_recv lost bytes or waits for what never comes. */
	FUZZ_CHECK(duct_set_timeouts(d, 10000, 10000) == DUCT_OK,
	           "set_timeouts failed");

	struct writer w = {sv[0], s, n};
	pthread_t th;
	int threaded = 0;
	FUZZ_CHECK(fcntl(sv[0], F_SETFL, O_NONBLOCK) == 0, "fcntl");
	write_some(&w);
	if (w.left > 0) {
		FUZZ_CHECK(fcntl(sv[0], F_SETFL, 0) == 0, "fcntl");
		FUZZ_CHECK(pthread_create(&th, NULL, write_rest, &w) == 0,
		           "pthread_create");
		threaded = 1;
	} else {
		close(sv[0]);
	}

	const void *p;
	size_t len, got = 0;
	int rc;
	duct_iov *batch = malloc(batch_max * sizeof *batch);
	FUZZ_CHECK(batch != NULL, "out of memory");
	for (unsigned turn = 0;; turn++) {
		int many = mode == 1 || (mode >= 2 && (turn + mode) % 2 == 1);
		if (!many) {
			if ((rc = duct_recv(d, &p, &len)) != DUCT_OK)
				break;
			FUZZ_CHECK(got < want.n,
			           "recv: message %zu is one too many", got);
			fuzz_check_frame(s, &want.v[got++], p, len);
			continue;
		}
		size_t m = (size_t)-1;
		if ((rc = duct_recv_many(d, batch, batch_max, &m)) != DUCT_OK) {
			FUZZ_CHECK(m == 0, "recv_many: %s with %zu messages",
			           duct_err_name(rc), m);
			break;
		}
		FUZZ_CHECK(m >= 1 && m <= batch_max,
		           "recv_many: %zu messages in a batch of %zu", m,
		           batch_max);
		FUZZ_CHECK(got + m <= want.n,
		           "recv_many: messages %zu..%zu, the reader has %zu",
		           got, got + m - 1, want.n);
		/* After the call: every payload of a batch stays valid. */
		for (size_t i = 0; i < m; i++)
			fuzz_check_frame(s, &want.v[got + i], batch[i].base,
			                 batch[i].len);
		got += m;
	}
	free(batch);
	FUZZ_CHECK(got == want.n, "recv: %zu messages, reader: %zu", got,
	           want.n);
	FUZZ_CHECK(rc == want_rc, "recv: %s, reader: %s", duct_err_name(rc),
	           duct_err_name(want_rc));
	if (rc == DUCT_EMAGIC || rc == DUCT_ETOOBIG) {
		/* RECV-5: sticky, and nothing buffered is delivered. */
		rc = duct_recv(d, &p, &len);
		FUZZ_CHECK(rc == want_rc, "recv after %s: %s",
		           duct_err_name(want_rc), duct_err_name(rc));
		size_t m = (size_t)-1;
		duct_iov one;
		rc = duct_recv_many(d, &one, 1, &m);
		FUZZ_CHECK(rc == want_rc && m == 0,
		           "recv_many after %s: %s, %zu messages",
		           duct_err_name(want_rc), duct_err_name(rc), m);
		FUZZ_CHECK(duct_poll(d, 0) == 1, "poll after %s is not ready",
		           duct_err_name(want_rc));
	}

	/* Closing our end wakes a writer still blocked (EPIPE). */
	duct_free(d);
	if (threaded)
		FUZZ_CHECK(pthread_join(th, NULL) == 0, "pthread_join");
	fuzz_frames_free(&want);
	free(s);
	return 0;
}
