"""Differential tests of the stream commands (issue 11) against redis-server 7.0.15.

hypothesis draws command sequences over two streams (x, y) and a string (s, for WRONGTYPE), two
consumer groups (g, h; "nog" never exists) and three consumers, with explicit IDs (complete,
incomplete, `ms-*`, exclusive `(`, `-` `+`, 0-0, the largest ID, malformed ones), awkward
counts and bad options; every reply must equal redis-server's byte for byte, in RESP2 and RESP3,
and so must the state left behind (XRANGE, XINFO STREAM / GROUPS / CONSUMERS / FULL, XPENDING).
Hand-written cases pin the exact errors, lag and entries-read, `*` IDs, MULTI/EXEC and scripts.
Blocked clients are in tests/commands/test_streams_blocking.py.

What is normalised, and why:

* Times. XPENDING's idle, XINFO CONSUMERS' idle and XINFO STREAM FULL's delivery and seen times
  come from each server's own clock, a few ms apart (the two servers run the same command one
  after the other). `check` parses those replies (tests/compat/resp.py) and replaces exactly those
  numbers, after checking both are non-negative integers within _TIME_TOLERANCE_MS of each other;
  everything else in the reply stays compared byte for byte.
* `*` IDs are the servers' clocks too: sequences use explicit IDs; the hand-written `*` cases
  compare the reply's shape and that the IDs grow (or use a top item in the future, where `*`
  is deterministic). Idle thresholds (XCLAIM / XAUTOCLAIM min-idle-time, XPENDING IDLE) are 0 or
  an hour, against idles of 0 or two hours, so no few-ms difference can flip a decision.
* radix-tree-nodes (XINFO STREAM) counts the nodes of Redis's rax, an artefact of its C radix
  tree: sequences mask it (so one divergence there does not hide every other) and
  test_radix_tree_fields compares it exactly on its own. radix-tree-keys (the listpack nodes,
  which decide what `~` trims) is compared everywhere.

VALKDB_STREAM_TESTS_SELF=1 runs every test with a second redis-server in valkdb's place, to
validate the tests themselves. Until valkdb has streams (XADD answers "unknown command") the
module skips.
"""

from __future__ import annotations

import io
import os
import re
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.compat.differ import Differ, Divergence
from tests.compat.resp import RawConnection, bulk_value, read_reply
from tests.compat.test_strings_keys import COMPAT_SETTINGS, flat_options, sequence
from tests.support import redis_server_binary, start_redis

SELF = os.environ.get("VALKDB_STREAM_TESTS_SELF") == "1"

pytestmark = pytest.mark.skipif(redis_server_binary() is None, reason="needs redis-server")


@pytest.fixture(scope="module")
def valkdb_server(valkdb_server):
    """The server under test: the session's valkdb, or with VALKDB_STREAM_TESTS_SELF=1 a second
    redis-server (to check that the tests pass where they must)."""
    if not SELF:
        yield valkdb_server
        return
    server = start_redis()
    yield server
    server.stop()


@pytest.fixture(scope="module", autouse=True)
def streams_available(valkdb_server):
    """Skip the module while the server under test has no streams (they run by themselves as
    soon as XADD exists). NOMKSTREAM on a missing key creates nothing."""
    conn = RawConnection(valkdb_server.port)
    try:
        reply = conn.call(b"XADD", b"valkdb:stream-probe", b"NOMKSTREAM", b"1-1", b"f", b"v")
    finally:
        conn.close()
    if reply.startswith(b"-ERR unknown command"):
        pytest.skip("valkdb has no streams yet")


# --- comparing replies with times in them ---------------------------------------------------

# Two servers run each command a few ms apart; on a loaded CI machine (pytest -n 2) a gap of
# several hundred ms between the two is possible, but never anything near the hour that separates
# the idle thresholds the tests use.
_TIME_TOLERANCE_MS = 1000
_TIME = b":<time>\r\n"
_MASKED = b":<masked>\r\n"
_INTEGER = re.compile(rb":(\d+)\r\n\Z")


def tree(reply: bytes) -> object:
    """A reply as nested (type byte, [children]) with the leaves as raw bytes (maps' children
    are their keys and values in turn)."""
    if reply[:1] not in b"*~>%|" or reply[1:3] == b"-1":
        return reply
    stream = io.BytesIO(reply)
    count = int(stream.readline()[1:-2])
    children = count * 2 if reply[:1] in b"%|" else count
    return reply[:1], [tree(read_reply(stream)) for _ in range(children)]


def _children(node: object) -> list:
    return node[1] if isinstance(node, tuple) else []


def _field(node: object, name: bytes) -> int | None:
    """The index of a map's (RESP3) or flat name/value array's (RESP2) value for `name`."""
    items = _children(node)
    for i in range(0, len(items) - 1, 2):
        if isinstance(items[i], bytes) and bulk_value(items[i]) == name:
            return i + 1
    return None


def _paths(node: object, base: tuple, fields: list[bytes]) -> list[tuple]:
    found = []
    for name in fields:
        index = _field(node, name)
        if index is not None:
            found.append((*base, index))
    return found


def time_paths(args: tuple[bytes, ...], node: object) -> tuple[list[tuple], list[tuple]]:
    """(paths of clock-derived numbers, paths of masked numbers) in the reply to `args`."""
    name = args[0].upper()
    sub = args[1].upper() if len(args) > 1 else b""
    times: list[tuple] = []
    masked: list[tuple] = []
    if name == b"XPENDING" and len(args) > 3:  # extended form: [id, consumer, idle, count]
        times += [(i, 2) for i, entry in enumerate(_children(node)) if len(_children(entry)) == 4]
    elif name == b"XINFO" and sub == b"CONSUMERS":
        for i, consumer in enumerate(_children(node)):
            times += _paths(consumer, (i,), [b"idle", b"inactive"])
    elif name == b"XINFO" and sub == b"STREAM":
        masked += _paths(node, (), [b"radix-tree-nodes"])
        groups = _field(node, b"groups")
        if groups is not None and isinstance(_children(node)[groups], tuple):  # FULL
            for gi, group in enumerate(_children(_children(node)[groups])):
                pending = _field(group, b"pending")  # [id, consumer, delivery time, count]
                if pending is not None:
                    times += [(groups, gi, pending, i, 2) for i, _ in
                              enumerate(_children(_children(group)[pending]))]
                consumers = _field(group, b"consumers")
                if consumers is None:
                    continue
                for ci, consumer in enumerate(_children(_children(group)[consumers])):
                    base = (groups, gi, consumers, ci)
                    times += _paths(consumer, base, [b"seen-time", b"active-time"])
                    own = _field(consumer, b"pending")  # [id, delivery time, count]
                    if own is not None:
                        times += [(*base, own, i, 1) for i, _ in
                                  enumerate(_children(_children(consumer)[own]))]
    return times, masked


def _replace(node: object, path: tuple, value: bytes) -> tuple[object, bytes]:
    """`node` with the leaf at `path` replaced by `value`, and the old leaf."""
    if not path:
        return value, node  # type: ignore[return-value]
    kind, items = node  # type: ignore[misc]
    items = list(items)
    items[path[0]], old = _replace(items[path[0]], path[1:], value)
    return (kind, items), old


