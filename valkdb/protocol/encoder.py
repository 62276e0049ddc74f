"""Reply encoding for RESP2 and RESP3, as bytes ready to send.

Handlers build replies from the constants and functions here. Types that look the same in both
protocols (simple strings, errors, integers, bulk strings, arrays) are module functions; the ones
that differ (nulls, maps, sets, doubles, booleans, push messages, verbatim text) are methods of
RESP2 / RESP3, one instance of which each client holds as `client.resp` (switched by HELLO).
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import hiredis

OK = b"+OK\r\n"
PONG = b"+PONG\r\n"
QUEUED = b"+QUEUED\r\n"
EMPTY_ARRAY = b"*0\r\n"
EMPTY_BULK = b"$0\r\n\r\n"
_SMALL_INTS = [b":%d\r\n" % i for i in range(-1, 1025)]
ZERO = _SMALL_INTS[1]
ONE = _SMALL_INTS[2]
MINUS_ONE = _SMALL_INTS[0]
MINUS_TWO = b":-2\r\n"


def simple(text: bytes) -> bytes:
    return b"+%s\r\n" % text


def integer(n: int) -> bytes:
    if -1 <= n <= 1023:
        return _SMALL_INTS[n + 1]
    return b":%d\r\n" % n


_BULK_HEADERS = [b"$%d\r\n" % n for n in range(1024)]


def bulk(value: bytes) -> bytes:
    size = len(value)
    if size < 1024:  # a table lookup and two joins beat %-formatting for small values
        return _BULK_HEADERS[size] + value + b"\r\n"
    return b"$%d\r\n%s\r\n" % (size, value)  # one copy of a big value, not two


def array(encoded: list[bytes]) -> bytes:
    """An array of already-encoded replies."""
    return b"*%d\r\n%s" % (len(encoded), b"".join(encoded))


def bulk_items(values: list[bytes]) -> bytes:
    """The elements of an array of bulk strings, without its header (for replies built in
    chunks, such as KEYS)."""
    if not values:
        return b""
    # Joining on CRLF and the header table is about 3x faster than %-formatting each element.
    return b"\r\n".join([_BULK_HEADERS[len(v)] + v if len(v) < 1024 else b"$%d\r\n%s" % (len(v), v)
                         for v in values]) + b"\r\n"


def bulk_array(values: list[bytes]) -> bytes:
    """An array of bulk strings: also how a command is written (the AOF's format)."""
    return hiredis.pack_command(tuple(values))  # type: ignore[arg-type]  # C, ~1.5x faster


def format_double(value: float) -> bytes:
    """Redis's addReplyDouble: %.17g, with infinities spelled 'inf' and '-inf'."""
    if math.isinf(value):
        return b"inf" if value > 0 else b"-inf"
    return b"%.17g" % value


class RESP2:
    """RESP2 spellings of the types RESP3 added."""

    version = 2
    null = b"$-1\r\n"
    null_array = b"*-1\r\n"
    true = ONE
    false = ZERO

    def map(self, pairs: Iterable[tuple[bytes, bytes]]) -> bytes:
        """pairs of already-encoded (key, value) replies."""
        flat = [part for pair in pairs for part in pair]
        return b"*%d\r\n%s" % (len(flat), b"".join(flat))

    def set(self, encoded: list[bytes]) -> bytes:
        return array(encoded)

    def bulk_set(self, values: list[bytes]) -> bytes:
        return bulk_array(values)

    def double(self, value: float) -> bytes:
        return bulk(format_double(value))

    def push(self, encoded: list[bytes]) -> bytes:
        return array(encoded)

    def verbatim(self, text: bytes) -> bytes:
        return bulk(text)


class RESP3(RESP2):
    """RESP3: maps, sets, doubles, booleans, a single null, push frames, verbatim strings."""

    version = 3
    null = b"_\r\n"
    null_array = b"_\r\n"
    true = b"#t\r\n"
    false = b"#f\r\n"

    def map(self, pairs: Iterable[tuple[bytes, bytes]]) -> bytes:
        pairs = list(pairs)
        return b"%%%d\r\n%s" % (len(pairs), b"".join([k + v for k, v in pairs]))

    def set(self, encoded: list[bytes]) -> bytes:
        return b"~%d\r\n%s" % (len(encoded), b"".join(encoded))

    def bulk_set(self, values: list[bytes]) -> bytes:
        return self.set([bulk(v) for v in values])

    def double(self, value: float) -> bytes:
        return b",%s\r\n" % format_double(value)

    def push(self, encoded: list[bytes]) -> bytes:
        return b">%d\r\n%s" % (len(encoded), b"".join(encoded))

    def verbatim(self, text: bytes) -> bytes:
        return b"=%d\r\ntxt:%s\r\n" % (len(text) + 4, text)


RESP2_ENCODER = RESP2()
RESP3_ENCODER = RESP3()
