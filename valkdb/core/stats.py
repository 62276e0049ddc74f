"""What the server counts about the commands it runs: INFO commandstats / errorstats /
latencystats, SLOWLOG and LATENCY's event history, and the set of MONITOR clients.

Counters and histories only: no I/O. The dispatcher (core/dispatch.py) feeds it after every
command. On the hot path it does two things: it adds the command's duration (whole
microseconds, as Redis's ustime()) to the command's histogram, a dict from duration to count
from which calls, usec and the percentiles are all derived; and it compares the duration with
`slow_us`, the least duration worth a closer look (the slow log's or the latency monitor's
threshold, or -1 while a monitor is attached). Everything else runs only past that threshold.

The percentiles are computed as Redis's HDR histogram (1 ns .. 1 s, 2 significant digits)
reports them, from the exact durations: each is mapped to its HDR bucket at INFO time.
"""

from __future__ import annotations

import time
from collections import deque
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from valkdb.core.registry import Command

SLOWLOG_MAX_ARGC = 32
SLOWLOG_MAX_STRING = 128
LATENCY_TS_LEN = 160
_SHORT = 64
# Past this many microseconds a command always takes the slow path (so that a blocking
# command's wait is taken out of its duration before it is counted).
_ALWAYS_LOOK_US = 10_000


class SlowLog:
    """Redis's slowlog.c: newest first, at most slowlog-max-len entries."""

    def __init__(self) -> None:
        self.entries: deque[tuple[int, int, int, list[bytes], bytes, bytes]] = deque()
        self.next_id = 0

    def push(self, argv: list[bytes], usec: int, addr: bytes, name: bytes,
             max_len: int) -> None:
        count = len(argv)
        kept = []
        for j, arg in enumerate(argv[:SLOWLOG_MAX_ARGC]):
            if count > SLOWLOG_MAX_ARGC and j == SLOWLOG_MAX_ARGC - 1:
                arg = b"... (%d more arguments)" % (count - SLOWLOG_MAX_ARGC + 1)
            elif len(arg) > SLOWLOG_MAX_STRING:
                arg = arg[:SLOWLOG_MAX_STRING] + b"... (%d more bytes)" % (
                    len(arg) - SLOWLOG_MAX_STRING)
            kept.append(arg)
        self.entries.appendleft((self.next_id, int(time.time()), usec, kept, addr, name))
        self.next_id += 1
        self.trim(max_len)

    def trim(self, max_len: int) -> None:
        while len(self.entries) > max_len:
            self.entries.pop()

    def reset(self) -> None:
        self.entries.clear()


class LatencySeries:
    """One event's last LATENCY_TS_LEN samples (a ring of [unix time, ms]) and its maximum."""

    __slots__ = ("samples", "idx", "max")

    def __init__(self) -> None:
        self.samples = [[0, 0] for _ in range(LATENCY_TS_LEN)]
        self.idx = 0
        self.max = 0

    def add(self, ms: int, now: int) -> None:
        if ms > self.max:
            self.max = ms
        previous = self.samples[(self.idx - 1) % LATENCY_TS_LEN]
        if previous[0] == now:  # one sample a second: the worst
            if ms > previous[1]:
                previous[1] = ms
            return
        self.samples[self.idx] = [now, ms]
        self.idx = (self.idx + 1) % LATENCY_TS_LEN

    def in_order(self) -> list[list[int]]:
        """The samples taken, oldest first."""
        return [sample for j in range(LATENCY_TS_LEN)
                if (sample := self.samples[(self.idx + j) % LATENCY_TS_LEN])[0]]

    def latest(self) -> list[int]:
        return self.samples[(self.idx - 1) % LATENCY_TS_LEN]


# -- HDR histogram arithmetic (lowest 1, highest 1e9, 2 significant digits, as Redis's) --------

_HDR_MIN, _HDR_MAX = 1, 1_000_000_000


