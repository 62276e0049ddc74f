"""MEMORY: what a byte-for-byte differential test cannot show (tests/compat/test_memory_diff.py
has those): that MEMORY USAGE samples big values instead of walking them, that the size model
agrees with Redis over a sweep of sizes, and that MEMORY STATS adds up as Redis's does.
"""

from __future__ import annotations

import time

import pytest
import redis

from tests.support import start_valkdb


def _fill(client, command: str, key: str, items: list, chunk: int = 10_000) -> None:
    pipe = client.pipeline(transaction=False)
    for start in range(0, len(items), chunk):
        pipe.execute_command(command, key, *items[start:start + chunk])
    pipe.execute()


def _timed(client, *args) -> tuple[float, int]:
    start = time.perf_counter()
    reply = client.execute_command(*args)
    return time.perf_counter() - start, reply


BIG = {
    "list": ("RPUSH", lambda n: [b"element:%d" % i for i in range(n)]),
    "set": ("SADD", lambda n: [b"member:%d" % i for i in range(n)]),
    "hash": ("HSET", lambda n: [p for i in range(n) for p in (b"f%d" % i, b"v%d" % i)]),
    "zset": ("ZADD", lambda n: [p for i in range(n) for p in (b"%d" % i, b"m%d" % i)]),
}


@pytest.mark.parametrize("kind", list(BIG))
def test_usage_of_a_huge_value_is_sampled(r, kind: str) -> None:
    """A million elements: the default SAMPLES costs a few elements' work, SAMPLES 0 walks."""
    if r.connection_pool.connection_kwargs.get("protocol") == 3:
        pytest.skip("one protocol is enough to time this")
    command, items = BIG[kind]
    count = 1_000_000 if kind == "list" else 300_000
    _fill(r, command, "big", items(count))
    quick, sampled = _timed(r, "MEMORY", "USAGE", "big")
    slow, walked = _timed(r, "MEMORY", "USAGE", "big", "SAMPLES", "0")
    assert quick < 0.05, quick
    assert quick * 5 < slow, (quick, slow)
    assert 0.7 < sampled / walked < 1.3


def test_usage_of_a_long_stream_is_sampled(r, ref) -> None:
    """Its first nodes costed, the rest counted: the same figure as Redis's, quickly."""
    if r.connection_pool.connection_kwargs.get("protocol") == 3:
        pytest.skip("one protocol is enough to time this")
    for client in (r, ref):
        pipe = client.pipeline(transaction=False)
        for i in range(100_000):
            pipe.xadd("s", {"field": i, "other": "x" * (i % 30)}, id=f"{i + 1}-0")
        pipe.execute()
    quick, sampled = _timed(r, "MEMORY", "USAGE", "s")
    walked = r.memory_usage("s", samples=0)
    assert quick < 0.05, quick
    assert (sampled, walked) == (ref.memory_usage("s"), ref.memory_usage("s", samples=0))


@pytest.mark.parametrize("lengths", [range(0, 200), range(200, 5000, 37),
                                     range(5000, 300_000, 9973)])
def test_string_sizes_follow_redis_allocations(r, ref, lengths: range) -> None:
    """jemalloc's size classes and sds headers, over string and key lengths alike."""
    for client in (r, ref):
        pipe = client.pipeline(transaction=False)
        for n in lengths:
            pipe.set(b"s%d" % n, b"x" * n)
            pipe.set(b"k" * min(n, 70_000), b"1")
        pipe.execute()
    for n in lengths:
        key = b"s%d" % n
        assert r.memory_usage(key) == ref.memory_usage(key), n
        key = b"k" * min(n, 70_000)
        if key:
            assert r.memory_usage(key) == ref.memory_usage(key), n


@pytest.mark.parametrize("members", [[b"%d" % i for i in range(n)] for n in (1, 5, 100, 511)]
                         + [[b"-40000", b"1"], [b"4294967296", b"-1"]])
