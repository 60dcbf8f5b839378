/*
 * Where libduct's time goes against the raw socket: the same messages sent
 * by ever more of libduct's way, over a Unix stream socketpair with both
 * processes pinned to CPU 0 (duct-bench's pinned cases).
 *
 *   raw     SIZE bytes a send(), no framing (the limit)
 *   framed  header + payload, SIZE + 5 bytes, in one send(): the bytes
 *           libduct writes, without libduct
 *   copy    the same, the payload first copied behind its header in a
 *           stack buffer: libduct's way up to 4 KiB (send_frame(),
 *           ref/src/io.c)
 *   iov2    header and payload as two iovecs of one sendmsg(): libduct's
 *           way above 4 KiB
 *   duct    duct_send() and duct_recv()
 *
 *   framing-cost stream MODE [SIZE] [count]  one way, MESSAGES messages; the
 *                                            receiver is MODE's too, or with
 *                                            "count" reads 64 KiB a call and
 *                                            counts bytes (raw's receiver)
 *   framing-cost rtt MODE [SIZE]             ping-pong, ROUNDS round trips,
 *                                            both sides MODE; median
 *
 * Every mode but duct receives with exact reads of a whole frame.  Run it
 * under `perf stat -e context-switches,task-clock` to see where the CPU
 * goes (bench/README.md, "What is slow in libduct").
 *
 *   cmake --build build/bench --target framing-cost     (ci/bench.sh's build)
 *   for m in raw framed copy iov2 duct; do
 *       build/bench/bench/framing-cost stream $m 4096 count; done
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

enum { MESSAGES = 200000, ROUNDS = 50000, MAX = 1 << 16 };

static const char *const modes[] = {"raw", "framed", "copy", "iov2", "duct"};
enum mode { RAW, FRAMED, COPY, IOV2, DUCT };

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

static int read_all(int fd, uint8_t *p, size_t n)
{
	while (n > 0) {
		ssize_t k = read(fd, p, n);
		if (k <= 0)
			return -1;
		p += k;
		n -= (size_t)k;
	}
	return 0;
}

/* One end of the duct: its socket, and the duct over it in mode DUCT. */
typedef struct {
	enum mode mode;
	int fd;
	duct *d;
	size_t size;
	uint8_t hdr[5];
} end;

static uint8_t payload[MAX], frame[5 + MAX];

static int open_end(end *e, enum mode m, int fd, size_t size)
{
	int err;
	*e = (end){m, fd, NULL, size, {0x54, (uint8_t)(size >> 24), (uint8_t)(size >> 16),
				     (uint8_t)(size >> 8), (uint8_t)size}};
	memcpy(frame, e->hdr, 5);
	return m == DUCT && !(e->d = duct_from_fd(fd, &err)) ? -1 : 0;
}

static int send_one(end *e)
{
	switch (e->mode) {
	case RAW:
		return send_all(e->fd, payload, e->size);
	case FRAMED: /* frame[] holds the header (open_end()) */
		return send_all(e->fd, frame, e->size + 5);
	case COPY: {
		uint8_t f[5 + MAX];
		memcpy(f, e->hdr, 5);
		memcpy(f + 5, payload, e->size);
		return send_all(e->fd, f, e->size + 5);
	}
	case IOV2: {
		struct iovec v[2] = {{e->hdr, 5}, {payload, e->size}};
		struct msghdr m = {.msg_iov = v, .msg_iovlen = 2};
		/* a short write would need a loop: reported as a failure */
		return sendmsg(e->fd, &m, 0) == (ssize_t)(e->size + 5) ? 0 : -1;
	}
	case DUCT:
		return duct_send(e->d, payload, e->size) == DUCT_OK ? 0 : -1;
	}
	return -1;
}

static int recv_one(end *e)
{
	static uint8_t buf[5 + MAX];
	if (e->mode == DUCT) {
		const void *p;
		size_t len;
		return duct_recv(e->d, &p, &len) == DUCT_OK && len == e->size ? 0 : -1;
	}
	return read_all(e->fd, buf, e->size + (e->mode == RAW ? 0 : 5));
}

/* raw's receiver in duct-bench: 64 KiB reads, bytes counted. */
static int count_all(int fd, long long left)
{
	static uint8_t buf[MAX];
	while (left > 0) {
		ssize_t k = read(fd, buf, sizeof buf);
		if (k <= 0)
			return -1;
		left -= k;
	}
	return 0;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
	int rtt = argc > 2 && !strcmp(argv[1], "rtt");
	int m = -1;
	for (int i = 0; argc > 2 && i < 5; i++)
		if (!strcmp(argv[2], modes[i]))
			m = i;
	long size = argc > 3 ? strtol(argv[3], NULL, 10) : 4096;
	int count = argc > 4 && !strcmp(argv[4], "count");
	if ((!rtt && (argc < 3 || strcmp(argv[1], "stream"))) || m < 0 || size < 1 ||
	    size > MAX || argc > 5 || (argc == 5 && (rtt || !count))) {
		fprintf(stderr, "usage: framing-cost stream raw|framed|copy|iov2|duct [SIZE] [count]\n"
				"       framing-cost rtt raw|framed|copy|iov2|duct [SIZE]"
				"   (SIZE 1 to %d, default 4096)\n", MAX);
		return 2;
	}
	cpu_set_t cpu;
	CPU_ZERO(&cpu);
	CPU_SET(0, &cpu);
	int sv[2];
	if (sched_setaffinity(0, sizeof cpu, &cpu) != 0 ||
	    socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0) {
		perror("framing_cost");
		return 1;
	}
	pid_t pid = fork();
	if (pid < 0) {
		perror("fork");
		return 1;
	}
	end e;
	if (pid == 0) { /* the receiver, or the echoing side */
		close(sv[0]);
		if (count)
			_exit(count_all(sv[1], (size + (m == RAW ? 0 : 5)) * (long long)MESSAGES) ? 1 : 0);
		if (open_end(&e, (enum mode)m, sv[1], (size_t)size))
			_exit(1);
		for (long i = 0; i < (rtt ? ROUNDS : MESSAGES); i++)
			if (recv_one(&e) || (rtt && send_one(&e)))
				_exit(1);
		_exit(0);
	}
	close(sv[1]);
	static double t[ROUNDS];
	int rc = open_end(&e, (enum mode)m, sv[0], (size_t)size);
	double t0 = now();
	for (long i = 0; rc == 0 && i < (rtt ? ROUNDS : MESSAGES); i++) {
		double a = rtt ? now() : 0;
		rc = send_one(&e) || (rtt && recv_one(&e));
		if (rtt)
			t[i] = now() - a;
	}
	double elapsed = now() - t0;
	int status;
	if (rc != 0 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status) ||
	    WEXITSTATUS(status) != 0) {
		fprintf(stderr, "framing_cost: %s\n", rc ? "the sender failed" : "the other side failed");
		return 1;
	}
	if (rtt) {
		qsort(t, ROUNDS, sizeof t[0], cmp);
		printf("rtt %s, %ld B: median %.2f us\n", modes[m], size, t[ROUNDS / 2] * 1e6);
	} else {
		printf("stream %s -> %s, %ld B: %.0f k msg/s\n", modes[m], count ? "count" : modes[m],
		       size, MESSAGES / elapsed / 1e3);
	}
	return 0;
}
