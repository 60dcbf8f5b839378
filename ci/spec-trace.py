#!/usr/bin/env python3
"""Traces every requirement of PROTOCOL.md to the code and tests that cite it.

Usage: ci/spec-trace.py [--table]

Fails (exit 1) when a requirement has no test or vector citing it, or when a
source, test or vector cites an ID that PROTOCOL.md does not define.  With
--table, prints requirement -> code files -> test files.
"""
import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ID = re.compile(r"\b((?:FRAME|RECV|SEND|LIFE|ADDR|POLL|CLOSE|TIME|JSON|SEC)-\d+)\b")
DEFINED = re.compile(r"^\*\*((?:[A-Z]+)-\d+)\*\*", re.M)

CODE_DIRS = ["ref/src", "ref/include"]
TEST_DIRS = ["ref/test", "vectors", "conformance", "fuzz"]
SUFFIXES = (".c", ".h", ".py", ".json", ".cc")


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


def main():
    if len(sys.argv) > 1 and sys.argv[1] in ("-h", "--help"):
        print(__doc__.strip())
        return 0
    with open(os.path.join(ROOT, "PROTOCOL.md"), encoding="utf-8") as fh:
        defined = DEFINED.findall(fh.read())
    code, tests = cites(CODE_DIRS), cites(TEST_DIRS)
    errors = []
    for rid in sorted(set(code) | set(tests)):
        if rid not in defined:
            errors.append(f"{rid} is cited by {sorted(code.get(rid, set()) | tests.get(rid, set()))} but not defined in PROTOCOL.md")
    for rid in defined:
        if rid not in tests:
            errors.append(f"{rid} has no test or vector citing it")
    if "--table" in sys.argv:
        for rid in defined:
            print(f"{rid:9} code: {', '.join(sorted(code.get(rid, []))) or '-'}")
            print(f"{'':9} test: {', '.join(sorted(tests.get(rid, []))) or '-'}")
    for e in errors:
        print("spec-trace:", e, file=sys.stderr)
    print(f"spec-trace: {len(defined)} requirements, {len(errors)} problems")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
