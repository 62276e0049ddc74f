"""Blocking stream reads (XREAD / XREADGROUP BLOCK) with clients really blocked, on valkdb and on
redis-server 7.0.15.

As in test_blocking.py, each scenario is a function that drives raw-socket clients of one server
and returns every reply it saw; it runs against the server under test and against redis-server,
and the two transcripts must be equal, plus a few facts checked on the transcript so that a
scenario that silently did nothing fails. Clients are known to be blocked by polling INFO's
blocked_clients; "no reply" is a short select(). Every ID is explicit, so replies are
deterministic; XINFO / XPENDING replies with times in them are compared through the
normalisation of tests/compat/test_streams_diff.py.

VALKDB_STREAM_TESTS_SELF=1 puts a second redis-server in valkdb's place (to validate the tests);
until valkdb has streams the module skips.
"""

from __future__ import annotations

import threading
import time

import pytest
import redis

from tests.commands.test_blocking import NO_REPLY, Peer, block, run_on_both, wait_blocked
from tests.compat.differ import Divergence
from tests.compat.resp import RawConnection, encode_command
from tests.compat.test_streams_diff import (  # noqa: F401 (fixtures)
    normalised,
    streams_available,
    valkdb_server,
)
from tests.support import redis_server_binary

pytestmark = pytest.mark.skipif(redis_server_binary() is None, reason="needs redis-server")

_QUIET = 0.15  # how long a client must stay silent to count as still blocked


class Timed:
    """A reply with times in it (XPENDING, XINFO): compared normalised, not byte for byte."""

    def __init__(self, args: tuple[bytes, ...], reply: bytes) -> None:
        self.args, self.reply = args, reply

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Timed):
            return NotImplemented
        a, b = normalised(self.args, self.reply, other.reply)
        return a == b

    def __repr__(self) -> str:
        return f"Timed({self.reply!r})"


@pytest.fixture(params=[2, 3], ids=["resp2", "resp3"])
def on_both(request, valkdb_server, redis_server):  # noqa: F811
    """Run a scenario on the server under test and on redis-server (each flushed first, the
    blocked clients speaking RESP2 or RESP3); returns the transcript once both are found
    equal."""
    protocol = request.param

    def run(scenario):  # type: ignore[no-untyped-def]
        return run_on_both((valkdb_server.port, redis_server.port), scenario, protocol)
    run.protocol = protocol  # type: ignore[attr-defined]
    return run


def timed(peer: Peer, *args: bytes) -> Timed:
    return Timed(args, peer.call(*args))


def _null(protocol: int) -> bytes:
    return b"*-1\r\n" if protocol == 2 else b"_\r\n"


def _entries_reply(protocol: int, key: bytes, *entries: tuple[bytes, bytes, bytes]) -> bytes:
    """XREAD's reply for one key: [[key, [[id, [field, value]], ...]]] (a map in RESP3)."""
    body = b"*%d\r\n" % len(entries) + b"".join(
        b"*2\r\n" + encode_command((i,))[4:] + encode_command((f, v)) for i, f, v in entries)
    head = b"*1\r\n*2\r\n" if protocol == 2 else b"%1\r\n"
    return head + encode_command((key,))[4:] + body


def test_xread_block_served_by_xadd(on_both):
    def scenario(ctl, connect):
        waiter = connect()
        ctl.call(b"XADD", b"x", b"1-0", b"f", b"old")
        block(ctl, waiter, b"XREAD", b"BLOCK", b"0", b"STREAMS", b"x", b"$")
        return [waiter.reply(_QUIET), ctl.call(b"XADD", b"x", b"2-0", b"f", b"new"),
                waiter.reply(), ctl.call(b"XLEN", b"x")]

    transcript = on_both(scenario)
    assert transcript[0] == NO_REPLY
    assert transcript[2] == _entries_reply(on_both.protocol, b"x", (b"2-0", b"f", b"new"))


def test_xread_block_on_a_missing_key_and_several_streams(on_both):
    def scenario(ctl, connect):
        waiter = connect()
        ctl.call(b"XADD", b"a", b"5-0", b"f", b"v")
        block(ctl, waiter, b"XREAD", b"COUNT", b"1", b"BLOCK", b"0", b"STREAMS", b"a", b"b",
              b"$", b"$")
        return [ctl.call(b"XADD", b"b", b"NOMKSTREAM", b"1-0", b"f", b"v"), waiter.reply(_QUIET),
                ctl.call(b"SET", b"c", b"v"), ctl.call(b"XADD", b"b", b"1-0", b"f", b"v"),
                waiter.reply()]

    transcript = on_both(scenario)
    assert transcript[1] == NO_REPLY
    assert transcript[4] == _entries_reply(on_both.protocol, b"b", (b"1-0", b"f", b"v"))


