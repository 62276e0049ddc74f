"""Differential tests of the hash and set commands against redis-server 7.0.

hypothesis draws command sequences over a few keys (one of them a string, for WRONGTYPE) and
small alphabets of fields, members and numbers chosen to hit Redis's edge cases: integers in and
out of string2ll's strict form (intset or not), long values (listpack -> hashtable), bad counts,
cursors and options, wrong arity. Every reply must equal redis-server's, in RESP2 and RESP3.

What Redis leaves open is compared loosely (tests/compat/differ.py): the order of a hashtable's
members, a full SSCAN / HSCAN iteration instead of opaque cursors, and the shape of random
replies. Random replies are then checked here for membership, and after an SPOP that popped
different members the two servers are brought back in step (see `_spop`). The "ordered" suite
uses only integer members and short hash fields, whose orders Redis does fix (an intset is
sorted, a listpack keeps insertion order), and compares every reply byte for byte.

Both encodings thresholds are exercised: the default ones, and tiny ones (CONFIG SET on both
servers) so that small sequences cross them.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.compat.differ import Differ, Divergence
from tests.compat.resp import RawConnection, bulk_value, elements
from tests.compat.test_strings_keys import COMPAT_SETTINGS, flat_options, sequence

HASH_KEYS = [b"h", b"g", b"s", b"str"]
SET_KEYS = [b"s", b"t", b"u", b"h", b"str"]
ALL_KEYS = sorted(set(HASH_KEYS + SET_KEYS))
MEMBERS = [b"1", b"2", b"3", b"-1", b"10", b"0", b"01", b"-0", b"+1", b"a", b"b", b"",
           b"\x00\xff", b"9223372036854775807", b"-9223372036854775808",
           b"9223372036854775808", b"x" * 70]
FIELDS = [b"f", b"g", b"1", b"", b"\x00", b"k" * 70]
VALUES = [b"0", b"1", b"-5", b"10", b"1.5", b"abc", b"", b"9223372036854775807",
          b"-9223372036854775808", b"1e400", b"inf", b" 1", b"0x10", b"01", b"v" * 70]
INCREMENTS = [b"1", b"-1", b"0", b"100", b"9223372036854775807", b"-9223372036854775808", b"x",
              b"1.5", b"", b"inf", b"-inf", b"nan", b"1e308", b"0x10", b"5e-324", b"-0.5"]
# Never a huge negative count: Redis would write that many picks (an endless reply).
RANDOM_COUNTS = [b"0", b"1", b"2", b"3", b"5", b"100", b"-1", b"-2", b"-5", b"x", b"1.5", b"",
                 b"-9223372036854775808", b"9223372036854775807"]
POP_COUNTS = [b"0", b"1", b"2", b"3", b"4", b"5", b"100", b"-1", b"x", b"9223372036854775807"]
CURSORS = [b"0", b"1", b"5", b"x", b"-1", b"18446744073709551616", b""]
PATTERNS = [b"*", b"1*", b"?", b"[a-z]*", b"", b"f*", b"*1"]

scan_options = flat_options(st.one_of(
    st.tuples(st.just(b"COUNT"), st.sampled_from([b"1", b"2", b"100", b"0", b"-1", b"x"])),
    st.tuples(st.just(b"MATCH"), st.sampled_from(PATTERNS)),
    st.sampled_from([(b"TYPE", b"set"), (b"BOGUS",), (b"COUNT",)])), 2)


def hash_commands_from(keys, fields, values, increments):  # type: ignore[no-untyped-def]
    some = st.lists(fields, min_size=1, max_size=3).map(tuple)
    pairs = st.lists(st.tuples(fields, values), min_size=1, max_size=3).map(
        lambda drawn: tuple(x for pair in drawn for x in pair))
    return st.one_of(
        sequence(st.sampled_from([b"HSET", b"HMSET"]), keys, pairs),
        sequence(b"HSETNX", keys, fields, values),
        sequence(st.sampled_from([b"HGET", b"HEXISTS", b"HSTRLEN"]), keys, fields),
        sequence(st.sampled_from([b"HMGET", b"HDEL"]), keys, some),
        sequence(st.sampled_from([b"HGETALL", b"HKEYS", b"HVALS", b"HLEN"]), keys),
        sequence(st.sampled_from([b"HINCRBY", b"HINCRBYFLOAT"]), keys, fields, increments),
        sequence(b"HRANDFIELD", keys),
        sequence(b"HRANDFIELD", keys, st.sampled_from(RANDOM_COUNTS),
                 st.sampled_from([(), (b"WITHVALUES",), (b"withvalues",), (b"BOGUS",),
                                  (b"WITHVALUES", b"x")])),
        sequence(b"HSCAN", keys, st.sampled_from(CURSORS), scan_options),
    )


def set_commands_from(keys, members):  # type: ignore[no-untyped-def]
    some_keys = st.lists(keys, min_size=1, max_size=3).map(tuple)
    some = st.lists(members, min_size=1, max_size=4).map(tuple)
    return st.one_of(
        sequence(st.sampled_from([b"SADD", b"SREM", b"SMISMEMBER"]), keys, some),
        sequence(st.sampled_from([b"SMEMBERS", b"SCARD", b"SPOP", b"SRANDMEMBER"]), keys),
        sequence(b"SISMEMBER", keys, members),
        sequence(b"SPOP", keys, st.sampled_from(POP_COUNTS)),
        sequence(b"SRANDMEMBER", keys, st.sampled_from(RANDOM_COUNTS)),
        sequence(b"SMOVE", keys, keys, members),
        sequence(st.sampled_from([b"SINTER", b"SUNION", b"SDIFF"]), some_keys),
        sequence(st.sampled_from([b"SINTERSTORE", b"SUNIONSTORE", b"SDIFFSTORE"]), keys,
                 some_keys),
        sequence(b"SINTERCARD", st.sampled_from([b"1", b"2", b"3", b"0", b"x", b"5"]),
                 some_keys, st.sampled_from([(), (b"LIMIT", b"1"), (b"limit", b"0"),
                                             (b"LIMIT", b"-1"), (b"LIMIT", b"x"), (b"LIMIT",),
                                             (b"BOGUS",), (b"LIMIT", b"2", b"LIMIT", b"5")])),
        sequence(b"SSCAN", keys, st.sampled_from(CURSORS), scan_options),
    )


hash_commands = hash_commands_from(st.sampled_from(HASH_KEYS), st.sampled_from(FIELDS),
                                   st.sampled_from(VALUES), st.sampled_from(INCREMENTS))
set_commands = set_commands_from(st.sampled_from(SET_KEYS), st.sampled_from(MEMBERS))
other_commands = st.one_of(
    sequence(st.sampled_from([b"DEL", b"TYPE", b"EXISTS"]), st.sampled_from(ALL_KEYS)),
    sequence(b"OBJECT", b"ENCODING", st.sampled_from(ALL_KEYS)),
    sequence(b"COPY", st.sampled_from(ALL_KEYS), st.sampled_from(ALL_KEYS)),
)

# Integers only (every set an intset) and short fields and values (every hash a listpack): the
# orders Redis fixes, compared byte for byte.
ORDERED_MEMBERS = [b"1", b"2", b"3", b"5", b"-1", b"0", b"10", b"100", b"-7", b"42"]
ordered_commands = st.one_of(
    hash_commands_from(st.sampled_from([b"h", b"g"]), st.sampled_from([b"a", b"b", b"c", b"d"]),
                       st.sampled_from([b"1", b"2", b"x", b"-3"]),
                       st.sampled_from([b"1", b"-2", b"1.5", b"10"])),
    set_commands_from(st.sampled_from([b"s", b"t", b"u"]), st.sampled_from(ORDERED_MEMBERS)),
)

HASH_NAMES = [b"HSET", b"HSETNX", b"HGET", b"HMSET", b"HMGET", b"HGETALL", b"HDEL", b"HEXISTS",
              b"HLEN", b"HKEYS", b"HVALS", b"HINCRBY", b"HINCRBYFLOAT", b"HSTRLEN",
              b"HRANDFIELD", b"HSCAN"]
SET_NAMES = [b"SADD", b"SREM", b"SMEMBERS", b"SISMEMBER", b"SMISMEMBER", b"SCARD", b"SPOP",
             b"SRANDMEMBER", b"SMOVE", b"SINTER", b"SINTERCARD", b"SINTERSTORE", b"SUNION",
             b"SUNIONSTORE", b"SDIFF", b"SDIFFSTORE", b"SSCAN"]
# Any of them with 0-4 arguments: wrong arity, syntax errors, numbers in the wrong place.
any_arity = sequence(st.sampled_from(HASH_NAMES + SET_NAMES), st.lists(st.sampled_from(
    [b"h", b"s", b"str", b"1", b"0", b"-1", b"a", b"WITHVALUES", b"LIMIT", b"COUNT"]),
    max_size=4).map(tuple))
setup = sequence(st.sampled_from([b"SADD", b"HSET"]), st.sampled_from([b"s", b"h", b"t"]),
                 st.sampled_from([(b"1",), (b"a", b"1"), (b"1", b"2"), (b"2", b"b")]))

TINY_THRESHOLDS = {b"hash-max-listpack-entries": b"3", b"hash-max-listpack-value": b"8",
                   b"set-max-intset-entries": b"3"}
DEFAULT_THRESHOLDS = {b"hash-max-listpack-entries": b"512", b"hash-max-listpack-value": b"64",
                      b"set-max-intset-entries": b"512"}


def _configure(differ: Differ, thresholds: dict[bytes, bytes]) -> None:
    for conn in (differ.ours, differ.theirs):
        for name, value in thresholds.items():
            assert conn.call(b"CONFIG", b"SET", name, value) == b"+OK\r\n"


@pytest.fixture(params=["default", "tiny"])
def thresholds_differ(request, differ):
    """The differ with the encoding thresholds at Redis's defaults, or tiny ones."""
    _configure(differ, TINY_THRESHOLDS if request.param == "tiny" else DEFAULT_THRESHOLDS)
    yield differ
    _configure(differ, DEFAULT_THRESHOLDS)


