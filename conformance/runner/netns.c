/*
 * --netns: TCP across a real link.  The runner moves into a fresh network
 * namespace of its own and makes a second one for its testees; a veth
 * pair with MTU 1500 joins them, 198.18.0.1 on the runner's side and
 * 198.18.0.2 on the testees' (RFC 2544's benchmarking range).  Neither
 * namespace sees the machine's interfaces, so no packet can leave, and
 * both die with the runner: nothing is left to clean up.  Unix sockets
 * are paths in the one file system and work across the two as before.
 *
 * Needs root or unprivileged user namespaces, and ip (iproute2); tc too
 * for a rate.  Called once, before any thread, testee or --jobs worker
 * exists: they all inherit the runner's namespace.
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "conform.h"

#define RUNNER_IP "198.18.0.1"
#define TESTEE_IP "198.18.0.2"

static int testee_ns = -1; /* the testees' namespace, or -1: loopback */
static int cannot;         /* the failure was the machine's: no rights, no tool */
static char described[200] = "loopback";

const char *net_runner_host(void) { return testee_ns >= 0 ? RUNNER_IP : "127.0.0.1"; }
const char *net_testee_host(void) { return testee_ns >= 0 ? TESTEE_IP : NULL; }
const char *net_describe(void) { return described; }

void net_enter_testee_ns(void)
{
	if (testee_ns >= 0 && setns(testee_ns, CLONE_NEWNET) != 0)
		_exit(126);
}

/* Runs "ip ..." or "tc ..." (words split at spaces) in namespace ns (-1:
 * ours).  0, or -1 with what it printed in err. */
