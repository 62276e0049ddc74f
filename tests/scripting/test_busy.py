"""Long-running scripts, valkdb vs a real redis-server 7.0: the BUSY state, SCRIPT KILL, the
UNKILLABLE state and SHUTDOWN NOSAVE, reply bytes compared.

Both servers run with busy-reply-threshold (alias lua-time-limit) at 200 ms. A script is started
on both at once from client A (its reply not read yet); client B then talks to both servers and
every reply must be the same bytes (HELLO's client id aside). Each test ends its scripts, and a
server that cannot be brought back (still busy) is replaced before the next test. The scenarios
that leave a server unkillable use their own servers, ended with SHUTDOWN NOSAVE (and stopped in
a finally in any case).

What Redis does, pinned here (redis-server 7.0.15):

* during a script past the threshold, everything but a few commands (AUTH, HELLO, MULTI,
  DISCARD, WATCH, UNWATCH, QUIT, RESET, SCRIPT KILL, FUNCTION KILL/STATS, SHUTDOWN ...) gets
  ``-BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.``;
  unknown commands and wrong arities are still refused first; FUNCTION KILL and FUNCTION STATS
  answer that same BUSY error for an EVAL script; SHUTDOWN without NOSAVE answers BUSY too.
* a command queued in MULTI during the busy state gets BUSY and dooms the transaction: EXEC
  answers ``-EXECABORT Transaction discarded because of: BUSY Redis is busy ...``.
* SCRIPT KILL answers +OK and the script's caller gets ``-ERR Script killed by user with SCRIPT
  KILL... script: <sha>, on @user_script:<line>.``; a pcall around the loop catches the kill
  if the script ends without starting another line (Redis raises the kill from a line hook).
* a script that ran any write command, even one that changed nothing (DEL of a missing key) or
  failed inside redis.pcall (WRONGTYPE), is UNKILLABLE: ``-UNKILLABLE Sorry the script already
  executed write commands against the dataset. You can either wait the script termination or
  kill the server in a hard way using the SHUTDOWN NOSAVE command.``; only SHUTDOWN NOSAVE ends
  it, closing every connection without a reply.

VALKDB_SCRIPT_TESTS_SELF=1 puts a second redis-server in valkdb's place, to validate the tests.
"""

from __future__ import annotations

import os
import re
import time
from contextlib import contextmanager

import pytest

from tests.compat.resp import RawConnection, encode_command, read_reply
from tests.support import ServerProcess, redis_server_binary, start_redis, start_valkdb

pytestmark = [pytest.mark.skipif(redis_server_binary() is None, reason="needs redis-server"),
              pytest.mark.timeout(60)]

SELF = os.environ.get("VALKDB_SCRIPT_TESTS_SELF") == "1"
THRESHOLD = b"200"
READ_TIMEOUT = 5.0
LOOP = "while true do end"
BUSY = (b"-BUSY Redis is busy running a script. "
        b"You can only call SCRIPT KILL or SHUTDOWN NOSAVE.\r\n")
UNKILLABLE = (b"-UNKILLABLE Sorry the script already executed write commands against the dataset."
              b" You can either wait the script termination or kill the server in a hard way "
              b"using the SHUTDOWN NOSAVE command.\r\n")
KILLED = b"-ERR Script killed by user with SCRIPT KILL... script: "
NAMES = ("valkdb", "redis")


def _b(arg: object) -> bytes:
    return arg if isinstance(arg, bytes) else str(arg).encode()


def _normalise(reply: bytes) -> bytes:
    """HELLO's reply names the connection's id, which differs between servers."""
    return re.sub(rb"(\$2\r\nid\r\n):\d+\r\n", rb"\1:<id>\r\n", reply)


def _start_subject(*args: str) -> ServerProcess:
    return start_redis(*args) if SELF else start_valkdb(*args)


def _configure(server: ServerProcess, name: bytes = b"busy-reply-threshold") -> bytes:
    conn = RawConnection(server.port, timeout=READ_TIMEOUT)
    try:
        return conn.call(b"CONFIG", b"SET", name, THRESHOLD)
    finally:
        conn.close()


