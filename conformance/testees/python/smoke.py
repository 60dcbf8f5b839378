#!/usr/bin/python3
"""smoke.py: a quick scripted check of a Ductworks testee (conformance/TESTEE.md v1).

usage: smoke.py [TESTEE_CMD]
TESTEE_CMD is run with /bin/sh -c, as duct-conform does; the default is this
directory's testee.py.  The script starts one fresh testee per scenario,
plays the other end of the duct over a real socket (the testee as parent,
then as child), sends every command of the contract at least once and
checks the replies.  Every wait has a deadline.  A failed check exits 1 with
the transcript and the testee's stderr; a missed SHOULD is only a "note".
Exit status: 0 pass, 1 mismatch, 2 usage.
"""
import json, os, re, select, signal, socket, struct, subprocess, sys, tempfile, time

HERE = os.path.dirname(os.path.abspath(__file__))
CMD = '/usr/bin/python3 ' + os.path.join(HERE, 'testee.py')
notes = []


class Failure(Exception):
    pass


def check(cond, what):
    if not cond:
        raise Failure(what)


def should(cond, what):          # a SHOULD of PROTOCOL.md: reported, not fatal
    if not cond:
        notes.append(what)


def is_error(reply, cls):
    return reply.split()[:2] == ['error', cls]


def on_alarm(signum, stack):
    raise Failure('the whole run took over 240 s')


def frame(payload):
    return struct.pack('>BI', 0x54, len(payload)) + payload


