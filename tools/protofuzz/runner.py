"""Run cases against valkdb and redis-server side by side, compare, and watch valkdb.

Cases run in batches, many at a time (asyncio, one fresh connection per case and server). For
each case redis-server goes first: how its exchange ended (closed, answered the sentinel, quiet)
tells how long valkdb's is worth waiting for. After each case a second, long-lived connection
must still get PONG from valkdb. A case that differs is run again with longer waits (a busy
2-core machine can delay anyone) and is a mismatch only if it differs again - up to three times
when both exchanges ended by an event rather than a wait. The first case of each kind of
difference is shrunk to a short reproduction.

Hangs: a valkdb exchange that runs into its deadline, or a PING on the second connection that
gets no answer, stops new cases from starting; once the running ones end, the suspects run again
one at a time, and the one that stalls valkdb again is the hang (valkdb is restarted). A glob
match slower than the time bound is a hang too. Crashes (the process exited) and tracebacks in
valkdb's log are counted after every batch.
"""

from __future__ import annotations

import asyncio
import itertools
import random
import re
import time
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from . import cases as cases_mod
from . import globs
from .wire import ANSWERED, CLOSED, QUIET, REFUSED, TIMEOUT, Connection, Outcome, exchange

PONG_SUBSCRIBED = b"*2\r\n$4\r\npong\r\n$0\r\n\r\n"
_HELLO_ID = re.compile(rb"\$2\r\nid\r\n:\d+\r\n")
_TAGS = re.compile(rb"[kp][g-z]{8}\.")


class Target:
    """A server process the fuzzer talks to. `start` returns an object with .port, .proc
    (a Popen), .log_path and .stop(timeout) - tests.support.ServerProcess does."""

    def __init__(self, start: Callable[[], Any]) -> None:
        self._start = start
        self.server = start()
        self._log_offset = 0

    @property
    def port(self) -> int:
        return self.server.port

    def alive(self) -> bool:
        return self.server.proc.poll() is None

    def exit_code(self) -> int | None:
        return self.server.proc.poll()

    def new_log(self) -> str:
        """What the server logged since the last call."""
        with open(self.server.log_path, "rb") as f:
            f.seek(self._log_offset)
            data = f.read()
        self._log_offset += len(data)
        return data.decode(errors="replace")

    def restart(self, kill: bool = False) -> str:
        """Stop (kill if it does not stop, or at once) and start again; returns the old log's
        unread end."""
        if kill and self.alive():
            self.server.proc.kill()
        self.server.stop(3)
        rest = self.new_log()
        self.server = self._start()
        self._log_offset = 0
        return rest

    def stop(self) -> None:
        self.server.stop(5)


def start_pair(start_valkdb: Callable[[], Any],
               start_redis: Callable[[], Any]) -> tuple[Target, Target]:
    """valkdb and redis-server as Targets; valkdb is stopped again if redis-server fails."""
    valkdb = Target(start_valkdb)
    try:
        return valkdb, Target(start_redis)
    except Exception:
        valkdb.stop()
        raise


def tracebacks(log: str) -> list[str]:
    """Each Python traceback in a log, with the line that names the exception."""
    found = []
    for part in log.split("Traceback (most recent call last):")[1:]:
        lines = part.strip("\n").splitlines()
        tail = next((i for i, line in enumerate(lines) if line and not line.startswith(" ")), 0)
        found.append("\n".join(["Traceback (most recent call last):", *lines[: tail + 1]][-12:]))
    return found


@dataclass
class Verdict:
    same: bool
    stalled: bool = False  # valkdb did not finish by the deadline (or refused the connection)
    slow: float = 0.0  # seconds a glob match took past the time bound
    reference_failed: bool = False  # redis-server itself did not finish (not comparable)
    signature: str = ""
    detail: str = ""
    extra: Any = None  # the two Outcomes of a protocol case


@dataclass
class Mismatch:
    index: int
    kind: str
    label: str
    signature: str
    detail: str
    minimized: str = ""


