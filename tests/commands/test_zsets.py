"""Sorted sets through redis-py, in RESP2 and RESP3: replies compared with a real redis-server
(decoded by the same client library), the keyspace rules (WATCH sees in-place changes, COPY
copies, an emptied key is deleted), and the blocking pops with clients really blocked: served by
ZADD / ZUNIONSTORE from another client, oldest waiter first, timing out with a null reply.

Exact reply bytes, errors and edge cases are in tests/compat/test_zsets.py.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
import redis


def _plain(value: Any) -> Any:
    """RESP2 and RESP3 decode pairs as tuples or lists: compare them as lists."""
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    return value


@pytest.fixture
def ref(r, redis_server):
    """The real redis-server, through redis-py with the same protocol as `r` (it decodes
    replies differently in RESP2 and RESP3)."""
    protocol = r.connection_pool.connection_kwargs.get("protocol", 2)
    client = redis.Redis(port=redis_server.port, protocol=protocol, socket_timeout=10)
    client.flushall()
    yield client
    client.close()


def both(r, ref, call: Callable[[Any], Any]) -> Any:  # type: ignore[no-untyped-def]
    ours, theirs = _plain(call(r)), _plain(call(ref))
    assert ours == theirs
    return ours


def test_scores_and_ranges(r, ref):
    for client in (r, ref):
        client.zadd("z", {"a": 1, "b": 2.5, "c": float("inf"), "d": float("-inf"), "e": 2.5})
    both(r, ref, lambda c: c.zrange("z", 0, -1, withscores=True))
    both(r, ref, lambda c: c.zrange("z", "(1", "+inf", byscore=True, withscores=True))
    both(r, ref, lambda c: c.zrange("z", "+inf", "-inf", byscore=True, desc=True, offset=1,
                                    num=2, withscores=True))
    both(r, ref, lambda c: c.zrevrangebyscore("z", 3, 1, withscores=True))
    both(r, ref, lambda c: c.zscore("z", "c"))
    both(r, ref, lambda c: c.zmscore("z", ["a", "x", "d"]))
    both(r, ref, lambda c: c.zincrby("z", 0.1, "a"))
    both(r, ref, lambda c: c.zadd("z", {"a": 5}, incr=True))
    both(r, ref, lambda c: c.zadd("z", {"b": 1, "f": 3}, gt=True, ch=True))
    both(r, ref, lambda c: [c.zrank("z", "b"), c.zrevrank("z", "b"), c.zrank("z", "nope")])
    both(r, ref, lambda c: [c.zcard("z"), c.zcount("z", "(1", 3), c.zlexcount("z", "-", "+")])
    both(r, ref, lambda c: c.zpopmin("z"))
    both(r, ref, lambda c: c.zpopmax("z", 2))
    both(r, ref, lambda c: c.zmpop(1, ["z"], min=True, count=2))
    both(r, ref, lambda c: c.zrange("z", 0, -1, withscores=True))


def test_set_operations(r, ref):
    for client in (r, ref):
        client.zadd("a", {"x": 1, "y": 2, "z": 3})
        client.zadd("b", {"y": 10, "z": 20, "w": 30})
        client.sadd("s", "z", "w", "v")
    both(r, ref, lambda c: c.zunion(["a", "b", "s"], withscores=True))
    both(r, ref, lambda c: c.zinter({"a": 2, "b": 0.5}, aggregate="MAX", withscores=True))
    both(r, ref, lambda c: c.zdiff(["a", "s"], withscores=True))
    both(r, ref, lambda c: c.zintercard(2, ["a", "b"]))
    both(r, ref, lambda c: c.zunionstore("u", ["a", "b"], aggregate="MIN"))
    both(r, ref, lambda c: c.zrange("u", 0, -1, withscores=True))
    both(r, ref, lambda c: c.zrangestore("r", "u", 1, 2))
    both(r, ref, lambda c: c.zrange("r", 0, -1, withscores=True))
    both(r, ref, lambda c: c.zdiffstore("empty", ["a", "a"]))
    both(r, ref, lambda c: c.exists("empty"))


def test_random_and_scan(r, ref):
    members = {f"m{i}": i for i in range(300)}  # a skiplist: ZSCAN pages
    r.zadd("z", members)
    seen = {member: score for member, score in r.zscan_iter("z", count=7)}
    assert seen == {member.encode(): float(score) for member, score in members.items()}
    picked = r.zrandmember("z", 10, withscores=True)
    assert len(_plain(picked)) in (10, 20)  # pairs in RESP3, flat in RESP2
    assert r.zrandmember("z") in {m.encode() for m in members}
    assert r.object("encoding", "z") == b"skiplist"
    assert r.type("z") == b"zset"


def test_zscan_while_deleting(r):
    """Members present for the whole iteration are all returned, though others are deleted
    behind the cursor and scores change."""
    r.zadd("z", {f"m{i}": i for i in range(500)})
    cursor, seen = 0, set()
    for step in range(1000):
        cursor, page = r.zscan("z", cursor, count=20)
        seen.update(member for member, _ in page)
        r.zrem("z", f"m{step}")  # m0.. go as the scan runs
        r.zincrby("z", 1000, f"m{499 - step}")
        if cursor == 0:
            break
    assert cursor == 0
    kept = {f"m{i}".encode() for i in range(step + 1, 500)}
    assert kept <= seen


def test_watch_sees_in_place_changes(r):
    r.zadd("z", {"a": 1, "b": 2})
    other = redis.Redis(port=r.connection_pool.connection_kwargs["port"], socket_timeout=10)
    for change in (lambda: other.zadd("z", {"c": 3}), lambda: other.zrem("z", "a"),
                   lambda: other.zincrby("z", 1, "b"), lambda: other.zpopmin("z")):
        with r.pipeline() as pipe:
            pipe.watch("z")
            change()
            pipe.multi()
            pipe.zcard("z")
            with pytest.raises(redis.WatchError):
                pipe.execute()
    other.close()


def test_copy_is_deep_and_emptied_keys_go(r):
    r.zadd("z", {"a": 1, "b": 2})
    assert r.copy("z", "c")
    r.zadd("c", {"x": 9})
    assert r.zcard("z") == 2
    assert r.zrem("z", "a", "b") == 2
    assert r.exists("z") == 0
    r.zadd("p", {"a": 1})
    r.zpopmax("p")
    assert r.exists("p") == 0


# -- blocking -----------------------------------------------------------------------------------

def _client(r) -> redis.Redis:  # type: ignore[no-untyped-def]
    kwargs = r.connection_pool.connection_kwargs
    return redis.Redis(port=kwargs["port"], protocol=kwargs.get("protocol", 2), socket_timeout=10)


def _wait_blocked(r, count: int) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + 5
    while r.info("clients")["blocked_clients"] < count:
        assert time.monotonic() < deadline, "the client did not block"
        time.sleep(0.005)


class Blocked(threading.Thread):
    """Runs one blocking call on its own connection; .result is its reply (or exception)."""

    def __init__(self, r, call: Callable[[redis.Redis], Any]) -> None:  # type: ignore[no-untyped-def]
        super().__init__(daemon=True)
        self.client = _client(r)
        self.call = call
        self.result: Any = None

    def run(self) -> None:
        try:
            self.result = self.call(self.client)
        except Exception as exc:  # handed to the test
            self.result = exc
        finally:
            self.client.close()

    def outcome(self) -> Any:
        self.join(10)
        assert not self.is_alive()
        return _plain(self.result)


def test_bzpopmin_served_by_zadd(r):
    waiter = Blocked(r, lambda c: c.bzpopmin(["nothing", "k"], timeout=5))
    waiter.start()
    _wait_blocked(r, 1)
    r.zadd("k", {"b": 2, "a": 1})
    assert waiter.outcome() == [b"k", b"a", 1.0]
    assert r.zrange("k", 0, -1) == [b"b"]


def test_bzpopmax_waiters_served_oldest_first(r):
    first = Blocked(r, lambda c: c.bzpopmax("k", timeout=5))
    second = Blocked(r, lambda c: c.bzpopmax(["other", "k"], timeout=5))
    first.start()
    _wait_blocked(r, 1)
    second.start()
    _wait_blocked(r, 2)
    r.zadd("k", {"a": 1, "b": 2, "c": 3})
    assert first.outcome() == [b"k", b"c", 3.0]
    assert second.outcome() == [b"k", b"b", 2.0]
    assert r.zcard("k") == 1


def test_bzmpop_served_by_zunionstore(r):
    r.zadd("src", {"a": 1, "b": 2, "c": 3})
    waiter = Blocked(r, lambda c: c.bzmpop(5, 2, ["x", "k"], min=True, count=2))
    waiter.start()
    _wait_blocked(r, 1)
    assert r.zunionstore("k", ["src"]) == 3
    key, popped = waiter.outcome()
    assert (key, [(m, float(score)) for m, score in popped]) == (b"k", [(b"a", 1.0), (b"b", 2.0)])
    assert r.zrange("k", 0, -1) == [b"c"]


def test_blocking_pop_timeout_and_multi(r, ref):
    start = time.monotonic()
    assert r.bzpopmin("nothing", timeout=0.1) is None
    assert r.bzmpop(0.1, 1, ["nothing"], max=True) is None
    assert 0.2 <= time.monotonic() - start < 3
    for client in (r, ref):  # inside MULTI nothing blocks; a key with data still serves
        client.zadd("k", {"a": 1})
    both(r, ref, lambda c: c.pipeline().bzpopmin("nothing", 0).bzpopmax(["nothing", "k"], 0)
         .execute())


def test_blocked_on_a_wrong_type_stays_blocked(r):
    """A key that becomes another type does not serve the waiter (Redis 7.0); a later sorted
    set under the same key does."""
    waiter = Blocked(r, lambda c: c.bzpopmin("k", timeout=5))
    waiter.start()
    _wait_blocked(r, 1)
    r.lpush("k", "x")
    time.sleep(0.05)
    assert waiter.is_alive()
    r.delete("k")
    r.zadd("k", {"m": 7})
    assert waiter.outcome() == [b"k", b"m", 7.0]
    with pytest.raises(redis.ResponseError, match="WRONGTYPE"):
        r.lpush("w", "x") and r.bzpopmin("w", timeout=1)
