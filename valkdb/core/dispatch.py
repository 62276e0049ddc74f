"""Dispatch: how any context runs a command (Redis's processCommand and call()).

`execute` checks a request as processCommand does - known command, subcommand, arity,
authentication, the server's gate (loading, MISCONF), subscribed mode, scripts' and MULTI's
rules - and queues it inside MULTI; `call` runs a checked command: the handler, then, if the
dataset changed (`dirty`, counted by the store), the command's propagation (its argv or its
declared rewrite) onto the bus, then what comes after a unit of execution: blocked clients
served from keys the command filled, the bus flushed, and the after-command hooks.

A socket client, EXEC, the AOF loader and a script all come through here, so the rules live
in one place. The success path allocates nothing and raises nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from time import monotonic_ns  # (cheaper than perf_counter_ns here)
from typing import TYPE_CHECKING, Any

from valkdb import errors
from valkdb.core.monitors import feed_monitors, shown, stop_monitoring
from valkdb.core.registry import COMMANDS, Command, propagate_verbatim
from valkdb.errors import CommandError
from valkdb.protocol.encoder import QUEUED

if TYPE_CHECKING:
    from valkdb.core.context import Context

# Raw command names as clients send them (b"get", b"GET" ...) -> Command; fills on first use so
# upper/lower-casing runs only on a miss. Bounded: unknown names are never cached.
_BY_RAW_NAME: dict[bytes, Command] = {}

# Called after every command with (ctx, entry, argv, reply): for what else may hang on
# commands. Empty on the hot path. (Command statistics, SLOWLOG, LATENCY and MONITOR are
# built in: see `call` and core/stats.py.)
AFTER_COMMAND: list[Callable[[Context, Command, list[bytes], bytes], None]] = []

# (command, exception type) pairs whose traceback was logged: a bug hit in a loop logs once.
_LOGGED_BUGS: set[tuple[str, type]] = set()


class CrossProtocolAttack(Exception):
    """An HTTP request sent to the server (a command named POST or Host:): Redis closes the
    connection without replying, even to the commands before it in the same packet."""


def lookup(name: bytes) -> Command | None:
    entry = _BY_RAW_NAME.get(name)
    if entry is None:
        entry = COMMANDS.get(name.lower().decode("latin-1"))
        if entry is not None and len(_BY_RAW_NAME) < 4096:
            _BY_RAW_NAME[name] = entry
    return entry


def execute(ctx: Context, argv: list[bytes]) -> bytes:
    """Run one command (or queue it inside MULTI); return its encoded reply."""
    entry = _BY_RAW_NAME.get(argv[0]) or lookup(argv[0])
    if entry is None:
        if argv[0].lower() in (b"post", b"host:"):
            raise CrossProtocolAttack
        return refuse(ctx, errors.unknown_command(argv))
    if entry.subcommands is not None and len(argv) > 1:
        sub = entry.subcommands.get(argv[1].lower())
        if sub is None:
            return refuse(ctx, errors.unknown_subcommand(argv[1], entry.name))
        entry = sub
    arity = entry.arity
    if arity != len(argv) and (arity > 0 or len(argv) < -arity):
        return refuse(ctx, errors.wrong_arity(entry.name), entry)
    if entry.protected is not None:  # before authentication, as in Redis
        refusal = entry.protected(ctx)
        if refusal is not None:
            return refuse(ctx, refusal, entry)
    if not ctx.authenticated and not entry.no_auth:
        return refuse(ctx, errors.NOAUTH, entry)
    server = ctx.server
    if server.gate is not None:  # loading, writes refused after a disk error, a pause
        refusal = server.gate(ctx, entry, argv)
        if refusal is not None:
            return refuse(ctx, refusal, entry)
    monitors = server.monitoring.monitors
    if monitors and ctx in monitors and (
            entry.write or entry.may_replicate or "readonly" in entry.flags):
        return refuse(ctx, errors.err("ERR Replica can't interact with the keyspace"), entry)
    if ((ctx.channels or ctx.patterns or ctx.shard_channels) and ctx.resp.version == 2
            and not entry.pubsub_ok):
        return refuse(ctx, errors.err(
            f"ERR Can't execute '{entry.name}': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / "
            "PING / QUIT / RESET are allowed in this context"
        ), entry)
    if ctx.multi is not None and not entry.runs_in_multi:
        if entry.no_multi:
            return refuse(ctx, errors.err("ERR Command not allowed inside a transaction"))
        ctx.multi.append((entry, argv))
        return QUEUED
    return call(ctx, entry, argv)


def call(ctx: Context, entry: Command, argv: list[bytes]) -> bytes:
    """Run a checked command (EXEC and scripts run theirs through here too).

    Changes are only watched while the bus has an output, and the end of the unit is inlined:
    this runs for every command. Its duration (from the end of the command before, or from
    when the connection read its batch: one clock read per command) goes into the command's
    histogram (INFO commandstats and latencystats); past the stats' `slow_us` (or with a
    monitor attached) `after_slow` also feeds the slow log, the latency monitor and the
    monitors."""
    ctx.last_command = entry.name
    server = ctx.server
    changes = server.keyspace.changes if entry.write and server.propagation.outputs else None
    if changes is not None:
        before = changes.dirty
    stats = server.monitoring
    # From the end of the command before, or the read of this batch (a script's commands: from
    # their redis.call, which sets the clock).
    start = stats.clock
    try:
        reply = entry.handler(ctx, argv)  # type: ignore[misc]
    except CommandError as exc:
        reply = exc.reply
    except Exception as exc:  # a bug in a handler must not take the connection down
        reply = internal_error(ctx, entry, exc)
        server.monitoring.command_failed(entry, reply)
        return reply
    end = stats.clock = monotonic_ns()
    usec = (end - start) // 1000
    if changes is not None and changes.dirty != before:
        propagate = entry.propagate
        if propagate is propagate_verbatim:  # the common case, one call less
            server.propagation.add(ctx.db.index, argv)
        elif propagate is not None:
            propagate(ctx, argv, reply)
    if ctx.pending_ops or ctx.ready_keys:
        if not (ctx.in_exec or ctx.in_script):  # a unit's effects go out after it
            end_unit(server)
    if usec >= stats.slow_us:
        usec = after_slow(ctx, entry, argv, usec, start)
    try:
        entry.histogram[usec] += 1  # type: ignore[index]
    except (TypeError, IndexError):  # its first call, or a long one
        stats.count(entry, usec)
    if reply and reply[0] == 45:  # b"-", an error
        stats.command_failed(entry, reply)
    if ctx.tracking is not None:  # CLIENT TRACKING on (a script's: its caller's)
        server.tracking.after_command(ctx, entry, argv)
    if AFTER_COMMAND:
        for hook in AFTER_COMMAND:
            hook(ctx, entry, argv, reply)
    return reply


def after_slow(ctx: Context, entry: Command, argv: list[bytes], usec: int, start: int) -> int:
    """A command took at least `slow_us`, or a monitor is attached: the time a blocking command
    spent waiting is not its duration (Redis counts only its runs); then the latency monitor,
    the slow log and the monitors. Returns the duration to count."""
    server = ctx.server
    if server.loading:  # (Redis counts nothing while it loads)
        return usec
    if "blocking" in entry.flags:
        waited = getattr(ctx, "waited_ns_since", None)
        if waited is not None:
            usec = max(usec - waited(start) // 1000, 0)
    stats = server.monitoring
    argv = shown(entry.name, argv)
    if usec >= stats.look_us:
        stats.slow(ctx, entry, argv, usec)
    if stats.monitors:
        if entry.name == "reset" and ctx in stats.monitors:
            stop_monitoring(ctx)
        if entry.monitored:
            feed_monitors(ctx, argv)
    return usec


def end_unit(server: Any) -> None:
    """A unit of execution (a command, an EXEC, a script) is done: its effects go down the
    bus, then the clients blocked on keys it filled are served (each a unit of its own)."""
    server.propagation.flush()
    if server.blocking.ready_keys:
        server.blocking.serve_ready()


def internal_error(ctx: Context, entry: Command, exc: Exception) -> bytes:
    """A handler raised: answer -ERR, log the traceback once per command and exception
    type. Nothing is propagated (a replay would meet the same bug)."""
    key = (entry.name, type(exc))
    if key not in _LOGGED_BUGS:
        _LOGGED_BUGS.add(key)
        ctx.server.log.error("Internal error in '%s' (reported once)", entry.name, exc_info=exc)
    return errors.err(f"ERR internal error in '{entry.name}' command: {type(exc).__name__}")


def refuse(ctx: Context, reply: bytes, entry: Command | None = None) -> bytes:
    """A command refused before it ran; inside MULTI it dooms the transaction (EXECABORT).
    A command may say how its own refusal ends (EXEC discards the transaction at once)."""
    ctx.server.monitoring.command_rejected(entry, reply)
    if entry is not None and entry.on_refused is not None:
        return entry.on_refused(ctx, reply)
    if ctx.multi is not None:
        ctx.multi_failed = True
    return reply
