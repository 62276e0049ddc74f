"""Sorted-set commands, blocking ones included (Redis's t_zset.c).

A sorted set is a `ZSet`: a dict member -> score, plus `ordered`, a sortedcontainers SortedList
of (score, member) pairs. Tuples compare as Redis orders a sorted set: by score, then by member
bytes (memcmp, the shorter first on a tie), so rank, range and pop operations cost O(log n) as
on Redis's skiplist, without a hand-written one.

Redis's small encoding (listpack, until zset-max-listpack-entries / -value are passed; the
skiplist is never converted back) is only a flag here, for OBJECT ENCODING and for the few
places where Redis's answer depends on the encoding: a listpack is scanned linearly, which
matters for lex ranges over members of different scores, and ZSCAN returns it whole.

Numbers are parsed as Redis does with C's strtod (hex, "infinity", leading spaces in ranges,
overflow refused where Redis refuses it) and scores are replied with c.resp.double.
"""

from __future__ import annotations

import math
import random
import re
from collections.abc import Callable, Iterable
from itertools import islice
from typing import Any

from valkdb import errors
from valkdb.commands.args import LLONG_MAX, LLONG_MIN, clamp_range, parse_mpop, to_int, to_timeout
from valkdb.commands.keys import (
    parse_scan_options,
    pattern_matcher,
    scan_cursor,
    scan_reply,
)
from valkdb.commands.sets import random_picks
from valkdb.core.context import Context
from valkdb.core.notifications import GENERIC, ZSET
from valkdb.core.registry import command, propagates
from valkdb.errors import CommandError
from valkdb.protocol.encoder import EMPTY_ARRAY, ZERO, bulk, bulk_array, format_double, integer
from valkdb.store.types import Set, ZSet

_NAN_SCORE = errors.err("ERR resulting score is not a number (NaN)")
_NOT_FLOAT_RANGE = errors.err("ERR min or max is not a float")
_NOT_LEX_RANGE = errors.err("ERR min or max not valid string range item")
_WEIGHT_NOT_FLOAT = errors.err("ERR weight value is not a float")
_LIMIT_WITH_RANK = errors.err(
    "ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX")
_WITHSCORES_WITH_LEX = errors.err(
    "ERR syntax error, WITHSCORES not supported in combination with BYLEX")
_EMPTY_SCAN = scan_reply(b"0", [])


def _limits(c) -> tuple[int, int]:  # type: ignore[no-untyped-def]
    config = c.server.config
    return config.zset_max_listpack_entries, config.zset_max_listpack_value


def _new_zset(c, first_member: bytes) -> ZSet:  # type: ignore[no-untyped-def]
    """Redis 7.0's ZADD: a new key is a listpack unless its first member is already too long."""
    entries, value = _limits(c)
    return ZSet(listpack=entries != 0 and len(first_member) <= value)


def _zset_from(c, items: list[tuple[float, bytes]]) -> ZSet:  # type: ignore[no-untyped-def]
    """A computed result (Z*STORE): a listpack if small enough (zsetConvertToListpackIfNeeded)."""
    entries, value = _limits(c)
    listpack = len(items) <= entries and max(len(member) for _, member in items) <= value
    zs = ZSet(listpack)
    if listpack:
        items = [(score + 0.0, member) for score, member in items]  # see ZSet.insert
    zs.update((member, score) for score, member in items)
    zs.ordered.update(items)
    return zs


def get_zset(c, key: bytes, read: bool = False) -> ZSet | None:  # type: ignore[no-untyped-def]
    value = c.db.read(key) if read else c.db.lookup(key)
    if value is not None and type(value) is not ZSet:
        raise CommandError(errors.WRONGTYPE)
    return value


def _after_removal(c, key: bytes, zs: ZSet, event: bytes) -> None:  # type: ignore[no-untyped-def]
    c.notify(ZSET, event, key)
    if zs:
        c.db.modified(key)
    else:
        c.db.delete(key)
        c.notify(GENERIC, b"del", key)


# -- numbers, as C's strtod reads them ------------------------------------------------------------

_STRTOD = re.compile(
    rb"[ \t\n\v\f\r]*[+-]?(?:"
    rb"(?P<hex>0[xX](?:[0-9a-fA-F]+\.?[0-9a-fA-F]*|\.[0-9a-fA-F]+)(?:[pP][+-]?[0-9]+)?)"
    rb"|(?P<dec>(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?)"
    rb"|(?P<inf>[iI][nN][fF](?:[iI][nN][iI][tT][yY])?)"
    rb"|(?P<nan>[nN][aA][nN](?:\([0-9A-Za-z_]*\))?))")


