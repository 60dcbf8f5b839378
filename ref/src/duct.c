/* Roles and connection lifecycle: bind, listen, connect, pair, close (LIFE-*). */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "duct/json.h"
#include "internal.h"

static int64_t now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int64_t duct__deadline(int timeout_ms)
{
	return timeout_ms < 0 ? -1 : now_us() + (int64_t)timeout_ms * 1000;
}

int duct__remaining(int64_t deadline)
{
	if (deadline < 0)
		return -1;
	int64_t left = deadline - now_us();
	/* Rounded up: poll() must not return before the deadline (POLL-3). */
	return left > 0 ? (int)((left + 999) / 1000) : 0;
}

int duct__wait(int fd, short events, int timeout_ms)
{
	int64_t deadline = duct__deadline(timeout_ms);
	struct pollfd p = {.fd = fd, .events = events};
	for (;;) {
		int n = poll(&p, 1, duct__remaining(deadline));
		if (n >= 0)
			return n > 0;
		if (errno != EINTR) /* SEC-6: a signal is not a timeout */
			return duct_syserr(errno);
	}
}

static duct *duct_new(enum duct__role role, const char *address, int *err)
{
	int rc = DUCT_ENOMEM;
	duct *d = duct__malloc(sizeof *d);
	if (!d)
		goto fail;
	memset(d, 0, sizeof *d);
	d->role = role;
	d->fd = d->lfd = -1;
	d->send_ms = d->recv_ms = DUCT_IO_TIMEOUT_MS;
	d->retries = DUCT_CONNECT_RETRIES;
	d->retry_ms = DUCT_CONNECT_RETRY_MS;
	d->peer_uid = -1;
	d->ser = duct_json_serializer;
	pthread_mutex_init(&d->send_mu, NULL);
	pthread_mutex_init(&d->recv_mu, NULL);
	if (!(d->rd = duct_reader_new(DUCT_MAX_MESSAGE_DEFAULT)))
		goto fail;
	if (role != DUCT__CONNECTED &&
	    (rc = duct__addr_parse(address, &d->addr)) != DUCT_OK)
		goto fail;
	if (role == DUCT__CHILD && d->addr.unix_domain && !d->addr.path[0]) {
		rc = DUCT_EADDR; /* a child must be told where to go */
		goto fail;
	}
	return d;
fail:
	duct_free(d);
	if (err)
		*err = rc;
	return NULL;
}

duct *duct_parent_new(const char *address, int *err)
{
	return duct_new(DUCT__PARENT, address, err);
}

duct *duct_child_new(const char *address, int *err)
{
	return duct_new(DUCT__CHILD, address, err);
}

duct *duct_from_fd(int fd, int *err)
{
	int type = 0;
	socklen_t len = sizeof type;
	if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) != 0 ||
	    type != SOCK_STREAM) {
		if (err)
			*err = DUCT_EINVAL;
		return NULL;
	}
	duct *d = duct_new(DUCT__CONNECTED, NULL, err);
	if (!d)
		return NULL;
	fcntl(fd, F_SETFD, FD_CLOEXEC); /* SEC-4: it is ours now */
	d->fd = fd;
	int rc = duct__setup_conn(d);
	if (rc != DUCT_OK) {
		d->fd = -1; /* leave the caller's fd alone on failure */
		duct_free(d);
		if (err)
			*err = rc;
		return NULL;
	}
	return d;
}

int duct_pair(duct **parent, duct **child)
{
	int sv[2], err = DUCT_OK;
	*parent = *child = NULL;
	/* LIFE-6: a socketpair never exists on the filesystem, so no one can
	 * race to connect to it. */
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0)
		return duct_syserr(errno);
	duct *p = duct_from_fd(sv[0], &err);
	duct *c = p ? duct_from_fd(sv[1], &err) : NULL;
	if (!c) {
		duct_free(p);
		if (!p)
			close(sv[0]);
		close(sv[1]);
		return err;
	}
	*parent = p;
	*child = c;
	return DUCT_OK;
}

/* Removes what a Unix parent put on the filesystem (LIFE-3).  Only the
 * process that put it there does: a copy inherited across fork forgets it,
 * so closing that copy leaves the parent bound and reachable (CLOSE-2). */
static void unlink_path(duct *d)
{
	int ours = d->owner == getpid();
	if (d->unix_bound) {
		if (ours)
			unlink(d->addr.path);
		d->unix_bound = 0;
	}
	if (d->privdir[0]) {
		if (ours)
			rmdir(d->privdir);
		d->privdir[0] = '\0';
		/* The path was one we made up: a later bind makes a new one. */
		d->addr.path[0] = '\0';
	}
}

static void close_listener(duct *d)
{
	if (d->lfd >= 0) {
		close(d->lfd);
		d->lfd = -1;
	}
	unlink_path(d);
}

