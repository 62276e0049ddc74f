"""Crash tests: kill -9 a valkdb that persists, restart it on the same directory, and check that
nothing it acknowledged is gone and that the dataset is whole.

- Write load (SET / INCR / RPUSH / pipelines / MULTI) from several connections, kill -9 at a
  random moment, with appendfsync always, everysec, and always with AOF rewrites running all the
  time: every acknowledged write survives, no write appears that was never sent, no transaction
  is half there. A BLMOVE served by another client's push survives once acknowledged.
- A kill -9 leaves the kernel's page cache intact, so it only proves that a write reaches the
  kernel before its reply; what fsync adds (a power loss) would need LazyFS or similar, which
  is not available. The fsync itself is therefore checked under strace: with `always` a reply
  waits for an fdatasync that starts after its write (strace delays every fdatasync), and
  concurrent clients share one (group commit), and a message published while a subscriber's
  reply waits for its fsync still arrives; with `everysec` every write is followed by an
  fdatasync within 2 seconds, about one a second, and none once all is on disk.
- kill -9 of the parent while a BGREWRITEAOF or BGSAVE child runs (the child is paused at a
  random point of its file), and of the child itself: the restart loads the complete dataset
  (for RDB the last complete snapshot, never a mix), and the port is free at once.

The kill moments are random (not hypothesis: a timing cannot be replayed or shrunk); a failure
names its trial and delay. VALKDB_CRASH_TRIALS=20 raises the number of random kills per
setting to the issue's bar.
"""

from __future__ import annotations

import glob
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import pytest
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from tests.support import ServerProcess, start_redis, start_valkdb

CRASH_TRIALS = int(os.environ.get("VALKDB_CRASH_TRIALS", "5"))
WORKERS = 4  # plain connections; one more pipelines and one more runs MULTI/EXEC
STRINGS = 100_000  # keys in the snapshot tests
ALWAYS = ("--appendonly", "yes", "--appendfsync", "always")
EVERYSEC = ("--appendonly", "yes", "--appendfsync", "everysec")
STRACE = shutil.which("strace")
needs_strace = pytest.mark.skipif(STRACE is None, reason="strace is not installed")


# -- servers -------------------------------------------------------------------------------------

_started: list[ServerProcess] = []  # stopped after each test, whatever happened
_children: list[int] = []  # snapshot children a test stopped or orphaned


@pytest.fixture(autouse=True)
def _cleanup():
    yield
    while _started:
        _started.pop().stop()
    while _children:
        pid = _children.pop()
        if running(pid):
            os.kill(pid, signal.SIGKILL)


def launch(kind: str = "valkdb", *args: str, cwd: str | None = None) -> ServerProcess:
    """valkdb or redis-server (kind "redis-server"), in `cwd` to restart on its files."""
    if kind == "valkdb":
        server = start_valkdb(*args, cwd=cwd)
    else:
        server = start_redis(*args, *(("--dir", cwd) if cwd else ()))
    _started.append(server)
    return server


def client(port: int) -> redis.Redis:
    """No retries: a command whose connection broke counts as unacknowledged, never resent."""
    return redis.Redis(port=port, socket_timeout=20, retry=Retry(NoBackoff(), 0))


def wait_loaded(port: int, timeout: float = 30.0) -> redis.Redis:
    """A client once the dataset has loaded (the server answers -LOADING until then)."""
    conn = client(port)
    deadline = time.monotonic() + timeout
    while True:
        try:
            conn.ping()
            return conn
        except redis.BusyLoadingError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.02)


def kill9(server: ServerProcess) -> None:
    server.proc.kill()
    server.proc.wait()
    server.stop()  # closes the log


def restart(server: ServerProcess, *args: str, kind: str = "valkdb") -> redis.Redis:
    """A client of the server started again on the files of `server`."""
    return wait_loaded(launch(kind, *args, cwd=server.cwd).port)


