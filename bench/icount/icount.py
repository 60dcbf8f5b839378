#!/usr/bin/env python3
"""The deterministic gate: instruction counts of fixed libduct workloads
under valgrind's callgrind, against the committed baseline.

Usage: icount.py --exe DUCT_ICOUNT --build "COMPILER VERSION BUILD_TYPE"
                 [--valgrind PATH] [--baseline FILE] [--update]

Runs `duct-icount frame|json|sendrecv` under callgrind, counting only the
workload function (--toggle-collect=icount_<workload>), and compares each
count with bench/baselines/icount.json:
  - more than the tolerance (2%) above the baseline fails (exit 1);
  - more than the tolerance below it passes, with a note to refresh the
    baseline so the gain is kept;
  - a baseline recorded for another compiler or build type cannot be
    compared: the test is skipped (exit 77), saying how to refresh it;
  - no valgrind: skipped (exit 77).
--update writes the counts measured now as the new baseline.

Counts are deterministic for one binary: the workloads are fixed,
json-c's string hash is made seedless, and only user-space instructions
count, so a busy machine gives the same figure as an idle one.
"""
import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
BASELINE = os.path.join(os.path.dirname(HERE), "baselines", "icount.json")
WORKLOADS = ("frame", "json", "sendrecv")
SKIP = 77


def count(valgrind, exe, workload, tmp):
    out = os.path.join(tmp, f"callgrind.{workload}")
    cmd = [valgrind, "--tool=callgrind", f"--callgrind-out-file={out}",
           "--collect-atstart=no", f"--toggle-collect=icount_{workload}", exe, workload]
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode != 0:
        sys.exit(f"icount: {' '.join(cmd)} failed ({p.returncode}):\n{p.stderr[-2000:]}")
    with open(out) as f:
        for line in f:
            m = re.match(r"(?:summary|totals):\s+(\d+)", line)
            if m:
                return int(m.group(1))
    sys.exit(f"icount: no totals in {out}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--exe", required=True)
    ap.add_argument("--build", required=True, help="compiler, version and build type")
    ap.add_argument("--valgrind", default=shutil.which("valgrind"))
    ap.add_argument("--baseline", default=BASELINE)
    ap.add_argument("--update", action="store_true")
    args = ap.parse_args()
    if not args.valgrind:
        print("icount: SKIP: valgrind is not installed (apt install valgrind)")
        return SKIP
    version = subprocess.run([args.valgrind, "--version"], capture_output=True, text=True).stdout.strip()
    with tempfile.TemporaryDirectory() as tmp:
        counts = {w: count(args.valgrind, args.exe, w, tmp) for w in WORKLOADS}
    if args.update:
        data = {"build": args.build, "valgrind": version, "tolerance": 0.02, "counts": counts,
                "refresh": "ci/test.sh --no-asan, then: python3 bench/icount/icount.py --update "
                           "--exe build/release/bench/icount/duct-icount "
                           f"--build '{args.build}'"}
        with open(args.baseline, "w") as f:
            json.dump(data, f, indent=1)
            f.write("\n")
        for w, n in counts.items():
            print(f"icount: {w:9} {n:>12,} instructions (baseline written)")
        return 0
    try:
        with open(args.baseline) as f:
            base = json.load(f)
    except (OSError, ValueError) as e:
        print(f"icount: cannot read the baseline {args.baseline}: {e}")
        return 1
    if base.get("build") != args.build:
        print(f"icount: SKIP: the baseline was recorded with '{base.get('build')}', "
              f"this build is '{args.build}'; counts differ between compilers and flags.  "
              "Refresh it on the reference toolchain: bench/README.md, 'Instruction counts'.")
        return SKIP
    tol = float(base.get("tolerance", 0.02))
    status = 0
    for w in WORKLOADS:
        b, n = base["counts"].get(w), counts[w]
        if b is None:
            print(f"icount: {w}: no baseline")
            status = 1
            continue
        change = n / b - 1
        verdict = "ok"
        if change > tol:
            verdict, status = f"FAIL: more than {tol:.0%} above the baseline", 1
        elif change < -tol:
            verdict = "ok, and more than the tolerance below the baseline: refresh it to keep the gain"
        print(f"icount: {w:9} {n:>12,} instructions, baseline {b:>12,} ({change:+.2%}) {verdict}")
    return status


if __name__ == "__main__":
    sys.exit(main())
