"""Differential tests of the sorted-set commands, blocking ones included, against redis-server 7.0.

hypothesis draws command sequences over a few keys (one a string and one a set, for WRONGTYPE
and for sets as ZUNION/ZINTER/ZDIFF inputs) and a small member alphabet, with awkward scores
(inf, -inf, nan, -0, hex, overflow, spaces), exclusive and lex bounds, LIMIT with negative
offsets and counts, bad options; every reply must equal redis-server's byte for byte, in RESP2
and RESP3, and so must the data left behind (an emptied key must be gone).

Where Redis itself is not deterministic the differ compares less: ZRANDMEMBER by the shape of
its reply (membership is checked in test_zrandmember_members), ZSCAN by the pairs a complete
iteration returns. Lex ranges over members of different scores depend, in Redis, on the
random levels of its skiplist, so they are drawn only while the sets are listpacks (scanned
linearly, which valkdb reproduces) or while every score is 0.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.compat.differ import Differ
from tests.compat.resp import bulk_value, elements
from tests.compat.test_lists import TIMEOUTS, lists_differ  # noqa: F401 (a fixture)
from tests.compat.test_strings_keys import COMPAT_SETTINGS, flat_options, sequence

ZSET_KEYS = [b"z", b"y", b"x"]
KEYS = [*ZSET_KEYS, b"s", b"t"]  # s is a string, t a set
MEMBERS = [b"a", b"b", b"c", b"", b"1", b"ab", b"\x00\xff"]
SCORES = [b"0", b"1", b"-1", b"1.5", b"2", b"10", b"inf", b"-inf", b"+inf", b"-0", b"0x10",
          b"1e-320", b"0.1"]
BAD_SCORES = [b"nan", b"x", b"", b" 1", b"1 ", b"1e400", b"1e-400", b"1_0", b"0x", b"(1"]
SCORE_BOUNDS = [b"-inf", b"+inf", b"inf", b"0", b"1", b"(1", b"(0", b"-1", b"1.5", b"(-inf",
                b"(inf", b"2", b"(2", b"10", b"x", b"(", b"", b"nan", b"(nan", b"( 1", b" 2",
                b"0x1", b"1e400", b"-0"]
LEX_BOUNDS = [b"-", b"+", b"[a", b"(a", b"[b", b"(b", b"[ab", b"[", b"(", b"a", b"", b"+x",
              b"-\x00", b"[\x00\xff", b"(1"]
INDEXES = [b"0", b"1", b"2", b"-1", b"-2", b"5", b"-5", b"9223372036854775807",
           b"-9223372036854775808", b"x", b"1.5"]
COUNTS = [b"0", b"1", b"2", b"3", b"-1", b"-2", b"10", b"x", b"9223372036854775807"]
# ZRANDMEMBER counts: never a big negative one (redis-server would build a reply that big).
RANDOM_COUNTS = [b"0", b"1", b"2", b"3", b"10", b"-1", b"-3", b"x", b"-9223372036854775808",
                 b"9223372036854775807"]

keys = st.sampled_from(KEYS)
zset_keys = st.sampled_from(ZSET_KEYS)
members = st.sampled_from(MEMBERS)
scores = st.one_of(st.sampled_from(SCORES), st.sampled_from(BAD_SCORES))
score_bounds = st.sampled_from(SCORE_BOUNDS)
lex_bounds = st.sampled_from(LEX_BOUNDS)
indexes = st.sampled_from(INDEXES)
counts = st.sampled_from(COUNTS)
some_keys = st.lists(keys, min_size=1, max_size=3).map(tuple)
pairs = st.lists(st.tuples(scores, members), min_size=1, max_size=4).map(
    lambda drawn: tuple(x for pair in drawn for x in pair))
zadd_flags = st.lists(st.sampled_from([b"NX", b"XX", b"GT", b"LT", b"CH", b"INCR", b"gt", b"ch"]),
                      max_size=3).map(tuple)
limit = st.tuples(st.just(b"LIMIT"), counts, counts)
range_option = st.one_of(st.sampled_from([(b"WITHSCORES",), (b"withscores",), (b"REV",),
                                          (b"BYSCORE",), (b"BYLEX",), (b"bylex",), (b"LIMIT",),
                                          (b"BOGUS",)]), limit)
numkeys = st.one_of(st.sampled_from([b"1", b"2", b"3"]),
                    st.sampled_from([b"0", b"-1", b"x", b"4"]))
set_option = st.one_of(
    st.sampled_from([(b"WITHSCORES",), (b"AGGREGATE", b"SUM"), (b"AGGREGATE", b"MIN"),
                     (b"aggregate", b"max"), (b"AGGREGATE", b"AVG"), (b"AGGREGATE",),
                     (b"LIMIT", b"1"), (b"LIMIT", b"-1"), (b"LIMIT", b"x"), (b"LIMIT", b"0"),
                     (b"BOGUS",), (b"WEIGHTS",)]),
    st.tuples(st.just(b"WEIGHTS"), st.lists(st.sampled_from(
        [b"1", b"2", b"-1", b"0", b"0.5", b"inf", b"-inf", b"x", b"nan"]), min_size=1,
        max_size=3).map(tuple)).map(lambda w: (w[0], *w[1])))
mpop_arguments = st.tuples(
    numkeys, some_keys, st.sampled_from([b"MIN", b"MAX", b"min", b"MIDDLE"]),
    st.sampled_from([(), (b"COUNT", b"1"), (b"COUNT", b"2"), (b"COUNT", b"10"), (b"COUNT", b"0"),
                     (b"COUNT", b"-1"), (b"COUNT", b"x"), (b"COUNT",),
                     (b"COUNT", b"1", b"COUNT", b"2")]),
).map(lambda parts: (parts[0], *parts[1], parts[2], *parts[3]))
scan_option = st.one_of(
    st.tuples(st.just(b"MATCH"), st.sampled_from([b"*", b"a*", b"?", b"[a-b]", b"x"])),
    st.tuples(st.just(b"COUNT"), st.sampled_from([b"1", b"2", b"100", b"0", b"-1", b"x"])),
    st.just((b"TYPE", b"zset")), st.just((b"BOGUS",)))


def set_operation(name: bytes, store: bool):  # type: ignore[no-untyped-def]
    destination = (zset_keys,) if store else ()
    return sequence(name, *destination, numkeys, some_keys, flat_options(set_option, 2))


write_commands = st.one_of(
    sequence(b"ZADD", keys, zadd_flags, pairs),
    sequence(b"ZINCRBY", keys, scores, members),
    sequence(b"ZREM", keys, st.lists(members, min_size=1, max_size=3).map(tuple)),
    sequence(b"ZREMRANGEBYRANK", keys, indexes, indexes),
    sequence(b"ZREMRANGEBYSCORE", keys, score_bounds, score_bounds),
    sequence(st.sampled_from([b"ZPOPMIN", b"ZPOPMAX"]), keys,
             st.one_of(st.just(()), st.tuples(counts), st.just((b"1", b"2")))),
    sequence(b"ZMPOP", mpop_arguments),
    sequence(b"ZRANGESTORE", zset_keys, keys, indexes, indexes),
    sequence(b"ZRANGESTORE", zset_keys, keys, score_bounds, score_bounds, b"BYSCORE",
             flat_options(range_option, 2)),
    set_operation(b"ZUNIONSTORE", True),
    set_operation(b"ZINTERSTORE", True),
    set_operation(b"ZDIFFSTORE", True),
)
read_commands = st.one_of(
    sequence(b"ZCARD", keys),
    sequence(b"ZSCORE", keys, members),
    sequence(b"ZMSCORE", keys, st.lists(members, min_size=1, max_size=3).map(tuple)),
    sequence(b"ZCOUNT", keys, score_bounds, score_bounds),
    sequence(st.sampled_from([b"ZRANK", b"ZREVRANK"]), keys, members),
    sequence(st.sampled_from([b"ZRANGE", b"ZREVRANGE"]), keys, indexes, indexes,
             flat_options(range_option, 2)),
    sequence(b"ZRANGE", keys, score_bounds, score_bounds, flat_options(range_option, 3)),
    sequence(st.sampled_from([b"ZRANGEBYSCORE", b"ZREVRANGEBYSCORE"]), keys, score_bounds,
             score_bounds, flat_options(range_option, 2)),
    sequence(b"ZRANDMEMBER", keys, st.one_of(st.just(()), st.tuples(st.sampled_from(
        RANDOM_COUNTS)), st.tuples(st.sampled_from(RANDOM_COUNTS), st.sampled_from(
            [b"WITHSCORES", b"withscores", b"X"])),
        st.sampled_from([(b"-4611686018427387904", b"WITHSCORES"),  # refused: 2 * count
                         (b"4611686018427387904", b"WITHSCORES"),  # would overflow
                         (b"4611686018427387903", b"WITHSCORES")]))),
    set_operation(b"ZUNION", False),
    set_operation(b"ZINTER", False),
    set_operation(b"ZDIFF", False),
    set_operation(b"ZINTERCARD", False),
    sequence(b"ZSCAN", keys, st.sampled_from([b"0", b"x", b"-1"]), flat_options(scan_option, 2)),
)
lex_commands = st.one_of(
    sequence(b"ZLEXCOUNT", keys, lex_bounds, lex_bounds),
    sequence(st.sampled_from([b"ZRANGEBYLEX", b"ZREVRANGEBYLEX"]), keys, lex_bounds, lex_bounds,
             flat_options(range_option, 2)),
    sequence(b"ZRANGE", keys, lex_bounds, lex_bounds, b"BYLEX", flat_options(range_option, 2)),
    sequence(b"ZRANGESTORE", zset_keys, keys, lex_bounds, lex_bounds, b"BYLEX",
             flat_options(range_option, 2)),
    sequence(b"ZREMRANGEBYLEX", keys, lex_bounds, lex_bounds),
)
blocking_commands = st.one_of(
    sequence(st.sampled_from([b"BZPOPMIN", b"BZPOPMAX"]), some_keys,
             st.sampled_from(TIMEOUTS)),
    sequence(b"BZMPOP", st.sampled_from(TIMEOUTS), mpop_arguments),
)
# Inside MULTI nothing blocks, so a timeout of 0 is safe there.
transactions = st.lists(st.one_of(
    write_commands, blocking_commands,
    sequence(st.sampled_from([b"BZPOPMIN", b"BZPOPMAX"]), some_keys, b"0"),
    sequence(b"BZMPOP", b"0", mpop_arguments)), min_size=1, max_size=3).map(
    lambda body: [(b"MULTI",), *body, (b"EXEC",)])

ARITY_NAMES = [b"ZADD", b"ZINCRBY", b"ZREM", b"ZCARD", b"ZSCORE", b"ZMSCORE", b"ZCOUNT",
               b"ZLEXCOUNT", b"ZRANGE", b"ZRANGESTORE", b"ZREVRANGE", b"ZRANGEBYSCORE",
               b"ZREVRANGEBYSCORE", b"ZRANGEBYLEX", b"ZREVRANGEBYLEX", b"ZRANK", b"ZREVRANK",
               b"ZREMRANGEBYRANK", b"ZREMRANGEBYSCORE", b"ZREMRANGEBYLEX", b"ZPOPMIN",
               b"ZPOPMAX", b"ZMPOP", b"ZRANDMEMBER", b"ZUNION", b"ZINTER", b"ZDIFF",
               b"ZUNIONSTORE", b"ZINTERSTORE", b"ZDIFFSTORE", b"ZINTERCARD", b"ZSCAN",
               b"BZPOPMIN", b"BZPOPMAX", b"BZMPOP"]
# No valid timeout among the arguments, so a blocking command never blocks.
any_arity = sequence(st.sampled_from(ARITY_NAMES), st.lists(
    st.sampled_from(KEYS + [b"a", b"x", b"-1", b"MIN", b"COUNT", b"WITHSCORES", b"LIMIT",
                            b"NX"]), max_size=5).map(tuple))


def steps(strategy):  # type: ignore[no-untyped-def]
    return strategy.map(lambda command: [command])


# The starting data: sorted sets z, y, x (missing if drawn empty), s a string, t a set.
initial_zsets = st.fixed_dictionaries({key: st.lists(st.tuples(st.sampled_from(SCORES), members),
                                                     max_size=6) for key in ZSET_KEYS})


def run_sequence(differ: Differ, initial: dict[bytes, list[tuple[bytes, bytes]]],
                 commands: list[list[tuple[bytes, ...]]]) -> None:
    differ.reset()
    differ.check(b"SET", b"s", b"string")
    differ.check(b"SADD", b"t", b"a", b"c", b"1", b"z")
    for key, items in initial.items():
        if items:
            differ.check(b"ZADD", key, *[x for pair in items for x in pair])
    for group in commands:
        for args in group:
            differ.check(*args)
    for key in KEYS:
        if differ.check(b"TYPE", key) == b"+zset\r\n":
            differ.check(b"ZRANGE", key, b"0", b"-1", b"WITHSCORES")
            differ.check(b"OBJECT", b"ENCODING", key)
            differ.check(b"ZSCAN", key, b"0", b"COUNT", b"3")
    differ.check(b"DBSIZE")


@pytest.fixture
def zsets_differ(lists_differ):  # noqa: F811
    """The differ with fast timeouts on redis-server, and its listpack limits restored after."""
    yield lists_differ
    for conn in (lists_differ.ours, lists_differ.theirs):
        conn.call(b"CONFIG", b"SET", b"zset-max-listpack-entries", b"128")
        conn.call(b"CONFIG", b"SET", b"zset-max-listpack-value", b"64")


def set_listpack_entries(differ: Differ, entries: bytes) -> None:
    for conn in (differ.ours, differ.theirs):
        assert conn.call(b"CONFIG", b"SET", b"zset-max-listpack-entries", entries) == b"+OK\r\n"


@settings(COMPAT_SETTINGS, max_examples=250)
@given(initial_zsets, st.lists(steps(st.one_of(write_commands, read_commands, lex_commands)),
                               min_size=1, max_size=20))
def test_listpack_sequences(zsets_differ, initial, commands):
    run_sequence(zsets_differ, initial, commands)


@settings(COMPAT_SETTINGS, max_examples=120)
@given(initial_zsets, st.lists(steps(st.one_of(write_commands, read_commands)), min_size=1,
                               max_size=20))
def test_skiplist_sequences(zsets_differ, initial, commands):
    """Every sorted set a skiplist (no listpack allowed): no lex ranges, see the docstring."""
    set_listpack_entries(zsets_differ, b"0")
    run_sequence(zsets_differ, initial, commands)


same_score_writes = st.one_of(
    sequence(b"ZADD", zset_keys, st.lists(st.tuples(st.just(b"0"), members), min_size=1,
                                          max_size=4).map(lambda p: sum(p, ()))),
    sequence(b"ZREM", zset_keys, members),
    sequence(st.sampled_from([b"ZPOPMIN", b"ZPOPMAX"]), zset_keys),
)


@settings(COMPAT_SETTINGS, max_examples=120)
@given(st.sampled_from([b"0", b"3", b"128"]),
       st.lists(steps(st.one_of(same_score_writes, lex_commands)), min_size=1, max_size=20))
def test_lex_ranges_same_score(zsets_differ, entries, commands):
    """Lex ranges over skiplists too (and sets that convert midway), every score 0."""
    set_listpack_entries(zsets_differ, entries)
    run_sequence(zsets_differ, {}, commands)


@settings(COMPAT_SETTINGS, max_examples=120)
@given(initial_zsets, st.lists(st.one_of(steps(write_commands), steps(blocking_commands),
                                         transactions), min_size=1, max_size=12))
def test_blocking_sequences(zsets_differ, initial, commands):
    run_sequence(zsets_differ, initial, commands)


@settings(COMPAT_SETTINGS, max_examples=120)
@given(initial_zsets, st.lists(steps(any_arity), min_size=1, max_size=10))
def test_wrong_arity_and_syntax(zsets_differ, initial, commands):
    run_sequence(zsets_differ, initial, commands)


def test_encoding_limits(zsets_differ):
    """listpack -> skiplist by number of members and by member length, never back; results
    of Z*STORE are re-encoded, ZRANGESTORE's grow from a listpack."""
    differ = zsets_differ
    differ.reset()
    for setting, value in ((b"zset-max-listpack-entries", b"4"),
                           (b"zset-max-listpack-value", b"8")):
        differ.check(b"CONFIG", b"SET", setting, value)
    differ.check(b"ZADD", b"a", b"1", b"m1", b"2", b"m2", b"3", b"m3", b"4", b"m4")
    differ.check(b"OBJECT", b"ENCODING", b"a")
    differ.check(b"ZADD", b"a", b"5", b"m5")
    differ.check(b"OBJECT", b"ENCODING", b"a")
    differ.check(b"ZPOPMIN", b"a", b"4")
    differ.check(b"OBJECT", b"ENCODING", b"a")  # sticky
    differ.check(b"ZADD", b"b", b"1", b"123456789")
    differ.check(b"OBJECT", b"ENCODING", b"b")
    differ.check(b"ZADD", b"c", b"1", b"x", b"2", b"123456789", b"-0", b"y")
    differ.check(b"OBJECT", b"ENCODING", b"c")
    differ.check(b"ZSCORE", b"c", b"y")  # a skiplist keeps -0
    for command in ((b"ZUNIONSTORE", b"d", b"2", b"a", b"c"), (b"ZINTERSTORE", b"d", b"1", b"a"),
                    (b"ZRANGESTORE", b"d", b"c", b"0", b"-1"),
                    (b"ZRANGESTORE", b"d", b"c", b"0", b"1"),
                    (b"ZDIFFSTORE", b"d", b"2", b"c", b"b")):
        differ.check(*command)
        differ.check(b"OBJECT", b"ENCODING", b"d")
        differ.check(b"ZRANGE", b"d", b"0", b"-1", b"WITHSCORES")


