/* Only the owner gets in: the private Unix directory (SEC-2), the peer uid
 * check (SEC-5) and the loopback TCP default (SEC-7), tried against real
 * processes of another user.  The tests that need another user run as
 * root, fork a child and drop it to "nobody"; elsewhere they skip. */
#include <arpa/inet.h>
#include <errno.h>
#include <grp.h>
#include <libgen.h>
#include <netinet/in.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "testutil.h"

/* What a forked child saw, sent back to the test over a pipe. */
struct report {
	int setup;      /* 0, or the step that failed before connecting */
	long uid;       /* the child's real uid once dropped */
	int connect_rc, last_errno;
	int stat_errno; /* stat() of the socket path as the child */
	int recv_rc, send_rc;
	char msg[16];   /* what the child received, NUL-terminated */
};

enum { SETUP_OK, SETUP_SETGROUPS, SETUP_SETGID, SETUP_SETUID, SETUP_REGAIN,
       SETUP_CHILD_NEW };

/* The uid and gid of "nobody", or skip() the test: dropping to another
 * user needs root and that user. */
static struct passwd nobody_or_skip(void)
{
	if (geteuid() != 0) {
		print_message("skipped: needs root to run a child as another "
			      "user (euid is %ld)\n", (long)geteuid());
		skip();
	}
	const struct passwd *pw = getpwnam("nobody");
	if (!pw) {
		print_message("skipped: no user \"nobody\" to run a child "
			      "as\n");
		skip();
	}
	return *pw;
}

/* In a forked child: give up root for good, in the only safe order
 * (supplementary groups, then gid, then uid). */
static int drop_privileges(const struct passwd *pw)
{
	if (setgroups(0, NULL) != 0)
		return SETUP_SETGROUPS;
	if (setgid(pw->pw_gid) != 0)
		return SETUP_SETGID;
	if (setuid(pw->pw_uid) != 0)
		return SETUP_SETUID;
	if (setuid(0) == 0)
		return SETUP_REGAIN; /* must be impossible now */
	return SETUP_OK;
}

/* The child's side: connect to address once (no retries: a retry would
 * only hide the first answer), then wait for a message and answer "pong".
 * A refused child sees the connection closed instead. */
static void child_run(const char *address, struct report *r)
{
	int err = 0;
	r->uid = (long)getuid();
	if (stat(address + 5, &(struct stat){0}) != 0)
		r->stat_errno = errno;
	duct *c = duct_child_new(address, &err);
	if (!c) {
		r->setup = SETUP_CHILD_NEW;
		return;
	}
	duct_set_connect_retry(c, 0, 0);
	duct_set_timeouts(c, 10000, 10000); /* never hang the test */
	r->connect_rc = duct_connect(c);
	r->last_errno = duct_last_errno(c);
	if (r->connect_rc == DUCT_OK) {
		const void *m;
		size_t n;
		r->recv_rc = duct_recv(c, &m, &n);
		if (r->recv_rc == DUCT_OK) {
			if (n >= sizeof r->msg)
				n = sizeof r->msg - 1;
			memcpy(r->msg, m, n);
		}
		r->send_rc = duct_send(c, "pong", 4);
	}
	duct_free(c);
}

struct child {
	pid_t pid;
	int rfd;
};

/* Forks a child that connects to address, as pw's user when pw is not
 * NULL, as the test's own user otherwise.  p is the parent duct the child
 * inherits: it closes its copy of the listener and leaves the rest alone
 * (freeing it would remove the parent's socket path). */
static struct child spawn_child(const duct *p, const char *address,
				const struct passwd *pw)
{
	int fds[2];
	assert_int_equal(pipe(fds), 0);
	fflush(NULL);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct report r = {0};
		close(fds[0]);
		close(duct_listener_fileno(p));
		if (pw)
			r.setup = drop_privileges(pw);
		if (r.setup == SETUP_OK)
			child_run(address, &r);
		ssize_t w = write(fds[1], &r, sizeof r);
		_exit(w == (ssize_t)sizeof r ? 0 : 1);
	}
	close(fds[1]);
	return (struct child){pid, fds[0]};
}

