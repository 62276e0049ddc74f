"""List commands through redis-py, in RESP2 and RESP3 (`r`), against the real redis-server (`ref`).

The differential suite (tests/compat/test_lists.py) compares raw replies of random sequences;
here are the properties a sequence of single replies does not show: null forms as a client
decodes them, WATCH seeing in-place changes, TTLs kept by in-place changes, COPY making an
independent list, and the cost of reaching either end of a long list.
"""

from __future__ import annotations

import time

import pytest
import redis

from tests.commands.test_strings import outcome


def both(r: redis.Redis, ref: redis.Redis, *args: object) -> object:
    """Run a command on valkdb and on redis-server; their results (or errors) must agree.
    (redis-py decodes BLPOP's reply as a tuple in RESP2, as a list in RESP3.)"""
    ours, theirs = _lists(outcome(r, *args)), _lists(outcome(ref, *args))
    assert ours == theirs, args
    return ours


def _lists(value: object) -> object:
    return [_lists(item) for item in value] if isinstance(value, (list, tuple)) else value


def test_push_pop_and_range(r, ref):
    assert both(r, ref, "RPUSH", "l", "a", "b", "c") == 3
    assert both(r, ref, "LPUSH", "l", "x", "y") == 5
    assert both(r, ref, "LRANGE", "l", "0", "-1") == [b"y", b"x", b"a", b"b", b"c"]
    assert both(r, ref, "LPOP", "l") == b"y"
    assert both(r, ref, "RPOP", "l", "2") == [b"c", b"b"]
    assert both(r, ref, "LLEN", "l") == 2
    both(r, ref, "TYPE", "l")
    assert both(r, ref, "OBJECT", "ENCODING", "l") == b"quicklist"


@pytest.mark.parametrize("args", [
    ("LPOP", "missing"), ("LPOP", "missing", "1"), ("RPOP", "missing", "0"), ("LPOP", "l", "0"),
    ("LINDEX", "missing", "0"), ("LINDEX", "l", "9"), ("LPOS", "l", "zz"),
    ("LPOS", "l", "zz", "COUNT", "0"), ("LMOVE", "missing", "l", "LEFT", "LEFT"),
    ("LMPOP", "1", "missing", "LEFT"), ("BLPOP", "missing", "0.01"),
    ("BLMPOP", "0.01", "1", "missing", "RIGHT"),
])
def test_empty_replies(r, ref, args):
    """Null bulk, null array or empty array, each where Redis sends it (checked byte for byte
    in tests/compat; here as redis-py decodes them in both protocols)."""
    for client in (r, ref):
        client.rpush("l", "a")
    both(r, ref, *args)


def test_a_list_emptied_is_deleted(r, ref):
    for command in (("LPOP", "l"), ("RPOP", "l", "5"), ("LREM", "l", "0", "a"),
                    ("LTRIM", "l", "1", "0"), ("LMOVE", "l", "other", "LEFT", "LEFT"),
                    ("LMPOP", "1", "l", "LEFT", "COUNT", "9"), ("BLPOP", "l", "0")):
        for client in (r, ref):
            client.delete("l", "other")
            client.rpush("l", "a")
        both(r, ref, *command)
        assert both(r, ref, "EXISTS", "l") == 0, command


@pytest.mark.parametrize("command", [
    ("LPUSH", "k", "v"), ("RPUSHX", "k", "v"), ("LPOP", "k"), ("RPOP", "k", "1"),
    ("LSET", "k", "0", "v"), ("LREM", "k", "1", "a"), ("LTRIM", "k", "0", "-1"),
    ("LINSERT", "k", "BEFORE", "a", "v"), ("LMOVE", "k", "k", "LEFT", "RIGHT"),
    ("LMOVE", "other", "k", "LEFT", "RIGHT"), ("RPOPLPUSH", "k", "other"),
    ("LMPOP", "1", "k", "LEFT"), ("BRPOP", "k", "0"),
])
def test_in_place_changes_abort_a_watching_transaction(r, ref, valkdb_server, redis_server,
                                                       command):
    """WATCH must see a change that keeps the same list object (Redis's signalModifiedKey)."""
    results = []
    for client, server in ((r, valkdb_server), (ref, redis_server)):
        client.rpush("k", "a", "b")
        client.rpush("other", "o")
        with client.pipeline() as pipe:
            pipe.watch("k")
            other = redis.Redis(port=server.port, socket_timeout=10)
            other.execute_command(*command)
            other.close()
            pipe.multi()
            pipe.get("x")
            try:
                results.append(pipe.execute())
            except redis.WatchError:
                results.append("aborted")
    assert results == ["aborted", "aborted"]


def test_in_place_changes_keep_the_ttl(r, ref):
    for client in (r, ref):
        client.rpush("k", "a", "b", "c")
        client.expire("k", 100)
    for command in (("LPUSH", "k", "x"), ("RPOP", "k"), ("LSET", "k", "0", "y"),
                    ("LTRIM", "k", "0", "1"), ("LMOVE", "k", "k", "LEFT", "RIGHT")):
        both(r, ref, *command)
        assert 0 < r.ttl("k") <= 100, command
    both(r, ref, "LMOVE", "k", "dst", "LEFT", "LEFT")
    assert both(r, ref, "TTL", "dst") == -1


def test_copy_makes_an_independent_list(r, ref):
    for client in (r, ref):
        client.rpush("src", "a", "b")
    both(r, ref, "COPY", "src", "dst")
    both(r, ref, "RPUSH", "dst", "c")
    assert both(r, ref, "LRANGE", "src", "0", "-1") == [b"a", b"b"]
    assert both(r, ref, "LRANGE", "dst", "0", "-1") == [b"a", b"b", b"c"]


def test_scan_type_list(r, ref):
    for client in (r, ref):
        client.rpush("l", "a")
        client.set("s", "v")
    assert sorted(r.scan_iter(_type="list")) == sorted(ref.scan_iter(_type="list")) == [b"l"]


def _pipelined_seconds(client: redis.Redis, commands: list[tuple]) -> float:
    pipe = client.pipeline(transaction=False)
    for command in commands:
        pipe.execute_command(*command)
    start = time.perf_counter()
    pipe.execute()
    return time.perf_counter() - start


def test_the_ends_of_a_long_list_are_cheap(r):
    """LINDEX, LSET and LRANGE near either end must not walk the list: on 300,000 elements they
    cost about what they cost on 10 (a walk from the head would take milliseconds each)."""
    r.rpush("short", *range(10))
    for start in range(0, 300_000, 50_000):
        r.rpush("long", *range(start, start + 50_000))
    near_ends = [("LINDEX", "{key}", "-2"), ("LSET", "{key}", "-3", "x"),
                 ("LRANGE", "{key}", "-10", "-1"), ("LRANGE", "{key}", "0", "9"),
                 ("LINDEX", "{key}", "3"), ("RPUSH", "{key}", "y"), ("RPOP", "{key}")] * 100

    def cost(key: str) -> float:
        commands = [tuple(arg.format(key=key) for arg in command) for command in near_ends]
        return min(_pipelined_seconds(r, commands) for _ in range(3))

    assert cost("long") < 3 * cost("short") + 0.02
    assert r.lrange("long", -2, -1) == [b"299998", b"299999"]
