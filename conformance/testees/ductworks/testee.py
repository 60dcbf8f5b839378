#!/usr/bin/env python3
"""The testee for the original Python ductworks (0.0.1a4), through its public
API only; the mapping's judgment calls are in this folder's README.md.

usage: testee.py [--help]     (conformance/TESTEE.md, contract version 1.2)
Finds the library through DUCTWORKS_SRC, then ../shared/upstream/ductworks-0.0.1a4
beside the project, then an importable ductworks; exits 77 if none is there.
"""
import os
import socket
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.join(HERE, '..', '..', '..')
sys.path.insert(0, os.path.join(ROOT, 'conformance'))
import testeekit as kit          # noqa: E402

HOW = ('get it with: git clone https://github.com/cope-systems/ductworks and '
       'DUCTWORKS_SRC=<that folder>, or pip install ductworks==0.0.1a4')


def find():
    src = os.environ.get('DUCTWORKS_SRC')
    if src and not os.path.isfile(os.path.join(src, 'ductworks', 'message_duct.py')):
        kit.unavailable('ductworks: DUCTWORKS_SRC=%s holds no ductworks/ package; %s' % (src, HOW))
    src = src or os.path.join(ROOT, '..', 'shared', 'upstream', 'ductworks-0.0.1a4')
    sys.path.insert(0, src)
    try:
        import ductworks.base_duct as base
        import ductworks.message_duct as md
    except ImportError as e:
        kit.unavailable('ductworks: not found (%s); %s' % (e, HOW))
    import ductworks
    return ductworks.__version__, base, md


VERSION, base, md = find()


class Original(kit.Adapter):
    name = 'ductworks-' + VERSION

    def __init__(self):
        # Raw bytes through the library's own serializer hooks (identity out,
        # so that send-zeros' 4 GiB reaches the library uncopied); echo-value
        # uses its default JSON functions explicitly.
        self.duct, self.opts = None, dict(serialize=lambda p: p, deserialize=bytes)

    def parent(self, transport):
        P = md.MessageDuctParent
        make = P.psuedo_anonymous_parent_duct if transport == 'unix' else \
            P.psuedo_anonymous_tcp_parent_duct
        duct = make(**self.opts)
        duct.bind()
        self.duct = duct
        if transport == 'unix':
            return 'unix:' + duct.listener_address
        return 'tcp:%s:%d' % duct.listener_address[:2]

    def parent_at(self, address):
        duct = md.MessageDuctParent.psuedo_anonymous_tcp_parent_duct(
            *kit.parse_address(address)[1:], **self.opts)
        duct.bind()
        self.duct = duct
        return 'tcp:%s:%d' % duct.listener_address[:2]

    def listen(self, timeout):   # MessageDuctParent.listen() takes no timeout
        if not self.duct.socket_duct.listen(timeout):
            raise kit.Error('timeout', 'listen returned False')

    def child(self, address):
        kind, *where = kit.parse_address(address)
        C = md.MessageDuctChild
        make = C.psuedo_anonymous_child_duct if kind == 'unix' else \
            C.psuedo_anonymous_tcp_child_duct
        duct = make(*where, **self.opts)
        duct.connect()
        self.duct = duct

    def set_timeout(self, seconds):  # the constructor's timeout=, for this duct too
        self.opts['timeout'] = seconds
        raw = self.duct.socket_duct if self.duct else None
        if raw:
            raw.socket_timeout = seconds
            sock = getattr(raw, 'conn_socket', None) or getattr(raw, 'socket', None)
            if sock:
                sock.settimeout(seconds)

    def send(self, payload):
        self.duct.send(payload)

    def recv(self):
        return self.duct.recv()

    def poll(self, timeout):
        return self.duct.poll(timeout)

    def close(self):
        self.duct.close()

    def echo_value(self):
        payload = self.recv()
        try:
            value = md.default_deserializer(payload)
        except RecursionError as e:
            raise kit.Error('decode', 'RecursionError: %s' % e)
        except ValueError as e:  # JSONDecodeError, or Python's 4300-digit limit
            raise kit.Error('range' if 'integer string conversion' in str(e) else 'decode',
                            '%s: %s' % (type(e).__name__, e))
        self.send(md.default_serializer(value))

    def classify(self, e, command):
        if isinstance(e, md.RemoteDuctClosed):
            return 'truncated' if 'mid-message' in str(e) else 'eof'
        if isinstance(e, md.MessageProtocolException):
            return 'magic'
        if isinstance(e, (base.AlreadyConnectedException, base.NotConnectedException)):
            return 'state'
        if isinstance(e, socket.timeout):
            return 'timeout'
        if command == 'child' and isinstance(e, OSError):
            return 'connect'
        if command.startswith('send') and isinstance(e, (BrokenPipeError, ConnectionResetError)):
            return 'pipe'
        return None


if __name__ == '__main__':
    sys.exit(kit.serve(Original(), __doc__))
