/*
 * No resource outlives its duct; hostile sizes cost nothing.
 *
 * Process- and socket-level, many-cycle versions of what test_duct.c,
 * test_io.c and test_frame.c check once:
 *   - file descriptors, counted in /proc/self/fd, across thousands of
 *     lifecycles (pairs, Unix and TCP parents with an in-process or a
 *     fork+exec'd child) and every error path, allocation failures included;
 *   - every fd close-on-exec, as seen by a program exec'd while the ducts
 *     are alive (this binary again, run with --list-fds);
 *   - a Unix parent's path and private directory gone on every exit path,
 *     and kept when a forked copy of the parent is closed (CLOSE-2);
 *   - a peer that announces huge frames costs the receiver no more memory
 *     than it actually sent.
 * Memory leaks on the same paths are for LeakSanitizer (the ASan build) and
 * valgrind (ctest's memcheck_test_resources), which both run this file;
 * DUCT_UNDER_VALGRIND scales the loops down there.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "testutil.h"

/* This binary, for the exec probe (SEC-4). */
static char self_exe[PATH_MAX];

/* ---- helpers ------------------------------------------------------------ */

static int under_valgrind(void)
{
	const char *v = getenv("DUCT_UNDER_VALGRIND");
	return v && *v && strcmp(v, "0") != 0;
}

/* n cycles, or a fifth of them (at least 3) under valgrind. */
static int cycles(int n)
{
	if (!under_valgrind())
		return n;
	return n / 5 > 3 ? n / 5 : 3;
}

static long elapsed_ms(const struct timespec *t0)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (t.tv_sec - t0->tv_sec) * 1000 + (t.tv_nsec - t0->tv_nsec) / 1000000;
}

/* The target of /proc/self/fd/N ("socket:[123]", "/dev/null" ...), "" if
 * fd is not open. */
static void fd_target(int fd, char *out, size_t cap)
{
	char link[64];
	snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
	ssize_t n = readlink(link, out, cap - 1);
	out[n > 0 ? n : 0] = '\0';
}

/* Calls f(fd, arg) for every open fd but the directory's own. */
static int for_each_fd(void (*f)(int, void *), void *arg)
{
	DIR *dir = opendir("/proc/self/fd");
	if (!dir)
		return -1;
	int self = dirfd(dir), n = 0;
	struct dirent *e;
	while ((e = readdir(dir)) != NULL) {
		if (e->d_name[0] == '.' || atoi(e->d_name) == self)
			continue;
		if (f)
			f(atoi(e->d_name), arg);
		n++;
	}
	closedir(dir);
	return n;
}

static void print_fd(int fd, void *arg)
{
	char target[256];
	fd_target(fd, target, sizeof target);
	fprintf(arg, "  fd %d -> %s\n", fd, target);
}

static int fd_count(void)
{
	int n = for_each_fd(NULL, NULL);
	assert_true(n >= 0);
	return n;
}

/* Fails, listing what is open, when the fd count is not what it was. */
static void assert_fd_count(int before, const char *after_what)
{
	int now = fd_count();
	if (now == before)
		return;
	fprintf(stderr, "%d fds open after %s, %d before:\n", now, after_what,
		before);
	for_each_fd(print_fd, stderr);
	fail_msg("file descriptors leaked (or lost) by %s", after_what);
}

static duct *child_of(const char *address)
{
	int err = 0;
	duct *c = duct_child_new(address, &err);
	assert_non_null(c);
	assert_status(DUCT_OK, duct_set_connect_retry(c, 0, 0));
	return c;
}

/* A parent on address and its child, connected through a real listen. */
static void connect_over(const char *address, duct **p, duct **c)
{
	*p = tu_bound_parent(address);
	*c = child_of(duct_address(*p));
	assert_status(DUCT_OK, duct_connect(*c));
	assert_status(DUCT_OK, duct_listen(*p, 5000));
}

/* One message each way. */
static void talk(duct *a, duct *b)
{
	assert_status(DUCT_OK, duct_send(a, "ping", 4));
	tu_expect_msg(b, "ping", 4);
	assert_status(DUCT_OK, duct_send(b, "pong!", 5));
	tu_expect_msg(a, "pong!", 5);
}

static void write_all(int fd, const void *buf, size_t n)
{
	const uint8_t *p = buf;
	while (n > 0) {
		ssize_t k = write(fd, p, n);
		if (k < 0 && errno == EINTR)
			continue;
		assert_true(k > 0);
		p += k;
		n -= (size_t)k;
	}
}

/* Waits up to ms for pid; kills it and fails if it is still running. */
static int wait_child(pid_t pid, int ms)
{
	int status = 0;
	for (int waited = 0;; waited++) {
		pid_t r = waitpid(pid, &status, WNOHANG);
		if (r == pid)
			return status;
		assert_int_equal(r, 0);
		if (waited * 5 >= ms) {
			kill(pid, SIGKILL);
			waitpid(pid, &status, 0);
			fail_msg("child %d still running after %d ms", (int)pid, ms);
		}
		usleep(5000);
	}
}

/* A fresh directory under /tmp made TMPDIR, so that every private
 * directory a "unix:" parent makes lands in it: when the test is over it
 * must be empty again (LIFE-3, SEC-2).  One at a time, static so that the
 * teardown can still remove it after a test failed half-way. */
struct tmpdir {
	char dir[64];
	char *old;
	int active;
};