def normalised(args: tuple[bytes, ...], ours: bytes, theirs: bytes) -> tuple[object, object]:
    """Both replies as trees with their times replaced (after checking them) and masked fields
    replaced; raises Divergence with the reason when a time is not acceptable."""
    ours_tree, theirs_tree = tree(ours), tree(theirs)
    ours_paths, theirs_paths = time_paths(args, ours_tree), time_paths(args, theirs_tree)
    if ours_paths != theirs_paths:
        return ours_tree, theirs_tree  # different shapes: compared as they are
    times, masked = ours_paths
    for path, placeholder in [*((p, _TIME) for p in times), *((p, _MASKED) for p in masked)]:
        ours_tree, a = _replace(ours_tree, path, placeholder)
        theirs_tree, b = _replace(theirs_tree, path, placeholder)
        ma, mb = _INTEGER.match(a), _INTEGER.match(b)  # type: ignore[arg-type]
        if ma is None or mb is None:
            raise Divergence(f"{args!r}: not a non-negative integer at {path}: {a!r} {b!r}")
        if placeholder == _TIME and abs(int(ma[1]) - int(mb[1])) > _TIME_TOLERANCE_MS:
            raise Divergence(f"{args!r}: times too far apart at {path}: {a!r} {b!r}")
    return ours_tree, theirs_tree


TIMED = {b"XPENDING", b"XINFO"}


def check(differ: Differ, *args: bytes) -> bytes:
    """differ.check, except that the replies of XPENDING and XINFO are compared normalised."""
    if args[0].upper() not in TIMED:
        return differ.check(*args)
    ours, theirs = differ.both(*args)
    if ours != theirs:
        a, b = normalised(args, ours, theirs)
        if a != b:
            raise Divergence(differ._explain(ours, theirs))
    return ours


# --- strategies --------------------------------------------------------------------------------

STREAMS = [b"x", b"y"]
KEYS = [*STREAMS, b"s"]  # s is a string
GROUPS = [b"g", b"h", b"nog"]
CONSUMERS = [b"c1", b"c2", b"c3"]
MAX_ID = b"18446744073709551615-18446744073709551615"
IDS = [b"1-1", b"1-2", b"2", b"2-0", b"3-1", b"3-*", b"4", b"5-5", b"6-*", b"8-0", b"10",
       b"0-1", b"1"]
BAD_IDS = [b"0-0", b"0", b"x", b"1-x", b"-1", b"1-", b"", b"18446744073709551616", b"1-*-1",
           b"-", b"+", MAX_ID, b"18446744073709551615-*", b" 1", b"1.5", b"(1"]
RANGE_IDS = [b"-", b"+", b"0", b"1", b"1-1", b"(1-1", b"2", b"(2", b"3-0", b"(3-1", b"5", b"(5-5",
             b"10", b"0-0", b"(0-0", MAX_ID, b"(" + MAX_ID, b"(-", b"(+", b"x", b"", b"(",
             b"1-", b"-1", b"99999999999999999999"]
COUNTS = [b"0", b"1", b"2", b"3", b"10", b"-1", b"x", b"9223372036854775807",
          b"-9223372036854775808", b"1.5", b""]
THRESHOLDS = [b"0", b"1", b"2", b"3", b"5", b"100", b"-1", b"x", b"2-0", b"3", b"(3"]
# min-idle / IDLE values: 0 or far apart (an hour, two hours), see the module docstring.
MIN_IDLE = [b"0", b"3600000", b"-1", b"x"]
IDLE = [b"0", b"7200000", b"-1", b"x"]

keys = st.sampled_from(KEYS)
groups = st.sampled_from(GROUPS)
consumers = st.sampled_from(CONSUMERS)
ids = st.one_of(st.sampled_from(IDS), st.sampled_from(IDS), st.sampled_from(BAD_IDS))
range_ids = st.sampled_from(RANGE_IDS)
counts = st.sampled_from(COUNTS)
some_ids = st.lists(st.one_of(st.sampled_from(IDS), st.sampled_from(RANGE_IDS)), min_size=1,
                    max_size=3).map(tuple)
field_values = st.lists(st.tuples(st.sampled_from([b"f", b"g", b"", b"\x00\xff"]),
                                  st.sampled_from([b"1", b"v", b"", b"-0"])),
                        min_size=1, max_size=3).map(
                            lambda pairs: tuple(x for p in pairs for x in p))
bad_field_values = st.sampled_from([(b"f",), (b"f", b"v", b"g"), ()])

trim = st.one_of(
    st.tuples(st.sampled_from([b"MAXLEN", b"maxlen", b"MINID", b"minid"]),
              st.sampled_from([(), (b"=",), (b"~",), (b"~",), (b"==",)]),
              st.sampled_from(THRESHOLDS),
              st.sampled_from([(), (), (b"LIMIT", b"0"), (b"LIMIT", b"1"), (b"LIMIT", b"-1"),
                               (b"LIMIT", b"x"), (b"limit", b"100"), (b"LIMIT",)])).map(
        lambda t: (t[0], *t[1], t[2], *t[3])),
    st.sampled_from([(b"MAXLEN",), (b"MAXLEN", b"1", b"MINID", b"1"), (b"LIMIT", b"1"),
                     (b"MAXLEN", b"~"), (b"BOGUS", b"1")]),
)
xadd = st.one_of(
    sequence(b"XADD", keys, st.sampled_from([(), (), (b"NOMKSTREAM",), (b"nomkstream",)]),
             st.one_of(st.just(()), trim), ids, field_values),
    sequence(b"XADD", keys, ids, bad_field_values),
)
xread_ids = st.sampled_from([b"0", b"$", b"1-1", b"2", b"(1", b">", b"x", b"+", b"-", MAX_ID])
read_streams = st.lists(st.tuples(keys, xread_ids), min_size=1, max_size=2)
xread = st.one_of(
    sequence(b"XREAD", st.sampled_from([(), (b"COUNT", b"1"), (b"COUNT", b"2"), (b"COUNT", b"0"),
                                        (b"COUNT", b"-1"), (b"COUNT", b"x"), (b"count", b"3")]),
             b"STREAMS", read_streams.map(lambda pairs: tuple(k for k, _ in pairs)
                                          + tuple(i for _, i in pairs))),
    sequence(b"XREAD", st.sampled_from([(b"STREAMS", b"x"), (b"STREAMS", b"x", b"y", b"0"),
                                        (b"COUNT", b"1"), (b"STREAMS",), (b"BOGUS", b"STREAMS",
                                                                          b"x", b"0"),
                                        (b"COUNT", b"1", b"x", b"0")])),
)
readgroup_ids = st.sampled_from([b">", b">", b">", b"0", b"0-0", b"1-1", b"2", b"$", b"x",
                                 b"+"])
