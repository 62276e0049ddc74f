"""The append-only file while the server runs: what is logged, when it reaches the disk, rewrites.

It is an output of the propagation bus (core/propagation.py): what changed the dataset arrives
as (db, argv) pairs, one unit of execution at a time (already wrapped in MULTI/EXEC when the
unit has several), collected in `pending`; they are encoded when written, with a SELECT
whenever the database changes.

When it reaches the disk (flushAppendOnlyFile): before a client's batch of replies leaves,
the buffer is written to the current INCR file, so no acknowledged write is lost when the
process dies. The fsync policy decides the rest:
- always: the replies also wait until the data is fsynced. The fdatasync runs in a thread of
  gevent's pool, so other clients keep running meanwhile; whatever they write waits for the next
  fsync, which covers all of it (group commit: one write and one fsync per round, not one per
  client). A failed write or fsync ends the process, as Redis does: the replies already
  computed cannot be taken back.
- everysec: the cron starts an fdatasync in a thread about once a second.
- no: the kernel decides.
A failed write with everysec/no keeps the data in the buffer (a short write is cut off the
file), refuses writes with -MISCONF, and is retried until a write succeeds.

Rewrites (BGREWRITEAOF, and automatic ones past auto-aof-rewrite-percentage) follow Redis 7.0's
multi-part design (aof.py has the file work): the parent opens a new INCR file and records it
in the manifest, a forked child writes the dataset as it was at the fork, and on success that
file becomes the new BASE while the old BASE and INCR files become history and are deleted. A
failed rewrite leaves a manifest that still describes the whole dataset. Turning appendonly on
at run time logs into a temporary INCR file until the first rewrite has produced a BASE.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any

import gevent
from gevent import get_hub
from gevent.event import Event

from valkdb.persistence.aof import (
    AofDirectory,
    AofError,
    AofFile,
    AofWriteError,
    Manifest,
    encode_command,
    select_command,
    timestamp_annotation,
)
from valkdb.persistence.snapshots import dump_keyspace, remove_file
from valkdb.protocol.encoder import format_double
from valkdb.store.stream import Stream, format_id
from valkdb.store.types import Hash, List, Set, ZSet

if TYPE_CHECKING:
    from valkdb.server import Server
    from valkdb.store.keyspace import Keyspace

ITEMS_PER_COMMAND = 64  # AOF_REWRITE_ITEMS_PER_CMD
WRITE_ERROR_LOG_EVERY = 30  # seconds: a failing write is retried often, logged this rarely
REWRITE_FAILURES_BEFORE_LIMIT = 3  # then retries wait 1, 2, 4 ... 60 minutes (aofRewriteLimited)


class AppendLog:
    def __init__(self, server: Server) -> None:
        self.server = server
        config = server.config
        self.directory = AofDirectory(config.dir, config.appenddirname, config.appendfilename,
                                      server.log)
        self.manifest: Manifest | None = None
        self.file: AofFile | None = None  # the INCR file commands are appended to
        self.logging = False  # appendonly is on: the server logs its writes here
        self.waiting_rewrite = False  # turned on at run time: no BASE yet
        # (db index, argv) logged and not yet written; the dispatcher appends the commands it
        # logs as they came straight here.
        self.pending: list[tuple[int, list[bytes]]] = []
        self._unwritten = b""  # encoded, not yet written (kept after a failed write)
        self._selected = -1  # the database the INCR file's last SELECT chose
        self._annotated = 0  # the second of the last #TS: annotation (aof-timestamp-enabled)
        self.written = 0  # bytes this process wrote (over every INCR file)
        self.synced = 0  # how many of those are known to be on disk
        self.size = 0  # BASE + INCR files (aof_current_size)
        self.base_size = 0  # size after the last rewrite or at start-up (aof_base_size)
        self.write_error: str | None = None  # -MISCONF while set
        self._error_logged_at = -float(WRITE_ERROR_LOG_EVERY)
        self.round = 0  # flush rounds so far; held replies wait for the one they name
        self._held_clients: dict[Any, None] = {}  # clients with replies held for this round
        self._wake = Event()
        self._rounds: Any = None  # the greenlet running flush rounds
        self._sync_done: Event | None = None  # set when the running `always` fsync ends
        self._fsync_job: Any = None  # the running everysec fsync
        self._fsync_upto = 0
        self._last_fsync = time.monotonic()
        self.rewrite_scheduled = False
        self.rewrites = 0
        self.rewrite_failures = 0  # consecutive
        self._next_rewrite_try = 0.0
        self.last_rewrite_ok = True
        self.last_rewrite_seconds = -1

    # -- switching on and off ------------------------------------------------------------------

    def open(self) -> None:
        """At start-up, after loading: append to the last INCR file, creating the BASE and
        INCR files and the manifest first if there are none (aofOpenIfNeededOnServerStart)."""
        manifest = self.directory.load_manifest() or Manifest()
        self.file = self.directory.open_on_start(manifest, self._dump_base,
                                                 self.server.config.aof_use_rdb_preamble)
        self.manifest = manifest
        self._selected = -1
        self.size = self.base_size = self._files_size()
        self.logging = True

    def enable(self) -> None:
        """CONFIG SET appendonly yes: log into a temporary INCR file and rewrite at once (or
        when the running child ends); the AOF counts once that rewrite succeeded."""
        os.makedirs(self.directory.path_of_dir, exist_ok=True)
        self.manifest = self.directory.load_manifest() or Manifest()
        self.waiting_rewrite = True
        self.logging = True
        if self.server.children.active is None:
            try:
                self.rewrite()  # opens the temporary INCR file
            except (OSError, AofError):
                self.close()
                raise
        else:
            self.file = self.directory.open_temp_incr()
            self._selected = -1
            self.rewrite_scheduled = True

    def close(self) -> None:
        """Shutdown or appendonly no: everything logged goes to disk, held replies out."""
        self.flush_round()
        self._wait_for_fsyncs()
        if self.file is not None:
            self.server.log.info("Calling fsync() on the AOF file.")
            try:
                self.file.fsync()
            except OSError as exc:
                self.server.log.warning("Fail to fsync the AOF file: %s", exc.strerror)
            self.file.close()
            self.file = None
        self.logging = self.waiting_rewrite = False

    # -- logging commands ----------------------------------------------------------------------

    def feed(self, ops: list[tuple[int, list[bytes]]]) -> None:
        """The bus's output: log what one unit of execution propagated (feedAppendOnlyFile)."""
        self.pending.extend(ops)

    def _encode(self) -> bytes:
        parts = [self._unwritten]
        if self.pending and self.server.config.aof_timestamp_enabled:
            now = int(time.time())
            if now > self._annotated:  # feedAppendOnlyFile: one annotation per second
                parts.append(timestamp_annotation(now))
                self._annotated = now
        selected = self._selected
        for db_index, argv in self.pending:
            if db_index != selected:
                parts.append(select_command(db_index))
                selected = db_index
            parts.append(encode_command(argv))
        self._selected = selected
        self.pending.clear()
        return b"".join(parts)

    def buffered(self) -> int:
        return len(self._unwritten) + len(self.pending)

    def fsync_pending(self) -> bool:
        return self._fsync_job is not None

    def unflushed(self) -> bool:
        """Whether a reply sent now could acknowledge what is not in the AOF (or, with
        appendfsync always, not on disk) yet."""
        return bool(self.pending or self._unwritten or self.synced < self.written
                    and self.server.config.appendfsync == "always")

    def forget(self, client: Any) -> None:
        self._held_clients.pop(client, None)

    def hold(self, client: Any, data: bytes) -> None:
        """Hold a reply until the next flush round has written what it acknowledges."""
        client.hold(self.round, data)
        self._held_clients[client] = None
        if self._rounds is None:
            self._rounds = gevent.spawn(self._run_rounds)
        self._wake.set()

    def _run_rounds(self) -> None:
        """Flush rounds, as Redis's beforeSleep: every reply held since the last round goes
        out after one write (and one fsync) that covers all their commands. The round runs
        once the clients woken in this turn of the event loop have run their batches."""
        while True:
            self._wake.wait()
            self._wake.clear()
            self.flush_round()

    def flush_round(self) -> None:
        done = self.round
        self.round += 1  # what is held from now on waits for the next round
        held, self._held_clients = self._held_clients, {}
        self._write()
        if self.synced < self.written and self.server.config.appendfsync == "always":
            self._sync()
        for client in held:
            client.release(done)

    def _write(self) -> None:
        if self.file is None:
            return
        data = self._encode()
        if not data:
            return
        log = self.server.log
        try:
            self.file.write(data)
        except AofWriteError as exc:
            if self.server.config.appendfsync == "always":
                log.warning("Can't recover from AOF write error when the AOF fsync policy is "
                            "'always'. Exiting...")
                os._exit(1)
            now = time.monotonic()
            if now - self._error_logged_at >= WRITE_ERROR_LOG_EVERY:
                self._error_logged_at = now
                for message in exc.messages:
                    log.warning("%s", message)
            self._unwritten = data[exc.kept:]  # retried by the cron and the next batch
            self.written += exc.kept
            self.size += exc.kept
            if self.write_error is None:
                self.write_error = os.strerror(exc.errno)
                self.server.update_gate()
            return
        self._unwritten = b""
        self.written += len(data)
        self.size += len(data)
        if self.write_error is not None:
            log.warning("AOF write error looks solved, Redis can write again.")
            self.write_error = None
            self.server.update_gate()

    def _sync(self) -> None:
        """Return once everything written so far is on disk (appendfsync always)."""
        target = self.written
        while self.synced < target and self.file is not None:
            running = self._sync_done
            if running is not None:
                running.wait()
                continue
            done = self._sync_done = Event()
            upto = self.written
            try:
                get_hub().threadpool.apply(os.fdatasync, (self.file.fd,))
            except OSError as exc:
                self.server.log.warning("Can't persist AOF for fsync error when the AOF fsync "
                                        "policy is 'always': %s. Exiting...", exc.strerror)
                os._exit(1)
            finally:
                self._sync_done = None
                done.set()
            self.synced = max(self.synced, upto)

    def _wait_for_fsyncs(self) -> None:
        while self._sync_done is not None:
            self._sync_done.wait()
        if self._fsync_job is not None:
            self._fsync_job.wait()
            self._reap_fsync()

    def cron(self) -> None:
        """Retry a failed write; the everysec fsync."""
        if self.pending or self._unwritten:
            self._write()
        if self._fsync_job is not None and self._fsync_job.ready():
            self._reap_fsync()
        config = self.server.config
        now = time.monotonic()
        if (config.appendfsync == "everysec" and self._fsync_job is None
                and self.file is not None and self.synced < self.written
                and now - self._last_fsync >= 1
                and not (config.no_appendfsync_on_rewrite
                         and self.server.children.active is not None)):
            self._fsync_upto = self.written
            self._last_fsync = now
            self._fsync_job = get_hub().threadpool.spawn(os.fdatasync, self.file.fd)

    def _reap_fsync(self) -> None:
        job, self._fsync_job = self._fsync_job, None
        if job.successful():
            self.synced = max(self.synced, self._fsync_upto)
        elif self.write_error is None:
            error = job.exception
            self.server.log.warning("Fail to fsync the AOF file: %s", error)
            self.write_error = getattr(error, "strerror", None) or str(error)
            self.server.update_gate()

    # -- rewrites ------------------------------------------------------------------------------

    def schedule_rewrite(self) -> None:
        """BGREWRITEAOF while a child runs: start it when that child is done."""
        self.rewrite_scheduled = True
        self.rewrite_failures = 0
        self._next_rewrite_try = 0.0

    def due_for_rewrite(self) -> bool:
        """A scheduled rewrite, or an automatic one (the AOF grew past the percentage), unless
        repeated failures made it wait (aofRewriteLimited)."""
        if time.monotonic() < self._next_rewrite_try:
            return False
        if self.rewrite_scheduled:
            return True
        config = self.server.config
        percentage = config.auto_aof_rewrite_percentage
        if (not self.logging or self.waiting_rewrite or not percentage
                or self.size <= config.auto_aof_rewrite_min_size):
            return False
        base = self.base_size or 1
        return (self.size - base) * 100 // base >= percentage

    def rewrite(self) -> int:
        """BGREWRITEAOF: later commands go to a new INCR file (recorded in the manifest before
        the child starts, so the listed files always hold the whole dataset), then the child
        writes the new BASE; its pid. Raises OSError or AofError when it cannot start."""
        server = self.server
        directory = self.directory
        if self.logging:
            # No yield from the last write to the fork: a command logged in between would be
            # in the child's snapshot and in the new INCR file, and replayed twice.
            self._wait_for_fsyncs()
            self._write()
            if self._unwritten:
                raise AofError("Can't rewrite the AOF while writing to it fails")
            old = self.file
            if self.waiting_rewrite:  # the new BASE will hold what the temp file has so far
                self.file = directory.open_temp_incr()
            else:
                assert self.manifest is not None
                self.manifest, self.file = directory.open_new_incr(self.manifest)
            self._selected = -1
            if old is not None:
                old.fsync()
                old.close()
            self.synced = self.written
        else:
            os.makedirs(directory.path_of_dir, exist_ok=True)
            self.manifest = directory.load_manifest() or Manifest()
        dump = self._dump_base

        def write() -> None:
            dump(self.temp_path(os.getpid()), server.config.aof_use_rdb_preamble)

        try:
            pid = server.children.fork("aof", write)
        except OSError as exc:
            server.log.warning("Can't rewrite append only file in background: fork: %s",
                               exc.strerror)
            self._rewrite_failed()
            raise
        server.log.info("Background append only file rewriting started by pid %d", pid)
        return pid

    def temp_path(self, pid: int) -> str:
        """Where the rewrite child `pid` writes the new BASE."""
        return self.directory.rewrite_temp_path(pid)

    def child_done(self, pid: int, started: float, code: int, by_signal: int) -> None:
        log = self.server.log
        config = self.server.config
        temp = self.temp_path(pid)
        self.last_rewrite_seconds = int(time.monotonic() - started)
        if code or by_signal:
            if by_signal:
                log.warning("Background AOF rewrite terminated by signal %d", by_signal)
            else:
                log.warning("Background AOF rewrite terminated with error")
            remove_file(temp)
            self._rewrite_failed()
            return
        log.info("Background AOF rewrite terminated with success")
        assert self.manifest is not None
        try:
            self.manifest = self.directory.finish_rewrite(
                self.manifest, temp, config.aof_use_rdb_preamble, self.logging,
                temp_incr=self.waiting_rewrite, disable_auto_gc=config.aof_disable_auto_gc)
        except AofError as exc:
            log.warning("%s", exc)
            remove_file(temp)
            self._rewrite_failed()
            return
        self.waiting_rewrite = False
        self.size = self.base_size = self._files_size()
        self.rewrites += 1
        self.rewrite_failures = 0
        self.last_rewrite_ok = True
        log.info("Background AOF rewrite finished successfully")

    def _rewrite_failed(self) -> None:
        self.rewrite_failures += 1
        self.last_rewrite_ok = False
        if self.waiting_rewrite:
            self.rewrite_scheduled = True  # the AOF being turned on needs its BASE
        if self.rewrite_failures >= REWRITE_FAILURES_BEFORE_LIMIT:
            minutes = min(60, 1 << (self.rewrite_failures - REWRITE_FAILURES_BEFORE_LIMIT))
            self._next_rewrite_try = time.monotonic() + 60 * minutes
            self.server.log.warning("Background AOF rewrite has repeatedly failed and triggered "
                                    "the limit, will retry in %d minutes", minutes)

    def _files_size(self) -> int:
        assert self.manifest is not None
        return sum(size for _, size in self.directory.sizes(self.manifest))

    def _dump_base(self, path: str, rdb_format: bool) -> None:
        functions = self.server.functions.codes()
        if rdb_format:
            dump_keyspace(path, self.server.keyspace, functions)
        else:
            dump_commands(path, self.server.keyspace, functions)


