"""MONITOR, SLOWLOG and LATENCY: what the server tells about the commands it runs.

The counting itself is in core/stats.py, the monitors' lines in core/monitors.py, and the
dispatcher feeds them all after each command (core/dispatch.py); these are the commands that
read it, in Redis 7.0's formats (slowlog.c, latency.c, sparkline.c).
"""

from __future__ import annotations

import functools
import os
import time
from typing import Any

from valkdb import errors
from valkdb.commands.keys import help_reply
from valkdb.core.context import Context
from valkdb.core.monitors import feed_monitors
from valkdb.core.registry import COMMANDS, command, container
from valkdb.core.stats import cumulative_distribution
from valkdb.protocol.encoder import EMPTY_ARRAY, OK, array, bulk, integer

# -- MONITOR -----------------------------------------------------------------------------------


@command("monitor")
def monitor(c: Any, argv: list[bytes]) -> bytes:
    if c.deny_blocking:
        return errors.err("ERR MONITOR isn't allowed for DENY BLOCKING client")
    stats = c.server.monitoring
    if c in stats.monitors:
        return b""  # already monitoring: Redis ignores it, without a reply
    stats.monitors[c] = None
    stats.configure()
    return OK


def feeding_first(handler: Any) -> Any:
    """EVAL, EVALSHA and FCALL go to the monitors before they run (their commands come after
    them), so the dispatcher does not show them after (they are skip_monitor)."""
    @functools.wraps(handler)
    def run(c: Context, argv: list[bytes]) -> bytes:
        if c.server.monitoring.monitors:
            feed_monitors(c, argv)
        return handler(c, argv)
    run.feeds_monitors = True  # type: ignore[attr-defined]
    return run


def install_script_feeds() -> None:
    """Wrap the script commands' handlers (once they are all registered)."""
    for name in ("eval", "eval_ro", "evalsha", "evalsha_ro", "fcall", "fcall_ro"):
        entry = COMMANDS.get(name)
        if entry is not None and entry.handler is not None and not getattr(
                entry.handler, "feeds_monitors", False):
            entry.handler = feeding_first(entry.handler)


# -- SLOWLOG -----------------------------------------------------------------------------------

container("slowlog")

_SLOWLOG_HELP = [
    b"SLOWLOG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    b"GET [<count>]",
    b"    Return top <count> entries from the slowlog (default: 10, -1 mean all).",
    b"    Entries are made of:",
    b"    id, timestamp, time in microseconds, arguments array, client IP and port,",
    b"    client name",
    b"LEN",
    b"    Return the length of the slowlog.",
    b"RESET",
    b"    Reset the slowlog.",
    b"HELP",
    b"    Prints this help.",
]


@command("slowlog|get")
def slowlog_get(c: Context, argv: list[bytes]) -> bytes:
    slowlog = c.server.monitoring.slowlog
    if len(argv) > 3:
        return _subcommand_error(argv)
    count = 10
    if len(argv) == 3:
        try:
            count = int(argv[2])
        except ValueError:
            count = -2
        if count < -1 or not argv[2].lstrip(b"-").isdigit():
            return errors.err("ERR count should be greater than or equal to -1")
        if count == -1:
            count = len(slowlog.entries)
    entries = list(slowlog.entries)[:count]
    return array([
        array([integer(id_), integer(when), integer(usec),
               array([bulk(arg) for arg in args]), bulk(addr), bulk(name)])
        for id_, when, usec, args, addr, name in entries])


@command("slowlog|len")
def slowlog_len(c: Context, argv: list[bytes]) -> bytes:
    return integer(len(c.server.monitoring.slowlog.entries))


@command("slowlog|reset")
def slowlog_reset(c: Context, argv: list[bytes]) -> bytes:
    c.server.monitoring.slowlog.reset()
    return OK


@command("slowlog|help")
def slowlog_help(c: Context, argv: list[bytes]) -> bytes:
    return help_reply(_SLOWLOG_HELP)


def _subcommand_error(argv: list[bytes]) -> bytes:
    return errors.err(
        f"ERR unknown subcommand or wrong number of arguments for "
        f"'{argv[1][:128].decode('utf-8', 'replace')}'. "
        f"Try {argv[0].decode('utf-8', 'replace').upper()} HELP.")


# -- LATENCY -----------------------------------------------------------------------------------

container("latency")

_LATENCY_HELP = [
    b"LATENCY <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    b"DOCTOR",
    b"    Return a human readable latency analysis report.",
    b"GRAPH <event>",
    b"    Return an ASCII latency graph for the <event> class.",
    b"HISTORY <event>",
    b"    Return time-latency samples for the <event> class.",
    b"LATEST",
    b"    Return the latest latency samples for all events.",
    b"RESET [<event> ...]",
    b"    Reset latency data of one or more <event> classes.",
    b"    (default: reset all data for all event classes)",
    b"HISTOGRAM [COMMAND ...]",
    b"    Return a cumulative distribution of latencies in the format of a histogram for the "
    b"specified command names.",
    b"    If no commands are specified then all histograms are replied.",
    b"HELP",
    b"    Prints this help.",
]


