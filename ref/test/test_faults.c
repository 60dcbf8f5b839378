/* A dead or misbehaving peer is an error, never a hang or a crash.
 *
 * Peers here are forked processes, so a death is a real one (SIGKILL, with
 * the kernel closing the socket), or threads where the test needs to
 * signal them.  Every case runs over Unix and TCP where both apply.  Time
 * bounds are loose above (a slow machine must not fail them; only a hang
 * does) and strict below (returning early is a bug).  Under valgrind
 * (DUCT_UNDER_VALGRIND=1, as ctest's memcheck_test_faults sets it) the
 * sizes and counts shrink. */
#include <arpa/inet.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "testutil.h"

static const char *const transports[] = {"unix:", "tcp:"};
enum { NTRANSPORTS = 2 };

static int under_valgrind(void)
{
	const char *v = getenv("DUCT_UNDER_VALGRIND");
	return v && *v && strcmp(v, "0") != 0;
}

/* Returns plain normally, small under valgrind. */
static size_t scaled(size_t plain, size_t small)
{
	return under_valgrind() ? small : plain;
}

static long elapsed_ms(const struct timespec *t0)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (t.tv_sec - t0->tv_sec) * 1000 + (t.tv_nsec - t0->tv_nsec) / 1000000;
}

static long diff_us(const struct timespec *a, const struct timespec *b)
{
	return (b->tv_sec - a->tv_sec) * 1000000 + (b->tv_nsec - a->tv_nsec) / 1000;
}

/* Sleeps ms, resuming after signals (a signal storm cuts usleep short). */
static void sleep_ms(long ms)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	t.tv_sec += ms / 1000;
	t.tv_nsec += (ms % 1000) * 1000000;
	if (t.tv_nsec >= 1000000000) {
		t.tv_sec++;
		t.tv_nsec -= 1000000000;
	}
	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &t, NULL) == EINTR)
		;
}

/* The lowest free descriptor: unchanged after a failed operation means it
 * left no socket behind. */
static int lowest_free_fd(void)
{
	int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	close(fd);
	return fd;
}

/* A parent on address and its child, connected through a real listen.
 * Both get I/O timeouts of 10 s: a bug shows as DUCT_ETIMEDOUT, not as a
 * hang. */
static void connect_over(const char *address, duct **p, duct **c)
{
	tu_connect_over(address, p, c);
	assert_status(DUCT_OK, duct_set_timeouts(*p, 10000, 10000));
	assert_status(DUCT_OK, duct_set_timeouts(*c, 10000, 10000));
}

/* ---- Payloads: byte k of message i is pat(i, k) ------------------------ */

static uint8_t pat(size_t i, size_t k)
{
	return (uint8_t)(k * 31 + i * 7 + (k >> 9));
}

static void fill(uint8_t *p, size_t n, size_t i)
{
	for (size_t k = 0; k < n; k++)
		p[k] = pat(i, k);
}

/* Checks n bytes that sit at offset off of message i. */
static int check_at(const uint8_t *p, size_t n, size_t i, size_t off)
{
	for (size_t k = 0; k < n; k++)
		if (p[k] != pat(i, off + k))
			return 0;
	return 1;
}

/* Mixed sizes up to 88 KiB (frames straddle the 64 KiB reads), an empty
 * message every eighth. */
static size_t mixed_len(size_t i)
{
	return i % 8 == 7 ? 0 : (i * 7919 + 13) % 90001;
}

/* Small messages: a few dozen fit any socket buffer. */
static size_t small_len(size_t i)
{
	return (i * 37) % 1000;
}

/* Receives messages 0..n-1 of the pattern, one at a time or in batches of
 * up to 8 (RECV-8), and returns the status of the receive after them. */
static int recv_all(duct *d, size_t n, size_t (*len_of)(size_t), int batch)
{
	size_t i = 0;
	for (;;) {
		duct_iov v[8];
		size_t got = 0;
		int rc;
		if (batch) {
			rc = duct_recv_many(d, v, 8, &got);
		} else {
			rc = duct_recv(d, &v[0].base, &v[0].len);
			got = rc == DUCT_OK;
		}
		if (rc != DUCT_OK) {
			assert_int_equal(i, n); /* every whole message came first */
			return rc;
		}
		for (size_t j = 0; j < got; j++, i++) {
			assert_true(i < n);
			assert_int_equal(v[j].len, len_of(i));
			assert_true(check_at(v[j].base, v[j].len, i, 0));
		}
	}
}

/* Sends messages 0..n-1 of the pattern; in a forked peer, so no cmocka:
 * 0 on success. */
static int send_all(duct *d, size_t n, size_t (*len_of)(size_t))
{
	uint8_t *buf = malloc(90001);
	int rc = buf ? DUCT_OK : DUCT_ENOMEM;
	for (size_t i = 0; i < n && rc == DUCT_OK; i++) {
		fill(buf, len_of(i), i);
		rc = duct_send(d, buf, len_of(i));
	}
	free(buf);
	return rc;
}

/* Writes all of p straight onto fd (a peer's own, unframed bytes). */
static int raw_write_all(int fd, const void *p, size_t n)
{
	const uint8_t *b = p;
	while (n > 0) {
		ssize_t k = write(fd, b, n);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			return -1;
		b += k;
		n -= (size_t)k;
	}
	return 0;
}

