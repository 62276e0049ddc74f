"""Differential tests of the list commands, blocking ones included, against redis-server 7.0.

hypothesis draws command sequences over a few keys (one of them often a string, for WRONGTYPE)
and a small element alphabet (so LREM / LPOS / LINSERT find matches), with awkward numbers
(negative and huge indexes and counts, LLONG_MIN, non-integers) and bad options; every reply
must equal redis-server's byte for byte, in RESP2 and in RESP3.

Blocking commands never block for long here: a valid timeout is tiny (the key may be empty, then
both servers time out), or 0 inside MULTI (where nothing blocks). Concurrent scenarios, with
clients actually blocked, are in tests/commands/test_blocking.py.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.compat.differ import Differ
from tests.compat.resp import elements as reply_elements
from tests.compat.test_strings_keys import COMPAT_SETTINGS, flat_options, sequence

KEYS = [b"l", b"m", b"n", b"s"]
ELEMENTS = [b"a", b"b", b"c", b"", b"1", b"-1", b"\x00\xff"]
INDEXES = [b"0", b"1", b"2", b"-1", b"-2", b"-3", b"5", b"-5", b"100", b"-100",
           b"9223372036854775807", b"-9223372036854775808", b"9223372036854775808",
           b"x", b"1.5", b"", b" 1", b"+1", b"01"]
COUNTS = [b"0", b"1", b"2", b"3", b"-1", b"-2", b"100", b"9223372036854775807",
          b"-9223372036854775808", b"x", b"1.0", b"99999999999999999999"]
SIDES = [b"LEFT", b"RIGHT", b"left", b"Right", b"MIDDLE", b""]
# Valid ones are tiny (an empty key times out at once on both servers); the others are refused.
# Never "0" nor "-0.0001" (= forever) outside MULTI, nor anything of a second or more.
TIMEOUTS = [b"0.001", b"0.0001", b"1e-400", b"-1", b"-0.5", b"x", b"inf", b"nan", b"1e16",
            b"", b" 1", b"9223372036854775.8075"]

keys = st.sampled_from(KEYS)
elements = st.sampled_from(ELEMENTS)
indexes = st.sampled_from(INDEXES)
counts = st.sampled_from(COUNTS)
sides = st.sampled_from(SIDES)
timeouts = st.sampled_from(TIMEOUTS)
some_keys = st.lists(keys, min_size=1, max_size=3).map(tuple)


def mpop_arguments(key_lists=some_keys):  # type: ignore[no-untyped-def]
    """numkeys (often not the number of keys that follow), keys, side, maybe COUNT."""
    return st.tuples(
        st.one_of(st.sampled_from([b"1", b"2", b"3"]), st.sampled_from(
            [b"0", b"-1", b"x", b"4", b"9223372036854775807"])),
        key_lists, sides,
        st.sampled_from([(), (b"COUNT", b"1"), (b"COUNT", b"2"), (b"COUNT", b"100"),
                         (b"COUNT", b"0"), (b"COUNT", b"-1"), (b"COUNT", b"x"), (b"COUNT",),
                         (b"count", b"2", b"COUNT", b"3"), (b"BOGUS",)]),
    ).map(lambda parts: (parts[0], *parts[1], parts[2], *parts[3]))


lpos_option = st.one_of(
    st.tuples(st.sampled_from([b"RANK", b"rank"]), st.sampled_from(
        [b"1", b"2", b"-1", b"-2", b"0", b"3", b"-9223372036854775808", b"9223372036854775807",
         b"x"])),
    st.tuples(st.sampled_from([b"COUNT", b"count"]), st.sampled_from(
        [b"0", b"1", b"2", b"-1", b"x", b"9223372036854775807"])),
    st.tuples(st.just(b"MAXLEN"), st.sampled_from([b"0", b"1", b"3", b"-1", b"x"])),
    st.sampled_from([(b"RANK",), (b"BOGUS", b"1")]),
)

pushes = st.one_of(
    sequence(st.sampled_from([b"LPUSH", b"RPUSH", b"LPUSHX", b"RPUSHX"]), keys,
             st.lists(elements, min_size=1, max_size=4).map(tuple)),
    sequence(b"LINSERT", keys, st.sampled_from([b"BEFORE", b"AFTER", b"after", b"x"]), elements,
             elements),
)
list_commands = st.one_of(
    pushes,
    sequence(st.sampled_from([b"LPOP", b"RPOP"]), keys),
    sequence(st.sampled_from([b"LPOP", b"RPOP"]), keys, counts),
    sequence(b"LLEN", keys),
    sequence(b"LINDEX", keys, indexes),
    sequence(b"LSET", keys, indexes, elements),
    sequence(st.sampled_from([b"LRANGE", b"LTRIM"]), keys, indexes, indexes),
    sequence(b"LREM", keys, counts, elements),
    sequence(b"LPOS", keys, elements, flat_options(lpos_option)),
    sequence(b"LMOVE", keys, keys, sides, sides),
    sequence(b"RPOPLPUSH", keys, keys),
    sequence(b"LMPOP", mpop_arguments()),
)
other_commands = st.one_of(
    sequence(b"SET", st.sampled_from([b"s", b"s", b"m"]), elements),
    sequence(b"DEL", keys),
    sequence(st.sampled_from([b"TYPE", b"EXISTS"]), keys),
    sequence(b"OBJECT", b"ENCODING", keys),
    sequence(b"RENAME", keys, keys),
)
blocking_commands = st.one_of(
    sequence(st.sampled_from([b"BLPOP", b"BRPOP"]), some_keys, timeouts),
    sequence(b"BLMOVE", keys, keys, sides, sides, timeouts),
    sequence(b"BRPOPLPUSH", keys, keys, timeouts),
    sequence(b"BLMPOP", timeouts, mpop_arguments()),
)
# Inside MULTI nothing blocks, so a timeout of 0 is safe there.
blocking_forever = st.one_of(
    sequence(st.sampled_from([b"BLPOP", b"BRPOP"]), some_keys, b"0"),
    sequence(b"BLMOVE", keys, keys, sides, sides, b"0"),
    sequence(b"BRPOPLPUSH", keys, keys, b"0"),
    sequence(b"BLMPOP", b"0", mpop_arguments()),
)
transactions = st.lists(st.one_of(list_commands, blocking_forever, blocking_commands),
                        min_size=1, max_size=3).map(
    lambda body: [(b"MULTI",), *body, (b"EXEC",)])

ARITY_NAMES = [b"LPUSH", b"RPUSH", b"LPUSHX", b"RPUSHX", b"LPOP", b"RPOP", b"LLEN", b"LRANGE",
               b"LINDEX", b"LSET", b"LREM", b"LTRIM", b"LINSERT", b"LPOS", b"LMOVE",
               b"RPOPLPUSH", b"LMPOP", b"BLPOP", b"BRPOP", b"BLMOVE", b"BRPOPLPUSH", b"BLMPOP"]
# No number among the arguments: a blocking command always fails to parse its timeout.
any_arity = sequence(st.sampled_from(ARITY_NAMES), st.lists(
    st.sampled_from(KEYS + [b"a", b"LEFT", b"COUNT", b"RANK", b"BEFORE"]), max_size=5).map(tuple))


def steps(strategy):  # type: ignore[no-untyped-def]
    """A strategy of one command, as a list of commands (so transactions mix in)."""
    return strategy.map(lambda command: [command])


@pytest.fixture
def lists_differ(differ):
    """The differ, with redis-server's clock at 100 Hz: its blocked clients time out on a cron
    tick (100 ms at the default hz 10), which would make every timed-out example slow."""
    assert differ.theirs.call(b"CONFIG", b"SET", b"hz", b"100") == b"+OK\r\n"
    yield differ
    differ.theirs.call(b"CONFIG", b"SET", b"hz", b"10")


# The starting data: l, m and n lists (or missing, if drawn empty), s a string.
initial_lists = st.fixed_dictionaries({key: st.lists(elements, max_size=8) for key in KEYS[:3]})


def run_sequence(differ: Differ, initial: dict[bytes, list[bytes]],
                 commands: list[list[tuple[bytes, ...]]]) -> None:
    differ.reset()
    differ.check(b"SET", b"s", b"string")
    for key, items in initial.items():
        if items:
            differ.check(b"RPUSH", key, *items)
    for group in commands:
        for args in group:
            differ.check(*args)
    for key in KEYS:
        differ.check(b"TYPE", key)
        differ.check(b"LRANGE", key, b"0", b"-1")
        differ.check(b"OBJECT", b"ENCODING", key)
    differ.check(b"DBSIZE")


@settings(COMPAT_SETTINGS, max_examples=300)
@given(initial_lists, st.lists(steps(st.one_of(list_commands, other_commands)), min_size=1,
                               max_size=25))
def test_list_sequences(lists_differ, initial, commands):
    run_sequence(lists_differ, initial, commands)


@settings(COMPAT_SETTINGS, max_examples=200)
@given(initial_lists, st.lists(st.one_of(steps(pushes), steps(list_commands),
                                         steps(blocking_commands), steps(other_commands),
                                         transactions), min_size=1, max_size=15))
def test_blocking_sequences(lists_differ, initial, commands):
    run_sequence(lists_differ, initial, commands)


@settings(COMPAT_SETTINGS, max_examples=150)
@given(initial_lists, st.lists(st.one_of(steps(pushes), steps(any_arity)), min_size=1,
                               max_size=10))
def test_wrong_arity_and_syntax(lists_differ, initial, commands):
    run_sequence(lists_differ, initial, commands)


@pytest.mark.parametrize("name", [n.decode().lower() for n in ARITY_NAMES])
def test_command_info(differ, name):
    """Arity, flags and key positions as COMMAND INFO shows them (the documentation parts come
    from command_docs.json, generated separately)."""
    ours, theirs = differ.both(b"COMMAND", b"INFO", name.encode())
    ours_info, theirs_info = (reply_elements(reply_elements(r)[0]) for r in (ours, theirs))
    assert ours_info[:6] == theirs_info[:6]
