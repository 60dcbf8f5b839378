#!/usr/bin/python3
"""Smoke check of a testee (conformance/TESTEE.md, contract version 1.2).

    /usr/bin/python3 smoke.py PATH_TO_TESTEE

Starts the testee, plays the peer over real sockets in both roles (testee
parent: this script connects; testee child: this script listens), and sends
every command of the contract at least once, checking each reply, including
the error classes eof, truncated, magic, toobig, pipe, timeout, state,
decode, range, connect, other and unsupported.  Standard library only.  Exits
non-zero with a message on the first mismatch; a hard deadline kills
everything if anything hangs.
"""
import json
import os
import re
import select
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time

DEADLINE_S = 90  # whole run; the connect-failure case alone takes ~9 s
REPLY_S = 15  # one reply
testees = []


class Mismatch(Exception):
    pass


def check(cond, what):
    if not cond:
        raise Mismatch(what)


def frame(payload):
    return b"\x54" + struct.pack(">I", len(payload)) + payload


def fnv1a(data, h=0xCBF29CE484222325):
    for b in data:
        h = ((h ^ b) * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return h


def pattern(length, seed):
    return bytes((7 * i + seed) % 256 for i in range(length))


def many(count, seed):
    return [bytes((31 * k + i) % 256 for i in range((k + seed) % 61))
            for k in range(count)]


class Testee:
    """One testee process; commands in, one reply line out, with timeouts."""

    def __init__(self, path):
        self.p = subprocess.Popen([path], stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE)
        self.buf = b""
        self.last = None  # the last command, for messages
        testees.append(self)

    def ask(self, line):
        self.last = line if len(line) < 60 else line[:60] + "..."
        self.p.stdin.write(line.encode() + b"\n")
        self.p.stdin.flush()

    def answer(self, expect, timeout=REPLY_S):
        """Reads one reply; it must fully match the regex expect."""
        end = time.monotonic() + timeout
        while b"\n" not in self.buf:
            left = end - time.monotonic()
            fd = self.p.stdout.fileno()
            if left <= 0 or not select.select([fd], [], [], left)[0]:
                raise Mismatch("%r: no reply within %ss (expected %r)"
                               % (self.last, timeout, expect))
            chunk = os.read(fd, 1 << 20)
            if not chunk:
                raise Mismatch("%r: testee closed stdout (exit %s), "
                               "expected %r" % (self.last, self.p.wait(5),
                                                expect))
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        line = line.decode()
        m = re.fullmatch(expect, line)
        shown = line if len(line) < 200 else line[:200] + "..."
        check(m, "%r: reply %r does not match %r"
              % (self.last, shown, expect))
        return m

    def cmd(self, line, expect, timeout=REPLY_S):
        self.ask(line)
        return self.answer(expect, timeout)

    def quit(self):
        self.ask("quit")
        rc = self.p.wait(5)
        check(rc == 0, "exit status %s after quit" % rc)
        check(self.buf + self.p.stdout.read() == b"", "quit must not reply")


def recv_exact(sock, n):
    """Reads exactly n bytes (a single recv may return fewer)."""
    out = bytearray()
    while len(out) < n:
        try:
            chunk = sock.recv(min(n - len(out), 1 << 20))
        except socket.timeout:
            raise Mismatch("peer socket: %d of %d bytes after %ss"
                           % (len(out), n, sock.gettimeout()))
        check(chunk, "peer socket closed after %d of %d bytes" % (len(out), n))
        out += chunk
    return bytes(out)


def read_frame(sock):
    hdr = recv_exact(sock, 5)
    check(hdr[0] == 0x54, "bad magic from testee: %r" % hdr)
    return recv_exact(sock, struct.unpack(">I", hdr[1:])[0])


def connect_to(address):
    if address.startswith("unix:"):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(REPLY_S)
        s.connect(address[5:])
    else:
        host, port = address[4:].rsplit(":", 1)
        s = socket.create_connection((host.strip("[]"), int(port)), REPLY_S)
    s.settimeout(REPLY_S)
    return s


def as_parent(path):
    """Testee is a Unix parent; most data commands are checked here."""
    t = Testee(path)
    t.cmd("hello", r"ok 1\.2 \S+( \S+)* bench fork signals huge spawn threads bind")
    pid = int(t.cmd("signal-handler", r"ok (\d+)").group(1))
    check(pid == t.p.pid, "signal-handler: pid %d, not the testee's %d" % (pid, t.p.pid))
    t.cmd("recv", r"error state.*")  # no duct yet
    t.cmd("frobnicate 1", r"error unsupported.*")
    addr = t.cmd("parent unix", r"ok (unix:/\S+)").group(1)
    t.cmd("parent tcp", r"error state.*")  # one duct per testee
    t.cmd("listen 100", r"error timeout.*")  # nobody connected yet
    s = connect_to(addr)
    t.cmd("listen 5000", "ok")

    s.sendall(frame(b"hi"))
    t.cmd("recv", "ok 6869")
    s.sendall(frame(b""))
    t.cmd("recv", "ok -")
    t.cmd("send 6f6b", "ok")
    check(read_frame(s) == b"ok", "send 6f6b")
    t.cmd("send-zeros 3", "ok")  # feature huge
    check(read_frame(s) == b"\0\0\0", "send-zeros 3")
    t.cmd("send-zeros 4294967296", r"error \S+.*")
    t.cmd("spawn /bin/echo", "ok")  # feature spawn: echo prints an empty line
    t.cmd("spawn /nonexistent", r"error other.*")
    t.cmd("send -", "ok")
    check(read_frame(s) == b"", "send -")
    for bad in ("send zz", "send abc", "send ", "poll x", "recv-many x"):
        t.cmd(bad, "error other .*")

    # Large messages: a 2 MiB command line and a 2 MiB reply line.
    big = pattern(1 << 20, 9)
    t.ask("send " + big.hex())
    check(read_frame(s) == big, "send of 1 MiB")
    t.answer("ok")
    t.ask("recv")
    start = time.monotonic()
    s.sendall(frame(big))
    got = t.answer(r"ok ([0-9a-f]+)").group(1)
    took = time.monotonic() - start
    check(got == big.hex(), "recv of 1 MiB: wrong payload")
    check(took < 5, "recv of 1 MiB took %.2f s" % took)

    t.ask("send-pattern 300 5")
    check(read_frame(s) == pattern(300, 5), "send-pattern 300 5")
    t.answer("ok")
    t.ask("send-many 100 3")
    for k, want in enumerate(many(100, 3)):
        check(read_frame(s) == want, "send-many message %d" % k)
    t.answer("ok")

    # The bench feature (TESTEE.md 3.1): one reply per loop.
    t.ask("bench-send 50 300")
    for k in range(50):
        check(read_frame(s) == pattern(300, 0), "bench-send message %d" % k)
    t.answer("ok")
    s.sendall(frame(pattern(300, 0)) * 40)
    t.cmd("bench-recv 40 300", "ok")
    s.sendall(frame(pattern(299, 0)) + frame(b"\x01" + pattern(300, 0)[1:]))
    t.cmd("bench-recv 1 300", r"error other 0 .*")      # wrong length
    t.cmd("bench-recv 1 300", r"error other 0 .*")      # wrong first byte
    t.ask("bench-echo 3")
    for m in (b"", b"e", pattern(5000, 3)):
        s.sendall(frame(m))
        check(read_frame(s) == m, "bench-echo of %d bytes" % len(m))
    t.answer("ok")
    t.ask("bench-echo-value 2")
    for v in (b"[1, 2.5]", b'{"a": "\\u00e9"}'):
        s.sendall(frame(v))
        check(read_frame(s) == v, "bench-echo-value of %r" % v)
    t.answer("ok")

    # fork-close (CLOSE-2): the duct outlives a forked copy's close.
    t.cmd("fork-close", "ok")
    s.sendall(frame(b"in"))
    t.cmd("recv", "ok 696e")
    t.cmd("send 6f7574", "ok")
    check(read_frame(s) == b"out", "send after fork-close")

    msgs = [b"", b"a", pattern(70, 1)]
    s.sendall(b"".join(frame(m) for m in msgs))
    h = 0xCBF29CE484222325
    for m in msgs:
        h = fnv1a(struct.pack(">I", len(m)) + m, h)
    t.cmd("recv-many 3", "ok %016x" % h)
    s.sendall(frame(pattern(1000, 2)))
    t.cmd("recv-digest", "ok 1000 %016x" % fnv1a(pattern(1000, 2)))

    t.cmd("poll 0", r"ok false \d+")
    ms = int(t.cmd("poll 200", r"ok false (\d+)").group(1))
    check(200 <= ms < 2000, "poll 200 took %d ms" % ms)
    s.sendall(frame(b"x"))
    ms = int(t.cmd("poll 5000", r"ok true (\d+)").group(1))
    check(ms < 2000, "poll with data waiting took %d ms" % ms)
    t.cmd("recv", "ok 78")

    value = {"a": [1, 2.5, "\u00e9\U0001F600", None, True], "b": {}}
    s.sendall(frame(json.dumps(value).encode()))
    t.cmd("echo-value", "ok")
    check(read_frame(s) == json.dumps(value).encode(), "echo-value bytes")
    s.sendall(frame(b"not json"))
    t.cmd("echo-value", r"error decode.*")
    # JSON-6: 2**64 is kept exactly (Python) or refused (libduct: range).
    s.sendall(frame(b"[18446744073709551616]"))
    if t.cmd("echo-value", r"ok|error range.*").group(0) == "ok":
        check(read_frame(s) == b"[18446744073709551616]", "2**64 changed")
    s.sendall(frame(b"[1]"))  # JSON-11: the duct is still usable
    t.cmd("echo-value", "ok")
    check(read_frame(s) == b"[1]", "echo-value after a decode error")

    t.cmd("set-max 2000", "ok")  # on a live duct
    s.sendall(b"\x54" + struct.pack(">I", 2001))
    t.cmd("recv", r"error toobig.*")
    t.cmd("recv", r"error toobig.*")  # sticky (RECV-5)
    t.cmd("close", "ok")
    t.cmd("close", "ok")  # idempotent (CLOSE-1)
    t.cmd("send 00", r"error state.*")
    t.cmd("recv", r"error state.*")
    t.quit()
    s.close()


def as_parent_tcp(path):
    """Testee is a TCP parent: the address carries the real port."""
    t = Testee(path)
    addr = t.cmd("parent tcp", r"ok (tcp:\S+:[1-9]\d*)").group(1)
    s = connect_to(addr)
    t.cmd("listen 5000", "ok")
    s.sendall(frame(b"tcp"))
    t.cmd("recv", "ok 746370")
    t.cmd("send-pattern 0 0", "ok")
    check(read_frame(s) == b"", "send-pattern 0 0")
    t.cmd("set-timeout 200", "ok")  # on a live duct
    start = time.monotonic()
    t.cmd("recv", r"error timeout.*")
    took = time.monotonic() - start
    check(0.15 <= took < 3, "recv with set-timeout 200 took %.2f s" % took)
    t.quit()
    s.close()


def as_parent_at(path):
    """Feature bind (TESTEE.md 3.7): a TCP parent on the address it is given."""
    t = Testee(path)
    t.cmd("parent tcp:127.0.0.1:99999", r"error \S+.*")  # no duct is left behind
    addr = t.cmd("parent tcp:127.0.0.2:0", r"ok (tcp:127\.0\.0\.2:[1-9]\d*)").group(1)
    s = connect_to(addr)
    t.cmd("listen 5000", "ok")
    s.sendall(frame(b"at"))
    t.cmd("recv", "ok 6174")
    t.quit()
    s.close()


def as_child_tcp(path):
    """Testee is a TCP child: timeout, eof, pipe, set-timeout before."""
    ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    ls.bind(("127.0.0.1", 0))
    ls.listen(1)
    ls.settimeout(REPLY_S)
    t = Testee(path)
    t.cmd("set-timeout 300", "ok")  # before the duct: must still apply
    t.cmd("child tcp:127.0.0.1:%d" % ls.getsockname()[1], "ok")
    s, _ = ls.accept()
    s.settimeout(REPLY_S)
    ls.close()
    t.cmd("listen 10", r"error state.*")  # a child cannot listen
    start = time.monotonic()
    t.cmd("recv", r"error timeout.*")
    took = time.monotonic() - start
    check(0.25 <= took < 3, "recv with set-timeout 300 took %.2f s" % took)
    s.sendall(frame(b"\x00\xff"))
    s.shutdown(socket.SHUT_WR)
    t.cmd("recv", "ok 00ff")
    t.cmd("recv", r"error eof.*")
    t.cmd("recv", r"error eof.*")  # later receives too (RECV-2)
    s.close()
    # TCP reports a vanished peer only after it answers with RST, so a
    # send or two may still succeed first.
    for _ in range(50):
        if t.cmd("send-pattern 1000 1", r"ok|error pipe.*").group(0) != "ok":
            break
        time.sleep(0.02)
    else:
        raise Mismatch("no error pipe after the peer closed (TCP)")
    t.p.stdin.close()  # end of stdin: exit 0 as well
    rc = t.p.wait(5)
    check(rc == 0, "exit status %s on end of stdin" % rc)


def unix_listener(tmp, name):
    ls = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    ls.bind(os.path.join(tmp, name))
    ls.listen(1)
    ls.settimeout(REPLY_S)
    return ls, "unix:" + os.path.join(tmp, name)


def as_child_unix(path, tmp):
    """Testee is a Unix child: magic, truncated, pipe, toobig."""
    ls, addr = unix_listener(tmp, "magic.sock")
    t = Testee(path)
    t.cmd("child " + addr, "ok")
    s, _ = ls.accept()
    s.settimeout(REPLY_S)
    ls.close()
    t.cmd("child " + addr, r"error state.*")
    t.cmd("set-timeout 5000", "ok")  # on a live duct
    s.sendall(b"\x55\x00\x00\x00\x01z")
    t.cmd("recv", r"error magic.*")
    t.cmd("poll 0", r"ok true \d+")  # a bad stream is "ready" (POLL-1)
    t.cmd("recv", r"error magic.*")
    t.quit()
    s.close()

    ls, addr = unix_listener(tmp, "trunc.sock")
    t = Testee(path)
    t.cmd("child " + addr, "ok")
    s, _ = ls.accept()
    ls.close()
    s.sendall(b"\x54\x00\x00\x00\x05ab")
    s.close()
    t.cmd("recv", r"error truncated.*")
    t.cmd("send 00", r"error pipe.*")  # Unix: EPIPE at once
    t.quit()

    ls, addr = unix_listener(tmp, "toobig.sock")
    t = Testee(path)
    t.cmd("set-max 10", "ok")  # before the duct: must still apply
    t.cmd("child " + addr, "ok")
    s, _ = ls.accept()
    s.settimeout(REPLY_S)
    ls.close()
    s.sendall(frame(b"0123456789"))
    t.cmd("recv", "ok " + b"0123456789".hex())
    s.sendall(b"\x54" + struct.pack(">I", 11))
    t.cmd("recv", r"error toobig.*")
    t.quit()
    s.close()


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: smoke.py PATH_TO_TESTEE")
    path = os.path.abspath(sys.argv[1])

    def expire(_signum, _frame):
        raise Mismatch("deadline of %d s passed" % DEADLINE_S)
    signal.signal(signal.SIGALRM, expire)
    signal.alarm(DEADLINE_S)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            # The connect failure takes libduct's full retry policy (about
            # 9 s), so it runs alongside the other cases.
            late = Testee(path)
            late.ask("child unix:" + os.path.join(tmp, "nobody-here.sock"))
            for args in ((path, "--help"), (path, "--bogus")):
                rc = subprocess.run(args, stdout=subprocess.DEVNULL,
                                    stderr=subprocess.DEVNULL,
                                    timeout=5).returncode
                check(rc == (0 if args[1] == "--help" else 2),
                      "%s exited %d" % (args[1], rc))
            as_parent(path)
            as_parent_tcp(path)
            as_parent_at(path)
            as_child_tcp(path)
            as_child_unix(path, tmp)
            late.answer(r"error connect.*", timeout=30)
            late.cmd("recv", r"error state.*")
            late.quit()
    except (Mismatch, OSError, subprocess.SubprocessError) as e:
        print("smoke: FAIL: %s" % e, file=sys.stderr)
        return 1
    finally:
        signal.alarm(0)
        for t in testees:
            if t.p.poll() is None:
                t.p.kill()
                t.p.wait()
            for f in (t.p.stdin, t.p.stdout):
                try:
                    f.close()
                except OSError:
                    pass  # a broken pipe on close: the testee is gone
    print("smoke: ok (%s)" % path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