static int run_tool(int ns, char *err, size_t n, const char *fmt, ...)
{
	char line[256], *argv[24];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	char words[sizeof line];
	memcpy(words, line, sizeof line);
	int argc = 0;
	for (char *w = strtok(words, " "); w && argc < 23; w = strtok(NULL, " "))
		argv[argc++] = w;
	argv[argc] = NULL;
	int out[2];
	if (pipe2(out, O_CLOEXEC) != 0) {
		snprintf(err, n, "pipe: %s", strerror(errno));
		return -1;
	}
	pid_t pid = fork();
	if (pid == 0) {
		dup2(out[1], 1);
		dup2(out[1], 2);
		if (ns >= 0 && setns(ns, CLONE_NEWNET) != 0)
			_exit(126);
		execvp(argv[0], argv);
		_exit(127);
	}
	close(out[1]);
	char said[160] = "";
	ssize_t got = pid > 0 ? read(out[0], said, sizeof said - 1) : 0;
	close(out[0]);
	said[got > 0 ? got : 0] = '\0';
	said[strcspn(said, "\n")] = '\0';
	int status = -1;
	if (pid > 0)
		waitpid(pid, &status, 0);
	if (pid > 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return 0;
	if (pid < 0)
		snprintf(err, n, "fork: %s", strerror(errno));
	else if (WIFEXITED(status) && WEXITSTATUS(status) == 127 && (cannot = 1))
		snprintf(err, n, "'%s': %s is not installed (Debian: iproute2)", line, argv[0]);
	else
		snprintf(err, n, "'%s' failed: %s", line, said[0] ? said : "no message");
	return -1;
}

/* Our own fresh namespace: as root, or else inside a user namespace of our
 * own where we are root (the testees then are too, in there only). */
static int own_namespace(char *err, size_t n)
{
	if (unshare(CLONE_NEWNET) == 0)
		return 0;
	int first = errno;
	/* Our ids as they are outside: inside, until mapped, they read 65534. */
	char uid_map[32], gid_map[32];
	snprintf(uid_map, sizeof uid_map, "0 %u 1", (unsigned)getuid());
	snprintf(gid_map, sizeof gid_map, "0 %u 1", (unsigned)getgid());
	if (first == EPERM && unshare(CLONE_NEWUSER | CLONE_NEWNET) == 0) {
		const char *file[3] = {"/proc/self/setgroups", "/proc/self/uid_map",
				       "/proc/self/gid_map"};
		const char *line[3] = {"deny", uid_map, gid_map};
		int ok = 1;
		for (int i = 0; i < 3 && ok; i++) {
			int fd = open(file[i], O_WRONLY | O_CLOEXEC);
			ok = fd >= 0 && write(fd, line[i], strlen(line[i])) == (ssize_t)strlen(line[i]);
			if (fd >= 0)
				close(fd);
		}
		if (ok)
			return 0;
		snprintf(err, n, "cannot map our ids in a user namespace: %s", strerror(errno));
		return -1;
	}
	cannot = 1;
	snprintf(err, n, "cannot make a network namespace: %s (needs root, or unprivileged "
		 "user namespaces: sysctl kernel.unprivileged_userns_clone, "
		 "user.max_user_namespaces)", strerror(first));
	return -1;
}

int net_setup(const char *rate, char *err, size_t n)
{
	if (own_namespace(err, n))
		return cannot ? 77 : -1;
	/* A process in a namespace of its own holds it while the veth's end
	 * is moved there by pid; our descriptor of it keeps it after. */
	int ready[2], hold[2];
	if (pipe2(ready, O_CLOEXEC) || pipe2(hold, O_CLOEXEC)) {
		snprintf(err, n, "pipe: %s", strerror(errno));
		return -1;
	}
	pid_t holder = fork();
	if (holder == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		close(hold[1]); /* or its read below never sees the runner let go */
		close(ready[0]);
		char e = unshare(CLONE_NEWNET) == 0 ? 0 : (char)errno, b;
		if (write(ready[1], &e, 1) == 1 && !e)
			(void)!read(hold[0], &b, 1); /* until the runner lets go */
		_exit(0);
	}
	close(ready[1]);
	close(hold[0]);
	char e = 1;
	if (holder < 0 || read(ready[0], &e, 1) != 1 || e) {
		snprintf(err, n, "cannot make the testees' namespace: %s",
			 holder < 0 ? strerror(errno) : strerror(e));
		close(ready[0]);
		close(hold[1]);
		if (holder > 0)
			waitpid(holder, NULL, 0);
		return -1;
	}
	char path[64];
	snprintf(path, sizeof path, "/proc/%d/ns/net", (int)holder);
	int ns = open(path, O_RDONLY | O_CLOEXEC);
	int rc = ns < 0 ? (snprintf(err, n, "%s: %s", path, strerror(errno)), -1) : 0;
	if (!rc)
		rc = run_tool(-1, err, n, "ip link set lo up") ||
		     /* One segment per packet: without it veth passes 64 KiB
		      * GSO packets whole, and no segment is ever MTU-sized. */
		     run_tool(-1, err, n, "ip link add duct-r gso_max_segs 1 type veth peer name "
			      "duct-t gso_max_segs 1") ||
		     run_tool(-1, err, n, "ip link set duct-t netns %d", (int)holder) ||
		     run_tool(-1, err, n, "ip addr add " RUNNER_IP "/30 dev duct-r") ||
		     run_tool(-1, err, n, "ip link set duct-r mtu 1500 up") ||
		     run_tool(ns, err, n, "ip link set lo up") ||
		     run_tool(ns, err, n, "ip addr add " TESTEE_IP "/30 dev duct-t") ||
		     run_tool(ns, err, n, "ip link set duct-t mtu 1500 up");
	/* A slow link: tc's token bucket on each end (netem is not in every
	 * kernel); what overflows its queue is dropped, as on a real link. */
	if (!rc && rate)
		rc = run_tool(-1, err, n, "tc qdisc add dev duct-r root tbf rate %s burst 32kb "
			      "latency 50ms", rate) ||
		     run_tool(ns, err, n, "tc qdisc add dev duct-t root tbf rate %s burst 32kb "
			      "latency 50ms", rate);
	close(hold[1]);
	close(ready[0]);
	waitpid(holder, NULL, 0);
	if (rc) {
		if (ns >= 0)
			close(ns);
		return cannot ? 77 : -1;
	}
	testee_ns = ns;
	snprintf(described, sizeof described, "netns: runner " RUNNER_IP ", testee " TESTEE_IP
		 ", veth MTU 1500%s%s", rate ? ", tbf rate " : "", rate ? rate : "");
	return 0;
}

int net_traffic(char *out, size_t n)
{
	FILE *f = testee_ns >= 0 ? fopen("/proc/self/net/dev", "r") : NULL;
	char line[512];
	unsigned long long rb, rp, tb, tp;
	int found = 0;
	while (f && !found && fgets(line, sizeof line, f))
		found = sscanf(line, " duct-r: %llu %llu %*u %*u %*u %*u %*u %*u %llu %llu", &rb, &rp,
			       &tb, &tp) == 4;
	if (f)
		fclose(f);
	if (found)
		snprintf(out, n, "the link carried %llu packets, %llu bytes (runner to testees: "
			 "%llu packets, %llu bytes)", rp + tp, rb + tb, tp, tb);
	return found ? 0 : -1;
}
