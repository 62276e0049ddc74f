"""Generic key commands (Redis's db.c and expire.c): existence, types, renames, TTLs, iteration.

Whole-keyspace commands (KEYS, SCAN, FLUSHDB, FLUSHALL) work on per-shard snapshots and yield
between chunks via `Pacer`, so other clients keep being served while they run.
"""

from __future__ import annotations

import copy as copy_module
from collections.abc import Sequence

from valkdb import errors
from valkdb.commands.args import LLONG_MAX, LLONG_MIN, db_index, to_int
from valkdb.core.context import Context, Pacer
from valkdb.core.notifications import GENERIC, NEW
from valkdb.core.registry import command, container, propagates
from valkdb.errors import CommandError
from valkdb.glob import matcher
from valkdb.protocol.encoder import (
    MINUS_ONE,
    MINUS_TWO,
    OK,
    ONE,
    bulk,
    bulk_array,
    bulk_items,
    integer,
    simple,
)
from valkdb.store.keyspace import now_ms
from valkdb.store.types import encoding, string_encoding, type_name


@command("del")
def del_(c: Context, argv: list[bytes]) -> bytes:
    delete = c.db.delete
    deleted = 0
    for key in argv[1:]:
        if delete(key):
            c.notify(GENERIC, b"del", key)
            deleted += 1
    return integer(deleted)


@command("unlink")
def unlink(c: Context, argv: list[bytes]) -> bytes:
    return del_(c, argv)


@command("exists")
def exists(c: Context, argv: list[bytes]) -> bytes:
    peek = c.db.peek_read  # EXISTS leaves the keys' access times alone, TOUCH sets them
    return integer(sum(1 for key in argv[1:] if peek(key) is not None))


@command("touch")
def touch(c: Context, argv: list[bytes]) -> bytes:
    lookup = c.db.read
    return integer(sum(1 for key in argv[1:] if lookup(key) is not None))


@command("type")
def type_(c: Context, argv: list[bytes]) -> bytes:
    value = c.db.peek_read(argv[1])
    return simple(b"none" if value is None else type_name(value))


@command("dbsize")
def dbsize(c: Context, argv: list[bytes]) -> bytes:
    return integer(c.db.size())


@command("randomkey")
def randomkey(c: Context, argv: list[bytes]) -> bytes:
    key = c.db.random_key()
    return c.resp.null if key is None else bulk(key)


def pattern_matcher(pattern: bytes | None):  # type: ignore[no-untyped-def]
    """KEYS and SCAN MATCH: a lone '*' takes every key, the empty one included (as Redis's
    allkeys shortcut; the glob itself never matches an empty key with '*')."""
    if pattern is None or pattern == b"*":
        return None
    return matcher(pattern)


@command("keys")
def keys(c: Context, argv: list[bytes]) -> bytes:
    match = pattern_matcher(argv[1])
    count = 0
    encoded = []
    pace = Pacer(c)
    for chunk in c.db.key_chunks(live_only=True):
        if match is not None:
            chunk = list(filter(match, chunk))
        count += len(chunk)
        encoded.append(bulk_items(chunk))
        pace()
    return b"*%d\r\n%s" % (count, b"".join(encoded))


# -- SCAN ---------------------------------------------------------------------------------------
#
# Redis's cursor walks hash buckets; ours walks shards. A shard's dict keeps insertion order, so
# a key's position only moves when keys before it are deleted. The cursor holds the shard, the
# offset reached in it, and the shard's deletion counter at that moment; on the next call the
# offset is moved back by the deletions since, so a key present for the whole scan is returned
# at least once (SCAN's contract allows the duplicates this can cause).

_SHARD_BITS = 12
_DELETION_BITS = 22


_ULONG_MAX = 2**64 - 1
_INVALID_CURSOR = errors.err("ERR invalid cursor")


