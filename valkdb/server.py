"""Server: listeners, the client registry, maxclients, the cron greenlet, and shutdown.

One gevent StreamServer per bind address spawns a greenlet per connection running
Client.serve. The cron greenlet (every second) closes idle clients past `timeout`. Shutdown is
explicit: stop accepting, let every client finish the batch it is running, close the rest, and
return the exit status to the launcher within shutdown-timeout.
"""

from __future__ import annotations

import logging
import os
import socket
import time
from typing import Any

import gevent
from gevent.event import Event
from gevent.server import StreamServer

import valkdb.commands  # noqa: F401  (registers every command family)
from valkdb import errors
from valkdb.blocking import Blocking
from valkdb.config import Config
from valkdb.connection import Client
from valkdb.pubsub import PubSub
from valkdb.store.expiry import ActiveExpiry
from valkdb.store.keyspace import Keyspace


class Server:
    def __init__(self, config: Config, log: logging.Logger | None = None) -> None:
        self.config = config
        self.log = log or logging.getLogger("valkdb")
        self.expiry = ActiveExpiry(config)
        self.keyspace = Keyspace(
            config.databases, config.keyspace_shards, self.expiry.note_deadline)
        self.expiry.keyspace = self.keyspace
        self.pubsub = PubSub()
        self.blocking = Blocking()
        self.clients: dict[int, Client] = {}
        self.listeners: list[StreamServer] = []
        self.started = time.time()
        self.dirty = 0  # writes since the last save (INFO rdb_changes_since_last_save)
        self.last_save = int(time.time())
        self.stats: dict[str, int] = dict.fromkeys((
            "total_connections_received", "total_commands_processed", "rejected_connections",
            "keyspace_hits", "keyspace_misses"), 0)
        self.shutting_down = False
        self.exit_status: int | None = None
        self._stopped = Event()
        self._background: list[gevent.Greenlet] = []

    # -- start and run -------------------------------------------------------------------------

    def start(self) -> None:
        """Bind every address and start accepting; raises OSError if a required bind fails."""
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
        self._background = [gevent.spawn(self.expiry.run), gevent.spawn(self._cron)]

    def serve_forever(self) -> int:
        """Start, then block until shutdown; return the process exit status."""
        self.start()
        self._stopped.wait()
        return self.exit_status or 0

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

    def _cron(self) -> None:
        while True:
            gevent.sleep(1)
            timeout = self.config.timeout
            if timeout:
                deadline = time.monotonic() - timeout
                for client in list(self.clients.values()):
                    if (client.idle and client.last_active < deadline and client.waiter is None
                            and not (client.channels or client.patterns)):
                        self.log.debug("Closing idle client")
                        client.kill()

    # -- shutdown ------------------------------------------------------------------------------

    def shutdown(self, reason: str, status: int = 0) -> None:
        """Graceful stop: no new clients, batches in flight finish, then every client closes."""
        if self.shutting_down:
            return
        self.shutting_down = True
        self.log.warning("%s", reason)
        self.stop_listening()
        busy = []
        for client in list(self.clients.values()):
            if client.idle or client.greenlet is gevent.getcurrent():
                client.kill()
            elif client.greenlet is not None:
                busy.append(client.greenlet)
        if busy:
            gevent.joinall(busy, timeout=self.config.shutdown_timeout)
            for client in list(self.clients.values()):
                client.kill()
        for greenlet in self._background:
            greenlet.kill(block=False)
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
