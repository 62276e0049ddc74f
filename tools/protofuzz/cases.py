"""Request cases: generated commands, encoded as multibulk or inline, then often mutated.

A case is the bytes sent on one fresh connection and how they are delivered (in one write, in
pieces, byte by byte). It is a pure function of (seed, index). Keys live in the case's own
namespace (`tag`), so cases run side by side without touching each other's data (all but
keys a mutation shortens to nothing or a byte or two: the rare case that meets another on one
is seen as not reproducible when run again).

Only requests whose outcome Redis decides deterministically are generated. The one rule that
needs care is Redis's 64 KiB line limit (processInlineBuffer / processMultibulkBuffer): "too big
inline request" and the "too big ... count string" errors fire when the unparsed buffer passes
64 KiB without the line's terminator, so for a longer line with a terminator the outcome depends
on how much the server happened to have read. `timing_safe` rejects such payloads; a long run
with no terminator at all (the payload's last line) is deterministic and kept. Commands whose
reply depends on time, randomness or the server's identity are not in the vocabulary.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable
from dataclasses import dataclass

LINE_LIMIT = 64 * 1024  # PROTO_INLINE_MAX_SIZE

# Lengths around every limit the reader checks: signs, zeros, spaces, int/long long overflow,
# proto-max-bulk-len, Python's 4300-digit int() limit, a NUL (C's strchr stops there).
LENGTHS = [
    b"0", b"1", b"2", b"3", b"-1", b"-0", b"-2", b"-10", b"00", b"01", b"+1", b" 1", b"1 ", b"",
    b"x", b"1x", b"0x10", b"1e3", b"1.0", b"\x001", b"1\x00", b"\t2", b"2147483647",
    b"2147483648", b"4294967296", b"-2147483648", b"-2147483649", b"9223372036854775807",
    b"9223372036854775808", b"-9223372036854775808", b"-9223372036854775809",
    b"18446744073709551616", b"536870911", b"536870912", b"536870913", b"65536", b"1048576",
    b"9" * 19, b"9" * 20, b"1" * 4299, b"1" * 4300, b"1" * 4301, b"1" * 5000, b"-" + b"1" * 4301,
    b"0" * 4301, b"1" + b"0" * 4300, b"-" + b"0" * 4400,
]
# Bytes that mean something to a RESP or inline parser.
NOISE = b"\r\n*$:+-_,#(=%~>|!0123456789 \t\x00\"'\\\x0b\x0cxX"
TYPE_MARKERS = b"+-:_,#(=%~>|!*$xX \r\n\x00"
STRAY_ELEMENTS = [
    b":5\r\n", b"+OK\r\n", b"-ERR x\r\n", b"$-1\r\n", b"_\r\n", b",1.5\r\n", b"#t\r\n", b"(1\r\n",
    b"*-1\r\n", b"*0\r\n", b"%1\r\n$1\r\na\r\n$1\r\nb\r\n", b"~1\r\n$1\r\na\r\n",
    b">1\r\n$1\r\na\r\n", b"*1\r\n$4\r\nPING\r\n", b"=5\r\ntxt:a\r\n", b"!3\r\nerr\r\n",
    b"|1\r\n+a\r\n+b\r\n", b"*1\r\n*1\r\n$1\r\na\r\n", b"$0\r\n\r\n", b"$1\r\na\r\n",
]
_STRAY_BULK = re.compile(rb"\$1\r\n([ab])\r\n")


def _stray(rng: random.Random, tag: bytes) -> bytes:
    """A stray element; its bulk strings, which may end up read as keys, in the namespace."""
    return _STRAY_BULK.sub(lambda m: b"$%d\r\n%s%s\r\n" % (len(tag) + 1, tag, m.group(1)),
                           rng.choice(STRAY_ELEMENTS))


CRLF_REPLACEMENTS = [
    b"\n", b"\r", b"", b"\n\r", b"\r\r\n", b"\r\n\r\n", b" \r\n", b"XY", b"\r\x00", b"\r\r",
    b"\n\n", b"\x00\r\n", b"\r \n", b"\r\n\n",
]
TRAILERS = [b"XY", b"\r\r", b"\n\n", b"\r", b"", b"\r\n\r\n", b"\x00\x00", b"\r\nX", b"X"]


@dataclass(frozen=True)
class ProtoCase:
    index: int
    label: str  # the generator and mutations that made it
    payload: bytes  # everything sent, the sentinel included
    tag: bytes  # the key namespace, replaced by another of the same length to rerun the case
    token: bytes | None = None  # the payload ends with PING <token>: its reply ends the case
    cuts: tuple[int, ...] = ()  # offsets where delivery pauses
    pause: float = 0.0
    kind: str = "proto"


_TAG_LETTERS = b"ghjkmnpqrstuvwyz"  # none of them is in NOISE


def tag_of(index: int, prefix: bytes = b"k") -> bytes:
    """A key namespace: the index scrambled (a bijection on 32 bits) into letters, so that a
    mutated byte does not turn one case's keys into a neighbour's (k0000012 -> k0000013 did)."""
    value = (index * 2654435761) % 2**32
    return prefix + bytes(_TAG_LETTERS[(value >> shift) & 15] for shift in range(0, 32, 4)) + b"."


def sentinel(token: bytes) -> bytes:
    return b"*2\r\n$4\r\nPING\r\n$%d\r\n%s\r\n" % (len(token), token)


def multibulk(argv: list[bytes]) -> bytes:
    return b"*%d\r\n" % len(argv) + b"".join(b"$%d\r\n%s\r\n" % (len(a), a) for a in argv)


def timing_safe(payload: bytes) -> bool:
    """No line longer than 64 KiB that ends with a CR or LF: see the module docstring."""
    for sep in (b"\r", b"\n"):
        last = -1
        pos = payload.find(sep)
        while pos >= 0:
            if pos - last - 1 > LINE_LIMIT:
                return False
            last = pos
            pos = payload.find(sep, pos + 1)
    return True


def proto_case(seed: int, index: int) -> ProtoCase:
    rng = random.Random(f"proto/{seed}/{index}")
    tag = tag_of(index)
    token = b"fz-end-%d" % index
    for _ in range(20):
        label, payload = _generate(rng, tag)
        if rng.random() < 0.1:  # RESP3 replies: the HELLO reply's client id is normalised
            label, payload = label + "+resp3", b"HELLO 3\r\n" + payload
        ends = None
        if rng.random() < 0.8:
            payload += sentinel(token)
            ends = token
        if timing_safe(payload) and len(payload) < 400_000:
            break
    else:  # pragma: no cover - every family has short outcomes
        label, payload, ends = "fallback", sentinel(token), token
    cuts, pause, how = _delivery(rng, payload)
    return ProtoCase(index, f"{label}/{how}", payload, tag, ends, cuts, pause)


def _delivery(rng: random.Random, payload: bytes) -> tuple[tuple[int, ...], float, str]:
    n = len(payload)
    r = rng.random()
    if n < 2 or r < 0.5:
        return (), 0.0, "one write"
    pause = rng.choice([0.0, 0.0, 0.0005, 0.002])
    if r < 0.6:  # the first bytes one at a time, then the rest
        return tuple(range(1, min(n, 80))), rng.choice([0.0, 0.0, 0.0002]), "byte by byte"
    if r < 0.72:  # between a CR and its LF, where the reader must wait for the LF
        cuts = tuple(m.start() + 1 for m in re.finditer(rb"\r", payload[:4096]))[:24]
        if cuts:
            return cuts, pause, "split at CR"
    k = rng.randint(1, min(8, n - 1))
    return tuple(sorted(rng.sample(range(1, n), k))), pause, f"{k + 1} pieces"


def _generate(rng: random.Random, tag: bytes) -> tuple[str, bytes]:
    family = rng.choices(list(_FAMILIES), weights=[w for w, _ in _FAMILIES.values()])[0]
    payload = _FAMILIES[family][1](rng, tag)
    return family, payload


# -- well-formed commands ----------------------------------------------------------------------

_NUMBERS = [
    b"0", b"1", b"-1", b"10", b"100", b"-5", b"9223372036854775807", b"-9223372036854775808",
    b"9223372036854775808", b"1e3", b" 1", b"1 ", b"+1", b"01", b"0x10", b"", b"3.5", b"abc",
    b"-0", b"1\x00",
]
_FLOATS = [b"1", b"1.5", b"-2.25", b"0", b"-0", b"+inf", b"-inf", b"inf", b"nan", b"1e10",
           b"abc", b"", b"3", b"0.1", b"1e400", b" 1", b"10"]


def _value(rng: random.Random) -> bytes:
    r = rng.random()
    if r < 0.35:
        return rng.choice([b"v", b"hello", b"a b", b"", b"x" * 10, b"OK", b"PING", b"1", b"-1"])
    if r < 0.55:
        return rng.choice(_NUMBERS)
    if r < 0.85:  # binary: everything a parser might trip over
        return bytes(rng.choice(NOISE + b"abc\xff\x80") for _ in range(rng.randint(1, 12)))
    if r < 0.98:
        return bytes(rng.randrange(256) for _ in range(rng.randint(0, 200)))
    return b"y" * rng.randint(300, 3000)


def _key(rng: random.Random, tag: bytes, kind: bytes) -> bytes:
    if rng.random() < 0.15:  # another type's key: WRONGTYPE and friends
        kind = rng.choice(b"slhzxn")
        return tag + bytes([kind])
    return tag + kind


def _index(rng: random.Random) -> bytes:
    return rng.choice([b"0", b"1", b"-1", b"2", b"-2", b"100", b"-100", b"x", b"9999999999999"])


Gen = Callable[[random.Random, bytes], list[bytes]]

_STRINGS: list[Gen] = [
    lambda g, t: [b"SET", _key(g, t, b"s"), _value(g)],
    lambda g, t: [b"SET", _key(g, t, b"s"), _value(g),
                  *g.choice([[b"NX"], [b"XX"], [b"GET"], [b"EX", b"100000"], [b"PX", b"100000000"],
                             [b"KEEPTTL"], [b"EX", b"0"], [b"EX", b"abc"], [b"BADOPT"],
                             [b"NX", b"XX"], [b"EX", b"10", b"PX", b"10"], [b"EX"]])],
    lambda g, t: [b"GET", _key(g, t, b"s")],
    lambda g, t: [b"GETDEL", _key(g, t, b"s")],
    lambda g, t: [b"GETSET", _key(g, t, b"s"), _value(g)],
    lambda g, t: [b"SETNX", _key(g, t, b"s"), _value(g)],
    lambda g, t: [b"STRLEN", _key(g, t, b"s")],
    lambda g, t: [b"APPEND", _key(g, t, b"s"), _value(g)],
    lambda g, t: [b"GETRANGE", _key(g, t, b"s"), _index(g), _index(g)],
    lambda g, t: [b"SETRANGE", _key(g, t, b"s"), g.choice([b"0", b"3", b"-1", b"x", b"50"]),
                  _value(g)],
    lambda g, t: [g.choice([b"INCR", b"DECR"]), _key(g, t, b"n")],
    lambda g, t: [g.choice([b"INCRBY", b"DECRBY"]), _key(g, t, b"n"), g.choice(_NUMBERS)],
    lambda g, t: [b"SET", _key(g, t, b"n"), g.choice(_NUMBERS)],
    lambda g, t: [b"MSET", _key(g, t, b"s"), _value(g), _key(g, t, b"n"), _value(g)],
    lambda g, t: [b"MGET", _key(g, t, b"s"), _key(g, t, b"n"), _key(g, t, b"x")],
]
_KEYS: list[Gen] = [
    lambda g, t: [b"DEL", _key(g, t, b"s"), _key(g, t, b"l")],
    lambda g, t: [b"UNLINK", _key(g, t, b"h")],
    lambda g, t: [b"EXISTS", _key(g, t, b"s"), _key(g, t, b"s"), _key(g, t, b"x")],
    lambda g, t: [b"TYPE", _key(g, t, b"z")],
    lambda g, t: [b"TTL", _key(g, t, b"s")],
    lambda g, t: [b"EXPIRE", _key(g, t, b"s"), g.choice([b"100000", b"abc", b"-5", b""])],
    lambda g, t: [b"PERSIST", _key(g, t, b"s")],
    lambda g, t: [b"RENAME", _key(g, t, b"s"), _key(g, t, b"x")],
]
_LISTS: list[Gen] = [
    lambda g, t: [g.choice([b"LPUSH", b"RPUSH"]), _key(g, t, b"l"),
                  *[_value(g) for _ in range(g.randint(1, 4))]],
    lambda g, t: [g.choice([b"LPOP", b"RPOP"]), _key(g, t, b"l"),
                  *g.choice([[], [b"2"], [b"0"], [b"-1"], [b"x"]])],
    lambda g, t: [b"LRANGE", _key(g, t, b"l"), _index(g), _index(g)],
    lambda g, t: [b"LLEN", _key(g, t, b"l")],
    lambda g, t: [b"LINDEX", _key(g, t, b"l"), _index(g)],
    lambda g, t: [b"LSET", _key(g, t, b"l"), _index(g), _value(g)],
    lambda g, t: [b"LREM", _key(g, t, b"l"), _index(g), _value(g)],
    lambda g, t: [b"LTRIM", _key(g, t, b"l"), _index(g), _index(g)],
    lambda g, t: [b"LPOS", _key(g, t, b"l"), _value(g)],
]
# Fields and values of at most 64 bytes keep Redis's hash a listpack (hash-max-listpack-value),
# whose HGETALL order is the insertion order; a hash table's is not.
_HASHES: list[Gen] = [
    lambda g, t: [b"HSET", _key(g, t, b"h"), _value(g)[:64], _value(g)[:64],
                  *g.choice([[], [b"f2", b"v2"], [b"odd"]])],
    lambda g, t: [b"HGET", _key(g, t, b"h"), _value(g)],
    lambda g, t: [b"HDEL", _key(g, t, b"h"), _value(g)],
    lambda g, t: [b"HLEN", _key(g, t, b"h")],
    lambda g, t: [b"HMGET", _key(g, t, b"h"), _value(g), b"f2"],
    lambda g, t: [b"HEXISTS", _key(g, t, b"h"), b"f2"],
    lambda g, t: [b"HINCRBY", _key(g, t, b"h"), b"n", g.choice(_NUMBERS)],
    lambda g, t: [b"HGETALL", _key(g, t, b"h")],
    lambda g, t: [b"HSTRLEN", _key(g, t, b"h"), b"f2"],
]
_SETS: list[Gen] = [
    lambda g, t: [b"SADD", _key(g, t, b"x"), *[_value(g) for _ in range(g.randint(1, 3))]],
    lambda g, t: [b"SREM", _key(g, t, b"x"), _value(g)],
    lambda g, t: [b"SCARD", _key(g, t, b"x")],
    lambda g, t: [b"SISMEMBER", _key(g, t, b"x"), _value(g)],
    lambda g, t: [b"SMISMEMBER", _key(g, t, b"x"), _value(g), b"v"],
]
_ZSETS: list[Gen] = [
    lambda g, t: [b"ZADD", _key(g, t, b"z"),
                  *g.choice([[], [b"NX"], [b"XX"], [b"GT"], [b"CH"], [b"INCR"], [b"NX", b"XX"]]),
                  g.choice(_FLOATS), _value(g), *g.choice([[], [b"2", b"b"], [b"3"]])],
    lambda g, t: [b"ZRANGE", _key(g, t, b"z"), _index(g), _index(g),
                  *g.choice([[], [b"WITHSCORES"], [b"REV"], [b"BYSCORE"], [b"LIMIT", b"0", b"1"]])],
    lambda g, t: [b"ZSCORE", _key(g, t, b"z"), _value(g)],
    lambda g, t: [b"ZINCRBY", _key(g, t, b"z"), g.choice(_FLOATS), b"m"],
    lambda g, t: [b"ZCARD", _key(g, t, b"z")],
    lambda g, t: [b"ZRANK", _key(g, t, b"z"), b"m"],
    lambda g, t: [b"ZREM", _key(g, t, b"z"), b"m"],
    lambda g, t: [b"ZCOUNT", _key(g, t, b"z"), g.choice(_FLOATS), g.choice([b"(1", b"+inf", b"x"])],
]
_MISC: list[Gen] = [
    lambda g, t: [b"PING"],
    lambda g, t: [b"PING", _value(g)],
    lambda g, t: [b"ECHO", _value(g)],
    lambda g, t: [b"ECHO"],
    lambda g, t: [b"PING", b"a", b"b"],
    lambda g, t: [b"GET"],
    lambda g, t: [b"GET", b"a", b"b"],
    lambda g, t: [g.choice([b"NOSUCHCMD", b"fz-unknown", b"", b"\x00", b"GE T", b"$4", b"*1"]),
                  *[_value(g) for _ in range(g.randint(0, 3))]],
    lambda g, t: [b"WATCH", _key(g, t, b"s")],
    lambda g, t: [b"UNWATCH"],
    lambda g, t: [b"MULTI"],
    lambda g, t: [b"EXEC"],
    lambda g, t: [b"DISCARD"],
    lambda g, t: [b"PUBLISH", t + b"c", _value(g)],
    lambda g, t: [b"SELECT", b"0"],
]
# Argument parsing of commands whose successful replies differ between the servers by design
# (memory sizes, DUMP payloads, invalidation timing): their refusals and their answers about
# keys that do not exist.
_ARGUMENTS: list[Gen] = [
    lambda g, t: [g.choice([b"SORT", b"SORT_RO"]), _key(g, t, b"l"),
                  *g.choice([[], [b"ALPHA"], [b"DESC", b"ALPHA"], [b"LIMIT", b"0", b"2"],
                             [b"LIMIT", b"x", b"1"], [b"LIMIT", b"0"], [b"BY", b"nosort"],
                             [b"GET", b"#"], [b"BY", b"w_*", b"GET", b"#"], [b"ASC", b"DESC"],
                             [b"STORE"], [b"BADOPT"], [b"ALPHA", b"LIMIT", b"-1", b"-1"]])],
    lambda g, t: [b"SORT", _key(g, t, b"l"), b"STORE", _key(g, t, b"l")],
    lambda g, t: [b"RESTORE", _key(g, t, b"x"), g.choice([b"0", b"-1", b"x", b"100"]),
                  g.choice([b"", b"\x00\x01", _value(g)]),
                  *g.choice([[], [b"REPLACE"], [b"ABSTTL"], [b"IDLETIME", b"x"], [b"FREQ", b"300"],
                             [b"IDLETIME", b"1", b"FREQ", b"1"], [b"BADOPT"]])],
    lambda g, t: [b"MEMORY", b"USAGE", t + b"missing",
                  *g.choice([[], [b"SAMPLES", b"5"], [b"SAMPLES", b"x"], [b"SAMPLES"], [b"X"]])],
    lambda g, t: [b"MEMORY", g.choice([b"NOSUCH", b"USAGE", b"HELP"])],
    lambda g, t: [b"OBJECT", g.choice([b"ENCODING", b"FREQ", b"IDLETIME", b"REFCOUNT", b"NOSUCH"]),
                  t + b"missing"],
    lambda g, t: [b"OBJECT", g.choice([b"ENCODING", b"FREQ"]), _key(g, t, b"s"), b"extra"],
    lambda g, t: [b"CLIENT", b"TRACKING",
                  *g.choice([[b"maybe"], [b"on", b"PREFIX", b"a"], [b"on", b"REDIRECT", b"x"],
                             [b"on", b"REDIRECT", b"999999"], [b"on", b"OPTIN", b"OPTOUT"],
                             [b"on", b"BCAST", b"PREFIX", b"a", b"PREFIX", b"ab"], [b"on", b"X"],
                             [b"off"], [b"off", b"BCAST"], []])],
    lambda g, t: [b"CLIENT", b"CACHING", g.choice([b"yes", b"no", b"maybe"])],
]
_VOCABULARY = _STRINGS + _KEYS + _LISTS + _HASHES + _SETS + _ZSETS + _MISC + _ARGUMENTS


def _argv(rng: random.Random, tag: bytes) -> list[bytes]:
    argv = rng.choice(_VOCABULARY)(rng, tag)
    if argv and rng.random() < 0.3:  # Redis looks command names up case-insensitively
        argv[0] = bytes(c ^ 32 if 65 <= c <= 90 and rng.random() < 0.5 else c for c in argv[0])
    return argv


def _commands(rng: random.Random, tag: bytes, count: int | None = None) -> list[list[bytes]]:
    commands = [_argv(rng, tag) for _ in range(count or rng.randint(1, 8))]
    if rng.random() < 0.12:
        commands = [[b"MULTI"], *commands, [rng.choice([b"EXEC", b"EXEC", b"DISCARD"])]]
    return commands


_PLAIN = re.compile(rb"[^ \t\r\n\x0b\x0c\"'\x00\\]+")
_NAMED = {10: b"\\n", 13: b"\\r", 9: b"\\t", 8: b"\\b", 7: b"\\a", 34: b'\\"', 92: b"\\\\"}


def inline_arg(rng: random.Random, arg: bytes) -> bytes:
    """One argument as sdssplitargs reads it back: bare, "double quoted" or 'single quoted'."""
    if _PLAIN.fullmatch(arg) and arg[:1] != b"*":
        return arg
    if b"\n" not in arg and b"\x00" not in arg and not arg.endswith(b"\\") and rng.random() < 0.3:
        return b"'" + arg.replace(b"'", b"\\'") + b"'"
    out = [b'"']
    for c in arg:
        if c in _NAMED and rng.random() < 0.7:
            out.append(_NAMED[c])
        elif 32 <= c < 127 and c not in (34, 92):
            out.append(bytes([c]))
        else:
            out.append(b"\\x%02x" % c if rng.random() < 0.5 else b"\\x%02X" % c)
    out.append(b'"')
    return b"".join(out)


def _inline(rng: random.Random, argv: list[bytes]) -> bytes:
    sep = rng.choice([b" ", b" ", b" ", b"  ", b"\t", b" \t "])
    lead = rng.choice([b"", b"", b"", b" ", b"\t", b"  "])
    end = rng.choice([b"\r\n", b"\r\n", b"\r\n", b"\n", b" \r\n"])
    return lead + sep.join(inline_arg(rng, a) for a in argv) + end


def _encode(rng: random.Random, commands: list[list[bytes]]) -> bytes:
    out = []
    for argv in commands:
        if not argv or rng.random() < 0.7:
            out.append(multibulk(argv))
        else:
            out.append(_inline(rng, argv))
        if rng.random() < 0.05:  # ignored between requests: empty lines, *0, *-1
            out.append(rng.choice([b"\r\n", b"\n", b"*0\r\n", b"*-1\r\n", b"*-5\r\n", b"  \r\n"]))
    return b"".join(out)


def _well_formed(rng: random.Random, tag: bytes) -> bytes:
    return _encode(rng, _commands(rng, tag))


# -- mutations -----------------------------------------------------------------------------------

_HEADER = re.compile(rb"(?:^|(?<=\n))([*$])([^\r\n]*)\r\n")
_BULK = re.compile(rb"\$(\d{1,9})\r\n")


def _truncate(rng: random.Random, data: bytes, tag: bytes) -> bytes:
    return data[: rng.randrange(len(data))]


def _delete(rng: random.Random, data: bytes, tag: bytes) -> bytes:
    start = rng.randrange(len(data))
    return data[:start] + data[start + rng.randint(1, max(1, min(12, len(data) // 3))):]


def _insert(rng: random.Random, data: bytes, tag: bytes) -> bytes:
    at = rng.randrange(len(data) + 1)
    return data[:at] + bytes(rng.choice(NOISE) for _ in range(rng.randint(1, 4))) + data[at:]


def _replace_byte(rng: random.Random, data: bytes, tag: bytes) -> bytes:
    at = rng.randrange(len(data))
    byte = rng.choice(NOISE) if rng.random() < 0.7 else rng.randrange(256)
    return data[:at] + bytes([byte]) + data[at + 1 :]


def _header_length(rng: random.Random, data: bytes, tag: bytes) -> bytes:
    found = list(_HEADER.finditer(data))
    if not found:
        return _insert(rng, data, tag)
    m = rng.choice(found)
    number = m.group(2)
    if number.lstrip(b"-").isdigit() and len(number) < 19 and rng.random() < 0.4:  # off a bit
        new = b"%d" % (int(number) + rng.choice([-3, -2, -1, 1, 2, 3, 1000]))
    else:
        new = rng.choice(LENGTHS)
    return data[: m.start(2)] + new + data[m.end(2) :]


def _marker(rng: random.Random, data: bytes, tag: bytes) -> bytes:
    found = list(_HEADER.finditer(data))
    if not found:
        return _replace_byte(rng, data, tag)
    m = rng.choice(found)
    return data[: m.start(1)] + bytes([rng.choice(TYPE_MARKERS)]) + data[m.end(1) :]


def _crlf(rng: random.Random, data: bytes, tag: bytes) -> bytes:
    found = [m.start() for m in re.finditer(rb"\r\n", data)]
    if not found:
        return _insert(rng, data, tag)
    at = rng.choice(found)
    return data[:at] + rng.choice(CRLF_REPLACEMENTS) + data[at + 2 :]


def _stray_element(rng: random.Random, data: bytes, tag: bytes) -> bytes:
    """A RESP element that is not a bulk string where a request or an argument may start."""
    found = [m.end() for m in re.finditer(rb"\r\n", data)]
    at = rng.choice(found) if found else 0
    return data[:at] + _stray(rng, tag) + data[at:]


def _trailer(rng: random.Random, data: bytes, tag: bytes) -> bytes:
    """The two bytes after bulk data are skipped unread by Redis: replace them."""
    found = [m for m in _BULK.finditer(data) if m.end() + int(m.group(1)) + 2 <= len(data)]
    if not found:
        return _crlf(rng, data, tag)
    m = rng.choice(found)
    end = m.end() + int(m.group(1))
    new = rng.choice(TRAILERS)
    if rng.random() < 0.5:
        new += _stray(rng, tag)
    return data[:end] + new + data[end + 2 :]


def _duplicate(rng: random.Random, data: bytes, tag: bytes) -> bytes:
    start = rng.randrange(len(data))
    stop = min(len(data), start + rng.randint(1, 40))
    return data[:stop] + data[start:stop] + data[stop:]


_MUTATIONS = {
    "truncate": _truncate, "delete": _delete, "insert": _insert, "byte": _replace_byte,
    "length": _header_length, "marker": _marker, "crlf": _crlf, "stray": _stray_element,
    "trailer": _trailer, "duplicate": _duplicate,
}


def _mutated(rng: random.Random, tag: bytes) -> bytes:
    data = _well_formed(rng, tag)
    for _ in range(rng.choice([1, 1, 1, 2, 2, 3])):
        if data:
            data = _MUTATIONS[rng.choice(list(_MUTATIONS))](rng, data, tag)
    return data


# -- hand-made shapes ----------------------------------------------------------------------------

def _headers(rng: random.Random, tag: bytes) -> bytes:
    """A request whose array or bulk header carries an unusual length."""
    argv = _argv(rng, tag) or [b"PING"]
    body = b"".join(b"$%d\r\n%s\r\n" % (len(a), a) for a in argv)
    length = rng.choice(LENGTHS)
    r = rng.random()
    if r < 0.4:
        data = b"*" + length + b"\r\n" + body
    elif r < 0.8:
        at = rng.randrange(len(argv))
        args = [b"$%d\r\n%s\r\n" % (len(a), a) for a in argv]
        args[at] = b"$" + length + b"\r\n" + argv[at] + b"\r\n"
        data = b"*%d\r\n" % len(argv) + b"".join(args)
    else:
        data = rng.choice([b"*", b"$", b"*1\r\n$"]) + length
        if rng.random() < 0.5:
            data += rng.choice([b"\r", b"\n", b"\r\n", b"\r\n\r\n"])
    if rng.random() < 0.5:
        data = _encode(rng, _commands(rng, tag, 1)) + data
    return data


def _element(rng: random.Random, tag: bytes, depth: int) -> bytes:
    r = rng.random()
    if depth < 3 and r < 0.3:
        n = rng.randint(0, 3)
        return b"*%d\r\n" % n + b"".join(_element(rng, tag, depth + 1) for _ in range(n))
    if r < 0.45:
        return _stray(rng, tag)
    value = rng.choice([b"PING", b"ECHO", tag + b"a", b"", b"GET"])
    return b"$%d\r\n%s\r\n" % (len(value), value)


def _nested(rng: random.Random, tag: bytes) -> bytes:
    """Arrays (and RESP3 aggregates) inside a request: Redis wants bulk strings only."""
    n = rng.randint(1, 4)
    items = [_element(rng, tag, 1) for _ in range(n)]
    items[0] = rng.choice([items[0], b"$4\r\nECHO\r\n", b"$4\r\nPING\r\n"])
    return _encode(rng, _commands(rng, tag, 1)) + b"*%d\r\n" % n + b"".join(items)


_INLINE_TOKENS = [
    b"a", b"bc", b'"a b"', b"'a b'", b'"\\x41\\x42"', b'"\\x4"', b'"\\xZZ"', b'"\\xg1"',
    b'"\\n\\r\\t\\b\\a\\q"', b"'it\\'s'", b"'a\\nb'", b'""', b"''", b'"a"b', b"'a'b", b'"a',
    b"'a", b'a"b c"', b"a'b c'", b'"\\"', b'"\\\\"', b"\\", b'"tab\there"', b"x\x0by", b"x\x0cy",
    b"\x0bx", b"x\x1cy", b'"a"\x0b', b"'a'\x0c", b"x\ry", b"\xff", b'"\\xff\\x00"', b"*",
    b"$", b":1", b'"', b"'", b'"\x00"', b"a\x00b", b"\x00",
]
_INLINE_SPACES = [b" ", b" ", b"\t", b"  ", b"\x0b", b"\x0c", b"\r", b" \x0b ", b"\x1c"]


def _inline_edge(rng: random.Random, tag: bytes) -> bytes:
    """Inline lines: quoting, escapes, every kind of whitespace, NUL, lone CR, missing LF."""
    lines = []
    for _ in range(rng.randint(1, 3)):
        command = rng.choice([b"ECHO", b"PING", b"NOSUCH", b"RPUSH " + tag + b"l", b"SET " + tag
                              + b"s", b"echo", b""])
        tokens = [rng.choice(_INLINE_TOKENS) for _ in range(rng.randint(0, 4))]
        line = command
        for token in tokens:
            line += rng.choice(_INLINE_SPACES) + token
        line = rng.choice([b"", b"", b" ", b"\x0b", b"\t\x0c"]) + line
        line += rng.choice([b"\r\n", b"\r\n", b"\n", b"\r\r\n", b" \r\n", b"\x0b\r\n", b""])
        lines.append(line)
        if line.startswith(b"RPUSH"):
            lines.append(multibulk([b"LRANGE", tag + b"l", b"0", b"-1"]))
    return b"".join(lines)


def _big(rng: random.Random, tag: bytes) -> bytes:
    """Sizes at the limits: 32 KiB+ bulk arguments (Redis's big-argument path), inline lines
    right at 64 KiB, lines over it with no terminator, many arguments, long pipelines."""
    r = rng.random()
    if r < 0.3:
        size = rng.choice([32 * 1024 - 1, 32 * 1024, 32 * 1024 + 1, 65535, 65536, 100_000,
                           rng.randint(1000, 200_000)])
        chunk = bytes(rng.choice(b"abc\r\n\x00") for _ in range(64))
        value = (chunk * (size // 64 + 1))[:size]
        data = multibulk([b"SET", tag + b"s", value]) + multibulk([b"STRLEN", tag + b"s"])
        return _MUTATIONS[rng.choice(["truncate", "trailer", "length", "crlf"])](rng, data, tag) \
            if rng.random() < 0.5 else data
    if r < 0.5:  # an inline line whose content is 64 KiB give or take a few bytes
        size = LINE_LIMIT - rng.randint(0, 8) - 6
        return b"ECHO " + b"a" * size + rng.choice([b"\r\n", b"\n", b"\r\r\n"])
    if r < 0.65:  # longer than 64 KiB without the terminator the parser is looking for
        size = LINE_LIMIT + rng.choice([1, 2, 10, 5000])
        start = rng.choice([b"", b"ECHO ", b"*", b"*1\r\n$", b"*2\r\n$4\r\nECHO\r\n$", b"\x00",
                            b"PING\r\n", b"*1\r\n$4\r\nPING\r\n*"])
        filler = rng.choice([b"1", b"a", b"\x00", b"\xfe", b" "])
        return start + filler * size
    if r < 0.85:
        n = rng.choice([100, 1000, 3000])
        argv = [rng.choice([b"RPUSH", b"DEL", b"MSET", b"EXISTS"]), tag + b"l"]
        argv += [tag + b"%d" % i for i in range(n)]  # MSET's keys too
        data = multibulk(argv) if rng.random() < 0.7 else b" ".join(argv) + b"\r\n"
        return data + multibulk([b"LLEN", tag + b"l"])
    return _encode(rng, [[b"INCR", tag + b"n"]] * rng.choice([100, 1000, 5000]))


def _pubsub(rng: random.Random, tag: bytes) -> bytes:
    """Subscriber mode: which commands are refused, PING's other reply, unsubscribing. (Not
    UNSUBSCRIBE without arguments from several channels, nor two patterns matching one
    channel: Redis walks a hash table for those, in an order that differs between runs.)"""
    single = rng.random() < 0.5
    if single:
        first = rng.choice([[b"SUBSCRIBE", tag + b"c"], [b"PSUBSCRIBE", tag + b"*"]])
    else:
        first = rng.choice([[b"SUBSCRIBE", tag + b"c", tag + b"d"],
                            [b"PSUBSCRIBE", tag + b"[cd]", tag + b"e?"]])
    then = rng.choice([
        [[b"PING"]], [[b"PING", b"x"]], [[b"ECHO", b"x"]], [[b"GET", tag + b"s"]],
        [[b"UNSUBSCRIBE", tag + b"c"], [b"PING"]], [[b"UNSUBSCRIBE", tag + b"x"]],
        [[b"PUNSUBSCRIBE", tag + b"*"], [b"GET", tag + b"s"]], [[b"SUBSCRIBE"]],
        [[b"PUBLISH", tag + b"c", b"m"]], [[b"RESET"], [b"GET", tag + b"s"]], [[b"QUIT"]],
        [[b"MULTI"]], [[b"SUBSCRIBE", tag + b"c"]], [[b"PSUBSCRIBE", tag + b"[cd]"]],
    ])
    if single and rng.random() < 0.3:
        then = [[rng.choice([b"UNSUBSCRIBE", b"PUNSUBSCRIBE"])], *then]
    return _encode(rng, [first, *then])


def _quit(rng: random.Random, tag: bytes) -> bytes:
    """QUIT in a pipeline: what comes after it is never run."""
    before = _commands(rng, tag, rng.randint(0, 3))
    after = _encode(rng, _commands(rng, tag, rng.randint(1, 3)))
    if rng.random() < 0.5:
        after = _mutated(rng, tag)
    return _encode(rng, [*before, [rng.choice([b"QUIT", b"quit"])]]) + after


_FAMILIES: dict[str, tuple[int, Callable[[random.Random, bytes], bytes]]] = {
    "commands": (20, _well_formed),
    "mutated": (38, _mutated),
    "headers": (10, _headers),
    "nested": (6, _nested),
    "inline": (12, _inline_edge),
    "big": (4, _big),
    "pubsub": (5, _pubsub),
    "quit": (5, _quit),
}
