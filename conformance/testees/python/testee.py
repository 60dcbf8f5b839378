#!/usr/bin/python3
"""pyduct: a small, independent Ductworks duct (stdlib only) and the testee
that lets duct-conform drive it (conformance/TESTEE.md, contract version 1.2).

usage: testee.py [--help]
Reads one command per line on stdin, writes one reply per line on stdout.
Commands: hello, parent unix|tcp, listen MS, child ADDRESS, send HEX,
send-pattern LEN SEED, send-many COUNT SEED, recv, recv-digest,
recv-many COUNT, poll MS, echo-value, close, set-max N, set-timeout MS, quit.
"""
import json, os, select, socket, struct, sys, tempfile, time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..'))
import testeekit as kit                                 # noqa: E402

# ---- the duct (PROTOCOL.md v1) ---------------------------------------------

MAGIC = 0x54                     # FRAME-1: 0x54, uint32 big-endian length, payload


DuctError = kit.Error           # carries a TESTEE.md error class: eof, truncated, magic...


def dumps(value):                # JSON-1..5: the original's default serializer
    return json.dumps(value).encode('utf-8')


def loads(payload):              # JSON-7, JSON-11; Python 3.11 refuses ints over 4300 digits
    try:
        return json.loads(payload.decode('utf-8', 'replace'))
    except (ValueError, RecursionError) as e:
        raise DuctError('range' if 'integer string conversion' in str(e) else 'decode', str(e))


class Duct:
    def __init__(self, max_len=64 << 20, timeout=30.0):
        self.max_len, self.timeout = max_len, timeout   # SEC-1, TIME-1 (None: no timeout)
        self.sock = self.listener = self.path = self.error = None
        self.closed = self.send_broken = False
        self.buf, self.pos = bytearray(), 0             # received bytes, start of the unread
        self.chunk = memoryview(bytearray(1 << 20))     # recv_into() target

    def bind(self, kind, *where):  # LIFE-1, ADDR-3, SEC-7; CLOEXEC is Python's default (SEC-4)
        """where: a TCP host and port; none: a fresh address of our own."""
        if kind not in ('unix', 'tcp'):
            raise DuctError('other', 'unknown transport ' + kind)
        self.listener = socket.socket(socket.AF_UNIX if kind == 'unix' else socket.AF_INET)
        if kind == 'unix':       # SEC-2: inside a fresh 0700 directory
            self.path = os.path.join(tempfile.mkdtemp(), 'duct.sock')
            self.listener.bind(self.path)
        else:
            self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            self.listener.bind(where or ('127.0.0.1', 0))
        self.listener.listen(1)
        if self.path:
            return 'unix:' + self.path
        return 'tcp:%s:%d' % self.listener.getsockname()[:2]

    def listen(self, timeout):   # LIFE-2, LIFE-3: one child, then nobody else gets in
        if self.listener is None:
            raise DuctError('state', 'not a bound parent, or already connected')
        if not select.select([self.listener], [], [], timeout)[0]:
            raise DuctError('timeout', 'no child connected')
        sock = self.listener.accept()[0]
        self._unbind()
        self._connected(sock)

    def connect(self, address, retries=3, delay=1.0):   # LIFE-5, bounded (D-4)
        kind, _, rest = address.partition(':')
        host, _, port = rest.rpartition(':')
        # ADDR-2: PORT decimal, 0 to 65535 (getaddrinfo would wrap a larger
        # one); an IPv6 HOST in brackets, both of them
        bracketed = host.startswith('[') and host.endswith(']') and len(host) > 2
        if not (kind == 'unix' and rest or kind == 'tcp' and port.isdigit() and int(port) < 65536
                and host and (bracketed or '[' not in host and ']' not in host)):
            raise DuctError('connect', 'bad address ' + address)
        for attempt in range(retries + 1):
            try:
                if kind == 'tcp':
                    where = (host[1:-1] if bracketed else host, int(port))
                    return self._connected(socket.create_connection(where, self.timeout))
                sock = socket.socket(socket.AF_UNIX)
                try:
                    sock.settimeout(self.timeout)
                    sock.connect(rest)
                except OSError:
                    sock.close()
                    raise
                return self._connected(sock)
            except (FileNotFoundError, ConnectionRefusedError) as e:
                last = e
                if attempt < retries:
                    time.sleep(delay)
            except OSError as e:
                raise DuctError('connect', str(e))
        raise DuctError('connect', '%d attempts, the last: %s' % (retries + 1, last))

    def _connected(self, sock):
        if sock.family != socket.AF_UNIX:               # ADDR-4
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock = sock
        self.set_timeout(self.timeout)

    def _unbind(self):
        self.listener.close()
        self.listener = None
        if self.path:
            os.unlink(self.path)
            os.rmdir(os.path.dirname(self.path))

    def set_timeout(self, timeout):
        self.timeout = timeout
        if self.sock:
            self.sock.settimeout(timeout)

    def _conn(self):
        if self.closed or self.sock is None:
            raise DuctError('state', 'closed' if self.closed else 'not connected')
        return self.sock

    def send(self, payload):     # SEND-1, SEND-2 (one sendall), SEND-3, SEND-5, SEND-6
        sock = self._conn()
        if self.send_broken:
            raise DuctError('state', 'an earlier send stopped inside a frame')
        if len(payload) > 0xFFFFFFFF:
            raise DuctError('other', 'payload too long to frame')
        try:
            sock.sendall(struct.pack('>BI', MAGIC, len(payload)) + payload)
        except socket.timeout:
            self.send_broken = True      # SEND-5: and let the peer see the cut frame now
            try:
                sock.shutdown(socket.SHUT_WR)
            except OSError:
                pass
            raise DuctError('timeout', 'send timed out')
        except (BrokenPipeError, ConnectionResetError) as e:
            raise DuctError('pipe', str(e))
        except OSError as e:
            raise DuctError('other', str(e))

    def _fill(self, n):          # until n unread bytes are buffered; False at EOF
        while len(self.buf) - self.pos < n:
            try:
                got = self.sock.recv_into(self.chunk)
            except socket.timeout:                      # TIME-2: the buffer keeps it all
                raise DuctError('timeout', 'recv timed out')
            except ConnectionResetError:                # RECV-9: a reset is a close
                got = 0
            except OSError as e:
                raise DuctError('other', str(e))
            if got == 0:
                return False
            self.buf += self.chunk[:got]
        return True

    def _fail(self, cls, text):  # RECV-5: no more messages, same error, the peer sees EOF
        self.error = DuctError(cls, text)
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        raise self.error

    def recv(self):              # RECV-1..7
        self._conn()
        if self.error:
            raise self.error
        if not self._fill(1):
            raise DuctError('eof', 'peer closed between frames')
        if self.buf[self.pos] != MAGIC:                 # FRAME-2: from the first byte alone
            self._fail('magic', 'bad magic byte 0x%02x' % self.buf[self.pos])
        if not self._fill(5):
            raise DuctError('truncated', 'peer closed inside a header')
        length = struct.unpack_from('>I', self.buf, self.pos + 1)[0]
        if length > self.max_len:                       # RECV-6: before any of the payload
            self._fail('toobig', 'length %d over the limit %d' % (length, self.max_len))
        if not self._fill(5 + length):
            raise DuctError('truncated', 'peer closed inside a payload')
        start, self.pos = self.pos + 5, self.pos + 5 + length
        payload = bytes(self.buf[start:self.pos])
        if self.pos * 2 >= len(self.buf):               # drop what was read, amortised
            del self.buf[:self.pos]
            self.pos = 0
        return payload

    def poll(self, timeout):     # POLL-1..3; timeout None waits forever
        sock = self._conn()
        if self.error or len(self.buf) > self.pos:
            return True
        return bool(select.select([sock], [], [], timeout)[0])

    def close(self):             # CLOSE-1, CLOSE-2: idempotent, no shutdown; LIFE-3
        if self.listener:
            self._unbind()
        if self.sock:
            self.sock.close()
        self.closed = True


