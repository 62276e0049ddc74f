"""String commands (Redis's t_string.c). A string value is stored as bytes."""

from __future__ import annotations

from array import array
from fractions import Fraction
from itertools import accumulate

from valkdb import errors, longdouble
from valkdb.commands.args import LLONG_MAX, LLONG_MIN, to_int
from valkdb.commands.keys import propagate_expiry
from valkdb.core.context import Context
from valkdb.core.notifications import GENERIC, KEY_MISS, STRING
from valkdb.core.registry import command, propagates
from valkdb.errors import CommandError
from valkdb.protocol.encoder import EMPTY_BULK, OK, bulk, integer
from valkdb.store.keyspace import now_ms

_STRING_TOO_LONG = errors.err(
    "ERR string exceeds maximum allowed size (proto-max-bulk-len)")


def get_string(db, key: bytes, read: bool = False) -> bytes | None:  # type: ignore[no-untyped-def]
    """The string at key, None if missing; WRONGTYPE if it holds another type. With `read`,
    a miss is reported (Redis's lookupKeyRead, for the keymiss event)."""
    value = db.read(key) if read else db.lookup(key)
    if value is not None and type(value) is not bytes:
        raise CommandError(errors.WRONGTYPE)
    return value


@command("get")
def get(c: Context, argv: list[bytes]) -> bytes:
    value = c.db.lookup(argv[1])
    if value is None:
        c.notify(KEY_MISS, b"keymiss", argv[1])
        return c.resp.null
    if type(value) is not bytes:
        return errors.WRONGTYPE
    return bulk(value)


# -- SET and its options -----------------------------------------------------------------------

_EXPIRY_OPTIONS = (b"EX", b"PX", b"EXAT", b"PXAT")


def parse_expiry_options(argv: list[bytes], start: int, for_set: bool):  # type: ignore[no-untyped-def]
    """Redis's parseExtendedStringArgumentsOrReply for SET (for_set) and GETEX.

    Returns (flags, (unit, time argument) or None): flags is a set of the option names given.
    The time is checked later, by expiry_deadline: GETEX checks it only once the key is found.
    """
    flags: set[bytes] = set()
    unit_arg = None
    i = start
    n = len(argv)
    while i < n:
        opt = argv[i].upper()
        has_next = i + 1 < n
        if for_set and opt == b"NX" and b"XX" not in flags:
            flags.add(opt)
        elif for_set and opt == b"XX" and b"NX" not in flags:
            flags.add(opt)
        elif for_set and opt == b"GET":
            flags.add(opt)
        elif (for_set and opt == b"KEEPTTL" and not flags.intersection(_EXPIRY_OPTIONS)):
            flags.add(opt)
        elif (not for_set and opt == b"PERSIST"
              and not flags.intersection(_EXPIRY_OPTIONS)):
            flags.add(opt)
        elif (opt in _EXPIRY_OPTIONS and has_next
              and not flags.intersection((b"KEEPTTL", b"PERSIST"))
              and not flags.intersection(o for o in _EXPIRY_OPTIONS if o != opt)):
            flags.add(opt)
            unit_arg = (opt, argv[i + 1])
            i += 1
        else:
            raise CommandError(errors.SYNTAX)
        i += 1
    return flags, unit_arg


