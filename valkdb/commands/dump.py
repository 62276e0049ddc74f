"""DUMP, RESTORE and MIGRATE (Redis's cluster.c): keys copied between servers as payloads.

A payload is one value in the RDB format, followed by the RDB version and a CRC64, so
payloads move between valkdb and Redis in both directions. The format lives in persistence,
which sits above the command families: the server hands this module its codec
(`server.dump_codec`), as it hands FUNCTION DUMP / RESTORE theirs.

MIGRATE talks to the target as Redis does, with blocking socket calls bounded by its timeout:
the command is atomic (no other client runs until the target has answered), so no key can
change between being serialised and being deleted, and it cannot run inside a transaction
half-done. Connections are cached per host:port for 10 seconds, remembering the database
last SELECTed, as Redis's migrate_cached_sockets.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Callable
from typing import Any, NamedTuple

from valkdb import errors
from valkdb.commands.args import to_int
from valkdb.core.context import Context
from valkdb.core.notifications import GENERIC
from valkdb.core.registry import command, propagates
from valkdb.protocol.encoder import OK, bulk, bulk_array
from valkdb.store.keyspace import now_ms


class DumpCodec(NamedTuple):
    """What the server provides: value -> payload, and (payload, settings) -> value, raising
    ValueError with RESTORE's message."""

    dump: Callable[[Any], bytes]
    load: Callable[[bytes, Any], Any]


_INVALID_TTL = errors.err("ERR Invalid TTL value, must be >= 0")
_INVALID_IDLETIME = errors.err("ERR Invalid IDLETIME value, must be >= 0")
_INVALID_FREQ = errors.err("ERR Invalid FREQ value, must be >= 0 and <= 255")


@command("dump")
def dump(c: Context, argv: list[bytes]) -> bytes:
    value = c.db.read(argv[1])
    if value is None:
        return c.resp.null
    return bulk(c.server.dump_codec.dump(value))


@command("restore")
def restore(c: Context, argv: list[bytes]) -> bytes:
    replace = absttl = False
    frequency: int | None = None
    idle: int | None = None
    i = 4
    while i < len(argv):
        option = argv[i].lower()
        more = i + 1 < len(argv)
        if option == b"replace":
            replace = True
        elif option == b"absttl":
            absttl = True
        elif option == b"idletime" and more and frequency is None:
            i += 1
            idle = to_int(argv[i])
            if idle < 0:
                return _INVALID_IDLETIME
        elif option == b"freq" and more and idle is None:
            i += 1
            frequency = to_int(argv[i])
            if not 0 <= frequency <= 255:
                return _INVALID_FREQ
        else:
            return errors.SYNTAX
        i += 1
    db, key = c.db, argv[1]
    if not replace and db.lookup(key) is not None:
        return errors.BUSYKEY
    ttl = to_int(argv[2])
    if ttl < 0:
        return _INVALID_TTL
    try:
        value = c.server.dump_codec.load(argv[3], c.server.config)
    except ValueError as error:
        return errors.err(f"ERR {error}")
    deleted = replace and db.delete(key)
    deadline = ttl if absttl or not ttl else ttl + now_ms()
    if ttl and deadline <= now_ms() and not db.loading:
        if deleted:  # the old key is gone and the new one expired at once: a DEL
            c.propagate([b"DEL", key])
            c.notify(GENERIC, b"del", key)
        return OK
    db.store(key, value)
    if ttl:
        db.set_deadline(key, deadline)
    field = db.ageing.restored(frequency, idle)
    if field is not None:
        db.set_access_field(key, field)
    c.server.blocking.ready(db, key)  # a key added, as Redis's dbAdd: serve waiters
    c.notify(GENERIC, b"restore", key)
    if ttl and not absttl:  # logged with the deadline it got, whenever it is replayed
        c.propagate([argv[0], key, b"%d" % deadline, *argv[3:], b"ABSTTL"])
    else:
        c.propagate(argv)
    return OK


@command("restore-asking")
def restore_asking(c: Context, argv: list[bytes]) -> bytes:
    return restore(c, argv)


propagates("restore", "restore-asking")(None)  # each logs what it did itself


# -- MIGRATE ------------------------------------------------------------------------------------

_CACHE_TTL = 10  # seconds a cached connection may stay unused
_CACHE_ITEMS = 64
_KEYS_NEED_EMPTY_KEY = errors.err(
    "ERR When using MIGRATE KEYS option, the key argument must be set to the empty string")
_CONNECT_FAILED = errors.err("IOERR error or timeout connecting to the client")


class _Target:
    """A cached connection to a MIGRATE target and the database it last SELECTed."""

    __slots__ = ("sock", "db", "used", "pending")

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.db = -1
        self.used = time.monotonic()
        self.pending = b""  # bytes read past the last line

    def send(self, data: bytes, timeout: float) -> None:
        self.sock.settimeout(timeout)
        self.sock.sendall(data)

    def line(self, timeout: float) -> bytes:
        """One reply line without its CRLF (replies to AUTH, SELECT and RESTORE are one line);
        OSError on a timeout or a closed connection."""
        self.sock.settimeout(timeout)
        while b"\n" not in self.pending:
            chunk = self.sock.recv(4096)
            if not chunk:
                raise ConnectionError("connection closed")
            self.pending += chunk
        line, _, self.pending = self.pending.partition(b"\n")
        return line.rstrip(b"\r")


def _targets(c: Context) -> dict[bytes, _Target]:
    cache: dict[bytes, _Target] = c.server.migrate_targets
    now = time.monotonic()
    for name, target in list(cache.items()):
        if now - target.used > _CACHE_TTL:
            _close(cache, name)
    return cache


