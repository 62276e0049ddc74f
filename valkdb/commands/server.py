"""Server commands: SHUTDOWN, TIME, LASTSAVE (INFO and CONFIG live here too)."""

from __future__ import annotations

import time

import gevent

from valkdb import errors
from valkdb.commands.registry import command
from valkdb.protocol.encoder import bulk, integer


@command("shutdown", -1, "admin noscript loading stale no_multi allow_busy")
def shutdown(c, argv):
    flags = {arg.upper() for arg in argv[1:]}
    if not flags <= {b"NOSAVE", b"SAVE", b"NOW", b"FORCE", b"ABORT"}:
        return errors.SYNTAX
    if {b"NOSAVE", b"SAVE"} <= flags or (b"ABORT" in flags and len(flags) > 1):
        return errors.SYNTAX
    if b"ABORT" in flags:
        return errors.NO_SHUTDOWN  # valkdb shuts down at once: nothing is ever pending
    c.server.log.warning("User requested shutdown...")
    # Run the shutdown in its own greenlet: it closes this client too, without a reply.
    gevent.spawn(c.server.shutdown, "Received SHUTDOWN, shutting down")
    c.close_after_reply = True
    return b""


@command("time", 1, "loading stale fast")
def time_(c, argv):
    now = time.time_ns() // 1000
    return b"*2\r\n" + bulk(b"%d" % (now // 1_000_000)) + bulk(b"%d" % (now % 1_000_000))


@command("lastsave", 1, "loading stale fast")
def lastsave(c, argv):
    return integer(c.server.last_save)
