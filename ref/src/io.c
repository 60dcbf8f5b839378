/* Moving messages: send, recv, poll, and values through a serializer. */
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "duct/json.h"
#include "internal.h"

#ifndef MSG_NOSIGNAL
#define MSG_NOSIGNAL 0
#endif

/* Messages per sendmsg() in duct_send_many(): two iovecs each (header,
 * payload), at most IOV_MAX iovecs per call. */
#ifdef IOV_MAX
#define DUCT__BATCH (IOV_MAX / 2)
#else
#define DUCT__BATCH 8 /* POSIX guarantees 16 iovecs */
#endif

/* Payloads up to this size are copied behind their header (send_frame()). */
#define DUCT__SMALL 4096

/* One lock per direction, so one thread can receive while another sends
 * (TIME-3). */
static void lock(duct *d, pthread_mutex_t *m)
{
	if (d->locking)
		pthread_mutex_lock(m);
}

static void unlock(duct *d, pthread_mutex_t *m)
{
	if (d->locking)
		pthread_mutex_unlock(m);
}

/*
 * Writes the frames of msgs[0..n), whose header and payload iovecs are
 * msg's, looping over short writes (SEND-1).  *done counts the frames
 * written whole, so a caller can tell a failure between frames (the stream
 * is still framed) from one inside a frame (SEND-5).
 */
static int write_frames(duct *d, struct msghdr *msg, const duct_iov *msgs,
			size_t n, size_t *done)
{
	size_t i = 0;                                   /* current frame */
	size_t left = DUCT_HEADER_SIZE + msgs[0].len;   /* its bytes to go */
	int64_t idle = 0; /* TIME-1 deadline, set at the first EINTR of a wait */
	while (msg->msg_iovlen > 0) {
		/* SEC-3: MSG_NOSIGNAL turns SIGPIPE into EPIPE for this call
		 * only; the process's signal dispositions are not ours. */
		const struct iovec *v = msg->msg_iov;
		ssize_t k = msg->msg_iovlen == 1
				    ? send(d->fd, v->iov_base, v->iov_len, MSG_NOSIGNAL)
				    : sendmsg(d->fd, msg, MSG_NOSIGNAL);
		if (k < 0) {
			int e = errno;
			/* SEC-6: resume after a signal.  TIME-1: SO_SNDTIMEO
			 * starts afresh with each call, so count the time
			 * without progress here, or a signal more frequent
			 * than the timeout would make it infinite. */
			if (e == EINTR) {
				if (!idle)
					idle = duct__deadline(d->send_ms > 0 ? d->send_ms : -1);
				if (duct__remaining(idle) != 0)
					continue;
				e = EAGAIN;
			}
			*done += i;
			/* SEND-5: a frame cut short leaves the stream unframed;
			 * the peer learns it now (RECV-3), not at its timeout,
			 * and our receiving direction stays usable. */
			if (left < DUCT_HEADER_SIZE + msgs[i].len) {
				d->send_broken = 1;
				shutdown(d->fd, SHUT_WR);
			}
			if (e == EAGAIN || e == EWOULDBLOCK)
				return DUCT_ETIMEDOUT;
			if (e == EPIPE || e == ECONNRESET)
				return DUCT_EPIPE;
			return duct_syserr(e);
		}
		idle = 0;
		size_t w = (size_t)k;
		while (w > 0 && w >= left) { /* frames finished by this write */
			w -= left;
			left = ++i < n ? DUCT_HEADER_SIZE + msgs[i].len : 0;
		}
		left -= w;
		/* SEND-1: loop over short writes */
		while (msg->msg_iovlen > 0 && (size_t)k >= msg->msg_iov->iov_len) {
			k -= (ssize_t)msg->msg_iov->iov_len;
			msg->msg_iov++;
			msg->msg_iovlen--;
		}
		if (msg->msg_iovlen > 0) {
			msg->msg_iov->iov_base = (uint8_t *)msg->msg_iov->iov_base + k;
			msg->msg_iov->iov_len -= (size_t)k;
		}
	}
	*done += n;
	return DUCT_OK;
}

