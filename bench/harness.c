/*
 * The harness: the case list, the peer process, CPU placement, the timed
 * loops and the percentiles.
 *
 * Sender and receiver are separate processes.  The benchmark process
 * listens, then forks and execs this same binary as the peer
 * ("--bench-peer ..."), which connects.  exec, not a bare fork: libzmq and
 * nng start threads, and a forked child of a process with those threads
 * cannot use either library (nng refuses outright), so every peer starts
 * clean.  The peer says "ready" (a 1-byte message) once connected; only
 * then does the timed part start.
 *
 *   stream  the benchmark process sends "go" and receives n messages,
 *           checking each one's size and pattern; the peer sends them as
 *           fast as the system lets it.  Timed from "go" to the last byte.
 *   rtt     the benchmark process sends a message and waits for the
 *           peer's echo of the same size, n times, and times each round
 *           trip (median and 99th percentile are reported).
 *
 * Then "done" (1 byte, untimed) lets the peer close without dropping
 * anything still queued, and its exit status is checked.
 *
 * Placement: "pinned" puts every thread of both processes on one CPU (the
 * idlest at startup, or --bench_cpu): wake-ups are cheap and stable, so
 * framing costs show.  "unpinned" leaves the scheduler free: what users
 * see, dominated on a small machine by cross-CPU wake-ups.
 */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"
#include "conform.h"

/* ---- Errors and payloads ------------------------------------------------- */

static char errbuf[512];

int bench_fail(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(errbuf, sizeof errbuf, fmt, ap);
	va_end(ap);
	return -1;
}

const char *bench_error(void) { return errbuf; }

void bench_fill(uint8_t *p, size_t len)
{
	for (size_t k = 0; k < len; k++)
		p[k] = (uint8_t)(k * 7);
}

/* The 1-byte control messages (ready, go, done) carry the pattern too. */
static const uint8_t one[1] = {0};

/* ---- Systems and cases --------------------------------------------------- */

static const bench_sys *const systems[] = {
	&bench_sys_raw, &bench_sys_duct, &bench_sys_duct_batch,
#ifdef BENCH_HAVE_ZMQ
	&bench_sys_zmq,
#endif
#ifdef BENCH_HAVE_NNG
	&bench_sys_nng, &bench_sys_nng_buf,
#endif
};
#define NSYS (sizeof systems / sizeof systems[0])

static const size_t stream_sizes[] = {0, 64, 4096, 65536, 1048576};
static const size_t rtt_sizes[] = {64, 4096, 65536};
#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

static const char *const kind_names[] = {"stream", "rtt", "json"};
static const char *const transport_names[] = {"unix", "tcp", "none"};

/* The testees and pairs of --testee and --pair (sys_testee.c). */
#define MAX_TESTEES 8
static bench_testee testees[2 * MAX_TESTEES];
static int alone[2 * MAX_TESTEES]; /* measured alone, not only in a pair */
static size_t ntestees;
static struct {
	const bench_testee *parent, *child;
	char name[80];
} pairs[MAX_TESTEES];
static size_t npairs;

/* Enough for every system and MAX_TESTEES testees and pairs. */
static bench_case case_list[1024];
static size_t ncases;

/* sys: NULL for a testee's case. */
static bench_case *add_case(enum bench_kind kind, int transport, int pinned,
			    size_t size, const bench_sys *sys, const char *sysname)
{
	bench_case *c = &case_list[ncases++];
	c->kind = kind;
	c->transport = transport;
	c->pinned = pinned;
	c->size = size;
	c->sys = sys;
	snprintf(c->name, sizeof c->name, "%s/%s/%s/%zu/%s", kind_names[kind],
		 transport_names[transport], pinned ? "pinned" : "unpinned",
		 size, sysname);
	return c;
}

/* A testee's cases of one group, beside the systems of that group. */
static void add_testee_cases(enum bench_kind kind, int t, int pinned, size_t size)
{
	char name[80];
	for (size_t i = 0; i < ntestees; i++) {
		const bench_testee *who = &testees[i];
		if (!alone[i])
			continue;
		add_case(kind, t, pinned, size, NULL, who->name)->testee = who;
		snprintf(name, sizeof name, "%s-%s", who->name,
			 kind == BENCH_STREAM ? "recv" : "value");
		bench_case *c = add_case(kind, t, pinned, size, NULL, name);
		c->testee = who;
		c->testee_recv = kind == BENCH_STREAM;
		c->value = kind == BENCH_RTT;
	}
	for (size_t i = 0; kind == BENCH_STREAM && i < npairs; i++) {
		bench_case *c = add_case(kind, t, pinned, size, NULL, pairs[i].name);
		c->testee = pairs[i].parent;
		c->child = pairs[i].child;
	}
}

