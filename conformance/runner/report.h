/* Results of a run, and the reports written from them. */
#ifndef DUCT_CONFORM_REPORT_H
#define DUCT_CONFORM_REPORT_H

#include <stdio.h>

#include "conform.h"

typedef struct {
	const conf_case *kase;
	int testee;          /* index into the run's testees */
	enum role role;
	enum transport tr;
	enum verdict verdict;
	char *msg;           /* NULL on a pass */
	char *xfail_reason;  /* from --expected-failures */
	long ms;
} result;

typedef struct testee_def {
	char *name, *cmd;
	char *hello;         /* its reply to hello in the first case, or NULL */
	/* An interop pair (name "A>B", cmd NULL): the parent's and the child's
	 * testees; NULL for a testee graded alone. */
	struct testee_def *parent, *child;
} testee_def;

/* A line "ID reason" of a list: --expected-failures (ID is a case id,
 * optionally with @role/transport), conformance/not-checked (a requirement). */
typedef struct {
	char *id;
	char *reason;
	int used;
} listed;

typedef struct {
	result *r;
	size_t n;
	testee_def *testees;
	size_t ntestees;
	int strict;
	const listed *unchecked; /* requirements no case checks */
	size_t nunchecked;
} run;

const char *role_name(enum role r);
const char *tr_name(enum transport t);
const char *level_name(enum level l);
/* The grade shown for a result: PASS, FAIL, NON-STRICT, INFO, ... */
const char *grade(const run *R, const result *r);
/* Nonzero if the result makes the run fail. */
int counts_as_failure(const run *R, const result *r);

/* The requirements no case checks, before the first case. */
void report_header(FILE *f, const run *R);
void report_console_line(FILE *f, const run *R, const result *r, int verbose);
void report_summary(FILE *f, const run *R);
int report_junit(const run *R, const char *path);
int report_json(const run *R, const char *path);
int report_matrix(const run *R, const char *base);

#endif