def process_state(pid: int) -> str:
    """The state letter in /proc (R, S, D, Z ...), or "" once the process is gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            stat = f.read()
    except OSError:
        return ""
    return stat[stat.rindex(")") + 2]


def running(pid: int) -> bool:
    return process_state(pid) not in ("", "Z")


def child_of(pid: int) -> int:
    """The pid of the BGSAVE / BGREWRITEAOF child of a server."""
    for path in glob.glob("/proc/[0-9]*/stat"):
        try:
            with open(path) as f:
                stat = f.read()
        except OSError:
            continue
        if int(stat[stat.rindex(")") + 2 :].split()[1]) == pid:
            return int(path.split("/")[2])
    raise AssertionError(f"process {pid} has no child")


def wait_ended(pid: int, timeout: float = 30.0) -> None:
    """Wait for an orphaned child to finish its work; kill it if it takes too long."""
    deadline = time.monotonic() + timeout
    while running(pid):
        if time.monotonic() > deadline:
            os.kill(pid, signal.SIGKILL)
            raise AssertionError(f"child {pid} still running after {timeout}s")
        time.sleep(0.01)


def persistence(conn: redis.Redis) -> dict:
    return conn.info("persistence")


def wait_child_done(conn: redis.Redis, field_name: str, timeout: float = 30.0) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        info = persistence(conn)
        if not info[field_name]:
            return info
        assert time.monotonic() < deadline, f"{field_name} still 1 after {timeout}s"
        time.sleep(0.01)


# -- kill -9 under a write load ------------------------------------------------------------------

@dataclass
class Worker:
    """One connection's writes: `sent` counts commands sent, `acked` those whose reply came."""

    index: int
    sent: dict[str, int] = field(default_factory=lambda: {"set": 0, "incr": 0, "rpush": 0})
    acked: dict[str, int] = field(default_factory=lambda: {"set": 0, "incr": 0, "rpush": 0})
    error: BaseException | None = None

    def run(self, port: int, stop: threading.Event) -> None:
        conn = client(port)
        n = 0
        try:
            while not stop.is_set():
                self.sent["set"] = n + 1
                conn.set(f"s:{self.index}:{n}", f"v{n}")
                self.acked["set"] = self.sent["incr"] = n + 1
                conn.incr(f"c:{self.index}")
                self.acked["incr"] = self.sent["rpush"] = n + 1
                conn.rpush(f"l:{self.index}", n)
                self.acked["rpush"] = n + 1
                n += 1
        except redis.ConnectionError:
            pass  # the server was killed
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            self.error = exc

    def check(self, conn: redis.Redis) -> None:
        i, acked, sent = self.index, self.acked, self.sent
        values = conn.mget([f"s:{i}:{n}" for n in range(sent["set"])]) if sent["set"] else []
        lost = [n for n in range(acked["set"]) if values[n] != b"v%d" % n]
        assert not lost, f"worker {i}: acknowledged SETs lost or wrong: {lost[:10]}"
        assert values[acked["set"]:] in ([], [None], [b"v%d" % acked["set"]])
        counter = int(conn.get(f"c:{i}") or 0)
        assert acked["incr"] <= counter <= sent["incr"], f"worker {i}: INCR {counter} {self}"
        items = conn.lrange(f"l:{i}", 0, -1)
        assert acked["rpush"] <= len(items) <= sent["rpush"], f"worker {i}: RPUSH {self}"
        assert items == [b"%d" % n for n in range(len(items))], f"worker {i}: list corrupted"


@dataclass
class PipelineWorker:
    """Batches of 10 SETs in one write (one batch of replies); a batch counts once its replies
    came. Tests that a batch's writes reach the AOF before any of its replies leave."""

    sent: int = 0  # SETs sent
    acked: int = 0
    error: BaseException | None = None

    def run(self, port: int, stop: threading.Event) -> None:
        conn = client(port)
        try:
            while not stop.is_set():
                pipe = conn.pipeline(transaction=False)
                for n in range(self.sent, self.sent + 10):
                    pipe.set(f"p:{n}", f"v{n}")
                self.sent += 10
                pipe.execute()
                self.acked = self.sent
        except redis.ConnectionError:
            pass
        except BaseException as exc:  # noqa: BLE001
            self.error = exc

    def check(self, conn: redis.Redis) -> None:
        values = conn.mget([f"p:{n}" for n in range(self.sent)]) if self.sent else []
        present = [v is not None for v in values]
        assert all(present[: self.acked]), f"acknowledged pipelined SETs lost: {self}"
        assert all(values[n] == b"v%d" % n for n in range(len(values)) if present[n])


