/*
 * The cases of PROTOCOL.md section 6, transports and addresses, and the
 * address rule of section 9 (SEC-7).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <poll.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "conform.h"

#define SUN_PATH_MAX sizeof(((struct sockaddr_un *)0)->sun_path)

/* A Unix listener at exactly path[0..n), with or without room for a NUL
 * (Linux takes a path filling all of sun_path). */
static int listen_at(const char *path, size_t n)
{
	struct sockaddr_un un = {.sun_family = AF_UNIX};
	memcpy(un.sun_path, path, n);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	socklen_t len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n);
	if (fd >= 0 && (bind(fd, (struct sockaddr *)&un, len) != 0 || listen(fd, 4) != 0)) {
		close(fd);
		return -1;
	}
	return fd;
}

/* ADDR-1: a path longer than sun_path is an address error.  The runner
 * listens where a path cut to 107 or to 108 bytes would lead; a child that
 * cuts the path it was given connects there, and fails. */
static void addr_long_path(cx *c, const void *arg)
{
	(void)arg;
	char dir[] = "/tmp/duct-conform-XXXXXX", path[200];
	if (!mkdtemp(dir)) {
		cx_fail(c, "runner: mkdtemp: %s", strerror(errno));
		return;
	}
	/* dir/aaa...a: 120 bytes, so that its first 107 and 108 bytes are paths
	 * in dir. */
	size_t dn = strlen(dir);
	snprintf(path, sizeof path, "%s/", dir);
	memset(path + dn + 1, 'a', 120 - dn - 1);
	path[120] = '\0';
	int cut107 = listen_at(path, SUN_PATH_MAX - 1);
	int cut108 = listen_at(path, SUN_PATH_MAX);
	if (cut107 < 0 || cut108 < 0)
		cx_fail(c, "runner: cannot listen on the cut paths: %s", strerror(errno));
	else if (cx_cmd(c, 20000, "child unix:%s", path) == 0) {
		struct pollfd p[2] = {{.fd = cut107, .events = POLLIN},
				      {.fd = cut108, .events = POLLIN}};
		if (poll(p, 2, 0) > 0)
			cx_fail(c, "given a %zu-byte path, the child connected to the path cut to "
				"its first %zu bytes, a different socket (ADDR-1: an address error)",
				strlen(path), p[0].revents ? SUN_PATH_MAX - 1 : SUN_PATH_MAX);
		else if (strncmp(c->reply, "error ", 6) != 0)
			cx_fail(c, "child with a %zu-byte Unix path: expected an error, got '%s'",
				strlen(path), c->reply);
	}
	if (cut107 >= 0)
		close(cut107);
	if (cut108 >= 0)
		close(cut108);
	path[SUN_PATH_MAX - 1] = '\0';
	unlink(path);
	path[SUN_PATH_MAX - 1] = 'a';
	path[SUN_PATH_MAX] = '\0';
	unlink(path);
	rmdir(dir);
}

/* ADDR-2: a malformed TCP address is an error, found before any socket is
 * made.  Each one below is near the runner's real listener, PORT, so that
 * a lenient parser (trailing junk dropped, a sign or 0x taken, a port
 * wrapped mod 65536) connects there, and the runner sees it. */
static void addr_malformed(cx *c, const void *arg)
{
	(void)arg;
	if (peer_listen(c))
		return;
	int port = atoi(strrchr(c->addr, ':') + 1);
	const char *h = net_runner_host();
	char bad[8][80];
	snprintf(bad[0], sizeof bad[0], "tcp:%s:%dx", h, port);
	snprintf(bad[1], sizeof bad[1], "tcp:%s:+%d", h, port);
	snprintf(bad[2], sizeof bad[2], "tcp:%s:%d", h, port + 65536);
	snprintf(bad[3], sizeof bad[3], "tcp:%s:0x%x", h, port);
	snprintf(bad[4], sizeof bad[4], "tcp:%s:%d:", h, port);
	snprintf(bad[5], sizeof bad[5], "tcp:%s:", h);
	snprintf(bad[6], sizeof bad[6], "tcp:[%s:%d", h, port);
	snprintf(bad[7], sizeof bad[7], "tcp:%s:-%d", h, port);
	for (size_t i = 0; i < sizeof bad / sizeof bad[0] && !cx_failed(c); i++) {
		if (cx_cmd(c, 20000, "child %s", bad[i]))
			return;
		struct pollfd p = {.fd = c->lsock, .events = POLLIN};
		if (poll(&p, 1, 0) > 0) {
			cx_fail(c, "given the malformed address '%s', the child connected to "
				"the runner's port %d (ADDR-2: a malformed address is an error)",
				bad[i], port);
		} else if (strncmp(c->reply, "error ", 6) != 0) {
			cx_fail(c, "child %s: expected an error (a malformed address, ADDR-2), "
				"got '%s'", bad[i], c->reply);
		}
	}
}