/* Reads exactly n bytes from fd; 0 on success. */
static int raw_read_all(int fd, void *p, size_t n)
{
	uint8_t *b = p;
	while (n > 0) {
		ssize_t k = read(fd, b, n);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			return -1;
		b += k;
		n -= (size_t)k;
	}
	return 0;
}

/* Reads one byte from a pipe, waiting at most 20 s. */
static char pipe_byte(int fd)
{
	struct pollfd pf = {.fd = fd, .events = POLLIN};
	assert_int_equal(poll(&pf, 1, 20000), 1);
	char ch = 0;
	assert_int_equal(read(fd, &ch, 1), 1);
	return ch;
}

/* ---- Forked peers -------------------------------------------------------- */

/* Peers still running: killed and reaped by the teardown when a test
 * fails before it waits for them. */
static pid_t peers[8];
static int npeers;

static pid_t spawn(void)
{
	fflush(NULL);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid > 0) {
		assert_true(npeers < 8);
		peers[npeers++] = pid;
	}
	return pid;
}

/* Waits for pid (at most 20 s: a peer that hangs fails the test) and
 * returns its wait status. */
static int reap(pid_t pid)
{
	int status = 0;
	pid_t got = 0;
	for (int i = 0; i < 20000 && got == 0; i++) {
		got = waitpid(pid, &status, WNOHANG);
		if (got == 0)
			usleep(1000);
	}
	if (got == 0)
		kill(pid, SIGKILL);
	for (int i = 0; i < npeers; i++)
		if (peers[i] == pid)
			peers[i] = peers[--npeers];
	if (got == 0)
		waitpid(pid, &status, 0);
	assert_int_equal(got, pid);
	return status;
}

static void assert_killed(int status)
{
	assert_true(WIFSIGNALED(status));
	assert_int_equal(WTERMSIG(status), SIGKILL);
}

