"""Differential tests of the string, generic key and expiry commands against redis-server 7.0.

hypothesis draws command sequences over a small key alphabet (so commands collide on the same
keys) and awkward arguments (numbers Redis rejects, binary bytes, bad option mixes, wrong
arity); every reply must equal redis-server's byte for byte, in RESP2 and in RESP3.

Expiry without sleeping: relative times are long (the key cannot expire during an example),
absolute ones are far in the past or the future; sub-second expiry is in tests/commands.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.compat.differ import Differ

KEYS = [b"a", b"b", b"c", b"ab", b"", b"*", b"[", b"\\", b"a]", b"-", b"\x00\xff"]
NUMBERS = [
    b"0", b"1", b"-1", b"10", b"42", b"-0", b"01", b"+1", b" 1", b"1 ", b"0x10", b"1.5", b"1e3",
    b"1.", b".5", b"3.0", b"-1.5e-3", b"inf", b"-inf", b"+inf", b"nan", b"1_000",
    b"9223372036854775807", b"-9223372036854775808", b"9223372036854775808",
    b"-9223372036854775809", b"12345678901234567890123", b"1e308", b"-1e308", b"5e-324",
    b"0.1", b"1.7976931348623157e308", b"10000", b"9999", b"100", b"-100",
]
VALUES = NUMBERS + [b"", b"abc", b"hello world", b"\x00\xff\r\n", b"x" * 44, b"y" * 45]

# Times that cannot expire during an example: long relative ones, absolute ones long past or
# far ahead; plus zero, negatives, overflow and non-numbers.
_BAD_TIMES = [b"0", b"-1", b"-100", b"abc", b"1.5", b"", b"9223372036854775807",
              b"-9223372036854775808", b"9223370399119966", b"9223372036854776"]
RELATIVE_SECONDS = [b"1000", b"86400", *_BAD_TIMES]
RELATIVE_MS = [b"1000000", b"86400000", *_BAD_TIMES]
ABSOLUTE_SECONDS = [b"1", b"1000", b"4102444800", *_BAD_TIMES]
ABSOLUTE_MS = [b"1", b"1000", b"4102444800000", *_BAD_TIMES]

keys = st.sampled_from(KEYS)
values = st.sampled_from(VALUES)
numbers = st.sampled_from(NUMBERS)


def sequence(*parts):  # type: ignore[no-untyped-def]
    """A strategy for one command: each part a strategy of bytes or of a tuple of bytes."""
    def flatten(drawn):  # type: ignore[no-untyped-def]
        args: list[bytes] = []
        for part in drawn:
            args.extend(part if isinstance(part, tuple) else (part,))
        return tuple(args)
    return st.tuples(*(p if isinstance(p, st.SearchStrategy) else st.just(p) for p in parts)).map(
        flatten)


def timed(unit: bytes, times: list[bytes]):  # type: ignore[no-untyped-def]
    return st.tuples(st.just(unit), st.sampled_from(times))


set_option = st.one_of(
    st.sampled_from([(b"NX",), (b"XX",), (b"GET",), (b"KEEPTTL",), (b"nx",), (b"get",),
                     (b"BOGUS",), (b"EX",), (b"PX",)]),
    timed(b"EX", RELATIVE_SECONDS), timed(b"PX", RELATIVE_MS),
    timed(b"EXAT", ABSOLUTE_SECONDS), timed(b"PXAT", ABSOLUTE_MS),
    timed(b"ex", RELATIVE_SECONDS),
)
getex_option = st.one_of(
    st.sampled_from([(b"PERSIST",), (b"persist",), (b"NX",), (b"KEEPTTL",), (b"EX",)]),
    timed(b"EX", RELATIVE_SECONDS), timed(b"PX", RELATIVE_MS),
    timed(b"EXAT", ABSOLUTE_SECONDS), timed(b"PXAT", ABSOLUTE_MS),
)
expire_flags = st.lists(st.sampled_from([b"NX", b"XX", b"GT", b"LT", b"gt", b"FOO"]), max_size=3)


def flat_options(option_strategy, max_size: int = 3):  # type: ignore[no-untyped-def]
    return st.lists(option_strategy, max_size=max_size).map(
        lambda opts: tuple(arg for opt in opts for arg in opt))


def expire_command(name: bytes, times: list[bytes]):  # type: ignore[no-untyped-def]
    return sequence(name, keys, st.sampled_from(times), expire_flags.map(tuple))


pattern_pieces = [b"*", b"?", b"a", b"b", b"[a-c]", b"[^a]", b"[c-a]", b"[a-]", b"\\", b"\\*",
                  b"[", b"]", b"[\\]]", b"-", b"^", b"[ab", b"[^", b"\\[", b"\x00"]
patterns = st.lists(st.sampled_from(pattern_pieces), max_size=5).map(b"".join)

string_commands = st.one_of(
    sequence(b"GET", keys),
    sequence(b"SET", keys, values),
    sequence(b"SET", keys, values, flat_options(set_option)),
    sequence(b"SETNX", keys, values),
    sequence(b"SETEX", keys, st.sampled_from(RELATIVE_SECONDS), values),
    sequence(b"PSETEX", keys, st.sampled_from(RELATIVE_MS), values),
    sequence(b"GETSET", keys, values),
    sequence(b"GETDEL", keys),
    sequence(b"GETEX", keys, flat_options(getex_option, 2)),
    sequence(b"MGET", st.lists(keys, min_size=1, max_size=4).map(tuple)),
    sequence(b"MSET", st.lists(st.tuples(keys, values), min_size=1, max_size=3).map(
        lambda pairs: tuple(x for pair in pairs for x in pair))),
    sequence(b"MSETNX", st.lists(st.tuples(keys, values), min_size=1, max_size=3).map(
        lambda pairs: tuple(x for pair in pairs for x in pair))),
    sequence(b"APPEND", keys, values),
    sequence(b"STRLEN", keys),
    sequence(st.sampled_from([b"INCR", b"DECR"]), keys),
    sequence(st.sampled_from([b"INCRBY", b"DECRBY", b"INCRBYFLOAT"]), keys, numbers),
    sequence(st.sampled_from([b"GETRANGE", b"SUBSTR"]), keys, numbers, numbers),
    sequence(b"SETRANGE", keys, st.sampled_from([b"0", b"1", b"3", b"10", b"-1", b"x",
                                                 b"536870912"]), values),
)

key_commands = st.one_of(
    sequence(st.sampled_from([b"DEL", b"UNLINK", b"EXISTS", b"TOUCH"]),
             st.lists(keys, min_size=1, max_size=3).map(tuple)),
    sequence(b"TYPE", keys),
    sequence(b"KEYS", patterns),
    sequence(b"SCAN", st.sampled_from([b"0", b"", b"-0", b"+0", b"00", b"-", b"x", b" 0", b"0 ",
                                       b"18446744073709551616", b"-18446744073709551616"]),
             flat_options(st.one_of(
        st.tuples(st.just(b"MATCH"), patterns),
        st.tuples(st.just(b"COUNT"), st.sampled_from([b"1", b"2", b"100", b"0", b"-1", b"x"])),
        st.tuples(st.just(b"TYPE"), st.sampled_from([b"string", b"STRING", b"list", b"x"])),
        st.just((b"BOGUS",))), 2)),
    sequence(st.sampled_from([b"RENAME", b"RENAMENX"]), keys, keys),
    sequence(b"COPY", keys, keys, flat_options(st.sampled_from(
        [(b"REPLACE",), (b"DB", b"1"), (b"DB", b"0"), (b"DB", b"16"), (b"DB", b"x"), (b"DB",),
         (b"X",)]), 2)),
    sequence(b"MOVE", keys, st.sampled_from([b"0", b"1", b"2", b"16", b"-1", b"x"])),
    sequence(b"DBSIZE"),
    sequence(b"RANDOMKEY"),
    sequence(b"FLUSHDB", st.sampled_from([(), (b"ASYNC",), (b"sync",), (b"x",)])),
    sequence(b"SWAPDB", st.sampled_from([b"0", b"1", b"2", b"16", b"x"]),
             st.sampled_from([b"0", b"1", b"-1"])),
    sequence(b"SELECT", st.sampled_from([b"0", b"1", b"2", b"16", b"-1", b"x"])),
    sequence(b"OBJECT", st.sampled_from([b"ENCODING", b"REFCOUNT", b"encoding"]), keys),
)

expiry_commands = st.one_of(
    expire_command(b"EXPIRE", RELATIVE_SECONDS),
    expire_command(b"PEXPIRE", RELATIVE_MS),
    expire_command(b"EXPIREAT", ABSOLUTE_SECONDS),
    expire_command(b"PEXPIREAT", ABSOLUTE_MS),
    sequence(st.sampled_from([b"TTL", b"PTTL", b"EXPIRETIME", b"PEXPIRETIME", b"PERSIST"]),
             keys),
)

ARITY_NAMES = [b"GET", b"SET", b"SETNX", b"SETEX", b"PSETEX", b"GETSET", b"GETDEL", b"GETEX",
               b"MGET", b"MSET", b"MSETNX", b"APPEND", b"STRLEN", b"INCR", b"DECR", b"INCRBY",
               b"DECRBY", b"INCRBYFLOAT", b"GETRANGE", b"SETRANGE", b"SUBSTR", b"DEL", b"UNLINK",
               b"EXISTS", b"TYPE", b"KEYS", b"SCAN", b"RENAME", b"RENAMENX", b"COPY", b"MOVE",
               b"TOUCH", b"DBSIZE", b"FLUSHDB", b"SWAPDB", b"SELECT", b"EXPIRE", b"PEXPIRE",
               b"EXPIREAT", b"PEXPIREAT", b"TTL", b"PTTL", b"EXPIRETIME", b"PEXPIRETIME",
               b"PERSIST", b"OBJECT", b"RANDOMKEY"]
# Any command with 0-4 arguments drawn from everything above: wrong arity and syntax errors.
any_arity = sequence(st.sampled_from(ARITY_NAMES),
                     st.lists(st.sampled_from(KEYS + VALUES[:8] + [b"NX", b"EX", b"ENCODING"]),
                              max_size=4).map(tuple))

commands = st.one_of(string_commands, key_commands, expiry_commands, any_arity)

COMPAT_SETTINGS = settings(max_examples=150, deadline=None, stateful_step_count=20,
                           suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                  HealthCheck.too_slow])


# valkdb stores a string as plain bytes, so it cannot tell a value these commands made (raw, or
# embstr for INCRBYFLOAT, or an unshared int for COPY) from one SET made: OBJECT ENCODING and
# REFCOUNT are only compared in sequences without them (test_object_encoding_after_append
# records the known divergence).
ENCODING_CHANGERS = {b"APPEND", b"SETRANGE", b"INCRBYFLOAT", b"COPY"}


def run_sequence(differ: Differ, sequence_: list[tuple[bytes, ...]]) -> None:
    differ.reset()
    encodings_comparable = True
    for args in sequence_:
        name = args[0].upper()
        encodings_comparable = encodings_comparable and name not in ENCODING_CHANGERS
        if name == b"OBJECT" and not encodings_comparable:
            ours, theirs = differ.both(*args)
            assert ours[:1] == theirs[:1], differ.history
        else:
            differ.check(*args)
    check_final_state(differ, encodings_comparable)


def check_final_state(differ: Differ, encodings_comparable: bool) -> None:
    """Whatever the sequence's replies looked at, the data left behind must agree too."""
    for db in (b"0", b"1"):
        differ.check(b"SELECT", db)
        differ.check(b"SCAN", b"0", b"COUNT", b"3")
        differ.check(b"DBSIZE")
        for key in KEYS:
            differ.check(b"GET", key)
            differ.check(b"TYPE", key)
            differ.check(b"PTTL", key)
            if encodings_comparable:
                differ.check(b"OBJECT", b"ENCODING", key)
                differ.check(b"OBJECT", b"REFCOUNT", key)