def _close(cache: dict[bytes, _Target], name: bytes) -> None:
    target = cache.pop(name, None)
    if target is not None:
        target.sock.close()


def _connect(cache: dict[bytes, _Target], host: bytes, port: bytes,
             timeout: float) -> _Target | None:
    """The cached or a new connection; None when the host cannot be reached in time. A
    refused connection still counts as made (Redis's blocking connect only waits for the
    socket to turn writable), so it fails when written to."""
    name = host + b":" + port
    target = cache.get(name)
    if target is not None:
        target.used = time.monotonic()
        return target
    if len(cache) >= _CACHE_ITEMS:
        _close(cache, next(iter(cache)))
    sock = socket.socket(socket.AF_INET6 if b":" in host else socket.AF_INET)
    try:
        sock.settimeout(timeout)
        sock.connect((host.decode("latin-1"), _atoi(port)))
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    except ConnectionRefusedError:
        pass  # the first write fails
    except (OSError, UnicodeError, OverflowError):
        sock.close()
        return None
    cache[name] = target = _Target(sock)
    return target


def _atoi(text: bytes) -> int:
    """C's atoi, which Redis uses for the port: an optional sign and leading digits, else 0."""
    body = text.lstrip(b" \t\n\v\f\r")
    sign = -1 if body[:1] == b"-" else 1
    if body[:1] in (b"-", b"+"):
        body = body[1:]
    digits = len(body) - len(body.lstrip(b"0123456789"))
    return sign * int(body[:digits]) if digits else 0


@command("migrate")
def migrate(c: Context, argv: list[bytes]) -> bytes:
    copy = replace = False
    auth: tuple[bytes, ...] = ()
    keys = [argv[3]]
    i = 6
    while i < len(argv):
        option = argv[i].lower()
        more = len(argv) - 1 - i
        if option == b"copy":
            copy = True
        elif option == b"replace":
            replace = True
        elif option == b"auth":
            if not more:
                return errors.SYNTAX
            auth = (argv[i + 1],)
            i += 1
        elif option == b"auth2":
            if more < 2:
                return errors.SYNTAX
            auth = (argv[i + 1], argv[i + 2])
            i += 2
        elif option == b"keys":
            if argv[3]:
                return _KEYS_NEED_EMPTY_KEY
            keys = argv[i + 1:]
            break
        else:
            return errors.SYNTAX
        i += 1
    milliseconds = to_int(argv[5])
    db_number = to_int(argv[4])
    timeout = (milliseconds if milliseconds > 0 else 1000) / 1000
    db = c.db
    found = [(key, value) for key in keys if (value := db.read(key)) is not None]
    if not found:
        return b"+NOKEY\r\n"
    cache = _targets(c)
    host, port = argv[1], argv[2]
    for attempt in (1, 2):  # a cached connection the target closed is retried once, anew
        target = _connect(cache, host, port, timeout)
        if target is None:
            return _CONNECT_FAILED
        select = target.db != db_number
        parts = [bulk_array([b"AUTH", *auth])] if auth else []
        if select:
            parts.append(bulk_array([b"SELECT", b"%d" % db_number]))
        sent = []
        for key, value in found:
            deadline = db.deadline(key)
            ttl = 0
            if deadline is not None:
                ttl = deadline - now_ms()
                if ttl < 0:
                    continue
                ttl = max(ttl, 1)
            sent.append(key)
            parts.append(bulk_array([b"RESTORE", key, b"%d" % ttl, c.server.dump_codec.dump(value),
                                      *((b"REPLACE",) if replace else ())]))
        reading = False
        try:
            target.send(b"".join(parts), timeout)
            reading = True
            auth_reply = target.line(timeout) if auth else b"+"
            select_reply = target.line(timeout) if select else b"+"
        except OSError as error:
            _close(cache, host + b":" + port)
            if attempt == 1 and not isinstance(error, TimeoutError):
                continue
            return _io_error(reading)
        return _migrated(c, target, cache, host + b":" + port, sent, auth_reply, select_reply,
                         copy, db_number, timeout)
    raise AssertionError("unreachable")


propagates("migrate")(None)  # logged as a DEL of the keys it moved


def _io_error(reading: bool) -> bytes:
    return errors.err(f"IOERR error or timeout {'reading' if reading else 'writing'} "
                      "to target instance")


def _migrated(c: Context, target: _Target, cache: dict[bytes, _Target], name: bytes,
              sent: list[bytes], auth_reply: bytes, select_reply: bytes, copy: bool,
              db_number: int, timeout: float) -> bytes:
    """Read the RESTOREs' replies; delete (unless COPY) each key the target acknowledged."""
    db = c.db
    failure: bytes | None = None
    moved: list[bytes] = []
    for key in sent:
        try:
            reply = target.line(timeout)
        except OSError:
            _close(cache, name)
            if moved and not copy:
                c.propagate([b"DEL", *moved])
            if failure is not None:
                return failure
            return _io_error(True)
        first_error = next((r for r in (auth_reply, select_reply, reply) if r[:1] == b"-"),
                           None)
        if first_error is not None:
            if failure is None:
                target.db = -1
                failure = (b"-ERR Target instance replied with error: " + first_error[1:]
                           + b"\r\n")
        elif not copy:
            db.delete(key)
            c.notify(GENERIC, b"del", key)
            moved.append(key)
    if moved:
        c.propagate([b"DEL", *moved])
    if failure is not None:
        return failure
    target.db = db_number
    return OK

