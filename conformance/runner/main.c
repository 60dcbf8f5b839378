/*
 * duct-conform: grades a duct implementation, case by case, over real
 * sockets, through the testee contract (conformance/TESTEE.md).
 */
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <libgen.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "report.h"

static const char usage[] =
	"usage: duct-conform [options]\n"
	"\n"
	"Runs the Ductworks conformance cases against a testee (an adapter\n"
	"speaking conformance/TESTEE.md) over real Unix and TCP sockets.\n"
	"Exit status: 0 if no MUST requirement failed, 1 otherwise, 2 on bad usage\n"
	"or when a testee cannot answer hello (checked once, before any case), 77 if a\n"
	"testee says its implementation is not installed.\n"
	"\n"
	"  --testee CMD            the testee command; NAME=CMD names it; the shipped\n"
	"                          ones by name: libduct (the default), python,\n"
	"                          ductworks (the original); repeat it with --matrix\n"
	"                          to compare several\n"
	"  --interop A B [C ...]   the interop matrix instead: every ordered pair of\n"
	"                          these implementations (names or NAME=CMD), the\n"
	"                          first as parent, the second as child, joined by\n"
	"                          their own duct; --matrix draws pair x case\n"
	"  --list                  list the cases and exit\n"
	"  --cases PATTERN[,...]   run the cases whose id matches a glob pattern\n"
	"  --transport unix|tcp    only this transport (default: both)\n"
	"  --role parent|child     only this role of the testee (default: both)\n"
	"  --strict                SHOULD requirements count as failures\n"
	"  --expected-failures F   known failures: lines 'ID[@ROLE/TRANSPORT] reason'\n"
	"  --junit FILE            write a JUnit XML report\n"
	"  --json FILE             write a JSON report\n"
	"  --matrix BASE           write BASE.md and BASE.html: case x testee\n"
	"  --timeout-scale N       multiply every deadline by N (slow machines)\n"
	"  --jobs N                run N cases at a time (default 1), each in its own\n"
	"                          testee process with its own paths and ports; the\n"
	"                          reports come in the same order as with 1.  Cases\n"
	"                          whose verdict rests on time (poll.*, time.*,\n"
	"                          timeouts, medians) run after the others, with\n"
	"                          only each other beside them.\n"
	"                          A case still running after 1 s, most likely\n"
	"                          waiting out a deadline, stops counting: up to\n"
	"                          8N run at a time while some hang\n"
	"  --netns                 TCP across a real link: the runner and its testees\n"
	"                          in two fresh network namespaces joined by a veth\n"
	"                          pair, MTU 1500, 198.18.0.1 and 198.18.0.2 (root,\n"
	"                          or unprivileged user namespaces; ip from\n"
	"                          iproute2); exit 77 where the machine cannot\n"
	"  --netns-rate RATE       and a slow link: tc's token bucket at RATE on\n"
	"                          each end (e.g. 20mbit); implies --netns\n"
	"  --vectors DIR           the vectors directory (default: the source tree's)\n"
	"  --verbose               show details of passing cases too\n"
	"  -h, --help              this text\n";

/* Reads lines "ID reason" (# comments): expected failures, the list of
 * requirements no case checks. */
static int load_listed(const char *path, listed **v, size_t *n)
{
	FILE *f = fopen(path, "r");
	if (!f) {
		fprintf(stderr, "duct-conform: cannot read %s\n", path);
		return -1;
	}
	char line[1024];
	int lineno = 0, rc = 0;
	while (fgets(line, sizeof line, f)) {
		lineno++;
		line[strcspn(line, "\r\n")] = '\0';
		char *p = line + strspn(line, " \t");
		if (*p == '#' || *p == '\0')
			continue;
		char *end = p + strcspn(p, " \t");
		char *reason = end + strspn(end, " \t");
		if (*reason == '\0') {
			fprintf(stderr, "%s:%d: '%s' needs a reason after the id\n", path,
				lineno, p);
			rc = -1;
			continue;
		}
		*end = '\0';
		*v = realloc(*v, (*n + 1) * sizeof **v);
		(*v)[(*n)++] = (listed){strdup(p), strdup(reason), 0};
	}
	fclose(f);
	return rc;
}

