#!/usr/bin/env bash
# Time-boxed fuzz campaigns of libduct's harnesses (fuzz/README.md):
# installs what is missing, builds the targets, fuzzes each one in turn,
# minimizes what it found into fuzz/corpus/TARGET/ and prints a summary
# (execs/s, corpus, edges, crashes, hangs).  Exits 1 if anything crashed
# or hung.  With --coverage, measures instead what the committed corpus
# covers of ref/src.
#
#   ci/fuzz.sh [--libfuzzer] [-j N] [TARGET|all] [SECONDS]
#   ci/fuzz.sh --coverage [TARGET|all]
#
#   TARGET       fuzz_frame, fuzz_frame_long, fuzz_json or fuzz_recv
#                (default: all, in turn)
#   SECONDS      per target (default: 60)
#   --libfuzzer  libFuzzer (clang -fsanitize=fuzzer) instead of AFL++
#                (afl-clang-fast, persistent mode, shared-memory test case)
#   --no-minimize  keep fuzz/corpus/ as it is (no afl-cmin / -merge)
#   -j N         N processes per target instead of one (default: 1, what a
#                laptop wants).  AFL++: N afl-fuzz instances sharing one
#                sync dir: -M main on a build without sanitizers, -S asan
#                on the sanitizer build, -S cmplog (from N = 3) with -c a
#                CMPLOG build, the rest plain -S with other power
#                schedules; their execs and execs/s are added up, per
#                instance too.  libFuzzer: -fork=N.  Builds without
#                sanitizers go to FUZZ_BUILD_DIR-plain and -cmplog
#   --coverage   no fuzzing: replays fuzz/corpus/TARGET/ with the replay
#                binaries built by clang with source-based coverage, merges
#                the profiles (llvm-profdata), writes an HTML report
#                (llvm-cov; its path is printed) and prints the lines and
#                branches covered per file of ref/src.  With all targets,
#                exits 1 if frame.c or reader.c miss more than the lines
#                fuzz/README.md lists as unreachable ("Coverage")
#   --no-install  do not install missing packages (ci/deps.sh); --coverage
#                then exits 77 (skipped, for ctest) if a tool is missing
#
# Both engines build with ASan+UBSan (FUZZ_SANITIZERS=address,undefined;
# set it empty for a faster, uninstrumented AFL++ run).  Builds and
# campaign files go to FUZZ_BUILD_DIR (default build/fuzz-afl,
# build/fuzz-libfuzzer or build/fuzz-coverage); extra CMake arguments can
# be given in CMAKE_ARGS.
# Works as root without a tty: AFL++ then prints its status lines instead
# of its screen.  First, fuzz_calibrate (a 5-byte header parse, no libduct)
# runs under the same engine for FUZZ_CALIBRATE_SECONDS (default 5; 0
# skips it), and the summary gives each target's execs/s as a ratio to
# it ("x_cal"), which compares across loaded machines better than execs/s.
set -euo pipefail
cd "$(dirname "$0")/.."

all_targets=(fuzz_frame fuzz_frame_long fuzz_json fuzz_recv)
engine=afl
mode=fuzz
minimize=1
install=1
instances=1
positional=()
while [ $# -gt 0 ]; do
	arg=$1
	shift
	case "$arg" in
	-j)
		if [ $# = 0 ]; then
			echo "ci/fuzz.sh: -j needs a number of instances (try --help)" >&2
			exit 2
		fi
		instances=$1
		shift
		;;
	-j*) instances=${arg#-j} ;;
	--libfuzzer) engine=libfuzzer ;;
	--afl) engine=afl ;;
	--coverage) mode=coverage ;;
	--no-minimize) minimize=0 ;;
	--no-install) install=0 ;;
	-h | --help)
		# The comment at the top of this file, up to its first code line.
		awk 'NR > 1 && !/^#/ {exit} NR > 1' "$0" | sed 's/^# \{0,1\}//'
		exit 0
		;;
	-*)
		echo "ci/fuzz.sh: unknown option '$arg' (try --help)" >&2
		exit 2
		;;
	*) positional+=("$arg") ;;
	esac
