#!/usr/bin/env bash
# The project's test command: installs what is missing, builds, runs every
# test (unit, reliability and valgrind memcheck tests, the conformance suite
# against both shipped testees, its TCP half across a veth link, and the
# mutants), then builds and runs them again under ASan+UBSan, runs the
# thread tests under ThreadSanitizer, then checks that an installed libduct
# can be found by CMake and by pkg-config.
#
#   ci/test.sh            everything (what CI runs)
#   ci/test.sh --no-asan  skip the sanitizer passes (quicker local runs)
set -euo pipefail
cd "$(dirname "$0")/.."

asan=1
for arg in "$@"; do
	case "$arg" in
	--no-asan) asan=0 ;;
	-h | --help)
		sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//'
		exit 0
		;;
	*)
		echo "ci/test.sh: unknown option '$arg' (try --help)" >&2
		exit 2
		;;
	esac
done

jobs=$(nproc 2>/dev/null || echo 2)
step() { printf '\n==> %s\n' "$*"; }

step "dependencies"
ci/deps.sh cmake gcc g++ make pkg-config libcmocka-dev libjson-c-dev python3 \
	libbenchmark-dev libzmq3-dev libnng-dev valgrind python3-hypothesis iproute2 \
	clang libclang-rt-14-dev llvm-14

step "build and test (RelWithDebInfo)"
# Benchmarks are built and each case run once (bench_smoke), never timed.
cmake -S . -B build/release -DCMAKE_BUILD_TYPE=RelWithDebInfo -DDUCT_BUILD_BENCH=ON
cmake --build build/release -j"$jobs"
# conform_netns runs the TCP cases again across a veth link between two
# network namespaces; where this machine cannot make them, say so here.
if ! why=$(unshare -n true 2>&1 || unshare -rn true 2>&1); then
	echo "ci/test.sh: conform_netns will be skipped: cannot make a network namespace: $why"
fi
ctest --test-dir build/release --output-on-failure -j"$jobs"

if [ "$asan" = 1 ]; then
	step "build and test under AddressSanitizer + UndefinedBehaviorSanitizer"
	cmake -S . -B build/asan -DCMAKE_BUILD_TYPE=Debug -DDUCT_SANITIZE=ON
	cmake --build build/asan -j"$jobs"
	# The mutants and the original are Python testees graded by the whole
	# suite again: the sanitizers would add minutes and nothing else.
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
		ctest --test-dir build/asan --output-on-failure -j"$jobs" -LE 'mutants|thirdparty'

	step "thread tests under ThreadSanitizer"
	cmake -S . -B build/tsan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DDUCT_TSAN=ON
	cmake --build build/tsan -j"$jobs" --target test_threads test_load
	# setarch -R: gcc 12's TSan cannot map its shadow under a kernel's
	# full mmap randomisation (vm.mmap_rnd_bits=32).
	TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1 \
		setarch "$(uname -m)" -R ctest --test-dir build/tsan --output-on-failure -L threads
fi

step "install, then build a consumer with find_package and with pkg-config"
prefix=$(mktemp -d)
trap 'rm -rf "$prefix"' EXIT
cmake --install build/release --prefix "$prefix" >/dev/null
cmake -S ci/install-check -B "$prefix/consumer" -DCMAKE_PREFIX_PATH="$prefix" >/dev/null
cmake --build "$prefix/consumer" >/dev/null
"$prefix/consumer/consumer"
PKG_CONFIG_PATH="$prefix/lib/pkgconfig:$prefix/lib/$(gcc -dumpmachine)/pkgconfig" \
	sh -c 'cc ci/install-check/consumer.c $(pkg-config --cflags --libs --static libduct) -o "$1/pc-consumer"' _ "$prefix"
"$prefix/pc-consumer"

step "all tests passed"
