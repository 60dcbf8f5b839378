/*
 * duct-bench: the C side of the benchmarks.  Google Benchmark is C++, so
 * shim.cc registers the cases listed here and drives them; everything that
 * is measured is C, in these files:
 *
 *   harness.c   the case list, the peer process (fork + exec of this same
 *               binary), CPU pinning, the timed loops, percentiles
 *   sys_*.c     one "system" each: how to connect, send and receive with
 *               raw sockets (the limit), libduct, ZeroMQ PAIR, nng pair1;
 *               sys_testee.c: any implementation through its testee
 *               (--testee), driven by the conformance runner's code
 *   json_case.c JSON encode + decode through the default serializer
 *
 * A case runs in three steps, so that only the middle one is timed:
 * bench_setup() starts the peer process and connects to it,
 * bench_run() moves n messages (the shim times exactly this call), and
 * bench_teardown() stops the peer and fills in the results.
 */
#ifndef DUCT_BENCH_H
#define DUCT_BENCH_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

enum bench_kind { BENCH_STREAM, BENCH_RTT, BENCH_JSON };
enum bench_transport { BENCH_UNIX, BENCH_TCP, BENCH_NONE };

/*
 * A system under test.  Every function returns 0 on success, or -1 after
 * writing a reason with bench_fail().  Connections and listeners are
 * opaque.  Message sizes are payload bytes; a system without framing (raw)
 * carries a 0-byte message as one byte, the least a stream can carry.
 */
typedef struct bench_sys {
	const char *name;
	int stream_only;        /* no round-trip cases (batching systems) */
	/* Parent: listens on transport (a Unix socket inside dir); writes
	 * the address the peer must connect to. */
	int (*listen)(int transport, const char *dir, void **srv, char *addr,
		      size_t addrlen);
	/* Parent: waits (bounded) for the peer.  Consumes srv, whether it
	 * succeeds or not: the listener is closed or becomes the connection. */
	int (*accept)(void *srv, void **conn);
	/* Releases a listener that accept() was never given. */
	void (*close_srv)(void *srv);
	/* Peer: connects to addr. */
	int (*connect)(int transport, const char *addr, void **conn);
	void (*close)(void *conn);
	/* One message of len bytes; receiving checks the length is want. */
	int (*send1)(void *conn, const void *buf, size_t len);
	int (*recv1)(void *conn, size_t want);
	/* n messages of len bytes each (the streaming hot loops). */
	int (*send_n)(void *conn, const void *buf, size_t len, uint64_t n);
	int (*recv_n)(void *conn, size_t len, uint64_t n);
} bench_sys;

extern const bench_sys bench_sys_raw, bench_sys_duct, bench_sys_duct_batch;
#ifdef BENCH_HAVE_ZMQ
extern const bench_sys bench_sys_zmq;
#endif
#ifdef BENCH_HAVE_NNG
extern const bench_sys bench_sys_nng, bench_sys_nng_buf;
#endif

/* An implementation behind the testee contract (sys_testee.c). */
typedef struct bench_testee {
	char *name, *cmd;
} bench_testee;

typedef struct bench_case {
	char name[160];         /* e.g. "stream/unix/pinned/64/duct" */
	enum bench_kind kind;
	int transport;
	int pinned;             /* both processes on one CPU */
	size_t size;            /* payload bytes */
	const bench_sys *sys;   /* NULL for JSON and testee cases */
	int json_impl;          /* JSON cases: 0 libduct, 1 json-c's own */
	/* Testee cases: the testee, with libduct in this process at the other
	 * end, or the parent of a pair whose child is child. */
	const bench_testee *testee, *child;
	int testee_recv;        /* stream: the testee receives */
	int value;              /* rtt: through its default serializer */
} bench_case;

/* The results of one run, filled by bench_teardown(). */
typedef struct bench_out {
	uint64_t items, bytes;  /* messages and payload bytes moved */
	double p50_us, p99_us;  /* round-trip percentiles (RTT cases) */
} bench_out;

typedef struct bench_ctx bench_ctx;

/* Adds the cases of a testee ("python", "NAME=CMD": TESTEE.md's names) or
 * of a pair (parent a, child b), before the first bench_cases().  The
 * benchmark process must stay where this was called: libduct's testee is
 * found beside it.  0, or -1 (see bench_error()). */
int bench_add_testee(const char *spec);
int bench_add_pair(const char *a, const char *b);
/* Starts each testee once to see that it answers and offers the bench
 * feature.  0; 77 when one says its implementation is not installed
 * (TESTEE.md section 1); 1 otherwise (see bench_error()). */
int bench_check_testees(void);

/* The cases, in registration order.  Returns their number. */
size_t bench_cases(const bench_case **cases);

/* Sets the CPU pinned cases run on (-1: pick the idlest at startup).
 * Returns the CPU chosen. */
int bench_init(int cpu);

/* Starts the case for n messages; NULL on failure (see bench_error()). */
bench_ctx *bench_setup(const bench_case *c, uint64_t n);
/* The timed part.  0, or -1 (see bench_error()). */
int bench_run(bench_ctx *ctx);
/* Testee cases time themselves (sys_testee.c): the seconds of the last
 * bench_run(); a negative value for the other cases, timed by the caller. */
double bench_seconds(const bench_ctx *ctx);
/* Stops the peer, checks how it ended, frees ctx.  0 or -1. */
int bench_teardown(bench_ctx *ctx, bench_out *out);

/* The reason for the last failure. */
const char *bench_error(void);
/* Records a failure reason (printf-style); returns -1. */
int bench_fail(const char *fmt, ...)
	__attribute__((format(printf, 1, 2)));

/* Payloads carry the pattern of TESTEE.md's send-pattern SIZE 0, so that
 * testees (feature bench) send and check the same bytes: byte k is 7 * k
 * mod 256.  bench_check() tests the first and last bytes only, cheap
 * enough for every message of a hot loop yet enough to catch a shifted or
 * truncated frame. */
void bench_fill(uint8_t *p, size_t len);
static inline int bench_check(const void *payload, size_t len)
{
	const uint8_t *p = (const uint8_t *)payload;
	return len == 0 || (p[0] == 0 && p[len - 1] == (uint8_t)((len - 1) * 7));
}

/* The peer process: argv after "--bench-peer".  Returns the exit status. */
int bench_peer_main(int argc, char **argv);

/* Testee cases (sys_testee.c).  bench_tee_setup() starts the testee and
 * joins it to libduct listening in dir (or its pair); bench_tee_run() runs
 * one loop of n messages, filling rtt_ns[0..n) for round trips and the
 * time of the loop. */
typedef struct bench_tee bench_tee;
bench_tee *bench_tee_setup(const bench_case *c, const char *dir);
int bench_tee_run(bench_tee *t, const bench_case *c, uint64_t n, const uint8_t *payload,
		  uint32_t *rtt_ns, uint64_t *elapsed_ns);
void bench_tee_free(bench_tee *t);
/* The payload of the -value cases: a JSON string of len bytes. */
void bench_tee_value(uint8_t *p, size_t len);
/* Starts who, says hello and stops it: 0, or -1 with *unavailable set when
 * it exited with status 77. */
int bench_testee_probe(const bench_testee *who, int *unavailable);

/* JSON cases (json_case.c). */
void *bench_json_setup(int impl);
int bench_json_run(void *ctx, uint64_t n);
void bench_json_free(void *ctx, uint64_t *bytes);

/* Receive and send timeouts of every connection, so that a dead peer
 * fails a case instead of hanging the run. */
#define BENCH_TIMEOUT_MS 20000

#ifdef __cplusplus
}
#endif
#endif
