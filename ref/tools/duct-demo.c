/*
 * duct-demo: a parent and a fork+exec'd child exchange JSON messages.
 *
 * The parent binds, starts a copy of this program with the address on its
 * command line (the way a real program hands a duct to a helper process),
 * sends a few JSON values, and prints what the child sends back.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "duct/duct.h"
#include "duct/json.h"

static void usage(FILE *f)
{
	fprintf(f,
		"usage: duct-demo [--transport unix|tcp] [--count N]\n"
		"       duct-demo --child ADDRESS\n"
		"\n"
		"Without --child: bind a parent duct, fork+exec a child that\n"
		"connects to it, send N JSON messages (default 3) and print the\n"
		"replies.  With --child: connect to ADDRESS (unix:PATH or\n"
		"tcp:HOST:PORT) and echo every message back with a field added.\n");
}

static int fail(const char *what, int rc)
{
	fprintf(stderr, "duct-demo: %s: %s (%s)\n", what, duct_strerror(rc),
		duct_err_name(rc));
	return 1;
}

static int child(const char *address)
{
	int rc;
	duct *d = duct_child_new(address, &rc);
	if (!d)
		return fail(address, rc);
	if ((rc = duct_connect(d)) != DUCT_OK)
		return fail("connect", rc);
	void *v;
	while ((rc = duct_recv_value(d, &v)) == DUCT_OK) {
		json_object *reply = json_object_new_object();
		json_object_object_add(reply, "echo", v);
		json_object_object_add(reply, "child_pid",
				       json_object_new_int64(getpid()));
		rc = duct_send_value(d, reply);
		json_object_put(reply);
		if (rc != DUCT_OK)
			break;
	}
	duct_free(d);
	return rc == DUCT_EOF ? 0 : fail("child", rc);
}

static int parent(const char *transport, int count)
{
	int rc;
	duct *d = duct_parent_new(strcmp(transport, "tcp") == 0 ? "tcp:" : "unix:", &rc);
	if (!d)
		return fail("parent", rc);
	if ((rc = duct_bind(d)) != DUCT_OK)
		return fail("bind", rc);
	printf("parent %d bound at %s\n", (int)getpid(), duct_address(d));
	fflush(stdout);

	pid_t pid = fork();
	if (pid == 0) {
		execl("/proc/self/exe", "duct-demo", "--child", duct_address(d),
		      (char *)NULL);
		_exit(127);
	}
	if (pid < 0)
		return fail("fork", duct_syserr(errno));
	if ((rc = duct_listen(d, 10000)) != DUCT_OK)
		return fail("listen", rc);
	printf("child %d connected; listener closed\n", (int)pid);

	for (int i = 0; i < count && rc == DUCT_OK; i++) {
		json_object *msg = json_object_new_object();
		json_object_object_add(msg, "seq", json_object_new_int(i));
		json_object_object_add(msg, "text", json_object_new_string("h\xc3\xa9llo \xf0\x9f\xa6\x86"));
		json_object_object_add(msg, "ratio", json_object_new_double(i / 3.0));
		duct_buf out = {0};
		rc = duct_json_encode(msg, &out);
		if (rc == DUCT_OK) {
			printf("parent -> %.*s\n", (int)out.len, (const char *)out.data);
			rc = duct_send_value(d, msg);
		}
		json_object_put(msg);
		if (rc == DUCT_OK) {
			const void *p;
			size_t len;
			if ((rc = duct_recv(d, &p, &len)) == DUCT_OK)
				printf("parent <- %.*s\n", (int)len, (const char *)p);
		}
		duct_buf_free(&out);
	}
	duct_free(d); /* the child sees EOF and exits */
	int status = 0;
	for (int waited = 0; waitpid(pid, &status, WNOHANG) == 0; waited++) {
		if (waited == 100) { /* 10 s: a stuck child is an error */
			kill(pid, SIGKILL);
			waitpid(pid, &status, 0);
			break;
		}
		usleep(100 * 1000);
	}
	if (rc != DUCT_OK)
		return fail("exchange", rc);
	printf("child exited with status %d\n", WIFEXITED(status) ? WEXITSTATUS(status) : -1);
	return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : 1;
}

static int parse_count(const char *s, int *count)
{
	char *end;
	errno = 0;
	long n = strtol(s, &end, 10);
	if (errno || end == s || *end || n < 0 || n > 1000000)
		return 0;
	*count = (int)n;
	return 1;
}

int main(int argc, char **argv)
{
	const char *transport = "unix";
	int count = 3;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			usage(stdout);
			return 0;
		} else if (strcmp(argv[i], "--child") == 0 && i + 1 < argc) {
			return child(argv[i + 1]);
		} else if (strcmp(argv[i], "--transport") == 0 && i + 1 < argc &&
			   (strcmp(argv[i + 1], "unix") == 0 ||
			    strcmp(argv[i + 1], "tcp") == 0)) {
			transport = argv[++i];
		} else if (strcmp(argv[i], "--count") == 0 && i + 1 < argc &&
			   parse_count(argv[i + 1], &count)) {
			i++;
		} else {
			fprintf(stderr, "duct-demo: bad argument '%s'\n", argv[i]);
			usage(stderr);
			return 2;
		}
	}
	return parent(transport, count);
}
