#!/usr/bin/python3
"""duct-bench driving testees (sys_testee.c), once per case, never timed.

Checks that every bench-* command of every shipped testee runs through
duct-bench (--bench_smoke: one message a case, pinned cases only), that a
pair runs, and each error path: a testee that cannot start, one without the
bench feature, one whose implementation is absent (77), one that breaks the
framing, and bad flags.  The original ductworks is skipped where it is not
installed (../shared/upstream, DUCTWORKS_SRC).

Usage: bench/test_testees.py DUCT-BENCH   (ctest: bench_testees)
"""
import json
import os
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PY = "/usr/bin/python3" if os.access("/usr/bin/python3", os.X_OK) else "python3"
MUTANT = f"{PY} {ROOT}/conformance/mutants/mutant.py"
V1 = f"{PY} {ROOT}/conformance/tests/v1_testee.py"
failures = []


def bench(*args, env=None):
    with tempfile.NamedTemporaryFile(suffix=".json") as out:
        p = subprocess.run([BENCH, "--bench_smoke", "--bench_cpu=0", "--benchmark_min_time=0",
                            f"--benchmark_out={out.name}", "--benchmark_out_format=json", *args],
                           capture_output=True, text=True, timeout=300, env=env)
        try:
            rows = json.load(open(out.name))["benchmarks"]
        except (OSError, ValueError, KeyError):
            rows = []
    return p, rows


def check(what, ok, detail=""):
    print(("ok    " if ok else "FAIL  ") + what)
    if not ok:
        failures.append(what)
        if detail:
            print("      " + detail.strip().replace("\n", "\n      ")[-2000:])


def smoke(testees, pairs=()):
    """Every case of these testees, pinned: bench-send (NAME), bench-recv
    (NAME-recv), bench-echo (rtt NAME), bench-echo-value (NAME-value)."""
    args = [a for t in testees for a in ("--testee", t)]
    args += [a for p in pairs for a in ("--pair", *p)]
    names = "|".join([*testees, *(f"{a}>{b}" for a, b in pairs)])
    p, rows = bench(*args, f"--benchmark_filter=/pinned/[0-9]+/({names})(-recv|-value)?(/|$)")
    if p.returncode == 77:
        print(f"skip  {', '.join(testees)}: not installed ({p.stderr.strip()})")
        return
    errors = [r["name"] + ": " + r.get("error_message", "") for r in rows if r.get("error_occurred")]
    want = len(testees) * 2 * (5 * 2 + 3 * 2) + len(pairs) * 2 * 5
    check(f"smoke {' '.join(testees)} {pairs or ''}: {len(rows)} cases, none failed",
          p.returncode == 0 and not errors and len(rows) == want,
          f"exit {p.returncode}, {len(rows)} of {want} cases\n" + "\n".join(errors) + p.stderr)
    for suffix, command in (("", "bench-send"), ("-recv", "bench-recv"),
                            ("-value", "bench-echo-value")):
        for t in testees:
            check(f"{t}: {command} ran", any(r["name"].split("/")[4] == t + suffix for r in rows))
    check("every testee case is timed by its own clock (manual_time)",
          all(r["name"].endswith("/manual_time") for r in rows))


def fails(what, args, status, text, env=None):
    p, rows = bench(*args, env=env)
    check(f"{what}: exit {status}, says '{text}'",
          p.returncode == status and text in p.stderr + p.stdout,
          f"exit {p.returncode}\n{p.stderr}")
    return rows


def main():
    smoke(["libduct", "python"], [("python", "libduct")])
    smoke(["ductworks"], [("ductworks", "libduct")])

    fails("a testee that cannot start", ["--testee", "gone=/nonexistent/testee"], 2,
          "testee gone: the testee exited with status 127")
    fails("a version 1 testee (no bench feature)", ["--testee", f"v1={V1}"], 2,
          "does not offer the bench feature")
    env = dict(os.environ, DUCTWORKS_SRC="/nonexistent")
    fails("the original, not installed", ["--testee", "ductworks"], 77,
          "DUCTWORKS_SRC=/nonexistent", env=env)
    fails("--testee without a value", ["--testee"], 2, "--testee needs a testee")
    fails("--pair with one testee", ["--pair", "python"], 2, "--pair needs two testees")
    fails("a name with a slash", ["--testee", "a/b=true"], 2, "without '/'")
    fails("one name, two commands", ["--testee", "x=true", "--testee", "x=false"], 2,
          "two testees named 'x'")
    # A broken implementation fails its cases, and the run: exit 1.
    rows = fails("a testee that writes the length little-endian",
                 ["--testee", f"le={MUTANT} little_endian",
                  "--benchmark_filter=^stream/unix/pinned/64/le/"], 1, "a case failed")
    check("its case carries the error", len(rows) == 1 and rows[0].get("error_occurred"),
          json.dumps(rows)[:500])

    print(f"\n{len(failures)} failed" if failures else "\nall passed")
    return 1 if failures else 0


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    BENCH = sys.argv[1]
    sys.exit(main())
