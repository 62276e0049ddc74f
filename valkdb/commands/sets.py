"""Set commands (Redis's t_set.c).

A set is a `Set`: a dict from each member to its position in a list of the members. The dict
answers membership in O(1); the list lets SPOP and SRANDMEMBER pick a uniformly random member in
O(1) (a random index) and lets removal stay O(1) (the last member moves into the hole), so
popping k members of a big set costs O(k), as in Redis.

Encoding: Redis keeps a set whose members are all integers (string2ll's strict form) as an
intset while it holds at most set-max-intset-entries of them, and converts it to a hashtable for
good otherwise. `Set.intset` tracks that. An intset iterates in ascending numeric order, which
every reply that walks a set shows (SMEMBERS, SUNION, SRANDMEMBER with a big count, SSCAN ...),
so `Set.ordered()` sorts an intset; a hashtable's order is unspecified, the list's is used.

SSCAN over a hashtable walks the member list from its end towards index 0; the cursor is the
number of positions not yet visited. Removal moves the last member down into the hole and
additions append, so a member present for the whole iteration never moves from the unvisited
part to the visited part: it is returned at least once (duplicates are allowed, as in Redis).
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from random import random as _random
from typing import TypeVar

from valkdb import errors
from valkdb.commands.args import LLONG_MIN, to_int
from valkdb.commands.keys import (
    parse_scan_options,
    pattern_matcher,
    scan_cursor,
    scan_reply,
)
from valkdb.core.context import Context
from valkdb.core.notifications import GENERIC, SET
from valkdb.core.registry import command, propagates
from valkdb.errors import CommandError
from valkdb.protocol.encoder import EMPTY_ARRAY, ONE, ZERO, bulk, bulk_array, integer
from valkdb.store.types import Set, is_integer

T = TypeVar("T")

_INTSET_HARD_LIMIT = 1 << 30  # intset internals cap it whatever the setting says
_SPOP_MOVE_STRATEGY_MUL = 5  # Redis: rebuild the set when popping most of it
_MAX_REPEATS = 1 << 26  # see random_count
_TOO_MANY_KEYS = errors.err("ERR Number of keys can't be greater than number of args")
EMPTY_SCAN = scan_reply(b"0", [])




def intset_limit(c) -> int:  # type: ignore[no-untyped-def]
    return min(c.server.config.set_max_intset_entries, _INTSET_HARD_LIMIT)


def new_set(members, limit: int) -> Set:  # type: ignore[no-untyped-def]
    """A set built as Redis builds a result set: an empty intset that converts as it grows."""
    result = Set(True)
    for member in members:
        result.add(member, limit)
    return result


def _get_set(db, key: bytes, read: bool = False) -> Set | None:  # type: ignore[no-untyped-def]
    """The set at key, None if missing; WRONGTYPE if it holds another type."""
    value = db.read(key) if read else db.lookup(key)
    if value is not None and type(value) is not Set:
        raise CommandError(errors.WRONGTYPE)
    return value


def _get_sets(db, keys: list[bytes]) -> list[Set | None]:  # type: ignore[no-untyped-def]
    """Every key's set (None for a missing one); WRONGTYPE if any holds another type."""
    return [_get_set(db, key, read=True) for key in keys]


def _changed(c, key: bytes, value: Set, event: bytes) -> None:  # type: ignore[no-untyped-def]
    """After an in-place change (the keyspace event named `event`): an emptied set is
    deleted, WATCH learns of the change."""
    c.notify(SET, event, key)
    if not value:
        c.db.delete(key)
        c.notify(GENERIC, b"del", key)
    else:
        c.db.modified(key)


def random_count(arg: bytes) -> int:
    """SRANDMEMBER's (and HRANDFIELD's) count: a long in -LONG_MAX..LONG_MAX."""
    count = to_int(arg)
    if count == LLONG_MIN:
        raise CommandError(errors.LONG_RANGE)
    return count


def random_picks(members: Sequence[T], count: int) -> list[T]:
    """`count` members picked independently (a negative count's repeats allowed).

    Redis writes the picks into the reply one by one and never stops on a huge count; valkdb
    builds replies whole, so it refuses a count whose reply could not fit in memory (beyond
    _MAX_REPEATS) instead of exhausting it.
    """
    if count > _MAX_REPEATS:
        raise CommandError(errors.VALUE_OUT_OF_RANGE)
    size = len(members)
    return [members[int(_random() * size)] for _ in range(count)]


# -- single sets --------------------------------------------------------------------------------

@command("sadd")
def sadd(c: Context, argv: list[bytes]) -> bytes:
    db = c.db
    key = argv[1]
    value = db.lookup(key)
    if value is None:
        value = Set(is_integer(argv[2]))
        db.store(key, value)
    elif type(value) is not Set:
        return errors.WRONGTYPE
    limit = intset_limit(c)
    add = value.add
    added = 0
    for member in argv[2:]:
        if add(member, limit):
            added += 1
    if added:
        db.modified(key)
        c.notify(SET, b"sadd", key)
    return integer(added)