static struct tmpdir tmpdir_cur;

static struct tmpdir *tmpdir_enter(void)
{
	struct tmpdir *t = &tmpdir_cur;
	assert_false(t->active);
	snprintf(t->dir, sizeof t->dir, "/tmp/duct-res-XXXXXX");
	assert_non_null(mkdtemp(t->dir));
	const char *old = getenv("TMPDIR");
	t->old = old ? strdup(old) : NULL;
	setenv("TMPDIR", t->dir, 1);
	t->active = 1;
	return t;
}

static void tmpdir_restore_env(struct tmpdir *t)
{
	if (t->old)
		setenv("TMPDIR", t->old, 1);
	else
		unsetenv("TMPDIR");
	free(t->old);
	t->old = NULL;
	t->active = 0;
}

/* A directory the caller chose, inside t, for "unix:DIR/s" parents. */
static void tmpdir_sub(const struct tmpdir *t, char *dir, size_t n)
{
	snprintf(dir, n, "%s/given", t->dir);
	assert_int_equal(mkdir(dir, 0755), 0);
}

static int remove_one(const char *path, const struct stat *st, int flag,
		      struct FTW *ftw)
{
	(void)st, (void)flag, (void)ftw;
	remove(path);
	return 0;
}

/* Restores TMPDIR; fails if anything was left in the directory (which
 * is listed, then removed). */
static void tmpdir_leave(struct tmpdir *t)
{
	tmpdir_restore_env(t);
	if (rmdir(t->dir) != 0) {
		int e = errno;
		char cmd[128];
		snprintf(cmd, sizeof cmd, "ls -laR %s >&2", t->dir);
		if (system(cmd) != 0)
			fprintf(stderr, "(cannot list %s)\n", t->dir);
		nftw(t->dir, remove_one, 16, FTW_DEPTH | FTW_PHYS);
		fail_msg("%s not empty: a parent left its path or directory "
			 "behind (%s)", t->dir, strerror(e));
	}
}

/* After every test: a test that failed half-way leaves neither TMPDIR
 * changed, nor its directory, nor our allocator behind. */
static int teardown(void **state)
{
	(void)state;
	duct_set_allocator(NULL);
	if (tmpdir_cur.active) {
		tmpdir_restore_env(&tmpdir_cur);
		nftw(tmpdir_cur.dir, remove_one, 16, FTW_DEPTH | FTW_PHYS);
	}
	return 0;
}

/* ---- file descriptors: nothing outlives its duct ------------------------- */

/* LIFE-6, CLOSE-1, CLOSE-4: 10^4 pairs made, used and freed leave no fd
 * behind; every other one is closed before it is freed, and the peer of a
 * freed duct sees a clean close. */
static void res_fds_pair_cycles(void **state)
{
	(void)state;
	int before = fd_count();
	int n = cycles(10000);
	for (int i = 0; i < n; i++) {
		duct *p, *c;
		assert_status(DUCT_OK, duct_pair(&p, &c));
		talk(p, c);
		if (i % 2)
			assert_status(DUCT_OK, duct_close(c));
		duct_free(c);
		const void *m;
		size_t len;
		assert_status(DUCT_EOF, duct_recv(p, &m, &len));
		duct_free(p);
	}
	assert_fd_count(before, "duct_pair cycles");
}

/* LIFE-1, LIFE-3, CLOSE-4: Unix and TCP parents bound, listened, connected
 * to by an in-process child, used and freed, hundreds of times: no fd left,
 * and no path or private directory left in TMPDIR. */
static void res_fds_listen_cycles(void **state)
{
	(void)state;
	struct tmpdir *t = tmpdir_enter();
	int before = fd_count();
	const char *addrs[] = {"unix:", "tcp:"};
	int n = cycles(300);
	for (int a = 0; a < 2; a++) {
		for (int i = 0; i < n; i++) {
			duct *p, *c;
			connect_over(addrs[a], &p, &c);
			assert_int_equal(duct_listener_fileno(p), -1);
			talk(p, c);
			/* Either side may go first. */
			duct *first = i % 2 ? p : c, *second = i % 2 ? c : p;
			duct_free(first);
			const void *m;
			size_t len;
			assert_status(DUCT_EOF, duct_recv(second, &m, &len));
			duct_free(second);
		}
		assert_fd_count(before, addrs[a]);
	}
	tmpdir_leave(t);
}

/* Runs DUCT_DEMO --child address: it connects, echoes each JSON message
 * back inside {"echo": ...}, and exits 0 on a clean close. */
static pid_t spawn_demo_child(const char *address)
{
	fflush(NULL);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		execl(DUCT_DEMO, "duct-demo", "--child", address, (char *)NULL);
		_exit(127);
	}
	return pid;
}

/* LIFE-1, LIFE-3, CLOSE-4: a parent with a real child process (fork+exec
 * of duct-demo), Unix and TCP, many times: no fd left here, the child saw
 * a clean close and exited 0, nothing left in TMPDIR. */