def strtod(text: bytes) -> tuple[float, int, bool]:
    """C's strtod: (value, bytes consumed, ERANGE?). Nothing consumed gives (0.0, 0, False)."""
    match = _STRTOD.match(text)
    if match is None:
        return 0.0, 0, False
    number = match.group().lstrip(b" \t\n\v\f\r")
    if match.group("nan"):
        return math.nan, match.end(), False
    if match.group("inf"):
        return (-math.inf if number[:1] == b"-" else math.inf), match.end(), False
    body = number.lstrip(b"+-")
    if match.group("hex"):
        try:
            value = float.fromhex(number.decode())
        except OverflowError:
            value = -math.inf if number[:1] == b"-" else math.inf
        mantissa = re.split(rb"[pP]", body[2:])[0]
    else:
        value = float(number)
        mantissa = re.split(rb"[eE]", body)[0]
    # ERANGE: an overflow, or an underflow to zero of a number that is not zero
    out_of_range = math.isinf(value) or (value == 0 and mantissa.strip(b".0") != b"")
    return value, match.end(), out_of_range


def to_double(arg: bytes, error: bytes = errors.NOT_FLOAT) -> float:
    """Redis's getDoubleFromObject: all of arg a strtod double, no leading space, not NaN,
    no overflow (1e400) or underflow to zero (1e-400)."""
    if len(arg) < 300:  # the common cases, [-]digits[.digits], which float() reads as strtod
        body = arg[1:] if arg[:1] == b"-" else arg
        if body.isdigit() or body.replace(b".", b"", 1).isdigit():
            return float(arg)
    if arg and arg[:1] not in b" \t\n\v\f\r":
        value, end, out_of_range = strtod(arg)
        if (end == len(arg) and not math.isnan(value)
                and not (out_of_range and (math.isinf(value) or value == 0))):
            return value
    raise CommandError(error)


# -- ranges ---------------------------------------------------------------------------------------
#
# A range answers gte_min / lte_max for an item (score, member) and, assuming the items are sorted
# for it, finds by bisection the first item >= min (start) and the first item > max (stop).

class ScoreRange:
    __slots__ = ("min", "minex", "max", "maxex")

    def __init__(self, low: bytes, high: bytes) -> None:
        self.min, self.minex = self._bound(low)
        self.max, self.maxex = self._bound(high)

    @staticmethod
    def _bound(arg: bytes) -> tuple[float, bool]:
        """zslParseRange: '(' makes it exclusive; the text after it is a C string for strtod."""
        exclusive = arg[:1] == b"("
        text = arg[1:] if exclusive else arg
        value, end, _ = strtod(text)
        if (end < len(text) and text[end] != 0) or math.isnan(value):
            raise CommandError(_NOT_FLOAT_RANGE)
        return value, exclusive

    @property
    def empty(self) -> bool:
        return self.min > self.max or (self.min == self.max and (self.minex or self.maxex))

    def gte_min(self, item: tuple[float, bytes]) -> bool:
        return item[0] > self.min if self.minex else item[0] >= self.min

    def lte_max(self, item: tuple[float, bytes]) -> bool:
        return item[0] < self.max if self.maxex else item[0] <= self.max

    def start(self, ordered: Any) -> int:
        if self.minex:
            if self.min == math.inf:
                return len(ordered)
            return ordered.bisect_left((math.nextafter(self.min, math.inf),))
        return ordered.bisect_left((self.min,))

    def stop(self, ordered: Any) -> int:
        if self.maxex:
            return ordered.bisect_left((self.max,))
        if self.max == math.inf:
            return len(ordered)
        return ordered.bisect_left((math.nextafter(self.max, math.inf),))


# Lex bounds as comparable keys: '-' below every member, '+' above, a member m is (1, m).
_LEX_MIN, _LEX_MAX = (0, b""), (2, b"")


class LexRange:
    __slots__ = ("min", "minex", "max", "maxex")

    def __init__(self, low: bytes, high: bytes) -> None:
        self.min, self.minex = self._bound(low)
        self.max, self.maxex = self._bound(high)

    @staticmethod
    def _bound(arg: bytes) -> tuple[tuple[int, bytes], bool]:
        """zslParseLexRangeItem: '-' / '+' alone (up to a NUL), '(' exclusive, '[' inclusive."""
        first = arg[:1]
        if first in (b"-", b"+") and (len(arg) == 1 or arg[1] == 0):
            return (_LEX_MIN if first == b"-" else _LEX_MAX), True
        if first in (b"(", b"["):
            return (1, arg[1:]), first == b"("
        raise CommandError(_NOT_LEX_RANGE)

    @property
    def empty(self) -> bool:
        return self.min > self.max or (self.min == self.max and (self.minex or self.maxex))

    def gte_min(self, item: tuple[float, bytes]) -> bool:
        key = (1, item[1])
        return key > self.min if self.minex else key >= self.min

    def lte_max(self, item: tuple[float, bytes]) -> bool:
        key = (1, item[1])
        return key < self.max if self.maxex else key <= self.max

    def start(self, ordered: Any) -> int:
        return _first_true(len(ordered), lambda i: self.gte_min(ordered[i]))

    def stop(self, ordered: Any) -> int:
        return _first_true(len(ordered), lambda i: not self.lte_max(ordered[i]))


