"""Sharded pub/sub through redis-py (RESP2 and RESP3, sync and asyncio) and raw sockets: each
scenario runs on valkdb and on the real redis-server and what the clients observe must agree.
Also the promise PUBLISH keeps, for SPUBLISH: a shard subscriber that never reads is cut off at
its output limit without slowing the publisher or the subscribers that do read.
"""

from __future__ import annotations

import asyncio
import socket
import time

import pytest
import redis
import redis.asyncio

from tests.support import start_valkdb


def next_message(pubsub, timeout: float = 5):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        message = pubsub.get_sharded_message(timeout=0.2)
        if message is not None:
            return message
    raise TimeoutError("no message")


def _summary(message) -> tuple:
    return message["type"], message["channel"], message["data"]


@pytest.fixture(params=["valkdb", "redis"])
def port(request, valkdb_server, redis_server):
    return (valkdb_server if request.param == "valkdb" else redis_server).port


def sharded_session(port: int, protocol: int) -> list:
    """A redis-py shard subscriber's life, as seen by it and by a second client."""
    client = redis.Redis(port=port, protocol=protocol, socket_timeout=5)
    seen: list = []
    pubsub = client.pubsub()
    pubsub.ssubscribe("orders", "stock")
    seen += [_summary(next_message(pubsub)), _summary(next_message(pubsub))]
    seen.append(client.spublish("orders", "o1"))
    seen.append(client.publish("orders", "plain"))  # another namespace: nobody hears it
    seen.append(_summary(next_message(pubsub)))
    seen.append(client.pubsub_shardnumsub("orders", "stock", "none"))
    seen.append(sorted(client.pubsub_shardchannels()))
    seen.append(client.pubsub_shardchannels("st*"))
    seen.append(client.pubsub_channels())
    pubsub.sunsubscribe("stock")
    seen.append(_summary(next_message(pubsub)))
    seen.append(client.spublish("stock", "nobody"))
    pubsub.sunsubscribe()
    seen.append(_summary(next_message(pubsub)))
    seen.append(client.pubsub_shardchannels())
    seen.append(client.pubsub_shardnumsub("orders"))
    pubsub.close()
    client.close()
    return seen


@pytest.mark.parametrize("protocol", [2, 3])
def test_redis_py_sharded_session(valkdb_server, redis_server, protocol):
    ours = sharded_session(valkdb_server.port, protocol)
    assert ours == sharded_session(redis_server.port, protocol)
    assert ("smessage", b"orders", b"o1") in ours  # the message did arrive


def test_shard_and_plain_subscribers_side_by_side(port):
    client = redis.Redis(port=port, socket_timeout=5)
    client.flushall()
    plain, sharded = client.pubsub(), client.pubsub()
    plain.subscribe("news")
    plain.psubscribe("n*")
    sharded.ssubscribe("news")
    assert plain.get_message(timeout=5)["type"] == "subscribe"
    assert plain.get_message(timeout=5)["type"] == "psubscribe"
    assert next_message(sharded)["type"] == "ssubscribe"
    assert client.publish("news", "p") == 2
    assert client.spublish("news", "s") == 1
    assert _summary(next_message(sharded)) == ("smessage", b"news", b"s")
    kinds = sorted(plain.get_message(timeout=5)["type"] for _ in range(2))
    assert kinds == ["message", "pmessage"]
    assert plain.get_message(timeout=0.2) is None  # SPUBLISH reached neither
    assert client.pubsub_numsub("news") == [(b"news", 1)]
    assert client.pubsub_shardnumsub("news") == [(b"news", 1)]
    assert client.pubsub_numpat() == 1
    plain.close()
    sharded.close()
    client.close()


def test_disconnect_unsubscribes(port):
    client = redis.Redis(port=port, socket_timeout=5)
    first, second = client.pubsub(), client.pubsub()
    first.ssubscribe("shared")
    second.ssubscribe("shared")
    next_message(first)
    next_message(second)
    assert client.pubsub_shardnumsub("shared") == [(b"shared", 2)]
    first.close()
    deadline = time.monotonic() + 5
    while client.pubsub_shardnumsub("shared") != [(b"shared", 1)]:
        assert time.monotonic() < deadline
        time.sleep(0.01)
    assert client.spublish("shared", "x") == 1
    second.close()
    while client.pubsub_shardchannels():
        assert time.monotonic() < deadline
        time.sleep(0.01)
    client.close()


