"""What valkdb does when its files or its disk fail, next to what redis-server 7.0.15 does.

Broken files (a torn AOF tail, corruption in the middle, an unfinished MULTI, a missing or
malformed manifest entry, a bad RDB checksum, a truncated RDB) are given to both servers: the
exit status, the log line that says why, and what survives must be the same. Failures at run
time are provoked for real: a file-size limit (RLIMIT_FSIZE: the kernel refuses to grow the AOF,
as a full disk would; Python ignores SIGXFSZ, so the write just fails), a background save that
cannot rename its file or whose child is killed, an AOF rewrite child that is killed.
"""

from __future__ import annotations

import os
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import redis

from tests.persistence.servers import (
    DataDir,
    connect,
    info,
    started,
    stop,
    wait_for,
    wait_idle,
    wait_loaded,
    write_big_rdb,
)
from tests.support import ServerProcess, free_port, redis_server_binary, wait_for_port
from valkdb.errors import MISCONF_RDB

needs_redis = pytest.mark.skipif(redis_server_binary() is None,
                                 reason="redis-server 7.0 is not installed")
INCR = "appendonly.aof.1.incr.aof"
SHORT_READ = ["!!! Warning: short read while loading the AOF file appendonly.aof.1.incr.aof!!!",
              "AOF appendonly.aof.1.incr.aof loaded anyway because aof-load-truncated is "
              "enabled"]
UNEXPECTED_EOF = ("Unexpected end of file reading the append only file appendonly.aof.1.incr.aof"
                  ". You can: 1) Make a backup of your AOF file, then use ./redis-check-aof "
                  "--fix <filename.manifest>. 2) Alternatively you can set the "
                  "'aof-load-truncated' configuration option to yes and restart the server.")
BAD_FORMAT = ("Bad file format reading the append only file appendonly.aof.1.incr.aof: make a "
              "backup of your AOF file, then use ./redis-check-aof --fix <filename.manifest>")
MISSING = ("Unable to obtain the AOF file appendonly.aof.1.base.rdb length. stat: No such file "
           "or directory")


def _server_argv(kind: str, data: Path, *args: str) -> list[str]:
    port = str(free_port())
    if kind == "redis":
        binary = redis_server_binary()
        assert binary is not None
        return [binary, "--bind", "127.0.0.1", "--port", port, "--daemonize", "no",
                "--save", "", "--dir", str(data), *args]
    return [sys.executable, "-m", "valkdb", "--bind", "127.0.0.1", "--port", port,
            "--save", "", "--dir", str(data), *args]


def _start_or_exit(kind: str, data: Path, *args: str) -> tuple[int | None, str]:
    """Start a server on data; (exit status, log) if it exits within a few seconds, else
    (None, log so far) once it has loaded, after stopping it."""
    log_path = data.parent / f"{kind}-{time.monotonic_ns()}.log"
    argv = _server_argv(kind, data, *args)
    port = int(argv[argv.index("--port") + 1])
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + 10
            while proc.poll() is None and time.monotonic() < deadline:
                try:
                    if info(port)["loading"] == "0":
                        break
                except redis.ConnectionError:
                    pass
                time.sleep(0.05)
        finally:
            if proc.poll() is None:
                proc.terminate()
                proc.wait(10)
                status = None
            else:
                status = proc.returncode
    return status, log_path.read_text(errors="replace")


@pytest.fixture
def aof_dirs(tmp_path):
    """An AOF directory valkdb wrote (foo incremented 5 times, then SET bar), copied for
    valkdb and for redis-server: {"valkdb": path, "redis": path} of the two data dirs."""
    node = DataDir(tmp_path / "source")
    server = node.valkdb("--appendonly", "yes")
    client = connect(server.port)
    for _ in range(5):
        client.execute_command("INCR", "foo")
    client.execute_command("SET", "bar", "x")
    stop(server)
    dirs = {}
    for kind in ("valkdb", "redis"):
        dirs[kind] = tmp_path / kind / "data"
        shutil.copytree(node.path, dirs[kind])
    return dirs


def _append(data: Path, payload: bytes) -> None:
    with open(data / "appendonlydir" / INCR, "ab") as f:
        f.write(payload)


def _both(dirs: dict[str, Path], *args: str) -> dict[str, tuple[int | None, str]]:
    return {kind: _start_or_exit(kind, data, "--appendonly", "yes", *args)
            for kind, data in dirs.items()}


