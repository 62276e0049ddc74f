"""What each write command propagates: valkdb's AOF stream against redis-server 7.0.15's.

Both servers run with `appendonly yes`, `appendfsync always` and no RDB preamble, so every
command reaches the INCR file before its reply leaves (Redis writes and fsyncs in beforeSleep
before it sends replies; valkdb holds replies until its flush round). The same steps are sent
to both; after each step the bytes the INCR file grew by are parsed (tests/compat/aof_stream.py)
and compared, step by step:

1. whether anything was propagated at all: a write that changed nothing (DEL of a missing key,
   SADD of a present member, SET NX on an existing key, LTRIM that keeps everything...) must
   log nothing, like an error; a real change must log something;
2. the commands themselves, SELECT lines and MULTI/EXEC wrappers included, byte for byte except
   where Redis itself logs a time or a chance:
   - relative and absolute expiries are logged as absolute deadlines (PEXPIREAT key <ms>,
     SET ... PXAT <ms>): the deadline is compared as a placeholder, and the two servers'
     deadlines must be within STAMP_TOLERANCE_MS of each other (each computed from its own
     clock a few ms apart);
   - XREADGROUP and XCLAIM log XCLAIM ... TIME <ms>: compared as a deadline is;
   - SPOP is logged as SREM of the members it popped: compare how many, not which (and each
     server's SREM must name the members its own reply returned);
   - after waiting for a deadline, whether the key was deleted by active expiry (a bare DEL) or
     by the access (Redis 7.0 wraps the DEL and the command in MULTI/EXEC) is a race in Redis
     itself: in the step after such a wait the MULTI/EXEC lines are not compared.

Each corpus step may carry what redis-server does, checked against it first (so the corpus
documents Redis's behaviour and cannot silently drift): `+` logs something, `-` logs nothing
and is not an error, `!` is an error and logs nothing. Every write command valkdb lists in
COMMAND INFO must have a `+` step and, unless no no-op exists for it (ALWAYS_PROPAGATED), a `-`
step. hypothesis then draws short random sequences over three keys.

Step syntax: `CMD args` runs on client A; `B: CMD args` on client B (each client has its own
connection to each server); `A> CMD` sends a blocking command without waiting (until the server
counts it as blocked); `A<` reads its reply; `~100` waits 100 ms (what is logged meanwhile counts
for the next step); a tuple of these is one step, measured once at its end. `{s+100}` and
`{ms-5000}` stand for the Unix time in s or ms plus an offset; `{target}` for the port of a
third server (a redis-server) that MIGRATE steps move keys to.
"""

from __future__ import annotations

import re
import shlex
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.compat.aof_stream import AofTail, format_commands, parse_commands
from tests.compat.propagation_bitmaps import BITMAPS
from tests.compat.propagation_dump import DUMP
from tests.compat.propagation_geo import GEO
from tests.compat.propagation_hyperloglog import ALWAYS_PROPAGATED_HYPERLOGLOG, HYPERLOGLOG
from tests.compat.propagation_sort import SORT
from tests.compat.propagation_streams import ALWAYS_PROPAGATED_STREAMS, STREAMS
from tests.compat.resp import RawConnection, bulk_value, elements, encode_command, read_reply
from tests.support import ServerProcess, start_redis, start_valkdb
from valkdb.persistence.rdb import function_payload

AOF_ARGS = ("--appendonly", "yes", "--appendfsync", "always", "--aof-use-rdb-preamble", "no",
            "--aof-timestamp-enabled", "no", "--auto-aof-rewrite-percentage", "0")
STAMP_TOLERANCE_MS = 2000
SIDES = ("valkdb", "redis")

# Write commands for which no no-op exists: they log something whenever they do not fail
# (Redis 7.0: FLUSHALL/FLUSHDB force propagation; SWAPDB, MSET, GETSET, SETEX, PSETEX, APPEND,
# INCR..., HSET/HMSET, HINCRBY(FLOAT), LPUSH/RPUSH and LSET always count as a change).
ALWAYS_PROPAGATED = frozenset((
    "flushall", "flushdb", "swapdb", "mset", "getset", "setex", "psetex", "append", "incr",
    "decr", "incrby", "decrby", "incrbyfloat", "hset", "hmset", "hincrby", "hincrbyfloat",
    "lpush", "rpush", "lset",
    # the FUNCTION commands count a change whenever they succeed (functions.c: server.dirty++)
    "function|load", "function|delete", "function|flush", "function|restore",
)) | ALWAYS_PROPAGATED_STREAMS | ALWAYS_PROPAGATED_HYPERLOGLOG

_CONTAINERS = frozenset(("function", "script", "config", "client", "object", "xgroup"))
_ANNOTATION = re.compile(r"([-+!]) (.*)$", re.S)
_ACTION = re.compile(r"([A-Z])([:<>])\s*(.*)$", re.S)
_TEMPLATE = re.compile(r"\{(s|ms)([+-]\d+)\}")


# -- steps ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Action:
    kind: str  # "call", "send" (a blocking command, reply read later), "read", "sleep"
    who: str = "A"
    args: tuple[str, ...] = ()
    seconds: float = 0.0

    def text(self) -> str:
        if self.kind == "sleep":
            return f"~{round(self.seconds * 1000)}"
        if self.kind == "read":
            return f"{self.who}<"
        prefix = {"call": f"{self.who}: ", "send": f"{self.who}> "}[self.kind]
        return prefix + " ".join(shlex.quote(arg) for arg in self.args)


@dataclass(frozen=True)
class Step:
    actions: tuple[Action, ...]
    expect: str | None = None  # "+", "-", "!": what redis-server does (checked)

    def text(self) -> str:
        label = " ; ".join(action.text() for action in self.actions)
        return f"{self.expect} {label}" if self.expect else label

    @property
    def sleeps_only(self) -> bool:
        return all(action.kind == "sleep" for action in self.actions)

    def simple_command(self) -> str | None:
        """The command of a step that is one plain call (what coverage counts), with its
        subcommand for a container ("function|load")."""
        if len(self.actions) == 1 and self.actions[0].kind == "call":
            args = self.actions[0].args
            name = args[0].lower()
            if name in _CONTAINERS and len(args) > 1:
                return f"{name}|{args[1].lower()}"
            return name
        return None


def parse_action(text: str) -> Action:
    text = text.strip()
    if text.startswith("~"):
        return Action("sleep", seconds=int(text[1:]) / 1000)
    match = _ACTION.match(text)
    who, op, rest = match.groups() if match else ("A", ":", text)
    if op == "<":
        assert not rest, text
        return Action("read", who)
    args = tuple(shlex.split(rest))
    assert args and args[0][:1].isalpha(), f"not a command: {text!r} (an annotation goes first)"
    return Action("call" if op == ":" else "send", who, args)


def parse_step(spec: str | tuple[str, ...]) -> Step:
    texts = (spec,) if isinstance(spec, str) else spec
    first = texts[0]
    expect = None
    match = _ANNOTATION.match(first)
    if match:
        expect, first = match.groups()
    return Step(tuple(parse_action(text) for text in (first, *texts[1:])), expect)


_MIGRATION_TARGET: list[int] = []  # the port {target} stands for, while the pair runs


def expand(arg: str) -> bytes:
    """{s+100}: the Unix time in seconds plus 100; {ms-5000}: in milliseconds minus 5000."""
    def now(match: re.Match) -> str:
        unit, offset = match.groups()
        base = time.time() * (1000 if unit == "ms" else 1)
        return str(int(base) + int(offset))
    if "{target}" in arg:
        arg = arg.replace("{target}", str(_MIGRATION_TARGET[0]))
    return _TEMPLATE.sub(now, arg).encode("latin-1")  # any byte, as a \\xHH escape


# -- the two servers --------------------------------------------------------------------------


