"""Hash commands (Redis's t_hash.c).

A hash is a `Hash`, a dict from field to value. A dict keeps insertion order, updates a field in
place and closes the gap when one is deleted, which is exactly how Redis's listpack orders a
small hash: HGETALL, HKEYS, HSCAN ... of a listpack-encoded hash match Redis byte for byte.

Encoding: a hash is a listpack until it holds more than hash-max-listpack-entries fields or is
given a field or value longer than hash-max-listpack-value bytes, then a hashtable for good (the
`hashtable` flag; Redis never converts back). A hashtable's order is unspecified.

HSCAN returns a listpack hash whole (cursor 0), as Redis does. Over a hashtable the cursor holds
an offset into the dict's order and the hash's deletion counter at that moment; the next call
moves the offset back by the deletions since, so a field present for the whole iteration is
returned at least once (SCAN's contract allows the duplicates this can cause), as keys.py SCAN.
"""

from __future__ import annotations

import itertools
import random
from fractions import Fraction

from valkdb import errors, longdouble
from valkdb.commands.args import LLONG_MAX, LLONG_MIN, to_int
from valkdb.commands.keys import (
    parse_scan_options,
    pattern_matcher,
    scan_cursor,
    scan_reply,
)
from valkdb.commands.sets import EMPTY_SCAN, random_count, random_picks
from valkdb.commands.strings import long_double
from valkdb.core.context import Context
from valkdb.core.notifications import GENERIC, HASH
from valkdb.core.registry import command, propagates
from valkdb.errors import CommandError
from valkdb.protocol.encoder import EMPTY_ARRAY, OK, ONE, ZERO, array, bulk, bulk_array, integer
from valkdb.protocol.reader import parse_length
from valkdb.store.types import Hash

_NOT_INTEGER = errors.err("ERR hash value is not an integer")
_NOT_FLOAT = errors.err("ERR hash value is not a float")
_INCREMENT_NAN_OR_INFINITY = errors.err("ERR value is NaN or Infinity")
_DELETION_BITS = 22
_DELETION_MASK = (1 << _DELETION_BITS) - 1


def _get_hash(db, key: bytes, read: bool = False) -> Hash | None:  # type: ignore[no-untyped-def]
    """The hash at key, None if missing; WRONGTYPE if it holds another type."""
    value = db.read(key) if read else db.lookup(key)
    if value is not None and type(value) is not Hash:
        raise CommandError(errors.WRONGTYPE)
    return value


def _hash_for_write(db, key: bytes) -> Hash:  # type: ignore[no-untyped-def]
    """Redis's hashTypeLookupWriteOrCreate: the hash at key, a new empty one if missing."""
    value = db.lookup(key)
    if value is None:
        value = Hash()
        db.store(key, value)
    elif type(value) is not Hash:
        raise CommandError(errors.WRONGTYPE)
    else:
        db.modified(key)
    return value


def _check_lengths(c, value: Hash, args: list[bytes]) -> None:  # type: ignore[no-untyped-def]
    """hashTypeTryConversion: a field or value too long for a listpack makes a hashtable."""
    if not value.hashtable and max(map(len, args)) > c.server.config.hash_max_listpack_value:
        value.hashtable = True


def _check_size(c, value: Hash) -> None:  # type: ignore[no-untyped-def]
    if not value.hashtable and len(value) > c.server.config.hash_max_listpack_entries:
        value.hashtable = True


def _set_fields(c, argv: list[bytes], name: str) -> int:  # type: ignore[no-untyped-def]
    """HSET and HMSET: the number of fields created."""
    if len(argv) % 2:
        raise CommandError(errors.wrong_arity(name))
    value = _hash_for_write(c.db, argv[1])
    _check_lengths(c, value, argv[2:])
    before = len(value)
    if len(argv) == 4:  # the common case, without building pairs
        value[argv[2]] = argv[3]
    else:
        value.update(zip(argv[2::2], argv[3::2], strict=True))
    _check_size(c, value)
    c.notify(HASH, b"hset", argv[1])
    return len(value) - before


