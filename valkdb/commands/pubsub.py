"""Pub/sub commands, plain and sharded. In RESP3 confirmations and messages are push frames; in
RESP2 arrays.

The two families count separately, as Redis 7.0 does: a (P)SUBSCRIBE / (P)UNSUBSCRIBE
confirmation carries the client's channels plus patterns, an SSUBSCRIBE / SUNSUBSCRIBE one only
its shard channels. Subscribed mode (RESP2's restricted command set) lasts while any of the
three is non-empty.
"""

from __future__ import annotations

from typing import Any

from valkdb import errors
from valkdb.commands.keys import help_reply
from valkdb.core.context import Context
from valkdb.core.registry import command, container
from valkdb.glob import matcher
from valkdb.protocol.encoder import array, bulk, bulk_array, integer

_SSUBSCRIBE_DENIED = errors.err("ERR SSUBSCRIBE isn't allowed for a DENY BLOCKING client")


def _confirm(c: Context, kind: bytes, name: bytes | None, count: int) -> bytes:
    """A subscription change's confirmation: its kind, the name (null when there was nothing
    to unsubscribe from) and the client's count of that family."""
    return c.resp.push([bulk(kind), c.resp.null if name is None else bulk(name), integer(count)])


def _plain_count(c: Context) -> int:
    return len(c.channels) + len(c.patterns)


@command("subscribe")
def subscribe(c: Context, argv: list[bytes]) -> bytes:
    replies = []
    for channel in argv[1:]:
        c.server.pubsub.subscribe(c, channel)
        replies.append(_confirm(c, b"subscribe", channel, _plain_count(c)))
    return b"".join(replies)


@command("psubscribe")
def psubscribe(c: Context, argv: list[bytes]) -> bytes:
    replies = []
    for pattern in argv[1:]:
        c.server.pubsub.psubscribe(c, pattern)
        replies.append(_confirm(c, b"psubscribe", pattern, _plain_count(c)))
    return b"".join(replies)


@command("unsubscribe")
def unsubscribe(c: Context, argv: list[bytes]) -> bytes:
    channels = argv[1:] or list(c.channels)
    if not channels:
        return _confirm(c, b"unsubscribe", None, _plain_count(c))
    replies = []
    for channel in channels:
        c.server.pubsub.unsubscribe(c, channel)
        replies.append(_confirm(c, b"unsubscribe", channel, _plain_count(c)))
    return b"".join(replies)


@command("punsubscribe")
def punsubscribe(c: Context, argv: list[bytes]) -> bytes:
    patterns = argv[1:] or list(c.patterns)
    if not patterns:
        return _confirm(c, b"punsubscribe", None, _plain_count(c))
    replies = []
    for pattern in patterns:
        c.server.pubsub.punsubscribe(c, pattern)
        replies.append(_confirm(c, b"punsubscribe", pattern, _plain_count(c)))
    return b"".join(replies)


@command("ssubscribe")
def ssubscribe(c: Any, argv: list[bytes]) -> bytes:  # a connection.Client
    # Unlike SUBSCRIBE, Redis makes no exception for EXEC: a client that cannot block (inside
    # EXEC; scripts are refused by the noscript flag) cannot enter subscribed mode this way.
    if c.deny_blocking:
        return _SSUBSCRIBE_DENIED
    replies = []
    for channel in argv[1:]:
        c.server.pubsub.ssubscribe(c, channel)
        replies.append(_confirm(c, b"ssubscribe", channel, len(c.shard_channels)))
    return b"".join(replies)


@command("sunsubscribe")
def sunsubscribe(c: Any, argv: list[bytes]) -> bytes:  # a connection.Client
    channels = argv[1:] or list(c.shard_channels)
    if not channels:
        return _confirm(c, b"sunsubscribe", None, 0)
    replies = []
    for channel in channels:
        c.server.pubsub.sunsubscribe(c, channel)
        replies.append(_confirm(c, b"sunsubscribe", channel, len(c.shard_channels)))
    return b"".join(replies)


@command("publish")
def publish(c: Context, argv: list[bytes]) -> bytes:
    return integer(c.server.pubsub.publish(argv[1], argv[2]))


@command("spublish")
def spublish(c: Context, argv: list[bytes]) -> bytes:
    return integer(c.server.pubsub.spublish(argv[1], argv[2]))


container("pubsub")


def _channel_list(argv: list[bytes], table: dict[bytes, Any]) -> bytes:
    """PUBSUB CHANNELS / SHARDCHANNELS [pattern]: the active channels, matching ones only."""
    if len(argv) > 3:
        return errors.subcommand_syntax(argv[1], "pubsub")
    channels = list(table)
    if len(argv) == 3:
        channels = list(filter(matcher(argv[2]), channels))
    return bulk_array(channels)


def _subscriber_counts(argv: list[bytes], table: dict[bytes, Any]) -> bytes:
    """PUBSUB NUMSUB / SHARDNUMSUB: channel, count, ... as a flat array (in RESP3 too: Redis
    7.0 does not reply a map here)."""
    return array([part for ch in argv[2:] for part in (bulk(ch), integer(len(table.get(ch, ()))))])


@command("pubsub|channels")
def pubsub_channels(c: Context, argv: list[bytes]) -> bytes:
    return _channel_list(argv, c.server.pubsub.channels)


@command("pubsub|shardchannels")
def pubsub_shardchannels(c: Context, argv: list[bytes]) -> bytes:
    return _channel_list(argv, c.server.pubsub.shard_channels)


@command("pubsub|numsub")
def pubsub_numsub(c: Context, argv: list[bytes]) -> bytes:
    return _subscriber_counts(argv, c.server.pubsub.channels)


@command("pubsub|shardnumsub")
def pubsub_shardnumsub(c: Context, argv: list[bytes]) -> bytes:
    return _subscriber_counts(argv, c.server.pubsub.shard_channels)


_PUBSUB_HELP = [
    b"PUBSUB <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    b"CHANNELS [<pattern>]",
    b"    Return the currently active channels matching a <pattern> (default: '*').",
    b"NUMPAT",
    b"    Return number of subscriptions to patterns.",
    b"NUMSUB [<channel> ...]",
    b"    Return the number of subscribers for the specified channels, excluding",
    b"    pattern subscriptions(default: no channels).",
    b"SHARDCHANNELS [<pattern>]",
    b"    Return the currently active shard level channels matching a <pattern> (default: '*').",
    b"SHARDNUMSUB [<shardchannel> ...]",
    b"    Return the number of subscribers for the specified shard level channel(s)",
    b"HELP",
    b"    Prints this help.",
]


@command("pubsub|help")
def pubsub_help(c: Context, argv: list[bytes]) -> bytes:
    return help_reply(_PUBSUB_HELP)


@command("pubsub|numpat")
def pubsub_numpat(c: Context, argv: list[bytes]) -> bytes:
    return integer(c.server.pubsub.numpat())