class Side:
    """One server: its AOF tail, an admin connection (db 0) and the steps' clients."""

    def __init__(self, name: str, server: ServerProcess, data_dir: Path) -> None:
        self.name = name
        self.server = server
        self.tail = AofTail(data_dir)
        self.admin = RawConnection(server.port, timeout=10)
        self.clients: dict[str, RawConnection] = {}

    def client(self, who: str) -> RawConnection:
        if who not in self.clients:
            self.clients[who] = RawConnection(self.server.port, timeout=10)
        return self.clients[who]

    def blocked_clients(self) -> int:
        info = bulk_value(self.admin.call(b"INFO", b"clients")) or b""
        for line in info.decode().splitlines():
            if line.startswith("blocked_clients:"):
                return int(line.split(":")[1])
        raise AssertionError(f"{self.name}: no blocked_clients in INFO clients: {info!r}")

    def wait_blocked(self, count: int, what: str) -> None:
        deadline = time.monotonic() + 5
        while (seen := self.blocked_clients()) != count:
            if time.monotonic() > deadline:
                raise AssertionError(f"{self.name}: {seen} blocked clients, not {count}, "
                                     f"after {what}")
            time.sleep(0.005)

    def close_clients(self) -> None:
        for conn in self.clients.values():
            conn.close()
        self.clients.clear()

    def close(self) -> None:
        self.close_clients()
        self.admin.close()


@dataclass
class Outcome:
    step: Step
    replies: dict[str, list[bytes]]
    data: dict[str, bytes]
    commands: dict[str, list[list[bytes]]]
    random_pop: bool = False  # the step ran SPOP (directly or in its EXEC)
    after_wait: bool = False  # the step follows a wait for a deadline (see the module doc)

    def row(self, index: int) -> str:
        replies = " | ".join(f"{side} {_short(b''.join(self.replies[side]))}" for side in SIDES)
        logged = " | ".join(f"{side}: {format_commands(self.commands[side])}" for side in SIDES)
        return f"  {index:2}. {self.step.text()}\n      replies  {replies}\n      logged   {logged}"


def _short(reply: bytes, limit: int = 80) -> str:
    text = repr(reply)[1:]
    return text if len(text) <= limit else text[:limit] + "..."


class Divergence(AssertionError):
    pass


class CorpusError(AssertionError):
    """redis-server does not do what a corpus step says: the corpus is wrong, not valkdb."""


class Pair:
    """valkdb and redis-server with their AOF tails, driven step by step in lockstep."""

    def __init__(self, valkdb: tuple[ServerProcess, Path], redis: tuple[ServerProcess, Path]):
        self.sides = {"valkdb": Side("valkdb", *valkdb), "redis": Side("redis", *redis)}
        self.queued: dict[str, list[str]] = {}  # client -> commands queued since its MULTI
        self.pending_sends: dict[str, str] = {}  # client -> the blocking command it waits in
        self.history: list[Outcome] = []
        self.waited = False

    def close(self) -> None:
        for side in self.sides.values():
            side.close()

    def reset(self) -> None:
        """Fresh clients, empty datasets, and both AOFs with db 0 as the last SELECT."""
        for side in self.sides.values():
            side.close_clients()
            side.wait_blocked(0, "closing the previous clients")
            for command in ((b"SET", b"propagation:reset", b"1"), (b"FLUSHALL",)):
                reply = side.admin.call(*command)
                assert reply == b"+OK\r\n", (side.name, command, reply)
            parse_commands(side.tail.take())
        self.queued.clear()
        self.pending_sends.clear()
        self.history.clear()
        self.waited = False

    def run(self, steps: list[Step], title: str) -> None:
        for step in steps:
            outcome = self.run_step(step)
            if outcome is None:
                continue
            if step.expect is not None:
                self.check_expectation(outcome, title)
            self.compare(outcome, title)
            self.history.append(outcome)

    def run_step(self, step: Step) -> Outcome | None:
        replies: dict[str, list[bytes]] = {side: [] for side in SIDES}
        names: list[str] = []
        for action in step.actions:
            if action.kind == "sleep":
                time.sleep(action.seconds)
                self.waited = True
                continue
            argv = tuple(expand(arg) for arg in action.args)
            for name, side in self.sides.items():
                conn = side.client(action.who)
                if action.kind == "call":
                    replies[name].append(conn.call(*argv))
                elif action.kind == "send":
                    before = side.blocked_clients()
                    conn.sock.sendall(encode_command(argv))
                    side.wait_blocked(before + 1, action.text())
                else:
                    replies[name].append(read_reply(conn.stream))
            names += self._track(action, replies["redis"][-1:] if action.kind != "send" else [])
        if step.sleeps_only:
            return None  # what was logged meanwhile counts for the next step
        data = {name: side.tail.take() for name, side in self.sides.items()}
        commands = {}
        for name, chunk in data.items():
            try:
                commands[name] = parse_commands(chunk)
            except ValueError as exc:
                raise Divergence(f"{name} appended malformed AOF data after {step.text()}: "
                                 f"{exc}\n{chunk!r}") from None
        after_wait, self.waited = self.waited, False
        return Outcome(step, replies, data, commands, "spop" in names, after_wait)

    def _track(self, action: Action, reply: list[bytes]) -> list[str]:
        """The commands this action ran (an EXEC runs what was queued), from Redis's replies."""
        who = action.who
        if action.kind == "send":
            self.pending_sends[who] = action.args[0].lower()
            return []
        if action.kind == "read":
            return [self.pending_sends.pop(who, "")]
        name = action.args[0].lower()
        if name == "multi" and reply == [b"+OK\r\n"]:
            self.queued[who] = []
            return [name]
        if who in self.queued:
            if name in ("exec", "discard"):
                return [name, *self.queued.pop(who)]
            if reply == [b"+QUEUED\r\n"]:
                self.queued[who].append(name)
                return []
        return [name]

    # -- checks -------------------------------------------------------------------------------

    def check_expectation(self, outcome: Outcome, title: str) -> None:
        logged = bool(outcome.commands["redis"])
        errors = [reply for reply in outcome.replies["redis"] if reply.startswith(b"-")]
        wanted = {"+": logged, "-": not logged and not errors, "!": not logged and bool(errors)}
        if not wanted[outcome.step.expect or "+"]:
            raise CorpusError(self.explain(
                outcome, title, f"the corpus says `{outcome.step.expect}` (+ logs, - no-op, "
                "! error) but redis-server does otherwise: fix the corpus"))

    def compare(self, outcome: Outcome, title: str) -> None:
        ours, theirs = outcome.commands["valkdb"], outcome.commands["redis"]
        if bool(ours) != bool(theirs):
            problem = ("valkdb propagated something where redis-server propagated nothing"
                       if ours else "valkdb propagated nothing where redis-server did")
            raise Divergence(self.explain(outcome, title, problem))
        our_shape, our_stamps = normalise(ours, outcome)
        their_shape, their_stamps = normalise(theirs, outcome)
        if our_shape != their_shape:
            raise Divergence(self.explain(outcome, title, "the propagated commands differ"))
        for ours_ms, theirs_ms in zip(our_stamps, their_stamps, strict=True):
            if abs(ours_ms - theirs_ms) > STAMP_TOLERANCE_MS:
                raise Divergence(self.explain(
                    outcome, title, f"the propagated deadlines differ by {ours_ms - theirs_ms} "
                    f"ms (more than {STAMP_TOLERANCE_MS})"))
        if outcome.random_pop and outcome.step.simple_command() == "spop":
            for side in SIDES:
                problem = _spop_mismatch(outcome.replies[side][0], outcome.commands[side])
                if problem:
                    raise Divergence(self.explain(outcome, title, f"{side}: {problem}"))

    def explain(self, outcome: Outcome, title: str, problem: str) -> str:
        lines = [f"{title}: {problem}", f"at step: {outcome.step.text()}"]
        if self.history:
            lines.append("after:")
            lines += [previous.row(i) for i, previous in enumerate(self.history, 1)]
        else:
            lines.append("(the first step)")
        for side in SIDES:
            lines.append(f"{side:6} replied  {b''.join(outcome.replies[side])!r}")
            lines.append(f"{side:6} logged   {len(outcome.data[side])} bytes "
                         f"{outcome.data[side]!r}")
            lines.append(f"{'':6}          = {format_commands(outcome.commands[side])}")
        return "\n".join(lines)


