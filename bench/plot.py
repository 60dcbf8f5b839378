#!/usr/bin/python3
"""Draws a duct-bench JSON file: every system on the same axes.

Usage: bench/plot.py RESULTS.json OUTDIR

Writes OUTDIR/stream.{png,svg}: streaming throughput (messages per second,
log scale) against message size, one panel per transport and placement;
and OUTDIR/rtt.{png,svg}: median round trip per message size, one panel
per transport and placement, the 99th percentile drawn as a thin tick
above each bar.  Points are medians over the repetitions; the whiskers
span the fastest and slowest repetition.

Needs Debian's python3-matplotlib (run with /usr/bin/python3).
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchlib  # noqa: E402

import matplotlib  # noqa: E402

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

STYLE = {
    "raw": dict(color="#444444", marker="s", linestyle="--", label="raw socket (limit)"),
    "duct": dict(color="#1f77b4", marker="o", linestyle="-", label="libduct"),
    "duct-batch": dict(color="#17becf", marker="D", linestyle="-", label="libduct, batched"),
    "zmq": dict(color="#d62728", marker="^", linestyle="-", label="ZeroMQ PAIR"),
    "nng": dict(color="#2ca02c", marker="v", linestyle="-", label="nng pair1"),
    "nng-buf": dict(color="#98df8a", marker="v", linestyle="--", label="nng pair1, buffered"),
}
TESTEE_COLORS = ["#9467bd", "#8c564b", "#e377c2", "#bcbd22", "#ff7f0e", "#7f7f7f"]


def styles(run):
    """STYLE, and one colour per testee (duct-bench --testee): solid where
    it sends or echoes bytes, dotted where it receives or echoes JSON."""
    out = dict(STYLE)
    systems = sorted({c.system for c in run.cases.values() if benchlib.is_testee(c.system)})
    bases = sorted({s.rsplit("-", 1)[0] if s.endswith(("-recv", "-value")) else s for s in systems})
    for s in systems:
        second = s.endswith(("-recv", "-value"))
        base = s.rsplit("-", 1)[0] if second else s
        how = {"-recv": ", receiving", "-value": ", JSON"}.get(s[len(base):], "")
        out[s] = dict(color=TESTEE_COLORS[bases.index(base) % len(TESTEE_COLORS)], marker="x",
                      linestyle=":" if second else "-.", label=f"{base} (testee{how})")
    return out
PANELS = [(t, p) for p in ("pinned", "unpinned") for t in ("unix", "tcp")]


def cases_of(run, kind):
    return [c for c in run.cases.values() if c.kind == kind and c.values]


def save(fig, outdir, name):
    for ext in ("png", "svg"):
        fig.savefig(os.path.join(outdir, f"{name}.{ext}"), dpi=110 if ext == "png" else None,
                    bbox_inches="tight")
    plt.close(fig)


def title(run):
    ctx = run.context
    return (f"{run.repetitions()} repetitions, medians; load average at start "
            f"{' '.join(ctx.get('duct_bench_loadavg_at_start', '?').split()[:3])}")


def plot_stream(run, outdir):
    cases = cases_of(run, "stream")
    sizes = sorted({c.size for c in cases})
    if not sizes:
        return
    fig, axes = plt.subplots(2, 2, figsize=(12, 8.5), sharey=True, constrained_layout=True)
    for ax, (transport, placement) in zip(axes.flat, PANELS):
        for system, style in styles(run).items():
            pts = sorted((c.size, c) for c in cases
                         if c.system == system and c.transport == transport and c.placement == placement)
            if not pts:
                continue
            xs = [sizes.index(s) for s, _ in pts]
            med = [c.median for _, c in pts]
            lo = [c.median - min(c.values) for _, c in pts]
            hi = [max(c.values) - c.median for _, c in pts]
            ax.errorbar(xs, med, yerr=[lo, hi], capsize=3, **style)
        ax.set_yscale("log")
        ax.set_xticks(range(len(sizes)))
        ax.set_xticklabels([benchlib.human_size(s) for s in sizes])
        ax.set_title(f"{transport}, {placement}")
        ax.grid(True, which="both", alpha=0.3)
        ax.set_xlabel("message size")
    for ax in axes[:, 0]:
        ax.set_ylabel("messages per second")
    axes[0, 0].legend(fontsize=8)
    fig.suptitle("One-way streaming throughput, sender and receiver in separate processes\n" + title(run))
    save(fig, outdir, "stream")


def plot_rtt(run, outdir):
    cases = cases_of(run, "rtt")
    sizes = sorted({c.size for c in cases})
    style_of = styles(run)
    systems = [s for s in style_of if any(c.system == s for c in cases)]
    if not sizes:
        return
    fig, axes = plt.subplots(2, 2, figsize=(12, 8.5), sharey=True, constrained_layout=True)
    width = 0.8 / max(len(systems), 1)
    for ax, (transport, placement) in zip(axes.flat, PANELS):
        for k, system in enumerate(systems):
            style = style_of[system]
            for i, size in enumerate(sizes):
                c = run.cases.get(f"rtt/{transport}/{placement}/{size}/{system}")
                if c is None or not c.values:
                    continue
                x = i + (k - (len(systems) - 1) / 2) * width
                ax.bar(x, c.median, width, color=style["color"],
                       hatch="//" if style["linestyle"] == ":" else None,
                       label=style["label"] if i == 0 else None,
                       yerr=[[c.median - min(c.values)], [max(c.values) - c.median]], capsize=2)
                p99 = sorted(c.p99)[len(c.p99) // 2]
                ax.plot([x - width / 2, x + width / 2], [p99, p99], color=style["color"], linewidth=1)
        ax.set_yscale("log")
        top = max(max(c.p99 + c.values) for c in cases)
        ax.set_ylim(1, top * 1.5)  # bars grow from 1 us on the log axis
        ax.set_xticks(range(len(sizes)))
        ax.set_xticklabels([benchlib.human_size(s) for s in sizes])
        ax.set_title(f"{transport}, {placement}")
        ax.grid(True, axis="y", which="both", alpha=0.3)
        ax.set_xlabel("message size")
    for ax in axes[:, 0]:
        ax.set_ylabel("round trip, us (bar: median, tick: p99)")
    axes[0, 0].legend(fontsize=8)
    fig.suptitle("Ping-pong round trip, sender and receiver in separate processes\n" + title(run))
    save(fig, outdir, "rtt")


def main(argv):
    if len(argv) != 3 or argv[1] in ("-h", "--help"):
        print(__doc__.strip())
        return 0 if len(argv) == 2 else 2
    run = benchlib.Run(argv[1])
    os.makedirs(argv[2], exist_ok=True)
    plot_stream(run, argv[2])
    plot_rtt(run, argv[2])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
