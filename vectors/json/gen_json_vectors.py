#!/usr/bin/python3
"""Writes python_json.json: what Python's json module does with the default
serializer's inputs, byte for byte (PROTOCOL.md JSON-1..11).

Python's stdlib is the ground truth here: every expected byte below comes from
json.dumps / json.loads / bytes.decode('utf-8', 'replace') as the original
ductworks calls them, never from a hand-written literal.  The script is
deterministic (fixed seeds), so CI regenerates the file and diffs it.

    /usr/bin/python3 gen_json_vectors.py [OUTPUT]   (default: next to this file)
"""
import json
import math
import os
import random
import re
import struct
import sys

CASES = []
MAX_DEPTH = 512  # DUCT_JSON_MAX_DEPTH in ref/include/duct/json.h


def py_dumps(v):
    """The original's serializer: json.dumps(value).encode() (JSON-1)."""
    return json.dumps(v).encode("utf-8")


def py_loads(data):
    """The original's deserializer; None if Python refuses the bytes."""
    try:
        return (json.loads(data.decode("utf-8", "replace")),)
    except (ValueError, RecursionError):
        return None


def value_json(v):
    """JSON text json-c parses to v, deliberately unlike json.dumps(v):
    compact, raw UTF-8, floats with 17 digits (so the encoder cannot pass by
    echoing its input)."""
    if isinstance(v, float):
        return "%.17e" % v if math.isfinite(v) else json.dumps(v)
    if isinstance(v, list):
        return "[" + ",".join(value_json(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{" + ",".join(json.dumps(k, ensure_ascii=False) + ":" +
                              value_json(x) for k, x in v.items()) + "}"
    return json.dumps(v, ensure_ascii=False)


def encode(slug, reqs, comment, v):
    text = value_json(v)
    assert json.dumps(json.loads(text)) == json.dumps(v), slug
    CASES.append({"id": "json.encode." + slug, "requirements": reqs,
                  "comment": comment, "kind": "encode", "value_json": text,
                  "python_bytes_hex": py_dumps(v).hex()})


def decode(slug, reqs, comment, data, duct=None):
    """duct: libduct's outcome where it differs from Python's, as the spec
    allows ("acceptable"): ("error", code) or ("ok", value it yields)."""
    py = py_loads(data)
    case = {"id": "json.decode." + slug, "requirements": reqs,
            "comment": comment, "kind": "decode", "input_hex": data.hex()}
    if py is not None:
        case["python_reencoded_hex"] = py_dumps(py[0]).hex()
    if duct is None:
        case["grade"] = "valid" if py else "invalid"
        case["expect"] = "ok" if py else "error"
        if not py:
            case["error"] = "DUCT_EJSON"
    else:
        case["grade"] = "acceptable"
        case["expect"] = duct[0]
        if duct[0] == "error":
            case["error"] = duct[1]
        else:
            case["duct_reencoded_hex"] = py_dumps(duct[1]).hex()
    CASES.append(case)


def table(kind, slug, reqs, comment, rows):
    rows = list({r[0]: r for r in rows}.values())  # unique, in order
    CASES.append({"id": "json.%s.%s" % (kind, slug), "requirements": reqs,
                  "comment": comment, "kind": kind, "rows": rows})


def f64_bits(x):
    return struct.pack(">d", x).hex()


def bits_f64(rng):
    return struct.unpack(">d", rng.getrandbits(64).to_bytes(8, "big"))[0]


def encode_cases():
    J2, J3, J4, J5 = ["JSON-2"], ["JSON-3"], ["JSON-4"], ["JSON-5"]
    encode("nested", J2, "separators ', ' and ': ', insertion order",
           {"b": [1, 2, {"z": None, "a": True}], "a": {"c": [False, []]}})
    encode("empty_list", J2, "", [])
    encode("empty_dict", J2, "", {})
    encode("empty_nested", J2, "", [[], {}, [[]], {"a": {}}])
    encode("key_order", J2, "keys in insertion order, not sorted",
           {"z": 1, "a": 2, "m": 3, "b": 4})
    encode("unicode_keys", J2 + J3, "keys are escaped like strings",
           {"\u00e9t\u00e9": 1, "\U0001F600": [2], "\u4e2d\u6587": "\u00e9"})
    encode("short_escapes", J3, '\\" \\\\ \\n \\r \\t \\b \\f; "/" as is',
           "\"\\\n\r\t\b\f/")
    encode("control_chars", J3, "other C0 controls as lowercase \\u00XX",
           "".join(chr(c) for c in range(0x20)))
    encode("nul", J3, "embedded U+0000", "a\x00b\x00")
    encode("del", J3, "U+007F is escaped too", "\x7f~ ")
    encode("latin1", J3, "", "caf\u00e9 \u00ff \u0080\u00a0")
    encode("bmp", J3, "lowercase hex", "\u20ac\u4e2d\uabcd\ufeff\uffff\ufffd")
    encode("astral", J3, "surrogate pairs, lowercase",
           "\U0001F600\U00010000\U0010FFFF\U0001D11E")
    encode("astral_low16_surrogate", J3,
           "code points whose low 16 bits look like a surrogate",
           "\U0001D800\U0002D800\U0001DFFF\U0010DFFF\U0001DBFF")
    encode("printable_ascii", J3, "",
           "".join(chr(c) for c in range(0x20, 0x7f)))
    encode("empty_string", J3, "", "")
    for name, n in [("2p31", 2**31), ("2p53", 2**53), ("2p63", 2**63),
                    ("2p64m1", 2**64 - 1)]:
        for d in (-1, 0, 1):
            if n + d < 2**64:
                encode("int_%s%+d" % (name, d), J4, "exact decimal", n + d)
            if -(n + d) >= -2**63:
                encode("int_neg_%s%+d" % (name, d), J4, "exact decimal",
                       -(n + d))
    encode("int_small", J4, "", [0, 1, -1, 7, 10, 100, -100])
    floats = [0.1, 1 / 3, 2 / 3, 1e16, 1e15, 9999999999999998.0, 1e-5,
              1e-4, 1e-7, 1.5e-7, 123.0, 100.0, 1.0, 0.0, -0.0, -1.5,
              5e-324, 2.2250738585072014e-308, 1.7976931348623157e308, 1e22,
              1e23, 1.5, 2.5e-8, 12345678901234567.0, 0.30000000000000004,
              3.141592653589793, 1e100, -1e-100, 9007199254740993.0, 1e21,
              123456789.123456789, 0.001, 0.00001234]
    for x in floats:
        encode("float_" + repr(x).replace("-", "neg").replace("+", ""), J4,
               "Python float repr", x)
    encode("float_list", J4, "", floats)
    encode("nan", J5, "bare word", float("nan"))
    encode("infinity", J5, "bare word", float("inf"))
    encode("neg_infinity", J5, "bare word", float("-inf"))
    encode("nonfinite_in_dict", J5, "",
           {"n": float("nan"), "i": [float("inf"), float("-inf")]})
    encode("literals", J2, "", [True, False, None])
    encode("top_true", J2, "", True)
    encode("top_null", J2, "", None)
    encode("top_string", J3, "", "x")
    encode("mixed", J2 + J3 + J4,
           "a message a ductworks user might send",
           {"cmd": "run", "args": ["-v", "f\u00fc\u00df.txt"], "n": 3,
            "t": 0.25, "ok": True, "err": None})


def decode_cases():
    J5, J6, J7, J8 = ["JSON-5"], ["JSON-6"], ["JSON-7"], ["JSON-8"]
    J9, J10, J11, J12 = ["JSON-9"], ["JSON-10"], ["JSON-11"], ["JSON-12"]
    # Everything json.dumps emits, and the usual JSON around it (JSON-8).
    decode("spaced", J8, "json.dumps output", b'{"a": 1, "b": [1, 2]}')
    decode("compact", J8, "", b'{"a":1,"b":[true,false,null]}')
    decode("whitespace", J8, "space, tab, LF, CR around and between tokens",
           b' \t\n\r[ 1 ,\t2\n,\r3 ] \t\n\r')
    decode("top_number", J8, "a top-level number ends at end of input", b"1")
    decode("top_number_ws", J8, "", b" 42 ")
    decode("top_float", J8, "", b"1.5")
    decode("top_string", J8, "", b'"s"')
    decode("top_literals", J8, "", b"[true,false,null]")
    decode("top_null", J8, "", b"null")
    decode("empty_containers", J8, "", b'[[],{},[[]],{"a":{}}]')
    decode("duplicate_keys", J8,
           "last value wins, at the first key's position",
           b'{"a": 1, "b": 2, "a": 3}')
    decode("raw_utf8", J8, "raw UTF-8 in strings",
           '["\u00e9", "\u20ac", "\U0001F600", {"\u00e9": 1}]'.encode())
    decode("escapes", J8, "every escape json accepts",
           b'"\\"\\\\\\/\\b\\f\\n\\r\\t\\u00e9\\u00E9\\u0041"')
    decode("surrogate_pair", J8, "", b'"\\ud83d\\ude00\\uD83D\\uDE00"')
    odd = "".join(chr(0x10000 * plane + low) for plane in range(1, 17)
                  for low in (0xD800, 0xDBFF, 0xDC00, 0xDFFF))
    decode("surrogate_pair_low16_surrogate", J8,
           "U+xD800..U+xDFFF escaped as pairs (json-c 0.16 alone gives "
           "U+FFFD: it tests only the low 16 bits)",
           json.dumps({odd: [odd, "\U0002D800\U0001DF00"]}).encode())
    decode("escaped_nul", J8, "U+0000 in a string value",
           b'["a\\u0000b", {"k": "\\u0000"}]')
    decode("raw_del", J8, "U+007F is not a control character", b'"\x7f"')
    for t in [b"0", b"-0", b"-0.0", b"0.0", b"1E5", b"1e+5", b"1e-5",
              b"1.0e400", b"-1e400", b"1e-400", b"123.456e-789",
              b"1e99999999999999999999", b"9223372036854775807",
              b"9223372036854775808", b"18446744073709551615",
              b"-9223372036854775808", b"1.7976931348623157e308",
              b"1.7976931348623159e308", b"4.9e-324", b"2e-324",
              b"0.1000000000000000055511151231257827021181583404541015625",
              b"1" + b"0" * 400 + b".0"]:
        decode("number_" + t.decode()[:24].replace(".", "_")
               .replace("-", "neg").replace("+", ""), J8,
               "number as Python reads it", b"[" + t + b"]")
    decode("nan_infinity", J5, "", b"[NaN, Infinity, -Infinity]")
    decode("nan_top", J5, "", b"NaN")
    decode("neg_infinity_top", J5, "", b"-Infinity")
    # Integers beyond 64 bits (JSON-6): Python keeps them; libduct refuses.
    for name, t in [("2p64", str(2**64)), ("neg_2p63m1", str(-2**63 - 1)),
                    ("2p70", str(2**70)), ("1e100", str(10**100)),
                    ("neg_1e30", str(-10**30)),
                    ("nested", '{"a": [1, %d]}' % 2**64)]:
        decode("bigint_" + name, J6,
               "json-c would clamp it silently: libduct refuses",
               t.encode(), duct=("error", "DUCT_ERANGE"))
    decode("bigint_in_bad_json", J6 + J8, "malformed JSON wins over ERANGE",
           ("[%d, x]" % 2**64).encode())
    # Lone surrogate escapes (JSON-10): Python keeps them, libduct (json-c)
    # gives U+FFFD for each.
    for name, t in [("high", "\\ud800"), ("low", "\\udc00"),
                    ("high_then_char", "\\ud800x"),
                    ("high_then_escape", "\\ud800\\u0041"),
                    ("low_high", "\\udc00\\ud800"),
                    ("high_high", "\\ud800\\ud800"),
                    ("high_end", "a\\udbff")]:
        s = json.loads('"%s"' % t)
        fixed = "".join("\ufffd" if 0xD800 <= ord(c) < 0xE000 else c
                        for c in s)
        decode("lone_surrogate_" + name, J10,
               "Python keeps it; libduct yields U+FFFD",
               ('"%s"' % t).encode(), duct=("ok", fixed))
    decode("key_with_nul", J12,
           "json-c keys are C strings: libduct refuses rather than cut it",
           b'{"\\u0000k": 1}', duct=("error", "DUCT_EVALUE"))
    decode("key_with_nul_end", J12, "", b'{"a\\u0000": 1, "b": 2}',
           duct=("error", "DUCT_EVALUE"))
    # Invalid UTF-8: each maximal invalid subpart becomes U+FFFD (JSON-7).
    for name, b in [("lone_cont_80", b"\x80"), ("lone_cont_bf", b"\xbf"),
                    ("cont_run", b"\x80\x81\x82"), ("trunc2", b"\xc3"),
                    ("trunc3_1", b"\xe2"), ("trunc3_2", b"\xe2\x82"),
                    ("trunc4_1", b"\xf0"), ("trunc4_2", b"\xf0\x9f"),
                    ("trunc4_3", b"\xf0\x9f\x98"),
                    ("overlong_c0_80", b"\xc0\x80"),
                    ("overlong_c1_bf", b"\xc1\xbf"),
                    ("overlong_e0_80_80", b"\xe0\x80\x80"),
                    ("overlong_e0_9f_bf", b"\xe0\x9f\xbf"),
                    ("overlong_f0_80_80_80", b"\xf0\x80\x80\x80"),
                    ("overlong_f0_8f_bf_bf", b"\xf0\x8f\xbf\xbf"),
                    ("surrogate_ed_a0_80", b"\xed\xa0\x80"),
                    ("surrogate_ed_bf_bf", b"\xed\xbf\xbf"),
                    ("surrogate_pair_cesu", b"\xed\xa0\xbd\xed\xb8\x80"),
                    ("above_10ffff_f4_90", b"\xf4\x90\x80\x80"),
                    ("f5", b"\xf5\x80\x80\x80"), ("f8", b"\xf8\x88\x80\x80\x80"),
                    ("fc", b"\xfc\x84\x80\x80\x80\x80"), ("fe", b"\xfe"),
                    ("ff", b"\xff"), ("fe_ff", b"\xfe\xff"),
                    ("trunc_then_ascii", b"\xe2\x82A"),
                    ("trunc_then_valid", b"\xe2\x82\xc3\xa9"),
                    ("mixed", b"a\x80b\xc3\xa9c\xff")]:
        decode("invalid_utf8_" + name, J7, "U+FFFD per maximal subpart",
               b'["' + b + b'"]')
    decode("invalid_utf8_key", J7, "", b'{"k\xff": "v\xc0"}')
    decode("invalid_utf8_outside_string", J7 + J11,
           "U+FFFD outside a string is malformed JSON", b"[1, \xff]")
    decode("invalid_utf8_unterminated", J7 + J11, "", b'"abc\xe2\x82')
    # Nesting (JSON-9).
    decode("depth_500", J9, "500 levels must be accepted",
           b"[" * 500 + b"]" * 500)
    decode("depth_500_objects", J9, "",
           b'{"a": ' * 499 + b'{"a": 1}' + b"}" * 499)
    decode("depth_512", J9, "libduct's limit: allowed, not required",
           b"[" * 511 + b"[1]" + b"]" * 511, duct=("ok", nest(512)))
    decode("depth_513", J9, "beyond libduct's limit: refused",
           b"[" * 513 + b"]" * 513, duct=("error", "DUCT_EJSON"))
    decode("depth_5000", J9, "refused (Python: RecursionError), no crash",
           b"[" * 5000 + b"]" * 5000)
    decode("depth_5000_unclosed", J9, "", b"[" * 5000)
    # Malformed input: an error for that message only (JSON-11).
    for name, t in [("empty", b""), ("spaces", b"   "), ("garbage", b"[1] x"),
                    ("two_values", b"1 2"), ("two_objects", b"{}{}"),
                    ("extra_bracket", b"[1]]"), ("bom", b"\xef\xbb\xbf{}"),
                    ("leading_zero", b"01"), ("neg_leading_zero", b"-01"),
                    ("double_zero", b"00"), ("trailing_dot", b"1."),
                    ("leading_dot", b".5"), ("plus", b"+1"),
                    ("exp_no_digits", b"1e"), ("exp_sign_only", b"1e+"),
                    ("frac_exp_no_digits", b"1.5e"), ("hex", b"0x10"),
                    ("minus", b"-"), ("minus_minus", b"--1"),
                    ("minus_space", b"- 1"), ("dots", b"1.2.3"),
                    ("exp_exp", b"1e5e5"), ("int_minus", b"[1-2]"),
                    ("trailing_comma", b"[1,]"),
                    ("trailing_comma_obj", b'{"a":1,}'),
                    ("single_quotes", b"'a'"), ("comment", b"/*c*/1"),
                    ("line_comment", b"1 // c"), ("True", b"True"),
                    ("Null", b"Null"), ("nan_lower", b"nan"),
                    ("neg_nan", b"-NaN"), ("inf", b"Inf"),
                    ("infinity_lower", b"infinity"),
                    ("plus_infinity", b"+Infinity"),
                    ("infinity_x", b"-Infinityx"), ("nan_x", b"NaNx"),
                    ("missing_comma", b"[1 2]"), ("missing_colon", b'{"a" 1}'),
                    ("number_key", b"{1: 2}"), ("raw_tab", b'"a\tb"'),
                    ("raw_newline", b'"a\nb"'), ("raw_nul", b'"a\x00b"'),
                    ("bad_escape", b'"\\x41"'), ("upper_u", b'"\\U0041"'),
                    ("short_u", b'"\\u12"'), ("unterminated", b'"abc'),
                    ("truncated_array", b"[1,2"), ("truncated_obj", b'{"a":'),
                    ("form_feed", b"\x0c1"), ("vtab", b"\x0b1"),
                    ("nul_after", b"1\x00"), ("nul_after_array", b"[1]\x00"),
                    ("nul_before", b"\x00[1]"), ("tru", b"tru"),
                    ("nbsp", "\u00a01".encode())]:
        decode("malformed_" + name, J8 + J11, "Python refuses it", t)


def nest(n):
    v = [1]
    for _ in range(n - 1):
        v = [v]
    return v


def float_tables():
    rng = random.Random(20160412)
    J4 = ["JSON-4"]

    def rows(xs):
        return [[f64_bits(x), json.dumps(x)] for x in xs]

    table("float_repr", "powers_of_two", J4,
          "every power of two, subnormals included",
          rows(math.ldexp(1.0, e) for e in range(-1074, 1024)))
    table("float_repr", "powers_of_ten", J4, "float('1e%d') and neighbours",
          rows(y for e in range(-325, 310) for x in [float("1e%d" % e)]
               for y in (x, math.nextafter(x, 0), math.nextafter(x, math.inf))
               if math.isfinite(y)))
    special = [0.0, -0.0, 5e-324, 1e-323, 2.2250738585072009e-308,
               2.2250738585072014e-308, 1.7976931348623157e308,
               float("nan"), float("inf"), float("-inf"), 2**53 - 1.0,
               2.0**53, 2**53 + 2.0, 1e16 - 2, 1e16, 1e-4, 1e-5]
    special += [math.nextafter(x, d) for x in (1e16, 1e-4, 1.0)
                for d in (0, math.inf)]
    table("float_repr", "special", J4, "boundaries of the repr layout",
          rows(special))
    table("float_repr", "random_bits", J4, "uniform 64-bit patterns",
          rows(bits_f64(rng) for _ in range(1500)))
    table("float_repr", "random_short", J4, "short decimals",
          rows(float("%d.%de%d" % (rng.getrandbits(10), rng.getrandbits(12),
                                   rng.getrandbits(9) - 256))
               for _ in range(1000)))


def utf8_table():
    """bytes.decode('utf-8', 'replace') on single sequences and on random
    runs of the bytes that matter (JSON-7)."""
    rng = random.Random(7)
    conts = [b"", b"\x80", b"\x8f", b"\x90", b"\x9f", b"\xa0", b"\xbf",
             b"\xc0", b"A", b"\x80\x80", b"\xa0\x80", b"\x90\x80\x80",
             b"\x80\x80\x80", b"\xbf\xbf\xbf"]
    ins = [bytes([lead]) + c for lead in range(0x80, 0x100) for c in conts]
    interesting = [0x00, 0x41, 0x7f, 0x80, 0x8f, 0x90, 0x9f, 0xa0, 0xbf,
                   0xc0, 0xc1, 0xc2, 0xdf, 0xe0, 0xed, 0xef, 0xf0, 0xf4,
                   0xf5, 0xff]
    ins += [bytes(rng.choice(interesting) for _ in range(1 + i % 12))
            for i in range(600)]
    table("utf8_replace", "sequences", ["JSON-7"],
          "[input, Python's output] in hex",
          [[b.hex(), b.decode("utf-8", "replace").encode().hex()]
           for b in ins])


def main():
    if sys.argv[1:2] in (["-h"], ["--help"]):
        print("usage: /usr/bin/python3 gen_json_vectors.py [OUTPUT]\n"
              "Writes the JSON serializer vectors (default: python_json.json "
              "beside this script).")
        return
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "python_json.json")
    encode_cases()
    decode_cases()
    float_tables()
    utf8_table()
    ids = [c["id"] for c in CASES]
    assert len(ids) == len(set(ids)), "duplicate ids"
    # UTF-8, not \u escapes: json-c 0.16 mangles some escaped pairs.
    text = json.dumps(CASES, indent=1, ensure_ascii=False)
    # Lists of plain strings (table rows, requirements) on one line keep the
    # file short and diffs readable.
    text = re.sub(r'\[\n\s+("[^"\n]*"(?:,\n\s+"[^"\n]*")*)\n\s+\]',
                  lambda m: "[%s]" % ", ".join(
                      re.findall(r'"[^"\n]*"', m.group(1))), text)
    with open(out, "w", encoding="utf-8") as f:
        f.write(text + "\n")


if __name__ == "__main__":
    main()