Range = ScoreRange | LexRange


def _first_true(n: int, predicate: Callable[[int], bool]) -> int:
    """The least i < n with predicate(i), for a predicate false then true; n if none."""
    low, high = 0, n
    while low < high:
        middle = (low + high) // 2
        if predicate(middle):
            high = middle
        else:
            low = middle + 1
    return low


def _first_in(zs: ZSet, rng: Range, reverse: bool) -> int | None:
    """Rank of the first item in range (the last when reverse), as Redis's zsl/zzl
    First/LastInRange find it: a listpack is scanned from its end, a skiplist searched."""
    ordered = zs.ordered
    n = len(ordered)
    if not n or rng.empty or not rng.gte_min(ordered[-1]) or not rng.lte_max(ordered[0]):
        return None
    if zs.listpack:
        items = list(ordered)
        if reverse:
            i = next((i for i in range(n - 1, -1, -1) if rng.lte_max(items[i])), -1)
        else:
            i = next((i for i in range(n) if rng.gte_min(items[i])), n)
    else:
        i = rng.stop(ordered) - 1 if reverse else rng.start(ordered)
    if not 0 <= i < n:
        return None
    return i if (rng.gte_min(ordered[i]) if reverse else rng.lte_max(ordered[i])) else None


def _walk(zs: ZSet, rng: Range, reverse: bool, offset: int = 0,
          limit: int = -1) -> tuple[int, list[tuple[float, bytes]]]:
    """Redis's range walk: from the first item in range skip `offset` items unchecked, then
    take items while in range, at most `limit` (negative: no limit). (first rank, items)."""
    first = _first_in(zs, rng, reverse)
    if first is None or offset < 0:  # Redis walks a negative offset off the end
        return 0, []
    n = len(zs)
    at = first - offset if reverse else first + offset
    if not 0 <= at < n:
        return first, []
    ordered = zs.ordered
    items = ordered.islice(0, at + 1, reverse=True) if reverse else ordered.islice(at, n)
    in_range = rng.gte_min if reverse else rng.lte_max
    taken = []
    for item in items:
        if limit == 0 or not in_range(item):
            break
        limit -= 1
        taken.append(item)
    return first, taken


# -- replies --------------------------------------------------------------------------------------

def _scored(c, member: bytes, score: float, nested: bool) -> bytes:  # type: ignore[no-untyped-def]
    pair = bulk(member) + c.resp.double(score)
    return b"*2\r\n" + pair if nested else pair


def _items_reply(c, items: list[tuple[float, bytes]], withscores: bool) -> bytes:  # type: ignore[no-untyped-def]
    """Members, or with scores: a flat array in RESP2, [member, score] pairs in RESP3."""
    if not withscores:
        return bulk_array([member for _, member in items])
    nested = c.resp.version > 2
    body = b"".join([_scored(c, member, score, nested) for score, member in items])
    return b"*%d\r\n%s" % (len(items) if nested else 2 * len(items), body)


# -- ZADD, ZINCRBY, ZREM, reads of one member ------------------------------------------------

_ZADD_FLAGS = (b"NX", b"XX", b"CH", b"INCR", b"GT", b"LT")


def _zadd(c, argv: list[bytes], incr: bool) -> bytes:  # type: ignore[no-untyped-def]
    flags: set[bytes] = {b"INCR"} if incr else set()
    at = 2
    n = len(argv)
    # Options are words; a score never starts with a letter but for inf/infinity.
    while at < n and argv[at][:1].isalpha() and argv[at].upper() in _ZADD_FLAGS:
        flags.add(argv[at].upper())
        at += 1
    pairs = n - at
    if pairs % 2 or not pairs:
        return errors.SYNTAX
    nx = xx = gt = lt = False
    if flags:
        nx, xx, gt, lt = b"NX" in flags, b"XX" in flags, b"GT" in flags, b"LT" in flags
        incr = b"INCR" in flags
        if nx and xx:
            return errors.err("ERR XX and NX options at the same time are not compatible")
        if (gt and nx) or (lt and nx) or (gt and lt):
            return errors.err(
                "ERR GT, LT, and/or NX options at the same time are not compatible")
        if incr and pairs > 2:
            return errors.err("ERR INCR option supports a single increment-element pair")
    scores = [to_double(argv[i]) for i in range(at, len(argv), 2)]
    key = argv[1]
    zs = get_zset(c, key)
    if zs is None:
        if xx:
            return c.resp.null if incr else ZERO
        zs = _new_zset(c, argv[at + 1])
        c.db.store(key, zs)
    limits = _limits(c)
    added = updated = processed = 0
    score = 0.0
    for score, member in zip(scores, argv[at + 1 :: 2], strict=True):
        current = zs.get(member)
        if current is None:
            if xx:
                continue
            zs.insert(member, score, limits)
            added += 1
        else:
            if nx:
                continue
            if incr:
                score += current
                if math.isnan(score):
                    return _NAN_SCORE
            if (lt and score >= current) or (gt and score <= current):
                continue
            if score != current:
                zs.rescore(member, current, score)
                updated += 1
        processed += 1
    if added or updated:
        c.db.modified(key)
        c.notify(ZSET, b"zincr" if incr else b"zadd", key)
    if added:
        c.server.blocking.ready(c.db, key)
    if incr:
        return c.resp.double(score) if processed else c.resp.null
    return integer(added + updated if b"CH" in flags else added)