def test_intset_sizes(r, ref, members: list) -> None:
    for client in (r, ref):
        client.sadd("s", *members)
    assert r.object("encoding", "s") == ref.object("encoding", "s") == b"intset"
    assert r.memory_usage("s") == ref.memory_usage("s")


def test_usage_of_missing_keys_and_other_dbs(r, ref) -> None:
    for client in (r, ref):
        client.set("here", "v")
        assert client.memory_usage("nowhere") is None
    assert r.memory_usage("here") == ref.memory_usage("here")
    r.execute_command("SELECT", 1)
    assert r.memory_usage("here") is None


def test_usage_leaves_the_value_alone(r) -> None:
    r.rpush("l", *range(1000))
    r.hset("h", mapping={f"f{i}": i for i in range(10)})
    before = r.lrange("l", 0, -1), r.hgetall("h"), r.object("encoding", "h")
    for _ in range(3):
        r.memory_usage("l", samples=0)
        r.memory_usage("h")
    assert (r.lrange("l", 0, -1), r.hgetall("h"), r.object("encoding", "h")) == before


def _stats(client) -> dict:
    reply = client.execute_command("MEMORY", "STATS")
    if isinstance(reply, list):
        reply = dict(zip(reply[::2], reply[1::2], strict=True))
    return {(k.decode() if isinstance(k, bytes) else k): v for k, v in reply.items()}


_COMPONENTS = ("startup.allocated", "replication.backlog", "clients.slaves", "clients.normal",
               "cluster.links", "aof.buffer", "lua.caches", "functions.caches")


def _db_overheads(stats: dict) -> int:
    total = 0
    for name, value in stats.items():
        if name.startswith("db."):
            if isinstance(value, list):
                value = dict(zip(value[::2], value[1::2], strict=True))
            total += sum(value.values())
    return total


def test_stats_add_up_as_redis(r, ref) -> None:
    """overhead.total is the sum of its parts, dataset.bytes the rest, bytes-per-key the net
    usage per key: identities checked on both servers."""
    for client in (r, ref):
        client.mset({f"key{i}": "v" * i for i in range(200)})
        client.expire("key1", 100)
    for client in (ref, r):
        stats = _stats(client)
        assert list(stats) == list(_stats(ref))
        overhead = sum(stats[name] for name in _COMPONENTS) + _db_overheads(stats)
        assert stats["overhead.total"] == overhead
        assert stats["dataset.bytes"] == max(0, stats["total.allocated"] - overhead)
        assert stats["keys.count"] == 200
        net = max(1, stats["total.allocated"] - stats["startup.allocated"])
        assert stats["keys.bytes-per-key"] == net // 200
        assert stats["peak.allocated"] >= stats["total.allocated"] > 0
        assert abs(float(stats["peak.percentage"])
                   - 100 * stats["total.allocated"] / stats["peak.allocated"]) < 0.01


def test_stats_follow_info_memory(r) -> None:
    info = r.info("memory")
    stats = _stats(r)
    assert stats["startup.allocated"] == info["used_memory_startup"]
    assert abs(stats["total.allocated"] - info["used_memory"]) < 4 << 20
    assert stats["allocator.resident"] >= stats["allocator.allocated"] > 0


def test_stats_peak_is_the_servers_own() -> None:
    """The peak is the server's own high-water mark, not one inherited from the process that
    started it (Linux keeps getrusage's maxrss across exec)."""
    ballast = bytearray(150 << 20)
    for at in range(0, len(ballast), 4096):
        ballast[at] = 1  # resident, so this process's peak is at least 150 MB
    server = start_valkdb()
    try:
        del ballast
        client = redis.Redis(port=server.port)
        stats = _stats(client)
        with open(f"/proc/{server.proc.pid}/status") as status:
            high_water = next(int(line.split()[1]) * 1024 for line in status
                              if line.startswith("VmHWM"))
        assert stats["total.allocated"] <= stats["peak.allocated"] <= high_water
        client.close()
    finally:
        server.stop()