TORN_INCR = b"*2\r\n$4\r\nINCR\r\n$3\r\nfo"


@needs_redis
def test_truncated_aof_loads_when_allowed(aof_dirs):
    """aof-load-truncated yes: both start, cut the file back to the last whole command, keep
    foo=5; a write after that is appended cleanly and survives another restart."""
    for data in aof_dirs.values():
        _append(data, TORN_INCR)
    sizes = {}
    for kind, (status, log) in _both(aof_dirs).items():
        assert status is None, (kind, log)
        for line in SHORT_READ:
            assert line in log, (kind, log)
        sizes[kind] = (aof_dirs[kind] / "appendonlydir" / INCR).stat().st_size
    assert sizes["valkdb"] == sizes["redis"]
    node = DataDir(aof_dirs["valkdb"].parent)
    server = node.valkdb("--appendonly", "yes")
    connect(server.port).execute_command("INCR", "foo")
    stop(server, "kill")
    server = node.valkdb("--appendonly", "yes", "--aof-load-truncated", "no")
    try:
        assert connect(server.port).execute_command("MGET", "foo", "bar") == [b"6", b"x"]
    finally:
        server.stop()


@needs_redis
@pytest.mark.parametrize(("damage", "expected"), [
    ("torn", UNEXPECTED_EOF),
    ("unfinished-multi", "Revert incomplete MULTI/EXEC transaction in AOF file " + INCR),
])
def test_truncated_aof_is_fatal_when_not_allowed(aof_dirs, damage, expected):
    for data in aof_dirs.values():
        _append(data, TORN_INCR if damage == "torn"
                else b"*1\r\n$5\r\nMULTI\r\n*2\r\n$4\r\nINCR\r\n$3\r\nfoo\r\n")
    sizes = {kind: (data / "appendonlydir" / INCR).stat().st_size
             for kind, data in aof_dirs.items()}
    for kind, (status, log) in _both(aof_dirs, "--aof-load-truncated", "no").items():
        assert status == 1, (kind, log)
        assert expected in log and UNEXPECTED_EOF in log, (kind, log)
        assert (aof_dirs[kind] / "appendonlydir" / INCR).stat().st_size == sizes[kind]


@needs_redis
def test_unfinished_multi_is_dropped_when_allowed(aof_dirs):
    for data in aof_dirs.values():
        _append(data, b"*1\r\n$5\r\nMULTI\r\n*2\r\n$4\r\nINCR\r\n$3\r\nfoo\r\n")
    for kind, (status, log) in _both(aof_dirs).items():
        assert status is None, (kind, log)
        assert "Revert incomplete MULTI/EXEC transaction in AOF file " + INCR in log
    server = DataDir(aof_dirs["valkdb"].parent).valkdb("--appendonly", "yes")
    try:
        assert connect(server.port).execute_command("GET", "foo") == b"5"
    finally:
        server.stop()


def _flip_a_star(data: Path) -> None:
    path = data / "appendonlydir" / INCR
    content = path.read_bytes()
    at = content.index(b"*", 40)  # a command in the middle, not the first SELECT
    path.write_bytes(content[:at] + b"!" + content[at + 1 :])


def _remove_base(data: Path) -> None:
    (data / "appendonlydir" / "appendonly.aof.1.base.rdb").unlink()


def _bad_manifest(data: Path) -> None:
    with open(data / "appendonlydir" / "appendonly.aof.manifest", "ab") as f:
        f.write(b"file appendonly.aof.0.incr.aof seq 1 type i\n")  # the INCR's seq again


def _unknown_command(data: Path) -> None:
    _append(data, b"*1\r\n$7\r\nFOOBARX\r\n")


@needs_redis
@pytest.mark.parametrize(("damage", "expected"), [
    (_flip_a_star, BAD_FORMAT),
    (_remove_base, MISSING),
    (_bad_manifest, "Found a non-monotonic sequence number"),
    (_unknown_command, "Unknown command 'FOOBARX' reading the append only file " + INCR),
], ids=["corrupt-middle", "missing-file", "bad-manifest", "unknown-command"])
def test_broken_aof_is_fatal(aof_dirs, damage, expected):
    for data in aof_dirs.values():
        damage(data)
    for kind, (status, log) in _both(aof_dirs).items():
        assert status == 1, (kind, log)
        assert expected in log, (kind, log)


