/* Roles and lifecycle over real sockets: bind, listen, connect, pair, close. */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "testutil.h"

static long elapsed_ms(const struct timespec *t0)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (t.tv_sec - t0->tv_sec) * 1000 + (t.tv_nsec - t0->tv_nsec) / 1000000;
}

static duct *child_of(const duct *p, int retries)
{
	int err = 0;
	duct *c = duct_child_new(duct_address(p), &err);
	assert_non_null(c);
	assert_status(DUCT_OK, duct_set_connect_retry(c, retries, 50));
	return c;
}

static void assert_cloexec(int fd)
{
	assert_true(fd >= 0);
	assert_true(fcntl(fd, F_GETFD) & FD_CLOEXEC);
}

/* Connects parent and child and checks a message goes both ways. */
static void connect_and_talk(duct *p, duct *c)
{
	assert_status(DUCT_OK, duct_connect(c));
	assert_status(DUCT_OK, duct_listen(p, 5000));
	assert_status(DUCT_OK, duct_send(c, "ping", 4));
	const void *m;
	size_t n;
	assert_status(DUCT_OK, duct_recv(p, &m, &n));
	assert_int_equal(n, 4);
	assert_memory_equal(m, "ping", 4);
	assert_status(DUCT_OK, duct_send(p, "pong", 4));
	assert_status(DUCT_OK, duct_recv(c, &m, &n));
	assert_memory_equal(m, "pong", 4);
	assert_cloexec(duct_fileno(p)); /* SEC-4 */
	assert_cloexec(duct_fileno(c));
}

/* ADDR-1, ADDR-2: malformed addresses are refused up front. */
static void duct_parent_new_bad_addresses(void **state)
{
	(void)state;
	char longpath[200];
	memset(longpath, 'a', sizeof longpath);
	memcpy(longpath, "unix:/", 6);
	longpath[sizeof longpath - 1] = '\0';
	char longhost[320], longv6[320];
	memset(longhost, 'h', sizeof longhost);
	memcpy(longhost, "tcp:", 4);
	strcpy(longhost + sizeof longhost - 4, ":1");
	memset(longv6, '1', sizeof longv6);
	memcpy(longv6, "tcp:[", 5);
	strcpy(longv6 + sizeof longv6 - 5, "]:1");
	const char *bad[] = {"",          "foo",         "udp:1.2.3.4:5",
			     longhost,    longv6,
			     "tcp:host",  "tcp:host:",   "tcp::80",
			     "tcp:h:99999", "tcp:h:12x", "tcp:[::1",
			     "tcp:[::1]", "tcp:h:-1",    longpath};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		int err = 0;
		assert_null(duct_parent_new(bad[i], &err));
		assert_status(DUCT_EADDR, err);
		err = 0;
		assert_null(duct_child_new(bad[i], &err));
		assert_status(DUCT_EADDR, err);
	}
	int err = 0;
	/* A child must be told where its parent is. */
	assert_null(duct_child_new("unix:", &err));
	assert_status(DUCT_EADDR, err);
	assert_null(duct_child_new(NULL, NULL));
	/* A host that does not resolve fails at bind, clearly. */
	duct *p = duct_parent_new("tcp:no-such-host.invalid:0", &err);
	assert_non_null(p);
	assert_status(DUCT_EADDR, duct_bind(p));
	duct_free(p);
}

/* SEC-2, LIFE-1, LIFE-3: a fresh Unix parent lives in a private directory
 * that is gone once the one child is in. */