class Servers:
    """The server under test and redis-server, replaced when one is left unusable."""

    def __init__(self) -> None:
        self.pair: list[ServerProcess] = []
        self.start()

    def start(self) -> None:
        self.pair = [_start_subject()]
        try:
            self.pair.append(start_redis())
        except Exception:
            self.stop()
            raise
        replies = [_configure(server) for server in self.pair]
        assert replies[1] == b"+OK\r\n", replies[1]

    def stop(self) -> None:
        for server in self.pair:
            server.stop()
        self.pair = []

    def usable(self) -> bool:
        for server in self.pair:
            if server.proc.poll() is not None:
                return False
            try:
                conn = RawConnection(server.port, timeout=2)
            except OSError:
                return False
            try:
                for _ in range(20):
                    if conn.call(b"PING") == b"+PONG\r\n":
                        break
                    conn.call(b"SCRIPT", b"KILL")
                    time.sleep(0.1)
                else:
                    return False
            except OSError:
                return False
            finally:
                conn.close()
        return True

    def ensure(self) -> None:
        if not self.usable():
            self.stop()
            self.start()


@pytest.fixture(scope="module")
def servers():
    holder = Servers()
    yield holder
    holder.stop()


class Busy:
    """Client A (running the script) and client B on each of the two servers."""

    def __init__(self, ports: list[int], protocol: int) -> None:
        self.protocol = protocol
        self.steps: list[str] = []
        self.a = [RawConnection(port, timeout=READ_TIMEOUT) for port in ports]
        self.b = [RawConnection(port, timeout=READ_TIMEOUT) for port in ports]
        for conn in self.a + self.b:
            conn.call(b"HELLO", b"%d" % protocol)

    def close(self) -> None:
        for conn in self.a + self.b:
            try:
                conn.close()
            except OSError:
                pass

    def _explain(self, replies: list[bytes]) -> str:
        steps = "\n".join("  " + step for step in self.steps)
        return "after:\n" + steps + "".join(
            f"\n{name}: {reply!r}" for name, reply in zip(NAMES, replies, strict=True))

    def _compare(self, replies: list[bytes], expect: bytes | None) -> bytes:
        ours, theirs = (_normalise(reply) for reply in replies)
        if expect is not None and expect not in theirs:
            raise AssertionError(f"the test is wrong: redis-server answered {theirs!r}, "
                                 f"not containing {expect!r}\n{self._explain(replies)}")
        if ours != theirs:
            raise AssertionError(self._explain(replies))
        return theirs

    def run_a(self, *args: object) -> bytes:
        """A command on A, replies compared (before the script starts)."""
        command = [_b(a) for a in args]
        self.steps.append("A: " + b" ".join(command).decode("latin-1"))
        return self._compare([conn.call(*command) for conn in self.a], None)

    def start(self, *args: object, extra: bytes = b"", wait_busy: bool = True) -> None:
        """Send a (long) command on A without reading its reply; with `wait_busy`, wait until
        each server answers BUSY to another connection (at most a few seconds: a server that
        answers something else is left to the comparisons that follow)."""
        command = [_b(a) for a in args]
        self.steps.append("A (not read yet): " + b" ".join(command).decode("latin-1")[:200])
        for conn in self.a:
            conn.sock.sendall(encode_command(command) + extra)
        if not wait_busy:
            time.sleep(0.02)
            return
        for conn in self.a:
            _wait_until_busy(conn.sock.getpeername()[1])

    def b_call(self, *args: object, expect: bytes | None = None) -> bytes:
        command = [_b(a) for a in args]
        self.steps.append("B: " + b" ".join(command).decode("latin-1"))
        replies = []
        for conn in self.b:
            try:
                replies.append(conn.call(*command))
            except TimeoutError:
                replies.append(b"<no reply in %ds>" % READ_TIMEOUT)
            except (ConnectionError, BrokenPipeError):
                replies.append(b"<connection closed>")
        return self._compare(replies, expect)

    def a_reply(self, expect: bytes | None = None) -> bytes:
        """The reply of the command started on A (after the script ended or was killed)."""
        self.steps.append("A: <its reply>")
        replies = []
        for conn in self.a:
            try:
                replies.append(read_reply(conn.stream))
            except TimeoutError:
                replies.append(b"<no reply in %ds>" % READ_TIMEOUT)
            except ConnectionError:
                replies.append(b"<connection closed>")
        return self._compare(replies, expect)


def _wait_until_busy(port: int, timeout: float = 3.0) -> None:
    probe = RawConnection(port, timeout=READ_TIMEOUT)
    try:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if probe.call(b"PING") != b"+PONG\r\n":
                return  # BUSY (or anything else: the test's own steps will tell)
            time.sleep(0.02)
    except OSError:
        pass
    finally:
        probe.close()


@contextmanager
def busy_clients(servers: Servers, protocol: int):
    servers.ensure()
    clients = Busy([server.port for server in servers.pair], protocol)
    try:
        yield clients
    finally:
        clients.close()


# --- the BUSY state --------------------------------------------------------------------------