static void assert_exit_ok(int status)
{
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

/* Helper threads: joined by the teardown if a test fails before it joins
 * them (their operations all have timeouts, so they end). */
static pthread_t helpers[4];
static int nhelpers;

static pthread_t start_helper(void *(*fn)(void *), void *arg)
{
	pthread_t th;
	assert_true(nhelpers < 4);
	assert_int_equal(pthread_create(&th, NULL, fn, arg), 0);
	helpers[nhelpers++] = th;
	return th;
}

static void join_helper(pthread_t th)
{
	for (int i = 0; i < nhelpers; i++)
		if (pthread_equal(helpers[i], th))
			helpers[i] = helpers[--nhelpers];
	pthread_join(th, NULL);
}

/* ---- A signal every millisecond, aimed at chosen threads ---------------- */

static atomic_long storm_hits;
static pthread_mutex_t storm_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_t storm_targets[4];
static int storm_ntargets;
static atomic_int storm_stop_flag;
static long storm_limit_ms; /* the storm ends by itself after this long */
static pthread_t storm_thread;
static int storm_running;

static void on_storm(int sig)
{
	(void)sig;
	atomic_fetch_add(&storm_hits, 1);
}

static void *storm_run(void *arg)
{
	(void)arg;
	struct timespec t0;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (!atomic_load(&storm_stop_flag) && elapsed_ms(&t0) < storm_limit_ms) {
		pthread_mutex_lock(&storm_mu);
		for (int i = 0; i < storm_ntargets; i++)
			pthread_kill(storm_targets[i], SIGUSR1);
		pthread_mutex_unlock(&storm_mu);
		struct timespec ts = {0, 1000000};
		nanosleep(&ts, NULL);
	}
	return NULL;
}

/* Starts signalling the calling thread every millisecond, with a handler
 * installed without SA_RESTART: every blocking call sees EINTR. */
static void storm_start(long limit_ms)
{
	struct sigaction sa = {.sa_handler = on_storm};
	sigemptyset(&sa.sa_mask);
	assert_int_equal(sigaction(SIGUSR1, &sa, NULL), 0);
	atomic_store(&storm_hits, 0);
	atomic_store(&storm_stop_flag, 0);
	storm_limit_ms = limit_ms;
	storm_targets[0] = pthread_self();
	storm_ntargets = 1;
	assert_int_equal(pthread_create(&storm_thread, NULL, storm_run, NULL), 0);
	storm_running = 1;
}

/* Adds a thread to the storm; untarget it before joining it. */
static void storm_target(pthread_t t)
{
	pthread_mutex_lock(&storm_mu);
	assert_true(storm_ntargets < 4);
	storm_targets[storm_ntargets++] = t;
	pthread_mutex_unlock(&storm_mu);
}

static void storm_untarget(pthread_t t)
{
	pthread_mutex_lock(&storm_mu);
	for (int i = 0; i < storm_ntargets; i++)
		if (pthread_equal(storm_targets[i], t))
			storm_targets[i] = storm_targets[--storm_ntargets];
	pthread_mutex_unlock(&storm_mu);
}

/* Stops the storm; returns the number of signals handled. */
static long storm_stop(void)
{
	if (storm_running) {
		atomic_store(&storm_stop_flag, 1);
		pthread_join(storm_thread, NULL);
		storm_running = 0;
		pthread_mutex_lock(&storm_mu);
		storm_ntargets = 0;
		pthread_mutex_unlock(&storm_mu);
	}
	return atomic_load(&storm_hits);
}

/* Before every test: a hang is a failure within a minute (SIGALRM's
 * default action ends the process), not ctest's 300 s timeout.  Every test
 * takes a few seconds, under valgrind too. */
static int setup(void **state)
{
	(void)state;
	alarm(60);
	return 0;
}

/* After every test, even a failed one: no storm, no peer left running. */
static int teardown(void **state)
{
	(void)state;
	storm_stop();
	while (nhelpers > 0)
		pthread_join(helpers[--nhelpers], NULL);
	alarm(0);
	while (npeers > 0) {
		pid_t pid = peers[--npeers];
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
	}
	return 0;
}

/* ---- connect() watched: libduct is linked statically, so its calls
 * resolve to this one (as in test_syscalls.c) ------------------------------ */

static int watching;
static int nattempts;
static struct timespec attempt_at[32];

int connect(int fd, const struct sockaddr *sa, socklen_t len)
{
	static int (*real)(int, const struct sockaddr *, socklen_t);
	if (!real)
		real = (int (*)(int, const struct sockaddr *, socklen_t))dlsym(RTLD_NEXT, "connect");
	if (watching && nattempts < 32)
		clock_gettime(CLOCK_MONOTONIC, &attempt_at[nattempts++]);
	return real(fd, sa, len);
}

/* A loopback TCP port nobody listens on: a socket bound to it and never
 * listening, so connects are refused and no other program takes the port.
 * SO_REUSEADDR lets a parent bind the same port later. */
static int refusing_port(int *port)
{
	int one = 1, fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_true(fd >= 0);
	assert_int_equal(setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one), 0);
	struct sockaddr_in sin = {.sin_family = AF_INET,
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	assert_int_equal(bind(fd, (struct sockaddr *)&sin, sizeof sin), 0);
	socklen_t len = sizeof sin;
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
	*port = ntohs(sin.sin_port);
	return fd;
}

/* ---- 1. Peers killed mid-frame ------------------------------------------ */

/* What a dying peer leaves on the wire after its whole messages: the first
 * cut bytes of a frame announcing 1 MiB. */
static const struct {
	size_t cut;
	int want;
} cuts[] = {
	{0, DUCT_EOF},             /* between frames */
	{1, DUCT_ETRUNCATED},      /* the magic alone */
	{3, DUCT_ETRUNCATED},      /* inside the length */
	{4, DUCT_ETRUNCATED},      /* one length byte short */
	{5, DUCT_ETRUNCATED},      /* the header, no payload */
	{5 + 1000, DUCT_ETRUNCATED}, /* inside the payload */
};

/* The peer: n whole messages through libduct, then cut raw bytes of a
 * frame on its socket, then SIGKILL.  It pauses before each step, so the
 * receiver is already waiting in recv when the bytes and the death come. */
static void die_mid_frame(duct *c, size_t n, size_t cut)
{
	static uint8_t frame[5 + 1000] = {0x54, 0x00, 0x10, 0x00, 0x00};
	fill(frame + 5, sizeof frame - 5, 999);
	if (send_all(c, n, mixed_len) != DUCT_OK)
		_exit(2);
	usleep(20000);
	if (raw_write_all(duct_fileno(c), frame, cut) != 0)
		_exit(3);
	usleep(20000);
	kill(getpid(), SIGKILL);
	_exit(4); /* not reached */
}

/* RECV-2, RECV-3, RECV-7, RECV-8: a peer killed (SIGKILL) after N whole
 * messages, with nothing, part of a header or part of a payload of the
 * next frame on the wire.  The receiver gets all N whole, in order (one by
 * one or in batches), then a clean close (DUCT_EOF) when nothing was cut,
 * a close mid-message (DUCT_ETRUNCATED) otherwise, and the outcome
 * repeats. */
static void faults_peer_killed_mid_frame(void **state)
{
	(void)state;
	size_t n = scaled(60, 12);
	for (int t = 0; t < NTRANSPORTS; t++) {
		for (size_t v = 0; v < sizeof cuts / sizeof cuts[0]; v++) {
			duct *p, *c;
			connect_over(transports[t], &p, &c);
			pid_t pid = spawn();
			if (pid == 0) {
				duct_close(p);
				die_mid_frame(c, n, cuts[v].cut);
			}
			duct_close(c); /* the peer holds the only copy now */
			int batch = (int)(v % 2);
			assert_status(cuts[v].want, recv_all(p, n, mixed_len, batch));
			const void *m;
			size_t len;
			assert_status(cuts[v].want, duct_recv(p, &m, &len));
			assert_int_equal(duct_poll(p, 0), 1); /* POLL-1 */
			assert_killed(reap(pid));
			duct_free(c);
			duct_free(p);
		}
	}
}

/* RECV-3, RECV-7: the peer is killed by us while blocked in duct_send()
 * of a 32 MiB message nobody reads, so the cut frame is libduct's own,
 * cut wherever the kernel had got to.  The messages before it come whole,
 * then DUCT_ETRUNCATED. */
static void faults_peer_killed_while_sending(void **state)
{
	(void)state;
	const size_t n = 20, big = 32u << 20;
	size_t before = 0; /* bytes of the n frames before the big one */
	for (size_t i = 0; i < n; i++)
		before += DUCT_HEADER_SIZE + small_len(i);
	for (int t = 0; t < NTRANSPORTS; t++) {
		duct *p, *c;
		connect_over(transports[t], &p, &c);
		int sync[2];
		assert_int_equal(pipe(sync), 0);
		pid_t pid = spawn();
		if (pid == 0) {
			duct_close(p);
			close(sync[0]);
			uint8_t *buf = calloc(1, big);
			if (!buf || send_all(c, n, small_len) != DUCT_OK ||
			    write(sync[1], "s", 1) != 1)
				_exit(2);
			duct_send(c, buf, big); /* blocks: nobody reads */
			_exit(3);               /* not reached */
		}
		duct_close(c);
		close(sync[1]);
		assert_int_equal(pipe_byte(sync[0]), 's');
		/* Wait until some, never all, of the big frame is here. */
		int inq = 0;
		for (int i = 0; i < 20000 && (size_t)inq <= before; i++) {
			assert_int_equal(ioctl(duct_fileno(p), FIONREAD, &inq), 0);
			if ((size_t)inq <= before)
				usleep(1000);
		}
		assert_true((size_t)inq > before);
		usleep(20000); /* let the peer block in sendmsg() */
		assert_int_equal(kill(pid, SIGKILL), 0);
		assert_killed(reap(pid));
		close(sync[0]);
		assert_status(DUCT_ETRUNCATED, recv_all(p, n, small_len, t));
		duct_free(c);
		duct_free(p);
	}
}

/* ---- 2. A peer gone during a large send --------------------------------- */

/* SEND-3, SEND-5, SEC-3, RECV-3: the peer reads 256 KiB of a 64 MiB message
 * (checking its header), then closes or is killed.  The blocked send
 * returns DUCT_EPIPE promptly (a reset counts as a close: ECONNRESET is
 * DUCT_EPIPE too), the process is alive with SIGPIPE still at SIG_DFL,
 * the cut stream refuses further sends (DUCT_ESTATE), and a receive on it
 * sees the close. */
static void faults_peer_gone_during_large_send(void **state)
{
	(void)state;
	const size_t big = scaled(64u << 20, 16u << 20), taste = 256u << 10;
	uint8_t *buf = calloc(1, big);
	assert_non_null(buf);
	for (int t = 0; t < NTRANSPORTS; t++) {
		for (int killed = 0; killed < 2; killed++) {
			duct *p, *c;
			connect_over(transports[t], &p, &c);
			int sync[2];
			assert_int_equal(pipe(sync), 0);
			pid_t pid = spawn();
			if (pid == 0) {
				duct_close(p);
				close(sync[0]);
				uint8_t *got = malloc(taste);
				const uint8_t hdr[5] = {0x54, (uint8_t)(big >> 24),
							(uint8_t)(big >> 16),
							(uint8_t)(big >> 8), (uint8_t)big};
				int ok = got && raw_read_all(duct_fileno(c), got, taste) == 0 &&
					 memcmp(got, hdr, 5) == 0;
				free(got);
				free(buf); /* valgrind checks leaks in peers too */
				if (write(sync[1], ok ? "y" : "n", 1) != 1)
					_exit(2);
				if (killed)
					kill(getpid(), SIGKILL);
				duct_free(c); /* unread data: TCP resets */
				_exit(0);
			}
			duct_close(c);
			close(sync[1]);
			struct timespec t0;
			clock_gettime(CLOCK_MONOTONIC, &t0);
			assert_status(DUCT_EPIPE, duct_send(p, buf, big));
			assert_true(elapsed_ms(&t0) < 8000); /* not the 10 s timeout */
			assert_int_equal(pipe_byte(sync[0]), 'y');
			close(sync[0]);
			int status = reap(pid);
			if (killed)
				assert_killed(status);
			else
				assert_exit_ok(status);
			struct sigaction sa;
			assert_int_equal(sigaction(SIGPIPE, NULL, &sa), 0);
			assert_true(sa.sa_handler == SIG_DFL); /* SEC-3 */
			assert_status(DUCT_ESTATE, duct_send(p, "x", 1));
			duct_iov one = {"x", 1};
			size_t sent = 99;
			assert_status(DUCT_ESTATE, duct_send_many(p, &one, 1, &sent));
			assert_int_equal(sent, 0);
			const void *m;
			size_t len;
			assert_status(DUCT_EOF, duct_recv(p, &m, &len));
			duct_free(c);
			duct_free(p);
		}
	}
	free(buf);
}

/* SEND-3, SEC-3: send after the peer closed is an error, and the process
 * lives with SIGPIPE at its default disposition.  Nothing of a frame was
 * written, so the stream is still framed and the next send says
 * DUCT_EPIPE again. */
static void faults_send_after_peer_closed(void **state)
{
	(void)state;
	for (int t = 0; t < NTRANSPORTS; t++) {
		duct *p, *c;
		connect_over(transports[t], &p, &c);
		duct_free(c);
		/* TCP may accept a write or two before it learns of the close. */
		int rc = DUCT_OK;
		for (int i = 0; i < 100 && rc == DUCT_OK; i++) {
			rc = duct_send(p, "after", 5);
			usleep(1000);
		}
		assert_status(DUCT_EPIPE, rc);
		assert_status(DUCT_EPIPE, duct_send(p, "again", 5));
		struct sigaction sa;
		assert_int_equal(sigaction(SIGPIPE, NULL, &sa), 0);
		assert_true(sa.sa_handler == SIG_DFL);
		duct_free(p);
	}
}

/* ---- 3. A signal every millisecond -------------------------------------- */

struct bulk {
	duct *d;
	size_t len;
	int count;
	int rc;
};

/* Sends count messages of len bytes, then, 100 ms later, "late". */
static void *bulk_sender(void *arg)
{
	struct bulk *b = arg;
	uint8_t *p = malloc(b->len);
	for (int i = 0; i < b->count && b->rc == DUCT_OK; i++) {
		fill(p, b->len, (size_t)i);
		b->rc = duct_send(b->d, p, b->len);
	}
	free(p);
	sleep_ms(100);
	if (b->rc == DUCT_OK)
		b->rc = duct_send(b->d, "late", 4);
	return NULL;
}

struct late_parent {
	duct *p;
	int placeholder; /* the refusing TCP socket, closed once p is bound */
	int rc;
};

/* Binds 150 ms late, then listens: the child's connect has been retrying
 * meanwhile. */
static void *late_parent_run(void *arg)
{
	struct late_parent *lp = arg;
	sleep_ms(150);
	lp->rc = duct_bind(lp->p);
	if (lp->placeholder >= 0)
		close(lp->placeholder);
	if (lp->rc == DUCT_OK)
		lp->rc = duct_listen(lp->p, 10000);
	return NULL;
}

/* SEC-6, LIFE-2, LIFE-5, POLL-3: a signal every millisecond (no SA_RESTART)
 * to every thread at work interrupts listen (timing out, and waiting for a
 * late child), connect (retrying until a late parent binds), poll (timing
 * out, and waking on data), send and recv (8 MiB messages through full
 * buffers); none of them fails or returns early because of it. */
static void faults_signals_eintr(void **state)
{
	(void)state;
	storm_start(20000); /* a hang fails, not the watchdog */
	for (int t = 0; t < NTRANSPORTS; t++) {
		/* Listen with nobody coming. */
		int err;
		duct *p = duct_parent_new(transports[t], &err);
		assert_status(DUCT_OK, duct_bind(p));
		struct timespec t0;
		clock_gettime(CLOCK_MONOTONIC, &t0);
		assert_status(DUCT_ETIMEDOUT, duct_listen(p, 100));
		long ms = elapsed_ms(&t0);
		assert_true(ms >= 100 && ms < 5000);
		duct_free(p);

		/* A child retrying until its parent binds, late. */
		char dir[] = "/tmp/duct-faults-XXXXXX", addr[128];
		static struct late_parent lp; /* static: outlives a failed test */
		lp = (struct late_parent){NULL, -1, DUCT_OK};
		if (t == 0) {
			assert_non_null(mkdtemp(dir));
			snprintf(addr, sizeof addr, "unix:%s/late", dir);
		} else {
			int port;
			lp.placeholder = refusing_port(&port);
			snprintf(addr, sizeof addr, "tcp:127.0.0.1:%d", port);
		}
		lp.p = duct_parent_new(addr, &err);
		assert_non_null(lp.p);
		duct *c = duct_child_new(addr, &err);
		assert_non_null(c);
		assert_status(DUCT_OK, duct_set_connect_retry(c, 500, 10));
		clock_gettime(CLOCK_MONOTONIC, &t0);
		pthread_t th = start_helper(late_parent_run, &lp);
		storm_target(th);
		assert_status(DUCT_OK, duct_connect(c));
		assert_true(elapsed_ms(&t0) >= 150);
		storm_untarget(th);
		join_helper(th);
		assert_status(DUCT_OK, lp.rc);
		p = lp.p;
		if (t == 0)
			assert_int_equal(rmdir(dir), 0); /* LIFE-3: path gone */

		/* Poll with nothing coming, then messages through full buffers. */
		clock_gettime(CLOCK_MONOTONIC, &t0);
		assert_int_equal(duct_poll(p, 100), 0);
		assert_true(elapsed_ms(&t0) >= 100);
		static struct bulk b;
		b = (struct bulk){c, scaled(8u << 20, 2u << 20), 3, DUCT_OK};
		th = start_helper(bulk_sender, &b);
		storm_target(th);
		for (int i = 0; i < b.count; i++) {
			const uint8_t *m;
			size_t n;
			sleep_ms(20); /* let the sender block on a full buffer */
			assert_status(DUCT_OK, duct_recv(p, (const void **)&m, &n));
			assert_int_equal(n, b.len);
			for (size_t k = 0; k < n; k += 4093)
				assert_int_equal(m[k], pat((size_t)i, k));
			assert_int_equal(m[n - 1], pat((size_t)i, n - 1));
		}
		assert_int_equal(duct_poll(p, 10000), 1); /* "late" wakes it */
		const void *m;
		size_t n;
		assert_status(DUCT_OK, duct_recv(p, &m, &n));
		assert_int_equal(n, 4);
		storm_untarget(th);
		join_helper(th);
		assert_status(DUCT_OK, b.rc);
		duct_free(c);
		duct_free(p);

		/* Retries to nothing: each sleep between them is resumed. */
		int port, refusing = t == 0 ? -1 : refusing_port(&port);
		if (t == 0)
			snprintf(addr, sizeof addr, "unix:/nonexistent/duct.sock");
		else
			snprintf(addr, sizeof addr, "tcp:127.0.0.1:%d", port);
		c = duct_child_new(addr, &err);
		assert_non_null(c);
		assert_status(DUCT_OK, duct_set_connect_retry(c, 3, 100));
		clock_gettime(CLOCK_MONOTONIC, &t0);
		assert_status(DUCT_ECONNECT, duct_connect(c));
		ms = elapsed_ms(&t0);
		assert_true(ms >= 300 && ms < 5000);
		duct_free(c);
		if (refusing >= 0)
			close(refusing);
	}
	assert_true(storm_stop() > 100);
}

struct stalled {
	duct *d;
	int rc;
	long ms;
	atomic_int done;
};

static void *stalled_send(void *arg)
{
	struct stalled *s = arg;
	size_t big = 8u << 20;
	void *p = calloc(1, big);
	struct timespec t0;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	s->rc = duct_send(s->d, p, big);
	s->ms = elapsed_ms(&t0);
	free(p);
	atomic_store(&s->done, 1);
	return NULL;
}

/* TIME-1, SEC-6: a signal every millisecond must not stretch a timeout
 * either.  A receive with nothing coming and a send nobody reads, both
 * with 200 ms timeouts, fail with DUCT_ETIMEDOUT in well under the 5 s
 * the storm lasts.  (SO_SNDTIMEO/SO_RCVTIMEO restart with each call, so
 * retrying every EINTR made such a timeout infinite until io.c counted the
 * time itself.) */
static void faults_signals_keep_timeouts(void **state)
{
	(void)state;
	for (int t = 0; t < NTRANSPORTS; t++) {
		duct *p, *c;
		connect_over(transports[t], &p, &c);
		assert_status(DUCT_OK, duct_set_timeouts(p, 200, 200));
		storm_start(5000);
		struct timespec t0;
		clock_gettime(CLOCK_MONOTONIC, &t0);
		const void *m;
		size_t n;
		int rc = duct_recv(p, &m, &n);
		long ms = elapsed_ms(&t0);
		storm_stop();
		assert_status(DUCT_ETIMEDOUT, rc);
		assert_true(ms >= 190 && ms < 3000);

		static struct stalled s;
		s = (struct stalled){p, DUCT_OK, 0, 0};
		storm_start(5000);
		pthread_t th = start_helper(stalled_send, &s);
		storm_target(th);
		clock_gettime(CLOCK_MONOTONIC, &t0);
		while (!atomic_load(&s.done) && elapsed_ms(&t0) < 20000)
			sleep_ms(10);
		storm_untarget(th);
		join_helper(th);
		storm_stop();
		assert_status(DUCT_ETIMEDOUT, s.rc);
		assert_true(s.ms >= 190 && s.ms < 3000);
		duct_free(c);
		duct_free(p);
	}
}

/* ---- 4. Slow and stalled readers ---------------------------------------- */

/* The slow reader: reads the frame of a len-byte message 64 KiB at a
 * time, 5 ms apart, checking every byte, then answers "whole" or
 * "broken".  0 if all went well. */
static int drain_slowly(duct *c, size_t len)
{
	int fd = duct_fileno(c);
	uint8_t hdr[5], want[5] = {0x54, (uint8_t)(len >> 24), (uint8_t)(len >> 16),
				   (uint8_t)(len >> 8), (uint8_t)len};
	uint8_t *chunk = malloc(64u << 10);
	int ok = chunk && raw_read_all(fd, hdr, 5) == 0 && memcmp(hdr, want, 5) == 0;
	for (size_t off = 0; ok && off < len; off += 64u << 10) {
		size_t k = len - off < (64u << 10) ? len - off : 64u << 10;
		ok = raw_read_all(fd, chunk, k) == 0 && check_at(chunk, k, 1, off);
		usleep(5000);
	}
	free(chunk);
	int rc = ok ? duct_send(c, "whole", 5) : duct_send(c, "broken", 6);
	duct_free(c);
	return ok && rc == DUCT_OK ? 0 : 1;
}

/* SEND-1, TIME-1, FRAME-6: a 16 MiB message to a reader in another process
 * that drains 64 KiB every 5 ms.  The send blocks on full buffers for
 * longer than its 1 s timeout in all, but never 1 s without progress, so
 * it completes, and the reader finds every byte in place. */
static void faults_slow_reader(void **state)
{
	(void)state;
	const size_t big = scaled(16u << 20, 4u << 20);
	uint8_t *buf = malloc(big);
	assert_non_null(buf);
	fill(buf, big, 1);
	for (int t = 0; t < NTRANSPORTS; t++) {
		duct *p, *c;
		connect_over(transports[t], &p, &c);
		assert_status(DUCT_OK, duct_set_timeouts(p, 1000, 10000));
		pid_t pid = spawn();
		if (pid == 0) {
			free(buf); /* valgrind checks leaks in peers too */
			duct_close(p);
			_exit(drain_slowly(c, big));
		}
		duct_close(c);
		struct timespec t0;
		clock_gettime(CLOCK_MONOTONIC, &t0);
		assert_status(DUCT_OK, duct_send(p, buf, big));
		long ms = elapsed_ms(&t0);
		/* It had to wait for the reader: 16 MiB is far more than the
		 * buffers hold (TCP's may take most of valgrind's 4 MiB). */
		if (big == 16u << 20)
			assert_true(ms >= (long)(big >> 20) * 10);
		const void *m;
		size_t n;
		assert_status(DUCT_OK, duct_recv(p, &m, &n));
		assert_int_equal(n, 5);
		assert_memory_equal(m, "whole", 5);
		assert_exit_ok(reap(pid));
		duct_free(c);
		duct_free(p);
	}
	free(buf);
}

/* TIME-1, SEND-5, RECV-3: a reader that never reads makes send time out,
 * after the timeout and not before; a frame cut short forbids further
 * sends on that stream and shuts down the sending direction, so the reader
 * sees the cut frame as a close mid-message while the sender lives, and
 * can still send to it.  Over a socketpair, Unix and TCP. */
static void faults_send_timeout_stalled_reader(void **state)
{
	(void)state;
	size_t big = 8u << 20;
	void *p = calloc(1, big);
	assert_non_null(p);
	for (int t = 0; t <= NTRANSPORTS; t++) {
		duct *s, *r;
		if (t == NTRANSPORTS)
			assert_status(DUCT_OK, duct_pair(&s, &r));
		else
			connect_over(transports[t], &s, &r);
		assert_status(DUCT_OK, duct_set_timeouts(s, 100, 100));
		assert_status(DUCT_OK, duct_set_timeouts(r, 10000, 10000));
		struct timespec t0;
		clock_gettime(CLOCK_MONOTONIC, &t0);
		assert_status(DUCT_ETIMEDOUT, duct_send(s, p, big));
		long ms = elapsed_ms(&t0);
		assert_true(ms >= 90 && ms < 5000);
		assert_status(DUCT_ESTATE, duct_send(s, "x", 1));
		const void *m;
		size_t n;
		assert_status(DUCT_ETRUNCATED, duct_recv(r, &m, &n));
		assert_status(DUCT_OK, duct_send(r, "back", 4));
		tu_expect_msg(s, "back", 4);
		duct_free(s);
		duct_free(r);
	}
	free(p);
}

/* TIME-1, SEND-5: a send that times out before writing any byte of its
 * frame leaves the stream framed: once the reader catches up, it gets
 * every message sent before, whole and in order, and sending works again.
 * (A Unix socket takes a small frame whole or not at all.) */
static void faults_send_timeout_between_frames(void **state)
{
	(void)state;
	duct *s, *r;
	assert_status(DUCT_OK, duct_pair(&s, &r));
	assert_status(DUCT_OK, duct_set_timeouts(s, 100, 100));
	uint8_t buf[1000];
	size_t sent = 0;
	int rc = DUCT_OK;
	while (rc == DUCT_OK && sent < 100000) {
		fill(buf, sizeof buf, sent);
		if ((rc = duct_send(s, buf, sizeof buf)) == DUCT_OK)
			sent++;
	}
	assert_status(DUCT_ETIMEDOUT, rc);
	assert_true(sent > 10);
	for (size_t i = 0; i < sent; i++) {
		const void *m;
		size_t n;
		assert_status(DUCT_OK, duct_recv(r, &m, &n));
		assert_int_equal(n, sizeof buf);
		assert_true(check_at(m, n, i, 0));
	}
	assert_int_equal(duct_poll(r, 0), 0); /* nothing of the failed one */
	assert_status(DUCT_OK, duct_send(s, "again", 5));
	const void *m;
	size_t n;
	assert_status(DUCT_OK, duct_recv(r, &m, &n));
	assert_int_equal(n, 5);
	assert_memory_equal(m, "again", 5);
	duct_free(s);
	duct_free(r);
}

/* ---- 5. Nobody to listen to, nothing to connect to ---------------------- */

/* LIFE-2, LIFE-3: nobody comes -> DUCT_ETIMEDOUT after the timeout, not
 * before, and not much after; listen(0) does not wait; the parent is
 * still bound after timing out, and a child that comes late, while the
 * parent listens again, gets in. */
static void faults_listen_timeout(void **state)
{
	(void)state;
	for (int t = 0; t < NTRANSPORTS; t++) {
		int err;
		duct *p = duct_parent_new(transports[t], &err);
		assert_non_null(p);
		assert_status(DUCT_OK, duct_bind(p));
		struct timespec t0;
		for (int i = 0; i < 2; i++) {
			clock_gettime(CLOCK_MONOTONIC, &t0);
			assert_status(DUCT_ETIMEDOUT, duct_listen(p, 150));
			long ms = elapsed_ms(&t0);
			assert_true(ms >= 150 && ms < 3000);
		}
		clock_gettime(CLOCK_MONOTONIC, &t0);
		assert_status(DUCT_ETIMEDOUT, duct_listen(p, 0));
		assert_true(elapsed_ms(&t0) < 1000);
		assert_true(duct_listener_fileno(p) >= 0);
		char addr[300];
		snprintf(addr, sizeof addr, "%s", duct_address(p));
		if (t == 0)
			assert_int_equal(access(addr + 5, F_OK), 0); /* still bound */

		pid_t pid = spawn();
		if (pid == 0) { /* a child that comes 200 ms late */
			usleep(200000);
			duct *c = duct_child_new(addr, NULL);
			int ok = c && duct_connect(c) == DUCT_OK &&
				 duct_send(c, "late", 4) == DUCT_OK;
			duct_free(c);
			_exit(ok ? 0 : 1);
		}
		clock_gettime(CLOCK_MONOTONIC, &t0);
		assert_status(DUCT_OK, duct_listen(p, 10000));
		long ms = elapsed_ms(&t0);
		assert_true(ms >= 150 && ms < 8000);
		const void *m;
		size_t n;
		assert_status(DUCT_OK, duct_recv(p, &m, &n));
		assert_int_equal(n, 4);
		assert_memory_equal(m, "late", 4);
		assert_exit_ok(reap(pid));
		duct_free(p);
	}
}

/* LIFE-5: connecting to nothing: a missing Unix path (ENOENT), a stale
 * Unix socket and a TCP port nobody listens on (ECONNREFUSED).  Exactly
 * retries + 1 attempts, each one the configured interval after the last
 * (not sooner, not much later), then DUCT_ECONNECT with a clear message,
 * the cause in duct_last_errno(), and no socket left open. */
static void faults_connect_retry_bound(void **state)
{
	(void)state;
	char dir[] = "/tmp/duct-faults-XXXXXX", stale[128];
	assert_non_null(mkdtemp(dir));
	struct sockaddr_un un = {.sun_family = AF_UNIX};
	snprintf(un.sun_path, sizeof un.sun_path, "%s/stale", dir);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&un, sizeof un), 0);
	close(fd); /* the path stays, nobody behind it */
	snprintf(stale, sizeof stale, "unix:%s", un.sun_path);
	int port;
	int placeholder = refusing_port(&port);
	char tcp[64];
	snprintf(tcp, sizeof tcp, "tcp:127.0.0.1:%d", port);
	const struct {
		const char *addr;
		int retries, interval_ms, errnum;
	} cases[] = {
		{"unix:/nonexistent/duct.sock", 3, 100, ENOENT},
		{stale, 2, 150, ECONNREFUSED},
		{tcp, 2, 100, ECONNREFUSED},
		{tcp, 0, 5000, ECONNREFUSED}, /* no retry: no wait */
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		int err;
		duct *c = duct_child_new(cases[i].addr, &err);
		assert_non_null(c);
		assert_status(DUCT_OK, duct_set_connect_retry(c, cases[i].retries,
							      cases[i].interval_ms));
		int free_fd = lowest_free_fd();
		struct timespec t0;
		clock_gettime(CLOCK_MONOTONIC, &t0);
		nattempts = 0;
		watching = 1;
		int rc = duct_connect(c);
		watching = 0;
		long ms = elapsed_ms(&t0);
		assert_status(DUCT_ECONNECT, rc);
		assert_int_equal(nattempts, cases[i].retries + 1);
		long gap = (long)cases[i].interval_ms * 1000;
		for (int k = 1; k < nattempts; k++) {
			long us = diff_us(&attempt_at[k - 1], &attempt_at[k]);
			assert_true(us >= gap - 1000 && us < gap + 2000000);
		}
		long least = (long)cases[i].retries * cases[i].interval_ms;
		assert_true(ms >= least - 1 && ms < least + 4000);
		assert_int_equal(duct_last_errno(c), cases[i].errnum);
		assert_string_equal(duct_strerror(rc), "could not connect to the parent");
		assert_string_equal(duct_err_name(rc), "DUCT_ECONNECT");
		assert_int_equal(duct_fileno(c), -1);
		assert_int_equal(lowest_free_fd(), free_fd);
		duct_free(c);
	}
	int err;
	duct *c = duct_child_new(tcp, &err);
	assert_status(DUCT_EINVAL, duct_set_connect_retry(c, -1, 0));
	assert_status(DUCT_EINVAL, duct_set_connect_retry(c, 0, -1));
	duct_free(c);
	close(placeholder);
	assert_int_equal(unlink(un.sun_path), 0);
	assert_int_equal(rmdir(dir), 0);
}

int main(void)
{
	signal(SIGPIPE, SIG_DFL); /* prove the library never needs SIG_IGN */
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(faults_peer_killed_mid_frame, setup, teardown),
		cmocka_unit_test_setup_teardown(faults_peer_killed_while_sending, setup, teardown),
		cmocka_unit_test_setup_teardown(faults_peer_gone_during_large_send, setup, teardown),
		cmocka_unit_test_setup_teardown(faults_send_after_peer_closed, setup, teardown),
		cmocka_unit_test_setup_teardown(faults_signals_eintr, setup, teardown),
		cmocka_unit_test_setup_teardown(faults_signals_keep_timeouts, setup, teardown),
		cmocka_unit_test_setup_teardown(faults_slow_reader, setup, teardown),
		cmocka_unit_test_setup_teardown(faults_send_timeout_stalled_reader, setup, teardown),
		cmocka_unit_test_setup_teardown(faults_send_timeout_between_frames, setup, teardown),
		cmocka_unit_test_setup_teardown(faults_listen_timeout, setup, teardown),
		cmocka_unit_test_setup_teardown(faults_connect_retry_bound, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
