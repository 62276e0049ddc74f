"""The channel and pattern registry behind PUBLISH / SUBSCRIBE / PSUBSCRIBE.

A channel's (or pattern's) entry exists only while it has subscribers: the last unsubscribe
removes it, so the registry never grows with channels nobody listens to. Subscribers are kept in
insertion-ordered dicts used as ordered sets. PUBLISH encodes each message once per protocol and
hands it to every subscriber's output queue (Client.deliver), never waiting on a socket.
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


class PubSub:
    def __init__(self) -> None:
        self.channels: dict[bytes, dict[Client, None]] = {}
        self.patterns: dict[bytes, tuple[Callable[[bytes], bool], dict[Client, None]]] = {}

    def subscribe(self, client: Client, channel: bytes) -> None:
        if channel not in client.channels:
            client.channels[channel] = None
            self.channels.setdefault(channel, {})[client] = None

    def unsubscribe(self, client: Client, channel: bytes) -> None:
        if client.channels.pop(channel, 0) is None:
            subscribers = self.channels[channel]
            del subscribers[client]
            if not subscribers:
                del self.channels[channel]

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
        for channel in list(client.channels):
            self.unsubscribe(client, channel)
        for pattern in list(client.patterns):
            self.punsubscribe(client, pattern)

    def publish(self, channel: bytes, message: bytes) -> int:
        """Queue the message for every subscriber; return how many received it."""
        receivers = 0
        subscribers = self.channels.get(channel)
        body = bulk(channel) + bulk(message)
        if subscribers:
            frames = _frames([_MESSAGE, body])
            for client in list(subscribers):
                client.deliver(frames[client.resp.version], "pubsub")
            receivers += len(subscribers)
        for pattern, (matches, clients) in list(self.patterns.items()):
            if matches(channel):
                frames = _frames([_PMESSAGE, bulk(pattern), body], 4)
                for client in list(clients):
                    client.deliver(frames[client.resp.version], "pubsub")
                receivers += len(clients)
        return receivers

    def numpat(self) -> int:
        return len(self.patterns)


def _frames(parts: list[bytes], count: int = 3) -> dict[int, bytes]:
    """The same message as a RESP2 array and as a RESP3 push frame."""
    payload = b"".join(parts)
    return {2: b"*%d\r\n%s" % (count, payload), 3: b">%d\r\n%s" % (count, payload)}