@pytest.mark.skipif(not hasattr(redis.asyncio.client.PubSub, "get_sharded_message"),
                    reason="this redis-py's asyncio PubSub has no sharded messages")
@pytest.mark.parametrize("protocol", [2, 3])
def test_asyncio_sharded(port, protocol):
    async def scenario():
        client = redis.asyncio.Redis(port=port, protocol=protocol)
        pubsub = client.pubsub()
        await pubsub.ssubscribe("aio")
        received = []
        deadline = time.monotonic() + 5
        while len(received) < 3 and time.monotonic() < deadline:
            message = await pubsub.get_sharded_message(ignore_subscribe_messages=True,
                                                       timeout=0.2)
            if message is not None:
                received.append((message["type"], message["data"]))
            elif not received:
                for i in range(3):
                    await client.spublish("aio", f"m{i}")
        await pubsub.aclose()
        await client.aclose()
        return received

    assert asyncio.run(asyncio.wait_for(scenario(), 10)) == [
        ("smessage", b"m0"), ("smessage", b"m1"), ("smessage", b"m2")]


def _self_publish(port: int) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(b"HELLO 3\r\nSSUBSCRIBE me\r\nSPUBLISH me hi\r\nPING\r\n")
        received = b""
        deadline = time.monotonic() + 5
        while not received.endswith(b"+PONG\r\n"):
            assert time.monotonic() < deadline, received
            received += sock.recv(65536)
    return received.partition(b"$7\r\nmodules\r\n*0\r\n")[2]


def test_raw_resp3_message_to_oneself(valkdb_server, redis_server):
    """In RESP3 a client may SPUBLISH to itself: the push comes before SPUBLISH's reply, as
    Redis appends both to the output buffer."""
    ours = _self_publish(valkdb_server.port)
    assert ours == _self_publish(redis_server.port)
    assert b">3\r\n$8\r\nsmessage\r\n$2\r\nme\r\n$2\r\nhi\r\n" in ours


# -- slow subscribers -----------------------------------------------------------------------------


@pytest.fixture
def limited_server():
    """A valkdb whose pubsub clients are cut off past 1 MB of pending output."""
    server = start_valkdb("--client-output-buffer-limit", "pubsub 1mb 0 0")
    yield server
    server.stop()


def test_shard_subscriber_that_never_reads_is_disconnected(limited_server):
    port = limited_server.port
    sleeper = socket.create_connection(("127.0.0.1", port), timeout=5)
    sleeper.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sleeper.sendall(b"SSUBSCRIBE flood\r\n")
    reader = redis.Redis(port=port).pubsub()
    reader.ssubscribe("flood")
    next_message(reader)
    publisher = redis.Redis(port=port, socket_timeout=5)
    deadline = time.monotonic() + 5
    while publisher.pubsub_shardnumsub("flood") != [(b"flood", 2)]:
        assert time.monotonic() < deadline
        time.sleep(0.01)
    payload = b"x" * 10_000
    worst = 0.0
    received = 0
    for _ in range(600):  # 6 MB: far past the 1 MB limit once the socket buffers are full
        started = time.monotonic()
        publisher.spublish("flood", payload)
        worst = max(worst, time.monotonic() - started)
        while (message := reader.get_sharded_message(timeout=0)) is not None:
            received += message["type"] == "smessage"
    deadline = time.monotonic() + 5
    while received < 600 and time.monotonic() < deadline:
        message = reader.get_sharded_message(timeout=0.2)
        received += message is not None and message["type"] == "smessage"
    assert received == 600, "a reading subscriber must get every message"
    assert worst < 0.5, "the publisher must never wait for the slow subscriber"
    assert publisher.pubsub_shardnumsub("flood") == [(b"flood", 1)]
    sleeper.close()
    reader.close()
    publisher.close()