def scan_cursor(arg: bytes) -> int:
    """Redis's parseScanCursorOrReply, i.e. C's strtoul: an optional sign, leading zeros and
    the empty string (0) are fine, a '-' wraps around modulo 2**64; the text ends at a NUL."""
    text = arg.split(b"\0", 1)[0]
    sign, digits = (text[:1], text[1:]) if text[:1] in (b"+", b"-") else (b"", text)
    if (sign or digits) and not digits.isdigit():
        raise CommandError(_INVALID_CURSOR)
    cursor = int(digits) if digits else 0
    if cursor > _ULONG_MAX:
        raise CommandError(_INVALID_CURSOR)
    return (-cursor) & _ULONG_MAX if sign == b"-" else cursor


def parse_scan_options(argv: list[bytes], start: int, with_type: bool = True,
                       ) -> tuple[int, bytes | None, bytes | None]:
    """COUNT, MATCH and TYPE options (SCAN; HSCAN/SSCAN/ZSCAN pass with_type=False, as
    Redis's scanGenericCommand takes TYPE only for SCAN)."""
    count, pattern, type_filter = 10, None, None
    i = start
    while i < len(argv):
        opt = argv[i].upper()
        if i + 1 >= len(argv):
            raise CommandError(errors.SYNTAX)
        if opt == b"COUNT":
            count = to_int(argv[i + 1])
            if count < 1:
                raise CommandError(errors.SYNTAX)
        elif opt == b"MATCH":
            pattern = argv[i + 1]
        elif opt == b"TYPE" and with_type:
            type_filter = argv[i + 1].lower()
        else:
            raise CommandError(errors.SYNTAX)
        i += 2
    return count, pattern, type_filter


@command("scan")
def scan(c: Context, argv: list[bytes]) -> bytes:
    cursor = scan_cursor(argv[1])
    count, pattern, type_filter = parse_scan_options(argv, 2)
    db = c.db
    deletion_mask = (1 << _DELETION_BITS) - 1
    shard_index = cursor & ((1 << _SHARD_BITS) - 1)
    seen_deletions = (cursor >> _SHARD_BITS) & deletion_mask
    offset = cursor >> (_SHARD_BITS + _DELETION_BITS)
    batch: list[bytes] = []
    next_cursor = 0
    while shard_index < len(db.shards):
        shard = db.shards[shard_index]
        offset = max(0, offset - ((shard.deletions - seen_deletions) & deletion_mask))
        keys = db.shard_keys(shard_index)
        taken = keys[offset : offset + count - len(batch)]
        batch.extend(taken)
        offset += len(taken)
        if offset < len(keys):
            next_cursor = (offset << (_SHARD_BITS + _DELETION_BITS)) | (
                (shard.deletions & deletion_mask) << _SHARD_BITS) | shard_index
            break
        shard_index += 1
        offset = seen_deletions = 0
        if shard_index < len(db.shards):
            seen_deletions = db.shards[shard_index].deletions & deletion_mask
        if len(batch) >= count:
            if shard_index < len(db.shards):
                next_cursor = (seen_deletions << _SHARD_BITS) | shard_index
            break
    match = pattern_matcher(pattern)
    result = []
    for key in batch:
        if match is not None and not match(key):
            continue
        value = db.lookup(key)
        if value is None or (type_filter is not None and type_name(value) != type_filter):
            continue
        result.append(key)
    return scan_reply(b"%d" % next_cursor, result)


def scan_reply(cursor: bytes, items: list[bytes]) -> bytes:
    return b"*2\r\n" + bulk(cursor) + bulk_array(items)


# -- renames and copies -------------------------------------------------------------------------

def _move_value(c, src_db, key: bytes, dst_db, dst_key: bytes, value) -> None:  # type: ignore[no-untyped-def]
    deadline = src_db.deadline(key)
    dst_db.store(dst_key, value)
    c.server.blocking.ready(dst_db, dst_key)  # a key added, as Redis's dbAdd: serve waiters
    if deadline is not None:
        dst_db.set_deadline(dst_key, deadline)


@command("rename")
def rename(c: Context, argv: list[bytes]) -> bytes:
    return _rename(c, argv, nx=False)


@command("renamenx")
def renamenx(c: Context, argv: list[bytes]) -> bytes:
    return _rename(c, argv, nx=True)


