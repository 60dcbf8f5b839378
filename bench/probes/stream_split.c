/*
 * Where libduct's streaming falls short of the raw socket: each side of the
 * duct swapped for its bare-socket equivalent in turn.  A Unix stream
 * socketpair, sender and receiver pinned to CPU 0 (duct-bench's pinned
 * cases), MESSAGES messages of SIZE bytes.
 *
 *   sender   raw     SIZE bytes a send(), no framing (the limit)
 *            framed  header + payload in one send() of SIZE + 5 bytes: the
 *                    bytes libduct writes, without libduct
 *            duct    duct_send()
 *   receiver count   read() 64 KiB at a time and count the bytes
 *            duct    duct_recv(), checking each length
 *
 * raw/count against framed/count is the kernel's price of the 5 header
 * bytes; framed/count against duct/count is libduct's sending;
 * framed/count against framed/duct is libduct's receiving.
 *
 *   cmake --build build/bench --target duct    # or any build of libduct
 *   cc -O2 -Iref/include bench/probes/stream_split.c build/bench/ref/libduct.a \
 *      -ljson-c -o /tmp/stream_split
 *   /tmp/stream_split duct duct 4096
 */
#define _GNU_SOURCE
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "duct/duct.h"

enum { MESSAGES = 200000, MAX = 1 << 16 };

static double now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static int send_all(int fd, const uint8_t *p, size_t n)
{
	while (n > 0) {
		ssize_t k = send(fd, p, n, 0);
		if (k <= 0)
			return -1;
		p += k;
		n -= (size_t)k;
	}
	return 0;
}

static int receive(int fd, const char *how, size_t size, int framed)
{
	if (!strcmp(how, "count")) {
		static uint8_t buf[MAX];
		long long left = (long long)(size + (framed ? 5 : 0)) * MESSAGES;
		while (left > 0) {
			ssize_t k = read(fd, buf, sizeof buf);
			if (k <= 0)
				return -1;
			left -= k;
		}
		return 0;
	}
	int err;
	duct *d = duct_from_fd(fd, &err);
	for (long i = 0; d && i < MESSAGES; i++) {
		const void *p;
		size_t len;
		if (duct_recv(d, &p, &len) != DUCT_OK || len != size)
			return -1;
	}
	duct_free(d);
	return d ? 0 : -1;
}

static int transmit(int fd, const char *how, size_t size)
{
	static uint8_t buf[MAX + 5];
	if (!strcmp(how, "duct")) {
		int err;
		duct *d = duct_from_fd(fd, &err);
		for (long i = 0; d && i < MESSAGES; i++)
			if (duct_send(d, buf, size) != DUCT_OK)
				return -1;
		duct_free(d);
		return d ? 0 : -1;
	}
	size_t n = size;
	if (!strcmp(how, "framed")) {
		buf[0] = 0x54;
		buf[1] = (uint8_t)(size >> 24), buf[2] = (uint8_t)(size >> 16);
		buf[3] = (uint8_t)(size >> 8), buf[4] = (uint8_t)size;
		n += 5;
	}
	for (long i = 0; i < MESSAGES; i++)
		if (send_all(fd, buf, n) != 0)
			return -1;
	return 0;
}

int main(int argc, char **argv)
{
	const char *snd = argc > 2 ? argv[1] : "", *rcv = argc > 2 ? argv[2] : "";
	long size = argc > 3 ? strtol(argv[3], NULL, 10) : 4096;
	int known = (!strcmp(snd, "raw") && !strcmp(rcv, "count")) ||
		    ((!strcmp(snd, "framed") || !strcmp(snd, "duct")) &&
		     (!strcmp(rcv, "count") || !strcmp(rcv, "duct")));
	if (!known || size < 1 || size > MAX) {
		fprintf(stderr, "usage: stream_split raw count [SIZE]\n"
				"       stream_split framed|duct count|duct [SIZE]   (SIZE 1 to %d)\n",
			MAX);
		return 2;
	}
	cpu_set_t cpu;
	CPU_ZERO(&cpu);
	CPU_SET(0, &cpu);
	int sv[2];
	if (sched_setaffinity(0, sizeof cpu, &cpu) != 0 ||
	    socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0) {
		perror("stream_split");
		return 1;
	}
	pid_t pid = fork();
	if (pid < 0) {
		perror("fork");
		return 1;
	}
	if (pid == 0) {
		close(sv[0]);
		_exit(receive(sv[1], rcv, (size_t)size, strcmp(snd, "raw") != 0) ? 1 : 0);
	}
	close(sv[1]);
	double t0 = now();
	int rc = transmit(sv[0], snd, (size_t)size);
	int status;
	if (rc != 0 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status) ||
	    WEXITSTATUS(status) != 0) {
		fprintf(stderr, "stream_split: %s\n", rc ? "send failed" : "the receiver failed");
		return 1;
	}
	printf("%s -> %s, %ld B: %.0f k msg/s\n", snd, rcv, size, MESSAGES / (now() - t0) / 1e3);
	return 0;
}