xreadgroup = st.one_of(
    sequence(b"XREADGROUP", st.sampled_from([b"GROUP", b"group"]), groups, consumers,
             flat_options(st.sampled_from([(b"COUNT", b"1"), (b"COUNT", b"2"), (b"COUNT", b"0"),
                                           (b"COUNT", b"-1"), (b"NOACK",), (b"noack",)]), 2),
             b"STREAMS", st.lists(st.tuples(keys, readgroup_ids), min_size=1, max_size=2).map(
                 lambda pairs: tuple(k for k, _ in pairs) + tuple(i for _, i in pairs))),
    sequence(b"XREADGROUP", st.sampled_from([(b"GROUP", b"g", b"STREAMS", b"x", b">"),
                                             (b"GROUP", b"g", b"c1", b"STREAMS", b"x"),
                                             (b"GROUP", b"g", b"c1", b"x", b">"),
                                             (b"STREAMS", b"x", b">"),
                                             (b"GROUP", b"g", b"c1", b"BOGUS", b"STREAMS", b"x",
                                              b">")])),
)
claim_option = st.one_of(
    st.tuples(st.sampled_from([b"IDLE", b"idle"]), st.sampled_from(IDLE)),
    st.tuples(st.just(b"TIME"), st.sampled_from([b"0", b"1", b"99999999999999", b"-1", b"x"])),
    st.tuples(st.just(b"RETRYCOUNT"), st.sampled_from([b"0", b"5", b"-1", b"x"])),
    st.tuples(st.just(b"LASTID"), ids),
    st.sampled_from([(b"FORCE",), (b"JUSTID",), (b"justid",), (b"BOGUS",), (b"IDLE",)]),
)
group_commands = st.one_of(
    sequence(b"XGROUP", st.sampled_from([b"CREATE", b"create"]), keys, groups,
             st.sampled_from([b"0", b"$", b"1-1", b"2", b"x", b"-", b"+", MAX_ID]),
             flat_options(st.sampled_from([(b"MKSTREAM",), (b"ENTRIESREAD", b"0"),
                                           (b"ENTRIESREAD", b"1"), (b"ENTRIESREAD", b"-1"),
                                           (b"ENTRIESREAD", b"-2"), (b"ENTRIESREAD", b"x"),
                                           (b"ENTRIESREAD", b"100"), (b"BOGUS",)]), 2)),
    sequence(b"XGROUP", b"SETID", keys, groups, st.sampled_from([b"0", b"$", b"1-1", b"3", b"x"]),
             st.sampled_from([(), (b"ENTRIESREAD", b"1"), (b"ENTRIESREAD", b"-1"),
                              (b"ENTRIESREAD", b"-5"), (b"ENTRIESREAD", b"x"), (b"BOGUS",)])),
    sequence(b"XGROUP", st.sampled_from([b"CREATECONSUMER", b"DELCONSUMER"]), keys, groups,
             consumers),
    sequence(b"XGROUP", b"DESTROY", keys, groups),
    sequence(b"XGROUP", st.sampled_from([(b"CREATE", b"x"), (b"DESTROY", b"x"), (b"BOGUS",),
                                         (b"SETID", b"x", b"g"), (b"HELP", b"x"),
                                         (b"CREATECONSUMER", b"x", b"g"),
                                         (b"DELCONSUMER", b"x", b"g", b"c1", b"c2")])),
    xreadgroup,
    sequence(b"XACK", keys, groups, some_ids),
    sequence(b"XCLAIM", keys, groups, consumers, st.sampled_from(MIN_IDLE), some_ids,
             flat_options(claim_option, 3)),
    sequence(b"XAUTOCLAIM", keys, groups, consumers, st.sampled_from(MIN_IDLE), range_ids,
             st.sampled_from([(), (b"COUNT", b"1"), (b"COUNT", b"2"), (b"COUNT", b"0"),
                              (b"COUNT", b"-1"), (b"COUNT", b"x"), (b"JUSTID",),
                              (b"COUNT", b"1", b"JUSTID"), (b"BOGUS",),
                              (b"COUNT", b"9223372036854775807")])),
)
entry_commands = st.one_of(
    xadd,
    sequence(b"XDEL", keys, some_ids),
    sequence(b"XTRIM", keys, trim),
    sequence(b"XSETID", keys, st.sampled_from([b"10-0", b"5-5", b"8-0", b"1-1", b"0-0", b"x",
                                               MAX_ID]),
             flat_options(st.sampled_from([(b"ENTRIESADDED", b"0"), (b"ENTRIESADDED", b"5"),
                                           (b"ENTRIESADDED", b"100"), (b"ENTRIESADDED", b"-1"),
                                           (b"MAXDELETEDID", b"0-0"), (b"MAXDELETEDID", b"3-0"),
                                           (b"MAXDELETEDID", b"20-0"), (b"MAXDELETEDID", b"x"),
                                           (b"BOGUS",)]), 2)),
)
read_commands = st.one_of(
    sequence(b"XLEN", keys),
    sequence(st.sampled_from([b"XRANGE", b"XREVRANGE"]), keys, range_ids, range_ids,
             st.sampled_from([(), (), (b"COUNT", b"1"), (b"COUNT", b"2")]) | st.tuples(
                 st.just(b"COUNT"), counts) | st.sampled_from([(b"COUNT",), (b"BOGUS", b"1")])),
    xread,
)
# Replies with times in them: never inside MULTI (EXEC's reply is compared as it is).
timed_commands = st.one_of(
    sequence(b"XPENDING", keys, groups),
    sequence(b"XPENDING", keys, groups, st.sampled_from([(), (b"IDLE", b"0"),
                                                         (b"IDLE", b"3600000"), (b"IDLE", b"x"),
                                                         (b"IDLE", b"-1"), (b"idle", b"0")]),
             range_ids, range_ids, counts, st.sampled_from([(), (b"c1",), (b"c2",), (b"zz",)])),
    sequence(b"XPENDING", keys, groups, st.sampled_from([(b"-",), (b"-", b"+"), (b"IDLE", b"1"),
                                                         (b"-", b"+", b"1", b"c1", b"x")])),
    sequence(b"XINFO", b"STREAM", keys, st.sampled_from([(), (b"FULL",), (b"FULL", b"COUNT", b"1"),
                                                         (b"FULL", b"COUNT", b"0"),
                                                         (b"FULL", b"COUNT", b"-1"),
                                                         (b"FULL", b"COUNT", b"x"), (b"BOGUS",),
                                                         (b"FULL", b"COUNT"),
                                                         (b"full", b"count", b"2")])),
    sequence(b"XINFO", b"GROUPS", keys),
    sequence(b"XINFO", b"CONSUMERS", keys, groups),
    sequence(b"XINFO", st.sampled_from([(b"BOGUS",), (b"STREAM",), (b"GROUPS",),
                                        (b"CONSUMERS", b"x"), (b"GROUPS", b"x", b"y"),
                                        (b"help",)])),
)
other_commands = st.one_of(
    sequence(b"SET", b"s", b"string"),
    sequence(b"DEL", keys),
    sequence(st.sampled_from([b"TYPE", b"EXISTS"]), keys),
    sequence(b"OBJECT", b"ENCODING", keys),
    sequence(b"RENAME", keys, keys),
    sequence(b"COPY", keys, keys, st.sampled_from([(), (b"REPLACE",)])),
    sequence(b"SCAN", b"0", b"TYPE", st.sampled_from([b"stream", b"STREAM", b"string"])),
)
write_commands = st.one_of(entry_commands, group_commands)
# Inside MULTI nothing blocks, so BLOCK 0 is safe there.
blocking_in_multi = st.one_of(
    sequence(b"XREAD", b"BLOCK", b"0", b"STREAMS", keys, st.sampled_from([b"$", b"0", b"+"])),
    sequence(b"XREADGROUP", b"GROUP", groups, consumers, b"BLOCK", b"0", b"STREAMS", keys,
             st.sampled_from([b">", b"0"])),
)
transactions = st.lists(st.one_of(write_commands, read_commands, blocking_in_multi),
                        min_size=1, max_size=4).map(lambda body: [(b"MULTI",), *body, (b"EXEC",)])