def _hdr_bucket(value: int) -> tuple[int, int]:
    """(lowest, highest) equivalent values of the HDR bucket holding value (ns)."""
    shift = (value | 255).bit_length() - 8
    lowest = (value >> shift) << shift
    return lowest, lowest + (1 << shift) - 1


def _ns(usec: int) -> int:
    return min(max(usec * 1000, _HDR_MIN), _HDR_MAX)


def percentile(histogram: dict[int, int], wanted: float) -> float:
    """The microseconds HDR's value_at_percentile gives for durations {usec: count}."""
    total = sum(histogram.values())
    target = max(int((min(wanted, 100.0) / 100) * total + 0.5), 1)
    seen = 0
    for bucket, count in _buckets(histogram):
        seen += count
        if seen >= target:
            return bucket[0 if wanted == 0.0 else 1] / 1000.0
    return 0.0


def _buckets(histogram: dict[int, int]) -> list[tuple[tuple[int, int], int]]:
    merged: dict[tuple[int, int], int] = {}
    for usec, count in histogram.items():
        key = _hdr_bucket(_ns(usec))
        merged[key] = merged.get(key, 0) + count
    return sorted(merged.items())


def cumulative_distribution(histogram: dict[int, int]) -> list[tuple[int, int]]:
    """LATENCY HISTOGRAM's (usec, cumulative calls) pairs: HDR's log iteration from 1024 ns
    by powers of two, the levels where the count grew."""
    total = sum(histogram.values())
    values = sorted(((_ns(usec), count) for usec, count in histogram.items()))
    pairs: list[tuple[int, int]] = []
    level, seen, i, previous = 1024, 0, 0, 0
    while seen < total:
        high = _hdr_bucket(level)[1]
        while i < len(values) and values[i][0] <= high:
            seen += values[i][1]
            i += 1
        if seen > previous:
            pairs.append((high // 1000, seen))
        previous = seen
        level *= 2
    return pairs


class Stats:
    """Per-command and per-error counters, the slow log, the latency events, the monitors."""

    __slots__ = ("config", "durations", "long_durations", "failed", "rejected", "errors",
                 "error_replies", "slowlog", "latency", "monitors", "unsent", "slow_us", "look_us",
                 "clock")

    def __init__(self, config: Any) -> None:
        self.config = config
        # command -> calls by duration: a list for durations under _SHORT us (the command's
        # own `histogram`, for the hot path's `entry.histogram[usec] += 1`), a dict for the
        # longer ones.
        self.durations: dict[Command, list[int]] = {}
        self.long_durations: dict[Command, dict[int, int]] = {}
        self.failed: dict[Command, int] = {}
        self.rejected: dict[Command, int] = {}
        self.errors: dict[bytes, int] = {}  # error prefix -> replies
        self.error_replies = 0
        self.slowlog = SlowLog()
        self.latency: dict[str, LatencySeries] = {}
        self.monitors: dict[Any, None] = {}  # the MONITOR clients, in the order they came
        # What the monitors have yet to be sent, as core/monitors.py records it (flat: time_ns,
        # db, origin, argv for each command).
        self.unsent: list[Any] = []
        self.slow_us = self.look_us = 0
        # monotonic_ns() when the last command ended or a connection read its batch: where
        # the next command's duration starts (Connections set it; see dispatch.call).
        self.clock = time.monotonic_ns()
        self.configure()

    def configure(self) -> None:
        """Recompute the slow path's thresholds (after CONFIG SET, a monitor in or out): past
        look_us a command is looked at (slow()); with a monitor attached all take the path."""
        config = self.config
        limits = [_ALWAYS_LOOK_US]
        if config.slowlog_log_slower_than >= 0:
            limits.append(config.slowlog_log_slower_than)
        if config.latency_monitor_threshold > 0:
            limits.append(config.latency_monitor_threshold * 1000)
        self.look_us = min(limits)
        self.slow_us = -1 if self.monitors else self.look_us

    # -- counting ------------------------------------------------------------------------------

    def count(self, entry: Command, usec: int) -> None:
        """What the hot path's increment could not count: the first call of a command (since
        the start or CONFIG RESETSTAT), or a duration of _SHORT us or more."""
        if entry.histogram is None:
            entry.histogram = self.durations[entry] = [0] * _SHORT
        if usec < _SHORT:
            self.durations[entry][usec] += 1
        else:
            longer = self.long_durations.setdefault(entry, {})
            longer[usec] = longer.get(usec, 0) + 1

    def histogram(self, entry: Command) -> dict[int, int]:
        """{usec: calls} of a command."""
        counts = {usec: n for usec, n in enumerate(self.durations.get(entry, ())) if n}
        counts.update(self.long_durations.get(entry, {}))
        return counts

    def histograms(self) -> dict[Command, dict[int, int]]:
        """{command: {usec: calls}} of every command that ran."""
        return {entry: self.histogram(entry) for entry in self.durations}

    def error(self, reply: bytes) -> None:
        """An error reply went out (Redis's afterErrorReply)."""
        self.error_replies += 1
        space = reply.find(b" ", 0, 32)
        prefix = reply[1:space] if space > 1 else b"ERR"
        self.errors[prefix] = self.errors.get(prefix, 0) + 1

    def command_failed(self, entry: Command, reply: bytes) -> None:
        self.error(reply)
        self.failed[entry] = self.failed.get(entry, 0) + 1

    def command_rejected(self, entry: Command | None, reply: bytes) -> None:
        self.error(reply)
        if entry is not None:
            self.rejected[entry] = self.rejected.get(entry, 0) + 1

    def slow(self, ctx: Any, entry: Command, argv: list[bytes], usec: int) -> None:
        """A command past look_us: the latency monitor and the slow log, as Redis's call()."""
        config = self.config
        threshold = config.latency_monitor_threshold
        if threshold and usec // 1000 >= threshold:
            event = "fast-command" if "fast" in entry.flags else "command"
            self.add_latency_sample(event, usec // 1000)
        slower_than = config.slowlog_log_slower_than
        if 0 <= slower_than <= usec and "skip_slowlog" not in entry.flags:
            self.slowlog.push(argv, usec, ctx.addr.encode() or b"?:0", ctx.name,
                              config.slowlog_max_len)

    def add_latency_sample(self, event: str, ms: int) -> None:
        series = self.latency.get(event)
        if series is None:
            series = self.latency[event] = LatencySeries()
        series.add(ms, int(time.time()))

    def reset_latency(self, events: list[str] | None) -> int:
        if events is None:
            count = len(self.latency)
            self.latency.clear()
            return count
        resets = 0
        for event in list(self.latency):
            if any(event.lower() == wanted.lower() for wanted in events):
                del self.latency[event]
                resets += 1
        return resets

    # -- reading -------------------------------------------------------------------------------

    def total_calls(self) -> int:
        return sum(map(sum, self.durations.values())) + sum(
            sum(longer.values()) for longer in self.long_durations.values())

    def command_lines(self) -> list[tuple[str, int, int, int, int]]:
        """(full name, calls, usec, rejected, failed) of every command counted."""
        seen = dict.fromkeys([*self.durations, *self.failed, *self.rejected])
        lines = []
        for entry in seen:
            histogram = self.histogram(entry)
            calls = sum(histogram.values())
            usec = sum(d * n for d, n in histogram.items())
            lines.append((full_name(entry), calls, usec, self.rejected.get(entry, 0),
                          self.failed.get(entry, 0)))
        return lines

    def reset(self) -> None:
        """CONFIG RESETSTAT (the slow log and the latency events stay, as in Redis)."""
        for entry in self.durations:
            entry.histogram = None
        self.durations.clear()
        self.long_durations.clear()
        self.failed.clear()
        self.rejected.clear()
        self.errors.clear()
        self.error_replies = 0


def full_name(entry: Command) -> str:
    return entry.name  # "get", "config|get"


def info_safe(name: str) -> str:
    """INFO's getSafeInfoString: the characters that would break the format become '_'."""
    for char in "#:\n\r":
        name = name.replace(char, "_")
    return name
