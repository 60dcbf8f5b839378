/* Moving messages: send, recv, poll, and values through a serializer. */
#include <errno.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "duct/json.h"
#include "internal.h"

#ifndef MSG_NOSIGNAL
#define MSG_NOSIGNAL 0
#endif

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

static int send_frame(duct *d, const void *buf, size_t len)
{
	if (len > UINT32_MAX)
		return DUCT_EINVAL; /* SEND-6 */
	if (d->fd < 0 || d->send_broken)
		return DUCT_ESTATE;
	uint8_t hdr[DUCT_HEADER_SIZE];
	duct_frame_header(hdr, (uint32_t)len);
	/* SEND-2: header and payload leave in one call. */
	struct iovec iov[2] = {{hdr, sizeof hdr}, {(void *)buf, len}};
	struct msghdr msg = {.msg_iov = iov, .msg_iovlen = len ? 2 : 1};
	size_t left = sizeof hdr + len;
	while (left > 0) {
		/* SEC-3: MSG_NOSIGNAL turns SIGPIPE into EPIPE for this call
		 * only; the process's signal dispositions are not ours. */
		ssize_t n = sendmsg(d->fd, &msg, MSG_NOSIGNAL);
		if (n < 0) {
			if (errno == EINTR) /* SEC-6 */
				continue;
			int e = errno;
			/* SEND-5: a frame cut short leaves the stream unframed. */
			if (left < sizeof hdr + len)
				d->send_broken = 1;
			if (e == EAGAIN || e == EWOULDBLOCK)
				return DUCT_ETIMEDOUT;
			if (e == EPIPE || e == ECONNRESET)
				return DUCT_EPIPE;
			return duct_syserr(e);
		}
		left -= (size_t)n; /* SEND-1: loop over short writes */
		while (msg.msg_iovlen > 0 && (size_t)n >= msg.msg_iov->iov_len) {
			n -= (ssize_t)msg.msg_iov->iov_len;
			msg.msg_iov++;
			msg.msg_iovlen--;
		}
		if (msg.msg_iovlen > 0) {
			msg.msg_iov->iov_base = (uint8_t *)msg.msg_iov->iov_base + n;
			msg.msg_iov->iov_len -= (size_t)n;
		}
	}
	return DUCT_OK;
}

int duct_send(duct *d, const void *buf, size_t len)
{
	lock(d, &d->send_mu);
	int rc = send_frame(d, buf, len);
	unlock(d, &d->send_mu);
	return rc;
}

static int recv_frame(duct *d, const void **payload, size_t *len)
{
	if (d->fd < 0)
		return DUCT_ESTATE;
	for (;;) {
		const uint8_t *p;
		int rc = duct_reader_next(d->rd, &p, len);
		if (rc == DUCT_OK) {
			*payload = p;
			return rc;
		}
		if (rc < 0) {
			/* RECV-5: the stream cannot be resynchronised; let the
			 * peer see the connection is dead. */
			if (!d->dead) {
				d->dead = 1;
				shutdown(d->fd, SHUT_RDWR);
			}
			return rc;
		}
		uint8_t *space;
		size_t avail;
		if ((rc = duct_reader_space(d->rd, &space, &avail)) != DUCT_OK)
			return rc;
		/* One read may bring many small frames; a large payload lands
		 * straight in the buffer it is returned from. */
		ssize_t n = read(d->fd, space, avail);
		if (n > 0) {
			duct_reader_commit(d->rd, (size_t)n);
		} else if (n == 0 || errno == ECONNRESET) {
			return duct_reader_finish(d->rd); /* RECV-2, RECV-3 */
		} else if (errno == EAGAIN || errno == EWOULDBLOCK) {
			/* TIME-2: what arrived stays buffered; nothing is lost. */
			return DUCT_ETIMEDOUT;
		} else if (errno != EINTR) {
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

int duct_poll(duct *d, int timeout_ms)
{
	if (d->fd < 0)
		return DUCT_ESTATE;
	/* POLL-1: buffered bytes (or a known bad stream) mean recv will not
	 * wait for the socket. */
	if (duct_reader_buffered(d->rd) > 0 || d->dead)
		return 1;
	return duct__wait(d->fd, POLLIN, timeout_ms);
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
