#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

void tu_assert_status(int expected, int actual, const char *expr,
		      const char *file, int line)
{
	if (expected == actual)
		return;
	fprintf(stderr, "%s:%d: %s is %s (%s), expected %s\n", file, line, expr,
		duct_err_name(actual), duct_strerror(actual),
		duct_err_name(expected));
	fail_msg("status mismatch");
}

duct *tu_bound_parent(const char *address)
{
	int err = 0;
	duct *p = duct_parent_new(address, &err);
	assert_non_null(p);
	assert_status(DUCT_OK, duct_bind(p));
	assert_non_null(duct_address(p));
	return p;
}

void tu_connect_over(const char *address, duct **p, duct **c)
{
	int err = 0;
	*p = tu_bound_parent(address);
	*c = duct_child_new(duct_address(*p), &err);
	assert_non_null(*c);
	assert_status(DUCT_OK, duct_connect(*c));
	assert_status(DUCT_OK, duct_listen(*p, 5000));
}

duct *tu_raw_pair(int *raw)
{
	int sv[2], err;
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	duct *d = duct_from_fd(sv[1], &err);
	assert_non_null(d);
	*raw = sv[0];
	return d;
}

void tu_raw_write(int fd, const void *p, size_t n)
{
	assert_int_equal(write(fd, p, n), (ssize_t)n);
}

void tu_expect_msg(duct *d, const void *want, size_t n)
{
	const void *m;
	size_t len;
	assert_status(DUCT_OK, duct_recv(d, &m, &len));
	assert_int_equal(len, n);
	if (n)
		assert_memory_equal(m, want, n);
}

size_t tu_allocs;
size_t tu_alloc_bytes;
long tu_fail_after = -1;

static int tu_should_fail(size_t n)
{
	tu_allocs++;
	if (n > tu_alloc_bytes)
		tu_alloc_bytes = n;
	if (tu_fail_after < 0)
		return 0;
	return tu_fail_after-- == 0;
}

static void *tu_malloc(size_t n) { return tu_should_fail(n) ? NULL : malloc(n); }
static void *tu_realloc(void *p, size_t n)
{
	return tu_should_fail(n) ? NULL : realloc(p, n);
}

void tu_alloc_install(void)
{
	static const duct_allocator a = {tu_malloc, tu_realloc, free};
	tu_allocs = 0;
	tu_alloc_bytes = 0;
	tu_fail_after = -1;
	duct_set_allocator(&a);
}

void tu_alloc_uninstall(void) { duct_set_allocator(NULL); }