@dataclass
class TransactionWorker:
    """MULTI INCR x INCR y EXEC: after the restart x == y (a transaction cut by the kill is
    reverted as a whole), and at least the acknowledged transactions are there."""

    sent: int = 0
    acked: int = 0
    error: BaseException | None = None

    def run(self, port: int, stop: threading.Event) -> None:
        conn = client(port)
        try:
            while not stop.is_set():
                pipe = conn.pipeline(transaction=True)
                pipe.incr("tx:x").incr("tx:y")
                self.sent += 1
                pipe.execute()
                self.acked = self.sent
        except redis.ConnectionError:
            pass
        except BaseException as exc:  # noqa: BLE001
            self.error = exc

    def check(self, conn: redis.Redis) -> None:
        x, y = int(conn.get("tx:x") or 0), int(conn.get("tx:y") or 0)
        assert x == y, f"a transaction was half applied: x={x} y={y}"
        assert self.acked <= x <= self.sent, f"transactions: {x} vs {self}"


def crash_under_load(args: tuple[str, ...], kill_after: float, rewrites: int = 0) -> None:
    """Run the workers, kill -9 the server `kill_after` seconds after `rewrites` AOF rewrites
    have completed, restart, check every worker's writes."""
    server = launch("valkdb", *args)
    watcher = wait_loaded(server.port)
    workers: list[Worker | PipelineWorker | TransactionWorker] = [
        *(Worker(i) for i in range(WORKERS)), PipelineWorker(), TransactionWorker()]
    stop = threading.Event()
    threads = [threading.Thread(target=w.run, args=(server.port, stop)) for w in workers]
    for thread in threads:
        thread.start()
    try:
        deadline = time.monotonic() + 20
        while persistence(watcher)["aof_rewrites"] < rewrites:
            assert time.monotonic() < deadline, "the AOF was not rewritten under the load"
            time.sleep(0.01)
        time.sleep(kill_after)
        kill9(server)
    finally:
        stop.set()
        for thread in threads:
            thread.join(30)
    assert all(w.error is None for w in workers), [w.error for w in workers]
    assert sum(w.acked["set"] for w in workers if isinstance(w, Worker)) > 10, "no load ran"
    conn = restart(server, *args)
    for w in workers:
        w.check(conn)


AOF_SETTINGS = {  # (server options, AOF rewrites to wait for before the random delay)
    "always": (ALWAYS, 0),
    "everysec": (EVERYSEC, 0),
    # The AOF grows past 10% of its base every few hundred milliseconds: kills also land while a
    # rewrite child runs or while the parent switches files and manifests.
    "always-rewriting": ((*ALWAYS, "--auto-aof-rewrite-percentage", "10",
                          "--auto-aof-rewrite-min-size", "64kb"), 1),
}


@pytest.mark.parametrize("setting", AOF_SETTINGS)
@pytest.mark.parametrize("trial", range(CRASH_TRIALS))
def test_kill9_under_write_load_loses_no_acknowledged_write(setting: str, trial: int) -> None:
    args, rewrites = AOF_SETTINGS[setting]
    kill_after = random.uniform(0.2, 0.8)
    try:
        crash_under_load(args, kill_after, rewrites)
    except AssertionError as exc:
        raise AssertionError(f"trial {trial}, kill -9 after {kill_after:.3f}s: {exc}") from exc


@pytest.mark.parametrize("kind", ["redis-server", "valkdb"])
def test_kill9_after_a_served_blmove_keeps_the_move(kind: str) -> None:
    """A BLMOVE served by another client's RPUSH is acknowledged to its client: a kill -9 at that
    moment must not lose the move. The pusher's batch goes on with slow reads (LPOS over a long
    list) so that the kill would land before the batch ends if the served reply left before
    the batch's AOF write (as Redis, the reply must wait for the pusher's flush)."""
    args = ("--appendonly", "yes", "--appendfsync", "always")
    server = launch(kind, *args)
    conn = wait_loaded(server.port)
    for start in range(0, 200_000, 20_000):
        conn.rpush("long", *range(start, start + 20_000))
    served: list[bytes] = []
    waiter = threading.Thread(target=lambda: served.append(
        client(server.port).blmove("src", "dst", 0, "LEFT", "RIGHT")))
    waiter.start()
    while conn.info("clients")["blocked_clients"] == 0:
        time.sleep(0.005)
    lpos = b"*3\r\n$4\r\nLPOS\r\n$4\r\nlong\r\n$4\r\nnone\r\n"
    with socket.create_connection(("127.0.0.1", server.port)) as pusher:
        pusher.sendall(b"*3\r\n$5\r\nRPUSH\r\n$3\r\nsrc\r\n$1\r\nx\r\n" + lpos * 200)
        waiter.join(20)
        assert served == [b"x"]
        kill9(server)
    assert restart(server, *args, kind=kind).lrange("dst", 0, -1) == [b"x"]


