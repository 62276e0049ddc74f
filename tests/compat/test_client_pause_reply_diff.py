"""CLIENT PAUSE / UNPAUSE and CLIENT REPLY against a real redis-server 7.0.15.

Each scenario runs the same raw RESP traffic on both servers (redis first, then valkdb) and
records what every connection received (and, while clients are paused, that nothing came
within a short wait); the two transcripts must be equal. Under a pause ALL even CLIENT UNPAUSE
waits in Redis, so ALL pauses here are short and simply run out.
"""

from __future__ import annotations

import io
import re
import select
import socket
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest

from tests.compat.resp import encode_command, read_reply

QUIET = 0.2  # how long "nothing arrived" is watched for


class Peer:
    """A raw loopback connection: pipelined sends, replies read one by one or up to a marker,
    and a bounded check that nothing has arrived."""

    def __init__(self, port: int, protocol: int = 2) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        self.buf = b""
        if protocol == 3:
            self.send((b"HELLO", b"3"))
            assert self.reply().startswith(b"%")

    def send(self, *commands: tuple[bytes, ...]) -> None:
        self.sock.sendall(b"".join(encode_command(c) for c in commands))

    def call(self, *args: bytes) -> bytes:
        self.send(args)
        return self.reply()

    def _recv(self, timeout: float) -> bool:
        ready, _, _ = select.select([self.sock], [], [], timeout)
        if not ready:
            return False
        data = self.sock.recv(65536)
        if not data:
            raise ConnectionError("closed")
        self.buf += data
        return True

    def reply(self, timeout: float = 5.0) -> bytes:
        deadline = time.monotonic() + timeout
        while True:
            stream = io.BytesIO(self.buf)
            try:
                reply = read_reply(stream)
            except (ConnectionError, ValueError):
                if not self._recv(max(deadline - time.monotonic(), 0)):
                    raise TimeoutError(f"no complete reply after {self.buf!r}") from None
                continue
            self.buf = self.buf[stream.tell():]
            return reply

    def until(self, marker: bytes, timeout: float = 5.0) -> bytes:
        """Everything received up to and including `marker` (the reply of a final PING)."""
        deadline = time.monotonic() + timeout
        while marker not in self.buf:
            if not self._recv(max(deadline - time.monotonic(), 0)):
                raise TimeoutError(f"no {marker!r} after {self.buf!r}")
        end = self.buf.index(marker) + len(marker)
        data, self.buf = self.buf[:end], self.buf[end:]
        return data

    def quiet(self, wait: float = QUIET) -> bytes:
        """What arrived within `wait` (b"" when nothing did)."""
        deadline = time.monotonic() + wait
        try:
            while self._recv(max(deadline - time.monotonic(), 0)):
                pass
        except ConnectionError:
            self.buf += b"<closed>"
        data, self.buf = self.buf, b""
        return data

    def close(self) -> None:
        self.sock.close()


def info_field(peer: Peer, section: bytes, name: bytes) -> int:
    reply = peer.call(b"INFO", section)
    match = re.search(rb"\r\n" + name + rb":(\d+)\r\n", reply)
    assert match, reply
    return int(match.group(1))


def blocked(peer: Peer, expected: int, timeout: float = 2.0) -> int:
    """INFO clients blocked_clients, once it reaches `expected` (or the timeout passes)."""
    deadline = time.monotonic() + timeout
    while True:
        count = info_field(peer, b"clients", b"blocked_clients")
        if count == expected or time.monotonic() > deadline:
            return count
        time.sleep(0.02)


@contextmanager
def unpaused_after(port: int) -> Iterator[None]:
    """Always CLIENT UNPAUSE at the end (on a fresh connection; under ALL it waits for the end)."""
    try:
        yield
    finally:
        peer = Peer(port)
        try:
            assert peer.call(b"CLIENT", b"UNPAUSE") == b"+OK\r\n"
        finally:
            peer.close()


Scenario = Callable[[int, int], list]


