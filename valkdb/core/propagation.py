"""The propagation bus: what the dataset's changes send to the AOF (and, later, to replicas).

As Redis's alsoPropagate / propagatePendingCommands (server.c): while a unit of execution runs
(a command, an EXEC, a script) its effects are collected as (database index, argv) operations;
when the outermost unit ends they go to every output at once, wrapped in MULTI/EXEC when there
are several, so a replay applies them atomically. What an operation is, is decided by the
dispatcher (a command that changed the dataset, `dirty`, propagates its argv or its declared
rewrite) and by the commands that log what they did themselves; a command that changed nothing
propagates nothing.

A key that expires during a command is deleted as part of that command's unit, as in Redis;
the active-expiry cycle flushes its deletions unwrapped. A command that yields (Pacer) lets
other clients' units flush what it has logged so far: the outputs get the operations in the
order they happened.

An output is a callable taking the list of operations of one unit, already wrapped. With no
output registered nothing is collected at all.
"""

from __future__ import annotations

from collections.abc import Callable

Op = tuple[int, list[bytes]]
Output = Callable[[list[Op]], None]

_MULTI = [b"MULTI"]
_EXEC = [b"EXEC"]


class Propagation:
    def __init__(self) -> None:
        # The running unit's operations. The dispatcher tests it after every command, so it is
        # emptied in place, never replaced.
        self.ops: list[Op] = []
        self.outputs: list[Output] = []

    @property
    def active(self) -> bool:
        return bool(self.outputs)

    def add(self, db_index: int, argv: list[bytes]) -> None:
        """alsoPropagate: one operation of the running unit."""
        if self.outputs:
            self.ops.append((db_index, argv))

    def flush(self, transaction: bool = True) -> None:
        """propagatePendingCommands: the unit ended; its operations go out, wrapped in
        MULTI/EXEC when there are several (not for active expiry, which Redis sends bare)."""
        ops = self.ops
        if not ops:
            return
        if transaction and len(ops) > 1:
            unit = [(ops[0][0], _MULTI), *ops, (ops[-1][0], _EXEC)]
        else:
            unit = list(ops)
        ops.clear()
        for output in self.outputs:
            output(unit)