def _saved_rdb_dirs(tmp_path: Path) -> dict[str, Path]:
    node = DataDir(tmp_path / "source")
    server = node.valkdb()
    connect(server.port).execute_command("SET", "k", "v" * 100)
    connect(server.port).execute_command("SAVE")
    server.stop()
    dirs = {}
    for kind in ("valkdb", "redis"):
        dirs[kind] = tmp_path / kind / "data"
        shutil.copytree(node.path, dirs[kind])
    return dirs


@needs_redis
@pytest.mark.parametrize(("damage", "expected"), [
    (lambda data: data[:-8] + b"foobar00", "Wrong RDB checksum"),
    (lambda data: data[: len(data) - 40], "Short read or OOM loading DB. Unrecoverable error, "
                                          "aborting now."),
], ids=["checksum", "truncated"])
def test_broken_rdb_is_fatal(tmp_path, damage, expected):
    dirs = _saved_rdb_dirs(tmp_path)
    for data in dirs.values():
        path = data / "dump.rdb"
        path.write_bytes(damage(path.read_bytes()))
    for kind, data in dirs.items():
        status, log = _start_or_exit(kind, data)
        assert status == 1, (kind, log)
        assert expected in log, (kind, log)


@needs_redis
def test_zero_rdb_checksum_is_not_checked(tmp_path):
    dirs = _saved_rdb_dirs(tmp_path)
    for kind, data in dirs.items():
        path = data / "dump.rdb"
        path.write_bytes(path.read_bytes()[:-8] + bytes(8))
        status, log = _start_or_exit(kind, data)
        assert status is None, (kind, log)
        assert "RDB file was saved with checksum disabled: no check performed." in log


# -- a full disk -------------------------------------------------------------------------------

FILE_SIZE_LIMIT = 256 * 1024
VALUE = b"x" * 20_000


class LimitedServer(ServerProcess):
    """valkdb whose files may not grow past FILE_SIZE_LIMIT bytes (RLIMIT_FSIZE). It starts
    its process itself: ServerProcess's Popen has no preexec_fn to set the limit with."""

    def __init__(self, data: Path, *args: str) -> None:
        argv = _server_argv("valkdb", data, *args)
        port = int(argv[argv.index("--port") + 1])
        log_dir = data.parent / f"log-limited-{time.monotonic_ns()}"
        log_dir.mkdir()
        self.port = port
        self.cwd = str(log_dir)
        self.log_path = str(log_dir / "server.log")
        self._log = open(self.log_path, "wb")  # closed by stop()

        def limit() -> None:
            resource.setrlimit(resource.RLIMIT_FSIZE, (FILE_SIZE_LIMIT, resource.RLIM_INFINITY))

        self.proc = subprocess.Popen(argv, stdout=self._log, stderr=subprocess.STDOUT,
                                     preexec_fn=limit)
        started(self)
        wait_for_port(port, self.proc)
        wait_loaded(self)

    def lift_limit(self) -> None:
        infinity = resource.RLIM_INFINITY
        resource.prlimit(self.proc.pid, resource.RLIMIT_FSIZE, (infinity, infinity))