def normalise(commands: list[list[bytes]], outcome: Outcome) -> tuple[list[tuple], list[int]]:
    """The commands with deadlines and randomly popped members replaced by placeholders, and the
    deadlines (ms) in order."""
    shape: list[tuple] = []
    stamps: list[int] = []

    def stamp(value: bytes) -> bytes:
        try:
            stamps.append(int(value))
        except ValueError:
            return value  # not a number: compared as it is
        return b"<ms>"

    for argv in commands:
        name = argv[0].upper()
        if outcome.after_wait and name in (b"MULTI", b"EXEC"):
            continue
        args = list(argv)
        if name == b"PEXPIREAT" and len(args) > 2:
            args[2] = stamp(args[2])
        elif name in (b"RESTORE", b"RESTORE-ASKING") and len(args) > 2 and args[2] != b"0":
            args[2] = stamp(args[2])
        elif name == b"SET":
            for i in range(3, len(args) - 1):
                if args[i].upper() == b"PXAT":
                    args[i + 1] = stamp(args[i + 1])
        elif name == b"XCLAIM":  # the delivery time of a claimed or read entry
            for i in range(6, len(args) - 1):
                if args[i].upper() == b"TIME":
                    args[i + 1] = stamp(args[i + 1])
        elif name == b"SREM" and outcome.random_pop:
            args[2:] = [b"<%d members>" % (len(args) - 2)]
        shape.append(tuple(args))
    return shape, stamps


def _spop_mismatch(reply: bytes, commands: list[list[bytes]]) -> str | None:
    """An SPOP's SREM must name exactly the members its reply returned."""
    if reply.startswith(b"$") and not reply.startswith(b"$-1"):
        popped = [bulk_value(reply)]
    elif reply.startswith(b"*") and not reply.startswith(b"*-1"):
        popped = [bulk_value(item) for item in elements(reply)]
    else:
        return None
    removed = [member for argv in commands if argv[0].upper() == b"SREM" for member in argv[2:]]
    if any(argv[0].upper() == b"DEL" for argv in commands):
        return None  # the whole set went
    if sorted(removed) != sorted(popped):
        return f"SREM names {removed!r} but the reply popped {popped!r}"
    return None


# -- fixtures ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def pair(tmp_path_factory):
    valkdb_dir = tmp_path_factory.mktemp("valkdb-aof")
    redis_dir = tmp_path_factory.mktemp("redis-aof")
    valkdb = start_valkdb(*AOF_ARGS, "--dir", str(valkdb_dir), cwd=str(valkdb_dir))
    try:
        redis = start_redis(*AOF_ARGS, "--dir", str(redis_dir))
    except Exception:
        valkdb.stop()
        raise
    target = None
    try:
        target = start_redis("--save", "")
        _MIGRATION_TARGET[:] = [target.port]
        both = Pair((valkdb, valkdb_dir), (redis, redis_dir))
        try:
            yield both
        finally:
            both.close()
    finally:
        _MIGRATION_TARGET.clear()
        for server in (valkdb, redis, target):
            if server is not None:
                server.stop()


# -- the corpus -------------------------------------------------------------------------------

Spec = str | tuple[str, ...]

STRINGS: dict[str, list[Spec]] = {
    "set: new and existing keys": ["+ SET k v", "+ SET k w", "+ SET k ''"],
    "set: lowercase names are logged as sent, rewrites in Redis's own case": [
        "+ set k v", "+ set k v ex 100", "+ Set k w xx px 100000"],
    "set: every expiry form becomes PXAT": [
        "+ SET k v EX 100", "+ SET k v PX 100000", "+ SET k v EXAT {s+100}",
        "+ SET k v PXAT {ms+100000}"],
    "set: NX/XX/GET that do nothing": [
        "+ SET k v", "- SET k w NX", "- SET k w NX EX 100", "- SET missing v XX",
        "- SET missing v XX PX 100000", "- SET k w NX GET", "- GET k"],
    "set: NX/XX/GET that change": [
        "+ SET k v NX EX 100", "+ SET k w XX", "+ SET k x XX GET PX 100000", "+ SET k y GET",
        "+ SET j v NX GET"],
    "set: KEEPTTL": ["+ SET k v EX 100", "+ SET k w KEEPTTL", "+ SET k x KEEPTTL GET",
                     "+ SET k y"],
    "set: errors": [
        "! SET k v EX 0", "! SET k v PX -1", "! SET k v NX XX", "! SET k v EX 10 PX 10",
        "! SET k v EX abc", "! SET k v KEEPTTL EX 10", "+ LPUSH q a", "! SET q v GET"],
    "set: a deadline in the past": [("+ SET k v EXAT {s-100}", "EXISTS k"),
                                    ("+ SET j v PXAT 1", "GET j")],
    "setnx": ["+ SETNX k v", "- SETNX k w", "- GET k"],
    "setex and psetex": [
        "+ SETEX k 100 v", "+ PSETEX k 100000 w", "+ setex k 100 x", "! SETEX k 0 v",
        "! PSETEX k -5 v", "! SETEX k abc v"],
    "getset": ["+ GETSET k v", "+ SET j v EX 100", "+ GETSET j w", "+ LPUSH q a",
               "! GETSET q v"],
    "getdel": ["- GETDEL missing", "+ SET k v", "+ GETDEL k", "- GETDEL k", "+ LPUSH q a",
               "! GETDEL q"],
    "getex: no options, PERSIST without a deadline, missing keys": [
        "+ SET k v", "- GETEX k", "- GETEX k PERSIST", "- GETEX missing EX 100",
        "- GETEX missing PERSIST", "! GETEX k EX 0", "! GETEX k EX 10 PX 10"],
    "getex: every expiry form becomes PEXPIREAT, PERSIST stays": [
        "+ SET k v", "+ GETEX k EX 100", "+ GETEX k PX 100000", "+ GETEX k EXAT {s+100}",
        "+ GETEX k PXAT {ms+100000}", "+ GETEX k PERSIST", "- GETEX k PERSIST"],
    "getex: a deadline in the past deletes": [
        "+ SET k v", "+ GETEX k EXAT {s-100}", "- EXISTS k", "+ SET j v",
        "+ GETEX j PXAT 1", "- GETEX j PXAT 1"],
    "mset": ["+ MSET a 1 b 2", "+ MSET a 1", "+ SET c 3 EX 100", "+ MSET c 4",
             "! MSET a 1 b"],
    "msetnx": ["+ MSETNX a 1 b 2", "- MSETNX a 1 c 3", "- MSETNX a 9", "- EXISTS c",
               "+ MSETNX c 3 d 4"],
    "append": ["+ APPEND k ab", "+ APPEND k cd", "+ APPEND k ''", "+ APPEND fresh ''",
               "+ LPUSH q a", "! APPEND q x"],
    "setrange": [
        "- SETRANGE k 0 ''", "- SETRANGE k 5 ''", "- EXISTS k", "+ SETRANGE k 2 x",
        "+ SETRANGE k 0 ab", "- SETRANGE k 5 ''", "+ SETRANGE k 10 z", "! SETRANGE k -1 x",
        "+ LPUSH q a", "! SETRANGE q 0 x"],
    "incr, decr, incrby, decrby": [
        "+ INCR n", "+ INCRBY n 5", "+ INCRBY n 0", "+ DECR n", "+ DECRBY n 3",
        "+ DECRBY n -3", "+ SET s abc", "! INCR s", "! DECR s", "! INCRBY n abc",
        "! DECRBY s 1", "+ SET big 9223372036854775807", "! INCR big"],
    "incr keeps a deadline": ["+ SET n 1 EX 100", "+ INCR n", "+ DECRBY n 5"],
    "incrbyfloat is logged as SET ... KEEPTTL": [
        "+ INCRBYFLOAT f 1.5", "+ INCRBYFLOAT f 0", "+ INCRBYFLOAT f -0.25",
        "+ INCRBYFLOAT f 1e3", "+ SET n 10 EX 100", "+ INCRBYFLOAT n 0.1",
        "+ SET s abc", "! INCRBYFLOAT s 1", "! INCRBYFLOAT f abc", "! INCRBYFLOAT f inf"],
}

