"""Process lifecycle through a real valkdb process: signals, SHUTDOWN, maxclients, timeout.

What a supervisor relies on: TERM/INT stop the server cleanly (status 0, a log line saying
why) without cutting off a reply being sent, a second INT stops it at once, HUP reloads the
config file, USR1 reopens the log; and what clients see at the limits (maxclients, timeout),
compared with a real redis-server where it has an answer.
"""

from __future__ import annotations

import os
import signal
import socket
import time

import pytest
import redis

from tests.support import free_port, redis_server_binary, start_redis, start_valkdb
from valkdb import errors

needs_redis = pytest.mark.skipif(redis_server_binary() is None, reason="no redis-server")


def _connect(port: int) -> socket.socket:
    return socket.create_connection(("127.0.0.1", port), timeout=5)


def _read_until_closed(sock: socket.socket, limit: float = 10.0) -> bytes:
    chunks, deadline = [], time.monotonic() + limit
    while time.monotonic() < deadline:
        try:
            data = sock.recv(1 << 20)
        except ConnectionResetError:
            break
        if not data:
            break
        chunks.append(data)
    return b"".join(chunks)


def _wait_exit(server, limit: float = 5.0) -> int:
    return server.proc.wait(limit)


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_signal_graceful_shutdown(signum, tmp_path):
    server = start_valkdb(cwd=str(tmp_path))
    idle = _connect(server.port)
    server.proc.send_signal(signum)
    assert _wait_exit(server) == 0
    assert _read_until_closed(idle) == b""
    assert f"Received {signal.Signals(signum).name} scheduling shutdown" in server.log()
    server.stop()


def _slow_reader(port: int, value_size: int, count: int) -> socket.socket:
    """A client whose pipelined GETs have replies far larger than the socket buffers, unread."""
    client = redis.Redis(port=port, socket_timeout=5)
    client.set("big", b"x" * value_size)
    client.close()
    sock = _connect(port)
    sock.sendall(b"GET big\r\n" * count + b"PING\r\n")
    time.sleep(0.3)  # the server is now blocked sending those replies
    return sock


def test_reply_in_flight_is_finished_before_exit(tmp_path):
    server = start_valkdb(cwd=str(tmp_path))
    value_size, count = 1 << 20, 20
    sock = _slow_reader(server.port, value_size, count)
    server.proc.send_signal(signal.SIGTERM)
    data = _read_until_closed(sock)
    reply = b"$%d\r\n%s\r\n" % (value_size, b"x" * value_size)
    assert data == reply * count + b"+PONG\r\n"
    assert _wait_exit(server) == 0
    server.stop()


def test_second_sigint_exits_at_once(tmp_path):
    server = start_valkdb("--shutdown-timeout", "30", cwd=str(tmp_path))
    sock = _slow_reader(server.port, 1 << 20, 20)  # never read: the shutdown waits for it
    server.proc.send_signal(signal.SIGINT)
    time.sleep(0.5)
    assert server.proc.poll() is None
    server.proc.send_signal(signal.SIGINT)
    assert _wait_exit(server, 3) == 1
    assert "You insist... exiting now." in server.log()
    sock.close()
    server.stop()


@pytest.mark.parametrize("flags", [[], ["NOSAVE"], ["NOW"], ["NOSAVE", "NOW", "FORCE"],
                                   ["SAVE", "FORCE"]])
def test_shutdown_command_exits(flags, tmp_path):
    server = start_valkdb(cwd=str(tmp_path))
    with _connect(server.port) as sock:
        sock.sendall(" ".join(["SHUTDOWN", *flags]).encode() + b"\r\n")
        assert _read_until_closed(sock) == b""  # success means no reply, as in Redis
    assert _wait_exit(server) == 0
    assert "User requested shutdown..." in server.log()
    server.stop()


@pytest.fixture(scope="module")
def pair():
    """A valkdb and a real redis-server (no persistence in either) for error comparisons."""
    ours, theirs = start_valkdb(), start_redis()
    yield ours, theirs
    ours.stop()
    theirs.stop()


def _reply(port: int, *args: str) -> bytes:
    with _connect(port) as sock:
        sock.sendall(" ".join(args).encode() + b"\r\n")
        return sock.recv(1024)


@needs_redis
@pytest.mark.parametrize("flags", [["ABORT"], ["ABORT", "ABORT"], ["ABORT", "NOW"],
                                   ["NOSAVE", "SAVE"], ["FOO"], ["NOW", "ABORT", "FORCE"]])
def test_shutdown_refusals_match_redis(pair, flags):
    ours, theirs = pair
    assert _reply(ours.port, "SHUTDOWN", *flags) == _reply(theirs.port, "SHUTDOWN", *flags)
    assert ours.proc.poll() is None


def test_shutdown_save_writes_the_snapshot(tmp_path):
    server = start_valkdb(cwd=str(tmp_path))
    try:
        assert _reply(server.port, "SET", "k", "v") == b"+OK\r\n"
        assert _reply(server.port, "SHUTDOWN", "SAVE") == b""  # closed without a reply
        assert server.proc.wait(5) == 0
        assert "DB saved on disk" in server.log()
        assert (tmp_path / "dump.rdb").read_bytes().startswith(b"REDIS0010")
    finally:
        server.stop()


def test_shutdown_refused_when_the_save_fails(tmp_path):
    """As Redis: the save fails (dump.rdb is a directory here), so the server keeps running;
    FORCE exits anyway, without the snapshot."""
    server = start_valkdb(cwd=str(tmp_path))
    (tmp_path / "dump.rdb").mkdir()
    try:
        assert _reply(server.port, "SHUTDOWN", "SAVE") == errors.SHUTDOWN_FAILED
        assert server.proc.poll() is None
        assert "Error trying to save the DB, can't exit." in server.log()
        assert _reply(server.port, "SHUTDOWN", "SAVE", "FORCE") == b""
        assert server.proc.wait(5) == 0
        assert "Error trying to save the DB. Exit anyway." in server.log()
    finally:
        server.stop()