ARITY_NAMES = [b"XADD", b"XLEN", b"XRANGE", b"XREVRANGE", b"XDEL", b"XTRIM", b"XSETID", b"XREAD",
               b"XREADGROUP", b"XACK", b"XPENDING", b"XCLAIM", b"XAUTOCLAIM", b"XGROUP",
               b"XINFO"]
# No BLOCK among the arguments: nothing can block.
any_arity = sequence(st.sampled_from(ARITY_NAMES), st.lists(
    st.sampled_from([*KEYS, b"g", b"c1", b"1-1", b"0", b"$", b">", b"-", b"+", b"STREAMS",
                     b"COUNT", b"GROUP", b"CREATE", b"MAXLEN", b"*", b"f", b"FULL"]),
    max_size=6).map(tuple))


def steps(strategy):  # type: ignore[no-untyped-def]
    return strategy.map(lambda command: [command])


# The starting data: x and y with a few increasing IDs (missing when drawn empty), groups on
# them at 0 or at their top.
initial_ids = st.lists(st.tuples(st.integers(1, 9), st.integers(0, 2)), max_size=6,
                       unique=True).map(sorted)
initial_streams = st.fixed_dictionaries({
    key: st.tuples(initial_ids, st.lists(st.tuples(st.sampled_from(GROUPS[:2]),
                                                   st.sampled_from([b"0", b"$", b"3"])),
                                         max_size=2, unique_by=lambda t: t[0]))
    for key in STREAMS})


def final_state(differ: Differ) -> None:
    for key in KEYS:
        if differ.check(b"TYPE", key) != b"+stream\r\n":
            continue
        differ.check(b"XRANGE", key, b"-", b"+")
        check(differ, b"XINFO", b"STREAM", key)
        check(differ, b"XINFO", b"STREAM", key, b"FULL")
        check(differ, b"XINFO", b"GROUPS", key)
        for group in GROUPS[:2]:
            check(differ, b"XPENDING", key, group)
            check(differ, b"XPENDING", key, group, b"-", b"+", b"100")
            check(differ, b"XINFO", b"CONSUMERS", key, group)
        differ.check(b"OBJECT", b"ENCODING", key)
    differ.check(b"DBSIZE")


def run_sequence(differ: Differ, initial: dict, commands: list[list[tuple[bytes, ...]]]) -> None:
    differ.reset()
    differ.check(b"SET", b"s", b"string")
    for key, (entries, key_groups) in initial.items():
        for ms, seq in entries:
            differ.check(b"XADD", key, b"%d-%d" % (ms, seq), b"f", b"%d" % ms)
        for group, start in key_groups:
            differ.check(b"XGROUP", b"CREATE", key, group, start, b"MKSTREAM")
    for group in commands:
        for args in group:
            check(differ, *args)
    final_state(differ)


@settings(COMPAT_SETTINGS, max_examples=60)
@given(initial_streams, st.lists(steps(st.one_of(entry_commands, read_commands, other_commands)),
                                 min_size=1, max_size=20))
def test_entry_sequences(differ, initial, commands):
    run_sequence(differ, initial, commands)


@settings(COMPAT_SETTINGS, max_examples=80)
@given(initial_streams, st.lists(st.one_of(steps(group_commands), steps(group_commands),
                                           steps(entry_commands), steps(read_commands),
                                           steps(timed_commands), steps(other_commands),
                                           transactions), min_size=1, max_size=20))
def test_group_sequences(differ, initial, commands):
    run_sequence(differ, initial, commands)


@settings(COMPAT_SETTINGS, max_examples=40)
@given(initial_streams, st.lists(st.one_of(steps(any_arity), steps(xadd)), min_size=1,
                                 max_size=10))
def test_wrong_arity_and_syntax(differ, initial, commands):
    run_sequence(differ, initial, commands)


@pytest.fixture
def small_nodes(differ):
    """Both servers with listpack nodes of at most 3 entries, so `~` trims something."""
    for conn in (differ.ours, differ.theirs):
        assert conn.call(b"CONFIG", b"SET", b"stream-node-max-entries", b"3") == b"+OK\r\n"
    yield differ
    for conn in (differ.ours, differ.theirs):
        conn.call(b"CONFIG", b"SET", b"stream-node-max-entries", b"100")


@settings(COMPAT_SETTINGS, max_examples=40)
@given(st.integers(0, 12), st.lists(steps(st.one_of(
    sequence(b"XTRIM", st.just(b"x"), trim), sequence(b"XADD", b"x", st.one_of(st.just(()), trim),
                                                      st.sampled_from([b"20-*", b"30-*"]),
                                                      b"f", b"v"),
    sequence(b"XDEL", b"x", some_ids))), min_size=1, max_size=8))
def test_approximate_trimming_by_nodes(small_nodes, size, commands):
    """`~` removes whole listpack nodes only (stream-node-max-entries 3 here), and LIMIT caps
    the entries removed; radix-tree-keys tells the nodes left."""
    differ = small_nodes
    differ.reset()
    for i in range(1, size + 1):
        differ.check(b"XADD", b"x", b"%d-1" % i, b"f", b"v")
    for group in commands:
        for args in group:
            differ.check(*args)
    final_state(differ)


# --- hand-written cases ------------------------------------------------------------------------

def run(differ: Differ, *commands: tuple[bytes, ...]) -> list[bytes]:
    differ.reset()
    return [check(differ, *command) for command in commands]


def test_xadd_errors_and_ids(differ):
    replies = run(
        differ,
        (b"XADD", b"x", b"0-0", b"f", b"v"), (b"XADD", b"x", b"0-*", b"f", b"v"),
        (b"XADD", b"x", b"0-1", b"f", b"v"), (b"XADD", b"x", b"0-1", b"f", b"v"),
        (b"XADD", b"x", b"0-0", b"f", b"v"), (b"XADD", b"x", b"5", b"f", b"v"),
        (b"XADD", b"x", b"5-*", b"f", b"v"), (b"XADD", b"x", b"4-*", b"f", b"v"),
        (b"XADD", b"x", b"x", b"f", b"v"), (b"XADD", b"x", b"1-2-3", b"f", b"v"),
        (b"XADD", b"x", MAX_ID, b"f", b"v"), (b"XADD", b"x", b"18446744073709551615-*", b"f",
                                                b"v"),
        (b"XADD", b"x", b"*", b"f", b"v"), (b"XADD", b"x", b"1", b"f"),
        (b"XADD", b"nx", b"NOMKSTREAM", b"1-1", b"f", b"v"), (b"EXISTS", b"nx"),
        (b"XADD", b"x", b"MAXLEN", b"-1", b"1-1", b"f", b"v"),
        (b"XADD", b"x", b"MAXLEN", b"1", b"LIMIT", b"1", b"1-1", b"f", b"v"),
        (b"XADD", b"x", b"MAXLEN", b"1", b"MINID", b"1", b"1-1", b"f", b"v"),
        (b"XADD", b"x", b"MINID", b"x", b"1-1", b"f", b"v"),
        (b"XADD", b"x", b"MAXLEN", b"~", b"1", b"LIMIT", b"-1", b"1-1", b"f", b"v"),
        (b"XADD", b"s2", b"1-1", b"f", b"v", b"f", b"w"), (b"XRANGE", b"s2", b"-", b"+"),
        (b"SET", b"str", b"v"), (b"XADD", b"str", b"1-1", b"f", b"v"), (b"XLEN", b"str"),
        (b"XLEN", b"nx"),
    )
    assert replies[0] == b"-ERR The ID specified in XADD must be greater than 0-0\r\n"
    assert replies[3] == (b"-ERR The ID specified in XADD is equal or smaller than the target "
                          b"stream top item\r\n")
    assert replies[8] == b"-ERR Invalid stream ID specified as stream command argument\r\n"
    assert replies[6] == b"$3\r\n5-1\r\n"


