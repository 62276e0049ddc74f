"""What MONITOR clients see of the commands run, and what they and the slow log never see.

Each command is shown as Redis's replicationFeedMonitors formats it: `+<seconds>.<micros>
[<db> <client address>|lua] "arg" ...`, each argument quoted like sdscatrepr. A command only
records what to show (`feed_monitors`); the lines of one event-loop turn are formatted and
queued on every monitor together when the running greenlet yields (`send_unsent`), as Redis
writes its clients' output before its event loop sleeps, so a monitor costs the commands it
watches little. A monitor's own commands flush what is recorded first, so that every monitor
sees one order. `shown` replaces the secrets of AUTH, HELLO, MIGRATE, CONFIG SET and ACL
SETUSER with "(redacted)", as Redis's redactClientCommandArgument.
"""

from __future__ import annotations

from collections.abc import Callable
from itertools import repeat
from operator import floordiv, mod
from time import time_ns
from typing import TYPE_CHECKING, Any, cast

import gevent

from valkdb.config.parsing import PRINTED_AS_IS, escaped

if TYPE_CHECKING:
    from valkdb.core.context import Context
    from valkdb.core.stats import Stats


def feed_monitors(ctx: Context, argv: list[bytes]) -> None:
    """Show a command to every MONITOR client."""
    server = ctx.server
    stats = server.monitoring
    if not stats.monitors or server.loading:
        return
    record = (time_ns(), ctx.db.index, "lua" if ctx.in_script else ctx.addr, argv)
    if ctx in stats.monitors:  # a monitor's own command: its line follows its reply
        send_unsent(stats)
        line = _lines(list(record))
        if not ctx.close_after_reply:  # (nothing once it is closing: QUIT)
            cast(Any, ctx).after_reply.append(line)
        for monitor in list(stats.monitors):
            if monitor is not ctx:
                monitor.deliver(line, "normal")
        return
    unsent = stats.unsent
    if not unsent:
        gevent.get_hub().loop.run_callback(send_unsent, stats)
    unsent += record


def send_unsent(stats: Stats) -> None:
    """Queue the lines recorded so far on every monitor."""
    if not stats.unsent:
        return
    records, stats.unsent = stats.unsent, []
    if not stats.monitors:
        return
    lines = _lines(records)
    for monitor in list(stats.monitors):
        monitor.deliver(lines, "normal")


def _lines(records: list[Any]) -> bytes:
    """The lines of records (flat: time_ns, db, origin, argv, time_ns, ...), formatted all
    together in C loops: a line costs the commands it shows a fraction of a microsecond."""
    argvs = records[3::4]
    count = len(argvs)
    quoted = list(map(_SEPARATOR.join, argvs))
    # Plain arguments leave only the separators' quotes: the common case, checked at once.
    if len(b"".join(quoted).translate(None, PRINTED_AS_IS)) != 2 * (sum(map(len, argvs)) - count):
        quoted = [text if len(text.translate(None, PRINTED_AS_IS)) == 2 * len(argv) - 2
                  else _SEPARATOR.join(map(escaped, argv))
                  for text, argv in zip(quoted, argvs, strict=True)]
    micros = list(map(floordiv, records[0::4], repeat(1000)))
    fields: list[Any] = [None] * (5 * count)
    fields[0::5] = map(floordiv, micros, repeat(1_000_000))
    fields[1::5] = map(mod, micros, repeat(1_000_000))
    fields[2::5] = records[1::4]
    fields[3::5] = map(str.encode, records[2::4])
    fields[4::5] = quoted
    return _LINE * count % tuple(fields)


def stop_monitoring(ctx: Context) -> None:
    stats = ctx.server.monitoring
    if stats.monitors.pop(ctx, False) is None:
        stats.configure()


_LINE = b'+%d.%06d [%d %s] "%s"\r\n'  # seconds.micros [db origin] "arg" "arg" ...
_SEPARATOR = b'" "'

# -- what the slow log and MONITOR never show -------------------------------------------------

def shown(name: str, argv: list[bytes]) -> list[bytes]:
    """argv as the slow log and the monitors show the command `name`."""
    redact = _REDACTED.get(name)
    if redact is None:
        return argv
    positions = redact(argv)
    if not positions:
        return argv
    redacted = list(argv)
    for i in positions:
        redacted[i] = b"(redacted)"
    return redacted


def _auth_secrets(argv: list[bytes]) -> list[int]:
    return [] if len(argv) > 3 else list(range(1, len(argv)))


def _hello_secrets(argv: list[bytes]) -> list[int]:
    if len(argv) > 1:
        version = argv[1]
        if not version.isdigit() or len(version) > 19 or int(version) not in (2, 3):
            return []  # refused before its options are read
    j = 2
    while j < len(argv):
        more = len(argv) - 1 - j
        option = argv[j].lower()
        if option == b"auth" and more >= 2:
            return [j + 1, j + 2]
        if option == b"setname" and more:
            j += 2
            continue
        return []
    return []


def _migrate_secrets(argv: list[bytes]) -> list[int]:
    positions = []
    j = 6
    while j < len(argv):
        more = len(argv) - 1 - j
        option = argv[j].lower()
        if option == b"auth" and more:
            positions.append(j + 1)
            j += 1
        elif option == b"auth2" and more >= 2:
            positions += [j + 1, j + 2]
            j += 2
        elif option not in (b"copy", b"replace"):
            break
        j += 1
    return positions


def _config_set_secrets(argv: list[bytes]) -> list[int]:
    return [i + 1 for i in range(2, len(argv) - 1, 2)
            if argv[i].lower() in (b"requirepass", b"masterauth", b"masteruser")]


_REDACTED: dict[str, Callable[[list[bytes]], list[int]]] = {
    "auth": _auth_secrets, "hello": _hello_secrets, "migrate": _migrate_secrets,
    "config|set": _config_set_secrets,
    "acl|setuser": lambda argv: list(range(2, len(argv))),
}