static listed *find_xfail(listed *v, size_t n, const result *r)
{
	char full[160];
	snprintf(full, sizeof full, "%s@%s/%s", r->kase->id, role_name(r->role), tr_name(r->tr));
	for (size_t i = 0; i < n; i++)
		if (!strcmp(v[i].id, r->kase->id) || !strcmp(v[i].id, full))
			return &v[i];
	return NULL;
}

static int matches(const char *patterns, const char *id)
{
	if (!patterns)
		return 1;
	char *copy = strdup(patterns), *save = NULL;
	int hit = 0;
	for (char *p = strtok_r(copy, ",", &save); p && !hit; p = strtok_r(NULL, ",", &save))
		hit = fnmatch(p, id, 0) == 0 || strcmp(p, id) == 0;
	free(copy);
	return hit;
}

static int applies(const conf_case *k, enum role role, enum transport tr, int first)
{
	if ((k->flags & CF_ONCE) && !first)
		return 0;
	if ((k->flags & CF_UNIX_ONLY) && tr != TR_UNIX)
		return 0;
	if ((k->flags & CF_TCP_ONLY) && tr != TR_TCP)
		return 0;
	if ((k->flags & CF_PARENT_ONLY) && role != ROLE_PARENT)
		return 0;
	if ((k->flags & CF_CHILD_ONLY) && role != ROLE_CHILD)
		return 0;
	return 1;
}

/* Set when a testee exits 77 before hello: the run stops, exit status 77. */
static char *unavailable;

/* Starts a fresh testee process for case k and says hello. */
static void case_start(cx *c, const conf_case *k, testee_def *t, enum role role,
		       enum transport tr, double scale)
{
	cx_init(c, k, role, tr, scale);
	if (testee_start(c, t->cmd) == 0 && testee_hello(c) == 0) {
		if (!t->hello)
			t->hello = strdup(c->reply);
	}
	if (c->unavailable && !unavailable) {
		/* Not a failure of the implementation: it is not there. */
		char why[512] = "";
		FILE *e = c->stderr_path ? fopen(c->stderr_path, "r") : NULL;
		if (e && fgets(why, sizeof why, e))
			why[strcspn(why, "\n")] = '\0';
		if (e)
			fclose(e);
		asprintf(&unavailable, "duct-conform: testee %s is unavailable: %s", t->name,
			 why[0] ? why : "it exited with status 77");
	}
}

static void case_finish(cx *c, const char *label, char **m);

/* A testee that cannot say hello can run no case: found once, before the
 * run, rather than at every case's deadline.  0; 2 when it cannot (the
 * reason on stderr); 77 when its implementation is not installed. */
static int probe(testee_def *t, double scale)
{
	cx c;
	char *m = NULL;
	case_start(&c, NULL, t, ROLE_PARENT, TR_UNIX, scale);
	int rc = c.unavailable ? 77 : cx_failed(&c) ? 2 : 0;
	if (rc == 77)
		puts(unavailable);
	else if (rc)
		fprintf(stderr, "duct-conform: testee %s can run no case, it fails at hello: %s\n",
			t->name, c.msg);
	case_finish(&c, NULL, &m);
	free(m);
	return rc;
}

/* Stops the testee; appends what went wrong to *m and frees the context.
 * In a failed interop case label names the side ("child python"), and both
 * sides show their transcripts, since the fault may be on either. */
