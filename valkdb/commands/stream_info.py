"""XINFO STREAM [FULL [COUNT n]], XINFO GROUPS, XINFO CONSUMERS, XINFO HELP (Redis's
xinfoCommand): what a stream, its groups and their consumers hold, as Redis 7.0 reports them
(consumers have a seen-time and an idle time; 7.2's active-time and inactive are not there).
"""

from __future__ import annotations

from itertools import islice
from typing import Any

from valkdb import errors
from valkdb.commands.args import to_int
from valkdb.commands.keys import help_reply
from valkdb.commands.stream_groups import no_such_group, subcommand_syntax
from valkdb.commands.streams import get_stream, range_reply
from valkdb.core.context import Context
from valkdb.core.registry import command, container
from valkdb.errors import CommandError
from valkdb.protocol.encoder import bulk, integer
from valkdb.store.stream import INVALID_ENTRIES_READ, MAX_ID, Group, Stream, format_id, mstime

XINFO = container("xinfo")

_HELP = [
    b"XINFO <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    b"CONSUMERS <key> <groupname>",
    b"    Show consumers of <groupname>.",
    b"GROUPS <key>",
    b"    Show the stream consumer groups.",
    b"STREAM <key> [FULL [COUNT <count>]",
    b"    Show information about the stream.",
    b"HELP",
    b"    Prints this help.",
]


def _stream(c: Context, key: bytes) -> Stream:
    stream = get_stream(c.db, key)
    if stream is None:
        raise CommandError(errors.NO_SUCH_KEY)
    return stream


def _field(name: bytes, reply: bytes) -> tuple[bytes, bytes]:
    return bulk(name), reply


def _entries_read(c: Context, group: Group) -> bytes:
    return c.resp.null if group.entries_read == INVALID_ENTRIES_READ else integer(
        group.entries_read)


def _lag(c: Context, stream: Stream, group: Group) -> bytes:
    lag = stream.lag(group)
    return c.resp.null if lag is None else integer(lag)


def _full_group(c: Context, stream: Stream, name: bytes, group: Group, count: int) -> bytes:
    pending = [b"*4\r\n" + bulk(format_id(entry_id)) + bulk(nack.consumer.name)
               + integer(nack.delivery_time) + integer(nack.delivery_count)
               for entry_id, nack in _first(group.pel, count)]
    consumers = []
    for consumer in group.consumers.values():
        own = [b"*3\r\n" + bulk(format_id(entry_id)) + integer(nack.delivery_time)
               + integer(nack.delivery_count) for entry_id, nack in _first(consumer.pel, count)]
        consumers.append(c.resp.map([
            _field(b"name", bulk(consumer.name)),
            _field(b"seen-time", integer(consumer.seen_time)),
            _field(b"pel-count", integer(len(consumer.pel))),
            _field(b"pending", b"*%d\r\n%s" % (len(own), b"".join(own))),
        ]))
    return c.resp.map([
        _field(b"name", bulk(name)),
        _field(b"last-delivered-id", bulk(format_id(group.last_id))),
        _field(b"entries-read", _entries_read(c, group)),
        _field(b"lag", _lag(c, stream, group)),
        _field(b"pel-count", integer(len(group.pel))),
        _field(b"pending", b"*%d\r\n%s" % (len(pending), b"".join(pending))),
        _field(b"consumers", b"*%d\r\n%s" % (len(consumers), b"".join(consumers))),
    ])


def _first(pel: Any, count: int) -> Any:
    """The first `count` pending entries (0: all), oldest first."""
    return islice(pel.items(), count or None)


@command("xinfo|stream")
def xinfo_stream(c: Context, argv: list[bytes]) -> bytes:
    stream = _stream(c, argv[2])  # before the options, as Redis looks it up
    options = argv[3:]
    full = bool(options)
    count = 10  # Redis's default, so that FULL never replies with a whole big stream
    if options:
        if len(options) not in (1, 3) or options[0].lower() != b"full":
            return subcommand_syntax(argv)
        if len(options) == 3:
            if options[1].lower() != b"count":
                return subcommand_syntax(argv)
            count = to_int(options[2])
            if count < 0:
                count = 10
    fields = [
        _field(b"length", integer(len(stream))),
        _field(b"radix-tree-keys", integer(len(stream.nodes))),
        _field(b"radix-tree-nodes", integer(stream.rax_nodes())),
        _field(b"last-generated-id", bulk(format_id(stream.last_id))),
        _field(b"max-deleted-entry-id", bulk(format_id(stream.max_deleted_id))),
        _field(b"entries-added", integer(stream.entries_added)),
        _field(b"recorded-first-entry-id", bulk(format_id(stream.first_id))),
    ]
    if not full:
        first, last = stream.first_entry(), stream.last_entry()
        null = c.resp.null
        fields += [
            _field(b"groups", integer(len(stream.groups))),
            _field(b"first-entry", null if first is None else first[1]),
            _field(b"last-entry", null if last is None else last[1]),
        ]
    else:
        groups = [_full_group(c, stream, name, group, count)
                  for name, group in stream.groups.items()]
        fields += [
            _field(b"entries", range_reply(stream, 0, MAX_ID, count)),
            _field(b"groups", b"*%d\r\n%s" % (len(groups), b"".join(groups))),
        ]
    return c.resp.map(fields)


@command("xinfo|groups")
def xinfo_groups(c: Context, argv: list[bytes]) -> bytes:
    stream = _stream(c, argv[2])
    groups = [c.resp.map([
        _field(b"name", bulk(name)),
        _field(b"consumers", integer(len(group.consumers))),
        _field(b"pending", integer(len(group.pel))),
        _field(b"last-delivered-id", bulk(format_id(group.last_id))),
        _field(b"entries-read", _entries_read(c, group)),
        _field(b"lag", _lag(c, stream, group)),
    ]) for name, group in stream.groups.items()]
    return b"*%d\r\n%s" % (len(groups), b"".join(groups))


@command("xinfo|consumers")
def xinfo_consumers(c: Context, argv: list[bytes]) -> bytes:
    stream = _stream(c, argv[2])
    group = stream.groups.get(argv[3])
    if group is None:
        return no_such_group(argv[2], argv[3])
    now = mstime()
    consumers = [c.resp.map([
        _field(b"name", bulk(consumer.name)),
        _field(b"pending", integer(len(consumer.pel))),
        _field(b"idle", integer(max(now - consumer.seen_time, 0))),
    ]) for consumer in group.consumers.values()]
    return b"*%d\r\n%s" % (len(consumers), b"".join(consumers))


@command("xinfo|help")
def xinfo_help(c: Context, argv: list[bytes]) -> bytes:
    return help_reply(_HELP)