/* Collects the child's report and its exit status. */
static struct report reap_child(struct child ch)
{
	struct report r;
	ssize_t n = read(ch.rfd, &r, sizeof r);
	close(ch.rfd);
	int status = 0;
	assert_int_equal(waitpid(ch.pid, &status, 0), ch.pid);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	assert_int_equal(n, (ssize_t)sizeof r);
	assert_int_equal(r.setup, SETUP_OK);
	return r;
}

/* The parent's side of a child that got in: ping, pong. */
static void parent_talks(duct *p, struct child ch, long uid)
{
	assert_status(DUCT_OK, duct_set_timeouts(p, 10000, 10000));
	assert_status(DUCT_OK, duct_send(p, "ping", 4));
	const void *m;
	size_t n;
	assert_status(DUCT_OK, duct_recv(p, &m, &n));
	assert_int_equal(n, 4);
	assert_memory_equal(m, "pong", 4);
	struct report r = reap_child(ch);
	assert_int_equal(r.uid, uid);
	assert_status(DUCT_OK, r.connect_rc);
	assert_status(DUCT_OK, r.recv_rc);
	assert_string_equal(r.msg, "ping");
	assert_status(DUCT_OK, r.send_rc);
}

/* SEC-2, ADDR-3, LIFE-5: the parent's own path ("unix:") is in a fresh
 * 0700 directory of the parent's user, so even with umask 0 (a socket file
 * anybody may write) a child running as another user cannot reach the
 * socket: EACCES, a system error returned at once (not retried as ENOENT
 * would be), and nothing reaches the listener.  A child of the same user
 * then connects and talks. */
