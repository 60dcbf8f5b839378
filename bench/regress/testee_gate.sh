#!/usr/bin/env bash
# Shows that ci/bench-compare gates a third party's testee: four runs of
# duct-bench --testee, then three comparisons, each of which must come out
# as stated.
#
#   base, rerun  the Python testee (pyduct), unchanged: rerun must pass;
#   nagle        the same testee with a real defect, the nagle_two_writes
#                mutant (header and payload in two writes, TCP_NODELAY off:
#                SEND-2, ADDR-4), named "python" so its cases meet base's:
#                must fail, at TCP round trips;
#   split        libduct's testee with every send split into two system
#                calls (regress/split_send.c preloaded into the testee
#                only), against libduct's unchanged: must fail at small
#                streamed messages.
#
#   bench/regress/testee_gate.sh [--out DIR] [--reps N] [--min-time S]
#
# Exit status 0 when every verdict is the expected one.  About 4 minutes.
set -euo pipefail
cd "$(dirname "$0")/../.."

out=/tmp/duct-testee-gate reps=5 min_time=0.05
while [ $# -gt 0 ]; do
	case "$1" in
	--out) out=$2; shift ;;
	--reps) reps=$2; shift ;;
	--min-time) min_time=$2; shift ;;
	-h | --help) sed -n '2,18p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) echo "testee_gate.sh: unknown option '$1' (try --help)" >&2; exit 2 ;;
	esac
	shift
done

py=/usr/bin/python3
build=build/bench
mutant="$py $PWD/conformance/mutants/mutant.py nagle_two_writes"
run() { # NAME FILTER TESTEE...
	local name=$1 filter=$2
	shift 2
	ci/bench.sh --reps "$reps" --min-time "$min_time" --no-plots --out "$out/$name" \
		--filter "$filter" "$@" >"$out/$name.log" 2>&1 || {
		tail -5 "$out/$name.log" >&2
		echo "testee_gate.sh: run $name failed (log: $out/$name.log)" >&2
		exit 1
	}
	echo "run $name: $out/$name/results.json"
}
mkdir -p "$out"
cases() { echo "^(stream|rtt)/(unix|tcp)/pinned/(64|4096)/(raw|duct|$1(-recv|-value)?)(/|\$)"; }
run base "$(cases python)" --testee python
run rerun "$(cases python)" --testee python
run nagle "$(cases python)" --testee "python=$mutant"
run libduct "$(cases libduct)" --testee libduct
run split "$(cases libduct)" --testee \
	"libduct=env LD_PRELOAD=$PWD/$build/bench/libduct-split-send.so $PWD/$build/conformance/duct-testee"

status=0
expect() { # WANT WHAT BASE NEW [MUST-SAY]
	local want=$1 what=$2 got=0
	ci/bench-compare --quiet "$out/$3/results.json" "$out/$4/results.json" >"$out/$4.compare" 2>&1 || got=$?
	if [ "$got" = "$want" ] && { [ -z "${5:-}" ] || grep -q "$5" "$out/$4.compare"; }; then
		echo "ok    $what: exit $got"
	else
		echo "FAIL  $what: exit $got, want $want${5:+ and '$5'}"
		status=1
	fi
	sed 's/^/      /' "$out/$4.compare"
}
expect 0 "an unchanged rerun of the Python testee passes" base rerun
expect 1 "the Python testee with Nagle's stall fails" base nagle "REGRESSION.*rtt/tcp/pinned/64/python"
expect 1 "libduct's testee with split sends fails" libduct split "REGRESSION.*stream/.*/64/libduct"
exit "$status"
