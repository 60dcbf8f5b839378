#!/usr/bin/env bash
# Runs the benchmarks: installs what is missing, builds duct-bench in
# Release, runs every case with repetitions (randomly interleaved, so slow
# spells of a shared machine spread over all systems), and writes under
# bench/results/RUN/ the Google Benchmark JSON (results.json), its console
# log, the ratio table (table.md, also printed) and the plots (stream and
# rtt, PNG and SVG).  bench/results/latest points to the last run.
#
#   ci/bench.sh                 the full suite: 5 repetitions of >= 0.5 s
#   ci/bench.sh --quick         a smoke run: 5 repetitions of >= 0.02 s, under 2 min
#   ci/bench.sh --reps N --min-time S --filter REGEX --cpu N --out DIR --no-plots
#   ci/bench.sh --preload LIB   run duct-bench with LIB preloaded (e.g. the
#                               regression made to order, bench/README.md)
#   ci/bench.sh --testee T      also time an implementation through its testee
#                               (libduct, python, ductworks or NAME=CMD;
#                               repeatable); --pair A B: A sending to B
#
# Then compare two runs with ci/bench-compare BASE.json NEW.json.
set -euo pipefail
cd "$(dirname "$0")/.."

reps=5 min_time=0.5 filter="" cpu="" out="" plots=1 quick=0 preload=""
testees=()
while [ $# -gt 0 ]; do
	case "$1" in
	--quick) quick=1 reps=5 min_time=0.02 ;;
	--reps) reps=$2; shift ;;
	--min-time) min_time=$2; shift ;;
	--filter) filter=$2; shift ;;
	--cpu) cpu=$2; shift ;;
	--out) out=$2; shift ;;
	--no-plots) plots=0 ;;
	--preload) preload=$2; shift ;;
	--testee) testees+=(--testee "$2"); shift ;;
	--pair) testees+=(--pair "$2" "$3"); shift 2 ;;
	-h | --help)
		sed -n '2,18p' "$0" | sed 's/^# \{0,1\}//'
		exit 0
		;;
	*)
		echo "ci/bench.sh: unknown option '$1' (try --help)" >&2
		exit 2
		;;
	esac
	shift
done

step() { printf '\n==> %s\n' "$*"; }
jobs=$(nproc 2>/dev/null || echo 2)

step "dependencies"
pkgs=(cmake gcc g++ make pkg-config libcmocka-dev libjson-c-dev libbenchmark-dev libzmq3-dev libnng-dev python3)
[ "$plots" = 1 ] && pkgs+=(python3-matplotlib)
ci/deps.sh "${pkgs[@]}"

src=. build=build/bench
if ! grep -q 'add_subdirectory(bench)' CMakeLists.txt; then
	# The top-level CMakeLists.txt does not add bench/ (bench/README.md
	# gives the lines): build through a small wrapper project instead.
	src=build/bench-src build=build/bench-wrapped
	mkdir -p "$src"
	cat >"$src/CMakeLists.txt" <<EOF
cmake_minimum_required(VERSION 3.16)
project(duct_bench_wrapper LANGUAGES C CXX)
add_subdirectory($PWD duct)
set(CMAKE_C_STANDARD 11)
set(CMAKE_C_EXTENSIONS OFF)
add_compile_options(-Wall -Wextra -Werror)
add_subdirectory($PWD/bench bench)
EOF
fi

step "build duct-bench (Release)"
cmake -S "$src" -B "$build" -DCMAKE_BUILD_TYPE=Release -DDUCT_BUILD_BENCH=ON -DDUCT_BUILD_TESTS=OFF >/dev/null
cmake --build "$build" -j"$jobs" --target duct-bench duct-split-send

run=$(date -u +%Y%m%d-%H%M%S)$([ "$quick" = 1 ] && echo -quick || true)
[ -n "$out" ] || out=bench/results/$run
mkdir -p "$out"

# What else the machine is doing, recorded with the results (read-only).
load_start=$(cut -d' ' -f1-3 /proc/loadavg)
afl=$(pgrep -c afl-fuzz 2>/dev/null || true)
commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
dirty=$(git diff --quiet -- ref bench 2>/dev/null && echo clean || echo modified)

step "run: $reps repetitions, min time ${min_time}s, load average $load_start, AFL++ processes: ${afl:-0}"
args=(--benchmark_repetitions="$reps" --benchmark_min_time="$min_time"
	--benchmark_enable_random_interleaving=true
	--benchmark_out="$out/results.json" --benchmark_out_format=json
	--benchmark_context="commit=$commit,tree=$dirty,quick=$quick,afl_processes=${afl:-0},preload=$(basename "${preload:-none}")")
[ -n "$filter" ] && args+=(--benchmark_filter="$filter")
[ -n "$cpu" ] && args+=(--bench_cpu="$cpu")
args+=("${testees[@]}")
start=$(date +%s)
# A failed case makes duct-bench exit 1, yet the other cases' figures stand:
# the report still comes, with ERROR in that case's cell, and so does the 1.
ran=0
LD_PRELOAD=$preload "$build/bench/duct-bench" "${args[@]}" >"$out/console.log" 2>&1 || ran=$?
if [ "$ran" != 0 ]; then
	grep -i 'error' "$out/console.log" | tail -5 >&2 || tail -20 "$out/console.log" >&2
	echo "ci/bench.sh: duct-bench exited with status $ran (log: $out/console.log)" >&2
	[ -s "$out/results.json" ] || exit 1
fi
load_end=$(cut -d' ' -f1-3 /proc/loadavg)
echo "ran in $(($(date +%s) - start)) s; load average at the end: $load_end"
# Record the end load in the JSON's context, where report.py finds it.
/usr/bin/python3 - "$out/results.json" "$load_end" <<'EOF'
import json, sys
path, load = sys.argv[1], sys.argv[2]
with open(path) as f:
    data = json.load(f)
data["context"]["load_end"] = load
with open(path, "w") as f:
    json.dump(data, f, indent=1)
EOF
[ "$out" = "bench/results/$run" ] && ln -sfn "$run" bench/results/latest

step "ratios (libduct against the raw socket and each peer, same run)"
status=0
/usr/bin/python3 bench/report.py "$out/results.json" --markdown "$out/table.md" || status=$?

if [ "$plots" = 1 ]; then
	step "plots"
	/usr/bin/python3 bench/plot.py "$out/results.json" "$out"
	ls "$out"/*.png "$out"/*.svg
fi
echo
echo "results: $out"
[ "$ran" = 0 ] || exit 1
exit "$status"