def _connections_accepted(port: int, attempts: int) -> tuple[int, bytes]:
    """How many of `attempts` connections answer PING; the first refusal's bytes."""
    socks, accepted, refusal = [], 0, b""
    try:
        for _ in range(attempts):
            sock = _connect(port)
            socks.append(sock)
            sock.sendall(b"PING\r\n")
            reply = _read_line(sock)
            if reply == b"+PONG\r\n":
                accepted += 1
            elif not refusal:
                refusal = reply + _read_until_closed(sock, 2)
    finally:
        for sock in socks:
            sock.close()
    return accepted, refusal


def _read_line(sock: socket.socket) -> bytes:
    data = b""
    while not data.endswith(b"\r\n"):
        chunk = sock.recv(1024)
        if not chunk:
            break
        data += chunk
    return data


@needs_redis
def test_maxclients_matches_redis():
    ours, theirs = start_valkdb("--maxclients", "3"), start_redis("--maxclients", "3")
    try:
        our_count, our_refusal = _connections_accepted(ours.port, 5)
        their_count, their_refusal = _connections_accepted(theirs.port, 5)
    finally:
        ours.stop()
        theirs.stop()
    assert our_count == their_count
    assert our_refusal == their_refusal == b"-ERR max number of clients reached\r\n"


def test_idle_timeout_spares_subscribers(tmp_path):
    server = start_valkdb("--timeout", "1", cwd=str(tmp_path))
    try:
        idle, subscriber = _connect(server.port), _connect(server.port)
        subscriber.sendall(b"SUBSCRIBE news\r\n")
        assert subscriber.recv(1024).startswith(b"*3\r\n")
        started = time.monotonic()
        assert _read_until_closed(idle, 5) == b""
        assert 0.9 < time.monotonic() - started < 3.5
        subscriber.sendall(b"PING\r\n")
        assert subscriber.recv(1024) == b"*2\r\n$4\r\npong\r\n$0\r\n\r\n"
    finally:
        server.stop()


def test_sighup_reloads_mutable_settings(tmp_path):
    conf = tmp_path / "v.conf"
    conf.write_text("maxclients 1\n")
    server = start_valkdb("-c", str(conf), cwd=str(tmp_path))
    try:
        assert _connections_accepted(server.port, 2)[0] == 1
        conf.write_text("maxclients 2\n")
        server.proc.send_signal(signal.SIGHUP)
        assert _wait_for_log(server, "configuration reloaded")
        assert _connections_accepted(server.port, 3)[0] == 2
        assert "maxclients is now 2" in server.log()
    finally:
        assert server.stop() == 0


def _wait_for_log(server, text: str, limit: float = 5.0) -> bool:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if text in server.log():
            return True
        time.sleep(0.05)
    return False


def test_sigusr1_reopens_the_log_file(tmp_path):
    logfile = tmp_path / "v.log"
    server = start_valkdb("--logfile", str(logfile), cwd=str(tmp_path))
    try:
        os.rename(logfile, tmp_path / "v.log.1")
        server.proc.send_signal(signal.SIGUSR1)
        deadline = time.monotonic() + 5
        while not logfile.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert "log file reopened" in logfile.read_text()
    finally:
        assert server.stop() == 0
    assert "Received SIGTERM" in logfile.read_text()
    assert "Received SIGTERM" not in (tmp_path / "v.log.1").read_text()


def test_bind_failure_exits_1_and_removes_pidfile(tmp_path):
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    pidfile = tmp_path / "p.pid"
    port = taken.getsockname()[1]
    try:
        from tests.support import ServerProcess  # noqa: PLC0415
        with pytest.raises(RuntimeError, match="exited with 1"):
            ServerProcess(["python", "-m", "valkdb", "--port", str(port), "--bind", "127.0.0.1",
                           "--pidfile", str(pidfile)], free_port(), str(tmp_path))
    finally:
        taken.close()
    assert not pidfile.exists()


def _rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmRSS:"))


@pytest.mark.skipif(os.environ.get("VALKDB_SLOW_TESTS") != "1",
                    reason="slow: set VALKDB_SLOW_TESTS=1")
def test_ten_thousand_idle_connections(tmp_path):
    import resource  # noqa: PLC0415

    count = 10_000
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < count + 100:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, count + 200), hard))
    server = start_valkdb("--maxclients", str(count + 10), cwd=str(tmp_path))
    rss_before = _rss_kib(server.proc.pid)
    socks: list[socket.socket] = []
    try:
        started = time.monotonic()
        for _ in range(count):
            socks.append(_connect(server.port))
        opened = time.monotonic() - started
        client = redis.Redis(host="127.0.0.1", port=server.port, socket_timeout=10)
        started = time.monotonic()
        assert client.ping()
        ping_seconds = time.monotonic() - started
        assert ping_seconds < 1.0
        listed = client.execute_command("CLIENT", "LIST").count(b"\n")
        assert listed == count + 1
        assert client.info("clients")["connected_clients"] == count + 1
        rss_after = _rss_kib(server.proc.pid)
        print(f"\n{count} connections opened in {opened:.2f}s, PING {ping_seconds * 1000:.1f} ms,"
              f" RSS {rss_before} KiB -> {rss_after} KiB")
        client.close()
    finally:
        for sock in socks:
            sock.close()
    assert server.stop() == 0
