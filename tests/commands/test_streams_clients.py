"""Streams through redis-py, sync and asyncio, RESP2 and RESP3: a producer and a consumer group
worker as applications write them (XADD with MAXLEN ~, XREADGROUP, XACK, XPENDING, XCLAIM,
XAUTOCLAIM, XINFO), run against valkdb and against redis-server. redis-py parses every reply
into Python values; the two servers' values must be equal once clock-derived fields (IDs from
`*`, idle and seen times) are taken out.
"""

from __future__ import annotations

import asyncio

import pytest
import redis
import redis.asyncio

from tests.support import redis_server_binary

pytestmark = pytest.mark.skipif(redis_server_binary() is None, reason="needs redis-server")

_TIMES = {"idle", "seen-time", "time_since_delivered", "inactive", "active-time"}


_EPOCH_MS = 1_000_000_000_000  # any later Unix time in ms is a clock reading (a delivery time)


def _untimed(value: object) -> object:
    """value with clock-derived numbers replaced by a placeholder: fields named as times, and
    timestamps wherever redis-py's version put them (its parsing of XINFO STREAM FULL varies)."""
    if isinstance(value, int) and value > _EPOCH_MS:
        return "<time>"
    if isinstance(value, dict):
        return {k: "<time>" if (k.decode() if isinstance(k, bytes) else k) in _TIMES
                else _untimed(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_untimed(v) for v in value]
    return value


def _worker_flow(client: redis.Redis) -> list[object]:
    client.flushall()
    seen: list[object] = []
    stamped = client.xadd("events", {"type": "signup", "user": "1"})  # a `*` ID
    ms, seq = stamped.split(b"-")
    seen.append(int(seq) >= 0 and int(ms) > 0)
    for i in range(1, 6):
        client.xadd("jobs", {"task": f"t{i}"}, id=f"{i}-1", maxlen=100, approximate=True)
    seen.append(client.xgroup_create("jobs", "workers", id="0"))
    seen.append(client.xreadgroup("workers", "w1", {"jobs": ">"}, count=2))
    seen.append(client.xreadgroup("workers", "w2", {"jobs": ">"}, count=1, noack=True))
    seen.append(client.xack("jobs", "workers", "1-1"))
    seen.append(client.xpending("jobs", "workers"))
    seen.append(_untimed(client.xpending_range("jobs", "workers", "-", "+", 10)))
    seen.append(client.xclaim("jobs", "workers", "w2", 0, ["2-1"]))
    seen.append(client.xautoclaim("jobs", "workers", "w3", 0, "0-0", count=10, justid=True))
    seen.append(client.xrange("jobs", "-", "+", count=2))
    seen.append(client.xrevrange("jobs", "+", "-", count=2))
    seen.append(client.xread({"jobs": "3-1"}, count=1))
    seen.append(client.xdel("jobs", "5-1"))
    seen.append(client.xtrim("jobs", maxlen=3, approximate=False))
    seen.append(client.xlen("jobs"))
    seen.append(_untimed(client.xinfo_stream("jobs")))
    seen.append(_untimed(client.xinfo_stream("jobs", full=True)))
    seen.append(_untimed(client.xinfo_groups("jobs")))
    seen.append(_untimed(client.xinfo_consumers("jobs", "workers")))
    seen.append(client.xgroup_delconsumer("jobs", "workers", "w3"))
    seen.append(client.xgroup_destroy("jobs", "workers"))
    seen.append(client.type("jobs"))
    return seen


@pytest.mark.parametrize("protocol", [2, 3])
def test_worker_flow_sync(valkdb_server, redis_server, protocol):
    results = []
    for server in (valkdb_server, redis_server):
        client = redis.Redis(port=server.port, protocol=protocol, socket_timeout=10)
        try:
            results.append(_worker_flow(client))
        finally:
            client.close()
    ours, theirs = results
    assert ours == theirs
    assert theirs[2] and theirs[-1] == b"stream"  # the flow really read entries


async def _async_flow(port: int, protocol: int) -> list[object]:
    client = redis.asyncio.Redis(port=port, protocol=protocol, socket_timeout=10)
    reader = redis.asyncio.Redis(port=port, protocol=protocol, socket_timeout=10)
    try:
        await client.flushall()
        await client.xgroup_create("q", "g", id="$", mkstream=True)
        blocked = asyncio.ensure_future(
            reader.xreadgroup("g", "c", {"q": ">"}, count=10, block=5000))
        for _ in range(200):  # until the reader is parked
            if (await client.info("clients"))["blocked_clients"] == 1:
                break
            await asyncio.sleep(0.01)
        await client.xadd("q", {"n": "1"}, id="1-1")
        got = await blocked
        return [got, await client.xpending("q", "g"), await client.xack("q", "g", "1-1")]
    finally:
        await client.aclose()
        await reader.aclose()


@pytest.mark.parametrize("protocol", [2, 3])
def test_blocked_async_consumer(valkdb_server, redis_server, protocol):
    ours = asyncio.run(_async_flow(valkdb_server.port, protocol))
    theirs = asyncio.run(_async_flow(redis_server.port, protocol))
    assert ours == theirs
    assert theirs[-1] == 1