@dataclass
class Report:
    seed: int
    first: int
    requested: int
    run: Counter = field(default_factory=Counter)  # cases run, per kind
    compared: int = 0
    identical: int = 0
    flaky: list[str] = field(default_factory=list)  # differed after a wait, not run again
    unconfirmed: list[str] = field(default_factory=list)  # differed once, never again
    unimplemented: Counter = field(default_factory=Counter)  # not compared: valkdb lacks it
    reference_failures: int = 0
    mismatches: list[Mismatch] = field(default_factory=list)
    crashes: list[str] = field(default_factory=list)
    hangs: list[str] = field(default_factory=list)
    tracebacks: list[str] = field(default_factory=list)
    seconds: float = 0.0
    stopped: str = ""  # why the run ended before its last case

    @property
    def cases(self) -> int:
        return sum(self.run.values())

    @property
    def identical_percent(self) -> float:
        return 100.0 * self.identical / self.compared if self.compared else 100.0

    @property
    def healthy(self) -> bool:
        """No crash, hang or traceback (mismatches aside)."""
        return not (self.crashes or self.hangs or self.tracebacks)

    @property
    def clean(self) -> bool:
        return self.healthy and not self.mismatches

    def text(self, reproductions: int = 5) -> str:
        kinds = ", ".join(f"{k} {n}" for k, n in sorted(self.run.items()))
        rate = self.cases / self.seconds if self.seconds else 0.0
        out = [
            f"seed {self.seed}, cases {self.first}..{self.first + self.requested - 1}"
            + (f" ({self.stopped})" if self.stopped else ""),
            f"cases run: {self.cases} ({kinds}) in {self.seconds:.1f} s ({rate:.0f}/s)",
            f"sent to both servers and compared: {self.compared}"
            + (f" (redis-server did not finish {self.reference_failures})"
               if self.reference_failures else ""),
            f"identical: {self.identical} ({self.identical_percent:.3f} %)"
            + (f", {len(self.flaky)} of them only when run again" if self.flaky else ""),
        ]
        if self.flaky:
            out.append("  differed only once, after a quiet wait (a busy machine?): "
                       + ", ".join(self.flaky[:8]))
        if self.unconfirmed:
            out.append(f"not identical but not reproduced in 3 more runs: {len(self.unconfirmed)}"
                       " (timing in valkdb, or cases that met on a key made by a mutation): "
                       + ", ".join(self.unconfirmed[:8]))
        if self.unimplemented:
            out.append("not compared, commands valkdb does not implement yet: " + ", ".join(
                f"{name} {n}" for name, n in self.unimplemented.most_common()))
        groups: dict[str, list[Mismatch]] = {}
        for m in self.mismatches:
            groups.setdefault(m.signature, []).append(m)
        out.append(f"mismatches: {len(self.mismatches)} in {len(groups)} kinds")
        for n, (signature, members) in enumerate(groups.items()):
            first = members[0]
            out.append(f"  [{n + 1}] {len(members)} x {signature}")
            out.append(f"      first: case {first.index} ({first.kind}, {first.label})")
            if n < reproductions:
                out.append(_indent(first.minimized or first.detail, 6))
        for title, items in (("crashes", self.crashes), ("hangs", self.hangs)):
            out.append(f"{title}: {len(items)}")
            for item in items[:reproductions]:
                out.append(_indent(item, 4))
        distinct: dict[str, list[str]] = {}
        for item in self.tracebacks:
            distinct.setdefault(item.splitlines()[-1], []).append(item)
        out.append(f"tracebacks in the valkdb log: {len(self.tracebacks)} ({len(distinct)} "
                   "distinct)")
        for same in list(distinct.values())[:reproductions]:
            out.append(_indent(f"{len(same)} x\n{same[0]}", 4))
        return "\n".join(out)


def _indent(text: str, n: int) -> str:
    return "\n".join(" " * n + line for line in text.splitlines())


def show(data: bytes, limit: int = 400) -> str:
    """A Python bytes literal, shortened in the middle past `limit` characters."""
    text = repr(data)
    if len(text) <= limit:
        return text
    return f"{text[: limit // 2]} ... {text[-limit // 2 :]} ({len(data)} bytes)"


KINDS = ("proto", "keys", "psub")