def compare(scenario: Scenario, valkdb_server, redis_server, protocol: int = 2) -> None:
    transcripts = []
    for server in (redis_server, valkdb_server):
        flush = Peer(server.port)
        flush.call(b"FLUSHALL")
        flush.close()
        transcripts.append(scenario(server.port, protocol))
    theirs, ours = transcripts
    assert ours == theirs, "\n".join(
        f"step {i}: valkdb {o!r}\n        redis  {t!r}" for i, (o, t) in
        enumerate(zip(ours, theirs, strict=False)) if o != t) or (ours, theirs)


# -- argument errors ------------------------------------------------------------------------

ERRORS = [
    (b"CLIENT", b"PAUSE"),
    (b"CLIENT", b"PAUSE", b"100", b"NONE"),
    (b"CLIENT", b"PAUSE", b"abc", b"NONE"),
    (b"CLIENT", b"PAUSE", b"-1", b"nope"),
    (b"CLIENT", b"PAUSE", b"abc"),
    (b"CLIENT", b"PAUSE", b"1.5", b"WRITE"),
    (b"CLIENT", b"PAUSE", b"99999999999999999999", b"ALL"),
    (b"CLIENT", b"PAUSE", b"-1"),
    (b"CLIENT", b"PAUSE", b"-5", b"write"),
    (b"CLIENT", b"PAUSE", b"10", b"WRITE", b"extra"),
    (b"CLIENT", b"PAUSE", b"0"),
    (b"CLIENT", b"PAUSE", b"0", b"all"),
    (b"CLIENT", b"UNPAUSE", b"x"),
    (b"CLIENT", b"UNPAUSE"),
    (b"CLIENT", b"REPLY"),
    (b"CLIENT", b"REPLY", b"maybe"),
    (b"CLIENT", b"REPLY", b"on", b"x"),
    (b"CLIENT", b"REPLY", b"ON"),
]


@pytest.mark.parametrize("args", ERRORS, ids=[b" ".join(a).decode() for a in ERRORS])
def test_argument_replies(differ, args):
    try:
        differ.check(*args)
    finally:
        differ.both(b"CLIENT", b"UNPAUSE")


# -- CLIENT PAUSE WRITE -----------------------------------------------------------------------

def _reads_answer_at_once(port: int, protocol: int) -> list:
    adm, c = Peer(port), Peer(port, protocol)
    with unpaused_after(port):
        out = [adm.call(b"CLIENT", b"PAUSE", b"100000", b"WRITE")]
        out.append(c.call(b"GET", b"FOO"))
        out.append(c.call(b"PING"))
        out.append(c.call(b"INFO", b"server")[:1])
        out.append(c.call(b"EXISTS", b"FOO"))
        out.append(blocked(adm, 0))
    return out


@pytest.mark.parametrize("protocol", [2, 3])
def test_reads_not_paused(valkdb_server, redis_server, protocol):
    compare(_reads_answer_at_once, valkdb_server, redis_server, protocol)


def _writes_wait(commands: list[tuple[bytes, ...]]) -> Scenario:
    def scenario(port: int, protocol: int) -> list:
        adm = Peer(port)
        adm.call(b"PFADD", b"hll", b"a")
        adm.call(b"SET", b"x", b"y")
        clients = [Peer(port, protocol) for _ in commands]
        with unpaused_after(port):
            out = [adm.call(b"CLIENT", b"PAUSE", b"60000", b"WRITE")]
            counts = []
            for i, (client, command) in enumerate(zip(clients, commands, strict=True)):
                client.send(command)  # one at a time: they are released in this order
                counts.append(blocked(adm, i + 1))
            out.append(counts)
            out.append([client.quiet() for client in clients])
            out.append(adm.call(b"CLIENT", b"UNPAUSE"))
            out.append([client.reply() for client in clients])
            out.append(blocked(adm, 0))
        return out
    return scenario


WAITING = {
    "set": [(b"SET", b"FOO", b"BAR")],
    "pfcount+publish": [(b"PFCOUNT", b"hll"), (b"PUBLISH", b"foo", b"bar")],
    "eval": [(b"EVAL", b"return 1", b"0"), (b"EVAL", b"#!lua\nreturn 1", b"0")],
    "three-sets": [(b"SET", b"A", b"1"), (b"INCR", b"A"), (b"DEL", b"x")],
    "set-syntax-error": [(b"SET", b"k", b"v", b"NX", b"XX")],
    "flushall": [(b"FLUSHALL",)],
}


