"""OBJECT FREQ and OBJECT IDLETIME against redis-server 7.0.15: which commands count as an
access, and what each access does to a key's LRU clock or LFU counter.

The LFU counter only moves by chance (lfu-log-factor); with a factor of 0 every access adds
exactly one, and with lfu-decay-time 0 nothing decays (and with a maxmemory set, Redis stops
sharing the objects of small integers, whose counter all keys holding them would share), so
sequences of commands leave the
same counters on both servers and hypothesis can compare them after every step. The LRU clock
has one-second resolution: idle times are compared after a real wait, within a second.
"""

from __future__ import annotations

import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.compat.test_strings_keys import COMPAT_SETTINGS

KEYS = (b"s", b"h", b"l", b"n")


@pytest.fixture
def lfu(differ):
    for conn in (differ.ours, differ.theirs):
        for name, value in ((b"maxmemory-policy", b"allkeys-lfu"), (b"lfu-log-factor", b"0"),
                            (b"lfu-decay-time", b"0"), (b"maxmemory", b"1gb")):
            assert conn.call(b"CONFIG", b"SET", name, value) == b"+OK\r\n"
    yield differ
    for conn in (differ.ours, differ.theirs):
        conn.call(b"CONFIG", b"SET", b"maxmemory-policy", b"noeviction", b"lfu-log-factor",
                  b"10", b"lfu-decay-time", b"1", b"maxmemory", b"0")


ACCESSES = st.sampled_from([
    (b"GET", b"s"), (b"SET", b"s", b"v"), (b"SET", b"s", b"w", b"EX", b"100"),
    (b"SET", b"s", b"x", b"GET"), (b"APPEND", b"s", b"z"), (b"STRLEN", b"s"),
    (b"INCR", b"n"), (b"GET", b"n"), (b"TOUCH", b"s", b"h"), (b"EXISTS", b"s", b"l"),
    (b"TYPE", b"h"), (b"TTL", b"s"), (b"PTTL", b"h"), (b"EXPIRE", b"l", b"100"),
    (b"PERSIST", b"l"), (b"HSET", b"h", b"f", b"1"), (b"HGET", b"h", b"f"),
    (b"HGETALL", b"h"), (b"LPUSH", b"l", b"a"), (b"LRANGE", b"l", b"0", b"-1"),
    (b"LLEN", b"l"), (b"SCARD", b"l"), (b"MGET", b"s", b"n"), (b"DEL", b"n"),
    (b"MSET", b"s", b"1", b"n", b"2"), (b"RENAME", b"s", b"n"), (b"COPY", b"h", b"s"),
    (b"GETDEL", b"n"), (b"GETEX", b"s", b"PERSIST"), (b"INCRBY", b"n", b"2"),
    (b"HINCRBY", b"h", b"g", b"1"), (b"RPOP", b"l"),
    (b"SETNX", b"s", b"q"), (b"MOVE", b"h", b"1"),
    (b"SETRANGE", b"s", b"1", b"ab"), (b"SETRANGE", b"n", b"0", b""),
    (b"GETRANGE", b"s", b"0", b"1"),
])


@settings(COMPAT_SETTINGS, max_examples=40)
@given(steps=st.lists(ACCESSES, min_size=1, max_size=12))
def test_lfu_counters_follow_accesses(lfu, steps):
    lfu.reset()
    for step in steps:
        lfu.check(*step)
        for key in KEYS:
            lfu.check(b"OBJECT", b"FREQ", key)


def test_new_key_starts_at_the_initial_counter(lfu):
    lfu.check(b"SET", b"k", b"v")
    assert lfu.check(b"OBJECT", b"FREQ", b"k") == b":5\r\n"
    for _ in range(3):
        lfu.check(b"GET", b"k")
    assert lfu.check(b"OBJECT", b"FREQ", b"k") == b":8\r\n"


def test_policy_errors(differ):
    differ.check(b"SET", b"k", b"v")
    differ.check(b"OBJECT", b"FREQ", b"k")  # refused: no LFU policy
    differ.check(b"OBJECT", b"FREQ", b"missing")
    differ.check(b"OBJECT", b"IDLETIME", b"missing")
    for conn in (differ.ours, differ.theirs):
        conn.call(b"CONFIG", b"SET", b"maxmemory-policy", b"volatile-lfu")
    try:
        differ.check(b"OBJECT", b"IDLETIME", b"k")  # refused: LFU policy
    finally:
        for conn in (differ.ours, differ.theirs):
            conn.call(b"CONFIG", b"SET", b"maxmemory-policy", b"noeviction")


def _idle(conn, key: bytes) -> int:
    reply = conn.call(b"OBJECT", b"IDLETIME", key)
    assert reply.startswith(b":"), reply
    return int(reply[1:])


def test_idle_time_counts_from_the_last_access(differ):
    """GET and TOUCH reset the idle time; TYPE, EXISTS, TTL and OBJECT do not (LOOKUP_NOTOUCH)."""
    if differ.protocol == 3:
        pytest.skip("one protocol is enough for a test that waits")
    for key in (b"read", b"peeked", b"touched", b"rewritten"):
        differ.both(b"SET", key, b"v")
    time.sleep(2.6)  # the clock has 1 s resolution and ticks hz times a second
    differ.both(b"GET", b"read")
    for command in (b"TYPE", b"EXISTS", b"TTL", b"PTTL"):
        differ.both(command, b"peeked")
    differ.both(b"OBJECT", b"ENCODING", b"peeked")
    differ.both(b"TOUCH", b"touched")
    differ.both(b"SET", b"rewritten", b"w")
    for key, expected in ((b"read", 0), (b"peeked", 2), (b"touched", 0), (b"rewritten", 0)):
        ours, theirs = _idle(differ.ours, key), _idle(differ.theirs, key)
        assert abs(ours - theirs) <= 1, (key, ours, theirs)
        assert (ours >= 2) == (expected >= 2), (key, ours)


def test_restore_idletime_and_freq(differ):
    """RESTORE ... IDLETIME sets the LRU clock back; FREQ sets the LFU counter."""
    differ.check(b"SET", b"k", b"v")
    payload = differ.ours.call(b"DUMP", b"k")
    assert payload.startswith(b"$")
    body = payload[payload.index(b"\n") + 1:-2]
    differ.check(b"RESTORE", b"idle", b"0", body, b"IDLETIME", b"1000")
    ours, theirs = _idle(differ.ours, b"idle"), _idle(differ.theirs, b"idle")
    assert 1000 <= ours <= 1001 and 1000 <= theirs <= 1001, (ours, theirs)
    for conn in (differ.ours, differ.theirs):
        conn.call(b"CONFIG", b"SET", b"maxmemory-policy", b"allkeys-lfu")
    try:
        differ.check(b"RESTORE", b"freq", b"0", body, b"FREQ", b"77")
        differ.check(b"OBJECT", b"FREQ", b"freq")
    finally:
        for conn in (differ.ours, differ.theirs):
            conn.call(b"CONFIG", b"SET", b"maxmemory-policy", b"noeviction")
