"""Talking to a server: one case on one fresh connection, and a small RESP reply reader.

`exchange` sends a payload (in pieces if asked) while reading, and ends in one of four ways:
the server closed the connection (CLOSED); the reply to the sentinel PING arrived (ANSWERED);
nothing arrived for `quiet` seconds, so the server is waiting for the rest of a request or for
the next one - then it half-closes and reads to the end, which makes the server run whatever is
complete and close (QUIET); or the deadline passed (TIMEOUT). A server that answers slowly is
never cut short in the QUIET path: everything it sends before it sees the end of the input is
read.
"""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Sequence
from dataclasses import dataclass

from .cases import multibulk

HOST = "127.0.0.1"
CLOSED, ANSWERED, QUIET, TIMEOUT, REFUSED = "closed", "answered", "quiet", "timeout", "refused"


@dataclass(frozen=True)
class Outcome:
    data: bytes
    end: str
    seconds: float


def sentinel_reply(token: bytes) -> bytes:
    return b"$%d\r\n%s\r\n" % (len(token), token)


async def _send(sock: socket.socket, payload: bytes, cuts: Sequence[int], pause: float) -> None:
    loop = asyncio.get_running_loop()
    last = 0
    try:
        for cut in (*cuts, len(payload)):
            if cut <= last:
                continue
            await loop.sock_sendall(sock, payload[last:cut])
            last = cut
            if pause and cut < len(payload):
                await asyncio.sleep(pause)
    except OSError:  # the server closed first (a protocol error, QUIT)
        pass


def _chunk(task: asyncio.Future) -> bytes:
    try:
        return task.result()
    except OSError:  # a reset after the server closed with our bytes unread: a close
        return b""


async def exchange(port: int, payload: bytes, *, cuts: Sequence[int] = (), pause: float = 0.0,
                   token: bytes | None = None, quiet: float | None = 0.05,
                   deadline: float = 5.0) -> Outcome:
    """Raw sockets, not asyncio's streams: a stream transport that fails to send closes the
    socket and drops what the server sent before closing (often the very error reply)."""
    loop = asyncio.get_running_loop()
    start = time.monotonic()
    sock = socket.socket()
    sock.setblocking(False)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        await asyncio.wait_for(loop.sock_connect(sock, (HOST, port)), deadline)
    except (OSError, asyncio.TimeoutError):
        sock.close()
        return Outcome(b"", REFUSED, time.monotonic() - start)
    tail = None if token is None else sentinel_reply(token)
    sender = asyncio.ensure_future(_send(sock, payload, cuts, pause))
    recv = asyncio.ensure_future(loop.sock_recv(sock, 65536))
    received = bytearray()
    end = TIMEOUT
    try:
        while True:
            left = start + deadline - time.monotonic()
            if left <= 0:
                break
            waiting: set[asyncio.Future] = {recv}
            if sender.done():
                timeout = left if quiet is None else min(left, quiet)
            else:
                waiting.add(sender)
                timeout = left
            done, _ = await asyncio.wait(waiting, timeout=timeout,
                                         return_when=asyncio.FIRST_COMPLETED)
            if recv in done:
                chunk = _chunk(recv)
                if not chunk:
                    end = CLOSED
                    break
                received += chunk
                recv = asyncio.ensure_future(loop.sock_recv(sock, 65536))
            elif not done:
                if quiet is not None and sender.done() and time.monotonic() < start + deadline:
                    end, recv = await _half_close(sock, recv, received, start + deadline)
                break
            if tail is not None and sender.done() and received.endswith(tail):
                end = ANSWERED
                break
    finally:
        for task in (recv, sender):
            task.cancel()
        sock.close()
    return Outcome(bytes(received), end, time.monotonic() - start)


async def _half_close(sock: socket.socket, recv: asyncio.Future, received: bytearray,
                      until: float) -> tuple[str, asyncio.Future]:
    """The server is quiet: end our side and read until it closes."""
    loop = asyncio.get_running_loop()
    try:
        sock.shutdown(socket.SHUT_WR)
    except OSError:
        pass
    while True:
        left = until - time.monotonic()
        if left <= 0:
            return TIMEOUT, recv
        done, _ = await asyncio.wait({recv}, timeout=left)
        if not done:
            return TIMEOUT, recv
        chunk = _chunk(recv)
        if not chunk:
            return QUIET, recv
        received += chunk
        recv = asyncio.ensure_future(loop.sock_recv(sock, 65536))


# -- request / reply, for the glob cases and the health checks -----------------------------------

async def read_reply(reader: asyncio.StreamReader) -> bytes:
    """One RESP2/RESP3 reply, exactly as sent."""
    line = await reader.readuntil(b"\r\n")
    kind = line[:1]
    if kind in (b"+", b"-", b":", b",", b"#", b"_", b"("):
        return line
    count = int(line[1:-2])
    if count < 0:
        return line
    if kind in (b"$", b"=", b"!"):
        return line + await reader.readexactly(count + 2)
    if kind in (b"%", b"|"):
        count *= 2
    parts = [line]
    for _ in range(count):
        parts.append(await read_reply(reader))
    return b"".join(parts)


class Connection:
    """A request/reply connection with a deadline per reply."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    @classmethod
    async def open(cls, port: int, timeout: float = 5.0) -> Connection:
        reader, writer = await asyncio.wait_for(asyncio.open_connection(HOST, port), timeout)
        return cls(reader, writer)

    async def call(self, *args: bytes, timeout: float = 5.0) -> tuple[bytes, float]:
        """The reply and how long it took; asyncio.TimeoutError past the timeout."""
        start = time.monotonic()
        self.writer.write(multibulk(list(args)))
        reply = await asyncio.wait_for(read_reply(self.reader), timeout)
        return reply, time.monotonic() - start

    async def read(self, timeout: float = 5.0) -> bytes:
        return await asyncio.wait_for(read_reply(self.reader), timeout)

    def close(self) -> None:
        self.writer.transport.abort()
