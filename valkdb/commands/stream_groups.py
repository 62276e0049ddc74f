"""Consumer-group commands (Redis's t_stream.c): XGROUP, XACK, XPENDING, XCLAIM, XAUTOCLAIM.

A group's PEL and its consumers' PELs share their Nack objects, as Redis's rax entries share
their streamNACK. XCLAIM and XAUTOCLAIM never propagate themselves: each claimed (or dropped)
entry goes out as the idempotent XCLAIM ... FORCE JUSTID LASTID form, and a LASTID that moved
the group without claiming as XGROUP SETID ... ENTRIESREAD, as Redis does.
"""

from __future__ import annotations

from itertools import islice

from valkdb import errors
from valkdb.commands.args import to_int
from valkdb.commands.keys import help_reply
from valkdb.commands.stream_reads import propagate_claim, propagate_group_id
from valkdb.commands.streams import (
    get_stream,
    interval_id,
    parse_id,
    strict_id,
)
from valkdb.core.context import Context
from valkdb.core.notifications import STREAM
from valkdb.core.registry import command, container, propagates
from valkdb.errors import CommandError
from valkdb.protocol.encoder import EMPTY_ARRAY, OK, ONE, ZERO, bulk, integer
from valkdb.store.stream import (
    INVALID_ENTRIES_READ,
    Consumer,
    Group,
    Nack,
    Stream,
    format_id,
    mstime,
)

_BUSYGROUP = errors.err("BUSYGROUP Consumer Group name already exists")
_KEY_REQUIRED = errors.err(
    "ERR The XGROUP subcommand requires the key to exist. Note that for CREATE you may want to "
    "use the MKSTREAM option to create an empty stream automatically.")
_ENTRIES_READ_NEGATIVE = errors.err("ERR value for ENTRIESREAD must be positive or -1")
_COUNT_NOT_POSITIVE = errors.err("ERR COUNT must be > 0")
_NO_MEMORY = errors.err(
    "ERR Insufficient memory, failed allocating transient memory, COUNT too high.")
_LONG_MAX = (1 << 63) - 1

_XGROUP_HELP = [
    b"XGROUP <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    b"CREATE <key> <groupname> <id|$> [option]",
    b"    Create a new consumer group. Options are:",
    b"    * MKSTREAM",
    b"      Create the empty stream if it does not exist.",
    b"    * ENTRIESREAD entries_read",
    b"      Set the group's entries_read counter (internal use).",
    b"CREATECONSUMER <key> <groupname> <consumer>",
    b"    Create a new consumer in the specified group.",
    b"DELCONSUMER <key> <groupname> <consumer>",
    b"    Remove the specified consumer.",
    b"DESTROY <key> <groupname>",
    b"    Remove the specified group.",
    b"SETID <key> <groupname> <id|$> [ENTRIESREAD entries_read]",
    b"    Set the current group ID and entries_read counter.",
    b"HELP",
    b"    Prints this help.",
]


def subcommand_syntax(argv: list[bytes]) -> bytes:
    """An XGROUP / XINFO subcommand's syntax error."""
    return errors.subcommand_syntax(argv[1], argv[0].decode("latin-1"))


def no_group(key: bytes, group_name: bytes) -> bytes:
    return errors.err_bytes(b"NOGROUP No such key '%s' or consumer group '%s'"
                            % (errors.c_string(key), errors.c_string(group_name)))


def no_such_group(key: bytes, group_name: bytes) -> bytes:
    return errors.err_bytes(b"NOGROUP No such consumer group '%s' for key name '%s'"
                            % (errors.c_string(group_name), errors.c_string(key)))


# -- XGROUP -----------------------------------------------------------------------------------

XGROUP = container("xgroup")


def _xgroup_target(c: Context, argv: list[bytes], need_group: bool, mkstream: bool = False,
                   ) -> tuple[Stream | None, Group | None]:
    """The stream and group an XGROUP subcommand works on, with Redis's checks in order."""
    stream = get_stream(c.db, argv[2])
    if mkstream:
        return stream, None
    if stream is None:
        raise CommandError(_KEY_REQUIRED)
    group = stream.groups.get(argv[3])
    if group is None and need_group:
        raise CommandError(no_such_group(argv[2], argv[3]))
    return stream, group


