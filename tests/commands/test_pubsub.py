"""Pub/sub: confirmations and messages byte for byte against the real redis-server in RESP2 (arrays)
and RESP3 (push frames), the RESP2 subscribed-mode restrictions, redis-py's sync and asyncio
PubSub objects, PUBSUB introspection, and the promise that a subscriber which never reads is
disconnected at its output limit without slowing the publisher or the other subscribers.
"""

from __future__ import annotations

import asyncio
import socket
import time

import pytest
import redis
import redis.asyncio

from tests.support import converse, start_valkdb

_END_OF_HELLO = b"$7\r\nmodules\r\n*0\r\n"


def read_until(sock: socket.socket, size: int, timeout: float = 5) -> bytes:
    """At least `size` bytes (or whatever came before timeout)."""
    received = b""
    deadline = time.monotonic() + timeout
    while len(received) < size and time.monotonic() < deadline:
        data = sock.recv(65536)
        if not data:
            break
        received += data
    return received


def subscriber_transcript(port: int, hello: bytes, subscribe: bytes, publish: list[bytes]) -> bytes:
    """Bytes a raw subscriber receives: its confirmations, then the published messages."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        publisher = redis.Redis(port=port, protocol=2, socket_timeout=5)
        sock.sendall(hello + subscribe + b"PING\r\n")
        received = b""
        deadline = time.monotonic() + 5
        while not (received.endswith(b"+PONG\r\n") or received.endswith(b"$0\r\n\r\n")):
            assert time.monotonic() < deadline, received
            received += sock.recv(65536)
        for args in publish:
            publisher.execute_command("PUBLISH", *args.split())
        sock.sendall(b"PING done\r\n")
        while not received.endswith(b"done\r\n"):
            assert time.monotonic() < deadline, received
            received += sock.recv(65536)
        publisher.close()
    return received.partition(_END_OF_HELLO)[2] if hello else received


TRANSCRIPTS = {
    "channel": (b"SUBSCRIBE news\r\n", [b"news hello", b"other x", b"news bye"]),
    "pattern": (b"PSUBSCRIBE n*\r\n", [b"news hello", b"other x", b"nope y"]),
    "channel and pattern": (
        b"SUBSCRIBE news\r\nPSUBSCRIBE n*\r\n", [b"news both", b"nx pattern-only"]),
    "same channel twice": (b"SUBSCRIBE news news\r\n", [b"news once"]),
    "unsubscribe": (
        b"SUBSCRIBE a\r\nSUBSCRIBE b\r\nUNSUBSCRIBE a\r\nUNSUBSCRIBE x\r\n", [b"a no", b"b yes"]),
    "punsubscribe": (b"PSUBSCRIBE a*\r\nPUNSUBSCRIBE a*\r\nPUNSUBSCRIBE\r\n", [b"ab no"]),
    "leave subscribed mode": (b"SUBSCRIBE a\r\nUNSUBSCRIBE\r\nGET missing\r\n", [b"a no"]),
    "unsubscribe when not subscribed": (b"UNSUBSCRIBE\r\nPUNSUBSCRIBE\r\n", []),
    "binary channel": (b'SUBSCRIBE "\\x00\\r\\n"\r\n', [b"x y"]),
}


@pytest.mark.parametrize("protocol", [2, 3])
@pytest.mark.parametrize("subscribe, publish", TRANSCRIPTS.values(), ids=TRANSCRIPTS.keys())
def test_same_bytes_as_redis(valkdb_server, redis_server, protocol, subscribe, publish):
    hello = b"HELLO 3\r\n" if protocol == 3 else b""
    ours = subscriber_transcript(valkdb_server.port, hello, subscribe, publish)
    assert ours == subscriber_transcript(redis_server.port, hello, subscribe, publish)


SUBSCRIBED_MODE = {
    "RESP2 forbids GET": b"SUBSCRIBE a\r\nGET never-set\r\n",
    "RESP2 forbids PUBLISH": b"SUBSCRIBE a\r\nPUBLISH a x\r\n",
    "RESP2 forbids HELLO": b"PSUBSCRIBE a\r\nHELLO 3\r\n",
    "RESP2 forbids unknown subcommand check first": b"SUBSCRIBE a\r\nCLIENT nosuch\r\n",
    "RESP2 arity before mode": b"SUBSCRIBE a\r\nGET\r\n",
    "RESP2 allows PING": b"SUBSCRIBE a\r\nPING\r\nPING x\r\n",
    "RESP2 allows RESET": b"SUBSCRIBE a\r\nRESET\r\nGET never-set\r\n",
    "RESP2 arity errors": b"SUBSCRIBE\r\nPSUBSCRIBE\r\nPUBLISH a\r\n",
    "PUBSUB introspection": b"PUBSUB CHANNELS\r\nPUBSUB NUMSUB\r\nPUBSUB NUMPAT\r\n"
                            b"PUBSUB NUMSUB a b\r\nPUBSUB NUMPAT x\r\nPUBSUB foo\r\n",
}


@pytest.mark.parametrize("payload", SUBSCRIBED_MODE.values(), ids=SUBSCRIBED_MODE.keys())
def test_subscribed_mode_same_bytes(valkdb_server, redis_server, payload):
    assert converse(valkdb_server.port, payload, False) == converse(
        redis_server.port, payload, False)


def test_resp3_subscriber_may_run_any_command(valkdb_server, redis_server):
    payload = (b"HELLO 3\r\nSUBSCRIBE a\r\nSET subk v\r\nGET subk\r\nPING\r\n"
               b"PUBSUB NUMSUB a\r\nDEL subk\r\n")

    def after_hello(port):
        return converse(port, payload, False).partition(_END_OF_HELLO)[2]

    assert after_hello(valkdb_server.port) == after_hello(redis_server.port)


def test_pubsub_help_lines_are_redis_lines(valkdb_server, redis_server):
    ours = converse(valkdb_server.port, b"PUBSUB HELP\r\n", False).split(b"\r\n")[1:]
    theirs = converse(redis_server.port, b"PUBSUB HELP\r\n", False).split(b"\r\n")[1:]
    assert ours and set(ours) <= set(theirs)


# -- through redis-py -----------------------------------------------------------------------------


def next_message(pubsub, timeout: float = 5):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        message = pubsub.get_message(timeout=0.2)
        if message is not None:
            return message
    raise TimeoutError("no message")


def test_redis_py_subscribe_publish(r):
    pubsub = r.pubsub()
    pubsub.subscribe("news")
    pubsub.psubscribe("n*")
    assert next_message(pubsub)["type"] == "subscribe"
    assert next_message(pubsub)["type"] == "psubscribe"
    assert r.publish("news", "hello") == 2
    messages = [next_message(pubsub), next_message(pubsub)]
    assert sorted((m["type"], m["channel"], m["data"]) for m in messages) == [
        ("message", b"news", b"hello"), ("pmessage", b"news", b"hello")]
    assert [m["pattern"] for m in messages if m["type"] == "pmessage"] == [b"n*"]
    assert r.pubsub_numsub("news", "other") == [(b"news", 1), (b"other", 0)]
    assert r.pubsub_numpat() == 1
    assert r.pubsub_channels() == [b"news"]
    assert r.pubsub_channels("n*") == [b"news"] and r.pubsub_channels("x*") == []
    pubsub.unsubscribe("news")
    pubsub.punsubscribe("n*")
    assert next_message(pubsub)["type"] == "unsubscribe"
    assert next_message(pubsub)["type"] == "punsubscribe"
    assert r.pubsub_channels() == [] and r.pubsub_numpat() == 0
    assert r.publish("news", "nobody") == 0
    pubsub.close()


def test_channel_disappears_with_its_last_subscriber(r, valkdb_server):
    first, second = r.pubsub(), r.pubsub()
    first.subscribe("shared")
    second.subscribe("shared")
    next_message(first)
    next_message(second)
    assert r.pubsub_numsub("shared") == [(b"shared", 2)]
    first.close()  # disconnecting counts as unsubscribing
    deadline = time.monotonic() + 5
    while r.pubsub_numsub("shared") != [(b"shared", 1)] and time.monotonic() < deadline:
        time.sleep(0.01)
    assert r.pubsub_numsub("shared") == [(b"shared", 1)]
    second.unsubscribe("shared")
    next_message(second)
    assert r.pubsub_channels() == []
    assert r.pubsub_numsub("shared") == [(b"shared", 0)]
    second.close()


@pytest.mark.parametrize("protocol", [2, 3])
def test_asyncio_pubsub(valkdb_server, protocol):
    async def scenario():
        client = redis.asyncio.Redis(port=valkdb_server.port, protocol=protocol)
        pubsub = client.pubsub()
        await pubsub.subscribe("aio")
        received = []
        while len(received) < 3:
            message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=0.2)
            if message is not None:
                received.append(message["data"])
            elif not received:
                for i in range(3):
                    await client.publish("aio", f"m{i}")
        await pubsub.aclose()
        await client.aclose()
        return received

    assert asyncio.run(asyncio.wait_for(scenario(), 10)) == [b"m0", b"m1", b"m2"]


# -- slow subscribers -----------------------------------------------------------------------------


@pytest.fixture
def limited_server():
    """A valkdb whose pubsub clients are cut off past 1 MB of pending output."""
    server = start_valkdb("--client-output-buffer-limit", "pubsub 1mb 0 0")
    yield server
    server.stop()


def test_subscriber_that_never_reads_is_disconnected(limited_server):
    port = limited_server.port
    sleeper = socket.create_connection(("127.0.0.1", port), timeout=5)
    sleeper.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sleeper.sendall(b"SUBSCRIBE flood\r\n")
    reader = redis.Redis(port=port).pubsub()
    reader.subscribe("flood")
    next_message(reader)
    publisher = redis.Redis(port=port, socket_timeout=5)
    payload = b"x" * 10_000
    worst = 0.0
    received = 0
    for _ in range(600):  # 6 MB: far past the 1 MB limit once the socket buffers are full
        started = time.monotonic()
        publisher.publish("flood", payload)
        worst = max(worst, time.monotonic() - started)
        while (message := reader.get_message(timeout=0)) is not None:
            received += message["type"] == "message"
    deadline = time.monotonic() + 5
    while received < 600 and time.monotonic() < deadline:
        message = reader.get_message(timeout=0.2)
        received += message is not None and message["type"] == "message"
    assert received == 600, "a reading subscriber must get every message"
    assert worst < 0.5, "the publisher must never wait for the slow subscriber"
    assert publisher.pubsub_numsub("flood") == [(b"flood", 1)]
    assert len(publisher.client_list(_type="pubsub")) == 1
    sleeper.close()
    reader.close()
    publisher.close()


def test_a_published_message_is_sent_before_the_publishers_reply(valkdb_server):
    """Once PUBLISH has answered, its message is already on the subscriber's socket, as a
    client polling right after publishing (get_message(timeout=0)) expects. valkdb only: Redis
    writes the publisher's reply first and the message a moment later in the same event-loop
    turn, so that a poll racing it is almost never, but not never, empty there."""
    with socket.create_connection(("127.0.0.1", valkdb_server.port), timeout=5) as sub, \
            socket.create_connection(("127.0.0.1", valkdb_server.port), timeout=5) as pub:
        sub.sendall(b"SUBSCRIBE news\r\n")
        assert read_until(sub, 33).endswith(b":1\r\n")
        sub.setblocking(False)
        for i in range(200):
            pub.sendall(b"PUBLISH news m%d\r\n" % i)
            assert read_until(pub, 4) == b":1\r\n"
            try:
                got = sub.recv(65536)
            except BlockingIOError:
                got = b""
            assert got.endswith(b"$4\r\nnews\r\n$%d\r\nm%d\r\n" % (len(b"m%d" % i), i)), i