static void access_private_dir_other_user(void **state)
{
	(void)state;
	struct passwd nobody = nobody_or_skip();
	mode_t old_mask = umask(0);
	duct *p = tu_bound_parent("unix:");
	umask(old_mask);
	char addr[300], dir[300];
	snprintf(addr, sizeof addr, "%s", duct_address(p));
	snprintf(dir, sizeof dir, "%s", addr + 5);
	dirname(dir);
	struct stat st;
	assert_int_equal(stat(dir, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0700);
	assert_int_equal(st.st_uid, geteuid());
	assert_int_equal(stat(addr + 5, &st), 0);
	assert_true(S_ISSOCK(st.st_mode));
	assert_int_equal(st.st_mode & 0777, 0777); /* only the dir guards it */

	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	struct report r = reap_child(spawn_child(p, addr, &nobody));
	clock_gettime(CLOCK_MONOTONIC, &t1);
	assert_int_equal(r.uid, (long)nobody.pw_uid);
	assert_int_equal(r.stat_errno, EACCES);
	/* Not DUCT_ECONNECT: EACCES is not a "not there yet" error, so
	 * duct_connect gives up at once with the system error (LIFE-5), and
	 * keeps its errno for duct_last_errno as well. */
	assert_status(duct_syserr(EACCES), r.connect_rc);
	assert_int_equal(r.last_errno, EACCES);
	assert_true(t1.tv_sec - t0.tv_sec < 5);
	assert_status(DUCT_ETIMEDOUT, duct_listen(p, 0)); /* nobody queued */

	struct child ch = spawn_child(p, addr, NULL);
	assert_status(DUCT_OK, duct_listen(p, 10000));
	parent_talks(p, ch, (long)getuid());
	assert_int_equal(access(dir, F_OK), -1); /* LIFE-3: dir removed */
	duct_free(p);
}

/* A given Unix path in a directory everybody may enter, its socket file
 * writable by everybody: only duct_set_peer_uid() keeps others out. */
struct open_path {
	char dir[64];
	char addr[80];
};

static duct *open_parent(struct open_path *o, long peer_uid)
{
	snprintf(o->dir, sizeof o->dir, "/tmp/duct-access-XXXXXX");
	assert_non_null(mkdtemp(o->dir));
	assert_int_equal(chmod(o->dir, 0777), 0);
	snprintf(o->addr, sizeof o->addr, "unix:%s/s", o->dir);
	int err = 0;
	duct *p = duct_parent_new(o->addr, &err);
	assert_non_null(p);
	assert_status(DUCT_OK, duct_set_peer_uid(p, peer_uid));
	assert_status(DUCT_OK, duct_bind(p));
	assert_string_equal(duct_address(p), o->addr);
	assert_int_equal(chmod(o->addr + 5, 0777), 0);
	return p;
}

/* The refused child's view: it connected (the kernel accepted it into the
 * backlog), then found the connection closed: EOF on receive, EPIPE on
 * send. */
static void assert_refused(const struct report *r, long uid)
{
	assert_int_equal(r->uid, uid);
	assert_status(DUCT_OK, r->connect_rc);
	assert_status(DUCT_EOF, r->recv_rc);
	assert_status(DUCT_EPIPE, r->send_rc);
}

/* The parent still listens after a refusal: listener and path are there. */
static void assert_still_listening(duct *p, const struct open_path *o)
{
	assert_true(duct_listener_fileno(p) >= 0);
	assert_int_equal(access(o->addr + 5, F_OK), 0);
	assert_int_equal(duct_fileno(p), -1);
	assert_status(DUCT_ETIMEDOUT, duct_listen(p, 0));
}

static void remove_open_path(duct *p, struct open_path *o)
{
	assert_int_equal(access(o->addr + 5, F_OK), -1); /* LIFE-3 */
	duct_free(p);
	assert_int_equal(rmdir(o->dir), 0); /* nothing left behind */
}

/* SEC-5, ADDR-1: with the peer uid set to its own, a parent on a path
 * anybody can reach refuses a child of another user: duct_listen returns
 * DUCT_EPEERCRED, the child sees its connection closed, and the same
 * parent, still bound, then accepts a child of its own user and talks. */
static void access_peer_uid_refuses_other_user(void **state)
{
	(void)state;
	struct passwd nobody = nobody_or_skip();
	struct open_path o;
	duct *p = open_parent(&o, (long)getuid());

	struct child bad = spawn_child(p, o.addr, &nobody);
	assert_status(DUCT_EPEERCRED, duct_listen(p, 10000));
	struct report r = reap_child(bad);
	assert_refused(&r, (long)nobody.pw_uid);
	assert_still_listening(p, &o);

	struct child good = spawn_child(p, o.addr, NULL);
	assert_status(DUCT_OK, duct_listen(p, 10000));
	parent_talks(p, good, (long)getuid());
	remove_open_path(p, &o);
}

/* SEC-5: the check compares uids, it does not favour root: a parent that
 * expects "nobody" refuses a root child and accepts a "nobody" one. */
static void access_peer_uid_expects_other_user(void **state)
{
	(void)state;
	struct passwd nobody = nobody_or_skip();
	struct open_path o;
	duct *p = open_parent(&o, (long)nobody.pw_uid);

	struct child bad = spawn_child(p, o.addr, NULL);
	assert_status(DUCT_EPEERCRED, duct_listen(p, 10000));
	struct report r = reap_child(bad);
	assert_refused(&r, (long)getuid());
	assert_still_listening(p, &o);

	struct child good = spawn_child(p, o.addr, &nobody);
	assert_status(DUCT_OK, duct_listen(p, 10000));
	parent_talks(p, good, (long)nobody.pw_uid);
	remove_open_path(p, &o);
}

/* The address a TCP parent's listener is bound to. */
static struct sockaddr_storage listener_sockname(const duct *p)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof ss;
	memset(&ss, 0, sizeof ss);
	int lfd = duct_listener_fileno(p);
	assert_true(lfd >= 0);
	assert_int_equal(getsockname(lfd, (struct sockaddr *)&ss, &len), 0);
	return ss;
}

static int sockname_port(const struct sockaddr_storage *ss)
{
	return ntohs(ss->ss_family == AF_INET6
			     ? ((const struct sockaddr_in6 *)ss)->sin6_port
			     : ((const struct sockaddr_in *)ss)->sin_port);
}

/* SEC-7, ADDR-3, LIFE-1: "tcp:" alone binds loopback (127.0.0.1 or ::1,
 * whichever "localhost" names first) on an ephemeral port, with
 * SO_REUSEADDR; the reported address is that one, and a child reaches it. */
