#!/usr/bin/python3
"""Mutant testees: the Python testee with one realistic defect each, to show
that duct-conform catches real bugs.  Each mutant must fail at least one
case of the level it breaks: a MUST case, or for a defect that breaks only
a SHOULD, a case under --strict (check_mutants.py checks it).

usage: mutant.py NAME      run the testee with the defect NAME
       mutant.py --list    list the mutants: NAME LEVEL ROLE/TRANSPORT defect
"""
import json
import mmap
import os
import select
import signal
import socket
import struct
import sys
import threading
import time

# pyduct's testee, as a module to change before it serves
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "testees",
                                "python"))
import testee as T  # noqa: E402
Duct = T.Duct
MUTANTS = {}


def mutant(about, level="MUST", where="parent/unix"):
    """level: the strongest requirement the defect breaks; where: the role
    and transport check_mutants.py runs it in, where the defect can show."""
    def register(fn):
        MUTANTS[fn.__name__] = (level, where, about, fn)
        return fn
    return register


class LittleEndian:
    """struct, with every big-endian format read as little-endian."""
    pack = staticmethod(lambda fmt, *a: struct.pack(fmt.replace('>', '<'), *a))
    unpack_from = staticmethod(lambda fmt, *a: struct.unpack_from(fmt.replace('>', '<'), *a))


@mutant("writes and reads the length little-endian")
def little_endian():
    T.struct = LittleEndian


@mutant("reads once where it must loop over short reads")
def no_read_loop():
    def _fill(self, n):
        if len(self.buf) - self.pos < n:
            got = self.sock.recv_into(self.chunk)
            if got == 0:
                return False
            self.buf += self.chunk[:got]
        if len(self.buf) - self.pos < n:
            return False   # takes a short read for the end of the stream
        return True
    Duct._fill = _fill


@mutant("reports a close mid-frame as a clean close")
def truncated_as_eof():
    orig = Duct.recv
    def recv(self):
        try:
            return orig(self)
        except T.DuctError as e:
            if e.cls == 'truncated':
                raise T.DuctError('eof', 'closed')
            raise
    Duct.recv = recv


@mutant("poll peeks for data and so does not see EOF")
def poll_blind_to_eof():
    def poll(self, timeout):
        sock = self._conn()
        if len(self.buf) > self.pos:
            return True
        if not select.select([sock], [], [], timeout)[0]:
            return False
        return len(sock.recv(1, socket.MSG_PEEK)) > 0
    Duct.poll = poll


@mutant("dies of SIGPIPE when the peer has gone")
def dies_of_sigpipe():
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)


@mutant("keeps listening after accepting the child")
def second_child():
    def listen(self, timeout):
        if not select.select([self.listener], [], [], timeout)[0]:
            raise T.DuctError('timeout', 'no child connected')
        self._connected(self.listener.accept()[0])
    Duct.listen = listen


@mutant("closes the listener but leaves the Unix path behind")
def leaves_path():
    def _unbind(self):
        self.listener.close()
        self.listener = None
    Duct._unbind = _unbind


@mutant("allocates the announced length before checking it")
def alloc_before_check():
    orig = Duct.recv
    def recv(self):
        if self._fill(5) and self.buf[self.pos] == T.MAGIC:
            length = struct.unpack_from('>I', self.buf, self.pos + 1)[0]
            self.spare = mmap.mmap(-1, max(length, 1))   # reserved, not yet touched
        return orig(self)
    Duct.recv = recv


@mutant("compact JSON separators (',' and ':')")
def compact_json():
    T.dumps = lambda v: json.dumps(v, separators=(',', ':')).encode('utf-8')


@mutant("decodes payloads as ASCII, not UTF-8")
def ascii_decoding():
    orig = T.loads
    T.loads = lambda payload: orig(payload.decode('ascii', 'replace').encode('utf-8'))


@mutant("poll ignores its timeout and never waits")
def poll_no_wait():
    orig = Duct.poll
    Duct.poll = lambda self, timeout: orig(self, 0)


@mutant("sends header and payload in two calls, without a loop")
def two_sends():
    def send(self, payload):
        sock = self._conn()
        sock.send(struct.pack('>BI', T.MAGIC, len(payload)))
        sock.send(payload)
    Duct.send = send


@mutant("request/response minded: drops unread input before each send")
def drains_on_send():
    orig = Duct.send
    def send(self, payload):
        sock = self._conn()    # "stale replies": in a full duplex duct, messages
        while select.select([sock], [], [], 0)[0] and sock.recv(65536):
            pass
        return orig(self, payload)
    Duct.send = send


@mutant("ignores the receive limit")
def no_limit():
    orig = Duct.recv
    def recv(self):
        self.max_len = 0xFFFFFFFF
        return orig(self)
    Duct.recv = recv


@mutant("keeps the stream after a bad magic byte and reads on, as the original does",
        "SHOULD")
def resyncs():
    def _fail(self, cls, text):
        self.pos += 1          # skip the bad byte, as the original would
        raise T.DuctError(cls, text)
    Duct._fail = _fail


class TwoWrites(socket.socket):
    """A socket whose sendall writes the 5-byte header, then the rest."""
    __slots__ = ()

    def sendall(self, data, *flags):
        super().sendall(data[:5], *flags)
        return super().sendall(data[5:], *flags)


@mutant("close shuts the socket down, for every process sharing it")
def close_shuts_down():
    orig = Duct.close
    def close(self):
        if self.sock and not self.closed:
            try:
                self.sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        orig(self)
    Duct.close = close


@mutant("a call interrupted by a signal fails with EINTR")
def eintr_fails():
    def interrupted(signum, frame):
        raise InterruptedError(4, 'Interrupted system call')
    T.kit.ignore_signal = interrupted


