"""Persistence commands: SAVE, BGSAVE, BGREWRITEAOF, LASTSAVE (Redis's rdb.c and aof.c replies)."""

from __future__ import annotations

from valkdb import errors
from valkdb.core.context import Context
from valkdb.core.registry import command
from valkdb.errors import AofError
from valkdb.protocol.encoder import OK, integer, simple


@command("save")
def save(c: Context, argv: list[bytes]) -> bytes:
    server = c.server
    if server.children.running("rdb"):
        return errors.BGSAVE_IN_PROGRESS
    return OK if server.rdb.save() else errors.BARE_ERR


@command("bgsave")
def bgsave(c: Context, argv: list[bytes]) -> bytes:
    schedule = False
    if len(argv) > 1:
        if len(argv) != 2 or argv[1].lower() != b"schedule":
            return errors.SYNTAX
        schedule = True
    server = c.server
    if server.children.running("rdb"):
        return errors.BGSAVE_IN_PROGRESS
    if server.children.active is not None or c.in_exec:
        if not (schedule or c.in_exec):
            return errors.BGSAVE_CHILD_ACTIVE
        server.rdb.scheduled = True
        return simple(b"Background saving scheduled")
    try:
        server.rdb.background()
    except OSError:
        return errors.BARE_ERR
    return simple(b"Background saving started")


@command("bgrewriteaof")
def bgrewriteaof(c: Context, argv: list[bytes]) -> bytes:
    server = c.server
    if server.children.running("aof"):
        return errors.BGREWRITEAOF_IN_PROGRESS
    files = server.aof_files
    if server.children.active is not None or c.in_exec:
        files.schedule_rewrite()
        return simple(b"Background append only file rewriting scheduled")
    try:
        files.rewrite()
    except (OSError, AofError) as exc:
        if isinstance(exc, AofError):  # a failed fork is logged already
            server.log.warning("%s", exc)
        return errors.AOF_REWRITE_FAILED
    return simple(b"Background append only file rewriting started")


@command("lastsave")
def lastsave(c: Context, argv: list[bytes]) -> bytes:
    return integer(c.server.rdb.last_save)