# -- random replies ---------------------------------------------------------------------------

def _bulks(reply: bytes) -> list[bytes]:
    """Every bulk string in a reply, nested ones included, in order."""
    if reply[:1] in (b"*", b"~") and not reply.startswith(b"*-1"):
        return [x for item in elements(reply) for x in _bulks(item)]
    value = bulk_value(reply)
    return [] if value is None else [value]


def _set_members(conn: RawConnection, key: bytes) -> set[bytes] | None:
    reply = conn.call(b"SMEMBERS", key)
    return None if reply.startswith(b"-") else set(_bulks(reply))


def _hash_content(conn: RawConnection, key: bytes) -> dict[bytes, bytes] | None:
    reply = conn.call(b"HGETALL", key)
    if reply.startswith(b"-"):
        return None
    flat = _bulks(reply) if reply[:1] == b"*" else [
        bulk_value(x) or b"" for x in _map_items(reply)]
    return dict(zip(flat[::2], flat[1::2], strict=True))


def _map_items(reply: bytes) -> list[bytes]:
    """The keys and values of a RESP3 map, flat (elements() takes arrays and sets only)."""
    count = int(reply[1:reply.index(b"\r\n")])
    as_array = b"*%d\r\n" % (count * 2) + reply[reply.index(b"\r\n") + 2:]
    return elements(as_array)


