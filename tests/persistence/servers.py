"""Servers for the persistence end-to-end tests: data directories that valkdb or redis-server
start on, one at a time, and the helpers that compare datasets across restarts (a full dump:
type, value, encoding, absolute deadline)."""

from __future__ import annotations

import signal
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from tests.support import ServerProcess, redis_server_binary, start_redis, start_valkdb
from valkdb.persistence.aof import AofFileReader, Manifest
from valkdb.persistence.rdb import write_rdb

needs_redis = pytest.mark.skipif(redis_server_binary() is None,
                                 reason="redis-server 7.0 is not installed")

DATABASES = (0, 1, 9, 15)  # the dataset spreads over these
Dump = dict[tuple[int, bytes], tuple[bytes, Any, bytes, int]]


_STARTED: list[ServerProcess] = []  # every server a test started, stopped after the test


def started(server: ServerProcess) -> ServerProcess:
    """Remember a server so that stop_started_servers() ends it even if the test failed."""
    _STARTED.append(server)
    return server


def stop_started_servers() -> None:
    while _STARTED:
        _STARTED.pop().stop()


def connect(port: int, db: int = 0, protocol: int = 2) -> redis.Redis:
    """A client whose replies are raw (no redis-py callbacks), so values compare byte for
    byte, and that never retries: errors such as -LOADING or a closed connection surface at
    once (and a write is never sent twice)."""
    client = redis.Redis(port=port, db=db, protocol=protocol, socket_timeout=30,
                         retry=Retry(NoBackoff(), 0))
    client.response_callbacks.clear()
    return client


def info(port: int) -> dict[str, str]:
    """INFO persistence as a dict of strings (INFO is served while loading)."""
    text = connect(port).execute_command("INFO", "persistence").decode()
    return dict(line.split(":", 1) for line in text.splitlines() if ":" in line)


def wait_for(condition: Callable[[], Any], what: str, timeout: float = 20.0,
              server: ServerProcess | None = None) -> Any:
    """Poll until condition() is truthy; fail with `what` (and the server's log) after timeout."""
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result:
            return result
        if server is not None and server.proc.poll() is not None:
            pytest.fail(f"server exited ({server.proc.returncode}) waiting for {what}:\n"
                        f"{server.log()[-3000:]}")
        if time.monotonic() > deadline:
            log = server.log()[-3000:] if server is not None else ""
            pytest.fail(f"timed out waiting for {what}\n{log}")
        time.sleep(0.02)


def wait_loaded(server: ServerProcess, timeout: float = 30.0) -> ServerProcess:
    wait_for(lambda: info(server.port).get("loading") == "0", "loading:0", timeout, server)
    return server


def wait_idle(server: ServerProcess) -> None:
    """Until no save or rewrite child runs or is scheduled."""
    busy = ("rdb_bgsave_in_progress", "aof_rewrite_in_progress", "aof_rewrite_scheduled")
    wait_for(lambda: all(info(server.port)[field] == "0" for field in busy),
             "the background save or rewrite to end", server=server)


class DataDir:
    """A data directory that valkdb (or redis-server) servers are started on, one at a time;
    each start gets a fresh log directory so every log can be read afterwards."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.path = root / "data"
        self.path.mkdir(parents=True, exist_ok=True)
        self.starts = 0

    def _log_dir(self) -> str:
        self.starts += 1
        log_dir = self.root / f"log{self.starts}"
        log_dir.mkdir()
        return str(log_dir)

    def valkdb(self, *args: str, wait: bool = True) -> ServerProcess:
        server = started(start_valkdb("--dir", str(self.path), *args, cwd=self._log_dir()))
        return wait_loaded(server) if wait else server

    def redis(self, *args: str) -> ServerProcess:
        """A real redis-server 7.0 on this directory (start_redis picks its own cwd)."""
        server = started(start_redis("--dir", str(self.path), *args))
        return wait_loaded(server)

    def file(self, *parts: str) -> Path:
        return self.path.joinpath(*parts)

    def aof_dir(self) -> Path:
        return self.path / "appendonlydir"

    def manifest(self) -> Manifest:
        return Manifest.parse((self.aof_dir() / "appendonly.aof.manifest").read_bytes())

    def incr_commands(self) -> list[list[bytes]]:
        """Every command of the INCR files, in the manifest's order."""
        commands: list[list[bytes]] = []
        for entry in self.manifest().files():
            if ".incr." not in entry.name:
                continue
            with open(self.aof_dir() / entry.name, "rb") as f:
                commands += AofFileReader(f, entry.name).commands()
        return commands


def stop(server: ServerProcess, how: str = "term") -> None:
    """term: SIGTERM (a graceful shutdown); kill: SIGKILL, nothing gets to run after it."""
    if how == "kill":
        server.proc.kill()
    assert server.stop() in (0, -signal.SIGKILL), server.log()[-3000:]