static void access_tcp_default_loopback(void **state)
{
	(void)state;
	duct *p = tu_bound_parent("tcp:");
	struct sockaddr_storage ss = listener_sockname(p);
	int port = sockname_port(&ss);
	char want[80];
	assert_true(port > 0);
	if (ss.ss_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)&ss;
		assert_int_equal(ntohl(in->sin_addr.s_addr), INADDR_LOOPBACK);
		snprintf(want, sizeof want, "tcp:127.0.0.1:%d", port);
	} else {
		assert_int_equal(ss.ss_family, AF_INET6);
		const struct sockaddr_in6 *in6 =
			(const struct sockaddr_in6 *)&ss;
		assert_true(IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr));
		snprintf(want, sizeof want, "tcp:[::1]:%d", port);
	}
	assert_string_equal(duct_address(p), want);
	int one = 0;
	socklen_t len = sizeof one;
	assert_int_equal(getsockopt(duct_listener_fileno(p), SOL_SOCKET,
				    SO_REUSEADDR, &one, &len), 0);
	assert_true(one);

	int err = 0;
	duct *c = duct_child_new(duct_address(p), &err);
	assert_non_null(c);
	assert_status(DUCT_OK, duct_set_connect_retry(c, 0, 0));
	assert_status(DUCT_OK, duct_connect(c));
	assert_status(DUCT_OK, duct_listen(p, 5000));
	assert_status(DUCT_OK, duct_send(c, "x", 1));
	const void *m;
	size_t n;
	assert_status(DUCT_OK, duct_recv(p, &m, &n));
	assert_int_equal(n, 1);
	duct_free(c);
	duct_free(p);
}

/* SEC-7 ("unless told otherwise"), ADDR-2: an explicit host is bound as
 * given, the IPv4 and IPv6 wildcards included. */
static void access_tcp_explicit_host(void **state)
{
	(void)state;
	duct *p = tu_bound_parent("tcp:0.0.0.0:0");
	struct sockaddr_storage ss = listener_sockname(p);
	assert_int_equal(ss.ss_family, AF_INET);
	assert_int_equal(((struct sockaddr_in *)&ss)->sin_addr.s_addr,
			 htonl(INADDR_ANY));
	char want[80];
	snprintf(want, sizeof want, "tcp:0.0.0.0:%d", sockname_port(&ss));
	assert_string_equal(duct_address(p), want);
	duct_free(p);

	p = tu_bound_parent("tcp:127.0.0.1:0");
	ss = listener_sockname(p);
	assert_int_equal(ss.ss_family, AF_INET);
	assert_int_equal(ntohl(((struct sockaddr_in *)&ss)->sin_addr.s_addr),
			 INADDR_LOOPBACK);
	duct_free(p);

	int err = 0;
	p = duct_parent_new("tcp:[::]:0", &err);
	assert_non_null(p);
	int rc = duct_bind(p);
	if (rc == duct_syserr(EAFNOSUPPORT) ||
	    rc == duct_syserr(EADDRNOTAVAIL)) {
		print_message("no IPv6 here: tcp:[::]:0 not checked\n");
		duct_free(p);
		return;
	}
	assert_status(DUCT_OK, rc);
	ss = listener_sockname(p);
	assert_int_equal(ss.ss_family, AF_INET6);
	assert_memory_equal(&((struct sockaddr_in6 *)&ss)->sin6_addr,
			    &in6addr_any, sizeof in6addr_any);
	snprintf(want, sizeof want, "tcp:[::]:%d", sockname_port(&ss));
	assert_string_equal(duct_address(p), want);
	duct_free(p);
}

/* SEC-5: the uid check exists for Unix parents only; asked of a TCP parent
 * or of a child it is refused, rather than silently letting anyone in. */
static void access_peer_uid_unix_parent_only(void **state)
{
	(void)state;
	int err = 0;
	duct *t = tu_bound_parent("tcp:");
	assert_status(DUCT_EINVAL, duct_set_peer_uid(t, (long)getuid()));
	assert_status(DUCT_OK, duct_set_peer_uid(t, -1));
	duct *c = duct_child_new("unix:/nonexistent/s", &err);
	assert_non_null(c);
	assert_status(DUCT_EINVAL, duct_set_peer_uid(c, (long)getuid()));
	duct *p, *q;
	assert_status(DUCT_OK, duct_pair(&p, &q));
	assert_status(DUCT_EINVAL, duct_set_peer_uid(p, (long)getuid()));
	duct_free(p);
	duct_free(q);
	duct_free(c);
	duct_free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(access_private_dir_other_user),
		cmocka_unit_test(access_peer_uid_refuses_other_user),
		cmocka_unit_test(access_peer_uid_expects_other_user),
		cmocka_unit_test(access_tcp_default_loopback),
		cmocka_unit_test(access_tcp_explicit_host),
		cmocka_unit_test(access_peer_uid_unix_parent_only),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