def dump_commands(path: str, keyspace: Keyspace, functions: Iterable[bytes] = ()) -> None:
    """The dataset as commands that rebuild it (aof-use-rdb-preamble no): a FUNCTION LOAD per
    function library first (rewriteFunctions), then a SELECT per database, up to 64 items per
    command (streams: one XADD per entry, then their groups, see _stream_commands), deadlines
    as PEXPIREAT (rewriteAppendOnlyFileRio)."""
    with open(path, "wb") as f:
        out = [encode_command([b"FUNCTION", b"LOAD", code]) for code in functions]
        for db in keyspace.dbs:
            if not db.size():
                continue
            out.append(select_command(db.index))
            for shard in db.shards:
                deadline_of = shard.expires.get
                for key, value in shard.data.items():
                    kind = type(value)
                    if kind is bytes:
                        out.append(encode_command([b"SET", key, value]))
                    elif kind is List:
                        _batched(out, b"RPUSH", key,
                                 [item[item.index(b"\n") + 1 : -2] for item in value])
                    elif kind is Hash:
                        _batched(out, b"HMSET", key, [x for pair in value.items() for x in pair],
                                 2)
                    elif kind is Set:
                        _batched(out, b"SADD", key, list(value.members))
                    elif kind is ZSet:
                        _batched(out, b"ZADD", key, [x for score, member in value.ordered
                                                     for x in (format_double(score), member)], 2)
                    elif kind is Stream:
                        for command in _stream_commands(key, value):
                            out.append(command)
                            if len(out) >= 1024:
                                f.write(b"".join(out))
                                out.clear()
                    deadline = deadline_of(key)
                    if deadline is not None:
                        out.append(encode_command([b"PEXPIREAT", key, b"%d" % deadline]))
                    if len(out) >= 1024:
                        f.write(b"".join(out))
                        out.clear()
        f.write(b"".join(out))
        f.flush()
        os.fsync(f.fileno())


