"""Pub/sub commands. In RESP3 confirmations and messages are push frames; in RESP2 arrays."""

from __future__ import annotations

from valkdb.commands.keys import help_reply
from valkdb.core.context import Context
from valkdb.core.registry import command, container
from valkdb.glob import matcher
from valkdb.protocol.encoder import array, bulk, bulk_array, integer


def _confirm(c, kind: bytes, name: bytes | None) -> bytes:  # type: ignore[no-untyped-def]
    """subscribe/unsubscribe/psubscribe/punsubscribe confirmation with the new count."""
    return c.resp.push([
        bulk(kind),
        c.resp.null if name is None else bulk(name),
        integer(len(c.channels) + len(c.patterns)),
    ])


@command("subscribe")
def subscribe(c: Context, argv: list[bytes]) -> bytes:
    replies = []
    for channel in argv[1:]:
        c.server.pubsub.subscribe(c, channel)
        replies.append(_confirm(c, b"subscribe", channel))
    return b"".join(replies)


@command("psubscribe")
def psubscribe(c: Context, argv: list[bytes]) -> bytes:
    replies = []
    for pattern in argv[1:]:
        c.server.pubsub.psubscribe(c, pattern)
        replies.append(_confirm(c, b"psubscribe", pattern))
    return b"".join(replies)


@command("unsubscribe")
def unsubscribe(c: Context, argv: list[bytes]) -> bytes:
    channels = argv[1:] or list(c.channels)
    if not channels:
        return _confirm(c, b"unsubscribe", None)
    replies = []
    for channel in channels:
        c.server.pubsub.unsubscribe(c, channel)
        replies.append(_confirm(c, b"unsubscribe", channel))
    return b"".join(replies)


@command("punsubscribe")
def punsubscribe(c: Context, argv: list[bytes]) -> bytes:
    patterns = argv[1:] or list(c.patterns)
    if not patterns:
        return _confirm(c, b"punsubscribe", None)
    replies = []
    for pattern in patterns:
        c.server.pubsub.punsubscribe(c, pattern)
        replies.append(_confirm(c, b"punsubscribe", pattern))
    return b"".join(replies)


@command("publish")
def publish(c: Context, argv: list[bytes]) -> bytes:
    return integer(c.server.pubsub.publish(argv[1], argv[2]))


container("pubsub")


@command("pubsub|channels")
def pubsub_channels(c: Context, argv: list[bytes]) -> bytes:
    channels = list(c.server.pubsub.channels)
    if len(argv) == 3:
        channels = list(filter(matcher(argv[2]), channels))
    return bulk_array(channels)


@command("pubsub|numsub")
def pubsub_numsub(c: Context, argv: list[bytes]) -> bytes:
    registry = c.server.pubsub.channels
    # A flat array in RESP3 too: Redis 7.0 does not reply a map here.
    return array([
        part for ch in argv[2:] for part in (bulk(ch), integer(len(registry.get(ch, ()))))])


_PUBSUB_HELP = [
    b"PUBSUB <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    b"CHANNELS [<pattern>]",
    b"    Return the currently active channels matching a <pattern> (default: '*').",
    b"NUMPAT",
    b"    Return number of subscriptions to patterns.",
    b"NUMSUB [<channel> ...]",
    b"    Return the number of subscribers for the specified channels, excluding",
    b"    pattern subscriptions(default: no channels).",
    b"HELP",
    b"    Prints this help.",
]


@command("pubsub|help")
def pubsub_help(c: Context, argv: list[bytes]) -> bytes:
    return help_reply(_PUBSUB_HELP)


@command("pubsub|numpat")
def pubsub_numpat(c: Context, argv: list[bytes]) -> bytes:
    return integer(c.server.pubsub.numpat())
