#!/usr/bin/env python3
"""A deliberately broken testee, to check that duct-conform reports it.

usage: bad_testee.py MODE

  hang     answers hello, then never answers again
  crash    answers hello, then dies of SIGSEGV on the next command
  exit     answers hello, then exits with status 3
  version  claims contract version 99
  mute     never answers at all
  unavailable  exits 77 at once: its implementation is not installed
  longline answers hello, then a reply that never ends (64 MiB, no newline)
  binary   answers hello, then replies with NUL, invalid UTF-8, a terminal
           escape and XML's forbidden characters
  twice    answers every command twice (hello included)
  midreply answers hello, then writes half a reply and exits
  closeout answers hello, then closes its stdout and sleeps
  grandchild  answers hello, then leaves a grandchild holding its pipes and
           exits
"""
import os
import signal
import sys
import time

mode = sys.argv[1] if len(sys.argv) > 1 else "--help"
MODES = ("hang", "crash", "exit", "version", "mute", "unavailable", "longline", "binary",
         "twice", "midreply", "closeout", "grandchild")
if mode not in MODES:
    print(__doc__.strip())
    sys.exit(0 if mode in ("-h", "--help") else 2)
if mode == "unavailable":
    print("bad-testee: nothing to test here, install it first", file=sys.stderr)
    sys.exit(77)

out = sys.stdout.buffer
for line in sys.stdin:
    cmd = line.split()
    if mode == "mute":
        time.sleep(3600)
    if cmd[0] == "hello":
        print("ok 99 bad" if mode == "version" else "ok 1 bad-testee", flush=True)
        if mode == "twice":
            print("ok 1 bad-testee", flush=True)
    elif mode == "longline":
        for _ in range(1024):        # the runner stops reading long before
            out.write(b"x" * 65536)
            out.flush()
        time.sleep(3600)
    elif mode == "binary":
        out.write(b"ok \x00\xff\xfe\x1b[2J\x1b]0;owned\x07 <&\"\x01\x0b>\n")
        out.flush()
    elif mode == "twice":
        out.write(b"ok\nok\n")
        out.flush()
    elif mode == "midreply":
        out.write(b"ok 0102")
        out.flush()
        os._exit(0)
    elif mode == "closeout":
        os.close(1)
        time.sleep(3600)
    elif mode == "grandchild":
        if os.fork() == 0:
            time.sleep(3600)
        os._exit(0)
    elif mode == "crash":
        os.kill(os.getpid(), signal.SIGSEGV)
    elif mode == "exit":
        sys.exit(3)
    elif mode == "hang":
        time.sleep(3600)
    else:
        print("error unsupported", flush=True)
