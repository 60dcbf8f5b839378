/*
 * libduct: the reference implementation of the Ductworks message duct.
 *
 * A duct is one end of a connected stream socket (Unix-domain or TCP) over
 * which every duct_send() arrives as exactly one duct_recv() on the other end.
 *
 *   duct *p, *c;
 *   duct_pair(&p, &c);
 *   duct_send(p, "hi", 2);
 *   duct_recv(c, &msg, &len);     // msg is borrowed until the next call on c
 *   duct_free(p); duct_free(c);
 *
 * Addresses are strings: "unix:PATH", "tcp:HOST:PORT" ("tcp:[::1]:PORT" for
 * IPv6).  See PROTOCOL.md, ADDR-*.
 *
 * Ownership: see the conventions in frame.h.  In short, duct_recv() lends
 * its payload until the next call on the same duct; duct_address() lends a
 * string until the duct is freed; everything *_new() returns is released by
 * duct_free().
 *
 * Threads: a duct is not thread-safe unless duct_set_locking() is on, in
 * which case concurrent senders never interleave frames (SEND-4), one
 * thread may receive while another sends (TIME-3), and concurrent
 * receivers each get whole messages.  Turn locking on before sharing the
 * duct, and close or free it only once the other threads are done.  A
 * payload lent by duct_recv() or duct_recv_many() can be overwritten by
 * another thread's receive as soon as the call returns: with several
 * receiving threads, use duct_recv_value() (decoded under the lock) or hold
 * a lock of your own over receiving and using the payload.  A thread
 * waiting for the lock is not bounded by the duct's timeouts.
 */
#ifndef DUCT_DUCT_H
#define DUCT_DUCT_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "frame.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct duct duct;

/* Defaults (TIME-1, LIFE-2, LIFE-5). */
#define DUCT_IO_TIMEOUT_MS 30000
#define DUCT_LISTEN_TIMEOUT_MS 60000
#define DUCT_CONNECT_RETRIES 3
#define DUCT_CONNECT_RETRY_MS 3000

/* ---- Roles and lifecycle ---------------------------------------------- */

/*
 * Creates a parent duct for address, not yet bound.  address NULL or
 * "unix:" means a fresh path inside a new private (0700) directory (SEC-2);
 * "tcp:" alone means "tcp:localhost:0".  On failure returns NULL and sets
 * *err (may be NULL) to DUCT_EADDR or DUCT_ENOMEM.
 */
duct *duct_parent_new(const char *address, int *err);

/* Creates a child duct that will connect to address.  As above. */
duct *duct_child_new(const char *address, int *err);

/*
 * Binds and listens (backlog 1).  After it, duct_address() gives the
 * address children must use (the real port when 0 was asked).
 * Returns DUCT_OK, DUCT_ESTATE (not a parent, already bound or connected),
 * DUCT_EADDR (host does not resolve, path too long) or a system error.
 */
int duct_bind(duct *d);

/*
 * Waits up to timeout_ms (negative: forever) for one child (LIFE-2).  On
 * success the listener is closed and a Unix path (and its private
 * directory) removed, so nobody else can connect (LIFE-3).
 * Returns DUCT_OK, DUCT_ETIMEDOUT (still listening; call again),
 * DUCT_EPEERCRED (the child failed duct_set_peer_uid(); it was dropped and
 * the duct still listens), DUCT_ESTATE (not bound, already connected) or a
 * system error.
 */
int duct_listen(duct *d, int timeout_ms);

/*
 * Connects a child, retrying on ENOENT and ECONNREFUSED (LIFE-5).
 * Returns DUCT_OK, DUCT_ECONNECT (retries exhausted; duct_errno of the last
 * error is kept in duct_last_errno()), DUCT_EADDR, DUCT_ESTATE (not a
 * child or already connected) or a system error.
 */
int duct_connect(duct *d);

/* A connected pair, like multiprocessing.Pipe() (LIFE-6). */
int duct_pair(duct **parent, duct **child);

