"""Argument parsing shared by every command family, with Redis's rules and error replies."""

from __future__ import annotations

import math

from valkdb import errors
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
