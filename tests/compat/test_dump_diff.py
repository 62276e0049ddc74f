"""DUMP, RESTORE and MIGRATE between valkdb and redis-server 7.0.15, in both directions.

For every type and encoding: a value built on one server is DUMPed there and RESTOREd on both;
both must then hold the value the source holds, in the same encoding, with the same TTL.
Redis's payloads use its compact encodings (listpacks, intsets, quicklists, LZF strings) and
valkdb's the plain ones, so each direction reads the other's formats. MIGRATE moves keys to a
real redis-server and back, with COPY, REPLACE, KEYS, AUTH and AUTH2. Errors are compared
byte for byte.
"""

from __future__ import annotations

import threading

import pytest
import redis

from tests.support import start_redis
from valkdb.persistence.crc64 import crc64

CASES = {
    "int": [("SET", "k", "12345")],
    "big-int": [("SET", "k", "-9223372036854775808")],
    "embstr": [("SET", "k", "hello")],
    "raw": [("SET", "k", "x" * 100)],
    "compressible": [("SET", "k", "abc" * 400)],  # Redis writes it LZF-compressed
    "binary": [("SET", "k", bytes(range(256)))],
    "list-small": [("RPUSH", "k", "a", "1", "-5", "b" * 70)],
    "list-big": [("RPUSH", "k", *[f"element-{i}" * 3 for i in range(300)])],
    "hash-small": [("HSET", "k", "f", "1", "g", "text", "h", "-3")],
    "hash-big": [("HSET", "k", *[f"f{i // 2}" if i % 2 == 0 else "v" for i in range(1200)])],
    "hash-long-value": [("HSET", "k", "f", "v" * 100)],
    "set-ints": [("SADD", "k", "1", "2", "-7", "100000")],
    "set-big-ints": [("SADD", "k", *[str(i) for i in range(600)])],
    "set-strings": [("SADD", "k", "a", "b", "c")],
    "zset-small": [("ZADD", "k", "1.5", "a", "-2", "b", "inf", "c", "3", "d")],
    "zset-big": [("ZADD", "k", *[x for i in range(200) for x in (str(i / 7), f"m{i}")])],
    "stream": [("XADD", "k", "1-1", "f", "v"), ("XADD", "k", "2-1", "f", "w", "g", "x"),
               ("XADD", "k", "3-0", "a", "b"), ("XDEL", "k", "2-1"),
               ("XGROUP", "CREATE", "k", "g", "0"), ("XREADGROUP", "GROUP", "g", "c", "COUNT",
                                                     "1", "STREAMS", "k", ">"),
               ("XGROUP", "CREATECONSUMER", "k", "g", "idle")],
}


def snapshot(client: redis.Redis, key: str) -> tuple:
    """What the key holds, in an order that does not depend on the server."""
    kind = client.type(key).decode()
    if kind == "string":
        content: object = client.get(key)
    elif kind == "list":
        content = client.lrange(key, 0, -1)
    elif kind == "hash":
        content = sorted(client.hgetall(key).items())
    elif kind == "set":
        content = sorted(client.smembers(key))
    elif kind == "zset":
        content = client.zrange(key, 0, -1, withscores=True)
    else:
        groups = [(g["name"], g["last-delivered-id"], g["pending"], g["consumers"])
                  for g in client.xinfo_groups(key)]
        info = client.xinfo_stream(key)
        content = (client.xrange(key), groups, info["last-generated-id"], info["length"],
                   client.xpending_range(key, "g", "-", "+", 10) and
                   [(p["message_id"], p["consumer"]) for p in
                    client.xpending_range(key, "g", "-", "+", 10)])
    return kind, content


@pytest.fixture
def servers(valkdb_server, redis_server):
    clients = {name: redis.Redis(port=server.port, socket_timeout=10)
               for name, server in (("valkdb", valkdb_server), ("redis", redis_server))}
    for client in clients.values():
        client.flushall()
    yield clients
    for client in clients.values():
        client.close()