def test_xread_blocked_clients_all_get_the_entry(on_both):
    """XREAD consumes nothing: every blocked reader gets the new entries."""
    def scenario(ctl, connect):
        waiters = [connect() for _ in range(3)]
        ctl.call(b"XADD", b"x", b"1-0", b"f", b"v")
        for i, waiter in enumerate(waiters):
            start = b"$" if i != 1 else b"1-0"  # an explicit ID at the top blocks as $ does
            block(ctl, waiter, b"XREAD", b"BLOCK", b"0", b"STREAMS", b"x", start)
        return [ctl.call(b"XADD", b"x", b"2-0", b"g", b"w"), *(w.reply() for w in waiters)]

    transcript = on_both(scenario)
    assert transcript[1] == transcript[2] == transcript[3] != NO_REPLY


def test_xreadgroup_fifo_among_blocked_consumers(on_both):
    """Each entry goes to one consumer, in the order they blocked; the others stay blocked."""
    def scenario(ctl, connect):
        waiters = [connect() for _ in range(3)]
        ctl.call(b"XGROUP", b"CREATE", b"x", b"g", b"$", b"MKSTREAM")
        for i, waiter in enumerate(waiters):
            block(ctl, waiter, b"XREADGROUP", b"GROUP", b"g", b"c%d" % i, b"COUNT", b"1",
                  b"BLOCK", b"0", b"STREAMS", b"x", b">")
        transcript = [ctl.call(b"XADD", b"x", b"1-0", b"f", b"a"), waiters[0].reply(),
                      waiters[1].reply(_QUIET), waiters[2].reply(_QUIET),
                      ctl.call(b"XADD", b"x", b"2-0", b"f", b"b"), waiters[1].reply(),
                      waiters[2].reply(_QUIET), ctl.call(b"XADD", b"x", b"3-0", b"f", b"c"),
                      waiters[2].reply(), ctl.call(b"XPENDING", b"x", b"g"),
                      ctl.call(b"XINFO", b"GROUPS", b"x")]
        return transcript

    transcript = on_both(scenario)
    assert transcript[2] == transcript[3] == transcript[6] == NO_REPLY
    assert transcript[1] == _entries_reply(on_both.protocol, b"x", (b"1-0", b"f", b"a"))
    assert transcript[8] == _entries_reply(on_both.protocol, b"x", (b"3-0", b"f", b"c"))


def test_xreadgroup_served_by_multi_exec_and_by_eval(on_both):
    def scenario(ctl, connect):
        first, second = connect(), connect()
        ctl.call(b"XGROUP", b"CREATE", b"x", b"g", b"$", b"MKSTREAM")
        block(ctl, first, b"XREADGROUP", b"GROUP", b"g", b"c1", b"BLOCK", b"0", b"STREAMS", b"x",
              b">")
        transcript = [ctl.call(b"MULTI"), ctl.call(b"XADD", b"x", b"1-0", b"f", b"a"),
                      ctl.call(b"XADD", b"x", b"2-0", b"f", b"b"), first.reply(_QUIET),
                      ctl.call(b"EXEC"), first.reply()]
        block(ctl, second, b"XREADGROUP", b"GROUP", b"g", b"c2", b"NOACK", b"BLOCK", b"0",
              b"STREAMS", b"x", b">")
        transcript += [ctl.call(b"EVAL", b"redis.call('XADD', KEYS[1], '3-0', 'f', 'c') "
                                b"redis.call('XADD', KEYS[1], '4-0', 'f', 'd') return 1",
                                b"1", b"x"),
                       second.reply(), ctl.call(b"XPENDING", b"x", b"g"),
                       timed(ctl, b"XINFO", b"CONSUMERS", b"x", b"g"),
                       ctl.call(b"XINFO", b"GROUPS", b"x")]
        return transcript

    transcript = on_both(scenario)
    assert transcript[3] == NO_REPLY
    assert transcript[5] == _entries_reply(on_both.protocol, b"x", (b"1-0", b"f", b"a"),
                                           (b"2-0", b"f", b"b"))
    assert transcript[7] == _entries_reply(on_both.protocol, b"x", (b"3-0", b"f", b"c"),
                                           (b"4-0", b"f", b"d"))