static void case_finish(cx *c, const char *label, char **m)
{
	peer_cleanup(c);
	testee_stop(c);
	char of[320] = "";
	if (label)
		snprintf(of, sizeof of, " of the %s", label);
	if (c->verdict == V_FAIL) {
		if (label)
			appendf(m, "    %s:\n", label);
		for (char *line = strtok(c->msg, "\n"); line; line = strtok(NULL, "\n"))
			appendf(m, "    %s%s\n", label ? "  " : "", line);
	}
	if (c->verdict == V_FAIL || label) {
		if (c->ctl.n) {
			bytes_put(&c->ctl, "", 1);
			appendf(m, "    control channel%s:\n", of);
			for (char *line = strtok((char *)c->ctl.p, "\n"); line; line = strtok(NULL, "\n"))
				appendf(m, "      %s\n", line);
		}
		if (c->sent.n)
			hexdump(m, "runner -> testee", &c->sent, 256);
		if (c->got.n)
			hexdump(m, "testee -> runner", &c->got, 256);
		FILE *e = c->stderr_path ? fopen(c->stderr_path, "r") : NULL;
		char line[512];
		for (int i = 0; e && i < 10 && fgets(line, sizeof line, e); i++)
			appendf(m, "    stderr%s: %s%s", of, line, strchr(line, '\n') ? "" : "\n");
		if (e)
			fclose(e);
	} else if (c->msg) {
		appendf(m, "    %s\n", c->msg);
	}
	cx_release(c);
}

static void trim(char **m)
{
	size_t len = *m ? strlen(*m) : 0;
	if (len && (*m)[len - 1] == '\n')
		(*m)[len - 1] = '\0';
}

/* Runs one case in a fresh testee process. */
static void run_case(const conf_case *k, testee_def *t, enum role role,
		     enum transport tr, double scale, result *out)
{
	cx c;
	long t0 = now_ms();
	case_start(&c, k, t, role, tr, scale);
	if (!cx_failed(&c) && (k->flags & CF_NO_SETUP || cx_connect(&c) == 0))
		k->fn(&c, k->arg);
	out->verdict = c.verdict;
	case_finish(&c, NULL, &out->msg);
	trim(&out->msg);
	out->ms = now_ms() - t0;
}

/* Runs one interop case: x's testee as parent, y's as child. */
static void run_pair(const conf_case *k, testee_def *x, testee_def *y, enum transport tr,
		     double scale, result *out)
{
	cx p, ch;
	long t0 = now_ms();
	case_start(&p, k, x, ROLE_PARENT, tr, scale);
	case_start(&ch, k, y, ROLE_CHILD, tr, scale);
	if (!cx_failed(&p) && !cx_failed(&ch) && interop_connect(&p, &ch, k) == 0)
		k->pair(&p, &ch, k->arg);
	int bad = p.verdict == V_FAIL || ch.verdict == V_FAIL;
	out->verdict = bad ? V_FAIL : p.verdict != V_PASS ? p.verdict : ch.verdict;
	char label[2][300];
	snprintf(label[0], sizeof label[0], "parent %s", x->name);
	snprintf(label[1], sizeof label[1], "child %s", y->name);
	case_finish(&p, bad ? label[0] : NULL, &out->msg);
	case_finish(&ch, bad ? label[1] : NULL, &out->msg);
	trim(&out->msg);
	out->ms = now_ms() - t0;
}

/* What a run holds until exit; freed by cleanup() on every exit path. */
static conf_case *cases, *vcases;
static size_t ncases, nvcases;
static testee_def *testees, *impls; /* impls: --interop's implementations */
static size_t ntestees, nimpls;
static listed *xf, *unchecked;
static size_t nxf, nunchecked;
static run R;
/* The planned run, in the order of a serial run: what is printed before
 * each result (the headings of a testee, a role and transport), and what
 * a worker of --jobs brings back beside the result. */
typedef struct {
	char *head;        /* printed before the result; NULL for none */
	char *hello[2];    /* the testee's hello (a pair: the parent's, the child's) */
	char *unavailable; /* the testee exited 77: the message */
	int done;
} slot;
static slot *S;
static char *heads, *tail; /* headings not yet attached; after the last result */

static void free_testees(testee_def *v, size_t n)
{
	for (size_t t = 0; t < n; t++)
		free(v[t].name), free(v[t].cmd), free(v[t].hello);
	free(v);
}

static void cleanup(void)
{
	for (size_t i = 0; i < R.n; i++) {
		free(R.r[i].msg);
		free(S[i].head), free(S[i].hello[0]), free(S[i].hello[1]);
		free(S[i].unavailable);
	}
	free(R.r);
	free(S);
	free(heads), free(tail);
	for (size_t i = 0; i < nxf; i++)
		free(xf[i].id), free(xf[i].reason);
	free(xf);
	for (size_t i = 0; i < nunchecked; i++)
		free(unchecked[i].id), free(unchecked[i].reason);
	free(unchecked);
	free_testees(testees, ntestees);
	free_testees(impls, nimpls);
	free(unavailable);
	cases_free(cases, ncases);
	cases_free(vcases, nvcases);
}