static void duct_listen_unix_private_path(void **state)
{
	(void)state;
	duct *p = tu_bound_parent("unix:");
	const char *addr = duct_address(p);
	assert_memory_equal(addr, "unix:", 5);
	char path[200], dir[200];
	snprintf(path, sizeof path, "%s", addr + 5);
	snprintf(dir, sizeof dir, "%s", path);
	*strrchr(dir, '/') = '\0';
	struct stat st;
	assert_int_equal(stat(dir, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0700);
	assert_int_equal(stat(path, &st), 0);
	assert_true(S_ISSOCK(st.st_mode));
	assert_cloexec(duct_listener_fileno(p));

	duct *c = child_of(p, 0);
	connect_and_talk(p, c);
	assert_int_equal(duct_listener_fileno(p), -1);
	assert_int_equal(stat(path, &st), -1);
	assert_int_equal(stat(dir, &st), -1);

	/* A second child finds nothing to connect to. */
	int err;
	duct *c2 = duct_child_new(addr, &err);
	assert_status(DUCT_OK, duct_set_connect_retry(c2, 0, 0));
	assert_status(DUCT_ECONNECT, duct_connect(c2));
	assert_int_equal(duct_last_errno(c2), ENOENT);
	duct_free(c2);
	duct_free(c);
	duct_free(p);
}

/* ADDR-3, SEC-7, LIFE-3: TCP on loopback, ephemeral port; one child only. */
static void duct_listen_tcp_one_child(void **state)
{
	(void)state;
	duct *p = tu_bound_parent("tcp:");
	const char *addr = duct_address(p);
	assert_true(strncmp(addr, "tcp:127.0.0.1:", 14) == 0 ||
		    strncmp(addr, "tcp:[::1]:", 10) == 0);
	assert_true(strcmp(strrchr(addr, ':'), ":0") != 0);
	duct *c = child_of(p, 0);
	connect_and_talk(p, c);
	/* ADDR-4: no Nagle delay on either end. */
	int nodelay = 0;
	socklen_t len = sizeof nodelay;
	assert_int_equal(getsockopt(duct_fileno(p), IPPROTO_TCP, TCP_NODELAY, &nodelay, &len), 0);
	assert_int_equal(nodelay, 1);
	assert_int_equal(getsockopt(duct_fileno(c), IPPROTO_TCP, TCP_NODELAY, &nodelay, &len), 0);
	assert_int_equal(nodelay, 1);
	int err;
	duct *c2 = duct_child_new(duct_address(c), &err);
	assert_status(DUCT_OK, duct_set_connect_retry(c2, 0, 0));
	assert_status(DUCT_ECONNECT, duct_connect(c2));
	assert_int_equal(duct_last_errno(c2), ECONNREFUSED);
	duct_free(c2);
	duct_free(c);
	duct_free(p);
}

static void duct_listen_tcp_ipv6(void **state)
{
	(void)state;
	int err;
	duct *p = duct_parent_new("tcp:[::1]:0", &err);
	assert_non_null(p);
	if (duct_bind(p) != DUCT_OK) {
		duct_free(p);
		skip(); /* no IPv6 loopback here */
	}
	assert_memory_equal(duct_address(p), "tcp:[::1]:", 10);
	duct *c = child_of(p, 0);
	connect_and_talk(p, c);
	duct_free(c);
	duct_free(p);
}

/* A path chosen by the user is also removed after accept (LIFE-3). */
static void duct_listen_unix_given_path(void **state)
{
	(void)state;
	char dir[] = "/tmp/duct-test-XXXXXX", addr[100];
	assert_non_null(mkdtemp(dir));
	snprintf(addr, sizeof addr, "unix:%s/s", dir);
	duct *p = tu_bound_parent(addr);
	assert_string_equal(duct_address(p), addr);
	duct *c = child_of(p, 0);
	connect_and_talk(p, c);
	assert_int_equal(access(addr + 5, F_OK), -1);
	assert_int_equal(rmdir(dir), 0); /* empty: nothing left behind */
	duct_free(c);
	duct_free(p);
}

/* Binding where the system says no is a system error that names the
 * cause, and leaves nothing behind. */
static void duct_bind_system_errors(void **state)
{
	(void)state;
	int err;
	duct *p = duct_parent_new("unix:/nonexistent-dir/duct.sock", &err);
	assert_status(duct_syserr(ENOENT), duct_bind(p));
	assert_null(duct_address(p));
	duct_free(p);

	/* A path that is already taken is not silently replaced. */
	duct *a = tu_bound_parent("unix:");
	duct *b = duct_parent_new(duct_address(a), &err);
	assert_status(duct_syserr(EADDRINUSE), duct_bind(b));
	duct_free(b);
	duct *c = child_of(a, 0); /* a's path survived b's failure */
	connect_and_talk(a, c);
	duct_free(c);
	duct_free(a);

	a = tu_bound_parent("tcp:127.0.0.1:0");
	b = duct_parent_new(duct_address(a), &err);
	assert_status(duct_syserr(EADDRINUSE), duct_bind(b));
	duct_free(b);
	duct_free(a);
}

/* SEC-2: the private directory goes under $TMPDIR; a bad one is reported. */
static void duct_bind_tmpdir(void **state)
{
	(void)state;
	char *old = getenv("TMPDIR") ? strdup(getenv("TMPDIR")) : NULL;
	char longdir[200];
	memset(longdir, 'd', sizeof longdir);
	longdir[0] = '/';
	longdir[sizeof longdir - 1] = '\0';
	int err;
	setenv("TMPDIR", longdir, 1);
	duct *p = duct_parent_new("unix:", &err);
	assert_status(DUCT_EADDR, duct_bind(p));
	duct_free(p);
	setenv("TMPDIR", "/nonexistent-tmp", 1);
	p = duct_parent_new(NULL, &err);
	assert_status(duct_syserr(ENOENT), duct_bind(p));
	duct_free(p);
	char dir[] = "/tmp/duct-test-XXXXXX";
	assert_non_null(mkdtemp(dir));
	setenv("TMPDIR", dir, 1);
	p = tu_bound_parent("unix:");
	assert_int_equal(strncmp(duct_address(p) + 5, dir, strlen(dir)), 0);
	duct_free(p);
	assert_int_equal(rmdir(dir), 0); /* nothing left inside */
	if (old)
		setenv("TMPDIR", old, 1);
	else
		unsetenv("TMPDIR");
	free(old);
}

/* LIFE-5: only "not there yet" is retried; a host that does not resolve
 * or a path that cannot exist fails at once. */
static void duct_connect_errors_not_retried(void **state)
{
	(void)state;
	int err;
	duct *c = duct_child_new("tcp:no-such-host.invalid:1", &err);
	assert_status(DUCT_EADDR, duct_connect(c));
	duct_free(c);
	c = duct_child_new("unix:/dev/null/duct.sock", &err);
	assert_status(DUCT_OK, duct_set_connect_retry(c, 5, 1000));
	struct timespec t0;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_status(duct_syserr(ENOTDIR), duct_connect(c));
	assert_true(elapsed_ms(&t0) < 500);
	duct_free(c);
}

/* LIFE-4: operations that do not fit the duct's role or state. */
static void duct_bind_wrong_state(void **state)
{
	(void)state;
	int err;
	duct *p = duct_parent_new("unix:", &err);
	assert_status(DUCT_ESTATE, duct_listen(p, 0)); /* not bound */
	assert_status(DUCT_ESTATE, duct_connect(p));   /* not a child */
	assert_status(DUCT_OK, duct_bind(p));
	assert_status(DUCT_ESTATE, duct_bind(p)); /* bound twice */
	duct *c = child_of(p, 0);
	assert_status(DUCT_ESTATE, duct_bind(c));
	assert_status(DUCT_ESTATE, duct_listen(c, 0));
	connect_and_talk(p, c);
	assert_status(DUCT_ESTATE, duct_bind(p));   /* already connected */
	assert_status(DUCT_ESTATE, duct_listen(p, 0));
	assert_status(DUCT_ESTATE, duct_connect(c));
	duct_free(c);
	duct_free(p);
}

/* LIFE-5: a parent that binds late is still found by the retries. */
static void duct_connect_retry_late_parent(void **state)
{
	(void)state;
	char dir[] = "/tmp/duct-test-XXXXXX", addr[100];
	assert_non_null(mkdtemp(dir));
	snprintf(addr, sizeof addr, "unix:%s/late", dir);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) { /* the parent role, started late */
		usleep(300 * 1000);
		duct *p = duct_parent_new(addr, NULL);
		int ok = p && duct_bind(p) == DUCT_OK &&
			 duct_listen(p, 5000) == DUCT_OK &&
			 duct_send(p, "late", 4) == DUCT_OK;
		duct_free(p);
		_exit(ok ? 0 : 1);
	}
	int err;
	duct *c = duct_child_new(addr, &err);
	assert_status(DUCT_OK, duct_set_connect_retry(c, 30, 100));
	assert_status(DUCT_OK, duct_connect(c));
	const void *m;
	size_t n;
	assert_status(DUCT_OK, duct_recv(c, &m, &n));
	assert_memory_equal(m, "late", 4);
	int status;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	duct_free(c);
	rmdir(dir);
}