@mutant("poll 0 waits 20 ms")
def poll_zero_blocks():
    orig = Duct.poll
    def poll(self, timeout):
        if timeout == 0:
            time.sleep(0.02)
        return orig(self, timeout)
    Duct.poll = poll


@mutant("an idle poll returns its timeout late again", "SHOULD")
def poll_late():
    orig = Duct.poll
    def poll(self, timeout):
        ready = orig(self, timeout)
        if not ready and timeout:
            time.sleep(timeout)
        return ready
    Duct.poll = poll


@mutant("its timeouts fire half as late again as set", "SHOULD")
def timeout_late():
    orig = Duct.set_timeout
    def set_timeout(self, timeout):
        orig(self, timeout * 1.5 if timeout else timeout)
    Duct.set_timeout = set_timeout


@mutant("its sends time out ten times as late as set", "SHOULD")
def send_timeout_late():
    orig = Duct.send
    def send(self, payload):
        sock = self._conn()
        set_to = sock.gettimeout()
        sock.settimeout(set_to * 10 if set_to else set_to)
        try:
            return orig(self, payload)
        finally:
            sock.settimeout(set_to)
    Duct.send = send


@mutant("header and payload in two writes, TCP_NODELAY off", "SHOULD", "parent/tcp")
def nagle_two_writes():
    orig = Duct._connected
    def _connected(self, sock):
        orig(self, sock)
        if sock.family != socket.AF_UNIX:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 0)
        sock.__class__ = TwoWrites
    Duct._connected = _connected


@mutant("sends on after a send was cut mid-frame, as the original does")
def sends_after_cut():
    def send(self, payload):
        try:
            self._conn().sendall(struct.pack('>BI', T.MAGIC, len(payload)) + payload)
        except socket.timeout:
            raise T.DuctError('timeout', 'send timed out')
        except (BrokenPipeError, ConnectionResetError) as e:
            raise T.DuctError('pipe', str(e))
    Duct.send = send


@mutant("parses a TCP port leniently: junk dropped, wrapped mod 65536", where="child/tcp")
def lenient_port():
    orig = Duct.connect
    def connect(self, address, *args, **kw):
        kind, _, rest = address.partition(':')
        host, _, port = rest.rpartition(':')
        digits = ''.join(ch for ch in port if ch.isdigit())
        if kind == 'tcp' and digits:
            address = 'tcp:%s:%d' % (host.strip('[]'), int(digits) % 65536)
        return orig(self, address, *args, **kw)
    Duct.connect = connect


@mutant("frames a payload over 4 GiB with its length cut to 32 bits")
def unchecked_length():
    def send(self, payload):
        sock = self._conn()
        try:   # no SEND-6 check: the length wraps, the bytes go out
            sock.sendall(struct.pack('>BI', T.MAGIC, len(payload) & 0xFFFFFFFF))
            sock.sendall(payload)
        except (BrokenPipeError, ConnectionResetError) as e:
            raise T.DuctError('pipe', str(e))
    Duct.send = send


@mutant("leaves its sockets inheritable by the programs it starts", "SHOULD")
def inheritable_fds():
    orig = Duct._connected
    def _connected(self, sock):
        sock.set_inheritable(True)
        return orig(self, sock)
    Duct._connected = _connected


@mutant("one lock for all socket I/O: a receive waits for a blocked send", "SHOULD")
def one_lock_both_ways():
    lock = threading.Lock()
    orig_send, orig_fill = Duct.send, Duct._fill
    def send(self, payload):
        with lock:                  # held while the send blocks
            return orig_send(self, payload)
    def _fill(self, n):
        select.select([self.sock], [], [])   # waits for data outside the lock
        with lock:
            return orig_fill(self, n)
    Duct.send, Duct._fill = send, _fill


@mutant("cuts a Unix path to fit sun_path", where="child/unix")
def cuts_long_path():
    orig = socket.socket.connect
    class Sock(socket.socket):
        def connect(self, address):
            if self.family == socket.AF_UNIX:
                address = address[:107]
            return orig(self, address)
    T.socket.socket = Sock


@mutant("a TCP parent listens on every interface", "SHOULD", "parent/tcp")
def binds_everywhere():
    orig = socket.socket.bind
    class Sock(socket.socket):
        def bind(self, address):
            if self.family == socket.AF_INET:
                address = ('0.0.0.0', address[1])
            return orig(self, address)
    T.socket.socket = Sock


@mutant("a connection reset is an error of its own, not a close, as the original does",
        "SHOULD", "child/tcp")
def reset_not_close():
    orig = socket.socket.recv_into
    class Sock(socket.socket):   # a child's socket: the parent's come from accept()
        def recv_into(self, *args):
            try:
                return orig(self, *args)
            except ConnectionResetError as e:
                raise OSError('reset: %s' % e)  # errno would make it ConnectionResetError again
    T.socket.socket = Sock


def main():
    if sys.argv[1:] == ['--list']:
        for name, (level, where, about, _) in MUTANTS.items():
            print('%-20s %-6s %-11s %s' % (name, level, where, about))
        return 0
    if len(sys.argv) != 2 or sys.argv[1] not in MUTANTS:
        print(__doc__.strip(), file=sys.stderr if len(sys.argv) != 2 or
              sys.argv[1] not in ('-h', '--help') else sys.stdout)
        return 0 if sys.argv[1:] in (['-h'], ['--help']) else 2
    MUTANTS[sys.argv[1]][3]()
    sys.argv[1:] = []
    return T.main()


if __name__ == '__main__':
    sys.exit(main())
