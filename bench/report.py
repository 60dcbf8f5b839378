#!/usr/bin/python3
"""Prints one table from a duct-bench JSON file: every libduct case beside
the raw socket and each peer of the same run, as ratios, with the issue's
targets.

Usage: bench/report.py RESULTS.json [--markdown OUT.md]

Figures are medians over the repetitions.  Ratios:
  stream  libduct throughput / theirs  (above 1: libduct moves more)
  rtt     libduct median RTT / theirs  (below 1: libduct answers sooner)
  json    libduct time / json-c's time (below 1: libduct is faster)
"noise" is the larger coefficient of variation over the repetitions of
the libduct case and of the raw socket: a ratio is no better than that.
"""
import math
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchlib  # noqa: E402

PEERS = ("raw", "zmq", "nng", "nng-buf")


def fmt_value(case):
    if case is None:
        return "-"
    if case.error:
        return "ERROR"
    if case.kind == "stream":
        return benchlib.human_rate(case.median)
    if case.kind == "rtt":
        p99 = sorted(case.p99)[len(case.p99) // 2] if case.p99 else math.nan
        return f"{case.median:.1f} us (p99 {p99:.0f})"
    return f"{case.median:.0f} ns"


def fmt_ratio(r):
    return "-" if math.isnan(r) else f"{r:.2f}"


def target(case, group):
    """(text, met) for the issue's target of this case, or (None, None)."""
    raw = group.get("raw")
    if case.kind == "stream" and case.system == "duct" and raw:
        r = case.median / raw.median
        return ">= 0.95 raw", r >= 0.95
    if case.kind == "rtt" and case.system == "duct" and raw:
        r = case.median / raw.median
        return "<= 1.05 raw", r <= 1.05
    if case.kind == "stream" and case.system == "duct-batch" and case.size == 64:
        zmq = group.get("zmq")
        if zmq and zmq.values:
            return ">= zmq", case.median >= zmq.median
    return None, None


def table(run):
    cols = ["case", "libduct", "raw", "zmq", "nng", "nng-buf", "÷raw", "÷zmq", "÷nng", "÷nng-buf",
            "noise", "target", "met"]
    rows = []
    met = missed = 0
    for gname, group in run.groups().items():
        kind = gname.split("/")[0]
        ours = [c for c in group.values() if c.system in benchlib.OURS]
        for c in sorted(ours, key=benchlib.order_key):
            label = gname.replace("/", " ")
            if c.size is not None:
                parts = gname.split("/")
                label = f"{parts[0]} {parts[1]} {parts[2]} {benchlib.human_size(c.size)}"
            if c.system != "duct":
                label += f" ({c.system})"
            if kind == "json":
                ref = group.get("json-c")
                noise = max(c.cv, ref.cv if ref else math.nan)
                row = [label, fmt_value(c), "-", "-", "-", "-",
                       "-", "-", "-", "-", f"{noise * 100:.0f}%" if not math.isnan(noise) else "-",
                       f"÷json-c {fmt_ratio(benchlib.ratio(kind, c.median, ref.median if ref else math.nan))}", ""]
                rows.append(row)
                continue
            ratios = []
            for p in PEERS:
                other = group.get(p)
                ratios.append(fmt_ratio(benchlib.ratio(kind, c.median, other.median))
                              if other is not None and other.values and c.values else "-")
            raw = group.get("raw")
            noise = max(c.cv, raw.cv if raw else math.nan)
            text, ok = target(c, group)
            if ok is not None:
                met += ok
                missed += not ok
            rows.append([label, fmt_value(c)] + [fmt_value(group.get(p)) for p in PEERS] + ratios +
                        [f"{noise * 100:.0f}%" if not math.isnan(noise) else "-",
                         text or "", "" if ok is None else ("yes" if ok else "NO")])
    return cols, rows, met, missed


def testee_table(run):
    """Each testee (duct-bench --testee, --pair) beside libduct and the
    peers, every one as a ratio to the raw socket of the same run.  A
    testee's cell holds two ratios: stream "sends / receives" (NAME,
    NAME-recv), rtt "bytes / JSON" (NAME, NAME-value).  None when the run
    timed no testee."""
    groups = [(g, grp) for g, grp in run.groups().items() if g.split("/")[0] in ("stream", "rtt")]
    names = {s for _, grp in groups for s in grp}
    plain = [s for s in ("duct", "zmq", "nng", "nng-buf") if s in names]
    testees = sorted(s for s in names if benchlib.is_testee(s) and not s.endswith(("-recv", "-value")))
    if not testees:
        return None

    def r(group, raw, system):
        c = group.get(system)
        if c is None or raw is None:
            return "-"
        return "ERROR" if c.error else fmt_ratio(benchlib.ratio(c.kind, c.median, raw.median))

    cols = ["case", "raw"] + [f"{s} ÷raw" for s in plain] + [f"{t} ÷raw" for t in testees]
    rows = []
    for gname, group in groups:
        raw = group.get("raw")
        kind, tr, place, size = gname.split("/")
        row = [f"{kind} {tr} {place} {benchlib.human_size(int(size))}", fmt_value(raw)]
        row += [r(group, raw, s) for s in plain]
        second = "-recv" if kind == "stream" else "-value"
        for t in testees:
            row.append(r(group, raw, t) if ">" in t else f"{r(group, raw, t)} / {r(group, raw, t + second)}")
        rows.append(row)
    return cols, rows


def render(cols, rows):
    widths = [max(len(str(x)) for x in [c] + [r[i] for r in rows]) for i, c in enumerate(cols)]
    line = lambda r: "| " + " | ".join(str(x).ljust(w) for x, w in zip(r, widths)) + " |"
    out = [line(cols), "|" + "|".join("-" * (w + 2) for w in widths) + "|"]
    out += [line(r) for r in rows]
    return "\n".join(out)


def main(argv):
    if len(argv) < 2 or argv[1] in ("-h", "--help"):
        print(__doc__.strip())
        return 0 if len(argv) >= 2 else 2
    run = benchlib.Run(argv[1])
    cols, rows, met, missed = table(run)
    ctx = run.context
    head = [
        f"duct-bench {os.path.basename(argv[1])}: {run.repetitions()} repetitions, medians; "
        f"pinned cases on CPU {ctx.get('duct_bench_pinned_cpu', '?')}",
        f"load average at start: {ctx.get('duct_bench_loadavg_at_start', '?')}"
        + (f"; at end: {ctx['load_end']}" if "load_end" in ctx else "")
        + (f"; AFL++ processes running: {ctx['afl_processes']}" if "afl_processes" in ctx else ""),
        "ratios: stream = libduct throughput / theirs (>1 better); "
        "rtt = libduct median RTT / theirs (<1 better); json = time / json-c's (<1 better)",
    ]
    errors = [c for c in run.cases.values() if c.error]
    text = "\n".join(head) + "\n\n" + render(cols, rows) + "\n"
    text += f"\ntargets met: {met}, missed: {missed}\n"
    testees = testee_table(run)
    if testees:
        text += ("\nTestees against the raw socket of the same run (stream: >1 faster, "
                 "cells 'testee sends / testee receives'; rtt: <1 faster, cells "
                 "'bytes / JSON values'; A>B: A streams to B)\n\n" + render(*testees) + "\n")
    if errors:
        text += "".join(f"ERROR {c.name}: {c.error}\n" for c in errors)
    print(text, end="")
    if len(argv) >= 4 and argv[2] == "--markdown":
        with open(argv[3], "w", encoding="utf-8") as f:
            f.write(text)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
