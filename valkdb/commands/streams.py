"""Stream entry commands (Redis's t_stream.c): XADD, XLEN, XRANGE, XREVRANGE, XDEL, XTRIM, XSETID,
and the ID parsing and entry replies every stream command shares.

A stream is a `valkdb.store.stream.Stream`. IDs are parsed exactly as streamGenericParseIDOrReply
does: `-` and `+`, `ms` alone (the sequence filled in by the caller's rule), `ms-seq`, `ms-*` for
XADD, each part read as C's string2ull does (strtoull's leniency included). Trimming with `~`
removes whole nodes only, which valkdb places where Redis would; what Redis propagates of an
approximate trim is its exact effect (`=` and the resulting length or first ID), and XADD
propagates the ID it assigned.
"""

from __future__ import annotations

from typing import Any

from valkdb import errors
from valkdb.commands.args import to_int
from valkdb.core.context import Context
from valkdb.core.notifications import STREAM
from valkdb.core.registry import command, propagates
from valkdb.errors import CommandError
from valkdb.protocol.encoder import EMPTY_ARRAY, OK, ZERO, bulk, integer
from valkdb.store.stream import MAX_ID, SEQ_BITS, SEQ_MASK, Stream, format_id, make_id, mstime

_UINT64_MAX = (1 << 64) - 1
INVALID_ID = errors.err("ERR Invalid stream ID specified as stream command argument")
_ID_ZERO = errors.err("ERR The ID specified in XADD must be greater than 0-0")
_ID_TOO_SMALL = errors.err(
    "ERR The ID specified in XADD is equal or smaller than the target stream top item")
_EXHAUSTED = errors.err(
    "ERR The stream has exhausted the last possible ID, unable to add more items")
_TOO_LARGE = errors.err("ERR Elements are too large to be stored")
_BOTH_STRATEGIES = errors.err(
    "ERR syntax error, MAXLEN and MINID options at the same time are not compatible")
_MAXLEN_NEGATIVE = errors.err("ERR The MAXLEN argument must be >= 0.")
_LIMIT_NEGATIVE = errors.err("ERR The LIMIT argument must be >= 0.")
_LIMIT_WITHOUT_STRATEGY = errors.err(
    "ERR syntax error, LIMIT cannot be used without specifying a trimming strategy")
_XTRIM_WITHOUT_STRATEGY = errors.err(
    "ERR syntax error, XTRIM must be called with a trimming strategy")
_LIMIT_WITHOUT_APPROX = errors.err(
    "ERR syntax error, LIMIT cannot be used without the special ~ option")
BAD_START = errors.err("ERR invalid start ID for the interval")
BAD_END = errors.err("ERR invalid end ID for the interval")
_SETID_SMALL = errors.err(
    "ERR The ID specified in XSETID is smaller than the target stream top item")
_SETID_ENTRIES_SMALL = errors.err(
    "ERR The entries_added specified in XSETID is smaller than the target stream length")
_SETID_MAXDEL = errors.err(
    "ERR The ID specified in XSETID is smaller than the provided max_deleted_entry_id")
_ENTRIES_ADDED_NEGATIVE = errors.err("ERR entries_added must be positive")
_SPACES = b" \t\n\v\f\r"


# -- IDs --------------------------------------------------------------------------------------

def _strtoull(text: bytes) -> int | None:
    """C's string2ull: a canonical integer, else what strtoull accepts (spaces, a sign, leading
    zeros; a negative number wraps around), or None."""
    stripped = text.lstrip(_SPACES)
    sign = 1
    if stripped[:1] in (b"+", b"-"):
        sign = -1 if stripped[:1] == b"-" else 1
        stripped = stripped[1:]
    if not stripped.isdigit():
        return None
    value = int(stripped)
    if value > _UINT64_MAX:
        return None
    if sign < 0:
        if text == b"-" + stripped and stripped[:1] != b"0" and value <= 1 << 63:
            return None  # string2ll read a negative number: out of range
        value = -value & _UINT64_MAX
    return value


