#!/usr/bin/env python3
"""pyduct's testee, except that a share of its processes (default 0.1; the
environment's HANG_SHARE) answer hello and then never answer again, as an
implementation that hangs on some cases does.  Each case has a testee
process of its own, so about that share of the cases hangs.  For timing
what hangs cost a run (README, "Run cases in parallel"):

    c=build/release/conformance/duct-conform
    time $c --jobs 4 --testee "/usr/bin/python3 conformance/tests/hang_share.py"

usage: hang_share.py     (conformance/TESTEE.md)
"""
import os
import random
import sys
import time

# pyduct's testee, as a module to change before it serves
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "testees",
                                "python"))
import testee as T  # noqa: E402

kit = T.kit
share = float(os.environ.get("HANG_SHARE", "0.1"))
reply = kit.Session.reply


def hanging_reply(self, line):
    if line.split()[:1] != ["hello"]:
        kit.Session.reply = reply    # one draw a process, at its first case command
        while random.random() < share:
            time.sleep(3600)
    return reply(self, line)


kit.Session.reply = hanging_reply

if __name__ == "__main__":
    sys.exit(kit.serve(T.Pyduct(), __doc__))