static const bench_testee *add_testee(const char *spec, int solo)
{
	char *name;
	char *cmd = testee_command(spec, DUCT_TESTEE_PATH, DUCT_SOURCE_DIR, &name);
	for (size_t i = 0; i < ntestees; i++)
		if (!strcmp(testees[i].name, name)) {
			int same = !strcmp(testees[i].cmd, cmd);
			free(name), free(cmd);
			if (same) {
				alone[i] |= solo;
				return &testees[i];
			}
			bench_fail("two testees named '%s'", testees[i].name);
			return NULL;
		}
	if (ntestees == 2 * MAX_TESTEES || strlen(name) > 30 || strpbrk(name, "/ >")) {
		bench_fail(ntestees == 2 * MAX_TESTEES ? "too many testees" :
			   "a testee's name is at most 30 characters, without '/', '>' "
			   "or spaces (got '%.60s')", name);
		free(name), free(cmd);
		return NULL;
	}
	alone[ntestees] = solo;
	testees[ntestees] = (bench_testee){name, cmd};
	return &testees[ntestees++];
}

int bench_add_testee(const char *spec)
{
	size_t solo = 0;
	for (size_t i = 0; i < ntestees; i++)
		solo += alone[i];
	if (solo == MAX_TESTEES)
		return bench_fail("at most %d testees", MAX_TESTEES);
	return add_testee(spec, 1) ? 0 : -1;
}

int bench_add_pair(const char *a, const char *b)
{
	if (npairs == MAX_TESTEES)
		return bench_fail("at most %d pairs", MAX_TESTEES);
	/* A pair's testees are not measured alone unless --testee asks. */
	const bench_testee *p = add_testee(a, 0), *ch = p ? add_testee(b, 0) : NULL;
	if (!ch)
		return -1;
	pairs[npairs].parent = p;
	pairs[npairs].child = ch;
	snprintf(pairs[npairs].name, sizeof pairs[npairs].name, "%s>%s", p->name, ch->name);
	npairs++;
	return 0;
}

int bench_check_testees(void)
{
	signal(SIGPIPE, SIG_IGN); /* a testee that died must not kill us */
	for (size_t i = 0; i < ntestees; i++) {
		int unavailable = 0;
		if (bench_testee_probe(&testees[i], &unavailable) != 0)
			return unavailable ? 77 : 1;
	}
	return 0;
}

/*
 * Every system of one (kind, transport, placement, size) is registered
 * next to the others, so that without random interleaving they still run
 * close together in time.
 */
size_t bench_cases(const bench_case **cases)
{
	if (ncases == 0) {
		for (int pinned = 1; pinned >= 0; pinned--) {
			for (int t = BENCH_UNIX; t <= BENCH_TCP; t++) {
				for (size_t i = 0; i < NELEM(stream_sizes); i++) {
					for (size_t s = 0; s < NSYS; s++)
						add_case(BENCH_STREAM, t, pinned,
							 stream_sizes[i], systems[s], systems[s]->name);
					add_testee_cases(BENCH_STREAM, t, pinned, stream_sizes[i]);
				}
				for (size_t i = 0; i < NELEM(rtt_sizes); i++) {
					for (size_t s = 0; s < NSYS; s++)
						if (!systems[s]->stream_only)
							add_case(BENCH_RTT, t, pinned,
								 rtt_sizes[i], systems[s], systems[s]->name);
					add_testee_cases(BENCH_RTT, t, pinned, rtt_sizes[i]);
				}
			}
		}
		const char *impls[] = {"duct", "json-c"};
		for (int i = 0; i < 2; i++) {
			bench_case *c = &case_list[ncases++];
			c->kind = BENCH_JSON;
			c->transport = BENCH_NONE;
			c->json_impl = i;
			snprintf(c->name, sizeof c->name, "json/typical/%s",
				 impls[i]);
		}
	}
	*cases = case_list;
	return ncases;
}

static const bench_sys *find_sys(const char *name)
{
	for (size_t s = 0; s < NSYS; s++)
		if (strcmp(systems[s]->name, name) == 0)
			return systems[s];
	return NULL;
}

/* ---- CPU placement --------------------------------------------------------- */

static cpu_set_t allowed;
static int bench_cpu = -1;

/* sched_setaffinity() moves one thread; a process is all of its threads
 * (libzmq's and nng's included).  Threads started later inherit. */
