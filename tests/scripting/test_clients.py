"""Scripting through real clients: redis-py's Script objects and Lock (sync and asyncio), which
run EVALSHA and fall back to EVAL on NOSCRIPT, against valkdb, with the results compared to a
real redis-server's where they are deterministic."""

from __future__ import annotations

import asyncio

import pytest
import redis
import redis.asyncio
from redis.exceptions import LockError, LockNotOwnedError, NoScriptError, ResponseError


def test_register_script_loads_on_noscript_and_caches(r):
    incr_by = r.register_script("return redis.call('INCRBY', KEYS[1], ARGV[1])")
    assert incr_by(keys=["n"], args=[5]) == 5  # EVALSHA -> NOSCRIPT -> SCRIPT LOAD/EVAL
    assert r.script_exists(incr_by.sha) == [True]
    assert incr_by(keys=["n"], args=[2]) == 7  # EVALSHA from the cache
    r.script_flush()
    assert r.script_exists(incr_by.sha) == [False]
    with pytest.raises(NoScriptError):
        r.evalsha(incr_by.sha, 1, "n", 1)
    assert incr_by(keys=["n"], args=[1]) == 8


def test_script_errors_are_response_errors(r, ref):
    script = "return redis.call('INCR', KEYS[1])"
    messages = []
    for client in (r, ref):
        client.set("s", "text")
        with pytest.raises(ResponseError) as info:
            client.eval(script, 1, "s")
        messages.append(str(info.value))
    assert messages[0] == messages[1]
    assert "script: " in messages[0] and "@user_script:1." in messages[0]


def test_lock_acquire_extend_reacquire_release(r):
    lock = r.lock("resource", timeout=10, blocking=False)
    assert lock.acquire()
    assert not r.lock("resource", blocking=False).acquire()  # held by the first
    assert lock.extend(10)  # LUA_EXTEND_SCRIPT
    assert 10_000 < r.pttl("resource") <= 20_000
    assert lock.reacquire()  # LUA_REACQUIRE_SCRIPT
    assert 9_000 < r.pttl("resource") <= 10_000
    lock.release()  # LUA_RELEASE_SCRIPT
    assert r.exists("resource") == 0
    with pytest.raises(LockError):
        lock.release()


def test_lock_owned_by_another_token_is_not_released(r):
    lock = r.lock("resource", timeout=10)
    assert lock.acquire(blocking=False)
    r.set("resource", "someone-else")
    with pytest.raises(LockNotOwnedError):
        lock.release()
    assert r.get("resource") == b"someone-else"


def test_lock_context_manager_and_expiry(r):
    with r.lock("job", timeout=0.2, blocking_timeout=1):
        assert r.exists("job") == 1
    assert r.exists("job") == 0
    first = r.lock("job", timeout=0.1)
    assert first.acquire(blocking=False)
    second = r.lock("job", timeout=5, blocking_timeout=2, sleep=0.02)
    assert second.acquire()  # the first one's TTL ran out
    second.release()


def test_asyncio_lock_and_script(valkdb_server):
    async def main() -> tuple[int, bool]:
        client = redis.asyncio.Redis(port=valkdb_server.port)
        try:
            await client.flushall()
            script = client.register_script("return redis.call('RPUSH', KEYS[1], ARGV[1])")
            length = await script(keys=["q"], args=["x"])
            lock = client.lock("alock", timeout=5)
            acquired = await lock.acquire(blocking=False)
            await lock.extend(5)
            await lock.release()
            return length, acquired and not await client.exists("alock")
        finally:
            await client.aclose()

    assert asyncio.run(main()) == (1, True)


@pytest.mark.parametrize("protocol", [2, 3])
def test_conversions_match_redis(valkdb_server, redis_server, protocol):
    """redis-py's parsed results of the same scripts, on both servers."""
    scripts = [
        "return {1, 'two', {3, {4}}, false, 5}",
        "return {ok = 'FINE'}",
        "redis.setresp(3) return redis.call('HGETALL', KEYS[1])",
        "redis.setresp(3) return {double = 3.25}",
        "return redis.call('ZRANGE', KEYS[2], 0, -1, 'WITHSCORES')",
        "return cjson.decode(ARGV[1]).a",
        "return {map = {x = 1}}",
    ]
    results = []
    for port in (valkdb_server.port, redis_server.port):
        client = redis.Redis(port=port, protocol=protocol)
        client.flushall()
        client.hset("h", "f", "v")
        client.zadd("z", {"m": 1.5})
        results.append([client.eval(s, 2, "h", "z", '{"a": 7}') for s in scripts])
        client.close()
    assert results[0] == results[1]
