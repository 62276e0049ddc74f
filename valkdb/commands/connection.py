"""Connection commands: PING, ECHO, QUIT, HELLO, AUTH, SELECT and RESET (CLIENT: client.py)."""

from __future__ import annotations

# hmac.compare_digest is this same C function; importing hmac loads OpenSSL (+4 MB RSS).
from _operator import _compare_digest as compare_digest
from typing import Any

from valkdb import REDIS_VERSION, errors
from valkdb.commands.args import db_index, to_int
from valkdb.commands.transactions import discard_transaction
from valkdb.core.context import REPLY_ON, Context
from valkdb.core.registry import command
from valkdb.errors import CommandError
from valkdb.protocol.encoder import (
    EMPTY_ARRAY,
    OK,
    PONG,
    RESP2_ENCODER,
    RESP3_ENCODER,
    bulk,
    integer,
    simple,
)


@command("ping")
def ping(c: Context, argv: list[bytes]) -> bytes:
    if len(argv) > 2:
        return errors.wrong_arity("ping")
    if c.channels or c.patterns or c.shard_channels:
        if c.resp.version == 2:  # in RESP2 subscribed mode PING answers as a message
            return b"*2\r\n$4\r\npong\r\n" + bulk(argv[1] if len(argv) == 2 else b"")
    if len(argv) == 2:
        return bulk(argv[1])
    return PONG


@command("echo")
def echo(c: Context, argv: list[bytes]) -> bytes:
    return bulk(argv[1])


@command("quit")
def quit_(c: Context, argv: list[bytes]) -> bytes:
    c.close_after_reply = True
    return OK


def _check_password(c, username: bytes, password: bytes) -> bool:  # type: ignore[no-untyped-def]
    """Only the default user exists; with no requirepass it accepts any password (nopass)."""
    if username != b"default":
        return False
    required = c.server.config.requirepass.encode()
    return not required or compare_digest(password, required)


def _authenticate(c, username: bytes, password: bytes) -> bytes | None:  # type: ignore[no-untyped-def]
    """None on success, else the WRONGPASS error."""
    if not _check_password(c, username, password):
        return errors.WRONGPASS
    c.authenticated = True
    c.reader.authenticated = True
    return None


@command("auth")
def auth(c: Context, argv: list[bytes]) -> bytes:
    if len(argv) > 3:
        return errors.SYNTAX
    if len(argv) == 2 and not c.server.config.requirepass:
        return errors.NOPASS_AUTH
    username = argv[1] if len(argv) == 3 else b"default"
    return _authenticate(c, username, argv[-1]) or OK


def validate_name(name: bytes) -> None:
    if any(ch < 33 or ch > 126 for ch in name):
        raise CommandError(errors.err(
            "ERR Client names cannot contain spaces, newlines or special characters."))


@command("hello")
def hello(c: Context, argv: list[bytes]) -> bytes:
    version = None
    if len(argv) > 1:
        version = to_int(argv[1], errors.err(
            "ERR Protocol version is not an integer or out of range"))
        if version not in (2, 3):
            return errors.NOPROTO
    name = None
    i = 2
    while i < len(argv):
        opt = argv[i].upper()
        if opt == b"AUTH" and i + 2 < len(argv):
            failed = _authenticate(c, argv[i + 1], argv[i + 2])
            if failed:
                return failed
            i += 3
        elif opt == b"SETNAME" and i + 1 < len(argv):
            name = argv[i + 1]
            validate_name(name)
            i += 2
        else:
            return errors.err_bytes(b"ERR Syntax error in HELLO option '%s'" % argv[i])
    if not c.authenticated:
        return errors.NOAUTH_HELLO
    if name is not None:
        c.name = name
    if version is not None:
        c.resp = RESP3_ENCODER if version == 3 else RESP2_ENCODER
    return c.resp.map([
        (bulk(b"server"), bulk(b"redis")),
        (bulk(b"version"), bulk(REDIS_VERSION.encode())),
        (bulk(b"proto"), integer(c.resp.version)),
        (bulk(b"id"), integer(c.id)),
        (bulk(b"mode"), bulk(b"standalone")),
        (bulk(b"role"), bulk(b"master")),
        (bulk(b"modules"), EMPTY_ARRAY),
    ])


@command("select")
def select(c: Context, argv: list[bytes]) -> bytes:
    c.db = c.server.keyspace[db_index(c, argv[1])]
    return OK


@command("reset")
def reset(c: Any, argv: list[bytes]) -> bytes:  # a connection.Client
    discard_transaction(c)
    c.server.pubsub.unsubscribe_all(c)
    c.db = c.server.keyspace[0]
    c.resp = RESP2_ENCODER
    c.name = b""
    c.authenticated = not c.server.config.requirepass
    c.reader.authenticated = c.authenticated
    c.server.tracking.disable(c)
    c.reply_mode = REPLY_ON
    return simple(b"RESET")
