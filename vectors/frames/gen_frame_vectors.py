#!/usr/bin/python3
"""Writes frames.json: byte streams a Ductworks receiver is given, and what
it must make of them (PROTOCOL.md FRAME-*, RECV-*, SEC-1).

Every case is built from the frames it means to send, and its expectation
(messages, outcome) comes from that construction.  An independent decoder
written from PROTOCOL.md section 3 (model_decode) then reads every stream
again and must agree, so a case that was built wrong fails here, not in a
consumer.  The level of each case (MUST / SHOULD / MAY) is checked against
the keywords of the requirements it cites in PROTOCOL.md.

The script is deterministic; test_vectors regenerates the file and diffs it.
The schema is documented in vectors/README.md.
"""
import json
import os
import re
import struct
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
PROTOCOL = os.path.join(HERE, "..", "..", "PROTOCOL.md")

MAGIC = 0x54
# The limit a receiver applies when a case says "max": null, as far as
# model_decode is concerned: SEC-1's recommended default (libduct's
# DUCT_MAX_MESSAGE_DEFAULT).
DEFAULT_MAX = 64 << 20
# Payloads and stream runs longer than this are written as patterns, and
# messages longer than this as length + FNV-1a 64, never as inline hex.
INLINE_MAX = 4096
# The limit of the "max" cases: small, so an accepted frame at the limit is
# short enough to write out.
LIMIT = 100

CASES = []
OUTCOMES = ("open", "eof", "truncated", "magic", "toobig")