# -- what fsync adds, seen with strace -----------------------------------------------------------

class Strace:
    """strace attached to a server's threads, tracing `calls` into strace.txt next to its log,
    with options such as inject=fdatasync:delay_enter=N. Skips the test when strace cannot
    attach."""

    def __init__(self, server: ServerProcess, calls: str, *options: str) -> None:
        self.path = os.path.join(server.cwd, "strace.txt")
        argv = [str(STRACE), "-f", "-ttt", "-T", "-e", f"trace={calls}"]
        for option in options:
            argv += ["-e", option]
        self.proc = subprocess.Popen([*argv, "-p", str(server.proc.pid), "-o", self.path],
                                     stderr=subprocess.PIPE, text=True)
        assert self.proc.stderr is not None
        first = self.proc.stderr.readline()
        if "attached" not in first:
            self.proc.kill()
            pytest.skip(f"strace cannot attach: {first.strip()}")
        time.sleep(0.2)  # every thread attached

    def stop(self) -> list[tuple[str, int, float, float]]:
        """(call, fd, start, end) of every traced call, in the order they started."""
        self.proc.terminate()
        self.proc.wait(10)
        with open(self.path) as f:
            return parse_strace(f.read().splitlines())


CALL = re.compile(r"^(\d+)\s+([\d.]+) (\w+)\((\d+)")
RESUMED = re.compile(r"^(\d+)\s+([\d.]+) <\.\.\. (\w+) resumed>")
DURATION = re.compile(r"<([\d.]+)>$")


def parse_strace(lines: list[str]) -> list[tuple[str, int, float, float]]:
    calls: list[tuple[str, int, float, float]] = []
    unfinished: dict[str, tuple[str, int, float]] = {}  # by thread id
    for line in lines:
        if match := CALL.match(line):
            tid, start, name, fd = match[1], float(match[2]), match[3], int(match[4])
            if line.endswith("<unfinished ...>"):
                unfinished[tid] = (name, fd, start)
            elif duration := DURATION.search(line):
                calls.append((name, fd, start, start + float(duration[1])))
        elif (match := RESUMED.match(line)) and match[1] in unfinished:
            name, fd, start = unfinished.pop(match[1])
            calls.append((name, fd, start, float(match[2])))
    return sorted(calls, key=lambda call: call[2])


def aof_fd(pid: int) -> int:
    """The descriptor of the INCR file the server appends to."""
    for entry in os.listdir(f"/proc/{pid}/fd"):
        try:
            target = os.readlink(f"/proc/{pid}/fd/{entry}")
        except OSError:
            continue
        if target.endswith(".incr.aof"):
            return int(entry)
    raise AssertionError("no open INCR file")


FSYNC_DELAY = 0.3  # seconds strace holds every fdatasync before it starts


@needs_strace
def test_always_replies_wait_for_an_fdatasync_shared_by_concurrent_clients() -> None:
    server = launch("valkdb", *ALWAYS)
    conns = [wait_loaded(server.port) for _ in range(8)]
    for conn in conns:
        conn.ping()  # connected before the timing starts
    trace = Strace(server, "fdatasync",
                   f"inject=fdatasync:delay_enter={int(FSYNC_DELAY * 1e6)}")
    start = time.monotonic()
    conns[0].set("alone", 1)
    alone = time.monotonic() - start
    barrier = threading.Barrier(len(conns))
    latencies: list[float] = []

    def write(conn: redis.Redis, key: str) -> None:
        barrier.wait()
        began = time.monotonic()
        conn.set(key, 1)
        latencies.append(time.monotonic() - began)

    threads = [threading.Thread(target=write, args=(c, f"k{i}")) for i, c in enumerate(conns)]
    start = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    together = time.monotonic() - start
    fsyncs = trace.stop()
    assert alone >= FSYNC_DELAY, f"the reply came {alone:.3f}s after the SET, before the fsync"
    assert len(latencies) == 8 and min(latencies) >= FSYNC_DELAY, latencies
    # One fdatasync per client would take 8 rounds; the writes made during one are covered by
    # the next, so two or three rounds serve everybody.
    assert together < 4 * FSYNC_DELAY, f"8 concurrent SETs took {together:.2f}s: no group commit"
    assert 2 <= len(fsyncs) <= 5, fsyncs


