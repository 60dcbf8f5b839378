// The only C++ in duct-bench: registers the C cases of bench.h with Google
// Benchmark and times exactly bench_run().  Everything measured is C.
//
//   duct-bench [Google Benchmark flags] [--bench_cpu=N] [--bench_smoke]
//
// --bench_cpu=N   the CPU the "pinned" cases share (default: the idlest at
//                 startup)
// --bench_smoke   run every case once, 1 message (ctest: no case rots)
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

void run_case(benchmark::State &st, const bench_case *c)
{
	const benchmark::IterationCount n = st.max_iterations;
	bench_ctx *ctx = bench_setup(c, static_cast<uint64_t>(n));
	if (!ctx)
		st.SkipWithError(bench_error());
	// One batch of exactly n messages: the C loop runs them all.
	while (st.KeepRunningBatch(n)) {
		if (bench_run(ctx) != 0)
			st.SkipWithError(bench_error());
	}
	if (!ctx)
		return;
	bench_out out{};
	if (bench_teardown(ctx, &out) != 0 && !st.error_occurred())
		st.SkipWithError(bench_error());
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
		if (std::strncmp(argv[i], "--bench_cpu=", 12) == 0)
			cpu = std::atoi(argv[i] + 12);
		else if (std::strcmp(argv[i], "--bench_smoke") == 0)
			smoke = true;
		else
			args.push_back(argv[i]);
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
		if (c->kind != BENCH_JSON)
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
	return 0;
}
