/*
 * The limit: a raw stream socket with no framing.  One send() per message,
 * as a framed sender makes one sendmsg() per message; the receiver reads
 * as much as the socket holds into one buffer (at least 64 KiB, or one
 * message if larger) and only counts bytes, since it knows every message's
 * size.  No implementation that frames messages can move them with fewer
 * system calls or copies, so the ratio to this is the cost of framing.
 *
 * A 0-byte message cannot exist on a bare stream; raw carries it as one
 * byte, the least a stream can carry.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include "bench.h"

#define RAW_CHUNK ((size_t)64 << 10)

struct raw {
	int fd;
	uint8_t *buf;
	size_t cap;
};

static size_t wire(size_t len) { return len ? len : 1; }

static int setup_fd(int fd, int tcp)
{
	struct timeval tv = {BENCH_TIMEOUT_MS / 1000, 0};
	int one = 1;
	if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) ||
	    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv))
		return bench_fail("raw: setsockopt: %s", strerror(errno));
	/* As libduct does (ADDR-4): a message must not wait for Nagle. */
	if (tcp &&
	    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) != 0)
		return bench_fail("raw: TCP_NODELAY: %s", strerror(errno));
	return 0;
}

static int new_conn(int fd, void **conn)
{
	struct raw *r = calloc(1, sizeof *r);
	if (!r) {
		close(fd);
		return bench_fail("raw: out of memory");
	}
	r->fd = fd;
	*conn = r;
	return 0;
}

static int reserve(struct raw *r, size_t n)
{
	if (n < RAW_CHUNK)
		n = RAW_CHUNK;
	if (r->cap >= n)
		return 0;
	uint8_t *p = realloc(r->buf, n);
	if (!p)
		return bench_fail("raw: out of memory");
	r->buf = p;
	r->cap = n;
	return 0;
}

struct raw_srv {
	int fd, tcp;
};