def test_zrandmember_members(zsets_differ):
    """ZRANDMEMBER picks only members (with their own scores), distinct ones for a positive
    count: checked on valkdb, in both encodings, against the set's own contents."""
    conn = zsets_differ.ours
    for entries in (b"128", b"0"):
        zsets_differ.reset()
        set_listpack_entries(zsets_differ, entries)
        conn.call(b"ZADD", b"z", *[x for i in range(20) for x in (b"%d" % i, b"m%d" % i)])
        everything = _flat_pairs(conn.call(b"ZRANGE", b"z", b"0", b"-1", b"WITHSCORES"))
        for count, distinct in ((b"5", True), (b"19", True), (b"30", True), (b"-30", False)):
            picked = _flat_pairs(conn.call(b"ZRANDMEMBER", b"z", count, b"WITHSCORES"))
            assert len(picked) == min(abs(int(count)), 20 if distinct else 30)
            assert set(picked) <= set(everything)
            if distinct:
                assert len(set(picked)) == len(picked)
        single = bulk_value(conn.call(b"ZRANDMEMBER", b"z"))
        assert single in {member for member, _ in everything}


def _flat_pairs(reply: bytes) -> list[tuple[bytes | None, bytes | None]]:
    """(member, score) pairs of a RESP2 flat array (the differ's connections start in RESP2
    or RESP3; both are read here)."""
    items = elements(reply)
    if items and items[0][:1] == b"*":  # RESP3 nested pairs
        return [(bulk_value(pair[0]), pair[1]) for pair in map(elements, items)]
    return list(zip([bulk_value(i) for i in items[::2]], items[1::2], strict=True))