@command("latency|latest")
def latency_latest(c: Context, argv: list[bytes]) -> bytes:
    events = c.server.monitoring.latency
    return array([
        array([bulk(name.encode()), integer(series.latest()[0]),
               integer(series.latest()[1]), integer(series.max)])
        for name, series in events.items()])


@command("latency|history")
def latency_history(c: Context, argv: list[bytes]) -> bytes:
    series = c.server.monitoring.latency.get(argv[2].decode("latin-1"))
    if series is None:
        return EMPTY_ARRAY
    return array([array([integer(when), integer(ms)]) for when, ms in series.in_order()])


@command("latency|reset")
def latency_reset(c: Context, argv: list[bytes]) -> bytes:
    stats = c.server.monitoring
    if len(argv) == 2:
        return integer(stats.reset_latency(None))
    return integer(sum(stats.reset_latency([arg.decode("latin-1")]) for arg in argv[2:]))


@command("latency|graph")
def latency_graph(c: Context, argv: list[bytes]) -> bytes:
    name = argv[2].decode("latin-1")
    series = c.server.monitoring.latency.get(name)
    if series is None:
        return errors.err(f"ERR No samples available for event '{name}'")
    return c.resp.verbatim(_graph(name, series).encode("latin-1"))


@command("latency|doctor")
def latency_doctor(c: Context, argv: list[bytes]) -> bytes:
    return c.resp.verbatim(_doctor(c.server).encode("latin-1"))


@command("latency|histogram")
def latency_histogram(c: Context, argv: list[bytes]) -> bytes:
    durations = c.server.monitoring.histograms()
    if len(argv) == 2:
        entries = [entry for entry in durations if durations[entry]]
    else:
        entries = []
        for name in argv[2:]:
            entry = _lookup_by_name(name.decode("latin-1").lower())
            if entry is None:
                continue
            if durations.get(entry):
                entries.append(entry)
            for sub in (entry.subcommands or {}).values():
                if durations.get(sub):
                    entries.append(sub)
    resp = c.resp
    pairs = []
    for entry in entries:
        cdf = cumulative_distribution(durations[entry])
        pairs.append((bulk(entry.name.encode()), resp.map([
            (bulk(b"calls"), integer(sum(durations[entry].values()))),
            (bulk(b"histogram_usec"),
             resp.map([(integer(usec), integer(count)) for usec, count in cdf])),
        ])))
    return resp.map(pairs)


@command("latency|help")
def latency_help(c: Context, argv: list[bytes]) -> bytes:
    return help_reply(_LATENCY_HELP)


def _lookup_by_name(name: str) -> Any:
    parent, _, sub = name.partition("|")
    entry = COMMANDS.get(parent)
    if entry is None or not sub:
        return entry
    return (entry.subcommands or {}).get(sub.encode())


# LATENCY GRAPH's sparkline (sparkline.c): 4 rows of "_o#" (filled), labels below.
_ROWS = 4
_COLUMNS = 80
_FILL = "_o#"


def _graph(name: str, series: Any) -> str:
    samples = series.in_order()
    now = int(time.time())
    values = [ms for _, ms in samples]
    labels = [_ago(now - when) for when, _ in samples]
    low, high = (min(values), max(values)) if values else (0, 0)
    out = [f"{name} - high {high} ms, low {low} ms (all time high {series.max} ms)\n",
           "-" * _COLUMNS + "\n"]
    for start in range(0, len(values), _COLUMNS):
        if start:
            out.append("\n")
        out.append(_render(values[start:start + _COLUMNS], labels[start:start + _COLUMNS],
                           min(values), max(values)))
    return "".join(out)


def _ago(seconds: int) -> str:
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m"
    if seconds < 86400:
        return f"{seconds // 3600}h"
    return f"{seconds // 86400}d"


def _render(values: list[int], labels: list[str], low: int, high: int) -> str:
    relmax = (high - low) or 1
    steps = len(_FILL) * _ROWS
    lines = []
    for row in range(_ROWS):
        chars = []
        for value in values:
            step = min(max(int((value - low) * steps / relmax), 0), steps - 1)
            index = step - (_ROWS - row - 1) * len(_FILL)
            chars.append(_FILL[index] if 0 <= index < len(_FILL) else
                         "|" if index >= len(_FILL) else " ")
        lines.append("".join(chars))
    lines.append(" " * len(values))  # the margin above the labels
    row = 0
    while any(len(label) > row for label in labels):
        lines.append("".join(label[row] if len(label) > row else " " for label in labels))
        row += 1
    return "".join(line + "\n" for line in lines)