@pytest.mark.parametrize("source", ["redis", "valkdb"])
@pytest.mark.parametrize("case", list(CASES))
def test_payloads_restore_on_both_servers(servers, case, source):
    origin = servers[source]
    for command in CASES[case]:
        origin.execute_command(*command)
    origin.pexpire("k", 500000)
    payload = origin.dump("k")
    expected = snapshot(origin, "k")
    encodings = {}
    for name, client in servers.items():
        assert client.restore("copy", 0, payload) == b"OK"
        assert snapshot(client, "copy") == expected, name
        encodings[name] = client.object("encoding", "copy")
        assert client.ttl("copy") == -1
        assert client.restore("copy", 100000, payload, replace=True) == b"OK"
        assert 99000 <= client.pttl("copy") <= 100000, name
        # and back: what this server dumps, the origin reads the same
        assert origin.restore("back", 0, client.dump("copy"), replace=True) == b"OK"
        assert snapshot(origin, "back") == expected, name
    assert encodings["valkdb"] == encodings["redis"]


def test_restore_options(servers):
    for client in servers.values():
        client.set("src", "v")
    payload = servers["redis"].dump("src")
    for name, client in servers.items():
        deadline = client.time()[0] * 1000 + 60000
        assert client.restore("abs", deadline, payload, absttl=True) == b"OK"
        assert 58000 < client.pttl("abs") <= 60000, name
        # a deadline already past: REPLACE deletes the key, nothing is created
        assert client.restore("abs", 1, payload, replace=True, absttl=True) == b"OK"
        assert client.exists("abs") == 0, name
        assert client.restore("gone", 1, payload, absttl=True) == b"OK"
        assert client.exists("gone") == 0, name


def test_restored_list_wakes_a_blocked_client(servers, valkdb_server):
    payload = servers["redis"].execute_command("DUMP", "missing")
    assert payload is None
    servers["redis"].rpush("src", "x")
    payload = servers["redis"].dump("src")
    waiter = redis.Redis(port=valkdb_server.port, socket_timeout=10)
    result: list = []
    thread = threading.Thread(target=lambda: result.append(waiter.blpop("dest", 5)))
    thread.start()
    try:
        for _ in range(100):
            clients = servers["valkdb"].client_list()
            if any(c.get("cmd") == "blpop" for c in clients):
                break
            threading.Event().wait(0.02)
        servers["valkdb"].restore("dest", 0, payload)
    finally:
        thread.join(6)
        waiter.close()
    assert result == [(b"dest", b"x")]


def _bad_object_payload() -> bytes:
    """Type 0x63 (no such type) with a valid footer: 'Bad data format', not a checksum error."""
    body = b"\x63\x0a\x00"
    return body + crc64(body).to_bytes(8, "little")


ERRORS = [
    (b"DUMP",), (b"DUMP", b"a", b"b"), (b"DUMP", b"missing"),
    (b"RESTORE", b"k", b"0"), (b"RESTORE", b"k", b"-1", b"x"), (b"RESTORE", b"k", b"x", b"x"),
    (b"RESTORE", b"k", b"0", b"x"), (b"RESTORE", b"k", b"0", b"short"),
    (b"RESTORE", b"k", b"0", b"x", b"IDLETIME"), (b"RESTORE", b"k", b"0", b"x", b"IDLETIME", b"-1"),
    (b"RESTORE", b"k", b"0", b"x", b"IDLETIME", b"y"), (b"RESTORE", b"k", b"0", b"x", b"FREQ",
                                                         b"256"),
    (b"RESTORE", b"k", b"0", b"x", b"FREQ", b"-1"), (b"RESTORE", b"k", b"0", b"x", b"FREQ", b"1",
                                                      b"IDLETIME", b"1"),
    (b"RESTORE", b"k", b"0", b"x", b"IDLETIME", b"1", b"FREQ", b"1"),
    (b"RESTORE", b"k", b"0", b"x", b"BOGUS"), (b"RESTORE", b"str", b"0", b"x"),
    (b"RESTORE", b"str", b"-5", b"x"), (b"RESTORE", b"str", b"0", b"x", b"REPLACE"),
    (b"RESTORE", b"k", b"0", _bad_object_payload()),
    (b"MIGRATE", b"127.0.0.1", b"1", b"k", b"0"),
    (b"MIGRATE", b"127.0.0.1", b"1", b"k", b"0", b"10", b"KEYS", b"a"),
    (b"MIGRATE", b"127.0.0.1", b"1", b"", b"0", b"x"),
    (b"MIGRATE", b"127.0.0.1", b"1", b"", b"x", b"10"),
    (b"MIGRATE", b"127.0.0.1", b"1", b"", b"0", b"10", b"AUTH"),
    (b"MIGRATE", b"127.0.0.1", b"1", b"", b"0", b"10", b"AUTH2", b"u"),
    (b"MIGRATE", b"127.0.0.1", b"1", b"", b"0", b"10", b"BOGUS"),
    (b"MIGRATE", b"127.0.0.1", b"1", b"missing", b"0", b"10"),
    (b"MIGRATE", b"127.0.0.1", b"1", b"", b"0", b"10", b"KEYS", b"missing", b"other"),
    (b"MIGRATE", b"127.0.0.1", b"1", b"str", b"0", b"100"),  # refused: nothing listens
]


