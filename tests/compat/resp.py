"""Raw RESP for differential tests: send a command, read back exactly one reply as bytes.

Comparing bytes (not client-decoded values) is the point: it catches a wrong reply type (a
status where Redis sends a bulk, a RESP3 double where Redis sends a bulk...) that a client
library would paper over.
"""

from __future__ import annotations

import io
import socket
from typing import BinaryIO

_LINE_TYPES = b"+-:,#_("  # the whole reply is its first line
_BLOB_TYPES = b"$=!"  # a length, then that many bytes and CRLF
_AGGREGATE_TYPES = b"*~>"  # a count, then that many replies
_MAP_TYPES = b"%|"  # a count of pairs, then twice that many replies


def encode_command(args: tuple[bytes, ...] | list[bytes]) -> bytes:
    parts = [b"*%d\r\n" % len(args)]
    for arg in args:
        parts.append(b"$%d\r\n%s\r\n" % (len(arg), arg))
    return b"".join(parts)


def _read_line(stream: BinaryIO) -> bytes:
    line = stream.readline()
    if not line.endswith(b"\r\n"):
        raise ConnectionError(f"truncated reply line {line!r}")
    return line


def read_reply(stream: BinaryIO) -> bytes:
    """One complete RESP2/RESP3 reply, bytes exactly as sent (nested replies included)."""
    line = _read_line(stream)
    kind = line[:1]
    if kind in _LINE_TYPES:
        return line
    count = int(line[1:-2])
    if kind in _BLOB_TYPES:
        if count < 0:
            return line
        body = stream.read(count + 2)
        if len(body) != count + 2:
            raise ConnectionError("truncated bulk reply")
        return line + body
    if kind in _AGGREGATE_TYPES or kind in _MAP_TYPES:
        if count < 0:
            return line
        children = count * 2 if kind in _MAP_TYPES else count
        return line + b"".join(read_reply(stream) for _ in range(children))
    raise ConnectionError(f"unknown reply type {line!r}")


def elements(reply: bytes) -> list[bytes]:
    """The raw replies inside an aggregate reply (for normalising order, picking a part)."""
    stream = io.BytesIO(reply)
    line = _read_line(stream)
    if line[:1] not in _AGGREGATE_TYPES or line.startswith(b"*-1"):
        raise ValueError(f"not an aggregate reply: {reply!r}")
    return [read_reply(stream) for _ in range(int(line[1:-2]))]


def bulk_value(reply: bytes) -> bytes | None:
    """The payload of a bulk reply; None for anything else."""
    if reply[:1] != b"$" or reply.startswith(b"$-1"):
        return None
    return reply[reply.index(b"\r\n") + 2 : -2]


class RawConnection:
    """A blocking loopback socket with a timeout; call() sends one command, returns its reply."""

    def __init__(self, port: int, timeout: float = 5.0) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.stream = self.sock.makefile("rb")

    def call(self, *args: bytes) -> bytes:
        self.sock.sendall(encode_command(args))
        return read_reply(self.stream)

    def close(self) -> None:
        self.stream.close()
        self.sock.close()


def sorted_form(reply: bytes, arrays: bool = False) -> object:
    """A reply as nested (type byte, value) pairs with the entries of maps, sets and attributes
    sorted (and of arrays too, with `arrays`): one form for replies whose order Redis leaves
    open (a hash table's)."""
    return _sorted_form(io.BytesIO(reply), arrays)


def _sorted_form(stream: BinaryIO, arrays: bool) -> object:
    line = stream.readline()
    kind, body = line[:1], line[1:-2]
    if kind in b"+-:,#_(":
        return kind, body
    count = int(body)
    if count < 0:
        return kind, None
    if kind in b"$=!":
        return kind, stream.read(count + 2)[:-2]
    if kind in b"%|":
        pairs = [(_sorted_form(stream, arrays), _sorted_form(stream, arrays))
                 for _ in range(count)]
        return kind, sorted(pairs, key=repr)
    items = [_sorted_form(stream, arrays) for _ in range(count)]
    return kind, sorted(items, key=repr) if arrays or kind == b"~" else items
