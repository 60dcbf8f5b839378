/*
 * A regression made to order, to show that ci/bench-compare catches one:
 * preloaded (LD_PRELOAD), this splits every two-iovec sendmsg() (libduct's
 * header + payload) into two calls, one per iovec, and every send() of one
 * whole frame (libduct copies a payload up to 4 KiB behind its header) into
 * header and payload: one extra system call per message, the classic
 * framing mistake that SEND-2 warns about.  The
 * bytes on the wire do not change, so every check still passes; only the
 * time does.  The raw socket and ZeroMQ send with send() and are not
 * affected, so the ratio to raw moves.
 *
 *   LD_PRELOAD=build/bench/bench/libduct-split-send.so ci/bench.sh ...
 *
 * libduct is linked statically into duct-bench, but its send() and
 * sendmsg() calls go through the dynamic libc, so the preload sees them.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <sys/socket.h>
#include <sys/types.h>

ssize_t sendmsg(int fd, const struct msghdr *msg, int flags)
{
	static ssize_t (*real)(int, const struct msghdr *, int);
	if (!real)
		real = (ssize_t(*)(int, const struct msghdr *, int))dlsym(RTLD_NEXT, "sendmsg");
	if (msg->msg_iovlen != 2)
		return real(fd, msg, flags);
	struct msghdr one = *msg;
	one.msg_iovlen = 1;
	ssize_t a = real(fd, &one, flags);
	if (a < 0 || (size_t)a < msg->msg_iov[0].iov_len)
		return a; /* a short write: the caller loops, as after any */
	one.msg_iov = msg->msg_iov + 1;
	ssize_t b = real(fd, &one, flags);
	return b < 0 ? a : a + b;
}

/* One whole frame: the magic, then a big-endian length that is exactly
 * what follows.  Unframed raw payloads and ZeroMQ's traffic do not match. */
static int one_frame(const unsigned char *p, size_t n)
{
	return n > 5 && p[0] == 0x54 &&
	       ((size_t)p[1] << 24 | (size_t)p[2] << 16 | (size_t)p[3] << 8 | p[4]) == n - 5;
}

ssize_t send(int fd, const void *buf, size_t n, int flags)
{
	static ssize_t (*real)(int, const void *, size_t, int);
	if (!real)
		real = (ssize_t(*)(int, const void *, size_t, int))dlsym(RTLD_NEXT, "send");
	if (!one_frame(buf, n))
		return real(fd, buf, n, flags);
	ssize_t a = real(fd, buf, 5, flags);
	if (a < 5)
		return a;
	ssize_t b = real(fd, (const char *)buf + 5, n - 5, flags);
	return b < 0 ? a : a + b;
}
