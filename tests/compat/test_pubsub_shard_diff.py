"""Sharded pub/sub, LOLWUT and the cluster-only commands against a real redis-server 7.0.

Replies are compared byte for byte (RESP2 and RESP3); subscribers are raw sockets, so what is
compared is every confirmation and message frame as sent. LOLWUT draws with random numbers:
only what Redis draws the same every time (the canvas, the unrotated rows, the sky, the
captions) is compared.
"""

from __future__ import annotations

import io
import re
import socket
import time

import pytest
import redis

from tests.compat.resp import elements, encode_command, read_reply
from tests.support import converse
from valkdb.core.registry import TABLE

# The end of the HELLO 3 reply, after which a RESP3 transcript is compared.
_END_OF_HELLO = b"$7\r\nmodules\r\n*0\r\n"

# -- plain replies --------------------------------------------------------------------------------

INTROSPECTION = [
    (b"PUBSUB", b"SHARDCHANNELS"),
    (b"PUBSUB", b"SHARDCHANNELS", b"*"),
    (b"PUBSUB", b"shardchannels", b"a", b"b"),
    (b"PUBSUB", b"CHANNELS", b"a", b"b"),
    (b"PUBSUB", b"SHARDNUMSUB"),
    (b"PUBSUB", b"SHARDNUMSUB", b"a", b"b", b"a"),
    (b"PUBSUB", b"SHARDCHANNELS", b"\x00"),
    (b"PUBSUB", b"HELP"),
    (b"PUBSUB", b"help", b"x"),
    (b"PUBSUB",),
    (b"SPUBLISH", b"nobody", b"x"),
    (b"SPUBLISH", b"a"),
    (b"SPUBLISH", b"a", b"b", b"c"),
    (b"SSUBSCRIBE",),
    (b"SUNSUBSCRIBE",),
    (b"SUNSUBSCRIBE", b"never"),
    (b"COMMAND", b"INFO", b"SPUBLISH", b"SSUBSCRIBE", b"SUNSUBSCRIBE"),
]


@pytest.mark.parametrize("args", INTROSPECTION, ids=lambda a: b" ".join(a).decode("latin-1"))
def test_replies_match(differ, args):
    differ.check(*args)


def _cluster_commands() -> list[tuple[bytes, ...]]:
    """Every CLUSTER subcommand with just enough arguments for its arity, and a few misfits."""
    cases: list[tuple[bytes, ...]] = []
    for name, spec in sorted(TABLE.items()):
        if name.startswith("cluster|"):
            arity = spec["arity"]
            extra = (arity if arity > 0 else -arity) - 2
            cases.append((b"CLUSTER", name[8:].encode(), *[b"1"] * extra))
    return cases + [
        (b"CLUSTER",), (b"CLUSTER", b"nosuch"), (b"CLUSTER", b"INFO", b"x"),
        (b"CLUSTER", b"help"), (b"CLUSTER", b"KEYSLOT", b"foo"), (b"CLUSTER", b"MEET"),
        (b"READONLY",), (b"READWRITE",), (b"ASKING",), (b"READONLY", b"x"), (b"asking", b"x"),
        (b"COMMAND", b"INFO", b"READONLY", b"READWRITE", b"ASKING"),
        (b"COMMAND", b"INFO", b"cluster|info", b"cluster|setslot"),
    ]


@pytest.mark.parametrize("args", _cluster_commands(), ids=lambda a: b" ".join(a).decode())
def test_cluster_commands_in_standalone_mode(differ, args):
    differ.check(*args)


def test_no_cluster_command_changes_the_connection(differ):
    for args in ((b"READONLY",), (b"ASKING",), (b"SET", b"k", b"v"), (b"GET", b"k"),
                 (b"READWRITE",), (b"CLIENT", b"GETNAME")):
        differ.check(*args)


# -- LOLWUT ---------------------------------------------------------------------------------------