# (command, what redis-server answers it starts with) while a read-only script is busy
WHILE_BUSY = [
    (("PING",), BUSY),
    (("GET", "x"), BUSY),
    (("SET", "x", "y"), BUSY),
    (("INCR", "x"), BUSY),
    (("EVAL", "return 1", "0"), BUSY),
    (("EVALSHA", "ffffffffffffffffffffffffffffffffffffffff", "0"), BUSY),
    (("SCRIPT", "LOAD", "return 1"), BUSY),
    (("SCRIPT", "EXISTS", "abc"), BUSY),
    (("SCRIPT", "FLUSH"), BUSY),
    (("SCRIPT", "HELP"), BUSY),
    (("SCRIPT", "FOO"), b"-ERR unknown subcommand 'FOO'. Try SCRIPT HELP."),
    (("NOSUCHCOMMAND", "a"), b"-ERR unknown command 'NOSUCHCOMMAND', with args beginning with"),
    (("GET",), b"-ERR wrong number of arguments for 'get' command"),
    (("INFO", "keyspace"), BUSY),
    (("CONFIG", "GET", "maxmemory"), BUSY),
    (("CLIENT", "ID"), BUSY),
    (("SELECT", "1"), BUSY),
    (("PUBLISH", "ch", "m"), BUSY),
    (("SUBSCRIBE", "ch"), BUSY),
    (("ECHO", "x"), BUSY),
    (("DBSIZE",), BUSY),
    (("FLUSHALL",), BUSY),
    (("HELLO",), b"server"),
    (("AUTH", "x"), b"-ERR AUTH <password> called without any password configured"),
    (("WATCH", "x"), b"+OK"),
    (("UNWATCH",), b"+OK"),
    (("MULTI",), b"+OK"),
    (("GET", "x"), BUSY),
    (("EXEC",), b"-EXECABORT Transaction discarded because of: BUSY Redis is busy running a"),
    (("DISCARD",), b"-ERR DISCARD without MULTI"),
    (("MULTI",), b"+OK"),
    (("DISCARD",), b"+OK"),
    (("SHUTDOWN", "ABORT"), b"-ERR No shutdown in progress."),
    (("PING",), BUSY),
]


@pytest.mark.parametrize("protocol", [2, 3], ids=["resp2", "resp3"])
def test_busy_replies_then_script_kill(servers, protocol):
    with busy_clients(servers, protocol) as c:
        c.run_a("SET", "x", "before")
        c.start("EVAL", LOOP, "0")
        for command, expect in WHILE_BUSY:
            c.b_call(*command, expect=expect)
        c.b_call("SCRIPT", "KILL", expect=b"+OK\r\n")
        c.a_reply(expect=KILLED)
        c.b_call("SCRIPT", "KILL", expect=b"-NOTBUSY No scripts in execution right now.\r\n")
        c.b_call("PING", expect=b"PONG")
        c.b_call("GET", "x", expect=b"before")
        c.run_a("PING")


def test_function_kill_while_an_eval_is_busy(servers):
    """FUNCTION KILL may not kill an EVAL script: it answers the BUSY error (for EVAL scripts
    that is the same text), as does FUNCTION STATS; SCRIPT KILL then does."""
    with busy_clients(servers, 2) as c:
        if c.b[0].call(b"COMMAND", b"INFO", b"function")[4:] in (b"$-1\r\n", b"_\r\n"):
            pytest.skip("the server under test has no FUNCTION command yet")
        c.start("EVAL", LOOP, "0")
        c.b_call("FUNCTION", "KILL", expect=BUSY)
        c.b_call("FUNCTION", "STATS", expect=BUSY)
        c.b_call("FUNCTION", "KILL", expect=BUSY)
        c.b_call("SCRIPT", "KILL", expect=b"+OK\r\n")
        c.a_reply(expect=KILLED)
        c.b_call("FUNCTION", "KILL", expect=b"-NOTBUSY No scripts in execution right now.\r\n")


@pytest.mark.parametrize("command", [("QUIT",), ("RESET",), ("HELLO", "3"), ("HELLO", "2")])
def test_connection_commands_while_busy(servers, command):
    """QUIT closes, RESET resets, HELLO switches protocol, all during the busy state."""
    with busy_clients(servers, 2) as c:
        c.start("EVAL", LOOP, "0")
        c.b_call("PING", expect=BUSY)
        c.b_call(*command)
        if command[0] == "QUIT":
            for conn, name in zip(c.b, NAMES, strict=True):
                conn.sock.settimeout(READ_TIMEOUT)
                assert conn.stream.read(1) == b"", f"{name} kept the connection after QUIT"
            c.b = [RawConnection(conn.sock.getpeername()[1], timeout=READ_TIMEOUT)
                   for conn in c.a]
        else:
            c.b_call("GET", "x", expect=BUSY)
        c.b_call("SCRIPT", "KILL", expect=b"+OK\r\n")
        c.a_reply(expect=KILLED)
        c.b_call("GET", "x")


