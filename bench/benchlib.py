"""Reading duct-bench's Google Benchmark JSON: shared by report.py, plot.py
and ci/bench-compare.  Standard library only.

A case is named KIND/TRANSPORT/PLACEMENT/SIZE/SYSTEM (json/typical/SYSTEM
for the serializer).  Its *group* is the name without the system: every
system of a group ran the same workload in the same run, so ratios within
a group are the figures that mean something on a shared, noisy machine.

Each case is read as one number per repetition, the *metric*:
  stream  items_per_second, messages per second (higher is better)
  rtt     p50_us, the median round trip in microseconds (lower is better)
  json    real_time per encode+decode, nanoseconds (lower is better)
and compared to its group's *reference*: the raw socket (the limit) for
stream and rtt, json-c's own codec for json.
"""
import json
import math
import statistics

REFERENCE = {"stream": "raw", "rtt": "raw", "json": "json-c"}
HIGHER_IS_BETTER = {"stream": True, "rtt": False, "json": False}
OURS = ("duct", "duct-batch")  # the libduct systems; the rest are references and peers
SYSTEM_ORDER = ["raw", "duct", "duct-batch", "zmq", "nng", "nng-buf", "json-c"]


def is_testee(system):
    """A system of duct-bench --testee or --pair (sys_testee.c): any name
    but the built-in systems'."""
    return system not in SYSTEM_ORDER


class Case:
    def __init__(self, name):
        self.name = name
        parts = name.split("/")
        self.kind = parts[0]
        self.system = parts[-1]
        self.group = "/".join(parts[:-1])
        if self.kind in ("stream", "rtt"):
            self.transport, self.placement = parts[1], parts[2]
            self.size = int(parts[3])
        else:
            self.transport = self.placement = None
            self.size = None
        self.values = []       # the metric, one per repetition
        self.p99 = []          # rtt only
        self.bytes_per_second = []
        self.error = None

    @property
    def median(self):
        return statistics.median(self.values) if self.values else math.nan

    @property
    def cv(self):
        """Coefficient of variation over the repetitions (0..1)."""
        if len(self.values) < 2:
            return math.nan
        m = statistics.mean(self.values)
        return statistics.stdev(self.values) / m if m else math.nan


class Run:
    """One duct-bench JSON file."""

    def __init__(self, path):
        self.path = path
        try:
            with open(path, encoding="utf-8") as f:
                data = json.load(f)
        except (OSError, ValueError) as e:
            raise SystemExit(f"{path}: cannot read a Google Benchmark JSON file: {e}")
        if "benchmarks" not in data:
            raise SystemExit(f"{path}: no 'benchmarks' array: not Google Benchmark JSON")
        self.context = data.get("context", {})
        self.cases = {}
        for b in data["benchmarks"]:
            if b.get("run_type", "iteration") != "iteration":
                continue
            name = b.get("run_name", b["name"])
            for suffix in ("/real_time", "/manual_time"):  # testees: manual
                if name.endswith(suffix):
                    name = name[: -len(suffix)]
            name = name.split("/iterations:")[0]
            c = self.cases.get(name)
            if c is None:
                c = self.cases[name] = Case(name)
            if b.get("error_occurred"):
                c.error = b.get("error_message", "error")
                continue
            if c.kind == "stream":
                c.values.append(b["items_per_second"])
                c.bytes_per_second.append(b.get("bytes_per_second", 0.0))
            elif c.kind == "rtt":
                c.values.append(b["p50_us"])
                c.p99.append(b["p99_us"])
            else:
                c.values.append(to_ns(b["real_time"], b.get("time_unit", "ns")))

    def groups(self):
        """group name -> {system: Case}, in a fixed order (kind, transport,
        placement, size), whatever order the run interleaved them in."""
        out = {}
        for c in sorted(self.cases.values(), key=group_key):
            out.setdefault(c.group, {})[c.system] = c
        return out

    def reference(self, case):
        """The reference case of case's group in this run, or None."""
        ref = REFERENCE.get(case.kind)
        r = self.cases.get(f"{case.group}/{ref}")
        return r if r is not None and r.values else None

    def repetitions(self):
        return max((len(c.values) for c in self.cases.values()), default=0)


def to_ns(value, unit):
    return value * {"ns": 1, "us": 1e3, "ms": 1e6, "s": 1e9}[unit]


def speed(case, value, ref_median):
    """How fast value is against the reference: > 1 is faster.  The same
    direction for every kind, so one threshold serves them all."""
    if HIGHER_IS_BETTER[case.kind]:
        return value / ref_median
    return ref_median / value


def ratio(kind, ours, theirs):
    """The ratio the table prints: throughput ours/theirs for stream (>1
    better), latency or time ours/theirs for rtt and json (<1 better)."""
    if not theirs or math.isnan(theirs) or math.isnan(ours):
        return math.nan
    return ours / theirs


def human_size(n):
    if n is None:
        return ""
    for unit, div in (("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= div and n % div == 0:
            return f"{n // div} {unit}"
    return f"{n} B"


def human_rate(v):
    if math.isnan(v):
        return "-"
    for unit, div in (("M", 1e6), ("k", 1e3)):
        if v >= div:
            return f"{v / div:.3g} {unit}/s"
    return f"{v:.3g} /s"


def group_key(case):
    kinds = ["stream", "rtt", "json"]
    return (kinds.index(case.kind) if case.kind in kinds else 9,
            ["unix", "tcp", None].index(case.transport) if case.transport in ("unix", "tcp", None) else 9,
            ["pinned", "unpinned", None].index(case.placement) if case.placement in ("pinned", "unpinned", None) else 9,
            case.size or 0, order_key(case))


def order_key(case):
    return (SYSTEM_ORDER.index(case.system) if case.system in SYSTEM_ORDER else 99, case.system)