def test_xread_served_by_exec_and_eval(on_both):
    def scenario(ctl, connect):
        waiter = connect()
        block(ctl, waiter, b"XREAD", b"BLOCK", b"0", b"STREAMS", b"x", b"$")
        transcript = [ctl.call(b"MULTI"), ctl.call(b"XADD", b"x", b"1-0", b"f", b"a"),
                      ctl.call(b"XDEL", b"x", b"1-0"), ctl.call(b"XADD", b"x", b"2-0", b"f", b"b"),
                      ctl.call(b"EXEC"), waiter.reply()]
        block(ctl, waiter, b"XREAD", b"BLOCK", b"0", b"STREAMS", b"x", b"$")
        return [*transcript, ctl.call(b"EVAL", b"return redis.call('XADD', KEYS[1], '7-*', 'f', "
                                      b"'c')", b"1", b"x"), waiter.reply()]

    transcript = on_both(scenario)
    assert transcript[5] == _entries_reply(on_both.protocol, b"x", (b"2-0", b"f", b"b"))
    assert transcript[7] == _entries_reply(on_both.protocol, b"x", (b"7-0", b"f", b"c"))


@pytest.mark.parametrize("command", [
    (b"XREAD", b"BLOCK", b"100", b"STREAMS", b"x", b"$"),
    (b"XREAD", b"COUNT", b"5", b"BLOCK", b"100", b"STREAMS", b"x", b"nx", b"$", b"0"),
    (b"XREADGROUP", b"GROUP", b"g", b"c", b"BLOCK", b"100", b"STREAMS", b"x", b">"),
])
def test_timeout_gives_the_null_reply(valkdb_server, redis_server, command):  # noqa: F811
    replies = []
    for port in (valkdb_server.port, redis_server.port):
        for hello in (b"2", b"3"):
            peer = Peer(port)
            try:
                peer.call(b"FLUSHALL")
                peer.call(b"XADD", b"x", b"1-0", b"f", b"v")
                peer.call(b"XGROUP", b"CREATE", b"x", b"g", b"$")
                peer.call(b"HELLO", hello)
                start = time.monotonic()
                reply = peer.call(*command)
                elapsed = time.monotonic() - start
                replies.append(reply)
                assert 0.095 <= elapsed < 1.5, (port, command, elapsed)
                if command[0] == b"XREADGROUP":  # the consumer exists from the call on
                    replies.append(peer.call(b"XINFO", b"GROUPS", b"x"))
            finally:
                peer.close()
    half = len(replies) // 2
    assert replies[:half] == replies[half:]
    assert b"*-1\r\n" in replies[:half] and b"_\r\n" in replies[:half]


def test_block_zero_inside_multi_does_not_block(on_both):
    def scenario(ctl, connect):
        ctl.call(b"XGROUP", b"CREATE", b"x", b"g", b"$", b"MKSTREAM")
        return [ctl.call(b"MULTI"),
                ctl.call(b"XREAD", b"BLOCK", b"0", b"STREAMS", b"x", b"$"),
                ctl.call(b"XREADGROUP", b"GROUP", b"g", b"c", b"BLOCK", b"0", b"STREAMS", b"x",
                         b">"),
                ctl.call(b"XREAD", b"BLOCK", b"0", b"STREAMS", b"x", b"0"),
                ctl.call(b"EXEC")]

    assert on_both(scenario)[-1] == b"*3\r\n" + _null(on_both.protocol) * 3


@pytest.mark.parametrize("mode", [(), (b"TIMEOUT",), (b"ERROR",)])
@pytest.mark.parametrize("command", ["xread", "xreadgroup"])
def test_client_unblock(on_both, mode, command):
    def scenario(ctl, connect):
        waiter = connect()
        waiter_id = waiter.call(b"CLIENT", b"ID")[1:-2]
        ctl.call(b"XGROUP", b"CREATE", b"x", b"g", b"$", b"MKSTREAM")
        if command == "xread":
            block(ctl, waiter, b"XREAD", b"BLOCK", b"0", b"STREAMS", b"x", b"$")
        else:
            block(ctl, waiter, b"XREADGROUP", b"GROUP", b"g", b"c", b"BLOCK", b"0", b"STREAMS",
                  b"x", b">")
        return [ctl.call(b"CLIENT", b"UNBLOCK", waiter_id, *mode), waiter.reply(),
                ctl.call(b"CLIENT", b"UNBLOCK", waiter_id, *mode),
                ctl.call(b"XADD", b"x", b"1-0", b"f", b"v"), waiter.reply(_QUIET),
                ctl.call(b"XPENDING", b"x", b"g")]

    transcript = on_both(scenario)
    assert transcript[0] == b":1\r\n" and transcript[2] == b":0\r\n"
    assert transcript[4] == NO_REPLY
    if mode == (b"ERROR",):
        assert transcript[1].startswith(b"-UNBLOCKED")
    else:
        assert transcript[1] == _null(on_both.protocol)


