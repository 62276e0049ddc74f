"""Client: one greenlet per connection.

The hot path is `serve`: recv a large chunk, parse every complete command in it, run them all,
send all their replies with one sendall (pipelining for free). Replies are bytes built by the
handlers; nothing on this path logs, allocates per-command objects or raises on success.

Output from other greenlets (pub/sub messages) is queued in `_out` and flushed by whichever
greenlet is not already sending, so replies and messages keep their order and a publisher never
waits on a slow subscriber. A subscriber whose queued output passes its class's
client-output-buffer-limit is disconnected.

With the AOF on, replies whose commands are not in the AOF yet are held (`_held`, tagged with
the AOF's flush round) until that round has written them (and fsynced, with appendfsync always):
everything sent to the client after them is held too, so the order stays.
"""

from __future__ import annotations

import itertools
import socket
import time
from typing import TYPE_CHECKING, Any

import gevent

from valkdb import errors
from valkdb.core.context import REPLY_ON, REPLY_SKIP, REPLY_SKIP_NEXT, Context
from valkdb.core.dispatch import CrossProtocolAttack, execute
from valkdb.core.monitors import send_unsent, stop_monitoring
from valkdb.protocol.reader import QueryBufferOverflow, RequestReader

if TYPE_CHECKING:
    from valkdb.server import Server

RECV_SIZE = 64 * 1024
# What CLIENT LIST's tot-mem counts besides the buffers, modelled on Redis 7.0: the client
# structure (768 bytes) and its 16 KB reply buffer (rbs).
_CLIENT_BASE_MEMORY = 768 + 16384
# The clients with output from elsewhere queued (Client._send_or_queue), in the order it came.
_QUEUED: list[Client] = []


def _send_queued() -> None:
    clients = _QUEUED[:]
    _QUEUED.clear()
    for client in clients:
        client._flush_queued()


_SUBSCRIPTION_COMMANDS = frozenset((
    "subscribe", "unsubscribe", "psubscribe", "punsubscribe", "ssubscribe", "sunsubscribe"))
_client_ids = itertools.count(1)


