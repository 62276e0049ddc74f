"""Hash commands: what the differential suite (tests/compat/test_hashes_sets.py) cannot reach.

Encoding thresholds met by each kind of write, HINCRBYFLOAT's long-double arithmetic, HSCAN's
guarantee while the hash changes, HRANDFIELD's reply shapes and counts, WATCH seeing in-place
changes. Expected answers come from the real redis-server (`ref`) wherever it can be asked;
valkdb runs through redis-py in RESP2 and RESP3 (`r`).
"""

from __future__ import annotations

import pytest
import redis

from tests.commands.test_sets import encoding
from tests.commands.test_strings import outcome

THRESHOLDS = {"hash-max-listpack-entries": ("4", "512"), "hash-max-listpack-value": ("8", "64")}


@pytest.fixture
def tiny(r, ref):
    """Both servers with hashes of at most 4 fields of 8 bytes as listpacks, restored after."""
    for client in (r, ref):
        for name, (small, _) in THRESHOLDS.items():
            client.config_set(name, small)
    yield
    for client in (r, ref):
        for name, (_, default) in THRESHOLDS.items():
            client.config_set(name, default)


@pytest.mark.parametrize("args", [
    ("HSET", "h", "f1", "1", "f2", "2", "f3", "3", "f4", "4", "f5", "5"),  # too many fields
    ("HSET", "h", "f", "123456789"),  # a value too long
    ("HSET", "h", "123456789", "v"),  # a field too long
    ("HMSET", "h", "f", "123456789"),
    ("HSETNX", "h", "f", "123456789"),
    ("HINCRBYFLOAT", "h", "f", "0.3333333"),  # the result is longer than 8 bytes
    ("HINCRBY", "h", "f", "1234567890"),
    ("HINCRBY", "h", "123456789", "1"),
])
def test_each_write_converts_to_hashtable_as_redis_does(r, ref, tiny, args):
    for client in (r, ref):
        client.hset("h", "x", "1")
    assert outcome(r, *args) == outcome(ref, *args)
    assert encoding(r, "h") == encoding(ref, "h")
    # and never back, even once small again
    for client in (r, ref):
        client.hdel("h", *client.hkeys("h")[1:])
    assert encoding(r, "h") == encoding(ref, "h")


def test_an_update_with_a_long_value_converts_even_if_nothing_is_added(r, ref, tiny):
    for client in (r, ref):
        client.hset("h", "f", "v")
        client.hset("h", "f", "v", mapping={"g": "123456789"})
        client.hsetnx("h", "f", "123456789")  # the field exists: nothing happens
    assert encoding(r, "h") == encoding(ref, "h")


@pytest.mark.parametrize("start, increment", [
    (b"9223372036854775807", b"0"),
    (b"1", b"0x10"),
    (b"0", b"1e400"),
    (b"1e308", b"1e308"),
    (b"0.1", b"0.2"),
    (b"-0", b"-0"),
    (b"0", b"3e-4951"),
    (b"0", b"1.2e4932"),
    (b"1", b"inf"),
    (b"inf", b"0"),
    (b"1 ", b"1"),
    (b"abc", b"1"),
    (b"1", b"nan"),
    (b"x" * 6000, b"1"),
])
def test_hincrbyfloat_uses_long_double(r, ref, start, increment):
    for client in (r, ref):
        client.hset("h", "f", start)
    args = ("HINCRBYFLOAT", "h", "f", increment)
    assert outcome(r, *args) == outcome(ref, *args)
    assert r.hget("h", "f") == ref.hget("h", "f")


def test_hscan_returns_every_field_present_throughout(r):
    """A hashtable hash changing between HSCAN calls: each field present from start to end is
    returned at least once, with its value."""
    pipe = r.pipeline(transaction=False)
    for start in range(0, 3000, 500):
        pipe.hset("h", mapping={f"f{i}": f"v{i}" for i in range(start, start + 500)})
    pipe.execute()
    doomed = [f"f{i}" for i in range(0, 3000, 7)]
    stable = {f"f{i}" for i in range(3000)} - set(doomed)
    seen: dict[str, str] = {}
    cursor, pages = 0, 0
    while True:
        cursor, page = r.hscan("h", cursor, count=40)
        seen.update((k.decode(), v.decode()) for k, v in page.items())
        pages += 1
        if cursor == 0 or pages > 1000:
            break
        r.hdel("h", *(doomed.pop() for _ in range(min(5, len(doomed)))), "none")
        r.hset("h", f"new{pages}", "x")
    assert cursor == 0
    assert stable <= set(seen)
    assert all(seen[f] == "v" + f[1:] for f in stable)


@pytest.mark.parametrize("count", [1, 2, 3, 5, -1, -7])
def test_hrandfield_counts_and_pairs(r, count):
    r.hset("h", mapping={"a": "1", "b": "2", "c": "3"})
    fields = r.hrandfield("h", count)
    assert len(fields) == (min(count, 3) if count > 0 else -count)
    assert set(fields) <= {b"a", b"b", b"c"}
    if count > 0:
        assert len(set(fields)) == len(fields)
    pairs = r.hrandfield("h", count, withvalues=True)
    flat = [x for pair in pairs for x in pair] if isinstance(pairs[0], list) else pairs
    assert all(r.hget("h", f) == v for f, v in zip(flat[::2], flat[1::2], strict=True))


def test_hrandfield_resp3_nests_pairs(valkdb_server, redis_server):
    """RESP3 replies [field, value] pairs; compare the raw shape with redis-server's."""
    replies = []
    for port in (valkdb_server.port, redis_server.port):
        client = redis.Redis(port=port, protocol=3, socket_timeout=10)
        client.delete("h")
        client.hset("h", "only", "1")
        replies.append((client.hrandfield("h", 1, withvalues=True),
                        client.hrandfield("h", -2, withvalues=True)))
        client.delete("h")
        client.close()
    assert replies[0] == replies[1]


@pytest.mark.parametrize("change", [("HSET", "h", "a", "2"), ("HDEL", "h", "a"),
                                    ("HINCRBY", "h", "a", 1), ("HINCRBYFLOAT", "h", "a", 1),
                                    ("HSETNX", "h", "new", 1), ("HMSET", "h", "a", "1")])
def test_watch_sees_changes_in_place(r, valkdb_server, change):
    r.hset("h", "a", "1")
    other = redis.Redis(port=valkdb_server.port, socket_timeout=10)
    try:
        with r.pipeline() as pipe:
            pipe.watch("h")
            other.execute_command(*change)
            pipe.multi()
            pipe.hlen("h")
            with pytest.raises(redis.WatchError):
                pipe.execute()
    finally:
        other.close()


def test_emptied_hash_is_deleted_and_keeps_no_ttl(r, ref):
    for client in (r, ref):
        client.hset("h", "a", "1")
        client.expire("h", 100)
        client.hdel("h", "a")
        client.hset("h", "b", "2")
    assert r.ttl("h") == ref.ttl("h") == -1
