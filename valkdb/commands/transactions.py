"""Transactions: MULTI, EXEC, DISCARD, WATCH, UNWATCH (Redis's multi.c).

Between MULTI and EXEC the dispatcher queues commands (core/dispatch.py); a command refused while
queueing dooms the transaction (EXECABORT). EXEC runs the queue with nothing interleaved: a
command never yields inside EXEC (Context.in_exec turns off Pacer and blocking), and keys made
ready for blocked clients are served, and the transaction's effects propagated (in MULTI/EXEC
when there are several), after the whole transaction. WATCHed keys are invalidated by
Database.signal, from any client's writes, expiry, FLUSHDB/FLUSHALL and SWAPDB.
"""

from __future__ import annotations

from valkdb import errors
from valkdb.core.context import Context
from valkdb.core.dispatch import call
from valkdb.core.registry import COMMANDS, command
from valkdb.protocol.encoder import OK
from valkdb.store.keyspace import now_ms


@command("multi")
def multi(c: Context, argv: list[bytes]) -> bytes:
    if c.multi is not None:
        return errors.err("ERR MULTI calls can not be nested")
    c.multi = []
    c.multi_failed = False
    return OK


def discard_transaction(c) -> None:  # type: ignore[no-untyped-def]
    c.multi = None
    c.multi_failed = False
    c.unwatch()


def exec_refused(c, reply: bytes) -> bytes:  # type: ignore[no-untyped-def]
    """EXEC refused by the dispatcher (wrong arity, NOAUTH, RESP2 subscribed mode): Redis
    discards the transaction and its WATCHes and says why (multi.c execCommandAbort), with
    the reason's own "-" and "ERR " prefix left out."""
    discard_transaction(c)
    reason = reply[1:-2]
    if reason.startswith(b"ERR "):
        reason = reason[4:]
    return b"-EXECABORT Transaction discarded because of: %s\r\n" % reason


@command("discard")
def discard(c: Context, argv: list[bytes]) -> bytes:
    if c.multi is None:
        return errors.err("ERR DISCARD without MULTI")
    discard_transaction(c)
    return OK


def _watched_key_expired(c) -> bool:  # type: ignore[no-untyped-def]
    """A key that was live when WATCHed and has expired since, not yet deleted (Redis's
    isWatchedKeyExpired). WATCH itself deletes a key already expired, so it does not count."""
    now = now_ms()
    for db, key in c.watching:
        deadline = db.deadline(key)
        if deadline is not None and deadline <= now:
            return True
    return False


@command("exec")
def exec_(c: Context, argv: list[bytes]) -> bytes:
    if c.multi is None:
        return errors.err("ERR EXEC without MULTI")
    queued, failed = c.multi, c.multi_failed
    aborted = c.dirty_cas or _watched_key_expired(c)
    discard_transaction(c)
    if failed:
        return errors.err("EXECABORT Transaction discarded because of previous errors.")
    if aborted:
        return c.resp.null_array
    c.in_exec = True
    try:
        replies = [call(c, entry, args) for entry, args in queued]
    finally:
        c.in_exec = False
    reply = b"*%d\r\n%s" % (len(replies), b"".join(replies))
    c.last_command = "exec"
    return reply


COMMANDS["exec"].on_refused = exec_refused


@command("watch")
def watch(c: Context, argv: list[bytes]) -> bytes:
    if c.multi is not None:
        return errors.err("ERR WATCH inside MULTI is not allowed")
    db = c.db
    for key in argv[1:]:
        if (db, key) in c.watching:
            continue
        db.contains(key)  # deletes it now if it has already expired
        db.watch(key, c)
        c.watching.append((db, key))
    return OK


@command("unwatch")
def unwatch(c: Context, argv: list[bytes]) -> bytes:
    c.unwatch()
    return OK
