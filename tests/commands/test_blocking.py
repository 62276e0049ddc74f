"""Blocking list commands with several clients really blocked, on valkdb and on redis-server.

Each scenario is a function of a port that drives raw-socket clients and returns every reply it
saw; it runs against both servers and the two transcripts must be equal (plus a few facts that
must hold whatever Redis says, so a scenario that silently did nothing fails). Clients are known
to be blocked by polling INFO's blocked_clients, not by sleeping; "no reply" is a short select().
"""

from __future__ import annotations

import functools
import select
import time
from collections.abc import Callable

import pytest

from tests.compat.resp import RawConnection, encode_command, read_reply

NO_REPLY = b"(no reply)"
_QUIET = 0.15  # how long a client must stay silent to count as still blocked


class Peer:
    """A raw client that can send a command without waiting for its reply."""

    def __init__(self, port: int) -> None:
        self.conn = RawConnection(port, timeout=5)

    def call(self, *args: bytes) -> bytes:
        return self.conn.call(*args)

    def send(self, *args: bytes) -> None:
        self.conn.sock.sendall(encode_command(args))

    def reply(self, quiet: float | None = None) -> bytes:
        """The next reply; with `quiet`, NO_REPLY if none comes within that many seconds."""
        if quiet is not None and not select.select([self.conn.sock], [], [], quiet)[0]:
            return NO_REPLY
        return read_reply(self.conn.stream)

    def close(self) -> None:
        self.conn.close()


def blocked_clients(ctl: Peer) -> int:
    info = ctl.call(b"INFO", b"clients")
    line = next(x for x in info.split(b"\r\n") if x.startswith(b"blocked_clients:"))
    return int(line.split(b":")[1])


def wait_blocked(ctl: Peer, count: int) -> None:
    deadline = time.monotonic() + 5
    while blocked_clients(ctl) != count:
        assert time.monotonic() < deadline, f"never {count} blocked clients"
        time.sleep(0.002)


def block(ctl: Peer, peer: Peer, *command: bytes) -> None:
    """Send a blocking command and wait until the server has parked it."""
    already = blocked_clients(ctl)
    peer.send(*command)
    wait_blocked(ctl, already + 1)


Scenario = Callable[[Peer, Callable[[], Peer]], list[bytes]]


def _connect(port: int, peers: list[Peer], protocol: int) -> Peer:
    peer = Peer(port)
    peers.append(peer)
    if protocol == 3:
        peer.call(b"HELLO", b"3")
    return peer


def run_on_both(ports: tuple[int, int], scenario: Scenario, protocol: int = 2) -> list[bytes]:
    """Run a scenario on the server under test and on redis-server (ports in that order, each
    flushed first, every client speaking RESP `protocol`); the transcript, once both are found
    equal."""
    transcripts = []
    for port in ports:
        peers: list[Peer] = []
        connect = functools.partial(_connect, port, peers, protocol)
        ctl = connect()
        assert ctl.call(b"FLUSHALL") == b"+OK\r\n"
        try:
            transcripts.append(scenario(ctl, connect))
            wait_blocked(ctl, 0)  # nobody left behind
        finally:
            for peer in peers:
                peer.close()
    ours, theirs = transcripts
    assert ours == theirs
    return ours


@pytest.fixture
def on_both(valkdb_server, redis_server):
    """run_on_both for valkdb and redis-server."""
    return functools.partial(run_on_both, (valkdb_server.port, redis_server.port))


def _array(*items: bytes) -> bytes:
    return encode_command(items)  # an array of bulk strings is encoded like a command


def test_fifo_order_among_three_blocked_clients(on_both):
    def scenario(ctl, connect):
        waiters = [connect() for _ in range(3)]
        for waiter in waiters:
            block(ctl, waiter, b"BLPOP", b"k", b"other", b"0")
        pushed = ctl.call(b"RPUSH", b"k", b"a", b"b")
        first_two = [waiters[0].reply(), waiters[1].reply(), waiters[2].reply(_QUIET)]
        return [pushed, *first_two, ctl.call(b"LPUSH", b"other", b"c"), waiters[2].reply(),
                ctl.call(b"EXISTS", b"k", b"other")]

    transcript = on_both(scenario)
    assert transcript[1:4] == [_array(b"k", b"a"), _array(b"k", b"b"), NO_REPLY]
    assert transcript[5] == _array(b"other", b"c")


