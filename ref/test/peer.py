#!/usr/bin/python3
"""An independent, stdlib-only Ductworks peer for interoperability tests.

Frame: byte 0x54, uint32 big-endian length, payload (FRAME-1).  Values use the
original ductworks default serializer: json.dumps(v).encode('utf-8') out,
json.loads(b.decode('utf-8', 'replace')) in.  No C code is involved.

  parent  bind, print "ADDRESS <address>" (flushed), accept one child within
          10 s, close the listener and remove the Unix path (LIFE-1..3).
  child   connect, retrying ENOENT/ECONNREFUSED 100 ms apart (LIFE-5).
  echo    answer each message with {"echo": value, "peer": "python"} until EOF;
          a payload that does not decode gets {"error": "<exception class>",
          "len": N} (JSON-11).
  script  send each --send JSON text (re-dumped with json.dumps), expect it
          back byte for byte, print "REPLY <payload>" for each reply.
Exit status: 0 success, 1 protocol error or mismatch, 2 usage.
"""
import argparse, json, os, socket, struct, sys, tempfile, time

def die(msg):
    sys.exit('peer.py: ' + msg)

def recv_exact(sock, n, eof_ok=False):
    buf = bytearray()
    while len(buf) < n:
        chunk = sock.recv(min(n - len(buf), 1 << 20))
        if not chunk:
            if eof_ok and not buf:
                return None
            die('remote duct closed mid-message (%d of %d bytes)' % (len(buf), n))
        buf += chunk
    return bytes(buf)

def recv_msg(sock):
    """The next payload, or None at a clean EOF between frames."""
    magic = recv_exact(sock, 1, eof_ok=True)
    if magic is None:
        return None
    if magic != b'T':
        die('protocol error: bad magic byte %r' % magic)
    (length,) = struct.unpack('!L', recv_exact(sock, 4))
    return recv_exact(sock, length)

def send_msg(sock, payload):
    sock.sendall(struct.pack('!cL', b'T', len(payload)) + payload)

def parse_address(addr):
    kind, _, rest = addr.partition(':')
    if kind == 'unix':
        return socket.AF_UNIX, rest or None
    if kind != 'tcp':
        raise ValueError('bad address %r (want unix:PATH or tcp:HOST:PORT)' % addr)
    host, _, port = rest.rpartition(':') if rest else ('localhost', '', '0')
    return socket.AF_INET6 if host.startswith('[') else socket.AF_INET, (host.strip('[]'), int(port))

def as_parent(family, where):
    lsock, tmpdir = socket.socket(family, socket.SOCK_STREAM), None
    if family == socket.AF_UNIX:
        if where is None:  # a fresh path in a private 0700 directory
            tmpdir = tempfile.mkdtemp(prefix='duct-peer-')
            where = os.path.join(tmpdir, 'duct.sock')
        lsock.bind(where)
        shown = 'unix:' + where
    else:
        lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        lsock.bind(where)
        host, port = lsock.getsockname()[:2]
        shown = 'tcp:%s:%d' % ('[%s]' % host if ':' in host else host, port)
    lsock.listen(1)
    print('ADDRESS', shown, flush=True)
    lsock.settimeout(10)
    try:
        return lsock.accept()[0]
    except socket.timeout:
        die('no child connected within 10 s')
    finally:  # LIFE-3: exactly one child, nobody else gets in
        lsock.close()
        if family == socket.AF_UNIX:
            os.unlink(where)
            if tmpdir:
                os.rmdir(tmpdir)

def as_child(family, where, tries=20):
    for attempt in range(tries):
        sock = socket.socket(family, socket.SOCK_STREAM)
        try:
            sock.connect(where)
            return sock
        except (FileNotFoundError, ConnectionRefusedError) as e:
            sock.close()
            if attempt == tries - 1:
                die('cannot connect to %r: %s' % (where, e))
            time.sleep(0.1)

def echo(sock):
    while (payload := recv_msg(sock)) is not None:
        try:
            reply = {'echo': json.loads(payload.decode('utf-8', 'replace')), 'peer': 'python'}
        except (ValueError, RecursionError) as e:  # JSON-11: costs this message only
            reply = {'error': type(e).__name__, 'len': len(payload)}
        send_msg(sock, json.dumps(reply).encode('utf-8'))
    return True

def script(sock, texts):
    ok = True
    for text in texts:
        sent = json.dumps(json.loads(text)).encode('utf-8')
        send_msg(sock, sent)
        reply = recv_msg(sock)
        if reply is None:
            die('remote duct closed before replying')
        print('REPLY', reply.decode('utf-8', 'replace'), flush=True)
        if reply != sent:
            ok = False
            print('peer.py: mismatch: sent %r, got %r' % (sent, reply), file=sys.stderr)
    return ok

def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--role', choices=['parent', 'child'], required=True)
    ap.add_argument('--address', required=True, help='unix:PATH, tcp:HOST:PORT, unix: or tcp:')
    ap.add_argument('--mode', choices=['echo', 'script'], default='echo')
    ap.add_argument('--send', action='append', default=[], metavar='JSON', help='script mode: a value to send')
    args = ap.parse_args()
    try:
        family, where = parse_address(args.address)
    except ValueError as e:
        ap.error(str(e))
    if args.role == 'child' and where in (None, ('localhost', 0)):
        ap.error('a child needs a full address, not %r' % args.address)
    try:
        with (as_parent if args.role == 'parent' else as_child)(family, where) as sock:
            if family != socket.AF_UNIX:
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            sock.settimeout(30)
            ok = echo(sock) if args.mode == 'echo' else script(sock, args.send)
    except OSError as e:
        die('socket error: %s' % e)
    sys.exit(0 if ok else 1)

if __name__ == '__main__':
    main()