def make_case(seed: int, index: int) -> Any:
    r = random.Random(f"kind/{seed}/{index}").random()
    if r < 0.93:
        return cases_mod.proto_case(seed, index)
    if r < 0.975:
        return globs.keys_case(seed, index)
    return globs.psub_case(seed, index)


_probe_tags = (cases_mod.tag_of(i, b"p") for i in itertools.count())  # for reruns


def _norm(data: bytes) -> bytes:
    return _HELLO_ID.sub(b"$2\r\nid\r\n:0\r\n", data)


def _gist(line: bytes) -> str:
    """What kind of reply a line is, without its particulars: a reply type, or an error's text
    with quoted parts, numbers and the arguments an unknown command echoes taken out."""
    if not line:
        return "nothing"
    if line[:1] in (b"-", b"+"):
        text = line.split(b", with args beginning with:")[0]
        text = re.sub(rb"\d+", b"N", re.sub(rb"'[^']*'?", b"'?'", text))
        return repr(text.decode("latin-1"))
    return repr(line[:1].decode("latin-1"))


def _signature(ref: Outcome, ours: Outcome) -> str:
    a, b = _norm(ref.data), _norm(ours.data)
    if a == b:
        return f"same bytes, but redis-server {ref.end}, valkdb {ours.end}"
    theirs, ours_line = _first_difference(a, b)
    return f"redis-server {_gist(theirs)} ({ref.end}) / valkdb {_gist(ours_line)} ({ours.end})"


def _first_difference(a: bytes, b: bytes) -> tuple[bytes, bytes]:
    """The line of each where two replies start to differ."""
    i = 0
    limit = min(len(a), len(b))
    while i < limit and a[i] == b[i]:
        i += 1
    start = a.rfind(b"\r\n", 0, i)
    start = 0 if start < 0 else start + 2
    return a[start:].split(b"\r\n", 1)[0], b[start:].split(b"\r\n", 1)[0]


_UNKNOWN = re.compile(rb"-ERR unknown command '(.*)', with args beginning with:", re.DOTALL)


def describe_exchange(payload: bytes, ref: Outcome, ours: Outcome) -> str:
    return (f"send:   {show(payload)}\n"
            f"redis:  {show(ref.data)} ({ref.end})\n"
            f"valkdb: {show(ours.data)} ({ours.end}, {ours.seconds:.2f} s)")