class Pat:
    """n bytes where byte i is (7*i + seed) mod 256 (TESTEE.md's
    send-pattern), i counted from the start of this run."""

    def __init__(self, n, seed):
        self.n, self.seed = n, seed

    def __len__(self):
        return self.n

    def data(self):
        cycle = bytes((7 * i + self.seed) % 256 for i in range(256))
        return (cycle * (self.n // 256 + 1))[:self.n]


def raw(p):
    return p.data() if isinstance(p, Pat) else bytes(p)


def header(n):
    """FRAME-1: 0x54, then the length as a big-endian uint32."""
    return struct.pack(">BI", MAGIC, n)


def frame(payload):
    """A whole frame as a list of stream pieces (bytes or Pat)."""
    return [header(len(payload)), payload]


def text(s):
    return s.encode("ascii")


def fnv1a64(data):
    """FNV-1a 64 as conformance/TESTEE.md defines it."""
    h = 0xCBF29CE484222325
    for b in data:
        h = ((h ^ b) * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return "%016x" % h


def flatten(pieces):
    """Nested lists of pieces to a flat list: short patterns written out,
    adjacent bytes merged, empty ones dropped."""
    out = []

    def add(p):
        if isinstance(p, list):
            for q in p:
                add(q)
            return
        if isinstance(p, Pat) and p.n <= INLINE_MAX:
            p = p.data()
        if isinstance(p, Pat):
            out.append(p)
        elif out and isinstance(out[-1], bytes):
            out[-1] += p
        elif p:
            out.append(bytes(p))

    add(pieces)
    return out


def model_decode(stream, limit, kept_open):
    """PROTOCOL.md section 3, read literally: the messages a receiver
    delivers and the outcome after them."""
    msgs, at = [], 0
    while True:
        if at == len(stream):
            return msgs, "open" if kept_open else "eof"
        if stream[at] != MAGIC:
            return msgs, "magic"            # RECV-4: from the first byte
        if len(stream) - at < 5:
            return msgs, "open" if kept_open else "truncated"
        n = struct.unpack(">I", stream[at + 1:at + 5])[0]
        if n > limit:
            return msgs, "toobig"           # RECV-6: on the 4 length bytes
        if len(stream) - at - 5 < n:
            return msgs, "open" if kept_open else "truncated"
        msgs.append(stream[at + 5:at + 5 + n])
        at += 5 + n


def protocol_levels():
    """{requirement ID: set of its keywords} from PROTOCOL.md, or None."""
    try:
        with open(PROTOCOL, encoding="utf-8") as f:
            spec = f.read()
    except OSError:
        return None
    return {rid: set(re.findall(r"MUST|SHOULD|MAY", kw)) for rid, kw in
            re.findall(r"^\*\*([A-Z]+-\d+)\*\* \(([^)]*)\)", spec, re.M)}


def case(slug, reqs, comment, stream, messages, outcome, max_=None,
         chunks=None, level="MUST"):
    """stream: pieces (nested lists of bytes and Pat); messages: the
    payloads (bytes or Pat) delivered before the outcome."""
    assert outcome in OUTCOMES, slug
    pieces = flatten(stream)
    data = b"".join(raw(p) for p in pieces)
    limit = DEFAULT_MAX if max_ is None else max_
    got, end = model_decode(data, limit, outcome == "open")
    assert end == outcome, (slug, end, outcome)
    assert got == [raw(m) for m in messages], slug
    if chunks is not None:
        assert all(c > 0 for c in chunks) and sum(chunks) == len(data), slug
    # The wire allows every length (FRAME-3): only a bad magic byte or a
    # close inside a frame breaks the framing.  Over a receiver's limit is
    # the receiver's choice (SEC-1).
    grade = "invalid" if outcome in ("magic", "truncated") else "valid"
    c = {"id": "frames." + slug, "requirements": reqs, "comment": comment,
         "grade": grade, "level": level, "max": max_}
    if any(isinstance(p, Pat) for p in pieces):
        c["stream_pattern"] = [
            {"pattern_len": p.n, "seed": p.seed} if isinstance(p, Pat)
            else {"hex": p.hex()} for p in pieces]
    else:
        c["stream_hex"] = data.hex()
    c["chunks"] = chunks
    expect = {}
    if all(len(m) <= INLINE_MAX for m in messages):
        expect["messages_hex"] = [raw(m).hex() for m in messages]
    else:
        expect["messages"] = [{"len": len(m), "fnv1a64": fnv1a64(raw(m))}
                              for m in messages]
    expect["outcome"] = outcome
    if outcome == "open":
        _, expect["after_close"] = model_decode(data, limit, False)
    c["expect"] = expect
    CASES.append(c)


# ---- the sets ---------------------------------------------------------------

F1, F2, F3, F4 = "FRAME-1", "FRAME-2", "FRAME-3", "FRAME-4"
F6, F7 = "FRAME-6", "FRAME-7"
R1, R2, R3, R4, R5, R6, R7 = ("RECV-%d" % i for i in range(1, 8))
S1 = "SEC-1"


def lengths():
    """FRAME-1, FRAME-3: one frame of each awkward length."""
    case("len_0", [F1, F3, R1, R2], "the empty message is a message",
         frame(b""), [b""], "eof")
    case("len_1", [F1, F3, R1, R2],
         "a little-endian reader would see 2^24 here", frame(b"x"), [b"x"],
         "eof")
    case("len_2_spec_example", [F1, R1, R2],
         "PROTOCOL.md's example: 'hi' is 54 00 00 00 02 68 69", frame(b"hi"),
         [b"hi"], "eof")
    for n, why in [(255, "largest length in one byte"),
                   (256, "first length needing two bytes"),
                   (4096, "largest message written as hex in this file"),
                   (4097, "first message written as a digest"),
                   (65535, "largest length in two bytes"),
                   (65536, "first length needing three bytes"),
                   (65537, ""),
                   (1 << 24, "first length needing four bytes; 16 MiB")]:
        big = Pat(n, n % 251)
        case("len_%d" % n, [F1, F3, F4, R1, R2],
             (why + "; " if why else "") + "then a 1-byte frame, which a "
             "reader that takes one byte too many or too few misframes",
             [frame(big), frame(b"z")], [big, b"z"], "eof")


def many():
    """FRAME-4, FRAME-6: frames back to back, boundaries kept."""
    small = [Pat(k % 13, k) for k in range(100)]
    case("many_100_small", [F4, F6, R1, R2],
         "100 frames of 0..12 bytes in one stream",
         [frame(p) for p in small], small, "eof")
    empties = [b""] * 100
    case("many_100_empty", [F3, F4, F6, R1, R2],
         "100 empty frames are 100 messages, not one and not none",
         [frame(p) for p in empties], empties, "eof")
    mixed = [b"", Pat(1, 1), Pat(255, 2), b"", Pat(256, 3), b"ab",
             Pat(1000, 4), b"", Pat(5, 5)]
    case("many_mixed_sizes", [F4, F6, R1, R2], "0 to 1000 bytes, mixed",
         [frame(p) for p in mixed], mixed, "eof")
    mixed_big = [b"one", Pat(70000, 6), b"", Pat(5000, 7), b"end"]
    case("many_mixed_with_big", [F3, F4, F6, R1, R2],
         "messages over 4096 bytes between small ones",
         [frame(p) for p in mixed_big], mixed_big, "eof")


def lookalikes():
    """FRAME-6: payload bytes are never read as framing."""
    p = b"T\x00\x00\x00\x01x"
    case("header_in_payload", [F6, R1, R2],
         "a payload that starts with a frame's header, then a real frame",
         [frame(p), frame(b"y")], [p, b"y"], "eof")
    inner = header(5) + b"inner"
    case("frame_in_payload", [F6, R1, R2],
         "a payload that is a whole frame is one message, not two",
         frame(inner), [inner], "eof")
    evil = b"T\xff\xff\xff\xff"
    case("huge_header_in_payload_under_max", [F6, R1, R6],
         "a payload holding a header that announces 0xffffffff, under "
         "max 100: lengths inside payloads are never checked",
         [frame(evil), frame(b"")], [evil, b""], "eof", max_=LIMIT)


def chunking():
    """FRAME-7: the same bytes in different pieces give the same result."""
    a, b = frame(b"abc"), frame(b"defg")  # 8 and 9 bytes
    for k in range(1, 5):
        case("split_header_at_%d" % k, [F7, R1],
             "both headers cut after %d byte%s" % (k, "s" if k > 1 else ""),
             [a, b], [b"abc", b"defg"], "eof", chunks=[k, 8, 9 - k])
    case("split_at_payload_start", [F7, R1],
         "both frames cut between header and payload",
         [a, b], [b"abc", b"defg"], "eof", chunks=[5, 8, 4])
    case("split_inside_payload", [F7, R1], "both payloads cut in the middle",
         [a, b], [b"abc", b"defg"], "eof", chunks=[6, 9, 2])
    case("split_at_frame_boundary", [F7, R1], "one frame per piece",
         [a, b], [b"abc", b"defg"], "eof", chunks=[8, 9])
    three = [b"one", b"", b"three"]
    s = [frame(p) for p in three]
    case("byte_by_byte_3_frames", [F7, R1, R2],
         "every byte in its own piece", s, three, "eof",
         chunks=[1] * (15 + 3 + 5))
    case("byte_by_byte_bad_magic_after_frame", [F7, R4, R7],
         "every byte in its own piece; the bad byte is the 8th",
         [frame(b"ok"), b"U\x00\x00\x00\x00"], [b"ok"], "magic",
         chunks=[1] * 12)
    case("byte_by_byte_truncated", [F7, R3, R7],
         "every byte in its own piece, closed after 3 header bytes",
         [frame(b"abc"), b"T\x00\x00"], [b"abc"], "truncated",
         chunks=[1] * 11)
    five = [b"a", b"bb", b"", b"dddd", b"eeeee"]
    case("chunks_across_frames", [F7, F6, R1],
         "pieces that end mid-header and mid-payload, hold one whole frame, "
         "or a frame and the start of the next header",
         [frame(p) for p in five], five, "eof", chunks=[4, 8, 1, 5, 11, 8])
    big = Pat(65537, 9)
    case("chunks_big_frame", [F7, F3, R1],
         "a 65537-byte payload in uneven pieces, then a frame in two",
         [frame(big), frame(b"z")], [big, b"z"], "eof",
         chunks=[1, 4, 1, 32767, 32769, 1, 5])


def bad_magic():
    """FRAME-2, RECV-4, RECV-5, RECV-7."""
    for b in (0x00, 0x53, 0x55, 0xFF):
        case("bad_magic_%02x" % b, [F2, R4],
             "a frame with 0x%02x for the magic" % b,
             bytes([b]) + b"\x00\x00\x00\x01a", [], "magic")
    case("bad_magic_http_get", [F2, R4],
         "an HTTP client on the duct's port: 'G' is not the magic",
         b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n", [], "magic")
    case("bad_magic_plain_length_prefix", [F2, R4],
         "a peer using a bare 4-byte length prefix, without the magic",
         b"\x00\x00\x00\x05hello", [], "magic")
    for b in (0x00, 0x47, 0xFF):
        case("bad_magic_first_byte_only_%02x" % b, [F2, R4],
             "only the bad byte is sent and the connection stays open: "
             "the error is known from that byte alone", bytes([b]), [],
             "magic", level="SHOULD")
    case("bad_magic_no_resync", [F2, R4, R5],
         "a bad byte, then a valid frame: the receiver must not skip to "
         "the next 0x54", [b"\x00", frame(b"a")], [], "magic")
    case("bad_magic_no_resync_after_header", [F2, R4, R5],
         "a bad 5-byte header, then a valid frame: nothing is delivered",
         [b"U\x00\x00\x00\x00", frame(b"next")], [], "magic")
    case("bad_magic_after_frames", [F2, R4, R7],
         "the frames before the bad byte are delivered, in order",
         [frame(b"ok"), frame(b"ok2"), b"X\x00\x00\x00\x01z",
          frame(b"never")], [b"ok", b"ok2"], "magic")
    case("bad_magic_after_empty_frame", [F2, F3, R4, R7],
         "an empty frame, then a header with magic 0x00",
         [frame(b""), b"\x00\x00\x00\x00\x00"], [b""], "magic")
    case("bad_magic_after_empty_frame_first_byte_only", [F2, R4, R7],
         "an empty frame, then one bad byte, connection open",
         [frame(b""), b"\xff"], [b""], "magic", level="SHOULD")
    case("bad_magic_after_overlong_payload", [F2, R4, R7],
         "a header that says 3 before 4 payload bytes: the 4th byte is "
         "read as the next magic", [b"T\x00\x00\x00\x03abcd", frame(b"e")],
         [b"abc"], "magic")
    case("bad_magic_after_short_payload", [F2, R4, R7],
         "a header that says 3 before 2 payload bytes: the next frame's "
         "magic is taken as payload and its length's 0x00 as the magic",
         [b"T\x00\x00\x00\x03ab", frame(b"c")], [b"abT"], "magic")
    big = Pat(70000, 11)
    case("bad_magic_after_big_frame", [F2, R4, R7],
         "a 70000-byte frame, then a bad byte",
         [frame(big), b"\x00\x00\x00\x00\x00"], [big], "magic")
    case("bad_magic_alone_in_a_piece", [F2, F7, R4, R7],
         "the bad byte arrives in its own piece after a frame",
         [frame(b"ok"), b"\x00\x00\x00\x00\x01z"], [b"ok"], "magic",
         chunks=[7, 1, 5])


def truncation():
    """RECV-3, RECV-7: the peer closes inside a frame."""
    hdr = header(10)
    for k in range(1, 5):
        case("truncated_header_%d" % k, [R3],
             "closed after %d of the 5 header bytes" % k, hdr[:k], [],
             "truncated")
    case("truncated_header_4_after_frame", [R3, R7],
         "a whole frame, then 4 header bytes and a close",
         [frame(b"ok"), hdr[:4]], [b"ok"], "truncated")
    case("truncated_payload_none", [R3],
         "a whole header announcing 10 bytes, none of them", hdr, [],
         "truncated")
    case("truncated_payload_middle", [R3], "5 of 10 payload bytes",
         [hdr, b"01234"], [], "truncated")
    case("truncated_payload_one_short", [R3], "9 of 10 payload bytes",
         [hdr, b"012345678"], [], "truncated")
    case("truncated_one_short_after_frames", [R3, R7],
         "two whole frames, then a frame one byte short",
         [frame(b"a"), frame(b""), hdr, b"012345678"], [b"a", b""],
         "truncated")
    case("truncated_big_one_short", [R3, F3],
         "65535 of 65536 payload bytes", [header(65536), Pat(65535, 12)],
         [], "truncated")


def clean_close():
    """RECV-2: EOF on a frame boundary."""
    case("eof_empty_stream", [R2], "closed before any byte", b"", [], "eof")
    case("eof_after_1_frame", [R1, R2], "one frame, then a close",
         frame(b"bye"), [b"bye"], "eof")
    three = [b"1", b"22", b"333"]
    case("eof_after_3_frames", [R1, R2, R7], "three frames, then a close",
         [frame(p) for p in three], three, "eof")


def limits():
    """RECV-6, SEC-1: lengths over the receiver's limit."""
    at = Pat(LIMIT, 13)
    case("max_exact_accepted", [R6, S1, R1],
         "a frame of exactly max bytes is a message",
         [frame(at), frame(b"z")], [at, b"z"], "eof", max_=LIMIT)
    case("max_exact_header_only", [R6, S1],
         "a header announcing exactly max, no payload yet: the receiver "
         "waits, it does not refuse", header(LIMIT), [], "open", max_=LIMIT)
    case("max_exact_partial_payload", [R6, S1],
         "a header announcing exactly max and 3 payload bytes: waits",
         [header(LIMIT), b"abc"], [], "open", max_=LIMIT)
    for n, name in [(LIMIT + 1, "max_plus_1"), (0x7FFFFFFF, "7fffffff"),
                    (0x80000000, "80000000"), (0xFFFFFFFE, "fffffffe"),
                    (0xFFFFFFFF, "ffffffff")]:
        for trail in (0, 3):
            case("toobig_%s%s" % (name, "_trailing_%d" % trail if trail
                                  else ""), [R6, S1],
                 "length 0x%x over max %d, %d payload bytes: refused on the "
                 "4 length bytes" % (n, LIMIT, trail),
                 [header(n), b"xyz"[:trail]], [], "toobig", max_=LIMIT)
    over = Pat(LIMIT + 1, 14)
    case("toobig_max_plus_1_full_payload", [R6, S1],
         "all max+1 payload bytes arrive: still refused, never delivered",
         frame(over), [], "toobig", max_=LIMIT)
    case("toobig_after_frames", [R6, R7, S1],
         "frames before the oversized header are delivered first",
         [frame(b"a"), frame(b""), header(0x80000000)], [b"a", b""],
         "toobig", max_=LIMIT)
    case("toobig_byte_by_byte", [R6, S1, F7],
         "the header of 0xffffffff in 1-byte pieces",
         header(0xFFFFFFFF), [], "toobig", max_=LIMIT, chunks=[1] * 5)
    case("max_0_empty_frames", [R6, S1, F3],
         "max 0 still accepts empty messages",
         [frame(b""), frame(b"")], [b"", b""], "eof", max_=0)
    case("max_0_toobig_1", [R6, S1, R7], "max 0 refuses a 1-byte frame",
         [frame(b""), frame(b"x")], [b""], "toobig", max_=0)
    for n, name, trail in [(0xFFFFFFFF, "ffffffff", 0),
                           (0xFFFFFFFF, "ffffffff_trailing_3", 3),
                           (DEFAULT_MAX + 1, "64mib_plus_1", 0)]:
        case("default_max_" + name, [S1, R6],
             "length 0x%x and %d payload bytes under the receiver's default "
             "limit, which SHOULD be 64 MiB: refused on the 4 length bytes"
             % (n, trail), [header(n), b"xyz"[:trail]], [], "toobig",
             level="SHOULD")


def still_open():
    """RECV-1: the receiver delivers what is whole and waits for the rest."""
    case("open_nothing_sent", [R1], "connected, nothing sent: nothing "
         "arrives and nothing fails", b"", [], "open")
    case("open_after_1_frame", [R1, F6],
         "one frame and no more: it is delivered without waiting for the "
         "next", frame(b"hi"), [b"hi"], "open")
    case("open_after_empty_frame", [R1, F3],
         "an empty frame and no more: delivered at once",
         frame(b""), [b""], "open")
    case("open_partial_header_1", [R1, F2], "only the magic: wait",
         b"T", [], "open")
    case("open_partial_header_4", [R1], "4 of 5 header bytes: wait",
         header(7)[:4], [], "open")
    case("open_header_only", [R1], "a whole header, no payload: wait",
         header(7), [], "open")
    case("open_partial_payload", [R1], "a header and 2 of 7 payload bytes",
         [header(7), b"ab"], [], "open")
    case("open_after_frame_partial_header", [R1, F6],
         "a whole frame, then 2 bytes of the next header: the frame is "
         "delivered", [frame(b"one"), b"T\x00"], [b"one"], "open")


def check_levels():
    levels = protocol_levels()
    if levels is None:
        print("gen_frame_vectors: %s not found; levels unchecked" % PROTOCOL,
              file=sys.stderr)
        return
    for c in CASES:
        kws = set()
        for rid in c["requirements"]:
            assert rid in levels, (c["id"], rid)
            kws |= levels[rid]
        assert c["level"] in kws, (c["id"], c["level"], kws)


def main():
    if sys.argv[1:2] in (["-h"], ["--help"]):
        print("usage: /usr/bin/python3 gen_frame_vectors.py [OUTPUT]\n"
              "Writes the framing vectors (default: frames.json beside "
              "this script).\nSchema: vectors/README.md.")
        return
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE,
                                                             "frames.json")
    lengths()
    many()
    lookalikes()
    chunking()
    bad_magic()
    truncation()
    clean_close()
    limits()
    still_open()
    ids = [c["id"] for c in CASES]
    assert len(ids) == len(set(ids)), "duplicate ids"
    assert all(re.fullmatch(r"frames\.[a-z0-9_]+", i) for i in ids)
    check_levels()
    text = json.dumps(CASES, indent=1)
    # Lists of scalars (requirements, chunks, messages) on one line.
    scalar = r'(?:"[^"\n]*"|-?\d+)'
    text = re.sub(r'\[\n\s+(%s(?:,\n\s+%s)*)\n\s+\]' % (scalar, scalar),
                  lambda m: "[%s]" % ", ".join(
                      re.findall(scalar, m.group(1))), text)
    with open(out, "w", encoding="utf-8") as f:
        f.write(text + "\n")


if __name__ == "__main__":
    main()
