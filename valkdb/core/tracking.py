"""Client-side caching (Redis's tracking.c): which clients may hold which keys, and the
invalidation messages that tell them a key changed.

In the default mode the server remembers, for every key a tracking client read, the ids of
the clients that read it (the tracking table); when the key changes they are told once and the
entry is forgotten. In broadcasting mode (BCAST) nothing is remembered: every change to a key
under one of the client's prefixes is collected, and the keys collected for each prefix are sent
together once the running greenlet yields (Redis sends them before its event loop sleeps).

Like Redis's table, this one is keyed by key name only, whatever the database. Messages go to
a RESP3 client as `>2 invalidate [keys]`, or with REDIRECT to another client: a RESP3 one gets
the push, a RESP2 one subscribed to anything gets a `message` on `__redis__:invalidate`. A
flush sends a null in place of the keys to every tracking client. "The current client" of
Redis is the client whose greenlet runs: its own invalidations follow the reply of the command
that caused them (Redis's tracking_pending_keys), and NOLOOP leaves them out.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import gevent

from valkdb.protocol.encoder import bulk, bulk_array

if TYPE_CHECKING:
    from valkdb.core.context import Context
    from valkdb.core.registry import Command

CHANNEL = b"__redis__:invalidate"
_PUSH_HEADER = b">2\r\n$10\r\ninvalidate\r\n"
_MESSAGE_HEADER = b"*3\r\n$7\r\nmessage\r\n" + bulk(CHANNEL)
_NULLS = {2: b"$-1\r\n", 3: b"_\r\n"}


class ClientTracking:
    """One client's CLIENT TRACKING state (Redis's CLIENT_TRACKING_* flags)."""

    __slots__ = ("redirect", "bcast", "optin", "optout", "noloop", "caching", "broken",
                 "prefixes")

    def __init__(self) -> None:
        self.redirect = 0  # the id of the client its messages go to; 0: itself
        self.bcast = self.optin = self.optout = self.noloop = False
        self.caching = False  # CLIENT CACHING yes|no given for the next command
        self.broken = False  # the redirection's client is gone
        self.prefixes: dict[bytes, None] = {}  # BCAST's

    def flags(self) -> list[bytes]:
        """CLIENT TRACKINGINFO's flags after `on`, in Redis's order."""
        shown = [b"bcast"] if self.bcast else []
        if self.optin:
            shown += [b"optin", b"caching-yes"] if self.caching else [b"optin"]
        if self.optout:
            shown += [b"optout", b"caching-no"] if self.caching else [b"optout"]
        if self.noloop:
            shown.append(b"noloop")
        if self.broken:
            shown.append(b"broken_redirect")
        return shown


class _Prefix:
    """A BCAST prefix: its clients, and the keys changed under it since the last broadcast
    (key -> the greenlet that changed it last, for NOLOOP)."""

    __slots__ = ("clients", "changed")

    def __init__(self) -> None:
        self.clients: dict[Any, None] = {}
        self.changed: dict[bytes, Any] = {}


class Tracking:
    """The server's tracking table and BCAST prefixes (INFO's tracking_* fields)."""

    def __init__(self, server: Any,
                 keys_of: Callable[[Command, list[bytes]], list[bytes]]) -> None:
        self.server = server
        self.keys_of = keys_of  # a command's key arguments (the commands layer's finder)
        self.table: dict[bytes, dict[int, None]] = {}  # key -> ids of clients that read it
        self.items = 0  # (key, client) pairs in the table
        self.prefixes: dict[bytes, _Prefix] = {}
        # What invalidate walks for every changed key: the changed keys of the prefix b"" (it
        # matches all of them), and (prefix, its changed keys) for the others.
        self._everything: dict[bytes, Any] | None = None
        self._others: list[tuple[bytes, dict[bytes, Any]]] = []
        self.clients = 0  # clients with tracking on
        self._broadcast_due = False
        self._over_limit = 0  # consecutive limit checks that could not get under the limit

    # -- CLIENT TRACKING on / off ----------------------------------------------------------------

    def enable(self, client: Any, redirect: int, bcast: bool, optin: bool, optout: bool,
               noloop: bool, prefixes: list[bytes]) -> None:
        """Turn tracking on (or change its options: BCAST prefixes add to those it had)."""
        state = client.tracking
        if state is None:
            state = client.tracking = ClientTracking()
            self.clients += 1
            if self.clients == 1:
                self.server.keyspace.set_on_signal(self.invalidate)
        state.redirect, state.broken = redirect, False
        state.bcast, state.optin, state.optout, state.noloop = bcast, optin, optout, noloop
        if bcast:
            for prefix in prefixes or [b""]:
                self.prefixes.setdefault(prefix, _Prefix()).clients[client] = None
                state.prefixes[prefix] = None
            self._index_prefixes()

    def _index_prefixes(self) -> None:
        everything = self.prefixes.get(b"")
        self._everything = None if everything is None else everything.changed
        self._others = [(prefix, entry.changed) for prefix, entry in self.prefixes.items()
                        if prefix]

    def disable(self, client: Any) -> None:
        state = client.tracking
        if state is None:
            return
        for prefix in state.prefixes:
            entry = self.prefixes[prefix]
            del entry.clients[client]
            if not entry.clients:
                del self.prefixes[prefix]
        if state.prefixes:
            self._index_prefixes()
        client.tracking = None
        self.clients -= 1
        if not self.clients:
            self.server.keyspace.set_on_signal(None)

    # -- reads ---------------------------------------------------------------------------------

    def after_command(self, ctx: Context, entry: Command, argv: list[bytes]) -> None:
        """A command ran for a tracking client: a read-only one leaves its keys remembered
        (in a script: the script's declared keys, for its caller); CLIENT CACHING lasts until
        the end of the next command, or of the transaction it opens."""
        client = ctx.caller
        state = client.tracking
        if state is None:
            return
        if entry.tracks and not state.bcast and not (
                state.optin and not state.caching or state.optout and state.caching):
            keys = ctx.script_keys if ctx.in_script else self.keys_of(entry, argv)
            if keys:
                self._remember(client.id, keys)
        if state.caching and not (ctx.in_exec or ctx.in_script or ctx.multi is not None
                                  or entry.parent is not None and entry.parent.name == "client"):
            state.caching = False

    def _remember(self, client_id: int, keys: list[bytes]) -> None:
        table = self.table
        for key in keys:
            ids = table.get(key)
            if ids is None:
                ids = table[key] = {}
            if client_id not in ids:
                ids[client_id] = None
                self.items += 1
        if self.over_limit():
            self.server.update_gate()  # the next command brings the table back to the limit

    def over_limit(self) -> bool:
        limit = self.server.config.tracking_table_max_keys
        return bool(limit) and len(self.table) > limit

    def limit(self) -> None:
        """Before a command, over tracking-table-max-keys: forget keys, telling their clients,
        with Redis's growing effort (100 keys more for each command in a row that found the
        table still over). The oldest entries go first (Redis picks them at random)."""
        limit = self.server.config.tracking_table_max_keys
        table = self.table
        for _ in range(100 * (self._over_limit + 1)):
            if not limit or len(table) <= limit:
                self._over_limit = 0
                self.server.update_gate()
                return
            self.invalidate(next(iter(table)), bcast=False, by_client=False)
        self._over_limit += 1

    # -- changes -----------------------------------------------------------------------------

    def invalidate(self, key: bytes, bcast: bool = True, by_client: bool = True) -> None:
        """The key changed (or its entry is evicted): tell the clients that may cache it."""
        if bcast and self.prefixes:
            by = gevent.getcurrent() if by_client else None
            if self._everything is not None:
                self._everything[key] = by
            for prefix, changed in self._others:
                if key.startswith(prefix):
                    changed[key] = by
            if not self._broadcast_due:  # (a prefix that matched nothing has nothing to send)
                self._broadcast_due = True
                gevent.get_hub().loop.run_callback(self.broadcast)
        ids = self.table.pop(key, None)
        if ids is None:
            return
        current = gevent.getcurrent() if by_client else None
        self.items -= len(ids)
        clients = self.server.clients
        keys = b"*1\r\n" + bulk(key)
        for client_id in ids:
            target = clients.get(client_id)
            if target is None:
                continue
            state = target.tracking
            if state is None or state.bcast:
                continue
            mine = current is not None and target.greenlet is current
            if not (mine and state.noloop):
                self._send(target, state, keys, mine)

    def flushed(self) -> None:
        """FLUSHDB, FLUSHALL, SWAPDB or a reload: every tracking client is told to drop all it
        holds (a null in place of the keys), and the table starts again."""
        if self.clients:
            current = gevent.getcurrent()
            for client in list(self.server.clients.values()):
                state = client.tracking
                if state is not None:
                    self._send(client, state, _NULLS[client.resp.version],
                               client.greenlet is current)
        self.table = {}
        self.items = 0

    def broadcast(self) -> None:
        """Send each BCAST prefix's changed keys (sorted, as Redis's radix tree holds them) to
        its clients; a NOLOOP client gets those it did not change itself, if any."""
        self._broadcast_due = False
        for prefix in sorted(self.prefixes):
            entry = self.prefixes[prefix]
            if not entry.changed:
                continue
            changed = entry.changed
            keys = sorted(changed)
            everything = bulk_array(keys)
            for client in list(entry.clients):
                state = client.tracking
                if state is None:
                    continue
                if state.noloop:
                    mine = client.greenlet
                    theirs = [key for key in keys if changed[key] is not mine]
                    if theirs:
                        self._send(client, state, bulk_array(theirs), False)
                else:
                    self._send(client, state, everything, False)
            changed.clear()  # (the same dict: invalidate holds it)

    def _send(self, client: Any, state: ClientTracking, keys: bytes, pending: bool) -> None:
        """One invalidation message (Redis's sendTrackingMessage); `keys` is the encoded
        array (or null). `pending`: the client is running the command that caused it, so
        what goes to its own connection follows that command's reply."""
        target = client
        if state.redirect:
            target = self.server.clients.get(state.redirect)
            if target is None:
                state.broken = True
                if client.resp.version == 3:
                    notice = b">2\r\n$21\r\ntracking-redir-broken\r\n:%d\r\n" % state.redirect
                    self._deliver(client, notice, pending)
                return
            pending = False
        if target.resp.version == 3:
            message = _PUSH_HEADER + keys
        elif target is not client and (target.channels or target.patterns
                                       or target.shard_channels):
            message = _MESSAGE_HEADER + keys
        else:
            return  # RESP2 has no pushes on a connection that is not subscribed
        self._deliver(target, message, pending)

    @staticmethod
    def _deliver(client: Any, message: bytes, pending: bool) -> None:
        if pending:
            client.after_reply.append(message)
        else:
            client.deliver(message)