@command("srem")
def srem(c: Context, argv: list[bytes]) -> bytes:
    value = _get_set(c.db, argv[1])
    if value is None:
        return ZERO
    removed = sum(1 for member in argv[2:] if value.remove(member))
    if removed:
        _changed(c, argv[1], value, b"srem")
    return integer(removed)


@command("smembers")
def smembers(c: Context, argv: list[bytes]) -> bytes:
    value = _get_set(c.db, argv[1], read=True)
    return c.resp.bulk_set([] if value is None else value.ordered())


@command("sismember")
def sismember(c: Context, argv: list[bytes]) -> bytes:
    value = _get_set(c.db, argv[1], read=True)
    return ONE if value is not None and argv[2] in value else ZERO


@command("smismember")
def smismember(c: Context, argv: list[bytes]) -> bytes:
    value: dict = _get_set(c.db, argv[1], read=True) or {}
    return b"*%d\r\n%s" % (len(argv) - 2, b"".join(
        [ONE if member in value else ZERO for member in argv[2:]]))


@command("scard")
def scard(c: Context, argv: list[bytes]) -> bytes:
    value = _get_set(c.db, argv[1], read=True)
    return integer(0 if value is None else len(value))


@command("smove")
def smove(c: Context, argv: list[bytes]) -> bytes:
    src_key, dst_key, member = argv[1], argv[2], argv[3]
    db = c.db
    src = db.lookup(src_key)
    if src is None:
        return ZERO
    dst = _get_set(db, dst_key)
    if type(src) is not Set:
        return errors.WRONGTYPE
    if src is dst:
        return ONE if member in src else ZERO
    if not src.remove(member):
        return ZERO
    _changed(c, src_key, src, b"srem")
    if dst is None:
        dst = Set(is_integer(member))
        db.store(dst_key, dst)
    if dst.add(member, intset_limit(c)):
        db.modified(dst_key)
        c.notify(SET, b"sadd", dst_key)
    return ONE


# -- random members -----------------------------------------------------------------------------

@command("spop")
def spop(c: Context, argv: list[bytes]) -> bytes:
    if len(argv) == 3:
        return _spop_count(c, argv)
    if len(argv) > 3:
        return errors.SYNTAX
    value = _get_set(c.db, argv[1])
    if value is None:
        return c.resp.null
    member = value.pop_random()
    _changed(c, argv[1], value, b"spop")
    c.propagate([b"SREM", argv[1], member])
    return bulk(member)


def _spop_count(c, argv) -> bytes:  # type: ignore[no-untyped-def]
    count = to_int(argv[2], errors.NOT_POSITIVE)
    if count < 0:
        return errors.NOT_POSITIVE
    key = argv[1]
    value = _get_set(c.db, key)
    if value is None or count == 0:
        return c.resp.bulk_set([])
    size = len(value)
    if count >= size:  # the whole set, in the order of a set rebuilt from it (as SUNION)
        popped = new_set(value.members, intset_limit(c)).ordered()
        c.notify(SET, b"spop", key)
        c.db.delete(key)
        c.notify(GENERIC, b"del", key)
        c.propagate([b"DEL", key])
        return c.resp.bulk_set(popped)
    remaining = size - count
    if remaining * _SPOP_MOVE_STRATEGY_MUL > count:
        popped = [value.pop_random() for _ in range(count)]
        _changed(c, key, value, b"spop")
        _propagate_removals(c, key, popped)
        return c.resp.bulk_set(popped)
    # Popping most of the set: Redis picks the members to keep, builds a new set of them (whose
    # encoding is computed afresh) and replies with the rest of the old one, in its order.
    kept = random.sample(value.members, remaining)
    rebuilt = new_set(kept, intset_limit(c))
    popped = [member for member in value.ordered() if member not in rebuilt]
    c.notify(SET, b"spop", key)
    c.db.replace(key, rebuilt)
    _propagate_removals(c, key, popped)
    return c.resp.bulk_set(popped)


def _propagate_removals(c, key: bytes, popped: list[bytes]) -> None:  # type: ignore[no-untyped-def]
    """One SREM per member, as spopWithCountCommand propagates them (the bus wraps them)."""
    for member in popped:
        c.propagate([b"SREM", key, member])


propagates("spop")(None)  # logged as what was popped: SREM (or DEL), never at random again


@command("srandmember")
def srandmember(c: Context, argv: list[bytes]) -> bytes:
    if len(argv) > 3:
        return errors.SYNTAX
    if len(argv) == 3:
        return _srandmember_count(c, argv)
    value = _get_set(c.db, argv[1], read=True)
    return c.resp.null if value is None else bulk(value.random_member())


def _srandmember_count(c, argv) -> bytes:  # type: ignore[no-untyped-def]
    count = random_count(argv[2])
    value = _get_set(c.db, argv[1], read=True)
    if value is None or count == 0:
        return EMPTY_ARRAY
    members = value.members
    if count < 0 or count == 1:
        return bulk_array(random_picks(members, abs(count)))
    if count >= len(members):
        return bulk_array(value.ordered())
    return bulk_array(random.sample(members, count))


