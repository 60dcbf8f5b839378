#!/usr/bin/env python3
"""Checks duct-conform itself: options, reports, expected failures, and that
a crashing or hanging testee gives a readable report and a non-zero exit.

usage: check_runner.py DUCT_CONFORM DUCT_TESTEE
"""
import json
import os
import re
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET

HERE = os.path.dirname(os.path.abspath(__file__))
BAD = "/usr/bin/python3 " + os.path.join(HERE, "bad_testee.py")
LAST = re.compile(r"^\d+ passed, \d+ failed(, \d+ skipped)?$")


def run(*args, timeout=120):
    p = subprocess.run([CONFORM, *args], capture_output=True, text=True, timeout=timeout)
    return p.returncode, p.stdout + p.stderr


def check(cond, what, out=""):
    if not cond:
        sys.exit(f"check_runner: FAILED: {what}\n{out}")
    print(f"ok - {what}")


def main():
    global CONFORM
    if len(sys.argv) != 3:
        sys.exit(__doc__.strip())
    CONFORM, testee = sys.argv[1], sys.argv[2]
    one = ["--role", "parent", "--transport", "unix"]

    rc, out = run("--help")
    check(rc == 0 and "--expected-failures" in out, "--help")
    rc, out = run("--bogus")
    check(rc == 2 and "try --help" in out, "an unknown option exits 2")
    rc, out = run("--list")
    ids = [line.split()[0] for line in out.splitlines()]
    check(rc == 0 and len(ids) > 300 and len(ids) == len(set(ids)), "--list: unique ids")

    for mode, words in [("crash", "crashed (signal 11"), ("hang", "hung"),
                        ("exit", "exited with status 3"), ("version", "knows versions 1 and 1.1")]:
        rc, out = run("--testee", f"{BAD} {mode}", "--cases", "poll.zero_does_not_block",
                      "--timeout-scale", "0.3", *one)
        check(rc == 1 and words in out and LAST.match(out.splitlines()[-1]),
              f"a testee that does '{mode}' is reported as '{words}'", out)

    rc, out = run("--testee", f"{BAD} unavailable", *one)
    check(rc == 77 and "is unavailable: bad-testee: nothing to test here" in out and
          "FAIL" not in out, "a testee that exits 77 stops the run with status 77", out)
    v1 = "/usr/bin/python3 " + os.path.join(HERE, "v1_testee.py")
    rc, out = run("--testee", v1, "--cases", "close.in_fork,sec.eintr,frame.send_small", *one)
    check(rc == 0 and out.count("UNSUPPORTED") == 2 and "PASS          frame.send_small" in out,
          "a version 1 testee works; cases needing 1.1 features are UNSUPPORTED", out)
    rc, out = run("--testee", "python", "--cases", "frame.send_small", *one)
    check(rc == 0 and re.search(r"testee python: \S*python3 \S*testees/python/testee.py", out),
          "a shipped testee by short name", out)

    with tempfile.TemporaryDirectory() as d:
        junit, rep, matrix = (os.path.join(d, n) for n in ("j.xml", "r.json", "m"))
        rc, out = run("--testee", f"ref={testee}", "--testee", f"bad={BAD} exit",
                      "--cases", "frame.send_small,poll.*", *one, "--junit", junit,
                      "--json", rep, "--matrix", matrix)
        check(rc == 1, "a matrix with one failing testee fails", out)
        suites = ET.parse(junit).getroot().findall("testsuite")
        check([s.get("name") for s in suites] == ["ref", "bad"] and
              suites[0].get("failures") == "0" and int(suites[1].get("failures")) > 0,
              "JUnit XML: one suite per testee, failures counted")
        results = json.load(open(rep))["results"]
        check({r["grade"] for r in results if r["testee"] == "ref"} == {"PASS"},
              "JSON report: grades per result")
        md = open(matrix + ".md").read()
        check("| frame.send_small |" in md and "| PASS | FAIL |" in md and
              os.path.getsize(matrix + ".html") > 0, "matrix: Markdown and HTML")

        xf = os.path.join(d, "xfail")
        with open(xf, "w") as f:
            f.write("# known\npoll.zero_does_not_block@parent/unix the bad testee exits\n")
        rc, out = run("--testee", f"{BAD} exit", "--cases", "poll.zero_does_not_block",
                      *one, "--expected-failures", xf)
        check(rc == 0 and "XFAIL" in out, "an expected failure does not fail the run", out)
        rc, out = run("--testee", testee, "--cases", "poll.zero_does_not_block", *one,
                      "--expected-failures", xf)
        check(rc == 1 and "XPASS" in out, "an expected failure that passes fails the run", out)
        with open(xf, "w") as f:
            f.write("poll.zero_does_not_block\n")
        rc, out = run("--testee", testee, "--expected-failures", xf)
        check(rc == 2 and "needs a reason" in out, "an expected failure needs a reason", out)

    check_interop(testee)


def check_interop(testee):
    """--interop: usage, every ordered pair, a broken side named, reports."""
    rc, out = run("--interop")
    check(rc == 2 and "--interop takes" in out, "--interop with nobody exits 2", out)
    rc, out = run("--interop", "libduct", "--testee", "python")
    check(rc == 2, "--interop with --testee exits 2", out)
    rc, out = run("--interop", "libduct", "--list")
    ids = [line.split()[0] for line in out.splitlines()]
    check(rc == 0 and ids and all(i.startswith("interop.") for i in ids),
          "--interop --list lists the interop cases", out)
    rc, out = run("--interop", f"ref={testee}", f"gone={BAD} unavailable")
    check(rc == 77 and "testee gone is unavailable" in out,
          "an unavailable implementation stops the interop run with 77", out)

    with tempfile.TemporaryDirectory() as d:
        junit, rep, matrix = (os.path.join(d, n) for n in ("j.xml", "r.json", "m"))
        rc, out = run("--interop", f"ref={testee}", f"bad={BAD} exit", "--cases",
                      "interop.empty_both_ways", "--transport", "unix", "--junit", junit,
                      "--json", rep, "--matrix", matrix, "--timeout-scale", "0.3")
        pairs = ["ref>ref", "ref>bad", "bad>ref", "bad>bad"]
        check(rc == 1 and all(f"[{p}]" in out for p in pairs),
              "--interop runs every ordered pair, itself included", out)
        check("child bad:" in out and "control channel of the parent ref:" in out,
              "a failed pair names the failing side and shows both transcripts", out)
        check(LAST.match(out.splitlines()[-1]) and "1 passed, 3 failed" in out,
              "--interop: one pass (ref>ref), three failures", out)
        suites = ET.parse(junit).getroot().findall("testsuite")
        check([s.get("name") for s in suites] == pairs, "interop JUnit: a suite per pair")
        tees = json.load(open(rep))["testees"]
        check(tees[1]["parent"]["name"] == "ref" and tees[1]["child"]["name"] == "bad" and
              tees[0]["parent"]["hello"].startswith("ok 1.1 "),
              "interop JSON: each pair names its parent and child, with hello", str(tees))
        md = open(matrix + ".md").read()
        check("| ref | PASS 1/1 | FAIL 0/1 |" in md,
              "interop matrix: the parent x child grid", md)


if __name__ == "__main__":
    main()