static int set_affinity_all(const cpu_set_t *set)
{
	DIR *dir = opendir("/proc/self/task");
	if (!dir)
		return bench_fail("cannot list /proc/self/task: %s",
				  strerror(errno));
	struct dirent *e;
	int rc = 0;
	while ((e = readdir(dir)) != NULL) {
		pid_t tid = (pid_t)atoi(e->d_name);
		if (tid > 0 && sched_setaffinity(tid, sizeof *set, set) != 0 &&
		    errno != ESRCH)
			rc = bench_fail("sched_setaffinity: %s", strerror(errno));
	}
	closedir(dir);
	return rc;
}

static int pin(int pinned)
{
	if (!pinned)
		return set_affinity_all(&allowed);
	cpu_set_t one_cpu;
	CPU_ZERO(&one_cpu);
	CPU_SET(bench_cpu, &one_cpu);
	return set_affinity_all(&one_cpu);
}

/* Idle jiffies of every CPU, from /proc/stat.  Returns how many CPUs. */
static int read_idle(unsigned long long *idle, int max)
{
	FILE *f = fopen("/proc/stat", "r");
	char line[512];
	int n = 0;
	if (!f)
		return 0;
	while (fgets(line, sizeof line, f)) {
		int cpu;
		unsigned long long v[5];
		if (sscanf(line, "cpu%d %llu %llu %llu %llu %llu", &cpu, &v[0],
			   &v[1], &v[2], &v[3], &v[4]) == 6 &&
		    cpu >= 0 && cpu < max) {
			idle[cpu] = v[3] + v[4];
			if (cpu + 1 > n)
				n = cpu + 1;
		}
	}
	fclose(f);
	return n;
}

/* The allowed CPU that was idlest over a short sample: on a machine shared
 * with pinned fuzzers, not theirs. */
static int idlest_cpu(void)
{
	unsigned long long a[CPU_SETSIZE] = {0}, b[CPU_SETSIZE] = {0};
	int n = read_idle(a, CPU_SETSIZE);
	struct timespec ts = {0, 300 * 1000000L};
	nanosleep(&ts, NULL);
	read_idle(b, CPU_SETSIZE);
	int best = -1;
	for (int c = 0; c < n; c++)
		if (CPU_ISSET(c, &allowed) &&
		    (best < 0 || b[c] - a[c] > b[best] - a[best]))
			best = c;
	if (best < 0)
		for (best = 0; best < CPU_SETSIZE - 1 && !CPU_ISSET(best, &allowed);)
			best++;
	return best;
}

int bench_init(int cpu)
{
	sched_getaffinity(0, sizeof allowed, &allowed);
	bench_cpu = cpu >= 0 && cpu < CPU_SETSIZE && CPU_ISSET(cpu, &allowed)
			    ? cpu
			    : idlest_cpu();
	signal(SIGPIPE, SIG_IGN); /* the harness's own sockets; not libduct's */
	return bench_cpu;
}

/* ---- One run --------------------------------------------------------------- */

struct bench_ctx {
	const bench_case *c;
	uint64_t n;
	pid_t pid;
	void *conn;
	char dir[64];
	uint8_t *payload;
	uint32_t *rtt_ns;
	void *json;
	bench_tee *tee;        /* a testee case */
	uint64_t elapsed_ns;   /* a testee case's last loop */
	int failed;
};

static pid_t spawn_peer(const bench_case *c, uint64_t n, const char *addr)
{
	static char exe[PATH_MAX];
	if (!exe[0]) {
		ssize_t k = readlink("/proc/self/exe", exe, sizeof exe - 1);
		if (k <= 0) {
			bench_fail("readlink /proc/self/exe: %s", strerror(errno));
			return -1;
		}
		exe[k] = '\0';
	}
	char size[32], count[32], cpu[16];
	snprintf(size, sizeof size, "%zu", c->size);
	snprintf(count, sizeof count, "%llu", (unsigned long long)n);
	snprintf(cpu, sizeof cpu, "%d", c->pinned ? bench_cpu : -1);
	char *argv[] = {exe,
			"--bench-peer",
			(char *)c->sys->name,
			(char *)kind_names[c->kind],
			(char *)transport_names[c->transport],
			size,
			count,
			cpu,
			(char *)addr,
			NULL};
	pid_t pid = fork();
	if (pid == 0) {
		execv(exe, argv);
		_exit(127);
	}
	if (pid < 0)
		bench_fail("fork: %s", strerror(errno));
	return pid;
}

