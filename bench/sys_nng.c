/*
 * nng pair1, the way its documentation writes it: nng_send() per message
 * (it copies into a message), nng_recvmsg() and nng_msg_free() per message.
 * ipc:// is a Unix stream socket underneath, tcp:// loopback (nng sets
 * TCP_NODELAY by default).
 *
 *   nng      its defaults: NNG_OPT_SENDBUF and NNG_OPT_RECVBUF are 0, so a
 *            pair1 socket holds one message in flight and a stream moves
 *            in lockstep;
 *   nng-buf  both set to NNG_BUF messages, as a user who streams would tune
 *            it (the pair's other settings unchanged).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <nng/nng.h>
#include <nng/protocol/pair1/pair.h>

#include "bench.h"

/* Messages queued per direction in nng-buf (nng's maximum is 8192). */
#define NNG_BUF 1024

struct nconn {
	nng_socket sock;
};

static int nfail(const char *what, int rv)
{
	return bench_fail("nng: %s: %s", what, nng_strerror(rv));
}

static struct nconn *nopen(int buffered)
{
	struct nconn *c = calloc(1, sizeof *c);
	if (!c)
		return NULL;
	int rv = nng_pair1_open(&c->sock);
	if (rv == 0)
		rv = nng_socket_set_ms(c->sock, NNG_OPT_RECVTIMEO, BENCH_TIMEOUT_MS);
	if (rv == 0)
		rv = nng_socket_set_ms(c->sock, NNG_OPT_SENDTIMEO, BENCH_TIMEOUT_MS);
	if (rv == 0 && buffered)
		rv = nng_socket_set_int(c->sock, NNG_OPT_SENDBUF, NNG_BUF);
	if (rv == 0 && buffered)
		rv = nng_socket_set_int(c->sock, NNG_OPT_RECVBUF, NNG_BUF);
	if (rv != 0) {
		nfail("open", rv);
		free(c);
		return NULL;
	}
	return c;
}

static void nclose(void *conn)
{
	struct nconn *c = conn;
	if (c) {
		nng_close(c->sock);
		free(c);
	}
}

static int listen_as(int buffered, int transport, const char *dir, void **srv,
		     char *addr, size_t addrlen)
{
	struct nconn *c = nopen(buffered);
	if (!c)
		return -1;
	*srv = c;
	nng_listener l;
	int rv;
	if (transport == BENCH_TCP) {
		int port = 0;
		rv = nng_listen(c->sock, "tcp://127.0.0.1:0", &l, 0);
		if (rv == 0)
			rv = nng_listener_get_int(l, NNG_OPT_TCP_BOUND_PORT, &port);
		snprintf(addr, addrlen, "tcp://127.0.0.1:%d", port);
	} else {
		snprintf(addr, addrlen, "ipc://%s/nng.sock", dir);
		rv = nng_listen(c->sock, addr, &l, 0);
	}
	return rv == 0 ? 0 : nfail("listen", rv);
}

static int nlisten(int transport, const char *dir, void **srv, char *addr,
		   size_t addrlen)
{
	return listen_as(0, transport, dir, srv, addr, addrlen);
}

static int blisten(int transport, const char *dir, void **srv, char *addr,
		   size_t addrlen)
{
	return listen_as(1, transport, dir, srv, addr, addrlen);
}

/* The bound socket becomes the connection; the harness's "ready"
 * message proves the peer is there. */
static int naccept(void *srv, void **conn)
{
	*conn = srv;
	return 0;
}

static void nclose_srv(void *srv) { nclose(srv); }

static int connect_as(int buffered, const char *addr, void **conn)
{
	struct nconn *c = nopen(buffered);
	if (!c)
		return -1;
	int rv = nng_dial(c->sock, addr, NULL, 0);
	if (rv != 0) {
		nclose(c);
		return nfail("dial", rv);
	}
	*conn = c;
	return 0;
}

static int nconnect(int transport, const char *addr, void **conn)
{
	(void)transport;
	return connect_as(0, addr, conn);
}

static int bconnect(int transport, const char *addr, void **conn)
{
	(void)transport;
	return connect_as(1, addr, conn);
}

static int nsend1(void *conn, const void *buf, size_t len)
{
	struct nconn *c = conn;
	int rv = nng_send(c->sock, (void *)buf, len, 0);
	return rv == 0 ? 0 : nfail("send", rv);
}

static int nrecv1(void *conn, size_t want)
{
	struct nconn *c = conn;
	nng_msg *m;
	int rv = nng_recvmsg(c->sock, &m, 0);
	if (rv != 0)
		return nfail("recv", rv);
	size_t len = nng_msg_len(m);
	int ok = len == want && bench_check(nng_msg_body(m), len);
	nng_msg_free(m);
	return ok ? 0 : bench_fail("nng: got %zu bytes, want %zu", len, want);
}

static int nsend_n(void *conn, const void *buf, size_t len, uint64_t n)
{
	for (uint64_t i = 0; i < n; i++)
		if (nsend1(conn, buf, len) != 0)
			return -1;
	return 0;
}

static int nrecv_n(void *conn, size_t len, uint64_t n)
{
	for (uint64_t i = 0; i < n; i++)
		if (nrecv1(conn, len) != 0)
			return -1;
	return 0;
}

const bench_sys bench_sys_nng = {
	.name = "nng",
	.listen = nlisten,
	.accept = naccept,
	.close_srv = nclose_srv,
	.connect = nconnect,
	.close = nclose,
	.send1 = nsend1,
	.recv1 = nrecv1,
	.send_n = nsend_n,
	.recv_n = nrecv_n,
};

const bench_sys bench_sys_nng_buf = {
	.name = "nng-buf",
	.listen = blisten,
	.accept = naccept,
	.close_srv = nclose_srv,
	.connect = bconnect,
	.close = nclose,
	.send1 = nsend1,
	.recv1 = nrecv1,
	.send_n = nsend_n,
	.recv_n = nrecv_n,
};