def _rename(c, argv, nx: bool) -> bytes:  # type: ignore[no-untyped-def]
    src, dst = argv[1], argv[2]
    db = c.db
    value = db.lookup(src)
    if value is None:
        return errors.NO_SUCH_KEY
    if src == dst:
        return integer(0) if nx else OK
    replaced = db.lookup(dst) is not None
    if replaced and nx:
        return integer(0)
    deadline = db.deadline(src)
    field = db.access_field(src)  # the same object moves in Redis, with its age
    db.delete(src)
    if replaced:  # Redis deletes the old destination and adds the key anew
        c.notify(NEW, b"new", dst)
    db.store(dst, value)
    db.set_access_field(dst, field)
    c.server.blocking.ready(db, dst)  # a key added, as Redis's dbAdd: serve waiters
    if deadline is not None:
        db.set_deadline(dst, deadline)
    c.notify(GENERIC, b"rename_from", src)
    c.notify(GENERIC, b"rename_to", dst)
    return integer(1) if nx else OK


@command("copy")
def copy(c: Context, argv: list[bytes]) -> bytes:
    src, dst = argv[1], argv[2]
    dst_db = c.db
    replace = False
    i = 3
    while i < len(argv):
        opt = argv[i].upper()
        if opt == b"REPLACE":
            replace = True
        elif opt == b"DB" and i + 1 < len(argv):
            dst_db = c.server.keyspace[db_index(c, argv[i + 1])]
            i += 1
        else:
            return errors.SYNTAX
        i += 1
    if src == dst and dst_db is c.db:
        return errors.SAME_OBJECT
    value = c.db.read(src)
    if value is None:
        return integer(0)
    if dst_db.lookup(dst) is not None:
        if not replace:
            return integer(0)
        dst_db.delete(dst)
    _move_value(c, c.db, src, dst_db, dst, copy_module.deepcopy(value))
    c.notify(GENERIC, b"copy_to", dst, dst_db.index)
    return integer(1)


@command("move")
def move(c: Context, argv: list[bytes]) -> bytes:
    key = argv[1]
    dst_db = c.server.keyspace[db_index(c, argv[2])]
    if dst_db is c.db:
        return errors.SAME_OBJECT
    value = c.db.lookup(key)
    if value is None or dst_db.lookup(key) is not None:
        return integer(0)
    field = c.db.access_field(key)
    _move_value(c, c.db, key, dst_db, key, value)
    dst_db.set_access_field(key, field)
    c.db.delete(key)
    c.notify(GENERIC, b"move_from", key)
    c.notify(GENERIC, b"move_to", key, dst_db.index)
    return integer(1)


# -- whole databases ----------------------------------------------------------------------------

def _flush_mode(argv: list[bytes]) -> None:
    if len(argv) > 2 or (len(argv) == 2 and argv[1].upper() not in (b"ASYNC", b"SYNC")):
        raise CommandError(errors.SYNTAX)


@command("flushdb")
def flushdb(c: Context, argv: list[bytes]) -> bytes:
    _flush_mode(argv)
    pace = Pacer(c)
    for _ in c.db.clear_shards():
        pace()
    c.server.tracking.flushed()
    c.propagate(argv)
    return OK


@command("flushall")
def flushall(c: Context, argv: list[bytes]) -> bytes:
    _flush_mode(argv)
    pace = Pacer(c)
    for db in c.server.keyspace.dbs:
        for _ in db.clear_shards():
            pace()
    c.server.tracking.flushed()
    c.server.reset_snapshot()
    c.propagate(argv)
    return OK


# Propagated even when there was nothing to delete (flushdbCommand's forceCommandPropagation).
propagates("flushdb", "flushall")(None)