def test_xadd_star_in_the_future_is_deterministic(differ):
    """With a top item past the clock, `*` takes the top's ms and the next sequence number."""
    replies = run(differ, (b"XADD", b"x", b"99999999999999-5", b"f", b"v"),
                  (b"XADD", b"x", b"*", b"f", b"v"), (b"XADD", b"x", b"MAXLEN", b"1", b"*", b"a",
                                                      b"b"),
                  (b"XRANGE", b"x", b"-", b"+"), (b"XINFO", b"STREAM", b"x"))
    assert replies[1] == b"$16\r\n99999999999999-6\r\n"


_ID = re.compile(rb"\$\d+\r\n(\d+)-(\d+)\r\n\Z")


def _auto_id(reply: bytes) -> tuple[int, int]:
    match = _ID.match(reply)
    assert match, reply
    return int(match[1]), int(match[2])


def test_xadd_star_uses_the_clock(differ):
    """`*` IDs come from each server's clock: compare their shape, that they grow, and the
    rest of the replies with the IDs taken out."""
    differ.reset()
    now = time.time() * 1000
    seen: dict[str, list[tuple[int, int]]] = {"ours": [], "theirs": []}
    for _ in range(3):
        ours, theirs = differ.both(b"XADD", b"x", b"*", b"f", b"v")
        seen["ours"].append(_auto_id(ours))
        seen["theirs"].append(_auto_id(theirs))
    ours, theirs = differ.both(b"XADD", b"x", b"MAXLEN", b"2", b"*", b"g", b"w")
    seen["ours"].append(_auto_id(ours))
    seen["theirs"].append(_auto_id(theirs))
    for got in seen.values():
        assert got == sorted(set(got)), got
        assert all(abs(ms - now) < 10_000 for ms, _ in got), (got, now)
    differ.check(b"XLEN", b"x")
    ours, theirs = differ.both(b"XRANGE", b"x", b"-", b"+")
    for side, reply in (("ours", ours), ("theirs", theirs)):
        for (ms, seq) in seen[side][-2:]:
            reply = reply.replace(b"%d-%d" % (ms, seq), b"ID")
        if side == "ours":
            ours = reply
        else:
            theirs = reply
    assert ours == theirs
    # A stream made by `*` then given an explicit ID below its top refuses it on both.
    differ.check(b"XADD", b"x", b"1-1", b"f", b"v")
    differ.check(b"XADD", b"x", b"NOMKSTREAM", b"1-*", b"f", b"v")


def test_xrange_bounds_and_counts(differ):
    entries = [(b"XADD", b"x", i, b"f", i) for i in (b"1-0", b"1-1", b"2-0", b"3-5", b"3-6",
                                                     b"10-0", MAX_ID)]
    queries = [
        (b"XRANGE", b"x", b"-", b"+"), (b"XRANGE", b"x", b"1", b"1"),
        (b"XRANGE", b"x", b"(1", b"+"),
        (b"XRANGE", b"x", b"(1-0", b"(3-6"), (b"XRANGE", b"x", b"3", b"+", b"COUNT", b"1"),
        (b"XRANGE", b"x", b"-", b"+", b"COUNT", b"0"), (b"XRANGE", b"x", b"-", b"+", b"COUNT",
                                                         b"-1"),
        (b"XRANGE", b"x", b"(" + MAX_ID, b"+"), (b"XRANGE", b"x", b"-", b"(0-0"),
        (b"XRANGE", b"x", b"(-", b"+"), (b"XRANGE", b"x", b"-", b"(+"),
        (b"XRANGE", b"x", b"5", b"2"), (b"XRANGE", b"x", b"-", b"+", b"COUNT"),
        (b"XRANGE", b"x", b"-", b"+", b"COUNT", b"x"), (b"XRANGE", b"x", b"-"),
        (b"XREVRANGE", b"x", b"+", b"-"), (b"XREVRANGE", b"x", b"+", b"-", b"COUNT", b"2"),
        (b"XREVRANGE", b"x", b"(3-6", b"(1"), (b"XREVRANGE", b"x", b"3", b"3"),
        (b"XREVRANGE", b"x", b"-", b"+"), (b"XREVRANGE", b"x", b"(" + MAX_ID, b"-"),
        (b"XREVRANGE", b"x", b"+", b"(0-0"), (b"XRANGE", b"nx", b"-", b"+"),
        (b"XREVRANGE", b"nx", b"+", b"-"), (b"XRANGE", b"x", b"18446744073709551616", b"+"),
    ]
    replies = run(differ, *entries, *queries)[len(entries):]
    assert replies[7] == b"-ERR invalid start ID for the interval\r\n"
    assert replies[8] == b"-ERR invalid end ID for the interval\r\n"
    assert replies[5] in (b"*-1\r\n", b"_\r\n")  # COUNT 0: a null, not an empty array


def test_xdel_xtrim_xsetid(differ):
    replies = run(
        differ,
        *((b"XADD", b"x", b"%d-1" % i, b"f", b"v") for i in range(1, 8)),
        (b"XDEL", b"x", b"2-1", b"2-1", b"9-9"), (b"XDEL", b"x", b"x"), (b"XDEL", b"nx", b"1-1"),
        (b"XTRIM", b"x", b"MAXLEN", b"5"), (b"XTRIM", b"x", b"MAXLEN", b"=", b"4"),
        (b"XTRIM", b"x", b"MINID", b"5"), (b"XTRIM", b"x", b"MINID", b"~", b"7", b"LIMIT", b"1"),
        (b"XTRIM", b"x", b"MAXLEN", b"1", b"LIMIT", b"1"), (b"XTRIM", b"x", b"MAXLEN", b"-1"),
        (b"XTRIM", b"x", b"MAXLEN"), (b"XTRIM", b"x", b"BOGUS", b"1"), (b"XTRIM", b"nx",
                                                                         b"MAXLEN", b"0"),
        (b"XINFO", b"STREAM", b"x"),
        (b"XSETID", b"x", b"1-1"), (b"XSETID", b"x", b"7-1"), (b"XSETID", b"x", b"7-1",
                                                               b"ENTRIESADDED", b"1"),
        (b"XSETID", b"x", b"8-0", b"ENTRIESADDED", b"-1"),
        (b"XSETID", b"x", b"8-0", b"ENTRIESADDED", b"100", b"MAXDELETEDID", b"9-0"),
        (b"XSETID", b"x", b"8-0", b"ENTRIESADDED", b"100", b"MAXDELETEDID", b"x"),
        (b"XSETID", b"x", b"8-0", b"ENTRIESADDED", b"100", b"MAXDELETEDID", b"7-5"),
        (b"XSETID", b"x", b"8-0", b"MAXDELETEDID", b"7-5"), (b"XSETID", b"x", b"8-0", b"BOGUS"),
        (b"XINFO", b"STREAM", b"x"), (b"XSETID", b"nx", b"1-1"), (b"XSETID", b"x"),
        (b"XADD", b"x", b"8-0", b"f", b"v"), (b"XADD", b"x", b"8-*", b"f", b"v"),
        (b"XTRIM", b"x", b"MAXLEN", b"0"), (b"XINFO", b"STREAM", b"x"), (b"EXISTS", b"x"),
        (b"XSETID", b"x", b"0-0"), (b"XINFO", b"STREAM", b"x"),
    )
    assert replies[7] == b":1\r\n"
    assert (b"-ERR The ID specified in XSETID is smaller than the target stream top item\r\n"
            in replies)


