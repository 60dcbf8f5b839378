#!/usr/bin/env python3
"""Traces every requirement of PROTOCOL.md to the code and tests that cite it,
and to the duct-conform cases that check it: the only tests a third party
runs.

Usage: ci/spec-trace.py [--table] [--runner DUCT_CONFORM]

Fails (exit 1) when
- a requirement has no test or vector citing it;
- a requirement has no duct-conform case (hand-written, vector or interop)
  and is not listed, with the reason, in conformance/not-checked;
- a listed requirement has a case after all (the list must not rot), or a
  line of the list names no requirement;
- a source, test or vector cites an ID that PROTOCOL.md does not define.
The cases come from `DUCT_CONFORM --list` (default: the release build's).
With --table, prints each requirement's code, unit tests and runner cases.
"""
import os
import re
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ID = re.compile(r"\b((?:FRAME|RECV|SEND|LIFE|ADDR|POLL|CLOSE|TIME|JSON|SEC)-\d+)\b")
DEFINED = re.compile(r"^\*\*((?:[A-Z]+)-\d+)\*\*", re.M)
WHOLE_ID = re.compile(r"^[A-Z]+-\d+$")

CODE_DIRS = ["ref/src", "ref/include"]
TEST_DIRS = ["ref/test", "vectors", "conformance", "fuzz"]
SUFFIXES = (".c", ".h", ".py", ".json", ".cc")
NOT_CHECKED = os.path.join("conformance", "not-checked")


def cites(dirs):
    found = {}
    for d in dirs:
        for base, _, files in os.walk(os.path.join(ROOT, d)):
            for f in files:
                if not f.endswith(SUFFIXES):
                    continue
                path = os.path.join(base, f)
                with open(path, encoding="utf-8", errors="replace") as fh:
                    for rid in set(ID.findall(fh.read())):
                        found.setdefault(rid, set()).add(os.path.relpath(path, ROOT))
    return found


def runner_cases(runner):
    """Requirement -> the ids of the cases that name it, from --list: each
    line is the id, the level, then the requirement IDs, then the text."""
    found = {}
    for extra in ([], ["--interop", "libduct"]):
        out = subprocess.run([runner, "--list", *extra], capture_output=True, text=True,
                             check=True).stdout
        for line in out.splitlines():
            words = line.split()
            for w in words[2:]:
                if not WHOLE_ID.match(w):
                    break
                found.setdefault(w, []).append(words[0])
    return found


def not_checked():
    """The list of requirements no case can check, as {ID: reason}."""
    listed = {}
    with open(os.path.join(ROOT, NOT_CHECKED), encoding="utf-8") as fh:
        for line in fh:
            line = line.strip()
            if line and not line.startswith("#"):
                rid, _, reason = line.partition(" ")
                listed[rid] = reason.strip()
    return listed


def main():
    args = sys.argv[1:]
    if args[:1] in (["-h"], ["--help"]):
        print(__doc__.strip())
        return 0
    runner = os.path.join(ROOT, "build", "release", "conformance", "duct-conform")
    if "--runner" in args:
        i = args.index("--runner")
        if i + 1 >= len(args):
            print("spec-trace: --runner needs the path of duct-conform", file=sys.stderr)
            return 2
        runner = args[i + 1]
    if not os.access(runner, os.X_OK):
        print(f"spec-trace: no duct-conform at {runner}: build it (ci/conform.sh --list) "
              "or give --runner PATH", file=sys.stderr)
        return 2
    with open(os.path.join(ROOT, "PROTOCOL.md"), encoding="utf-8") as fh:
        defined = DEFINED.findall(fh.read())
    code, tests = cites(CODE_DIRS), cites(TEST_DIRS)
    cases, listed = runner_cases(runner), not_checked()
    errors = []
    for rid in sorted(set(code) | set(tests) | set(cases)):
        if rid not in defined:
            where = sorted(code.get(rid, set()) | tests.get(rid, set())) + cases.get(rid, [])
            errors.append(f"{rid} is cited by {where} but not defined in PROTOCOL.md")
    for rid in defined:
        if rid not in tests:
            errors.append(f"{rid} has no test or vector citing it")
        if rid not in cases and rid not in listed:
            errors.append(f"{rid} has no duct-conform case: add one, or list it in "
                          f"{NOT_CHECKED} with the reason no case can check it")
        if rid in cases and rid in listed:
            errors.append(f"{rid} is listed in {NOT_CHECKED}, but {cases[rid][0]} checks it: "
                          "take it off the list")
    for rid in listed:
        if rid not in defined:
            errors.append(f"{NOT_CHECKED} lists {rid}, which PROTOCOL.md does not define")
    if "--table" in args:
        for rid in defined:
            ran = cases.get(rid, [])
            shown = ", ".join(ran[:4]) + (f", ... ({len(ran)} in all)" if len(ran) > 4 else "")
            print(f"{rid:9} code:   {', '.join(sorted(code.get(rid, []))) or '-'}")
            print(f"{'':9} tests:  {', '.join(sorted(tests.get(rid, []))) or '-'}")
            print(f"{'':9} runner: {shown or 'none: ' + listed.get(rid, '(not listed)')}")
    for e in errors:
        print("spec-trace:", e, file=sys.stderr)
    print(f"spec-trace: {len(defined)} requirements, {sum(r in cases for r in defined)} "
          f"checked by duct-conform cases, {len(listed)} not checked through the "
          f"contract ({NOT_CHECKED}), {len(errors)} problems")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