static int make_private_path(duct *d)
{
	const char *tmp = getenv("TMPDIR");
	if (!tmp || !*tmp)
		tmp = "/tmp";
	int n = snprintf(d->privdir, sizeof d->privdir, "%s/duct-XXXXXX", tmp);
	if (n < 0 || (size_t)n + sizeof "/duct.sock" > sizeof d->addr.path) {
		d->privdir[0] = '\0';
		return DUCT_EADDR;
	}
	/* SEC-2: mkdtemp makes the directory 0700, so only we can reach the
	 * socket inside, whatever the socket file's own mode. */
	if (!mkdtemp(d->privdir)) {
		int e = errno;
		d->privdir[0] = '\0';
		return duct_syserr(e);
	}
	strcpy(d->addr.path, d->privdir); /* length checked above */
	strcat(d->addr.path, "/duct.sock");
	return DUCT_OK;
}

static int bind_unix(duct *d)
{
	d->owner = getpid();
	if (!d->addr.path[0]) {
		int rc = make_private_path(d);
		if (rc != DUCT_OK)
			return rc;
	}
	struct sockaddr_un un = {.sun_family = AF_UNIX};
	strcpy(un.sun_path, d->addr.path);
	d->lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (d->lfd < 0)
		return duct_syserr(errno);
	if (bind(d->lfd, (struct sockaddr *)&un, sizeof un) != 0)
		return duct_syserr(errno);
	d->unix_bound = 1;
	return DUCT_OK;
}

static int bind_tcp(duct *d)
{
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM,
				 .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
	struct addrinfo *res;
	if (getaddrinfo(d->addr.host, d->addr.port, &hints, &res) != 0)
		return DUCT_EADDR;
	int rc = DUCT_OK, one = 1;
	d->lfd = socket(res->ai_family,
			SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (d->lfd < 0 ||
	    setsockopt(d->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) ||
	    bind(d->lfd, res->ai_addr, res->ai_addrlen) != 0)
		rc = duct_syserr(errno);
	freeaddrinfo(res);
	return rc;
}

int duct_bind(duct *d)
{
	if (d->role != DUCT__PARENT || d->lfd >= 0 || d->fd >= 0)
		return DUCT_ESTATE; /* LIFE-4 */
	int rc = d->addr.unix_domain ? bind_unix(d) : bind_tcp(d);
	if (rc == DUCT_OK && listen(d->lfd, 1) != 0) /* LIFE-1: backlog 1 */
		rc = duct_syserr(errno);
	if (rc == DUCT_OK)
		rc = duct__addr_format(d->lfd, 0, d->address, sizeof d->address);
	if (rc != DUCT_OK)
		close_listener(d);
	return rc;
}

/* SEC-5: a Unix child must run as the uid the parent expects. */
static int peer_allowed(const duct *d, int fd)
{
	if (d->peer_uid < 0)
		return 1;
	struct ucred cred;
	socklen_t len = sizeof cred;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0)
		return 0;
	return (long)cred.uid == d->peer_uid;
}

int duct_listen(duct *d, int timeout_ms)
{
	if (d->fd >= 0 || d->lfd < 0)
		return DUCT_ESTATE; /* LIFE-4 */
	int64_t deadline = duct__deadline(timeout_ms);
	for (;;) {
		int rc = duct__wait(d->lfd, POLLIN, duct__remaining(deadline));
		if (rc < 0)
			return rc;
		if (rc == 0)
			return DUCT_ETIMEDOUT;
		int fd = accept4(d->lfd, NULL, NULL, SOCK_CLOEXEC);
		if (fd < 0) {
			/* The child may have given up between poll and accept. */
			if (errno == EINTR || errno == EAGAIN ||
			    errno == ECONNABORTED)
				continue;
			return duct_syserr(errno);
		}
		if (!peer_allowed(d, fd)) {
			close(fd);
			return DUCT_EPEERCRED;
		}
		/* LIFE-3: exactly one child; nobody else gets in. */
		close_listener(d);
		d->fd = fd;
		return duct__setup_conn(d);
	}
}

static int connect_once(duct *d, const struct sockaddr *sa, socklen_t len)
{
	int fd = socket(sa->sa_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return errno;
	/* Non-blocking so a signal or a silent host cannot stall us past the
	 * send timeout (SEC-6, TIME-1). */
	int e = 0;
	if (connect(fd, sa, len) != 0) {
		e = errno;
		if (e == EINPROGRESS || e == EINTR) {
			int rc = duct__wait(fd, POLLOUT,
					    d->send_ms > 0 ? d->send_ms : -1);
			socklen_t elen = sizeof e;
			if (rc == 0)
				e = ETIMEDOUT;
			else if (rc < 0)
				e = duct_errno(rc);
			else if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &elen) != 0)
				e = errno;
		}
	}
	if (e == 0 && fcntl(fd, F_SETFL, 0) != 0)
		e = errno;
	if (e != 0) {
		close(fd);
		/* A full Unix backlog means "not ready yet", like a refusal. */
		return e == EAGAIN ? ECONNREFUSED : e;
	}
	d->fd = fd;
	return 0;
}

