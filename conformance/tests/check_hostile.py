#!/usr/bin/python3
"""duct-conform against testees that misbehave on purpose (bad_testee.py):
each case must get a clear verdict within its deadline, the run must go
on and exit as documented, the JUnit and JSON reports must stay valid, and
the runner's peak memory must stay under 64 MiB (its control-line buffer
is capped at 4 MiB, its transcripts at 4 KiB a direction; under
AddressSanitizer, 32 MiB over what it takes to list its cases).

usage: check_hostile.py DUCT_CONFORM   (ctest: conform_hostile, label hostile)
"""
import json
import os
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET

HERE = os.path.dirname(os.path.abspath(__file__))
BAD = "/usr/bin/python3 " + os.path.join(HERE, "bad_testee.py")
# The runner's own peak; the testees here are small Python processes.  An
# AddressSanitizer build holds shadow memory and freed blocks besides: there
# the bound is what the same runner takes to list its cases, plus 32 MiB.
RSS_LIMIT_KB = 64 * 1024
ASAN_MARGIN_KB = 32 * 1024
SCALE = 0.3          # deadlines x0.3: a 10 s hello wait is 3 s here
failures = []

# Two cases a run: the longest wait of either, scaled, is hello's 10 s x 0.3;
# each may take that and 2 s more, and the run 1 s to start and report.
MOST_S = 2 * (10 * SCALE + 2) + 1
# mode, expected exit status, words of the verdict
CASES = [
    ("longline", 1, "a control line of more than 4194304 bytes"),
    ("binary", 1, "the testee gave an address the runner cannot use: '????[2J?]0;owned?"),
    ("twice", 1, "with no command waiting for a reply"),
    ("midreply", 1, "the testee exited with status 0"),
    ("closeout", 1, "the testee closed its stdout"),
    ("grandchild", 1, "the testee exited with status 0"),
    ("crash", 1, "crashed (signal 11"),
    ("mute", 2, "can run no case, it fails at hello: the testee hung"),
    ("version", 2, "can run no case, it fails at hello: the testee speaks contract"),
    ("unavailable", 77, "is unavailable: bad-testee"),
    ("flood", 1, "expected a frame header 54 + a length up to 2 (FRAME-1), got ff ffffffff"),
    ("bighdr", 1, "expected a frame header 54 + a length up to 2 (FRAME-1), got 54 ffffffff"),
    ("manyconnect", 1, "the testee hung: no reply within 3000 ms"),
    ("noconnect", 1, "the testee (child) did not connect within 3000 ms"),
]
DUCT_MODES = ("flood", "bighdr", "manyconnect", "noconnect")


def check(ok, what, detail=""):
    print(("ok    " if ok else "FAIL  ") + what)
    if not ok:
        failures.append(what)
        if detail:
            print("      " + detail.strip().replace("\n", "\n      ")[-3000:])


def peak_kb(args):
    """The peak RSS of args and what it waits for, in KiB, and its output."""
    wrapper = ("import resource, subprocess, sys\n"
               "p = subprocess.run(sys.argv[1:], capture_output=True, text=True)\n"
               "sys.stdout.write(p.stdout + p.stderr)\n"
               "print('\\nRSS_KB', resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n"
               "sys.exit(p.returncode)\n")
    p = subprocess.run(["/usr/bin/python3", "-c", wrapper, *args], capture_output=True,
                       text=True, timeout=300)
    out = p.stdout + p.stderr
    return p.returncode, out, int(out.rsplit("RSS_KB", 1)[1]) if "RSS_KB" in out else -1


def run(conform, mode, d):
    """Runs the runner under a Python that reports its children's peak RSS.
    The duct-level behaviours need the testee as a child, over TCP."""
    junit, js = os.path.join(d, mode + ".xml"), os.path.join(d, mode + ".json")
    role, tr = ("child", "tcp") if mode in DUCT_MODES else ("parent", "unix")
    args = [conform, "--testee", f"bad={BAD} {mode}", "--cases", "frame.send_small,frame.send_empty",
            "--role", role, "--transport", tr, "--timeout-scale", str(SCALE),
            "--junit", junit, "--json", js]
    t0 = time.monotonic()
    rc, out, rss = peak_kb(args)
    return rc, out, time.monotonic() - t0, rss, junit, js


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__.strip())
    conform = sys.argv[1]
    limit = RSS_LIMIT_KB
    with open(conform, "rb") as f:
        if b"__asan_init" in f.read():
            limit = peak_kb([conform, "--list"])[2] + ASAN_MARGIN_KB
            print(f"AddressSanitizer build: the peak RSS bound is {limit // 1024} MiB")
    with tempfile.TemporaryDirectory() as d:
        for mode, status, words in CASES:
            rc, out, took, rss, junit, js = run(conform, mode, d)
            check(rc == status and words in out,
                  f"{mode}: exit {status}, says '{words}'", f"exit {rc}\n{out}")
            check(took <= MOST_S, f"{mode}: done in {took:.1f} s (at most {MOST_S:.0f} s)")
            check(0 < rss <= limit, f"{mode}: peak RSS {rss // 1024} MiB (at most {limit // 1024})")
            if status == 1:
                check(out.count("FAIL  ") == 2, f"{mode}: both cases ran and failed", out)
                try:
                    ET.parse(junit)
                    json.load(open(js))
                    valid = True
                except (ET.ParseError, ValueError, OSError) as e:
                    valid, out = False, str(e)
                check(valid, f"{mode}: the JUnit and JSON reports parse", out)
                check("\x1b" not in out and "\x00" not in out,
                      f"{mode}: no escape or NUL byte reaches the console")
    # Hangs overlap under --jobs: the 8 frame.* cases each wait out 5 s on a
    # testee that hangs; two at a time they would queue for 20 s, but one
    # running past 1 s stops counting (main.c, SLOW_MS).
    t0 = time.monotonic()
    p = subprocess.run([conform, "--testee", f"bad={BAD} hang", "--cases", "frame.*", "--role",
                        "parent", "--transport", "unix", "--jobs", "2"], capture_output=True,
                       text=True, timeout=120)
    took = time.monotonic() - t0
    check(p.returncode == 1 and p.stdout.count("FAIL  ") == 8 and "the testee hung" in p.stdout,
          "hang --jobs 2: all 8 cases fail as hung", p.stdout + p.stderr)
    check(took <= 13, f"hang --jobs 2: the hangs overlap, done in {took:.1f} s (at most 13 s; "
          "20 s queued)")
    print(f"\n{len(failures)} failed" if failures else "\nall passed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
