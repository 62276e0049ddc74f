"""List commands, blocking ones included (Redis's t_list.c).

A list is a `List`, a collections.deque: O(1) pushes and pops at both ends, and indexing that
walks from the nearer end, so LINDEX / LSET / LRANGE near either end stay cheap on long lists.
Redis 7.0 always reports the encoding "quicklist".

Elements are stored already encoded as RESP bulk strings (`$3\r\nabc\r\n`), as a listpack
stores each with its length: every way out of a list is a bulk-string reply, so LRANGE is one
join and a pop answers with the element itself. Comparisons (LREM, LPOS, LINSERT) encode their
argument the same way. Code that needs the raw bytes (persistence) strips the header and CRLF.

Blocking commands (BLPOP, BRPOP, BLMOVE, BRPOPLPUSH, BLMPOP) first try to serve themselves; when
every key is empty they park on valkdb.core.blocking with a `serve(key)` function that does, later,
exactly what the command would have done on that key. As Redis's dbAdd, a command that creates
a list signals the key as ready; a push onto an existing list cannot have waiters.
"""

from __future__ import annotations

import itertools
from typing import Any

from valkdb import errors
from valkdb.commands.args import LLONG_MIN, clamp_range, parse_mpop, to_int, to_timeout
from valkdb.core.context import Context
from valkdb.core.notifications import GENERIC, LIST
from valkdb.core.registry import command, propagates
from valkdb.errors import CommandError
from valkdb.protocol.encoder import EMPTY_ARRAY, OK, ZERO, array, bulk, integer
from valkdb.store.types import List

_RANK_ZERO = errors.err(
    "ERR RANK can't be zero: use 1 to start from the first match, 2 from the second ... or use "
    "negative to start from the end of the list")
_COUNT_NEGATIVE = errors.err("ERR COUNT can't be negative")
_MAXLEN_NEGATIVE = errors.err("ERR MAXLEN can't be negative")


def _array_of(items: list[bytes]) -> bytes:
    """An array reply of stored (already encoded) elements."""
    return b"*%d\r\n%s" % (len(items), b"".join(items))


def _get_list(db, key: bytes, read: bool = False) -> List | None:  # type: ignore[no-untyped-def]
    """The list at key, None if missing; WRONGTYPE if it holds another type (`read`: a
    reading command's lookup, whose miss is reported)."""
    value = db.read(key) if read else db.lookup(key)
    if value is not None and type(value) is not List:
        raise CommandError(errors.WRONGTYPE)
    return value


def _changed(c, key: bytes, value: List, event: bytes) -> None:  # type: ignore[no-untyped-def]
    """After an in-place change (the keyspace event named `event`): an emptied list is
    deleted, WATCH learns of the change."""
    c.notify(LIST, event, key)
    if not value:
        c.db.delete(key)
        c.notify(GENERIC, b"del", key)
    else:
        c.db.modified(key)


def _where(arg: bytes) -> bool:
    """LEFT or RIGHT (any case): True for LEFT, as Redis's getListPositionFromObjectOrReply."""
    where = arg.upper()
    if where == b"LEFT":
        return True
    if where == b"RIGHT":
        return False
    raise CommandError(errors.SYNTAX)


def _non_negative(arg: bytes, error: bytes) -> int:
    """getPositiveLongFromObjectOrReply: `error` for a non-integer and for a negative."""
    value = to_int(arg, error)
    if value < 0:
        raise CommandError(error)
    return value


def _wrap64(value: int) -> int:
    """C signed 64-bit overflow, for the LONG_MIN corner cases Redis does not guard."""
    return (value + 2**63) % 2**64 - 2**63


# -- pushes ------------------------------------------------------------------------------------

def _push(c, argv: list[bytes], left: bool, only_existing: bool) -> bytes:  # type: ignore[no-untyped-def]
    key = argv[1]
    db = c.db
    value = db.lookup(key)
    if value is None:
        if only_existing:
            return ZERO
        value = List()
        db.store(key, value)
        c.server.blocking.ready(db, key)
    elif type(value) is not List:
        return errors.WRONGTYPE
    else:
        db.modified(key)
    if left:
        value.extendleft(map(bulk, argv[2:]))
    else:
        value.extend(map(bulk, argv[2:]))
    c.notify(LIST, b"lpush" if left else b"rpush", key)
    return integer(len(value))


@command("lpush")
def lpush(c: Context, argv: list[bytes]) -> bytes:
    return _push(c, argv, True, False)


@command("rpush")
def rpush(c: Context, argv: list[bytes]) -> bytes:
    return _push(c, argv, False, False)


@command("lpushx")
def lpushx(c: Context, argv: list[bytes]) -> bytes:
    return _push(c, argv, True, True)