KEYS: dict[str, list[Spec]] = {
    "del": ["- DEL missing", "- DEL missing other", "+ SET a 1", "+ SET b 2", "+ DEL a",
            "+ DEL b missing", "- DEL a b", "+ SET a 1", "+ DEL a a", "+ LPUSH q x",
            "+ del q"],
    "unlink": ["- UNLINK missing", "- UNLINK missing other", "+ SET a 1", "+ SET b 2",
               "+ UNLINK a", "+ UNLINK missing b", "- UNLINK a b"],
    "expire: NX/XX/GT/LT on a key with a deadline": [
        "- EXPIRE missing 100", "+ SET k v", "+ EXPIRE k 100", "- EXPIRE k 100 NX",
        "+ EXPIRE k 200 XX", "- EXPIRE k 50 GT", "+ EXPIRE k 300 GT", "+ EXPIRE k 250 LT",
        "- EXPIRE k 400 LT", "! EXPIRE k abc", "! EXPIRE k 100 NX XX", "! EXPIRE k 10 FOO"],
    "expire: NX/XX/GT/LT on a key without one": [
        "+ SET k v", "- EXPIRE k 100 XX", "- EXPIRE k 100 GT", "+ EXPIRE k 100 LT",
        "+ PERSIST k", "+ EXPIRE k 100 NX"],
    "expire family: a deadline in the past deletes the key": [
        "+ SET k v", "+ EXPIRE k 0", "- EXPIRE k 0", "- EXISTS k", "+ SET k v",
        "+ EXPIRE k -100", "+ SET k v", "+ PEXPIRE k -1", "+ SET k v",
        "+ EXPIREAT k {s-100}", "+ SET k v", "+ PEXPIREAT k 1", "- PEXPIREAT k 1"],
    "pexpire, expireat, pexpireat": [
        "- PEXPIRE missing 100000", "- EXPIREAT missing {s+100}",
        "- PEXPIREAT missing {ms+100000}", "+ SET k v", "+ PEXPIRE k 100000",
        "+ EXPIREAT k {s+200}", "+ PEXPIREAT k {ms+300000}", "- PEXPIREAT k {ms+100000} GT",
        "- EXPIREAT k {s+100} NX", "+ pexpire k 50000 lt", "+ PEXPIREAT k {ms+400000} XX",
        "! PEXPIRE k abc"],
    "persist": ["- PERSIST missing", "+ SET k v", "- PERSIST k", "+ EXPIRE k 100",
                "+ PERSIST k", "- PERSIST k"],
    "rename": ["! RENAME missing x", "! RENAME missing missing", "+ SET a 1", "+ RENAME a b",
               "+ SET c 3 EX 100", "+ RENAME c b", "- RENAME b b", "- GET b"],
    "renamenx": ["! RENAMENX missing x", "+ SET a 1", "+ SET b 2", "- RENAMENX a b",
                 "+ RENAMENX a c", "- RENAMENX c c", "! RENAMENX a d"],
    "copy": ["- COPY missing b", "+ SET a 1 EX 100", "+ COPY a b", "- COPY a b",
             "+ COPY a b REPLACE", "+ COPY a b DB 3", "- COPY a b DB 3", "! COPY a a",
             "+ COPY a a DB 4", "- COPY missing a DB 4 REPLACE", "! COPY a b DB 99"],
    "move": ["- MOVE missing 3", "+ SET a 1", "+ MOVE a 3", "- EXISTS a", "+ SET a 2",
             "- MOVE a 3", "! MOVE a 0", "! MOVE a 99", "- SELECT 3", "+ MOVE a 5"],
    "swapdb": ["+ SET a 1", "+ SWAPDB 0 1", "+ SWAPDB 1 0", "+ SWAPDB 2 3", "+ SWAPDB 0 0",
               "! SWAPDB 0 99", "! SWAPDB a 1", "- EXISTS a"],
    "flushall": ["+ FLUSHALL", "+ SET a 1", "+ FLUSHALL", "+ FLUSHALL ASYNC",
                 "+ FLUSHALL SYNC", "! FLUSHALL LAZY", "- SELECT 3", "+ FLUSHALL"],
    "flushdb": ["+ FLUSHDB", "- SELECT 3", "+ FLUSHDB", "+ SET a 1", "+ FLUSHDB ASYNC",
                "! FLUSHDB x", "- SELECT 0", "+ FLUSHDB SYNC"],
}

LISTS: dict[str, list[Spec]] = {
    "lpush and rpush": ["+ LPUSH q a b", "+ RPUSH q c", "+ RPUSH q a", "+ SET s x",
                        "! LPUSH s a", "! RPUSH s a"],
    "lpushx and rpushx": ["- LPUSHX missing a", "- RPUSHX missing a b", "+ RPUSH q a",
                          "+ LPUSHX q b", "+ RPUSHX q c d", "+ SET s x", "! LPUSHX s a"],
    "lpop and rpop": [
        "- LPOP missing", "- RPOP missing 2", "+ RPUSH q a b c d e", "+ LPOP q", "+ RPOP q",
        "+ LPOP q 2", "- LPOP q 0", "+ RPOP q 5", "- LPOP q", "- RPOP q 1", "! LPOP q -1",
        "+ SET s x", "! RPOP s"],
    "lrem": ["- LREM missing 0 a", "+ RPUSH q a b a c a", "- LREM q 0 zz", "+ LREM q 1 a",
             "+ LREM q -1 a", "+ LREM q 0 a", "- LREM q 0 a", "+ LREM q 0 b", "+ LREM q 5 c",
             "- EXISTS q", "+ SET s x", "! LREM s 0 a"],
    "lset": ["! LSET missing 0 x", "+ RPUSH q a b", "+ LSET q 0 x", "+ LSET q -1 y",
             "+ LSET q 0 x", "! LSET q 5 z"],
    "ltrim": ["- LTRIM missing 0 1", "+ RPUSH q a b c d", "- LTRIM q 0 -1", "+ LTRIM q 1 -1",
              "- LTRIM q 0 100", "- LTRIM q -100 100", "+ LTRIM q 5 1", "- EXISTS q",
              "- LTRIM q 0 1", "+ SET s x", "! LTRIM s 0 1"],
    "linsert": ["- LINSERT missing BEFORE a x", "+ RPUSH q a b", "- LINSERT q BEFORE zz x",
                "+ LINSERT q BEFORE a x", "+ LINSERT q AFTER b y", "! LINSERT q MIDDLE a x"],
    "lmove and rpoplpush": [
        "- LMOVE missing r LEFT RIGHT", "- RPOPLPUSH missing r", "+ RPUSH q a b c",
        "+ LMOVE q r LEFT RIGHT", "+ RPOPLPUSH q r", "+ LMOVE q q RIGHT LEFT",
        "+ RPOPLPUSH q q", "+ LMOVE q r LEFT LEFT", "- LMOVE q r LEFT RIGHT", "+ SET s x",
        "! LMOVE r s LEFT RIGHT", "! RPOPLPUSH s r", "- LLEN r", "+ lmove r r left right",
        "+ LMove r r Right Left"],
    "lmpop": ["- LMPOP 2 m1 m2 LEFT", "- LMPOP 1 m1 RIGHT COUNT 3", "+ RPUSH q a b c d",
              "+ LMPOP 2 m1 q LEFT", "+ LMPOP 1 q RIGHT COUNT 2", "+ LMPOP 1 q LEFT COUNT 9",
              "- LMPOP 1 q LEFT", "! LMPOP 0 q LEFT", "! LMPOP 1 q LEFT COUNT 0"],
    "blpop and brpop served at once": [
        "- BLPOP missing 0.01", "- BRPOP m1 m2 0.01", "+ RPUSH q a b c d",
        "+ BLPOP missing q 0", "+ BRPOP q 1", "+ blpop q 0", "+ BRPOP m q 0", "- LLEN q",
        "+ SET s x", "! BLPOP s 0"],
    "blmove and brpoplpush served at once": [
        "- BLMOVE missing r LEFT RIGHT 0.01", "- BRPOPLPUSH missing r 0.01",
        "+ RPUSH q a b c", "+ BLMOVE q r LEFT RIGHT 0", "+ BRPOPLPUSH q r 0",
        "+ BLMOVE q q RIGHT LEFT 0", "+ blmove r r left right 0", "+ BLMOVE q r RIGHT LEFT 0",
        "- LLEN q"],
    "blmpop served at once": [
        "- BLMPOP 0.01 2 m1 m2 LEFT", "+ RPUSH q a b c", "+ BLMPOP 0 2 m q LEFT",
        "+ BLMPOP 0 1 q RIGHT COUNT 10", "- BLMPOP 0.01 1 q LEFT COUNT 2"],
}

