"""testeekit: the testee contract (TESTEE.md, version 1.2) in one module, so
that an adapter for a new Python implementation is only its mapping.

    import testeekit as kit

    class Mine(kit.Adapter):
        name = 'mine-1.0'                       # hello's NAME, no spaces
        def parent(self, transport): ...        # bind; return 'unix:PATH' / 'tcp:HOST:PORT'
        def listen(self, timeout): ...          # seconds, None = forever; raise Error('timeout')
        def child(self, address): ...           # connect, with the library's own retries
        def send(self, payload): ...            # bytes
        def recv(self): ...                     # -> bytes
        def poll(self, timeout): ...            # -> bool
        def close(self): ...
        # optional: set_max(n), set_timeout(seconds or None), parent_at(address),
        # dumps/loads or echo_value(), classify(exc, command)

    kit.serve(Mine(), __doc__)

The kit owns everything that is the same for every implementation: the
control-channel loop, argument checking, the one-duct state rule, the
replies, the composite commands (send-pattern, send-many, recv-digest,
recv-many, poll's ELAPSED, the bench feature's loops, fork-close,
signal-handler) and the error classes.  The adapter raises
Error(CLASS, text), or lets its library's exceptions through and names
their class in classify(); what it leaves unnamed is 'other', with the
exception's type and text.  An adapter adapts: it must not retry, buffer or
limit on the library's behalf, or the suite grades the adapter.
"""
import mmap
import os
import signal
import struct
import subprocess
import sys
import threading
import time

VERSION = '1.2'
CLASSES = ('eof', 'truncated', 'magic', 'toobig', 'pipe', 'timeout', 'decode', 'range',
           'state', 'connect', 'unsupported', 'other')
UNAVAILABLE = 77                 # exit status: the implementation is not installed


class Error(Exception):
    def __init__(self, cls, text=''):
        if cls not in CLASSES:
            raise ValueError('not an error class of TESTEE.md: %r' % cls)
        super().__init__(text)
        self.cls = cls


def unavailable(reason):
    """Exits before hello: duct-conform reports the testee as unavailable."""
    print(reason, file=sys.stderr)
    sys.exit(UNAVAILABLE)


FNV_INIT = 0xCBF29CE484222325