@command("zadd")
def zadd(c: Context, argv: list[bytes]) -> bytes:
    if len(argv) == 4 and not argv[2][:1].isalpha():  # ZADD key score member: no options
        score = to_double(argv[2])
        zs = get_zset(c, argv[1])
        if zs is not None:
            current = zs.get(argv[3])
            if current is not None:  # an update: the one case worth a short path
                if score != current:
                    zs.rescore(argv[3], current, score)
                    c.db.modified(argv[1])
                    c.notify(ZSET, b"zadd", argv[1])
                return ZERO
    return _zadd(c, argv, incr=False)


@command("zincrby")
def zincrby(c: Context, argv: list[bytes]) -> bytes:
    return _zadd(c, argv, incr=True)


@command("zrem")
def zrem(c: Context, argv: list[bytes]) -> bytes:
    key = argv[1]
    zs = get_zset(c, key)
    if zs is None:
        return ZERO
    removed = 0
    for member in argv[2:]:
        removed += zs.discard(member)
        if not zs:
            break
    if removed:
        _after_removal(c, key, zs, b"zrem")
    return integer(removed)


@command("zcard")
def zcard(c: Context, argv: list[bytes]) -> bytes:
    zs = get_zset(c, argv[1], read=True)
    return integer(len(zs)) if zs is not None else ZERO


@command("zscore")
def zscore(c: Context, argv: list[bytes]) -> bytes:
    zs = get_zset(c, argv[1], read=True)
    score = None if zs is None else zs.get(argv[2])
    return c.resp.null if score is None else c.resp.double(score)


@command("zmscore")
def zmscore(c: Context, argv: list[bytes]) -> bytes:
    zs: dict = get_zset(c, argv[1], read=True) or {}
    null, double = c.resp.null, c.resp.double
    parts = [null if (score := zs.get(m)) is None else double(score) for m in argv[2:]]
    return b"*%d\r\n%s" % (len(parts), b"".join(parts))


def _zrank(c, argv, reverse: bool) -> bytes:  # type: ignore[no-untyped-def]
    zs = get_zset(c, argv[1], read=True)
    rank = None if zs is None else zs.rank(argv[2])
    if rank is None:
        return c.resp.null
    return integer(len(zs) - 1 - rank if reverse else rank)  # type: ignore[arg-type]


@command("zrank")
def zrank(c: Context, argv: list[bytes]) -> bytes:
    return _zrank(c, argv, reverse=False)


@command("zrevrank")
def zrevrank(c: Context, argv: list[bytes]) -> bytes:
    return _zrank(c, argv, reverse=True)


# -- counts and ranges --------------------------------------------------------------------------

def _count(c, argv, rng: Range) -> bytes:  # type: ignore[no-untyped-def]
    zs = get_zset(c, argv[1], read=True)
    if zs is None:
        return ZERO
    if zs.listpack:  # counted by walking, as Redis's listpack code does
        return integer(len(_walk(zs, rng, reverse=False)[1]))
    first = _first_in(zs, rng, reverse=False)
    if first is None:
        return ZERO
    last = _first_in(zs, rng, reverse=True)
    return integer(0 if last is None else last - first + 1)


@command("zcount")
def zcount(c: Context, argv: list[bytes]) -> bytes:
    return _count(c, argv, ScoreRange(argv[2], argv[3]))


@command("zlexcount")
def zlexcount(c: Context, argv: list[bytes]) -> bytes:
    return _count(c, argv, LexRange(argv[2], argv[3]))


RANK, SCORE, LEX = "rank", "score", "lex"


