/*
 * ZeroMQ PAIR, the way its guide writes it: zmq_send() per message (it
 * copies into a message), zmq_msg_recv() into one reused zmq_msg_t (no
 * copy out).  ipc:// is a Unix stream socket underneath, tcp:// loopback
 * with TCP_NODELAY (libzmq's default).  One context (one I/O thread) per
 * process and run.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "bench.h"

struct zconn {
	void *ctx, *sock;
	zmq_msg_t msg;
};

static int zfail(const char *what)
{
	return bench_fail("zmq: %s: %s", what, zmq_strerror(zmq_errno()));
}

static struct zconn *zopen(void)
{
	struct zconn *z = calloc(1, sizeof *z);
	if (!z)
		return NULL;
	int timeout = BENCH_TIMEOUT_MS, linger = 1000;
	z->ctx = zmq_ctx_new();
	z->sock = z->ctx ? zmq_socket(z->ctx, ZMQ_PAIR) : NULL;
	zmq_msg_init(&z->msg);
	if (!z->sock ||
	    zmq_setsockopt(z->sock, ZMQ_RCVTIMEO, &timeout, sizeof timeout) ||
	    zmq_setsockopt(z->sock, ZMQ_SNDTIMEO, &timeout, sizeof timeout) ||
	    zmq_setsockopt(z->sock, ZMQ_LINGER, &linger, sizeof linger)) {
		zfail("socket");
		if (z->sock)
			zmq_close(z->sock);
		if (z->ctx)
			zmq_ctx_term(z->ctx);
		free(z);
		return NULL;
	}
	return z;
}

static void zclose(void *conn)
{
	struct zconn *z = conn;
	if (z) {
		zmq_msg_close(&z->msg);
		zmq_close(z->sock);
		zmq_ctx_term(z->ctx);
		free(z);
	}
}

static int zlisten(int transport, const char *dir, void **srv, char *addr,
		   size_t addrlen)
{
	struct zconn *z = zopen();
	if (!z)
		return -1;
	*srv = z;
	char where[256];
	if (transport == BENCH_TCP)
		snprintf(where, sizeof where, "tcp://127.0.0.1:*");
	else
		snprintf(where, sizeof where, "ipc://%s/zmq.sock", dir);
	if (zmq_bind(z->sock, where) != 0)
		return zfail("bind");
	size_t len = addrlen;
	if (zmq_getsockopt(z->sock, ZMQ_LAST_ENDPOINT, addr, &len) != 0)
		return zfail("last endpoint");
	return 0;
}

/* The bound socket becomes the connection: PAIR connects in the
 * background, and the harness's "ready" message proves the peer is there. */
static int zaccept(void *srv, void **conn)
{
	*conn = srv;
	return 0;
}

static void zclose_srv(void *srv) { zclose(srv); }

static int zconnect(int transport, const char *addr, void **conn)
{
	(void)transport;
	struct zconn *z = zopen();
	if (!z)
		return -1;
	if (zmq_connect(z->sock, addr) != 0) {
		zfail("connect");
		zclose(z);
		return -1;
	}
	*conn = z;
	return 0;
}

static int zsend1(void *conn, const void *buf, size_t len)
{
	struct zconn *z = conn;
	return zmq_send(z->sock, buf, len, 0) == (int)len ? 0 : zfail("send");
}

static int zrecv1(void *conn, size_t want)
{
	struct zconn *z = conn;
	if (zmq_msg_recv(&z->msg, z->sock, 0) < 0)
		return zfail("recv");
	size_t len = zmq_msg_size(&z->msg);
	if (len != want || !bench_check(zmq_msg_data(&z->msg), len))
		return bench_fail("zmq: got %zu bytes, want %zu", len, want);
	return 0;
}

static int zsend_n(void *conn, const void *buf, size_t len, uint64_t n)
{
	for (uint64_t i = 0; i < n; i++)
		if (zsend1(conn, buf, len) != 0)
			return -1;
	return 0;
}

static int zrecv_n(void *conn, size_t len, uint64_t n)
{
	for (uint64_t i = 0; i < n; i++)
		if (zrecv1(conn, len) != 0)
			return -1;
	return 0;
}

const bench_sys bench_sys_zmq = {
	.name = "zmq",
	.listen = zlisten,
	.accept = zaccept,
	.close_srv = zclose_srv,
	.connect = zconnect,
	.close = zclose,
	.send1 = zsend1,
	.recv1 = zrecv1,
	.send_n = zsend_n,
	.recv_n = zrecv_n,
};
