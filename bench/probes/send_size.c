/*
 * How fast a Unix stream socketpair carries messages of one size, sender
 * and reader pinned to CPU 0 (like duct-bench's pinned cases), one send()
 * per message and no framing.  Shows what crossing a page costs the
 * kernel: a framed 4 KiB message is 4,101 bytes on the wire.
 *
 *   cc -O2 bench/probes/send_size.c -o /tmp/send_size
 *   for n in 4096 4101; do /tmp/send_size $n; done
 */
#define _GNU_SOURCE
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

enum { MESSAGES = 300000, MAX = 1 << 16 };

static double now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	long n = argc == 2 ? strtol(argv[1], NULL, 10) : 0;
	if (n < 1 || n > MAX) {
		fprintf(stderr, "usage: send_size BYTES (1 to %d)\n", MAX);
		return 2;
	}
	cpu_set_t cpu;
	CPU_ZERO(&cpu);
	CPU_SET(0, &cpu);
	int sv[2];
	if (sched_setaffinity(0, sizeof cpu, &cpu) != 0 ||
	    socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0) {
		perror("send_size");
		return 1;
	}
	static char buf[MAX];
	pid_t pid = fork();
	if (pid < 0) {
		perror("fork");
		return 1;
	}
	if (pid == 0) { /* the reader: drain every byte */
		close(sv[0]);
		long long left = (long long)n * MESSAGES;
		while (left > 0) {
			ssize_t k = read(sv[1], buf, sizeof buf);
			if (k <= 0)
				_exit(1);
			left -= k;
		}
		_exit(0);
	}
	close(sv[1]);
	double t0 = now();
	for (long i = 0; i < MESSAGES; i++)
		for (long w = 0; w < n;) {
			ssize_t k = send(sv[0], buf + w, (size_t)(n - w), 0);
			if (k < 0) {
				perror("send");
				return 1;
			}
			w += k;
		}
	int status;
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) ||
	    WEXITSTATUS(status) != 0) {
		fprintf(stderr, "send_size: the reader failed\n");
		return 1;
	}
	printf("%ld B: %.0f k msg/s\n", n, MESSAGES / (now() - t0) / 1e3);
	return 0;
}