def expiry_deadline(c, unit: bytes, arg: bytes) -> int:  # type: ignore[no-untyped-def]
    """getExpireMillisecondsOrReply: EX/PX relative, EXAT/PXAT absolute; > 0 and no overflow."""
    value = to_int(arg)
    invalid = errors.invalid_expire_time(c.last_command)
    seconds = unit in (b"EX", b"EXAT")
    if value <= 0 or (seconds and value > LLONG_MAX // 1000):
        raise CommandError(invalid)
    ms = value * 1000 if seconds else value
    if unit in (b"EX", b"PX"):
        ms += now_ms()
        if ms > LLONG_MAX:
            raise CommandError(invalid)
    return ms


def _set_with_deadline(c, key: bytes, value: bytes, deadline: int | None) -> None:  # type: ignore[no-untyped-def]
    c.db.store(key, value)
    c.notify(STRING, b"set", key)
    if deadline is not None:
        c.db.set_deadline(key, deadline, lazily=True)
        c.notify(GENERIC, b"expire", key)


@command("set")
def set_(c: Context, argv: list[bytes]) -> bytes:
    if len(argv) == 3:
        db = c.db
        if db.lru < 0:  # under LFU, SET's lookup counts as an access (lookupKeyWrite)
            db.lookup(argv[1])
        db.store(argv[1], argv[2])
        c.notify(STRING, b"set", argv[1])
        return OK
    flags, unit_arg = parse_expiry_options(argv, 3, True)
    deadline = None if unit_arg is None else expiry_deadline(c, *unit_arg)
    key, value = argv[1], argv[2]
    db = c.db
    if b"GET" in flags and db.lru < 0:
        db.lookup(key)  # under LFU, SET GET's read is one more access (getGenericCommand)
    old = db.read(key) if b"GET" in flags else db.lookup(key)
    if b"GET" in flags and old is not None and type(old) is not bytes:
        return errors.WRONGTYPE
    if (b"NX" in flags and old is not None) or (b"XX" in flags and old is None):
        return bulk(old) if b"GET" in flags and old is not None else c.resp.null
    if b"KEEPTTL" in flags:
        db.replace(key, value)
        c.notify(STRING, b"set", key)
    else:
        _set_with_deadline(c, key, value, deadline)
    if b"GET" in flags:
        return c.resp.null if old is None else bulk(old)
    return OK


@command("setnx")
def setnx(c: Context, argv: list[bytes]) -> bytes:
    if c.db.lookup(argv[1]) is not None:
        return integer(0)
    c.db.store(argv[1], argv[2])
    c.notify(STRING, b"set", argv[1])
    return integer(1)


@command("setex")
def setex(c: Context, argv: list[bytes]) -> bytes:
    _set_with_deadline(c, argv[1], argv[3], expiry_deadline(c, b"EX", argv[2]))
    return OK


@command("psetex")
def psetex(c: Context, argv: list[bytes]) -> bytes:
    _set_with_deadline(c, argv[1], argv[3], expiry_deadline(c, b"PX", argv[2]))
    return OK


@propagates("set", "setex", "psetex")
def _propagate_set(c, argv: list[bytes], reply: bytes) -> None:  # type: ignore[no-untyped-def]
    """As setGenericCommand rewrites it: with an expiry, SET key value PXAT <ms> (the other
    options dropped); otherwise as sent, less its GET options."""
    if len(argv) == 3:
        c.propagate(argv)
        return
    key = argv[1]
    if argv[0].lower() != b"set":  # SETEX / PSETEX
        c.propagate([b"SET", key, argv[3], b"PXAT", b"%d" % c.db.deadline(key)])
        return
    flags, unit_arg = parse_expiry_options(argv, 3, True)
    if unit_arg is not None:
        c.propagate([b"SET", key, argv[2], b"PXAT", b"%d" % c.db.deadline(key)])
    elif b"GET" in flags:
        c.propagate(argv[:3] + [arg for arg in argv[3:] if arg.upper() != b"GET"])
    else:
        c.propagate(argv)


@command("getset")
def getset(c: Context, argv: list[bytes]) -> bytes:
    old = get_string(c.db, argv[1], read=True)
    c.db.store(argv[1], argv[2])
    c.notify(STRING, b"set", argv[1])
    c.propagate([b"SET", argv[1], argv[2]])
    return c.resp.null if old is None else bulk(old)


@command("getdel")
def getdel(c: Context, argv: list[bytes]) -> bytes:
    old = get_string(c.db, argv[1], read=True)
    if old is None:
        return c.resp.null
    c.db.delete(argv[1])
    c.notify(GENERIC, b"del", argv[1])
    c.propagate([b"UNLINK" if c.server.config.lazyfree_lazy_user_del else b"DEL", argv[1]])
    return bulk(old)


propagates("getset", "getdel")(None)  # logged as SET / DEL (or UNLINK), as Redis rewrites them


@command("getex")
def getex(c: Context, argv: list[bytes]) -> bytes:
    flags, unit_arg = parse_expiry_options(argv, 2, False)
    value = get_string(c.db, argv[1], read=True)
    if value is None:
        return c.resp.null
    if unit_arg is not None:
        c.db.set_deadline(argv[1], expiry_deadline(c, *unit_arg))
        c.notify(GENERIC, b"del" if c.db.peek(argv[1]) is None else b"expire", argv[1])
    elif b"PERSIST" in flags:
        if c.db.persist(argv[1]):
            c.notify(GENERIC, b"persist", argv[1])
    return bulk(value)


@propagates("getex")
def _propagate_getex(c, argv: list[bytes], reply: bytes) -> None:  # type: ignore[no-untyped-def]
    flags, unit_arg = parse_expiry_options(argv, 2, False)
    if reply == c.resp.null:
        return
    if unit_arg is not None:
        propagate_expiry(c, argv[1])
    elif b"PERSIST" in flags:
        c.propagate([b"PERSIST", argv[1]])


@command("mget")
def mget(c: Context, argv: list[bytes]) -> bytes:
    lookup = c.db.read
    null = c.resp.null
    parts = [b"*%d\r\n" % (len(argv) - 1)]
    for key in argv[1:]:
        value = lookup(key)
        parts.append(bulk(value) if type(value) is bytes else null)
    return b"".join(parts)


@command("mset")
def mset(c: Context, argv: list[bytes]) -> bytes:
    if len(argv) % 2 == 0:
        return errors.wrong_arity("mset")
    db = c.db
    store = db.store
    for i in range(1, len(argv), 2):
        if db.lru < 0:  # under LFU, setKey's lookup counts as an access
            db.lookup(argv[i])
        store(argv[i], argv[i + 1])
        c.notify(STRING, b"set", argv[i])
    return OK


@command("msetnx")
def msetnx(c: Context, argv: list[bytes]) -> bytes:
    if len(argv) % 2 == 0:
        return errors.wrong_arity("msetnx")
    db = c.db
    if any(db.lookup(argv[i]) is not None for i in range(1, len(argv), 2)):
        return integer(0)
    for i in range(1, len(argv), 2):
        db.store(argv[i], argv[i + 1])
        c.notify(STRING, b"set", argv[i])
    return integer(1)


def _check_length(c, length: int) -> None:  # type: ignore[no-untyped-def]
    if length > c.server.config.proto_max_bulk_len:
        raise CommandError(_STRING_TOO_LONG)


@command("append")
def append(c: Context, argv: list[bytes]) -> bytes:
    old = get_string(c.db, argv[1])
    if old is None:
        c.db.store(argv[1], argv[2])
        c.notify(STRING, b"append", argv[1])
        return integer(len(argv[2]))
    _check_length(c, len(old) + len(argv[2]))
    value = old + argv[2]
    c.db.replace(argv[1], value)
    c.notify(STRING, b"append", argv[1])
    return integer(len(value))


@command("strlen")
def strlen(c: Context, argv: list[bytes]) -> bytes:
    value = get_string(c.db, argv[1], read=True)
    return integer(0 if value is None else len(value))


# -- counters -----------------------------------------------------------------------------------

def _incr(c, key: bytes, delta: int) -> bytes:  # type: ignore[no-untyped-def]
    old = get_string(c.db, key)
    current = 0 if old is None else to_int(old)
    value = current + delta
    if not LLONG_MIN <= value <= LLONG_MAX:
        return errors.INCR_OVERFLOW
    if old is None:
        c.db.store(key, b"%d" % value)
    else:
        c.db.replace(key, b"%d" % value)
    c.notify(STRING, b"incrby", key)
    return integer(value)


@command("incr")
def incr(c: Context, argv: list[bytes]) -> bytes:
    return _incr(c, argv[1], 1)


@command("decr")
def decr(c: Context, argv: list[bytes]) -> bytes:
    return _incr(c, argv[1], -1)


@command("incrby")
def incrby(c: Context, argv: list[bytes]) -> bytes:
    return _incr(c, argv[1], to_int(argv[2]))


@command("decrby")
def decrby(c: Context, argv: list[bytes]) -> bytes:
    delta = to_int(argv[2])
    if delta == LLONG_MIN:
        return errors.err("ERR decrement would overflow")
    return _incr(c, argv[1], -delta)


def long_double(arg: bytes) -> Fraction | None:
    """The value as Redis's strtold reads it; None for an infinity (valid, but no sum with it
    is); the not-a-float error otherwise."""
    try:
        value = longdouble.parse(arg)
    except longdouble.Infinite:
        return None
    if value is None:
        raise CommandError(errors.NOT_FLOAT)
    return value


@command("incrbyfloat")
def incrbyfloat(c: Context, argv: list[bytes]) -> bytes:
    old = get_string(c.db, argv[1])
    current = Fraction(0) if old is None else long_double(old)
    increment = long_double(argv[2])  # parsed before the infinity check, as Redis does
    if current is None or increment is None:
        return errors.NAN_OR_INFINITY
    try:
        value = longdouble.add(current, increment)
    except longdouble.Infinite:
        return errors.NAN_OR_INFINITY
    text = longdouble.format_human(value)
    if old is None:
        c.db.store(argv[1], text)
    else:
        c.db.replace(argv[1], text)
    c.notify(STRING, b"incrbyfloat", argv[1])
    c.propagate([b"SET", argv[1], text, b"KEEPTTL"])  # exact wherever it is replayed
    return bulk(text)


propagates("incrbyfloat")(None)


# -- ranges -------------------------------------------------------------------------------------

@command("getrange")
def getrange(c: Context, argv: list[bytes]) -> bytes:
    start, end = to_int(argv[2]), to_int(argv[3])
    value = get_string(c.db, argv[1], read=True)
    if value is None:
        return EMPTY_BULK
    size = len(value)
    if start < 0 and end < 0 and start > end:
        return EMPTY_BULK
    if start < 0:
        start = max(size + start, 0)
    if end < 0:
        end = max(size + end, 0)
    end = min(end, size - 1)
    if start > end or size == 0:
        return EMPTY_BULK
    return bulk(value[start : end + 1])


@command("substr")
def substr(c: Context, argv: list[bytes]) -> bytes:
    return getrange(c, argv)


@command("setrange")
def setrange(c: Context, argv: list[bytes]) -> bytes:
    offset = to_int(argv[2])
    if offset < 0:
        return errors.err("ERR offset is out of range")
    patch = argv[3]
    old = get_string(c.db, argv[1])  # (the one lookup: under LFU, one access as Redis counts)
    existed = old is not None
    if old is None:
        if not patch:
            return integer(0)
        old = b""
    elif not patch:
        return integer(len(old))
    _check_length(c, offset + len(patch))
    if len(old) < offset:
        old += b"\0" * (offset - len(old))
    value = old[:offset] + patch + old[offset + len(patch):]
    if existed:
        c.db.replace(argv[1], value)
    else:
        c.db.store(argv[1], value)
    c.notify(STRING, b"setrange", argv[1])
    return integer(len(value))


# -- LCS ----------------------------------------------------------------------------------------

_LCS_TYPES = errors.err("ERR The specified keys must contain string values")
_LCS_BOTH = errors.err("ERR If you want both the length and indexes, please just use IDX.")
_LCS_MEMORY = errors.err(
    "ERR Insufficient memory, transient memory for LCS exceeds proto-max-bulk-len")


def _lcs_table(a: bytes, b: bytes) -> list[array]:
    """table[i][j]: the length of the LCS of a[:i] and b[:j] (4 bytes a cell, as Redis's).

    A row is a running maximum: a match gives the diagonal + 1, which is never below the cell
    to its left, and a mismatch the larger of the cells above and to the left."""
    table = [array("I", [0]) * (len(b) + 1)]
    for char in a:
        above = table[-1]
        candidates = [0, *[x + 1 if other == char else y
                           for other, x, y in zip(b, above[:-1], above[1:], strict=True)]]
        table.append(array("I", accumulate(candidates, max)))
    return table


@command("lcs")
def lcs(c: Context, argv: list[bytes]) -> bytes:
    try:
        a, b = get_string(c.db, argv[1], read=True), get_string(c.db, argv[2], read=True)
    except CommandError:
        return _LCS_TYPES
    a, b = a or b"", b or b""
    get_idx = get_len = with_match_len = False
    min_match_len = 0
    i = 3
    while i < len(argv):
        option = argv[i].lower()
        if option == b"idx":
            get_idx = True
        elif option == b"len":
            get_len = True
        elif option == b"withmatchlen":
            with_match_len = True
        elif option == b"minmatchlen" and i + 1 < len(argv):
            min_match_len = max(to_int(argv[i + 1]), 0)
            i += 1
        else:
            return errors.SYNTAX
        i += 1
    if get_len and get_idx:
        return _LCS_BOTH
    if (len(a) + 1) * (len(b) + 1) * 4 > c.server.config.proto_max_bulk_len:
        return _LCS_MEMORY
    table = _lcs_table(a, b)
    length = table[len(a)][len(b)]
    if get_len:
        return integer(length)
    # Walk back from the end as Redis does, collecting the string and the matching ranges.
    result = bytearray(length)
    ranges = []
    at = length
    i, j = len(a), len(b)
    unset = len(a)
    a_start = unset
    a_end = b_start = b_end = 0
    while i > 0 and j > 0:
        emit = False
        if a[i - 1] == b[j - 1]:
            result[at - 1] = a[i - 1]
            if a_start == unset:
                a_start = a_end = i - 1
                b_start = b_end = j - 1
            elif a_start == i and b_start == j:
                a_start -= 1
                b_start -= 1
            else:
                emit = True
            if a_start == 0 or b_start == 0:
                emit = True
            at, i, j = at - 1, i - 1, j - 1
        else:
            if table[i - 1][j] > table[i][j - 1]:
                i -= 1
            else:
                j -= 1
            emit = a_start != unset
        if emit:
            match_len = a_end - a_start + 1
            if not min_match_len or match_len >= min_match_len:
                ranges.append(b"*%d\r\n*2\r\n%s%s*2\r\n%s%s%s" % (
                    2 + with_match_len, integer(a_start), integer(a_end), integer(b_start),
                    integer(b_end), integer(match_len) if with_match_len else b""))
            a_start = unset
    if not get_idx:
        return bulk(bytes(result))
    return c.resp.map([(bulk(b"matches"), b"*%d\r\n%s" % (len(ranges), b"".join(ranges))),
                       (bulk(b"len"), integer(length))])
