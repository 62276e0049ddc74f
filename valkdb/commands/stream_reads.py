"""XREAD and XREADGROUP, blocking included (Redis's xreadCommand and blocked.c's stream part).

Both first try to serve every stream at once. When none can be served and BLOCK was given, the
client parks on valkdb.core.blocking with a `serve(key)` that does what Redis's
serveClientsBlockedOnStreamKey does: every waiter on a stream that grew is served (reading does
not consume), an XREADGROUP waiter re-reads its group's last ID each time, and one whose stream
or group is gone wakes with Redis's error. XADD signals its key after every add, and deleting or
overwriting a key clients block on signals it too (the keyspace's hook).

A delivery to a group creates or moves PEL entries and is propagated as Redis does it: an XCLAIM
per entry (FORCE JUSTID with the group's last ID), XGROUP SETID ... ENTRIESREAD after a NOACK
read, XGROUP CREATECONSUMER for a consumer a NOACK read created. XREADGROUP itself is never
propagated.
"""

from __future__ import annotations

from typing import Any

from valkdb import errors
from valkdb.commands.args import to_int
from valkdb.commands.streams import get_stream, range_reply, strict_id
from valkdb.core.context import Context
from valkdb.core.notifications import STREAM
from valkdb.core.registry import command, propagates
from valkdb.errors import CommandError
from valkdb.protocol.encoder import bulk
from valkdb.store.stream import MAX_ID, Consumer, Group, Nack, Stream, format_id, mstime

_BLOCKED_DEFAULT_COUNT = 1000
_UNBALANCED = errors.err(
    "ERR Unbalanced XREAD list of streams: for each stream key an ID or '$' must be specified.")
_GROUP_IN_XREAD = errors.err(
    "ERR The GROUP option is only supported by XREADGROUP. You called XREAD instead.")
_NOACK_IN_XREAD = errors.err(
    "ERR The NOACK option is only supported by XREADGROUP. You called XREAD instead.")
_MISSING_GROUP = errors.err("ERR Missing GROUP option for XREADGROUP")
_DOLLAR_IN_GROUP = errors.err(
    "ERR The $ ID is meaningless in the context of XREADGROUP: you want to read the history of "
    "this consumer by specifying a proper ID, or use the > ID to get new messages. The $ ID "
    "would just return an empty result set.")
_GT_IN_XREAD = errors.err(
    "ERR The > ID can be specified only when calling XREADGROUP using the GROUP <group> "
    "<consumer> option.")
_TIMEOUT_NOT_INTEGER = errors.err("ERR timeout is not an integer or out of range")
_GROUP_GONE = errors.err("NOGROUP the consumer group this client was blocked on no longer exists")
_KEY_GONE = errors.err("UNBLOCKED the stream key no longer exists")


# -- propagation of group state ---------------------------------------------------------------

def propagate_claim(c: Context, key: bytes, group_name: bytes, id_arg: bytes, nack: Nack,
                    group: Group) -> None:
    """streamPropagateXCLAIM: an idempotent XCLAIM that recreates this PEL entry."""
    assert nack.consumer is not None
    c.propagate([b"XCLAIM", key, group_name, nack.consumer.name, b"0", id_arg,
                 b"TIME", b"%d" % nack.delivery_time, b"RETRYCOUNT", b"%d" % nack.delivery_count,
                 b"FORCE", b"JUSTID", b"LASTID", format_id(group.last_id)])


def propagate_group_id(c: Context, key: bytes, group_name: bytes, group: Group) -> None:
    c.propagate([b"XGROUP", b"SETID", key, group_name, format_id(group.last_id),
                 b"ENTRIESREAD", b"%d" % group.entries_read])


def _reading_consumer(c: Context, key: bytes, group_name: bytes, group: Group, name: bytes,
                      noack: bool) -> Consumer:
    """The consumer a read is for, created if new (a NOACK read propagates its creation: no
    XCLAIM will)."""
    consumer = group.consumer(name)
    if consumer is None:
        consumer = group.create_consumer(name)
        assert consumer is not None
        c.db.count_changes()
        c.notify(STREAM, b"xgroup-createconsumer", key)
        if noack:
            c.propagate([b"XGROUP", b"CREATECONSUMER", key, group_name, name])
    return consumer