@command("rpushx")
def rpushx(c: Context, argv: list[bytes]) -> bytes:
    return _push(c, argv, False, True)


@command("linsert")
def linsert(c: Context, argv: list[bytes]) -> bytes:
    where = argv[2].upper()
    if where not in (b"BEFORE", b"AFTER"):
        return errors.SYNTAX
    value = _get_list(c.db, argv[1])
    if value is None:
        return ZERO
    try:
        index = value.index(bulk(argv[3]))
    except ValueError:
        return integer(-1)
    value.insert(index if where == b"BEFORE" else index + 1, bulk(argv[4]))
    _changed(c, argv[1], value, b"linsert")
    return integer(len(value))


# -- pops --------------------------------------------------------------------------------------

def _pop_items(value: List, left: bool, count: int) -> list[bytes]:
    pop = value.popleft if left else value.pop
    return [pop() for _ in range(min(count, len(value)))]


def _pop(c, argv: list[bytes], left: bool) -> bytes:  # type: ignore[no-untyped-def]
    if len(argv) > 3:
        return errors.wrong_arity("lpop" if left else "rpop")
    count = _non_negative(argv[2], errors.NOT_POSITIVE) if len(argv) == 3 else None
    key = argv[1]
    value = c.db.lookup(key)
    if value is None:
        return c.resp.null if count is None else c.resp.null_array
    if type(value) is not List:
        return errors.WRONGTYPE
    if count is None:
        item = value.popleft() if left else value.pop()
        _changed(c, key, value, b"lpop" if left else b"rpop")
        return item
    if count == 0:
        return EMPTY_ARRAY
    items = _pop_items(value, left, count)
    _changed(c, key, value, b"lpop" if left else b"rpop")
    return _array_of(items)


@command("lpop")
def lpop(c: Context, argv: list[bytes]) -> bytes:
    return _pop(c, argv, True)


@command("rpop")
def rpop(c: Context, argv: list[bytes]) -> bytes:
    return _pop(c, argv, False)


# -- reads and edits by index ------------------------------------------------------------------

@command("llen")
def llen(c: Context, argv: list[bytes]) -> bytes:
    value = _get_list(c.db, argv[1], read=True)
    return ZERO if value is None else integer(len(value))


@command("lindex")
def lindex(c: Context, argv: list[bytes]) -> bytes:
    value = _get_list(c.db, argv[1], read=True)
    if value is None:
        return c.resp.null
    index = to_int(argv[2])
    if not -len(value) <= index < len(value):
        return c.resp.null
    return value[index]


@command("lset")
def lset(c: Context, argv: list[bytes]) -> bytes:
    value = _get_list(c.db, argv[1])
    if value is None:
        return errors.NO_SUCH_KEY
    index = to_int(argv[2])
    if not -len(value) <= index < len(value):
        return errors.OUT_OF_RANGE
    value[index] = bulk(argv[3])
    _changed(c, argv[1], value, b"lset")
    return OK


def _slice(value: List, first: int, last: int) -> list[bytes]:
    """value[first:last + 1], walking from whichever end is nearer."""
    size = len(value)
    if first <= size - 1 - last:
        return list(itertools.islice(value, first, last + 1))
    items = list(itertools.islice(reversed(value), size - 1 - last, size - first))
    items.reverse()
    return items


@command("lrange")
def lrange(c: Context, argv: list[bytes]) -> bytes:
    start, end = to_int(argv[2]), to_int(argv[3])
    value = _get_list(c.db, argv[1], read=True)
    if value is None:
        return EMPTY_ARRAY
    bounds = clamp_range(start, end, len(value))
    return EMPTY_ARRAY if bounds is None else _array_of(_slice(value, *bounds))


@command("ltrim")
def ltrim(c: Context, argv: list[bytes]) -> bytes:
    start, end = to_int(argv[2]), to_int(argv[3])
    key = argv[1]
    value = _get_list(c.db, key)
    if value is None:
        return OK
    size = len(value)
    bounds = clamp_range(start, end, size)
    if bounds is None:
        value.clear()
    else:
        first, last = bounds
        if last - first + 1 < len(value) // 2:  # keeping little: copy it rather than pop the rest
            kept = _slice(value, first, last)
            value.clear()
            value.extend(kept)
        else:
            for _ in range(first):
                value.popleft()
            for _ in range(len(value) - (last - first + 1)):
                value.pop()
    c.notify(LIST, b"ltrim", key)
    if value:  # Redis signals the change even when nothing was trimmed, but counts none
        c.db.modified(key, size - len(value))
    else:
        c.db.delete(key)
        c.notify(GENERIC, b"del", key)
    return OK