@needs_strace
def test_everysec_fsyncs_every_write_within_two_seconds_about_once_a_second() -> None:
    server = launch("valkdb", *EVERYSEC)
    conn = wait_loaded(server.port)
    fd = aof_fd(server.proc.pid)
    trace = Strace(server, "write,fdatasync")
    load_seconds = 3.0
    worst = 0.0
    started = time.monotonic()
    n = 0
    while time.monotonic() - started < load_seconds:
        began = time.monotonic()
        conn.set(f"k{n}", n)
        worst = max(worst, time.monotonic() - began)
        n += 1
        time.sleep(0.005)
    quiet_since = time.monotonic()
    while persistence(conn)["aof_pending_bio_fsync"] and time.monotonic() < quiet_since + 2:
        time.sleep(0.01)
    assert persistence(conn)["aof_pending_bio_fsync"] == 0, "no fsync end 2s after the load"
    time.sleep(max(0.0, quiet_since + 2.5 - time.monotonic()))
    calls = trace.stop()
    writes = [(start, end) for name, call_fd, start, end in calls
              if name == "write" and call_fd == fd]
    fsyncs = [(start, end) for name, call_fd, start, end in calls
              if name == "fdatasync" and call_fd == fd]
    assert len(writes) > 100, f"only {len(writes)} writes to the AOF"
    late = [end for _, end in writes
            if not any(f_start >= end and f_end <= end + 2.0 for f_start, f_end in fsyncs)]
    assert not late, f"{len(late)} of {len(writes)} writes not fsynced within 2s"
    # About one a second while writes come; once the last write is covered, no more.
    assert 2 <= len(fsyncs) <= load_seconds + 2, fsyncs
    assert sum(start >= writes[-1][1] for start, _ in fsyncs) == 1, fsyncs
    assert worst < 0.5, f"a SET waited {worst:.3f}s: everysec must not wait for the disk"


def resp(*args: bytes) -> bytes:
    return b"*%d\r\n" % len(args) + b"".join(b"$%d\r\n%s\r\n" % (len(a), a) for a in args)


@needs_strace
def test_sigterm_while_an_everysec_fsync_runs_exits_cleanly() -> None:
    """The background fsync is still running (strace holds it 1 s) when SIGTERM comes: the
    shutdown waits for it, fsyncs the AOF once more, and exits 0 with every write kept."""
    server = launch("valkdb", *EVERYSEC)
    conn = wait_loaded(server.port)
    trace = Strace(server, "fdatasync", "inject=fdatasync:delay_enter=1000000")
    conn.set("first", 1)
    time.sleep(1.3)  # the cron has started the everysec fsync, which strace now holds
    conn.set("second", 2)
    server.proc.terminate()
    assert server.proc.wait(10) == 0, server.log()[-2000:]
    trace.stop()
    assert "Calling fsync() on the AOF file." in server.log()
    server = launch("valkdb", *EVERYSEC, cwd=server.cwd)
    assert wait_loaded(server.port).mget("first", "second") == [b"1", b"2"]


@needs_strace
@pytest.mark.parametrize("kind", ["redis-server", "valkdb"])
def test_always_delivers_a_message_published_while_a_subscribe_reply_is_held(kind: str) -> None:
    """With `always` replies wait for their round's fsync (strace makes each take 0.4 s). A
    client subscribes while round A syncs, so its reply waits for round B (which syncs a SET
    sent meanwhile); a message published while B syncs must reach it after that reply."""
    delay = 0.4
    server = launch(kind, *ALWAYS)
    wait_loaded(server.port)
    writer, subscriber, publisher = (
        socket.create_connection(("127.0.0.1", server.port), timeout=5) for _ in range(3))
    trace = Strace(server, "fdatasync", f"inject=fdatasync:delay_enter={int(delay * 1e6)}")
    writer.sendall(resp(b"SET", b"x", b"1"))  # round A
    time.sleep(delay * 0.4)
    writer.sendall(resp(b"SET", b"x", b"2"))  # round B
    subscriber.sendall(resp(b"SUBSCRIBE", b"ch"))
    time.sleep(delay * 1.1)  # within round B's fsync
    subscriber.setblocking(False)
    with pytest.raises(BlockingIOError):  # else the timing failed to set the scene up
        subscriber.recv(1)
    subscriber.settimeout(3 * delay)
    publisher.sendall(resp(b"PUBLISH", b"ch", b"hello"))
    received = b""
    try:
        while not received.endswith(b"hello\r\n"):
            received += subscriber.recv(4096)
    except TimeoutError:
        pass
    trace.stop()
    assert received == (b"*3\r\n$9\r\nsubscribe\r\n$2\r\nch\r\n:1\r\n"
                        b"*3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$5\r\nhello\r\n")