def _doctor(server: Any) -> str:
    stats, config = server.monitoring, server.config
    if not stats.latency and config.latency_monitor_threshold == 0:
        return ("I'm sorry, Dave, I can't do that. Latency monitoring is disabled in this Redis "
                "instance. You may use \"CONFIG SET latency-monitor-threshold <milliseconds>.\" "
                "in order to enable it. If we weren't in a deep space mission I'd suggest to "
                "take a look at https://redis.io/topics/latency-monitor.\n")
    report: list[str] = []
    advices: set[str] = set()
    now = int(time.time())
    for number, (event, series) in enumerate(stats.latency.items(), 1):
        if number == 1:
            report.append("Dave, I have observed latency spikes in this Redis instance. You "
                          "don't mind talking about it, do you Dave?\n\n")
        values = [ms for _, ms in series.in_order()]
        count = len(values)
        average = sum(values) // count if count else 0
        deviation = sum(abs(average - v) for v in values) // count if count else 0
        period = max(now - min(when for when, _ in series.in_order()), 1) if count else 0
        report.append(
            f"{number}. {event}: {count} latency spikes (average {average}ms, mean deviation "
            f"{deviation}ms, period {period / count if count else 0:.2f} sec). Worst all "
            f"time event {series.max}ms.")
        if event == "command":
            if config.slowlog_log_slower_than < 0:
                advices.add("slowlog-enable")
            elif config.slowlog_log_slower_than // 1000 > config.latency_monitor_threshold:
                advices.add("slowlog-tune")
            advices |= {"slowlog-inspect", "large-objects"}
        elif event == "fast-command":
            advices.add("scheduler")
        elif event == "expire-cycle":
            advices |= {"hz", "large-objects"}
        report.append("\n")
    if _anon_huge_pages():
        advices.add("thp")
    if not stats.latency and not advices:
        report.append("Dave, no latency spike was observed during the lifetime of this Redis "
                      "instance, not in the slightest bit. I honestly think you ought to sit "
                      "down calmly, take a stress pill, and think things over.\n")
    elif not advices:
        report.append("\nWhile there are latency events logged, I'm not able to suggest any "
                      "easy fix. Please use the Redis community to get some help, providing "
                      "this report in your help request.\n")
    else:
        report.append("\nI have a few advices for you:\n\n")
        threshold_us = config.latency_monitor_threshold * 1000
        texts = {
            "slowlog-enable": "- There are latency issues with potentially slow commands you "
            "are using. Try to enable the Slow Log Redis feature using the command 'CONFIG SET "
            f"slowlog-log-slower-than {threshold_us}'. If the Slow log is disabled Redis is "
            "not able to log slow commands execution for you.\n",
            "slowlog-tune": "- Your current Slow Log configuration only logs events that are "
            "slower than your configured latency monitor threshold. Please use 'CONFIG SET "
            f"slowlog-log-slower-than {threshold_us}'.\n",
            "slowlog-inspect": "- Check your Slow Log to understand what are the commands you "
            "are running which are too slow to execute. Please check "
            "https://redis.io/commands/slowlog for more information.\n",
            "scheduler": "- The system is slow to execute Redis code paths not containing "
            "system calls. This usually means the system does not provide Redis CPU time to "
            "run for long periods. You should try to:\n  1) Lower the system load.\n  2) Use a "
            "computer / VM just for Redis if you are running other software in the same "
            "system.\n  3) Check if you have a \"noisy neighbour\" problem.\n  4) Check with "
            "'redis-cli --intrinsic-latency 100' what is the intrinsic latency in your "
            "system.\n  5) Check if the problem is allocator-related by recompiling Redis with "
            "MALLOC=libc, if you are using Jemalloc. However this may create fragmentation "
            "problems.\n",
            "hz": "- In order to make the Redis keys expiring process more incremental, try to "
            "set the 'hz' configuration parameter to 100 using 'CONFIG SET hz 100'.\n"
            if config.hz < 100 else "",
            "large-objects": "- Deleting, expiring or evicting (because of maxmemory policy) "
            "large objects is a blocking operation. If you have very large objects that are "
            "often deleted, expired, or evicted, try to fragment those objects into multiple "
            "smaller objects.\n",
            "thp": "- I detected a non zero amount of anonymous huge pages used by your "
            "process. This creates very serious latency events in different conditions, "
            "especially when Redis is persisting on disk. To disable THP support use the "
            "command 'echo never > /sys/kernel/mm/transparent_hugepage/enabled', make sure to "
            "also add it into /etc/rc.local so that the command will be executed again after "
            "a reboot. Note that even if you have already disabled THP, you still need to "
            "restart the Redis process to get rid of the huge pages already created.\n",
        }
        for advice in ("slowlog-enable", "slowlog-tune", "slowlog-inspect", "scheduler", "hz",
                       "large-objects", "thp"):
            if advice in advices:
                report.append(texts[advice])
    return "".join(report)


def _anon_huge_pages() -> int:
    try:
        with open(f"/proc/{os.getpid()}/smaps", "rb") as smaps:
            return sum(int(line.split()[1]) for line in smaps
                       if line.startswith(b"AnonHugePages:"))
    except OSError:
        return 0