static void res_fds_real_child_cycles(void **state)
{
	(void)state;
	if (access(DUCT_DEMO, X_OK) != 0) {
		fprintf(stderr, "%s not built\n", DUCT_DEMO);
		skip();
	}
	struct tmpdir *t = tmpdir_enter();
	int before = fd_count();
	const char *addrs[] = {"unix:", "tcp:"};
	int n = under_valgrind() ? 5 : 50;
	for (int a = 0; a < 2; a++) {
		for (int i = 0; i < n; i++) {
			duct *p = tu_bound_parent(addrs[a]);
			pid_t pid = spawn_demo_child(duct_address(p));
			assert_status(DUCT_OK, duct_listen(p, 20000));
			char msg[32];
			int len = snprintf(msg, sizeof msg, "[%d, %d]", a, i);
			assert_status(DUCT_OK, duct_send(p, msg, (size_t)len));
			const void *m;
			size_t mlen;
			assert_status(DUCT_OK, duct_recv(p, &m, &mlen));
			char want[48];
			int wlen = snprintf(want, sizeof want, "{\"echo\": %s, ", msg);
			assert_true(mlen > (size_t)wlen);
			assert_memory_equal(m, want, (size_t)wlen);
			duct_free(p);
			int status = wait_child(pid, 20000);
			assert_true(WIFEXITED(status));
			assert_int_equal(WEXITSTATUS(status), 0);
		}
		assert_fd_count(before, addrs[a]);
	}
	tmpdir_leave(t);
}

/* Creates a parent duct on address and returns what duct_bind() said;
 * the duct is freed at once. */
static int bind_and_free(const char *address)
{
	int err = 0;
	duct *p = duct_parent_new(address, &err);
	assert_non_null(p);
	int rc = duct_bind(p);
	duct_free(p);
	return rc;
}

/* Feeds raw bytes to a pair's duct and returns what duct_recv() says. */
static int recv_after_raw(const void *bytes, size_t n, int close_peer)
{
	duct *p, *c;
	assert_status(DUCT_OK, duct_pair(&p, &c));
	write_all(duct_fileno(c), bytes, n);
	if (close_peer) {
		duct_free(c);
		c = NULL;
	}
	const void *m;
	size_t len;
	int rc = duct_recv(p, &m, &len);
	duct_free(p);
	duct_free(c);
	return rc;
}

/* The error paths once each; every one ends with the ducts freed. */
static void error_paths_once(void)
{
	int err;
	const void *m;
	size_t len;
	char addr[300];

	/* LIFE-2: nobody came. */
	duct *p = tu_bound_parent("unix:");
	assert_status(DUCT_ETIMEDOUT, duct_listen(p, 0));
	duct_free(p);
	p = tu_bound_parent("tcp:");
	assert_status(DUCT_ETIMEDOUT, duct_listen(p, 1));
	duct_free(p);

	/* LIFE-5: nothing to connect to, Unix and TCP. */
	duct *c = child_of("unix:/nonexistent-duct-res/duct.sock");
	assert_status(DUCT_ECONNECT, duct_connect(c));
	duct_free(c);
	p = tu_bound_parent("tcp:127.0.0.1:0");
	snprintf(addr, sizeof addr, "%s", duct_address(p));
	duct_free(p);
	c = child_of(addr);
	assert_status(DUCT_ECONNECT, duct_connect(c));
	assert_int_equal(duct_last_errno(c), ECONNREFUSED);
	duct_free(c);

	/* SEC-5: a child of the wrong uid is dropped; then both freed. */
	p = tu_bound_parent("unix:");
	assert_status(DUCT_OK, duct_set_peer_uid(p, (long)getuid() + 1));
	c = child_of(duct_address(p));
	assert_status(DUCT_OK, duct_connect(c));
	assert_status(DUCT_EPEERCRED, duct_listen(p, 5000));
	assert_int_not_equal(duct_listener_fileno(p), -1); /* still listening */
	duct_free(c);
	duct_free(p);

	/* Bind failures: a missing directory, an address in use (Unix and
	 * TCP), a duct bound twice (LIFE-4). */
	assert_status(duct_syserr(ENOENT),
		      bind_and_free("unix:/nonexistent-duct-res/duct.sock"));
	p = tu_bound_parent("unix:");
	assert_status(duct_syserr(EADDRINUSE), bind_and_free(duct_address(p)));
	assert_status(DUCT_ESTATE, duct_bind(p));
	duct_free(p);
	p = tu_bound_parent("tcp:127.0.0.1:0");
	assert_status(duct_syserr(EADDRINUSE), bind_and_free(duct_address(p)));
	duct_free(p);
	p = duct_parent_new("tcp:no-such-host.invalid:0", &err);
	assert_non_null(p);
	duct_free(p); /* never bound (no DNS lookup in a loop) */

	/* CLOSE-1: close, then free: bound parent, connected parent and
	 * child, both ends of a pair. */
	p = tu_bound_parent("unix:");
	assert_status(DUCT_OK, duct_close(p));
	assert_status(DUCT_OK, duct_close(p));
	duct_free(p);
	connect_over("tcp:", &p, &c);
	assert_status(DUCT_OK, duct_close(p));
	assert_status(DUCT_OK, duct_close(c));
	assert_status(DUCT_ESTATE, duct_recv(c, &m, &len));
	duct_free(p);
	duct_free(c);
	assert_status(DUCT_OK, duct_pair(&p, &c));
	assert_status(DUCT_OK, duct_shutdown(p));
	assert_status(DUCT_OK, duct_close(c));
	duct_free(p);
	duct_free(c);

	/* RECV-3, RECV-4, RECV-5, RECV-6: the receive errors, then free. */
	assert_status(DUCT_EMAGIC, recv_after_raw("X", 1, 0));
	assert_status(DUCT_ETOOBIG, recv_after_raw("\x54\xff\xff\xff\xff", 5, 0));
	assert_status(DUCT_ETRUNCATED, recv_after_raw("\x54\0\0\0\3ab", 7, 1));
}

