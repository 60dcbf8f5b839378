/*
 * libduct, used as an application would: a parent duct binds and listens,
 * the peer connects with duct_child_new() + duct_connect().
 *
 *   duct        one duct_send() and one duct_recv() per message;
 *   duct-batch  streaming with duct_send_many() (BATCH messages a call)
 *               and duct_recv_many(): what a program that queues messages
 *               can do.  The bytes on the wire are the same (SEND-7).
 */
#include <stdio.h>
#include <stdlib.h>

#include "bench.h"
#include "duct/duct.h"

/* Messages per duct_send_many() / duct_recv_many() call. */
#define BATCH 512

static int failed(const char *what, int rc)
{
	return bench_fail("duct: %s: %s (%s)", what, duct_strerror(rc),
			  duct_err_name(rc));
}

/* The listening duct becomes the connection: accept hands it over. */
struct duct_srv {
	duct *d;
};

static int duct_sys_listen(int transport, const char *dir, void **srv,
			   char *addr, size_t addrlen)
{
	char where[256];
	int rc;
	if (transport == BENCH_TCP)
		snprintf(where, sizeof where, "tcp:127.0.0.1:0");
	else
		snprintf(where, sizeof where, "unix:%s/duct.sock", dir);
	struct duct_srv *s = calloc(1, sizeof *s);
	if (!s)
		return bench_fail("duct: out of memory");
	*srv = s;
	if (!(s->d = duct_parent_new(where, &rc)))
		return failed("parent_new", rc);
	if ((rc = duct_bind(s->d)) != DUCT_OK)
		return failed("bind", rc);
	snprintf(addr, addrlen, "%s", duct_address(s->d));
	return 0;
}

static void duct_sys_close_srv(void *srv)
{
	struct duct_srv *s = srv;
	if (s) {
		duct_free(s->d);
		free(s);
	}
}

static int duct_sys_accept(void *srv, void **conn)
{
	struct duct_srv *s = srv;
	int rc = duct_listen(s->d, BENCH_TIMEOUT_MS);
	if (rc != DUCT_OK) {
		duct_sys_close_srv(s);
		return failed("listen", rc);
	}
	*conn = s->d;
	free(s);
	return 0;
}

static int duct_sys_connect(int transport, const char *addr, void **conn)
{
	(void)transport;
	int rc;
	duct *d = duct_child_new(addr, &rc);
	if (!d)
		return failed("child_new", rc);
	if ((rc = duct_connect(d)) != DUCT_OK) {
		duct_free(d);
		return failed("connect", rc);
	}
	*conn = d;
	return 0;
}

static void duct_sys_close(void *conn) { duct_free(conn); }

static int duct_sys_send1(void *conn, const void *buf, size_t len)
{
	int rc = duct_send(conn, buf, len);
	return rc == DUCT_OK ? 0 : failed("send", rc);
}

static int duct_sys_recv1(void *conn, size_t want)
{
	const void *p;
	size_t len;
	int rc = duct_recv(conn, &p, &len);
	if (rc != DUCT_OK)
		return failed("recv", rc);
	if (len != want || !bench_check(p, len))
		return bench_fail("duct: got %zu bytes, want %zu", len, want);
	return 0;
}

static int duct_sys_send_n(void *conn, const void *buf, size_t len, uint64_t n)
{
	for (uint64_t i = 0; i < n; i++) {
		int rc = duct_send(conn, buf, len);
		if (rc != DUCT_OK)
			return failed("send", rc);
	}
	return 0;
}

static int duct_sys_recv_n(void *conn, size_t want, uint64_t n)
{
	for (uint64_t i = 0; i < n; i++) {
		const void *p;
		size_t len;
		int rc = duct_recv(conn, &p, &len);
		if (rc != DUCT_OK)
			return failed("recv", rc);
		if (len != want || !bench_check(p, len))
			return bench_fail("duct: message %llu: %zu bytes, want %zu",
					  (unsigned long long)i, len, want);
	}
	return 0;
}

const bench_sys bench_sys_duct = {
	.name = "duct",
	.listen = duct_sys_listen,
	.accept = duct_sys_accept,
	.close_srv = duct_sys_close_srv,
	.connect = duct_sys_connect,
	.close = duct_sys_close,
	.send1 = duct_sys_send1,
	.recv1 = duct_sys_recv1,
	.send_n = duct_sys_send_n,
	.recv_n = duct_sys_recv_n,
};

static int batch_send_n(void *conn, const void *buf, size_t len, uint64_t n)
{
	duct_iov msgs[BATCH];
	for (size_t i = 0; i < BATCH; i++)
		msgs[i] = (duct_iov){buf, len};
	while (n > 0) {
		size_t k = n < BATCH ? (size_t)n : BATCH, sent;
		int rc = duct_send_many(conn, msgs, k, &sent);
		if (rc != DUCT_OK)
			return failed("send_many", rc);
		n -= k;
	}
	return 0;
}

static int batch_recv_n(void *conn, size_t want, uint64_t n)
{
	duct_iov msgs[BATCH];
	while (n > 0) {
		size_t got;
		int rc = duct_recv_many(conn, msgs, n < BATCH ? (size_t)n : BATCH,
					&got);
		if (rc != DUCT_OK)
			return failed("recv_many", rc);
		for (size_t i = 0; i < got; i++)
			if (msgs[i].len != want || !bench_check(msgs[i].base, want))
				return bench_fail("duct: %zu bytes, want %zu",
						  msgs[i].len, want);
		n -= got;
	}
	return 0;
}

const bench_sys bench_sys_duct_batch = {
	.name = "duct-batch",
	.stream_only = 1,
	.listen = duct_sys_listen,
	.accept = duct_sys_accept,
	.close_srv = duct_sys_close_srv,
	.connect = duct_sys_connect,
	.close = duct_sys_close,
	.send1 = duct_sys_send1,
	.recv1 = duct_sys_recv1,
	.send_n = batch_send_n,
	.recv_n = batch_recv_n,
};