@command("lrem")
def lrem(c: Context, argv: list[bytes]) -> bytes:
    count = to_int(argv[2])
    key = argv[1]
    value = _get_list(c.db, key)
    if value is None:
        return ZERO
    removed = _remove(value, bulk(argv[3]), count)
    if removed:
        _changed(c, key, value, b"lrem")
    return integer(removed)


def _remove(value: List, element: bytes, count: int) -> int:
    """LREM: drop up to |count| copies of element (all for 0), from the tail if count < 0."""
    limit = abs(count) or len(value)
    kept: list[bytes] = []
    removed = 0
    for item in (value if count >= 0 else reversed(value)):
        if removed < limit and item == element:
            removed += 1
        else:
            kept.append(item)
    if removed:
        if count < 0:
            kept.reverse()
        value.clear()
        value.extend(kept)
    return removed


@command("lpos")
def lpos(c: Context, argv: list[bytes]) -> bytes:
    rank, count, maxlen = 1, None, 0
    i = 3
    while i < len(argv):
        option = argv[i].upper()
        if i + 1 >= len(argv) or option not in (b"RANK", b"COUNT", b"MAXLEN"):
            return errors.SYNTAX
        i += 1
        if option == b"RANK":
            rank = to_int(argv[i])
            if rank == 0:
                return _RANK_ZERO
        elif option == b"COUNT":
            count = _non_negative(argv[i], _COUNT_NEGATIVE)
        else:
            maxlen = _non_negative(argv[i], _MAXLEN_NEGATIVE)
        i += 1
    value = _get_list(c.db, argv[1], read=True)
    if value is None:
        return c.resp.null if count is None else EMPTY_ARRAY
    matches = _positions(value, bulk(argv[2]), rank, count, maxlen)
    if count is not None:
        return array([integer(m) for m in matches])
    return integer(matches[0]) if matches else c.resp.null


def _positions(value: List, element: bytes, rank: int, count: int | None, maxlen: int) -> list[int]:
    """LPOS's scan: indexes (from the head) of the matches it reports."""
    from_tail = rank < 0
    if from_tail and rank != LLONG_MIN:  # -LONG_MIN overflows in Redis and stays negative
        rank = -rank
    size = len(value)
    items = reversed(value) if from_tail else iter(value)
    if maxlen:
        items = itertools.islice(items, maxlen)
    found: list[int] = []
    matches = 0
    for index, item in enumerate(items):
        if item != element:
            continue
        matches += 1
        if matches < rank:
            continue
        found.append(size - index - 1 if from_tail else index)
        if count is None or (count and _wrap64(matches - rank + 1) >= count):
            break
    return found


# -- moves between lists -----------------------------------------------------------------------

def _move(c, src: bytes, dst: bytes, from_left: bool, to_left: bool,  # type: ignore[no-untyped-def]
          logged: list[bytes]) -> bytes:
    """LMOVE: pop from src, push onto dst (created if missing); the element, or null. What
    is propagated is `logged`: as Redis rewrites each form (the client's argv for LMOVE and
    RPOPLPUSH, LMOVE / RPOPLPUSH for the blocking ones)."""
    db = c.db
    source = _get_list(db, src)
    if source is None:
        return c.resp.null
    target = _get_list(db, dst)
    item = source.popleft() if from_left else source.pop()
    if target is None:
        target = List()
        db.store(dst, target)
        c.server.blocking.ready(db, dst)
    else:
        db.modified(dst)
    if to_left:
        target.appendleft(item)
    else:
        target.append(item)
    c.notify(LIST, b"lpush" if to_left else b"rpush", dst)
    _changed(c, src, source, b"lpop" if from_left else b"rpop")
    c.propagate(logged)
    return item


@command("lmove")
def lmove(c: Context, argv: list[bytes]) -> bytes:
    from_left, to_left = _where(argv[3]), _where(argv[4])
    return _move(c, argv[1], argv[2], from_left, to_left, argv)


@command("rpoplpush")
def rpoplpush(c: Context, argv: list[bytes]) -> bytes:
    return _move(c, argv[1], argv[2], False, True, argv)


# -- pops from the first non-empty of several lists --------------------------------------------

def _mpop_reply(key: bytes, items: list[bytes]) -> bytes:
    return b"*2\r\n" + bulk(key) + _array_of(items)


def _first_list(db, keys: list[bytes]) -> tuple[bytes, List] | None:  # type: ignore[no-untyped-def]
    """The first key holding a list (lists are never empty), WRONGTYPE on the way included."""
    for key in keys:
        value = _get_list(db, key)
        if value is not None:
            return key, value
    return None