@COMPAT_SETTINGS
@given(st.lists(string_commands, min_size=1, max_size=20))
def test_string_sequences(differ, sequence_):
    run_sequence(differ, sequence_)


@COMPAT_SETTINGS
@given(st.lists(st.one_of(string_commands, key_commands), min_size=1, max_size=20))
def test_key_sequences(differ, sequence_):
    run_sequence(differ, sequence_)


@COMPAT_SETTINGS
@given(st.lists(st.one_of(expiry_commands, string_commands, key_commands), min_size=1,
                max_size=20))
def test_expiry_sequences(differ, sequence_):
    run_sequence(differ, sequence_)


@settings(COMPAT_SETTINGS, max_examples=100)
@given(st.lists(commands, min_size=1, max_size=10))
def test_wrong_arity_and_syntax(differ, sequence_):
    run_sequence(differ, sequence_)


@pytest.fixture
def many_keys(differ):
    """Both servers holding keys made of the glob's special characters."""
    differ.reset()
    names = [b"".join(p) for p in
             [(a, b) for a in (b"a", b"b", b"c", b"[", b"]", b"\\", b"-", b"^", b"*", b"?", b"")
              for b in (b"", b"a", b"b", b"c", b"]", b"\\", b"-", b"x")]]
    args = [x for name in names for x in (name, b"v")]
    differ.check(b"MSET", *args)
    return differ


@settings(COMPAT_SETTINGS, max_examples=200)
@given(patterns)
def test_glob_patterns(many_keys, pattern):
    many_keys.history.clear()
    many_keys.check(b"KEYS", pattern)
    many_keys.check(b"SCAN", b"0", b"MATCH", pattern, b"COUNT", b"7")


@pytest.mark.xfail(strict=True, reason="valkdb keeps no per-value encoding: see ENCODING_CHANGERS")
def test_object_encoding_after_append(differ):
    differ.reset()
    differ.check(b"SET", b"a", b"1")
    differ.check(b"APPEND", b"a", b"2")
    differ.check(b"OBJECT", b"ENCODING", b"a")