def _stream_commands(key: bytes, stream: Stream) -> Iterator[bytes]:
    """rewriteStreamObject: an XADD per entry (for an empty stream, XADD MAXLEN 0 of a dummy
    entry 0-1), XSETID with the counters, then per group XGROUP CREATE ... ENTRIESREAD, and per
    consumer an XCLAIM ... FORCE per pending entry (XGROUP CREATECONSUMER when it has none)."""
    if stream.length:
        for entry_id, flat in stream.items():
            yield encode_command([b"XADD", key, format_id(entry_id), *flat])
    else:
        yield encode_command([b"XADD", key, b"MAXLEN", b"0", b"0-1", b"x", b"y"])
    yield encode_command([b"XSETID", key, format_id(stream.last_id), b"ENTRIESADDED",
                          b"%d" % stream.entries_added, b"MAXDELETEDID",
                          format_id(stream.max_deleted_id)])
    for name, group in stream.groups.items():
        yield encode_command([b"XGROUP", b"CREATE", key, name, format_id(group.last_id),
                              b"ENTRIESREAD", b"%d" % group.entries_read])
        for consumer_name, consumer in group.consumers.items():
            if not consumer.pel:
                yield encode_command([b"XGROUP", b"CREATECONSUMER", key, name, consumer_name])
            for entry_id, nack in consumer.pel.items():
                yield encode_command([
                    b"XCLAIM", key, name, consumer_name, b"0", format_id(entry_id), b"TIME",
                    b"%d" % nack.delivery_time, b"RETRYCOUNT", b"%d" % nack.delivery_count,
                    b"JUSTID", b"FORCE"])


def _batched(out: list[bytes], name: bytes, key: bytes, items: list[bytes], width: int = 1) -> None:
    step = ITEMS_PER_COMMAND * width
    for start in range(0, len(items), step):
        out.append(encode_command([name, key, *items[start : start + step]]))
