#!/usr/bin/env python3
"""Proves the suite catches real bugs: runs duct-conform against every mutant
testee (mutant.py) and checks that each fails at least one MUST case (with
--strict, a SHOULD case, for a defect that breaks only a SHOULD).

usage: check_mutants.py DUCT_CONFORM [--markdown]

Each mutant runs against the same fixed selection of cases, chosen without
regard to the mutants (every hand-written case, the frame vectors for
truncation, limits and bad magic, and a few JSON vectors), with the testee
in the role and transport the mutant names (mutant.py --list; most are a
Unix parent), two cases at a time (--jobs 2) and four mutants at a time on
two cores: with the runner's own deadlines (--timeout-scale 1), the cases
that catch each mutant are the same as a serial run's.  --markdown prints
the table of which cases caught which mutant, for the README.
"""
import os
import re
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor

HERE = os.path.dirname(os.path.abspath(__file__))
MUTANT = "/usr/bin/python3 " + os.path.join(HERE, "mutant.py")
CASES = ("frame.*,recv.*,send.*,life.*,addr.*,poll.*,close.*,time.*,sec.*,json.error*,"
         "json.encode.mixed,json.decode.raw_utf8,vector.frames.truncated_*,"
         "vector.frames.max_*,vector.frames.bad_magic_*")
FAIL = re.compile(r"^FAIL\s+(\S+)", re.M)


def run(conform, name, level, where):
    strict = ["--strict"] if level == "SHOULD" else []
    role, transport = where.split("/")
    # A TMPDIR of its own: leaves_path's defect is to leave socket paths.
    t0 = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="mutant-") as tmp:
        p = subprocess.run([conform, "--testee", f"{name}={MUTANT} {name}", "--cases", CASES,
                            "--role", role, "--transport", transport, "--timeout-scale", "1",
                            "--jobs", "2",
                            *strict], capture_output=True, text=True, timeout=600,
                           env=dict(os.environ, TMPDIR=tmp))
    return name, p.returncode, FAIL.findall(p.stdout), p.stdout, time.monotonic() - t0


def main():
    if len(sys.argv) < 2 or sys.argv[1] in ("-h", "--help"):
        print(__doc__.strip())
        return 0 if sys.argv[1:2] in (["-h"], ["--help"]) else 2
    conform, markdown = sys.argv[1], "--markdown" in sys.argv
    listing = subprocess.run(["/usr/bin/python3", os.path.join(HERE, "mutant.py"), "--list"],
                             capture_output=True, text=True, check=True).stdout
    mutants = {n: (lv, where, about) for n, lv, where, about in
               (line.split(None, 3) for line in listing.splitlines())}
    # Two runs a core: a run spends half its time waiting (deadlines, sleeps),
    # and load can only add failures, never hide the one that catches.
    with ThreadPoolExecutor(max_workers=2 * (os.cpu_count() or 2)) as pool:
        results = list(pool.map(lambda n: run(conform, n, *mutants[n][:2]), mutants))
    missed = 0
    if markdown:
        print("| mutant | defect | breaks | cases that catch it |\n|---|---|---|---|")
    for name, rc, fails, out, took in results:
        caught = rc == 1 and fails
        missed += not caught
        shown = ", ".join(f"`{f}`" for f in fails[:4]) + (" ..." if len(fails) > 4 else "")
        if markdown:
            print(f"| `{name}` | {mutants[name][2]} | {mutants[name][0]} | {shown} "
                  f"({len(fails)}) |")
        else:
            print(f"{'caught' if caught else 'MISSED':7} {name:20} {len(fails):3} "
                  f"{mutants[name][0]} failures in {took:4.1f} s: {', '.join(fails[:3])}")
        if not caught:
            print(out[-3000:], file=sys.stderr)
    print(f"{len(results) - missed} of {len(results)} mutants caught", file=sys.stderr)
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
