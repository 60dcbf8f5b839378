#!/usr/bin/python3
"""protofuzz: a protocol fuzzer for Ductworks ducts, driven through the testee
contract (conformance/TESTEE.md v1), with Hypothesis generating the streams.

usage: protofuzz.py --testee CMD [--role parent|child|both]
                    [--transport unix|tcp|both] [--examples N | --seconds S]
                    [--seed N] [--out DIR] [--name NAME] [--strict]
                    [--deadline MS] [--idle MS] [--shrink-seconds S]
                    [--keep-going N] [--known FILE]
                    [--timing on|off|only] [--quiet]
       protofuzz.py --ci BUILD_DIR       short fixed-seed campaign against
                                         both shipped testees (ctest)
       protofuzz.py --mutants [--seconds S] [--examples N] [--seed N]
                                         every mutant of conformance/mutants,
                                         blind, and a table of what was found

The fuzzer plays the peer of the testee's duct over a real Unix or TCP
socket: it writes generated streams (valid frames under random chunking and
pacing, mutated headers, truncations, oversized lengths against a set-max
limit, garbage) and ends them with a close, a half close (shutdown) or a
reset, or leaves them open.  Its oracle is a receiver model written from
PROTOCOL.md sections 2-3: the testee must deliver exactly the valid prefix
of messages, then report the right outcome (eof, truncated, magic, toobig,
or keep waiting), never die of a signal, never miss a deadline and leak no
file descriptor.  For a testee offering set-timeout, timed sessions check
TIME-1 (a timeout after a period without progress: not before, not much
after), TIME-2 (a timed-out receive loses nothing) and SEND-5 (no frame
after a cut one).  A failure is shrunk to a minimal stream, written out as a
frame vector (vectors/README.md) when one can express it, and reported;
exit status 1.  A finding listed with --known is counted apart and fails
nothing.  Exit 0: no new failure; 2: bad usage or a testee that cannot even
start; 77: its implementation is not installed (TESTEE.md).

--strict also fails on SHOULD requirements (RECV-5 after an error, FRAME-2
from the first byte alone, SEC-1's default limit and memory), as
duct-conform --strict does.  See fuzz/proto/README.md.
"""
import argparse
import fcntl
import fnmatch
import hashlib
import importlib.util
import json
import os
import re
import select
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import termios
import threading
import time

try:
    from hypothesis import (HealthCheck, Phase, Verbosity, given, seed,
                            settings, strategies as st)
    from hypothesis.errors import Flaky
except ImportError:                         # pragma: no cover
    print("protofuzz: needs Hypothesis: apt-get install python3-hypothesis", file=sys.stderr)
    sys.exit(77 if "--ci" in sys.argv else 2)   # 77: ctest's SKIP_RETURN_CODE

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.normpath(os.path.join(HERE, "..", ".."))
PYTHON = "/usr/bin/python3"

# ---- the model: PROTOCOL.md sections 2 and 3 -------------------------------

MAGIC = 0x54                # FRAME-1: 0x54, uint32 big-endian length, payload
DEFAULT_MAX = 64 << 20      # SEC-1's recommended default limit
U32 = 0xFFFFFFFF
INLINE_MAX = 4096           # vectors/README.md: longer runs are patterns