def test_a_script_shorter_than_the_threshold_is_not_busy(servers):
    """A script running ~50 ms (under the 200 ms threshold): the other client waits, then gets
    its normal reply."""
    script = ("local s = redis.call('time') local t0 = s[1] * 1000000 + s[2] "
              "while true do local n = redis.call('time') "
              "if n[1] * 1000000 + n[2] - t0 > 50000 then return 'done' end end")
    with busy_clients(servers, 2) as c:
        c.start("EVAL", script, "0", wait_busy=False)
        c.b_call("PING", expect=b"+PONG\r\n")
        c.a_reply(expect=b"done")


def test_busy_for_other_clients_and_pipelined_commands(servers):
    """The script's own connection had more commands queued behind the EVAL: they run after the
    kill, in order. A third client's EVAL gets BUSY."""
    with busy_clients(servers, 2) as c:
        c.run_a("DEL", "x")
        c.start("EVAL", LOOP, "0", extra=encode_command([b"PING"]) +
                encode_command([b"GET", b"x"]))
        c.b_call("EVAL", "return 1", "0", expect=BUSY)
        c.b_call("EVAL_RO", "return 1", "0", expect=BUSY)
        c.b_call("SCRIPT", "KILL", expect=b"+OK\r\n")
        c.a_reply(expect=KILLED)
        c.a_reply(expect=b"+PONG\r\n")
        c.a_reply(expect=b"$-1\r\n")


# --- SCRIPT KILL -----------------------------------------------------------------------------

KILLABLE = [
    pytest.param(("EVAL", LOOP, "0"), KILLED + b"694a5fe1ddb97a4c6a1bf299d9537c7d3d0f84e7",
                 id="eval"),
    pytest.param(("EVAL_RO", LOOP, "0"), KILLED, id="eval_ro"),
    pytest.param(("EVAL", "\n\nwhile true do end", "0"), b", on @user_script:3.", id="line3"),
    pytest.param(("EVAL", "local n = 0 while true do n = n + 1 end", "0"), KILLED,
                 id="counting"),
    pytest.param(("EVAL", "while true do redis.call('get', KEYS[1]) end", "1", "x"), KILLED,
                 id="reading"),
    pytest.param(("EVAL", "redis.call('publish', 'c', 'm') while true do end", "0"), KILLED,
                 id="publish-is-no-write"),
    pytest.param(("EVAL", "redis.pcall('nosuch') redis.pcall('set') while true do end", "0"),
                 KILLED, id="refused-write"),
    pytest.param(("EVAL_RO", "redis.pcall('set', 'k', 'v') while true do end", "0"), KILLED,
                 id="eval_ro-write-refused"),
    pytest.param(("EVAL", "#!lua flags=no-writes\nredis.pcall('set', 'k', 'v') "
                  "while true do end", "0"), b"on @user_script:2.", id="no-writes-refused"),
    pytest.param(("EVAL", "while true do pcall(function() while true do end end) end", "0"),
                 KILLED, id="pcall-in-a-loop"),
    pytest.param(("EVAL", "local ok, e = pcall(function() while true do end end)\n"
                  "return {'caught', e}", "0"), b"on @user_script:2.", id="pcall-then-a-line"),
    pytest.param(("EVAL", "local ok, e = pcall(function() while true do end end) "
                  "return {'caught', e}", "0"),
                 b"*2\r\n$6\r\ncaught\r\n$45\r\nERR Script killed by user with SCRIPT KILL...",
                 id="pcall-same-line"),
    pytest.param(("EVAL", "local t = {} local i = 0 while true do i = i + 1 t[i % 100] = i end",
                  "0"), KILLED, id="allocating"),
]


@pytest.mark.parametrize(("command", "expect"), KILLABLE)
def test_script_kill(servers, command, expect):
    with busy_clients(servers, 2) as c:
        c.start(*command)
        c.b_call("GET", "x", expect=BUSY)
        c.b_call("SCRIPT", "KILL", expect=b"+OK\r\n")
        c.a_reply(expect=expect)
        c.b_call("EXISTS", "k", expect=b":0\r\n")
        c.b_call("PING", expect=b"PONG")