def _count(args: tuple[bytes, ...]) -> int | None:
    try:
        return int(args[2]) if len(args) > 2 else None
    except ValueError:
        return None


def _random_read(differ: Differ, args: tuple[bytes, ...]) -> None:
    """SRANDMEMBER / HRANDFIELD: the shape must agree (differ), the picks must be members,
    distinct for a positive count, and paired with their values for WITHVALUES."""
    ours = differ.check(*args)
    if ours.startswith(b"-"):
        return
    picked = _bulks(ours)
    count = _count(args)
    if args[0].upper() == b"SRANDMEMBER":
        content = _set_members(differ.theirs, args[1]) or set()
        fields = picked
    else:
        hash_content = _hash_content(differ.theirs, args[1]) or {}
        content = set(hash_content)
        with_values = len(args) == 4
        fields = picked[::2] if with_values else picked
        if with_values:
            assert all(hash_content[f] == v for f, v in zip(fields, picked[1::2], strict=True))
    assert set(fields) <= content, (differ.history, ours)
    if count is not None and count > 0:
        assert len(set(fields)) == len(fields), (differ.history, ours)


def _spop(differ: Differ, args: tuple[bytes, ...]) -> None:
    """SPOP: same shape; what valkdb popped came from the set and left it; then valkdb's set is
    made equal to redis-server's, in the way that keeps its encoding what Redis's is."""
    key = args[1]
    before = _set_members(differ.theirs, key)
    ours = differ.check(*args)
    if before is None or ours.startswith(b"-"):
        return
    popped = set(_bulks(ours))
    ours_after = _set_members(differ.ours, key) or set()
    assert len(popped) == len(_bulks(ours)) and popped <= before, (differ.history, ours)
    assert ours_after == before - popped, (differ.history, ours)
    theirs_after = _set_members(differ.theirs, key) or set()
    if ours_after == theirs_after:
        return
    count = _count(args)
    if count is not None and (len(before) - count) * 5 <= count:  # Redis rebuilt the set
        differ.ours.call(b"DEL", key)
        differ.ours.call(b"SADD", key, *sorted(theirs_after))
    else:
        # adding first: never emptied (and deleted), the set keeps its sticky encoding
        differ.ours.call(b"SADD", key, *sorted(theirs_after - ours_after))
        differ.ours.call(b"SREM", key, *sorted(ours_after - theirs_after))
    differ.history.append((b"# valkdb resynced to redis-server's remaining members",))