def test_lag_and_entries_read(differ):
    """XINFO GROUPS' entries-read and lag as Redis 7.0 tracks them: exact while nothing was
    deleted between the group's position and the top, nil (lag) when it cannot know."""
    step = (b"XINFO", b"GROUPS", b"x")
    replies = run(
        differ,
        *((b"XADD", b"x", b"%d-0" % i, b"f", b"v") for i in range(1, 6)),
        (b"XGROUP", b"CREATE", b"x", b"g", b"0"), (b"XGROUP", b"CREATE", b"x", b"h", b"$"),
        (b"XGROUP", b"CREATE", b"x", b"k", b"2-0"),
        (b"XGROUP", b"CREATE", b"x", b"e", b"0", b"ENTRIESREAD", b"2"), step,
        (b"XREADGROUP", b"GROUP", b"g", b"c", b"COUNT", b"2", b"STREAMS", b"x", b">"), step,
        (b"XDEL", b"x", b"4-0"), step,
        (b"XREADGROUP", b"GROUP", b"g", b"c", b"COUNT", b"1", b"STREAMS", b"x", b">"), step,
        (b"XREADGROUP", b"GROUP", b"g", b"c", b"STREAMS", b"x", b">"), step,
        (b"XADD", b"x", b"6-0", b"f", b"v"), step, (b"XDEL", b"x", b"1-0"), step,
        (b"XTRIM", b"x", b"MAXLEN", b"2"), step, (b"XGROUP", b"SETID", b"x", b"h", b"0"), step,
        (b"XGROUP", b"SETID", b"x", b"h", b"$", b"ENTRIESREAD", b"3"), step,
        (b"XGROUP", b"SETID", b"x", b"k", b"3-0", b"ENTRIESREAD", b"-1"), step,
        (b"XGROUP", b"SETID", b"x", b"k", b"3-0", b"ENTRIESREAD", b"-2"),
        (b"XSETID", b"x", b"6-0", b"ENTRIESADDED", b"20", b"MAXDELETEDID", b"5-0"), step,
        (b"XADD", b"x", b"7-0", b"f", b"v"), step,
        (b"XREADGROUP", b"GROUP", b"k", b"c", b"STREAMS", b"x", b">"), step,
        (b"XINFO", b"STREAM", b"x", b"FULL"),
    )
    assert any(b"$3\r\nlag\r\n_\r\n" in r or b"$3\r\nlag\r\n$-1\r\n" in r for r in replies)


def test_consumer_groups_by_hand(differ):
    run(
        differ,
        *((b"XADD", b"x", b"%d-0" % i, b"f", b"%d" % i) for i in range(1, 6)),
        (b"XGROUP", b"CREATE", b"nx", b"g", b"0"), (b"XGROUP", b"CREATE", b"nx", b"g", b"$",
                                                    b"MKSTREAM"),
        (b"XINFO", b"STREAM", b"nx"), (b"XGROUP", b"CREATE", b"x", b"g", b"0"),
        (b"XGROUP", b"CREATE", b"x", b"g", b"0"), (b"XGROUP", b"CREATE", b"x", b"h", b"x"),
        (b"XGROUP", b"CREATECONSUMER", b"x", b"g", b"c0"),
        (b"XGROUP", b"CREATECONSUMER", b"x", b"g", b"c0"),
        (b"XGROUP", b"CREATECONSUMER", b"x", b"nog", b"c0"),
        (b"XREADGROUP", b"GROUP", b"g", b"c1", b"COUNT", b"2", b"STREAMS", b"x", b">"),
        (b"XREADGROUP", b"GROUP", b"g", b"c2", b"NOACK", b"COUNT", b"1", b"STREAMS", b"x", b">"),
        (b"XREADGROUP", b"GROUP", b"g", b"c3", b"STREAMS", b"x", b">"),
        (b"XREADGROUP", b"GROUP", b"g", b"c3", b"STREAMS", b"x", b">"),
        (b"XREADGROUP", b"GROUP", b"g", b"c1", b"STREAMS", b"x", b"0"),
        (b"XREADGROUP", b"GROUP", b"g", b"c1", b"COUNT", b"1", b"STREAMS", b"x", b"1-0"),
        (b"XREADGROUP", b"GROUP", b"g", b"c9", b"STREAMS", b"x", b"0"),
        (b"XREADGROUP", b"GROUP", b"nog", b"c1", b"STREAMS", b"x", b">"),
        (b"XREADGROUP", b"GROUP", b"g", b"c1", b"STREAMS", b"nx2", b">"),
        (b"XREADGROUP", b"GROUP", b"g", b"c1", b"STREAMS", b"x", b"$"),
        (b"XREADGROUP", b"GROUP", b"g", b"c1", b"STREAMS", b"x", b"nx", b">", b">"),
        (b"XPENDING", b"x", b"g"), (b"XPENDING", b"x", b"g", b"-", b"+", b"10"),
        (b"XPENDING", b"x", b"g", b"-", b"+", b"10", b"c3"),
        (b"XPENDING", b"x", b"g", b"IDLE", b"3600000", b"-", b"+", b"10"),
        (b"XPENDING", b"x", b"nog"), (b"XPENDING", b"nx3", b"g"),
        (b"XDEL", b"x", b"4-0"),
        (b"XREADGROUP", b"GROUP", b"g", b"c3", b"STREAMS", b"x", b"0"),
        (b"XACK", b"x", b"g", b"1-0", b"1-0", b"9-0"), (b"XACK", b"x", b"g", b"x"),
        (b"XACK", b"x", b"nog", b"2-0"), (b"XACK", b"nx3", b"g", b"2-0"),
        (b"XCLAIM", b"x", b"g", b"c4", b"0", b"2-0", b"4-0", b"5-0"),
        (b"XCLAIM", b"x", b"g", b"c4", b"3600000", b"2-0"),
        (b"XCLAIM", b"x", b"g", b"c4", b"0", b"2-0", b"IDLE", b"7200000", b"RETRYCOUNT", b"7"),
        (b"XCLAIM", b"x", b"g", b"c5", b"3600000", b"2-0", b"JUSTID"),
        (b"XCLAIM", b"x", b"g", b"c5", b"0", b"1-0", b"FORCE", b"JUSTID"),
        (b"XCLAIM", b"x", b"g", b"c5", b"0", b"9-0", b"FORCE"),
        (b"XCLAIM", b"x", b"g", b"c5", b"0", b"3-0", b"TIME", b"1", b"LASTID", b"9-0"),
        (b"XCLAIM", b"x", b"g", b"c5", b"0", b"3-0", b"IDLE", b"-1"),
        (b"XCLAIM", b"x", b"g", b"c5", b"x", b"3-0"), (b"XCLAIM", b"x", b"g", b"c5", b"0", b"x"),
        (b"XCLAIM", b"x", b"nog", b"c5", b"0", b"3-0"), (b"XCLAIM", b"x", b"g", b"c5", b"0"),
        (b"XINFO", b"GROUPS", b"x"), (b"XINFO", b"CONSUMERS", b"x", b"g"),
        (b"XPENDING", b"x", b"g", b"-", b"+", b"10"),
        (b"XAUTOCLAIM", b"x", b"g", b"c6", b"3600000", b"0"),
        (b"XAUTOCLAIM", b"x", b"g", b"c6", b"0", b"0", b"COUNT", b"1"),
        (b"XAUTOCLAIM", b"x", b"g", b"c6", b"0", b"0", b"JUSTID"),
        (b"XDEL", b"x", b"2-0", b"3-0"), (b"XAUTOCLAIM", b"x", b"g", b"c7", b"0", b"-"),
        (b"XAUTOCLAIM", b"x", b"g", b"c7", b"0", b"(1-0", b"COUNT", b"0"),
        (b"XAUTOCLAIM", b"x", b"g", b"c7", b"0", b"0", b"COUNT", b"100000"),
        (b"XAUTOCLAIM", b"x", b"nog", b"c7", b"0", b"0"),
        (b"XINFO", b"STREAM", b"x", b"FULL"), (b"XINFO", b"STREAM", b"x", b"FULL", b"COUNT",
                                               b"1"),
        (b"XGROUP", b"DELCONSUMER", b"x", b"g", b"c5"),
        (b"XGROUP", b"DELCONSUMER", b"x", b"g", b"nobody"),
        (b"XGROUP", b"DELCONSUMER", b"x", b"nog", b"c5"), (b"XPENDING", b"x", b"g"),
        (b"XGROUP", b"SETID", b"x", b"g", b"$"), (b"XGROUP", b"SETID", b"x", b"nog", b"$"),
        (b"XGROUP", b"SETID", b"nx3", b"g", b"$"), (b"XGROUP", b"DESTROY", b"x", b"g"),
        (b"XGROUP", b"DESTROY", b"x", b"g"), (b"XGROUP", b"DESTROY", b"nx3", b"g"),
        (b"XINFO", b"GROUPS", b"x"), (b"XINFO", b"CONSUMERS", b"x", b"g"),
        (b"XINFO", b"GROUPS", b"nx3"), (b"XINFO", b"STREAM", b"nx3"),
        (b"XGROUP", b"HELP"), (b"XINFO", b"HELP"), (b"XGROUP", b"help"),
        (b"XGROUP", b"BOGUS"), (b"XINFO", b"BOGUS"),
    )


