#!/usr/bin/env python3
"""A contract version 1 testee: pyduct's, with the commands versions 1.1
and 1.2 added taken away, as a testee written before 1.1 would be.
check_runner.py runs it to show that such a testee still works and that
the cases needing later features are UNSUPPORTED, not failed.

usage: v1_testee.py     (conformance/TESTEE.md, contract version 1)
"""
import os
import sys

# pyduct's testee, as a module to change before it serves
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "testees",
                                "python"))
import testee as T  # noqa: E402

kit = T.kit
kit.VERSION = 1
for cmd in [c for c in kit.ARGS if c.startswith("bench-")] + [
        "fork-close", "signal-handler", "send-zeros", "spawn", "both-ways"]:
    del kit.ARGS[cmd]
T.Pyduct.parent_at = None
features = kit.Session.features
kit.Session.features = lambda self: [f for f in features(self) if f in ("max", "timeout")]

if __name__ == "__main__":
    sys.exit(kit.serve(T.Pyduct(), __doc__))
