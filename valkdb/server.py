"""Server: listeners, the client registry, maxclients, the cron greenlets, persistence, shutdown.

One gevent StreamServer per bind address spawns a greenlet per connection running
Client.serve. The cron greenlet (every second) closes idle clients past `timeout`; the
persistence cron (hz times a second) reaps the save/rewrite child, starts saves and rewrites and
fsyncs the AOF. At start-up the dataset loads while the listeners already answer (-LOADING), as
Redis does. Shutdown is explicit: save first (a failed save cancels it, as in Redis), stop
accepting, let every client finish the batch it is running, close the rest, flush the AOF, and
return the exit status to the launcher within shutdown-timeout.
"""

from __future__ import annotations

import logging
import os
import socket
import time
from collections.abc import Callable
from functools import partial
from typing import Any

import gevent
from gevent.event import Event
from gevent.server import StreamServer

import valkdb.commands  # noqa: F401  (registers every command family)
import valkdb.commands.debug  # noqa: F401  (DEBUG)
import valkdb.commands.module  # noqa: F401  (MODULE)
import valkdb.scripting.eval  # noqa: F401  (EVAL, SCRIPT)
from valkdb import errors
from valkdb.commands.dump import DumpCodec
from valkdb.commands.introspection import tracked_keys
from valkdb.commands.monitoring import install_script_feeds  # MONITOR SLOWLOG LATENCY
from valkdb.commands.server import process_rss
from valkdb.config import Config
from valkdb.connection import Client
from valkdb.core import notifications
from valkdb.core.blocking import Blocking
from valkdb.core.context import Context
from valkdb.core.pause import ClientPause
from valkdb.core.propagation import Propagation
from valkdb.core.pubsub import PubSub
from valkdb.core.registry import Command
from valkdb.core.stats import Stats
from valkdb.core.tracking import Tracking
from valkdb.errors import AofError
from valkdb.persistence.appendlog import AppendLog
from valkdb.persistence.children import Child, Children
from valkdb.persistence.loading import LoadError, load_dataset
from valkdb.persistence.rdb import (
    RDBError,
    RDBReader,
    function_payload,
    function_payload_codes,
    payload_value,
    set_skip_checksum,
    value_payload,
)
from valkdb.persistence.snapshots import Snapshots, remove_file
from valkdb.scripting.functions import (  # FUNCTION, FCALL
    FunctionError,
    Functions,
    Libraries,
    PayloadCodec,
    may_write,
)
from valkdb.store.expiry import ActiveExpiry
from valkdb.store.keyspace import Database, Keyspace, now_ms


