"""Streams in RDB files and AOFs, both ways with a real redis-server 7.0.15.

stream_data.build() makes the streams on one server (consumer groups with PELs, consumers
without, tombstones at a node's start, middle and end, whole nodes deleted, trimmed streams, a
node left without live entries, a stream emptied by XDEL, a stream with only groups, IDs whose
deltas wrap, values of every listpack encoding, a deadline). The file it saves, or its AOF, is
loaded by the other server, and every reply that shows a stream's state is compared (XINFO
STREAM [FULL], XINFO GROUPS / CONSUMERS, XRANGE, XREVRANGE, XPENDING both forms); then the same
later writes run on both (where new nodes start, trims, reads) and are compared again.

An RDB carries the consumers' seen-times and the delivery times, so those compare exactly; an
AOF replay sets seen-times to its own clock (XCLAIM, XGROUP CREATECONSUMER), so they are left
out there. An AOF rewrite drops the tombstones and the pending entries of deleted entries (an
XCLAIM of a missing entry clears it), in Redis as in valkdb: AOF tests compare the two servers'
replays of the same files, and valkdb's rewrite is compared command by command with Redis's.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from tests.persistence.servers import DataDir, connect, stop, wait_idle
from tests.persistence.stream_data import (
    NODE_ARGS,
    assert_same,
    build,
    describe,
    more_writes,
)
from tests.persistence.test_rdb import raw, rdb_file
from tests.persistence.test_rdb_stream import add_group, sample, v1_payload
from tests.support import redis_server_binary
from valkdb.persistence.aof import AofFileReader
from valkdb.store.stream import Stream, make_id

CHECK_RDB = shutil.which("redis-check-rdb")
pytestmark = pytest.mark.skipif(redis_server_binary() is None or CHECK_RDB is None,
                                reason="redis-server and redis-check-rdb 7.0 are needed")
# redis-server loading valkdb's files checks every listpack entry by entry
SANITIZE = ("--sanitize-dump-payload", "yes")


def copy_rdb(source: DataDir, target: DataDir) -> None:
    shutil.copy(source.file("dump.rdb"), target.file("dump.rdb"))


def assert_same_later(first: int, second: int) -> None:
    """The same later writes on both servers: the same replies, the same streams."""
    assert more_writes(first) == more_writes(second)
    assert_same(describe(first, times=False), describe(second, times=False))


def test_redis_rdb_loads_in_valkdb(tmp_path):
    source = DataDir(tmp_path / "redis")
    reference = source.redis(*NODE_ARGS)
    build(reference.port)
    assert connect(reference.port).execute_command("SAVE") == b"OK"
    target = DataDir(tmp_path / "valkdb")
    copy_rdb(source, target)
    server = target.valkdb(*NODE_ARGS)
    assert_same(describe(reference.port), describe(server.port))
    assert_same_later(reference.port, server.port)


def test_redis_rdb_through_valkdb_back_to_redis(tmp_path):
    """Redis's file loaded and saved again by valkdb gives redis-server the same streams,
    compared on redis-server alone (valkdb's own replies play no part)."""
    source = DataDir(tmp_path / "redis")
    reference = source.redis(*NODE_ARGS)
    build(reference.port)
    assert connect(reference.port).execute_command("SAVE") == b"OK"
    middle = DataDir(tmp_path / "valkdb")
    copy_rdb(source, middle)
    server = middle.valkdb(*NODE_ARGS)
    assert connect(server.port).execute_command("SAVE") == b"OK"
    check = subprocess.run([CHECK_RDB, str(middle.file("dump.rdb"))], capture_output=True,
                           text=True, timeout=60)
    assert "RDB looks OK" in check.stdout, check.stdout
    target = DataDir(tmp_path / "redis2")
    copy_rdb(middle, target)
    again = target.redis(*NODE_ARGS, *SANITIZE)
    assert_same(describe(reference.port), describe(again.port))


def test_valkdb_rdb_loads_in_redis(tmp_path):
    source = DataDir(tmp_path / "valkdb")
    server = source.valkdb(*NODE_ARGS)
    build(server.port)
    assert connect(server.port).execute_command("SAVE") == b"OK"
    check = subprocess.run([CHECK_RDB, str(source.file("dump.rdb"))], capture_output=True,
                           text=True, timeout=60)
    assert "RDB looks OK" in check.stdout, check.stdout
    target = DataDir(tmp_path / "redis")
    copy_rdb(source, target)
    reference = target.redis(*NODE_ARGS, *SANITIZE)
    expected = describe(server.port)
    assert_same(expected, describe(reference.port))
    # valkdb restarted on its own file holds what redis-server holds: the same later writes
    # give the same results
    stop(server)
    server = source.valkdb(*NODE_ARGS)
    assert_same(expected, describe(server.port))
    assert_same_later(reference.port, server.port)


def _aof_args(rewrite: str) -> tuple[str, ...]:
    preamble = "yes" if rewrite == "preamble-yes" else "no"
    return (*NODE_ARGS, "--appendonly", "yes", "--aof-use-rdb-preamble", preamble)


def _fill_aof(port: int, server, rewrite: str) -> None:
    build(port)
    if rewrite != "none":
        connect(port).execute_command("BGREWRITEAOF")
        wait_idle(server)
        more_writes(port)  # into the INCR file that follows the new BASE


REWRITES = ["none", "preamble-no", "preamble-yes"]


@pytest.mark.parametrize("rewrite", REWRITES)
def test_valkdb_aof_loads_in_redis(tmp_path, rewrite):
    args = _aof_args(rewrite)
    source = DataDir(tmp_path / "valkdb")
    server = source.valkdb(*args)
    _fill_aof(server.port, server, rewrite)
    stop(server, "kill")
    target = DataDir(tmp_path / "redis")
    shutil.copytree(source.aof_dir(), target.aof_dir())
    reference = target.redis(*args)
    server = source.valkdb(*args)
    assert_same(describe(reference.port, seen_time=False), describe(server.port, seen_time=False))
    assert_same_later(reference.port, server.port)


@pytest.mark.parametrize("rewrite", REWRITES)
def test_redis_aof_loads_in_valkdb(tmp_path, rewrite):
    args = _aof_args(rewrite)
    source = DataDir(tmp_path / "redis")
    reference = source.redis(*args)
    _fill_aof(reference.port, reference, rewrite)
    stop(reference, "kill")
    target = DataDir(tmp_path / "valkdb")
    shutil.copytree(source.aof_dir(), target.aof_dir())
    server = target.valkdb(*args)
    reference = source.redis(*args)
    assert_same(describe(reference.port, seen_time=False), describe(server.port, seen_time=False))
    assert_same_later(reference.port, server.port)


def _rewritten(node: DataDir) -> dict[tuple[int, bytes], list[list[bytes]]]:
    """The BASE file's commands per (db, key), XCLAIM's delivery TIME zeroed."""
    [base] = [entry.name for entry in node.manifest().files() if ".base." in entry.name]
    per_key: dict[tuple[int, bytes], list[list[bytes]]] = {}
    db = 0
    with open(node.aof_dir() / base, "rb") as f:
        for argv in AofFileReader(f, base).commands():
            name = argv[0].upper()
            if name == b"SELECT":
                db = int(argv[1])
                continue
            if name == b"XCLAIM":
                argv[argv.index(b"TIME") + 1] = b"0"
            key = argv[2] if name == b"XGROUP" else argv[1]
            per_key.setdefault((db, key), []).append(argv)
    return per_key


def test_rewrite_emits_what_redis_emits(tmp_path):
    """The same streams rewritten by both servers (aof-use-rdb-preamble no): the same commands
    for each key, in the same order (rewriteStreamObject)."""
    args = _aof_args("preamble-no")
    rewritten = []
    for name, start in (("redis", DataDir.redis), ("valkdb", DataDir.valkdb)):
        node = DataDir(tmp_path / name)
        server = start(node, *args)
        build(server.port)
        connect(server.port).execute_command("BGREWRITEAOF")
        wait_idle(server)
        rewritten.append(_rewritten(node))
    expected, actual = rewritten
    assert sorted(actual) == sorted(expected)
    for key, commands in expected.items():
        assert actual[key] == commands, key
    # the shapes that have a special form
    assert expected[0, b"s:only-groups"][0] == [b"XADD", b"s:only-groups", b"MAXLEN", b"0",
                                                 b"0-1", b"x", b"y"]
    assert [b"XGROUP", b"CREATECONSUMER", b"s:groups", b"g1", b"c3"] in expected[0, b"s:groups"]


def _type_15_streams() -> list[tuple[bytes, Stream]]:
    """Streams to save as Redis 5 to 6.2 did (type 15, without the 7.0 counters)."""
    plain = sample()
    deleted = sample()
    for entry_id in (make_id(1, 1), make_id(6, 0), make_id(20, 2)):
        deleted.delete(entry_id)
    for stream in (plain, deleted):
        add_group(stream, b"at-last", stream.last_id, 0, {})
        add_group(stream, b"at-first", stream.first_id, 0, {b"c": [stream.first_id]})
        add_group(stream, b"between", make_id(9, 0), 0, {b"d": [make_id(9, 0)], b"e": []})
        add_group(stream, b"at-zero", 0, 0, {})
    emptied = Stream()
    emptied.last_id = make_id(5, 5)
    add_group(emptied, b"g", make_id(5, 1), 0, {})
    only_groups = Stream()
    add_group(only_groups, b"g", 0, 0, {b"c": []})
    return [(b"v1:plain", plain), (b"v1:deleted", deleted), (b"v1:emptied", emptied),
            (b"v1:only-groups", only_groups)]


def test_type_15_loads_as_in_redis(tmp_path: Path):
    """Redis 7.0's defaults for an older stream: entries-added = length, no max deleted ID,
    the first ID looked up (the maximal ID for an empty stream), each group's entries-read
    estimated from its last ID."""
    streams = _type_15_streams()
    body = b"\xfe\x00" + b"".join(b"\x0f" + raw(key) + v1_payload(stream)
                                  for key, stream in streams)
    keys = [(0, key) for key, _ in streams]
    described = []
    for name, start in (("redis", DataDir.redis), ("valkdb", DataDir.valkdb)):
        node = DataDir(tmp_path / name)
        node.file("dump.rdb").write_bytes(rdb_file(body))
        server = start(node, *NODE_ARGS)
        described.append(describe(server.port, keys=keys))
    assert_same(*described)
    groups = described[0][0, b"v1:plain"]["groups"]
    assert {group[1]: group[9] for group in groups} == {
        b"at-first": 1, b"at-last": 20, b"at-zero": 0, b"between": None}