def fnv1a(data, h=0xCBF29CE484222325):
    for b in data:
        h = ((h ^ b) * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return h


def recv_exact(sock, n):
    data = bytearray()
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        check(chunk, 'the testee closed the socket after %d of %d expected bytes' % (len(data), n))
        data += chunk
    return bytes(data)


def many(count, seed):           # send-many's messages (TESTEE.md)
    return [bytes((31 * k + i) % 256 for i in range((k + seed) % 61)) for k in range(count)]


def digest(messages):            # recv-many's digest (TESTEE.md)
    h = fnv1a(b'')
    for m in messages:
        h = fnv1a(m, fnv1a(struct.pack('>I', len(m)), h))
    return '%016x' % h


class Testee:
    def __init__(self):
        self.stderr = tempfile.TemporaryFile()
        self.proc = subprocess.Popen(['/bin/sh', '-c', CMD], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=self.stderr)
        self.out, self.pending, self.log = self.proc.stdout.fileno(), b'', []

    def write(self, line):
        self.log.append('> ' + line)
        self.proc.stdin.write(line.encode() + b'\n')
        self.proc.stdin.flush()

    def reply(self, timeout=5.0, sock=None, nbytes=0):
        """The next reply line, reading nbytes from sock meanwhile: (line, bytes)."""
        deadline, data = time.monotonic() + timeout, bytearray()
        while b'\n' not in self.pending or len(data) < nbytes:
            left = deadline - time.monotonic()
            check(left > 0, 'no reply within %g s' % timeout if b'\n' not in self.pending else
                  'only %d of %d bytes on the socket within %g s' % (len(data), nbytes, timeout))
            fds = [] if b'\n' in self.pending else [self.out]
            fds += [sock] if len(data) < nbytes else []
            ready = select.select(fds, [], [], left)[0]
            if self.out in ready:
                chunk = os.read(self.out, 65536)
                if not chunk:    # (an if, not check(): status() waits for the exit)
                    raise Failure('the testee exited without replying (%s)' % self.status())
                self.pending += chunk
            if sock in ready:
                chunk = sock.recv(1 << 20)
                check(chunk, 'the testee closed the socket after %d of %d bytes'
                      % (len(data), nbytes))
                data += chunk
        line, _, self.pending = self.pending.partition(b'\n')
        self.log.append('< ' + line.decode(errors='replace'))
        return line.decode(), bytes(data)

    def cmd(self, line, timeout=5.0):
        self.write(line)
        return self.reply(timeout)[0]

    def expect(self, line, want, timeout=5.0):
        """Sends line; the reply must be want, or want followed by free text when an error."""
        got = self.cmd(line, timeout)
        check(got == want or (want.startswith('error ') and got.startswith(want + ' ')),
              '%r: expected %r, got %r' % (line, want, got))
        return got

    def quit(self, how='quit'):
        if how == 'quit':
            self.write('quit')
        self.proc.stdin.close()
        try:
            status = self.proc.wait(5)
        except subprocess.TimeoutExpired:
            raise Failure('the testee did not exit within 5 s of %s' % how)
        check(status == 0, 'the testee exited with status %s after %s' % (status, how))

    def status(self):
        try:
            code = self.proc.wait(2)
        except subprocess.TimeoutExpired:
            return 'but it is still running'
        return 'killed by signal %d' % -code if code < 0 else 'status %d' % code

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def hello(t):
    words = t.cmd('hello').split()
    check(words[:2] == ['ok', '1.2'] and len(words) >= 3,
          'hello: expected "ok 1.2 NAME ...", got %r' % ' '.join(words))
    return words[3:]


def timed(t, line, want, low, high):
    start = time.monotonic()
    got = t.expect(line, want, timeout=high + 5)
    took = time.monotonic() - start
    check(low <= took <= high, '%r took %.3f s, expected %g..%g s' % (line, took, low, high))
    return got


def parent_unix(t):
    """The testee as a Unix parent, the script as its child: nearly every command."""
    features = hello(t)
    t.expect('recv', 'error state')
    t.expect('frobnicate 1 2', 'error unsupported')
    got = t.cmd('parent unix')
    check(got.startswith('ok unix:'), 'parent unix: expected "ok unix:PATH", got %r' % got)
    path = got[len('ok unix:'):]
    check(os.path.exists(path), 'parent unix: %s does not exist' % path)
    should(os.stat(os.path.dirname(path)).st_mode & 0o077 == 0,
           'SEC-2: the socket directory is not 0700')
    timed(t, 'listen 200', 'error timeout', 0.15, 3)
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(10)
    s.connect(path)                                   # queued in the backlog until listen
    t.expect('listen 5000', 'ok')
    check(not os.path.exists(path), 'LIFE-3: %s still exists after accept' % path)
    t.expect('parent unix', 'error state')
    t.expect('listen 100', 'error state')
    s.sendall(frame(b'hi'))
    t.expect('recv', 'ok 6869')
    t.expect('send 6f6b', 'ok')
    check(recv_exact(s, 7) == b'T\0\0\0\x02ok', 'send 6f6b: wrong bytes on the wire')
    t.expect('send -', 'ok')
    check(recv_exact(s, 5) == b'T\0\0\0\0', 'send -: wrong bytes on the wire')
    s.sendall(frame(b''))
    t.expect('recv', 'ok -')
    poll(t, 0, 'false')
    poll(t, 200, 'false')
    s.sendall(frame(b'abc') + frame(b'de'))
    poll(t, 2000, 'true')
    t.expect('recv', 'ok 616263')
    poll(t, 0, 'true')                                # POLL-1: 'de' may be in the testee's buffer
    t.expect('recv', 'ok 6465')
    data = os.urandom(1000)
    s.sendall(frame(data))
    t.expect('recv-digest', 'ok 1000 %016x' % fnv1a(data))
    t.write('send-pattern 1000 9')
    line, wire = t.reply(sock=s, nbytes=1005)
    check(line == 'ok' and wire == frame(bytes((7 * i + 9) % 256 for i in range(1000))),
          'send-pattern 1000 9: reply %r, or wrong bytes on the wire' % line)
    expected = b''.join(frame(m) for m in many(500, 7))
    t.write('send-many 500 7')
    line, wire = t.reply(sock=s, nbytes=len(expected))
    check(line == 'ok' and wire == expected, 'send-many 500 7: reply %r, or wrong bytes' % line)
    messages = many(300, 11)
    s.sendall(b''.join(frame(m) for m in messages))
    t.expect('recv-many 300', 'ok ' + digest(messages))
    bench(t, s)
    later_features(t, s)
    check(t.cmd('signal-handler').startswith('ok '), 'signal-handler: expected ok PID')
    t.expect('fork-close', 'ok')                      # CLOSE-2: the duct outlives it
    s.sendall(frame(b'in'))
    t.expect('recv', 'ok 696e')
    echo(t, s, b'{"a": [1, 2.5, NaN, -Infinity, "\\u00e9\\ud83d\\ude00"], "b": null}')
    echo(t, s, b'[1e+16, 1e-05, -0.0, 9223372036854775807]')
    s.sendall(frame(b'[18446744073709551616]'))   # 2**64: kept exactly, or refused (JSON-6)
    got = t.cmd('echo-value')
    if got == 'ok':
        check(recv_exact(s, 27) == frame(b'[18446744073709551616]'),
              'JSON-6: 2**64 came back changed')
    else:
        check(is_error(got, 'range'), 'echo-value of 2**64: expected ok or error range, got %r' % got)
    s.sendall(frame(b'\xff{not json'))
    t.expect('echo-value', 'error decode')
    s.sendall(frame(b'"x"'))                          # JSON-11: the duct is still usable
    t.expect('recv', 'ok 227822')
    features_max_timeout(t, features)
    s.sendall(frame(b'last'))
    s.close()
    t.expect('recv', 'ok 6c617374')                   # RECV-7: delivered before the EOF
    t.expect('recv', 'error eof')
    t.expect('recv', 'error eof')                     # RECV-2: later receives fail the same way
    t.expect('send 00', 'error pipe')                 # Unix: EPIPE on the first send
    t.expect('close', 'ok')
    t.expect('close', 'ok')
    t.expect('recv', 'error state')
    t.expect('send 00', 'error state')
    t.expect('poll 0', 'error state')
    t.quit()


def bench(t, s):                 # the bench feature (TESTEE.md 3.1), from testeekit
    msg = bytes(7 * i % 256 for i in range(300))
    t.write('bench-send 50 300')
    line, wire = t.reply(sock=s, nbytes=50 * 305)
    check(line == 'ok' and wire == frame(msg) * 50, 'bench-send 50 300: %r, or wrong bytes' % line)
    s.sendall(frame(msg) * 40)
    t.expect('bench-recv 40 300', 'ok')
    s.sendall(frame(msg[:299]) + frame(b'\x01' + msg[1:]))
    check(t.cmd('bench-recv 1 300').startswith('error other 0 '), 'bench-recv: a short message')
    check(t.cmd('bench-recv 1 300').startswith('error other 0 '), 'bench-recv: a wrong first byte')
    s.sendall(frame(b'') + frame(msg))
    t.write('bench-echo 2')
    line, wire = t.reply(sock=s, nbytes=5 + 305)
    check(line == 'ok' and wire == frame(b'') + frame(msg), 'bench-echo: %r' % line)
    s.sendall(frame(b'[1, 2.5]'))
    t.write('bench-echo-value 1')
    line, wire = t.reply(sock=s, nbytes=13)
    check(line == 'ok' and wire == frame(b'[1, 2.5]'), 'bench-echo-value: %r' % line)


def later_features(t, s):        # huge, spawn, threads (TESTEE.md 3.4-3.6), from testeekit
    t.write('send-zeros 3')
    line, wire = t.reply(sock=s, nbytes=8)
    check(line == 'ok' and wire == frame(b'\0\0\0'), 'send-zeros 3: %r' % line)
    check(t.cmd('send-zeros 4294967296').startswith('error '), 'send-zeros 2^32: not refused')
    t.expect('spawn /bin/echo', 'ok')
    check(t.cmd('spawn /bin/false').startswith('error other /bin/false exited with status 1'),
          'spawn: a program that fails')
    check(t.cmd('spawn /nonexistent').startswith('error other FileNotFoundError'),
          'spawn: a program that is not there')
    msg = bytes(7 * i % 256 for i in range(10))
    s.sendall(frame(msg) * 2)
    t.write('both-ways 2 10')
    line, wire = t.reply(sock=s, nbytes=2 * 15)
    check(line == 'ok' and wire == frame(msg) * 2, 'both-ways 2 10: %r' % line)
    s.sendall(frame(msg[:9]))
    t.write('both-ways 1 10')
    line, wire = t.reply(sock=s, nbytes=15)
    check(line.startswith('error other 0 message of 9 bytes'), 'both-ways: a short message: %r' % line)


def poll(t, ms, want):
    start = time.monotonic()
    got = t.cmd('poll %d' % ms, timeout=ms / 1000 + 5).split()
    took = time.monotonic() - start
    check(len(got) == 3 and got[:2] == ['ok', want] and got[2].isdigit(),
          'poll %d: expected "ok %s ELAPSED", got %r' % (ms, want, ' '.join(got)))
    elapsed = int(got[2])
    if want == 'false':
        check(elapsed >= ms and took >= ms / 1000,
              'POLL-3: poll %d returned false after %d ms' % (ms, elapsed))
    should(elapsed <= ms + 500, 'POLL-3: poll %d took %d ms' % (ms, elapsed))


def echo(t, s, payload):
    s.sendall(frame(payload))
    t.expect('echo-value', 'ok')
    want = frame(json.dumps(json.loads(payload)).encode())    # Python's json: the ground truth
    got = recv_exact(s, len(want))
    check(got == want, 'echo-value of %r: got back %r' % (payload, got))


def features_max_timeout(t, features):
    if 'max' not in features:
        t.expect('set-max 10', 'error unsupported')
    if 'timeout' not in features:
        t.expect('set-timeout 300', 'error unsupported')


def accept_child(t, family):     # the script listens; the testee connects as the child
    ls = socket.socket(family, socket.SOCK_STREAM)
    if family == socket.AF_UNIX:
        ls.bind(os.path.join(tempfile.mkdtemp(), 'p.sock'))
        address = 'unix:' + ls.getsockname()
    else:
        ls.bind(('127.0.0.1', 0))
        address = 'tcp:127.0.0.1:%d' % ls.getsockname()[1]
    ls.listen(1)
    ls.settimeout(10)
    try:
        t.expect('child ' + address, 'ok', timeout=15)
        c = ls.accept()[0]
    finally:
        ls.close()
        if family == socket.AF_UNIX:
            os.unlink(address[5:])
            os.rmdir(os.path.dirname(address[5:]))
    c.settimeout(10)
    return c


def child_tcp(t):
    """The testee as a TCP child: set-timeout (TIME-2), set-max (RECV-6), RECV-5."""
    features = hello(t)
    c = accept_child(t, socket.AF_INET)
    t.expect('child unix:/tmp/x.sock', 'error state')
    if 'timeout' in features:
        t.expect('set-timeout 300', 'ok')
        c.sendall(frame(b'whole')[:3])
        timed(t, 'recv', 'error timeout', 0.25, 3)
        c.sendall(frame(b'whole')[3:])
        t.expect('recv', 'ok ' + b'whole'.hex())      # TIME-2: nothing was lost
        t.expect('set-timeout 30000', 'ok')
    if 'max' in features:
        t.expect('set-max 10', 'ok')
        c.sendall(frame(b'0123456789'))
        t.expect('recv', 'ok ' + b'0123456789'.hex())
        c.sendall(b'T\0\0\0\x0b')                      # RECV-6: only the header, no payload
        t.expect('recv', 'error toobig')
        should(is_error(t.cmd('recv'), 'toobig'), 'RECV-5: toobig is not sticky')
        try:
            should(c.recv(1) == b'', 'RECV-5: the connection was not shut down after toobig')
        except socket.timeout:
            should(False, 'RECV-5: the connection was not shut down after toobig')
    features_max_timeout(t, features)
    c.close()
    t.quit('end of stdin')


def child_unix_magic(t):
    """The testee as a Unix child: a bad magic byte (FRAME-2, RECV-4, RECV-5)."""
    features = hello(t)
    c = accept_child(t, socket.AF_UNIX)
    if 'timeout' in features:
        t.expect('set-timeout 2000', 'ok')            # bounds a testee that waits for 5 bytes
    c.sendall(frame(b'ok') + b'X')
    t.expect('recv', 'ok 6f6b')
    got = t.cmd('recv', timeout=10)
    should(not got.startswith('error timeout'), 'FRAME-2: bad magic not seen from its first byte')
    if not got.startswith('error timeout'):
        check(is_error(got, 'magic'), 'recv after X: expected error magic, got %r' % got)
        should(is_error(t.cmd('recv'), 'magic'), 'RECV-5: magic is not sticky')
    c.close()
    t.quit()


def connect_tcp(t, timeout):     # parent tcp, and the script connects as the child
    got = t.cmd('parent tcp')
    check(got.startswith('ok tcp:'), 'parent tcp: expected "ok tcp:HOST:PORT", got %r' % got)
    host, _, port = got[len('ok tcp:'):].rpartition(':')
    return socket.create_connection((host.strip('[]'), int(port)), timeout)


def parent_at(t):
    """Feature bind (TESTEE.md 3.7): a TCP parent on the address it is given."""
    check('bind' in hello(t), 'hello does not name the feature bind')
    got = t.cmd('parent tcp:127.0.0.1:99999')
    check(got.startswith('error '), 'parent on port 99999: expected an error, got %r' % got)
    got = t.cmd('parent tcp:127.0.0.2:0')                # no duct was left behind
    check(re.fullmatch(r'ok tcp:127\.0\.0\.2:[1-9]\d*', got),
          'parent tcp:127.0.0.2:0: expected "ok tcp:127.0.0.2:PORT", got %r' % got)
    c = socket.create_connection(('127.0.0.2', int(got.rpartition(':')[2])), 10)
    t.expect('listen 5000', 'ok')
    c.sendall(frame(b'at'))
    t.expect('recv', 'ok 6174')
    c.close()
    t.quit()


def parent_tcp_truncated(t):
    """The testee as a TCP parent: recv-many cut short (RECV-3, RECV-7), pipe (SEND-3)."""
    hello(t)
    c = connect_tcp(t, 10)
    t.expect('listen 5000', 'ok')
    c.sendall(frame(b'one') + frame(b'two') + b'T\0\0\0\x05ab')
    c.close()
    t.expect('recv-many 5', 'error truncated 2')     # two whole messages, then RECV-3
    for attempt in range(5):                          # TCP: the first write may still succeed
        got = t.cmd('send 00')
        if got != 'ok':
            break
        time.sleep(0.1)
    check(is_error(got, 'pipe'), 'send to a closed TCP peer: expected error pipe, got %r' % got)
    t.expect('close', 'ok')
    t.quit()


def child_unix_truncated(t):
    """The testee as a Unix child: the peer closes inside a header (RECV-3)."""
    hello(t)
    c = accept_child(t, socket.AF_UNIX)
    c.sendall(frame(b'ok') + b'T\0\0')
    c.close()
    t.expect('recv', 'ok 6f6b')                       # RECV-7: the whole frame comes first
    t.expect('recv', 'error truncated')
    t.quit()


def child_unix_send_timeout(t):
    """The testee as a Unix child: a send that times out (TIME-1, SEND-5)."""
    if 'timeout' not in hello(t):
        return ['skipped: no feature timeout']
    c = accept_child(t, socket.AF_UNIX)
    t.expect('set-timeout 300', 'ok')
    timed(t, 'send-pattern %d 0' % (32 << 20), 'error timeout', 0.25, 5)   # the script never reads
    t.expect('send 00', 'error state')                # SEND-5: perhaps mid-frame: no more sends
    c.close()
    t.quit()


def child_no_parent(t):
    """A child with nowhere to go: error connect after a bounded number of retries (LIFE-5)."""
    hello(t)
    got = t.cmd('child unix:/nonexistent-%d/duct.sock' % os.getpid(), timeout=30)
    check(is_error(got, 'connect'), 'child to a missing path: expected error connect, got %r' % got)
    t.quit()


def sizes(t):
    """The suite's sizes: 10^5 small messages each way, 16 MiB each way."""
    hello(t)
    c = connect_tcp(t, 30)
    t.expect('listen 5000', 'ok')
    messages = many(100000, 0)
    wire = b''.join(frame(m) for m in messages)
    start = time.monotonic()
    t.write('recv-many 100000')
    c.sendall(wire)
    line = t.reply(timeout=30)[0]
    check(line == 'ok ' + digest(messages), 'recv-many 100000: got %r' % line)
    timing = ['recv-many 1e5 %.2f s' % (time.monotonic() - start)]
    start = time.monotonic()
    t.write('send-many 100000 0')
    line, got = t.reply(timeout=30, sock=c, nbytes=len(wire))
    check(line == 'ok' and got == wire, 'send-many 100000 0: reply %r, or wrong bytes' % line)
    timing.append('send-many 1e5 %.2f s' % (time.monotonic() - start))
    big = os.urandom(16 << 20)
    start = time.monotonic()
    t.write('recv-digest')
    c.sendall(frame(big))
    line = t.reply(timeout=30)[0]
    check(line == 'ok %d %016x' % (len(big), fnv1a(big)), 'recv-digest of 16 MiB: got %r' % line)
    timing.append('recv-digest 16 MiB %.2f s (both sides hash)' % (time.monotonic() - start))
    start = time.monotonic()
    t.write('send-pattern %d 200' % (16 << 20))
    line, got = t.reply(timeout=30, sock=c, nbytes=5 + (16 << 20))
    pattern = bytes((7 * i + 200) % 256 for i in range(256)) * (1 << 16)
    check(line == 'ok' and got == frame(pattern),
          'send-pattern 16 MiB: reply %r, or wrong bytes' % line)
    timing.append('send-pattern 16 MiB %.2f s' % (time.monotonic() - start))
    c.close()
    t.quit()
    return timing


def main():
    global CMD
    if sys.argv[1:2] in (['-h'], ['--help']) or len(sys.argv) > 2:
        print(__doc__.strip())
        return 0 if len(sys.argv) == 2 else 2
    if len(sys.argv) == 2:
        CMD = sys.argv[1]
    signal.signal(signal.SIGALRM, on_alarm)
    signal.alarm(240)                                 # the last resort
    print('smoke: testing %s' % CMD)
    for scenario in (parent_unix, child_tcp, child_unix_magic, child_unix_truncated,
                     child_unix_send_timeout, parent_tcp_truncated, parent_at, child_no_parent,
                     sizes):
        t, start = Testee(), time.monotonic()
        try:
            extra = scenario(t)
        except (Failure, OSError) as e:
            print('smoke: FAIL in %s: %s' % (scenario.__name__, e))
            print('  transcript (last 15 lines):\n    ' + '\n    '.join(t.log[-15:]))
            t.kill()
            t.stderr.seek(0)
            print('  testee stderr:\n' + t.stderr.read().decode(errors='replace'))
            return 1
        finally:
            t.kill()
        print('smoke: ok   %s (%.1f s)%s' % (scenario.__name__, time.monotonic() - start,
                                          ': ' + ', '.join(extra) if extra else ''))
    for note in notes:
        print('smoke: note %s' % note)
    print('smoke: PASS')
    return 0


if __name__ == '__main__':
    sys.exit(main())