def test_script_kill_by_evalsha(servers):
    with busy_clients(servers, 3) as c:
        sha = c.run_a("SCRIPT", "LOAD", LOOP)[5:-2]
        c.start("EVALSHA", sha, "0")
        c.b_call("PING", expect=BUSY)
        c.b_call("SCRIPT", "KILL", expect=b"+OK\r\n")
        c.a_reply(expect=KILLED + sha)


def test_script_kill_inside_exec(servers):
    with busy_clients(servers, 2) as c:
        c.run_a("MULTI")
        c.run_a("EVAL", LOOP, "0")
        c.run_a("SET", "after", "1")
        c.start("EXEC")
        c.b_call("PING", expect=BUSY)
        c.b_call("SCRIPT", "KILL", expect=b"+OK\r\n")
        c.a_reply(expect=b"*2\r\n" + KILLED)
        c.b_call("GET", "after", expect=b"1")
        c.b_call("DEL", "after")


def test_busy_threshold_config(servers):
    """Both names of the setting are one value; bad values are refused alike."""
    with busy_clients(servers, 2) as c:
        c.b_call("CONFIG", "SET", "lua-time-limit", "300", expect=b"+OK")
        c.b_call("CONFIG", "GET", "busy-reply-threshold", expect=b"300")
        c.b_call("CONFIG", "SET", "busy-reply-threshold", THRESHOLD, expect=b"+OK")
        c.b_call("CONFIG", "GET", "busy-reply-threshold", expect=b"200")
        c.b_call("CONFIG", "GET", "lua-time-limit", expect=b"200")
        c.b_call("CONFIG", "SET", "busy-reply-threshold", "x", expect=b"-ERR")
        c.b_call("CONFIG", "SET", "busy-reply-threshold", "-1", expect=b"-ERR")


# --- UNKILLABLE and SHUTDOWN NOSAVE (servers of their own) -----------------------------------

@contextmanager
def own_servers(protocol: int = 2):
    pair = [_start_subject()]
    try:
        pair.append(start_redis())
        replies = [_configure(server, b"lua-time-limit") for server in pair]
        assert replies[1] == b"+OK\r\n", replies
        clients = Busy([server.port for server in pair], protocol)
        try:
            yield pair, clients
        finally:
            clients.close()
    finally:
        for server in pair:
            server.stop(timeout=5)


def _shutdown_nosave(pair: list[ServerProcess], clients: Busy, *command: str) -> None:
    """SHUTDOWN NOSAVE ends the server: no reply, every connection closed, the process exits
    (with the same status)."""
    clients.b_call(*command, expect=b"<connection closed>")
    clients.a_reply(expect=b"<connection closed>")
    codes: list[object] = []
    for server in pair:
        try:
            codes.append(server.proc.wait(timeout=READ_TIMEOUT))
        except Exception:
            codes.append("still running")
    assert codes[0] == codes[1], f"exit status\nvalkdb: {codes[0]}\nredis:  {codes[1]}"


@pytest.mark.parametrize("shutdown", [("SHUTDOWN", "NOSAVE"), ("shutdown", "nosave", "now")])
@pytest.mark.parametrize("script", [
    pytest.param("redis.call('set', 'x', 'y') " + LOOP, id="set"),
    pytest.param("redis.call('del', 'nokey') " + LOOP, id="del-of-nothing"),
])
def test_unkillable_script_and_shutdown_nosave(script, shutdown):
    with own_servers() as (pair, c):
        c.start("EVAL", script, "0")
        c.b_call("PING", expect=BUSY)
        c.b_call("SCRIPT", "KILL", expect=UNKILLABLE)
        c.b_call("GET", "x", expect=BUSY)
        c.b_call("SHUTDOWN", expect=BUSY)
        c.b_call("SHUTDOWN", "SAVE", expect=BUSY)
        c.b_call("SHUTDOWN", "NOW", expect=BUSY)
        c.b_call("SHUTDOWN", "FORCE", expect=BUSY)
        c.b_call("SHUTDOWN", "ABORT", expect=b"-ERR No shutdown in progress.")
        c.b_call("SCRIPT", "KILL", expect=UNKILLABLE)
        _shutdown_nosave(pair, c, *shutdown)


def test_unkillable_after_a_failed_write_in_pcall():
    """redis.pcall of a write command that fails (WRONGTYPE) still makes the script
    unkillable: Redis marks the script dirty before the command runs."""
    with own_servers(3) as (pair, c):
        c.run_a("SET", "str", "v")
        c.start("EVAL", "redis.pcall('lpush', 'str', 'x') " + LOOP, "0")
        c.b_call("PING", expect=BUSY)
        c.b_call("SCRIPT", "KILL", expect=UNKILLABLE)
        _shutdown_nosave(pair, c, "SHUTDOWN", "NOSAVE")