def test_several_elements_pushed_at_once_go_one_per_client(on_both):
    def scenario(ctl, connect):
        waiters = [connect() for _ in range(3)]
        for waiter in waiters:
            block(ctl, waiter, b"BRPOP", b"k", b"0")
        return [ctl.call(b"LPUSH", b"k", b"1", b"2", b"3", b"4"),
                *(waiter.reply() for waiter in waiters), ctl.call(b"LRANGE", b"k", b"0", b"-1")]

    assert on_both(scenario)[-1] == _array(b"4")


@pytest.mark.parametrize("command", [
    (b"BLPOP", b"k", b"0.1"), (b"BRPOP", b"a", b"k", b"0.1"),
    (b"BLMOVE", b"k", b"d", b"LEFT", b"RIGHT", b"0.1"), (b"BRPOPLPUSH", b"k", b"d", b"0.1"),
    (b"BLMPOP", b"0.1", b"1", b"k", b"LEFT"),
])
def test_timeout_gives_the_null_array(valkdb_server, redis_server, command):
    for port in (valkdb_server.port, redis_server.port):
        for hello in (b"2", b"3"):
            peer = Peer(port)
            peer.call(b"FLUSHALL")
            peer.call(b"HELLO", hello)
            start = time.monotonic()
            reply = peer.call(*command)
            elapsed = time.monotonic() - start
            peer.close()
            assert reply == (b"*-1\r\n" if hello == b"2" else b"_\r\n"), (port, command)
            if port == valkdb_server.port:  # redis-server's clock ticks at 10 Hz
                assert 0.095 <= elapsed < 0.3


def test_timeout_zero_waits_for_ever(on_both):
    def scenario(ctl, connect):
        waiter = connect()
        block(ctl, waiter, b"BLPOP", b"k", b"0")
        return [waiter.reply(0.3), ctl.call(b"RPUSH", b"k", b"v"), waiter.reply()]

    assert on_both(scenario)[0] == NO_REPLY


@pytest.mark.parametrize("leave", ["disconnect", "kill"])
def test_a_client_gone_while_blocked_leaves_no_trace(on_both, leave):
    def scenario(ctl, connect):
        gone, waiter = connect(), connect()
        gone_id = gone.call(b"CLIENT", b"ID")
        block(ctl, gone, b"BLPOP", b"k", b"0")
        block(ctl, waiter, b"BLPOP", b"k", b"0")
        if leave == "disconnect":
            gone.close()
            wait_blocked(ctl, 1)
            transcript = []
        else:
            transcript = [ctl.call(b"CLIENT", b"KILL", b"ID", gone_id[1:-2])]
            wait_blocked(ctl, 1)
        return [*transcript, ctl.call(b"RPUSH", b"k", b"v"), waiter.reply(),
                ctl.call(b"LLEN", b"k")]

    assert on_both(scenario)[-2] == _array(b"k", b"v")


def test_a_transaction_serves_blocked_clients_after_exec(on_both):
    def scenario(ctl, connect):
        waiters = [connect(), connect()]
        for waiter in waiters:
            block(ctl, waiter, b"BLPOP", b"k", b"0")
        transcript = [ctl.call(b"MULTI"), ctl.call(b"RPUSH", b"k", b"a"),
                      ctl.call(b"LPUSH", b"k", b"b"), ctl.call(b"LPOP", b"k")]
        transcript.append(waiters[0].reply(_QUIET))  # queued, not run: nobody served yet
        transcript += [ctl.call(b"EXEC"), waiters[0].reply(), waiters[1].reply(_QUIET),
                       ctl.call(b"RPUSH", b"k", b"c"), waiters[1].reply()]
        return transcript

    transcript = on_both(scenario)
    assert transcript[4] == NO_REPLY and transcript[6] == _array(b"k", b"a")


