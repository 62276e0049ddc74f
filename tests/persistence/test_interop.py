"""Files written by valkdb load in redis-server 7.0.15 and files it writes load in valkdb, and
`valkdb check-rdb` / `valkdb check-aof` say what redis-check-rdb / redis-check-aof say.

The files come from running servers (not from the writers directly, as in test_rdb_interop.py):
a SAVE, an AOF directory after plain writes, after a BGREWRITEAOF with and without the RDB
preamble and writes after it. Every key is compared: type, value, encoding and deadline.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import redis

from tests.persistence.servers import (
    DataDir,
    assert_same_dump,
    connect,
    dump,
    info,
    populate,
    stop,
    wait_idle,
)
from tests.support import ServerProcess, redis_server_binary

CHECK_RDB = shutil.which("redis-check-rdb")
CHECK_AOF = shutil.which("redis-check-aof")
pytestmark = pytest.mark.skipif(
    redis_server_binary() is None or CHECK_RDB is None or CHECK_AOF is None,
    reason="redis-server, redis-check-rdb and redis-check-aof 7.0 are needed")


def _write_some(server: ServerProcess, suffix: str) -> None:
    """A few writes whose AOF form differs from the command (relative TTLs, SPOP, floats)."""
    client = connect(server.port, db=3)
    client.execute_command("SET", f"ex:{suffix}", "v", "EX", "5000")
    client.execute_command("SADD", f"pop:{suffix}", "a", "b", "c", "d")
    client.execute_command("SPOP", f"pop:{suffix}", "2")
    client.execute_command("INCRBYFLOAT", f"float:{suffix}", "0.1")
    client.execute_command("HINCRBYFLOAT", f"hash:{suffix}", "f", "2.5e3")
    client.execute_command("ZADD", f"zset:{suffix}", "-inf", "a", "0", "b")
    client.execute_command("RPUSH", f"list:{suffix}", "x", "y", "z")
    client.execute_command("LMOVE", f"list:{suffix}", f"list2:{suffix}", "LEFT", "RIGHT")


def _move_to_redis(node: DataDir, server: ServerProcess, *args: str) -> ServerProcess:
    """Stop valkdb (SIGKILL: only what it already wrote counts) and start redis-server on
    the same directory."""
    stop(server, "kill")
    return node.redis(*args)


def test_valkdb_snapshot_loads_in_redis(tmp_path):
    node = DataDir(tmp_path)
    server = node.valkdb()
    populate(server.port)
    _write_some(server, "a")
    before = dump(server.port)
    assert connect(server.port).execute_command("SAVE") == b"OK"
    reference = _move_to_redis(node, server)
    try:
        assert_same_dump(before, dump(reference.port))
        assert info(reference.port)["rdb_last_load_keys_loaded"] == str(len(before))
    finally:
        reference.stop()


_SCRIPTS = [
    # several writes, relative expiries, chance, a SELECT inside, a write then a failure
    ("redis.call('SET', KEYS[1], ARGV[1], 'EX', 5000) redis.call('INCR', KEYS[2]) "
     "return redis.call('RPUSH', KEYS[3], ARGV[1], ARGV[1])", 3, "s:a", "s:n", "s:l", "v"),
    ("redis.call('SADD', KEYS[1], 'a', 'b', 'c', 'd', 'e') "
     "return redis.call('SPOP', KEYS[1], 2)", 1, "s:pop"),
    ("redis.call('SELECT', 5) redis.call('HSET', KEYS[1], 'f', ARGV[1]) "
     "return redis.call('HINCRBYFLOAT', KEYS[1], 'g', '1.5')", 1, "s:h", "x"),
    ("redis.call('ZADD', KEYS[1], 1, 'a', 2, 'b') redis.call('ZPOPMIN', KEYS[1]) "
     "return redis.call('NOSUCH')", 1, "s:z"),
    ("local n = 0 for i = 1, 20 do n = n + redis.call('INCRBY', KEYS[1], i) end return n", 1,
     "s:sum"),
]


def test_script_effects_replayed_by_redis(tmp_path):
    """A script's effects in valkdb's AOF (wrapped in MULTI/EXEC) rebuild the same data in
    redis-server, without the script."""
    node = DataDir(tmp_path)
    args = ("--appendonly", "yes", "--aof-use-rdb-preamble", "no")
    server = node.valkdb(*args)
    client = connect(server.port)
    for body, numkeys, *rest in _SCRIPTS:
        try:
            client.eval(body, numkeys, *rest)
        except redis.ResponseError:
            pass  # the failing one: its write before the failure stays
    sha = client.script_load("return redis.call('INCR', KEYS[1])")
    for _ in range(3):
        client.evalsha(sha, 1, "s:evalsha")
    before = dump(server.port)
    commands = [argv[0].upper() for argv in node.incr_commands()]
    assert b"EVAL" not in commands and b"EVALSHA" not in commands
    assert commands.count(b"MULTI") == commands.count(b"EXEC") >= 4
    reference = _move_to_redis(node, server, *args)
    try:
        assert_same_dump(before, dump(reference.port))
    finally:
        reference.stop()


@pytest.mark.parametrize("rewrite", ["none", "preamble-yes", "preamble-no"])
def test_valkdb_aof_loads_in_redis(tmp_path, rewrite):
    node = DataDir(tmp_path)
    args = ("--appendonly", "yes")
    if rewrite != "none":
        args += ("--aof-use-rdb-preamble", rewrite.split("-")[1])
    server = node.valkdb(*args)
    populate(server.port)
    _write_some(server, "a")
    if rewrite != "none":
        connect(server.port).execute_command("BGREWRITEAOF")
        _write_some(server, "b")  # while the child writes: into the new INCR file
        wait_idle(server)
        _write_some(server, "c")
    before = dump(server.port)
    reference = _move_to_redis(node, server, *args)
    try:
        assert_same_dump(before, dump(reference.port))
        assert info(reference.port)["aof_last_write_status"] == "ok"
    finally:
        reference.stop()


def test_redis_snapshot_loads_in_valkdb(tmp_path):
    node = DataDir(tmp_path)
    reference = node.redis()
    populate(reference.port)
    _write_some(reference, "a")
    before = dump(reference.port)
    assert connect(reference.port).execute_command("SAVE") == b"OK"
    stop(reference, "kill")
    server = node.valkdb()
    try:
        assert_same_dump(before, dump(server.port))
    finally:
        server.stop()


@pytest.mark.parametrize(("preamble", "timestamps"), [("yes", "no"), ("no", "no"), ("yes", "yes")])
def test_redis_aof_loads_in_valkdb(tmp_path, preamble, timestamps):
    """Redis's BASE + INCR after a rewrite, also with aof-timestamp-enabled (#TS: lines)."""
    node = DataDir(tmp_path)
    args = ("--appendonly", "yes", "--aof-use-rdb-preamble", preamble)
    reference = node.redis(*args, "--aof-timestamp-enabled", timestamps)
    populate(reference.port)
    _write_some(reference, "a")
    connect(reference.port).execute_command("BGREWRITEAOF")
    _write_some(reference, "b")
    wait_idle(reference)
    if timestamps == "yes":
        time.sleep(1.1)  # Redis writes an annotation when the second changed since the last
    _write_some(reference, "c")
    before = dump(reference.port)
    stop(reference, "kill")
    if timestamps == "yes":
        assert b"#TS:" in (node.aof_dir() / "appendonly.aof.2.incr.aof").read_bytes()
    server = node.valkdb(*args)
    try:
        assert_same_dump(before, dump(server.port))
        # and valkdb goes on appending to Redis's INCR file
        connect(server.port).execute_command("SET", "added", "by valkdb")
        stop(server)
        reference = node.redis(*args)
        assert connect(reference.port).execute_command("GET", "added") == b"by valkdb"
    finally:
        server.stop()
        reference.stop()