# -- kill -9 around a snapshot child -------------------------------------------------------------

def write_dataset(conn: redis.Redis, version: int) -> None:
    """STRINGS strings plus one key of each other type and deadlines, all naming `version`;
    version 2 also adds keys (so a mix of two versions is visible)."""
    pipe = conn.pipeline(transaction=False)
    for start in range(0, STRINGS, 5000):
        pipe.mset({f"key:{n}": f"v{version}:{n}" for n in range(start, start + 5000)})
    pipe.delete("list", "hash", "set", "zset")
    pipe.rpush("list", *(f"{version}:{n}" for n in range(300)))
    pipe.hset("hash", mapping={f"f{n}": f"{version}:{n}" for n in range(300)})
    pipe.sadd("set", *(f"{version}:{n}" for n in range(300)))
    pipe.zadd("zset", {f"{version}:{n}": n / 7 for n in range(300)})
    pipe.set("expiring", version, ex=3600)
    if version == 2:
        pipe.mset({f"extra:{n}": n for n in range(1000)})
    pipe.execute()


def check_dataset(conn: redis.Redis, version: int, after_fork: int = 0) -> None:
    """Exactly the dataset write_dataset(version) wrote, plus `after_fork` keys after:<n>."""
    expected_keys = STRINGS + 5 + (1000 if version == 2 else 0) + after_fork
    assert conn.dbsize() == expected_keys
    for start in range(0, STRINGS, 20_000):
        names = [f"key:{n}" for n in range(start, start + 20_000)]
        assert conn.mget(names) == [b"v%d:%d" % (version, n) for n in range(start, start + 20_000)]
    assert conn.lrange("list", 0, -1) == [b"%d:%d" % (version, n) for n in range(300)]
    assert conn.hgetall("hash") == {b"f%d" % n: b"%d:%d" % (version, n) for n in range(300)}
    assert conn.smembers("set") == {b"%d:%d" % (version, n) for n in range(300)}
    assert conn.zrange("zset", 0, -1, withscores=True) == [
        (b"%d:%d" % (version, n), n / 7) for n in range(300)]
    assert conn.get("expiring") == b"%d" % version and 3500 < conn.ttl("expiring") <= 3600
    if version == 2:
        assert conn.mget([f"extra:{n}" for n in range(1000)]) == [b"%d" % n for n in range(1000)]
    if after_fork:
        assert conn.mget([f"after:{n}" for n in range(after_fork)]) == [
            b"%d" % n for n in range(after_fork)]


def write_after_fork(conn: redis.Redis, count: int = 1000) -> None:
    conn.mset({f"after:{n}": n for n in range(count)})


def rdb_temp(directory: str, child: int) -> str:
    return os.path.join(directory, f"temp-{child}.rdb")


def aof_temp(directory: str, child: int) -> str:
    return os.path.join(directory, f"temp-rewriteaof-bg-{child}.aof")


def random_part(server: ServerProcess, conn: redis.Redis) -> float:
    """SAVE; a random part of the size of dump.rdb (about that of an RDB-preamble AOF base of
    the same data): where to stop the next child."""
    conn.save()
    return os.path.getsize(os.path.join(server.cwd, "dump.rdb")) * random.uniform(0.05, 0.8)


def pause_child(server: ServerProcess, temp: Callable[[str, int], str], written: float) -> int:
    """Stop (SIGSTOP) the server's child once its temporary file holds `written` bytes, so that
    a kill lands while it works, whatever the speed of the machine; the child's pid."""
    child = child_of(server.proc.pid)
    os.kill(child, signal.SIGSTOP)
    _children.append(child)
    path = temp(server.cwd, child)
    while not os.path.exists(path) or os.path.getsize(path) < written:
        assert running(child), "the child ended before the kill: make the dataset bigger"
        os.kill(child, signal.SIGCONT)
        time.sleep(0.002)
        os.kill(child, signal.SIGSTOP)
    return child