static int send_frame(duct *d, const void *buf, size_t len)
{
	if (len > UINT32_MAX)
		return DUCT_EINVAL; /* SEND-6 */
	if (d->fd < 0 || d->send_broken)
		return DUCT_ESTATE;
	/* Room for a small payload after its header: the copy costs less
	 * than sendmsg() does over send() (pinned Unix 64 B streaming went
	 * from 0.74 to 0.92-0.99 of the raw socket; bench/README.md). */
	uint8_t hdr[DUCT_HEADER_SIZE + DUCT__SMALL];
	duct_frame_header(hdr, (uint32_t)len);
	/* SEND-2: header and payload leave in one call. */
	struct iovec iov[2] = {{hdr, DUCT_HEADER_SIZE}, {(void *)buf, len}};
	struct msghdr msg = {.msg_iov = iov, .msg_iovlen = 2};
	if (len <= DUCT__SMALL) {
		if (len)
			memcpy(hdr + DUCT_HEADER_SIZE, buf, len);
		iov[0].iov_len += len;
		msg.msg_iovlen = 1;
	}
	duct_iov m = {buf, len};
	size_t done = 0;
	return write_frames(d, &msg, &m, 1, &done);
}

int duct_send(duct *d, const void *buf, size_t len)
{
	lock(d, &d->send_mu);
	int rc = send_frame(d, buf, len);
	unlock(d, &d->send_mu);
	return rc;
}

static int send_many(duct *d, const duct_iov *msgs, size_t n, size_t *sent)
{
	if (!msgs && n > 0)
		return DUCT_EINVAL;
	/* SEND-6: a batch with an unframable message writes nothing. */
	for (size_t i = 0; i < n; i++)
		if (msgs[i].len > UINT32_MAX)
			return DUCT_EINVAL;
	if (d->fd < 0 || d->send_broken)
		return DUCT_ESTATE;
	/* On the stack (about 18 KiB on Linux): no allocation, and nothing
	 * in the duct for programs that never batch. */
	uint8_t hdr[DUCT__BATCH][DUCT_HEADER_SIZE];
	struct iovec iov[2 * DUCT__BATCH];
	int rc = DUCT_OK;
	while (rc == DUCT_OK && *sent < n) {
		const duct_iov *m = msgs + *sent;
		size_t k = n - *sent < DUCT__BATCH ? n - *sent : DUCT__BATCH;
		size_t cnt = 0;
		/* SEND-7: exactly the frames duct_send() would write, one
		 * after the other. */
		for (size_t i = 0; i < k; i++) {
			duct_frame_header(hdr[i], (uint32_t)m[i].len);
			iov[cnt++] = (struct iovec){hdr[i], DUCT_HEADER_SIZE};
			if (m[i].len)
				iov[cnt++] = (struct iovec){(void *)m[i].base,
							    m[i].len};
		}
		struct msghdr msg = {.msg_iov = iov, .msg_iovlen = cnt};
		rc = write_frames(d, &msg, m, k, sent);
	}
	return rc;
}

int duct_send_many(duct *d, const duct_iov *msgs, size_t n, size_t *sent)
{
	size_t done = 0;
	lock(d, &d->send_mu);
	int rc = send_many(d, msgs, n, &done);
	unlock(d, &d->send_mu);
	if (sent)
		*sent = done;
	return rc;
}

/* RECV-5: after a protocol error the stream cannot be resynchronised; let
 * the peer see the connection is dead. */
static int stream_dead(duct *d, int rc)
{
	if (!d->dead) {
		d->dead = 1;
		shutdown(d->fd, SHUT_RDWR);
	}
	return rc;
}

static int recv_frame(duct *d, const void **payload, size_t *len)
{
	if (d->fd < 0)
		return DUCT_ESTATE;
	int64_t idle = 0; /* TIME-1 deadline, set at the first EINTR of a wait */
	for (;;) {
		const uint8_t *p;
		int rc = duct_reader_next(d->rd, &p, len);
		if (rc == DUCT_OK) {
			*payload = p;
			return rc;
		}
		if (rc < 0)
			return stream_dead(d, rc);
		uint8_t *space;
		size_t avail;
		if ((rc = duct_reader_space(d->rd, &space, &avail)) != DUCT_OK)
			return rc;
		/* One read may bring many small frames; a large payload lands
		 * straight in the buffer it is returned from. */
		ssize_t n = read(d->fd, space, avail);
		if (n > 0) {
			duct_reader_commit(d->rd, (size_t)n);
			idle = 0;
		} else if (n == 0 || errno == ECONNRESET) {
			return duct_reader_finish(d->rd); /* RECV-2, RECV-3, RECV-9 */
		} else if (errno == EINTR) {
			/* SEC-6: resume; TIME-1: but not past the timeout
			 * (SO_RCVTIMEO starts afresh with each call). */
			if (!idle)
				idle = duct__deadline(d->recv_ms > 0 ? d->recv_ms : -1);
			if (duct__remaining(idle) == 0)
				return DUCT_ETIMEDOUT;
		} else if (errno == EAGAIN || errno == EWOULDBLOCK) {
			/* TIME-2: what arrived stays buffered; nothing is lost. */
			return DUCT_ETIMEDOUT;
		} else {
			return duct_syserr(errno);
		}
	}
}