def test_xclaim_idle_really_sets_the_idle_time(differ):
    """IDLE 7200000 then XPENDING IDLE 3600000 lists it; a fresh delivery it does not."""
    replies = run(differ, (b"XADD", b"x", b"1-0", b"f", b"v"), (b"XADD", b"x", b"2-0", b"f", b"v"),
                  (b"XGROUP", b"CREATE", b"x", b"g", b"0"),
                  (b"XREADGROUP", b"GROUP", b"g", b"c", b"STREAMS", b"x", b">"),
                  (b"XCLAIM", b"x", b"g", b"d", b"0", b"1-0", b"IDLE", b"7200000", b"JUSTID"),
                  (b"XPENDING", b"x", b"g", b"IDLE", b"3600000", b"-", b"+", b"10"),
                  (b"XAUTOCLAIM", b"x", b"g", b"e", b"3600000", b"0", b"JUSTID"))
    assert replies[5].startswith(b"*1\r\n*4\r\n$3\r\n1-0\r\n$1\r\nd\r\n")
    assert replies[6] == b"*3\r\n$3\r\n0-0\r\n*1\r\n$3\r\n1-0\r\n*0\r\n"


def test_xread_non_blocking(differ):
    replies = run(
        differ, (b"XADD", b"x", b"1-0", b"f", b"v"), (b"XADD", b"x", b"2-0", b"f", b"v"),
        (b"XADD", b"y", b"5-0", b"f", b"v"), (b"SET", b"s", b"v"),
        (b"XREAD", b"STREAMS", b"x", b"0"), (b"XREAD", b"STREAMS", b"x", b"$"),
        (b"XREAD", b"COUNT", b"1", b"STREAMS", b"x", b"y", b"0", b"1"),
        (b"XREAD", b"STREAMS", b"x", b"y", b"2", b"5"), (b"XREAD", b"STREAMS", b"nx", b"0"),
        (b"XREAD", b"STREAMS", b"x", b"y", b"0"), (b"XREAD", b"STREAMS", b"x", b">"),
        (b"XREAD", b"STREAMS", b"s", b"0"), (b"XREAD", b"COUNT", b"0", b"STREAMS", b"x", b"0"),
        (b"XREAD", b"COUNT", b"-5", b"STREAMS", b"x", b"0"),
        (b"XREAD", b"BLOCK", b"-1", b"STREAMS", b"x", b"0"),
        (b"XREAD", b"BLOCK", b"x", b"STREAMS", b"x", b"0"),
        (b"XREAD", b"BLOCK", b"10", b"STREAMS", b"x", b"0"),
        (b"XREAD", b"STREAMS", b"x", b"x", b"0", b"1"), (b"XREAD", b"x", b"0"),
        (b"XREAD", b"STREAMS"), (b"XREAD", b"COUNT", b"1"),
    )
    assert replies[8] in (b"*-1\r\n", b"_\r\n")
    assert replies[9] == (b"-ERR Unbalanced XREAD list of streams: for each stream key an ID or "
                          b"'$' must be specified.\r\n")


def test_radix_tree_fields(differ):
    """radix-tree-keys and radix-tree-nodes exactly (masked in the other tests), over streams
    of several sizes and after deletions and trims."""
    differ.reset()
    for conn in (differ.ours, differ.theirs):
        assert conn.call(b"CONFIG", b"SET", b"stream-node-max-entries", b"4") == b"+OK\r\n"
    try:
        for i in range(1, 40):
            differ.check(b"XADD", b"x", b"%d-%d" % (i * 37 % 1000 + i * 1000, i % 3), b"f", b"v")
            if i % 7 == 0:
                differ.check(b"XINFO", b"STREAM", b"x")
        differ.check(b"XDEL", b"x", b"1037-1", b"2074-2", b"3111-0", b"4148-1")
        differ.check(b"XINFO", b"STREAM", b"x")
        differ.check(b"XTRIM", b"x", b"MAXLEN", b"~", b"20")
        differ.check(b"XINFO", b"STREAM", b"x")
        differ.check(b"XTRIM", b"x", b"MAXLEN", b"5")
        differ.check(b"XINFO", b"STREAM", b"x")
    finally:
        for conn in (differ.ours, differ.theirs):
            conn.call(b"CONFIG", b"SET", b"stream-node-max-entries", b"100")


