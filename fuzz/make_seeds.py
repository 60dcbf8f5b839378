#!/usr/bin/python3
"""Turn the test vectors into seed inputs for the fuzz harnesses.

    /usr/bin/python3 fuzz/make_seeds.py OUTDIR

writes OUTDIR/fuzz_frame/, OUTDIR/fuzz_recv/ and OUTDIR/fuzz_json/, one file
per input, named after the vector case it comes from (vectors/README.md,
"Fuzz seeds"), so a crash found from a seed points back at its case.

Input layouts (see each harness's top comment):
  fuzz_frame  [max byte] [chunking byte] [repeat byte] stream
  fuzz_recv   [max byte] [repeat byte] [receive byte] stream
  fuzz_json   a message payload
The repeat byte is 0 (the stream once), except for a few streams of many
small frames also written 256 times (repeat byte 0xF7), to start the
fuzzers off past the reader's 32 and 64 KiB buffer thresholds.
The max byte encodes the case's limit as fuzz_max_from_byte() in
fuzz/fuzz_common.h decodes it.  Streams over 64 KiB are left out: fuzzers
do better with small inputs, and the unit tests replay those cases anyway.

Stdlib only, deterministic: the same vectors give the same files.
"""
import hashlib
import json
import os
import struct
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MAX_STREAM = 64 * 1024
DEFAULT_MAX = 64 << 20

# fuzz_max_from_byte(): bytes 0x00..0xEF are the limit itself; 0xF0..0xFF
# index this table.  Keep in step with fuzz/fuzz_common.h.
MAX_TABLE = [DEFAULT_MAX, 0xFFFFFFFF, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFE,
             DEFAULT_MAX - 1, DEFAULT_MAX + 1, 256, 4096, 4097, 32768,
             65535, 65536, 65537, 1 << 20, 1 << 24]


def max_byte(limit):
    """The option byte for a receive limit (None: the default)."""
    if limit is None:
        limit = DEFAULT_MAX
    if limit < 0xF0:
        return limit
    if limit in MAX_TABLE:
        return 0xF0 + MAX_TABLE.index(limit)
    return None


def stream_of(case):
    if "stream_hex" in case:
        return bytes.fromhex(case["stream_hex"])
    out = bytearray()
    for piece in case["stream_pattern"]:
        if "hex" in piece:
            out += bytes.fromhex(piece["hex"])
        else:
            if len(out) + piece["pattern_len"] > MAX_STREAM:
                return None
            out += bytes((7 * i + piece["seed"]) % 256
                         for i in range(piece["pattern_len"]))
    return bytes(out)


def chunk_byte(case_id):
    """An option byte drawn from a case's id: for fuzz_frame, how the
    stream is cut (mode in bits 0-1, PRNG seed in bits 2-7), for fuzz_recv
    how it is received; so the seeds spread over every mode."""
    return hashlib.sha256(case_id.encode()).digest()[0]


def write(outdir, target, name, data, written):
    d = os.path.join(outdir, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)
    written[target] = written.get(target, 0) + 1


def frame_seeds(outdir, written):
    with open(os.path.join(ROOT, "vectors/frames/frames.json")) as f:
        cases = json.load(f)
    for case in cases:
        stream = stream_of(case)
        mb = max_byte(case["max"])
        if stream is None or len(stream) > MAX_STREAM or mb is None:
            continue
        cb = chunk_byte(case["id"])
        if case.get("chunks"):
            cb = (cb & ~3) | 1  # the case is about chunking: small pieces
        write(outdir, "fuzz_frame", case["id"], bytes([mb, cb, 0]) + stream,
              written)
        rb = chunk_byte(case["id"] + ".recv")
        write(outdir, "fuzz_recv", case["id"], bytes([mb, 0, rb]) + stream,
              written)
        if case["id"].startswith("frames.many_") and len(stream) < 4096:
            write(outdir, "fuzz_frame", case["id"] + ".x256",
                  bytes([mb, cb, 0xF7]) + stream, written)
            write(outdir, "fuzz_recv", case["id"] + ".x256",
                  bytes([mb, 0xF7, rb]) + stream, written)


def json_seeds(outdir, written):
    with open(os.path.join(ROOT, "vectors/json/python_json.json"),
              encoding="utf-8") as f:
        cases = json.load(f)
    for case in cases:
        cid, kind = case["id"], case["kind"]
        if kind == "decode":
            write(outdir, "fuzz_json", cid, bytes.fromhex(case["input_hex"]),
                  written)
        elif kind == "encode":
            write(outdir, "fuzz_json", cid + ".value",
                  case["value_json"].encode("utf-8"), written)
            write(outdir, "fuzz_json", cid + ".python",
                  bytes.fromhex(case["python_bytes_hex"]), written)
        elif kind == "float_repr":
            # All the special values, a sample of the rest: the text as a
            # payload, and the bits as the 8 leading bytes the harness
            # reads as a double (host order: little-endian).
            step = 1 if cid.endswith(".special") else 100
            for i, (bits, text) in enumerate(case["rows"][::step]):
                write(outdir, "fuzz_json", "%s.%d" % (cid, i),
                      text.encode(), written)
                raw = struct.pack("<Q", int(bits, 16))
                write(outdir, "fuzz_json", "%s.%d.bits" % (cid, i), raw,
                      written)
        elif kind == "utf8_replace":
            for i, (inp, _) in enumerate(case["rows"][::50]):
                write(outdir, "fuzz_json", "%s.%d" % (cid, i),
                      b'"' + bytes.fromhex(inp) + b'"', written)


def main(argv):
    if len(argv) != 2 or argv[1] in ("-h", "--help"):
        print(__doc__.strip())
        return 0 if len(argv) == 2 else 2
    written = {}
    frame_seeds(argv[1], written)
    json_seeds(argv[1], written)
    for target in sorted(written):
        print("%s: %d seeds in %s" % (target, written[target],
                                      os.path.join(argv[1], target)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