int duct_recv(duct *d, const void **payload, size_t *len)
{
	lock(d, &d->recv_mu);
	int rc = recv_frame(d, payload, len);
	unlock(d, &d->recv_mu);
	return rc;
}

/* RECV-8: the first message may wait for the socket; the rest are only
 * those already buffered.  Every payload stays valid until the next read
 * into the reader: duct_reader_next() never moves buffered bytes, only
 * duct_reader_space() does (test_batch checks this). */
static int recv_many(duct *d, duct_iov *msgs, size_t max, size_t *n)
{
	const void *p;
	size_t len;
	int rc = recv_frame(d, &p, &len);
	if (rc != DUCT_OK)
		return rc;
	msgs[0] = (duct_iov){p, len};
	for (*n = 1; *n < max; ++*n) {
		const uint8_t *q;
		rc = duct_reader_next(d->rd, &q, &len);
		if (rc != DUCT_OK) {
			/* RECV-7: a bad frame after good ones is reported by
			 * the next call, after these are delivered. */
			if (rc < 0)
				stream_dead(d, rc);
			break;
		}
		msgs[*n] = (duct_iov){q, len};
	}
	return DUCT_OK;
}

int duct_recv_many(duct *d, duct_iov *msgs, size_t max, size_t *n)
{
	if (!n)
		return DUCT_EINVAL;
	*n = 0;
	if (!msgs || max == 0)
		return DUCT_EINVAL;
	lock(d, &d->recv_mu);
	int rc = recv_many(d, msgs, max, n);
	unlock(d, &d->recv_mu);
	return rc;
}

int duct_poll(duct *d, int timeout_ms)
{
	if (d->fd < 0)
		return DUCT_ESTATE;
	/* POLL-1: buffered bytes (or a known bad stream) mean recv will not
	 * wait for the socket.  A receiving thread moves both, so look only
	 * when none is; while one is, wait on the socket (POLL-2: a poll never
	 * waits behind a blocked receive). */
	int ready = 0;
	if (!d->locking || pthread_mutex_trylock(&d->recv_mu) == 0) {
		ready = duct_reader_buffered(d->rd) > 0 || d->dead;
		unlock(d, &d->recv_mu);
	}
	return ready ? 1 : duct__wait(d->fd, POLLIN, timeout_ms);
}

int duct_set_serializer(duct *d, const duct_serializer *s)
{
	if (s && (!s->encode || !s->decode || !s->free_value))
		return DUCT_EINVAL;
	d->ser = s ? *s : duct_json_serializer;
	return DUCT_OK;
}

int duct_send_value(duct *d, const void *value)
{
	lock(d, &d->send_mu);
	d->enc.len = 0; /* the buffer is kept: no allocation per message */
	int rc = d->ser.encode(d->ser.ctx, value, &d->enc);
	if (rc == DUCT_OK)
		rc = send_frame(d, d->enc.data, d->enc.len);
	unlock(d, &d->send_mu);
	return rc;
}

int duct_recv_value(duct *d, void **value)
{
	const void *p;
	size_t len;
	*value = NULL;
	lock(d, &d->recv_mu);
	int rc = recv_frame(d, &p, &len);
	/* JSON-11: a value that fails to decode costs that message only. */
	if (rc == DUCT_OK)
		rc = d->ser.decode(d->ser.ctx, p, len, value);
	unlock(d, &d->recv_mu);
	return rc;
}

void duct_free_value(duct *d, void *value)
{
	if (value)
		d->ser.free_value(d->ser.ctx, value);
}