/* A shipped testee by name, or NAME=CMD (testee_command, testee.c);
 * libduct's testee is duct-testee beside this runner. */
static testee_def testee_named(const char *v)
{
	char self[PATH_MAX], *name, *cmd;
	ssize_t len = readlink("/proc/self/exe", self, sizeof self - 1);
	self[len < 0 ? 0 : len] = '\0';
	char *dir = len < 0 ? NULL : dirname(self);
	char libduct[PATH_MAX + 16];
	snprintf(libduct, sizeof libduct, "%s%sduct-testee", dir ? dir : "", dir ? "/" : "");
	cmd = testee_command(v, libduct, DUCT_SOURCE_DIR, &name);
	return (testee_def){.name = name, .cmd = cmd};
}

static void add_testee(testee_def **v, size_t *n, testee_def t)
{
	*v = realloc(*v, (*n + 1) * sizeof **v);
	(*v)[(*n)++] = t;
}

/* Appends result k (not yet run) to the plan. */
static void plan(const conf_case *k, size_t t, enum role role, enum transport tr)
{
	R.r = realloc(R.r, (R.n + 1) * sizeof *R.r);
	S = realloc(S, (R.n + 1) * sizeof *S);
	R.r[R.n] = (result){k, (int)t, role, tr, V_PASS, NULL, NULL, 0};
	S[R.n] = (slot){.head = heads};
	heads = NULL;
	R.n++;
}

/* Runs planned result i here, in this process. */
static void run_here(size_t i, double scale)
{
	result *r = &R.r[i];
	if (r->role == ROLE_PAIR)
		run_pair(r->kase, testees[r->testee].parent, testees[r->testee].child, r->tr,
			 scale, r);
	else
		run_case(r->kase, &testees[r->testee], r->role, r->tr, scale, r);
}

/* Marks an expected failure and prints the result's line. */
static void settle(size_t i, int verbose)
{
	result *r = &R.r[i];
	listed *x = find_xfail(xf, nxf, r);
	if (x) {
		x->used = 1;
		r->xfail_reason = x->reason;
		r->verdict = r->verdict == V_FAIL ? V_XFAIL
			   : r->verdict == V_PASS ? V_XPASS : r->verdict;
	}
	report_console_line(stdout, &R, r, verbose);
}

/* The serial run: each result as it comes; 0, or 77 when a testee's
 * implementation is not installed (the run stops there). */
static int run_serial(double scale, int verbose)
{
	for (size_t i = 0; i < R.n; i++) {
		if (S[i].head)
			fputs(S[i].head, stdout);
		run_here(i, scale);
		if (unavailable) {
			puts(unavailable);
			return 77;
		}
		settle(i, verbose);
	}
	return 0;
}

/* ---- --jobs N ------------------------------------------------------------
 * One worker process per case, N alive at a time: it runs the case exactly
 * as the serial run does (its own testee process; Unix paths in fresh
 * mkdtemp directories and TCP ports the kernel picks, so cases share
 * neither), sends back the result, the hellos and any 77 over a pipe, and
 * exits.  The parent prints each result once all before it are printed,
 * so the console and every report are those of a serial run but for
 * timings.  Cases flagged CF_TIMED run after the others, N at a time too
 * but with none of the others beside them: what they time is mostly
 * sleeping (deadlines, polls), and an untimed case's 16 MiB is load. */

/* Runs result i with the testees' hellos and the 77 message going to S[i]
 * rather than to the testees and the run. */