def _group_options(argv: list[bytes], create: bool) -> tuple[bool, int]:
    """CREATE's MKSTREAM and CREATE / SETID's ENTRIESREAD, from the sixth argument on."""
    mkstream = False
    entries_read = INVALID_ENTRIES_READ
    i = 5
    while i < len(argv):
        opt = argv[i].lower()
        if create and opt == b"mkstream":
            mkstream = True
            i += 1
        elif opt == b"entriesread" and i + 1 < len(argv):
            entries_read = to_int(argv[i + 1])
            if entries_read < 0 and entries_read != INVALID_ENTRIES_READ:
                raise CommandError(_ENTRIES_READ_NEGATIVE)
            i += 2
        else:
            raise CommandError(subcommand_syntax(argv))
    return mkstream, entries_read


@command("xgroup|create")
def xgroup_create(c: Context, argv: list[bytes]) -> bytes:
    mkstream, entries_read = _group_options(argv, True)
    key = argv[2]
    stream, _ = _xgroup_target(c, argv, False, mkstream)
    if stream is None and not mkstream:
        return _KEY_REQUIRED
    if len(argv) > 8:
        return subcommand_syntax(argv)
    if argv[4] == b"$":
        last_id = 0 if stream is None else stream.last_id
    else:
        last_id = strict_id(argv[4])
    if stream is None:
        stream = Stream()
        c.db.store(key, stream)
    if argv[3] in stream.groups:
        return _BUSYGROUP
    stream.groups[argv[3]] = Group(last_id, entries_read)
    c.db.count_changes()
    c.notify(STREAM, b"xgroup-create", key)
    return OK


@command("xgroup|setid")
def xgroup_setid(c: Context, argv: list[bytes]) -> bytes:
    _, entries_read = _group_options(argv, False)
    stream, group = _xgroup_target(c, argv, True)
    assert stream is not None and group is not None
    if len(argv) not in (5, 7):
        return subcommand_syntax(argv)
    group.last_id = stream.last_id if argv[4] == b"$" else parse_id(argv[4])[0]
    group.entries_read = entries_read
    c.db.count_changes()
    c.notify(STREAM, b"xgroup-setid", argv[2])
    return OK


@command("xgroup|destroy")
def xgroup_destroy(c: Context, argv: list[bytes]) -> bytes:
    stream, group = _xgroup_target(c, argv, False)
    if group is None or stream is None:
        return ZERO
    del stream.groups[argv[3]]
    c.db.count_changes()
    c.notify(STREAM, b"xgroup-destroy", argv[2])
    c.server.blocking.ready(c.db, argv[2])  # its blocked readers wake with -NOGROUP
    return ONE


@command("xgroup|createconsumer")
def xgroup_createconsumer(c: Context, argv: list[bytes]) -> bytes:
    _, group = _xgroup_target(c, argv, True)
    assert group is not None
    if group.create_consumer(argv[4]) is None:
        return ZERO
    c.db.count_changes()
    c.notify(STREAM, b"xgroup-createconsumer", argv[2])
    return ONE


@command("xgroup|delconsumer")
def xgroup_delconsumer(c: Context, argv: list[bytes]) -> bytes:
    _, group = _xgroup_target(c, argv, True)
    assert group is not None
    consumer = group.consumer(argv[4], refresh=False)
    if consumer is None:
        return ZERO
    pending = len(consumer.pel)
    group.delete_consumer(consumer)
    c.db.count_changes()
    c.notify(STREAM, b"xgroup-delconsumer", argv[2])
    return integer(pending)


@command("xgroup|help")
def xgroup_help(c: Context, argv: list[bytes]) -> bytes:
    return help_reply(_XGROUP_HELP)


# -- XACK and XPENDING ------------------------------------------------------------------------

def _group_of(c: Context, key: bytes, group_name: bytes) -> tuple[Stream | None, Group | None]:
    stream = get_stream(c.db, key, read=True)
    return stream, None if stream is None else stream.groups.get(group_name)


@command("xack")
def xack(c: Context, argv: list[bytes]) -> bytes:
    _, group = _group_of(c, argv[1], argv[2])
    if group is None:
        return ZERO
    ids = [strict_id(arg) for arg in argv[3:]]
    acknowledged = 0
    for entry_id in ids:
        if entry_id in group.pel:
            group.remove_nack(entry_id)
            acknowledged += 1
    if acknowledged:
        c.db.count_changes(acknowledged)
    return integer(acknowledged)