LOLWUT_PLAIN = [
    (b"LOLWUT",), (b"LOLWUT", b"VERSION"), (b"LOLWUT", b"foo", b"bar"), (b"LOLWUT", b"5"),
    (b"LOLWUT", b"VERSION", b"7"), (b"LOLWUT", b"VERSION", b"0"), (b"LOLWUT", b"VERSION", b"-1"),
    (b"LOLWUT", b"VERSION", b"59"), (b"LOLWUT", b"VERSION", b"4"), (b"LOLWUT", b"VERSION", b"x"),
    (b"LOLWUT", b"VERSION", b"5", b"x"), (b"LOLWUT", b"VERSION", b"5", b"10", b"x"),
    (b"LOLWUT", b"VERSION", b"5", b"10", b"2", b"1.5"), (b"LOLWUT", b"VERSION", b"6", b"-"),
    (b"LOLWUT", b"VERSION", b"6", b"10", b"99999999999999999999"),
    (b"LOLWUT", b"VERSION", b"9223372036854775808"),
    (b"LOLWUT", b"VERSION", b"4294967303"),  # 7 as an unsigned 32-bit value
    # Up to two rows of squares nothing is random: the whole drawing must match.
    (b"LOLWUT", b"VERSION", b"5", b"66", b"8", b"2"),
    (b"lolwut", b"version", b"4294967301", b"40", b"5", b"1"),  # 5 mod 2**32
    (b"LOLWUT", b"VERSION", b"-4294967291", b"9", b"3", b"2"),  # 5 too
    (b"LOLWUT", b"VERSION", b"5", b"1", b"1", b"1"),
    (b"LOLWUT", b"VERSION", b"5", b"2", b"1", b"2"),
    (b"LOLWUT", b"VERSION", b"5", b"3", b"1", b"2"),
    (b"LOLWUT", b"VERSION", b"5", b"-5", b"0", b"-3"),
    (b"LOLWUT", b"VERSION", b"5", b"1000", b"200", b"2"),
    (b"LOLWUT", b"VERSION", b"5", b"123", b"45", b"2"),
    (b"LOLWUT", b"VERSION", b"5", b"77", b"13", b"1"),
]


@pytest.mark.parametrize("args", LOLWUT_PLAIN, ids=lambda a: b" ".join(a).decode())
def test_lolwut_deterministic_replies(differ, args):
    differ.check(*args)


def _text(reply: bytes) -> bytes:
    """The text of a bulk (RESP2) or verbatim (RESP3) reply."""
    header, _, body = reply.partition(b"\r\n")
    assert header[:1] in b"$=" and body.endswith(b"\r\n"), reply[:80]
    body = body[:-2]
    return body[4:] if header[:1] == b"=" else body


@pytest.mark.parametrize("args", [(), (b"66",), (b"100", b"10", b"30"), (b"20", b"4", b"3"),
                                  (b"10",), (b"200", b"1", b"200")])
