"""The execution context: what a command runs in, with or without a socket.

A handler sees only its Context: the database, the protocol's encoder, the authentication and
transaction state, and flags that say what it may do (yield to other clients, block). A socket
client (connection.Client) is a Context with a socket; the AOF loader, a Lua script and (later)
a replication link are Contexts without one. Subclassing keeps the hot path at one attribute
lookup per field, where a context held by the client would cost one more.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

import gevent

from valkdb.core.notifications import notify as _notify
from valkdb.protocol.encoder import RESP2, RESP2_ENCODER

if TYPE_CHECKING:
    from valkdb.core.registry import Command
    from valkdb.core.tracking import ClientTracking
    from valkdb.store.keyspace import Database


# CLIENT REPLY: replies sent; none; none for the next command (set by SKIP, whose own reply is
# none); none for the command running.
REPLY_ON, REPLY_OFF, REPLY_SKIP_NEXT, REPLY_SKIP = range(4)


class Context:
    """A command's surroundings. Attributes a handler may read or set:

    server, db, resp (the encoder of the protocol spoken), authenticated, multi (the queued
    (entry, argv) while a MULTI is open, else None), multi_failed, in_exec (running EXEC's
    queue), in_script (called by a script: nothing yields or blocks, `noscript` commands are
    refused), channels / patterns / shard_channels (subscriptions), watching / dirty_cas (WATCH),
    last_command, close_after_reply.
    """

    # Socket-less contexts have no subscriptions and no connection to name; these stay empty.
    id = 0
    name = b""
    addr = ""
    greenlet: Any = None  # the greenlet that runs its commands (a socket client's own)
    postponed = False  # a command of it waits for CLIENT PAUSE to end
    reply_mode = REPLY_ON  # CLIENT REPLY (socket clients)
    script_keys: list[bytes] = []  # a script's declared keys (its context's)
    # Redis's mustObeyClient: the AOF loader (and, later, a master link) replays effects that
    # were already decided, so limits meant for clients (XADD's trimming LIMIT) do not apply.
    obeys = False

    def __init__(self, server: Any, db: Database | None = None) -> None:
        self.server = server
        self.db: Database = db if db is not None else server.keyspace[0]
        self.resp: RESP2 = RESP2_ENCODER
        self.authenticated = True
        self.multi: list[tuple[Command, list[bytes]]] | None = None
        self.multi_failed = False
        self.in_exec = False
        self.in_script = False
        self.channels: dict[bytes, None] = {}
        self.patterns: dict[bytes, None] = {}
        self.shard_channels: dict[bytes, None] = {}  # SSUBSCRIBE's
        self.no_evict = False  # CLIENT NO-EVICT
        self.tracking: ClientTracking | None = None  # CLIENT TRACKING's state while on
        self.watching: list[tuple[Any, bytes]] = []  # (db, key) WATCHed
        self.dirty_cas = False
        self.last_command = "NULL"
        self.close_after_reply = False
        # The server's lists the dispatcher tests after every command (emptied in place, never
        # replaced): the bus's operations not yet sent, keys made ready for blocked clients.
        self.pending_ops = server.propagation.ops
        self.ready_keys = server.blocking.ready_keys

    @property
    def caller(self) -> Context:
        """The client a command runs for: itself (a script's context: the script's caller)."""
        return self

    @property
    def may_yield(self) -> bool:
        """Whether a long command may let other clients run (never inside EXEC or a script:
        both are atomic)."""
        return not (self.in_exec or self.in_script)

    @property
    def deny_blocking(self) -> bool:
        """Whether a blocking command must answer at once instead (inside EXEC or a script)."""
        return self.in_exec or self.in_script

    def propagate(self, argv: list[bytes]) -> None:
        """Log an operation with the effect of the command running, in this context's
        database (Redis's alsoPropagate)."""
        self.server.propagation.add(self.db.index, argv)

    def notify(self, flag: int, event: bytes, key: bytes, db: int | None = None) -> None:
        """A keyspace event of class `flag` (core.notifications) on key, in this context's
        database unless `db` names another (Redis's notifyKeyspaceEvent)."""
        if self.server.config.notify_keyspace_events & flag:
            _notify(self.server, flag, event, key, self.db.index if db is None else db)

    def unwatch(self) -> None:
        for db, key in self.watching:
            db.unwatch(key, self)
        self.watching = []
        self.dirty_cas = False

    def flush_batch(self) -> None:
        """A command is about to wait: send the replies computed before it (socket clients)."""

    def deliver(self, data: bytes, limit_class: str | None = None) -> None:
        """Output from elsewhere (a pub/sub message): a socket-less context has nowhere to
        send it."""

    def deliver_served(self, data: bytes) -> None:
        self.deliver(data)


class Pacer:
    """Lets other clients run during a long command: called between chunks of work, it yields
    once the command has run for SLICE seconds since it last did (only where the context may
    yield: never inside EXEC or a script).

    The yield is a short timer, not sleep(0): gevent may resume a sleep(0) before it polls for
    I/O, so clients waiting on their sockets would not run until the long command ends.
    """

    SLICE = 0.002

    def __init__(self, ctx: Context | None) -> None:
        self.enabled = ctx is None or ctx.may_yield
        self.since = time.monotonic()

    def __call__(self) -> None:
        if self.enabled and time.monotonic() - self.since >= self.SLICE:
            gevent.sleep(0.0001)
            self.since = time.monotonic()