@pytest.mark.parametrize("preamble", ["yes", "no"])
def test_old_single_file_aof_is_upgraded_as_redis_does(tmp_path, preamble):
    """A Redis 6 style appendonly.aof in `dir` (no appendonlydir): loaded, then moved into
    appendonlydir as the BASE of a new manifest, the same way by both servers."""
    source = DataDir(tmp_path / "source")
    reference = source.redis("--appendonly", "yes", "--aof-use-rdb-preamble", preamble)
    _write_some(reference, "a")
    connect(reference.port).execute_command("BGREWRITEAOF")
    wait_idle(reference)
    _write_some(reference, "b")
    stop(reference)
    single_file = b"".join((source.aof_dir() / entry.name).read_bytes()
                           for entry in source.manifest().files())
    results = {}
    for name in ("redis", "valkdb"):
        node = DataDir(tmp_path / name)
        (node.path / "appendonly.aof").write_bytes(single_file)
        server = (node.redis if name == "redis" else node.valkdb)("--appendonly", "yes")
        try:
            contents = dump(server.port)
        finally:
            stop(server)
        results[name] = (contents, sorted(p.name for p in node.path.iterdir()),
                         sorted(p.name for p in node.aof_dir().iterdir()),
                         node.manifest().format())
    assert results["valkdb"] == results["redis"]
    assert len(results["redis"][0]) == 14


# -- the checkers ------------------------------------------------------------------------------

def _check(tool: list[str], args: list[str], cwd: Path, answer: str = "") -> tuple[int, str]:
    result = subprocess.run([*tool, *args], cwd=cwd, input=answer.encode(),
                            capture_output=True, timeout=60)
    return result.returncode, result.stdout.decode(errors="replace")