@command("hset")
def hset(c: Context, argv: list[bytes]) -> bytes:
    return integer(_set_fields(c, argv, "hset"))


@command("hmset")
def hmset(c: Context, argv: list[bytes]) -> bytes:
    _set_fields(c, argv, "hmset")
    return OK


def _set_one(c, key: bytes, value: Hash | None, field: bytes, new: bytes) -> None:  # type: ignore[no-untyped-def]
    """hashTypeSet for one field (HSETNX, HINCRBY*), creating the hash if it is missing."""
    if value is None:
        value = Hash()
        c.db.store(key, value)
    else:
        c.db.modified(key)
    _check_lengths(c, value, [field, new])
    value[field] = new
    _check_size(c, value)


@command("hsetnx")
def hsetnx(c: Context, argv: list[bytes]) -> bytes:
    value = _get_hash(c.db, argv[1])
    if value is not None and argv[2] in value:
        return ZERO
    _set_one(c, argv[1], value, argv[2], argv[3])
    c.notify(HASH, b"hset", argv[1])
    return ONE


@command("hget")
def hget(c: Context, argv: list[bytes]) -> bytes:
    value = c.db.read(argv[1])
    if value is None:
        return c.resp.null
    if type(value) is not Hash:
        return errors.WRONGTYPE
    found = value.get(argv[2])
    return c.resp.null if found is None else bulk(found)


@command("hmget")
def hmget(c: Context, argv: list[bytes]) -> bytes:
    value: dict = _get_hash(c.db, argv[1], read=True) or {}
    null = c.resp.null
    return array([null if (found := value.get(f)) is None else bulk(found) for f in argv[2:]])


@command("hgetall")
def hgetall(c: Context, argv: list[bytes]) -> bytes:
    value: dict = _get_hash(c.db, argv[1], read=True) or {}
    return c.resp.map([(bulk(field), bulk(found)) for field, found in value.items()])


@command("hkeys")
def hkeys(c: Context, argv: list[bytes]) -> bytes:
    return bulk_array(list(_get_hash(c.db, argv[1], read=True) or ()))


@command("hvals")
def hvals(c: Context, argv: list[bytes]) -> bytes:
    return bulk_array(list((_get_hash(c.db, argv[1], read=True) or {}).values()))


@command("hdel")
def hdel(c: Context, argv: list[bytes]) -> bytes:
    value = _get_hash(c.db, argv[1])
    if value is None:
        return ZERO
    deleted = 0
    for field in argv[2:]:
        if value.pop(field, None) is not None:
            deleted += 1
    if deleted:
        value.deletions += deleted
        c.notify(HASH, b"hdel", argv[1])
        if not value:
            c.db.delete(argv[1])
            c.notify(GENERIC, b"del", argv[1])
        else:
            c.db.modified(argv[1])
    return integer(deleted)


@command("hexists")
def hexists(c: Context, argv: list[bytes]) -> bytes:
    value = _get_hash(c.db, argv[1], read=True)
    return ONE if value is not None and argv[2] in value else ZERO


@command("hlen")
def hlen(c: Context, argv: list[bytes]) -> bytes:
    value = _get_hash(c.db, argv[1], read=True)
    return integer(0 if value is None else len(value))


@command("hstrlen")
def hstrlen(c: Context, argv: list[bytes]) -> bytes:
    value: dict = _get_hash(c.db, argv[1], read=True) or {}
    return integer(len(value.get(argv[2], b"")))


# -- counters -----------------------------------------------------------------------------------