static void run_captured(size_t i, double scale)
{
	testee_def *d = &testees[R.r[i].testee];
	testee_def *side[2] = {d->parent ? d->parent : d, d->parent ? d->child : NULL};
	char *kept[2] = {side[0]->hello, side[1] ? side[1]->hello : NULL};
	char *gone = unavailable;
	side[0]->hello = NULL;
	if (side[1])
		side[1]->hello = NULL;
	unavailable = NULL;
	run_here(i, scale);
	S[i].hello[0] = side[0]->hello;
	side[0]->hello = kept[0];
	if (side[1]) {
		/* The same implementation on both sides said hello once. */
		S[i].hello[1] = side[1] == side[0] ? (S[i].hello[0] ? strdup(S[i].hello[0]) : NULL)
						 : side[1]->hello;
		side[1]->hello = kept[1];
	}
	S[i].unavailable = unavailable;
	unavailable = gone;
	S[i].done = 1;
}

static void put_str(bytes *b, const char *s)
{
	uint32_t n = s ? (uint32_t)strlen(s) + 1 : 0; /* 0: NULL */
	bytes_put(b, &n, sizeof n);
	bytes_put(b, s, n);
}

static int get_str(const bytes *b, size_t *at, char **s)
{
	uint32_t n;
	if (b->n - *at < sizeof n)
		return -1;
	memcpy(&n, b->p + *at, sizeof n);
	*at += sizeof n;
	if (b->n - *at < n || (n && b->p[*at + n - 1] != '\0'))
		return -1;
	*s = n ? strdup((const char *)b->p + *at) : NULL;
	*at += n;
	return 0;
}