def _mpop_from(c, key: bytes, value: List, left: bool, count: int) -> bytes:  # type: ignore[no-untyped-def]
    items = _pop_items(value, left, count)
    _changed(c, key, value, b"lpop" if left else b"rpop")
    c.propagate([b"LPOP" if left else b"RPOP", key, b"%d" % len(items)])
    return _mpop_reply(key, items)


@command("lmpop")
def lmpop(c: Context, argv: list[bytes]) -> bytes:
    keys, left, count = parse_mpop(argv, 1, b"LEFT", b"RIGHT")
    found = _first_list(c.db, keys)
    if found is None:
        return c.resp.null_array
    return _mpop_from(c, *found, left, count)


# -- blocking commands -------------------------------------------------------------------------

def _block(c, keys: list[bytes], timeout: float, serve: Any) -> bytes:  # type: ignore[no-untyped-def]
    """Wait for serve(key) to reply; the null array on timeout (or at once inside MULTI)."""
    reply = c.server.blocking.block(c, keys, timeout, serve)
    return c.resp.null_array if reply is None else reply


def _serving_pops(c, left: bool, count: int | None):  # type: ignore[no-untyped-def]
    """serve(key) for BLPOP / BRPOP (count None) and BLMPOP: pop for this waiter, or None."""
    db = c.db

    def serve(key: bytes) -> bytes | None:
        value = db.lookup(key)
        if type(value) is not List:
            return None
        if count is not None:
            return _mpop_from(c, key, value, left, count)
        item = value.popleft() if left else value.pop()
        _changed(c, key, value, b"lpop" if left else b"rpop")
        c.propagate([b"LPOP" if left else b"RPOP", key])
        return b"*2\r\n" + bulk(key) + item

    return serve


def _blocking_pop(c, argv: list[bytes], left: bool) -> bytes:  # type: ignore[no-untyped-def]
    timeout = to_timeout(argv[-1])
    keys = argv[1:-1]
    serve = _serving_pops(c, left, None)
    found = _first_list(c.db, keys)
    if found is not None:
        reply = serve(found[0])
        assert reply is not None
        return reply
    return _block(c, keys, timeout, serve)


@command("blpop")
def blpop(c: Context, argv: list[bytes]) -> bytes:
    return _blocking_pop(c, argv, True)


@command("brpop")
def brpop(c: Context, argv: list[bytes]) -> bytes:
    return _blocking_pop(c, argv, False)


@command("blmpop")
def blmpop(c: Context, argv: list[bytes]) -> bytes:
    keys, left, count = parse_mpop(argv, 2, b"LEFT", b"RIGHT")
    timeout = to_timeout(argv[1])
    found = _first_list(c.db, keys)
    if found is not None:
        return _mpop_from(c, *found, left, count)
    return _block(c, keys, timeout, _serving_pops(c, left, count))


def _blocking_move(c, argv: list[bytes], from_left: bool, to_left: bool,  # type: ignore[no-untyped-def]
                   timeout: float) -> bytes:
    """BLMOVE / BRPOPLPUSH. Served at once they propagate as LMOVE / RPOPLPUSH with the
    client's arguments; served later, with Redis's own lower-case `left` / `right`."""
    src, dst = argv[1], argv[2]
    rpoplpush = len(argv) == 4
    if _get_list(c.db, src) is not None:
        logged = [b"RPOPLPUSH", src, dst] if rpoplpush else [b"LMOVE", *argv[1:5]]
        return _move(c, src, dst, from_left, to_left, logged)
    if c.deny_blocking:  # Redis answers a null bulk here, but the null array on a timeout
        return c.resp.null
    db = c.db
    logged = [b"RPOPLPUSH", src, dst] if rpoplpush else [
        b"LMOVE", src, dst, b"left" if from_left else b"right", b"left" if to_left else b"right"]

    def serve(key: bytes) -> bytes | None:
        if type(db.lookup(src)) is not List:
            return None
        try:
            return _move(c, src, dst, from_left, to_left, logged)
        except CommandError as exc:  # dst holds another type: the element stays in src
            return exc.reply

    return _block(c, [src], timeout, serve)


@command("blmove")
def blmove(c: Context, argv: list[bytes]) -> bytes:
    from_left, to_left = _where(argv[3]), _where(argv[4])
    return _blocking_move(c, argv, from_left, to_left, to_timeout(argv[5]))


@command("brpoplpush")
def brpoplpush(c: Context, argv: list[bytes]) -> bytes:
    return _blocking_move(c, argv, False, True, to_timeout(argv[3]))


# Blocking pops and moves log what they did when they did it (possibly served later, from
# another client's push), as the non-blocking command: LPOP/RPOP [count], LMOVE, RPOPLPUSH.
propagates("lmove", "rpoplpush", "lmpop", "blpop", "brpop", "blmpop", "blmove", "brpoplpush")(None)
