/* The runner's own end of the duct: raw sockets, byte-exact, with a
 * transcript of everything that crossed them. */
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "conform.h"

/* How long the testee may leave the runner's bytes unread. */
#define STALL_MS 10000

/* Transcripts keep the first bytes only; a 16 MiB message is not shown. */
#define KEEP 4096

static void keep(bytes *b, const void *p, size_t n)
{
	if (b->n < KEEP)
		bytes_put(b, p, n < KEEP - b->n ? n : KEEP - b->n);
}

/* Parses "unix:PATH" / "tcp:HOST:PORT" / "tcp:[V6]:PORT" into a sockaddr. */
static int resolve(const char *a, struct sockaddr_storage *ss, socklen_t *len)
{
	memset(ss, 0, sizeof *ss);
	if (strncmp(a, "unix:", 5) == 0) {
		struct sockaddr_un *un = (struct sockaddr_un *)ss;
		if (strlen(a + 5) >= sizeof un->sun_path)
			return -1;
		un->sun_family = AF_UNIX;
		strcpy(un->sun_path, a + 5);
		*len = sizeof *un;
		return 0;
	}
	if (strncmp(a, "tcp:", 4) != 0)
		return -1;
	char host[256];
	const char *h = a + 4, *colon;
	if (*h == '[') {
		const char *close = strchr(h, ']');
		if (!close || close[1] != ':' || (size_t)(close - h) > sizeof host)
			return -1;
		snprintf(host, sizeof host, "%.*s", (int)(close - h - 1), h + 1);
		colon = close + 1;
	} else {
		colon = strrchr(h, ':');
		if (!colon || (size_t)(colon - h) >= sizeof host)
			return -1;
		snprintf(host, sizeof host, "%.*s", (int)(colon - h), h);
	}
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *res;
	if (getaddrinfo(host, colon + 1, &hints, &res) != 0)
		return -1;
	memcpy(ss, res->ai_addr, res->ai_addrlen);
	*len = res->ai_addrlen;
	freeaddrinfo(res);
	return 0;
}

static void nodelay(int fd)
{
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

int peer_connect_to(cx *c, const char *address, int *err)
{
	struct sockaddr_storage ss;
	socklen_t len;
	*err = 0;
	if (resolve(address, &ss, &len) != 0) {
		cx_fail(c, "the testee gave an address the runner cannot use: '%s'", address);
		return -1;
	}
	int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&ss, len) != 0) {
		*err = errno;
		if (fd >= 0)
			close(fd);
		return -1;
	}
	nodelay(fd);
	return fd;
}