def test_lolwut5_geometry(differ, args):
    """Schotter: same size; from the third row of squares down they are rotated and moved at
    random, so only the lines above that row are compared."""
    ours, theirs = (_text(reply) for reply in differ.both(b"LOLWUT", b"VERSION", b"5", *args))
    assert ours[:1] == theirs[:1]  # the reply type, through _text's check
    ours_lines, theirs_lines = ours.split(b"\n"), theirs.split(b"\n")
    assert [len(line) for line in ours_lines] == [len(line) for line in theirs_lines]
    assert ours_lines[-2:] == theirs_lines[-2:]  # the caption
    cols = int(args[0]) if args else 66
    per_row = int(args[1]) if len(args) > 1 else 8
    side = (cols * 2 - 4) / per_row
    fixed = max(0, int((2 + 1.5 * side - 1) // 4))  # text lines above the third row's reach
    assert ours_lines[:fixed] == theirs_lines[:fixed]


_CELL = rb"\x1b\[0;(30;40|90;100|37;47|97;107)m \x1b\[0m"


@pytest.mark.parametrize("args", [(), (b"1",), (b"30", b"5"), (b"7", b"1"), (b"-3", b"-3")])
def test_lolwut6_geometry(differ, args):
    """The skyline: as many lines and cells, each a coloured space; the top line is sky."""
    ours, theirs = (_text(reply) for reply in differ.both(b"LOLWUT", b"VERSION", b"6", *args))
    ours_lines, theirs_lines = ours.split(b"\n"), theirs.split(b"\n")
    caption = 3  # two caption lines and the empty string after the final newline
    assert len(ours_lines) == len(theirs_lines)
    assert ours_lines[-caption:] == theirs_lines[-caption:]
    for ours_line, theirs_line in zip(ours_lines[:-caption], theirs_lines[:-caption],
                                      strict=True):
        assert re.fullmatch(rb"(%s)+" % _CELL, ours_line), ours_line[:80]
        assert len(re.findall(_CELL, ours_line)) == len(re.findall(_CELL, theirs_line))
    assert ours_lines[0] == theirs_lines[0]


# -- subscribers ----------------------------------------------------------------------------------


def _read_until(sock: socket.socket, received: bytes, marker: bytes, deadline: float) -> bytes:
    while marker not in received:
        assert time.monotonic() < deadline, received[-300:]
        data = sock.recv(65536)
        assert data, received[-300:]
        received += data
    return received


def shard_transcript(port: int, protocol: int, subscribe: list[tuple[bytes, ...]],
                     publish: list[tuple[bytes, ...]]) -> bytes:
    """What a raw subscriber receives: its confirmations, then what `publish` (run by another
    client once the subscriptions are in place) sends it, up to a final marker."""
    deadline = time.monotonic() + 10
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        publisher = redis.Redis(port=port, protocol=2, socket_timeout=5)
        hello = b"HELLO 3\r\n" if protocol == 3 else b""
        # (S)SUBSCRIBE is allowed in any mode, so its confirmations mark the start and the end.
        sock.sendall(hello + b"".join(encode_command(args) for args in subscribe)
                     + encode_command((b"SSUBSCRIBE", b"zz-sync")))
        received = _read_until(sock, b"", b"zz-sync\r\n", deadline)
        received = _read_until(sock, received, b"\r\n", deadline)  # the count after it
        replies = [publisher.execute_command(*args) for args in publish]
        sock.sendall(encode_command((b"SSUBSCRIBE", b"zz-end")))
        received = _read_until(sock, received, b"zz-end\r\n", deadline)
        while not received.endswith(b"\r\n") or received.endswith(b"zz-end\r\n"):
            received = _read_until(sock, received + sock.recv(65536), b"\r\n", deadline)
        publisher.close()
    if protocol == 3:
        received = received.partition(_END_OF_HELLO)[2]
    return received + b"publisher: " + repr(replies).encode()


TRANSCRIPTS = {
    "smessage": ([(b"SSUBSCRIBE", b"orders")],
                 [(b"SPUBLISH", b"orders", b"one"), (b"SPUBLISH", b"other", b"x"),
                  (b"SPUBLISH", b"orders", b"two")]),
    "publish does not reach shard subscribers": (
        [(b"SSUBSCRIBE", b"news")],
        [(b"PUBLISH", b"news", b"plain"), (b"SPUBLISH", b"news", b"s")]),
    "spublish reaches neither channels nor patterns": (
        [(b"SUBSCRIBE", b"news"), (b"PSUBSCRIBE", b"n*")],
        [(b"SPUBLISH", b"news", b"sharded"), (b"PUBLISH", b"news", b"plain")]),
    # (An unsubscribe from all names goes in Redis's hash table order, random per process:
    # these leave at most one name to it; test_unsubscribe_all_order_free covers more.)
    "counts are per family": (
        [(b"SUBSCRIBE", b"a", b"b"), (b"SSUBSCRIBE", b"a", b"c", b"a"), (b"PSUBSCRIBE", b"p*"),
         (b"SUNSUBSCRIBE", b"c", b"nope"), (b"UNSUBSCRIBE", b"b"), (b"UNSUBSCRIBE",),
         (b"PUNSUBSCRIBE",), (b"UNSUBSCRIBE",)],
        [(b"SPUBLISH", b"a", b"1"), (b"PUBLISH", b"a", b"2"), (b"SPUBLISH", b"c", b"3")]),
    "sunsubscribe all": (
        [(b"SSUBSCRIBE", b"x", b"y"), (b"SUNSUBSCRIBE", b"y"), (b"SUNSUBSCRIBE",),
         (b"SUNSUBSCRIBE",), (b"SUNSUBSCRIBE", b"x")],
        [(b"SPUBLISH", b"x", b"gone")]),
    "both kinds on one channel name": (
        [(b"SUBSCRIBE", b"same"), (b"SSUBSCRIBE", b"same")],
        [(b"SPUBLISH", b"same", b"s"), (b"PUBLISH", b"same", b"p"),
         (b"PUBSUB", b"SHARDNUMSUB", b"same", b"zz-sync"), (b"PUBSUB", b"NUMSUB", b"same"),
         (b"PUBSUB", b"SHARDCHANNELS", b"z*"), (b"PUBSUB", b"SHARDCHANNELS", b"s*"),
         (b"PUBSUB", b"CHANNELS")]),
    "binary names and payloads": (
        [(b"SSUBSCRIBE", b"\x00\r\n", b"")],
        [(b"SPUBLISH", b"\x00\r\n", b"\xff\r\n"), (b"SPUBLISH", b"", b"")]),
    "reset drops shard subscriptions": (
        [(b"SSUBSCRIBE", b"r1"), (b"SUBSCRIBE", b"r2"), (b"RESET",)],
        [(b"SPUBLISH", b"r1", b"no"), (b"PUBLISH", b"r2", b"no"),
         (b"PUBSUB", b"SHARDNUMSUB", b"r1")]),
    "inside MULTI": (
        [(b"MULTI",), (b"SSUBSCRIBE", b"m"), (b"SUNSUBSCRIBE",), (b"EXEC",)],
        [(b"SPUBLISH", b"m", b"no")]),
}


@pytest.mark.parametrize("protocol", [2, 3])
@pytest.mark.parametrize("subscribe, publish", TRANSCRIPTS.values(), ids=TRANSCRIPTS.keys())
def test_subscriber_transcript(valkdb_server, redis_server, protocol, subscribe, publish):
    ours = shard_transcript(valkdb_server.port, protocol, subscribe, publish)
    assert ours == shard_transcript(redis_server.port, protocol, subscribe, publish)


def _frames(data: bytes) -> list[bytes]:
    stream = io.BytesIO(data)
    frames = []
    while stream.tell() < len(data):
        frames.append(read_reply(stream))
    return frames


@pytest.mark.parametrize("protocol", [2, 3])
def test_unsubscribe_all_order_free(valkdb_server, redis_server, protocol):
    """SUNSUBSCRIBE / UNSUBSCRIBE without names: one confirmation per name, in any order, with
    the counts going down one by one."""
    subscribe = [(b"SSUBSCRIBE", b"x", b"y", b"z"), (b"SUBSCRIBE", b"p", b"q"),
                 (b"SUNSUBSCRIBE",), (b"UNSUBSCRIBE",)]

    def confirmations(port):
        data = shard_transcript(port, protocol, subscribe, []).partition(b"publisher: ")[0]
        frames = [elements(frame) for frame in _frames(data)]
        names = sorted(frame[1] for frame in frames[5:10])
        return [frame[0] + frame[2] for frame in frames], names

    assert confirmations(valkdb_server.port) == confirmations(redis_server.port)


def test_disconnect_removes_shard_subscriptions(valkdb_server, redis_server):
    def scenario(port):
        client = redis.Redis(port=port, socket_timeout=5)
        sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        sock.sendall(b"SSUBSCRIBE gone stays\r\n")
        _read_until(sock, b"", b"stays\r\n:2\r\n", time.monotonic() + 5)
        other = socket.create_connection(("127.0.0.1", port), timeout=5)
        other.sendall(b"SSUBSCRIBE stays\r\n")
        _read_until(other, b"", b":1\r\n", time.monotonic() + 5)
        before = client.execute_command("PUBSUB", "SHARDNUMSUB", "gone", "stays")
        sock.close()
        deadline = time.monotonic() + 5
        while client.execute_command("PUBSUB", "SHARDCHANNELS") != [b"stays"]:
            assert time.monotonic() < deadline
            time.sleep(0.01)
        after = (client.execute_command("PUBSUB", "SHARDNUMSUB", "gone", "stays"),
                 client.spublish("stays", "x"), client.spublish("gone", "x"))
        other.close()
        client.close()
        return before, after

    assert scenario(valkdb_server.port) == scenario(redis_server.port)


def _client_fields(port: int) -> list[bytes]:
    """The subscriber's CLIENT LIST fields that depend on its subscriptions."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=5)
    sock.sendall(b"CLIENT SETNAME shardsub\r\nSSUBSCRIBE a b\r\nPSUBSCRIBE p\r\n")
    _read_until(sock, b"", b"p\r\n:1\r\n", time.monotonic() + 5)
    client = redis.Redis(port=port, socket_timeout=5)
    line = next(line for line in client.execute_command("CLIENT", "LIST").split(b"\n")
                if b"name=shardsub " in line)
    client.close()
    sock.close()
    return [field for field in line.split() if field.split(b"=")[0] in (
        b"flags", b"sub", b"psub", b"ssub", b"multi", b"cmd")]


def test_client_list_counts_shard_channels(valkdb_server, redis_server):
    assert _client_fields(valkdb_server.port) == _client_fields(redis_server.port)


# -- subscribed mode entered by SSUBSCRIBE alone ---------------------------------------------------

SHARD_ONLY_MODE = {
    "RESP2 forbids GET": b"SSUBSCRIBE a\r\nGET never-set\r\n",
    "RESP2 forbids SPUBLISH": b"SSUBSCRIBE a\r\nSPUBLISH a x\r\n",
    "RESP2 PING answers as a message": b"SSUBSCRIBE a\r\nPING\r\nPING x\r\n",
    "still subscribed after UNSUBSCRIBE":
        b"SSUBSCRIBE a\r\nUNSUBSCRIBE\r\nPUNSUBSCRIBE\r\nGET k\r\n",
}

LEAVING_SHARD_MODE = {
    "SUNSUBSCRIBE leaves the mode": b"SSUBSCRIBE a\r\nSUNSUBSCRIBE\r\nGET k\r\nPING\r\n",
    "RESET leaves the mode": b"SSUBSCRIBE a\r\nRESET\r\nGET k\r\nPING\r\n",
    "denied inside EXEC": b"MULTI\r\nSSUBSCRIBE a\r\nEXEC\r\nGET k\r\nPING\r\n",
}


@pytest.mark.parametrize("payload", LEAVING_SHARD_MODE.values(), ids=LEAVING_SHARD_MODE.keys())
def test_leaving_shard_subscribed_mode(valkdb_server, redis_server, payload):
    assert converse(valkdb_server.port, payload, False) == converse(
        redis_server.port, payload, False)


@pytest.mark.parametrize("payload", SHARD_ONLY_MODE.values(), ids=SHARD_ONLY_MODE.keys())
def test_shard_subscribed_mode(valkdb_server, redis_server, payload):
    assert converse(valkdb_server.port, payload, False) == converse(
        redis_server.port, payload, False)


def test_resp3_shard_subscriber_may_run_any_command(valkdb_server, redis_server):
    payload = (b"HELLO 3\r\nSSUBSCRIBE a\r\nSET shk v\r\nGET shk\r\nPING\r\nSPUBLISH a self\r\n"
               b"PUBSUB SHARDNUMSUB a\r\nDEL shk\r\n")

    def after_hello(port):
        return converse(port, payload, False).partition(_END_OF_HELLO)[2]

    assert after_hello(valkdb_server.port) == after_hello(redis_server.port)


def _pubsub_view(port: int) -> tuple:
    """What other clients see of a client subscribed to shard channels only."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=5)
    sock.sendall(b"SSUBSCRIBE v1 v2\r\n")
    _read_until(sock, b"", b"v2\r\n:2\r\n", time.monotonic() + 5)
    client = redis.Redis(port=port, socket_timeout=5)
    view = (len(client.client_list(_type="pubsub")),
            client.info("stats")["pubsubshard_channels"])
    client.close()
    sock.close()
    return view


def test_shard_subscriber_is_a_pubsub_client(valkdb_server, redis_server):
    assert _pubsub_view(valkdb_server.port) == _pubsub_view(redis_server.port)