HASHES: dict[str, list[Spec]] = {
    "hset": ["+ HSET h f v", "+ HSET h f v", "+ HSET h f w g x", "+ SET s x", "! HSET s f v",
             "! HSET h f"],
    "hmset": ["+ HMSET h f v", "+ HMSET h f v g w", "+ SET s x", "! HMSET s f v"],
    "hsetnx": ["+ HSETNX h f v", "- HSETNX h f w", "+ HSETNX h g w", "+ SET s x",
               "! HSETNX s f v"],
    "hdel": ["- HDEL missing f", "+ HSET h f v g w x y", "- HDEL h zz", "+ HDEL h f zz",
             "+ HDEL h g x", "- HDEL h f", "- EXISTS h", "+ SET s x", "! HDEL s f"],
    "hincrby": ["+ HINCRBY h n 1", "+ HINCRBY h n 0", "+ HINCRBY h n -5", "+ HSET h s x",
                "! HINCRBY h s 1", "! HINCRBY h n abc"],
    "hincrbyfloat is logged as HSET": [
        "+ HINCRBYFLOAT h n 1.5", "+ HINCRBYFLOAT h n 0", "+ HINCRBYFLOAT h n -0.5",
        "+ HSET h i 3", "+ HINCRBYFLOAT h i 0.25", "+ HSET h s x", "! HINCRBYFLOAT h s 1"],
}

SETS: dict[str, list[Spec]] = {
    "sadd": ["+ SADD s a b", "- SADD s a", "- SADD s b a", "+ SADD s a c", "+ SET k x",
             "! SADD k a"],
    "srem": ["- SREM missing a", "+ SADD s a b c", "- SREM s zz", "+ SREM s a zz",
             "+ SREM s b c", "- SREM s a", "- EXISTS s", "+ SET k x", "! SREM k a"],
    "smove": ["- SMOVE missing t a", "+ SADD s a b c", "- SMOVE s t zz", "+ SMOVE s t a",
              "- SMOVE s s b", "+ SADD u b", "+ SMOVE s u b", "+ SMOVE s t c", "- EXISTS s",
              "+ SET k x", "! SMOVE t k a"],
    "spop": ["- SPOP missing", "- SPOP missing 2", "+ SADD s a b c d e", "+ SPOP s",
             "+ SPOP s 2", "- SPOP s 0", "+ SPOP s 10", "- SPOP s", "! SPOP s -1",
             "+ SET k x", "! SPOP k"],
    "spop of the last member": ["+ SADD s a", "+ SPOP s", "+ SADD t a", "+ SPOP t 1"],
    "sinterstore, sunionstore, sdiffstore": [
        "- SINTERSTORE d m1 m2", "- SUNIONSTORE d m1", "- SDIFFSTORE d m1 m2", "+ SADD s a b",
        "+ SADD t b c", "+ SINTERSTORE d s t", "+ SUNIONSTORE d s t", "+ SDIFFSTORE d s t",
        "+ SINTERSTORE d s missing", "- SINTERSTORE d s missing", "- SDIFFSTORE d s s",
        "+ SUNIONSTORE s s t", "+ SET k x", "! SUNIONSTORE d k s", "- SMEMBERS d"],
}

ZSETS: dict[str, list[Spec]] = {
    "zadd": ["+ ZADD z 1 a 2 b", "- ZADD z 1 a", "- ZADD z 2 b 1 a", "+ ZADD z 3 a",
             "- ZADD z NX 5 a", "+ ZADD z NX 5 c", "- ZADD z XX 1 new", "+ ZADD z XX CH 4 a",
             "- ZADD z GT 1 a", "+ ZADD z LT 1 a", "+ ZADD z GT 1 d", "+ ZADD z INCR 2 a",
             "- ZADD z INCR 0 a", "- ZADD z XX INCR 1 new", "! ZADD z nan a",
             "! ZADD z NX XX 1 a", "+ SET k x", "! ZADD k 1 a"],
    "zincrby": ["+ ZINCRBY z 1 a", "- ZINCRBY z 0 a", "+ ZINCRBY z -0.5 a", "! ZINCRBY z abc a",
                "+ SET k x", "! ZINCRBY k 1 a"],
    "zrem": ["- ZREM missing a", "+ ZADD z 1 a 2 b 3 c", "- ZREM z zz", "+ ZREM z a zz",
             "+ ZREM z b c", "- ZREM z b", "- EXISTS z"],
    "zremrangebyscore": [
        "- ZREMRANGEBYSCORE missing 0 1", "+ ZADD z 1 a 2 b 3 c",
        "- ZREMRANGEBYSCORE z 10 20", "- ZREMRANGEBYSCORE z (1 (2",
        "+ ZREMRANGEBYSCORE z 1 1", "+ ZREMRANGEBYSCORE z -inf +inf", "- EXISTS z",
        "! ZREMRANGEBYSCORE z x 1"],
    "zremrangebyrank": [
        "- ZREMRANGEBYRANK missing 0 1", "+ ZADD z 1 a 2 b 3 c", "- ZREMRANGEBYRANK z 5 10",
        "- ZREMRANGEBYRANK z 2 1", "+ ZREMRANGEBYRANK z 0 0", "+ ZREMRANGEBYRANK z 0 -1",
        "- EXISTS z"],
    "zremrangebylex": [
        "- ZREMRANGEBYLEX missing - +", "+ ZADD z 0 a 0 b 0 c", "- ZREMRANGEBYLEX z [x [z",
        "+ ZREMRANGEBYLEX z [a [a", "+ ZREMRANGEBYLEX z - +", "! ZREMRANGEBYLEX z a b"],
    "zpopmin and zpopmax": [
        "- ZPOPMIN missing", "- ZPOPMAX missing 3", "+ ZADD z 1 a 2 b 3 c 4 d", "+ ZPOPMIN z",
        "+ ZPOPMAX z 2", "- ZPOPMIN z 0", "+ ZPOPMIN z 10", "- ZPOPMAX z", "! ZPOPMIN z -1",
        "+ SET k x", "! ZPOPMAX k"],
    "zmpop": ["- ZMPOP 2 m1 m2 MIN", "+ ZADD z 1 a 2 b 3 c", "+ ZMPOP 2 m1 z MIN",
              "+ ZMPOP 1 z MAX COUNT 10", "- ZMPOP 1 z MAX", "! ZMPOP 1 z MIDDLE",
              "! ZMPOP 1 z MIN COUNT 0"],
    "bzpopmin, bzpopmax, bzmpop served at once": [
        "- BZPOPMIN missing 0.01", "- BZPOPMAX m1 m2 0.01", "- BZMPOP 0.01 1 missing MIN",
        "+ ZADD z 1 a 2 b 3 c 4 d 5 e", "+ BZPOPMIN missing z 0", "+ BZPOPMAX z 0",
        "+ BZMPOP 0 2 missing z MIN COUNT 2", "+ BZMPOP 0 1 z MAX COUNT 10",
        "- BZPOPMIN z 0.01"],
    "zunionstore, zinterstore, zdiffstore": [
        "- ZUNIONSTORE d 1 missing", "- ZINTERSTORE d 2 m1 m2", "- ZDIFFSTORE d 1 missing",
        "+ ZADD z 1 a 2 b", "+ ZADD y 2 b 3 c", "+ ZUNIONSTORE d 2 z y",
        "+ ZINTERSTORE d 2 z y WEIGHTS 1 2", "+ ZDIFFSTORE d 2 z y",
        "+ ZINTERSTORE d 2 z missing", "- ZINTERSTORE d 2 z missing", "- ZDIFFSTORE d 2 z z",
        "+ ZUNIONSTORE d 1 z AGGREGATE MAX", "+ SADD s a", "+ ZUNIONSTORE d 2 z s",
        "! ZUNIONSTORE d 0 z", "+ SET k x", "! ZUNIONSTORE d 2 z k"],
    "zrangestore": [
        "- ZRANGESTORE d missing 0 -1", "+ ZADD z 1 a 2 b 3 c", "+ ZRANGESTORE d z 0 1",
        "+ ZRANGESTORE d z (1 +inf BYSCORE", "+ ZRANGESTORE d z [a [b BYLEX",
        "+ ZRANGESTORE d z 10 20", "- ZRANGESTORE d z 10 20", "! ZRANGESTORE d z 0 -1 WITHSCORES"],
}

