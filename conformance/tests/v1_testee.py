#!/usr/bin/env python3
"""A contract version 1 testee: pyduct's, with the commands versions 1.1
and 1.2 added taken away, as a testee written before 1.1 would be.
check_runner.py runs it to show that such a testee still works and that
the cases needing later features are UNSUPPORTED, not failed.

usage: v1_testee.py     (conformance/TESTEE.md, contract version 1)
"""
import importlib.util
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
spec = importlib.util.spec_from_file_location(
    "testee", os.path.join(HERE, "..", "testees", "python", "testee.py"))
T = importlib.util.module_from_spec(spec)
spec.loader.exec_module(T)

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