@command("swapdb")
def swapdb(c: Context, argv: list[bytes]) -> bytes:
    first = to_int(argv[1], errors.err("ERR invalid first DB index"))
    second = to_int(argv[2], errors.err("ERR invalid second DB index"))
    keyspace = c.server.keyspace
    if not (0 <= first < len(keyspace) and 0 <= second < len(keyspace)):
        return errors.DB_INDEX
    keyspace[first].swap(keyspace[second])  # (tracking is not told: Redis 7.0 does not)
    for db in (keyspace[first], keyspace[second]):  # clients blocked on keys that now exist
        for key in list(db.blocked):
            if db.lookup(key) is not None:
                c.server.blocking.ready(db, key)
    return OK


# -- expiry -------------------------------------------------------------------------------------

def _expire_flags(argv: list[bytes]) -> set[bytes]:
    flags = set()
    for arg in argv[3:]:
        opt = arg.upper()
        if opt not in (b"NX", b"XX", b"GT", b"LT"):
            raise CommandError(errors.err_bytes(b"ERR Unsupported option " + arg))
        flags.add(opt)
    if b"NX" in flags and len(flags) > 1:
        raise CommandError(
            errors.err("ERR NX and XX, GT or LT options at the same time are not compatible"))
    if b"GT" in flags and b"LT" in flags:
        raise CommandError(errors.err("ERR GT and LT options at the same time are not compatible"))
    return flags


def _expire(c, argv, *, seconds: bool, relative: bool) -> bytes:  # type: ignore[no-untyped-def]
    flags = _expire_flags(argv)
    when = to_int(argv[2])
    invalid = errors.invalid_expire_time(c.last_command)
    if seconds:
        if when > LLONG_MAX // 1000 or when < -(-LLONG_MIN // 1000):
            return invalid
        when *= 1000
    if relative:
        base = now_ms()
        if when > LLONG_MAX - base:
            return invalid
        when += base
    db = c.db
    key = argv[1]
    if db.lookup(key) is None:
        return integer(0)
    if flags:
        current = db.deadline(key)
        if b"NX" in flags and current is not None:
            return integer(0)
        if b"XX" in flags and current is None:
            return integer(0)
        if b"GT" in flags and (current is None or when <= current):
            return integer(0)
        if b"LT" in flags and current is not None and when >= current:
            return integer(0)
    db.set_deadline(key, when)
    c.notify(GENERIC, b"del" if db.peek(key) is None else b"expire", key)
    return integer(1)


@command("expire")
def expire(c: Context, argv: list[bytes]) -> bytes:
    return _expire(c, argv, seconds=True, relative=True)


@command("pexpire")
def pexpire(c: Context, argv: list[bytes]) -> bytes:
    return _expire(c, argv, seconds=False, relative=True)


@command("expireat")
def expireat(c: Context, argv: list[bytes]) -> bytes:
    return _expire(c, argv, seconds=True, relative=False)


@command("pexpireat")
def pexpireat(c: Context, argv: list[bytes]) -> bytes:
    return _expire(c, argv, seconds=False, relative=False)


def propagate_expiry(c, key: bytes, options: Sequence[bytes] = ()) -> None:  # type: ignore[no-untyped-def]
    """After a command gave key a TTL: log it as an absolute PEXPIREAT (with the EXPIRE
    options as sent), or as a DEL (UNLINK with lazyfree-lazy-expire) when the deadline had
    already passed and the key is gone (expireGenericCommand's rewrites)."""
    deadline = c.db.deadline(key) if c.db.peek(key) is not None else None
    if deadline is None:
        c.propagate([b"UNLINK" if c.server.config.lazyfree_lazy_expire else b"DEL", key])
    else:
        c.propagate([b"PEXPIREAT", key, b"%d" % deadline, *options])


@propagates("expire", "pexpire", "expireat", "pexpireat")
def _propagate_expire(c, argv: list[bytes], reply: bytes) -> None:  # type: ignore[no-untyped-def]
    if reply != ONE:
        return
    if argv[0].lower() == b"pexpireat" and c.db.peek(argv[1]) is not None:
        c.propagate(argv)  # already in its propagated form
    else:
        propagate_expiry(c, argv[1], argv[3:])