/* LIFE-2, LIFE-4, LIFE-5, SEC-5, CLOSE-1, RECV-5: hundreds of times through
 * every error path (listen timeout, connect to nothing, peer-uid refusal,
 * bind failures, close then free, receive errors): no fd left, nothing
 * left in TMPDIR. */
static void res_fds_error_paths(void **state)
{
	(void)state;
	struct tmpdir *t = tmpdir_enter();
	int before = fd_count();
	int n = cycles(200);
	for (int i = 0; i < n; i++)
		error_paths_once();
	assert_fd_count(before, "the error paths");
	tmpdir_leave(t);
}

/* One whole lifecycle on address ("pair" for duct_pair) where any step may
 * run out of memory: returns the first error, everything freed. */
static int cycle_may_fail(const char *address)
{
	duct *p = NULL, *c = NULL;
	int rc, err = DUCT_OK;
	const void *m;
	size_t len;
	if (strcmp(address, "pair") == 0) {
		if ((rc = duct_pair(&p, &c)) != DUCT_OK)
			return rc;
	} else {
		if (!(p = duct_parent_new(address, &err)))
			return err;
		if ((rc = duct_bind(p)) != DUCT_OK)
			goto out;
		if (!(c = duct_child_new(duct_address(p), &err))) {
			rc = err;
			goto out;
		}
		duct_set_connect_retry(c, 0, 0);
		if ((rc = duct_connect(c)) != DUCT_OK ||
		    (rc = duct_listen(p, 5000)) != DUCT_OK)
			goto out;
	}
	if ((rc = duct_send(c, "x", 1)) == DUCT_OK &&
	    (rc = duct_recv(p, &m, &len)) == DUCT_OK &&
	    (rc = duct_send(p, "yz", 2)) == DUCT_OK)
		rc = duct_recv(c, &m, &len);
out:
	duct_free(c);
	duct_free(p);
	return rc;
}

/* LIFE-6, CLOSE-1: out of memory at each allocation of a lifecycle in
 * turn (pair, Unix, TCP): DUCT_ENOMEM, and no fd, path or directory left
 * behind.  (LeakSanitizer and valgrind check the memory.) */
static void res_fds_alloc_failures(void **state)
{
	(void)state;
	struct tmpdir *t = tmpdir_enter();
	int before = fd_count();
	const char *addrs[] = {"pair", "unix:", "tcp:"};
	for (int a = 0; a < 3; a++) {
		long k;
		for (k = 0; k < 100; k++) {
			tu_alloc_install();
			tu_fail_after = k;
			int rc = cycle_may_fail(addrs[a]);
			tu_alloc_uninstall();
			assert_fd_count(before, addrs[a]);
			if (rc == DUCT_OK)
				break;
			assert_status(DUCT_ENOMEM, rc);
		}
		assert_true(k > 2 && k < 100); /* it failed, then got through */
	}
	tmpdir_leave(t);
}

/* ---- close-on-exec: a program we start inherits nothing (SEC-4) --------- */

/* The probe, run as "test_resources --list-fds": prints "fd target" for
 * every fd it was started with. */
static void list_one(int fd, void *arg)
{
	char target[256];
	(void)arg;
	fd_target(fd, target, sizeof target);
	printf("%d %s\n", fd, target);
}

static int list_fds(void)
{
	if (for_each_fd(list_one, NULL) < 0)
		return 2;
	return fflush(stdout) == 0 ? 0 : 3;
}

/* Fork+execs the probe and returns what it printed (malloc'd). */
static char *exec_probe(void)
{
	int out[2];
	assert_int_equal(pipe2(out, O_CLOEXEC), 0);
	fflush(NULL);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		dup2(out[1], STDOUT_FILENO); /* dup2 clears FD_CLOEXEC */
		execl(self_exe, "test_resources", "--list-fds", (char *)NULL);
		_exit(127);
	}
	close(out[1]);
	size_t cap = 1 << 16, len = 0;
	char *buf = malloc(cap);
	assert_non_null(buf);
	for (;;) {
		ssize_t n = read(out[0], buf + len, cap - 1 - len);
		if (n < 0 && errno == EINTR)
			continue;
		assert_true(n >= 0);
		if (n == 0)
			break;
		len += (size_t)n;
		assert_true(len < cap - 1);
	}
	buf[len] = '\0';
	close(out[0]);
	int status = wait_child(pid, 20000);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	return buf;
}

/* Whether the probe's listing shows the open file description fd has
 * here (matched by target, "socket:[inode]", not by number: a number
 * the probe did not inherit may be reused by its own fds). */
static int probe_saw(const char *listing, int fd)
{
	char target[256], needle[300];
	fd_target(fd, target, sizeof target);
	assert_true(target[0] != '\0');
	snprintf(needle, sizeof needle, " %s\n", target);
	return strstr(listing, needle) != NULL;
}

/* SEC-4, LIFE-7: with a bound Unix and a bound TCP parent (listeners), a
 * connected Unix and TCP parent and child, a pair, and a duct made from a
 * socket that was inheritable, a program exec'd now inherits none of
 * their fds; each has FD_CLOEXEC.  A socket left inheritable on purpose
 * shows that the probe does see what it inherits. */
