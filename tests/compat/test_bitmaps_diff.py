"""Differential tests of the bit commands (SETBIT GETBIT BITCOUNT BITPOS BITOP BITFIELD
BITFIELD_RO) against redis-server 7.0.15, RESP2 and RESP3.

hypothesis draws sequences over a few keys (one a list, for WRONGTYPE) with offsets, ranges,
field types and values chosen for Redis's edges: negative and huge offsets, `#n` offsets, the
BIT / BYTE units, negative ranges that cross, i64 / u63 limits, every OVERFLOW mode, and values
that overflow up and down. After each sequence every key's bytes (GET) and TTL must match too.
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from tests.compat.test_strings_keys import COMPAT_SETTINGS, sequence

KEYS = [b"b", b"c", b"d", b"l"]  # l holds a list
keys = st.sampled_from(KEYS)
offsets = st.sampled_from([b"0", b"1", b"7", b"8", b"9", b"15", b"63", b"64", b"100", b"-1",
                           b"x", b"80000", b"4294967296", b"", b"#1", b"#0", b"1.5",
                           b"9223372036854775807"])
field_offsets = st.one_of(offsets, st.sampled_from([b"#2", b"#-1", b"#x", b"3", b"5", b"12"]))
bits_values = st.sampled_from([b"0", b"1", b"2", b"-1", b"x", b""])
indexes = st.sampled_from([b"0", b"1", b"2", b"-1", b"-2", b"-3", b"5", b"100", b"-100", b"x",
                           b"9223372036854775807", b"-9223372036854775808", b"7", b"8", b"15"])
units = st.sampled_from([(), (b"BIT",), (b"BYTE",), (b"bit",), (b"BOGUS",)])
types = st.sampled_from([b"u1", b"u2", b"u7", b"u8", b"i1", b"i2", b"i8", b"i16", b"u63",
                         b"i64", b"u64", b"i65", b"u0", b"x8", b"", b"i", b"u16"])
numbers = st.sampled_from([b"0", b"1", b"-1", b"3", b"100", b"-100", b"127", b"128", b"255",
                           b"256", b"9223372036854775807", b"-9223372036854775808", b"x",
                           b"1.5"])
overflows = st.sampled_from([b"WRAP", b"SAT", b"FAIL", b"sat", b"BOGUS"])
field_ops = st.one_of(
    st.tuples(st.just(b"GET"), types, field_offsets),
    st.tuples(st.sampled_from([b"SET", b"INCRBY", b"incrby"]), types, field_offsets, numbers),
    st.tuples(st.just(b"OVERFLOW"), overflows),
    st.sampled_from([(b"GET", b"u8"), (b"BOGUS",), (b"SET", b"u8", b"0")]))
field_ops_list = st.lists(field_ops, max_size=4).map(lambda ops: tuple(a for op in ops for a in op))
range_args = st.one_of(st.just(()), st.tuples(indexes), st.tuples(indexes, indexes),
                       st.tuples(indexes, indexes, units).map(lambda t: (*t[:2], *t[2])))

bit_commands = st.one_of(
    sequence(b"SETBIT", keys, offsets, bits_values),
    sequence(b"GETBIT", keys, offsets),
    sequence(b"BITCOUNT", keys, range_args),
    sequence(b"BITPOS", keys, bits_values, range_args),
    sequence(b"BITOP", st.sampled_from([b"AND", b"or", b"XOR", b"NOT", b"nand"]), keys,
             st.lists(keys, min_size=0, max_size=3).map(tuple)),
    sequence(b"BITFIELD", keys, field_ops_list),
    sequence(b"BITFIELD_RO", keys, field_ops_list),
    sequence(b"SET", keys, st.sampled_from([b"", b"\xff", b"\x00\x01", b"foobar", b"\xff" * 9,
                                            b"\x80\x00\x00\x01"])),
    sequence(b"APPEND", keys, st.sampled_from([b"\xf0", b"abc"])),
    sequence(b"EXPIRE", keys, st.just(b"100")),
)


def run_sequence(differ, commands):  # type: ignore[no-untyped-def]
    differ.reset()
    differ.check(b"RPUSH", b"l", b"x")
    for args in commands:
        differ.check(*args)
    for key in KEYS:
        differ.check(b"GET", key)
        differ.check(b"TTL", key)


@settings(COMPAT_SETTINGS, max_examples=150)
@given(st.lists(bit_commands, min_size=1, max_size=12))
def test_bit_sequences(differ, commands):
    run_sequence(differ, commands)


def test_hand_written_edges(differ):
    run_sequence(differ, [
        (b"SETBIT", b"b", b"7", b"1"), (b"SETBIT", b"b", b"7", b"1"),
        (b"SETBIT", b"b", b"100", b"0"),
        (b"BITPOS", b"b", b"0"), (b"BITPOS", b"b", b"1", b"0", b"-1", b"BIT"),
        (b"BITPOS", b"b", b"0", b"0", b"0"), (b"SET", b"c", b"\xff\xff"),
        (b"BITPOS", b"c", b"0"), (b"BITPOS", b"c", b"0", b"0"),
        (b"BITPOS", b"c", b"0", b"0", b"-1"),
        (b"BITPOS", b"c", b"0", b"3", b"12", b"BIT"), (b"BITPOS", b"missing", b"0"),
        (b"BITPOS", b"missing", b"1"), (b"BITPOS", b"c", b"2"),
        (b"BITCOUNT", b"c", b"-1", b"-2"), (b"BITCOUNT", b"c", b"1", b"13", b"BIT"),
        (b"BITCOUNT", b"c", b"0"), (b"BITCOUNT", b"missing", b"0"),
        (b"BITFIELD", b"d", b"OVERFLOW", b"FAIL", b"INCRBY", b"u2", b"100", b"9"),
        (b"BITFIELD", b"d", b"OVERFLOW", b"SAT", b"SET", b"u8", b"0", b"-5", b"SET", b"i8", b"8",
         b"-500", b"INCRBY", b"i64", b"16", b"9223372036854775807", b"INCRBY", b"i64", b"16",
         b"1", b"OVERFLOW", b"WRAP", b"INCRBY", b"u63", b"#3", b"-1", b"GET", b"i64", b"16"),
        (b"GET", b"d"),
        (b"BITFIELD", b"d", b"SET", b"u8", b"#1", b"255", b"INCRBY", b"u8", b"#1", b"1",
         b"INCRBY", b"i5", b"3", b"-20", b"GET", b"u64", b"0"), (b"GET", b"d"),
        (b"BITFIELD", b"d", b"OVERFLOW", b"SAT", b"INCRBY", b"u4", b"0", b"-100", b"INCRBY",
         b"i4", b"4", b"100", b"INCRBY", b"i4", b"4", b"-100", b"OVERFLOW", b"WRAP", b"SET",
         b"i3", b"9", b"-9", b"SET", b"u3", b"12", b"-9"), (b"GET", b"d"),
        (b"BITFIELD_RO", b"d", b"GET", b"i3", b"5", b"GET", b"u7", b"1000"),
        (b"BITOP", b"NOT", b"e", b"d"), (b"BITOP", b"AND", b"d", b"missing", b"missing2"),
        (b"EXISTS", b"d"), (b"BITOP", b"NOT", b"e", b"c", b"d"), (b"BITOP", b"XOR", b"e", b"l"),
        (b"GETBIT", b"l", b"0"), (b"SETBIT", b"l", b"0", b"1"), (b"BITFIELD", b"l", b"GET", b"u8",
                                                              b"0"),
        (b"SETBIT", b"c", b"4294967296", b"1"), (b"GET", b"e"),
    ])