VALKDB = [sys.executable, "-m", "valkdb"]
LOG_PREFIX = re.compile(r"(?m)^\d+:C \d\d \w{3} \d{4} [\d:.]+ ")  # pid and time differ


def _rdb_cases(tmp_path: Path) -> dict[str, Path]:
    """A dump.rdb from a running valkdb, and broken copies of it."""
    node = DataDir(tmp_path / "source")
    server = node.valkdb()
    populate(server.port)
    connect(server.port).execute_command("SAVE")
    server.stop()
    good = node.file("dump.rdb").read_bytes()
    first_key = good.index(b"\xfe\x00\xfb") + 5  # after SELECTDB 0 and two 1-byte sizes
    cases = {
        "good": good,
        "bad-checksum": good[:-8] + b"foobar00",
        "zero-checksum": good[:-8] + bytes(8),
        "truncated": good[: len(good) // 2],
        "no-checksum": good[:-8],
        "bad-signature": b"XEDIS" + good[5:],
        "future-version": b"REDIS0011" + good[9:],
        "unknown-type": good[:first_key] + b"\x42" + good[first_key + 1 :],
        "empty": b"",
    }
    paths = {}
    for name, data in cases.items():
        path = tmp_path / f"{name}.rdb"
        path.write_bytes(data)
        paths[name] = path
    return paths


def test_check_rdb_agrees_with_redis_check_rdb(tmp_path):
    for name, path in _rdb_cases(tmp_path).items():
        expected = _check([CHECK_RDB], [path.name], tmp_path)
        assert _check([*VALKDB, "check-rdb"], [path.name], tmp_path) == expected, name


def _aof_directory(root: Path, preamble: str) -> Path:
    """An AOF directory from a valkdb that rewrote once and wrote on: BASE + INCR."""
    node = DataDir(root)
    server = node.valkdb("--appendonly", "yes", "--aof-use-rdb-preamble", preamble)
    _write_some(server, "a")
    connect(server.port).execute_command("BGREWRITEAOF")
    wait_idle(server)
    _write_some(server, "b")
    client = connect(server.port)
    client.execute_command("MULTI")
    client.execute_command("INCR", "n")
    client.execute_command("INCR", "n")
    client.execute_command("EXEC")
    server.stop()
    return node.aof_dir()


def _corrupt(directory: Path, how: str) -> str:
    """Break a copy of the directory; the argument to give the checkers."""
    incr = directory / "appendonly.aof.2.incr.aof"
    data = incr.read_bytes()
    if how == "truncated":
        incr.write_bytes(data[:-7])
    elif how == "bad-format":
        at = data.index(b"*", 40)
        incr.write_bytes(data[:at] + b"!" + data[at + 1 :])
    elif how == "unfinished-multi":
        incr.write_bytes(data[: data.rindex(b"*1\r\n$4\r\nEXEC")])
    elif how == "bad-manifest":
        manifest = directory / "appendonly.aof.manifest"
        manifest.write_bytes(manifest.read_bytes() + b"file x seq 1 type q\n")
    elif how == "missing-file":
        incr.unlink()
    elif how == "single-file":
        return f"{directory.name}/{incr.name}"
    elif how == "old-style":  # a Redis 6 appendonly.aof: the BASE (maybe RDB) + commands
        base = next(directory.glob("appendonly.aof.2.base.*"))
        (directory / "appendonly.aof").write_bytes(base.read_bytes() + data[:-7])
        return f"{directory.name}/appendonly.aof"
    return f"{directory.name}/appendonly.aof.manifest"


AOF_CASES = ["good", "truncated", "bad-format", "unfinished-multi", "bad-manifest",
             "missing-file", "single-file", "old-style"]


@pytest.mark.parametrize("preamble", ["yes", "no"])
def test_check_aof_agrees_with_redis_check_aof(tmp_path, preamble):
    source = _aof_directory(tmp_path / "source", preamble)
    for how in AOF_CASES:
        for fix in (False, True):
            results = []
            for tool in ([CHECK_AOF], [*VALKDB, "check-aof"]):
                work = tmp_path / f"{how}-{fix}-{len(results)}"
                shutil.copytree(source, work / source.name)
                target = _corrupt(work / source.name, how)
                args = ["--fix", target] if fix else [target]
                status, output = _check(tool, args, work, answer="y\n")
                # valkdb's --fix does not ask (its docstring says so): drop Redis's question
                output = LOG_PREFIX.sub("", output.replace("Continue? [y/N]: ", ""))
                files = {path.name: path.read_bytes() for path in (work / source.name).iterdir()}
                results.append((status, output, files))
            assert results[1][:2] == results[0][:2], (how, fix)
            assert results[1][2] == results[0][2], (how, fix, "files differ after the check")