class Client(Context):
    """A connection's Context: what it runs commands in, plus its socket and output."""

    def __init__(self, server: Server, sock: socket.socket, address: Any) -> None:
        super().__init__(server)
        self.sock = sock
        self.id = next(_client_ids)
        self.addr = _format_address(address)
        self.laddr = _format_address(sock.getsockname())
        self.name = b""
        self.lib_name = b""
        self.lib_ver = b""
        config = server.config
        self.reader = RequestReader(config.proto_max_bulk_len, config.client_query_buffer_limit)
        self.authenticated = not config.requirepass
        self.reader.authenticated = self.authenticated
        self.created = time.time()
        self.last_active = time.monotonic()
        self.idle = False  # blocked in recv (or in a blocking command) with nothing in flight
        self.closed = False
        self._waiter: Any = None
        self.after_reply: list[bytes] = []  # MONITOR lines of its own commands (a monitor)
        self._waited = (0, 0)  # (start, end) of the last wait of a blocking command, ns
        self.greenlet: gevent.Greenlet | None = None
        self._out: list[bytes] = []
        self._batch_replies: list[bytes] = []  # replies of the batch being run, not yet sent
        self._out_size = 0
        self._held: list[tuple[int, bytes]] = []  # (AOF flush round, data) waiting for it
        self._sending = False
        self._flush_due = False  # _flush_queued is scheduled
        self._soft_limit_since = 0.0
        self.reply_mode = REPLY_ON  # CLIENT REPLY

    # -- the request loop -----------------------------------------------------------------------

    def serve(self) -> None:
        """Run until the peer closes, a protocol error, QUIT, CLIENT KILL or shutdown."""
        # gevent's sock.recv tries the syscall first and, on EAGAIN (the usual case for a client
        # waiting for its reply), raises and catches an exception before waiting: waiting for
        # readability first and then reading the raw socket saves both on every request.
        raw = self.sock._sock  # type: ignore[attr-defined]
        wait = self.sock._wait  # type: ignore[attr-defined]
        readable = self.sock._read_event  # type: ignore[attr-defined]
        reader = self.reader
        server = self.server
        monitoring = server.monitoring
        clock = time.monotonic_ns
        more_pending = False  # the last recv filled the buffer: more is probably waiting
        try:
            while not self.close_after_reply:
                if not more_pending:
                    self.idle = True
                    wait(readable)
                    self.idle = False
                try:
                    data = raw.recv(RECV_SIZE)
                except BlockingIOError:
                    more_pending = False
                    continue
                if not data:
                    break
                more_pending = len(data) == RECV_SIZE
                self.last_active = time.monotonic()
                reader.feed(data)
                commands = reader.read()
                if monitoring.unsent and self in monitoring.monitors:
                    send_unsent(monitoring)  # what others ran before, ahead of its replies
                monitoring.clock = clock()  # where the first command's duration starts
                if len(commands) == 1 and reader.authenticated:
                    reply = execute(self, commands[0])
                    if self.reply_mode:
                        reply = self._suppressed(reply)
                    if self.after_reply:
                        reply += b"".join(self.after_reply)
                        self.after_reply.clear()
                else:
                    replies = self._batch_replies  # emptied after each batch
                    while commands:
                        read_limited = not reader.authenticated
                        for argv in commands:
                            reply = execute(self, argv)
                            if self.reply_mode:
                                reply = self._suppressed(reply)
                            replies.append(reply)
                            if self.close_after_reply:
                                break
                            if self.after_reply:
                                replies += self.after_reply
                                self.after_reply.clear()
                        # Before AUTH the reader hands out one command at a time, so that the
                        # ones after a successful AUTH are read with the normal limits.
                        if not read_limited or self.close_after_reply:
                            break
                        commands = reader.read()
                        monitoring.clock = clock()
                    reply = b"".join(replies)
                    replies.clear()
                if reader.error is not None and not self.close_after_reply:
                    # (after QUIT Redis reads no further: what follows it is never parsed)
                    reply += errors.protocol(reader.error)
                    server.monitoring.error(errors.protocol(reader.error))
                    self.close_after_reply = True
                    server.log.debug("Protocol error (%s) from client: %s",
                                     reader.error.decode("latin-1"), self.describe())
                if reply:
                    self.reply(reply)
                if server.shutting_down:
                    break
        except QueryBufferOverflow:
            server.log.warning("Closing client that reached max query buffer length: %s",
                               self.describe())
        except CrossProtocolAttack:
            server.log.warning(
                "Possible SECURITY ATTACK detected. It looks like somebody is sending POST or "
                "Host: commands to Redis. This is likely due to an attacker attempting to use "
                "Cross Protocol Scripting to compromise your Redis instance. Connection aborted.")
        except (OSError, gevent.GreenletExit):
            pass
        finally:
            if self._held and not self.closed:
                self._send_held()
            self.close()

    def _send_held(self) -> None:
        """Closing (QUIT, a protocol error, shutdown): the replies that wait for the AOF go
        out first, once it has what they acknowledge."""
        aof = self.server.aof_files
        aof.forget(self)
        aof.flush_round()
        data = b"".join([part for _, part in self._held])
        self._held.clear()
        try:
            self.write(data)
        except OSError:
            pass

    @property
    def waiter(self) -> Any:
        """The blocking.Waiter while a blocking command waits."""
        return self._waiter

    @waiter.setter
    def waiter(self, waiter: Any) -> None:
        now = time.monotonic_ns()
        self._waited = (now, 0) if waiter is not None else (self._waited[0], now)
        self._waiter = waiter

    def waited_ns_since(self, start: int) -> int:
        """How long the last blocking command waited, if it began waiting after start (its
        duration does not count the wait, as in Redis)."""
        began, ended = self._waited
        return ended - began if began >= start and ended else 0

    # -- output ------------------------------------------------------------------------------

    def flush_batch(self) -> None:
        """A blocking command is about to wait: send the replies of the commands before it in
        this batch now, as Redis does."""
        if self._batch_replies:
            data = b"".join(self._batch_replies)
            self._batch_replies.clear()
            self.reply(data)

    def reply(self, data: bytes) -> None:
        """Send replies of commands this client ran: after their effects are in the AOF."""
        if not self._held_for_aof(data):
            self.write(data)

    def _held_for_aof(self, data: bytes) -> bool:
        """Hold data for the AOF's next flush round when what it acknowledges is not there."""
        aof = self.server.aof
        if aof is None or not aof.unflushed():
            return False
        aof.hold(self, data)
        return True

    def hold(self, round_: int, data: bytes) -> None:
        self._held.append((round_, data))

    def release(self, round_: int) -> None:
        """The AOF flush round `round_` is done: send what waited for it (or earlier ones)."""
        held = self._held
        count = 0
        while count < len(held) and held[count][0] <= round_:
            count += 1
        if count:
            data = b"".join([part for _, part in held[:count]])
            del held[:count]
            self._send_or_queue(data, None)

    def write(self, data: bytes) -> None:
        """Send a reply from this client's own greenlet, after anything already queued."""
        if _QUEUED:
            _send_queued()  # what its commands caused elsewhere first
        if self._held:  # after replies that wait for the AOF
            self.server.aof_files.hold(self, data)
            return
        if self._sending or self._out:
            self._out.append(data)
            self._out_size += len(data)
            if not self._sending:
                self._flush()
            return
        self._sending = True
        try:
            try:
                sent = self.sock._sock.send(data)  # type: ignore[attr-defined]
            except BlockingIOError:
                sent = 0
            if sent < len(data):  # the peer is slow: let gevent wait for it
                self.sock.sendall(memoryview(data)[sent:])
        finally:
            self._sending = False
        if self._out:
            self._flush()

    def deliver(self, data: bytes, limit_class: str | None = None) -> None:
        """Send from another greenlet (a pub/sub message, a blocked client's reply) without
        ever waiting: what the socket does not take at once is queued for a flushing greenlet,
        and past its class's client-output-buffer-limit the client is disconnected."""
        if self._held:  # after replies that wait for the AOF
            self.server.aof_files.hold(self, data)
            return
        if self._batch_replies and gevent.getcurrent() is self.greenlet:
            # A message to oneself (RESP3) goes after the replies of the batch's earlier
            # commands, as Redis appends it to the output buffer.
            self._batch_replies.append(data)
            return
        self._send_or_queue(data, limit_class)

    def deliver_served(self, data: bytes) -> None:
        """The reply of this blocked client, served by another client's command: like that
        command's own reply, it waits until the command is in the AOF."""
        if self.reply_mode:
            data = self._suppressed(data)
            if not data:
                return
        if not self._held_for_aof(data):
            self.deliver(data)

    def _suppressed(self, reply: bytes) -> bytes:
        """A command's reply under CLIENT REPLY OFF or SKIP. Pushes from elsewhere still go,
        and so do (un)subscribe confirmations: Redis sends them as pushes in either protocol."""
        mode = self.reply_mode
        if mode == REPLY_SKIP_NEXT:  # the reply of CLIENT REPLY SKIP itself
            self.reply_mode = REPLY_SKIP
            return reply
        if mode == REPLY_SKIP:
            self.reply_mode = REPLY_ON
        return reply if self.last_command in _SUBSCRIPTION_COMMANDS else b""

    def _send_or_queue(self, data: bytes, limit_class: str | None) -> None:
        """Queue output from elsewhere; it goes out, together with whatever else arrives
        before then, ahead of the next reply any client sends or else once the running
        greenlet yields (Redis too writes pending output before its event loop sleeps): a
        client that sees the reply of a PUBLISH, a write or a flush may count on the messages
        it caused being on their way, and a client fed from the hub (MONITOR lines, BCAST
        invalidations) gets one send per loop turn."""
        if self.closed:
            return
        self._out.append(data)
        self._out_size += len(data)
        if limit_class is not None:
            hard, soft, seconds = self.server.config.client_output_buffer_limit[limit_class]
            if hard and self._out_size > hard or self._soft_limit_exceeded(soft, seconds):
                self.server.log.warning(
                    "Client %s scheduled to be closed ASAP for overcoming of output buffer "
                    "limits.", self.describe())
                self.kill()
                return
        if not self._sending and not self._flush_due:
            self._flush_due = True
            if not _QUEUED:
                gevent.get_hub().loop.run_callback(_send_queued)
            _QUEUED.append(self)

    def _flush_queued(self) -> None:
        """Send what is queued without waiting; a flushing greenlet takes what the socket
        does not."""
        self._flush_due = False
        if self._sending or not self._out or self.closed:
            return
        data = b"".join(self._out) if len(self._out) > 1 else self._out[0]
        try:
            sent = self.sock._sock.send(data)  # type: ignore[attr-defined]
        except BlockingIOError:
            sent = 0
        except OSError:
            self.kill()
            return
        if sent == len(data):
            self._out.clear()
            self._out_size = 0
            return
        self._out = [data[sent:]]
        self._out_size = len(data) - sent
        self._sending = True  # claimed now so that only one flusher is ever spawned
        gevent.spawn(self._flush, True)

    def _soft_limit_exceeded(self, soft: int, seconds: int) -> bool:
        if not soft or self._out_size <= soft:
            self._soft_limit_since = 0.0
            return False
        now = time.monotonic()
        if not self._soft_limit_since:
            self._soft_limit_since = now
        return now - self._soft_limit_since > seconds

    def _flush(self, claimed: bool = False) -> None:
        if self._sending and not claimed:
            return
        self._sending = True
        try:
            while self._out:
                data = b"".join(self._out)
                self._out = []
                self._out_size = 0
                self.sock.sendall(data)
        except OSError:
            self.kill()
        finally:
            self._sending = False

    def output_size(self) -> int:
        return self._out_size

    # -- lifecycle -----------------------------------------------------------------------------

    def kill(self) -> None:
        """Close this client from another greenlet (CLIENT KILL, limits, timeout, shutdown)."""
        if self.closed:
            return
        if self.greenlet is not None and self.greenlet is not gevent.getcurrent():
            self.greenlet.kill(block=False)
        else:
            self.close_after_reply = True

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        self.server.tracking.disable(self)
        self.server.pubsub.unsubscribe_all(self)
        if self in self.server.monitoring.monitors:
            stop_monitoring(self)
        self.unwatch()
        self.server.clients.pop(self.id, None)
        try:
            self.sock.close()
        except OSError:
            pass

    def describe(self, argv: list[bytes] | None = None) -> str:
        """One CLIENT LIST line (without the trailing newline); argv: the command running,
        when the client describes itself."""
        now = time.monotonic()
        subscribed = self.channels or self.patterns or self.shard_channels
        tracking = self.tracking
        flags = "".join(flag for flag, on in (
            ("O", self in self.server.monitoring.monitors), ("P", subscribed),
            ("x", self.multi is not None), ("b", self.waiter is not None or self.postponed),
            ("t", tracking is not None), ("R", tracking is not None and tracking.broken),
            ("B", tracking is not None and tracking.bcast), ("d", self.dirty_cas),
            ("c", self.close_after_reply), ("e", self.no_evict)) if on) or "N"
        # Redis's sums: argument bytes, plus a pointer per argument for queued commands.
        argv_mem = sum(map(len, argv)) if argv else 0
        multi_mem = sum(sum(map(len, args)) + 8 * len(args) for _, args in self.multi or ())
        qbuf = self.reader.pending()
        tot_mem = (_CLIENT_BASE_MEMORY + qbuf + self._out_size + argv_mem
                   + 8 * len(argv or ()) + multi_mem)
        return (
            f"id={self.id} addr={self.addr} laddr={self.laddr} fd={self.sock.fileno()} "
            f"name={self.name.decode('utf-8', 'replace')} "
            f"age={int(time.time() - self.created)} idle={int(now - self.last_active)} "
            f"flags={flags} db={self.db.index} sub={len(self.channels)} psub={len(self.patterns)} "
            f"ssub={len(self.shard_channels)} "
            f"multi={-1 if self.multi is None else len(self.multi)} "
            f"qbuf={qbuf} qbuf-free=0 argv-mem={argv_mem} multi-mem={multi_mem} rbs={RECV_SIZE} "
            f"rbp=0 obl=0 oll={len(self._out)} omem={self._out_size} tot-mem={tot_mem} events=r "
            f"cmd={self.last_command} user=default "
            f"redir={-1 if tracking is None else tracking.redirect} resp={self.resp.version} "
            f"lib-name={self.lib_name.decode('utf-8', 'replace')} "
            f"lib-ver={self.lib_ver.decode('utf-8', 'replace')}"
        )


def _format_address(address: Any) -> str:
    if isinstance(address, tuple):
        host, port = address[0], address[1]
        return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    return str(address)