/* Waits for the peer, up to the timeout; kills it (by pid) when told to
 * or when it does not end.  0 if it exited with status 0. */
static int reap(pid_t pid, int kill_now)
{
	int status = 0;
	if (kill_now)
		kill(pid, SIGKILL);
	for (int waited = 0;; waited++) {
		pid_t r = waitpid(pid, &status, WNOHANG);
		if (r == pid)
			break;
		if (r < 0 && errno != EINTR)
			return bench_fail("waitpid: %s", strerror(errno));
		if (waited == BENCH_TIMEOUT_MS) {
			kill(pid, SIGKILL);
			waitpid(pid, &status, 0);
			return bench_fail("the peer did not exit; killed");
		}
		struct timespec ts = {0, 1000000L};
		nanosleep(&ts, NULL);
	}
	if (kill_now)
		return 0;
	if (WIFSIGNALED(status))
		return bench_fail("the peer died of signal %d", WTERMSIG(status));
	if (WEXITSTATUS(status) != 0)
		return bench_fail("the peer exited with status %d (see stderr)",
				  WEXITSTATUS(status));
	return 0;
}

static void remove_dir(char *dir)
{
	if (!dir[0])
		return;
	DIR *d = opendir(dir);
	if (d) {
		struct dirent *e;
		char path[PATH_MAX];
		while ((e = readdir(d)) != NULL) {
			if (e->d_name[0] == '.')
				continue;
			snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
			unlink(path);
		}
		closedir(d);
	}
	rmdir(dir);
	dir[0] = '\0';
}

static void release(bench_ctx *x)
{
	bench_tee_free(x->tee);
	if (x->conn)
		x->c->sys->close(x->conn);
	remove_dir(x->dir);
	bench_json_free(x->json, NULL);
	free(x->payload);
	free(x->rtt_ns);
	free(x);
}

bench_ctx *bench_setup(const bench_case *c, uint64_t n)
{
	bench_ctx *x = calloc(1, sizeof *x);
	if (!x) {
		bench_fail("out of memory");
		return NULL;
	}
	x->c = c;
	x->n = n;
	if (c->kind == BENCH_JSON) {
		if (pin(0) != 0 || !(x->json = bench_json_setup(c->json_impl))) {
			free(x);
			return NULL;
		}
		return x;
	}
	void *srv = NULL;
	char addr[256] = "";
	snprintf(x->dir, sizeof x->dir, "/tmp/duct-bench-XXXXXX");
	if (pin(c->pinned) != 0)
		goto fail;
	if (!mkdtemp(x->dir)) {
		x->dir[0] = '\0';
		bench_fail("mkdtemp: %s", strerror(errno));
		goto fail;
	}
	if (c->testee) {
		if (!(x->tee = bench_tee_setup(c, x->dir)))
			goto fail;
	} else if (c->sys->listen(c->transport, x->dir, &srv, addr, sizeof addr) != 0) {
		c->sys->close_srv(srv);
		goto fail;
	}
	if (!c->testee && (x->pid = spawn_peer(c, n, addr)) < 0) {
		c->sys->close_srv(srv);
		goto fail;
	}
	if (!c->testee && (c->sys->accept(srv, &x->conn) != 0 || c->sys->recv1(x->conn, 1) != 0))
		goto fail;
	x->payload = malloc(c->size ? c->size : 1);
	if (!x->payload ||
	    (c->kind == BENCH_RTT && !(x->rtt_ns = calloc(n, sizeof *x->rtt_ns)))) {
		bench_fail("out of memory");
		goto fail;
	}
	if (c->value)
		bench_tee_value(x->payload, c->size);
	else
		bench_fill(x->payload, c->size);
	return x;
fail:;
	char why[sizeof errbuf];
	snprintf(why, sizeof why, "%s", errbuf);
	if (x->pid > 0)
		reap(x->pid, 1);
	release(x);
	pin(0);
	bench_fail("%s", why);
	return NULL;
}

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

int bench_run(bench_ctx *x)
{
	const bench_sys *s = x->c->sys;
	int rc = 0;
	if (x->tee) {
		rc = bench_tee_run(x->tee, x->c, x->n, x->payload, x->rtt_ns, &x->elapsed_ns);
		x->failed = rc != 0;
		return rc;
	}
	switch (x->c->kind) {
	case BENCH_STREAM:
		rc = s->send1(x->conn, one, 1);
		if (rc == 0)
			rc = s->recv_n(x->conn, x->c->size, x->n);
		break;
	case BENCH_RTT:
		for (uint64_t i = 0; i < x->n && rc == 0; i++) {
			uint64_t t0 = now_ns();
			rc = s->send1(x->conn, x->payload, x->c->size);
			if (rc == 0)
				rc = s->recv1(x->conn, x->c->size);
			uint64_t dt = now_ns() - t0;
			x->rtt_ns[i] = dt > UINT32_MAX ? UINT32_MAX : (uint32_t)dt;
		}
		break;
	case BENCH_JSON:
		rc = bench_json_run(x->json, x->n);
		break;
	}
	x->failed = rc != 0;
	return rc;
}

