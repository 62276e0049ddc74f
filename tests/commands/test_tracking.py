"""Client-side caching through real clients: redis-py's RESP3 cache, and what the differential
tests cannot compare (Redis forgets a random key at the table's limit)."""

from __future__ import annotations

import socket
import time

import pytest
import redis

from tests.compat.resp import encode_command, read_reply


def _commandstat(client: redis.Redis, name: str) -> int:
    stats = client.info("commandstats").get(f"cmdstat_{name}")
    return 0 if stats is None else stats["calls"]


def test_redis_py_cache_needs_redis_7_4_as_with_redis(valkdb_server, redis_server):
    """redis-py enables its cache only for servers that say they are 7.4 or later: valkdb
    says 7.0.15 as the Redis it follows, and is refused as that Redis is."""
    cache = pytest.importorskip("redis.cache")
    for server in (valkdb_server, redis_server):
        client = redis.Redis(port=server.port, protocol=3, cache_config=cache.CacheConfig())
        with pytest.raises(redis.ConnectionError, match="7.4 or later"):
            client.ping()
        client.close()


@pytest.mark.parametrize("server", ["valkdb", "redis"])
def test_redis_py_client_side_cache(request, monkeypatch, server):
    """With redis-py's version gate lowered, its cache runs on valkdb as on Redis 7.0.15."""
    cache = pytest.importorskip("redis.cache")
    proxy = getattr(redis.connection, "CacheProxyConnection", None)
    if proxy is None or not hasattr(proxy, "MIN_ALLOWED_VERSION"):
        pytest.skip("this redis-py's cache has no version gate to lower")
    monkeypatch.setattr(proxy, "MIN_ALLOWED_VERSION", "7.0.0")
    port = request.getfixturevalue(f"{server}_server").port
    admin = redis.Redis(port=port, socket_timeout=5)
    admin.flushall()
    admin.config_resetstat()
    cached = redis.Redis(port=port, protocol=3, cache_config=cache.CacheConfig(),
                         socket_timeout=5)
    try:
        admin.set("k", "v1")
        assert cached.get("k") == b"v1"
        assert cached.get("k") == b"v1"  # from the cache: the server saw one GET
        assert _commandstat(admin, "get") == 1
        admin.set("k", "v2")  # the server tells the cache, which drops k
        deadline = time.monotonic() + 5
        while cached.get("k") != b"v2":
            assert time.monotonic() < deadline, "the cache never saw the change"
            time.sleep(0.01)
        assert _commandstat(admin, "get") == 2
        assert cached.get("k") == b"v2"
        assert _commandstat(admin, "get") == 2
        admin.flushall()  # a null invalidation: everything goes
        assert cached.get("k") is None
    finally:
        cached.close()
        admin.close()


def _connect(port: int) -> tuple[socket.socket, object]:
    sock = socket.create_connection(("127.0.0.1", port), timeout=5)
    stream = sock.makefile("rb")
    sock.sendall(encode_command([b"HELLO", b"3"]))
    read_reply(stream)
    return sock, stream


def test_table_limit_forgets_one_of_two_keys(valkdb_server):
    sock, stream = _connect(valkdb_server.port)
    admin = redis.Redis(port=valkdb_server.port, socket_timeout=5)
    try:
        admin.flushall()
        sock.sendall(encode_command([b"CLIENT", b"TRACKING", b"on"]) +
                     encode_command([b"MGET", b"key1", b"key2"]))
        assert read_reply(stream) == b"+OK\r\n"
        assert read_reply(stream) == b"*2\r\n_\r\n_\r\n"
        assert admin.info("stats")["tracking_total_keys"] == 2
        admin.config_set("tracking-table-max-keys", 1)
        admin.ping()  # the next command (anyone's) brings the table back to its limit
        push = read_reply(stream)
        assert push in (b">2\r\n$10\r\ninvalidate\r\n*1\r\n$4\r\nkey1\r\n",
                        b">2\r\n$10\r\ninvalidate\r\n*1\r\n$4\r\nkey2\r\n")
        assert admin.info("stats")["tracking_total_keys"] == 1
    finally:
        admin.config_set("tracking-table-max-keys", 1000000)
        admin.close()
        stream.close()
        sock.close()


def test_pipelined_own_invalidations_follow_each_reply(valkdb_server):
    """The invalidation a command causes to its own client comes right after that command's
    reply, before the next command's (Redis's pending keys, flushed after each command)."""
    sock, stream = _connect(valkdb_server.port)
    try:
        sock.sendall(b"".join(encode_command(args) for args in (
            [b"DEL", b"p"], [b"CLIENT", b"TRACKING", b"on"], [b"GET", b"p"],
            [b"SET", b"p", b"1"], [b"PING"])))
        replies = [read_reply(stream) for _ in range(6)]
        assert replies[1:] == [b"+OK\r\n", b"_\r\n", b"+OK\r\n",
                               b">2\r\n$10\r\ninvalidate\r\n*1\r\n$1\r\np\r\n", b"+PONG\r\n"]
    finally:
        stream.close()
        sock.close()