def fnv1a(data, h=FNV_INIT):
    for b in data:
        h = ((h ^ b) * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return h


def pattern(length, seed):       # send-pattern: byte i is (7*i + seed) mod 256, period 256
    period = bytes((7 * i + seed) % 256 for i in range(256))
    return (period * (length // 256 + 1))[:length]


_RAMP = bytes(range(256)) * 2


def many_message(k, seed):       # send-many: length (k + seed) mod 61, byte i (31k + i) mod 256
    start = 31 * k % 256
    return _RAMP[start:start + (k + seed) % 61]


def parse_address(address):
    """'unix:PATH' -> ('unix', PATH); 'tcp:HOST:PORT' or 'tcp:[V6]:PORT' ->
    ('tcp', HOST, PORT).  Raises Error('connect') for anything else."""
    kind, _, rest = address.partition(':')
    if kind == 'unix' and rest:
        return 'unix', rest
    host, _, port = rest.rpartition(':')
    bracketed = host.startswith('[') and host.endswith(']') and len(host) > 2
    if kind == 'tcp' and host and port.isdigit() and int(port) < 65536 and \
            (bracketed or '[' not in host and ']' not in host):   # ADDR-2
        return 'tcp', host[1:-1] if bracketed else host, int(port)
    raise Error('connect', 'bad address ' + address)


class Adapter:
    """The implementation's mapping; see the module's text."""
    name = 'unnamed-0'
    set_max = None               # set_max(n): feature 'max'
    set_timeout = None           # set_timeout(seconds, None = never): feature 'timeout'
    parent_at = None             # parent_at(address) -> address bound: feature 'bind'

    def classify(self, exc, command):
        return None

    def dumps(self, value):
        raise Error('unsupported', 'no default serializer')

    def loads(self, payload):
        raise Error('unsupported', 'no default serializer')

    def echo_value(self):
        self.send(self.dumps(self.loads(self.recv())))


# Each command's arguments: i an integer, x hex or '-', w a word.
ARGS = {'hello': '', 'parent': 'w', 'child': 'w', 'listen': 'i', 'send': 'x',
        'send-pattern': 'ii', 'send-many': 'ii', 'recv': '', 'recv-digest': '',
        'recv-many': 'i', 'poll': 'i', 'echo-value': '', 'close': '', 'set-max': 'i',
        'set-timeout': 'i', 'bench-send': 'ii', 'bench-recv': 'ii', 'bench-echo': 'i',
        'bench-echo-value': 'i', 'fork-close': '', 'signal-handler': '', 'send-zeros': 'i',
        'spawn': 'w', 'both-ways': 'ii'}
NEED_DUCT = set(ARGS) - {'hello', 'parent', 'child', 'set-max', 'set-timeout',
                         'signal-handler', 'spawn'}


def ignore_signal(signum, frame):
    """signal-handler's handler: does nothing, so that the signal only
    interrupts what the testee is doing (SEC-6)."""


def _seconds(ms):                # listen and poll: negative waits forever
    return None if ms < 0 else ms / 1000


def _parse(cmd, words):
    spec = ARGS[cmd]
    if len(words) != len(spec):
        raise Error('other', 'bad arguments: %s takes %d, got %d' % (cmd, len(spec), len(words)))
    out = []
    for kind, w in zip(spec, words):
        try:
            out.append(int(w) if kind == 'i' else
                       (b'' if w == '-' else bytes.fromhex(w)) if kind == 'x' else w)
        except ValueError:
            raise Error('other', 'bad arguments: %r is not %s' % (
                w, 'a decimal number' if kind == 'i' else 'hex'))
    return out


def _pattern_check(size):
    """bench-recv's check of message k: SIZE bytes, the pattern's first and
    last byte; the error reply, or None."""
    last = 7 * (size - 1) % 256
    def check(k, p):
        if len(p) != size or p and (p[0] != 0 or p[-1] != last):
            return 'error other %d message of %d bytes, not the pattern of %d' % (k, len(p), size)
    return check


class Session:
    """One testee process: at most one duct (made by parent or child)."""

    def __init__(self, adapter):
        self.a, self.has_duct = adapter, False

    def features(self):
        return [f for f, m in (('max', 'set_max'), ('timeout', 'set_timeout'))
                if getattr(self.a, m) is not None] + ['bench', 'fork', 'signals', 'huge',
                                                      'spawn', 'threads'] + \
            (['bind'] if self.a.parent_at is not None else [])

    def run(self, words):
        cmd, args = words[0], words[1:]
        if cmd not in ARGS:
            return 'error unsupported unknown command ' + cmd
        args = _parse(cmd, args)
        a = self.a
        if cmd == 'hello':
            return ' '.join(['ok', str(VERSION), a.name] + self.features())
        if cmd in ('set-max', 'set-timeout'):
            fn = a.set_max if cmd == 'set-max' else a.set_timeout
            if fn is None:
                return 'error unsupported ' + cmd
            if cmd == 'set-max' and not 0 <= args[0] <= 0xFFFFFFFF:
                raise Error('other', 'bad arguments: N must be 0 to 2^32-1')
            fn(args[0] if cmd == 'set-max' else args[0] / 1000 if args[0] > 0 else None)
            return 'ok'
        if cmd == 'signal-handler':    # TESTEE.md 3.3, SEC-6
            signal.signal(signal.SIGUSR1, ignore_signal)
            return 'ok %d' % os.getpid()
        if cmd in ('parent', 'child'):
            if self.has_duct:
                raise Error('state', 'this testee already has a duct')
            if cmd == 'child':
                a.child(args[0])
            elif args[0] in ('unix', 'tcp'):
                address = a.parent(args[0])
            elif args[0].startswith('tcp:') and a.parent_at is not None:   # TESTEE.md 3.7
                try:
                    parse_address(args[0])
                except Error:
                    raise Error('other', 'bad arguments: bad address ' + args[0])
                address = a.parent_at(args[0])
            else:
                raise Error('other', 'bad arguments: unknown transport ' + args[0])
            self.has_duct = True
            return 'ok ' + address if cmd == 'parent' else 'ok'
        if not self.has_duct:
            raise Error('state', 'no duct yet')
        if cmd == 'listen':
            a.listen(_seconds(args[0]))
        elif cmd == 'send':
            a.send(args[0])
        elif cmd == 'send-pattern':
            a.send(pattern(*args))
        elif cmd == 'send-many':
            for k in range(args[0]):
                a.send(many_message(k, args[1]))
        elif cmd == 'recv':
            return 'ok ' + (a.recv().hex() or '-')
        elif cmd == 'recv-digest':
            payload = a.recv()
            return 'ok %d %016x' % (len(payload), fnv1a(payload))
        elif cmd == 'recv-many':
            h = FNV_INIT
            def add(k, p):
                nonlocal h
                h = fnv1a(p, fnv1a(struct.pack('>I', len(p)), h))
            return self.recv_each(cmd, args[0], add) or 'ok %016x' % h
        elif cmd == 'poll':
            start = time.monotonic()
            ready = a.poll(_seconds(args[0]))
            elapsed = int((time.monotonic() - start) * 1000)
            return 'ok %s %d' % ('true' if ready else 'false', elapsed)
        elif cmd == 'echo-value':
            a.echo_value()
        elif cmd == 'bench-send':      # TESTEE.md 3.1: one reply per loop
            payload = pattern(args[1], 0)
            for _ in range(args[0]):
                a.send(payload)
        elif cmd == 'bench-recv':
            return self.recv_each(cmd, args[0], _pattern_check(args[1])) or 'ok'
        elif cmd == 'both-ways':       # TESTEE.md 3.6, TIME-3: a thread receives
            got = []                   # while this one sends
            t = threading.Thread(target=lambda: got.append(
                self.recv_each(cmd, args[0], _pattern_check(args[1]))))
            t.start()
            try:
                payload = pattern(args[1], 0)
                for _ in range(args[0]):
                    a.send(payload)
            finally:
                t.join()
            return got[0] or 'ok'
        elif cmd == 'bench-echo':
            for _ in range(args[0]):
                a.send(a.recv())
        elif cmd == 'bench-echo-value':
            for _ in range(args[0]):
                a.echo_value()
        elif cmd == 'send-zeros':      # TESTEE.md 3.4, SEND-6: 4 GiB costs nothing
            a.send(memoryview(mmap.mmap(-1, args[0])) if args[0] else b'')
        elif cmd == 'spawn':           # TESTEE.md 3.5, SEC-4: close_fds=False, or the
            out = subprocess.run(      # kit would close what the implementation leaks
                [args[0]], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                close_fds=False, timeout=10)
            if out.returncode != 0:
                return 'error other %s exited with status %d' % (args[0], out.returncode)
            return ('ok ' + out.stdout.decode('ascii', 'replace').split('\n')[0]).strip()
        elif cmd == 'close':
            a.close()
        elif cmd == 'fork-close':      # TESTEE.md 3.2, CLOSE-2
            pid = os.fork()
            if pid == 0:
                try:
                    a.close()
                finally:
                    os._exit(0)
            os.waitpid(pid, 0)
        return 'ok'

    def recv_each(self, cmd, count, fn):
        """Receives count messages, calling fn(k, payload) on each; the first
        error reply ('error CLASS K ...', or what fn returns), or None."""
        for k in range(count):
            try:
                payload = self.a.recv()
            except Exception as e:
                cls, text = self.error(e, cmd)
                return ('error %s %d %s' % (cls, k, text)).strip()
            bad = fn(k, payload)
            if bad:
                return bad
        return None

    def error(self, e, cmd):
        """(class, text) for an exception raised while running cmd."""
        if isinstance(e, Error):
            return e.cls, str(e)
        cls = self.a.classify(e, cmd) or 'other'
        return cls, '%s: %s' % (type(e).__name__, e)

    def reply(self, line):
        words = line.split()
        if not words:
            return 'error unsupported empty line'
        try:
            return self.run(words)
        except Exception as e:   # every failure is a reply, never a dead testee
            cls, text = self.error(e, words[0])
            return ('error %s %s' % (cls, text)).strip()


def serve(adapter, doc='', argv=None):
    """The control-channel loop: one reply line per command, flushed, until
    quit or the end of stdin; then the duct is closed (LIFE-3: no socket
    path outlives a testee).  Returns the exit status."""
    argv = sys.argv[1:] if argv is None else argv
    if argv:
        print((doc or 'a Ductworks testee (conformance/TESTEE.md)').strip())
        return 0 if argv in (['--help'], ['-h']) else 2
    s = Session(adapter)
    for line in iter(sys.stdin.readline, ''):
        if line.split() == ['quit']:
            break
        print(s.reply(line).replace('\n', ' ').replace('\r', ' '), flush=True)
    if s.has_duct:
        try:
            adapter.close()
        except Exception:
            pass
    return 0