def dump(port: int, databases: range | tuple[int, ...] = range(16),
         encodings: bool = True) -> Dump:
    """Every key: (db, key) -> (type, value, encoding, absolute deadline in ms or -1)."""
    result: Dump = {}
    for db in databases:
        client = connect(port, db)
        keys = client.execute_command("KEYS", "*")
        if not keys:
            continue
        pipe = client.pipeline(transaction=False)
        for key in keys:
            pipe.execute_command("TYPE", key)
            pipe.execute_command("OBJECT", "ENCODING", key)
            pipe.execute_command("PEXPIRETIME", key)
        described = pipe.execute()
        for i, key in enumerate(keys):
            kind = described[3 * i]
            reader = _READERS[kind]
            pipe.execute_command(*reader[0], key, *reader[1])
        values = pipe.execute()
        for i, key in enumerate(keys):
            kind, encoding, deadline = described[3 * i : 3 * i + 3]
            result[db, key] = (kind, _READERS[kind][2](values[i]),
                               encoding if encodings else b"", deadline)
    return result


def _pairs(flat: list[bytes]) -> list[tuple[bytes, bytes]]:
    return list(zip(flat[::2], flat[1::2], strict=True))


_READERS: dict[bytes, tuple[tuple[str, ...], tuple[Any, ...], Callable[[Any], Any]]] = {
    b"string": (("GET",), (), bytes),
    b"list": (("LRANGE",), (0, -1), list),
    b"hash": (("HGETALL",), (), lambda flat: dict(_pairs(flat))),
    b"set": (("SMEMBERS",), (), frozenset),
    b"zset": (("ZRANGE",), (0, -1, "WITHSCORES"), _pairs),
}


def assert_same_dump(before: Dump, after: Dump) -> None:
    """Equal, with a readable difference when not."""
    missing = sorted(set(before) - set(after))
    extra = sorted(set(after) - set(before))
    changed = sorted(k for k in set(before) & set(after) if before[k] != after[k])
    detail = [f"missing: {missing[:10]}", f"unexpected: {extra[:10]}"]
    for key in changed[:5]:
        old, new = before[key], after[key]
        for field, a, b in zip(("type", "value", "encoding", "deadline"), old, new, strict=True):
            if a != b:
                detail.append(f"{key} {field}: {_short(a)} -> {_short(b)}")
    assert not (missing or extra or changed), "\n".join(detail)


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) < 300 else text[:300] + "..."


def populate(port: int, protocol: int = 2, suffix: str = "") -> None:
    """Every type in each of its encodings, in several databases, with and without deadlines:
    int-like, binary, empty and > 64 KiB strings; small (listpack) and big (hashtable) hashes;
    intsets, big intsets and sets of strings; zsets with -0, inf, -inf and tiny scores in
    listpack and skiplist encodings; long lists. `suffix` makes a second batch of keys."""
    deadline = int(time.time() * 1000) + 3_600_000
    binary = bytes(range(256))
    for db in DATABASES:
        pipe = connect(port, db, protocol).pipeline(transaction=False)
        n = f"{db}{suffix}"
        pipe.set(f"int:{n}", "12345")
        pipe.set(f"negint:{n}", "-9223372036854775808")
        pipe.set(f"float:{n}", "3.14")
        pipe.set(f"empty:{n}", "")
        pipe.set(f"binary:{n}", binary * 3 + b"\r\n\x00")
        pipe.set(f"big:{n}", (binary * 300)[: 70_000 + db])
        pipe.set(f"ttl:{n}", "expires", pxat=deadline + db)
        pipe.rpush(f"list:{n}", *[b"item%d" % i for i in range(20)], binary, b"", b"123")
        pipe.rpush(f"longlist:{n}", *[b"%d" % i * (i % 7) for i in range(1500)])
        pipe.hset(f"hash:{n}", mapping={"a": "1", "b": binary, "": "empty field"})
        pipe.hset(f"bighash:{n}", mapping={f"f{i}": f"v{i}" for i in range(600)})
        pipe.hset(f"longvalue:{n}", mapping={"f": "x" * 100})
        pipe.sadd(f"intset:{n}", 1, -2, 300, 70000, 5_000_000_000, -(2**63))
        pipe.sadd(f"bigintset:{n}", *range(0, 1200, 2))
        pipe.sadd(f"strset:{n}", "a", "b", binary, "")
        pipe.zadd(f"zset:{n}", {b"neg0": -0.0, b"inf": float("inf"), b"-inf": float("-inf"),
                                b"tiny": 5e-324, b"pi": 3.141592653589793, b"\x00bin": 1e300})
        pipe.zadd(f"bigzset:{n}", {f"m{i}": i / 3 for i in range(200)})
        pipe.hset(f"ttlhash:{n}", "f", "v")
        pipe.pexpireat(f"ttlhash:{n}", deadline + 7)
        pipe.sadd(f"ttlset:{n}", 1, 2, 3)
        pipe.expire(f"ttlset:{n}", 86_400)
        pipe.execute()


# -- round trips ------------------------------------------------------------------------------


def write_big_rdb(path: Path, count: int = 300_000) -> None:
    """A dump of many small keys written directly (fast), so that a save or a load of it
    takes a noticeable while."""
    with open(path, "wb") as f:
        write_rdb(f, [(0, count, 0, ((b"key:%d" % i, b"value:%d" % i, None)
                                     for i in range(count)))])