@pytest.mark.parametrize("change", [
    (b"DEL", b"x"), (b"XGROUP", b"DESTROY", b"x", b"g"), (b"SET", b"x", b"string"),
    (b"FLUSHALL",), (b"RENAME", b"x", b"y"), (b"XTRIM", b"x", b"MAXLEN", b"0"),
    (b"XADD", b"x", b"MAXLEN", b"0", b"2-0", b"f", b"v"),
    (b"EVAL", b"redis.call('DEL', KEYS[1]) return redis.call('XADD', KEYS[1], '5-0', 'f', 'v')",
     b"1", b"x"),
])
def test_stream_or_group_gone_while_xreadgroup_blocks(on_both, change):
    """Redis 7.0.15 wakes the client with -UNBLOCKED when the key goes (or stops being a
    stream), -NOGROUP when the group goes; an XADD that trims its own entry away serves an
    empty list of entries."""
    def scenario(ctl, connect):
        waiter, other = connect(), connect()
        ctl.call(b"XADD", b"x", b"1-0", b"f", b"v")
        ctl.call(b"XGROUP", b"CREATE", b"x", b"g", b"$")
        block(ctl, waiter, b"XREADGROUP", b"GROUP", b"g", b"c", b"BLOCK", b"0", b"STREAMS", b"x",
              b">")
        block(ctl, other, b"XREAD", b"BLOCK", b"0", b"STREAMS", b"x", b"$")
        transcript = [ctl.call(*change), waiter.reply(_QUIET * 2), other.reply(_QUIET)]
        if transcript[-1] == NO_REPLY:  # XREAD waits on, whatever happened to the key
            transcript += [ctl.call(b"DEL", b"x"), ctl.call(b"XADD", b"x", b"9-0", b"f", b"v"),
                           other.reply()]
        if transcript[1] == NO_REPLY:
            transcript += [ctl.call(b"CLIENT", b"UNBLOCK", waiter.call(b"CLIENT", b"ID")[1:-2])]
        return [*transcript, ctl.call(b"EXISTS", b"x")]

    transcript = on_both(scenario)
    # XTRIM signals nothing to blocked readers: the stream is still there, with its group.
    assert (transcript[1] == NO_REPLY) == (change[0] == b"XTRIM")
    if change[0] in (b"XGROUP", b"EVAL"):
        assert transcript[1] == (b"-NOGROUP the consumer group this client was blocked on no "
                                 b"longer exists\r\n")
    elif change[0] in (b"DEL", b"SET", b"FLUSHALL", b"RENAME"):
        assert transcript[1] == b"-UNBLOCKED the stream key no longer exists\r\n"


def test_xtrim_to_nothing_leaves_xreadgroup_blocked(on_both):
    def scenario(ctl, connect):
        waiter = connect()
        ctl.call(b"XADD", b"x", b"1-0", b"f", b"v")
        ctl.call(b"XGROUP", b"CREATE", b"x", b"g", b"$")
        block(ctl, waiter, b"XREADGROUP", b"GROUP", b"g", b"c", b"BLOCK", b"0", b"STREAMS", b"x",
              b">")
        return [ctl.call(b"XTRIM", b"x", b"MAXLEN", b"0"), waiter.reply(_QUIET),
                ctl.call(b"XDEL", b"x", b"1-0"), waiter.reply(_QUIET),
                ctl.call(b"XADD", b"x", b"3-0", b"f", b"w"), waiter.reply()]

    transcript = on_both(scenario)
    assert transcript[1] == transcript[3] == NO_REPLY
    assert transcript[5] == _entries_reply(on_both.protocol, b"x", (b"3-0", b"f", b"w"))


@pytest.mark.parametrize("leave", ["disconnect", "kill"])
def test_a_client_gone_while_blocked_leaves_no_trace(on_both, leave):
    def scenario(ctl, connect):
        gone, waiter = connect(), connect()
        gone_id = gone.call(b"CLIENT", b"ID")[1:-2]
        ctl.call(b"XGROUP", b"CREATE", b"x", b"g", b"$", b"MKSTREAM")
        block(ctl, gone, b"XREADGROUP", b"GROUP", b"g", b"gone", b"BLOCK", b"0", b"STREAMS",
              b"x", b">")
        block(ctl, waiter, b"XREADGROUP", b"GROUP", b"g", b"stays", b"BLOCK", b"0", b"STREAMS",
              b"x", b">")
        if leave == "disconnect":
            gone.close()
            transcript = []
        else:
            transcript = [ctl.call(b"CLIENT", b"KILL", b"ID", gone_id)]
        wait_blocked(ctl, 1)
        return [*transcript, ctl.call(b"XADD", b"x", b"1-0", b"f", b"v"), waiter.reply(),
                ctl.call(b"XPENDING", b"x", b"g"), ctl.call(b"XINFO", b"GROUPS", b"x")]

    transcript = on_both(scenario)
    assert transcript[-3] == _entries_reply(on_both.protocol, b"x", (b"1-0", b"f", b"v"))


