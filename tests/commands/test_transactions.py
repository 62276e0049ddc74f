"""Transactions over time: what a step-by-step differential script cannot show.

EXEC must run with no other client interleaved, optimistic locking with WATCH must hold when
clients really race, a WATCHed key that expires dooms the transaction, a client that leaves
mid-transaction leaves nothing behind, and blocking commands interact with EXEC as in Redis
(no blocking inside it; keys it fills are served after it). Every test runs the same steps on
valkdb and on the real redis-server and compares what each client saw.
"""

from __future__ import annotations

import select
import threading
import time

import pytest

from tests.compat.resp import RawConnection, elements, encode_command, read_reply


@pytest.fixture
def ports(valkdb_server, redis_server):
    """(valkdb port, redis-server port), both flushed."""
    pair = (valkdb_server.port, redis_server.port)
    for port in pair:
        conn = RawConnection(port)
        assert conn.call(b"FLUSHALL") == b"+OK\r\n"
        conn.close()
    return pair


def both(ports, scenario):  # type: ignore[no-untyped-def]
    """Run scenario(port) against each server; (valkdb's result, redis-server's result)."""
    return tuple(scenario(port) for port in ports)


def has_reply(conn: RawConnection, wait: float) -> bool:
    """Whether the server sent anything within `wait` seconds, on a connection nothing has
    been read from yet (so no reply can be sitting in its read buffer)."""
    readable, _, _ = select.select([conn.sock], [], [], wait)
    return bool(readable)


def send(conn: RawConnection, *args: bytes) -> None:
    conn.sock.sendall(encode_command(args))


def info_field(conn: RawConnection, section: bytes, field: bytes) -> bytes:
    text = conn.call(b"INFO", section)
    for line in text.split(b"\r\n"):
        if line.startswith(field + b":"):
            return line.split(b":", 1)[1]
    raise AssertionError(f"no {field!r} in INFO {section!r}")


