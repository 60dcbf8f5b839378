/*
 * duct-conform: runs conformance cases against a testee (TESTEE.md).
 *
 * A case gets a context (cx) holding the testee process and the runner's
 * own end of the duct.  Helpers fail the case with a message saying what
 * was expected and what came; the first failure wins and later helpers
 * become no-ops, so a case body reads as a straight list of steps.
 */
#ifndef DUCT_CONFORM_H
#define DUCT_CONFORM_H

#include <stddef.h>
#include <stdint.h>
#include <pthread.h>
#include <sys/types.h>

enum level { LV_MUST, LV_SHOULD, LV_MAY };
/* The testee's role; in an interop case (ROLE_PAIR) two testees are joined,
 * the first as parent, the second as child. */
enum role { ROLE_PARENT, ROLE_CHILD, ROLE_PAIR };
enum transport { TR_UNIX, TR_TCP };

enum verdict {
	V_PASS,
	V_FAIL,        /* the testee broke the requirement */
	V_UNSUPPORTED, /* the testee lacks an optional feature */
	V_SKIP,        /* not applicable here */
	V_XFAIL,       /* failed, and listed as an expected failure */
	V_XPASS,       /* passed, but listed as an expected failure */
};

/* Case flags. */
enum {
	CF_NO_SETUP = 1,  /* the case connects by itself */
	CF_ONCE = 2,      /* transport- and role-independent: run once */
	CF_UNIX_ONLY = 4,
	CF_PARENT_ONLY = 8, /* the testee must be the parent */
	CF_CHILD_ONLY = 16,
	CF_TCP_ONLY = 32,
	/* The verdict rests on time the runner or the testee measures (poll
	 * ELAPSED, medians, timeouts, sleeps against a retry window): under
	 * --jobs these cases run alone, one at a time, after the others. */
	CF_TIMED = 64,
};

/* A growable byte string. */
typedef struct {
	uint8_t *p;
	size_t n, cap;
} bytes;
void bytes_put(bytes *b, const void *p, size_t n);
void bytes_free(bytes *b);

typedef struct cx cx;
typedef void (*case_fn)(cx *c, const void *arg);
/* An interop case: p is the parent testee, ch the child, connected. */
typedef void (*pair_fn)(cx *p, cx *ch, const void *arg);

typedef struct {
	char id[96];
	char reqs[64];      /* "RECV-2 RECV-7" */
	enum level level;
	int flags;
	case_fn fn;
	void *arg;          /* case data (a vector) */
	const char *about;  /* one line */
	void (*free_arg)(void *);
	pair_fn pair;       /* an interop case (interop.c): fn is NULL */
} conf_case;

/* The context of one running case. */
struct cx {
	const conf_case *kase;
	enum role role;
	enum transport tr;
	double scale;        /* --timeout-scale */
	/* the testee */
	pid_t pid;
	int in_fd, out_fd;   /* its stdin (we write), stdout (we read) */
	char *rbuf;          /* reply buffer */
	size_t rlen, rcap;
	char *reply;         /* the last reply line */
	char *stderr_path;
	char features[128];
	int unavailable;     /* it exited with status 77 (TESTEE.md section 1) */
	/* the runner's end of the duct */
	int sock;
	int lsock;           /* a listener when the testee is the child */
	char addr[300];      /* the address the runner listens on */
	char privdir[128];
	/* outcome */
	enum verdict verdict;
	char *msg;           /* why it failed, multi-line */
	bytes sent, got;     /* transcript of the runner's socket */
	bytes ctl;           /* transcript of the control channel */
	pthread_t writer;
	int writer_running;
	int writer_rc;
	struct writer_job *job;
};

/* A context with no testee and no socket yet (k may be NULL outside a
 * case); cx_release() frees what it gathered, after testee_stop() and
 * peer_cleanup(). */
void cx_init(cx *c, const conf_case *k, enum role role, enum transport tr, double scale);
void cx_release(cx *c);

/* Deadlines, scaled by --timeout-scale. */
int cx_ms(const cx *c, int ms);