class Server:
    def __init__(self, config: Config, log: logging.Logger | None = None) -> None:
        self.config = config
        self.log = log or logging.getLogger("valkdb")
        self.expiry = ActiveExpiry(config)
        self.keyspace = Keyspace(
            config.databases, config.keyspace_shards, self.expiry.note_deadline)
        self.expiry.keyspace = self.keyspace
        self.configure_ageing()
        self.pubsub = PubSub()
        self.clients: dict[int, Client] = {}
        self.listeners: list[StreamServer] = []
        self.started = time.time()
        self.startup_rss = 0  # the process's size once it listens (INFO used_memory_startup)
        self.children = Children(self._inherited_sockets)
        self.rdb = Snapshots(self)
        self.aof_files = AppendLog(self)  # the AOF directory, its rewrites and its writer
        self.aof: AppendLog | None = None  # aof_files while appendonly is on (the hot path's test)
        # What commands change goes down the bus to its outputs (the AOF while it is on).
        self.propagation = Propagation()
        self.blocking = Blocking(self.propagation)
        self.keyspace.set_on_expired(self._expired)
        self.configure_notifications()
        self.keyspace.set_on_blocked_key_gone(self.blocking.ready)
        self.expiry.after_round = lambda: self.propagation.flush(transaction=False)
        # Nothing expires actively while a script runs or clients are paused.
        self.expiry.paused = lambda: self.busy_script is not None or self.pause.active
        self.tracking = Tracking(self, tracked_keys)  # CLIENT TRACKING's table
        self.pause = ClientPause(self, partial(may_write, self))  # CLIENT PAUSE
        # Set while some commands must be refused: loading, or writes after a disk error.
        self.gate: Callable[[Context, Command, list[bytes]], bytes | None] | None = None
        self.scripts: Any = None  # scripting.eval.ScriptCache, made on first use
        # The function libraries; FUNCTION DUMP / RESTORE's payload is persistence's format.
        self.functions = Functions(self, PayloadCodec(function_payload, function_payload_codes))
        self.dump_codec = DumpCodec(value_payload, payload_value)  # DUMP, RESTORE, MIGRATE
        self.skip_checksum_validation = set_skip_checksum  # DEBUG SET-SKIP-CHECKSUM-VALIDATION
        self.debug_settings: dict[str, Any] = {}  # what DEBUG's other switches set
        self.migrate_targets: dict = {}  # MIGRATE's cached connections, by host:port
        self.busy_script: Any = None  # the Lua engine of a script past busy-reply-threshold
        self.loading = False
        self.loading_progress: dict[str, float] = {}  # INFO persistence loading_* fields
        self.stats: dict[str, int] = dict.fromkeys((
            "total_connections_received", "total_commands_processed", "rejected_connections",
            "keyspace_hits", "keyspace_misses"), 0)
        # Command statistics, SLOWLOG, LATENCY, the MONITOR clients (fed by the dispatcher).
        self.monitoring = Stats(config)
        install_script_feeds()
        self.shutting_down = False
        self.exit_status: int | None = None
        self._stopped = Event()
        self._background: list[gevent.Greenlet] = []

    # -- start and run -------------------------------------------------------------------------

    def start(self) -> None:
        """Bind every address and start accepting; raises OSError if a required bind fails."""
        self.listen()
        self.startup_rss = process_rss()
        self._background = [gevent.spawn(self.expiry.run), gevent.spawn(self._cron),
                            gevent.spawn(self._ageing_clock)]

    def listen(self) -> None:
        """A listener per bind address; OSError (and none left open) if a required one fails."""
        for host, port, optional in self.config.listen_addresses():
            try:
                sock = _listen(host, port, self.config.tcp_backlog)
            except OSError as exc:
                if optional:
                    self.log.warning("Could not bind %s:%s (optional): %s", host, port, exc)
                    continue
                self.stop_listening()
                raise
            listener = StreamServer(sock, self._accept)
            listener.start()
            self.listeners.append(listener)
            self.log.info("Ready to accept connections tcp on %s", _format_host_port(sock))

    def relisten(self) -> None:
        """CONFIG SET port / bind: close the listeners, then listen as the config now says.

        Closing first, as Redis does, lets the new set reuse an address the old one held; on
        OSError nothing listens and the caller restores the old values and calls this again.
        Connected clients stay.
        """
        self.stop_listening()
        self.listen()

    def serve_forever(self) -> int:
        """Start, load the dataset, then block until shutdown; return the exit status."""
        self.start()
        loader = gevent.spawn(self._load)
        self._background.append(loader)
        self._stopped.wait()
        return self.exit_status or 0

    def _load(self) -> None:
        """Load the AOF or the RDB file while clients get -LOADING; a bad file ends the
        process with status 1, as in Redis."""
        self.loading = True
        self.keyspace.set_loading(True)
        self.update_gate()
        try:
            loaded = load_dataset(self)
        finally:
            self.loading = False
            self.keyspace.set_loading(False)
            self.update_gate()
        if not loaded:
            self.stop_listening()
            self.exit_status = 1
            self._stopped.set()
            return
        self.dirty = 0
        if self.config.appendonly:
            self.start_aof()
        self._background.append(gevent.spawn(self._persistence_cron))

    # -- persistence ---------------------------------------------------------------------------

    def _inherited_sockets(self) -> list[int]:
        """What a forked child closes first: it must not keep the port (closeListeningSockets),
        or, were this process killed, clients would connect to a child that never answers."""
        return [listener.socket.fileno() for listener in self.listeners]

    @property
    def dirty(self) -> int:
        """Changes since the last save (INFO rdb_changes_since_last_save, save points)."""
        return self.keyspace.changes.dirty

    @dirty.setter
    def dirty(self, value: int) -> None:
        self.keyspace.changes.dirty = value

    def start_aof(self) -> None:
        self.aof_files.open()
        self._aof_on()

    def _aof_on(self) -> None:
        self.aof = self.aof_files
        self.propagation.outputs.append(self.aof_files.feed)

    def _aof_off(self) -> None:
        self.aof = None
        self.propagation.outputs.remove(self.aof_files.feed)

    def appendonly_changed(self) -> None:
        """CONFIG SET appendonly: start logging (through a rewrite) or stop (startAppendOnly,
        stopAppendOnly). Raises OSError or AofError when the AOF cannot be turned on."""
        files = self.aof_files
        if self.config.appendonly and self.aof is None:
            files.enable()
            self._aof_on()
        elif not self.config.appendonly and self.aof is not None:
            child = self.stop_child("aof")
            if child is not None:
                self.log.warning("Killing running AOF rewrite child: %d", child.pid)
            files.close()
            self._aof_off()
            self.update_gate()

    def _expired(self, db: Database, key: bytes) -> None:
        notifications.expired_key(self, db, key)
        self._propagate_expired(db, key)

    def debug_reload(self, save: bool, flush: bool, merge: bool) -> bytes | None:
        """DEBUG RELOAD: save the RDB (unless NOSAVE), empty the dataset and the functions
        (unless NOFLUSH), load the file back; with MERGE its keys and libraries replace those
        already there. None when done, else the error reply. Where Redis would exit (a key
        already there without MERGE) valkdb answers the error, keeping what was loaded."""
        if save and not self.rdb.save():
            return errors.BARE_ERR
        dirty = self.dirty
        if flush:
            self._empty_data()
        try:
            with open(self.rdb.path, "rb") as f:
                self._merge_rdb(f, merge)
        except (OSError, RDBError, LoadError, FunctionError) as exc:
            self.log.warning("DEBUG RELOAD failed: %s", exc)
            return errors.err("ERR Error trying to load the RDB dump")
        finally:
            self.dirty = dirty
        self.log.warning("DB reloaded by DEBUG RELOAD")
        return None

    def _empty_data(self) -> None:
        for db in self.keyspace.dbs:
            for _ in db.clear_shards():
                pass
        self.tracking.flushed()
        self.functions.current = Libraries()

    def _merge_rdb(self, f: Any, merge: bool) -> None:
        reader = RDBReader(f, self.config)

        def load_library(code: bytes) -> None:
            self.functions.create(code, merge, timeout=0)

        reader.on_function = load_library
        now = now_ms()
        for db_index, key, value, deadline in reader.records():
            if db_index >= len(self.keyspace):
                raise LoadError("the file has more databases than this server")
            if deadline is not None and deadline < now:
                continue  # a master drops the keys past their deadline
            db = self.keyspace[db_index]
            if not merge and db.lookup(key) is not None:
                raise LoadError(f"Duplicated key '{key.decode(errors='replace')}'")
            db.store(key, value)
            if deadline is not None:
                db.set_deadline(key, deadline)

    def debug_loadaof(self) -> bytes | None:
        """DEBUG LOADAOF: flush the AOF, empty the dataset, replay the AOF (dirty stays 0).
        Redis exits when there is no AOF to load (appendonly off) or it is corrupt; valkdb
        answers an error instead, leaving the dataset alone in the first case."""
        if self.aof is None:
            return errors.err("ERR Error loading the append only file: appendonly is off")
        self.aof.flush_round()
        self._empty_data()
        loaded = load_dataset(self)
        self.dirty = 0
        if not loaded:
            return errors.err("ERR Error loading the append only file")
        self.log.warning("Append Only File loaded by DEBUG LOADAOF")
        return None

    def _propagate_expired(self, db: Database, key: bytes) -> None:
        """An expired key is deleted downstream too (a replay must not see it as live): with
        the command that found it expired, or in the active-expiry cycle's flush."""
        self.propagation.add(
            db.index, [b"UNLINK" if self.config.lazyfree_lazy_expire else b"DEL", key])

    def reset_snapshot(self) -> None:
        """After FLUSHALL (flushAllDataAndResetRDB): a running BGSAVE is stopped, and with save
        points configured the (now empty) dataset is saved at once."""
        self.stop_child("rdb")
        if self.config.save:
            self.rdb.save()

    def update_gate(self) -> None:
        failing = (self.loading or not self.rdb.last_bgsave_ok
                   or self.aof is not None and self.aof.write_error is not None
                   or self.busy_script is not None or self.pause.active
                   or self.tracking.over_limit())
        self.gate = self._gate if failing else None

    def _gate(self, ctx: Context, entry: Command, argv: list[bytes]) -> bytes | None:
        """Redis's processCommand, past its arity and authentication checks: a refusal, or
        (last) a wait while clients are paused; a command that waited is looked at again."""
        if self.tracking.over_limit():  # (Redis's trackingLimitUsedSlots)
            self.tracking.limit()
        while True:
            refusal = self._refusal(entry)
            if refusal is not None or not self.pause.holds(ctx, entry, argv):
                return refusal
            self.pause.wait(ctx, entry, argv)

    def _refusal(self, entry: Command) -> bytes | None:
        """-MISCONF for writes (and PING) after a disk error, -LOADING for the commands not
        flagged `loading` while the dataset loads, -BUSY while a script runs past
        busy-reply-threshold."""
        if entry.write or entry.name == "ping":
            if self.rdb.refuses_writes:
                return errors.MISCONF_RDB
            if self.aof is not None and self.aof.write_error is not None:
                return errors.misconf_aof(self.aof.write_error)
        if self.loading and "loading" not in entry.flags:
            return errors.LOADING
        if self.busy_script is not None:
            return self.busy_script.busy_refusal(entry)
        return None

    def _persistence_cron(self) -> None:
        while True:
            gevent.sleep(1 / max(self.config.hz, 1))
            if self.busy_script is None:  # a snapshot never sees half a script
                self.persistence_cron()

    def persistence_cron(self) -> None:
        """Reap a finished child, then start what is due: a BGSAVE, an AOF rewrite, fsync."""
        done = self.children.poll()
        if done is not None:
            child, code, by_signal = done
            handler = self.rdb if child.kind == "rdb" else self.aof_files
            handler.child_done(child.pid, child.started, code, by_signal)
        self.rdb.cron()
        files = self.aof_files
        if self.aof is not None:
            files.cron()
        if self.children.active is None and files.due_for_rewrite():
            if not files.rewrite_scheduled:
                self.log.info("Starting automatic rewriting of AOF on %d%% growth",
                              (files.size - files.base_size) * 100 // max(files.base_size, 1))
            files.rewrite_scheduled = False
            try:
                files.rewrite()
            except (OSError, AofError) as exc:
                self.log.warning("%s", exc)  # retried when next due

    @property
    def ports(self) -> list[int]:
        return [listener.server_port for listener in self.listeners]

    def _accept(self, sock: socket.socket, address: Any) -> None:
        if self.shutting_down:  # accepted just before the listener closed: no reply, as Redis
            sock.close()
            return
        self.stats["total_connections_received"] += 1
        if len(self.clients) >= self.config.maxclients:
            self.stats["rejected_connections"] += 1
            try:
                sock.sendall(errors.MAX_CLIENTS)
            except OSError:
                pass
            sock.close()
            return
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if self.config.tcp_keepalive:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
        client = Client(self, sock, address)
        client.greenlet = gevent.getcurrent()  # type: ignore[assignment]
        self.clients[client.id] = client
        client.serve()

    def configure_notifications(self) -> None:
        """The store reports new keys and read misses only while their classes are on, so
        creating a key costs nothing more when nobody listens."""
        flags = self.config.notify_keyspace_events
        self.keyspace.set_on_new(
            partial(notifications.new_key, self) if flags & notifications.NEW else None)
        self.keyspace.set_on_miss(
            partial(notifications.key_miss, self) if flags & notifications.KEY_MISS else None)

    def configure_ageing(self) -> None:
        """The maxmemory policy and LFU settings that decide what a key's access records."""
        config = self.config
        self.keyspace.configure_ageing(
            config.maxmemory_policy.endswith("lfu"), config.lfu_log_factor, config.lfu_decay_time)

    def _ageing_clock(self) -> None:
        while True:  # serverCron's server.lruclock update, hz times a second
            gevent.sleep(1 / max(self.config.hz, 1))
            self.keyspace.tick()

    def _cron(self) -> None:
        while True:
            gevent.sleep(1)
            timeout = self.config.timeout
            if timeout:
                deadline = time.monotonic() - timeout
                monitors = self.monitoring.monitors  # (Redis flags them replicas: spared)
                for client in list(self.clients.values()):
                    if (client.idle and client.last_active < deadline and client.waiter is None
                            and not (client.channels or client.patterns or client.shard_channels)
                            and client not in monitors):
                        self.log.debug("Closing idle client")
                        client.kill()

    # -- shutdown ------------------------------------------------------------------------------

    def prepare_shutdown(self, save: bool | None = None, force: bool = False) -> bool:
        """Redis's prepareForShutdown, before anything stops: stop a saving child, save the
        RDB when asked (save None: when save points are configured; never while loading).
        False when the save failed and not forced: the server keeps running."""
        if self.children.running("aof") and self.aof_files.waiting_rewrite:
            if not force:  # without that rewrite there is no complete AOF to restart from
                self.log.warning("Writing initial AOF, can't exit.")
                return False
            self.log.warning("Writing initial AOF. Exit anyway.")
        child = self.stop_child()
        if child is not None:
            self.log.warning("There is a child %s. Killing it!",
                             "saving an .rdb" if child.kind == "rdb" else "rewriting the AOF")
        if save is None:
            save = bool(self.config.save)
        if not save or self.loading:
            return True
        self.log.info("Saving the final RDB snapshot before exiting.")
        if self.rdb.save():
            return True
        if force:
            self.log.warning("Error trying to save the DB. Exit anyway.")
            return True
        self.log.warning("Error trying to save the DB, can't exit.")
        return False

    def stop_child(self, kind: str | None = None) -> Child | None:
        """Stop the save or rewrite child (only one of this kind, if given) and remove its
        temporary file; the child stopped, if any."""
        if kind is not None and not self.children.running(kind):
            return None
        child = self.children.kill()
        if child is not None:
            files = self.rdb if child.kind == "rdb" else self.aof_files
            remove_file(files.temp_path(child.pid))
        return child

    def shutdown(self, reason: str, status: int = 0, save: bool | None = None,
                 prepared: bool = False) -> None:
        """Graceful stop: save (unless the caller did), no new clients, batches in flight
        finish, every client closes, the AOF is flushed and fsynced."""
        if self.shutting_down:
            return
        self.log.warning("%s", reason)
        if not prepared and not self.prepare_shutdown(save):
            self.log.warning("SIGTERM received but errors trying to shut down the server, "
                             "check the logs for more information")  # Redis's words, also for INT
            return
        self.shutting_down = True
        saved_dirty = self.dirty
        loaded = not self.loading  # a dataset half loaded is never saved
        self.stop_listening()
        busy = []
        # A script past busy-reply-threshold never finishes its batch: its client is closed.
        script_caller = None if self.busy_script is None else self.busy_script.caller()
        for client in list(self.clients.values()):
            if client.idle or client.greenlet is gevent.getcurrent() or client is script_caller:
                client.kill()
            elif client.greenlet is not None:
                busy.append(client.greenlet)
        if busy:
            gevent.joinall(busy, timeout=self.config.shutdown_timeout)
            for client in list(self.clients.values()):
                client.kill()
        for greenlet in self._background:
            greenlet.kill(block=False)
        try:
            if loaded and self.dirty != saved_dirty and (
                    save or save is None and self.config.save):
                self.rdb.save()  # batches that were in flight wrote after the first save
            if self.aof is not None:
                self.aof.close()
        except Exception:  # the process must still end (and say so)
            self.log.exception("Error while flushing the data before exiting")
            status = 1
        self.remove_pidfile()
        self.log.warning("valkdb is now ready to exit, bye bye...")
        self.exit_status = status
        self._stopped.set()

    def stop_listening(self) -> None:
        for listener in self.listeners:
            listener.close()
        self.listeners = []

    def remove_pidfile(self) -> None:
        if self.config.pidfile:
            try:
                os.unlink(self.config.pidfile)
            except OSError:
                pass


def _listen(host: str, port: int, backlog: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if family == socket.AF_INET6:
        sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
    try:
        sock.bind((host, port))
        sock.listen(backlog)
    except OSError:
        sock.close()
        raise
    sock.setblocking(False)
    return sock


def _format_host_port(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