@command("hincrby")
def hincrby(c: Context, argv: list[bytes]) -> bytes:
    increment = to_int(argv[3])
    value = _get_hash(c.db, argv[1])
    old = None if value is None else value.get(argv[2])
    current = 0
    if old is not None:
        parsed = parse_length(old) if len(old) <= 20 else None
        if parsed is None or not LLONG_MIN <= parsed <= LLONG_MAX:
            return _NOT_INTEGER
        current = parsed
    result = current + increment
    if not LLONG_MIN <= result <= LLONG_MAX:
        return errors.INCR_OVERFLOW
    _set_one(c, argv[1], value, argv[2], b"%d" % result)
    c.notify(HASH, b"hincrby", argv[1])
    return integer(result)


@command("hincrbyfloat")
def hincrbyfloat(c: Context, argv: list[bytes]) -> bytes:
    increment = long_double(argv[3])
    if increment is None:
        return _INCREMENT_NAN_OR_INFINITY
    value = _get_hash(c.db, argv[1])
    old = None if value is None else value.get(argv[2])
    current: Fraction | None = Fraction(0)
    if old is not None:
        try:
            current = longdouble.parse(old)
        except longdouble.Infinite:
            return errors.NAN_OR_INFINITY
        if current is None:
            return _NOT_FLOAT
    assert current is not None
    try:
        result = longdouble.add(current, increment)
    except longdouble.Infinite:
        return errors.NAN_OR_INFINITY
    text = longdouble.format_human(result)
    _set_one(c, argv[1], value, argv[2], text)
    c.notify(HASH, b"hincrbyfloat", argv[1])
    c.propagate([b"HSET", argv[1], argv[2], text])  # exact wherever it is replayed
    return bulk(text)


propagates("hincrbyfloat")(None)


# -- HRANDFIELD ---------------------------------------------------------------------------------

def _field_at(value: Hash, index: int) -> bytes:
    return next(itertools.islice(iter(value), index, None))


@command("hrandfield")
def hrandfield(c: Context, argv: list[bytes]) -> bytes:
    if len(argv) == 2:
        value = _get_hash(c.db, argv[1], read=True)
        if value is None:
            return c.resp.null
        return bulk(_field_at(value, random.randrange(len(value))))
    count = random_count(argv[2])
    if len(argv) > 4 or (len(argv) == 4 and argv[3].lower() != b"withvalues"):
        return errors.SYNTAX
    if len(argv) == 4 and abs(count) > LLONG_MAX // 2:  # Redis: twice that would overflow
        return errors.VALUE_OUT_OF_RANGE
    value = _get_hash(c.db, argv[1], read=True)
    if value is None or count == 0:
        return EMPTY_ARRAY
    if count < 0 or count == 1:
        picked = random_picks(list(value), abs(count))
    elif count >= len(value):
        picked = list(value)
    else:
        picked = random.sample(list(value), count)
    if len(argv) == 3:
        return bulk_array(picked)
    if c.resp.version == 2:
        return bulk_array([x for field in picked for x in (field, value[field])])
    return array([bulk_array([field, value[field]]) for field in picked])


# -- HSCAN --------------------------------------------------------------------------------------

@command("hscan")
def hscan(c: Context, argv: list[bytes]) -> bytes:
    cursor = scan_cursor(argv[2])
    value = _get_hash(c.db, argv[1], read=True)
    if value is None:
        return EMPTY_SCAN
    count, pattern, _ = parse_scan_options(argv, 3, with_type=False)
    if not value.hashtable:  # Redis returns a small encoding whole, whatever the cursor
        page, next_cursor = list(value.items()), 0
    else:
        seen_deletions = cursor & _DELETION_MASK
        offset = cursor >> _DELETION_BITS
        offset = max(0, offset - ((value.deletions - seen_deletions) & _DELETION_MASK))
        page = list(itertools.islice(value.items(), offset, offset + count))
        offset += len(page)
        next_cursor = 0
        if offset < len(value):
            next_cursor = (offset << _DELETION_BITS) | (value.deletions & _DELETION_MASK)
    match = pattern_matcher(pattern)
    return scan_reply(b"%d" % next_cursor, [
        x for field, found in page if match is None or match(field) for x in (field, found)])