@pytest.mark.parametrize("name", WAITING)
@pytest.mark.parametrize("protocol", [2, 3])
def test_writes_wait_for_unpause(valkdb_server, redis_server, protocol, name):
    compare(_writes_wait(WAITING[name]), valkdb_server, redis_server, protocol)


def _not_paused(port: int, protocol: int) -> list:
    adm, c = Peer(port), Peer(port, protocol)
    adm.call(b"SET", b"x", b"y")
    adm.call(b"FUNCTION", b"LOAD", b"REPLACE",
             b"#!lua name=pauselib\nredis.register_function{function_name='pause_ro',"
             b" callback=function() return 'hello' end, flags={'no-writes'}}\n"
             b"redis.register_function('pause_rw', function() return 'rw' end)")
    sha = adm.call(b"SCRIPT", b"LOAD", b"#!lua flags=no-writes\nreturn 2")
    sha = sha[sha.index(b"\r\n") + 2:-2]
    try:
        with unpaused_after(port):
            out = [adm.call(b"CLIENT", b"PAUSE", b"100000", b"WRITE")]
            out.append(c.call(b"EVAL", b"#!lua flags=no-writes\nreturn 'unique'", b"0"))
            out.append(c.call(b"EVAL_RO", b"return redis.call('GET', KEYS[1])", b"1", b"x"))
            out.append(c.call(b"EVALSHA", sha, b"0"))
            out.append(c.call(b"FCALL", b"pause_ro", b"0"))
            out.append(c.call(b"FCALL_RO", b"pause_ro", b"0"))
            out.append(c.call(b"EVAL_RO", b"return redis.call('publish','ch','m')", b"0")[:60])
            out.append(c.call(b"MULTI"))
            out.append(c.call(b"PING"))
            out.append(c.call(b"GET", b"x"))
            out.append(c.call(b"EVAL", b"#!lua flags=no-writes\nreturn 12", b"0"))
            out.append(c.call(b"EXEC"))
            out.append(c.call(b"SET", b"k"))  # an arity error answers at once
            out.append(c.call(b"NOSUCHCOMMAND"))
            out.append(blocked(adm, 0))
            # a write function waits
            c.send((b"FCALL", b"pause_rw", b"0"))
            out.append(c.quiet())
            out.append(blocked(adm, 1))
            out.append(adm.call(b"CLIENT", b"UNPAUSE"))
            out.append(c.reply())
    finally:
        adm.call(b"FUNCTION", b"DELETE", b"pauselib")
    return out


@pytest.mark.parametrize("protocol", [2, 3])
def test_read_only_scripts_and_transactions_not_paused(valkdb_server, redis_server, protocol):
    compare(_not_paused, valkdb_server, redis_server, protocol)


def _exec_of_a_write(port: int, protocol: int) -> list:
    adm, c, d = Peer(port), Peer(port, protocol), Peer(port, protocol)
    with unpaused_after(port):
        out = [c.call(b"MULTI"), c.call(b"SET", b"FOO", b"BAR"),
               d.call(b"MULTI"), d.call(b"EVAL", b"#!lua\nreturn 12", b"0")]
        out.append(adm.call(b"CLIENT", b"PAUSE", b"60000", b"WRITE"))
        c.send((b"EXEC",))
        d.send((b"EXEC",))
        out += [c.quiet(), d.quiet(), blocked(adm, 2)]
        out.append(adm.call(b"CLIENT", b"UNPAUSE"))
        out += [c.reply(), d.reply(), adm.call(b"GET", b"FOO")]
    return out


@pytest.mark.parametrize("protocol", [2, 3])
def test_exec_of_queued_writes_waits(valkdb_server, redis_server, protocol):
    compare(_exec_of_a_write, valkdb_server, redis_server, protocol)