# -- several sets -------------------------------------------------------------------------------

def _intersection(sets: list[Set | None], limit: int = 0) -> list[bytes]:
    """The members of every set, in the order of the smallest (Redis's sinterGenericCommand);
    at most `limit` of them unless it is 0."""
    present = [s for s in sets if s is not None]
    if len(present) < len(sets):
        return []
    present.sort(key=len)  # stable, as glibc's merge-sorting qsort is for these sizes
    first = present[0]
    others = [s for s in present[1:] if s is not first]
    result = []
    for member in first.ordered():
        if all(member in other for other in others):
            result.append(member)
            if len(result) == limit:
                break
    return result


def _union(sets: list[Set | None], limit: int) -> Set:
    result = Set(True)
    for value in sets:
        if value is not None:
            for member in value.members:
                result.add(member, limit)
    return result


def _difference(sets: list[Set | None], limit: int) -> Set:
    """Redis's two SDIFF algorithms, chosen as it chooses them: they give the same members, but
    not always the same encoding (the second adds every member of the first set first)."""
    first = sets[0]
    if first is None:
        return Set(True)
    present = [s for s in sets if s is not None]
    work_one = len(first) * len(present) // 2
    work_two = sum(len(s) for s in present)
    if work_one <= work_two:
        others = present[1:]
        return new_set((m for m in first.members if not any(m in s for s in others)), limit)
    result = new_set(first.members, limit)
    for value in sets[1:]:
        if value is not None:
            for member in value.members:
                result.remove(member)
            if not result:
                break
    return result


def _store(c, key: bytes, result: Set, event: bytes) -> bytes:  # type: ignore[no-untyped-def]
    """*STORE: the result replaces the destination (its TTL dropped), or deletes it if empty."""
    if result:
        c.db.store(key, result)
        c.notify(SET, event, key)
    elif c.db.delete(key):
        c.notify(GENERIC, b"del", key)
    return integer(len(result))


@command("sinter")
def sinter(c: Context, argv: list[bytes]) -> bytes:
    return c.resp.bulk_set(_intersection(_get_sets(c.db, argv[1:])))


@command("sinterstore")
def sinterstore(c: Context, argv: list[bytes]) -> bytes:
    members = _intersection(_get_sets(c.db, argv[2:]))
    return _store(c, argv[1], new_set(members, intset_limit(c)), b"sinterstore")


@command("sintercard")
def sintercard(c: Context, argv: list[bytes]) -> bytes:
    numkeys = to_int(argv[1], errors.NUMKEYS)
    if numkeys < 1:
        return errors.NUMKEYS
    if numkeys > len(argv) - 2:
        return _TOO_MANY_KEYS
    limit = 0
    i = 2 + numkeys
    while i < len(argv):
        if argv[i].upper() == b"LIMIT" and i + 1 < len(argv):
            limit = to_int(argv[i + 1], errors.LIMIT_NEGATIVE)
            if limit < 0:
                return errors.LIMIT_NEGATIVE
            i += 2
        else:
            return errors.SYNTAX
    return integer(len(_intersection(_get_sets(c.db, argv[2 : 2 + numkeys]), limit)))


@command("sunion")
def sunion(c: Context, argv: list[bytes]) -> bytes:
    return c.resp.bulk_set(_union(_get_sets(c.db, argv[1:]), intset_limit(c)).ordered())


@command("sunionstore")
def sunionstore(c: Context, argv: list[bytes]) -> bytes:
    return _store(c, argv[1], _union(_get_sets(c.db, argv[2:]), intset_limit(c)), b"sunionstore")


@command("sdiff")
def sdiff(c: Context, argv: list[bytes]) -> bytes:
    return c.resp.bulk_set(_difference(_get_sets(c.db, argv[1:]), intset_limit(c)).ordered())


@command("sdiffstore")
def sdiffstore(c: Context, argv: list[bytes]) -> bytes:
    return _store(c, argv[1], _difference(_get_sets(c.db, argv[2:]), intset_limit(c)),
                  b"sdiffstore")


# -- SSCAN --------------------------------------------------------------------------------------

@command("sscan")
def sscan(c: Context, argv: list[bytes]) -> bytes:
    cursor = scan_cursor(argv[2])
    value = _get_set(c.db, argv[1], read=True)
    if value is None:
        return EMPTY_SCAN
    count, pattern, _ = parse_scan_options(argv, 3, with_type=False)
    if value.intset:  # Redis returns a small encoding whole, whatever the cursor
        page, next_cursor = value.ordered(), 0
    else:
        size = len(value.members)
        start = size if cursor == 0 else min(cursor, size)
        next_cursor = max(start - count, 0)
        page = value.members[next_cursor:start]
    match = pattern_matcher(pattern)
    if match is not None:
        page = list(filter(match, page))
    return scan_reply(b"%d" % next_cursor, page)