/* Wraps an already connected stream socket (e.g. inherited across exec).
 * The duct owns fd from then on.  NULL and *err on failure. */
duct *duct_from_fd(int fd, int *err);

/*
 * Closes the connection and any listener; removes a Unix path still bound.
 * Idempotent (CLOSE-1).  Does not shut the socket down (CLOSE-2): a copy of
 * the fd in a forked process keeps working.  Always returns DUCT_OK.
 */
int duct_close(duct *d);

/* Shuts the connection down for everybody sharing it, then closes
 * (CLOSE-3).  DUCT_OK, or a system error (the duct is closed anyway). */
int duct_shutdown(duct *d);

/* Closes and releases everything.  NULL is allowed. */
void duct_free(duct *d);

/* ---- Settings (each returns DUCT_OK or DUCT_EINVAL) ---------------------- */

/* Send and receive inactivity timeouts: an operation fails with
 * DUCT_ETIMEDOUT after this long without progress.  0 or negative: none
 * (TIME-1).  Also bounds each TCP connect attempt. */
int duct_set_timeouts(duct *d, int send_ms, int recv_ms);
/* Largest payload duct_recv() accepts, default 64 MiB (SEC-1). */
int duct_set_max_message(duct *d, uint32_t max);
/* Connect retry policy (LIFE-5). */
int duct_set_connect_retry(duct *d, int retries, int interval_ms);
/* Serialise concurrent senders and concurrent receivers (SEND-4). */
int duct_set_locking(duct *d, int on);
/* Unix parent only (DUCT_EINVAL otherwise): refuse a child whose uid is not
 * uid (SEC-5); -1 disables. */
int duct_set_peer_uid(duct *d, long uid);

/* ---- Queries ------------------------------------------------------------- */

/* The bound or connected-to address ("unix:/...", "tcp:127.0.0.1:4242"),
 * or NULL before bind.  Borrowed until duct_free(). */
const char *duct_address(const duct *d);
/* The connected socket, for event loops; -1 if not connected. */
int duct_fileno(const duct *d);
/* The listening socket of a bound parent; -1 otherwise. */
int duct_listener_fileno(const duct *d);
/* errno of the last failed connect attempt (for DUCT_ECONNECT). */
int duct_last_errno(const duct *d);

/* ---- Messages ------------------------------------------------------------ */

/*
 * Sends one message: one frame, written with a single system call when the
 * kernel takes it all (send() of a copy up to 4 KiB of payload, sendmsg()
 * beyond), looping otherwise (SEND-1..3).  Never raises
 * SIGPIPE (SEC-3).
 * Returns DUCT_OK, DUCT_EPIPE (peer gone), DUCT_ETIMEDOUT, DUCT_EINVAL
 * (len >= 2^32), DUCT_ESTATE (not connected, or an earlier send failed
 * mid-frame so the stream is no longer framed: SEND-5) or a system error.
 */
int duct_send(duct *d, const void *buf, size_t len);

/*
 * Receives one whole message.  *payload is borrowed until the next call on
 * d (NULL allowed when *len is 0).
 * Returns DUCT_OK, DUCT_EOF (clean close), DUCT_ETRUNCATED (closed inside
 * a frame), DUCT_EMAGIC, DUCT_ETOOBIG (the connection is then shut down and
 * every later call returns the same code: RECV-5), DUCT_ETIMEDOUT,
 * DUCT_ENOMEM, DUCT_ESTATE or a system error.
 */
int duct_recv(duct *d, const void **payload, size_t *len);

/*
 * Returns 1 if duct_recv() would not block for lack of data: a message (or
 * part of one) is buffered or readable, or the peer closed (POLL-1).  0 if
 * nothing came within timeout_ms (0: do not block; negative: forever).
 * Negative status codes on error.
 */
int duct_poll(duct *d, int timeout_ms);