class Pat:
    """n bytes, byte i being (7*i + seed) mod 256: TESTEE.md's send-pattern
    and the vectors' stream_pattern, so big payloads stay cheap to draw and
    to write out."""

    def __init__(self, n, seed_):
        self.n, self.seed = n, seed_ % 256

    def __len__(self):
        return self.n

    def data(self):
        cycle = bytes((7 * i + self.seed) % 256 for i in range(256))
        return (cycle * (self.n // 256 + 1))[:self.n]

    def __repr__(self):
        return "Pat(%d, %d)" % (self.n, self.seed)


def raw(p):
    return p.data() if isinstance(p, Pat) else bytes(p)


def header(n):
    return struct.pack(">BI", MAGIC, n)


def decode(stream, limit):
    """A receiver reading `stream` frame by frame with limit `limit`:
    (messages, state, offset of the frame it stopped in).  state is
    'boundary' (all read, on a frame boundary), 'partial' (inside a frame),
    'magic' (RECV-4, from the first byte) or 'toobig' (RECV-6, on the 4
    length bytes)."""
    msgs, at = [], 0
    while True:
        if at == len(stream):
            return msgs, "boundary", at
        if stream[at] != MAGIC:
            return msgs, "magic", at
        if len(stream) - at < 5:
            return msgs, "partial", at
        n = int.from_bytes(stream[at + 1:at + 5], "big")
        if n > limit:
            return msgs, "toobig", at
        if len(stream) - at - 5 < n:
            return msgs, "partial", at
        msgs.append(stream[at + 5:at + 5 + n])
        at += 5 + n


class Expect:
    """What a receiver makes of a stream: messages, then `outcome`; for
    'open' (the sender left the stream open) the error once it closes."""

    def __init__(self, stream, limit, kept_open):
        eff = DEFAULT_MAX if limit is None else limit
        self.messages, state, at = decode(stream, eff)
        self.tail = len(stream) - at        # bytes of the unfinished frame
        self.outcome = self.after_close = None
        if state in ("magic", "toobig"):
            self.outcome = state
        elif kept_open:
            self.outcome = "open"
            self.after_close = "eof" if state == "boundary" else "truncated"
        else:
            self.outcome = "eof" if state == "boundary" else "truncated"
        # FRAME-2: detecting a bad magic byte before the other 4 header
        # bytes arrive is a SHOULD; SEC-1: the default limit is a SHOULD.
        self.lone_magic = state == "magic" and self.tail < 5
        self.over_default = state == "toobig" and limit is None
        self.level = "SHOULD" if self.lone_magic or self.over_default else "MUST"

    def requirements(self, chunked):
        r = ["FRAME-1"]
        if self.messages:
            r.append("RECV-1")
        if len(self.messages) > 1:
            r += ["FRAME-4", "FRAME-6"]
        if chunked:
            r.append("FRAME-7")
        end = self.after_close if self.outcome == "open" else self.outcome
        r += {"eof": ["RECV-2"], "truncated": ["RECV-3"],
              "magic": ["FRAME-2", "RECV-4"], "toobig": ["RECV-6", "SEC-1"]}[end]
        if self.messages and end != "eof":
            r.append("RECV-7")
        return r


# ---- generated plans --------------------------------------------------------

COMBOS = [(r, t) for r in ("parent", "child") for t in ("unix", "tcp")]
ENDS = ("close", "shutdown", "reset")


class Plan:
    """One generated session: the stream and everything the peer does."""

    def __init__(self, **kw):
        self.__dict__.update(kw)
        self.stream = b"".join(raw(p) for p in self.pieces)

    def chunks(self):
        """The sizes the stream is written in (None: one piece)."""
        if not self.cuts:
            return None
        edges = [0] + self.cuts + [len(self.stream)]
        return [b - a for a, b in zip(edges, edges[1:])]

    def key(self):
        return repr((self.role, self.transport, self.limit, self.stream, self.cuts,
                     self.pause_ms, self.kept_open, self.end, self.polls, self.idle_poll,
                     self.sends, self.repeat, self.after_sends, self.after_close_recv,
                     self.timing))


def cut_pieces(pieces, at):
    """The first `at` bytes of a list of pieces (a cut Pat stays a Pat)."""
    out = []
    for p in pieces:
        if at <= 0:
            break
        if len(p) <= at:
            out.append(p)
        else:
            out.append(Pat(at, p.seed) if isinstance(p, Pat) else p[:at])
        at -= len(p)
    return out


def flatten(pieces):
    """Short patterns written out, adjacent bytes merged, empties dropped."""
    out = []
    for p in pieces:
        if isinstance(p, Pat) and p.n <= INLINE_MAX:
            p = p.data()
        if isinstance(p, Pat):
            out.append(p)
        elif out and isinstance(out[-1], bytes):
            out[-1] += p
        elif p:
            out.append(bytes(p))
    return out


@st.composite
def payloads(draw):
    size = draw(st.integers(0, 19))          # shrinks towards small payloads
    if size < 15:
        return draw(st.binary(max_size=24))
    if size < 19:
        return Pat(draw(st.integers(25, 600)), draw(st.integers(0, 255)))
    return Pat(draw(st.integers(INLINE_MAX + 1, 150_000)), draw(st.integers(0, 255)))


@st.composite
def plans(draw, combos, has_max=True):
    """A session: who connects, the limit, the stream, how it is written and
    ended, and what else the peer asks of the testee meanwhile."""
    how = []
    role, transport = draw(st.sampled_from(combos))
    limit = None
    if has_max and draw(st.booleans()):
        limit = draw(st.one_of(st.integers(0, 200_000), st.integers(0, 64)))
    frames = draw(st.lists(payloads(), max_size=6))
    pieces, headers = [], []
    for p in frames:
        headers.append(len(pieces))
        pieces += [bytearray(header(len(p))), p]
    if frames and draw(st.integers(0, 3)) == 3:  # mutated headers: magic or length bytes
        for _ in range(draw(st.integers(1, 2))):
            i = draw(st.integers(0, len(frames) - 1))
            j = draw(st.integers(0, 4))
            x = draw(st.integers(1, 255))
            pieces[headers[i]][j] ^= x
            how.append("header %d byte %d ^= 0x%02x" % (i, j, x))
    pieces = [bytes(p) if isinstance(p, bytearray) else p for p in pieces]
    tail = draw(st.sampled_from(("none", "none", "partial", "partial", "oversize", "garbage",
                                 "badmagic")))
    eff = DEFAULT_MAX if limit is None else limit
    if tail == "oversize":                   # a length over the limit, some bytes after it
        n = draw(st.one_of(st.sampled_from([eff + 1, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFE,
                                            U32]),
                           st.integers(eff + 1, U32)))
        n = min(n, U32)
        if n > eff:
            pieces += [header(n), draw(st.binary(max_size=6))]
            how.append("oversized header 0x%x over %d" % (n, eff))
    elif tail == "garbage":
        pieces.append(draw(st.binary(min_size=1, max_size=16)))
        how.append("garbage")
    elif tail == "badmagic":
        b = draw(st.integers(0, 255).filter(lambda v: v != MAGIC))
        pieces.append(bytes([b]) + draw(st.binary(max_size=8)))
        how.append("bad magic 0x%02x" % b)
    elif tail == "partial":                  # a frame the sender never finishes
        p = draw(payloads())
        f = [header(len(p)), p]
        pieces += cut_pieces(f, draw(st.integers(1, 5 + len(p) - 1 if len(p) else 4)))
        how.append("unfinished frame of %d" % len(p))
    total = sum(len(p) for p in pieces)
    if total and draw(st.integers(0, 3)) == 0:   # truncation at any offset
        at = draw(st.integers(0, total - 1))
        pieces = cut_pieces(pieces, at)
        total = at
        how.append("cut at %d" % at)
    pieces = flatten(pieces)
    cuts, pause = [], 0
    if total > 1 and draw(st.booleans()):        # chunking and pacing
        if total <= 40 and draw(st.integers(0, 4)) == 0:
            cuts = list(range(1, total))
            how.append("byte by byte")
        else:
            cuts = sorted(set(draw(st.lists(st.integers(1, total - 1), min_size=1,
                                            max_size=6))))
        pause = draw(st.integers(0, 5))
    kept_open = draw(st.integers(0, 2)) == 2
    end = draw(st.sampled_from(ENDS))
    stream = b"".join(raw(p) for p in pieces)
    exp = Expect(stream, limit, kept_open)
    n = len(exp.messages)
    polls = draw(st.lists(st.booleans(), min_size=n + 2, max_size=n + 2))
    idle_poll = draw(st.sampled_from([0, 0, 20, 50]))
    sends = []                                   # FRAME-5: the testee sends meanwhile
    for _ in range(draw(st.integers(0, 2))):
        at = draw(st.integers(0, n))
        if end != "reset" and draw(st.integers(0, 5)) == 0:
            sends.append((at, Pat(draw(st.integers(1, 1 << 20)), draw(st.integers(0, 255)))))
        else:
            sends.append((at, draw(st.binary(max_size=12))))
    sends.sort(key=lambda s: s[0])
    return Plan(role=role, transport=transport, limit=limit, pieces=pieces, cuts=cuts,
                pause_ms=pause, kept_open=kept_open, end=end, polls=polls,
                idle_poll=idle_poll, sends=sends, repeat=draw(st.booleans()),
                after_sends=draw(st.integers(0, 2)),
                after_close_recv=draw(st.booleans()), how=how, timing=None)


# ---- timed sessions: TIME-1, TIME-2, SEND-5 ----------------------------------
#
# PROTOCOL.md TIME-1: a send or receive fails with a timeout "after a period
# without progress" (TESTEE.md: set-timeout MS, "time out after MS ms without
# progress"); the original gives each blocking socket call the full timeout.
# So progress restarts the period: a frame whose pieces arrive less than MS
# apart is delivered however long it takes in all, and a peer that stops for
# MS or more makes the pending call time out.  TIME-2: a receive that timed
# out inside a frame loses nothing, the next one continues the frame.
# SEND-5: after a send timed out inside its frame, no frame may follow.
#
# Verdicts rest on times the fuzzer measures, never on the times it planned,
# so a loaded machine can only make a check inconclusive, not fail it:
#  - early: a call timed out although, by the fuzzer's clock, the peer had
#    made progress possible less than MS - slack(MS) before (a bound the
#    testee's idle time cannot exceed);
#  - late: it timed out more than MS + late(MS) after its last progress;
#  - missed: no timeout within MS + --deadline of a stall.

TIMEOUTS = (200, 400, None)  # set-timeout MS; None: not sent (then recv must wait)
NOMINAL_MS = 200            # how long a stall lasts when no timeout is set
GAPS = ("none", "short", "below", "stall")


def slack(ms):
    """Clock granularity (a jiffy), loopback delivery, reading the reply."""
    return 25 + ms // 20


def late(ms):
    """How late a timeout may fire: a descheduled testee or fuzzer.  The
    conformance runner saw 0-5 ms of it on a loaded machine (case_poll.c)."""
    return 40 + ms // 5


def gap_ms(kind, ms):
    """A pause the peer makes, by kind: none, short (a quarter of the
    timeout), below (just below it: MS - 2 x slack), stall (until the
    testee times out, or NOMINAL_MS + slack without a timeout)."""
    ms = ms or NOMINAL_MS
    return {"none": 0, "short": ms // 4, "below": ms - 2 * slack(ms)}[kind]


class Timing:
    """What makes a session timed: set-timeout ms (None: not sent); side
    'recv' (the peer writes the plan's stream, pausing gaps[k] before piece
    k, and maybe stalls once more at the end) or 'send' (the testee sends
    one message of send_len pattern bytes while the peer reads, pausing
    gaps[k] before each read of everything there)."""

    def __init__(self, side, ms, gaps, end_stall=False, send_len=0, send_seed=0):
        self.side, self.ms, self.gaps, self.end_stall = side, ms, gaps, end_stall
        self.send_len, self.send_seed = send_len, send_seed

    def __repr__(self):
        return "Timing(%r, %r, %r, %r, %r, %r)" % (self.side, self.ms, self.gaps,
                                                   self.end_stall, self.send_len,
                                                   self.send_seed)

    def describe(self):
        t = "set-timeout %d" % self.ms if self.ms else "no set-timeout (must wait)"
        gaps = ", ".join("%s %d ms" % (g, gap_ms(g, self.ms)) if g != "stall" else g
                         for g in self.gaps)
        if self.side == "recv":
            return "timed receive: %s; pauses before each piece: %s%s" % (
                t, gaps, "; then a stall at the end" if self.end_stall else "")
        return "timed send: %s; the testee sends %d pattern bytes (seed %d); the peer " \
               "pauses before each read of all there is: %s, then reads on" % (
                   t, self.send_len, self.send_seed, gaps)


@st.composite
def small_payloads(draw):
    """At most 16 KiB: a timed stream (4 frames at most) fits in the socket
    buffers, so the peer's writes never wait for the testee to read."""
    if draw(st.integers(0, 3)) < 3:
        return draw(st.binary(max_size=24))
    return Pat(draw(st.integers(25, 16384)), draw(st.integers(0, 255)))


@st.composite
def timed_plans(draw, combos):
    """A timed session (the testee offers 'timeout'): each choice shrinks
    towards the simplest, one piece, no pause, the shorter timeout."""
    role, transport = draw(st.sampled_from(combos))
    ms = draw(st.sampled_from(TIMEOUTS))
    how, pieces, cuts, gaps = [], [], [], []
    if draw(st.sampled_from(("recv", "send"))) == "recv":
        for p in draw(st.lists(small_payloads(), max_size=3)):
            pieces += [header(len(p)), p]
        if draw(st.booleans()):             # a frame never finished: header, maybe some body
            p = draw(small_payloads())
            pieces += cut_pieces([header(len(p)), p],
                                 draw(st.integers(1, 5 + len(p) - 1 if len(p) else 4)))
            how.append("unfinished frame of %d" % len(p))
        pieces = flatten(pieces)
        total = sum(len(p) for p in pieces)
        if total > 1:
            cuts = sorted(set(draw(st.lists(st.integers(1, total - 1), max_size=4))))
        gaps = draw(st.lists(st.sampled_from(GAPS), min_size=len(cuts) + 1,
                             max_size=len(cuts) + 1))
        timing = Timing("recv", ms, gaps, end_stall=draw(st.booleans()))
    else:
        n = (draw(st.integers(1, 12)) << 20) + draw(st.integers(0, 255))
        timing = Timing("send", ms, draw(st.lists(st.sampled_from(GAPS), min_size=1,
                                                  max_size=4)),
                        send_len=n, send_seed=draw(st.integers(0, 255)))
    stream = b"".join(raw(p) for p in pieces)
    n = len(decode(stream, DEFAULT_MAX)[0])
    return Plan(role=role, transport=transport, limit=None, pieces=pieces, cuts=cuts,
                pause_ms=0, kept_open=False, end=draw(st.sampled_from(("close", "shutdown"))),
                polls=[False] * (n + 2), idle_poll=0, sends=[], repeat=False,
                after_sends=draw(st.integers(0, 2)), after_close_recv=draw(st.booleans()),
                how=how, timing=timing)


@st.composite
def sessions(draw, combos, has_max, timing):
    """--timing off: the untimed plans only (the same sequence as before
    timed sessions existed); on: one session in four timed; only."""
    if timing == "only" or (timing == "on" and draw(st.integers(0, 3)) == 3):
        return draw(timed_plans(combos))
    return draw(plans(combos, has_max))


# ---- the testee process -----------------------------------------------------

class Failure(Exception):
    """A broken expectation.  kind 'recv': about what the testee received
    (a frame vector can express it); 'resource': fds or memory, which the
    stream triggers but a vector cannot check; 'timing': in a timed session
    (the schema has no time); 'session': the rest."""

    def __init__(self, check, level, reqs, text, kind="recv"):
        super().__init__(text)
        self.check, self.level, self.reqs, self.text, self.kind = check, level, reqs, text, kind


KINDS = {}


def failure(check, *args):
    """A Failure of the class of its check: one class per kind of failure."""
    if check not in KINDS:
        KINDS[check] = type("Failure_" + check.replace("-", "_"), (Failure,), {})
    return KINDS[check](check, *args)


class Died(Exception):
    pass


class Testee:
    """CMD started as `/bin/sh -c "exec CMD"` in its own process group, so
    the pid is the testee's and a kill takes everything it started."""

    def __init__(self, cmd, log):
        self.err = tempfile.TemporaryFile(prefix="protofuzz-")
        self.proc = subprocess.Popen(["/bin/sh", "-c", "exec " + cmd], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=self.err,
                                     start_new_session=True)
        self.pid, self.buf, self.log = self.proc.pid, b"", log
        os.set_blocking(self.proc.stdout.fileno(), False)

    def send(self, line):
        self.log.append("> " + (line if len(line) < 120 else line[:117] + "..."))
        try:
            self.proc.stdin.write(line.encode() + b"\n")
            self.proc.stdin.flush()
        except OSError:
            pass                # a dead testee shows on the reply

    def reply(self, ms):
        """The next reply line, or None if none came within ms."""
        end = time.monotonic() + ms / 1000
        fd = self.proc.stdout.fileno()
        while b"\n" not in self.buf:
            left = end - time.monotonic()
            if left <= 0:
                return None
            if not select.select([fd], [], [], left)[0]:
                continue
            data = os.read(fd, 1 << 20)
            if not data:
                try:
                    self.proc.wait(2)
                except subprocess.TimeoutExpired:
                    pass
                raise Died(self.proc.returncode)
            self.buf += data
        line, self.buf = self.buf.split(b"\n", 1)
        text = line.decode("ascii", "replace")
        self.log.append("< " + (text if len(text) < 120 else text[:117] + "..."))
        return text

    def fds(self):
        try:
            return len(os.listdir("/proc/%d/fd" % self.pid))
        except OSError:
            return None

    def vmpeak_kb(self):
        try:
            with open("/proc/%d/status" % self.pid) as f:
                m = re.search(r"^VmPeak:\s+(\d+)", f.read(), re.M)
            return int(m.group(1)) if m else None
        except OSError:
            return None

    def stderr(self):
        self.err.seek(0)
        return self.err.read()[-1500:].decode("utf-8", "replace")

    def kill(self):
        try:
            os.killpg(self.pid, signal.SIGKILL)
        except OSError:
            pass
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            pass
        for f in (self.proc.stdin, self.proc.stdout):
            try:
                f.close()
            except OSError:
                pass


# ---- one session ------------------------------------------------------------

def ended_by(events, t):
    """The latest (start, end) of events that had ended by t: whatever a
    testee answered after t, it had seen those."""
    return max((e for e in events if e[1] <= t), default=None)


def word(reply):
    """'ok' or the error class of a reply, for naming a failure."""
    w = reply.split(" ")
    return w[1] if w[0] == "error" and len(w) > 1 else w[0]


def hexs(b):
    return b.hex() or "-"


class Session:
    """Plays the peer for one plan and checks the testee against the model."""

    def __init__(self, cfg, plan):
        self.cfg, self.plan, self.log = cfg, plan, []
        self.exp = Expect(plan.stream, plan.limit, plan.kept_open)
        self.sock = self.lsock = self.writer = None
        self.tmpdir = self.testee_path = None
        self.step = "start"
        self.sends_done = threading.Event()

    # -- helpers --
    # Checks after which the session can go on as planned: a miss of one
    # of these outside --strict, or past with --keep-going, is not the end.
    GO_ON = ("life:", "poll:", "recv5", "send-after-close", "close", "fd-leak", "memory",
             "time1:", "send5:no-shutdown")

    def fail(self, check, text, reqs, level="MUST", kind="recv"):
        """check names the kind of failure ('outcome:eof->truncated'): one
        Hypothesis bug per kind; --keep-going looks past kinds found."""
        go_on = check.startswith(self.GO_ON)
        known = self.cfg.known_match(check, reqs)
        if known is not None:           # --known: counted apart, the session goes on or ends
            known.seen(self.plan, check, level, reqs, text)
            if go_on:
                return
            raise _Stop()
        if check in self.cfg.ignore:
            if go_on:
                return
            raise _Stop()
        if level == "MUST" or (level == "SHOULD" and self.cfg.strict):
            raise failure(check, level, reqs, text, kind)
        self.cfg.notes.append("%s %s: %s" % (level, check, text))
        if not go_on:
            raise _Stop()

    def cmd(self, line, ms=None, kind="recv", reqs=("RECV-1",), level="MUST"):
        """Sends a command; its reply within ms (default: the deadline)."""
        self.t.send(line)
        r = self.reply(ms, line, kind, reqs, level)
        return r

    def reply(self, ms, what, kind="recv", reqs=("RECV-1",), level="MUST"):
        ms = self.cfg.deadline if ms is None else ms
        try:
            r = self.t.reply(ms)
        except Died as d:
            raise self.died(d.args[0], what, kind)
        if r is None:
            self.fail("hang:" + what.split()[0], "no reply to '%s' within %d ms" % (what, ms),
                      list(reqs), level, kind)
        return r

    def died(self, status, what, kind):
        check = "crash:%s" % signal.Signals(-status).name if status is not None and \
            status < 0 else "exit"
        if check in self.cfg.ignore:
            return _Stop()
        if status is not None and status < 0:
            return failure(check, "MUST", ["SEC-3"] if what.startswith("send") else [],
                           "the testee died of signal %d (%s) during '%s'" % (
                               -status, signal.Signals(-status).name, what), kind)
        return failure(check, "MUST", [], "the testee exited (status %s) during '%s'"
                       % (status, what), kind)

    def expect_ok(self, line, kind="session", reqs=()):
        r = self.cmd(line, kind=kind, reqs=reqs)
        if r != "ok":
            self.fail("reply", "'%s' answered '%s', not 'ok'" % (line, r), list(reqs),
                      kind=kind)

    # -- the peer's socket --
    def connect(self):
        p, cfg = self.plan, self.cfg
        if p.role == "parent":                   # the testee binds, we connect
            r = self.cmd("parent " + p.transport, kind="session", reqs=("LIFE-1",))
            if not r.startswith("ok "):
                self.fail("parent", "'parent %s' answered '%s'" % (p.transport, r),
                          ["LIFE-1"], kind="session")
            addr = r[3:]
            kind, _, rest = addr.partition(":")
            if kind == "unix":
                self.testee_path = rest
                self.sock = socket.socket(socket.AF_UNIX)
                where = rest
            else:
                host, _, port = rest.rpartition(":")
                self.sock = socket.socket(socket.AF_INET6 if "[" in host else socket.AF_INET)
                where = (host.strip("[]"), int(port))
            self.sock.settimeout(cfg.deadline / 1000)
            self.sock.connect(where)
            r = self.cmd("listen %d" % cfg.deadline, kind="session", reqs=("LIFE-2",))
            if r != "ok":
                self.fail("listen", "'listen' answered '%s' with the peer connected" % r,
                          ["LIFE-2"], kind="session")
            # LIFE-3: one child, then the path is gone and nobody else gets in.
            if self.testee_path and os.path.exists(self.testee_path):
                self.fail("life:path", "the Unix path %s is still there after the child was "
                          "accepted" % self.testee_path, ["LIFE-3"], kind="session")
            other = socket.socket(self.sock.family)
            other.settimeout(1)
            try:
                other.connect(where)
                second = True
            except OSError:
                second = False
            finally:
                other.close()
            if second:
                self.fail("life:second-child", "a second child could connect to %s after the "
                          "first was accepted" % addr, ["LIFE-3"], kind="session")
        else:                                    # we bind, the testee connects
            if p.transport == "unix":
                self.tmpdir = tempfile.mkdtemp(prefix="protofuzz-")
                path = os.path.join(self.tmpdir, "parent.sock")
                self.lsock = socket.socket(socket.AF_UNIX)
                self.lsock.bind(path)
                addr = "unix:" + path
            else:
                self.lsock = socket.socket(socket.AF_INET)
                self.lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                self.lsock.bind(("127.0.0.1", 0))
                addr = "tcp:127.0.0.1:%d" % self.lsock.getsockname()[1]
            self.lsock.listen(1)
            self.t.send("child " + addr)
            if not select.select([self.lsock], [], [], cfg.deadline / 1000)[0]:
                try:
                    r = self.t.reply(10)
                except Died as d:
                    raise self.died(d.args[0], "child", "session")
                self.fail("connect", "the testee did not connect to %s%s" % (
                    addr, ": " + r if r else ""), ["LIFE-5"], kind="session")
            self.sock = self.lsock.accept()[0]
            self.lsock.close()
            self.lsock = None
            self.sock.settimeout(cfg.deadline / 1000)
            r = self.reply(None, "child " + addr, "session", ("LIFE-5",))
            if r != "ok":
                self.fail("child", "'child %s' answered '%s'" % (addr, r), ["LIFE-5"],
                          kind="session")
        if self.sock.family != socket.AF_UNIX:
            self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def write_stream(self):
        """Writer thread: the stream in its chunks with pauses, then (if the
        sender closes) waits for the testee's own sends and ends."""
        p, data = self.plan, self.plan.stream
        edges = p.cuts + [len(data)]
        at = 0
        try:
            for i, e in enumerate(edges):
                self.sock.sendall(data[at:e])
                at = e
                if i + 1 < len(edges) and p.pause_ms:
                    time.sleep(p.pause_ms / 1000)
        except OSError as e:            # the testee refused the stream and shut it down
            self.log.append("# peer: writing stopped after %d of %d bytes: %s" % (
                at, len(data), e.strerror or e))
        if not p.kept_open and self.exp.outcome in ("eof", "truncated"):
            self.sends_done.wait(self.cfg.deadline * 2 / 1000)
            self.end()

    def end(self):
        """The sender's end: close, half close, or reset (SO_LINGER 0; on a
        Unix socket a close with unread data, which the testee sees as
        ECONNRESET)."""
        how = self.plan.end
        self.log.append("# peer: %s" % {"close": "close()", "shutdown": "shutdown(SHUT_WR)",
                                        "reset": "reset (SO_LINGER 0, close)"}[how])
        try:
            if how == "shutdown":
                self.sock.shutdown(socket.SHUT_WR)
                return
            if how == "reset":
                self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                     struct.pack("ii", 1, 0))
            self.sock.close()
        except OSError:
            pass

    def read_sent(self, want, ms):
        """Reads the frame the testee just sent; checks it byte for byte."""
        got = b""
        end = time.monotonic() + ms / 1000
        while len(got) < len(want) and time.monotonic() < end:
            if not select.select([self.sock], [], [], max(0, end - time.monotonic()))[0]:
                continue
            try:
                data = self.sock.recv(len(want) - len(got))
            except OSError:
                break
            if not data:
                break
            got += data
        if got != want:
            at = next((i for i, (a, b) in enumerate(zip(got, want)) if a != b),
                      min(len(got), len(want)))
            self.fail("send-frame:" + ("short" if got == want[:len(got)] else "wrong"),
                      "the testee's frame of %d payload bytes arrived as %d bytes, "
                      "first difference at byte %d (%s)" % (
                          len(want) - 5, len(got), at,
                          "short" if got == want[:len(got)] else "wrong bytes"),
                      ["FRAME-1", "SEND-1", "FRAME-5"], kind="session")

    def testee_send(self, payload):
        data = raw(payload)
        if isinstance(payload, Pat):
            line = "send-pattern %d %d" % (payload.n, payload.seed)
        else:
            line = "send " + hexs(data)
        self.t.send(line)
        # Before a reset the frame is left unread: closing a socket with
        # unread data is what resets a Unix connection (and a TCP one).
        if self.plan.end != "reset":
            self.read_sent(header(len(data)) + data, self.cfg.deadline)
        r = self.reply(None, line, "session", ("SEND-1",))
        if r != "ok":
            self.fail("send-reply", "'%s' answered '%s'" % (line[:40], r),
                      ["SEND-1", "FRAME-5"],
                      kind="session")

    def poll_true(self, why, level="MUST", reqs=("POLL-1",)):
        ms = min(1000, self.cfg.deadline)
        r = self.cmd("poll %d" % ms, ms + self.cfg.deadline, "session", reqs, level)
        if not r.startswith("ok true"):
            self.fail("poll:want-true", "'poll %d' answered '%s' where a receive would not "
                      "wait (%s)" % (ms, r, why), list(reqs), level, kind="session")

    def expect_error(self, cls, line="recv", level="MUST", reqs=None, name="outcome"):
        reqs = reqs or self.exp.requirements(bool(self.plan.cuts))
        r = self.cmd(line, reqs=reqs, level=level)
        if r.split(" ")[:2] != ["error", cls]:
            self.miss(name, cls, r, "'%s' answered '%s'; expected 'error %s'" % (line, r, cls),
                      reqs, level)

    def miss(self, name, cls, r, text, reqs, level="MUST"):
        """A receive answered r where 'error cls' was due.  After a reset
        that is RECV-9's to grade (SHOULD: a reset counts as the close it
        is), unless it delivered a message that is not there."""
        if name == "outcome" and self.plan.end == "reset" and r.startswith("error "):
            self.fail("reset:%s->%s" % (cls, word(r)), text + " (the peer reset the "
                      "connection)", ["RECV-9"] + list(reqs), "SHOULD")
        self.fail("%s:%s->%s" % (name, cls, word(r)), text, reqs, level)

    # -- the session --
    def run(self):
        p, cfg = self.plan, self.cfg
        self.log.append("# %s/%s, limit %s, stream %d bytes, chunks %s, pause %d ms, %s"
                        % (p.role, p.transport, p.limit, len(p.stream), p.chunks(),
                           p.pause_ms, "left open" if p.kept_open else "then " + p.end))
        if p.timing:
            self.log.append("# " + p.timing.describe())
        self.t = Testee(cfg.testee, self.log)
        try:
            self.body()
        finally:
            self.cleanup()

    def body(self):
        p, cfg, exp = self.plan, self.cfg, self.exp
        r = self.cmd("hello", cfg.start_ms, "session")
        if not r.startswith(("ok 1 ", "ok 1.1 ", "ok 1.2 ")):
            self.fail("hello", "'hello' answered '%s'" % r, [], kind="session")
        fd0, vm0 = self.t.fds(), self.t.vmpeak_kb()
        if p.limit is not None:
            self.expect_ok("set-max %d" % p.limit, "recv", ["RECV-6", "SEC-1"])
        if p.timing and p.timing.ms:
            self.expect_ok("set-timeout %d" % p.timing.ms, "timing", ["TIME-1"])
        self.step = "connect"
        self.connect()
        if p.timing:
            self.step = "timed " + p.timing.side
            (self.timed_recv if p.timing.side == "recv" else self.timed_send)()
        else:
            self.untimed()
        self.step = "after"
        self.after()
        self.step = "end"
        self.finish(fd0, vm0)
        tally = self.cfg.tally
        for k in (p.role + "/" + p.transport, "outcome " + exp.outcome,
                  "left open" if p.kept_open else p.end,
                  "chunked" if p.cuts else "one piece") + (
                      ("timed %s, %s" % (p.timing.side, "set-timeout" if p.timing.ms else
                                         "no timeout"),) if p.timing else ()):
            tally[k] = tally.get(k, 0) + 1

    def untimed(self):
        """The stream written by a thread while the main one receives."""
        p, cfg, exp = self.plan, self.cfg, self.exp
        if not p.sends:
            self.sends_done.set()
        self.writer = threading.Thread(target=self.write_stream, daemon=True)
        self.writer.start()
        reqs = exp.requirements(bool(p.cuts))
        sends = list(p.sends)
        # The valid prefix: every whole frame, whole and in order.
        for i, m in enumerate(exp.messages + [None]):
            while sends and sends[0][0] == i:
                self.testee_send(sends.pop(0)[1])
            if m is None:
                break
            if p.polls[i]:
                self.poll_true("message %d is on its way" % i)
            self.step = "recv %d" % i
            r = self.cmd("recv", reqs=reqs)
            if r != "ok " + hexs(m):
                self.fail("deliver->" + word(r), "recv %d of %d answered '%s'; expected 'ok %s'" % (
                    i + 1, len(exp.messages), r[:80], hexs(m)[:80]), reqs)
        self.sends_done.set()
        self.step = "outcome"
        if exp.outcome == "open":
            self.open_end(reqs)
        elif exp.outcome in ("eof", "truncated"):
            if p.polls[-2]:
                self.poll_true("the sender has closed")
            self.expect_error(exp.outcome, reqs=reqs)
            if p.repeat and exp.outcome == "eof":       # RECV-2: later receives too
                if p.polls[-1]:
                    self.poll_true("the peer closed")
                self.expect_error("eof", reqs=["RECV-2"], name="sticky")
        else:
            self.error_end(reqs)
        self.writer.join(cfg.deadline / 1000)

    # -- timed sessions (TIME-1, TIME-2, SEND-5; see Timing) --
    def take(self, ms, what):
        """The testee's next reply within ms, and when it was read.  Waits
        in slices of 5 ms, so that `self.clear` is always a moment less
        than 5 ms before a reply at which none had come yet."""
        end = time.monotonic() + ms / 1000
        while True:
            try:
                r = self.t.reply(max(1, min(5, (end - time.monotonic()) * 1000)))
            except Died as d:
                raise self.died(d.args[0], what, "timing")
            t = time.monotonic()
            if r is not None:
                return r, t
            self.clear = t
            if t >= end:
                return None, None

    def t_recv(self):
        """A recv outstanding: sends one unless one is."""
        if not self.pending:
            self.r0 = time.monotonic()
            self.t.send("recv")
            self.r1 = self.clear = time.monotonic()
            self.pending = True

    def on_recv(self, r, t):
        """Judges the reply to the outstanding recv.  True if it timed out."""
        tm, exp, i = self.plan.timing, self.exp, self.got
        self.pending = False
        cut = i in self.cut             # a timeout came inside this frame: TIME-2
        if r.split(" ")[:2] == ["error", "timeout"]:
            # It timed out after `clear`.  Bytes written by then were there
            # for it, so it made progress no earlier than they began: it had
            # waited at most `idle`.  It waited at least `waited`: from its
            # last possible progress (the end of our last write, or of
            # sending the recv) to `clear`.
            w = ended_by(self.writes, self.clear)
            idle = (t - max(self.r0, w[0] if w else 0)) * 1000
            waited = (self.clear - max([self.r1] + [e for s, e in self.writes if s < t])) * 1000
            self.log.append("# timed out after %.0f to %.0f ms without progress" % (
                max(waited, 0), idle))
            if self.written > self.starts[i]:
                self.cut.add(i)
            whole = self.whole.get(i)   # when the last byte of frame i was written
            if whole is not None and whole < self.clear - slack(tm.ms or NOMINAL_MS) / 1000:
                self.fail(("time2:" if cut else "") + "deliver->timeout",
                          "recv %d timed out %.0f ms after its frame had been written whole%s"
                          % (i + 1, (t - whole) * 1000, ": an earlier recv timed out inside "
                             "this frame" if cut else ""),
                          (["TIME-2"] if cut else []) + self.reqs, kind="timing")
            if tm.ms is None:
                self.fail("time1:recv-default", "'recv' timed out after at most %.0f ms, no "
                          "set-timeout sent (the default is 30 s)" % idle, ["TIME-1"], "SHOULD",
                          "timing")
            elif idle < tm.ms - slack(tm.ms):
                self.fail("time1:recv-early", "'recv' timed out after at most %.0f ms without "
                          "progress, under set-timeout %d: progress must restart the timeout"
                          % (idle, tm.ms), ["TIME-1"], "SHOULD", "timing")
            elif waited > tm.ms + late(tm.ms):
                self.fail("time1:recv-late", "'recv' timed out at least %.0f ms after its last "
                          "progress, under set-timeout %d (allowed: %d)" % (
                              waited, tm.ms, tm.ms + late(tm.ms)), ["TIME-1"], "SHOULD",
                          "timing")
            return True
        if i < len(exp.messages) and r == "ok " + hexs(exp.messages[i]):
            self.got += 1
            return False
        want = "'ok %s'" % hexs(exp.messages[i])[:80] if i < len(exp.messages) else \
            "no answer yet (%d of %d bytes written)" % (self.written, len(self.plan.stream))
        self.fail(("time2:" if cut else "") + "deliver->" + word(r),
                  "recv %d answered '%s'; expected %s%s" % (
                      i + 1, r[:80], want, ": an earlier recv timed out inside this frame"
                      if cut else ""), (["TIME-2"] if cut else []) + self.reqs, kind="timing")
        return False

    def wait_recv(self, ms):
        """Lets ms pass, judging any reply."""
        end = time.monotonic() + ms / 1000
        while self.pending and time.monotonic() < end:
            r, t = self.take((end - time.monotonic()) * 1000, "recv")
            if r is not None:
                self.on_recv(r, t)
        time.sleep(max(0, end - time.monotonic()))

    def stall_recv(self):
        """The peer writes nothing: with a timeout the outstanding recv must
        time out (TIME-1); without one it must keep waiting."""
        ms = self.plan.timing.ms
        self.log.append("# peer: stalls")
        if ms is None:
            end = time.monotonic() + (NOMINAL_MS + slack(NOMINAL_MS)) / 1000
            while time.monotonic() < end:
                self.t_recv()
                r, t = self.take((end - time.monotonic()) * 1000, "recv")
                if r is not None:
                    self.on_recv(r, t)
            return
        while True:
            self.t_recv()
            limit = max(self.r1, self.writes[-1][1] if self.writes else 0) + \
                (ms + self.cfg.deadline) / 1000
            r, t = self.take((limit - time.monotonic()) * 1000, "recv")
            if r is None:
                self.fail("time1:recv-missed", "no timeout within %d ms of the last progress, "
                          "under set-timeout %d" % (ms + self.cfg.deadline, ms), ["TIME-1"],
                          "SHOULD", "timing")
                return                  # the recv stays outstanding
            if self.on_recv(r, t):
                return

    def timed_recv(self):
        """The stream in pieces, a pause of its kind before each, a recv
        outstanding through every pause; what arrives must be the messages
        whole and in order, whatever timed out in between (TIME-2)."""
        p, tm, exp = self.plan, self.plan.timing, self.exp
        self.reqs = exp.requirements(bool(p.cuts))
        self.got, self.pending, self.written, self.cut, self.writes = 0, False, 0, set(), []
        self.whole = {}
        self.starts = [0]
        for m in exp.messages:
            self.starts.append(self.starts[-1] + 5 + len(m))
        at = 0
        for e, gap in zip(p.cuts + [len(p.stream)], tm.gaps):
            if gap != "none":
                self.t_recv()
                if gap == "stall":
                    self.stall_recv()
                else:
                    self.log.append("# peer: pauses %d ms" % gap_ms(gap, tm.ms))
                    self.wait_recv(gap_ms(gap, tm.ms))
            if at == e:
                continue                # an empty stream: nothing to write, no progress
            w0 = time.monotonic()
            self.sock.sendall(p.stream[at:e])
            self.writes.append((w0, time.monotonic()))
            self.log.append("# peer: wrote bytes %d to %d of %d" % (at, e, len(p.stream)))
            self.written = at = e
            for j in range(len(exp.messages)):
                if self.starts[j + 1] <= e:
                    self.whole.setdefault(j, self.writes[-1][1])
        while self.got < len(exp.messages):
            self.t_recv()
            r, t = self.take(self.cfg.deadline, "recv")
            if r is None:
                self.fail("hang:recv", "no reply to 'recv' within %d ms with message %d "
                          "written whole" % (self.cfg.deadline, self.got + 1), self.reqs,
                          kind="timing")
            self.on_recv(r, t)
        if tm.end_stall:
            self.t_recv()
            self.stall_recv()
        self.end()
        self.t_recv()
        r, t = self.take(self.cfg.deadline, "recv")
        if r is None:
            self.fail("hang:recv", "no reply to 'recv' within %d ms of the peer's %s" % (
                self.cfg.deadline, p.end), self.reqs, kind="timing")
        if r.split(" ")[:2] != ["error", exp.outcome]:
            cut = len(exp.messages) in self.cut
            self.fail("%soutcome:%s->%s" % ("time2:" if cut else "", exp.outcome, word(r)),
                      "after the peer's %s, 'recv' answered '%s'; expected 'error %s'%s" % (
                          p.end, r, exp.outcome, ": an earlier recv timed out inside this "
                          "frame" if cut else ""),
                      (["TIME-2"] if cut else []) + self.reqs, kind="timing")

    def queued(self):
        """Bytes waiting in our socket (FIONREAD): the testee's progress."""
        try:
            return struct.unpack("i", fcntl.ioctl(self.sock.fileno(), termios.FIONREAD,
                                                  b"\0\0\0\0"))[0]
        except OSError:
            return -1

    def drain(self, want):
        """Reads all there is now, checking it against the frame `want`;
        notes when it made room for the testee."""
        d0, n = time.monotonic(), 0
        while not self.eof and select.select([self.sock], [], [], 0)[0]:
            try:
                data = self.sock.recv(1 << 20)
            except OSError:
                data = b""
            if not data:
                self.eof = True
                break
            if data != want[self.rcvd:self.rcvd + len(data)]:
                self.frame_wrong(want, data)
            self.rcvd += len(data)
            n += len(data)
        if n:
            self.rooms.append((d0, time.monotonic()))
            self.log.append("# peer: read %d bytes (%d of %d)" % (n, self.rcvd, len(want)))
        return n

    def frame_wrong(self, want, data):
        at = next((i for i, (a, b) in enumerate(zip(data, want[self.rcvd:])) if a != b),
                  min(len(data), len(want) - self.rcvd))
        if self.cut_at is not None:
            self.fail("send5:frame-after-cut", "after its send timed out with %d of the %d "
                      "bytes of its frame on the wire, the testee wrote more: bytes %s at "
                      "offset %d, inside the cut frame" % (
                          self.cut_at, len(want), data[at:at + 8].hex(" "), self.rcvd + at),
                      ["SEND-5"], kind="timing")
        self.fail("send-frame:wrong", "the testee's frame of %d payload bytes differs at byte "
                  "%d" % (len(want) - 5, self.rcvd + at), ["FRAME-1", "SEND-1"], kind="timing")

    def timed_send(self):
        """The testee sends one big message; the peer reads everything there
        is after each pause (so the testee can go on at once: TIME-1 counts
        time without progress) and stalls where the plan says.  A send that
        times out inside its frame must be the last frame (SEND-5)."""
        tm, cfg = self.plan.timing, self.cfg
        want = header(tm.send_len) + Pat(tm.send_len, tm.send_seed).data()
        self.rcvd, self.eof, self.cut_at = 0, False, None
        line = "send-pattern %d %d" % (tm.send_len, tm.send_seed)
        self.rooms = [(time.monotonic(),) * 2]     # nothing could be sent before this
        self.t.send(line)
        self.clear = time.monotonic()               # nor answered
        r, gaps = None, list(tm.gaps)
        while r is None:
            gap = gaps.pop(0) if gaps else "none"
            if gap == "short" or gap == "below":
                self.log.append("# peer: pauses %d ms" % gap_ms(gap, tm.ms))
            if gap == "stall":
                r, t = self.stall_send()
            else:
                r, t = self.take(gap_ms(gap, tm.ms) if gap != "none" else 1, line)
            if r is not None:
                break
            if not self.drain(want) and not gaps:
                if self.eof or time.monotonic() - self.rooms[-1][1] > \
                        (cfg.deadline + (tm.ms or 0)) / 1000:
                    r, t = self.take(cfg.deadline, line)
                    if r is None:
                        self.fail("hang:send-pattern", "no reply to '%s' and nothing more on "
                                  "the wire for %d ms (%d of %d bytes)" % (
                                      line, cfg.deadline, self.rcvd, len(want)),
                                  ["SEND-1", "TIME-1"], kind="timing")
                select.select([self.sock], [], [], 0.005)
        self.log.append("# peer: had read %d of %d bytes at the reply" % (self.rcvd, len(want)))
        if r == "ok":
            end = time.monotonic() + cfg.deadline / 1000
            while self.rcvd < len(want) and not self.eof and time.monotonic() < end:
                select.select([self.sock], [], [], 0.01)
                self.drain(want)
            if self.rcvd < len(want):
                self.fail("send-frame:short", "'%s' answered 'ok' but %d of the %d bytes of its "
                          "frame arrived" % (line, self.rcvd, len(want)),
                          ["FRAME-1", "SEND-1"], kind="timing")
        elif r.split(" ")[:2] == ["error", "timeout"]:
            self.send_timed_out(want, line, t)
        else:
            self.fail("send-reply", "'%s' answered '%s'" % (line, r), ["SEND-1", "TIME-1"],
                      kind="timing")
        # The receiving direction still works (SEND-5), then the close.
        self.sock.sendall(header(2) + b"ok")
        self.log.append("# peer: wrote a frame of 6f6b")
        r = self.cmd("recv", kind="timing", reqs=("RECV-1", "SEND-5"))
        if r != "ok 6f6b":
            self.fail("deliver->" + word(r), "after the testee's send, 'recv' answered '%s'; "
                      "expected 'ok 6f6b'" % r, ["RECV-1", "SEND-5"], kind="timing")
        self.end()
        self.expect_error("eof", reqs=["RECV-2"])

    def stall_send(self):
        """We read nothing: the testee's send must time out MS after its
        last progress (TIME-1), which shows as the last growth of what waits
        in our socket, or keep waiting without a timeout."""
        ms = self.plan.timing.ms
        self.log.append("# peer: stops reading")
        q, moved = self.queued(), time.monotonic()
        end = moved + ((ms + self.cfg.deadline) if ms else
                       (NOMINAL_MS + slack(NOMINAL_MS))) / 1000
        while time.monotonic() < end:
            r, t = self.take(5, "send-pattern")
            if r is not None:
                # `moved` is a moment after its last progress as we see it.
                if ms and r.split(" ")[:2] == ["error", "timeout"] and \
                        (self.clear - moved) * 1000 > ms + late(ms):
                    self.fail("time1:send-late", "the send timed out at least %.0f ms after "
                              "its last progress (%d bytes waiting for us), under set-timeout "
                              "%d (allowed: %d)" % ((self.clear - moved) * 1000, q, ms,
                                                    ms + late(ms)),
                              ["TIME-1"], "SHOULD", "timing")
                return r, t
            n = self.queued()
            if n != q:
                q, moved = n, time.monotonic()
                if ms:
                    end = moved + (ms + self.cfg.deadline) / 1000
        if ms:
            self.fail("time1:send-missed", "the send did not time out within %d ms of its last "
                      "progress, under set-timeout %d" % (ms + self.cfg.deadline, ms),
                      ["TIME-1"], "SHOULD", "timing")
        return None, None

    def send_timed_out(self, want, line, t):
        """The send answered 'error timeout' at t.  TIME-1: not before MS
        without progress.  SEND-5: once cut, nothing more on the wire;
        SHOULD: the sending direction shut down at once."""
        tm, cfg = self.plan.timing, self.cfg
        room = ended_by(self.rooms, self.clear)[0]    # it had room then, surely
        idle = (t - room) * 1000
        if tm.ms is None:
            self.fail("time1:send-default", "'%s' timed out, no set-timeout sent (the default "
                      "is 30 s)" % line, ["TIME-1"], "SHOULD", "timing")
        elif idle < tm.ms - slack(tm.ms):
            self.fail("time1:send-early", "'%s' timed out under set-timeout %d although we had "
                      "made room for it at most %.0f ms before (%d of %d bytes read): progress "
                      "must restart the timeout" % (line, tm.ms, idle, self.rcvd, len(want)),
                      ["TIME-1"], "SHOULD", "timing")
        end = time.monotonic() + min(1000, cfg.deadline) / 1000
        while not self.eof and time.monotonic() < end:
            select.select([self.sock], [], [], 0.01)
            self.drain(want)
        if self.rcvd == len(want):
            return                      # the whole frame made it: nothing was cut
        self.cut_at = self.rcvd
        self.log.append("# peer: the frame was cut after %d of %d bytes%s" % (
            self.rcvd, len(want), ", then EOF" if self.eof else ""))
        if not self.eof:
            self.fail("send5:no-shutdown", "after its send timed out inside the frame (%d of %d "
                      "bytes), the testee did not shut its sending direction down: no EOF "
                      "within 1 s" % (self.rcvd, len(want)), ["SEND-5"], "SHOULD", "timing")
        r = self.cmd("send 41", kind="timing", reqs=("SEND-5",))
        if r == "ok":
            self.fail("send5:frame-after-cut", "after its send timed out inside the frame (%d "
                      "of %d bytes), 'send 41' answered 'ok': a frame written inside the cut "
                      "one" % (self.rcvd, len(want)), ["SEND-5"], kind="timing")
        time.sleep(0.05)
        self.drain(want)

    def open_end(self, reqs):
        """The stream stays open: the testee must wait (no message, no error)
        until we end it, then report the close."""
        p, cfg, exp = self.plan, self.cfg, self.exp
        self.writer.join(cfg.deadline / 1000)
        if p.idle_poll:
            ms = p.idle_poll
            r = self.cmd("poll %d" % ms, ms + cfg.deadline, "session", ("POLL-1",))
            if exp.tail:          # a partial frame is there: a receive would not wait
                if not r.startswith("ok true"):
                    self.fail("poll:want-true", "'poll %d' answered '%s' with %d bytes of a "
                              "frame "
                              "available" % (ms, r, exp.tail), ["POLL-1"], kind="session")
            else:
                w = r.split()
                if w[:2] != ["ok", "false"] or len(w) < 3 or not w[2].isdigit() \
                        or int(w[2]) < ms - 1:
                    self.fail("poll:idle", "'poll %d' answered '%s' with nothing arriving: it "
                              "must return false, no sooner than %d ms" % (ms, r, ms),
                              ["POLL-1", "POLL-3"], kind="session")
        self.t.send("recv")
        try:
            r = self.t.reply(cfg.idle)
        except Died as d:
            raise self.died(d.args[0], "recv", "recv")
        if r is not None:
            self.fail("outcome:open->" + word(r), "with the stream open and idle, 'recv' "
                      "answered '%s'; it "
                      "must wait for more bytes" % r, reqs)
        self.end()
        r = self.reply(None, "recv", reqs=reqs)
        if r.split(" ")[:2] != ["error", exp.after_close]:
            self.miss("outcome", exp.after_close, r, "after the peer's %s, 'recv' answered '%s'; "
                      "expected 'error %s'" % (p.end, r, exp.after_close), reqs)

    def error_end(self, reqs):
        """magic / toobig with the stream left open: reported at once; then
        RECV-5 (SHOULD): the peer sees EOF, and the error is sticky."""
        p, cfg, exp = self.plan, self.cfg, self.exp
        if p.polls[-2]:
            self.poll_true("a bad header is there")
        # Only waiting is a SHOULD miss (a lone bad byte, a length over the
        # default limit); any other answer is wrong.
        r = self.cmd("recv", reqs=reqs, level=exp.level)
        if r.split(" ")[:2] != ["error", exp.outcome]:
            self.fail("outcome:%s->%s" % (exp.outcome, word(r)),
                      "'recv' answered '%s'; expected 'error %s'" % (
                r, exp.outcome), reqs)
        if cfg.strict:
            self.writer.join(cfg.deadline / 1000)
            # Bytes the testee sent and we left unread may come first.
            end = time.monotonic() + min(1000, cfg.deadline) / 1000
            eof = False
            while time.monotonic() < end:
                if not select.select([self.sock], [], [], max(0, end - time.monotonic()))[0]:
                    continue
                try:
                    data = self.sock.recv(65536)
                except OSError:
                    data = b""
                if not data:
                    eof = True
                    break
            if not eof:
                self.fail("recv5", "after 'error %s' the peer did not see the connection "
                          "shut down" % exp.outcome, ["RECV-5"], "SHOULD")
        if p.repeat:
            if p.polls[-1]:
                # Known to be bad only by a receiver that keeps the error
                # (RECV-5, a SHOULD): so is this poll.
                self.poll_true("the stream is known to be bad", "SHOULD", ("POLL-1", "RECV-5"))
            self.expect_error(exp.outcome, level="SHOULD", reqs=["RECV-5"], name="sticky")
        self.end()

    def after(self):
        """The peer is gone: sends fail (or are taken), never kill (SEC-3);
        close; then the duct refuses to work (CLOSE-1)."""
        p = self.plan
        for k in range(p.after_sends):
            r = self.cmd("send %02x" % k, kind="session", reqs=("SEND-3", "SEC-3"))
            if r != "ok" and r.split(" ")[:2] not in (["error", "pipe"], ["error", "state"]):
                self.fail("send-after-close", "'send' to a peer that has gone answered '%s'" % r,
                          ["SEND-3"], kind="session")
            time.sleep(0.005)
        self.expect_ok("close", "session", ["CLOSE-1"])
        if p.after_close_recv:
            r = self.cmd("recv", kind="session", reqs=("CLOSE-1",))
            if r.split(" ")[:2] != ["error", "state"]:
                self.fail("close", "'recv' after 'close' answered '%s'; expected 'error "
                          "state'" % r, ["CLOSE-1"], kind="session")

    def finish(self, fd0, vm0):
        fd1 = self.t.fds()
        if fd0 is not None and fd1 is not None and fd1 > fd0:
            names = []
            try:
                for f in sorted(os.listdir("/proc/%d/fd" % self.t.pid), key=int):
                    names.append("%s->%s" % (f, os.readlink("/proc/%d/fd/%s" % (self.t.pid, f))))
            except OSError:
                pass
            self.fail("fd-leak", "the testee holds %d file descriptors after 'close', %d "
                      "before the duct was made: %s" % (fd1, fd0, " ".join(names)),
                      ["CLOSE-1"], kind="resource")
        vm1 = self.t.vmpeak_kb()
        if vm0 and vm1:
            allowed = 64 * 1024 + 8 * (len(self.plan.stream) + sum(
                len(s[1]) for s in self.plan.sends) + (
                    self.plan.timing.send_len if self.plan.timing else 0)) // 1024
            if vm1 - vm0 > allowed:
                self.fail("memory", "the testee's VmPeak grew by %d KiB on a %d-byte stream: "
                          "memory must follow the bytes received, not the length announced"
                          % (vm1 - vm0, len(self.plan.stream)), ["SEC-1"], "SHOULD",
                          kind="resource")
        self.t.send("quit")
        try:
            self.t.proc.wait(self.cfg.deadline / 1000)
        except subprocess.TimeoutExpired:
            self.fail("hang:quit", "the testee did not exit after 'quit'", [],
                      kind="session")
        st_ = self.t.proc.returncode
        if st_ != 0:
            raise self.died(st_, "quit", "session")

    def cleanup(self):
        for s in (self.sock, self.lsock):
            if s is not None:
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
        if self.writer is not None:
            self.sends_done.set()
            self.writer.join(5)
        for s in (self.sock, self.lsock):
            if s is not None:
                s.close()
        self.t.kill()
        self.stderr = self.t.stderr()
        self.t.err.close()
        if self.tmpdir:
            shutil.rmtree(self.tmpdir, ignore_errors=True)
        # A testee killed before it accepted leaves its private path behind.
        if self.testee_path and os.path.exists(self.testee_path):
            try:
                os.unlink(self.testee_path)
                d = os.path.dirname(self.testee_path)
                if d not in ("/", "/tmp", tempfile.gettempdir()):
                    os.rmdir(d)
            except OSError:
                pass


class _Stop(Exception):
    """A SHOULD miss outside --strict: noted, and the session ends there."""


# ---- reports and vectors ----------------------------------------------------

def describe(plan, exp):
    s = plan.stream
    shown = s[:96].hex(" ") + (" ... (%d bytes)" % len(s) if len(s) > 96 else "")
    lines = ["role %s (the fuzzer is the %s), transport %s, set-max %s" % (
                 plan.role, "child" if plan.role == "parent" else "parent", plan.transport,
                 "not sent" if plan.limit is None else plan.limit),
             "stream (%d bytes): %s" % (len(s), shown or "(empty)"),
             "made of: %s" % ("; ".join(plan.how) or "whole frames"),
             "written in: %s%s" % (plan.chunks() or "one piece",
                                   ", %d ms apart" % plan.pause_ms
                                   if plan.cuts and not plan.timing else ""),
             "then the sender: %s" % ("leaves it open, then " + plan.end if plan.kept_open
                                      else plan.end)]
    if plan.timing:
        lines.append(plan.timing.describe())
    if plan.sends:
        lines.append("the testee sends meanwhile: %s" % ", ".join(
            "%d bytes before recv %d" % (len(x), at) for at, x in plan.sends))
    lines.append("the model: %d message(s) %s, then %s%s" % (
        len(exp.messages), [hexs(m)[:16] for m in exp.messages[:6]], exp.outcome,
        " (%s once closed)" % exp.after_close if exp.after_close else ""))
    return lines


def slug(text):
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_") or "testee"


def to_vector(plan, exp, fail, name):
    """The plan as one case of vectors/frames/frames.json's schema."""
    limit = DEFAULT_MAX if plan.limit is None else plan.limit
    digest = hashlib.sha1(repr((plan.stream, plan.cuts, plan.limit,
                                plan.kept_open)).encode()).hexdigest()[:10]
    case = {"id": "frames.fuzz_%s_%s" % (slug(name), digest),
            "requirements": exp.requirements(bool(plan.cuts)),
            "comment": "found by fuzz/proto/protofuzz.py against %s (testee as %s, %s): "
                       "%s: %s" % (name, plan.role, plan.transport, fail.check, fail.text),
            "grade": "invalid" if exp.outcome in ("magic", "truncated") else "valid",
            "level": exp.level, "max": plan.limit}
    if any(isinstance(p, Pat) for p in plan.pieces):
        case["stream_pattern"] = [{"pattern_len": p.n, "seed": p.seed} if isinstance(p, Pat)
                                  else {"hex": p.hex()} for p in plan.pieces]
    else:
        case["stream_hex"] = plan.stream.hex()
    case["chunks"] = plan.chunks()
    expect = {}
    if all(len(m) <= INLINE_MAX for m in exp.messages):
        expect["messages_hex"] = [m.hex() for m in exp.messages]
    else:
        expect["messages"] = [{"len": len(m), "fnv1a64": "%016x" % fnv1a(m)}
                              for m in exp.messages]
    expect["outcome"] = exp.outcome
    if exp.outcome == "open":
        expect["after_close"] = exp.after_close
    case["expect"] = expect
    # The vectors' own generator has an independent decoder: it must agree.
    gen = os.path.join(REPO, "vectors", "frames", "gen_frame_vectors.py")
    if os.path.exists(gen):
        spec = importlib.util.spec_from_file_location("gen_frame_vectors", gen)
        g = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(g)
        msgs, end = g.model_decode(plan.stream, limit, exp.outcome == "open")
        assert (msgs, end) == (exp.messages, exp.outcome), "model disagrees with the generator"
    return case


def fnv1a(data, h=0xCBF29CE484222325):
    for b in data:
        h = ((h ^ b) * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return h


def write_vector(out, name, case):
    """out/NAME-N.json, N the next free number; a case already written
    there (same id: same stream, chunks and limit) is not written twice."""
    os.makedirs(out, exist_ok=True)
    taken = []
    for f in sorted(os.listdir(out)):
        m = re.match(re.escape(slug(name)) + r"-(\d+)\.json$", f)
        if m:
            taken.append(int(m.group(1)))
            try:
                with open(os.path.join(out, f)) as fh:
                    if any(c.get("id") == case["id"] for c in json.load(fh)):
                        return os.path.join(out, f)
            except (OSError, ValueError):
                pass
    path = os.path.join(out, "%s-%d.json" % (slug(name), max(taken, default=0) + 1))
    with open(path, "w") as f:
        json.dump([case], f, indent=1)
        f.write("\n")
    return path


# ---- the campaign -----------------------------------------------------------

class TimeUp(Exception):
    pass


class Known:
    """One line of a --known file: findings whose check matches PATTERN
    (fnmatch) and that name REQUIREMENT are LABEL (a departure D-n of
    PROTOCOL.md section 10, or a bug already reported), not new."""

    def __init__(self, pattern, req, label, why):
        self.pattern, self.req, self.label, self.why = pattern, req, label, why
        self.count, self.example, self.checks = 0, None, {}

    def matches(self, check, reqs):
        return fnmatch.fnmatchcase(check, self.pattern) and self.req in reqs

    def seen(self, plan, check, level, reqs, text):
        self.count += 1
        n, _ = self.checks.get(check, (0, level))
        self.checks[check] = (n + 1, level)
        if self.example is None or size(plan) < size(self.example[0]):
            self.example = (plan, check, level, reqs, text)


def size(plan):
    return len(plan.stream) + (plan.timing.send_len if plan.timing else 0)


def read_known(path):
    """--known FILE: lines 'PATTERN REQUIREMENT LABEL: why', # comments."""
    out = []
    with open(path) as f:
        for n, line in enumerate(f, 1):
            line = line.split("#", 1)[0].strip()
            if not line:
                continue
            m = re.match(r"(\S+)\s+([A-Z]+-\d+)\s+([^:\s]+):?\s*(.*)$", line)
            if not m:
                raise ValueError("%s:%d: expected 'CHECK-PATTERN REQUIREMENT LABEL: why'"
                                 % (path, n))
            out.append(Known(*m.groups()))
    return out


class Config:
    def __init__(self, **kw):
        self.__dict__.update(kw)
        self.notes, self.tally = [], {}
        self.ignore = set()
        # Fresh copies: each campaign counts what it saw.
        self.known = [Known(k.pattern, k.req, k.label, k.why) for k in kw.get("known") or []]

    def known_match(self, check, reqs):
        return next((k for k in self.known if k.matches(check, reqs)), None)


def report_known(cfg, res):
    """The --known findings seen, apart from the new ones."""
    if not cfg.known:
        return
    res["known"] = {}
    print("[protofuzz %s] known findings (--known), not counted as failures:" % cfg.name,
          flush=True)
    for k in cfg.known:
        if not k.count:
            print("  %s %s %s: not seen in this run" % (k.label, k.req, k.pattern), flush=True)
            continue
        res["known"][k.label] = res["known"].get(k.label, 0) + k.count
        plan, check, level, reqs, text = k.example
        print("  %s (%s) %s: %d session(s): %s" % (
            k.label, k.req, k.why, k.count, ", ".join(
                "%s %s x%d" % (c, lv, n) for c, (n, lv) in sorted(k.checks.items()))),
            flush=True)
        print("    smallest: %s: %s" % (check, text), flush=True)
        print("      " + "; ".join(describe(plan, Expect(plan.stream, plan.limit,
                                                         plan.kept_open))), flush=True)


SKIP = 77       # TESTEE.md: a testee whose implementation is absent; ctest's skip
NOT_FOUND = 127     # /bin/sh: the testee's program (or its interpreter) is not there


def preflight(cfg):
    """Starts the testee once: it must answer hello.  Returns its hello
    words, SKIP if its implementation is not installed, None if broken."""
    log = []
    t = Testee(cfg.testee, log)
    status = None
    try:
        t.send("hello")
        r = t.reply(cfg.start_ms)
    except Died as d:
        r, status = None, d.args[0]
    finally:
        t.kill()
        err = t.stderr()
        t.err.close()
    if status in (SKIP, NOT_FOUND):
        print("[protofuzz] skipped: the testee '%s' exited %d before hello: %s:\n  %s" % (
            cfg.testee, status, "its implementation is not installed" if status == SKIP else
            "its program or interpreter is not there", err.strip().replace("\n", "\n  ")),
            flush=True)
        return SKIP
    if not r or not r.startswith(("ok 1 ", "ok 1.1 ", "ok 1.2 ")):
        sys.stderr.write("protofuzz: the testee '%s' does not answer 'hello' (%r)\n%s\n"
                         % (cfg.testee, r, err))
        return None
    return r.split()[2:]


def fuzz(cfg):
    """The campaign: a Hypothesis run; with --keep-going N, up to N runs,
    each looking past the kinds of failure found before it.  Returns a
    summary dict (found, examples, seconds, failures...)."""
    hello = preflight(cfg)
    if hello is None:
        return {"error": True}
    if hello == SKIP:
        return {"skip": True}
    cfg.name = cfg.name or hello[0]
    t0 = cfg.t0 = time.monotonic()
    cfg.stop_at = t0 + cfg.seconds if cfg.seconds else None
    total = None
    for _ in range(max(1, cfg.keep_going)):
        res = campaign(cfg, hello[1:])
        if total is None:
            total = res
            total["first_examples"] = res["examples"]
        else:
            total["examples"] += res["examples"]
            total["failures"] += res["failures"]
        total["seconds"] = round(time.monotonic() - t0, 1)
        if not res["found"] or (cfg.stop_at and time.monotonic() > cfg.stop_at):
            break
        cfg.ignore |= {f["check"] for f in res["failures"]}
        if len(cfg.ignore) >= cfg.keep_going:
            break
        print("[protofuzz %s] keep going, past: %s" % (cfg.name, ", ".join(sorted(cfg.ignore))),
              flush=True)
    total["found"] = bool(total["failures"])
    report_known(cfg, total)
    print("[protofuzz %s] campaign: %d sessions in %.1f s (%.1f/s), seed %d; new failures: "
          "%d%s" % (cfg.name, total["examples"], total["seconds"],
                    total["examples"] / max(total["seconds"], 1e-9), cfg.seed,
                    len(total["failures"]), "; known: " + ", ".join(
                        "%s x%d" % kv for kv in total["known"].items())
                    if total.get("known") else ""), flush=True)
    return total


def campaign(cfg, features):
    """One Hypothesis run; returns a result dict."""
    combos = [(r, t) for r, t in COMBOS if cfg.role in (r, "both")
              and cfg.transport in (t, "both")]
    state = {"examples": 0, "first": None, "first_t": None, "runs_after": 0,
             "failures": {}, "t0": time.monotonic(), "shown": 0, "checks": []}
    stop = cfg.stop_at

    def say(msg, always=False):
        if always or not cfg.quiet:
            print("[protofuzz %s] %s" % (cfg.name, msg), flush=True)

    def progress(force=False):
        now = time.monotonic()
        if force or now - state["shown"] >= cfg.every:
            state["shown"] = now
            el = now - state["t0"]
            if state["first"] is None:
                say("%d examples, 0 failures, %.1f s (%.1f/s)" % (
                    state["examples"], el, state["examples"] / max(el, 1e-9)))
            else:
                say("%d runs since the first failure (looking on, shrinking); distinct "
                    "failures: %s" % (state["runs_after"], ", ".join(state["checks"])))

    # Each check raises its own Failure subclass, so Hypothesis keeps and
    # shrinks one example per kind of failure (report_multiple_bugs).
    @settings(max_examples=cfg.examples, deadline=None, database=None,
              suppress_health_check=list(HealthCheck), verbosity=Verbosity.quiet,
              phases=[Phase.generate, Phase.shrink], report_multiple_bugs=True)
    @seed(cfg.seed)
    @given(sessions(combos, "max" in features,
                    cfg.timing if "timeout" in features else "off"))
    def test(plan):
        if state["first"] is None:
            if stop and time.monotonic() > stop:
                raise TimeUp()
            state["examples"] += 1
        else:
            state["runs_after"] += 1
            known = state["failures"].get(plan.key())
            if known is not None:       # a session seen failing fails again, unrun
                raise known
            if time.monotonic() > state["first_t"] + cfg.shrink_seconds:
                return                  # the budget is spent: nothing new fails
        progress()
        session = Session(cfg, plan)
        try:
            session.run()
        except _Stop:
            return
        except Failure as f:
            f.plan, f.log, f.stderr, f.step = plan, session.log, session.stderr, session.step
            state["failures"][plan.key()] = f
            if f.check not in state["checks"]:
                state["checks"].append(f.check)
                if state["first"] is None:
                    state["first"] = time.monotonic() - state["t0"]
                    state["first_t"] = time.monotonic()
                say("FAILURE after %d examples (%.1f s): %s; shrinking..." % (
                    state["examples"], time.monotonic() - state["t0"], f.check))
            raise

    try:
        test()
        failures = []
    except TimeUp:
        failures = []
    except Failure as f:
        failures = [f]
    except BaseExceptionGroup as g:     # several kinds of failure, each shrunk
        failures = [e for e in g.exceptions if isinstance(e, Failure)]
        if len(failures) < len(g.exceptions):
            raise
    except Flaky:
        failures = []                   # reported below from what was seen
    if not failures and state["failures"]:
        failures = [min((f for f in state["failures"].values() if f.check == c),
                        key=lambda f: len(f.plan.stream)) for c in state["checks"]]
        for f in failures:
            f.flaky = True
    progress(force=True)
    res = {"name": cfg.name, "examples": state["examples"],
           "seconds": round(time.monotonic() - state["t0"], 1),
           "first_seconds": state["first_t"] and round(state["first_t"] - cfg.t0, 1),
           "shrink_runs": state["runs_after"], "found": bool(failures), "failures": []}
    if not failures:
        say("no failure in %d examples, %.1f s" % (res["examples"], res["seconds"]), True)
        say("sessions checked to the end: " + ", ".join(
            "%s %d" % kv for kv in sorted(cfg.tally.items())))
        for n in sorted(set(cfg.notes))[:10]:
            say("note (not --strict): " + n)
        return res
    order = {"MUST": 0, "SHOULD": 1}
    failures.sort(key=lambda f: (order.get(f.level, 2), f.kind != "recv", len(f.plan.stream)))
    say("%d distinct failure(s), found after %d examples (%.1f s), shrunk in %d runs" % (
        len(failures), state["examples"], state["first"], state["runs_after"]))
    for n, f in enumerate(failures, 1):
        res["failures"].append(report(cfg, f, n, len(failures)))
    print("reproduce: %s --testee %s --seed %d%s%s --role %s --transport %s%s%s%s" % (
        os.path.relpath(__file__), shell_quote(cfg.testee), cfg.seed,
        " --examples %d" % cfg.examples if cfg.examples < 1_000_000 else "",
        " --seconds %g" % cfg.seconds if cfg.seconds else "",
        cfg.role, cfg.transport, " --strict" if cfg.strict else "",
        " --timing " + cfg.timing if cfg.timing != "on" else "",
        " --known " + shell_quote(os.path.relpath(cfg.known_path)) if cfg.known_path else ""),
        flush=True)
    return res


def report(cfg, failed, n, of):
    """Prints one shrunk failure; writes its vector if the vector alone
    reproduces it.  Returns a summary dict."""
    plan = failed.plan
    tries = 3 if plan.timing else 1     # a timed failure may sit on the edge of a timeout
    agains = [replay(cfg, plan) for _ in range(tries)]
    again = next((f for f in agains if f), None)
    exp = Expect(plan.stream, plan.limit, plan.kept_open)
    out = {"check": failed.check, "level": failed.level, "reqs": failed.reqs,
           "text": failed.text, "stream_len": len(plan.stream), "kind": failed.kind}
    lines = ["", "FAILURE %d of %d (%s%s) %s: %s" % (
                 n, of, failed.level, ", " + " ".join(failed.reqs) if failed.reqs else "",
                 failed.check, failed.text),
             "testee: %s" % cfg.testee,
             "replayed %s: %s%s" % (
                 "once more" if tries == 1 else "%d times" % tries,
                 ("fails again (%s)" % again.check if tries == 1 else
                  "fails %d times (%s)" % (sum(1 for f in agains if f), again.check))
                 if again else "PASSED: the failure depends on timing",
                 " (Hypothesis saw it flaky)" if getattr(failed, "flaky", False) else ""),
             "minimal failing session:"]
    lines += ["  " + l for l in describe(plan, exp)]
    lines.append("  failed at: %s" % failed.step)
    lines.append("transcript (> to the testee, < its replies, # the peer):")
    lines += ["  " + l for l in failed.log[-40:]]
    if failed.stderr.strip():
        lines.append("testee stderr:")
        lines += ["  " + l for l in failed.stderr.strip().splitlines()[-15:]]
    # A vector only for a failure the vector itself reproduces: the same
    # stream written as duct-conform writes a vector, and nothing else asked.
    vfail = None if plan.timing else replay(cfg, as_vector(plan))
    if plan.timing:
        lines.append("no frame vector: the failure needs timing (set-timeout and the peer's "
                     "pauses), which the frame vector schema cannot express")
    elif vfail is not None and vfail.check == failed.check and failed.kind == "recv":
        case = to_vector(plan, exp, vfail, cfg.name)
        path = write_vector(cfg.out, cfg.name, case)
        out["vector"] = path
        lines.append("vector written: %s" % path)
        lines.append("  (frames.json schema, id %s; replayed as a vector it fails too: %s; "
                     "fuzz/proto/README.md shows how to run it with duct-conform)"
                     % (case["id"], vfail.check))
    else:
        lines.append("no frame vector: the stream alone, written as a vector is, %s; the "
                     "failure needs what the frame vector schema cannot express (%s)" % (
                         "passes" if vfail is None else "fails otherwise (%s, reported on its "
                         "own)" % vfail.check,
                         "a reset" if plan.end == "reset" and failed.kind == "recv" else
                         "the session around the stream: " + failed.check))
    print("\n".join(lines), flush=True)
    return out


def as_vector(plan):
    """The plan as duct-conform replays a frame vector: 5 ms between
    chunks, a half close to end, no polls, sends or other commands."""
    kw = dict(plan.__dict__)
    del kw["stream"]
    kw.update(pause_ms=5 if plan.cuts else 0, end="shutdown", sends=[], idle_poll=0,
              polls=[False] * len(plan.polls), after_sends=0, after_close_recv=False)
    return Plan(**kw)


def replay(cfg, plan):
    """Runs the plan once more, for the report: its Failure or None."""
    try:
        Session(cfg, plan).run()
    except Failure as f:
        return f
    except _Stop:
        pass
    return None


def shell_quote(s):
    return "'" + s.replace("'", "'\\''") + "'"


def make_cfg(a, testee, **over):
    kw = dict(testee=testee, role=a.role, transport=a.transport, examples=a.examples,
              seconds=a.seconds, seed=a.seed, out=a.out, name=a.name, strict=a.strict,
              deadline=a.deadline, idle=a.idle, shrink_seconds=a.shrink_seconds,
              quiet=a.quiet, every=a.every, start_ms=max(10000, a.deadline),
              keep_going=a.keep_going, known=a.known, known_path=a.known_path,
              timing=a.timing)
    kw.update(over)
    return Config(**kw)


def ci(a):
    """ctest: both shipped testees, fixed seed, bounded, strict."""
    build = os.path.abspath(a.ci)
    testees = [("libduct", os.path.join(build, "conformance", "duct-testee")),
               ("pyduct", "%s %s" % (PYTHON, os.path.join(REPO, "conformance", "testees",
                                                           "python", "testee.py")))]
    out = os.path.join(build, "protofuzz-found")
    if not os.access(testees[0][1], os.X_OK):
        sys.stderr.write("protofuzz: no %s: build the project first\n" % testees[0][1])
        return 2
    bad = 0
    # Untimed sessions first (the sequence they had before timed sessions
    # existed), then timed ones, which cost ten times more each.
    stages = {"libduct": (("off", 220, 12), ("only", 32, 9)),
              "pyduct": (("off", 110, 12), ("only", 28, 9))}
    for name, cmd in testees:
        # What this fuzzer found in them and is reported, not yet fixed.
        known_path = a.known_path or os.path.join(HERE, "known", name)
        for timing, examples, seconds in stages[name]:
            cfg = make_cfg(a, cmd, name=name, out=out, strict=True, timing=timing,
                           known=read_known(known_path), known_path=known_path,
                           seed=a.seed if a.seed is not None else 20240501,
                           examples=a.examples or examples, seconds=a.seconds or seconds,
                           deadline=max(a.deadline, 5000),
                           shrink_seconds=min(a.shrink_seconds, 20))
            res = fuzz(cfg)
            bad += bool(res.get("error") or res.get("found"))
    return 1 if bad else 0


def mutants(a):
    """Every mutant, blind: the same command for each; a table of finds."""
    mutant_py = os.path.join(REPO, "conformance", "mutants", "mutant.py")
    listing = subprocess.run([PYTHON, mutant_py, "--list"], capture_output=True, text=True,
                             check=True).stdout
    rows = []
    out = a.out if a.out_given else os.path.join(HERE, "found", "mutants")
    # Each mutant is pyduct with one defect more: pyduct's own known
    # findings are not the mutant's.
    known_path = a.known_path or os.path.join(HERE, "known", "pyduct")
    for line in listing.splitlines():
        name, level, about = line.split(None, 2)
        if a.only and name not in a.only.split(","):
            continue
        cmd = "%s %s %s" % (PYTHON, mutant_py, name)
        cfg = make_cfg(a, cmd, name=name, out=out, strict=True,
                       known=read_known(known_path), known_path=known_path,
                       seed=a.seed if a.seed is not None else 1,
                       examples=a.examples or 100000, seconds=a.seconds or 60,
                       keep_going=max(a.keep_going, 3))
        res = fuzz(cfg)
        rows.append((name, level, about, res))
    print("\n| mutant | breaks | found | examples to the first failure | seconds | "
          "failures, shrunk (requirement, minimal stream) | vectors |\n"
          "|---|---|---|---|---|---|---|")
    for name, level, about, r in rows:
        if r.get("found"):
            print("| `%s` | %s | yes | %d | %.1f | %s | %s |" % (
                name, level, r["first_examples"], r["first_seconds"], "; ".join(
                    "%s (%s %s, %d B)" % (f["check"], f["level"], " ".join(f["reqs"]) or "-",
                                          f["stream_len"]) for f in r["failures"]),
                ", ".join(os.path.basename(f["vector"]) for f in r["failures"]
                          if f.get("vector")) or "-"))
        else:
            print("| `%s` | %s | no | (%d run) | (%.1f) | - | - |" % (
                name, level, r.get("examples", 0), r.get("seconds", 0)))
    found = sum(1 for r in rows if r[3].get("found"))
    print("\n%d of %d mutants found; vectors in %s" % (found, len(rows), out))
    return 0 if found >= 3 else 1


def main(argv=None):
    ap = argparse.ArgumentParser(prog="protofuzz.py", add_help=False)
    ap.add_argument("--testee")
    ap.add_argument("--role", choices=("parent", "child", "both"), default="both")
    ap.add_argument("--transport", choices=("unix", "tcp", "both"), default="both")
    ap.add_argument("--examples", type=int)
    ap.add_argument("--seconds", type=float)
    ap.add_argument("--seed", type=int)
    ap.add_argument("--out")
    ap.add_argument("--name")
    ap.add_argument("--strict", action="store_true")
    ap.add_argument("--deadline", type=int, default=2000)
    ap.add_argument("--idle", type=int, default=100)
    ap.add_argument("--shrink-seconds", type=float, default=60)
    ap.add_argument("--every", type=float, default=5)
    ap.add_argument("--keep-going", type=int, default=1)
    ap.add_argument("--quiet", action="store_true")
    ap.add_argument("--ci", metavar="BUILD_DIR")
    ap.add_argument("--mutants", action="store_true")
    ap.add_argument("--only")
    ap.add_argument("--known", metavar="FILE")
    ap.add_argument("--timing", choices=("on", "off", "only"), default="on")
    ap.add_argument("-h", "--help", action="store_true")
    try:
        a = ap.parse_args(argv)
    except SystemExit:
        return 2
    if a.help:
        print(__doc__.strip())
        print("""
options:
  --testee CMD          the testee command, started as /bin/sh -c "exec CMD"
  --role R              the testee's role: parent (the fuzzer connects),
                        child (the fuzzer listens) or both (default)
  --transport T         unix, tcp or both (default)
  --examples N          stop after N generated streams (default 200)
  --seconds S           stop generating after S seconds (with --examples:
                        whichever comes first)
  --seed N              Hypothesis seed (default: random; printed)
  --out DIR             where failing streams are written as vectors
                        (default fuzz/proto/found)
  --name NAME           the testee's name in file names (default: from hello)
  --strict              SHOULD requirements fail the run too
  --deadline MS         how long any reply may take (default 2000)
  --idle MS             how long recv must keep waiting on an idle open
                        stream (default 100)
  --shrink-seconds S    time allowed for shrinking a failure (default 60)
  --keep-going N        after a failure, run on looking past the kinds of
                        failure found, until N kinds (default 1)
  --timing on|off|only  timed sessions (TIME-1, TIME-2, SEND-5) for a testee
                        offering 'timeout': one session in four (on, the
                        default), none (off), or every session (only)
  --known FILE          findings already known (an implementation's
                        departures, bugs already reported): lines
                        'CHECK-PATTERN REQUIREMENT LABEL: why'; a finding
                        whose check matches and that names the requirement
                        is counted under LABEL, apart, and fails nothing
  --mutants             run every mutant of conformance/mutants/mutant.py
                        (--only A,B to pick some), each --seconds 60, seed
                        1, --strict, --keep-going 3, --known
                        fuzz/proto/known/pyduct, and print the table;
                        vectors to fuzz/proto/found/mutants
  --ci BUILD_DIR        the ctest campaign: both shipped testees, fixed seed,
                        --strict, untimed then timed sessions, each stage
                        capped (12 s, 9 s), --known fuzz/proto/known/NAME;
                        vectors to BUILD_DIR/protofuzz-found; exit 77
                        without Hypothesis""")
        return 0
    a.known_path = a.known
    try:
        a.known = read_known(a.known) if a.known else []
    except (OSError, ValueError) as e:
        sys.stderr.write("protofuzz: --known: %s\n" % e)
        return 2
    a.out_given = a.out is not None
    a.out = a.out or os.path.join(HERE, "found")
    if a.ci:
        return ci(a)
    if a.mutants:
        return mutants(a)
    if not a.testee:
        sys.stderr.write("protofuzz: --testee CMD is required (try --help)\n")
        return 2
    if a.seed is None:
        a.seed = int.from_bytes(os.urandom(4), "big")
    if a.examples is None:
        a.examples = 1_000_000 if a.seconds else 200
    if not a.quiet:
        print("[protofuzz] seed %d, %s, role %s, transport %s%s" % (
            a.seed, "%g s" % a.seconds if a.seconds and a.examples >= 1_000_000 else
            "%d examples%s" % (a.examples, ", %g s" % a.seconds if a.seconds else ""), a.role,
            a.transport, ", strict" if a.strict else ""), flush=True)
    res = fuzz(make_cfg(a, a.testee))
    if res.get("skip"):
        return SKIP
    if res.get("error"):
        return 2
    return 1 if res.get("found") else 0


if __name__ == "__main__":
    sys.exit(main())