static void res_cloexec_exec_probe(void **state)
{
	(void)state;
	duct *d[10];
	int k = 0, fds[16], nfds = 0;
	d[k++] = tu_bound_parent("unix:");
	d[k++] = tu_bound_parent("tcp:");
	connect_over("unix:", &d[k], &d[k + 1]);
	k += 2;
	connect_over("tcp:", &d[k], &d[k + 1]);
	k += 2;
	assert_status(DUCT_OK, duct_pair(&d[k], &d[k + 1]));
	k += 2;
	int sv[2], err;
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	assert_false(fcntl(sv[1], F_GETFD) & FD_CLOEXEC);
	d[k] = duct_from_fd(sv[1], &err); /* now the duct's: SEC-4 */
	assert_non_null(d[k++]);
	for (int i = 0; i < k; i++) {
		if (duct_fileno(d[i]) >= 0)
			fds[nfds++] = duct_fileno(d[i]);
		if (duct_listener_fileno(d[i]) >= 0)
			fds[nfds++] = duct_listener_fileno(d[i]);
	}
	assert_int_equal(nfds, 9);

	char *listing = exec_probe();
	assert_true(probe_saw(listing, sv[0])); /* the control */
	for (int i = 0; i < nfds; i++) {
		if (probe_saw(listing, fds[i])) {
			char target[256];
			fd_target(fds[i], target, sizeof target);
			fprintf(stderr, "inherited: fd %d (%s); the probe had:\n%s",
				fds[i], target, listing);
			fail_msg("a duct's fd survived exec (SEC-4)");
		}
	}
	for (int i = 0; i < nfds; i++)
		assert_true(fcntl(fds[i], F_GETFD) & FD_CLOEXEC);
	free(listing);
	close(sv[0]);
	for (int i = 0; i < k; i++)
		duct_free(d[i]);
}

/* ---- a Unix parent's path and private directory (LIFE-3, SEC-2) --------- */

struct where {
	char path[200]; /* the socket */
	char dir[200];  /* its directory */
};

/* Where a bound Unix parent lives; checks that the socket is there and
 * the directory is ours and private (SEC-2: 0700) while it exists. */
static void where_is(const duct *p, struct where *w, int private_dir)
{
	const char *addr = duct_address(p);
	assert_non_null(addr);
	assert_memory_equal(addr, "unix:", 5);
	snprintf(w->path, sizeof w->path, "%s", addr + 5);
	snprintf(w->dir, sizeof w->dir, "%s", w->path);
	*strrchr(w->dir, '/') = '\0';
	struct stat st;
	assert_int_equal(stat(w->path, &st), 0);
	assert_true(S_ISSOCK(st.st_mode));
	assert_int_equal(stat(w->dir, &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	if (private_dir) {
		assert_int_equal(st.st_mode & 07777, 0700);
		assert_int_equal(st.st_uid, getuid());
	}
}

static void assert_gone(const char *path)
{
	struct stat st;
	if (stat(path, &st) == 0)
		fail_msg("%s is still there", path);
	assert_int_equal(errno, ENOENT);
}

/* The ways a bound Unix parent can end. */
enum ending {
	END_ACCEPT,         /* a child was accepted */
	END_FREE,           /* freed, never listened */
	END_TIMEOUT,        /* listen timed out, then freed */
	END_REFUSED,        /* listen refused a child (SEC-5), then freed */
	END_CLOSE,          /* duct_close, then freed later */
	END_SHUTDOWN,       /* duct_shutdown, then freed later */
	END_LISTEN_EMFILE,  /* accept failed (no fd left), then freed */
	END_COUNT
};

static const char *ending_name[END_COUNT] = {
	"accept", "free", "listen timeout", "peer-uid refusal", "close",
	"shutdown", "accept EMFILE",
};

/* Lowers the soft fd limit to the lowest free fd, so the next fd made
 * fails with EMFILE; returns the old limit for limit_restore(). */
static struct rlimit limit_fds(void)
{
	struct rlimit old, now;
	assert_int_equal(getrlimit(RLIMIT_NOFILE, &old), 0);
	int lowest = open("/dev/null", O_RDONLY | O_CLOEXEC);
	assert_true(lowest >= 0);
	close(lowest);
	now = old;
	now.rlim_cur = (rlim_t)lowest;
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &now), 0);
	return old;
}

static void limit_restore(const struct rlimit *old)
{
	assert_int_equal(setrlimit(RLIMIT_NOFILE, old), 0);
}

/* Ends a parent bound on address one way, checking the path and the
 * directory while it lives and after. */
