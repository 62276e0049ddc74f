"""Helpers for tests: free ports and server processes (valkdb and a real redis-server)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port: int, proc: subprocess.Popen | None = None, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode} before listening")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing listening on port {port} after {timeout}s")


class ServerProcess:
    """A server started on a free loopback port; stopped with stop() (SIGTERM, then kill)."""

    def __init__(self, argv: list[str], port: int, cwd: str,
                 env: dict[str, str] | None = None) -> None:
        self.port = port
        self.cwd = cwd
        self.log_path = os.path.join(cwd, "server.log")
        self._log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(argv, cwd=cwd, stdout=self._log, stderr=subprocess.STDOUT,
                                     env=env)
        try:
            wait_for_port(port, self.proc)
        except Exception:
            self.stop()
            raise

    def log(self) -> str:
        with open(self.log_path, "rb") as f:
            return f.read().decode(errors="replace")

    def stop(self, timeout: float = 10.0) -> int:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()
        return self.proc.returncode


def start_valkdb(*args: str, port: int | None = None, cwd: str | None = None,
                 source: str | None = None) -> ServerProcess:
    """valkdb on 127.0.0.1 only, no save points, plus any extra redis-style options; `source`
    runs the valkdb package found in that directory (another revision) instead of this one."""
    port = port or free_port()
    cwd = cwd or tempfile.mkdtemp(prefix="valkdb-test-")
    argv = [sys.executable, "-m", "valkdb", "--bind", "127.0.0.1", "--port", str(port),
            "--save", "", *args]
    env = None if source is None else {**os.environ, "PYTHONPATH": source}
    return ServerProcess(argv, port, cwd, env)


def redis_server_binary() -> str | None:
    return shutil.which("redis-server")


def start_redis(*args: str) -> ServerProcess:
    """A real redis-server 7.0 on a free loopback port, no persistence."""
    binary = redis_server_binary()
    if binary is None:
        raise RuntimeError("redis-server is not installed (apt-get install redis-server)")
    port = free_port()
    cwd = tempfile.mkdtemp(prefix="redis-ref-")
    argv = [binary, "--bind", "127.0.0.1", "--port", str(port), "--save", "",
            "--appendonly", "no", "--daemonize", "no", *args]
    return ServerProcess(argv, port, cwd)


def converse(port: int, payload: bytes, closes: bool, timeout: float = 10.0) -> bytes:
    """Send raw bytes on a new connection; return everything the server sent back.

    closes=True reads until the server closes (it must, within timeout); closes=False sends a
    QUIT after the payload, reads until the close and returns what came before QUIT's +OK.
    """
    deadline = time.monotonic() + timeout
    received = b""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        try:
            sock.sendall(payload if closes else payload + b"QUIT\r\n")
        except OSError:
            pass  # the server may close before reading everything (protocol errors)
        while time.monotonic() < deadline:
            try:
                data = sock.recv(65536)
            except ConnectionResetError:
                data = b""
            if not data:
                if closes:
                    return received
                if not received.endswith(b"+OK\r\n"):
                    raise ConnectionError(f"closed before QUIT, after {received[-200:]!r}")
                return received[:-5]
            received += data
    raise TimeoutError(f"still open after {received[-200:]!r}")


@contextmanager
def server_pair(*args: str) -> Iterator[tuple[ServerProcess, ServerProcess]]:
    """valkdb and a real redis-server started with the same options: (valkdb, redis)."""
    valkdb = start_valkdb(*args)
    try:
        reference = start_redis(*args)
    except Exception:
        valkdb.stop()
        raise
    try:
        yield valkdb, reference
    finally:
        valkdb.stop()
        reference.stop()