def _pending_summary(c: Context, group: Group) -> bytes:
    pel = group.pel
    if not pel:
        return b"*4\r\n" + ZERO + c.resp.null + c.resp.null + c.resp.null_array
    owners = [b"*2\r\n" + bulk(name) + bulk(b"%d" % len(consumer.pel))
              for name, consumer in group.consumers.items() if consumer.pel]
    return (b"*4\r\n" + integer(len(pel)) + bulk(format_id(pel.peekitem(0)[0]))
            + bulk(format_id(pel.peekitem(-1)[0]))
            + b"*%d\r\n%s" % (len(owners), b"".join(owners)))


@command("xpending")
def xpending(c: Context, argv: list[bytes]) -> bytes:
    n = len(argv)
    if n != 3 and not 6 <= n <= 9:
        return errors.SYNTAX
    min_idle = 0
    consumer_name = None
    if n >= 6:
        at = 3
        if argv[3].lower() == b"idle":
            min_idle = to_int(argv[4])
            if n < 8:
                return errors.SYNTAX
            at = 5
        count = max(to_int(argv[at + 2]), 0)
        start = interval_id(argv[at], 0, True)
        end = interval_id(argv[at + 1], (1 << 64) - 1, False)
        if at + 3 < n:
            consumer_name = argv[at + 3]
    stream, group = _group_of(c, argv[1], argv[2])
    if group is None:
        return no_group(argv[1], argv[2])
    if n == 3:
        return _pending_summary(c, group)
    pel = group.pel
    if consumer_name is not None:
        consumer = group.consumer(consumer_name, refresh=False)
        if consumer is None:
            return EMPTY_ARRAY
        pel = consumer.pel
    now = mstime()
    rows = []
    for entry_id in pel.irange(start, end):
        if not count:
            break
        nack = pel[entry_id]
        if min_idle and now - nack.delivery_time < min_idle:
            continue
        count -= 1
        rows.append(b"*4\r\n" + bulk(format_id(entry_id)) + bulk(nack.consumer.name)
                    + integer(max(now - nack.delivery_time, 0)) + integer(nack.delivery_count))
    return b"*%d\r\n%s" % (len(rows), b"".join(rows))


# -- XCLAIM and XAUTOCLAIM --------------------------------------------------------------------

def _claimer(c: Context, key: bytes, group: Group, name: bytes) -> Consumer:
    consumer = group.consumer(name)
    if consumer is None:
        consumer = group.create_consumer(name)
        assert consumer is not None
        c.db.count_changes()
        c.notify(STREAM, b"xgroup-createconsumer", key)
    return consumer


def _transfer(group: Group, entry_id: int, nack: Nack, consumer: Consumer) -> None:
    if nack.consumer is not consumer:
        if nack.consumer is not None:
            nack.consumer.pel.pop(entry_id, None)
        consumer.pel[entry_id] = nack
        nack.consumer = consumer


def _claimed_reply(stream: Stream, entry_id: int, justid: bool) -> bytes:
    return bulk(format_id(entry_id)) if justid else stream.get(entry_id)  # type: ignore[return-value]


def _xclaim_options(argv: list[bytes], first: int, now: int,
                    ) -> tuple[int, int, bool, bool, int]:
    """XCLAIM's trailing options from argv[first]: (delivery time or -1, retry count or -1,
    FORCE, JUSTID, LASTID)."""
    j = first
    delivery, retry, force, justid, last_id = -1, -1, False, False, 0
    while j < len(argv):
        more = len(argv) - 1 - j
        opt = argv[j].lower()
        if opt == b"force":
            force = True
        elif opt == b"justid":
            justid = True
        elif opt == b"idle" and more:
            j += 1
            delivery = now - to_int(argv[j], errors.err(
                "ERR Invalid IDLE option argument for XCLAIM"))
        elif opt == b"time" and more:
            j += 1
            delivery = to_int(argv[j], errors.err("ERR Invalid TIME option argument for XCLAIM"))
        elif opt == b"retrycount" and more:
            j += 1
            retry = to_int(argv[j], errors.err(
                "ERR Invalid RETRYCOUNT option argument for XCLAIM"))
        elif opt == b"lastid" and more:
            j += 1
            last_id = strict_id(argv[j])
        else:
            raise CommandError(errors.err_bytes(
                b"ERR Unrecognized XCLAIM option '%s'" % errors.c_string(argv[j])))
        j += 1
    return delivery, retry, force, justid, last_id


