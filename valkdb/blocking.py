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

from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from gevent.event import Event

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
        """Leave every queue and wake the client with this reply (None: timed out)."""
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


class Blocking:
    """The server's blocked clients and its keys made ready by the last command."""

    def __init__(self) -> None:
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
                queue = db.blocked.get(key)
                while queue:
                    waiter = queue[0]
                    reply = waiter.serve(key)
                    if reply is None:  # the key cannot serve (empty, or holds another type)
                        break
                    waiter.finish(reply)
                    queue = db.blocked.get(key)

    def block(self, client: Any, keys: list[bytes], timeout: float, serve: Serve) -> bytes | None:
        """Park the client until one of keys serves it; None when the timeout (seconds, 0 =
        forever) passes first. The caller has already found every key unable to serve.
        Inside MULTI/EXEC nothing blocks: the command times out at once, as in Redis."""
        if client.in_exec:
            return None
        db = client.db
        waiter = Waiter(client, db, keys, serve)
        for key in waiter.keys:
            db.blocked.setdefault(key, deque()).append(waiter)
        client.waiter = waiter
        client.idle = True  # shutdown need not wait for it
        self.count += 1
        try:
            waiter._event.wait(timeout or None)
        finally:
            self.count -= 1
            client.idle = False
            client.waiter = None
            waiter._leave()
        return waiter.reply
