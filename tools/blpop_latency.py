"""How soon a client blocked in BLPOP wakes after the LPUSH that feeds it, under load.

    python tools/blpop_latency.py                  # 5,000 busy clients, 10 s blocks, 3 rounds
    python tools/blpop_latency.py --clients 1000 --block 2 --rounds 5
    python tools/blpop_latency.py --command xreadgroup   # XREADGROUP ... BLOCK 0 fed by XADD

The bar: a client blocked in BLPOP for 10 s while 5,000 other clients run commands wakes
within 10 ms of the LPUSH that satisfies it. For valkdb and then a real redis-server (one at a
time, so they do not share the CPU): worker processes hold the clients, each of which keeps one
pipelined `PING` + `GET missing` in flight (a closed loop: the server is as busy as it can be);
one client blocks in `BLPOP` with timeout 0; after --block seconds another sends `LPUSH`. Both
replies are awaited with one select() in this process, and the tool prints, per round, the time
from the LPUSH reply to the BLPOP reply and from sending the LPUSH to the BLPOP reply, with the
commands per second the busy clients got meanwhile. Everything is bounded in time: the workers
stop when told or at a hard deadline, every socket has a timeout.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import resource
import select
import selectors
import socket
import statistics
import time
from dataclasses import dataclass

from common import encode, pair

BATCH = b"*1\r\n$4\r\nPING\r\n*2\r\n$3\r\nGET\r\n$12\r\nmissing:key0\r\n"
BATCH_REPLY_SIZE = len(b"+PONG\r\n$-1\r\n")


def raise_fd_limit() -> None:
    """Room for thousands of sockets (the servers, started from here, inherit it)."""
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def busy_clients(port: int, count: int, deadline: float, ready, stop, done) -> None:  # type: ignore[no-untyped-def]
    """In a worker process: open `count` connections, report ready, then keep one batch in
    flight on each until told to stop or the deadline passes. Puts (commands completed,
    seconds spent, connections lost) in done."""
    raise_fd_limit()
    socks = []
    try:
        for _ in range(count):
            sock = socket.create_connection(("127.0.0.1", port), timeout=30)
            sock.setblocking(False)
            socks.append(sock)
    finally:
        ready.put(len(socks))
    selector = selectors.DefaultSelector()
    pending = {}
    for sock in socks:
        selector.register(sock, selectors.EVENT_READ)
        sock.send(BATCH)
        pending[sock] = 0
    commands = lost = 0
    started = time.monotonic()
    while not stop.is_set() and time.monotonic() < deadline:
        for key, _ in selector.select(timeout=0.1):
            sock = key.fileobj
            try:
                data = sock.recv(65536)  # type: ignore[union-attr]
            except BlockingIOError:
                continue
            except OSError:
                data = b""
            if not data:
                selector.unregister(sock)
                lost += 1
                continue
            pending[sock] += len(data)
            while pending[sock] >= BATCH_REPLY_SIZE:
                pending[sock] -= BATCH_REPLY_SIZE
                commands += 2
                sock.send(BATCH)  # type: ignore[union-attr]
    seconds = time.monotonic() - started
    for sock in socks:
        sock.close()
    done.put((commands, seconds, lost))


@dataclass
class Round:
    after_reply: float  # LPUSH reply received -> BLPOP reply received, seconds
    after_send: float  # LPUSH sent -> BLPOP reply received


def blocked_clients(sock: socket.socket) -> int:
    """INFO clients' blocked_clients (a RESP2 bulk reply, read whole)."""
    sock.sendall(b"*2\r\n$4\r\nINFO\r\n$7\r\nclients\r\n")
    info = b""
    while b"\r\n" not in info or len(info) < _bulk_size(info):
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("closed")
        info += chunk
    return int(info.split(b"blocked_clients:")[1].split(b"\r\n")[0])


def _bulk_size(reply: bytes) -> int:
    header = reply.partition(b"\r\n")[0]
    return len(header) + 2 + int(header[1:]) + 2


@dataclass
class Wake:
    """What blocks, what feeds it, and the two replies (RESP2) that end a round."""
    setup: list[bytes]  # sent (one reply each, discarded) before the client blocks
    block: bytes
    feed: bytes
    woken: bytes
    fed: bytes


