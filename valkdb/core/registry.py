"""The command table: every command declared once, with Redis 7.0's metadata.

`@command("get", 2, "readonly fast", 1, 1, 1)` registers a handler with its arity (negative =
at least), flags and key positions (first, last, step), as Redis's command table has them. The
dispatcher (connection.py) checks arity and flags from here; COMMAND, COMMAND INFO / COUNT / LIST
/ DOCS report from here. A container such as CONFIG is declared with `container()` and its
subcommands as "config|get".

A handler is `handler(ctx, argv) -> bytes` (ctx: core.context.Context): argv[0] is the command
name as sent; the return value is the complete encoded reply.

Propagation (what the AOF logs, as Redis propagates): after a write command that changed the
dataset, the dispatcher calls its `propagate(ctx, argv, reply)`, which by default logs argv as
it came.
Commands whose effect depends on the time or on chance (relative expiries, SPOP ...) declare a
rewrite with `@propagates("name", ...)`; `propagates(...)(None)` marks handlers that log what
they did themselves (blocking pops, which may be served later from another client's push).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

Handler = Callable[[Any, list], bytes]
Propagate = Callable[[Any, list, bytes], None]


def propagate_verbatim(c: Any, argv: list[bytes], reply: bytes) -> None:
    c.propagate(argv)


class Command:
    __slots__ = (
        "name", "handler", "arity", "flags", "first_key", "last_key", "step",
        "subcommands", "parent", "write", "no_auth", "pubsub_ok", "no_multi",
        "runs_in_multi", "propagate", "on_refused",
    )

    def __init__(
        self, name: str, handler: Handler | None, arity: int, flags: str,
        first_key: int, last_key: int, step: int,
    ) -> None:
        self.name = name
        self.handler = handler
        self.arity = arity
        self.flags = tuple(flags.split())
        self.first_key, self.last_key, self.step = first_key, last_key, step
        self.subcommands: dict[bytes, Command] | None = None
        self.parent: Command | None = None
        self.write = "write" in self.flags
        self.no_auth = "no_auth" in self.flags
        # Commands a RESP2 client in subscribed mode may run (Redis 7.0 processCommand).
        self.pubsub_ok = name in ("ping", "quit", "reset", "subscribe", "unsubscribe",
                                  "psubscribe", "punsubscribe", "ssubscribe", "sunsubscribe")
        self.no_multi = "no_multi" in self.flags
        # Inside MULTI every other command is queued (Redis 7.0 processCommand).
        self.runs_in_multi = name in ("exec", "discard", "multi", "watch", "quit", "reset")
        self.propagate: Propagate | None = propagate_verbatim if self.write else None
        # What a refusal by the dispatcher does instead of failing a MULTI (EXEC's own).
        self.on_refused: Callable[[Any, bytes], bytes] | None = None

    def keys(self, argv: list[bytes]) -> list[bytes]:
        """The key arguments, from the declared positions (COMMAND GETKEYS)."""
        if self.first_key <= 0:
            return []
        last = self.last_key if self.last_key >= 0 else len(argv) + self.last_key
        return argv[self.first_key : last + 1 : self.step]


COMMANDS: dict[str, Command] = {}


def command(
    name: str, arity: int, flags: str = "", first_key: int = 0, last_key: int = 0, step: int = 0
) -> Callable[[Handler], Handler]:
    def register(handler: Handler) -> Handler:
        entry = Command(name, handler, arity, flags, first_key, last_key, step)
        parent_name, _, sub = name.partition("|")
        if sub:
            parent = COMMANDS[parent_name]
            entry.parent = parent
            assert parent.subcommands is not None, parent_name
            parent.subcommands[sub.encode()] = entry
        else:
            COMMANDS[name] = entry
        return handler

    return register


def propagates(*names: str) -> Callable[[Propagate | None], Propagate | None]:
    """Declare how the named write commands are logged (see the module docstring)."""
    def register(rewrite: Propagate | None) -> Propagate | None:
        for name in names:
            parent_name, _, sub = name.partition("|")
            entry = COMMANDS[parent_name]
            if sub:
                assert entry.subcommands is not None, parent_name
                entry = entry.subcommands[sub.encode()]
            entry.propagate = rewrite
        return rewrite

    return register


def container(name: str, arity: int = -2, flags: str = "") -> Command:
    """A command whose first argument names a subcommand (CONFIG, CLIENT, OBJECT ...)."""
    entry = Command(name, None, arity, flags, 0, 0, 0)
    entry.subcommands = {}
    COMMANDS[name] = entry
    return entry
