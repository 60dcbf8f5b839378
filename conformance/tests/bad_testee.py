#!/usr/bin/env python3
"""A deliberately broken testee, to check that duct-conform reports it.

usage: bad_testee.py hang|crash|exit|version|mute|unavailable

  hang     answers hello, then never answers again
  crash    answers hello, then dies of SIGSEGV on the next command
  exit     answers hello, then exits with status 3
  version  claims contract version 99
  mute     never answers at all
  unavailable  exits 77 at once: its implementation is not installed
"""
import os
import signal
import sys
import time

mode = sys.argv[1] if len(sys.argv) > 1 else "--help"
if mode not in ("hang", "crash", "exit", "version", "mute", "unavailable"):
    print(__doc__.strip())
    sys.exit(0 if mode in ("-h", "--help") else 2)
if mode == "unavailable":
    print("bad-testee: nothing to test here, install it first", file=sys.stderr)
    sys.exit(77)

for line in sys.stdin:
    cmd = line.split()
    if mode == "mute":
        time.sleep(3600)
    if cmd[0] == "hello":
        print("ok 99 bad" if mode == "version" else "ok 1 bad-testee", flush=True)
    elif mode == "crash":
        os.kill(os.getpid(), signal.SIGSEGV)
    elif mode == "exit":
        sys.exit(3)
    elif mode == "hang":
        time.sleep(3600)
    else:
        print("error unsupported", flush=True)