/* Fails the case if a connect to in (port, on interface where) succeeds. */
static void answers_on(cx *c, struct sockaddr_in *in, int port, const char *where)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	char shown[INET_ADDRSTRLEN];
	inet_ntop(AF_INET, &in->sin_addr, shown, sizeof shown);
	if (fd >= 0 && connect(fd, (struct sockaddr *)in, sizeof *in) == 0)
		cx_fail(c, "the TCP parent on port %d also answers on %s (%s): it "
			"listens beyond loopback (SEC-7)", port, shown, where);
	if (fd >= 0)
		close(fd);
}

/* SEC-7, ADDR-3: a TCP parent told nothing else ("parent tcp": "tcp:"
 * alone, TESTEE.md) binds loopback.  Its address must be a loopback
 * one, and its port must not answer on the machine's other addresses. */
static void addr_tcp_loopback(cx *c, const void *arg)
{
	(void)arg;
	if (cx_cmd(c, 5000, "parent tcp"))
		return;
	char host[256];
	int port;
	if (sscanf(c->reply, "ok tcp:%255[^]]]:%d", host, &port) == 2 && host[0] == '[')
		memmove(host, host + 1, strlen(host));
	else if (sscanf(c->reply, "ok tcp:%255[^:]:%d", host, &port) != 2) {
		cx_fail(c, "parent tcp: expected 'ok tcp:HOST:PORT', got '%s'", c->reply);
		return;
	}
	struct in_addr a4;
	struct in6_addr a6;
	int loop = !strcmp(host, "localhost") ||
		   (inet_pton(AF_INET, host, &a4) == 1 && (ntohl(a4.s_addr) >> 24) == 127) ||
		   (inet_pton(AF_INET6, host, &a6) == 1 && IN6_IS_ADDR_LOOPBACK(&a6));
	if (!loop) {
		cx_fail(c, "a TCP parent told nothing else reports '%s': not a loopback "
			"address (SEC-7, ADDR-3)", host);
		return;
	}
	/* Whatever it reports, a listener on the wildcard address answers on
	 * every interface: try each of the machine's IPv4 addresses, or under
	 * --netns the testee's side of the link, from across it. */
	if (net_testee_host()) {
		struct sockaddr_in in = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
		inet_pton(AF_INET, net_testee_host(), &in.sin_addr);
		answers_on(c, &in, port, "the veth link");
		return;
	}
	struct ifaddrs *all, *i;
	if (getifaddrs(&all) != 0)
		return;
	for (i = all; i && !cx_failed(c); i = i->ifa_next) {
		if (!i->ifa_addr || i->ifa_addr->sa_family != AF_INET)
			continue;
		struct sockaddr_in in = *(struct sockaddr_in *)i->ifa_addr;
		if ((ntohl(in.sin_addr.s_addr) >> 24) == 127)
			continue;
		in.sin_port = htons((uint16_t)port);
		answers_on(c, &in, port, i->ifa_name);
	}
	freeifaddrs(all);
}

static const conf_case cases[] = {
	{"addr.long_path", "ADDR-1", LV_MUST, CF_NO_SETUP | CF_CHILD_ONLY | CF_UNIX_ONLY,
	 addr_long_path, NULL,
	 "a Unix path over sun_path is an error, never connected cut short", NULL, NULL},
	{"addr.malformed", "ADDR-2", LV_MUST, CF_NO_SETUP | CF_CHILD_ONLY | CF_TCP_ONLY,
	 addr_malformed, NULL,
	 "eight malformed TCP addresses next to the runner's port: each an error, none "
	 "connected", NULL, NULL},
	{"addr.tcp_loopback", "SEC-7 ADDR-3", LV_SHOULD, CF_NO_SETUP | CF_PARENT_ONLY | CF_TCP_ONLY,
	 addr_tcp_loopback, NULL, "a TCP parent reports and listens on loopback only", NULL,
	 NULL},
};

void cases_addr(conf_case **v, size_t *n)
{
	cases_add_all(v, n, cases, sizeof cases / sizeof cases[0]);
}