class _Run:
    def __init__(self, valkdb: Target, redis: Target, *, seed: int, cases: int, first: int,
                 concurrency: int, batch: int, bound: float, minimize: int,
                 max_failures: int, kinds: tuple[str, ...],
                 progress: Callable[[str], None] | None) -> None:
        self.valkdb = valkdb
        self.redis = redis
        self.seed = seed
        self.count = cases
        self.first = first
        self.concurrency = concurrency
        self.batch = batch
        self.bound = bound
        self.minimize = minimize
        self.max_failures = max_failures
        self.kinds = kinds
        self.progress = progress or (lambda line: None)
        self.report = Report(seed, first, cases)
        self.keyset: list[bytes] = []
        self.suspicious = False
        self.suspects: list[tuple[Any, Verdict]] = []
        self.minimized_signatures: set[str] = set()

    # -- the batches ---------------------------------------------------------------------------

    async def main(self) -> Report:
        started = time.monotonic()
        stop = self.first + self.count
        # Batches start at multiples of the batch size, so that a case run alone (--first)
        # meets the same glob key set as in the whole run.
        starts = [self.first, *range((self.first // self.batch + 1) * self.batch, stop,
                                     self.batch)]
        for batch_no, batch_start in enumerate(starts):
            self.keyset = globs.key_set(self.seed, batch_start // self.batch)
            await self._setup([self.valkdb, self.redis])
            batch_stop = min(stop, (batch_start // self.batch + 1) * self.batch)
            made = (make_case(self.seed, i) for i in range(batch_start, batch_stop))
            todo = deque(case for case in made if case.kind in self.kinds)
            while todo and not self._failed():
                tainted = await self._concurrent(todo)
                if self.suspicious or tainted:
                    await self._recover(tainted)
            await self._recheck()
            await self._check_health(f"after batch {batch_no}")
            r = self.report
            elapsed = time.monotonic() - started
            self.progress(
                f"{r.cases:>8} cases {elapsed:7.1f} s  identical {r.identical_percent:7.3f} %  "
                f"mismatches {len(r.mismatches)}  crashes {len(r.crashes)}  hangs "
                f"{len(r.hangs)}  tracebacks {len(r.tracebacks)}")
            if self._failed():
                r.stopped = f"stopped after {len(r.crashes)} crashes and {len(r.hangs)} hangs"
                break
        self.report.seconds = time.monotonic() - started
        return self.report

    def _failed(self) -> bool:
        return len(self.report.crashes) + len(self.report.hangs) >= self.max_failures

    async def _setup(self, targets: list[Target]) -> None:
        """An empty keyspace but for the glob key set in database 9."""
        pairs = [part for key in self.keyset for part in (key, b"v")]
        for target in targets:
            conn = await Connection.open(target.port)
            try:
                await conn.call(b"FLUSHALL", timeout=60)
                await conn.call(b"SELECT", globs.GLOB_DB)
                await conn.call(b"MSET", *pairs, timeout=60)
            finally:
                conn.close()

    async def _concurrent(self, todo: deque) -> list[Any]:
        """Run cases from todo until it is empty or valkdb looks stuck; return the cases whose
        valkdb side stalled or was slow (to be run again alone)."""
        self.suspicious = False
        tainted: list[Any] = []
        await asyncio.gather(*(self._worker(todo, tainted) for _ in range(self.concurrency)))
        return tainted

    async def _worker(self, todo: deque, tainted: list[Any]) -> None:
        side: Connection | None = None
        try:
            while todo and not self.suspicious:
                case = todo.popleft()
                verdict = await self.evaluate(case, 1.0)
                if verdict.stalled or verdict.slow:
                    tainted.append(case)
                    self.suspicious = self.suspicious or verdict.stalled
                else:
                    self._record(case, verdict)
                side = await self._side_ping(side)
                if side is None:
                    self.suspicious = True
        finally:
            if side is not None:
                side.close()

    async def _side_ping(self, side: Connection | None, timeout: float = 5.0) -> Connection | None:
        """PING on a second connection; the connection, or None if valkdb did not answer."""
        try:
            if side is None:
                side = await Connection.open(self.valkdb.port, timeout)
            reply, _ = await side.call(b"PING", timeout=timeout)
            if reply == b"+PONG\r\n":
                return side
        except (OSError, asyncio.TimeoutError, asyncio.IncompleteReadError):
            pass
        if side is not None:
            side.close()
        return None

    async def _responsive(self) -> bool:
        side = await self._side_ping(None)
        if side is None:
            return False
        side.close()
        return True

    async def _revive(self, why: str) -> None:
        """valkdb exited or stopped answering: note it and start it again."""
        code = self.valkdb.exit_code()
        if code is not None:
            self.report.crashes.append(f"valkdb exited with code {code} {why}")
        rest = self.valkdb.restart(kill=True)
        self.report.tracebacks.extend(tracebacks(rest))
        await self._setup([self.valkdb])

    async def _recover(self, tainted: list[Any]) -> None:
        """After a stall: make sure valkdb answers, then run the suspects alone."""
        hangs_before = len(self.report.hangs)
        unattributed = None
        if not self.valkdb.alive():
            await self._revive("while cases ran side by side")
        elif not await self._responsive():
            unattributed = "valkdb stopped answering PING on a second connection while these " \
                f"cases ran: {sorted(c.index for c in tainted)[:20]}"
            await self._revive("(hung)")
        for case in tainted:
            await self._isolated(case)
        if unattributed and len(self.report.hangs) == hangs_before:
            self.report.hangs.append(unattributed)

    async def _isolated(self, case: Any) -> None:
        if not self.valkdb.alive() or not await self._responsive():
            await self._revive(f"before case {case.index} ran alone")
        verdict = await self.evaluate(case, 2.0, probe=True)
        if not (verdict.stalled or verdict.slow):
            self._record(case, verdict)
            return
        responsive = self.valkdb.alive() and await self._responsive()
        if verdict.stalled and verdict.slow:
            what = f"no glob match reply within {verdict.slow:.1f} s (bound {self.bound} s)"
        elif verdict.slow:
            what = f"a glob match took {verdict.slow + self.bound:.2f} s (bound {self.bound} s)"
        else:
            what = "valkdb did not finish the exchange"
        if not responsive:
            what += "; valkdb stopped answering PING on a second connection"
        if not responsive:
            await self._revive(f"after case {case.index}")
        if verdict.slow or not responsive:  # a hang: not compared
            self.report.hangs.append(f"case {case.index} ({case.kind}, {case.label}): {what}\n"
                                     + _indent(verdict.detail, 2))
            self.report.run[case.kind] += 1
            return
        self._record(case, verdict)

    def _record(self, case: Any, verdict: Verdict) -> None:
        self.report.run[case.kind] += 1
        if verdict.same:
            self.report.compared += 1
            self.report.identical += 1
        else:
            self.suspects.append((case, verdict))

    async def _recheck(self) -> None:
        """Run every case that differed again, alone-ish and with longer waits."""
        suspects, self.suspects = self.suspects, []
        limit = asyncio.Semaphore(8)

        async def again(case: Any) -> Verdict:
            async with limit:
                return await self.evaluate(case, 3.0, probe=True)

        verdicts = await asyncio.gather(*(again(case) for case, _ in suspects))
        for (case, first), verdict in zip(suspects, verdicts, strict=True):
            if verdict.reference_failed:
                self.report.reference_failures += 1
                continue
            for _ in range(2 if verdict.same and _decisive(first) else 0):
                # Both exchanges ended by an event (a close, the sentinel's reply), not after a
                # wait, so a busy machine does not explain the difference: try harder.
                verdict = await self.evaluate(case, 3.0, probe=True)
                if not verdict.same:
                    break
            if verdict.same:
                self.report.compared += 1
                entry = f"{case.index} ({first.signature or case.kind})"
                if _decisive(first):
                    self.report.unconfirmed.append(entry)
                else:
                    self.report.identical += 1
                    self.report.flaky.append(entry)
                continue
            missing = await self._unimplemented(verdict)
            if missing:
                self.report.unimplemented[missing] += 1
                continue
            self.report.compared += 1
            mismatch = Mismatch(case.index, case.kind, case.label, verdict.signature,
                                verdict.detail)
            if (case.kind == "proto" and verdict.signature not in self.minimized_signatures
                    and len(self.minimized_signatures) < self.minimize):
                self.minimized_signatures.add(verdict.signature)
                mismatch.minimized = await self._shrink(case, verdict)
            self.report.mismatches.append(mismatch)
        if self.valkdb.alive() and not await self._responsive():
            self.report.hangs.append("valkdb stopped answering PING on a second connection "
                                     "while differing cases ran again")
        if not self.valkdb.alive() or self.report.hangs and not await self._responsive():
            await self._revive("while differing cases ran again")

    async def _unimplemented(self, verdict: Verdict) -> str:
        """The command's name if valkdb answered 'unknown command' to a command redis-server
        has (a mutation can make XDEL out of DEL): not yet implemented, not a mismatch."""
        if verdict.extra is None:
            return ""
        ref, ours = verdict.extra
        _, line = _first_difference(_norm(ref.data), _norm(ours.data))
        found = _UNKNOWN.match(line)
        if not found:
            return ""
        name = found.group(1)
        known = []
        for target in (self.redis, self.valkdb):
            try:
                conn = await Connection.open(target.port)
                try:
                    reply, _ = await conn.call(b"COMMAND", b"INFO", name)
                finally:
                    conn.close()
            except (OSError, asyncio.TimeoutError, asyncio.IncompleteReadError):
                return ""
            known.append(not reply.startswith((b"*1\r\n*-1", b"*1\r\n$-1")))
        return name.decode("latin-1").lower() if known == [True, False] else ""

    async def _check_health(self, when: str) -> None:
        self.report.tracebacks.extend(tracebacks(self.valkdb.new_log()))
        if not self.valkdb.alive():
            await self._revive(when)
        if not self.redis.alive():
            raise RuntimeError(f"redis-server exited with code {self.redis.exit_code()} {when}")

    # -- one case ------------------------------------------------------------------------------

    async def evaluate(self, case: Any, slack: float, probe: bool = False) -> Verdict:
        if case.kind == "proto":
            if probe:  # a fresh key namespace: the first run's keys are still there
                case = replace(case, payload=case.payload.replace(case.tag, next(_probe_tags)))
            return await self._proto(case, slack)
        if case.kind == "keys":
            return await self._keys(case, slack)
        return await self._psub(case, slack)

    async def _proto(self, case: cases_mod.ProtoCase, slack: float) -> Verdict:
        args = {"cuts": case.cuts, "pause": case.pause, "token": case.token}
        ref = await exchange(self.redis.port, case.payload, quiet=0.05 * slack,
                             deadline=10 * slack, **args)
        if ref.end in (TIMEOUT, REFUSED):
            return Verdict(False, reference_failed=True,
                           detail=describe_exchange(case.payload, ref, ref))
        # Redis answered or closed: valkdb must too, so wait longer before calling it quiet.
        quiet = (0.1 if ref.end == QUIET else 1.0) * slack
        ours = await exchange(self.valkdb.port, case.payload, quiet=quiet, deadline=5 * slack,
                              **args)
        same = ours.end == ref.end and _norm(ours.data) == _norm(ref.data)
        return Verdict(same, stalled=ours.end in (TIMEOUT, REFUSED),
                       signature="" if same else _signature(ref, ours),
                       detail=describe_exchange(case.payload, ref, ours), extra=(ref, ours))

    def _glob_limit(self, slack: float) -> float:
        """How long valkdb's glob replies are waited for: long enough to tell a slow match from
        a stuck server while many cases run, just past the bound when run alone."""
        return 5.0 if slack == 1.0 else self.bound + 3.0

    async def _keys_on(self, port: int, pattern: bytes, timeout: float) -> tuple[list, float]:
        """KEYS and a full SCAN MATCH: each result sorted (order is unspecified), and the
        slowest reply's time."""
        conn = await Connection.open(port)
        try:
            await conn.call(b"SELECT", globs.GLOB_DB)
            keys, worst = await conn.call(b"KEYS", pattern, timeout=timeout)
            results: list = [sorted(_array(keys)) if keys[:1] == b"*" else keys]
            cursor, scanned = b"0", set()
            for _ in range(10_000):
                reply, seconds = await conn.call(b"SCAN", cursor, b"MATCH", pattern, b"COUNT",
                                                 b"1000", timeout=timeout)
                worst = max(worst, seconds)
                if reply[:1] != b"*":
                    scanned = reply
                    break
                cursor, found = _scan_reply(reply)
                scanned.update(found)
                if cursor == b"0":
                    break
            results.append(sorted(scanned) if isinstance(scanned, set) else scanned)
            return results, worst
        finally:
            conn.close()

    async def _keys(self, case: globs.KeysCase, slack: float) -> Verdict:
        try:
            theirs, _ = await self._keys_on(self.redis.port, case.pattern, 10 * slack)
        except (OSError, asyncio.TimeoutError, asyncio.IncompleteReadError, ValueError):
            return Verdict(False, reference_failed=True, detail=f"KEYS {case.pattern!r}")
        longest = max(self.keyset, key=len)
        detail = (f"KEYS and SCAN MATCH {show(case.pattern)} in database "
                  f"{globs.GLOB_DB.decode()}: {len(self.keyset)} keys, the longest "
                  f"{show(longest, 100)}")
        try:
            ours, worst = await self._keys_on(self.valkdb.port, case.pattern,
                                              self._glob_limit(slack))
        except (OSError, asyncio.TimeoutError, asyncio.IncompleteReadError, ValueError) as exc:
            return Verdict(False, stalled=True, slow=self._glob_limit(slack),
                           signature="KEYS/SCAN no reply",
                           detail=f"{detail}: {type(exc).__name__}")
        slow = max(0.0, worst - self.bound)
        if ours == theirs:
            return Verdict(True, slow=slow, detail=detail)
        lines = [detail]
        for name, a, b in (("KEYS", ours[0], theirs[0]), ("SCAN MATCH", ours[1], theirs[1])):
            if a == b:
                continue
            if isinstance(a, list) and isinstance(b, list):
                only_ours = sorted(set(a) - set(b))
                only_theirs = sorted(set(b) - set(a))
                lines.append(f"{name}: only valkdb matches {[show(k, 80) for k in only_ours[:5]]}"
                             f", only redis-server {[show(k, 80) for k in only_theirs[:5]]}")
            else:
                lines.append(f"{name}: valkdb {show(_flat(a))}, redis-server {show(_flat(b))}")
        return Verdict(False, slow=slow, signature=f"{lines[1].split(':')[0]} results differ",
                       detail="\n".join(lines))

    async def _psub_on(self, port: int, case: globs.PsubCase,
                       timeout: float) -> tuple[list[bytes], float]:
        """What PSUBSCRIBE, the PUBLISHes and each subscriber saw, and the slowest PUBLISH."""
        subs = []
        transcript = []
        worst = 0.0
        try:
            for pattern in case.patterns:
                conn = await Connection.open(port)
                subs.append(conn)
                reply, _ = await conn.call(b"PSUBSCRIBE", case.prefix + pattern, timeout=timeout)
                transcript.append(reply)
            pub = await Connection.open(port)
            subs.append(pub)
            for n, channel in enumerate(case.channels):
                reply, seconds = await pub.call(b"PUBLISH", case.prefix + channel, b"m%d" % n,
                                                timeout=timeout)
                transcript.append(reply)
                worst = max(worst, seconds)
            for conn in subs[:-1]:
                conn.writer.write(cases_mod.multibulk([b"PING"]))
                received = []
                while (reply := await conn.read(timeout)) != PONG_SUBSCRIBED:
                    received.append(reply)
                transcript.append(b"".join(received))
        finally:
            for conn in subs:
                conn.close()
        return transcript, worst

    async def _psub(self, case: globs.PsubCase, slack: float) -> Verdict:
        detail = (f"prefix {case.prefix!r}, patterns {[show(p, 80) for p in case.patterns]}, "
                  f"channels {[show(c, 80) for c in case.channels]}")
        try:
            theirs, _ = await self._psub_on(self.redis.port, case, 10 * slack)
        except (OSError, asyncio.TimeoutError, asyncio.IncompleteReadError, ValueError):
            return Verdict(False, reference_failed=True, detail=detail)
        try:
            ours, worst = await self._psub_on(self.valkdb.port, case, self._glob_limit(slack))
        except (OSError, asyncio.TimeoutError, asyncio.IncompleteReadError, ValueError) as exc:
            return Verdict(False, stalled=True, slow=self._glob_limit(slack),
                           signature="PSUBSCRIBE no reply",
                           detail=f"{detail}: {type(exc).__name__}")
        slow = max(0.0, worst - self.bound)
        if ours == theirs:
            return Verdict(True, slow=slow, detail=detail)
        at = next(i for i, (a, b) in enumerate(zip(ours, theirs, strict=True)) if a != b)
        step = ("PSUBSCRIBE reply" if at < len(case.patterns) else
                "PUBLISH reply" if at < len(case.patterns) + len(case.channels) else
                "messages received")
        return Verdict(False, slow=slow, signature=f"{step} differs",
                       detail=f"{detail}\n{step}: valkdb {show(ours[at])}, "
                              f"redis-server {show(theirs[at])}")

    # -- shrinking -----------------------------------------------------------------------------

    async def _shrink(self, case: cases_mod.ProtoCase, verdict: Verdict, budget: int = 300) -> str:
        """A short payload that still differs in the same way (delta debugging on bytes)."""
        token_tail = cases_mod.sentinel(case.token) if case.token else None
        probes = 0

        async def differs(payload: bytes, cuts: tuple[int, ...]) -> Verdict | None:
            nonlocal probes
            probes += 1
            token = case.token if token_tail and payload.endswith(token_tail) else None
            probe = replace(case, payload=payload, cuts=cuts, token=token)
            result = await self.evaluate(probe, 2.0, probe=True)
            if not result.same and not result.reference_failed \
                    and result.signature == verdict.signature:
                return result
            return None

        data, cuts = case.payload, case.cuts
        best = verdict
        if cuts and (found := await differs(data, ())):
            cuts, best = (), found
        n = 2
        while probes < budget and len(data) > 1:
            size = max(1, len(data) // n)
            candidates = [data[:i] + data[i + size :] for i in range(0, len(data), size)]
            shrunk = False
            for start in range(0, len(candidates), 16):
                group = candidates[start : start + 16]
                results = await asyncio.gather(*(differs(c, cuts) for c in group))
                hit = next((i for i, r in enumerate(results) if r is not None), None)
                if hit is not None:
                    data, best, shrunk = group[hit], results[hit], True
                    break
                if probes >= budget:
                    break
            if shrunk:
                n = max(n - 1, 2)
            elif size == 1:
                break
            else:
                n = min(n * 2, len(data))
        ref, ours = best.extra
        how = "" if not cuts else f"\n(delivered in pieces at {list(cuts)[:20]})"
        anonymous = [_TAGS.sub(b"kgggggggg.", d) for d in (data, ref.data, ours.data)]
        return describe_exchange(anonymous[0], replace(ref, data=anonymous[1]),
                                 replace(ours, data=anonymous[2])) + how


def _decisive(verdict: Verdict) -> bool:
    """A protocol case whose two exchanges both ended without a timed wait."""
    return verdict.extra is not None and all(
        o.end in (CLOSED, ANSWERED) for o in verdict.extra)


def _parse(data: bytes, pos: int) -> tuple[Any, int]:
    """One RESP value from data[pos:]: bytes for a bulk, a list for an array, else the line."""
    end = data.index(b"\r\n", pos)
    kind, head = data[pos : pos + 1], data[pos + 1 : end]
    if kind == b"$":
        size = int(head)
        if size < 0:
            return None, end + 2
        return data[end + 2 : end + 2 + size], end + 4 + size
    if kind == b"*":
        items = []
        pos = end + 2
        for _ in range(max(0, int(head))):
            item, pos = _parse(data, pos)
            items.append(item)
        return items, pos
    return data[pos : end + 2], end + 2


def _array(reply: bytes) -> list:
    return _parse(reply, 0)[0]


def _scan_reply(reply: bytes) -> tuple[bytes, list[bytes]]:
    cursor, keys = _array(reply)
    return cursor, keys


def _flat(value: Any) -> bytes:
    return value if isinstance(value, bytes) else repr(value).encode()


def run(valkdb: Target, redis: Target, *, seed: int, cases: int, first: int = 0,
        concurrency: int = 96, batch: int = 2000, bound: float = 1.0, minimize: int = 5,
        max_failures: int = 10, kinds: tuple[str, ...] = KINDS,
        progress: Callable[[str], None] | None = None) -> Report:
    """Run cases first..first+cases-1 of `seed` (those of the given kinds) against both
    servers; stop early after max_failures crashes and hangs."""
    runner = _Run(valkdb, redis, seed=seed, cases=cases, first=first, concurrency=concurrency,
                  batch=batch, bound=bound, minimize=minimize, max_failures=max_failures,
                  kinds=kinds, progress=progress)
    return asyncio.run(runner.main())


def compare_payload(valkdb_port: int, redis_port: int, payload: bytes, *,
                    cuts: tuple[int, ...] = (), pause: float = 0.0,
                    token: bytes | None = None) -> tuple[bool, str, Outcome, Outcome]:
    """One payload on a fresh connection to each server, with generous waits: (identical,
    both exchanges described, redis-server's outcome, valkdb's). With `token`, the payload
    ends with cases.sentinel(token) and its reply ends the exchange."""

    async def both() -> tuple[bool, str, Outcome, Outcome]:
        args = {"cuts": cuts, "pause": pause, "token": token}
        ref = await exchange(redis_port, payload, quiet=0.2, deadline=10, **args)
        ours = await exchange(valkdb_port, payload, quiet=0.3 if ref.end == QUIET else 2.0,
                              deadline=10, **args)
        same = ours.end == ref.end and _norm(ours.data) == _norm(ref.data)
        return same, describe_exchange(payload, ref, ours), ref, ours

    return asyncio.run(both())


__all__ = ["Report", "Target", "compare_payload", "make_case", "run", "tracebacks"]
