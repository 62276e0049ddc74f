"""Blocking commands (BLPOP, BLMOVE, BZPOPMIN ...): clients parked on keys, served in FIFO order.

A blocked client's greenlet waits on an Event - no polling. A command that adds data to a key
calls `ready(db, key)`; after that command (after EXEC for a transaction) the dispatcher calls
`serve_ready()`, which, for each ready key, hands its data to the clients blocked on it, oldest
first, by calling each waiter's `serve(key)` function in the greenlet of the client that made the
key ready. That function pops what its command needs and returns the reply, so the data goes to
exactly one client and nothing can interleave. Serving may make other keys ready (BLMOVE pushes
into its destination); they are served in the same pass, as Redis does.

A waiter leaves every queue it is in when it is served, times out, is unblocked by CLIENT
UNBLOCK, or its client disconnects or is killed.
"""

from __future__ import annotations

import socket
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from gevent import get_hub
from gevent.event import Event

from valkdb.core.propagation import Propagation

if TYPE_CHECKING:
    from valkdb.store.keyspace import Database

Serve = Callable[[bytes], "bytes | None"]


class Waiter:
    """One blocked client: the keys it waits on and how to serve it from one of them."""

    __slots__ = ("client", "db", "keys", "serve", "reply", "_event")

    def __init__(self, client: Any, db: Database, keys: list[bytes], serve: Serve) -> None:
        self.client = client
        self.db = db
        self.keys = list(dict.fromkeys(keys))  # each key once, in the order given
        self.serve = serve
        self.reply: bytes | None = None
        self._event = Event()

    def finish(self, reply: bytes | None) -> None:
        """Leave every queue and wake the client with this reply (None: timed out). Only the
        first call counts: a reply already handed over is never replaced before it is sent."""
        if self._event.is_set():
            return
        self.reply = reply
        self._leave()
        self._event.set()

    def _leave(self) -> None:
        blocked = self.db.blocked
        for key in self.keys:
            queue = blocked.get(key)
            if queue is not None:
                try:
                    queue.remove(self)
                except ValueError:
                    pass
                if not queue:
                    del blocked[key]


def _peer_closed(client: Any, watcher: Any, waiter: Waiter) -> None:
    """The blocked client's socket became readable: if the peer has closed, unblock it and
    close after the (unsent) reply. Commands pipelined meanwhile wait, as in Redis: stop
    watching then (a later close is noticed when the client reads again)."""
    try:
        data = client.sock._sock.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT)
    except BlockingIOError:
        return
    except OSError:
        data = b""
    watcher.stop()
    if not data:
        client.close_after_reply = True
        waiter.finish(None)


class Blocking:
    """The server's blocked clients and its keys made ready by the last command."""

    def __init__(self, propagation: Propagation) -> None:
        self.propagation = propagation  # each client served is a unit of execution of its own
        # Keys made ready by the last command. Clients keep a reference to this very list to
        # test it cheaply after every command, so it is emptied in place, never replaced.
        self.ready_keys: list[tuple[Database, bytes]] = []
        self.count = 0  # clients blocked now (INFO blocked_clients)

    def ready(self, db: Database, key: bytes) -> None:
        """A command added data to key: serve its waiters once the command is done."""
        if key in db.blocked:
            self.ready_keys.append((db, key))

    def serve_ready(self) -> None:
        while self.ready_keys:
            batch = list(self.ready_keys)
            self.ready_keys.clear()
            for db, key in batch:
                # A waiter that cannot be served from the key (it holds another type than the
                # waiter's command pops, or nothing) is passed over, as Redis does; the rest
                # keep their turn. Each waiter is asked even once the key is gone: an
                # XREADGROUP answers an error then.
                for waiter in list(db.blocked.get(key, ())):
                    reply = waiter.serve(key)
                    if reply is not None:
                        # Sent now, from this greenlet, as Redis sends it with the pusher's
                        # reply: the waiter's greenlet would run only after every other ready
                        # client of this loop iteration (~100 ms with 5,000 busy clients).
                        waiter.client.deliver_served(reply)
                        waiter.finish(b"")
                        self.propagation.flush()

    def block(self, client: Any, keys: list[bytes], timeout: float, serve: Serve) -> bytes | None:
        """Park the client until one of keys serves it; None when the timeout (seconds, 0 =
        forever) passes first; b"" when a push served it (the reply was sent then). The caller
        has already found every key unable to serve.
        Inside MULTI/EXEC or a script nothing blocks: the command times out at once, as in
        Redis."""
        if client.deny_blocking:
            return None
        db = client.db
        client.flush_batch()  # the replies of the commands before this one go out now
        waiter = Waiter(client, db, keys, serve)
        for key in waiter.keys:
            db.blocked.setdefault(key, deque()).append(waiter)
        client.waiter = waiter
        client.idle = True  # shutdown need not wait for it
        self.count += 1
        # The greenlet no longer reads the socket while it waits: watch it for the peer
        # closing, so a gone client leaves its queues at once, as in Redis.
        watcher = get_hub().loop.io(client.sock.fileno(), 1)
        watcher.start(_peer_closed, client, watcher, waiter)
        try:
            waiter._event.wait(timeout or None)
        finally:
            watcher.stop()
            watcher.close()
            self.count -= 1
            client.idle = False
            client.waiter = None
            waiter._leave()
        return waiter.reply