def parse_id(arg: bytes, missing_seq: int = 0, strict: bool = False, auto_seq: bool = False,
             ) -> tuple[int, bool]:
    """streamGenericParseIDOrReply: (the ID, whether its sequence was given). `auto_seq`
    accepts `ms-*` (XADD); `strict` refuses `-` and `+`."""
    if len(arg) > 127:
        raise CommandError(INVALID_ID)
    text = arg.partition(b"\0")[0]  # C reads the argument up to its first NUL
    if text == b"-" or text == b"+":
        if strict:
            raise CommandError(INVALID_ID)
        return (0 if text == b"-" else MAX_ID), True
    ms_text, dash, seq_text = text.partition(b"-")
    ms = _strtoull(ms_text)
    if ms is None:
        raise CommandError(INVALID_ID)
    if not dash:
        return make_id(ms, missing_seq), True
    if auto_seq and seq_text == b"*":
        return make_id(ms, 0), False
    seq = _strtoull(seq_text)
    if seq is None:
        raise CommandError(INVALID_ID)
    return make_id(ms, seq), True


def strict_id(arg: bytes) -> int:
    return parse_id(arg, strict=True)[0]


def interval_id(arg: bytes, missing_seq: int, start: bool) -> int:
    """A range bound (XRANGE, XPENDING, XAUTOCLAIM): `(` makes it exclusive."""
    if len(arg) > 1 and arg[:1] == b"(":
        entry_id = parse_id(arg[1:], missing_seq, strict=True)[0]
        if start:
            if entry_id == MAX_ID:
                raise CommandError(BAD_START)
            return entry_id + 1
        if entry_id == 0:
            raise CommandError(BAD_END)
        return entry_id - 1
    return parse_id(arg, missing_seq)[0]


# -- shared helpers ---------------------------------------------------------------------------

def get_stream(db: Any, key: bytes, read: bool = False) -> Stream | None:
    value = db.read(key) if read else db.lookup(key)
    if value is not None and type(value) is not Stream:
        raise CommandError(errors.WRONGTYPE)
    return value


def entries_reply(found: list[tuple[int, bytes]]) -> bytes:
    """An array of entries, each (ID, its reply) as Stream.scan gives them."""
    return b"*%d\r\n%s" % (len(found), b"".join([encoded for _, encoded in found]))


def range_reply(stream: Stream, start: int, end: int, count: int = 0) -> bytes:
    """The entries start <= ID <= end, oldest first, at most count (0: all)."""
    n, data = stream.reply_range(start, end, count)
    return b"*%d\r\n%s" % (n, data)


# -- XADD / XTRIM -----------------------------------------------------------------------------

class TrimArgs:
    """streamAddTrimArgs: what XADD and XTRIM were asked to do."""

    __slots__ = ("maxlen", "minid", "strategy_at", "approx", "limit", "id", "id_at",
                 "seq_given", "nomkstream")

    def __init__(self) -> None:
        self.maxlen: int | None = None
        self.minid: int | None = None
        self.strategy_at = 0  # where the count / ID of MAXLEN / MINID is
        self.approx = False
        self.limit = 0
        self.id: int | None = None
        self.id_at = 0
        self.seq_given = True
        self.nomkstream = False

    @property
    def trims(self) -> bool:
        return self.maxlen is not None or self.minid is not None


