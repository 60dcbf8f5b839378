#!/usr/bin/env python3
"""Checks duct-conform itself: options, reports, expected failures, that
a crashing or hanging testee gives a readable report and a non-zero exit,
and that --jobs N gives the serial run's verdicts and reports.

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
                        ("exit", "exited with status 3")]:
        rc, out = run("--testee", f"{BAD} {mode}", "--cases", "poll.zero_does_not_block",
                      "--timeout-scale", "0.3", *one)
        check(rc == 1 and words in out and LAST.match(out.splitlines()[-1]),
              f"a testee that does '{mode}' is reported as '{words}'", out)
    # No case can run without hello: the run stops before the first (more
    # such testees: check_hostile.py).
    rc, out = run("--testee", f"{BAD} version", *one)
    check(rc == 2 and "knows versions 1, 1.1 and 1.2" in out and "FAIL" not in out,
          "a testee of an unknown contract version stops the run with status 2", out)

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
    check_jobs(testee)
    check_netns(testee)


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
              tees[0]["parent"]["hello"].startswith("ok 1.2 "),
              "interop JSON: each pair names its parent and child, with hello", str(tees))
        md = open(matrix + ".md").read()
        check("| ref | PASS 1/1 | FAIL 0/1 |" in md,
              "interop matrix: the parent x child grid", md)


def untimed(path):
    """A report without its timings: JSON "ms", JUnit time."""
    with open(path) as f:
        return re.sub(r'("ms": )\d+|( time=")[0-9.]+"', r"\1\2", f.read())


def same_runs(args, what, reports=True):
    """Runs args serially and with --jobs 4: the same exit status, console
    and (reports) JUnit, JSON and matrix but for timings."""
    seen = []
    with tempfile.TemporaryDirectory() as d:
        for jobs in ("1", "4"):
            files = [os.path.join(d, jobs + n) for n in (".xml", ".json", "m")]
            extra = ["--junit", files[0], "--json", files[1], "--matrix", files[2]]
            rc, out = run(*args, "--jobs", jobs, *(extra if reports else []))
            got = [rc, out]
            if reports:
                got += [untimed(files[0]), untimed(files[1]), open(files[2] + ".md").read()]
            seen.append(got)
    serial, parallel = seen
    for k, name in enumerate(["exit status", "console", "JUnit", "JSON", "matrix"][:len(serial)]):
        check(serial[k] == parallel[k], f"--jobs 4 as serial, {what}: the same {name}",
              f"--- serial:\n{serial[k]}\n--- --jobs 4:\n{parallel[k]}")
    return serial


def check_netns(testee):
    """--netns: where the machine cannot, exit 77 and why; a failed setup
    step, exit 2 and what it printed; where it can, the TCP cases cross."""
    p = subprocess.run([CONFORM, "--netns", "--testee", testee], capture_output=True, text=True,
                       timeout=60, env=dict(os.environ, PATH="/nonexistent"))
    check(p.returncode == 77 and "ip is not installed (Debian: iproute2)" in p.stderr,
          "--netns without ip: exit 77, says so", p.stdout + p.stderr)
    rc, out = run("--netns-rate", "fast", "--testee", testee, "--cases", "frame.send_small")
    if rc == 77:
        print("skip - --netns: this machine cannot make network namespaces")
        return
    check(rc == 2 and "tc qdisc add dev duct-r root tbf rate fast" in out,
          "--netns-rate fast: exit 2 with tc's complaint", out)
    rc, out = run("--netns", "--testee", testee, "--cases", "frame.send_small,addr.tcp_loopback",
                  "--transport", "tcp")
    check(rc == 0 and "network: netns: runner 198.18.0.1, testee 198.18.0.2" in out and
          out.count("PASS ") == 3 and "the link carried" in out,
          "--netns: the TCP cases pass across the link, and say what crossed", out)


def check_jobs(testee):
    """--jobs N: usage; the serial run's order, verdicts and reports; a
    crashing, hanging or missing testee still caught."""
    for bad in ("0", "-3", "many", "2x"):
        rc, out = run("--jobs", bad, "--list")
        check(rc == 2 and "--jobs takes a number" in out, f"--jobs {bad} exits 2", out)
    rc, out = run("--help")
    check(rc == 0 and "--jobs N" in out and "only each other beside them" in out,
          "--help documents --jobs", out)

    # Timed cases (poll.*, recv.trickle_memory) among untimed ones, every
    # role and transport; then two testees, one crashing (as a parent: a
    # crashing child costs the runner's accept timeout per case).
    cases = ("frame.send_small,frame.recv_many,recv.magic_is_final,recv.trickle_memory,"
             "life.one_child,poll.true_on_*,close.idempotent,json.error_keeps_connection,"
             "vector.frames.truncated_header_*")
    rc, out = same_runs(["--testee", testee, "--cases", cases], "every role and transport")[:2]
    check(rc == 0 and len(re.findall(r"^PASS ", out, re.M)) > 60 and
          out.count("--- testee as") == 4, "--jobs: every case passes, under its heading", out)
    rc, out = same_runs(["--testee", f"ref={testee}", "--testee", f"bad={BAD} crash",
                         "--cases", cases, "--role", "parent"], "two testees, one crashing")[:2]
    ref = re.findall(r"^(\S+) .*\[ref\]$", out, re.M)
    bad = re.findall(r"^(\S+) .*\[bad\]$", out, re.M)
    check(rc == 1 and len(ref) > 20 and set(ref) == {"PASS"} and len(bad) == len(ref) and
          "PASS" not in bad and out.count("crashed (signal 11") == len(bad),
          "--jobs: ref passes everything, the crashing testee fails every case", out)
    same_runs(["--interop", f"ref={testee}", "python", "--cases",
               "interop.empty_both_ways,interop.poll_across"], "an interop matrix")
    # A missing implementation stops the run before its first case, found
    # when each testee says hello once before the run, either way.
    rc, out = same_runs(["--testee", f"ref={testee}", "--testee", f"gone={BAD} unavailable",
                         "--cases", "frame.send_small,poll.zero_does_not_block"],
                        "a testee that exits 77 after one that runs", reports=False)
    check(rc == 77 and out.count("PASS") == 0 and "testee gone is unavailable" in out,
          "--jobs: a testee that exits 77 stops the run with status 77", out)

    one = ["--role", "parent", "--transport", "unix"]
    for mode, words in [("crash", "crashed (signal 11"), ("hang", "hung")]:
        rc, out = run("--testee", f"{BAD} {mode}", "--cases",
                      "frame.send_small,frame.send_empty,close.*,poll.zero_does_not_block",
                      "--timeout-scale", "0.3", "--jobs", "4", *one)
        fails = [line for line in out.splitlines() if line.startswith("FAIL ")]
        check(rc == 1 and len(fails) == 7 and out.count(words) == 7 and
              LAST.match(out.splitlines()[-1]),
              f"--jobs 4: a testee that does '{mode}' gets '{words}' in every case", out)


if __name__ == "__main__":
    main()