def _zrange(c, argv: list[bytes], src_at: int, store: bool,  # type: ignore[no-untyped-def]
            by: str | None = None, reverse: bool | None = None) -> bytes:
    """ZRANGE, ZRANGESTORE and the older Z[REV]RANGE[BYSCORE|BYLEX] (zrangeGenericCommand):
    `by` and `reverse` are fixed by the older commands, chosen by options for the newer."""
    withscores = False
    offset, limit = 0, -1
    i = src_at + 3
    while i < len(argv):
        opt = argv[i].upper()
        if not store and opt == b"WITHSCORES":
            withscores = True
        elif opt == b"LIMIT" and len(argv) - i - 1 >= 2:
            offset, limit = to_int(argv[i + 1]), to_int(argv[i + 2])
            i += 2
        elif reverse is None and opt == b"REV":
            reverse = True
        elif by is None and opt in (b"BYSCORE", b"BYLEX"):
            by = SCORE if opt == b"BYSCORE" else LEX
        else:
            return errors.SYNTAX
        i += 1
    by = by or RANK
    reverse = bool(reverse)
    if limit != -1 and by == RANK:
        return _LIMIT_WITH_RANK
    if withscores and by == LEX:
        return _WITHSCORES_WITH_LEX
    low, high = argv[src_at + 1], argv[src_at + 2]
    if reverse and by != RANK:
        low, high = high, low  # given as max, min
    if by == RANK:
        start, end = to_int(low), to_int(high)
    else:
        rng: Range = ScoreRange(low, high) if by == SCORE else LexRange(low, high)
    zs = get_zset(c, argv[src_at], read=True)
    if zs is None:
        return _store_range(c, argv[1], []) if store else EMPTY_ARRAY
    if by == RANK:
        items = _rank_items(zs, start, end, reverse)
    else:
        items = _walk(zs, rng, reverse, offset, limit)[1]
    if store:
        return _store_range(c, argv[1], items)
    return _items_reply(c, items, withscores)


def _rank_items(zs: ZSet, start: int, end: int, reverse: bool) -> list[tuple[float, bytes]]:
    span = clamp_range(start, end, len(zs))
    if span is None:
        return []
    start, end = span
    if reverse:
        n = len(zs)
        return list(zs.ordered.islice(n - 1 - end, n - start, reverse=True))
    return list(zs.ordered.islice(start, end + 1))


def _store_range(c, dst: bytes, items: list[tuple[float, bytes]]) -> bytes:  # type: ignore[no-untyped-def]
    """ZRANGESTORE's destination: built from a listpack up, as Redis adds member by member."""
    if not items:
        if c.db.delete(dst):
            c.notify(GENERIC, b"del", dst)
        return ZERO
    zs = ZSet(listpack=True)
    limits = _limits(c)
    for score, member in items:
        zs.insert(member, score, limits)
    c.db.store(dst, zs)
    c.notify(ZSET, b"zrangestore", dst)
    c.server.blocking.ready(c.db, dst)
    return integer(len(zs))


@command("zrange")
def zrange(c: Context, argv: list[bytes]) -> bytes:
    return _zrange(c, argv, 1, store=False)


@command("zrangestore")
def zrangestore(c: Context, argv: list[bytes]) -> bytes:
    return _zrange(c, argv, 2, store=True)


@command("zrevrange")
def zrevrange(c: Context, argv: list[bytes]) -> bytes:
    return _zrange(c, argv, 1, store=False, by=RANK, reverse=True)


@command("zrangebyscore")
def zrangebyscore(c: Context, argv: list[bytes]) -> bytes:
    return _zrange(c, argv, 1, store=False, by=SCORE, reverse=False)


@command("zrevrangebyscore")
def zrevrangebyscore(c: Context, argv: list[bytes]) -> bytes:
    return _zrange(c, argv, 1, store=False, by=SCORE, reverse=True)


@command("zrangebylex")
def zrangebylex(c: Context, argv: list[bytes]) -> bytes:
    return _zrange(c, argv, 1, store=False, by=LEX, reverse=False)


@command("zrevrangebylex")
def zrevrangebylex(c: Context, argv: list[bytes]) -> bytes:
    return _zrange(c, argv, 1, store=False, by=LEX, reverse=True)


# -- removal of ranges and pops -------------------------------------------------------------------

def _remove_span(c, key: bytes, zs: ZSet, start: int, stop: int,  # type: ignore[no-untyped-def]
                 event: bytes) -> bytes:
    removed = zs.delete_span(start, stop) if stop > start else 0
    if removed:
        _after_removal(c, key, zs, event)
    return integer(removed)


@command("zremrangebyrank")
def zremrangebyrank(c: Context, argv: list[bytes]) -> bytes:
    start, end = to_int(argv[2]), to_int(argv[3])
    zs = get_zset(c, argv[1])
    if zs is None:
        return ZERO
    span = clamp_range(start, end, len(zs))
    if span is None:
        return ZERO
    return _remove_span(c, argv[1], zs, span[0], span[1] + 1, b"zremrangebyrank")


def _remove_range(c, argv, rng: Range, event: bytes) -> bytes:  # type: ignore[no-untyped-def]
    zs = get_zset(c, argv[1])
    if zs is None:
        return ZERO
    first, items = _walk(zs, rng, reverse=False)
    return _remove_span(c, argv[1], zs, first, first + len(items), event)


