"""The settings with rules of their own, and the extra checks some ordinary ones make.

Redis 7.0 gives eight settings their own parser, CONFIG GET form and CONFIG REWRITE lines (save,
client-output-buffer-limit, oom-score-adj-values, notify-keyspace-events, bind, replicaof,
latency-tracking-info-percentiles, dir), and adds a validity check to a few others (dbfilename
must be a bare name ...). Both are here, keyed by setting name; setting.py calls them.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from valkdb.config.errors import ConfigError
from valkdb.config.parsing import (
    c_int,
    format_double,
    format_memory,
    memtoull,
    quoted,
    string2d,
    strtoll,
)

Lines = list[tuple[str, bool]]  # CONFIG REWRITE lines, each with "write even if absent"
EMPTY = '""'  # how a config file spells an empty value


@dataclass(frozen=True)
class Special:
    parse: Callable[[list[str]], Any]
    format: Callable[[Any], str]
    rewrite: Callable[[str, Any, Any], Lines]  # (name, value, default value)
    multi_arg: bool = True


def _whole_number(text: str) -> int | None:
    """strtoll where all of the text must be the number (blanks before and a sign allowed)."""
    value, rest, _ = strtoll(text)
    return None if rest else value


# -- save ----------------------------------------------------------------------------------------

def _parse_save(words: list[str]) -> list[tuple[int, int]]:
    """`save <seconds> <changes> ...`; a single empty word means no save points."""
    if words == [""]:
        words = []
    numbers = []
    for i, word in enumerate(words):
        number = _whole_number(word)
        if number is None or number < (0 if i % 2 else 1):  # seconds >= 1, changes >= 0
            raise ConfigError("Invalid save parameters")
        numbers.append(number)
    if len(words) % 2:
        raise ConfigError("Invalid save parameters")
    return [(numbers[i], c_int(numbers[i + 1])) for i in range(0, len(numbers), 2)]


def _rewrite_save(name: str, points: list[tuple[int, int]], default: Any) -> Lines:
    if not points:
        return [(f"{name} {EMPTY}", True)]
    return [(f"save {seconds} {changes}", True) for seconds, changes in points]


# -- client-output-buffer-limit ------------------------------------------------------------------

DEFAULT_OUTPUT_LIMITS = {
    "normal": (0, 0, 0),
    "replica": (256 * 1024**2, 64 * 1024**2, 60),
    "pubsub": (32 * 1024**2, 8 * 1024**2, 60),
}
_CLASSES = {"normal": "normal", "slave": "replica", "replica": "replica", "pubsub": "pubsub"}


def _parse_output_limits(words: list[str]) -> dict[str, tuple[int, int, int]]:
    """`<class> <hard> <soft> <soft seconds>` groups; only the classes named (Config merges)."""
    if len(words) % 4:
        raise ConfigError("Wrong number of arguments in buffer limit configuration.")
    limits: dict[str, tuple[int, int, int]] = {}
    for i in range(0, len(words), 4):
        klass = _CLASSES.get(words[i].lower())
        if klass is None:
            raise ConfigError("Invalid client class specified in buffer limit configuration.")
        hard, soft, seconds = memtoull(words[i + 1]), memtoull(words[i + 2]), _whole_number(
            words[i + 3])
        if hard is None or soft is None or seconds is None or c_int(seconds) < 0:
            raise ConfigError("Error in hard, soft or soft_seconds setting in buffer limit "
                              "configuration.")
        limits[klass] = (hard, soft, c_int(seconds))
    return limits


def _format_output_limits(limits: dict[str, tuple[int, int, int]]) -> str:
    # CONFIG GET still spells the replica class "slave"; REWRITE writes "replica".
    return " ".join(f"{'slave' if klass == 'replica' else klass} {hard} {soft} {seconds}"
                    for klass, (hard, soft, seconds) in limits.items())


def _rewrite_output_limits(name: str, limits: dict[str, tuple[int, int, int]],
                           default: Any) -> Lines:
    return [(f"{name} {klass} {format_memory(hard)} {format_memory(soft)} {seconds}",
             (hard, soft, seconds) != DEFAULT_OUTPUT_LIMITS[klass])
            for klass, (hard, soft, seconds) in limits.items()]


# -- oom-score-adj-values ------------------------------------------------------------------------

def _parse_oom_values(words: list[str]) -> tuple[int, int, int]:
    """Three oom_score_adj values: for a master, a replica and a background child."""
    if len(words) != 3:
        raise ConfigError("wrong number of arguments")
    values = [_whole_number(word) for word in words]
    if any(value is None or not -2000 <= value <= 2000 for value in values):
        raise ConfigError("Invalid oom-score-adj-values, elements must be between -2000 and 2000.")
    return tuple(values)  # type: ignore[return-value]


def _space_joined(values: Any) -> str:
    return " ".join(map(str, values))


# -- notify-keyspace-events ----------------------------------------------------------------------

# The event classes as Redis numbers them; `A` is every class but key misses (m) and new keys (n).
NOTIFY_FLAGS = {"K": 1 << 0, "E": 1 << 1, "g": 1 << 2, "$": 1 << 3, "l": 1 << 4, "s": 1 << 5,
                "h": 1 << 6, "z": 1 << 7, "x": 1 << 8, "e": 1 << 9, "t": 1 << 10, "m": 1 << 11,
                "d": 1 << 13, "n": 1 << 14}
NOTIFY_ALL = sum(NOTIFY_FLAGS[c] for c in "g$lshzxetd")


def _parse_notify(words: list[str]) -> int:
    flags = 0
    for char in words[0]:
        if char == "A":
            flags |= NOTIFY_ALL
        elif char in NOTIFY_FLAGS:
            flags |= NOTIFY_FLAGS[char]
        else:
            raise ConfigError("Invalid event class character. Use 'Ag$lshzxeKEtmdn'.")
    return flags


def _format_notify(flags: int) -> str:
    if flags & NOTIFY_ALL == NOTIFY_ALL:
        classes = "A"
    else:
        classes = "".join(c for c in "g$lshzxetdn" if flags & NOTIFY_FLAGS[c])
    return classes + "".join(c for c in "KEm" if flags & NOTIFY_FLAGS[c])


def _rewrite_notify(name: str, flags: int, default: Any) -> Lines:
    return [(f"{name} {quoted(_format_notify(flags))}", flags != 0)]


# -- bind ----------------------------------------------------------------------------------------

def _parse_bind(words: list[str]) -> list[str]:
    if len(words) > 16:
        raise ConfigError("Too many bind addresses specified.")
    return [] if words == [""] else list(words)


def _rewrite_bind(name: str, addresses: list[str], default: Any) -> Lines:
    if addresses == default:  # valkdb's own default (loopback), where Redis compares with its own
        return []
    return [(f"{name} {' '.join(addresses) or EMPTY}", True)]


# -- replicaof -----------------------------------------------------------------------------------

def _parse_replicaof(words: list[str]) -> tuple[str, int] | None:
    """`<host> <port>`, or `no one` for none."""
    if len(words) != 2:
        raise ConfigError("wrong number of arguments")
    if words[0].lower() == "no" and words[1].lower() == "one":
        return None
    port, rest, _ = strtoll(words[1])
    if rest or not 0 <= port <= 65535:
        raise ConfigError("Invalid master port")
    return words[0], port


def _rewrite_replicaof(name: str, master: tuple[str, int] | None, default: Any) -> Lines:
    return [] if master is None else [(f"{name} {master[0]} {master[1]}", True)]


# -- latency-tracking-info-percentiles -----------------------------------------------------------

def _parse_percentiles(words: list[str]) -> list[float]:
    percentiles = []
    for word in [] if words == [""] else words:
        value = string2d(word)
        if value is None:
            raise ConfigError("Invalid latency-tracking-info-percentiles parameters")
        if not 0.0 <= value <= 100.0:
            raise ConfigError("latency-tracking-info-percentiles parameters should sit between "
                              "[0.0,100.0]")
        percentiles.append(value)
    return percentiles


def _format_percentiles(values: list[float]) -> str:
    return " ".join(map(format_double, values))


def _rewrite_percentiles(name: str, values: list[float], default: Any) -> Lines:
    return [(f"{name} {_format_percentiles(values) or EMPTY}", True)]


# -- dir -------------------------------------------------------------------------------------------

def _rewrite_dir(name: str, path: str, default: Any) -> Lines:
    return [(f"{name} {quoted(os.path.abspath(path))}", True)]  # always, and always absolute


SPECIALS = {
    "save": Special(_parse_save, lambda points: " ".join(f"{s} {c}" for s, c in points),
                    _rewrite_save),
    "client-output-buffer-limit": Special(_parse_output_limits, _format_output_limits,
                                          _rewrite_output_limits),
    "oom-score-adj-values": Special(
        _parse_oom_values, _space_joined,
        lambda name, values, default: [(f"{name} {_space_joined(values)}", values != default)]),
    "notify-keyspace-events": Special(_parse_notify, _format_notify, _rewrite_notify, False),
    "bind": Special(_parse_bind, " ".join, _rewrite_bind),
    "replicaof": Special(_parse_replicaof, lambda master: "" if master is None else
                         f"{master[0]} {master[1]}", _rewrite_replicaof),
    "latency-tracking-info-percentiles": Special(_parse_percentiles, _format_percentiles,
                                                 _rewrite_percentiles),
    "dir": Special(lambda words: words[0], str, _rewrite_dir, False),
}


# -- extra checks of ordinary settings -----------------------------------------------------------

def _bare_name(what: str, kind: str, empty_ok: bool = True) -> Callable[[str], None]:
    def check(value: str) -> None:
        if not value and not empty_ok:
            raise ConfigError(f"{what} can't be empty")
        if "/" in value or "\\" in value:
            raise ConfigError(f"{what} can't be a path, just a {kind}")
    return check


def _check_hostname(value: str) -> None:
    if len(value) >= 256:
        raise ConfigError("Hostnames must be less than 256 characters")
    if any(not (char.isascii() and (char.isalnum() or char in "-.")) for char in value):
        raise ConfigError("Hostnames may only contain alphanumeric characters, hyphens or dots")


# What each proc-title-template variable expands to when Redis validates a template: the
# title is empty then, valkdb has no cluster, sentinel or unix socket, the others are never empty.
_TITLE_VARIABLES = {"title": "", "listen-addr": "*", "server-mode": "", "config-file": "-",
                    "port": "0", "tls-port": "0", "unixsocket": ""}


def _check_title_template(template: str) -> None:
    """Every {variable} known ('{{' is a brace) and something left to show once expanded."""
    expanded, rest = [], template
    while "{" in rest:
        before, _, rest = rest.partition("{")
        expanded.append(before)
        if rest.startswith("{"):
            expanded.append("{")
            rest = rest[1:]
            continue
        variable, brace, rest = rest.partition("}")
        if not brace or variable not in _TITLE_VARIABLES:
            raise ConfigError("template format is invalid or contains unknown variables")
        expanded.append(_TITLE_VARIABLES[variable])
    if not ("".join(expanded) + rest).strip(" "):
        raise ConfigError("template format is invalid or contains unknown variables")


def _check_shutdown_flags(flags: tuple[str, ...]) -> None:
    if "save" in flags and "nosave" in flags:
        raise ConfigError("shutdown options SAVE and NOSAVE can't be used simultaneously")


def _check_defrag(enabled: bool) -> None:
    if enabled:  # as a Redis built without its own jemalloc (Debian's) answers
        raise ConfigError("Active defragmentation cannot be enabled: it requires a Redis server "
                          "compiled with a modified Jemalloc like the one shipped by default "
                          "with the Redis source distribution")


VALIDATORS: dict[str, Callable[[Any], None]] = {
    "dbfilename": _bare_name("dbfilename", "filename"),
    "appendfilename": _bare_name("appendfilename", "filename", empty_ok=False),
    "appenddirname": _bare_name("appenddirname", "dirname", empty_ok=False),
    "cluster-announce-hostname": _check_hostname,
    "proc-title-template": _check_title_template,
    "shutdown-on-sigint": _check_shutdown_flags,
    "shutdown-on-sigterm": _check_shutdown_flags,
    "activedefrag": _check_defrag,
}