/* ---- Batches of messages (SEND-7, RECV-8) -------------------------------- */

/*
 * One message of a batch: len bytes at base (base may be NULL when len is
 * 0).  duct_send_many() only reads the messages during the call;
 * duct_recv_many() fills them with borrowed payloads.
 */
typedef struct duct_iov {
	const void *base;
	size_t len;
} duct_iov;

/*
 * Sends msgs[0..n) as n frames, in order: the same bytes on the wire as n
 * calls of duct_send() (SEND-7), written with one sendmsg() per IOV_MAX/2
 * messages (512 on Linux) when the kernel takes them all, looping
 * otherwise.  Nothing is copied and nothing allocated.  With locking on,
 * no other sender's frame lands inside the batch (SEND-4).
 *
 * *sent (may be NULL) is set to the number of messages written whole,
 * whatever the outcome.
 * Returns:
 *   DUCT_OK        all n sent (n == 0 sends nothing);
 *   DUCT_EINVAL    msgs is NULL with n > 0, or a message is 2^32 bytes or
 *                  longer: nothing was written (SEND-6);
 *   DUCT_EPIPE, DUCT_ETIMEDOUT, DUCT_ESTATE or a system error, as
 *                  duct_send(): msgs[*sent..n) were not delivered whole.
 *                  If the failure cut msgs[*sent] short, the stream is no
 *                  longer framed and every later send returns DUCT_ESTATE
 *                  (SEND-5); if it came between two frames (a timeout
 *                  before any byte of msgs[*sent]), the duct stays usable
 *                  and the rest may be sent again.
 */
int duct_send_many(duct *d, const duct_iov *msgs, size_t n, size_t *sent);

/*
 * Receives up to max messages at once.  Waits as duct_recv() does until
 * one whole message is there, then takes every further whole message
 * already buffered, without reading the socket again (RECV-8): a burst of
 * small messages costs one read() per buffer-full, not per message.
 *
 * On DUCT_OK, *n (>= 1) messages are in msgs[0..*n), in order; their
 * payloads are borrowed, all of them valid together until the next
 * receive on d (duct_recv, duct_recv_many, duct_recv_value).
 * Returns DUCT_OK, DUCT_EINVAL (msgs or n NULL, or max 0), or what
 * duct_recv() would have returned when not even one message could be
 * received (*n is then 0).  A close or protocol error met after some
 * messages is returned by the next call, once those are delivered
 * (RECV-7).
 */
int duct_recv_many(duct *d, duct_iov *msgs, size_t max, size_t *n);

/* ---- Values: pluggable serializers (JSON-1) ------------------------------ */

/* A growable byte buffer that encoders append to. */
typedef struct duct_buf {
	uint8_t *data;
	size_t len, cap;
} duct_buf;
/* Appends n bytes.  DUCT_OK or DUCT_ENOMEM. */
int duct_buf_append(duct_buf *b, const void *p, size_t n);
void duct_buf_free(duct_buf *b);

/*
 * A serializer turns a value into bytes and back.  Values are opaque to
 * libduct (void *).  encode appends to out; decode creates a value the
 * caller releases with free_value.  All return DUCT_OK or a negative code.
 */
typedef struct duct_serializer {
	int (*encode)(void *ctx, const void *value, duct_buf *out);
	int (*decode)(void *ctx, const uint8_t *data, size_t len, void **value);
	void (*free_value)(void *ctx, void *value);
	void *ctx;
} duct_serializer;

/* Sets d's serializer (copied).  NULL restores the default JSON one. */
int duct_set_serializer(duct *d, const duct_serializer *s);

/* Encodes value with d's serializer and sends it. */
int duct_send_value(duct *d, const void *value);
/* Receives a message and decodes it; release *value with
 * duct_free_value(d, *value).  The serializer's error codes pass through. */
int duct_recv_value(duct *d, void **value);
void duct_free_value(duct *d, void *value);

#ifdef __cplusplus
}
#endif
#endif