int peer_listen(cx *c)
{
	struct sockaddr_storage ss;
	socklen_t len;
	/* A second call listens again on the address of the first. */
	if (!c->addr[0] && c->tr == TR_UNIX) {
		snprintf(c->privdir, sizeof c->privdir, "/tmp/duct-conform-XXXXXX");
		if (!mkdtemp(c->privdir)) {
			cx_fail(c, "runner: mkdtemp: %s", strerror(errno));
			return -1;
		}
		snprintf(c->addr, sizeof c->addr, "unix:%s/parent.sock", c->privdir);
	} else if (!c->addr[0]) {
		snprintf(c->addr, sizeof c->addr, "tcp:%s:0", net_runner_host());
	}
	resolve(c->addr, &ss, &len);
	int one = 1;
	c->lsock = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	setsockopt(c->lsock, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	if (bind(c->lsock, (struct sockaddr *)&ss, len) != 0 || listen(c->lsock, 4) != 0) {
		cx_fail(c, "runner: cannot listen on %s: %s", c->addr, strerror(errno));
		return -1;
	}
	if (c->tr == TR_TCP) {
		struct sockaddr_in in;
		socklen_t l = sizeof in;
		getsockname(c->lsock, (struct sockaddr *)&in, &l);
		snprintf(c->addr, sizeof c->addr, "tcp:%s:%d", net_runner_host(),
			 ntohs(in.sin_port));
	}
	return 0;
}

int peer_accept(cx *c, int ms)
{
	struct pollfd p = {.fd = c->lsock, .events = POLLIN};
	if (poll(&p, 1, cx_ms(c, ms)) != 1) {
		cx_fail(c, "the testee (child) did not connect within %d ms", cx_ms(c, ms));
		return -1;
	}
	c->sock = accept4(c->lsock, NULL, NULL, SOCK_CLOEXEC);
	if (c->sock < 0) {
		cx_fail(c, "runner: accept: %s", strerror(errno));
		return -1;
	}
	nodelay(c->sock);
	return 0;
}

int cx_connect(cx *c)
{
	if (c->role == ROLE_PARENT) {
		char address[300];
		if (cx_parent(c, address, sizeof address))
			return -1;
		int err;
		c->sock = peer_connect_to(c, address, &err);
		if (c->sock < 0) {
			cx_fail(c, "cannot connect to the testee's address %s: %s", address,
				strerror(err));
			return -1;
		}
		return cx_expect(c, 5000, "ok", "listen 5000");
	}
	if (peer_listen(c) || cx_send_cmd(c, "child %s", c->addr))
		return -1;
	if (peer_accept(c, 10000))
		return -1;
	if (cx_wait_reply(c, 10000))
		return -1;
	if (strcmp(c->reply, "ok") != 0) {
		cx_fail(c, "'child %s' failed: %s", c->addr, c->reply);
		return -1;
	}
	return 0;
}

/* Writes everything, or fails once the testee has taken nothing for
 * stall_ms: a testee that stops reading must not hang the runner. */
static int write_all(int fd, const uint8_t *p, size_t n, int stall_ms)
{
	while (n > 0) {
		struct pollfd pf = {.fd = fd, .events = POLLOUT};
		int r = poll(&pf, 1, stall_ms);
		if (r < 0 && errno == EINTR)
			continue;
		if (r == 0)
			return -ETIMEDOUT;
		ssize_t w = send(fd, p, n, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (w < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (w < 0)
			return -errno;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

void peer_write(cx *c, const void *p, size_t n)
{
	if (cx_failed(c))
		return;
	keep(&c->sent, p, n);
	int rc = write_all(c->sock, p, n, cx_ms(c, STALL_MS));
	if (rc)
		cx_fail(c, "the testee did not take the bytes the runner sent: %s",
			rc == -ETIMEDOUT ? "it stopped reading" : strerror(-rc));
}

struct writer_job {
	int fd;
	int stall_ms;
	uint8_t *p;
	size_t n;
	size_t *chunks;
	size_t nchunks;
	int pause_ms;
	int close_after;
	int *sockp;
};

static void *writer(void *arg)
{
	struct writer_job *j = arg;
	size_t off = 0;
	int rc = 0;
	for (size_t i = 0; rc == 0 && off < j->n; i++) {
		size_t k = j->chunks && i < j->nchunks ? j->chunks[i] : j->n - off;
		if (k > j->n - off)
			k = j->n - off;
		rc = write_all(j->fd, j->p + off, k, j->stall_ms);
		off += k;
		if (j->pause_ms && off < j->n)
			usleep((useconds_t)j->pause_ms * 1000);
	}
	if (j->close_after)
		shutdown(j->fd, SHUT_WR); /* EOF for the testee; we may still read */
	return (void *)(intptr_t)rc;
}

void peer_write_async(cx *c, const uint8_t *p, size_t n, const size_t *chunks,
		      size_t nchunks, int pause_ms, int close_after)
{
	if (cx_failed(c))
		return;
	keep(&c->sent, p, n);
	struct writer_job *j = calloc(1, sizeof *j);
	j->fd = c->sock;
	j->stall_ms = cx_ms(c, STALL_MS);
	j->p = malloc(n ? n : 1);
	if (n)
		memcpy(j->p, p, n);
	j->n = n;
	if (chunks) {
		j->chunks = malloc(nchunks * sizeof *chunks);
		memcpy(j->chunks, chunks, nchunks * sizeof *chunks);
		j->nchunks = nchunks;
	}
	j->pause_ms = pause_ms;
	j->close_after = close_after;
	c->job = j;
	pthread_create(&c->writer, NULL, writer, j);
	c->writer_running = 1;
}

static int join(cx *c)
{
	if (!c->writer_running)
		return 0;
	void *ret;
	pthread_join(c->writer, &ret);
	c->writer_running = 0;
	free(c->job->p);
	free(c->job->chunks);
	free(c->job);
	c->job = NULL;
	return (int)(intptr_t)ret;
}

int peer_join(cx *c, int must_succeed)
{
	if (cx_failed(c) && c->writer_running)
		shutdown(c->sock, SHUT_WR); /* no point in waiting for a stall */
	int rc = join(c);
	if (rc && must_succeed && !cx_failed(c))
		cx_fail(c, "the testee did not take the bytes the runner sent: %s",
			rc == -ETIMEDOUT ? "it stopped reading" : strerror(-rc));
	return rc;
}

int peer_read(cx *c, void *buf, size_t n, int ms)
{
	if (cx_failed(c))
		return -1;
	long deadline = now_ms() + cx_ms(c, ms);
	size_t have = 0;
	while (have < n) {
		long left = deadline - now_ms();
		struct pollfd p = {.fd = c->sock, .events = POLLIN};
		if (left <= 0 || poll(&p, 1, (int)left) <= 0) {
			if (left > 0 && errno == EINTR)
				continue;
			cx_fail(c, "expected %zu bytes from the testee, %zu came within %d ms",
				n, have, cx_ms(c, ms));
			return -1;
		}
		ssize_t r = recv(c->sock, (uint8_t *)buf + have, n - have, 0);
		if (r <= 0) {
			cx_fail(c, "expected %zu bytes from the testee, %zu came before %s", n,
				have, r == 0 ? "it closed the connection" : strerror(errno));
			return -1;
		}
		keep(&c->got, (uint8_t *)buf + have, (size_t)r);
		have += (size_t)r;
	}
	return 0;
}

int peer_read_frame(cx *c, bytes *out, size_t limit, int ms)
{
	uint8_t h[5];
	out->n = 0;
	if (peer_read(c, h, 5, ms))
		return -1;
	uint32_t len = (uint32_t)h[1] << 24 | (uint32_t)h[2] << 16 | (uint32_t)h[3] << 8 | h[4];
	if (h[0] != 0x54 || len > limit) {
		cx_fail(c, "expected a frame header 54 + a length up to %zu (FRAME-1), got "
			"%02x %02x%02x%02x%02x", limit, h[0], h[1], h[2], h[3], h[4]);
		return -1;
	}
	bytes_put(out, NULL, 0);
	uint8_t *p = malloc(len ? len : 1);
	int rc = peer_read(c, p, len, ms);
	if (rc == 0)
		bytes_put(out, p, len);
	free(p);
	return rc;
}

int peer_expect_frame(cx *c, const void *want, size_t n, int ms)
{
	bytes got = {0};
	int rc = peer_read_frame(c, &got, n, ms);
	if (rc == 0 && (got.n != n || (n && memcmp(got.p, want, n) != 0))) {
		size_t i = 0;
		while (i < n && i < got.n && got.p[i] == ((const uint8_t *)want)[i])
			i++;
		char *w = hex(want, n < 64 ? n : 64), *g = hex(got.p, got.n < 64 ? got.n : 64);
		cx_fail(c, "the testee's message differs at byte %zu (%zu bytes, expected %zu)\n"
			"  expected: %s%s\ngot:      %s%s", i, got.n, n, w, n > 64 ? "..." : "",
			g, got.n > 64 ? "..." : "");
		free(w);
		free(g);
		rc = -1;
	}
	bytes_free(&got);
	return rc;
}

int peer_eof_within(cx *c, int ms)
{
	long deadline = now_ms() + cx_ms(c, ms);
	uint8_t buf[4096];
	for (;;) {
		long left = deadline - now_ms();
		struct pollfd p = {.fd = c->sock, .events = POLLIN};
		if (left <= 0 || poll(&p, 1, (int)left) <= 0)
			return 0;
		ssize_t r = recv(c->sock, buf, sizeof buf, 0);
		if (r <= 0)
			return 1;
		keep(&c->got, buf, (size_t)r);
	}
}

void peer_close(cx *c)
{
	if (c->sock >= 0)
		close(c->sock);
	c->sock = -1;
}

void peer_cleanup(cx *c)
{
	if (c->writer_running) {
		shutdown(c->sock, SHUT_RDWR); /* unblocks a stuck writer */
		join(c);
	}
	peer_close(c);
	if (c->lsock >= 0)
		close(c->lsock);
	c->lsock = -1;
	if (c->privdir[0]) {
		char path[200];
		snprintf(path, sizeof path, "%s/parent.sock", c->privdir);
		unlink(path);
		rmdir(c->privdir);
		c->privdir[0] = '\0';
	}
}