def _parse_trim(c: Context, argv: list[bytes], xadd: bool) -> TrimArgs:
    args = TrimArgs()
    limit_given = False
    i = 2
    n = len(argv)
    while i < n:
        more = n - 1 - i
        opt = argv[i].lower()
        if xadd and argv[i] == b"*":
            break
        if opt in (b"maxlen", b"minid") and more:
            if args.trims:
                raise CommandError(_BOTH_STRATEGIES)
            args.approx = False
            if more >= 2 and argv[i + 1] in (b"~", b"="):
                args.approx = argv[i + 1] == b"~"
                i += 1
            if opt == b"maxlen":
                maxlen = to_int(argv[i + 1])
                if maxlen < 0:
                    raise CommandError(_MAXLEN_NEGATIVE)
                args.maxlen = maxlen
            else:
                args.minid = strict_id(argv[i + 1])
            i += 1
            args.strategy_at = i
        elif opt == b"limit" and more:
            args.limit = to_int(argv[i + 1])
            if args.limit < 0:
                raise CommandError(_LIMIT_NEGATIVE)
            limit_given = True
            i += 1
        elif xadd and opt == b"nomkstream":
            args.nomkstream = True
        elif xadd:
            args.id, args.seq_given = parse_id(argv[i], strict=True, auto_seq=True)
            args.id_at = i
            break
        else:
            raise CommandError(errors.SYNTAX)
        i += 1
    args.id_at = i
    if args.limit and not args.trims:
        raise CommandError(_LIMIT_WITHOUT_STRATEGY)
    if not xadd and not args.trims:
        raise CommandError(_XTRIM_WITHOUT_STRATEGY)
    if c.obeys:
        args.limit = 0
    elif limit_given:
        if not args.approx:
            raise CommandError(_LIMIT_WITHOUT_APPROX)
    elif args.approx:
        args.limit = min(max(100 * c.server.config.stream_node_max_entries, 0) or 10000,
                         1000000)
    else:
        args.limit = 0
    return args


def _trim(stream: Stream, args: TrimArgs) -> int:
    return stream.trim(args.maxlen, args.minid or 0, args.approx, args.limit)


def _rewrite_trim(argv: list[bytes], stream: Stream, args: TrimArgs) -> None:
    """streamRewriteApproxSpecifier / streamRewriteTrimArgument: `~ n` becomes `= <length>`
    or `= <first ID>`, so a replay trims exactly what this trim did."""
    argv[args.strategy_at - 1] = b"="
    argv[args.strategy_at] = (b"%d" % len(stream) if args.maxlen is not None
                              else format_id(stream.first_edge()))


def _next_id(stream: Stream, args: TrimArgs) -> int | None:
    """The ID XADD assigns (streamAppendItem), None when it is not above the last one."""
    last = stream.last_id
    if args.id is None:
        now = mstime()
        new = make_id(now, 0) if now > last >> SEQ_BITS else last + 1
    elif args.seq_given:
        new = args.id
    else:
        ms = args.id >> SEQ_BITS
        if ms == last >> SEQ_BITS:
            if last & SEQ_MASK == SEQ_MASK:
                return None
            new = last + 1
        else:
            new = args.id
    return new if new > last else None


@command("xadd")
def xadd(c: Context, argv: list[bytes]) -> bytes:
    args = _parse_trim(c, argv, True)
    fields_at = args.id_at + 1
    pairs = len(argv) - fields_at
    if pairs < 2 or pairs % 2:
        return errors.wrong_arity("xadd")
    if args.id == 0 and args.seq_given:
        return _ID_ZERO
    key = argv[1]
    db = c.db
    stream = get_stream(db, key)
    created = stream is None
    if stream is None:
        if args.nomkstream:
            return c.resp.null
        stream = Stream()
    if stream.last_id == MAX_ID:
        return _EXHAUSTED
    new_id = _next_id(stream, args)
    if new_id is None:
        return _ID_TOO_SMALL
    flat = tuple(argv[fields_at:])
    if sum(map(len, flat)) > 1 << 30:
        return _TOO_LARGE
    config = c.server.config
    if created:
        db.store(key, stream)
    else:
        db.modified(key)
    reply_id = stream.append(new_id, flat, config.stream_node_max_bytes,
                             config.stream_node_max_entries)
    c.notify(STREAM, b"xadd", key)
    logged = list(argv)
    if args.trims:
        if _trim(stream, args):
            c.notify(STREAM, b"xtrim", key)
        if args.approx:
            _rewrite_trim(logged, stream, args)
    if args.id is None or not args.seq_given:
        logged[args.id_at] = reply_id
    c.propagate(logged)
    c.server.blocking.ready(db, key)
    return bulk(reply_id)