static int raw_listen(int transport, const char *dir, void **srv, char *addr,
		      size_t addrlen)
{
	struct raw_srv *s = calloc(1, sizeof *s);
	if (!s)
		return bench_fail("raw: out of memory");
	s->tcp = transport == BENCH_TCP;
	s->fd = socket(s->tcp ? AF_INET : AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (s->fd < 0) {
		free(s);
		return bench_fail("raw: socket: %s", strerror(errno));
	}
	*srv = s;
	if (s->tcp) {
		struct sockaddr_in in = {.sin_family = AF_INET,
					 .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
		socklen_t len = sizeof in;
		if (bind(s->fd, (struct sockaddr *)&in, sizeof in) != 0 ||
		    getsockname(s->fd, (struct sockaddr *)&in, &len) != 0)
			return bench_fail("raw: bind: %s", strerror(errno));
		snprintf(addr, addrlen, "%u", ntohs(in.sin_port));
	} else {
		struct sockaddr_un un = {.sun_family = AF_UNIX};
		snprintf(un.sun_path, sizeof un.sun_path, "%s/raw.sock", dir);
		if (bind(s->fd, (struct sockaddr *)&un, sizeof un) != 0)
			return bench_fail("raw: bind: %s", strerror(errno));
		snprintf(addr, addrlen, "%s", un.sun_path);
	}
	if (listen(s->fd, 1) != 0)
		return bench_fail("raw: listen: %s", strerror(errno));
	return 0;
}

static void raw_close_srv(void *srv)
{
	struct raw_srv *s = srv;
	if (s) {
		if (s->fd >= 0)
			close(s->fd);
		free(s);
	}
}

static int raw_accept(void *srv, void **conn)
{
	struct raw_srv *s = srv;
	struct pollfd p = {.fd = s->fd, .events = POLLIN};
	int n, fd = -1, tcp = s->tcp;
	while ((n = poll(&p, 1, BENCH_TIMEOUT_MS)) < 0 && errno == EINTR)
		;
	if (n > 0)
		fd = accept4(s->fd, NULL, NULL, SOCK_CLOEXEC);
	int e = errno;
	raw_close_srv(s); /* one peer only, as a duct parent */
	if (n <= 0)
		return bench_fail("raw: no peer connected");
	if (fd < 0)
		return bench_fail("raw: accept: %s", strerror(e));
	if (setup_fd(fd, tcp) != 0) {
		close(fd);
		return -1;
	}
	return new_conn(fd, conn);
}

static int raw_connect(int transport, const char *addr, void **conn)
{
	int tcp = transport == BENCH_TCP;
	int fd = socket(tcp ? AF_INET : AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return bench_fail("raw: socket: %s", strerror(errno));
	int rc;
	if (tcp) {
		struct sockaddr_in in = {.sin_family = AF_INET,
					 .sin_port = htons((uint16_t)atoi(addr)),
					 .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
		rc = connect(fd, (struct sockaddr *)&in, sizeof in);
	} else {
		struct sockaddr_un un = {.sun_family = AF_UNIX};
		snprintf(un.sun_path, sizeof un.sun_path, "%s", addr);
		rc = connect(fd, (struct sockaddr *)&un, sizeof un);
	}
	if (rc != 0 || setup_fd(fd, tcp) != 0) {
		if (rc != 0)
			bench_fail("raw: connect %s: %s", addr, strerror(errno));
		close(fd);
		return -1;
	}
	return new_conn(fd, conn);
}

static void raw_close(void *conn)
{
	struct raw *r = conn;
	if (r) {
		close(r->fd);
		free(r->buf);
		free(r);
	}
}

static int write_all(int fd, const uint8_t *p, size_t n)
{
	while (n > 0) {
		ssize_t k = send(fd, p, n, MSG_NOSIGNAL);
		if (k < 0) {
			if (errno == EINTR)
				continue;
			return bench_fail("raw: send: %s", strerror(errno));
		}
		p += k;
		n -= (size_t)k;
	}
	return 0;
}

static int raw_send1(void *conn, const void *buf, size_t len)
{
	struct raw *r = conn;
	static const uint8_t token = 0;
	return write_all(r->fd, len ? buf : &token, wire(len));
}

static int raw_send_n(void *conn, const void *buf, size_t len, uint64_t n)
{
	struct raw *r = conn;
	static const uint8_t token = 0;
	const uint8_t *p = len ? buf : &token;
	size_t w = wire(len);
	for (uint64_t i = 0; i < n; i++)
		if (write_all(r->fd, p, w) != 0)
			return -1;
	return 0;
}

/* Reads exactly n bytes into r->buf (n <= r->cap). */
static int read_exact(struct raw *r, size_t n)
{
	size_t have = 0;
	while (have < n) {
		ssize_t k = read(r->fd, r->buf + have, n - have);
		if (k > 0) {
			have += (size_t)k;
		} else if (k == 0) {
			return bench_fail("raw: peer closed after %zu of %zu bytes",
					  have, n);
		} else if (errno != EINTR) {
			return bench_fail("raw: read: %s", strerror(errno));
		}
	}
	return 0;
}

static int raw_recv1(void *conn, size_t want)
{
	struct raw *r = conn;
	size_t w = wire(want);
	if (reserve(r, w) != 0 || read_exact(r, w) != 0)
		return -1;
	if (want && !bench_check(r->buf, want))
		return bench_fail("raw: payload corrupted");
	return 0;
}

static int raw_recv_n(void *conn, size_t len, uint64_t n)
{
	struct raw *r = conn;
	uint64_t left = n * wire(len);
	if (reserve(r, wire(len)) != 0)
		return -1;
	while (left > 0) {
		size_t want = left < r->cap ? (size_t)left : r->cap;
		ssize_t k = read(r->fd, r->buf, want);
		if (k > 0) {
			left -= (uint64_t)k;
		} else if (k == 0) {
			return bench_fail("raw: peer closed with %llu bytes due",
					  (unsigned long long)left);
		} else if (errno != EINTR) {
			return bench_fail("raw: read: %s", strerror(errno));
		}
	}
	return 0;
}

const bench_sys bench_sys_raw = {
	.name = "raw",
	.listen = raw_listen,
	.accept = raw_accept,
	.close_srv = raw_close_srv,
	.connect = raw_connect,
	.close = raw_close,
	.send1 = raw_send1,
	.recv1 = raw_recv1,
	.send_n = raw_send_n,
	.recv_n = raw_recv_n,
};