@command("zremrangebyscore")
def zremrangebyscore(c: Context, argv: list[bytes]) -> bytes:
    return _remove_range(c, argv, ScoreRange(argv[2], argv[3]), b"zremrangebyscore")


@command("zremrangebylex")
def zremrangebylex(c: Context, argv: list[bytes]) -> bytes:
    return _remove_range(c, argv, LexRange(argv[2], argv[3]), b"zremrangebylex")


def _pop(c, key: bytes, zs: ZSet, highest: bool, count: int,  # type: ignore[no-untyped-def]
         logged: list[bytes] | None) -> list[tuple[float, bytes]]:
    """Pop up to count members. Propagated: `logged` (ZPOPMIN/MAX as sent, BZPOPMIN/MAX as
    ZPOPMIN/MAX key), else as Z/BZMPOP are, ZPOPMIN/MAX key <number popped>."""
    popped = [zs.pop_end(highest) for _ in range(min(count, len(zs)))]
    _after_removal(c, key, zs, b"zpopmax" if highest else b"zpopmin")
    name = b"ZPOPMAX" if highest else b"ZPOPMIN"
    c.propagate(logged or [name, key, b"%d" % len(popped)])
    return popped


def _pop_reply(c, items: list[tuple[float, bytes]], nested: bool) -> bytes:  # type: ignore[no-untyped-def]
    body = b"".join([_scored(c, member, score, nested) for score, member in items])
    return b"*%d\r\n%s" % (len(items) if nested else 2 * len(items), body)


def _zpop(c, argv, highest: bool) -> bytes:  # type: ignore[no-untyped-def]
    if len(argv) > 3:
        return errors.SYNTAX
    count = -1
    if len(argv) == 3:
        count = to_int(argv[2], errors.NOT_POSITIVE)
        if count < 0:
            return errors.NOT_POSITIVE
    zs = get_zset(c, argv[1])
    if zs is None or count == 0:
        return EMPTY_ARRAY
    items = _pop(c, argv[1], zs, highest, max(count, 1), argv)
    return _pop_reply(c, items, nested=c.resp.version > 2 and count != -1)


@command("zpopmin")
def zpopmin(c: Context, argv: list[bytes]) -> bytes:
    return _zpop(c, argv, highest=False)


@command("zpopmax")
def zpopmax(c: Context, argv: list[bytes]) -> bytes:
    return _zpop(c, argv, highest=True)


def _keyed_pop_reply(c, key: bytes, items, multi: bool) -> bytes:  # type: ignore[no-untyped-def]
    """BZPOPMIN/MAX: [key, member, score]; Z/BZMPOP: [key, [[member, score] ...]]."""
    if multi:
        return b"*2\r\n" + bulk(key) + _pop_reply(c, items, nested=True)
    score, member = items[0]
    return b"*3\r\n" + bulk(key) + _scored(c, member, score, nested=False)


def _keyed_pop(c, key: bytes, zs: ZSet, highest: bool, count: int, multi: bool) -> bytes:  # type: ignore[no-untyped-def]
    logged = None if multi else [b"ZPOPMAX" if highest else b"ZPOPMIN", key]
    return _keyed_pop_reply(c, key, _pop(c, key, zs, highest, count, logged), multi)


def _pop_first(c, keys: list[bytes], highest: bool, count: int, multi: bool) -> bytes | None:  # type: ignore[no-untyped-def]
    """Pop from the first key holding a sorted set; None when none does."""
    for key in keys:
        zs = get_zset(c, key)
        if zs:
            return _keyed_pop(c, key, zs, highest, count, multi)
    return None


def _blocking_pop(c, keys: list[bytes], timeout: float, highest: bool,  # type: ignore[no-untyped-def]
                  count: int, multi: bool) -> bytes:
    reply = _pop_first(c, keys, highest, count, multi)
    if reply is not None:
        return reply

    def serve(key: bytes) -> bytes | None:
        zs = c.db.lookup(key)
        if type(zs) is not ZSet or not zs:
            return None
        return _keyed_pop(c, key, zs, highest, count, multi)

    reply = c.server.blocking.block(c, keys, timeout, serve)
    return c.resp.null_array if reply is None else reply


@command("bzpopmin")
def bzpopmin(c: Context, argv: list[bytes]) -> bytes:
    return _blocking_pop(c, argv[1:-1], to_timeout(argv[-1]), False, 1, multi=False)


@command("bzpopmax")
def bzpopmax(c: Context, argv: list[bytes]) -> bytes:
    return _blocking_pop(c, argv[1:-1], to_timeout(argv[-1]), True, 1, multi=False)


@command("zmpop")
def zmpop(c: Context, argv: list[bytes]) -> bytes:
    keys, highest, count = parse_mpop(argv, 1, b"MAX", b"MIN")
    reply = _pop_first(c, keys, highest, count, multi=True)
    return c.resp.null_array if reply is None else reply