TRANSACTIONS: dict[str, list[Spec]] = {
    "exec with no commands": ["- MULTI", "- EXEC"],
    "exec with only reads": ["+ SET a 1", "- MULTI", "- GET a", "- EXISTS a", "- EXEC"],
    "exec with one write is not wrapped": ["- MULTI", "- SET a 1", "+ EXEC"],
    "exec with several writes is wrapped": ["- MULTI", "- SET a 1", "- INCR a",
                                            "- RPUSH q x", "+ EXEC"],
    "lowercase multi and exec": ["- multi", "- set a 1", "- set b 2", "+ exec"],
    "exec with only no-op writes": [
        "+ SET a 1", "- MULTI", "- DEL missing", "- SREM s a", "- EXPIRE missing 10",
        "- SETNX a 2", "- LPOP missing", "- EXEC"],
    "exec with one write among no-ops": ["- MULTI", "- DEL missing", "- SET a 1",
                                         "- LPOP missing", "- HDEL h f", "+ EXEC"],
    "exec with two writes among no-ops": ["- MULTI", "- DEL missing", "- SET a 1",
                                          "- HDEL h f", "- SET b 2", "- ZREM z m", "+ EXEC"],
    "exec with a failing command among writes": ["+ SET s abc", "- MULTI", "- SET a 1",
                                                 "- INCR s", "- SET b 2", "+ EXEC"],
    "exec with a failing command and one write": ["+ SET s abc", "- MULTI", "- INCR s",
                                                  "- SET a 1", "+ EXEC"],
    "exec with only a failing command": ["+ SET s abc", "- MULTI", "- INCR s", "- EXEC"],
    "exec aborted by a queueing error": ["- MULTI", "- SET a 1", "! NOSUCHCMD x", "! EXEC",
                                         "- EXISTS a"],
    "exec aborted by a wrong arity": ["- MULTI", "- SET a 1", "! DEL", "! EXEC"],
    "exec aborted by WATCH": ["+ SET a 1", "- WATCH a", "+ B: SET a 2", "- MULTI",
                              "- SET a 3", "- INCR a", "- EXEC", "- GET a"],
    "exec with WATCH untouched": ["+ SET a 1", "- WATCH a", "- MULTI", "- SET a 3",
                                  "- SET b 4", "+ EXEC"],
    "exec with WATCH untouched by a no-op": ["+ SET a 1", "- WATCH a", "- B: SETNX a 2",
                                             "- MULTI", "- SET a 3", "+ EXEC"],
    "discard": ["- MULTI", "- SET a 1", "- DISCARD", "- EXISTS a"],
    "nested MULTI is an error that keeps the transaction": ["- MULTI", "! MULTI", "- SET a 1",
                                                            "+ EXEC"],
    "exec across databases": ["- MULTI", "- SET a 1", "- SELECT 3", "- SET b 2", "+ EXEC",
                              "+ SET c 3", "- SELECT 0", "+ SET d 4"],
    "exec with one write in another database": ["- SELECT 3", "- MULTI", "- SET a 1",
                                                "+ EXEC", "+ SET b 2"],
    "exec with a SELECT and no write": ["- MULTI", "- SELECT 3", "- DEL missing", "- EXEC",
                                        "+ SET a 1"],
    "exec with relative expiries and a random pop": [
        "+ SADD s a b c", "- MULTI", "- SET k v EX 100", "- EXPIRE s 100", "- SPOP s",
        "- GETEX k PX 100000", "+ EXEC"],
    "exec with blocking commands (they do not block in a transaction)": [
        "+ RPUSH q a b", "+ ZADD z 1 m", "- MULTI", "- BLPOP q 0", "- BLPOP empty 0",
        "- BRPOPLPUSH q r 0", "- BZPOPMIN z 0", "- BLMOVE none r LEFT LEFT 0", "+ EXEC"],
    "exec with flushall": ["+ SET a 1", "- MULTI", "- FLUSHALL", "- SET b 2", "+ EXEC"],
    "exec with float increments": ["- MULTI", "- INCRBYFLOAT f 1.5", "- HINCRBYFLOAT h f 2",
                                   "+ EXEC"],
    "exec with every no-op kind of pop": [
        "- MULTI", "- LPOP q", "- RPOP q 2", "- SPOP s", "- ZPOPMIN z", "- LMPOP 1 q LEFT",
        "- ZMPOP 1 z MIN", "- GETDEL k", "- EXEC"],
}

DATABASES: dict[str, list[Spec]] = {
    "writes in another database": ["- SELECT 3", "+ SET a 1", "+ SET b 2", "- SELECT 0",
                                   "+ SET a 1", "- SELECT 3", "+ DEL a"],
    "a no-op in another database logs no SELECT": [
        "- SELECT 5", "- DEL missing", "- SREM s x", "- EXPIRE k 10", "- SELECT 0",
        "+ SET a 1", "- SELECT 5", "+ SET b 1"],
    "an error in another database logs no SELECT": [
        "+ SET s x", "- SELECT 5", "+ SET s x", "! LPUSH s a", "- SELECT 0", "+ SET a 1"],
    "two clients in two databases": ["- A: SELECT 1", "- B: SELECT 2", "+ A: SET a 1",
                                     "+ B: SET a 1", "+ A: SET b 2", "+ A: SET c 3",
                                     "+ B: DEL a"],
    "move there and back": ["+ SET a 1", "+ MOVE a 3", "- SELECT 3", "+ MOVE a 0",
                            "- SELECT 0", "+ DEL a"],
    "swapdb then writes": ["+ SET a 1", "+ SWAPDB 0 3", "- SELECT 3", "+ DEL a",
                           "- SELECT 0", "- DEL a"],
    "copy to another database then write there": ["+ SET a 1", "+ COPY a a DB 2",
                                                  "- SELECT 2", "+ INCR a"],
    "flushdb and flushall in another database": ["- SELECT 3", "+ SET a 1", "+ FLUSHDB",
                                                 "+ FLUSHALL", "- SELECT 0", "+ FLUSHDB"],
}