def wait_blocked(conn: RawConnection, count: int, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if int(info_field(conn, b"clients", b"blocked_clients")) == count:
            return
        time.sleep(0.01)
    raise AssertionError(f"blocked_clients never reached {count}")


# -- atomicity ------------------------------------------------------------------------------

INCRS = 10_000


def exec_seen_by_reader(port: int) -> tuple[bool, set[bytes | None], int]:
    """One client runs MULTI + 10,000 INCR + EXEC (pipelined) while another GETs the counter
    as fast as it can: (EXEC replied 1 .. 10,000, values the reader saw, how many reads)."""
    writer, reader = RawConnection(port, timeout=30), RawConnection(port)
    seen: set[bytes | None] = set()
    reads = 0
    stop = threading.Event()

    def read_loop() -> None:
        nonlocal reads
        deadline = time.monotonic() + 20
        while not stop.is_set() and time.monotonic() < deadline:
            reply = reader.call(b"GET", b"n")
            seen.add(None if reply == b"$-1\r\n" else reply.split(b"\r\n")[1])
            reads += 1

    thread = threading.Thread(target=read_loop)
    thread.start()
    try:
        payload = [encode_command((b"MULTI",))]
        payload += [encode_command((b"INCR", b"n"))] * INCRS
        payload.append(encode_command((b"EXEC",)))
        sender = threading.Thread(target=writer.sock.sendall, args=(b"".join(payload),))
        sender.start()
        replies = [read_reply(writer.stream) for _ in range(INCRS + 2)]
        sender.join()
        time.sleep(0.02)  # a few reads after EXEC too
    finally:
        stop.set()
        thread.join()
        writer.close()
        reader.close()
    assert replies[0] == b"+OK\r\n" and set(replies[1:-1]) == {b"+QUEUED\r\n"}
    return elements(replies[-1]) == [b":%d\r\n" % n for n in range(1, INCRS + 1)], seen, reads


def test_exec_runs_with_no_client_interleaved(ports):
    ours, theirs = both(ports, exec_seen_by_reader)
    for counted_in_order, seen, reads in (ours, theirs):
        assert counted_in_order
        assert reads > 1
        assert seen <= {None, b"%d" % INCRS}, sorted(v or b"" for v in seen)[:5]
        assert b"%d" % INCRS in seen


# -- WATCH under real races ---------------------------------------------------------------------

def optimistic_increments(port: int, workers: int = 4, each: int = 50) -> tuple[int, int]:
    """Several clients each add 1 to a counter `each` times with WATCH/GET/MULTI/SET/EXEC,
    retrying when EXEC aborts: (final counter, aborted EXECs)."""
    aborted = [0] * workers

    def work(index: int) -> None:
        conn = RawConnection(port)
        done = tries = 0
        while done < each and tries < each * 200:
            tries += 1
            conn.call(b"WATCH", b"counter")
            current = conn.call(b"GET", b"counter")
            value = 0 if current == b"$-1\r\n" else int(current.split(b"\r\n")[1])
            conn.call(b"MULTI")
            conn.call(b"SET", b"counter", b"%d" % (value + 1))
            if conn.call(b"EXEC") == b"*-1\r\n":
                aborted[index] += 1
            else:
                done += 1
        conn.close()

    threads = [threading.Thread(target=work, args=(i,)) for i in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    conn = RawConnection(port)
    final = int(conn.call(b"GET", b"counter").split(b"\r\n")[1])
    conn.close()
    return final, sum(aborted)


def test_watch_makes_racing_increments_exact(ports):
    for final, aborted in both(ports, optimistic_increments):
        assert final == 4 * 50
        assert aborted > 0  # the clients did race: some EXECs were refused


# -- expiry of a WATCHed key ----------------------------------------------------------------

def watch_expiring(port: int, read_after_expiry: bool, already_expired: bool) -> bytes:
    a, b = RawConnection(port), RawConnection(port)
    a.call(b"SET", b"k", b"v", b"PX", b"30")
    if already_expired:
        time.sleep(0.06)
    a.call(b"WATCH", b"k")
    time.sleep(0.06)
    if read_after_expiry:
        b.call(b"GET", b"k")
    a.call(b"MULTI")
    a.call(b"PING")
    reply = a.call(b"EXEC")
    a.close()
    b.close()
    return reply


@pytest.mark.parametrize("read_after_expiry", [False, True], ids=["untouched", "read"])
def test_watched_key_that_expires_aborts_exec(ports, read_after_expiry):
    ours, theirs = both(ports, lambda port: watch_expiring(port, read_after_expiry, False))
    assert ours == theirs == b"*-1\r\n"


def test_key_already_expired_when_watched_does_not_abort(ports):
    ours, theirs = both(ports, lambda port: watch_expiring(port, False, True))
    assert ours == theirs == b"*1\r\n+PONG\r\n"


# -- leaving mid-transaction ----------------------------------------------------------------

def disconnect_mid_transaction(port: int) -> tuple[bytes, bytes]:
    """A client WATCHes, queues a SET and disconnects; another then writes the WATCHed key and
    runs its own transaction. (GET of the queued key, the other client's EXEC)."""
    a, b = RawConnection(port), RawConnection(port)
    a.call(b"WATCH", b"w")
    a.call(b"MULTI")
    assert a.call(b"SET", b"queued", b"1") == b"+QUEUED\r\n"
    a.close()
    time.sleep(0.05)
    b.call(b"WATCH", b"w")
    b.call(b"SET", b"w", b"1")  # its own write: its own transaction must abort
    b.call(b"MULTI")
    b.call(b"PING")
    exec_reply = b.call(b"EXEC")
    queued = b.call(b"GET", b"queued")
    b.close()
    return queued, exec_reply


def test_disconnect_discards_the_transaction(ports):
    ours, theirs = both(ports, disconnect_mid_transaction)
    assert ours == theirs == (b"$-1\r\n", b"*-1\r\n")


# -- blocking commands and EXEC -------------------------------------------------------------

def needs_lists(ports) -> None:  # type: ignore[no-untyped-def]
    conn = RawConnection(ports[0])
    reply = conn.call(b"COMMAND", b"INFO", b"blpop")
    conn.close()
    if reply == b"*1\r\n$-1\r\n":
        pytest.skip("BLPOP is not implemented yet")


def blocked_client_and_exec(port: int) -> list[object]:
    """B blocks in BLPOP; A's transactions push and pop. What each one saw, in order."""
    a, b = RawConnection(port), RawConnection(port)
    seen: list[object] = []
    send(b, b"BLPOP", b"l", b"0")
    wait_blocked(a, 1)
    # A push and a pop in one transaction: the list is empty again when EXEC ends, so B,
    # served only after the whole transaction, stays blocked.
    a.call(b"MULTI")
    for args in ((b"LPUSH", b"l", b"x"), (b"LLEN", b"l"), (b"RPOP", b"l")):
        a.call(*args)
    seen.append(a.call(b"EXEC"))
    seen.append(has_reply(b, 0.2))
    # Pushes inside a transaction: B sees the list as EXEC left it, and LLEN inside EXEC still
    # counted every element (B was not served in between).
    a.call(b"MULTI")
    for args in ((b"RPUSH", b"l", b"a", b"b"), (b"LPUSH", b"l", b"c"), (b"LLEN", b"l")):
        a.call(*args)
    seen.append(a.call(b"EXEC"))
    seen.append(read_reply(b.stream))
    seen.append(a.call(b"LRANGE", b"l", b"0", b"-1"))
    # BLPOP inside MULTI on an empty list answers at once with a null.
    a.call(b"MULTI")
    a.call(b"BLPOP", b"empty", b"0")
    seen.append(a.call(b"EXEC"))
    a.close()
    b.close()
    return seen


def test_blocked_clients_are_served_after_exec(ports):
    needs_lists(ports)
    ours, theirs = both(ports, blocked_client_and_exec)
    assert ours == theirs
    assert theirs[1] is False