def _queueing_a_write_during_pause(port: int, protocol: int) -> list:
    """Redis checks the pause before queueing: a write sent inside MULTI waits to be queued."""
    adm, c = Peer(port), Peer(port, protocol)
    with unpaused_after(port):
        out = [adm.call(b"CLIENT", b"PAUSE", b"60000", b"WRITE")]
        out.append(c.call(b"MULTI"))
        out.append(c.call(b"GET", b"k"))
        c.send((b"SET", b"k", b"v"), (b"PING", b"after"))
        out += [c.quiet(), blocked(adm, 1)]
        out.append(adm.call(b"CLIENT", b"UNPAUSE"))
        out.append(c.until(b"+QUEUED\r\n+QUEUED\r\n"))
        out.append(c.call(b"EXEC"))
    return out


@pytest.mark.parametrize("protocol", [2, 3])
def test_write_queued_in_multi_waits(valkdb_server, redis_server, protocol):
    compare(_queueing_a_write_during_pause, valkdb_server, redis_server, protocol)


def _pause_inside_multi(port: int, protocol: int) -> list:
    adm, c, d = Peer(port), Peer(port, protocol), Peer(port, protocol)
    with unpaused_after(port):
        out = [adm.call(b"MULTI"), adm.call(b"SET", b"FOO1", b"BAR"),
               adm.call(b"CLIENT", b"PAUSE", b"60000", b"WRITE"),
               adm.call(b"SET", b"FOO2", b"BAR"), adm.call(b"EXEC")]
        d.send((b"SET", b"FOO3", b"BAR"))
        out += [d.quiet(), blocked(adm, 1)]
        out += [c.call(b"GET", b"FOO1"), c.call(b"GET", b"FOO2"), c.call(b"GET", b"FOO3")]
        out.append(adm.call(b"CLIENT", b"UNPAUSE"))
        out += [d.reply(), c.call(b"GET", b"FOO3")]
    return out


@pytest.mark.parametrize("protocol", [2, 3])
def test_pause_starts_after_exec(valkdb_server, redis_server, protocol):
    compare(_pause_inside_multi, valkdb_server, redis_server, protocol)


def _pipeline_behind_a_paused_write(port: int, protocol: int) -> list:
    """The commands after a postponed one wait with it; the replies before it go out."""
    adm, c = Peer(port), Peer(port, protocol)
    with unpaused_after(port):
        out = [adm.call(b"CLIENT", b"PAUSE", b"60000", b"WRITE")]
        c.send((b"PING", b"a"), (b"SET", b"k", b"v"), (b"PING", b"b"), (b"GET", b"k"))
        out.append(c.until(b"$1\r\na\r\n"))
        out.append(c.quiet())
        out.append(adm.call(b"CLIENT", b"UNPAUSE"))
        out.append(c.until(b"$1\r\nv\r\n"))
        out.append(c.quiet(0.05))
    return out


@pytest.mark.parametrize("protocol", [2, 3])
def test_pipeline_waits_behind_paused_write(valkdb_server, redis_server, protocol):
    compare(_pipeline_behind_a_paused_write, valkdb_server, redis_server, protocol)


def _expiry_during_pause(port: int, protocol: int) -> list:
    adm, c = Peer(port), Peer(port, protocol)
    adm.call(b"DEBUG", b"SET-ACTIVE-EXPIRE", b"1")
    before = info_field(adm, b"stats", b"expired_keys")
    with unpaused_after(port):
        out = [adm.call(b"MULTI"), adm.call(b"SET", b"foo", b"bar", b"PX", b"10"),
               adm.call(b"SET", b"bar", b"foo", b"PX", b"10"),
               adm.call(b"CLIENT", b"PAUSE", b"50000", b"WRITE"), adm.call(b"EXEC")]
        time.sleep(0.3)  # past the deadline, and past a few active expire cycles
        out += [c.call(b"GET", b"foo"), c.call(b"EXISTS", b"foo", b"bar"),
                c.call(b"TTL", b"bar"), c.call(b"DBSIZE")]
        out.append(info_field(adm, b"stats", b"expired_keys") - before)
        out.append(adm.call(b"CLIENT", b"UNPAUSE"))
    out += [c.call(b"GET", b"foo"), c.call(b"GET", b"bar")]
    out.append(info_field(adm, b"stats", b"expired_keys") - before)
    out.append(c.call(b"DBSIZE"))
    return out