/* ---- failing ---------------------------------------------------------- */
void cx_fail(cx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void cx_unsupported(cx *c, const char *what);
/* parent unix|tcp (the case's transport); the address it reports into
 * addr.  0, or -1 when the case has failed. */
int cx_parent(cx *c, char *addr, size_t n);
/* Joins two testees by their own duct (an interop pair, or duct-bench
 * --pair): p binds over p->tr, ch connects, p accepts; with child_first
 * the child's connect must complete before the accept.  0, or -1 when
 * either has failed. */
int cx_pair_connect(cx *p, cx *ch, int child_first);
/* The peer has closed: sends until the testee reports 'pipe' (SEND-3). */
void cx_expect_pipe(cx *c);
/* An optional command of a feature (TESTEE.md 3.x); without it the case is
 * UNSUPPORTED.  0 with the reply in c->reply, or -1. */
int cx_optional(cx *c, int ms, const char *cmd);
/* set-timeout MS (feature timeout); without it the case is UNSUPPORTED.
 * 0, or -1 when the case cannot go on. */
int cx_set_timeout(cx *c, int ms);
int cx_failed(const cx *c);

/* ---- the testee (testee.c) ------------------------------------------- */
/* The command of a testee given by name (TESTEE.md: libduct, python,
 * ductworks), as NAME=CMD, or as a bare CMD; *name gets its name.  libduct
 * is the path of duct-testee, srcdir the source tree (the Python testees).
 * Both strings are malloc'd. */
char *testee_command(const char *v, const char *libduct, const char *srcdir, char **name);
int testee_start(cx *c, const char *cmd);
void testee_stop(cx *c);
/* Sends a command and waits up to ms for the reply (in c->reply).  0, or
 * -1 when the case has failed (the testee died, hung, or a helper failed
 * earlier). */
int cx_cmd(cx *c, int ms, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Sends a command without waiting; cx_wait_reply() collects the reply. */
int cx_send_cmd(cx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int cx_wait_reply(cx *c, int ms);
/* Nonzero if a reply line arrives within ms (it is then in c->reply). */
int cx_reply_within(cx *c, int ms);
/* cx_cmd, then the reply must be exactly want. */
int cx_expect(cx *c, int ms, const char *want, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
/* The last reply is want; an error reply may carry free text after it. */
int cx_reply_is(const cx *c, const char *want);
int cx_has_feature(const cx *c, const char *f);
/* Says hello; checks the contract version and keeps the features in
 * c->features (the reply stays in c->reply).  0, or -1 when it failed. */
int testee_hello(cx *c);
/* Peak virtual memory of the testee in KiB (/proc), or -1. */
long testee_vm_peak_kb(const cx *c);

/* ---- the runner's end of the duct (peer.c) --------------------------- */
/* Connects the testee in c->role over c->tr; c->sock is then ready. */
int cx_connect(cx *c);
/* Makes a listener for the testee-as-child case (c->lsock, c->addr). */
int peer_listen(cx *c);
int peer_accept(cx *c, int ms);
int peer_connect_to(cx *c, const char *address, int *err);
void peer_write(cx *c, const void *p, size_t n);
/* Writes in the background: chunk sizes (NULL: one piece), a pause
 * between chunks, and a close when done (close_after). */
void peer_write_async(cx *c, const uint8_t *p, size_t n, const size_t *chunks,
		      size_t nchunks, int pause_ms, int close_after);
/* Waits for the background writer; a write error fails the case only if
 * must_succeed (a testee that rejects a stream may close it early). */
int peer_join(cx *c, int must_succeed);
/* Reads exactly n bytes within ms; 0 on success. */
int peer_read(cx *c, void *buf, size_t n, int ms);
/* Reads one frame of at most limit payload bytes into out. */
int peer_read_frame(cx *c, bytes *out, size_t limit, int ms);
/* Reads one frame whose payload must be want[0..n). */
int peer_expect_frame(cx *c, const void *want, size_t n, int ms);
/* 1 if the peer closed (EOF or reset) within ms, 0 if still open. */
int peer_eof_within(cx *c, int ms);
void peer_close(cx *c);
void peer_cleanup(cx *c);

/* ---- the network between the runner and its testees (netns.c) -------- */
/* --netns: moves the runner into a fresh network namespace and makes one
 * for the testees, joined by a veth pair (and a tbf qdisc of rate, e.g.
 * "20mbit", unless NULL).  Before any thread or testee exists.  0; 77 if
 * this machine cannot (no rights, no ip); -1 on another failure; err says
 * why. */
int net_setup(const char *rate, char *err, size_t n);
/* In a testee's process before exec: into the testees' namespace. */
void net_enter_testee_ns(void);
/* The runner's TCP host; the testee's (NULL without --netns). */
const char *net_runner_host(void);
const char *net_testee_host(void);
/* "loopback", or the link --netns made, for the reports. */
const char *net_describe(void);
/* What crossed the link so far, as a sentence; -1 without --netns. */
int net_traffic(char *out, size_t n);

/* ---- helpers ---------------------------------------------------------- */
#define MIB (1u << 20)
/* The 5-byte header of a frame of len bytes (PROTOCOL.md FRAME-1). */
void frame_header(uint8_t h[5], uint32_t len);
/* A whole frame carrying p[0..n); the caller frees it. */
bytes frame(const void *p, size_t n);
uint64_t fnv1a(uint64_t h, const void *p, size_t n);
#define FNV_INIT 0xcbf29ce484222325ULL
void pattern(uint8_t *p, size_t n, unsigned seed);
char *hex(const uint8_t *p, size_t n); /* malloc'd; "-" for empty */
int unhex(const char *s, bytes *out);
long now_ms(void);
/* Sorts v[0..n) and returns its middle value. */
long median(long *v, size_t n);
/* cmd three times, each reply exactly want: the median of the times the
 * runner saw, command to reply, in ms; -1 when the case has failed. */
long cx_median_ms(cx *c, const char *want, const char *cmd);
/* TESTEE.md send-many: message k into p (61 bytes suffice); its length. */
size_t many_message(size_t k, unsigned seed, uint8_t *p);
/* recv-many's digest of send-many COUNT SEED. */
uint64_t many_digest(size_t count, unsigned seed);
void hexdump(char **out, const char *title, const bytes *b, size_t limit);
void appendf(char **s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* ---- case tables -------------------------------------------------------- */
/* The hand-written cases in the order of PROTOCOL.md's sections, one file
 * each: case_frame.c (2), case_recv.c (3), case_send.c (4), case_life.c
 * (5), case_addr.c (6), case_poll.c (7: poll, close, timeouts),
 * case_json.c (8), case_sec.c (9). */
void cases_builtin(conf_case **v, size_t *n);
void cases_frame(conf_case **v, size_t *n);
void cases_recv(conf_case **v, size_t *n);
void cases_send(conf_case **v, size_t *n);
void cases_life(conf_case **v, size_t *n);
void cases_addr(conf_case **v, size_t *n);
void cases_poll(conf_case **v, size_t *n);
void cases_json(conf_case **v, size_t *n);
void cases_sec(conf_case **v, size_t *n);
/* sec.cloexec's program: duct-conform run under this name lists its open
 * descriptors ("FD:TARGET ...") and exits. */
#define REPORT_FDS_NAME "duct-conform-report-fds"
int sec_report_fds(void);
/* Loads vector files from dir (the repo's vectors/); 0 or -1 with a
 * message on stderr. */
int cases_vectors(const char *dir, conf_case **v, size_t *n);
/* Frees a case table and what its vectors loaded. */
void cases_free(conf_case *v, size_t n);
void cases_vectors_free(void);
void cases_add(conf_case **v, size_t *n, const conf_case *c);
void cases_add_all(conf_case **v, size_t *n, const conf_case *table, size_t count);
/* The interop cases (interop.c), and how a pair is joined before each. */
void cases_interop(conf_case **v, size_t *n);
int interop_connect(cx *p, cx *ch, const conf_case *k);
/* Calls fn for each loaded JSON vector: the bytes to send, Python's bytes
 * back (python), an acceptable alternative (alt, n 0 if none), whether a
 * refusal is acceptable, whether the payload is invalid JSON. */
typedef void (*json_vector_fn)(void *ctx, const char *id, const bytes *input,
			       const bytes *python, const bytes *alt, int may_refuse,
			       int invalid);
void json_vectors_each(json_vector_fn fn, void *ctx);

#endif