def test_xreadgroup_with_an_explicit_id_never_blocks(on_both):
    def scenario(ctl, connect):
        ctl.call(b"XGROUP", b"CREATE", b"x", b"g", b"$", b"MKSTREAM")
        start = time.monotonic()
        reply = ctl.call(b"XREADGROUP", b"GROUP", b"g", b"c", b"BLOCK", b"0", b"STREAMS", b"x",
                         b"0")
        return [reply, b"fast" if time.monotonic() - start < 1 else b"slow"]

    transcript = on_both(scenario)
    assert transcript[1] == b"fast"


def test_pipelined_commands_behind_a_blocked_xread(on_both):
    def scenario(ctl, connect):
        waiter = connect()
        waiter.conn.sock.sendall(encode_command((b"XADD", b"x", b"1-0", b"f", b"v"))
                                 + encode_command((b"XREAD", b"BLOCK", b"0", b"STREAMS", b"x",
                                                   b"$"))
                                 + encode_command((b"XLEN", b"x")))
        wait_blocked(ctl, 1)
        transcript = [waiter.reply(), waiter.reply(_QUIET)]
        return [*transcript, ctl.call(b"XADD", b"x", b"2-0", b"f", b"v"), waiter.reply(),
                waiter.reply()]

    transcript = on_both(scenario)
    assert transcript[1] == NO_REPLY and transcript[-1] == b":2\r\n"


@pytest.mark.parametrize("protocol", [2, 3])
def test_redis_py_consumers(valkdb_server, redis_server, protocol):  # noqa: F811
    """redis-py clients blocked in xread / xreadgroup in threads, served by xadd: what they
    parse is the same on both servers."""
    results = []
    for port in (valkdb_server.port, redis_server.port):
        ctl = redis.Redis(port=port, protocol=protocol, socket_timeout=5)
        readers = [redis.Redis(port=port, protocol=protocol, socket_timeout=5) for _ in range(2)]
        try:
            ctl.flushall()
            ctl.xgroup_create("jobs", "workers", id="$", mkstream=True)
            got: dict[str, object] = {}
            threads = [
                threading.Thread(target=lambda got=got, r=readers[0]: got.__setitem__(
                    "read", r.xread({"jobs": "$"}, block=3000))),
                threading.Thread(target=lambda got=got, r=readers[1]: got.__setitem__(
                    "group", r.xreadgroup("workers", "w1", {"jobs": ">"}, count=1,
                                          block=3000))),
            ]
            for thread in threads:
                thread.start()
            ctl_peer = Peer(port)
            try:
                wait_blocked(ctl_peer, 2)
            finally:
                ctl_peer.close()
            ctl.xadd("jobs", {"task": "one"}, id="1-0")
            for thread in threads:
                thread.join(5)
            results.append((got, ctl.xpending("jobs", "workers"), ctl.xinfo_groups("jobs"),
                            ctl.xack("jobs", "workers", "1-0"), ctl.xlen("jobs")))
        finally:
            ctl.close()
            for reader in readers:
                reader.close()
    assert results[0] == results[1]
    assert results[1][0]["group"] and results[1][0]["read"], results[1]


def test_timed_comparison_catches_differences():
    """The normalisation behind Timed only forgives times: anything else still differs."""
    args = (b"XPENDING", b"x", b"g", b"-", b"+", b"10")
    entry = b"*1\r\n*4\r\n$3\r\n1-0\r\n$1\r\nc\r\n:%d\r\n:%d\r\n"
    assert Timed(args, entry % (5, 1)) == Timed(args, entry % (7, 1))
    assert Timed(args, entry % (5, 1)) != Timed(args, entry % (5, 2))
    with pytest.raises(Divergence):
        assert Timed(args, entry % (5, 1)) == Timed(args, entry % (50_000, 1))


def test_probe_connection(valkdb_server):  # noqa: F811
    """The server under test answers; the module's skip probe saw stream commands."""
    conn = RawConnection(valkdb_server.port)
    try:
        assert conn.call(b"XLEN", b"valkdb:stream-probe") == b":0\r\n"
    finally:
        conn.close()