@command("xtrim")
def xtrim(c: Context, argv: list[bytes]) -> bytes:
    args = _parse_trim(c, argv, False)
    key = argv[1]
    stream = get_stream(c.db, key)
    if stream is None:
        return ZERO
    deleted = _trim(stream, args)
    if deleted:
        logged = list(argv)
        if args.approx:
            _rewrite_trim(logged, stream, args)
        c.notify(STREAM, b"xtrim", key)
        c.db.modified(key, deleted)
        c.propagate(logged)
    return integer(deleted)


# -- reading and deleting ---------------------------------------------------------------------

@command("xlen")
def xlen(c: Context, argv: list[bytes]) -> bytes:
    stream = get_stream(c.db, argv[1], read=True)
    return ZERO if stream is None else integer(len(stream))


def _xrange(c: Context, argv: list[bytes], rev: bool) -> bytes:
    start_arg, end_arg = (argv[3], argv[2]) if rev else (argv[2], argv[3])
    start = interval_id(start_arg, 0, True)
    end = interval_id(end_arg, (1 << 64) - 1, False)
    count = -1
    i = 4
    while i < len(argv):
        if argv[i].lower() == b"count" and i + 1 < len(argv):
            count = max(to_int(argv[i + 1]), 0)
            i += 2
        else:
            return errors.SYNTAX
    stream = get_stream(c.db, argv[1], read=True)
    if stream is None:
        return EMPTY_ARRAY
    if count == 0:
        return c.resp.null_array
    if rev:
        return entries_reply(stream.scan(start, end, max(count, 0), rev=True))
    return range_reply(stream, start, end, max(count, 0))


@command("xrange")
def xrange(c: Context, argv: list[bytes]) -> bytes:
    return _xrange(c, argv, False)


@command("xrevrange")
def xrevrange(c: Context, argv: list[bytes]) -> bytes:
    return _xrange(c, argv, True)


@command("xdel")
def xdel(c: Context, argv: list[bytes]) -> bytes:
    key = argv[1]
    stream = get_stream(c.db, key)
    if stream is None:
        return ZERO
    ids = [strict_id(arg) for arg in argv[2:]]
    deleted = 0
    first_deleted = False
    for entry_id in ids:
        if stream.delete(entry_id):
            first_deleted = first_deleted or entry_id == stream.first_id
            stream.max_deleted_id = max(stream.max_deleted_id, entry_id)
            deleted += 1
    if deleted:
        if first_deleted or not stream.length:
            stream.refresh_first()
        c.db.modified(key, deleted)
        c.notify(STREAM, b"xdel", key)
    return integer(deleted)


@command("xsetid")
def xsetid(c: Context, argv: list[bytes]) -> bytes:
    new_last = strict_id(argv[2])
    entries_added = -1
    max_deleted = 0
    i = 3
    while i < len(argv):
        opt = argv[i].lower()
        if opt == b"entriesadded" and i + 1 < len(argv):
            entries_added = to_int(argv[i + 1])
            if entries_added < 0:
                return _ENTRIES_ADDED_NEGATIVE
        elif opt == b"maxdeletedid" and i + 1 < len(argv):
            max_deleted = strict_id(argv[i + 1])
            if new_last < max_deleted:
                return _SETID_MAXDEL
        else:
            return errors.SYNTAX
        i += 2
    stream = get_stream(c.db, argv[1])
    if stream is None:
        return errors.NO_SUCH_KEY
    if stream.length:
        if new_last < stream.last_valid_id():
            return _SETID_SMALL
        if entries_added != -1 and len(stream) > entries_added:
            return _SETID_ENTRIES_SMALL
    stream.last_id = new_last
    if entries_added != -1:
        stream.entries_added = entries_added
    if max_deleted:
        stream.max_deleted_id = max_deleted
    c.db.count_changes()
    c.notify(STREAM, b"xsetid", argv[1])
    return OK


# XADD and XTRIM log their exact effect themselves (the assigned ID, `=` for `~`).
propagates("xadd", "xtrim")(None)
