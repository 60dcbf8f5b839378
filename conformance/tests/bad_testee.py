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
The duct-level ones act on "child ADDRESS" and answer "ok" to the rest:
  flood    connects, then writes bytes to the duct without end
  bighdr   connects, then sends a header announcing 4 GiB - 1 and stalls
  manyconnect  connects 50 times, keeping every connection open
  noconnect    says "ok" without connecting
"""
import os
import signal
import socket
import sys
import threading
import time

mode = sys.argv[1] if len(sys.argv) > 1 else "--help"
MODES = ("hang", "crash", "exit", "version", "mute", "unavailable", "longline", "binary",
         "twice", "midreply", "closeout", "grandchild", "flood", "bighdr", "manyconnect",
         "noconnect")
DUCT_MODES = ("flood", "bighdr", "manyconnect", "noconnect")
held = []   # connections kept open


def connect(address):
    kind, _, rest = address.partition(":")
    if kind == "unix":
        s = socket.socket(socket.AF_UNIX)
        s.connect(rest)
    else:
        host, _, port = rest.rpartition(":")
        s = socket.create_connection((host.strip("[]"), int(port)))
    held.append(s)
    return s


def flood(s):
    try:
        while True:
            s.sendall(b"\xff" * 65536)
    except OSError:
        pass


def duct_command(cmd):
    if cmd[0] == "child" and mode == "flood":
        threading.Thread(target=flood, args=(connect(cmd[1]),), daemon=True).start()
    elif cmd[0] == "child" and mode == "bighdr":
        connect(cmd[1]).sendall(b"\x54\xff\xff\xff\xff" + b"x" * 100)
    elif cmd[0] == "child" and mode == "manyconnect":
        for _ in range(50):
            connect(cmd[1])
    print("ok", flush=True)
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
    elif mode in DUCT_MODES:
        duct_command(cmd)
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
