/* System calls per message: one send or sendmsg per message (SEND-2), and
 * many small frames per read (the buffered reader).  This file interposes
 * send, sendmsg and read: libduct is linked statically, so its calls
 * resolve to these. */
#include <dlfcn.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include "testutil.h"

static int counting;
static size_t send_calls, sendmsg_calls, read_calls;

ssize_t send(int fd, const void *buf, size_t n, int flags)
{
	static ssize_t (*real)(int, const void *, size_t, int);
	if (!real)
		real = (ssize_t(*)(int, const void *, size_t, int))dlsym(RTLD_NEXT, "send");
	send_calls += counting;
	return real(fd, buf, n, flags);
}

ssize_t sendmsg(int fd, const struct msghdr *msg, int flags)
{
	static ssize_t (*real)(int, const struct msghdr *, int);
	if (!real)
		real = (ssize_t(*)(int, const struct msghdr *, int))dlsym(RTLD_NEXT, "sendmsg");
	sendmsg_calls += counting;
	return real(fd, msg, flags);
}

ssize_t read(int fd, void *buf, size_t n)
{
	static ssize_t (*real)(int, void *, size_t);
	if (!real)
		real = (ssize_t(*)(int, void *, size_t))dlsym(RTLD_NEXT, "read");
	read_calls += counting;
	return real(fd, buf, n);
}

/* SEND-2, SEC-3: header and payload in one system call, whatever the size
 * that fits the socket buffer: a payload up to 4 KiB is copied behind its
 * header and sent with send(), a larger one goes by sendmsg() as is. */
static void syscalls_send_one_call_per_message(void **state)
{
	(void)state;
	duct *p, *c;
	assert_status(DUCT_OK, duct_pair(&p, &c));
	static char payload[8192];
	const size_t lens[] = {0, 1, 64, 4095, 4096, 4097, 8192};
	const void *m;
	size_t n;
	for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++) {
		for (size_t k = 0; k < lens[i]; k++)
			payload[k] = (char)(i + k);
		send_calls = sendmsg_calls = 0;
		counting = 1;
		assert_status(DUCT_OK, duct_send(p, payload, lens[i]));
		counting = 0;
		assert_int_equal(send_calls, lens[i] <= 4096);
		assert_int_equal(sendmsg_calls, lens[i] > 4096);
		assert_status(DUCT_OK, duct_recv(c, &m, &n));
		assert_int_equal(n, lens[i]);
		if (n)
			assert_memory_equal(m, payload, n);
	}
	duct_free(p);
	duct_free(c);
}

/* 200 small frames already in the socket come out of a handful of reads
 * (a Unix socket buffer holds a few hundred small sends). */
static void syscalls_recv_many_frames_per_read(void **state)
{
	(void)state;
	duct *p, *c;
	assert_status(DUCT_OK, duct_pair(&p, &c));
	for (int i = 0; i < 200; i++)
		assert_status(DUCT_OK, duct_send(p, "0123456789", 10));
	read_calls = 0;
	counting = 1;
	const void *m;
	size_t n;
	for (int i = 0; i < 200; i++) {
		assert_status(DUCT_OK, duct_recv(c, &m, &n));
		assert_int_equal(n, 10);
	}
	counting = 0;
	/* 3 KB of frames: one 64 KiB read would do; allow for the kernel
	 * handing them over in pieces. */
	assert_true(read_calls >= 1 && read_calls <= 4);
	duct_free(p);
	duct_free(c);
}

int main(void)
{
	signal(SIGPIPE, SIG_DFL);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(syscalls_send_one_call_per_message),
		cmocka_unit_test(syscalls_recv_many_frames_per_read),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
