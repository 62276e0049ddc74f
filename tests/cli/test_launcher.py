"""The launcher, run as a real process: redis-server style and gunicorn style invocations.

Tools that launch redis-server (test fixtures, orchestrators) pass a redis.conf path and
`--name value ...` options, and read the exit status and stderr; where redis-server's answer
can be checked, the same invocation is given to it and compared.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time

import pytest
import redis

from tests.support import ServerProcess, free_port, redis_server_binary, start_valkdb
from valkdb import REDIS_VERSION, errors
from valkdb.config import SETTINGS

VALKDB = [sys.executable, "-m", "valkdb"]
needs_redis = pytest.mark.skipif(redis_server_binary() is None, reason="no redis-server")


def _run(argv: list[str], cwd: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(argv, capture_output=True, text=True, timeout=20, cwd=cwd)


def _client(port: int, host: str = "127.0.0.1", **kwargs) -> redis.Redis:
    return redis.Redis(host=host, port=port, socket_timeout=5, **kwargs)


def _ipv6_loopback() -> bool:
    try:
        with socket.socket(socket.AF_INET6) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


def test_redis_style_file_then_options(tmp_path):
    port = free_port()
    (tmp_path / "inc.conf").write_text("requirepass fromfile\n")
    conf = tmp_path / "redis.conf"
    conf.write_text(f"# comment\ninclude {tmp_path / 'inc.conf'}\nport 1\nbind 127.0.0.1\n"
                    "maxclients 100\n")
    server = ServerProcess([*VALKDB, str(conf), "--port", str(port), "--requirepass", "x",
                            "--save", "900", "1", "300", "10", "--maxclients", "50"],
                           port, str(tmp_path))
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
            sock.sendall(b"PING\r\nAUTH fromfile\r\nAUTH x\r\nPING\r\n")
            assert _read_replies(sock, 4) == (
                errors.NOAUTH + errors.WRONGPASS + b"+OK\r\n+PONG\r\n")
    finally:
        assert server.stop() == 0


def _read_replies(sock: socket.socket, count: int) -> bytes:
    """`count` one-line replies."""
    data = b""
    deadline = time.monotonic() + 5
    while data.count(b"\r\n") < count and time.monotonic() < deadline:
        data += sock.recv(4096)
    return data


def _fatal_lines(stderr: str) -> list[str]:
    """The lines after redis-server's `*** FATAL CONFIG FILE ERROR (... version) ***` header."""
    lines = [line for line in stderr.splitlines() if line.strip()]
    header = next(i for i, line in enumerate(lines) if "FATAL CONFIG FILE ERROR" in line)
    return lines[header + 1:]


@needs_redis
@pytest.mark.parametrize("body", [
    "port 7000\nfoo bar\n", "maxclients abc\n", "port 1 2\n", 'save "900 1\n', "save 900\n",
    "include\n", "maxclients 100\nmaxmemory 10zb\n",
])
def test_bad_config_file_fails_like_redis(tmp_path, body):
    conf = tmp_path / "bad.conf"
    conf.write_text(body)
    ours, theirs = _run([*VALKDB, str(conf)]), _run([redis_server_binary(), str(conf)])
    assert (ours.returncode, theirs.returncode) == (1, 1)
    assert _fatal_lines(ours.stderr) == _fatal_lines(theirs.stderr)


@needs_redis
@pytest.mark.parametrize("args", [
    ["--maxclients", "abc"], ["--no-such-option", "1"], ["--port", "1", "2"],
    ["--timeout", "1", "--requirepass", "a", "b"],
])
def test_bad_command_line_fails_like_redis(args):
    ours, theirs = _run([*VALKDB, *args]), _run([redis_server_binary(), *args])
    assert (ours.returncode, theirs.returncode) == (1, 1)
    # redis-server counts command-line options as config lines; compare the line and reason.
    assert _fatal_lines(ours.stderr)[1:] == _fatal_lines(theirs.stderr)[1:]


def test_missing_config_file():
    result = _run([*VALKDB, "/nonexistent/valkdb.conf"])
    assert result.returncode == 1
    assert "can't open config file '/nonexistent/valkdb.conf'" in result.stderr