def test_blocking_commands_do_not_block_inside_multi(on_both):
    def scenario(ctl, connect):
        commands = [(b"BLPOP", b"k", b"0"), (b"BLMOVE", b"k", b"d", b"LEFT", b"LEFT", b"0"),
                    (b"BRPOPLPUSH", b"k", b"d", b"0"), (b"BLMPOP", b"0", b"1", b"k", b"LEFT")]
        return [ctl.call(b"MULTI"), *(ctl.call(*c) for c in commands), ctl.call(b"EXEC")]

    on_both(scenario)


def test_blmove_chain(on_both):
    """An element moved into a key other clients wait on goes on to them, in one pass."""
    def scenario(ctl, connect):
        first, second, third = connect(), connect(), connect()
        block(ctl, first, b"BLMOVE", b"a", b"b", b"LEFT", b"RIGHT", b"0")
        block(ctl, second, b"BRPOPLPUSH", b"b", b"c", b"0")
        block(ctl, third, b"BLPOP", b"c", b"0")
        return [ctl.call(b"LPUSH", b"a", b"x"), first.reply(), second.reply(), third.reply(),
                ctl.call(b"EXISTS", b"a", b"b", b"c")]

    transcript = on_both(scenario)
    assert transcript[1:4] == [b"$1\r\nx\r\n", b"$1\r\nx\r\n", _array(b"c", b"x")]


def test_lmove_into_a_waited_key_serves_it(on_both):
    def scenario(ctl, connect):
        waiter = connect()
        block(ctl, waiter, b"BRPOP", b"d", b"0")
        ctl.call(b"RPUSH", b"s", b"1", b"2")
        return [ctl.call(b"LMOVE", b"s", b"d", b"RIGHT", b"LEFT"), waiter.reply(),
                ctl.call(b"RPOPLPUSH", b"s", b"d"), ctl.call(b"LRANGE", b"d", b"0", b"-1")]

    on_both(scenario)


def test_blmove_to_a_key_of_another_type(on_both):
    """The waiter gets WRONGTYPE and the element stays where it was pushed."""
    def scenario(ctl, connect):
        waiter = connect()
        ctl.call(b"SET", b"d", b"string")
        block(ctl, waiter, b"BLMOVE", b"s", b"d", b"LEFT", b"RIGHT", b"0")
        return [ctl.call(b"RPUSH", b"s", b"v"), waiter.reply(), ctl.call(b"LRANGE", b"s", b"0",
                                                                         b"-1")]

    assert on_both(scenario)[1].startswith(b"-WRONGTYPE")


def test_blmpop_served_with_counts(on_both):
    def scenario(ctl, connect):
        first, second = connect(), connect()
        block(ctl, first, b"BLMPOP", b"0", b"2", b"a", b"k", b"RIGHT", b"COUNT", b"2")
        block(ctl, second, b"BLMPOP", b"0", b"1", b"k", b"LEFT", b"COUNT", b"5")
        return [ctl.call(b"RPUSH", b"k", b"1", b"2", b"3", b"4", b"5"), first.reply(),
                second.reply(), ctl.call(b"EXISTS", b"k")]

    on_both(scenario)


def test_key_replaced_by_another_type_while_blocked(on_both):
    """Redis 7.0 leaves the client blocked until the key holds a list again."""
    def scenario(ctl, connect):
        waiter = connect()
        block(ctl, waiter, b"BLPOP", b"k", b"0")
        transcript = [ctl.call(b"SET", b"k", b"string"), waiter.reply(_QUIET)]
        for command in ((b"DEL", b"k"), (b"MULTI",), (b"LPUSH", b"k", b"a"),
                        (b"SET", b"k", b"s"), (b"EXEC",)):
            transcript.append(ctl.call(*command))
        transcript.append(waiter.reply(_QUIET))
        transcript += [ctl.call(b"DEL", b"k"), ctl.call(b"RPUSH", b"k", b"z"), waiter.reply()]
        return transcript

    transcript = on_both(scenario)
    assert transcript[1] == transcript[7] == NO_REPLY