@pytest.mark.parametrize("name", [n.decode().lower() for n in ARITY_NAMES])
def test_command_info(differ, name):
    """Arity, flags and key positions as COMMAND INFO shows them."""
    ours, theirs = differ.both(b"COMMAND", b"INFO", name.encode())
    ours_info, theirs_info = (elements(elements(r)[0]) for r in (ours, theirs))
    assert ours_info[:6] == theirs_info[:6]


EDGE_CASES = [
    # a negative LIMIT offset walks off the end: nothing, even from the middle of a range
    (b"ZADD", b"z", b"1", b"a", b"2", b"b", b"3", b"c", b"4", b"d", b"-inf", b"m", b"inf", b"n"),
    (b"ZRANGEBYSCORE", b"z", b"2", b"+inf", b"LIMIT", b"-1", b"2"),
    (b"ZREVRANGEBYSCORE", b"z", b"3", b"-inf", b"LIMIT", b"-1", b"2"),
    (b"ZRANGEBYSCORE", b"z", b"(1", b"4", b"LIMIT", b"1", b"-5", b"WITHSCORES"),
    (b"ZRANGE", b"z", b"0", b"-1", b"LIMIT", b"0", b"-1"),
    (b"ZRANGE", b"z", b"0", b"-1", b"LIMIT", b"0", b"-2"),
    (b"ZRANGE", b"z", b"0", b"-1", b"REV", b"REV"),
    (b"ZRANGEBYSCORE", b"z", b"", b"( 3"),
    (b"ZRANGEBYSCORE", b"z", b"(", b"0x3"),
    (b"ZRANGEBYSCORE", b"z", b"1\x00x", b"+inf"),
    (b"ZRANGEBYSCORE", b"z", b"1e400", b"-1e400"),
    (b"ZRANGE", b"z", b"+", b"[b", b"BYLEX", b"REV", b"LIMIT", b"-1", b"1"),
    # members of different scores in a listpack: Redis scans it linearly
    (b"ZADD", b"l", b"1", b"b", b"2", b"z", b"3", b"c", b"4", b"a"),
    (b"ZRANGEBYLEX", b"l", b"[a", b"[c", b"LIMIT", b"2", b"5"),
    (b"ZREVRANGEBYLEX", b"l", b"[c", b"[a"),
    (b"ZLEXCOUNT", b"l", b"[a", b"[c"),
    (b"ZREMRANGEBYLEX", b"l", b"[b", b"[d"),
    (b"ZRANGE", b"l", b"0", b"-1", b"WITHSCORES"),
    # scores: hex, -0, INCR to NaN, GT/LT with INCR
    (b"ZADD", b"h", b"0x1p3", b"a", b"-0", b"b"),
    (b"ZRANGE", b"h", b"0", b"-1", b"WITHSCORES"),
    (b"ZINCRBY", b"z", b"-inf", b"n"),
    (b"ZADD", b"z", b"GT", b"INCR", b"-1", b"a"),
    (b"ZADD", b"z", b"LT", b"CH", b"INCR", b"-1", b"a"),
    (b"ZADD", b"z", b"XX", b"INCR", b"1", b"new"),
    (b"ZADD", b"nothing", b"XX", b"INCR", b"1", b"new"),
    (b"EXISTS", b"nothing"),
    # weights that make NaN: inf * 0 is 0 by Redis's convention, inf + -inf too
    (b"ZUNION", b"2", b"z", b"z", b"WEIGHTS", b"0", b"1", b"WITHSCORES"),
    (b"ZINTER", b"2", b"z", b"z", b"WEIGHTS", b"1", b"-1", b"WITHSCORES"),
    (b"ZINTER", b"2", b"z", b"h", b"WEIGHTS", b"1", b"nan"),
    (b"ZUNIONSTORE", b"z", b"2", b"z", b"nothing", b"AGGREGATE", b"MAX"),
    (b"ZDIFFSTORE", b"h", b"2", b"h", b"h"),
    (b"EXISTS", b"h"),
    (b"ZPOPMIN", b"z", b"-1"),
    (b"ZPOPMAX", b"z", b"100"),
    (b"EXISTS", b"z"),
]


def test_edge_cases(zsets_differ):
    zsets_differ.reset()
    for command in EDGE_CASES:
        zsets_differ.check(*command)
