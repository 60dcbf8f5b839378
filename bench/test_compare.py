#!/usr/bin/env python3
"""Self-test of ci/bench-compare on crafted Google Benchmark JSON.

Checks its exit status on runs made to order: a real regression of
libduct is flagged (1), while an unchanged rerun, a uniformly slower
machine, noise within the threshold and a slower peer are not (0); a
libduct case that failed is (1); unreadable input is a usage error (2).
Also checks the Mann-Whitney U test against exact values (and against
scipy when it is installed).  Standard library only; no wall time.

Usage: bench/test_compare.py   (ctest: bench_compare)
"""
import importlib.machinery
import importlib.util
import json
import os
import random
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TOOL = os.path.join(ROOT, "ci", "bench-compare")

GROUPS = [
    ("stream/unix/pinned/64", ["raw", "duct", "duct-batch", "zmq", "python"], 500e3),
    ("stream/tcp/unpinned/4096", ["raw", "duct", "duct-batch", "zmq", "nng"], 300e3),
    ("rtt/unix/pinned/64", ["raw", "duct", "zmq", "nng"], 10.0),
    ("rtt/tcp/pinned/65536", ["raw", "duct", "zmq", "python"], 30.0),
    ("json/typical", ["duct", "json-c"], 12000.0),
]
# How each system stands against the reference in the "true" model.
FACTOR = {"raw": 1.0, "duct": 0.95, "duct-batch": 25.0, "zmq": 3.0, "nng": 0.1, "json-c": 0.3,
          "python": 0.2}  # python: a testee (duct-bench --testee), timed manually


def make_run(path, seed, reps=6, noise=0.03, scale=1.0, tweak=None, error=None):
    """Writes a duct-bench-like JSON file.  scale multiplies every speed
    (a faster or slower machine); tweak maps a case name to an extra
    speed factor; error names a case that failed."""
    rnd = random.Random(seed)
    benches = []
    for group, systems, base in GROUPS:
        kind = group.split("/")[0]
        for system in systems:
            name = f"{group}/{system}"
            timer = "" if kind == "json" else "/manual_time" if system == "python" else "/real_time"
            for i in range(reps):
                f = FACTOR[system] * scale * (tweak or {}).get(name, 1.0) * rnd.lognormvariate(0, noise)
                b = {"name": name + timer, "run_name": name + timer,
                     "run_type": "iteration", "repetitions": reps, "repetition_index": i,
                     "threads": 1, "iterations": 1000}
                if error == name:
                    b.update(error_occurred=True, error_message="duct: recv: remote duct closed")
                elif kind == "stream":
                    b.update(real_time=1e6 / (base * f), time_unit="us", items_per_second=base * f)
                elif kind == "rtt":
                    b.update(real_time=base / f, time_unit="us", p50_us=base / f, p99_us=2 * base / f)
                else:
                    b.update(real_time=base / f, cpu_time=base / f, time_unit="ns")
                benches.append(b)
        # Aggregates, as Google Benchmark writes them: ignored by the tool.
        benches.append({"name": f"{group}/duct_median", "run_type": "aggregate",
                        "aggregate_name": "median", "real_time": 1.0})
    with open(path, "w") as f:
        json.dump({"context": {"duct_bench_loadavg_at_start": "0.5 0.5 0.5"}, "benchmarks": benches}, f)
    return path


def run_tool(*args):
    p = subprocess.run([sys.executable, TOOL, *args], capture_output=True, text=True)
    return p.returncode, p.stdout + p.stderr


failures = []


def expect(what, args, status, must_say=None, must_not_say=None):
    code, out = run_tool(*args)
    ok = code == status and (must_say is None or must_say in out) and \
        (must_not_say is None or must_not_say not in out)
    print(f"{'ok  ' if ok else 'FAIL'} {what}: exit {code} (want {status})")
    if not ok:
        failures.append(what)
        print("     " + out.replace("\n", "\n     "))


def load_tool():
    loader = importlib.machinery.SourceFileLoader("bench_compare", TOOL)
    spec = importlib.util.spec_from_loader("bench_compare", loader)
    mod = importlib.util.module_from_spec(spec)
    loader.exec_module(mod)
    return mod


def check_mwu():
    mod = load_tool()
    cases = [
        ([1, 2, 3], [4, 5, 6], 1 / 20),          # every x below every y
        ([1, 2, 3, 4], [5, 6, 7, 8], 1 / 70),
        ([4, 5, 6], [1, 2, 3], 1.0),             # every x above: p is 1
        ([1, 1], [1, 1], 1.0),                   # all tied
        ([1, 2, 3, 4, 5], [6, 7, 8, 9, 10], 1 / 252),
    ]
    for x, y, want in cases:
        got = mod.mann_whitney_less(x, y)
        ok = abs(got - want) < 1e-12
        print(f"{'ok  ' if ok else 'FAIL'} mann_whitney_less({x}, {y}) = {got:.6f} (want {want:.6f})")
        if not ok:
            failures.append(f"mwu {x} {y}")
    # The large-sample path agrees with the exact one near its limit.
    rnd = random.Random(7)
    x = [rnd.gauss(0, 1) for _ in range(12)]
    y = [rnd.gauss(0.5, 1) for _ in range(12)]
    exact_limit, mod.EXACT_LIMIT = mod.EXACT_LIMIT, 0
    approx = mod.mann_whitney_less(x, y)
    mod.EXACT_LIMIT = 10 ** 7
    exact = mod.mann_whitney_less(x, y)
    mod.EXACT_LIMIT = exact_limit
    ok = abs(approx - exact) < 0.01
    print(f"{'ok  ' if ok else 'FAIL'} normal approximation {approx:.4f} ~ exact {exact:.4f}")
    if not ok:
        failures.append("mwu approximation")
    try:
        from scipy.stats import mannwhitneyu
    except ImportError:
        print("skip scipy cross-check (python3-scipy not installed)")
        return
    for seed in range(20):
        rnd = random.Random(seed)
        x = [rnd.random() for _ in range(rnd.randint(3, 7))]
        y = [rnd.random() + 0.2 for _ in range(rnd.randint(3, 7))]
        want = mannwhitneyu(x, y, alternative="less", method="exact").pvalue
        got = mod.mann_whitney_less(x, y)
        if abs(got - want) > 1e-9:
            failures.append(f"scipy seed {seed}")
            print(f"FAIL scipy cross-check seed {seed}: {got} != {want}")
    print("ok   scipy cross-check, 20 random samples")