AOF = ("--appendonly", "yes")


def test_kill9_parent_during_bgrewriteaof_restarts_complete() -> None:
    server = launch("valkdb", *AOF)
    conn = wait_loaded(server.port)
    write_dataset(conn, 1)
    written = random_part(server, conn)
    conn.bgrewriteaof()
    write_after_fork(conn)  # into the new INCR file, the child does not see them
    child = pause_child(server, aof_temp, written)
    kill9(server)
    os.kill(child, signal.SIGCONT)  # the orphan finishes its file, which nothing adopts
    wait_ended(child)
    check_dataset(restart(server, *AOF), 1, after_fork=1000)


def test_kill9_of_the_bgrewriteaof_child_loses_nothing() -> None:
    server = launch("valkdb", *AOF)
    conn = wait_loaded(server.port)
    write_dataset(conn, 1)
    written = random_part(server, conn)
    conn.bgrewriteaof()
    os.kill(pause_child(server, aof_temp, written), signal.SIGKILL)
    info = wait_child_done(conn, "aof_rewrite_in_progress")
    assert info["aof_last_bgrewrite_status"] == "err"
    write_dataset(conn, 2)  # the server goes on logging; a later rewrite succeeds
    conn.bgrewriteaof()
    write_after_fork(conn)
    info = wait_child_done(conn, "aof_rewrite_in_progress")
    assert info["aof_last_bgrewrite_status"] == "ok"
    assert not glob.glob(os.path.join(server.cwd, "temp-rewriteaof-*"))
    kill9(server)
    check_dataset(restart(server, *AOF), 2, after_fork=1000)


@pytest.mark.parametrize("child_finishes", [True, False], ids=["orphan-finishes", "both-killed"])
def test_kill9_parent_during_bgsave_leaves_a_complete_snapshot(child_finishes: bool) -> None:
    """The orphaned child completes the snapshot of the fork (as Redis's does); killed with it,
    the previous snapshot stays in place. Never a mix, never a partial file."""
    server = launch()
    conn = wait_loaded(server.port)
    write_dataset(conn, 1)
    written = random_part(server, conn)
    write_dataset(conn, 2)
    conn.bgsave()
    child = pause_child(server, rdb_temp, written)
    kill9(server)
    os.kill(child, signal.SIGCONT if child_finishes else signal.SIGKILL)
    wait_ended(child)
    check_dataset(restart(server), 2 if child_finishes else 1)


def test_kill9_of_the_bgsave_child_keeps_the_previous_snapshot() -> None:
    server = launch()
    conn = wait_loaded(server.port)
    write_dataset(conn, 1)
    written = random_part(server, conn)
    write_dataset(conn, 2)
    conn.bgsave()
    os.kill(pause_child(server, rdb_temp, written), signal.SIGKILL)
    info = wait_child_done(conn, "rdb_bgsave_in_progress")
    assert info["rdb_last_bgsave_status"] == "err"
    assert not glob.glob(os.path.join(server.cwd, "temp-*.rdb"))
    kill9(server)
    again = launch(cwd=server.cwd)
    conn = wait_loaded(again.port)
    check_dataset(conn, 1)
    write_dataset(conn, 2)
    conn.bgsave()  # and a later save succeeds
    assert wait_child_done(conn, "rdb_bgsave_in_progress")["rdb_last_bgsave_status"] == "ok"
    kill9(again)
    check_dataset(restart(again), 2)


@pytest.mark.parametrize("kind", ["redis-server", "valkdb"])
def test_kill9_parent_during_bgsave_frees_the_port(kind: str) -> None:
    """The child closes the listening sockets it inherits (closeChildUnusedResourceAfterFork):
    an orphan that kept them would accept connections it never serves, and a restart on the
    same port would fail with EADDRINUSE until the child ends."""
    server = launch(kind)
    conn = wait_loaded(server.port)
    pipe = conn.pipeline(transaction=False)
    for start in range(0, 300_000, 10_000):  # redis-server's child runs long enough to be found
        pipe.mset({f"key:{n}": n for n in range(start, start + 10_000)})
    pipe.execute()
    conn.bgsave()
    # Stopped once it writes (past its set-up, where Redis's closes the listeners), so that it
    # is still at work when its parent dies, however fast it is.
    pause_child(server, rdb_temp, 1)
    kill9(server)
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", server.port), timeout=2).close()