static void end_parent(const char *address, enum ending how)
{
	int given = strcmp(address, "unix:") != 0;
	duct *p = tu_bound_parent(address), *c = NULL;
	struct where w;
	where_is(p, &w, !given);
	assert_true(duct_listener_fileno(p) >= 0);
	switch (how) {
	case END_ACCEPT:
		c = child_of(duct_address(p));
		assert_status(DUCT_OK, duct_connect(c));
		assert_status(DUCT_OK, duct_listen(p, 5000));
		assert_int_equal(duct_listener_fileno(p), -1);
		assert_gone(w.path); /* at once, not at free */
		if (!given)
			assert_gone(w.dir);
		talk(p, c);
		break;
	case END_FREE:
		break;
	case END_TIMEOUT:
		assert_status(DUCT_ETIMEDOUT, duct_listen(p, 1));
		where_is(p, &w, !given); /* LIFE-2: still bound */
		break;
	case END_REFUSED:
		assert_status(DUCT_OK, duct_set_peer_uid(p, (long)getuid() + 1));
		c = child_of(duct_address(p));
		assert_status(DUCT_OK, duct_connect(c));
		assert_status(DUCT_EPEERCRED, duct_listen(p, 5000));
		where_is(p, &w, !given); /* still listening */
		break;
	case END_CLOSE:
	case END_SHUTDOWN:
		assert_status(DUCT_OK, how == END_CLOSE ? duct_close(p)
							 : duct_shutdown(p));
		assert_int_equal(duct_listener_fileno(p), -1);
		assert_gone(w.path); /* at close, not at free */
		if (!given)
			assert_gone(w.dir);
		break;
	case END_LISTEN_EMFILE: {
		c = child_of(duct_address(p));
		assert_status(DUCT_OK, duct_connect(c));
		struct rlimit old = limit_fds();
		int rc = duct_listen(p, 5000);
		limit_restore(&old);
		assert_status(duct_syserr(EMFILE), rc);
		where_is(p, &w, !given);
		break;
	}
	default:
		fail();
	}
	duct_free(c);
	duct_free(p);
	assert_gone(w.path);
	if (!given)
		assert_gone(w.dir);
}

/* LIFE-2, LIFE-3, SEC-2, SEC-5, CLOSE-1: on every way a Unix parent ends
 * (accept, free unlistened, listen timeout, peer-uid refusal, close,
 * shutdown, a failed accept), its listener is closed and its path and
 * private 0700 directory are removed; a path the caller chose is removed
 * but the caller's directory is left alone.  Many times each. */
static void res_unix_path_every_exit(void **state)
{
	(void)state;
	struct tmpdir *t = tmpdir_enter();
	int before = fd_count();
	char given_dir[100], given[120];
	tmpdir_sub(t, given_dir, sizeof given_dir);
	snprintf(given, sizeof given, "unix:%s/s", given_dir);
	int n = cycles(30);
	for (int how = 0; how < END_COUNT; how++) {
		for (int i = 0; i < n; i++) {
			end_parent("unix:", (enum ending)how);
			end_parent(given, (enum ending)how);
		}
		assert_fd_count(before, ending_name[how]);
		struct stat st;
		assert_int_equal(stat(given_dir, &st), 0); /* not ours */
	}
	assert_int_equal(rmdir(given_dir), 0); /* and empty */
	tmpdir_leave(t);
}

/* SEC-2, LIFE-3: a bind that fails after the private directory was made
 * (no fd left for the socket) removes the directory again, and a later bind
 * makes a fresh one. */
static void res_unix_path_bind_emfile(void **state)
{
	(void)state;
	struct tmpdir *t = tmpdir_enter();
	int before = fd_count();
	for (int i = 0; i < cycles(20); i++) {
		int err;
		duct *p = duct_parent_new("unix:", &err);
		assert_non_null(p);
		struct rlimit old = limit_fds();
		int rc = duct_bind(p);
		limit_restore(&old);
		assert_status(duct_syserr(EMFILE), rc);
		assert_null(duct_address(p));
		assert_int_equal(duct_listener_fileno(p), -1);
		/* Gone at once, before the duct is freed. */
		assert_int_equal(rmdir(t->dir), 0);
		assert_int_equal(mkdir(t->dir, 0700), 0);
		assert_status(DUCT_OK, duct_bind(p));
		assert_non_null(duct_address(p));
		duct_free(p);
	}
	assert_fd_count(before, "binds that ran out of fds");
	tmpdir_leave(t);
}

/* LIFE-3, CLOSE-2: a process that forks while it holds a bound Unix
 * parent keeps it working whatever the forked process does with its copy:
 * exits without freeing it, closes it, or frees it.  The path and the
 * private 0700 directory stay, a child can still connect, and they go
 * when the original accepts it.  (CLOSE-2: "a duct inherited across fork
 * can be closed in one process and keep working in the other"; so only
 * the process that bound the path may remove it.) */
static void res_unix_path_fork_copy(void **state)
{
	(void)state;
	struct tmpdir *t = tmpdir_enter();
	int before = fd_count();
	char given_dir[100], given[120];
	tmpdir_sub(t, given_dir, sizeof given_dir);
	snprintf(given, sizeof given, "unix:%s/s", given_dir);
	const char *addrs[] = {"unix:", given};
	static const char *what[] = {"exits", "closes its copy", "frees its copy"};
	int n = under_valgrind() ? 1 : 5;
	for (int a = 0; a < 2; a++) {
		for (int how = 0; how < 3; how++) {
			for (int i = 0; i < n; i++) {
				duct *p = tu_bound_parent(addrs[a]);
				struct where w;
				where_is(p, &w, a == 0);
				fflush(NULL);
				pid_t pid = fork();
				assert_true(pid >= 0);
				if (pid == 0) {
					if (how == 1)
						duct_close(p);
					if (how >= 1)
						duct_free(p);
					_exit(0);
				}
				int status = wait_child(pid, 10000);
				assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
				struct stat st;
				if (stat(w.path, &st) != 0) {
					duct_free(p); /* fail cleanly */
					fail_msg("the forked process %s: %s was "
						 "removed under its parent (CLOSE-2)",
						 what[how], w.path);
				}
				where_is(p, &w, a == 0);
				duct *c = child_of(duct_address(p));
				assert_status(DUCT_OK, duct_connect(c));
				assert_status(DUCT_OK, duct_listen(p, 5000));
				talk(p, c);
				assert_gone(w.path);
				if (a == 0)
					assert_gone(w.dir);
				duct_free(c);
				duct_free(p);
			}
		}
	}
	assert_fd_count(before, "forked copies of bound parents");
	assert_int_equal(rmdir(given_dir), 0);
	tmpdir_leave(t);
}