def main():
    with tempfile.TemporaryDirectory() as d:
        p = lambda name: os.path.join(d, name)
        base = make_run(p("base.json"), seed=1)
        expect("an unchanged rerun passes", [base, make_run(p("rerun.json"), seed=2)], 0)
        expect("the same file passes", [base, base], 0)
        expect("a uniformly slower machine passes",
               [base, make_run(p("slow.json"), seed=3, scale=0.6)], 0)
        expect("a uniformly faster machine passes",
               [base, make_run(p("fast.json"), seed=4, scale=1.7)], 0)
        expect("a well-measured 5% slowdown of libduct (within the 10% threshold) passes",
               [make_run(p("quiet.json"), seed=5, noise=0.01), make_run(p("small.json"), seed=5, noise=0.01,
                               tweak={f"{g}/{s}": 0.95 for g, ss, _ in GROUPS for s in ss if s.startswith("duct")})],
               0)
        expect("noisier repetitions of an unchanged run pass",
               [base, make_run(p("noisy.json"), seed=6, noise=0.06)], 0)
        regress = make_run(p("regress.json"), seed=7, tweak={"stream/unix/pinned/64/duct": 0.8})
        expect("a 20% streaming regression of libduct is flagged", [base, regress], 1,
               must_say="REGRESSION stream/unix/pinned/64/duct")
        expect("... and not with a 25% threshold", [base, regress, "--threshold", "0.25"], 0)
        expect("... and not when filtered out", [base, regress, "--filter", "^rtt/"], 0)
        expect("a 20% round-trip regression of libduct is flagged",
               [base, make_run(p("rtt.json"), seed=8, tweak={"rtt/tcp/pinned/65536/duct": 0.8})], 1,
               must_say="REGRESSION rtt/tcp/pinned/65536/duct")
        expect("a batched-send regression is flagged",
               [base, make_run(p("batch.json"), seed=9, tweak={"stream/tcp/unpinned/4096/duct-batch": 0.5})],
               1, must_say="REGRESSION stream/tcp/unpinned/4096/duct-batch")
        expect("a JSON codec regression is flagged",
               [base, make_run(p("json.json"), seed=10, tweak={"json/typical/duct": 0.7})], 1,
               must_say="REGRESSION json/typical/duct")
        expect("a regression on a slower machine is still flagged",
               [base, make_run(p("both.json"), seed=11, scale=0.6, tweak={"stream/unix/pinned/64/duct": 0.8})],
               1, must_say="REGRESSION stream/unix/pinned/64/duct")
        peer = make_run(p("peer.json"), seed=12, tweak={"stream/unix/pinned/64/zmq": 0.5})
        expect("a slower peer is reported, not gated", [base, peer], 0, must_say="slower (peer)")
        expect("... but gated with --all", [base, peer, "--all"], 1)
        expect("a testee's regression is flagged (an implementer's gate)",
               [base, make_run(p("testee.json"), seed=17, tweak={"rtt/tcp/pinned/65536/python": 0.7})],
               1, must_say="REGRESSION rtt/tcp/pinned/65536/python")
        expect("a libduct case that failed in NEW is flagged",
               [base, make_run(p("err.json"), seed=13, error="rtt/unix/pinned/64/duct")], 1,
               must_say="BROKEN rtt/unix/pinned/64/duct")
        expect("an improvement passes and is reported",
               [base, make_run(p("better.json"), seed=14, tweak={"stream/unix/pinned/64/duct": 1.3})], 0,
               must_say="improved")
        few_base = make_run(p("few1.json"), seed=15, reps=3)
        few_new = make_run(p("few2.json"), seed=16, reps=3, tweak={"stream/unix/pinned/64/duct": 0.5})
        expect("3 repetitions a side cannot be significant: warned, not gated",
               [few_base, few_new], 0, must_say="nothing is gated")
        expect("a missing file is a usage error", [base, p("missing.json")], 2)
        with open(p("notgb.json"), "w") as f:
            f.write('{"hello": 1}')
        expect("a JSON file that is not Google Benchmark's is a usage error", [base, p("notgb.json")], 2)
        expect("a bad threshold is a usage error", [base, base, "--threshold", "2"], 2)
        expect("a missing operand is a usage error", [base], 2)
    check_mwu()
    print(f"\n{len(failures)} failures")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