@pytest.mark.parametrize("command", [(b"RENAME", b"src", b"k"), (b"COPY", b"src", b"k"),
                                     (b"MOVE", b"k", b"1")])
def test_a_list_arriving_by_rename_copy_or_move_serves_waiters(on_both, command):
    def scenario(ctl, connect):
        waiter = connect()
        if command[0] == b"MOVE":
            waiter.call(b"SELECT", b"1")
            ctl.call(b"RPUSH", b"k", b"v")
        else:
            ctl.call(b"RPUSH", b"src", b"v")
        block(ctl, waiter, b"BLPOP", b"k", b"0")
        return [ctl.call(*command), waiter.reply(_QUIET)]

    assert on_both(scenario)[1] == _array(b"k", b"v")


@pytest.mark.parametrize("mode", [(), (b"TIMEOUT",), (b"ERROR",)])
def test_client_unblock(on_both, mode):
    def scenario(ctl, connect):
        waiter = connect()
        waiter_id = waiter.call(b"CLIENT", b"ID")[1:-2]
        block(ctl, waiter, b"BLMOVE", b"k", b"d", b"LEFT", b"LEFT", b"0")
        return [ctl.call(b"CLIENT", b"UNBLOCK", waiter_id, *mode), waiter.reply(),
                ctl.call(b"CLIENT", b"UNBLOCK", waiter_id, *mode),
                ctl.call(b"RPUSH", b"k", b"v"), ctl.call(b"LLEN", b"k")]

    transcript = on_both(scenario)
    assert transcript[0] == b":1\r\n" and transcript[2] == b":0\r\n"


def test_a_blocked_client_wakes_at_once(valkdb_server):
    ctl, waiter = Peer(valkdb_server.port), Peer(valkdb_server.port)
    try:
        ctl.call(b"FLUSHALL")
        block(ctl, waiter, b"BLPOP", b"k", b"0")
        start = time.monotonic()
        ctl.send(b"LPUSH", b"k", b"v")
        assert waiter.reply() == _array(b"k", b"v")
        assert time.monotonic() - start < 0.05
        assert ctl.reply() == b":1\r\n"
    finally:
        ctl.close()
        waiter.close()


def test_commands_pipelined_behind_a_blocking_one(on_both):
    """Replies before the blocking command go out at once; the ones after wait for it."""
    def scenario(ctl, connect):
        waiter = connect()
        already = blocked_clients(ctl)
        waiter.conn.sock.sendall(encode_command((b"RPUSH", b"x", b"1"))
                                 + encode_command((b"BLPOP", b"k", b"0"))
                                 + encode_command((b"PING",)))
        wait_blocked(ctl, already + 1)
        transcript = [waiter.reply(), waiter.reply(_QUIET)]
        return [*transcript, ctl.call(b"LPUSH", b"k", b"v"), waiter.reply(), waiter.reply()]

    assert on_both(scenario)[1] == NO_REPLY


def test_waiters_of_another_type_are_passed_over(on_both):
    """A client waiting for a sorted set on the key does not stop a list from being served to
    the list waiter behind it (and still gets the sorted set later)."""
    def scenario(ctl, connect):
        zset_waiter, list_waiter = connect(), connect()
        block(ctl, zset_waiter, b"BZPOPMIN", b"k", b"0")
        block(ctl, list_waiter, b"BLPOP", b"k", b"0")
        transcript = [ctl.call(b"LPUSH", b"k", b"a"), list_waiter.reply(),
                      zset_waiter.reply(_QUIET)]
        return [*transcript, ctl.call(b"ZADD", b"k", b"1", b"m"), zset_waiter.reply()]

    transcript = on_both(scenario)
    assert transcript[1] == _array(b"k", b"a") and transcript[2] == NO_REPLY