static int connect_any(duct *d)
{
	if (d->addr.unix_domain) {
		struct sockaddr_un un = {.sun_family = AF_UNIX};
		strcpy(un.sun_path, d->addr.path);
		return connect_once(d, (struct sockaddr *)&un, sizeof un);
	}
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM,
				 .ai_flags = AI_NUMERICSERV};
	struct addrinfo *res, *ai;
	if (getaddrinfo(d->addr.host, d->addr.port, &hints, &res) != 0)
		return -1;
	int e = ECONNREFUSED;
	for (ai = res; ai; ai = ai->ai_next)
		if ((e = connect_once(d, ai->ai_addr, ai->ai_addrlen)) == 0)
			break;
	freeaddrinfo(res);
	return e;
}

int duct_connect(duct *d)
{
	if (d->role != DUCT__CHILD || d->fd >= 0)
		return DUCT_ESTATE; /* LIFE-4 */
	for (int attempt = 0;; attempt++) {
		int e = connect_any(d);
		if (e == 0)
			break;
		if (e < 0)
			return DUCT_EADDR;
		d->last_errno = e;
		if (e != ENOENT && e != ECONNREFUSED)
			return duct_syserr(e);
		/* LIFE-5: bounded, unlike the original's retry-forever bug. */
		if (attempt >= d->retries)
			return DUCT_ECONNECT;
		struct timespec ts = {d->retry_ms / 1000,
				      (long)(d->retry_ms % 1000) * 1000000};
		while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
			;
	}
	int rc = duct__setup_conn(d);
	if (rc == DUCT_OK)
		rc = duct__addr_format(d->fd, 1, d->address, sizeof d->address);
	return rc;
}

int duct__setup_conn(duct *d)
{
	/* SO_*TIMEO: 0 means none, as our 0 and negative do. */
	int sms = d->send_ms > 0 ? d->send_ms : 0;
	int rms = d->recv_ms > 0 ? d->recv_ms : 0;
	struct timeval s = {sms / 1000, (sms % 1000) * 1000};
	struct timeval r = {rms / 1000, (rms % 1000) * 1000};
	int one = 1;
	if (d->fd < 0)
		return DUCT_OK;
	if (setsockopt(d->fd, SOL_SOCKET, SO_SNDTIMEO, &s, sizeof s) ||
	    setsockopt(d->fd, SOL_SOCKET, SO_RCVTIMEO, &r, sizeof r))
		return duct_syserr(errno);
	/* ADDR-4: one message is one write; never wait for Nagle.  Fails
	 * harmlessly (EOPNOTSUPP) on Unix sockets. */
	setsockopt(d->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	return DUCT_OK;
}

int duct_close(duct *d)
{
	close_listener(d);
	if (d->fd >= 0) {
		close(d->fd); /* CLOSE-2: no shutdown, a forked copy lives on */
		d->fd = -1;
	}
	return DUCT_OK;
}

int duct_shutdown(duct *d)
{
	int rc = DUCT_OK;
	if (d->fd >= 0 && shutdown(d->fd, SHUT_RDWR) != 0 && errno != ENOTCONN)
		rc = duct_syserr(errno);
	duct_close(d);
	return rc;
}

void duct_free(duct *d)
{
	if (!d)
		return;
	duct_close(d);
	duct_reader_free(d->rd);
	duct_buf_free(&d->enc);
	pthread_mutex_destroy(&d->send_mu);
	pthread_mutex_destroy(&d->recv_mu);
	duct__free(d);
}

int duct_set_timeouts(duct *d, int send_ms, int recv_ms)
{
	d->send_ms = send_ms;
	d->recv_ms = recv_ms;
	return duct__setup_conn(d);
}

int duct_set_max_message(duct *d, uint32_t max)
{
	duct_reader_set_max(d->rd, max);
	return DUCT_OK;
}

int duct_set_connect_retry(duct *d, int retries, int interval_ms)
{
	if (retries < 0 || interval_ms < 0)
		return DUCT_EINVAL;
	d->retries = retries;
	d->retry_ms = interval_ms;
	return DUCT_OK;
}

int duct_set_locking(duct *d, int on)
{
	d->locking = on != 0;
	return DUCT_OK;
}

int duct_set_peer_uid(duct *d, long uid)
{
	/* SO_PEERCRED exists for Unix sockets only: on TCP the check would
	 * silently pass everyone. */
	if (uid < -1 || (uid >= 0 && (d->role != DUCT__PARENT ||
				      !d->addr.unix_domain)))
		return DUCT_EINVAL;
	d->peer_uid = uid;
	return DUCT_OK;
}

const char *duct_address(const duct *d)
{
	return d->address[0] ? d->address : NULL;
}

int duct_fileno(const duct *d) { return d->fd; }
int duct_listener_fileno(const duct *d) { return d->lfd; }
int duct_last_errno(const duct *d) { return d->last_errno; }