def _ttl(c, key: bytes, *, ms: bool, absolute: bool) -> bytes:  # type: ignore[no-untyped-def]
    if c.db.peek_read(key) is None:
        return MINUS_TWO
    deadline = c.db.deadline(key)
    if deadline is None:
        return MINUS_ONE
    value = deadline if absolute else max(deadline - now_ms(), 0)
    return integer(value if ms else (value + 500) // 1000)


@command("ttl")
def ttl(c: Context, argv: list[bytes]) -> bytes:
    return _ttl(c, argv[1], ms=False, absolute=False)


@command("pttl")
def pttl(c: Context, argv: list[bytes]) -> bytes:
    return _ttl(c, argv[1], ms=True, absolute=False)


@command("expiretime")
def expiretime(c: Context, argv: list[bytes]) -> bytes:
    return _ttl(c, argv[1], ms=False, absolute=True)


@command("pexpiretime")
def pexpiretime(c: Context, argv: list[bytes]) -> bytes:
    return _ttl(c, argv[1], ms=True, absolute=True)


@command("persist")
def persist(c: Context, argv: list[bytes]) -> bytes:
    if c.db.lookup(argv[1]) is None:
        return integer(0)
    if not c.db.persist(argv[1]):
        return integer(0)
    c.notify(GENERIC, b"persist", argv[1])
    return integer(1)


# -- OBJECT -------------------------------------------------------------------------------------

OBJECT = container("object")
_SHARED_INTEGERS = 10000  # Redis shares the objects for 0..9999 (OBJ_SHARED_INTEGERS)


def _object_value(c, key: bytes):  # type: ignore[no-untyped-def]
    value = c.db.peek(key)
    if value is None:
        raise CommandError(c.resp.null)
    return value


@command("object|encoding")
def object_encoding(c: Context, argv: list[bytes]) -> bytes:
    value = _object_value(c, argv[2])
    return bulk(encoding(value))


@command("object|refcount")
def object_refcount(c: Context, argv: list[bytes]) -> bytes:
    value = _object_value(c, argv[2])
    shared = (type(value) is bytes and string_encoding(value) == b"int"
              and 0 <= int(value) < _SHARED_INTEGERS)
    return integer(2147483647 if shared else 1)


@command("object|idletime")
def object_idletime(c: Context, argv: list[bytes]) -> bytes:
    _object_value(c, argv[2])
    ageing = c.db.ageing
    if ageing.lfu:
        return errors.err(
            "ERR An LFU maxmemory policy is selected, idle time not tracked. Please note "
            "that when switching between policies at runtime LRU and LFU data will take some "
            "time to adjust.")
    return integer(ageing.idle_seconds(c.db.access_field(argv[2])))


@command("object|freq")
def object_freq(c: Context, argv: list[bytes]) -> bytes:
    _object_value(c, argv[2])
    ageing = c.db.ageing
    if not ageing.lfu:
        return errors.err(
            "ERR An LFU maxmemory policy is not selected, access frequency not tracked. Please "
            "note that when switching between policies at runtime LRU and LFU data will take "
            "some time to adjust.")
    return integer(ageing.frequency(c.db.access_field(argv[2])))


_OBJECT_HELP = [
    b"OBJECT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    b"ENCODING <key>",
    b"    Return the kind of internal representation used in order to store the value",
    b"    associated with a <key>.",
    b"FREQ <key>",
    b"    Return the access frequency index of the <key>. The returned integer is",
    b"    proportional to the logarithm of the recent access frequency of the key.",
    b"IDLETIME <key>",
    b"    Return the idle time of the <key>, that is the approximated number of",
    b"    seconds elapsed since the last access to the key.",
    b"REFCOUNT <key>",
    b"    Return the number of references of the value associated with the specified",
    b"    <key>.",
    b"HELP",
    b"    Prints this help.",
]


def help_reply(lines: list[bytes]) -> bytes:
    """A HELP subcommand's reply: status strings, one per line (Redis's addReplyHelp)."""
    return b"*%d\r\n%s" % (len(lines), b"".join(simple(line) for line in lines))


@command("object|help")
def object_help(c: Context, argv: list[bytes]) -> bytes:
    return help_reply(_OBJECT_HELP)

