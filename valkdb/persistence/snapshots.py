"""RDB snapshots: SAVE, BGSAVE, save points, and the state INFO persistence reports.

A snapshot is written to a temporary file, flushed, fsynced and renamed over `dbfilename`, so
the file in place is always a complete snapshot (rdbSave). BGSAVE writes it from a forked child
(children.py) while the parent keeps serving; the parent polls for the child's end from its cron.
A failed background save makes the server refuse writes (MISCONF) while
stop-writes-on-bgsave-error is on and save points are configured, until a save succeeds.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any

from valkdb.persistence.aof import fsync_dir_of
from valkdb.persistence.rdb import write_rdb

if TYPE_CHECKING:
    from valkdb.server import Server
    from valkdb.store.keyspace import Database, Keyspace

BGSAVE_RETRY_DELAY = 5  # seconds before a save point retries a failed BGSAVE (Redis: the same)


def dump_keyspace(path: str, keyspace: Keyspace, functions: Iterable[bytes] = ()) -> None:
    """Write every database (and the function libraries' codes) to path in RDB format,
    flushed and fsynced (not renamed)."""
    with open(path, "wb") as f:
        write_rdb(f, _databases(keyspace), functions=functions)
        f.flush()
        os.fsync(f.fileno())


def _databases(keyspace: Keyspace) -> Iterator[tuple[int, int, int, Iterator[Any]]]:
    for db in keyspace.dbs:
        size = db.size()
        if size:
            yield db.index, size, db.expires_count(), _entries(db)


def _entries(db: Database) -> Iterator[tuple[bytes, Any, int | None]]:
    for shard in db.shards:
        deadline_of = shard.expires.get
        for key, value in shard.data.items():
            yield key, value, deadline_of(key)


class Snapshots:
    def __init__(self, server: Server) -> None:
        self.server = server
        self.last_save = int(time.time())  # LASTSAVE
        self.last_bgsave_ok = True
        self.last_bgsave_seconds = -1
        self.last_try = 0.0  # when the last BGSAVE started (retry delay after a failure)
        self.saves = 0  # successful saves since start-up (rdb_saves)
        self.scheduled = False  # BGSAVE SCHEDULE waiting for the running child
        self.last_load_keys = (0, 0)  # (loaded, expired) by the last RDB load
        self._dirty_at_fork = 0

    @property
    def path(self) -> str:
        config = self.server.config
        return os.path.join(config.dir, config.dbfilename)

    @property
    def refuses_writes(self) -> bool:
        config = self.server.config
        return (not self.last_bgsave_ok and config.stop_writes_on_bgsave_error
                and bool(config.save))

    def temp_path(self, pid: int) -> str:
        """Where the process `pid` writes a snapshot before renaming it into place."""
        return os.path.join(self.server.config.dir, f"temp-{pid}.rdb")

    def _write(self) -> None:
        """rdbSave: the snapshot into a temporary file, renamed over dbfilename (durably)."""
        temp = self.temp_path(os.getpid())
        try:
            dump_keyspace(temp, self.server.keyspace, self.server.functions.codes())
            os.replace(temp, self.path)
            fsync_dir_of(self.path)
        except BaseException:
            remove_file(temp)
            raise
        self.server.log.info("DB saved on disk")

    def save(self) -> bool:
        """SAVE (and shutdown): write the snapshot in this process, blocking every client."""
        try:
            self._write()
        except OSError as exc:
            self.server.log.warning("Write error saving DB on disk: %s", exc.strerror or exc)
            return False
        self._saved(self.server.dirty)
        return True

    def background(self) -> int:
        """BGSAVE: fork a child that writes the snapshot; its pid. Raises OSError."""
        server = self.server
        self.last_try = time.time()
        self._dirty_at_fork = server.dirty
        try:
            pid = server.children.fork("rdb", self._write)
        except OSError as exc:
            self.last_bgsave_ok = False
            server.log.warning("Can't save in background: fork: %s", exc.strerror)
            server.update_gate()
            raise
        server.log.info("Background saving started by pid %d", pid)
        return pid

    def child_done(self, pid: int, started: float, code: int, by_signal: int) -> None:
        log = self.server.log
        if by_signal:
            log.warning("Background saving terminated by signal %d", by_signal)
            remove_file(self.temp_path(pid))
            # SIGUSR1 is how valkdb stops its own child (FLUSHALL, SHUTDOWN): not a failure.
            self.last_bgsave_ok = by_signal == signal.SIGUSR1 and self.last_bgsave_ok
        elif code == 0:
            log.info("Background saving terminated with success")
            self._saved(self._dirty_at_fork)
        else:
            log.warning("Background saving error")
            self.last_bgsave_ok = False
        self.last_bgsave_seconds = int(time.monotonic() - started)
        self.server.update_gate()

    def _saved(self, dirty_included: int) -> None:
        server = self.server
        server.dirty = max(0, server.dirty - dirty_included)
        self.last_save = int(time.time())
        self.last_bgsave_ok = True
        self.saves += 1
        server.update_gate()

    def cron(self) -> None:
        """Start a scheduled BGSAVE, or one a save point calls for (serverCron)."""
        server = self.server
        if server.children.active is not None:
            return
        if self.scheduled:
            self.scheduled = False
            self._try_background()
            return
        now = time.time()
        if not self.last_bgsave_ok and now - self.last_try <= BGSAVE_RETRY_DELAY:
            return
        for seconds, changes in server.config.save:
            if server.dirty >= changes and now - self.last_save > seconds:
                server.log.info("%d changes in %d seconds. Saving...", changes, seconds)
                self._try_background()
                return

    def _try_background(self) -> None:
        try:
            self.background()
        except OSError:
            pass  # logged; retried after BGSAVE_RETRY_DELAY


def remove_file(path: str) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