done
target=${positional[0]:-all}
seconds=${positional[1]:-60}
if [ ${#positional[@]} -gt 2 ]; then
	echo "ci/fuzz.sh: too many arguments (try --help)" >&2
	exit 2
fi
case "$instances" in
'' | *[!0-9]* | 0)
	echo "ci/fuzz.sh: -j takes a positive number of instances, not '$instances'" >&2
	exit 2
	;;
esac
if [ "$mode" = coverage ] && { [ ${#positional[@]} -gt 1 ] || [ "$instances" != 1 ]; }; then
	echo "ci/fuzz.sh: --coverage replays the corpus once: no SECONDS, no -j (try --help)" >&2
	exit 2
fi
case "$seconds" in
'' | *[!0-9]* | 0)
	echo "ci/fuzz.sh: SECONDS must be a positive integer, not '$seconds'" >&2
	exit 2
	;;
esac
if [ "$target" = all ]; then
	targets=("${all_targets[@]}")
elif [[ " ${all_targets[*]} " == *" $target "* ]]; then
	targets=("$target")
else
	echo "ci/fuzz.sh: unknown target '$target' (one of: ${all_targets[*]}, all)" >&2
	exit 2
fi
step() { printf '\n==> %s\n' "$*"; }
jobs=$(nproc 2>/dev/null || echo 2)
if [ "$instances" -gt "$jobs" ]; then
	echo "ci/fuzz.sh: warning: -j $instances on $jobs cores: the processes will share them" >&2
fi

pkgs=(cmake make pkg-config libjson-c-dev python3 clang libclang-rt-14-dev)
if [ "$mode" = coverage ]; then
	pkgs+=(llvm-14) # llvm-profdata-14, llvm-cov-14
elif [ "$engine" = afl ]; then
	pkgs+=(afl++)
fi
if [ "$install" = 1 ]; then
	step "dependencies"
	ci/deps.sh "${pkgs[@]}"
fi

# --coverage: every target's committed corpus replayed once by its replay
# binary (fuzz/replay.c) built with clang's source-based coverage, the
# profiles merged, an HTML report written and a table of ref/src printed.
# Deterministic (no fuzzing), a few seconds.
if [ "$mode" = coverage ]; then
	# The profile tools of clang's own version: a profile written by one
	# LLVM version may not read with another's tools.
	ver=$(clang -dumpversion 2>/dev/null | cut -d. -f1) || true
	llvm_tool() { command -v "$1-$ver" || command -v "$1" || true; }
	profdata=$(llvm_tool llvm-profdata)
	llvmcov=$(llvm_tool llvm-cov)
	if [ -z "$ver" ] || [ -z "$profdata" ] || [ -z "$llvmcov" ] ||
		! echo 'int main(void) { return 0; }' |
		clang -x c - -fprofile-instr-generate -o /dev/null 2>/dev/null; then
		echo "ci/fuzz.sh: skipped: --coverage needs clang with its profile runtime," \
			"llvm-profdata and llvm-cov (packages: ${pkgs[*]})" >&2
		exit 77 # ctest's SKIP_RETURN_CODE (fuzz/CMakeLists.txt)
	fi
	build=${FUZZ_BUILD_DIR:-build/fuzz-coverage}
	dir=$build/coverage
	step "build the replay binaries with clang $ver, -fprofile-instr-generate -fcoverage-mapping"
	# shellcheck disable=SC2086 # CMAKE_ARGS is a list of words on purpose
	CC=clang CXX=clang++ cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
		-DDUCT_BUILD_TESTS=OFF -DDUCT_FUZZ_COVERAGE=ON ${CMAKE_ARGS:-} >/dev/null
	cmake --build "$build" -j"$jobs" --target "${targets[@]/%/_cov}" >/dev/null
	step "replay fuzz/corpus/ (${targets[*]})"
	rm -rf "$dir"
	mkdir -p "$dir"
	objects=()
	for t in "${targets[@]}"; do
		bin=$build/fuzz/${t}_cov
		LLVM_PROFILE_FILE=$dir/$t.profraw "$bin" "fuzz/corpus/$t" || {
			echo "ci/fuzz.sh: an input of fuzz/corpus/$t fails (see above); replay: $bin FILE" >&2
			exit 1
		}
		objects+=(-object "$bin")
	done
	"$profdata" merge -sparse "$dir"/*.profraw -o "$dir/corpus.profdata"
	cov_args=(-instr-profile "$dir/corpus.profdata" "${objects[@]:1}" ref/src)
	"$llvmcov" show -format=html -show-branches=count -output-dir="$dir/html" \
		"${cov_args[@]}"
	"$llvmcov" export -format=text -summary-only "${cov_args[@]}" >"$dir/summary.json"
	"$llvmcov" show -show-branches=count "${cov_args[@]}" >"$dir/show.txt"
	step "coverage of ref/src by the committed corpus (${targets[*]})"
	# The goal of fuzz/README.md, "Coverage": frame.c and reader.c reached
	# everywhere but the lines and branches listed there (allocation
	# failures), as FILE:MISSED_LINES:MISSED_BRANCHES at most.  Checked
	# only when every target's corpus was replayed.
	goal=
	[ "$target" = all ] && goal="frame.c:0:0 reader.c:2:4"
	status=0
	/usr/bin/python3 - "$dir/summary.json" "$dir/show.txt" "$goal" <<'PY' || status=$?
import json, os, re, sys

summary, show, goal = sys.argv[1], sys.argv[2], sys.argv[3].split()
goal = {g.split(":")[0]: tuple(map(int, g.split(":")[1:])) for g in goal}

def row(name, s):
    print("%-14s %9s %8s %9s %8s" % (name, *(
        x for k in ("lines", "branches") for x in (
            "%d/%d" % (s[k]["covered"], s[k]["count"]),
            "%.2f %%" % s[k]["percent"]))))

data = json.load(open(summary))["data"][0]
print("%-14s %18s %18s" % ("file", "lines", "branches"))
for f in sorted(data["files"], key=lambda f: f["filename"]):
    row(os.path.basename(f["filename"]), f["summary"])
row("total", data["totals"])

# What the goal files miss, from the line-by-line report: a line whose
# count is 0, a branch direction never taken.
missed, name = {}, None
for line in open(show):
    m = re.match(r"^(/\S+):$", line)
    if m:
        name = os.path.basename(m.group(1))
        missed[name] = ([], [])
        continue
    m = re.match(r"^ *(\d+)\| *0\|", line)
    if m and name:
        missed[name][0].append(m.group(1))
    # Counts are abbreviated (1.11M), but a zero is "0".
    m = re.search(r"Branch \((\d+:\d+)\): \[True: ([^,]+), False: ([^]]+)\]", line)
    if m and name:
        for way, n in (("true", m.group(2)), ("false", m.group(3))):
            if n == "0":
                missed[name][1].append(m.group(1) + " " + way)
bad = 0
for f, (max_lines, max_branches) in goal.items():
    lines, branches = missed.get(f, ([], []))
    print("%s: lines never run: %s; branch directions never taken: %s" %
          (f, " ".join(lines) or "none", ", ".join(branches) or "none"))
    if len(lines) > max_lines or len(branches) > max_branches:
        print("%s: goal missed: at most %d lines and %d branch directions "
              "unreached (fuzz/README.md, Coverage)" % (f, max_lines, max_branches))
        bad = 1
if goal and not bad:
    print("goal met: %s" % ", ".join(goal))
sys.exit(bad)
PY
	echo "HTML report: $dir/html/index.html"
	exit "$status"
fi

calibrate_seconds=${FUZZ_CALIBRATE_SECONDS-5}
case "$calibrate_seconds" in
'' | *[!0-9]*)
	echo "ci/fuzz.sh: FUZZ_CALIBRATE_SECONDS must be an integer, not '$calibrate_seconds'" >&2
	exit 2
	;;
esac
sanitizers=${FUZZ_SANITIZERS-address,undefined}

build=${FUZZ_BUILD_DIR:-build/fuzz-$engine}
work=$build/campaign
if [ "$engine" = afl ]; then
	cc=afl-clang-fast cxx=afl-clang-fast++
else
	cc=clang cxx=clang++
fi
build_targets=("${targets[@]}")
[ "$calibrate_seconds" != 0 ] && build_targets+=(fuzz_calibrate)
# Configures build dir $1 with sanitizers $2 and builds the targets there.
fuzz_build() {
	# shellcheck disable=SC2086 # CMAKE_ARGS is a list of words on purpose
	CC=$cc CXX=$cxx cmake -S . -B "$1" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
		-DDUCT_BUILD_FUZZ=ON -DDUCT_BUILD_TESTS=OFF \
		-DDUCT_FUZZ_SANITIZERS="$2" ${CMAKE_ARGS:-} >/dev/null
	cmake --build "$1" -j"$jobs" --target "${build_targets[@]}" >/dev/null
}
step "build ${targets[*]} with $cc (sanitizers: ${sanitizers:-none})"
fuzz_build "$build" "$sanitizers"
# AFL++ on several cores: the main instance and most secondaries fuzz a
# build without sanitizers, one a CMPLOG build of the same (afl_instance).
if [ "$engine" = afl ] && [ "$instances" -gt 1 ]; then
	step "build ${targets[*]} with $cc, no sanitizers, in $build-plain"
	fuzz_build "$build-plain" ""
	if [ "$instances" -ge 3 ]; then
		step "build ${targets[*]} with $cc, AFL_LLVM_CMPLOG=1, in $build-cmplog"
		AFL_LLVM_CMPLOG=1 fuzz_build "$build-cmplog" ""
	fi
fi

binary() { # the absolute path of target $2 in build dir $1
	local b
	for b in "$1/fuzz/$2" "$1/$2"; do
		if [ -x "$b" ]; then
			echo "$(cd "$(dirname "$b")" && pwd)/$2"
			return
		fi
	done
	echo "ci/fuzz.sh: $2 was not built in $1 (is add_subdirectory(fuzz) in CMakeLists.txt?)" >&2
	exit 1
}

# Instance $1 (from 0) of an AFL++ campaign on target $2: sets inst_name,
# inst_bin (the binary it fuzzes), inst_cmplog (its CMPLOG binary, if
# any) and inst_args (its own afl-fuzz options).  Without -j: one instance, "default".  With -j N, as AFL++
# advises for several cores (docs/fuzzing_in_depth.md, "Using multiple
# cores"): a main instance (-M) on the plain build, which is the fastest;
# a secondary (-S) on the sanitizer build, which finds what the plain one
# cannot see; a secondary with CMPLOG (-c: the same code built with
# AFL_LLVM_CMPLOG, to solve comparisons against input bytes); then plain
# secondaries, each with another power schedule (-p).  All share one
# sync dir (-o) and take each other's new inputs.
afl_instance() {
	local schedules=(explore coe exploit rare lin quad mmopt seek)
	inst_args=() inst_cmplog=
	if [ "$instances" = 1 ]; then
		inst_name=default inst_bin=$(binary "$build" "$2")
		return
	fi
	case $1 in
	0) inst_name=main inst_bin=$(binary "$build-plain" "$2") inst_args=(-M main) ;;
	1) inst_name=asan inst_bin=$(binary "$build" "$2") inst_args=(-S asan) ;;
	2)
		inst_name=cmplog inst_bin=$(binary "$build-plain" "$2")
		inst_cmplog=$(binary "$build-cmplog" "$2")
		inst_args=(-S cmplog -c "$inst_cmplog")
		;;
	*)
		inst_name=plain$(($1 + 1)) inst_bin=$(binary "$build-plain" "$2")
		inst_args=(-S "$inst_name" -p "${schedules[($1 - 3) % ${#schedules[@]}]}")
		;;
	esac
}

step "seeds from vectors/"
rm -rf "$work"
mkdir -p "$work"
/usr/bin/python3 fuzz/make_seeds.py "$work/seeds"
# fuzz_frame_long reads its inputs as fuzz_frame does.
cp -r "$work/seeds/fuzz_frame" "$work/seeds/fuzz_frame_long"
# The calibration target's only seed: an empty frame.
mkdir -p "$work/seeds/fuzz_calibrate"
printf 'T\0\0\0\0' >"$work/seeds/fuzz_calibrate/empty_frame"

# Installs a minimized corpus (directory $2) as fuzz/corpus/$1/, keeping
# the regression inputs already there (crash-*, timeout-*, leak-*, oom-*:
# the names libFuzzer gives its findings) and the inputs written to reach
# a line of ref/src (cov-*, fuzz/README.md, "Coverage").  A file that came
# from a seed keeps the seed's name (AFL++ notes it as orig:NAME); any
# other is named by the SHA-1 of its bytes, as libFuzzer names its files.
install_corpus() {
	local t=$1 from=$2 dest=fuzz/corpus/$1 tmp f name
	tmp=$(mktemp -d "$work/install.XXXXXX")
	if [ -d "$dest" ]; then
		find "$dest" -maxdepth 1 -type f \( -name 'crash-*' -o -name 'timeout-*' \
			-o -name 'leak-*' -o -name 'oom-*' -o -name 'cov-*' \) -exec cp {} "$tmp/" \;
	fi
	for f in "$from"/*; do
		[ -f "$f" ] || continue
		name=$(basename "$f")
		case "$name" in
		*orig:*) name=${name##*orig:} ;;
		crash-* | timeout-* | leak-* | oom-* | cov-*) ;;
		*) name=$(sha1sum "$f" | cut -c1-40) ;;
		esac
		cp "$f" "$tmp/$name"
	done
	rm -rf "$dest"
	mkdir -p "$dest"
	cp "$tmp"/* "$dest/"
	rm -rf "$tmp"
}

corpus_size() { # "FILES files, BYTES bytes" of a directory
	local n b
	n=$(find "$1" -maxdepth 1 -type f | wc -l)
	b=$(find "$1" -maxdepth 1 -type f -printf '%s\n' | awk '{s += $1} END {print s + 0}')
	echo "$n $b"
}

# The inputs a campaign starts from: the seeds and the committed corpus.
# Each is first run once outside the fuzzer, so an input that already
# crashes is reported as a finding instead of stopping the fuzzer.
prepare_inputs() {
	local t=$1 bin=$2 in=$work/$1/in
	mkdir -p "$in"
	cp "$work/seeds/$t"/* "$in/"
	if [ -d "fuzz/corpus/$t" ]; then
		find "fuzz/corpus/$t" -maxdepth 1 -type f -exec cp {} "$in/" \;
	fi
	if [ "$engine" = afl ]; then
		(cd "$in" && find . -type f -print0 | xargs -0 "$bin" >/dev/null 2>&1)
	else
		"$bin" -runs=0 "$in" >/dev/null 2>&1
	fi || {
		echo "ci/fuzz.sh: an input in $in crashes $t before fuzzing starts:" >&2
		echo "  run: $bin $in/*   (or fuzz/README.md, 'Replay')" >&2
		return 1
	}
}

# AFL++ status lines without a tty: one line per test case picked is a
# lot, so those are shown at most every 10 s, and the dry run's line per
# input not at all; every other line is shown.
throttle() {
	local last=-10 line
	while IFS= read -r line; do
		case "$line" in
		*"Attempting dry run"* | *"len = "* | *"No new instrumentation"*) ;;
		*"Fuzzing test case"*)
			if [ $((SECONDS - last)) -ge 10 ]; then
				printf '%s\n' "$line"
				last=$SECONDS
			fi
			;;
		*) printf '%s\n' "$line" ;;
		esac
	done
}

summary=()
failed=0
instance_rates=() # with -j: each instance's execs/s, per target
# Secondary afl-fuzz instances still running (run_afl), stopped if this
# script ends early.
afl_pids=()
trap '[ ${#afl_pids[@]} = 0 ] || kill "${afl_pids[@]}" 2>/dev/null || true' EXIT

run_afl() {
	local t=$1 bin=$2 out=$work/$1/out stats i
	export AFL_SKIP_CPUFREQ=1 AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1 \
		AFL_NO_AFFINITY=1
	# AFL++ requires these sanitizer settings; leaks are not checked in
	# persistent mode.  The UBSan suppressions come from the binary
	# (fuzz/sanitizer_defaults.c).
	export ASAN_OPTIONS=abort_on_error=1:symbolize=0:detect_leaks=0
	export UBSAN_OPTIONS=halt_on_error=1:abort_on_error=1:symbolize=0
	# -t: AFL++ would derive ~20 ms from the dry run, which the slowest
	# legitimate inputs (1 MiB streams fed one byte at a time, under ASan)
	# come close to; a real hang (a deadlocked duct_recv) exceeds 1 s too.
	local dict=()
	[ -f "fuzz/$t.dict" ] && dict=(-x "fuzz/$t.dict")
	local cmd first=() names=() bins=() cmplog_bin=()
	afl_pids=()
	for ((i = 0; i < instances; i++)); do
		afl_instance "$i" "$t"
		names+=("$inst_name")
		bins+=("$inst_bin")
		[ -z "$inst_cmplog" ] || cmplog_bin=("$inst_cmplog")
		cmd=(afl-fuzz -i "$work/$t/in" -o "$out" -m none -t 1000
			"${dict[@]}" -V "$seconds" "${inst_args[@]}" -- "$inst_bin")
		echo "+ ${cmd[*]}"
		if [ "$i" = 0 ]; then
			first=("${cmd[@]}")
		else # a secondary: in the background, into its log
			AFL_NO_UI=1 timeout -s INT $((seconds + 300)) "${cmd[@]}" \
				>"$work/$t/$inst_name.log" 2>&1 &
			afl_pids+=($!)
		fi
	done
	if [ -t 1 ]; then
		timeout -s INT $((seconds + 300)) "${first[@]}" || true
	else
		AFL_NO_UI=1 timeout -s INT $((seconds + 300)) "${first[@]}" 2>&1 | throttle || true
	fi
	if [ ${#afl_pids[@]} -gt 0 ]; then
		wait "${afl_pids[@]}" || true
		afl_pids=()
	fi
	# AFL++ 4.04c often leaves a persistent-mode child of the cmplog
	# instance behind (its argv[0] the CMPLOG binary, its exe the plain
	# one): stopped, as it stops itself between runs, its forkserver
	# gone.  Every instance has ended now, so a process still running one
	# of this target's binaries is such a leftover: ended, by pid.
	if [ "$instances" -gt 1 ]; then
		local p b exe arg0 ours=()
		for b in "${bins[@]}" "${cmplog_bin[@]}"; do
			ours+=("$b" "$(readlink -f "$b")")
		done
		for p in /proc/[0-9]*; do
			exe=$(readlink "$p/exe" 2>/dev/null) || continue
			arg0=$(tr '\0' '\n' <"$p/cmdline" 2>/dev/null | head -1) || true
			for b in "${ours[@]}"; do
				if [ "$exe" = "$b" ] || [ "$arg0" = "$b" ]; then
					echo "ci/fuzz.sh: ending a leftover of afl-fuzz, pid ${p#/proc/} ($arg0)"
					kill -KILL "${p#/proc/}" 2>/dev/null || true
					break
				fi
			done
		done
	fi
	field() { awk -v k="$1" '$1 == k {print $3; exit}' "$stats"; }
	# Execs, execs/s, crashes and hangs add up over the instances; time,
	# edges and the map are the first instance's (the main one: synced,
	# it has run every instance's finds, on the plain build's edges).
	local execs=0 eps=0 crashes=0 hangs=0 n c h rates=()
	for i in "${!names[@]}"; do
		stats=$out/${names[$i]}/fuzzer_stats
		if [ ! -f "$stats" ]; then
			echo "ci/fuzz.sh: afl-fuzz instance ${names[$i]} did not run for $t" \
				"(see above, or $work/$t/${names[$i]}.log)" >&2
			failed=1
			[ "$i" = 0 ] || continue
			summary+=("$(printf '%-15s  afl-fuzz failed to start' "$t")")
			return
		fi
		c=$(field saved_crashes)
		c=${c:-$(field unique_crashes)}
		h=$(field saved_hangs)
		h=${h:-$(field unique_hangs)}
		n=$(field execs_done)
		crashes=$((crashes + ${c:-0})) hangs=$((hangs + ${h:-0}))
		execs=$((execs + ${n:-0}))
		eps=$(awk -v a="$eps" -v b="$(field execs_per_sec)" 'BEGIN {printf "%.2f", a + b}')
		rates+=("${names[$i]} $(field execs_per_sec)")
	done
	last_eps=$eps
	[ "$instances" = 1 ] || instance_rates+=("$t: $(printf '%s, ' "${rates[@]}" | sed 's/, $//')")
	stats=$out/${names[0]}/fuzzer_stats
	if [ "$minimize" = 1 ]; then
		rm -rf "$work/$t/min" "$work/$t/queue"
		# Only the queues' own files: afl-cmin 4.04c would also take the
		# empty files under queue/.state/ and fail on them.  Prefixed with
		# the instance, as each instance numbers its queue from 0.
		mkdir -p "$work/$t/queue"
		for n in "${names[@]}"; do
			for c in "$out/$n/queue"/id:*; do
				[ -f "$c" ] && cp "$c" "$work/$t/queue/$n,${c##*/}"
			done
		done
		step "afl-cmin $t: $(find "$work/$t/queue" -type f | wc -l) queue entries"
		AFL_NO_UI=1 afl-cmin -i "$work/$t/queue" -o "$work/$t/min" \
			-m none -- "$bin" - 2>&1 | grep -E 'Found|Narrowed|WARNING|Error|ABORT' || true
		install_corpus "$t" "$work/$t/min"
	fi
	local files bytes
	if [ "$minimize" = 1 ]; then
		read -r files bytes < <(corpus_size "fuzz/corpus/$t")
	else # the fuzzer's own corpus
		read -r files bytes < <(corpus_size "$out/${names[0]}/queue")
	fi
	summary+=("$(printf '%-15s %6s %10s %9.0f %7s %9s %6s/%-5s %6s %7s %6s' "$t" \
		"$(field run_time)" "$execs" "$eps" \
		"$files" "$bytes" "$(field edges_found)" "$(field total_edges)" \
		"$(field bitmap_cvg)" "$crashes" "$hangs")")
	if [ "$crashes" != 0 ] || [ "$hangs" != 0 ]; then
		failed=1
		mkdir -p "$work/findings"
		local kind name k=0
		for i in "${!names[@]}"; do
			for c in "$out/${names[$i]}"/crashes/id* "$out/${names[$i]}"/hangs/id*; do
				[ -f "$c" ] || continue
				k=$((k + 1))
				kind=crash
				[[ "$c" == */hangs/* ]] && kind=hang
				name=$work/findings/$t-$kind-$k
				cp "$c" "$name"
				# A minimized copy of a crash, for the regression
				# corpus (crash-WHAT), with the binary that found it.
				# Not of a hang: each try would cost a second; the
				# message says how.
				if [ "$kind" = crash ]; then
					timeout 300 afl-tmin -i "$c" -o "$name.min" -m none \
						-- "${bins[$i]}" - >/dev/null 2>&1 || rm -f "$name.min"
				fi
				echo "finding: $name; replay: ${bins[$i]} $name"
				if [ -f "$name.min" ]; then
					echo "  minimized: $name.min"
				elif [ "$kind" = hang ]; then
					echo "  minimize: afl-tmin -H -t 1000 -m none -i $name -o $name.min -- ${bins[$i]} -"
				fi
			done
		done
	fi
}

run_libfuzzer() {
	local t=$1 bin=$2 dir=$work/$1 log=$work/$1/libfuzzer.log
	mkdir -p "$dir/corpus" "$dir/artifacts"
	export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
	local dict=()
	[ -f "fuzz/$t.dict" ] && dict=(-dict="fuzz/$t.dict")
	# -j N: -fork=N, N fuzzing processes under one that merges their
	# finds (libFuzzer's documentation, "Fork mode").
	local fork=()
	[ "$instances" = 1 ] || fork=(-fork="$instances")
	local cmd=("$bin" -max_total_time="$seconds" -timeout=10 "${fork[@]}"
		"${dict[@]}" -print_final_stats=1
		-artifact_prefix="$dir/artifacts/" "$dir/corpus" "$dir/in")
	echo "+ ${cmd[*]}"
	# libFuzzer's exit status is not needed: findings are its artifacts.
	"${cmd[@]}" 2>&1 | tee "$log" | grep --line-buffered -E '^#[0-9]+([[:space:]]+(INITED|pulse|DONE)|: cov:)|ERROR|SUMMARY|check failed|runtime error' || true
	local execs eps cov crashes hangs runtime
	# A run that crashed has no final stats: every field may be missing
	# (|| true, or set -e would end the script before its summary).
	execs=$(awk '/^stat::number_of_executed_units:/ {print $NF}' "$log")
	eps=$(awk '/^stat::average_exec_per_sec:/ {print $NF}' "$log")
	cov=$(grep -oE 'cov: [0-9]+' "$log" | tail -1 | awk '{print $2}') || true
	runtime=$(grep -oE 'Done [0-9]+ runs in [0-9]+ second' "$log" | awk '{print $5}') || true
	local st=
	if [ "$instances" != 1 ]; then
		# -fork prints no final stats, but a status line as each job
		# ends: "#RUNS: cov: C ft: F corp: FILES exec/s E ... time: Ss
		# job: J".  RUNS adds up the jobs ended so far (not those the
		# end of the run cuts short), E is the last job's own rate, so
		# execs/s is RUNS / S.  (cov: counts otherwise than a single
		# process's: compare it only with other -fork runs.)
		st=$(grep -E '^#[0-9]+: cov: ' "$log" | tail -1) || true
		execs=$(sed -nE 's/^#([0-9]+):.*/\1/p' <<<"$st")
		runtime=$(sed -nE 's/.* time: ([0-9]+)s .*/\1/p' <<<"$st")
		eps=$(awk -v r="$execs" -v s="$runtime" 'BEGIN {if (s > 0) printf "%.0f", r / s}')
	fi
	last_eps=$eps
	crashes=$(find "$dir/artifacts" -type f \( -name 'crash-*' -o -name 'leak-*' -o -name 'oom-*' \) | wc -l)
	hangs=$(find "$dir/artifacts" -type f \( -name 'timeout-*' -o -name 'slow-unit-*' \) | wc -l)
	if [ "$minimize" = 1 ]; then
		step "libFuzzer -merge=1 $t"
		rm -rf "$dir/min"
		mkdir -p "$dir/min"
		"$bin" -merge=1 "$dir/min" "$dir/corpus" "$dir/in" 2>&1 | grep -E 'MERGE-OUTER: [0-9]+ new files' || true
		install_corpus "$t" "$dir/min"
	fi
	local files bytes
	if [ "$minimize" = 1 ]; then
		read -r files bytes < <(corpus_size "fuzz/corpus/$t")
	elif [ -n "$st" ]; then # -fork's status line: files only
		files=$(sed -nE 's/.* corp: ([0-9]+) .*/\1/p' <<<"$st") bytes=-
	else # the fuzzer's own corpus, as its last status line gives it
		read -r files bytes < <(grep -oE 'corp: [0-9]+/[0-9]+[a-zA-Z]*' "$log" |
			tail -1 | sed 's,corp: ,,; s,/, ,') || true
	fi
	summary+=("$(printf '%-15s %6s %10s %9s %7s %9s %12s %6s %7s %6s' "$t" \
		"${runtime:-?}" "${execs:-?}" "${eps:-?}" "$files" "$bytes" \
		"${cov:-?}" "-" "$crashes" "$hangs")")
	if [ "$crashes" != 0 ] || [ "$hangs" != 0 ]; then
		failed=1
		local a
		for a in "$dir"/artifacts/*; do
			echo "finding: $a; replay: $bin $a; minimize: $bin -minimize_crash=1 -runs=100000 $a"
		done
	fi
}

# Each summary row's execs/s, for the ratio to the calibration target.
row_eps=()
last_eps=

# The yardstick: the trivial target, same engine, same build, never
# minimized into fuzz/corpus/.
cal_eps=
if [ "$calibrate_seconds" != 0 ]; then
	bin=$(binary "$build" fuzz_calibrate)
	step "fuzz_calibrate: $engine for $calibrate_seconds s"
	if prepare_inputs fuzz_calibrate "$bin"; then
		saved=("$minimize" "$seconds")
		minimize=0 seconds=$calibrate_seconds
		last_eps=
		run_"$engine" fuzz_calibrate "$bin"
		minimize=${saved[0]} seconds=${saved[1]}
		cal_eps=$last_eps
		row_eps+=("$last_eps")
	fi
fi

for t in "${targets[@]}"; do
	bin=$(binary "$build" "$t")
	step "$t: $engine for $seconds s"
	if ! prepare_inputs "$t" "$bin"; then
		failed=1
		summary+=("$(printf '%-15s  an input crashes before fuzzing (see above)' "$t")")
		row_eps+=("")
		continue
	fi
	last_eps=
	"run_$engine" "$t" "$bin"
	row_eps+=("$last_eps")
done

ratio() { # execs/s $1 over the calibration target's, or "-"
	awk -v a="$1" -v c="$cal_eps" 'BEGIN {
		if (a ~ /^[0-9.]+$/ && c ~ /^[0-9.]+$/ && c > 0) printf "%.4f", a / c
		else print "-" }'
}
step "summary ($engine, $seconds s per target, sanitizers: ${sanitizers:-none})"
if [ "$instances" != 1 ] && [ "$engine" = afl ]; then
	layout="main and plain* without sanitizers, asan with ${sanitizers:-none}"
	[ "$instances" -ge 3 ] && layout+=", cmplog without sanitizers, -c its CMPLOG build"
	echo "$instances afl-fuzz instances ($layout): execs and execs/s summed over them;" \
		"time, edges and map the main instance's"
	printf 'execs/s per instance, %s\n' "${instance_rates[@]}"
elif [ "$instances" != 1 ]; then
	echo "libFuzzer -fork=$instances: execs are the runs of its jobs that ended, execs/s those over the time; corpus: files only"
fi
[ -n "$cal_eps" ] && echo "calibration: fuzz_calibrate, $calibrate_seconds s: $cal_eps execs/s; x_cal = execs/s / that"
printf '%-15s %6s %10s %9s %7s %9s %12s %6s %7s %6s %7s\n' target time_s execs execs/s corpus bytes edges map crashes hangs x_cal
for i in "${!summary[@]}"; do
	printf '%s %7s\n' "${summary[$i]}" "$(ratio "${row_eps[$i]:-}")"
done
if [ "$minimize" = 1 ]; then
	echo "corpus: the minimized fuzz/corpus/TARGET/; campaign files: $work"
else
	echo "corpus: the fuzzer's own (fuzz/corpus/ unchanged); campaign files: $work"
fi
if [ "$failed" != 0 ]; then
	echo "ci/fuzz.sh: crashes, hangs or errors (findings: $work/findings, artifacts)" >&2
	exit 1
fi