def deliver(c: Context, key: bytes, stream: Stream, group_name: bytes, group: Group,
            consumer: Consumer, start: int, count: int, noack: bool) -> bytes:
    """streamReplyWithRange with a group: new entries from start, into the PEL unless NOACK."""
    found = stream.scan(start, MAX_ID, count)
    moved = False
    now = mstime()
    parts = []
    for entry_id, encoded in found:
        if stream.advance_group(group, entry_id) and noack:
            moved = True
        parts.append(encoded)
        if noack:
            continue
        nack = group.pel.get(entry_id)
        if nack is None:
            nack = group.pel[entry_id] = Nack(consumer, now)
        else:
            if nack.consumer is not None:
                nack.consumer.pel.pop(entry_id, None)
            nack.consumer, nack.delivery_time, nack.delivery_count = consumer, now, 1
        consumer.pel[entry_id] = nack
        propagate_claim(c, key, group_name, format_id(entry_id), nack, group)
    if moved:
        propagate_group_id(c, key, group_name, group)
    return b"*%d\r\n%s" % (len(parts), b"".join(parts))


def _history(c: Context, stream: Stream, consumer: Consumer, start: int, count: int) -> bytes:
    """streamReplyWithRangeFromConsumerPEL: the consumer's own pending entries from start; one
    deleted since is [ID, null]."""
    now = mstime()
    parts: list[bytes] = []
    for entry_id in consumer.pel.irange(minimum=start):
        if count and len(parts) == count:
            break
        encoded = stream.get(entry_id)
        if encoded is None:
            parts.append(b"*2\r\n" + bulk(format_id(entry_id)) + c.resp.null_array)
            continue
        parts.append(encoded)
        nack = consumer.pel[entry_id]
        nack.delivery_time = now
        nack.delivery_count += 1
    return b"*%d\r\n%s" % (len(parts), b"".join(parts))


# -- the command ------------------------------------------------------------------------------

class _Read:
    """What an XREAD / XREADGROUP asked for."""

    __slots__ = ("timeout", "count", "keys", "ids", "group_name", "consumer_name", "noack",
                 "groups")

    def __init__(self) -> None:
        self.timeout = -1  # ms; -1: no BLOCK
        self.count = 0
        self.keys: list[bytes] = []
        self.ids: list[int] = []  # MAX_ID stands for ">"
        self.group_name: bytes | None = None
        self.consumer_name = b""
        self.noack = False
        self.groups: list[Group] = []


def _parse(c: Context, argv: list[bytes], readgroup: bool) -> _Read:
    read = _Read()
    streams_at = 0
    i = 1
    n = len(argv)
    while i < n:
        more = n - i - 1
        opt = argv[i].lower()
        if opt == b"block" and more:
            if c.in_script:
                raise CommandError(errors.err_bytes(
                    b"ERR %s command is not allowed with BLOCK option from scripts"
                    % errors.c_string(argv[0])))
            i += 1
            read.timeout = to_int(argv[i], _TIMEOUT_NOT_INTEGER)
            if read.timeout < 0:
                raise CommandError(errors.TIMEOUT_NEGATIVE)
        elif opt == b"count" and more:
            i += 1
            read.count = max(to_int(argv[i]), 0)
        elif opt == b"streams" and more:
            streams_at = i + 1
            if (n - streams_at) % 2:
                raise CommandError(_UNBALANCED)
            break
        elif opt == b"group" and more >= 2:
            if not readgroup:
                raise CommandError(_GROUP_IN_XREAD)
            read.group_name, read.consumer_name = argv[i + 1], argv[i + 2]
            i += 2
        elif opt == b"noack":
            if not readgroup:
                raise CommandError(_NOACK_IN_XREAD)
            read.noack = True
        else:
            raise CommandError(errors.SYNTAX)
        i += 1
    if not streams_at:
        raise CommandError(errors.SYNTAX)
    if readgroup and read.group_name is None:
        raise CommandError(_MISSING_GROUP)
    half = (n - streams_at) // 2
    read.keys = argv[streams_at : streams_at + half]
    db = c.db
    for key, arg in zip(read.keys, argv[streams_at + half :], strict=True):
        stream = get_stream(db, key, read=True)
        if read.group_name is not None:
            group = None if stream is None else stream.groups.get(read.group_name)
            if group is None:
                raise CommandError(errors.err_bytes(
                    b"NOGROUP No such key '%s' or consumer group '%s' in XREADGROUP with GROUP "
                    b"option" % (errors.c_string(key), errors.c_string(read.group_name))))
            read.groups.append(group)
        if arg == b"$":
            if readgroup:
                raise CommandError(_DOLLAR_IN_GROUP)
            read.ids.append(0 if stream is None else stream.last_id)
        elif arg == b">":
            if not readgroup:
                raise CommandError(_GT_IN_XREAD)
            read.ids.append(MAX_ID)
        else:
            read.ids.append(strict_id(arg))
    return read


