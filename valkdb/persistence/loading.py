"""Start-up loading (loadDataFromDisk): the AOF when appendonly is on, else the RDB file.

Redis's rules: with appendonly on only the AOF counts (dump.rdb is not read, even when there is
no AOF yet); keys of an RDB whose deadline has passed are dropped (this server is a master);
nothing expires while the data loads (an AOF replay must see the keys its commands saw); a
corrupt or unreadable file ends the process (status 1) after saying why in the log. The loader
yields every few milliseconds (Pacer), so clients already connected get -LOADING meanwhile, and
for big files it logs its progress about every second.
"""

from __future__ import annotations

import os
import time
from typing import TYPE_CHECKING, BinaryIO

from valkdb.core.context import Context, Pacer
from valkdb.core.dispatch import call, lookup
from valkdb.core.registry import Command
from valkdb.persistence.aof import (
    AofDirectory,
    AofError,
    AofFileReader,
    ManifestError,
    is_rdb,
)
from valkdb.persistence.rdb import RDBError, RDBReader
from valkdb.scripting.functions import FunctionError
from valkdb.store.keyspace import now_ms

if TYPE_CHECKING:
    from valkdb.server import Server

PROGRESS_EVERY = 1.0  # seconds between progress log lines


class LoadError(Exception):
    """A file the server must not start with; args are its log lines."""


def load_dataset(server: Server) -> bool:
    """Load what the configuration says; False (after logging why) when the server must exit."""
    log = server.log
    started = time.monotonic()
    try:
        if server.config.appendonly:
            if _load_aof(server):
                log.info("DB loaded from append only file: %.3f seconds",
                         time.monotonic() - started)
        else:
            path = os.path.join(server.config.dir, server.config.dbfilename)
            try:
                f = open(path, "rb")  # noqa: SIM115 (closed below; absent is no error)
            except FileNotFoundError:
                return True
            with f:
                _load_rdb(server, f, os.path.getsize(path), "RDB", drop_expired=True)
            log.info("DB loaded from disk: %.3f seconds", time.monotonic() - started)
    except ManifestError as exc:
        for line in exc.log_messages:
            log.warning("%s", line.rstrip("\n"))
        return False
    except (LoadError, AofError) as exc:
        for line in exc.args:
            log.warning("%s", line)
        return False
    except RDBError as exc:
        log.warning("%s", exc)
        log.warning("Terminating server after rdb file reading failure.")
        return False
    except OSError as exc:
        log.warning("Fatal error loading the DB: %s. Exiting.", exc.strerror or exc)
        return False
    finally:
        server.loading_progress.clear()
    return True


def _load_rdb(server: Server, f: BinaryIO, size: int, what: str, drop_expired: bool) -> int:
    """Insert the keys of the RDB at f's position; the file offset after it. An AOF's BASE
    keeps keys past their deadline (drop_expired False): the INCR files that follow were
    written against that exact keyspace; they expire once loading is done (as Redis)."""
    log = server.log
    keyspace = server.keyspace
    databases = len(keyspace)
    reader = RDBReader(f, server.config)
    reader.on_function = lambda code: _load_library(server, code)
    progress = _Progress(server, size, what)
    pace = Pacer(None)
    now = now_ms()
    loaded = expired = 0
    announced = False
    for db_index, key, value, deadline in reader.records():
        if not announced:
            announced = True
            _log_aux(server, reader.aux)
        if db_index >= databases:
            raise LoadError("FATAL: Data file was created with a Redis server configured to "
                            f"handle more than {databases} databases. Exiting")
        if drop_expired and deadline is not None and deadline < now:
            expired += 1
            continue
        db = keyspace[db_index]
        if db.lookup(key) is not None:
            raise LoadError(f"Duplicated key '{key.decode(errors='replace')}' found in RDB "
                            "file")
        db.store(key, value)
        if deadline is not None:
            db.set_deadline(key, deadline)
        loaded += 1
        if not loaded & 1023:
            progress.update(reader.position, loaded)
            pace()
    if not announced:
        _log_aux(server, reader.aux)
    if reader.checksum_disabled:
        log.info("RDB file was saved with checksum disabled: no check performed.")
    log.info("Done loading RDB, keys loaded: %d, keys expired: %d.", loaded, expired)
    server.rdb.last_load_keys = (loaded, expired)
    return reader.position