def test_types_and_key_commands(differ):
    replies = run(
        differ, (b"XADD", b"x", b"1-0", b"f", b"v"), (b"XGROUP", b"CREATE", b"x", b"g", b"0"),
        (b"XREADGROUP", b"GROUP", b"g", b"c", b"STREAMS", b"x", b">"),
        (b"XGROUP", b"CREATE", b"e", b"g", b"$", b"MKSTREAM"), (b"SET", b"s", b"v"),
        (b"TYPE", b"x"), (b"TYPE", b"e"), (b"OBJECT", b"ENCODING", b"x"),
        (b"OBJECT", b"ENCODING", b"e"), (b"SCAN", b"0", b"TYPE", b"stream"),
        (b"COPY", b"x", b"x2"), (b"XINFO", b"STREAM", b"x2", b"FULL"), (b"XADD", b"x2", b"2-0",
                                                                       b"f", b"v"),
        (b"XLEN", b"x"), (b"XLEN", b"x2"), (b"COPY", b"x", b"s"), (b"COPY", b"x", b"s", b"REPLACE"),
        (b"TYPE", b"s"), (b"RENAME", b"x", b"y"), (b"XINFO", b"GROUPS", b"y"), (b"EXISTS", b"x"),
        (b"EXPIRE", b"y", b"100"), (b"TTL", b"y"), (b"PERSIST", b"y"),
        (b"MOVE", b"y", b"1"), (b"SELECT", b"1"), (b"XRANGE", b"y", b"-", b"+"), (b"SELECT", b"0"),
        (b"DEL", b"e", b"x2"), (b"DBSIZE",), (b"XINFO", b"STREAM", b"s"),
        (b"XLEN", b"s"), (b"XRANGE", b"s", b"-", b"+"), (b"XGROUP", b"CREATE", b"s", b"g", b"0"),
        (b"XREADGROUP", b"GROUP", b"g", b"c", b"STREAMS", b"s", b">"),
        (b"XREAD", b"STREAMS", b"s", b"0"), (b"GET", b"s"), (b"LPUSH", b"s", b"a"),
        (b"INFO", b"keyspace"),
    )
    assert replies[5] == b"+stream\r\n" and replies[7] == b"$6\r\nstream\r\n"


def test_multi_exec_with_stream_commands(differ):
    replies = run(
        differ, (b"XGROUP", b"CREATE", b"x", b"g", b"$", b"MKSTREAM"), (b"MULTI",),
        (b"XADD", b"x", b"1-0", b"f", b"v"), (b"XADD", b"x", b"1-0", b"f", b"v"),
        (b"XREADGROUP", b"GROUP", b"g", b"c", b"BLOCK", b"0", b"STREAMS", b"x", b">"),
        (b"XREADGROUP", b"GROUP", b"g", b"c", b"BLOCK", b"0", b"STREAMS", b"x", b">"),
        (b"XREAD", b"BLOCK", b"0", b"STREAMS", b"x", b"$"),
        (b"XACK", b"x", b"g", b"1-0"), (b"XLEN", b"x"), (b"EXEC",),
        (b"MULTI",), (b"XADD", b"x", b"2"), (b"XADD", b"x", b"2-0", b"f", b"v"), (b"EXEC",),
        (b"XLEN", b"x"), (b"WATCH", b"x"), (b"XREADGROUP", b"GROUP", b"g", b"c", b"STREAMS", b"x",
                                            b"0"),
        (b"MULTI",), (b"XLEN", b"x"), (b"EXEC",), (b"WATCH", b"x"), (b"XADD", b"x", b"3-0", b"f",
                                                                      b"v"),
        (b"MULTI",), (b"XLEN", b"x"), (b"EXEC",), (b"WATCH", b"x"),
        (b"XGROUP", b"CREATECONSUMER", b"x", b"g", b"c9"), (b"MULTI",), (b"XLEN", b"x"),
        (b"EXEC",),
    )
    assert replies[9].startswith(b"*7\r\n$3\r\n1-0\r\n-ERR The ID specified in XADD is equal")


def test_scripts_calling_stream_commands(differ):
    xadd = b"return redis.call('XADD', KEYS[1], ARGV[1], 'f', ARGV[2])"
    replies = run(
        differ, (b"EVAL", xadd, b"1", b"x", b"1-1", b"a"),
        (b"EVAL", xadd, b"1", b"x", b"1-1", b"b"),
        (b"EVAL", b"return redis.pcall('XADD', KEYS[1], '0-0', 'f', 'v')", b"1", b"x"),
        (b"EVAL", b"redis.call('XADD', KEYS[1], '5-*', 'f', 'v') "
                  b"return redis.call('XRANGE', KEYS[1], '-', '+')", b"1", b"x"),
        (b"EVAL", b"return redis.call('XREVRANGE', KEYS[1], '+', '-', 'COUNT', 1)", b"1", b"x"),
        (b"EVAL", b"redis.call('XGROUP', 'CREATE', KEYS[1], 'g', '0') return "
                  b"redis.call('XREADGROUP', 'GROUP', 'g', 'c', 'STREAMS', KEYS[1], '>')",
         b"1", b"x"),
        (b"EVAL", b"return redis.call('XPENDING', KEYS[1], 'g')", b"1", b"x"),
        (b"EVAL", b"return redis.call('XINFO', 'GROUPS', KEYS[1])", b"1", b"x"),
        (b"EVAL", b"return redis.call('XREAD', 'BLOCK', '0', 'STREAMS', KEYS[1], '$')", b"1",
         b"x"),
        (b"EVAL", b"return redis.call('XREADGROUP', 'GROUP', 'g', 'c', 'BLOCK', '0', 'STREAMS', "
                  b"KEYS[1], '>')", b"1", b"x"),
        (b"EVAL", b"return redis.call('XREAD', 'STREAMS', KEYS[1], '$')", b"1", b"x"),
        (b"EVAL", b"return redis.call('XADD', KEYS[1], '*', 'f', 'v') > '0'", b"1", b"y"),
        (b"EVAL_RO", b"return redis.call('XADD', KEYS[1], '9-0', 'f', 'v')", b"1", b"x"),
        (b"EVAL_RO", b"return redis.call('XLEN', KEYS[1])", b"1", b"x"),
        (b"XLEN", b"x"), (b"XLEN", b"y"),
    )
    assert replies[0] == b"$3\r\n1-1\r\n"


@pytest.mark.parametrize("name", [n.decode().lower() for n in ARITY_NAMES])
def test_command_info(differ, name):
    """Arity, flags, first/last key and step as COMMAND INFO shows them."""
    from tests.compat.resp import elements
    ours, theirs = differ.both(b"COMMAND", b"INFO", name.encode())
    ours_info, theirs_info = (elements(elements(r)[0]) for r in (ours, theirs))
    assert ours_info[:6] == theirs_info[:6]
