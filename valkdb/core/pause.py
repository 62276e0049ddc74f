"""CLIENT PAUSE (Redis's pauseClients): clients' commands wait while the server is paused.

A pause is WRITE (commands that may change the dataset or the replication stream wait: write
and may-replicate commands, scripts that do not declare `no-writes`, an EXEC that queued one)
or ALL (every command waits). Each purpose (CLIENT PAUSE now; a failover or shutdown later)
holds its own pause; the most restrictive one in force applies, until the furthest end among
those of its kind. A paused command waits where the dispatcher checks it (after its arity, as
Redis's processCommand postpones it), counted as blocked; while any pause lasts, keys past
their deadline read as missing but are not deleted (the dataset stays as it was).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import gevent
from gevent.event import Event

if TYPE_CHECKING:
    from valkdb.core.context import Context
    from valkdb.core.registry import Command

WRITE, ALL = 1, 2  # Redis's CLIENT_PAUSE_WRITE < CLIENT_PAUSE_ALL


class ClientPause:
    def __init__(self, server: Any, writes: Callable[[Command, list[bytes]], bool]) -> None:
        self.server = server
        self.writes = writes  # whether a command may write (scripts by their declared flags)
        self.purposes: dict[str, tuple[int, float]] = {}  # purpose -> (kind, end in unix s)
        self.kind = 0  # 0: not paused
        self.end = 0.0
        self.postponed = 0  # commands waiting now (INFO's blocked_clients counts them)
        self._changed = Event()
        self._timer: gevent.Greenlet | None = None

    @property
    def active(self) -> bool:
        return self.kind != 0

    def pause(self, purpose: str, kind: int, end: float) -> None:
        """Pause until `end` (unix seconds); an existing pause of the purpose keeps the more
        restrictive kind and the later end."""
        held = self.purposes.get(purpose)
        if held is not None:
            kind, end = max(kind, held[0]), max(end, held[1])
        self.purposes[purpose] = (kind, end)
        self._update()

    def unpause(self, purpose: str) -> None:
        if self.purposes.pop(purpose, None) is not None:
            self._update()

    def _update(self) -> None:
        now = time.time()
        for purpose, (_, end) in list(self.purposes.items()):
            if end <= now:
                del self.purposes[purpose]
        kind = max((k for k, _ in self.purposes.values()), default=0)
        self.end = max((end for k, end in self.purposes.values() if k == kind), default=0.0)
        eased = kind < self.kind
        self.kind = kind
        if self._timer is not None and self._timer is not gevent.getcurrent():
            self._timer.kill(block=False)
            self._timer = None
        if kind:
            self._timer = gevent.spawn_later(max(self.end - now, 0.0), self._update)
        self.server.keyspace.set_expiry_paused(bool(kind))
        self.server.update_gate()
        if eased:  # the waiting commands look again (some may still wait)
            changed, self._changed = self._changed, Event()
            changed.set()

    def holds(self, ctx: Context, entry: Command, argv: list[bytes]) -> bool:
        """Whether the command must wait now (commands of scripts and of a running EXEC never
        do: their EXEC or script was checked; nor does the AOF loader's replay)."""
        if not self.kind or ctx.in_script or ctx.in_exec or ctx.obeys:
            return False
        if self.kind == ALL:
            return True
        if entry.name == "exec" and ctx.multi:
            return any(self.writes(queued, args) for queued, args in ctx.multi)
        return self.writes(entry, argv)

    def wait(self, ctx: Context, entry: Command, argv: list[bytes]) -> None:
        """Hold the command until no pause applies to it (its client counts as blocked); the
        replies of the commands before it in the batch go out first."""
        ctx.flush_batch()
        self.postponed += 1
        ctx.postponed = True
        try:
            while self.holds(ctx, entry, argv):
                self._changed.wait()
        finally:
            self.postponed -= 1
            ctx.postponed = False