@command("xclaim")
def xclaim(c: Context, argv: list[bytes]) -> bytes:
    key, group_name = argv[1], argv[2]
    stream, group = _group_of(c, key, group_name)
    if stream is None or group is None:
        return no_group(key, group_name)
    min_idle = max(to_int(argv[4], errors.err("ERR Invalid min-idle-time argument for XCLAIM")),
                   0)
    ids: list[int] = []
    for arg in argv[5:]:
        try:
            ids.append(strict_id(arg))
        except CommandError:
            break
    now = mstime()
    delivery, retry, force, justid, last_id = _xclaim_options(argv, 5 + len(ids), now)
    propagate_last_id = False
    if last_id > group.last_id:
        group.last_id = last_id
        propagate_last_id = True
    if delivery == -1 or delivery < 0 or delivery > now:
        delivery = now
    consumer = None
    replies = []
    for id_arg, entry_id in zip(argv[5:], ids, strict=False):
        nack = group.pel.get(entry_id)
        if entry_id not in stream:
            if nack is not None:  # the entry is gone: so goes its PEL entry
                propagate_claim(c, key, group_name, id_arg, nack, group)
                propagate_last_id = False
                c.db.count_changes()
                group.remove_nack(entry_id)
            continue
        if force and nack is None:
            nack = group.pel[entry_id] = Nack(None, now)
        if nack is None:
            continue
        if nack.consumer is not None and min_idle and now - nack.delivery_time < min_idle:
            continue
        if consumer is None:
            consumer = _claimer(c, key, group, argv[3])
        nack.delivery_time = delivery
        if retry >= 0:
            nack.delivery_count = retry
        elif not justid:
            nack.delivery_count += 1
        _transfer(group, entry_id, nack, consumer)
        replies.append(_claimed_reply(stream, entry_id, justid))
        propagate_claim(c, key, group_name, id_arg, nack, group)
        propagate_last_id = False
        c.db.count_changes()
    if propagate_last_id:
        propagate_group_id(c, key, group_name, group)
        c.db.count_changes()
    return b"*%d\r\n%s" % (len(replies), b"".join(replies))


@command("xautoclaim")
def xautoclaim(c: Context, argv: list[bytes]) -> bytes:
    key, group_name = argv[1], argv[2]
    min_idle = max(to_int(argv[4], errors.err(
        "ERR Invalid min-idle-time argument for XAUTOCLAIM")), 0)
    start = interval_id(argv[5], 0, True)
    count = 100
    justid = False
    j = 6
    while j < len(argv):
        opt = argv[j].lower()
        if opt == b"count" and j + 1 < len(argv):
            count = to_int(argv[j + 1], _COUNT_NOT_POSITIVE)
            if not 1 <= count <= _LONG_MAX // 16:
                return _COUNT_NOT_POSITIVE
            j += 1
        elif opt == b"justid":
            justid = True
        else:
            return errors.SYNTAX
        j += 1
    stream, group = _group_of(c, key, group_name)
    if stream is None or group is None:
        return no_group(key, group_name)
    if count > 1 << 32:  # Redis fails to allocate count IDs for the deleted list
        return _NO_MEMORY
    attempts = count * 10
    candidates = list(islice(group.pel.irange(minimum=start), attempts + 1))
    now = mstime()
    consumer = None
    claimed: list[bytes] = []
    deleted: list[bytes] = []
    at = 0
    while attempts and count and at < len(candidates):
        attempts -= 1
        entry_id = candidates[at]
        at += 1
        nack = group.pel[entry_id]
        if entry_id not in stream:
            id_text = format_id(entry_id)
            propagate_claim(c, key, group_name, id_text, nack, group)
            c.db.count_changes()
            group.remove_nack(entry_id)
            deleted.append(bulk(id_text))
            count -= 1
            continue
        if min_idle and now - nack.delivery_time < min_idle:
            continue
        if consumer is None:
            consumer = _claimer(c, key, group, argv[3])
        nack.delivery_time = now
        if not justid:
            nack.delivery_count += 1
        _transfer(group, entry_id, nack, consumer)
        claimed.append(_claimed_reply(stream, entry_id, justid))
        count -= 1
        propagate_claim(c, key, group_name, format_id(entry_id), nack, group)
        c.db.count_changes()
    cursor = format_id(candidates[at]) if at < len(candidates) else b"0-0"
    return (b"*3\r\n" + bulk(cursor) + b"*%d\r\n%s" % (len(claimed), b"".join(claimed))
            + b"*%d\r\n%s" % (len(deleted), b"".join(deleted)))


# XCLAIM and XAUTOCLAIM log their effects entry by entry (see the module docstring).
propagates("xclaim", "xautoclaim")(None)