def step(differ: Differ, args: tuple[bytes, ...]) -> None:
    name = args[0].upper() if len(args) > 1 else b""  # without a key: an arity error
    if name == b"SPOP":
        _spop(differ, args)
    elif name in (b"SRANDMEMBER", b"HRANDFIELD"):
        _random_read(differ, args)
    else:
        differ.check(*args)


def check_final_state(differ: Differ) -> None:
    """Whatever the replies looked at, the data left behind must agree too."""
    for key in ALL_KEYS:
        differ.check(b"TYPE", key)
        differ.check(b"OBJECT", b"ENCODING", key)
        differ.check(b"SMEMBERS", key)
        differ.check(b"HGETALL", key)
    differ.check(b"DBSIZE")


def run_sequence(differ: Differ, commands: list[tuple[bytes, ...]]) -> None:
    differ.reset()
    differ.check(b"SET", b"str", b"string")
    for args in commands:
        step(differ, args)
    check_final_state(differ)


@settings(COMPAT_SETTINGS, max_examples=120)
@given(st.lists(st.one_of(hash_commands, other_commands), min_size=1, max_size=15))
def test_hash_sequences(thresholds_differ, commands):
    run_sequence(thresholds_differ, commands)


@settings(COMPAT_SETTINGS, max_examples=120)
@given(st.lists(st.one_of(set_commands, set_commands, other_commands), min_size=1, max_size=15))
def test_set_sequences(thresholds_differ, commands):
    run_sequence(thresholds_differ, commands)


@settings(COMPAT_SETTINGS, max_examples=80)
@given(st.lists(st.one_of(setup, any_arity), min_size=1, max_size=8))
def test_wrong_arity_and_syntax(differ, commands):
    run_sequence(differ, commands)


@settings(COMPAT_SETTINGS, max_examples=80)
@given(st.lists(ordered_commands, min_size=1, max_size=15))
def test_fixed_orders_byte_for_byte(differ, commands):
    """Intsets and listpacks: every non-random reply identical, order included."""
    differ.reset()
    for args in commands:
        if args[0].upper() in (b"SPOP", b"SRANDMEMBER", b"HRANDFIELD") and not _takes_all(
                differ, args):
            step(differ, args)
            continue
        _exact(differ, args)
    for key in (b"h", b"g", b"s", b"t", b"u"):
        for command in (b"OBJECT ENCODING", b"SMEMBERS", b"HGETALL", b"SSCAN", b"HSCAN"):
            args = (*command.split(), key, *((b"0",) if command.endswith(b"SCAN") else ()))
            _exact(differ, args)


def _takes_all(differ: Differ, args: tuple[bytes, ...]) -> bool:
    """A count reaching the size: every member, in the collection's own order, no chance."""
    size = differ.theirs.call(b"HLEN" if args[0].upper() == b"HRANDFIELD" else b"SCARD", args[1])
    count = _count(args)
    return count is not None and size.startswith(b":") and count >= int(size[1:-2])


def _exact(differ: Differ, args: tuple[bytes, ...]) -> None:
    ours, theirs = differ.both(*args)
    if ours != theirs:
        raise Divergence(f"after {differ.history}:\nvalkdb: {ours!r}\nredis:  {theirs!r}")


@pytest.mark.parametrize("name", [n.decode().lower() for n in HASH_NAMES + SET_NAMES])
def test_command_info(differ, name):
    """Arity, flags and key positions as COMMAND INFO shows them (the documentation parts come
    from command_docs.json, generated separately)."""
    ours, theirs = differ.both(b"COMMAND", b"INFO", name.encode())
    ours_info, theirs_info = (elements(elements(r)[0]) for r in (ours, theirs))
    assert ours_info[:6] == theirs_info[:6]
