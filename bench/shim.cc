// The only C++ in duct-bench: registers the C cases of bench.h with Google
// Benchmark and times exactly bench_run().  Everything measured is C.
//
//   duct-bench [Google Benchmark flags] [--bench_cpu=N] [--bench_smoke]
//              [--testee NAME|NAME=CMD]... [--pair A B]...
//
// --bench_cpu=N   the CPU the "pinned" cases share (default: the idlest at
//                 startup)
// --bench_smoke   run every case once, 1 message (ctest: no case rots)
// --testee T      also time an implementation through its testee
//                 (conformance/TESTEE.md, feature bench): the shipped
//                 libduct, python, ductworks, or NAME=CMD (sys_testee.c)
// --pair A B      A's parent streaming to B's child, both testees
//
// Counters: items_per_second (messages or round trips per second, wall
// time), bytes_per_second (payload, streaming), p50_us and p99_us (round
// trip percentiles).  Every socket case uses wall time: the benchmark
// process mostly waits for its peer, so CPU time would mean nothing.
#include <benchmark/benchmark.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "bench.h"

namespace {

const char usage[] =
	"usage: duct-bench [Google Benchmark flags] [--bench_cpu=N] [--bench_smoke]\n"
	"                  [--testee NAME|NAME=CMD]... [--pair A B]...\n"
	"\n"
	"Times libduct beside the raw-socket limit, ZeroMQ and nng (bench/README.md).\n"
	"  --bench_cpu=N     the CPU the pinned cases share (default: the idlest)\n"
	"  --bench_smoke     every case once, one message (no timing)\n"
	"  --testee T        also time an implementation through its testee\n"
	"                    (conformance/TESTEE.md, feature bench): libduct, python,\n"
	"                    ductworks, or NAME=CMD; repeatable\n"
	"  --pair A B        testee A as parent streaming to testee B as child\n"
	"  --help            this text; --benchmark_* flags: Google Benchmark's own\n"
	"Exit status: 0, 1 on a failed case or bad flag, 2 on a bad --testee or\n"
	"--pair, 77 when a testee says its implementation is not installed.\n";

// A case that errored makes the exit status 1, so that a smoke run fails.
bool any_failed = false;

void fail(benchmark::State &st)
{
	any_failed = true;
	st.SkipWithError(bench_error());
}

void run_case(benchmark::State &st, const bench_case *c)
{
	const benchmark::IterationCount n = st.max_iterations;
	bench_ctx *ctx = bench_setup(c, static_cast<uint64_t>(n));
	if (!ctx)
		fail(st);
	// One batch of exactly n messages: the C loop runs them all.
	while (st.KeepRunningBatch(n)) {
		if (bench_run(ctx) != 0)
			fail(st);
		else if (c->testee)
			st.SetIterationTime(bench_seconds(ctx));
	}
	if (!ctx)
		return;
	bench_out out{};
	if (bench_teardown(ctx, &out) != 0 && !st.error_occurred())
		fail(st);
	st.SetItemsProcessed(static_cast<int64_t>(out.items));
	if (c->kind != BENCH_RTT)
		st.SetBytesProcessed(static_cast<int64_t>(out.bytes));
	if (c->kind == BENCH_RTT) {
		st.counters["p50_us"] = out.p50_us;
		st.counters["p99_us"] = out.p99_us;
	}
}

std::string read_line(const char *path)
{
	std::string s;
	if (FILE *f = std::fopen(path, "r")) {
		char buf[256];
		if (std::fgets(buf, sizeof buf, f))
			s = buf;
		std::fclose(f);
	}
	while (!s.empty() && (s.back() == '\n' || s.back() == ' '))
		s.pop_back();
	return s;
}

} // namespace

int main(int argc, char **argv)
{
	if (argc > 1 && std::strcmp(argv[1], "--bench-peer") == 0)
		return bench_peer_main(argc - 2, argv + 2);

	int cpu = -1;
	bool smoke = false;
	std::vector<char *> args;
	for (int i = 0; i < argc; i++) {
		const char *a = argv[i];
		int rc = 0;
		if (!std::strcmp(a, "-h") || !std::strcmp(a, "--help")) {
			std::fputs(usage, stdout);
			return 0;
		} else if (std::strncmp(a, "--bench_cpu=", 12) == 0) {
			cpu = std::atoi(a + 12);
		} else if (std::strcmp(a, "--bench_smoke") == 0) {
			smoke = true;
		} else if (!std::strncmp(a, "--testee=", 9)) {
			rc = bench_add_testee(a + 9);
		} else if (!std::strcmp(a, "--testee") && i + 1 < argc) {
			rc = bench_add_testee(argv[++i]);
		} else if (!std::strcmp(a, "--pair") && i + 2 < argc) {
			rc = bench_add_pair(argv[i + 1], argv[i + 2]);
			i += 2;
		} else if (!std::strcmp(a, "--testee") || !std::strcmp(a, "--pair")) {
			std::fprintf(stderr, "duct-bench: %s needs %s (try --help)\n", a,
				     a[2] == 't' ? "a testee" : "two testees");
			return 2;
		} else {
			args.push_back(argv[i]);
		}
		if (rc != 0) {
			std::fprintf(stderr, "duct-bench: %s: %s\n", a, bench_error());
			return 2;
		}
	}
	// A testee that cannot run fails here, once, not in every case.
	if (int rc = bench_check_testees()) {
		std::fprintf(stderr, "duct-bench: %s\n", bench_error());
		return rc == 77 ? 77 : 2;
	}
	int nargs = static_cast<int>(args.size());
	args.push_back(nullptr);
	benchmark::Initialize(&nargs, args.data());
	if (benchmark::ReportUnrecognizedArguments(nargs, args.data()))
		return 1;

	cpu = bench_init(cpu);
	benchmark::AddCustomContext("duct_bench_pinned_cpu", std::to_string(cpu));
	benchmark::AddCustomContext("duct_bench_loadavg_at_start",
				    read_line("/proc/loadavg"));

	const bench_case *cases;
	size_t n = bench_cases(&cases);
	for (size_t i = 0; i < n; i++) {
		const bench_case *c = &cases[i];
		auto *b = benchmark::RegisterBenchmark(c->name, run_case, c);
		if (c->testee)
			b->UseManualTime(); // the hot loop only (sys_testee.c)
		else if (c->kind != BENCH_JSON)
			b->UseRealTime();
		b->Unit(c->kind == BENCH_JSON ? benchmark::kNanosecond
					      : benchmark::kMicrosecond);
		if (smoke)
			b->Iterations(1);
	}
	benchmark::RunSpecifiedBenchmarks();
	benchmark::Shutdown();
	std::fprintf(stderr, "duct-bench: pinned cases on CPU %d; load average "
			     "at the end: %s\n",
		     cpu, read_line("/proc/loadavg").c_str());
	if (any_failed)
		std::fprintf(stderr, "duct-bench: a case failed (ERROR OCCURRED above)\n");
	return any_failed ? 1 : 0;
}
