/* Shared test helpers: status assertions that print error names, and a
 * counting allocator that can also be told to fail. */
#ifndef DUCT_TESTUTIL_H
#define DUCT_TESTUTIL_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "duct/duct.h"

/* Fails with both codes' names (e.g. "DUCT_EOF != DUCT_OK"). */
#define assert_status(expected, actual)                                        \
	tu_assert_status((expected), (actual), #actual, __FILE__, __LINE__)
void tu_assert_status(int expected, int actual, const char *expr,
		      const char *file, int line);

/* A parent bound to address ("unix:", "tcp:", ...), not yet listening. */
duct *tu_bound_parent(const char *address);
/* A parent on address and its child, connected through a real listen. */
void tu_connect_over(const char *address, duct **p, duct **c);

/* A duct on one end of a socketpair (LIFE-7), the raw fd in *raw. */
duct *tu_raw_pair(int *raw);
/* Writes p[0..n) onto fd in one write(), or fails. */
void tu_raw_write(int fd, const void *p, size_t n);

/* Receives one message from d and checks it is want[0..n). */
void tu_expect_msg(duct *d, const void *want, size_t n);

/* Counting allocator.  tu_alloc_install() resets the counters. */
extern size_t tu_allocs;       /* malloc + realloc calls */
extern size_t tu_alloc_bytes;  /* largest single request */
extern long tu_fail_after;     /* fail the Nth call from now; -1: never */
void tu_alloc_install(void);
void tu_alloc_uninstall(void);

#endif
