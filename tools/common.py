"""Shared by the tools: start valkdb and redis-server side by side, load keys, read RSS."""

from __future__ import annotations

import os
import socket
import sys
import time

import hiredis

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from tests.support import ServerProcess, start_redis, start_valkdb  # noqa: E402

__all__ = ["ServerProcess", "start_redis", "start_valkdb", "load_strings", "rss_bytes", "pair",
           "encode", "run_pipelined"]


def pair(valkdb_args: tuple[str, ...] = (), redis_args: tuple[str, ...] = ()):
    """(valkdb, redis) servers on free loopback ports."""
    return start_valkdb(*valkdb_args), start_redis(*redis_args)


def load_strings(port: int, count: int, value: bytes = b"v" * 8, batch: int = 1000) -> None:
    """SET key:<n> value for n < count, pipelined as MSETs over one raw connection."""
    with socket.create_connection(("127.0.0.1", port), timeout=60) as sock:
        for start in range(0, count, batch):
            n = min(batch, count - start)
            parts = [b"*%d\r\n$4\r\nMSET\r\n" % (1 + 2 * n)]
            for i in range(start, start + n):
                key = b"key:%d" % i
                parts.append(b"$%d\r\n%s\r\n$%d\r\n%s\r\n" % (len(key), key, len(value), value))
            sock.sendall(b"".join(parts))
            reply = sock.recv(16)
            if not reply.startswith(b"+OK"):
                raise RuntimeError(f"MSET failed: {reply!r}")


def rss_bytes(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS")


def encode(*args: bytes) -> bytes:
    return b"*%d\r\n%s" % (len(args), b"".join(b"$%d\r\n%s\r\n" % (len(a), a) for a in args))


def run_pipelined(sock: socket.socket, commands: list[bytes], batch: int = 500) -> float:
    """Send the encoded commands `batch` at a time, read every reply; seconds taken."""
    reader = hiredis.Reader()
    start = time.perf_counter()
    for first in range(0, len(commands), batch):
        chunk = commands[first:first + batch]
        sock.sendall(b"".join(chunk))
        pending = len(chunk)
        while pending:
            data = sock.recv(1 << 20)
            if not data:
                raise ConnectionError("server closed the connection")
            reader.feed(data)
            while pending and (reply := reader.gets()) is not False:
                if isinstance(reply, hiredis.ReplyError):
                    raise RuntimeError(f"error reply: {reply}")
                pending -= 1
    return time.perf_counter() - start
