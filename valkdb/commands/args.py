"""Argument parsing shared by every command family, with Redis's rules and error replies."""

from __future__ import annotations

import math
import time
from fractions import Fraction

from valkdb import errors, longdouble
from valkdb.errors import CommandError
from valkdb.protocol.reader import parse_length
from valkdb.store.types import LLONG_MAX, LLONG_MIN


def to_int(arg: bytes, error: bytes = errors.NOT_INTEGER) -> int:
    """Redis's string2ll: a 64-bit integer without '+', spaces or leading zeros."""
    if len(arg) < 21:
        value = parse_length(arg)
        if value is not None and LLONG_MIN <= value <= LLONG_MAX:
            return value
    raise CommandError(error)


def db_index(client, arg: bytes) -> int:  # type: ignore[no-untyped-def]
    """A database number for SELECT, MOVE, COPY ... DB: integer, then in range."""
    index = to_int(arg)
    if not 0 <= index < len(client.server.keyspace):
        raise CommandError(errors.DB_INDEX)
    return index


def to_timeout(arg: bytes) -> float:
    """A blocking command's timeout in seconds (0 = forever), as Redis 7.0's
    getTimeoutFromObjectOrReply reads it: a long double, times 1000 (rounded to a long double),
    rounded up (ceill: 0.0001 is 1 ms, -0.5 ms is 0 = forever), cast to long long."""
    try:
        value = longdouble.parse(arg)
        ms = math.ceil(longdouble.add(value * 1000, Fraction(0))) if value is not None else None
    except longdouble.Infinite:
        raise CommandError(errors.TIMEOUT_NEGATIVE) from None  # the cast overflows
    if ms is None:
        raise CommandError(errors.err("ERR timeout is not a float or out of range"))
    if ms < 0 or ms > LLONG_MAX:  # a cast out of range gives LLONG_MIN on x86-64
        raise CommandError(errors.TIMEOUT_NEGATIVE)
    if ms > LLONG_MAX - int(time.time() * 1000):
        return 0.0  # Redis 7.0's deadline overflows and the client never times out
    return ms / 1000


def clamp_range(start: int, end: int, size: int) -> tuple[int, int] | None:
    """Redis's rules for an inclusive index range over `size` elements (LRANGE, LTRIM, ZRANGE
    by rank, ZREMRANGEBYRANK): negative indexes count from the end; (first, last) clamped to
    the elements, or None when the range holds none."""
    if start < 0:
        start += size
    if end < 0:
        end += size
    start = max(start, 0)
    if start > end or start >= size:
        return None
    return start, min(end, size - 1)


def parse_mpop(argv: list[bytes], numkeys_at: int, first: bytes, second: bytes,
               ) -> tuple[list[bytes], bool, int]:
    """LMPOP / ZMPOP and their blocking forms, from numkeys on: `numkeys key ... WHERE
    [COUNT n]`, WHERE being `first` or `second`. Returns (keys, WHERE is first, count)."""
    numkeys = to_int(argv[numkeys_at], errors.NUMKEYS)
    if numkeys < 1:
        raise CommandError(errors.NUMKEYS)
    where_at = numkeys_at + numkeys + 1
    where = argv[where_at].upper() if where_at < len(argv) else None
    if where not in (first, second):
        raise CommandError(errors.SYNTAX)
    count = None
    i = where_at + 1
    while i < len(argv):
        if count is None and argv[i].upper() == b"COUNT" and i + 1 < len(argv):
            count = to_int(argv[i + 1], errors.COUNT_NOT_POSITIVE)
            if count < 1:
                raise CommandError(errors.COUNT_NOT_POSITIVE)
            i += 2
        else:
            raise CommandError(errors.SYNTAX)
    return argv[numkeys_at + 1 : where_at], where == first, count or 1