def test_errors(differ):
    differ.check(b"SET", b"str", b"v")
    for command in ERRORS:
        differ.check(*command)


def test_truncated_and_empty_payloads(differ):
    differ.check(b"RPUSH", b"l", b"a", b"b")
    payload = differ.theirs.call(b"DUMP", b"l")
    body = payload[payload.index(b"\n") + 1:-2]
    for cut in (1, 2, 4, len(body) - 10):
        object_part = body[:cut]
        forged = object_part + body[-10:-8]
        forged += crc64(forged).to_bytes(8, "little")
        differ.check(b"RESTORE", b"t%d" % cut, b"0", forged)
    empty_set = b"\x02\x00\x0a\x00"  # a set with no members, which Redis refuses to load
    differ.check(b"RESTORE", b"e", b"0", empty_set + crc64(empty_set).to_bytes(8, "little"))


@pytest.fixture(scope="module")
def guarded():
    """A redis-server with a password and an ACL user, as a MIGRATE target."""
    server = start_redis("--requirepass", "secret")
    client = redis.Redis(port=server.port, password="secret", socket_timeout=10)
    client.acl_setuser("mover", enabled=True, passwords=["+pw"], keys=["*"], commands=["+@all"])
    yield server
    client.close()
    server.stop()


@pytest.mark.parametrize("source", ["redis", "valkdb"])
def test_migrate(servers, guarded, source):
    origin = servers[source]
    other = servers["valkdb" if source == "redis" else "redis"]
    port = other.connection_pool.connection_kwargs["port"]
    origin.rpush("l", "a", "b")
    origin.set("s", "v", px=100000)
    assert origin.migrate("127.0.0.1", port, "l", 2, 1000) == b"OK"
    assert origin.exists("l") == 0
    target_db2 = redis.Redis(port=port, db=2, socket_timeout=10)
    assert target_db2.lrange("l", 0, -1) == [b"a", b"b"]
    origin.rpush("l", "c")
    with pytest.raises(redis.ResponseError, match="^Target instance replied with error: BUSYKEY"):
        origin.migrate("127.0.0.1", port, "l", 2, 1000)
    assert origin.exists("l") == 1
    assert origin.migrate("127.0.0.1", port, ["l", "s", "nokey"], 2, 1000, copy=True,
                          replace=True) == b"OK"
    assert origin.exists("l", "s") == 2
    assert target_db2.lrange("l", 0, -1) == [b"c"]
    assert 90000 < target_db2.pttl("s") <= 100000
    target_db2.close()
    guarded_port = guarded.port
    with pytest.raises(redis.ResponseError, match="^Target instance replied with error: NOAUTH"):
        origin.migrate("127.0.0.1", guarded_port, "s", 0, 1000)
    assert origin.migrate("127.0.0.1", guarded_port, "s", 0, 1000, auth="secret") == b"OK"
    assert origin.execute_command("MIGRATE", "127.0.0.1", guarded_port, "", 0, 1000,
                                  "AUTH2", "mover", "pw", "KEYS", "l") == b"OK"
    check = redis.Redis(port=guarded_port, password="secret", socket_timeout=10)
    assert check.get("s") == b"v" and check.lrange("l", 0, -1) == [b"c"]
    check.flushall()
    check.close()
    origin.set("s", "v")
    with pytest.raises(redis.ResponseError, match="^Target instance replied with error: WRONGPASS"):
        origin.migrate("127.0.0.1", guarded_port, "s", 0, 1000, auth="wrong")
    assert origin.exists("s") == 1
    check = redis.Redis(port=guarded_port, password="secret", socket_timeout=10)
    check.flushall()  # the cached connection had authenticated: the RESTORE went through
    check.close()