@pytest.mark.parametrize("protocol", [2, 3])
def test_keys_not_expired_during_pause(valkdb_server, redis_server, protocol):
    compare(_expiry_during_pause, valkdb_server, redis_server, protocol)


def _zero_and_short_timeouts(port: int, protocol: int) -> list:
    adm, c = Peer(port), Peer(port, protocol)
    with unpaused_after(port):
        out = [adm.call(b"CLIENT", b"PAUSE", b"0", b"WRITE"), c.call(b"SET", b"a", b"1")]
        out.append(adm.call(b"CLIENT", b"PAUSE", b"0"))
        out.append(c.call(b"GET", b"a"))
        out.append(adm.call(b"CLIENT", b"PAUSE", b"400", b"WRITE"))
        c.send((b"SET", b"a", b"2"))
        out.append(c.quiet())
        out.append(c.reply(timeout=3))  # the pause runs out by itself
        out.append(c.call(b"GET", b"a"))
    return out


def test_zero_and_short_timeouts(valkdb_server, redis_server):
    compare(_zero_and_short_timeouts, valkdb_server, redis_server)


# -- CLIENT PAUSE ALL -----------------------------------------------------------------------

def _pause_all(port: int, protocol: int) -> list:
    adm, c = Peer(port), Peer(port, protocol)
    with unpaused_after(port):
        out = [adm.call(b"CLIENT", b"PAUSE", b"600", b"ALL")]
        c.send((b"PING",), (b"GET", b"k"))
        adm.send((b"CLIENT", b"UNPAUSE"))  # waits too, even the pausing client's own
        out += [c.quiet(), adm.quiet()]
        out.append(c.until(b"+PONG\r\n", timeout=3))
        out += [c.reply(), adm.reply(timeout=3)]
    return out


@pytest.mark.parametrize("protocol", [2, 3])
def test_pause_all_holds_every_command(valkdb_server, redis_server, protocol):
    compare(_pause_all, valkdb_server, redis_server, protocol)


def _pause_all_errors_at_once(port: int, protocol: int) -> list:
    adm, c = Peer(port), Peer(port, protocol)
    with unpaused_after(port):
        out = [adm.call(b"CLIENT", b"PAUSE", b"500", b"ALL")]
        out += [c.call(b"GET"), c.call(b"NOSUCHCOMMAND", b"x")]
        c.send((b"GET", b"k"))
        out.append(c.quiet())
        out.append(c.reply(timeout=3))
    return out


def test_pause_all_arity_errors_answer_at_once(valkdb_server, redis_server):
    compare(_pause_all_errors_at_once, valkdb_server, redis_server)


def _more_restrictive_and_later_wins(port: int, protocol: int) -> list:
    adm, c, d = Peer(port), Peer(port), Peer(port)
    with unpaused_after(port):
        out = [adm.call(b"CLIENT", b"PAUSE", b"900", b"WRITE"),
               adm.call(b"CLIENT", b"PAUSE", b"100", b"ALL")]
        started = time.monotonic()
        c.send((b"GET", b"k"))
        out.append(c.quiet(0.4))  # still ALL past 100 ms: the later end stays
        out.append(c.reply(timeout=3))
        out.append(time.monotonic() - started > 0.6)
        out.append(adm.call(b"CLIENT", b"PAUSE", b"600", b"WRITE"))
        out.append(adm.call(b"CLIENT", b"PAUSE", b"50", b"WRITE"))
        d.send((b"SET", b"k", b"v"))
        out.append(d.quiet(0.3))  # the earlier end does not shorten the pause
        out.append(c.call(b"GET", b"k"))  # reads go through: WRITE only
        out.append(d.reply(timeout=3))
    return out


def test_later_and_more_restrictive_pause_wins(valkdb_server, redis_server):
    compare(_more_restrictive_and_later_wins, valkdb_server, redis_server)