def _write_until_refused(server: ServerProcess) -> tuple[list[int], Exception]:
    """SET k0, k1 ... (20 KB each) until a write fails; the acknowledged ones and the error."""
    client = connect(server.port)
    acknowledged: list[int] = []
    for i in range(FILE_SIZE_LIMIT // len(VALUE) * 2):
        try:
            client.execute_command("SET", f"k{i}", VALUE)
        except (redis.ResponseError, redis.ConnectionError) as exc:
            return acknowledged, exc
        acknowledged.append(i)
    pytest.fail("no write failed past the file size limit")


def test_full_disk_with_everysec_refuses_writes_until_it_can_write(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    server = LimitedServer(data, "--appendonly", "yes")
    try:
        acknowledged, error = _write_until_refused(server)
        assert str(error) == "MISCONF Errors writing to the AOF file: No space left on device"
        client = connect(server.port)
        assert client.execute_command("GET", "k0") == VALUE  # reads still work
        with pytest.raises(redis.ResponseError, match="^MISCONF Errors writing to the AOF"):
            client.execute_command("PING")
        assert info(server.port)["aof_last_write_status"] == "err"
        assert "Short write while writing to the AOF file" in server.log()
        server.lift_limit()  # space again: the kept buffer is written, writes resume
        wait_for(lambda: info(server.port)["aof_last_write_status"] == "ok",
                 "the AOF write to succeed again", timeout=5, server=server)
        assert "AOF write error looks solved, Redis can write again." in server.log()
        client.execute_command("SET", "after", "ok")
    finally:
        stop(server, "kill")
    restarted = DataDir(tmp_path).valkdb("--appendonly", "yes")
    try:
        client = connect(restarted.port)
        for i in acknowledged:
            assert client.execute_command("STRLEN", f"k{i}") == len(VALUE), i
        assert client.execute_command("GET", "after") == b"ok"
    finally:
        restarted.stop()


def test_full_disk_write_errors_are_not_logged_on_every_retry(tmp_path):
    """The write is retried many times a second; Redis logs the error once per 30 s."""
    data = tmp_path / "data"
    data.mkdir()
    server = LimitedServer(data, "--appendonly", "yes")
    try:
        _write_until_refused(server)
        time.sleep(1.5)
        assert server.log().count("Short write while writing to the AOF file") <= 2
    finally:
        server.stop()


def test_full_disk_with_always_exits(tmp_path):
    """appendfsync always: the reply would promise a write that is not on disk, so the
    process exits (status 1); every acknowledged write is there after a restart."""
    data = tmp_path / "data"
    data.mkdir()
    server = LimitedServer(data, "--appendonly", "yes", "--appendfsync", "always")
    try:
        acknowledged, error = _write_until_refused(server)
        assert isinstance(error, redis.ConnectionError)
        assert server.proc.wait(10) == 1
        assert ("Can't recover from AOF write error when the AOF fsync policy is 'always'. "
                "Exiting...") in server.log()
    finally:
        server.stop()
    restarted = DataDir(tmp_path).valkdb("--appendonly", "yes")
    try:
        client = connect(restarted.port)
        for i in acknowledged:
            assert client.execute_command("STRLEN", f"k{i}") == len(VALUE), i
    finally:
        restarted.stop()


# -- failed background saves and rewrites ------------------------------------------------------

def _children(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(child) for child in path.read_text().split()]


def _wait_bgsave_status(server: ServerProcess, status: str) -> None:
    wait_for(lambda: info(server.port)["rdb_last_bgsave_status"] == status,
             f"rdb_last_bgsave_status:{status}", server=server)


def _misconf_checks(server: ServerProcess) -> None:
    client = connect(server.port)
    expected = MISCONF_RDB.decode()[1:].rstrip("\r\n")
    for argv in (("SET", "k", "v"), ("PING",), ("DEL", "k")):
        with pytest.raises(redis.ResponseError) as raised:
            client.execute_command(*argv)
        assert str(raised.value) == expected, argv
    assert client.execute_command("GET", "k0") == b"v0"
    assert info(server.port)["rdb_last_bgsave_status"] == "err"
    client.execute_command("CONFIG", "SET", "stop-writes-on-bgsave-error", "no")
    assert client.execute_command("SET", "k", "v") == b"OK"
    client.execute_command("CONFIG", "SET", "stop-writes-on-bgsave-error", "yes")
    with pytest.raises(redis.ResponseError, match="^MISCONF"):
        client.execute_command("SET", "k", "v")
    client.execute_command("CONFIG", "SET", "save", "")  # no save points: no refusal
    assert client.execute_command("SET", "k", "v") == b"OK"
    client.execute_command("CONFIG", "SET", "save", "3600 1")


@needs_redis
def test_failed_bgsave_refuses_writes_as_redis_does(tmp_path):
    """dump.rdb is a directory, so the child cannot rename its file over it: BGSAVE fails.
    Writes and PING get Redis's MISCONF text, reads work, stop-writes-on-bgsave-error no lets
    writes through, and a good BGSAVE ends it."""
    for kind in ("redis", "valkdb"):
        node = DataDir(tmp_path / kind)
        server = (node.redis if kind == "redis" else node.valkdb)("--save", "3600 1")
        try:
            connect(server.port).execute_command("SET", "k0", "v0")
            node.file("dump.rdb").mkdir()
            assert connect(server.port).execute_command("BGSAVE") == \
                b"Background saving started"
            _wait_bgsave_status(server, "err")
            _misconf_checks(server)
            node.file("dump.rdb").rmdir()
            connect(server.port).execute_command("BGSAVE")
            _wait_bgsave_status(server, "ok")
            assert connect(server.port).execute_command("SET", "k", "v") == b"OK"
        finally:
            server.stop()


@needs_redis
def test_shutdown_is_cancelled_when_its_save_fails(tmp_path):
    """SHUTDOWN with save points cannot write dump.rdb (a directory there): it fails with
    Redis's error, the server keeps serving; SHUTDOWN NOSAVE then works."""
    for kind in ("redis", "valkdb"):
        node = DataDir(tmp_path / kind)
        server = (node.redis if kind == "redis" else node.valkdb)("--save", "3600 1")
        try:
            client = connect(server.port)
            client.execute_command("SET", "k", "v")
            node.file("dump.rdb").mkdir()
            with pytest.raises(redis.ResponseError) as raised:
                client.execute_command("SHUTDOWN")
            assert str(raised.value) == "Errors trying to SHUTDOWN. Check logs.", kind
            assert "Error trying to save the DB, can't exit." in server.log(), kind
            assert client.execute_command("GET", "k") == b"v"
            with pytest.raises(redis.ConnectionError):
                client.execute_command("SHUTDOWN", "NOSAVE")
            assert server.proc.wait(10) == 0
        finally:
            server.stop()


def test_killed_bgsave_child_refuses_writes(tmp_path):
    node = DataDir(tmp_path)
    write_big_rdb(node.file("dump.rdb"), 300_000)
    server = node.valkdb("--save", "3600 1")
    try:
        connect(server.port).execute_command("SET", "k0", "v0")
        connect(server.port).execute_command("BGSAVE")
        (child,) = _children(server.proc.pid)
        os.kill(child, 9)
        _wait_bgsave_status(server, "err")
        assert "Background saving terminated by signal 9" in server.log()
        assert not list(node.path.glob("temp-*.rdb"))  # the child's file is removed
        _misconf_checks(server)
    finally:
        server.stop()


def test_killed_rewrite_child_keeps_a_complete_aof(tmp_path):
    """A rewrite that dies leaves the old BASE and every INCR file in the manifest (plus a new
    INCR opened for it): a restart has every write, those during the failed rewrite too."""
    node = DataDir(tmp_path)
    write_big_rdb(node.file("dump.rdb"), 200_000)
    server = node.valkdb()
    client = connect(server.port)
    client.execute_command("CONFIG", "SET", "appendonly", "yes")
    wait_idle(server)
    client.execute_command("SET", "before", "1")
    for attempt in range(2):
        assert client.execute_command("BGREWRITEAOF") == \
            b"Background append only file rewriting started"
        (child,) = _children(server.proc.pid)
        client.execute_command("SET", f"during{attempt}", "1")
        os.kill(child, 9)
        wait_for(lambda: info(server.port)["aof_rewrite_in_progress"] == "0",
                 "the rewrite to end", server=server)
    fields = info(server.port)
    assert fields["aof_last_bgrewrite_status"] == "err"
    assert fields["aof_rewrites_consecutive_failures"] == "2"
    assert "Background AOF rewrite terminated by signal 9" in server.log()
    incrs = [entry.name for entry in node.manifest().files() if ".incr." in entry.name]
    assert len(incrs) == 3
    client.execute_command("SET", "after", "1")
    written = ["before", "during0", "during1", "after"]
    stop(server, "kill")
    server = node.valkdb("--appendonly", "yes")
    try:
        client = connect(server.port)
        assert client.execute_command("DBSIZE") == 200_000 + len(written)
        assert client.execute_command("MGET", *written) == [b"1"] * len(written)
    finally:
        server.stop()


def test_shutdown_is_refused_while_the_first_aof_is_written(tmp_path):
    """appendonly turned on at run time: until its first rewrite ends there is no complete
    AOF, so SHUTDOWN must fail ("Writing initial AOF, can't exit.") as in Redis 7.0
    finishShutdown(), or a restart with appendonly yes starts empty."""
    node = DataDir(tmp_path)
    write_big_rdb(node.file("dump.rdb"), 300_000)
    server = node.valkdb()
    client = connect(server.port)
    try:
        assert client.execute_command("CONFIG", "SET", "appendonly", "yes") == b"OK"
        client.execute_command("SET", "x", "1")
        with pytest.raises(redis.ResponseError) as refused:
            client.execute_command("SHUTDOWN")
        assert str(refused.value) == "Errors trying to SHUTDOWN. Check logs."
        assert "Writing initial AOF, can't exit." in server.log()
        wait_idle(server)
    finally:
        server.stop()
    server = node.valkdb("--appendonly", "yes")
    try:
        assert connect(server.port).execute_command("DBSIZE") == 300_001
    finally:
        server.stop()