/* In the worker: runs result i, writes it to fd, and exits. */
static void worker(size_t i, int fd, double scale)
{
	run_captured(i, scale);
	const result *r = &R.r[i];
	bytes b = {0};
	int32_t verdict = r->verdict;
	int64_t ms = r->ms;
	bytes_put(&b, &verdict, sizeof verdict);
	bytes_put(&b, &ms, sizeof ms);
	put_str(&b, r->msg);
	put_str(&b, S[i].hello[0]);
	put_str(&b, S[i].hello[1]);
	put_str(&b, S[i].unavailable);
	for (size_t off = 0; off < b.n;) {
		ssize_t w = write(fd, b.p + off, b.n - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			_exit(1);
		off += (size_t)w;
	}
	_exit(0); /* no atexit, no stdio flush: the parent owns those */
}

/* In the parent: takes what worker sent for result i; a worker that died
 * before it said everything fails the case, plainly. */
static void take(size_t i, const bytes *b, int status)
{
	result *r = &R.r[i];
	int32_t verdict;
	int64_t ms;
	size_t at = sizeof verdict + sizeof ms;
	if (b->n >= at) {
		memcpy(&verdict, b->p, sizeof verdict);
		memcpy(&ms, b->p + sizeof verdict, sizeof ms);
	}
	if (b->n < at || get_str(b, &at, &r->msg) || get_str(b, &at, &S[i].hello[0]) ||
	    get_str(b, &at, &S[i].hello[1]) || get_str(b, &at, &S[i].unavailable) ||
	    at != b->n) {
		free(r->msg);
		r->msg = NULL;
		r->verdict = V_FAIL;
		if (WIFSIGNALED(status))
			appendf(&r->msg, "    runner: the worker running this case died of signal %d",
				WTERMSIG(status));
		else
			appendf(&r->msg, "    runner: the worker running this case exited with "
				"status %d before it reported", WEXITSTATUS(status));
	} else {
		r->verdict = (enum verdict)verdict;
		r->ms = (long)ms;
	}
	S[i].done = 1;
}

/* Prints the results that are done and have every earlier one printed;
 * 77 once it reaches a testee that is not installed. */
static int print_ready(size_t *next, int verbose)
{
	for (; *next < R.n && S[*next].done; ++*next) {
		size_t i = *next;
		if (S[i].head)
			fputs(S[i].head, stdout);
		if (S[i].unavailable) {
			puts(S[i].unavailable);
			return 77;
		}
		/* The first hello of each testee, in the serial run's order. */
		testee_def *d = &testees[R.r[i].testee];
		testee_def *side[2] = {d->parent ? d->parent : d, d->parent ? d->child : NULL};
		for (int k = 0; k < 2; k++)
			if (side[k] && !side[k]->hello && S[i].hello[k])
				side[k]->hello = strdup(S[i].hello[k]);
		settle(i, verbose);
	}
	return 0;
}

typedef struct {
	pid_t pid;
	int fd;
	size_t i;
	bytes got;
	long t0;
} job;

/* A case still running after SLOW_MS is most likely waiting out a deadline
 * on a testee that hangs: it no longer counts against --jobs N, so that
 * hangs overlap instead of queueing, up to SLOW_CAP times N at a time.
 * Not in the timed phase: there a case's time is its verdict. */
enum { SLOW_MS = 1000, SLOW_CAP = 8 };

/* Whether another case may start now; *wait_ms: when to ask again (-1:
 * once a case ends). */
static int may_start(const job *jobs, size_t running, int limit, int timed, int *wait_ms)
{
	long now = now_ms();
	size_t fresh = 0;
	*wait_ms = -1;
	if (timed)
		return running < (size_t)limit;
	for (size_t k = 0; k < running; k++)
		if (now - jobs[k].t0 < SLOW_MS) {
			int left = (int)(jobs[k].t0 + SLOW_MS - now);
			fresh++;
			if (*wait_ms < 0 || left < *wait_ms)
				*wait_ms = left;
		}
	if (running >= (size_t)limit * SLOW_CAP)
		*wait_ms = -1;
	return fresh < (size_t)limit && running < (size_t)limit * SLOW_CAP;
}

/* Waits until a worker has finished: reads from all, reaps the one done.
 * Returns its index in jobs, or n if wait_ms (unless -1) passed first. */
static size_t reap_one(job *jobs, size_t n, int wait_ms)
{
	struct pollfd p[n];
	long until = now_ms() + wait_ms;
	for (;;) {
		for (size_t k = 0; k < n; k++)
			p[k] = (struct pollfd){.fd = jobs[k].fd, .events = POLLIN};
		int left = wait_ms < 0 ? -1 : (int)(until - now_ms());
		if (wait_ms >= 0 && left <= 0)
			return n;
		if (poll(p, n, left) < 0) {
			if (errno == EINTR)
				continue;
			perror("duct-conform: poll");
			exit(2);
		}
		for (size_t k = 0; k < n; k++) {
			if (!p[k].revents)
				continue;
			uint8_t buf[65536];
			ssize_t r = read(jobs[k].fd, buf, sizeof buf);
			if (r < 0 && errno == EINTR)
				continue;
			if (r > 0) {
				bytes_put(&jobs[k].got, buf, (size_t)r);
				continue;
			}
			int status = 0;
			close(jobs[k].fd);
			while (waitpid(jobs[k].pid, &status, 0) < 0 && errno == EINTR)
				;
			take(jobs[k].i, &jobs[k].got, status);
			bytes_free(&jobs[k].got);
			return k;
		}
	}
}

/* The run with --jobs N: the untimed cases N at a time (more while some
 * hang), then the timed ones N at a time.  0, or 77 as run_serial. */
static int run_jobs(int n, double scale, int verbose)
{
	job *jobs = calloc((size_t)n * SLOW_CAP, sizeof *jobs);
	size_t running = 0, next = 0, stop_at = R.n; /* nothing after a 77 starts */
	int rc = 0;
	for (int timed = 0; timed < 2; timed++) {
		for (size_t i = 0;;) {
			size_t done = R.n;
			int wait_ms = -1;
			while (!rc && may_start(jobs, running, n, timed, &wait_ms) && i < R.n &&
			       done == R.n) {
				if (i > stop_at || !(R.r[i].kase->flags & CF_TIMED) != !timed) {
					i++;
					continue;
				}
				int fd[2] = {-1, -1};
				pid_t pid = -1;
				fflush(NULL);
				if (pipe2(fd, O_CLOEXEC) == 0 && (pid = fork()) == 0) {
					close(fd[0]);
					worker(i, fd[1], scale);
				}
				if (pid > 0) {
					close(fd[1]);
					jobs[running++] = (job){pid, fd[0], i++, {0}, now_ms()};
					continue;
				}
				if (fd[0] >= 0)
					close(fd[0]), close(fd[1]);
				if (running)
					break; /* no worker now: wait for one to end */
				run_captured(i, scale); /* none at all: here */
				done = i++;
			}
			if (done == R.n) {
				if (!running)
					break;
				size_t k = reap_one(jobs, running, wait_ms);
				if (k == running)
					continue; /* a case turned slow: another may start */
				done = jobs[k].i;
				jobs[k] = jobs[--running];
			}
			if (S[done].unavailable && done < stop_at)
				stop_at = done;
			if (!rc)
				rc = print_ready(&next, verbose);
		}
	}
	free(jobs);
	return rc;
}

int main(int argc, char **argv)
{
	const char *patterns = NULL, *junit = NULL, *json = NULL, *matrix = NULL;
	const char *xfail_path = NULL, *vectors = DUCT_SOURCE_DIR "/vectors";
	int list = 0, strict = 0, verbose = 0, roles = 3, trs = 3, interop = 0;
	double scale = 1.0;
	int jobs = 1, netns = 0;
	const char *rate = NULL;

	const char *me = strrchr(argv[0], '/');
	if (!strcmp(me ? me + 1 : argv[0], REPORT_FDS_NAME))
		return sec_report_fds();
	signal(SIGPIPE, SIG_IGN); /* a dead testee must not kill the runner */
	atexit(cleanup);
	setvbuf(stdout, NULL, _IOLBF, 0);
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;
		int takes = 1;
		if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			fputs(usage, stdout);
			return 0;
		} else if (!strcmp(a, "--list")) {
			list = 1, takes = 0;
		} else if (!strcmp(a, "--strict")) {
			strict = 1, takes = 0;
		} else if (!strcmp(a, "--netns")) {
			netns = 1, takes = 0;
		} else if (!strcmp(a, "--verbose")) {
			verbose = 1, takes = 0;
		} else if (!strcmp(a, "--interop")) {
			/* Every argument up to the next option is an implementation. */
			interop = 1, takes = 0;
			while (i + 1 < argc && strncmp(argv[i + 1], "--", 2) != 0)
				add_testee(&impls, &nimpls, testee_named(argv[++i]));
		} else if (!v) {
			fprintf(stderr, "duct-conform: %s needs a value (try --help)\n", a);
			return 2;
		} else if (!strcmp(a, "--testee")) {
			add_testee(&testees, &ntestees, testee_named(v));
		} else if (!strcmp(a, "--cases")) {
			patterns = v;
		} else if (!strcmp(a, "--transport") && (!strcmp(v, "unix") || !strcmp(v, "tcp"))) {
			trs = !strcmp(v, "unix") ? 1 : 2;
		} else if (!strcmp(a, "--role") && (!strcmp(v, "parent") || !strcmp(v, "child"))) {
			roles = !strcmp(v, "parent") ? 1 : 2;
		} else if (!strcmp(a, "--junit")) {
			junit = v;
		} else if (!strcmp(a, "--json")) {
			json = v;
		} else if (!strcmp(a, "--matrix")) {
			matrix = v;
		} else if (!strcmp(a, "--expected-failures")) {
			xfail_path = v;
		} else if (!strcmp(a, "--netns-rate")) {
			netns = 1, rate = v;
		} else if (!strcmp(a, "--vectors")) {
			vectors = v;
		} else if (!strcmp(a, "--timeout-scale") && (scale = atof(v)) > 0) {
		} else if (!strcmp(a, "--jobs")) {
			char *end;
			errno = 0;
			long j = strtol(v, &end, 10);
			if (errno || end == v || *end || j < 1 || j > 1024) {
				fprintf(stderr, "duct-conform: --jobs takes a number of cases to run "
						"at a time, 1 to 1024, not '%s' (try --help)\n", v);
				return 2;
			}
			jobs = (int)j;
		} else {
			fprintf(stderr, "duct-conform: bad option '%s %s' (try --help)\n", a, v);
			return 2;
		}
		i += takes;
	}
	if (interop && (nimpls == 0 || ntestees || roles != 3)) {
		fprintf(stderr, "duct-conform: --interop takes one or more implementations, and "
				"neither --testee nor --role (try --help)\n");
		return 2;
	}

	if (interop) {
		/* The JSON vectors are data for interop.json_vectors, not cases. */
		if (cases_vectors(vectors, &vcases, &nvcases) != 0)
			return 2;
		cases_interop(&cases, &ncases);
	} else {
		cases_builtin(&cases, &ncases);
		if (cases_vectors(vectors, &cases, &ncases) != 0)
			return 2;
	}
	if (list) {
		for (size_t i = 0; i < ncases; i++)
			if (matches(patterns, cases[i].id))
				printf("%-46s %-6s %-18s %s\n", cases[i].id, level_name(cases[i].level),
				       cases[i].reqs, cases[i].about ? cases[i].about : "");
		return 0;
	}
	if (xfail_path && load_listed(xfail_path, &xf, &nxf) != 0)
		return 2;
	/* What a pass does not cover, in every report's header. */
	if (load_listed(DUCT_SOURCE_DIR "/conformance/not-checked", &unchecked, &nunchecked))
		return 2;
	if (ntestees == 0 && !interop)
		add_testee(&testees, &ntestees, testee_named("libduct"));
	/* Every ordered pair, an implementation with itself included. */
	for (size_t x = 0; x < nimpls; x++)
		for (size_t y = 0; y < nimpls; y++) {
			char *name = NULL;
			asprintf(&name, "%s>%s", impls[x].name, impls[y].name);
			add_testee(&testees, &ntestees,
				   (testee_def){.name = name, .parent = &impls[x], .child = &impls[y]});
		}

	if (netns) {
		char why[300];
		int rc = net_setup(rate, why, sizeof why);
		if (rc) {
			fprintf(stderr, "duct-conform: --netns: %s\n", why);
			return rc == 77 ? 77 : 2;
		}
		printf("duct-conform: network: %s\n", net_describe());
	}
	for (size_t t = 0; t < ntestees + nimpls; t++) {
		testee_def *d = t < ntestees ? &testees[t] : &impls[t - ntestees];
		int rc = d->cmd ? probe(d, scale) : 0;
		if (rc)
			return rc;
	}
	R = (run){NULL, 0, testees, ntestees, strict, unchecked, nunchecked};
	report_header(stdout, &R);
	for (size_t t = 0; t < nimpls; t++)
		printf("duct-conform: implementation %s: %s\n", impls[t].name, impls[t].cmd);
	for (size_t t = 0; t < ntestees; t++) {
		if (interop)
			appendf(&heads, "--- %s as parent, %s as child\n", testees[t].parent->name,
				testees[t].child->name);
		else
			appendf(&heads, "duct-conform: testee %s: %s\n", testees[t].name, testees[t].cmd);
		int first = 1;
		for (int ro = 0; ro < 2; ro++) {
			for (int tr = 0; tr < 2; tr++) {
				if (!(roles & (1 << ro)) || !(trs & (1 << tr)) || (interop && ro))
					continue;
				enum role role = interop ? ROLE_PAIR : (enum role)ro;
				if (!interop)
					appendf(&heads, "--- testee as %s over %s\n", role_name(role),
						tr_name((enum transport)tr));
				for (size_t i = 0; i < ncases; i++) {
					const conf_case *k = &cases[i];
					if (matches(patterns, k->id) &&
					    applies(k, role, (enum transport)tr, first))
						plan(k, t, role, (enum transport)tr);
				}
				first = 0;
			}
		}
	}
	tail = heads;
	heads = NULL;
	if ((jobs == 1 ? run_serial(scale, verbose) : run_jobs(jobs, scale, verbose)) == 77)
		return 77;
	if (tail)
		fputs(tail, stdout);
	for (size_t i = 0; i < nxf; i++)
		if (!xf[i].used)
			printf("note: expected failure '%s' matched no case that ran\n", xf[i].id);
	int failed = 0;
	for (size_t i = 0; i < R.n; i++)
		failed |= counts_as_failure(&R, &R.r[i]);
	if ((junit && report_junit(&R, junit)) || (json && report_json(&R, json)) ||
	    (matrix && report_matrix(&R, matrix))) {
		perror("duct-conform: writing a report");
		failed = 1;
	}
	report_summary(stdout, &R);
	char traffic[200];
	if (net_traffic(traffic, sizeof traffic) == 0)
		printf("duct-conform: %s\n", traffic);
	return failed ? 1 : 0;
}