/* ---- hostile sizes ------------------------------------------------------- */

/* RECV-6, SEC-1, RECV-5: over real Unix and TCP connections, in either
 * direction, a header announcing 0xFFFFFFFF, the default limit + 1 or a
 * set limit + 1 is refused with DUCT_ETOOBIG as soon as its length is
 * known: at once (no wait for the payload, even with the header arriving
 * byte by byte) and with no allocation anywhere near the size.  The
 * connection is then shut down, so the peer sees a clean close. */
static void res_hostile_header(void **state)
{
	(void)state;
	const char *addrs[] = {"unix:", "tcp:"};
	const uint32_t sizes[] = {UINT32_MAX, DUCT_MAX_MESSAGE_DEFAULT + 1,
				  (1u << 20) + 1};
	for (int a = 0; a < 2; a++) {
		for (int s = 0; s < 3; s++) {
			for (int dir = 0; dir < 2; dir++) {
				duct *p, *c;
				connect_over(addrs[a], &p, &c);
				duct *rx = dir ? c : p, *tx = dir ? p : c;
				if (s == 2)
					assert_status(DUCT_OK, duct_set_max_message(rx, 1u << 20));
				/* A long timeout: ETOOBIG must not wait for it. */
				assert_status(DUCT_OK, duct_set_timeouts(rx, 1000, 10000));
				uint8_t h[DUCT_HEADER_SIZE];
				duct_frame_header(h, sizes[s]);
				const void *m;
				size_t len;
				tu_alloc_install();
				if (dir) { /* TIME-2: header a byte at a time */
					assert_status(DUCT_OK, duct_set_timeouts(rx, 1000, 5));
					for (int b = 0; b < DUCT_HEADER_SIZE - 1; b++) {
						write_all(duct_fileno(tx), h + b, 1);
						assert_status(DUCT_ETIMEDOUT,
							      duct_recv(rx, &m, &len));
					}
					assert_status(DUCT_OK, duct_set_timeouts(rx, 1000, 10000));
					write_all(duct_fileno(tx), h + 4, 1);
				} else {
					write_all(duct_fileno(tx), h, sizeof h);
				}
				struct timespec t0;
				clock_gettime(CLOCK_MONOTONIC, &t0);
				assert_status(DUCT_ETOOBIG, duct_recv(rx, &m, &len));
				assert_true(elapsed_ms(&t0) < 2000);
				assert_true(tu_alloc_bytes <= (64u << 10));
				tu_alloc_uninstall();
				assert_status(DUCT_ETOOBIG, duct_recv(rx, &m, &len));
				assert_status(DUCT_EOF, duct_recv(tx, &m, &len));
				duct_free(p);
				duct_free(c);
			}
		}
	}
}

/* A counting allocator that also knows the bytes live at any time. */
static struct {
	size_t live, peak, largest;
} mem;

typedef union {
	max_align_t align;
	size_t n;
} mem_hdr;

static void mem_note(size_t n)
{
	mem.live += n;
	if (mem.live > mem.peak)
		mem.peak = mem.live;
	if (n > mem.largest)
		mem.largest = n;
}

static void *mem_malloc(size_t n)
{
	mem_hdr *h = malloc(sizeof *h + n);
	if (!h)
		return NULL;
	h->n = n;
	mem_note(n);
	return h + 1;
}

static void *mem_realloc(void *p, size_t n)
{
	if (!p)
		return mem_malloc(n);
	mem_hdr *h = (mem_hdr *)p - 1;
	size_t old = h->n;
	h = realloc(h, sizeof *h + n);
	if (!h)
		return NULL;
	h->n = n;
	mem.live -= old;
	mem_note(n);
	return h + 1;
}

static void mem_free(void *p)
{
	if (!p)
		return;
	mem_hdr *h = (mem_hdr *)p - 1;
	mem.live -= h->n;
	free(h);
}

static void mem_install(void)
{
	static const duct_allocator a = {mem_malloc, mem_realloc, mem_free};
	memset(&mem, 0, sizeof mem);
	duct_set_allocator(&a);
}

static uint32_t xorshift(uint32_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 17;
	*s ^= *s << 5;
	return *s;
}

#define HUGE_FRAME (60u << 20)    /* announced */
#define TRICKLED ((size_t)1 << 20) /* sent in small pieces */

/* The payload's bytes: byte i is i % 251, so a slip shows. */
static uint8_t pattern[(64u << 10) + 251];

struct rest {
	int fd;
	size_t from; /* payload offset to send from */
};

static void *send_rest(void *arg)
{
	struct rest *r = arg;
	for (size_t at = r->from; at < HUGE_FRAME;) {
		size_t k = HUGE_FRAME - at < (64u << 10) ? HUGE_FRAME - at : (64u << 10);
		ssize_t w = send(r->fd, pattern + at % 251, k, MSG_NOSIGNAL);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			break;
		at += (size_t)w;
	}
	return NULL;
}