double bench_seconds(const bench_ctx *x)
{
	return x->tee ? (double)x->elapsed_ns / 1e9 : -1.0;
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return (x > y) - (x < y);
}

/* Nearest-rank percentile of sorted v[0..n), in microseconds. */
static double percentile_us(const uint32_t *v, uint64_t n, double q)
{
	uint64_t rank = (uint64_t)(q * (double)n + 0.999999);
	if (rank < 1)
		rank = 1;
	if (rank > n)
		rank = n;
	return v[rank - 1] / 1000.0;
}

int bench_teardown(bench_ctx *x, bench_out *out)
{
	const bench_case *c = x->c;
	int rc = 0;
	memset(out, 0, sizeof *out);
	out->items = x->n;
	if (c->kind == BENCH_JSON) {
		bench_json_free(x->json, &out->bytes);
		x->json = NULL;
		release(x);
		return 0;
	}
	if (x->tee) {
		bench_tee_free(x->tee);
		x->tee = NULL;
	} else {
		if (!x->failed)
			rc = c->sys->send1(x->conn, one, 1); /* done */
		c->sys->close(x->conn);
		x->conn = NULL;
		if (rc == 0)
			rc = reap(x->pid, x->failed);
		else
			reap(x->pid, 1);
	}
	if (c->kind == BENCH_STREAM) {
		out->bytes = x->n * c->size;
	} else if (x->n > 0) {
		qsort(x->rtt_ns, x->n, sizeof *x->rtt_ns, cmp_u32);
		out->p50_us = percentile_us(x->rtt_ns, x->n, 0.50);
		out->p99_us = percentile_us(x->rtt_ns, x->n, 0.99);
	}
	release(x);
	pin(0);
	return rc;
}

/* ---- The peer process ------------------------------------------------------ */

static int peer_fail(const char *what)
{
	fprintf(stderr, "duct-bench peer: %s: %s\n", what, bench_error());
	return 1;
}

int bench_peer_main(int argc, char **argv)
{
	if (argc != 7) {
		fprintf(stderr, "usage: duct-bench --bench-peer SYSTEM stream|rtt "
				"unix|tcp SIZE COUNT CPU ADDRESS\n");
		return 2;
	}
	const bench_sys *s = find_sys(argv[0]);
	int rtt = strcmp(argv[1], "rtt") == 0;
	int transport = strcmp(argv[2], "tcp") == 0 ? BENCH_TCP : BENCH_UNIX;
	size_t size = (size_t)strtoull(argv[3], NULL, 10);
	uint64_t n = strtoull(argv[4], NULL, 10);
	int cpu = atoi(argv[5]);
	if (!s) {
		fprintf(stderr, "duct-bench peer: no system '%s'\n", argv[0]);
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	if (cpu >= 0) {
		/* Before any library starts a thread: they all inherit it. */
		cpu_set_t set;
		CPU_ZERO(&set);
		CPU_SET(cpu, &set);
		if (sched_setaffinity(0, sizeof set, &set) != 0) {
			perror("duct-bench peer: sched_setaffinity");
			return 1;
		}
	}
	uint8_t *payload = malloc(size ? size : 1);
	if (!payload)
		return 1;
	bench_fill(payload, size);
	void *conn;
	if (s->connect(transport, argv[6], &conn) != 0)
		return peer_fail("connect");
	int rc = s->send1(conn, one, 1); /* ready */
	if (rc == 0 && !rtt) {
		rc = s->recv1(conn, 1); /* go */
		if (rc == 0)
			rc = s->send_n(conn, payload, size, n);
	}
	for (uint64_t i = 0; rtt && rc == 0 && i < n; i++) {
		rc = s->recv1(conn, size);
		if (rc == 0)
			rc = s->send1(conn, payload, size);
	}
	if (rc == 0)
		rc = s->recv1(conn, 1); /* done */
	if (rc != 0)
		return peer_fail(argv[0]);
	s->close(conn);
	free(payload);
	return 0;
}