def _load_library(server: Server, code: bytes) -> None:
    """A function library of the file joins the server's (rdbFunctionLoad: no time limit, and
    a library that is already there is an error)."""
    try:
        server.functions.create(code, False, timeout=0)
    except FunctionError as exc:
        raise LoadError(f"Failed loading library, {exc}") from None


def _log_aux(server: Server, aux: dict[bytes, bytes]) -> None:
    version = aux.get(b"redis-ver")
    if version is not None:
        server.log.info("Loading RDB produced by version %s", version.decode(errors="replace"))
    ctime = aux.get(b"ctime")
    if ctime is not None and ctime.lstrip(b"-").isdigit():
        server.log.info("RDB age %d seconds", max(0, int(time.time()) - int(ctime)))


def _load_aof(server: Server) -> bool:
    """Replay the manifest's files; False when there is no AOF (the server starts empty)."""
    config = server.config
    directory = AofDirectory(config.dir, config.appenddirname, config.appendfilename,
                             server.log)
    manifest = directory.load_manifest()
    if directory.needs_upgrade(manifest):
        manifest = directory.upgrade(manifest)
    if manifest is None or not manifest.files():
        return False
    files = directory.sizes(manifest)
    total = sum(size for _, size in files)
    client = Context(server)  # Redis's fake AOF client
    client.obeys = True
    done = 0
    for number, (info, size) in enumerate(files, 1):
        started = time.monotonic()
        path = directory.path(info)
        with open(path, "rb") as f:
            offset = 0
            if is_rdb(f):
                server.log.info("Reading RDB base file on AOF loading...")
                offset = _load_rdb(server, f, size, info.name, drop_expired=False)
            reader = AofFileReader(f, info.name, offset)
            _replay(server, client, reader, info.name, done, total)
        if reader.truncated:
            directory.truncate_short_read(reader, info, config.aof_load_truncated,
                                          number == len(files))
        done += size
        kind = "base" if info is manifest.base else "incr"
        server.log.info("DB loaded from %s file %s: %.3f seconds", kind, info.name,
                        time.monotonic() - started)
    server.dirty = 0
    return True


def _replay(server: Server, client: Context, reader: AofFileReader, name: str, done: int,
            total: int) -> None:
    """Run the file's commands as Redis's AOF client does: a MULTI's commands wait for their
    EXEC (dropped when the file ends first)."""
    progress = _Progress(server, total, name)
    pace = Pacer(None)
    queued: list[tuple[Command, list[bytes]]] | None = None
    count = 0
    for argv in reader.commands():
        entry = lookup(argv[0])
        if entry is not None and entry.subcommands is not None and len(argv) > 1:
            entry = entry.subcommands.get(argv[1].lower())
        if entry is None:
            raise LoadError(f"Unknown command '{argv[0].decode(errors='replace')}' "
                            f"reading the append only file {name}")
        if entry.name == "multi":
            if queued is None:  # a nested MULTI is refused, the transaction goes on (Redis)
                queued = []
        elif entry.name == "exec" and queued is not None:
            for queued_entry, queued_argv in queued:
                call(client, queued_entry, queued_argv)
            queued = None
        elif queued is not None:
            queued.append((entry, argv))
        else:
            call(client, entry, argv)
        count += 1
        if not count & 1023:
            progress.update(done + reader.valid_up_to, count)
            pace()


class _Progress:
    """INFO's loading_* fields, and a log line about every second for big files."""

    def __init__(self, server: Server, total: int, what: str) -> None:
        self.server = server
        self.total = total
        self.what = what
        self.started = time.monotonic()
        self.logged = self.started
        fields = server.loading_progress
        fields.setdefault("start_time", time.time())
        fields["total_bytes"] = total
        fields["loaded_bytes"] = 0

    def update(self, position: int, items: int) -> None:
        self.server.loading_progress["loaded_bytes"] = position
        now = time.monotonic()
        if now - self.logged >= PROGRESS_EVERY and self.total:
            self.logged = now
            rate = items / (now - self.started)
            self.server.log.info("Loading %s: %.0f%% (%d bytes of %d), %d keys, %d per second",
                                 self.what, 100 * position / self.total, position, self.total,
                                 items, rate)