/* CLOSE-1 and LIFE-3: closing a bound parent removes its path and
 * directory; closing twice is harmless. */
static void duct_close_bound_parent(void **state)
{
	(void)state;
	duct *p = tu_bound_parent("unix:");
	char path[200];
	snprintf(path, sizeof path, "%s", duct_address(p) + 5);
	assert_status(DUCT_OK, duct_close(p));
	assert_status(DUCT_OK, duct_close(p));
	assert_int_equal(access(path, F_OK), -1);
	*strrchr(path, '/') = '\0';
	assert_int_equal(access(path, F_OK), -1);
	assert_status(DUCT_ESTATE, duct_listen(p, 0));
	duct_free(p);
	duct_free(NULL);
}

/* SEC-5: a child of the wrong uid is turned away; the right one gets in. */
static void duct_listen_peer_uid(void **state)
{
	(void)state;
	duct *p = tu_bound_parent("unix:");
	assert_status(DUCT_EINVAL, duct_set_peer_uid(p, -2));
	assert_status(DUCT_OK, duct_set_peer_uid(p, (long)getuid() + 1));
	duct *c = child_of(p, 0);
	assert_status(DUCT_OK, duct_connect(c));
	assert_status(DUCT_EPEERCRED, duct_listen(p, 2000));
	duct_free(c);
	assert_status(DUCT_OK, duct_set_peer_uid(p, (long)getuid()));
	c = child_of(p, 0);
	connect_and_talk(p, c);
	duct_free(c);
	duct_free(p);
}

