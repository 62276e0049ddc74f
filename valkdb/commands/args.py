"""Argument parsing shared by every command family, with Redis's rules and error replies."""

from __future__ import annotations

import math
import time

from valkdb import errors, longdouble
from valkdb.errors import CommandError
from valkdb.protocol.reader import parse_length

LLONG_MAX = 2**63 - 1
LLONG_MIN = -(2**63)


def to_int(arg: bytes, error: bytes = errors.NOT_INTEGER) -> int:
    """Redis's string2ll: a 64-bit integer without '+', spaces or leading zeros."""
    if len(arg) < 21:
        value = parse_length(arg)
        if value is not None and LLONG_MIN <= value <= LLONG_MAX:
            return value
    raise CommandError(error)


def to_float(arg: bytes, error: bytes = errors.NOT_FLOAT) -> float:
    """Redis's strtod-based parse: no surrounding spaces, no NaN; 'inf' and '-inf' allowed."""
    if arg and not arg[:1].isspace() and not arg[-1:].isspace() and b"_" not in arg:
        try:
            value = float(arg)
        except ValueError:
            pass
        else:
            if not math.isnan(value):
                return value
    raise CommandError(error)


def db_index(client, arg: bytes) -> int:  # type: ignore[no-untyped-def]
    """A database number for SELECT, MOVE, COPY ... DB: integer, then in range."""
    index = to_int(arg)
    if not 0 <= index < len(client.server.keyspace):
        raise CommandError(errors.DB_INDEX)
    return index


def to_timeout(arg: bytes) -> float:
    """A blocking command's timeout in seconds (0 = forever), as Redis's
    getTimeoutFromObjectOrReply reads it: a long double, times 1000, cast to long long."""
    try:
        value = longdouble.parse(arg)
    except longdouble.Infinite:
        raise CommandError(errors.err("ERR timeout is negative")) from None  # the cast overflows
    if value is None:
        raise CommandError(errors.err("ERR timeout is not a float or out of range"))
    ms = int(value * 1000)  # truncates toward zero, as the C cast
    if ms < 0 or ms > LLONG_MAX:  # a cast out of range gives LLONG_MIN on x86-64
        raise CommandError(errors.err("ERR timeout is negative"))
    if ms > LLONG_MAX - int(time.time() * 1000):
        raise CommandError(errors.err("ERR timeout is out of range"))
    return ms / 1000