def test_check_config(tmp_path):
    good, bad = tmp_path / "good.conf", tmp_path / "bad.conf"
    good.write_text("port 7000\nsave 900 1\n")
    bad.write_text("port 7000\ntimeout -1\n")
    assert _run([*VALKDB, "-c", str(good), "--check-config"]).returncode == 0
    assert _run([*VALKDB, "--check-config", "--save", "", "--port", "7001"]).returncode == 0
    result = _run([*VALKDB, "--check-config", "-c", str(bad)])
    assert result.returncode == 1
    assert "timeout -1" in result.stderr


def test_help_lists_every_setting():
    result = _run([*VALKDB, "--help"])
    assert result.returncode == 0
    for setting in SETTINGS:
        assert f"--{setting.name}" in result.stdout
    for option in ("-b, --bind", "-c, --config", "-D, --daemonize", "--log-level", "--pidfile",
                   "--check-config", "--version"):
        assert option in result.stdout


def test_version():
    result = _run([*VALKDB, "--version"])
    assert result.returncode == 0
    assert f"v={REDIS_VERSION}" in result.stdout


def test_gunicorn_binds_with_ports_and_logs_them(tmp_path):
    port4 = free_port()
    binds = ["-b", f"127.0.0.1:{port4}"]
    port6 = free_port()
    if _ipv6_loopback():
        binds += ["-b", f"[::1]:{port6}"]
    server = ServerProcess([*VALKDB, *binds, "--port", "1", "--log-level", "notice"],
                           port4, str(tmp_path))
    try:
        assert _client(port4).ping()
        assert f"127.0.0.1:{port4}" in server.log()
        if _ipv6_loopback():
            assert _client(port6, host="::1").ping()
            assert f"[::1]:{port6}" in server.log()
    finally:
        assert server.stop() == 0


def test_default_bind_is_loopback(tmp_path):
    port = free_port()
    server = ServerProcess([*VALKDB, "--port", str(port), "--save", ""], port, str(tmp_path))
    try:
        # The port accepts (the kernel's backlog) a moment before the line is logged.
        assert _wait_for(lambda: "Ready to accept connections tcp on 127.0.0.1:" in server.log()), \
            server.log()
        if _ipv6_loopback():
            assert _client(port, host="::1").ping()
        assert "0.0.0.0" not in server.log()
    finally:
        assert server.stop() == 0


def test_pidfile_written_and_removed(tmp_path):
    pidfile = tmp_path / "v.pid"
    server = start_valkdb("--pidfile", str(pidfile), cwd=str(tmp_path))
    assert int(pidfile.read_text()) == server.proc.pid
    assert server.stop() == 0
    assert not pidfile.exists()


def _wait_for(predicate, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_daemonize(tmp_path):
    port = free_port()
    pidfile, logfile = tmp_path / "d.pid", tmp_path / "d.log"
    started = time.monotonic()
    parent = _run([*VALKDB, "-D", "-b", f"127.0.0.1:{port}", "--pidfile", str(pidfile),
                   "--logfile", str(logfile), "--save", ""])
    assert parent.returncode == 0
    assert time.monotonic() - started < 5
    assert _wait_for(lambda: pidfile.exists() and pidfile.read_text().strip())
    pid = int(pidfile.read_text())
    try:
        assert _wait_for(lambda: _can_ping(port))
        assert f"pid={pid}" in logfile.read_text()
    finally:
        os.kill(pid, signal.SIGTERM)
    assert _wait_for(lambda: not _alive(pid))
    assert not pidfile.exists()


def _can_ping(port: int) -> bool:
    try:
        return bool(_client(port).ping())
    except redis.ConnectionError:
        return False


def test_log_level_and_logfile(tmp_path):
    quiet, chatty = tmp_path / "quiet.log", tmp_path / "chatty.log"
    for path, level in ((quiet, "warning"), (chatty, "notice")):
        server = start_valkdb("--log-level", level, "--logfile", str(path), cwd=str(tmp_path))
        assert server.stop() == 0
    assert "Ready to accept connections" in chatty.read_text()
    assert "Ready to accept connections" not in quiet.read_text()
    assert "Received SIGTERM" in quiet.read_text()  # warnings still get through