def wake(command: str, key: bytes) -> Wake:
    k = b"$%d\r\n%s\r\n" % (len(key), key)
    if command == "blpop":
        return Wake([], encode(b"BLPOP", key, b"0"), encode(b"LPUSH", key, b"x"),
                    b"*2\r\n" + k + b"$1\r\nx\r\n", b":1\r\n")
    return Wake([encode(b"XGROUP", b"CREATE", key, b"g", b"$", b"MKSTREAM")],
                encode(b"XREADGROUP", b"GROUP", b"g", b"c", b"BLOCK", b"0", b"STREAMS", key,
                       b">"),
                encode(b"XADD", key, b"1-1", b"f", b"v"),
                b"*1\r\n*2\r\n" + k + b"*1\r\n*2\r\n$3\r\n1-1\r\n*2\r\n$1\r\nf\r\n$1\r\nv\r\n",
                b"$3\r\n1-1\r\n")


def one_round(port: int, block_seconds: float, what: Wake) -> Round:
    with socket.create_connection(("127.0.0.1", port), timeout=block_seconds + 30) as blocker, \
            socket.create_connection(("127.0.0.1", port), timeout=30) as pusher:
        for command in what.setup:
            pusher.sendall(command)
            pusher.recv(65536)
        blocker.sendall(what.block)
        time.sleep(block_seconds)
        if blocked_clients(pusher) != 1:
            raise RuntimeError("the client is not blocked")
        sent = time.perf_counter()
        pusher.sendall(what.feed)
        times: dict[socket.socket, float] = {}
        replies = {blocker: b"", pusher: b""}
        expected = {blocker: what.woken, pusher: what.fed}
        give_up = time.monotonic() + 30
        while len(times) < 2 and time.monotonic() < give_up:
            readable, _, _ = select.select([s for s in replies if s not in times], [], [], 1.0)
            now = time.perf_counter()
            for sock in readable:
                replies[sock] += sock.recv(65536)
                if replies[sock] == expected[sock]:
                    times[sock] = now
        if len(times) < 2:
            raise RuntimeError(f"replies not received: {replies!r}")
    return Round(times[blocker] - times[pusher], times[blocker] - sent)


def measure(name: str, port: int, clients: int, workers: int, block_seconds: float,
            rounds: int, command: str) -> None:
    ready: multiprocessing.Queue = multiprocessing.Queue()
    done: multiprocessing.Queue = multiprocessing.Queue()
    stop = multiprocessing.Event()
    deadline = time.monotonic() + 120 + rounds * (block_seconds + 30)
    shares = [clients // workers + (1 if i < clients % workers else 0) for i in range(workers)]
    procs = [multiprocessing.Process(target=busy_clients,
                                     args=(port, share, deadline, ready, stop, done))
             for share in shares]
    for proc in procs:
        proc.start()
    try:
        connected = sum(ready.get(timeout=120) for _ in procs)
        if connected < clients:
            raise RuntimeError(f"only {connected} of {clients} clients could connect")
        results = [one_round(port, block_seconds, wake(command, b"%s:latency:%d" % (
            command.encode(), n))) for n in range(rounds)]
    finally:
        stop.set()
        totals = [done.get(timeout=60) for _ in procs]
        for proc in procs:
            proc.join(30)
            if proc.is_alive():
                proc.kill()
    rate = sum(commands / seconds for commands, seconds, _ in totals if seconds)
    lost = sum(t[2] for t in totals)
    after_reply = [r.after_reply * 1000 for r in results]
    after_send = [r.after_send * 1000 for r in results]
    blocked, fed = ("BLPOP", "LPUSH") if command == "blpop" else ("XREADGROUP", "XADD")
    print(f"{name:<13} {clients} busy clients ({rate:,.0f} commands/s, "
          f"{lost} lost), {rounds} x {blocked} blocked {block_seconds:g} s:")
    print(f"{'':<13} {fed} reply -> {blocked} reply ms: "
          + " ".join(f"{v:7.2f}" for v in after_reply)
          + f"  (worst {max(after_reply):.2f}, median {statistics.median(after_reply):.2f})")
    print(f"{'':<13} {fed} sent  -> {blocked} reply ms: "
          + " ".join(f"{v:7.2f}" for v in after_send)
          + f"  (worst {max(after_send):.2f}, median {statistics.median(after_send):.2f})",
          flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=5000, help="busy clients")
    parser.add_argument("--workers", type=int, default=min(4, os.cpu_count() or 1),
                        help="processes holding the busy clients")
    parser.add_argument("--block", type=float, default=10.0, help="seconds blocked in BLPOP")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--command", choices=("blpop", "xreadgroup"), default="blpop")
    args = parser.parse_args()
    raise_fd_limit()
    maxclients = str(args.clients + 100)
    valkdb, redis = pair(("--maxclients", maxclients), ("--maxclients", maxclients))
    try:
        for name, server in (("valkdb", valkdb), ("redis-server", redis)):
            measure(name, server.port, args.clients, args.workers, args.block, args.rounds,
                    args.command)
    finally:
        valkdb.stop()
        redis.stop()


if __name__ == "__main__":
    main()
