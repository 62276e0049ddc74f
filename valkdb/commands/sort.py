"""SORT and SORT_RO (Redis's sort.c).

SORT reads a list, set or sorted set, orders its elements (as numbers, or as strings with
ALPHA), optionally by weights fetched from other keys (BY pattern), picks a LIMIT window, and
either replies with the elements or with values fetched through GET patterns, or writes the
result to a list (STORE, SORT only).

What Redis's choices mean here:

- Numbers are read as C's strtod reads them (leading spaces, hex floats, "inf"; not "nan", not
  an overflow or an inexact underflow, nothing left over), up to the first NUL byte, which C
  never looks past. A value that fails does not stop the sort: the error comes after it.
- Numeric order breaks ties between equal scores by the elements' bytes, so it is a total
  order. String order (ALPHA) compares bytes: a plain memcmp when the result is stored, and
  strcoll, which under the C / C.UTF-8 collation Redis runs with is strcmp and stops at a NUL,
  when it is returned. Elements that compare equal keep their input order (glibc's qsort is a
  merge sort); Python's sort is stable too, so key functions reproduce it without comparisons
  written in Python.
- A BY pattern without `*` means "do not sort": lists and sorted sets come out in their own
  order (reversed by DESC, LIMIT taken straight from that order), a set in its iteration order,
  except when the result is stored or a script runs the command: then a set is sorted ALPHA so
  the outcome is the same on replicas.
- Option words are C strings too: `ASC\\0junk` is ASC, and a pattern is searched for `*` and
  `->` only up to its first NUL.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from itertools import islice
from typing import Any, cast

from valkdb import errors
from valkdb.commands.args import to_int
from valkdb.core.context import Context
from valkdb.core.notifications import GENERIC, LIST
from valkdb.core.registry import command
from valkdb.errors import CommandError
from valkdb.protocol.encoder import ZERO, bulk, bulk_items, integer
from valkdb.store.types import Hash, List, Set, ZSet

_SCORE_ERROR = errors.err("ERR One or more scores can't be converted into double")
_DBL_MIN = 2.2250738585072014e-308

# strtod's grammar, whole (what follows the number must be nothing at all).
_SPACES = rb"[ \t\n\v\f\r]*"
_DECIMAL = re.compile(_SPACES + rb"([+-]?(?:\d+\.?\d*|\.\d+))((?:[eE][+-]?\d+)?)")
_HEX = re.compile(_SPACES + rb"([+-]?)0[xX]([0-9a-fA-F]*)(?:\.([0-9a-fA-F]*))?(?:[pP]([+-]?\d+))?")
_INFINITY = re.compile(_SPACES + rb"([+-]?)(?:inf|infinity)", re.IGNORECASE)


def _tiny_and_inexact(result: float, text: bytes) -> bool:
    """A decimal that rounded to zero or a subnormal and is not that value exactly (strtod's
    underflow, ERANGE)."""
    try:
        return Decimal(result) != Decimal(text.decode())
    except InvalidOperation:  # an exponent too long for Decimal: the value is 0, or nothing
        return True


def _hex_value(sign: bytes, whole: bytes, fraction: bytes, exponent: bytes | None) -> float | None:
    """A hexadecimal float, None where strtod reports ERANGE (overflow; a value below the
    smallest normal double that no double holds exactly)."""
    digits = whole + fraction
    mantissa = int(digits, 16)  # a power-of-two base: no limit on the number of digits
    if not mantissa:
        return -0.0 if sign == b"-" else 0.0
    exp_digits = (exponent or b"0").lstrip(b"+-").lstrip(b"0")
    if len(exp_digits) > 18:
        return None  # far beyond any double: an overflow or an underflow to zero
    power = int(exp_digits or b"0") * (-1 if exponent and exponent[:1] == b"-" else 1)
    shift = power - 4 * len(fraction)  # the value is mantissa * 2**shift
    if mantissa.bit_length() + shift <= -1022:  # tiny: exact only on the 2**-1074 grid
        drop = -(shift + 1074)
        if drop > 0 and (drop > mantissa.bit_length() or mantissa & ((1 << drop) - 1)):
            return None
    text = f"0x{whole.decode() or '0'}.{fraction.decode()}p{power}"
    try:
        value = float.fromhex(text)
    except OverflowError:
        return None
    return -value if sign == b"-" else value


def strtod(arg: bytes) -> float | None:
    """The double SORT reads from a value (strtod up to the first NUL), or None when Redis
    counts it as not convertible."""
    if arg.isdigit():  # the common case, digits only (and not so many they overflow)
        value = float(arg)
        return None if value == math.inf else value
    text = errors.c_string(arg)
    if not text:
        return 0.0  # strtod converts nothing and stops on the terminator: accepted as 0
    match = _DECIMAL.fullmatch(text)
    if match is not None:
        number = match.group(1) + match.group(2)
        value = float(number)
        if math.isinf(value):
            return None  # overflow
        if -_DBL_MIN < value < _DBL_MIN and match.group(1).strip(b"+-.0"):
            # a nonzero number that came out zero or subnormal: an underflow unless exact
            if value == 0 or _tiny_and_inexact(value, number):
                return None
        return value
    match = _HEX.fullmatch(text)
    if match is not None:
        whole, fraction = match.group(2), match.group(3) or b""
        if whole or fraction:
            return _hex_value(match.group(1), whole, fraction, match.group(4))
        return None  # "0x" with no digit: strtod reads the 0 and stops at the x
    match = _INFINITY.fullmatch(text)
    if match is not None:
        return -math.inf if match.group(1) == b"-" else math.inf
    return None  # NaN, or something left over


class _Pattern:
    """A BY / GET pattern, split once: `#` (the element itself), a constant (no `*`: nothing
    is looked up), or prefix + element + suffix naming a string key, or a hash's field after
    `->`."""

    __slots__ = ("itself", "constant", "prefix", "suffix", "field")

    def __init__(self, pattern: bytes) -> None:
        head = errors.c_string(pattern)
        self.itself = head == b"#"
        star = head.find(b"*")
        self.constant = star < 0
        self.prefix = pattern[:star]
        arrow = head.find(b"->", star + 1)
        self.field: bytes | None = None
        if arrow >= 0 and arrow + 2 < len(head):
            self.suffix = pattern[star + 1 : arrow]
            self.field = pattern[arrow + 2 :]
        else:
            self.suffix = pattern[star + 1 :]

    def lookup(self, db: Any, element: bytes) -> bytes | None:
        if self.itself:
            return element
        if self.constant:
            return None
        value = db.read(self.prefix + element + self.suffix)
        if self.field is None:
            return value if type(value) is bytes else None
        return value.get(self.field) if type(value) is Hash else None


class _Options:
    __slots__ = ("desc", "alpha", "start", "count", "by", "dontsort", "store", "gets")

    def __init__(self) -> None:
        self.desc = False
        self.alpha = False
        self.start = 0
        self.count = -1
        self.by: bytes | None = None
        self.dontsort = False
        self.store: bytes | None = None
        self.gets: list[_Pattern] = []


def _parse(argv: list[bytes], readonly: bool) -> _Options:
    options = _Options()
    i, n = 2, len(argv)
    while i < n:
        word = errors.c_string(argv[i]).lower()
        left = n - i - 1
        if word == b"asc":
            options.desc = False
        elif word == b"desc":
            options.desc = True
        elif word == b"alpha":
            options.alpha = True
        elif word == b"limit" and left >= 2:
            options.start = to_int(argv[i + 1])
            options.count = to_int(argv[i + 2])
            i += 2
        elif word == b"store" and not readonly and left >= 1:
            options.store = argv[i + 1]
            i += 1
        elif word == b"by" and left >= 1:
            options.by = argv[i + 1]
            if b"*" not in errors.c_string(options.by):
                options.dontsort = True  # and stays so, whatever BY comes later
            i += 1
        elif word == b"get" and left >= 1:
            options.gets.append(_Pattern(argv[i + 1]))
            i += 1
        else:
            raise CommandError(errors.SYNTAX)
        i += 1
    return options


def _raw(element: bytes) -> bytes:
    """A list element as stored (a RESP bulk string) back to its bytes."""
    return element[element.index(b"\n") + 1 : -2]


def _native_window(value: Any, start: int, end: int, desc: bool) -> list[bytes]:
    """Elements start..end of a list or sorted set in its own order (reversed by DESC)."""
    size = len(value)
    if end < start:
        return []
    if type(value) is List:
        if not desc:
            return [_raw(e) for e in islice(value, start, end + 1)]
        # DESC: positions size-1-end .. size-1-start, from whichever end of the deque is nearer
        if start > size // 2:
            window = list(islice(value, size - 1 - end, size - start))
            window.reverse()
        else:
            window = list(islice(reversed(value), start, end + 1))
        return [_raw(e) for e in window]
    ordered = value.ordered
    if desc:
        return [m for _, m in ordered.islice(size - 1 - end, size - start, reverse=True)]
    return [m for _, m in ordered.islice(start, end + 1)]


def _all_elements(value: Any) -> list[bytes]:
    if type(value) is List:
        return [_raw(e) for e in value]
    if type(value) is Set:
        return list(value.ordered())
    return [m for _, m in value.ordered]


def _sorted(c: Context, elements: list[bytes], options: _Options,
            by: _Pattern | None) -> tuple[list[bytes], bool]:
    """The elements in SORT's order, and whether a score could not be read."""
    db = c.db
    if options.alpha:
        if by is None:
            # strcoll stops at a NUL; without one anywhere the plain bytes order is the same
            collate = options.store is None and b"\0" in b"".join(elements)
            key: Callable[[bytes], Any] | None = errors.c_string if collate else None
        else:
            store = options.store is not None

            def key(element: bytes) -> tuple[int, bytes]:
                weight = by.lookup(db, element)
                if weight is None:
                    return (0, b"")  # a missing weight sorts before every present one
                return (1, weight if store else errors.c_string(weight))
        return sorted(elements, key=key, reverse=options.desc), False
    # Equal scores are ordered by the elements' bytes: sort by bytes first, then (stably, so
    # that order survives among equals) by score, each a key sort CPython runs in C.
    elements.sort(reverse=options.desc)
    scores: list[float | None]
    if by is None:
        scores = [strtod(element) for element in elements]
    else:
        scores = []
        append = scores.append
        for element in elements:
            weight = by.lookup(db, element)
            append(0.0 if weight is None else strtod(weight))
    if None in scores:
        return elements, True  # the order no longer matters: the reply is an error
    order = sorted(range(len(elements)), key=cast("list[float]", scores).__getitem__,
                   reverse=options.desc)
    return [elements[i] for i in order], False