# ---- the testee: the contract's mapping onto pyduct (conformance/testeekit.py)

class Pyduct(kit.Adapter):
    name = 'pyduct-1.0'

    def __init__(self):
        self.duct, self.max_len, self.timeout = None, 64 << 20, 30.0

    def _made(self, duct, address):
        self.duct = duct
        return address

    def parent(self, transport):
        duct = Duct(self.max_len, self.timeout)
        return self._made(duct, duct.bind(transport))

    def parent_at(self, address):
        duct = Duct(self.max_len, self.timeout)
        return self._made(duct, duct.bind(*kit.parse_address(address)))

    def child(self, address):
        duct = Duct(self.max_len, self.timeout)
        return self._made(duct, duct.connect(address))

    def set_max(self, n):
        self.max_len = n
        if self.duct:
            self.duct.max_len = n

    def set_timeout(self, seconds):
        self.timeout = seconds
        if self.duct:
            self.duct.set_timeout(seconds)

    def listen(self, timeout):
        self.duct.listen(timeout)

    def send(self, payload):
        self.duct.send(payload)

    def recv(self):
        return self.duct.recv()

    def poll(self, timeout):
        return self.duct.poll(timeout)

    def close(self):
        self.duct.close()

    def dumps(self, value):
        return dumps(value)      # the module's, so that a mutant can replace it

    def loads(self, payload):
        return loads(payload)


def main():
    return kit.serve(Pyduct(), __doc__)


if __name__ == '__main__':
    sys.exit(main())