@command("bzmpop")
def bzmpop(c: Context, argv: list[bytes]) -> bytes:
    keys, highest, count = parse_mpop(argv, 2, b"MAX", b"MIN")
    return _blocking_pop(c, keys, to_timeout(argv[1]), highest, count, multi=True)


# -- ZRANDMEMBER --------------------------------------------------------------------------------

@command("zrandmember")
def zrandmember(c: Context, argv: list[bytes]) -> bytes:
    if len(argv) == 2:
        zs = get_zset(c, argv[1], read=True)
        if zs is None:
            return c.resp.null
        return bulk(zs.ordered[random.randrange(len(zs))][1])
    count = to_int(argv[2])
    if count == LLONG_MIN:
        return errors.LONG_RANGE
    if len(argv) > 4 or (len(argv) == 4 and argv[3].upper() != b"WITHSCORES"):
        return errors.SYNTAX
    withscores = len(argv) == 4
    if withscores and not -(LLONG_MAX // 2) <= count <= LLONG_MAX // 2:  # 2 * count overflows
        return errors.VALUE_OUT_OF_RANGE
    zs = get_zset(c, argv[1], read=True)
    if zs is None or count == 0:
        return EMPTY_ARRAY
    ordered, n = zs.ordered, len(zs)
    if count < 0:  # repetitions allowed
        items = random_picks(ordered, -count)
    elif count >= n:
        items = list(ordered)
    else:
        items = [ordered[i] for i in random.sample(range(n), count)]
    return _items_reply(c, items, withscores)


# -- ZUNION, ZINTER, ZDIFF and their STORE forms, ZINTERCARD ---------------------------------------

UNION, INTER, DIFF = "union", "inter", "diff"


class _Source:
    """One input of a set operation: a sorted set, a set (scores 1) or nothing, with a weight."""

    __slots__ = ("value", "weight")

    def __init__(self, value: Any) -> None:
        self.value = value
        self.weight = 1.0

    def __len__(self) -> int:
        return 0 if self.value is None else len(self.value)

    def items(self) -> Iterable[tuple[bytes, float]]:
        if self.value is None:
            return ()
        if type(self.value) is ZSet:
            return self.value.items()
        return ((member, 1.0) for member in self.value)

    def score(self, member: bytes) -> float | None:
        if self.value is None or member not in self.value:
            return None
        return self.value[member] if type(self.value) is ZSet else 1.0


def _aggregate(how: bytes, total: float, value: float) -> float:
    if how == b"SUM":
        total += value
        return 0.0 if math.isnan(total) else total  # inf + -inf is 0 by Redis's convention
    if how == b"MIN":
        return value if value < total else total
    return value if value > total else total


def _set_operation(c, argv: list[bytes], numkeys_at: int, op: str,  # type: ignore[no-untyped-def]
                   store: bool = False, card: bool = False) -> bytes:
    """zunionInterDiffGenericCommand: the keys are looked up before the options are read."""
    numkeys = to_int(argv[numkeys_at])
    if numkeys < 1:
        return errors.err(f"ERR at least 1 input key is needed for '{c.last_command}' command")
    if numkeys > len(argv) - numkeys_at - 1:
        return errors.SYNTAX
    sources = []
    for key in argv[numkeys_at + 1 : numkeys_at + 1 + numkeys]:
        value = c.db.read(key)
        if value is not None and type(value) is not ZSet and type(value) is not Set:
            return errors.WRONGTYPE
        sources.append(_Source(value))
    how, withscores, limit = b"SUM", False, 0
    i = numkeys_at + 1 + numkeys
    while i < len(argv):
        opt, remaining = argv[i].upper(), len(argv) - i
        if op != DIFF and not card and remaining >= numkeys + 1 and opt == b"WEIGHTS":
            for source, arg in zip(sources, argv[i + 1 : i + 1 + numkeys], strict=True):
                source.weight = to_double(arg, _WEIGHT_NOT_FLOAT)
            i += numkeys + 1
        elif op != DIFF and not card and remaining >= 2 and opt == b"AGGREGATE":
            how = argv[i + 1].upper()
            if how not in (b"SUM", b"MIN", b"MAX"):
                return errors.SYNTAX
            i += 2
        elif not store and not card and opt == b"WITHSCORES":
            withscores = True
            i += 1
        elif card and remaining >= 2 and opt == b"LIMIT":
            limit = to_int(argv[i + 1], errors.LIMIT_NEGATIVE)
            if limit < 0:
                return errors.LIMIT_NEGATIVE
            i += 2
        else:
            return errors.SYNTAX
    if op != DIFF:
        sources.sort(key=len)  # smallest first, as Redis does
    if card:
        return integer(_intersection_size(sources, limit))
    if op == UNION:
        scores = _union(sources, how)
    elif op == INTER:
        scores = _intersection(sources, how)
    else:
        scores = _difference(sources)
    items = [(score, member) for member, score in scores.items()]
    if store:
        return _store_result(c, argv[1], items, argv[0].lower())
    items.sort()
    return _items_reply(c, items, withscores)


def _weighted(source: _Source, score: float) -> float:
    value = source.weight * score
    return 0.0 if math.isnan(value) else value


def _union(sources: list[_Source], how: bytes) -> dict[bytes, float]:
    scores: dict[bytes, float] = {}
    for source in sources:
        for member, score in source.items():
            value = _weighted(source, score)
            total = scores.get(member)
            scores[member] = value if total is None else _aggregate(how, total, value)
    return scores


def _intersection(sources: list[_Source], how: bytes) -> dict[bytes, float]:
    scores: dict[bytes, float] = {}
    first, others = sources[0], sources[1:]
    for member, score in first.items():
        total = _weighted(first, score)
        for source in others:
            found = score if source.value is first.value else source.score(member)
            if found is None:
                break
            total = _aggregate(how, total, found * source.weight)
        else:
            scores[member] = total
    return scores


def _intersection_size(sources: list[_Source], limit: int) -> int:
    first, others = sources[0], sources[1:]
    size = 0
    for member, _ in first.items():
        if all(source.value is first.value or source.score(member) is not None
               for source in others):
            size += 1
            if size == limit:
                break
    return size


def _difference(sources: list[_Source]) -> dict[bytes, float]:
    first, others = sources[0], sources[1:]
    if any(source.value is first.value for source in others):
        return {}
    return {member: score for member, score in first.items()
            if all(source.score(member) is None for source in others)}


def _store_result(c, dst: bytes, items: list[tuple[float, bytes]],  # type: ignore[no-untyped-def]
                  event: bytes) -> bytes:
    if not items:
        if c.db.delete(dst):
            c.notify(GENERIC, b"del", dst)
        return ZERO
    zs = _zset_from(c, items)
    c.db.store(dst, zs)
    c.notify(ZSET, event, dst)
    c.server.blocking.ready(c.db, dst)
    return integer(len(zs))


@command("zunion")
def zunion(c: Context, argv: list[bytes]) -> bytes:
    return _set_operation(c, argv, 1, UNION)


@command("zinter")
def zinter(c: Context, argv: list[bytes]) -> bytes:
    return _set_operation(c, argv, 1, INTER)


@command("zdiff")
def zdiff(c: Context, argv: list[bytes]) -> bytes:
    return _set_operation(c, argv, 1, DIFF)


@command("zunionstore")
def zunionstore(c: Context, argv: list[bytes]) -> bytes:
    return _set_operation(c, argv, 2, UNION, store=True)


@command("zinterstore")
def zinterstore(c: Context, argv: list[bytes]) -> bytes:
    return _set_operation(c, argv, 2, INTER, store=True)


@command("zdiffstore")
def zdiffstore(c: Context, argv: list[bytes]) -> bytes:
    return _set_operation(c, argv, 2, DIFF, store=True)


@command("zintercard")
def zintercard(c: Context, argv: list[bytes]) -> bytes:
    return _set_operation(c, argv, 1, INTER, card=True)


# -- ZSCAN --------------------------------------------------------------------------------------
#
# A listpack is returned whole in one call (cursor 0), as Redis does. A bigger set is walked in
# its dict's insertion order, which a score update does not change: the cursor holds the offset
# reached and the set's deletion counter then; the next call moves the offset back by the
# deletions since, so a member present for the whole scan is returned at least once (a member
# deleted before the offset can cause a duplicate, which SCAN's contract allows).

_DELETION_BITS = 24


@command("zscan")
def zscan(c: Context, argv: list[bytes]) -> bytes:
    cursor = scan_cursor(argv[2])
    zs = get_zset(c, argv[1], read=True)
    if zs is None:
        return _EMPTY_SCAN
    count, pattern, _ = parse_scan_options(argv, 3, with_type=False)
    next_cursor = 0
    if zs.listpack:
        pairs = [(member, score) for score, member in zs.ordered]
    else:
        mask = (1 << _DELETION_BITS) - 1
        offset, seen_deletions = cursor >> _DELETION_BITS, cursor & mask
        offset = max(0, offset - ((zs.deletions - seen_deletions) & mask))
        pairs = list(islice(zs.items(), offset, offset + count))
        offset += len(pairs)
        if offset < len(zs):
            next_cursor = (offset << _DELETION_BITS) | (zs.deletions & mask)
    match = pattern_matcher(pattern)
    flat = []
    for member, score in pairs:
        if match is None or match(member):
            flat += [member, format_double(score)]
    return scan_reply(b"%d" % next_cursor, flat)


# Every pop, blocking or not, logs itself as ZPOPMIN/ZPOPMAX key count (see _pop).
propagates("zpopmin", "zpopmax", "zmpop", "bzpopmin", "bzpopmax", "bzmpop")(None)