BLOCKED: dict[str, list[Spec]] = {
    "blpop served by a later push": ["- A> BLPOP q 0", ("+ B: RPUSH q x", "A<"), "- LLEN q"],
    "brpop served by a later push of several": ["- A> BRPOP q 0", ("+ B: RPUSH q x y z", "A<"),
                                                "- LLEN q"],
    "two clients served by one push": ["- A> BLPOP q 0", "- C> BLPOP q 0",
                                       ("+ B: RPUSH q x y z", "A<", "C<")],
    "blpop served by a push in a transaction": [
        "- A> BLPOP q 0", "- B: MULTI", "- B: RPUSH q x", "- B: RPUSH q y",
        ("+ B: EXEC", "A<")],
    "blpop on two keys served by the second": ["- A> BLPOP p q 0", ("+ B: RPUSH q x", "A<")],
    "a push to another key wakes nothing": ["- A> BLPOP q 0", "+ B: RPUSH other x",
                                            ("+ B: RPUSH q y", "A<")],
    "blmove served later": ["- A> BLMOVE q r LEFT RIGHT 0", ("+ B: LPUSH q x", "A<")],
    "blmove served later, sent in lowercase": ["- A> blmove q r right left 0",
                                               ("+ B: LPUSH q x", "A<")],
    "brpoplpush served later": ["- A> BRPOPLPUSH q r 0", ("+ B: LPUSH q x", "A<")],
    "blmpop served later": ["- A> BLMPOP 0 2 m q RIGHT COUNT 5", ("+ B: RPUSH q a b", "A<")],
    "bzpopmin served later": ["- A> BZPOPMIN z 0", ("+ B: ZADD z 1 a 2 b", "A<")],
    "bzpopmax served later": ["- A> BZPOPMAX z 0", ("+ B: ZADD z 1 a 2 b", "A<")],
    "bzmpop served later": ["- A> BZMPOP 0 1 z MAX COUNT 2", ("+ B: ZADD z 1 a 2 b 3 c", "A<")],
    "a blocked pop in another database": ["- A: SELECT 3", "- A> BLPOP q 0", "- B: SELECT 3",
                                          ("+ B: RPUSH q x", "A<"), "- B: SELECT 0",
                                          "+ B: SET a 1"],
    "a blocked pop times out": ["- A> BLPOP q 0.05", ("- ~100", "A<"), "- LLEN q"],
}

# A key gets 100 ms to live (not 1), so that the steps before the wait are measured before it
# can expire (active expiry runs on its own in both servers); what is logged during the wait
# counts for the access that follows it.
EXPIRY: dict[str, list[Spec]] = {
    "get of an expired key logs a DEL": ["+ SET k v PX 100", "~200", "+ GET k", "- GET k"],
    "exists of an expired key logs a DEL": ["+ SET k v", "+ PEXPIRE k 100", "~200",
                                            "+ EXISTS k"],
    "a write on an expired key": ["+ SET n 5 PX 100", "~200", "+ INCR n"],
    "a no-op on an expired key still logs its DEL": ["+ SADD s a", "+ PEXPIRE s 100",
                                                     "~200", "+ SREM s a"],
    "an expired key in another database": [
        "- B: SELECT 2", "+ B: SET k v PX 100", "+ A: SET x 1", "~200", "+ B: GET k"],
    "an expired key read in a transaction": [
        "+ SET k v PX 100", "~200", ("+ MULTI", "GET k", "SET j 1", "EXEC")],
}

# A script propagates its effects, not itself: each write as it would alone, several wrapped
# in MULTI/EXEC, in the databases it SELECTs (effects replication, Redis 7.0's only mode).
SCRIPTS: dict[str, list[Spec]] = {
    "a script that writes once": ["+ EVAL 'return redis.call(\"set\", KEYS[1], ARGV[1])' 1 a v"],
    "a script that writes several times": [
        "+ EVAL 'redis.call(\"set\", \"a\", 1) redis.call(\"incr\", \"a\") "
        "return redis.call(\"rpush\", \"q\", \"x\")' 0"],
    "a script that only reads": ["+ SET a 1", "- EVAL 'return redis.call(\"get\", \"a\")' 0"],
    "a script whose writes are no-ops": [
        "- EVAL 'redis.call(\"del\", \"missing\") return redis.call(\"srem\", \"s\", "
        "\"x\")' 0"],
    "a script with relative expiries": [
        "+ EVAL 'redis.call(\"set\", \"a\", 1, \"ex\", 100) "
        "return redis.call(\"expire\", \"a\", 50)' 0"],
    "a script that SELECTs": [
        "+ EVAL 'redis.call(\"set\", \"a\", 1) redis.call(\"select\", 3) "
        "return redis.call(\"set\", \"b\", 2)' 0", "+ SET c 3"],
    "a script that fails after a write": [
        "+ EVAL 'redis.call(\"set\", \"a\", 1) return redis.call(\"nosuch\")' 0"],
    "a script by SHA": [
        "- SCRIPT LOAD 'return redis.call(\"incr\", KEYS[1])'",
        "+ EVALSHA 024f02195a7e52e1776d26af209f8a79d0470e0f 1 n"],
    "scripts in a transaction": [
        "- MULTI", "- EVAL 'return redis.call(\"set\", \"a\", 1)' 0",
        "- EVAL 'return redis.call(\"set\", \"b\", 2)' 0", "+ EXEC"],
    "a script with set_repl none": [
        "- EVAL 'redis.set_repl(redis.REPL_NONE) return redis.call(\"set\", \"a\", 1)' 0"],
}

# Function libraries: the FUNCTION commands that change them propagate as sent; FCALL as its
# effects, like EVAL. FUNCTION_PAYLOAD is a FUNCTION DUMP of one library (the bytes as str).
_LIBRARY = ("#!lua name=plib\nredis.register_function('pset', function(k, a) "
            "return redis.call('set', k[1], a[1]) end)\n"
            "redis.register_function{function_name='pget', callback=function(k) "
            "return redis.call('get', k[1]) end, flags={'no-writes'}}")
FUNCTION_PAYLOAD = function_payload([_LIBRARY.encode()]).decode("latin-1")
FUNCTIONS: dict[str, list[Spec]] = {
    "libraries": [
        "+ FUNCTION FLUSH", f"+ FUNCTION LOAD {shlex.quote(_LIBRARY)}",
        f"! FUNCTION LOAD {shlex.quote(_LIBRARY)}",
        f"+ FUNCTION LOAD REPLACE {shlex.quote(_LIBRARY)}",
        "+ FCALL pset 1 a v", "- FCALL pget 1 a", "- FCALL_RO pget 1 a", "! FCALL nosuch 0",
        "+ FUNCTION DELETE plib", "! FUNCTION DELETE plib",
        f"+ FUNCTION RESTORE {shlex.quote(FUNCTION_PAYLOAD)}",
        f"! FUNCTION RESTORE {shlex.quote(FUNCTION_PAYLOAD)}",
        f"+ FUNCTION RESTORE {shlex.quote(FUNCTION_PAYLOAD)} REPLACE",
        "! FUNCTION RESTORE x", "+ FCALL pset 1 b w", "+ FUNCTION FLUSH ASYNC"],
    "functions in a transaction": [
        "+ FUNCTION FLUSH", "- MULTI", f"- FUNCTION LOAD {shlex.quote(_LIBRARY)}",
        "- FCALL pset 1 a v", "+ EXEC", "+ FUNCTION FLUSH"],
}