/* SEC-1, TIME-2, RECV-3, RECV-1: a peer announces a 60 MiB frame and
 * trickles 1 MiB of it in 1-4 KiB writes, the receiver polling with a
 * short timeout (DUCT_ETIMEDOUT every time, nothing lost): the receiver's
 * largest allocation and the memory it holds stay within twice what was
 * sent plus 128 KiB.  Then the peer either closes (DUCT_ETRUNCATED, twice)
 * or sends the rest (the whole frame arrives intact, then a clean close).
 * Unix and TCP; all memory is returned at the end. */
static void res_trickle_huge_frame(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof pattern; i++)
		pattern[i] = (uint8_t)(i % 251);
	const char *addrs[] = {"unix:", "tcp:"};
	for (int a = 0; a < 2; a++) {
		for (int finish = 0; finish < 2; finish++) {
			mem_install();
			duct *p, *c;
			connect_over(addrs[a], &p, &c);
			/* The receiver alternates; the peer writes raw bytes. */
			duct *rx = (a + finish) % 2 ? c : p, *tx = rx == p ? c : p;
			int raw = duct_fileno(tx);
			assert_status(DUCT_OK, duct_set_timeouts(rx, 1000, 2));
			uint8_t h[DUCT_HEADER_SIZE];
			duct_frame_header(h, HUGE_FRAME);
			write_all(raw, h, sizeof h);
			size_t sent = 0; /* payload bytes */
			uint32_t rng = 2463534242u + (uint32_t)(a * 2 + finish);
			const void *m;
			size_t len;
			int recvs = 0;
			while (sent < TRICKLED) {
				/* 1 to 12 writes of 1-4 KiB, then one receive. */
				uint32_t burst = xorshift(&rng) % 12;
				for (uint32_t b = 0; b <= burst && sent < TRICKLED; b++) {
					size_t k = 1024 + xorshift(&rng) % 3073;
					if (k > TRICKLED - sent)
						k = TRICKLED - sent;
					write_all(raw, pattern + sent % 251, k);
					sent += k;
				}
				assert_status(DUCT_ETIMEDOUT, duct_recv(rx, &m, &len));
				recvs++;
				size_t bound = 2 * (DUCT_HEADER_SIZE + sent) + (128u << 10);
				if (mem.largest > bound || mem.peak > bound)
					fail_msg("after %zu bytes sent: largest "
						 "allocation %zu, peak %zu (> %zu)",
						 sent, mem.largest, mem.peak, bound);
			}
			assert_true(recvs > 20);
			if (!finish) {
				duct_free(tx);
				tx = NULL;
				assert_status(DUCT_ETRUNCATED, duct_recv(rx, &m, &len));
				assert_status(DUCT_ETRUNCATED, duct_recv(rx, &m, &len));
			} else {
				struct rest r = {raw, sent};
				pthread_t th;
				assert_int_equal(pthread_create(&th, NULL, send_rest, &r), 0);
				assert_status(DUCT_OK, duct_set_timeouts(rx, 1000, 20000));
				int rc = duct_recv(rx, &m, &len);
				if (rc != DUCT_OK) /* do not leave the sender stuck */
					shutdown(raw, SHUT_RDWR);
				pthread_join(th, NULL);
				assert_status(DUCT_OK, rc);
				assert_int_equal(len, HUGE_FRAME);
				const uint8_t *b = m;
				size_t step = under_valgrind() ? 4093 : 1;
				for (size_t i = 0; i < len; i += step)
					if (b[i] != (uint8_t)(i % 251))
						fail_msg("payload byte %zu is %u", i, b[i]);
				size_t bound = 2 * (DUCT_HEADER_SIZE + (size_t)HUGE_FRAME) +
					       (128u << 10);
				assert_true(mem.largest <= bound && mem.peak <= bound);
				duct_free(tx);
				tx = NULL;
				assert_status(DUCT_EOF, duct_recv(rx, &m, &len));
			}
			duct_free(rx);
			assert_int_equal(mem.live, 0); /* everything given back */
			duct_set_allocator(NULL);
		}
	}
}

int main(int argc, char **argv)
{
	if (argc > 1 && strcmp(argv[1], "--list-fds") == 0)
		return list_fds(); /* the exec probe (SEC-4) */
	ssize_t n = readlink("/proc/self/exe", self_exe, sizeof self_exe - 1);
	if (n > 0)
		self_exe[n] = '\0';
	else
		snprintf(self_exe, sizeof self_exe, "%s", argv[0]);
	signal(SIGPIPE, SIG_DFL); /* the library must not need SIG_IGN */
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(res_fds_pair_cycles, teardown),
		cmocka_unit_test_teardown(res_fds_listen_cycles, teardown),
		cmocka_unit_test_teardown(res_fds_real_child_cycles, teardown),
		cmocka_unit_test_teardown(res_fds_error_paths, teardown),
		cmocka_unit_test_teardown(res_fds_alloc_failures, teardown),
		cmocka_unit_test_teardown(res_cloexec_exec_probe, teardown),
		cmocka_unit_test_teardown(res_unix_path_every_exit, teardown),
		cmocka_unit_test_teardown(res_unix_path_bind_emfile, teardown),
		cmocka_unit_test_teardown(res_unix_path_fork_copy, teardown),
		cmocka_unit_test_teardown(res_hostile_header, teardown),
		cmocka_unit_test_teardown(res_trickle_huge_frame, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