# -- CLIENT REPLY -----------------------------------------------------------------------------

END = (b"PING", b"end")
END_REPLY = b"$3\r\nend\r\n"

PIPELINES = {
    "off-on": [(b"CLIENT", b"REPLY", b"OFF"), (b"PING",), (b"SET", b"k", b"v"), (b"GET", b"k"),
               (b"CLIENT", b"REPLY", b"ON")],
    "off-errors": [(b"CLIENT", b"REPLY", b"off"), (b"NOSUCH",), (b"GET",),
                   (b"CLIENT", b"REPLY", b"maybe"), (b"CLIENT", b"REPLY", b"OFF"),
                   (b"INCR", b"k"), (b"CLIENT", b"REPLY", b"on")],
    "skip": [(b"CLIENT", b"REPLY", b"SKIP"), (b"PING", b"a"), (b"PING", b"b")],
    "skip-skip": [(b"CLIENT", b"REPLY", b"SKIP"), (b"CLIENT", b"REPLY", b"SKIP"),
                  (b"PING", b"a"), (b"PING", b"b")],
    "skip-error": [(b"CLIENT", b"REPLY", b"SKIP"), (b"GET",), (b"PING", b"b")],
    "skip-bad-mode": [(b"CLIENT", b"REPLY", b"SKIP"), (b"CLIENT", b"REPLY", b"nope"),
                      (b"CLIENT", b"REPLY", b"nope")],
    "skip-on": [(b"CLIENT", b"REPLY", b"SKIP"), (b"CLIENT", b"REPLY", b"ON"), (b"PING",)],
    "skip-off": [(b"CLIENT", b"REPLY", b"SKIP"), (b"CLIENT", b"REPLY", b"OFF"), (b"PING",),
                 (b"CLIENT", b"REPLY", b"ON")],
    "skip-while-off": [(b"CLIENT", b"REPLY", b"OFF"), (b"CLIENT", b"REPLY", b"SKIP"),
                       (b"PING", b"a"), (b"PING", b"b"), (b"CLIENT", b"REPLY", b"ON"),
                       (b"PING", b"c")],
    "skip-multi": [(b"CLIENT", b"REPLY", b"SKIP"), (b"MULTI",), (b"PING",), (b"INCR", b"n"),
                   (b"EXEC",)],
    "skip-hello": [(b"CLIENT", b"REPLY", b"SKIP"), (b"HELLO", b"3"), (b"HGETALL", b"nohash"),
                   (b"HELLO", b"2"), (b"CLIENT", b"REPLY", b"skip"), (b"HELLO",)],
}


def _pipeline(commands: list[tuple[bytes, ...]]) -> Scenario:
    def scenario(port: int, protocol: int) -> list:
        c = Peer(port, protocol)
        c.send(*commands, END)
        # (HELLO's reply names the connection's id, which differs)
        return [re.sub(rb"\$2\r\nid\r\n:\d+\r\n", b"<id>", c.until(END_REPLY)),
                c.quiet(0.05)]
    return scenario


@pytest.mark.parametrize("name", PIPELINES)
@pytest.mark.parametrize("protocol", [2, 3])
def test_reply_modes_pipelined(valkdb_server, redis_server, protocol, name):
    compare(_pipeline(PIPELINES[name]), valkdb_server, redis_server, protocol)


@pytest.mark.parametrize("name", ["off-on", "skip", "skip-while-off", "skip-multi"])
def test_reply_modes_one_by_one(valkdb_server, redis_server, name):
    def scenario(port: int, protocol: int) -> list:
        c = Peer(port, protocol)
        out = []
        for command in PIPELINES[name]:
            c.send(command)
            out.append(c.quiet(0.05))
        c.send(END)
        return [*out, c.until(END_REPLY)]
    compare(scenario, valkdb_server, redis_server, 3)


