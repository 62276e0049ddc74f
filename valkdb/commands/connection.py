"""Connection commands: PING, ECHO, QUIT, HELLO, AUTH, SELECT, RESET and CLIENT."""

from __future__ import annotations

# hmac.compare_digest is this same C function; importing hmac loads OpenSSL (+4 MB RSS).
from _operator import _compare_digest as compare_digest
from typing import Any

from valkdb import REDIS_VERSION, errors
from valkdb.commands.args import db_index, to_int
from valkdb.commands.keys import help_reply
from valkdb.commands.transactions import discard_transaction
from valkdb.core.context import Context
from valkdb.core.registry import command, container
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


def _validate_name(name: bytes) -> None:
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
            _validate_name(name)
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
    return simple(b"RESET")


# -- CLIENT -------------------------------------------------------------------------------------

container("client")


@command("client|id")
def client_id(c: Context, argv: list[bytes]) -> bytes:
    return integer(c.id)


@command("client|setname")
def client_setname(c: Context, argv: list[bytes]) -> bytes:
    _validate_name(argv[2])
    c.name = argv[2]
    return OK


@command("client|getname")
def client_getname(c: Context, argv: list[bytes]) -> bytes:
    return bulk(c.name) if c.name else c.resp.null


@command("client|setinfo", 4, "noscript loading stale", 0, 0, 0)  # Redis 7.2's
def client_setinfo(c: Any, argv: list[bytes]) -> bytes:  # a connection.Client
    attr = argv[2].upper()
    if attr not in (b"LIB-NAME", b"LIB-VER"):
        return errors.err_bytes(b"ERR Unrecognized option '%s'" % argv[2])
    if any(ch < 33 or ch > 126 for ch in argv[3]):
        return errors.err_bytes(
            b"ERR %s cannot contain spaces, newlines or special characters." % attr)
    if attr == b"LIB-NAME":
        c.lib_name = argv[3]
    else:
        c.lib_ver = argv[3]
    return OK


@command("client|info")
def client_info(c: Any, argv: list[bytes]) -> bytes:  # a connection.Client
    return c.resp.verbatim(c.describe().encode() + b"\n")


def _client_type(client) -> bytes:  # type: ignore[no-untyped-def]
    subscribed = client.channels or client.patterns or client.shard_channels
    return b"pubsub" if subscribed else b"normal"


@command("client|list")
def client_list(c: Context, argv: list[bytes]) -> bytes:
    clients = list(c.server.clients.values())
    if len(argv) > 2:
        opt = argv[2].upper()
        if opt == b"TYPE" and len(argv) == 4:
            wanted = argv[3].lower()
            if wanted not in (b"normal", b"master", b"replica", b"slave", b"pubsub"):
                return errors.unknown_client_type(argv[3])
            clients = [cl for cl in clients if _client_type(cl) == wanted]
        elif opt == b"ID" and len(argv) > 3:
            ids = {to_int(arg, errors.err("ERR Invalid client ID")) for arg in argv[3:]}
            clients = [cl for cl in clients if cl.id in ids]
        else:
            return errors.SYNTAX
    return c.resp.verbatim(b"".join(cl.describe().encode() + b"\n" for cl in clients))


@command("client|kill")
def client_kill(c: Context, argv: list[bytes]) -> bytes:
    clients = list(c.server.clients.values())
    if len(argv) == 3:  # old form: CLIENT KILL addr:port
        for client in clients:
            if client.addr.encode() == argv[2]:
                client.kill()
                return OK
        return errors.err("ERR No such client")
    skipme = True
    filters = []
    for i in range(2, len(argv), 2):
        if i + 1 == len(argv):  # an option without a value: Redis checks options in order
            return errors.SYNTAX
        opt, value = argv[i].upper(), argv[i + 1]
        if opt == b"ID":
            wanted = to_int(value, errors.CLIENT_ID_NOT_POSITIVE)
            if wanted <= 0:
                return errors.CLIENT_ID_NOT_POSITIVE
            filters.append(lambda cl, w=wanted: cl.id == w)
        elif opt == b"ADDR":
            filters.append(lambda cl, w=value: cl.addr.encode() == w)
        elif opt == b"LADDR":
            filters.append(lambda cl, w=value: cl.laddr.encode() == w)
        elif opt == b"TYPE":
            kind = value.lower()
            if kind not in (b"normal", b"master", b"replica", b"slave", b"pubsub"):
                return errors.unknown_client_type(value)
            filters.append(lambda cl, w=kind: _client_type(cl) == w)
        elif opt == b"USER":
            if value != b"default":
                return errors.err_bytes(b"ERR No such user '%s'" % value)
        elif opt == b"SKIPME":
            if value.lower() not in (b"yes", b"no"):
                return errors.SYNTAX
            skipme = value.lower() == b"yes"
        else:
            return errors.SYNTAX
    killed = 0
    for client in clients:
        if skipme and client is c:
            continue
        if all(f(client) for f in filters):
            client.kill()
            killed += 1
    return integer(killed)


@command("client|no-evict")
def client_no_evict(c: Any, argv: list[bytes]) -> bytes:  # a connection.Client
    """Marks the client as exempt from client eviction (maxmemory-clients, which valkdb does
    not enforce yet); CLIENT LIST shows it as flag `e`."""
    mode = argv[2].lower()
    if mode not in (b"on", b"off"):
        return errors.SYNTAX
    c.no_evict = mode == b"on"
    return OK


@command("client|unblock")
def client_unblock(c: Context, argv: list[bytes]) -> bytes:
    if len(argv) > 4:
        return errors.subcommand_syntax(b"unblock", "client")
    client_id = to_int(argv[2])
    mode = argv[3].upper() if len(argv) == 4 else b"TIMEOUT"
    if mode not in (b"TIMEOUT", b"ERROR"):
        return errors.err("ERR CLIENT UNBLOCK reason should be TIMEOUT or ERROR")
    target = c.server.clients.get(client_id)
    if target is None or target.waiter is None:
        return integer(0)
    target.waiter.finish(None if mode == b"TIMEOUT" else _UNBLOCKED)
    return integer(1)


_UNBLOCKED = errors.err("UNBLOCKED client unblocked via CLIENT UNBLOCK")


_CLIENT_HELP = [
    b"CLIENT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    b"GETNAME",
    b"    Return the name of the current connection.",
    b"ID",
    b"    Return the ID of the current connection.",
    b"INFO",
    b"    Return information about the current client connection.",
    b"KILL <ip:port>",
    b"    Kill connection made from <ip:port>.",
    b"KILL <option> <value> [<option> <value> [...]]",
    b"    Kill connections. Options are:",
    b"    * ADDR (<ip:port>|<unixsocket>:0)",
    b"      Kill connections made from the specified address",
    b"    * LADDR (<ip:port>|<unixsocket>:0)",
    b"      Kill connections made to specified local address",
    b"    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
    b"      Kill connections by type.",
    b"    * USER <username>",
    b"      Kill connections authenticated by <username>.",
    b"    * SKIPME (YES|NO)",
    b"      Skip killing current connection (default: yes).",
    b"    * ID <client-id>",
    b"      Kill connections by client id.",
    b"LIST [options ...]",
    b"    Return information about client connections. Options:",
    b"    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
    b"      Return clients of specified type.",
    b"SETNAME <name>",
    b"    Assign the name <name> to the current connection.",
    b"SETINFO <LIB-NAME|LIB-VER> <value>",
    b"    Set client library name or version.",
    b"HELP",
    b"    Prints this help.",
]


@command("client|help")
def client_help(c: Context, argv: list[bytes]) -> bytes:
    return help_reply(_CLIENT_HELP)