def _sort(c: Context, argv: list[bytes], readonly: bool) -> bytes:
    options = _parse(argv, readonly)
    db = c.db
    value = db.read(argv[1])
    kind = type(value)
    if value is not None and kind is not List and kind is not Set and kind is not ZSet:
        return errors.WRONGTYPE
    if value is None:
        value, kind = List(), List
    by = options.by
    if options.dontsort and kind is Set and (options.store is not None or c.in_script):
        options.dontsort, options.alpha, by = False, True, None  # deterministic for replicas
    if kind is ZSet:
        value.listpack = False  # Redis converts a sorted set it sorts to a skiplist, for good

    size = len(value)
    start = min(max(options.start, 0), size)
    count = min(max(options.count, -1), size)
    end = size - 1 if count < 0 else start + count - 1
    if start >= size:
        start, end = size - 1, size - 2
    end = min(end, size - 1)

    failed = False
    if options.dontsort and kind is not Set:
        window = _native_window(value, start, end, options.desc)
    else:
        elements = _all_elements(value)
        if not options.dontsort:
            elements, failed = _sorted(c, elements, options, None if by is None else _Pattern(by))
        window = elements[start : end + 1] if end >= start else []
    if failed:
        return _SCORE_ERROR

    gets = options.gets
    if options.store is None:
        if not gets:
            return b"*%d\r\n%s" % (len(window), bulk_items(window))
        null = c.resp.null
        parts = [b"*%d\r\n" % (len(window) * len(gets))]
        for element in window:
            for get in gets:
                found = get.lookup(db, element)
                parts.append(null if found is None else bulk(found))
        return b"".join(parts)

    if gets:
        results = []
        for element in window:
            for get in gets:
                found = get.lookup(db, element)
                results.append(b"" if found is None else found)
    else:
        results = window
    dst = options.store
    if not results:
        if db.delete(dst):
            c.notify(GENERIC, b"del", dst)
        return ZERO
    db.store(dst, List(map(bulk, results)))
    c.notify(LIST, b"sortstore", dst)
    db.count_changes(len(results) - 1)  # Redis counts one change per element stored
    c.server.blocking.ready(db, dst)
    return integer(len(results))


@command("sort")
def sort(c: Context, argv: list[bytes]) -> bytes:
    return _sort(c, argv, readonly=False)


@command("sort_ro")
def sort_ro(c: Context, argv: list[bytes]) -> bytes:
    return _sort(c, argv, readonly=True)
