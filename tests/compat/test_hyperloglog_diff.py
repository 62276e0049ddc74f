"""Differential tests of the HyperLogLog commands (PFADD PFCOUNT PFMERGE PFDEBUG PFSELFTEST)
against redis-server 7.0.15, RESP2 and RESP3.

An HLL is a plain string, so the main check is that its bytes (GET) equal Redis's after the same
commands: sparse opcodes split and merged as Redis does, promotion to dense at
hll-sparse-max-bytes, the cached cardinality PFCOUNT writes into the header. hypothesis mixes in
plain string writes that corrupt HLLs (SET of fake headers, APPEND, SETRANGE into the registers),
wrong types and arity errors; every reply must match too.
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from tests.compat.test_strings_keys import COMPAT_SETTINGS, sequence

KEYS = [b"h1", b"h2", b"h3", b"l"]  # l holds a list
keys = st.sampled_from(KEYS)
element = st.integers(0, 400).map(lambda i: b"e%d" % i)
elements = st.lists(element, max_size=5).map(tuple)
# Many elements at once: enough to outgrow a sparse encoding (or hll-sparse-max-bytes).
batch = st.tuples(st.integers(0, 5000), st.sampled_from([40, 300, 1200])).map(
    lambda t: tuple(b"b%d" % i for i in range(t[0], t[0] + t[1])))

_EMPTY_SPARSE = b"HYLL\x01\x00\x00\x00" + bytes(8) + b"\x7f\xff"
FAKE_VALUES = [
    b"hello", b"HYLL", b"HYLL\x01\x00\x00\x00" + bytes(7), _EMPTY_SPARSE,
    b"HYLL\x02\x00\x00\x00" + bytes(8) + b"\x7f\xff",  # unknown encoding
    b"HYLL\x00\x00\x00\x00" + bytes(8) + b"\x7f\xff",  # dense of the wrong size
    b"HYLL\x01\x00\x00\x00" + bytes(8),  # sparse with no opcodes
    b"HYLL\x01\x00\x00\x00" + bytes(8) + b"\x7f\xfe",  # covers one register too few
    b"HYLL\x01\x00\x00\x00" + bytes(8) + b"\x7f\xfe\x00\x00",  # one too many
    b"HYLL\x01\x00\x00\x00" + bytes(8) + b"\x7f\xfb\x84\x88\x00",  # VAL opcodes, then ZERO
    b"HYLL\x01\x00\x00\x00" + bytes(8) + b"\x7f\xfb\x8f\x7f",  # ends in half an XZERO
    # Runs past the last register (errors in Debian's 7.0.15, patched for CVE-2025-32023):
    b"HYLL\x01\x00\x00\x00" + bytes(8) + b"\x7f\xff\x80",  # a VAL after all 16384
    b"HYLL\x01\x00\x00\x00" + bytes(8) + b"\x7f\xfe\x01",  # a ZERO across the end
    b"HYLL\x01\x00\x00\x00" + bytes(8) + b"\x7f\xfe\x81",  # a VAL across the end
    b"HYLL\x01\x00\x00\x00\x05\x00\x00\x00\x00\x00\x00\x00\x7f\xff",  # a cached count of 5
    b"HYLL\x00\x00\x00\x00" + bytes(7) + b"\x80" + b"\x41" * 12288,  # dense, stale cache
    b"HYLL\x00\x00\x00\x00" + bytes(7) + b"\x80" + b"\xff" * 12288,  # registers of 63
]
patches = st.sampled_from([b"\x00", b"x", b"\xff", b"\x80\x81", b"\x01", b"\x7f", b"\x40"])
offsets = st.sampled_from([b"4", b"15", b"16", b"17", b"18", b"19", b"20", b"100", b"5000"])
max_bytes = st.sampled_from([b"0", b"30", b"100", b"3000"])

hll_commands = st.one_of(
    sequence(b"PFADD", keys, elements),
    sequence(b"PFADD", keys, batch),
    sequence(b"PFCOUNT", keys),
    sequence(b"PFCOUNT", keys, st.lists(keys, min_size=1, max_size=3).map(tuple)),
    sequence(b"PFMERGE", keys, st.lists(keys, max_size=3).map(tuple)),
    sequence(b"GET", keys),
    sequence(b"SET", keys, st.sampled_from(FAKE_VALUES)),
    sequence(b"APPEND", keys, patches),
    sequence(b"SETRANGE", keys, offsets, patches),
    sequence(b"PFDEBUG", st.sampled_from([b"DECODE", b"ENCODING", b"todense", b"BOGUS"]), keys),
    sequence(b"EXPIRE", keys, st.just(b"100")),
    sequence(b"CONFIG", b"SET", b"hll-sparse-max-bytes", max_bytes),
    st.sampled_from([(b"PFADD",), (b"PFCOUNT",), (b"PFMERGE",), (b"PFDEBUG", b"DECODE"),
                     (b"PFDEBUG", b"GETREG", b"h1", b"x"), (b"PFSELFTEST", b"x")]),
)


def run_sequence(differ, commands):  # type: ignore[no-untyped-def]
    differ.reset()
    differ.check(b"CONFIG", b"SET", b"hll-sparse-max-bytes", b"3000")
    try:
        differ.check(b"RPUSH", b"l", b"x")
        for args in commands:
            differ.check(*args)
        for key in KEYS:
            differ.check(b"GET", key)
            differ.check(b"TTL", key)
            differ.check(b"PFDEBUG", b"ENCODING", key)
    finally:
        differ.both(b"CONFIG", b"SET", b"hll-sparse-max-bytes", b"3000")


@settings(COMPAT_SETTINGS, max_examples=150)
@given(st.lists(hll_commands, min_size=1, max_size=12))
def test_hll_sequences(differ, commands):
    run_sequence(differ, commands)


def _many(prefix: bytes, n: int) -> tuple[bytes, ...]:
    return tuple(prefix + b"%d" % i for i in range(n))


def test_sparse_to_dense_promotion(differ):
    """Growing one element at a time through the whole sparse range, then past 32 (a value
    only dense can hold), under the default and a small hll-sparse-max-bytes."""
    commands: list[tuple[bytes, ...]] = []
    for i in range(0, 1600, 50):
        commands += [(b"PFADD", b"h1", *_many(b"s%d-" % i, 50)), (b"PFCOUNT", b"h1"),
                     (b"GET", b"h1")]
    commands += [(b"CONFIG", b"SET", b"hll-sparse-max-bytes", b"60"),
                 (b"PFADD", b"h2", *_many(b"t", 30)), (b"GET", b"h2"),
                 (b"PFDEBUG", b"DECODE", b"h2"), (b"PFADD", b"h2", *_many(b"u", 30)),
                 (b"PFDEBUG", b"ENCODING", b"h2"), (b"PFMERGE", b"h3", b"h2"),
                 (b"PFMERGE", b"h2", b"h1"), (b"PFCOUNT", b"h1", b"h2", b"h3")]
    run_sequence(differ, commands)


def test_merge_and_union(differ):
    run_sequence(differ, [
        (b"PFMERGE", b"h1"), (b"GET", b"h1"), (b"PFMERGE", b"h2", b"missing"),
        (b"PFADD", b"h1", *_many(b"a", 200)), (b"PFADD", b"h2", *_many(b"b", 5000)),
        (b"PFCOUNT", b"h1", b"h2"), (b"PFCOUNT", b"h1", b"h1"), (b"PFMERGE", b"h3", b"h1"),
        (b"PFDEBUG", b"ENCODING", b"h3"), (b"PFMERGE", b"h3", b"h2", b"h1"),
        (b"PFCOUNT", b"h3"), (b"PFCOUNT", b"h3"), (b"PFADD", b"h3", b"a1"), (b"GET", b"h3"),
        (b"PFMERGE", b"h1", b"l"), (b"PFMERGE", b"l", b"h1"), (b"PFCOUNT", b"h1", b"l"),
        (b"SET", b"h1", b"hello"), (b"PFMERGE", b"h2", b"h1"), (b"PFCOUNT", b"h2", b"h1"),
    ])


def test_debug_and_corruption(differ):
    run_sequence(differ, [
        (b"PFDEBUG", b"ENCODING", b"h1"), (b"PFDEBUG", b"BOGUS", b"h1"),
        (b"PFADD", b"h1", b"a", b"b", b"c"), (b"PFDEBUG", b"DECODE", b"h1"),
        (b"PFDEBUG", b"BOGUS", b"h1"), (b"PFDEBUG", b"x\x00y", b"h1"),
        (b"PFDEBUG", b"encoding\x00x", b"h1"),
        (b"PFDEBUG", b"GETREG", b"h1"), (b"PFDEBUG", b"ENCODING", b"h1"),
        (b"PFDEBUG", b"DECODE", b"h1"), (b"PFDEBUG", b"TODENSE", b"h1"),
        (b"PFDEBUG", b"GETREG", b"l"), (b"SET", b"h2", FAKE_VALUES[7]),
        (b"PFDEBUG", b"TODENSE", b"h2"), (b"PFDEBUG", b"GETREG", b"h2"),
        (b"PFCOUNT", b"h2"), (b"PFADD", b"h2", *_many(b"x", 20)), (b"GET", b"h2"),
        (b"SET", b"h3", _EMPTY_SPARSE), (b"SETRANGE", b"h3", b"16", b"x"),
        (b"PFADD", b"h3", *_many(b"y", 40)), (b"GET", b"h3"), (b"PFDEBUG", b"DECODE", b"h3"),
        (b"SET", b"h3", FAKE_VALUES[-1]), (b"PFCOUNT", b"h3"), (b"GET", b"h3"),
        (b"PFCOUNT", b"h3", b"h1"), (b"SET", b"h3", FAKE_VALUES[10]),
        (b"PFADD", b"h3", *_many(b"z", 40)), (b"GET", b"h3"), (b"PFDEBUG", b"DECODE", b"h3"),
    ])


def test_selftest(differ):
    assert differ.check(b"PFSELFTEST") == b"+OK\r\n"