def _pubsub_with_replies_off(port: int, protocol: int) -> list:
    pub, c = Peer(port), Peer(port, protocol)
    c.send((b"CLIENT", b"REPLY", b"OFF"), (b"SUBSCRIBE", b"ch"), (b"PSUBSCRIBE", b"c*"))
    out = [c.quiet()]
    out.append(pub.call(b"PUBLISH", b"ch", b"hello"))
    out.append(c.quiet())
    c.send((b"PING",), (b"UNSUBSCRIBE", b"ch"), (b"PUNSUBSCRIBE",), (b"CLIENT", b"REPLY", b"ON"))
    out.append(c.until(b"+OK\r\n"))
    out.append(c.call(b"PING", b"x"))
    return out


@pytest.mark.parametrize("protocol", [2, 3])
def test_pubsub_pushes_with_replies_off(valkdb_server, redis_server, protocol):
    compare(_pubsub_with_replies_off, valkdb_server, redis_server, protocol)


def _tracking_with_replies_off(port: int, protocol: int) -> list:
    other, c = Peer(port), Peer(port, 3)
    out = [c.call(b"CLIENT", b"TRACKING", b"ON"), c.call(b"GET", b"k")]
    c.send((b"CLIENT", b"REPLY", b"OFF"), (b"GET", b"k"))
    out.append(other.call(b"SET", b"k", b"v"))
    out.append(c.quiet())
    c.send((b"CLIENT", b"REPLY", b"ON"))
    out.append(c.until(b"+OK\r\n"))
    return out


def test_tracking_invalidation_with_replies_off(valkdb_server, redis_server):
    compare(_tracking_with_replies_off, valkdb_server, redis_server)


def _blocked_with_skip(port: int, protocol: int) -> list:
    other, c = Peer(port), Peer(port, protocol)
    c.send((b"CLIENT", b"REPLY", b"SKIP"), (b"BLPOP", b"l", b"0"))
    out = [c.quiet(0.1), other.call(b"RPUSH", b"l", b"a")]
    out.append(c.quiet(0.1))
    c.send((b"CLIENT", b"REPLY", b"OFF"), (b"BLPOP", b"l", b"0"))
    out += [c.quiet(0.1), other.call(b"RPUSH", b"l", b"b"), c.quiet(0.1)]
    c.send((b"CLIENT", b"REPLY", b"ON"), (b"LLEN", b"l"))
    out.append(c.until(b":0\r\n"))
    return out


@pytest.mark.parametrize("protocol", [2, 3])
def test_blocked_command_reply_suppressed(valkdb_server, redis_server, protocol):
    compare(_blocked_with_skip, valkdb_server, redis_server, protocol)


def _skip_then_paused_write(port: int, protocol: int) -> list:
    adm, c = Peer(port), Peer(port, protocol)
    with unpaused_after(port):
        out = [adm.call(b"CLIENT", b"PAUSE", b"60000", b"WRITE")]
        c.send((b"CLIENT", b"REPLY", b"SKIP"), (b"SET", b"k", b"v"), (b"INCR", b"n"), END)
        out.append(c.quiet())
        out.append(adm.call(b"CLIENT", b"UNPAUSE"))
        out.append(c.until(END_REPLY))
    return out


@pytest.mark.parametrize("protocol", [2, 3])
def test_skip_across_a_paused_write(valkdb_server, redis_server, protocol):
    compare(_skip_then_paused_write, valkdb_server, redis_server, protocol)


def _quit_with_replies_off(port: int, protocol: int) -> list:
    """Redis 7.0 queues no +OK under OFF, so its close-after-reply never comes: the connection
    stays open, reading nothing more."""
    c = Peer(port, protocol)
    c.send((b"CLIENT", b"REPLY", b"OFF"), (b"PING",), (b"QUIT",))
    return [c.quiet(0.3)]


@pytest.mark.xfail(reason="Redis 7.0 never queues QUIT's +OK under CLIENT REPLY OFF, so its "
                   "close-after-reply never fires and the connection stays open, ignoring input; "
                   "valkdb closes it", strict=True)
@pytest.mark.parametrize("protocol", [2, 3])
def test_quit_with_replies_off(valkdb_server, redis_server, protocol):
    compare(_quit_with_replies_off, valkdb_server, redis_server, protocol)
