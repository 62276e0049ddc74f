"""The channel and pattern registry behind PUBLISH / SUBSCRIBE / PSUBSCRIBE and their sharded
counterparts SPUBLISH / SSUBSCRIBE.

Shard channels are a namespace of their own, as in Redis 7.0: SPUBLISH reaches only SSUBSCRIBE
subscribers (never patterns), PUBLISH never reaches them. In standalone mode the server owns
every slot, so a shard channel behaves like a plain channel in its own table.

A channel's (or pattern's) entry exists only while it has subscribers: the last unsubscribe
removes it, so the registry never grows with channels nobody listens to. Subscribers are kept in
insertion-ordered dicts used as ordered sets (delivery follows subscription order, as Redis's
lists do). A publish encodes each message once per protocol and hands it to every subscriber's
output queue (Client.deliver), never waiting on a socket.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from valkdb.glob import matcher
from valkdb.protocol.encoder import bulk

if TYPE_CHECKING:
    from valkdb.connection import Client

_MESSAGE = bulk(b"message")
_PMESSAGE = bulk(b"pmessage")
_SMESSAGE = bulk(b"smessage")

Subscribers = dict["Client", None]


def _join(mine: dict[bytes, None], table: dict[bytes, Subscribers], client: Client,
          name: bytes) -> None:
    """Add name to a client's subscriptions and the client to name's subscribers."""
    if name not in mine:
        mine[name] = None
        table.setdefault(name, {})[client] = None


def _leave(mine: dict[bytes, None], table: dict[bytes, Subscribers], client: Client,
           name: bytes) -> None:
    """The reverse of _join; a name nobody subscribes to any more leaves the table."""
    if mine.pop(name, 0) is None:
        subscribers = table[name]
        del subscribers[client]
        if not subscribers:
            del table[name]


class PubSub:
    def __init__(self) -> None:
        self.channels: dict[bytes, Subscribers] = {}
        self.shard_channels: dict[bytes, Subscribers] = {}
        self.patterns: dict[bytes, tuple[Callable[[bytes], bool], Subscribers]] = {}

    def subscribe(self, client: Client, channel: bytes) -> None:
        _join(client.channels, self.channels, client, channel)

    def unsubscribe(self, client: Client, channel: bytes) -> None:
        _leave(client.channels, self.channels, client, channel)

    def ssubscribe(self, client: Client, channel: bytes) -> None:
        _join(client.shard_channels, self.shard_channels, client, channel)

    def sunsubscribe(self, client: Client, channel: bytes) -> None:
        _leave(client.shard_channels, self.shard_channels, client, channel)

    def psubscribe(self, client: Client, pattern: bytes) -> None:
        if pattern not in client.patterns:
            client.patterns[pattern] = None
            entry = self.patterns.get(pattern)
            if entry is None:
                entry = self.patterns[pattern] = (matcher(pattern), {})
            entry[1][client] = None

    def punsubscribe(self, client: Client, pattern: bytes) -> None:
        if client.patterns.pop(pattern, 0) is None:
            subscribers = self.patterns[pattern][1]
            del subscribers[client]
            if not subscribers:
                del self.patterns[pattern]

    def unsubscribe_all(self, client: Client) -> None:
        """Every subscription of the client, of all three kinds (RESET, disconnection)."""
        for channel in list(client.channels):
            self.unsubscribe(client, channel)
        for pattern in list(client.patterns):
            self.punsubscribe(client, pattern)
        for channel in list(client.shard_channels):
            self.sunsubscribe(client, channel)

    def publish(self, channel: bytes, message: bytes) -> int:
        """Queue the message for every subscriber; return how many received it."""
        body = bulk(channel) + bulk(message)
        receivers = _send(self.channels.get(channel), [_MESSAGE, body])
        for pattern, (matches, clients) in list(self.patterns.items()):
            if matches(channel):
                receivers += _send(clients, [_PMESSAGE, bulk(pattern), body], 4)
        return receivers

    def spublish(self, channel: bytes, message: bytes) -> int:
        """PUBLISH for shard channels: their subscribers only, patterns play no part."""
        return _send(self.shard_channels.get(channel), [_SMESSAGE, bulk(channel), bulk(message)])

    def numpat(self) -> int:
        return len(self.patterns)


def _send(subscribers: Subscribers | None, parts: list[bytes], count: int = 3) -> int:
    """Hand one message to each subscriber, as a RESP2 array or a RESP3 push frame."""
    if not subscribers:
        return 0
    receivers = len(subscribers)  # counted before a delivery may drop a client
    payload = b"".join(parts)
    frames = {2: b"*%d\r\n%s" % (count, payload), 3: b">%d\r\n%s" % (count, payload)}
    for client in list(subscribers):
        client.deliver(frames[client.resp.version], "pubsub")
    return receivers