CORPUS: dict[str, list[Step]] = {
    f"{family}: {name}": [parse_step(spec) for spec in specs]
    for family, cases in (("strings", STRINGS), ("keys", KEYS), ("lists", LISTS),
                          ("hashes", HASHES), ("sets", SETS), ("zsets", ZSETS),
                          ("transactions", TRANSACTIONS), ("databases", DATABASES),
                          ("blocked", BLOCKED), ("expiry", EXPIRY), ("scripts", SCRIPTS),
                          ("functions", FUNCTIONS), ("streams", STREAMS),
                          ("bitmaps", BITMAPS), ("geo", GEO),
                          ("hyperloglog", HYPERLOGLOG), ("sort", SORT), ("dump", DUMP))
    for name, specs in cases.items()
}


@pytest.mark.parametrize("title", list(CORPUS))
def test_propagation(pair, title):
    pair.reset()
    pair.run(CORPUS[title], title)


def valkdb_write_commands(pair: Pair) -> set[str]:
    """Every command (and subcommand) flagged `write` in valkdb's COMMAND INFO."""
    reply = pair.sides["valkdb"].admin.call(b"COMMAND", b"INFO")
    names = set()

    def visit(entry: bytes) -> None:
        if not entry.startswith(b"*") or entry.startswith(b"*-1"):
            return
        fields = elements(entry)
        flags = {read_reply_value(flag) for flag in elements(fields[2])}
        if b"write" in flags:
            names.add((bulk_value(fields[0]) or b"").decode().lower())
        if len(fields) > 9:
            for sub in elements(fields[9]):
                visit(sub)

    for entry in elements(reply):
        visit(entry)
    return names


def read_reply_value(reply: bytes) -> bytes:
    """A status or bulk reply's text (flags come as +write in RESP2)."""
    if reply.startswith(b"+"):
        return reply[1:-2]
    return bulk_value(reply) or b""


def test_corpus_covers_every_write_command(pair):
    """Each write command valkdb has: a step where it logs something and, where it can be a
    no-op, a step where it logs nothing without failing (both checked against Redis above)."""
    changing: set[str] = set()
    no_op: set[str] = set()
    for steps in CORPUS.values():
        in_multi: set[str] = set()  # clients whose commands are being queued, not run
        for step in steps:
            name = step.simple_command()
            who = step.actions[0].who
            if name in ("exec", "discard"):
                in_multi.discard(who)
            elif name == "multi":
                in_multi.add(who)
            elif name and who not in in_multi:
                {"+": changing, "-": no_op}.get(step.expect or "", set()).add(name)
    writes = valkdb_write_commands(pair)
    assert len(writes) > 50, sorted(writes)
    missing = {name: [kind for kind, seen in (("change", changing), ("no-op", no_op))
                      if name not in seen and not (kind == "no-op" and name in ALWAYS_PROPAGATED)]
               for name in sorted(writes)}
    missing = {name: kinds for name, kinds in missing.items() if kinds}
    assert not missing, f"write commands without a corpus step of this kind: {missing}"


# -- random sequences -------------------------------------------------------------------------

_KEYS = ("a", "b", "c")
_MEMBERS = ("x", "y", "z")
key = st.sampled_from(_KEYS)
member = st.sampled_from(_MEMBERS)
small = st.sampled_from(("0", "1", "2", "-1", "5"))


def _cmd(*parts: st.SearchStrategy | str) -> st.SearchStrategy:
    return st.tuples(*(st.just(part) if isinstance(part, str) else part for part in parts))


def _concat(parts: tuple[tuple[str, ...], ...]) -> tuple[str, ...]:
    return sum(parts, ())


def _option(*choices: tuple[str, ...]) -> st.SearchStrategy:
    return st.sampled_from(((), *choices))


_COMMANDS = st.one_of(
    # strings
    st.tuples(st.just(("SET",)), st.tuples(key, st.sampled_from(("1", "v"))),
              _option(("NX",), ("XX",)), _option(("GET",)),
              _option(("EX", "100"), ("PX", "100000"), ("KEEPTTL",))).map(_concat),
    _cmd("SETNX", key, "v"), _cmd("GETSET", key, "1"), _cmd("GETDEL", key),
    st.tuples(_cmd("GETEX", key), _option(("EX", "100"), ("PERSIST",))).map(_concat),
    _cmd("APPEND", key, st.sampled_from(("", "x"))),
    _cmd("SETRANGE", key, st.sampled_from(("0", "2")), st.sampled_from(("", "x"))),
    _cmd("INCR", key), _cmd("DECRBY", key, small), _cmd("INCRBYFLOAT", key, "0.5"),
    _cmd("MSET", key, "1", key, "2"), _cmd("MSETNX", key, "1", key, "2"),
    # keys
    _cmd("DEL", key), _cmd("UNLINK", key, key),
    st.tuples(_cmd("EXPIRE", key, st.sampled_from(("100", "200", "0"))),
              _option(("NX",), ("XX",), ("GT",), ("LT",))).map(_concat),
    _cmd("PEXPIRE", key, "150000"), _cmd("PERSIST", key), _cmd("RENAME", key, key),
    _cmd("RENAMENX", key, key),
    st.tuples(_cmd("COPY", key, key), _option(("REPLACE",))).map(_concat),
    _cmd("MOVE", key, "1"), _cmd("SELECT", st.sampled_from(("0", "1"))),
    # lists
    _cmd("LPUSH", key, member), _cmd("RPUSH", key, member, member), _cmd("RPUSHX", key, member),
    _cmd("LPOP", key), _cmd("RPOP", key, st.sampled_from(("0", "1", "2"))),
    _cmd("LREM", key, small, member), _cmd("LTRIM", key, small, small),
    _cmd("LSET", key, "0", member), _cmd("LINSERT", key, "BEFORE", member, member),
    _cmd("LMOVE", key, key, "LEFT", "RIGHT"), _cmd("RPOPLPUSH", key, key),
    _cmd("LMPOP", "2", key, key, "LEFT", "COUNT", "2"), _cmd("BLPOP", key, key, "0.01"),
    _cmd("BLMOVE", key, key, "RIGHT", "LEFT", "0.01"),
    # hashes
    _cmd("HSET", key, member, small), _cmd("HSETNX", key, member, "1"), _cmd("HDEL", key, member),
    _cmd("HINCRBY", key, member, small), _cmd("HINCRBYFLOAT", key, member, "0.5"),
    # sets (SPOP only as a whole-set pop, which is deterministic: the sets stay equal)
    _cmd("SADD", key, member), _cmd("SREM", key, member), _cmd("SMOVE", key, key, member),
    _cmd("SINTERSTORE", key, key, key), _cmd("SUNIONSTORE", key, key, key),
    _cmd("SDIFFSTORE", key, key, key), _cmd("SPOP", key, "10"),
    # sorted sets
    st.tuples(st.just(("ZADD", )), st.tuples(key), _option(("NX",), ("XX",), ("GT",), ("LT",)),
              st.tuples(small, member)).map(_concat),
    _cmd("ZINCRBY", key, st.sampled_from(("0", "1")), member), _cmd("ZREM", key, member),
    _cmd("ZPOPMIN", key), _cmd("ZPOPMAX", key, "2"), _cmd("ZREMRANGEBYSCORE", key, "0", "1"),
    _cmd("ZREMRANGEBYRANK", key, "0", "0"), _cmd("ZUNIONSTORE", key, "2", key, key),
    _cmd("ZINTERSTORE", key, "2", key, key), _cmd("ZRANGESTORE", key, key, "0", "-1"),
    _cmd("ZMPOP", "1", key, "MIN"), _cmd("BZPOPMIN", key, "0.01"),
    # transactions
    st.just(("MULTI",)), st.just(("EXEC",)), st.just(("DISCARD",)),
)

RANDOM_SETTINGS = settings(max_examples=60, deadline=None,
                           suppress_health_check=[HealthCheck.too_slow])


@RANDOM_SETTINGS
@given(sequence=st.lists(_COMMANDS, min_size=1, max_size=8))
def test_random_sequences(pair, sequence):
    pair.reset()
    steps = [Step((Action("call", "A", tuple(args)),)) for args in sequence]
    pair.run(steps, "random sequence")
