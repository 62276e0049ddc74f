"""DEBUG and MODULE: what a byte-for-byte comparison cannot show (tests/compat has those).

Where Redis would end the process (SEGFAULT, PANIC, ASSERT, OOM, RESTART, a conflicting key in
DEBUG RELOAD NOFLUSH, DEBUG LOADAOF without an AOF) valkdb answers an error and keeps serving;
the rest is compared with a real redis-server: loading the AOF back, reloading without a file,
and `local` refusing a client whose address is another loopback address than 127.0.0.1.
"""

from __future__ import annotations

import socket

import pytest
import redis

from tests.compat.resp import RawConnection
from tests.support import start_redis, start_valkdb


@pytest.fixture(scope="module")
def server():
    process = start_valkdb("--enable-debug-command", "yes", "--enable-module-command", "yes")
    yield process
    process.stop()


@pytest.fixture
def v(server):
    client = redis.Redis(port=server.port, socket_timeout=10)
    client.flushall()
    yield client
    client.close()


@pytest.mark.parametrize("sub", ["SEGFAULT", "panic", "ASSERT", "OOM", "RESTART",
                                 "CRASH-AND-RECOVER"])
def test_crashing_subcommands_refused_and_server_lives(v, sub):
    v.set("k", "v")
    with pytest.raises(redis.ResponseError):
        v.execute_command("DEBUG", sub)
    assert v.ping() and v.get("k") == b"v"


def test_reload_noflush_conflict_answers_an_error(v):
    v.set("k", "v")
    v.execute_command("DEBUG", "RELOAD")
    with pytest.raises(redis.ResponseError, match="Error trying to load the RDB dump"):
        v.execute_command("DEBUG", "RELOAD", "NOSAVE", "NOFLUSH")
    assert v.get("k") == b"v" and v.ping()


def test_loadaof_without_aof_keeps_the_data(v):
    v.set("k", "v")
    with pytest.raises(redis.ResponseError, match="append only file"):
        v.execute_command("DEBUG", "LOADAOF")
    assert v.get("k") == b"v"


def test_reload_nosave_without_file_like_redis():
    ours, theirs = start_valkdb("--enable-debug-command", "yes"), start_redis(
        "--enable-debug-command", "yes")
    try:
        replies = []
        for process in (ours, theirs):
            conn = RawConnection(process.port)
            conn.call(b"SET", b"k", b"v")
            replies.append((conn.call(b"DEBUG", b"RELOAD", b"NOSAVE"), conn.call(b"DBSIZE")))
            conn.close()
        assert replies[0] == replies[1]
    finally:
        ours.stop()
        theirs.stop()


def test_loadaof_like_redis():
    options = ("--enable-debug-command", "yes", "--appendonly", "yes")
    ours, theirs = start_valkdb(*options), start_redis(*options)
    try:
        digests = []
        for process in (ours, theirs):
            conn = RawConnection(process.port)
            conn.call(b"RPUSH", b"l", b"a", b"b")
            conn.call(b"HSET", b"h", b"f", b"v")
            conn.call(b"SET", b"s", b"x", b"EX", b"1000")
            before = conn.call(b"DEBUG", b"DIGEST")
            assert conn.call(b"DEBUG", b"LOADAOF") == b"+OK\r\n"
            after = conn.call(b"DEBUG", b"DIGEST")
            assert before == after
            digests.append(after)
            conn.close()
        assert digests[0] == digests[1]
    finally:
        ours.stop()
        theirs.stop()


def _from_other_loopback(port: int, *args: bytes) -> bytes:
    sock = socket.socket()
    sock.bind(("127.0.0.2", 0))
    sock.connect(("127.0.0.1", port))
    conn = RawConnection.__new__(RawConnection)
    conn.sock, conn.stream = sock, sock.makefile("rb")
    try:
        return conn.call(*args)
    finally:
        conn.close()


def test_local_means_127_0_0_1_only():
    """islocalClient compares the peer address with 127.0.0.1 and ::1 exactly."""
    options = ("--enable-debug-command", "local",
               "--enable-module-command", "local", "--protected-mode", "no")
    ours, theirs = start_valkdb(*options), start_redis(*options)
    try:
        for args in ((b"DEBUG", b"DIGEST"), (b"MODULE", b"UNLOAD", b"x"), (b"MODULE", b"LIST")):
            mine, reference = (_from_other_loopback(p.port, *args) for p in (ours, theirs))
            assert mine == reference, (args, mine, reference)
            local = [RawConnection(p.port) for p in (ours, theirs)]
            assert local[0].call(*args) == local[1].call(*args)
            for conn in local:
                conn.close()
    finally:
        ours.stop()
        theirs.stop()


def test_debug_in_multi_runs_at_exec(v):
    pipe = v.pipeline()
    pipe.execute_command("DEBUG", "SET-ACTIVE-EXPIRE", "1")
    pipe.execute_command("DEBUG", "DIGEST")
    assert pipe.execute() == [b"OK", b"0" * 40]


def test_populate_many_keys(v):
    v.execute_command("DEBUG", "POPULATE", "200000")
    assert v.dbsize() == 200000
    assert v.get("key:199999") == b"value:199999"