def _stream_header(c: Context, count: int) -> bytes:
    return b"*%d\r\n" % count if c.resp.version == 2 else b"%%%d\r\n" % count


def _keyed(c: Context, key: bytes, entries: bytes) -> bytes:
    return (b"*2\r\n" if c.resp.version == 2 else b"") + bulk(key) + entries


def _serve_now(c: Context, read: _Read) -> list[bytes]:
    """The streams that can be served at once, each as its keyed reply."""
    served = []
    db = c.db
    for index, key in enumerate(read.keys):
        stream = db.read(key)
        if stream is None:
            continue
        gt = read.ids[index]
        if read.group_name is None:
            if stream.length and stream.last_valid_id() > gt:
                served.append(_keyed(c, key, range_reply(stream, gt + 1, MAX_ID, read.count)))
            continue
        group = read.groups[index]
        history = gt != MAX_ID
        if not history:
            if not (stream.length and stream.last_valid_id() > group.last_id):
                continue
            gt = group.last_id
        consumer = _reading_consumer(c, key, read.group_name, group, read.consumer_name,
                                     read.noack)
        if history:
            entries = _history(c, stream, consumer, gt + 1, read.count)
        else:
            entries = deliver(c, key, stream, read.group_name, group, consumer, gt + 1,
                              read.count, read.noack)
        c.db.count_changes()
        served.append(_keyed(c, key, entries))
    return served


def _waiting(c: Context, read: _Read) -> Any:
    """serve(key) for a blocked read: serveClientsBlockedOnStreamKey for this client."""
    db = c.db
    after: dict[bytes, int] = {}
    for key, gt in zip(read.keys, read.ids, strict=True):
        after.setdefault(key, gt)  # a key given twice waits for its first ID
    count = read.count or _BLOCKED_DEFAULT_COUNT
    group_name = read.group_name

    def serve(key: bytes) -> bytes | None:
        stream = db.lookup(key)
        if type(stream) is not Stream:
            return None if group_name is None else _KEY_GONE
        gt = after[key]
        group = None
        if group_name is not None:
            group = stream.groups.get(group_name)
            if group is None:
                return _GROUP_GONE
            gt = group.last_id
        if stream.last_id <= gt:
            return None
        if group is None or group_name is None:
            entries = range_reply(stream, gt + 1, MAX_ID, count)
        else:
            consumer = _reading_consumer(c, key, group_name, group, read.consumer_name,
                                         read.noack)
            entries = deliver(c, key, stream, group_name, group, consumer, gt + 1, count,
                              read.noack)
            db.count_changes()
        return _stream_header(c, 1) + _keyed(c, key, entries)

    return serve


def _xread(c: Context, argv: list[bytes], readgroup: bool) -> bytes:
    read = _parse(c, argv, readgroup)
    served = _serve_now(c, read)
    if served:
        return _stream_header(c, len(served)) + b"".join(served)
    if read.timeout == -1 or c.deny_blocking:
        return c.resp.null_array
    reply = c.server.blocking.block(c, read.keys, read.timeout / 1000, _waiting(c, read))
    return c.resp.null_array if reply is None else reply


@command("xread")
def xread(c: Context, argv: list[bytes]) -> bytes:
    return _xread(c, argv, False)


@command("xreadgroup")
def xreadgroup(c: Context, argv: list[bytes]) -> bytes:
    return _xread(c, argv, True)


# XREADGROUP propagates the group state it changed (XCLAIM, XGROUP SETID / CREATECONSUMER).
propagates("xreadgroup")(None)