/* LIFE-6: a pair is connected at once and exists nowhere on disk. */
static void duct_pair_connected(void **state)
{
	(void)state;
	duct *p, *c;
	assert_status(DUCT_OK, duct_pair(&p, &c));
	assert_null(duct_address(p));
	assert_status(DUCT_ESTATE, duct_bind(p));
	assert_status(DUCT_ESTATE, duct_connect(c));
	assert_status(DUCT_OK, duct_send(p, "x", 1));
	const void *m;
	size_t n;
	assert_status(DUCT_OK, duct_recv(c, &m, &n));
	assert_int_equal(n, 1);
	assert_cloexec(duct_fileno(p));
	duct_free(p);
	duct_free(c);
}

static void duct_from_fd_not_a_socket(void **state)
{
	(void)state;
	int fds[2], err = 0;
	assert_int_equal(pipe(fds), 0);
	assert_null(duct_from_fd(fds[0], &err));
	assert_status(DUCT_EINVAL, err);
	close(fds[0]);
	close(fds[1]);
}

/* Out of memory while creating a duct is an error, not a crash. */
static void duct_parent_new_enomem(void **state)
{
	(void)state;
	tu_alloc_install();
	for (long k = 0; k < 3; k++) {
		tu_fail_after = k;
		int err = 0;
		duct *p = duct_parent_new("unix:", &err);
		if (p) {
			duct_free(p);
			continue;
		}
		assert_status(DUCT_ENOMEM, err);
	}
	tu_fail_after = 0;
	duct *p, *c;
	assert_status(DUCT_ENOMEM, duct_pair(&p, &c));
	assert_null(p);
	tu_alloc_uninstall();
}

int main(void)
{
	signal(SIGPIPE, SIG_DFL); /* the library must not need SIG_IGN */
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(duct_parent_new_bad_addresses),
		cmocka_unit_test(duct_listen_unix_private_path),
		cmocka_unit_test(duct_listen_tcp_one_child),
		cmocka_unit_test(duct_listen_tcp_ipv6),
		cmocka_unit_test(duct_listen_unix_given_path),
		cmocka_unit_test(duct_bind_wrong_state),
		cmocka_unit_test(duct_bind_system_errors),
		cmocka_unit_test(duct_bind_tmpdir),
		cmocka_unit_test(duct_connect_errors_not_retried),
		cmocka_unit_test(duct_connect_retry_late_parent),
		cmocka_unit_test(duct_close_bound_parent),
		cmocka_unit_test(duct_listen_peer_uid),
		cmocka_unit_test(duct_pair_connected),
		cmocka_unit_test(duct_from_fd_not_a_socket),
		cmocka_unit_test(duct_parent_new_enomem),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
