/*
 * duct-conform: grades a duct implementation, case by case, over real
 * sockets, through the testee contract (conformance/TESTEE.md).
 */
#include <fnmatch.h>
#include <libgen.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "report.h"

static const char usage[] =
	"usage: duct-conform [options]\n"
	"\n"
	"Runs the Ductworks conformance cases against a testee (an adapter\n"
	"speaking conformance/TESTEE.md) over real Unix and TCP sockets.\n"
	"Exit status: 0 if no MUST requirement failed, 1 otherwise, 2 on bad usage,\n"
	"77 if a testee says its implementation is not installed.\n"
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

static void free_testees(testee_def *v, size_t n)
{
	for (size_t t = 0; t < n; t++)
		free(v[t].name), free(v[t].cmd), free(v[t].hello);
	free(v);
}

static void cleanup(void)
{
	for (size_t i = 0; i < R.n; i++)
		free(R.r[i].msg);
	free(R.r);
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

/* Appends a result for case k and runs it; 0, or 77 when the testee's
 * implementation is not installed (the run stops). */
static int run_one(const conf_case *k, size_t t, enum role role, enum transport tr,
		   double scale, int verbose)
{
	R.r = realloc(R.r, (R.n + 1) * sizeof *R.r);
	result *r = &R.r[R.n++];
	*r = (result){k, (int)t, role, tr, V_PASS, NULL, NULL, 0};
	if (role == ROLE_PAIR)
		run_pair(k, testees[t].parent, testees[t].child, tr, scale, r);
	else
		run_case(k, &testees[t], role, tr, scale, r);
	if (unavailable) {
		puts(unavailable);
		return 77;
	}
	listed *x = find_xfail(xf, nxf, r);
	if (x) {
		x->used = 1;
		r->xfail_reason = x->reason;
		r->verdict = r->verdict == V_FAIL ? V_XFAIL
			   : r->verdict == V_PASS ? V_XPASS : r->verdict;
	}
	report_console_line(stdout, &R, r, verbose);
	return 0;
}

int main(int argc, char **argv)
{
	const char *patterns = NULL, *junit = NULL, *json = NULL, *matrix = NULL;
	const char *xfail_path = NULL, *vectors = DUCT_SOURCE_DIR "/vectors";
	int list = 0, strict = 0, verbose = 0, roles = 3, trs = 3, interop = 0;
	double scale = 1.0;

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
		} else if (!strcmp(a, "--vectors")) {
			vectors = v;
		} else if (!strcmp(a, "--timeout-scale") && (scale = atof(v)) > 0) {
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

	R = (run){NULL, 0, testees, ntestees, strict, unchecked, nunchecked};
	report_header(stdout, &R);
	for (size_t t = 0; t < nimpls; t++)
		printf("duct-conform: implementation %s: %s\n", impls[t].name, impls[t].cmd);
	for (size_t t = 0; t < ntestees; t++) {
		if (interop)
			printf("--- %s as parent, %s as child\n", testees[t].parent->name,
			       testees[t].child->name);
		else
			printf("duct-conform: testee %s: %s\n", testees[t].name, testees[t].cmd);
		int first = 1;
		for (int ro = 0; ro < 2; ro++) {
			for (int tr = 0; tr < 2; tr++) {
				if (!(roles & (1 << ro)) || !(trs & (1 << tr)) || (interop && ro))
					continue;
				enum role role = interop ? ROLE_PAIR : (enum role)ro;
				if (!interop)
					printf("--- testee as %s over %s\n", role_name(role),
					       tr_name((enum transport)tr));
				for (size_t i = 0; i < ncases; i++) {
					const conf_case *k = &cases[i];
					if (matches(patterns, k->id) &&
					    applies(k, role, (enum transport)tr, first) &&
					    run_one(k, t, role, (enum transport)tr, scale, verbose))
						return 77;
				}
				first = 0;
			}
		}
	}
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
	return failed ? 1 : 0;
}
