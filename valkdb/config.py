"""Every setting declared once: its redis.conf name, kind, default, and whether it can change live.

This table is the single source for the command-line options (cli.py generates them), redis.conf
style files, CONFIG GET / SET / REWRITE, and the defaults. Names and defaults follow Redis 7.0
(see shared/reference/redis-7.0-facts.md section 0) except where valkdb deliberately differs
(bind: loopback only, as the shipped redis.conf has it) or adds its own (keyspace-shards).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from valkdb.protocol.reader import split_args


class ConfigError(Exception):
    """A value that cannot be set; args[0] is Redis's reason text."""


_MEMORY_UNITS = {
    "": 1, "b": 1, "k": 1000, "kb": 1024, "m": 1000**2, "mb": 1024**2, "g": 1000**3, "gb": 1024**3,
}


def parse_memory(text: str) -> int:
    """Redis's memtoull: '1gb', '512mb', '100k', '42'."""
    match = re.fullmatch(r"(-?\d+)([a-zA-Z]*)", text.strip())
    if not match or match.group(2).lower() not in _MEMORY_UNITS:
        raise ConfigError("argument must be a memory value")
    return int(match.group(1)) * _MEMORY_UNITS[match.group(2).lower()]


@dataclass(frozen=True)
class Setting:
    name: str
    kind: str  # int | memory | bool | str | enum | list | special
    default: str
    help: str
    mutable: bool = True
    minimum: int | None = None
    maximum: int | None = None
    choices: tuple[str, ...] = ()

    @property
    def attr(self) -> str:
        return self.name.replace("-", "_")

    def parse(self, text: str) -> Any:
        kind = self.kind
        if kind == "bool":
            if text.lower() not in ("yes", "no"):
                raise ConfigError("argument must be 'yes' or 'no'")
            return text.lower() == "yes"
        if kind in ("int", "memory"):
            if kind == "memory":
                value = parse_memory(text)
            else:
                try:
                    value = int(text)
                except ValueError:
                    raise ConfigError("argument couldn't be parsed into an integer") from None
            lo, hi = self.minimum, self.maximum
            if (lo is not None and value < lo) or (hi is not None and value > hi):
                raise ConfigError(f"argument must be between {lo} and {hi} inclusive")
            return value
        if kind == "enum":
            if text.lower() not in self.choices:
                raise ConfigError(
                    "argument(s) must be one of the following: " + ", ".join(self.choices)
                )
            return text.lower()
        if kind == "list":
            return text.split()
        if kind == "special":
            return _SPECIAL_PARSERS[self.name](text)
        return text

    def format(self, value: Any) -> str:
        """The value as CONFIG GET and CONFIG REWRITE spell it."""
        if self.kind == "bool":
            return "yes" if value else "no"
        if self.kind == "list":
            return " ".join(value)
        if self.kind == "special":
            return _SPECIAL_FORMATTERS[self.name](value)
        return str(value)


def _parse_save(text: str) -> list[tuple[int, int]]:
    words = text.split()
    if len(words) % 2:
        raise ConfigError("Invalid save parameters")
    try:
        points = [(int(words[i]), int(words[i + 1])) for i in range(0, len(words), 2)]
    except ValueError:
        raise ConfigError("Invalid save parameters") from None
    if any(seconds < 1 or changes < 0 for seconds, changes in points):
        raise ConfigError("Invalid save parameters")
    return points


def _parse_output_limits(text: str) -> dict[str, tuple[int, int, int]]:
    words = text.split()
    if len(words) % 4:
        raise ConfigError("Wrong number of arguments in buffer limit configuration.")
    limits = dict(DEFAULT_OUTPUT_LIMITS)
    for i in range(0, len(words), 4):
        klass = {"slave": "replica"}.get(words[i].lower(), words[i].lower())
        if klass not in limits:
            raise ConfigError("Invalid client class specified in buffer limit configuration.")
        try:
            hard, soft = parse_memory(words[i + 1]), parse_memory(words[i + 2])
            seconds = int(words[i + 3])
        except (ConfigError, ValueError):
            raise ConfigError("Error in hard, soft or soft_seconds setting in buffer limit "
                              "configuration.") from None
        limits[klass] = (hard, soft, seconds)
    return limits


DEFAULT_OUTPUT_LIMITS = {
    "normal": (0, 0, 0),
    "replica": (256 * 1024**2, 64 * 1024**2, 60),
    "pubsub": (32 * 1024**2, 8 * 1024**2, 60),
}

_SPECIAL_PARSERS = {"save": _parse_save, "client-output-buffer-limit": _parse_output_limits}
_SPECIAL_FORMATTERS = {
    "save": lambda points: " ".join(f"{s} {c}" for s, c in points),
    "client-output-buffer-limit": lambda limits: " ".join(
        f"{k} {h} {s} {sec}" for k, (h, s, sec) in limits.items()
    ),
}

S = Setting
SETTINGS: tuple[Setting, ...] = (
    # Network
    S("bind", "list", "127.0.0.1 -::1",
      "Addresses to listen on; '-' marks one that may be unavailable. HOST:PORT also accepted.",
      mutable=False),
    S("port", "int", "6379", "TCP port.", mutable=False, minimum=0, maximum=65535),
    S("tcp-backlog", "int", "511", "listen() backlog.", mutable=False, minimum=0),
    S("tcp-keepalive", "int", "300", "TCP keepalive interval in seconds (0 = off).", minimum=0),
    S("protected-mode", "bool", "yes", "Refuse non-loopback clients while no password is set."),
    S("timeout", "int", "0", "Close a client idle this many seconds (0 = never).", minimum=0),
    S("maxclients", "int", "10000", "Maximum connected clients.", minimum=1),
    S("requirepass", "str", "", "Password the default user must AUTH with (empty = none)."),
    # Limits
    S("proto-max-bulk-len", "memory", "512mb", "Largest bulk string a request may carry.",
      minimum=1024 * 1024),
    S("client-query-buffer-limit", "memory", "1gb", "Largest pending request per client.",
      minimum=1024 * 1024),
    S("client-output-buffer-limit", "special",
      "normal 0 0 0 replica 256mb 64mb 60 pubsub 32mb 8mb 60",
      "Per class: hard limit, soft limit, soft seconds."),
    S("maxmemory", "memory", "0", "Memory limit in bytes (reported; 0 = none).", minimum=0),
    S("maxmemory-policy", "enum", "noeviction", "Eviction policy (reported).",
      choices=("volatile-lru", "volatile-lfu", "volatile-random", "volatile-ttl",
               "allkeys-lru", "allkeys-lfu", "allkeys-random", "noeviction")),
    # Keyspace
    S("databases", "int", "16", "Number of databases.", mutable=False, minimum=1, maximum=1 << 20),
    S("keyspace-shards", "int", "16",
      "Dicts per database, each behind its own lock (valkdb's own setting).",
      mutable=False, minimum=1, maximum=4096),
    S("hz", "int", "10", "Background task frequency (active expiry, timeouts).",
      minimum=1, maximum=500),
    S("active-expire-effort", "int", "1", "Effort of the active expiry cycle.",
      minimum=1, maximum=10),
    # Persistence settings (reported to tools such as redis-benchmark; persistence is issue 4)
    S("save", "special", "3600 1 300 100 60 10000", "Snapshot points: seconds changes ..."),
    S("appendonly", "bool", "no", "Append-only file."),
    S("appendfsync", "enum", "everysec", "AOF fsync policy.",
      choices=("always", "everysec", "no")),
    S("dir", "str", ".", "Working directory for data files.", mutable=False),
    S("dbfilename", "str", "dump.rdb", "RDB file name.", mutable=False),
    S("appendfilename", "str", "appendonly.aof", "AOF base name.", mutable=False),
    S("appenddirname", "str", "appendonlydir", "AOF directory name.", mutable=False),
    # Process
    S("daemonize", "bool", "no", "Run in the background.", mutable=False),
    S("pidfile", "str", "", "Write the process id to this file.", mutable=False),
    S("loglevel", "enum", "notice", "Log verbosity.",
      choices=("debug", "verbose", "notice", "warning")),
    S("logfile", "str", "", "Log file (empty = standard output).", mutable=False),
    S("shutdown-timeout", "int", "10", "Seconds a graceful shutdown may take.", minimum=0),
    S("lua-time-limit", "int", "5000", "Reported for compatibility.", minimum=0),
    S("slowlog-log-slower-than", "int", "10000", "Reported for compatibility."),
    S("slowlog-max-len", "int", "128", "Reported for compatibility.", minimum=0),
)
BY_NAME = {s.name: s for s in SETTINGS}


class Config:
    """Current values, as attributes named like the settings with '_' for '-' (config.port)."""

    if TYPE_CHECKING:  # the attributes come from SETTINGS at run time
        def __getattr__(self, name: str) -> Any: ...

    def __init__(self) -> None:
        self.path: str | None = None  # the config file, for CONFIG REWRITE and SIGHUP
        for setting in SETTINGS:
            setattr(self, setting.attr, setting.parse(setting.default))

    def set(self, name: str, text: str, *, startup: bool = False) -> None:
        """Set one setting from its textual form; ConfigError if unknown, invalid or immutable."""
        setting = BY_NAME.get(name.lower())
        if setting is None:
            raise ConfigError(f"Bad directive or wrong number of arguments: '{name}'")
        if not startup and not setting.mutable:
            raise ConfigError("can't set immutable config")
        setattr(self, setting.attr, setting.parse(text))

    def get(self, name: str) -> str:
        setting = BY_NAME[name]
        return setting.format(getattr(self, setting.attr))

    def load_file(self, path: str) -> None:
        """Apply a redis.conf-style file: `name value ...` lines, '#' comments."""
        self.path = os.path.abspath(path)
        with open(path, "rb") as f:
            lines = f.read().splitlines()
        for number, raw in enumerate(lines, 1):
            line = raw.strip()
            if not line or line.startswith(b"#"):
                continue
            words = split_args(line)
            if not words:
                raise ConfigError(f"line {number}: unbalanced quotes")
            name = words[0].decode().lower()
            if name == "include":
                self.load_file(words[1].decode())
                continue
            try:
                self.set(name, " ".join(w.decode() for w in words[1:]), startup=True)
            except ConfigError as exc:
                raise ConfigError(f"{path}:{number}: '{raw.decode(errors='replace')}': "
                                  f"{exc.args[0]}") from None

    def listen_addresses(self) -> list[tuple[str, int, bool]]:
        """(host, port, optional) per bind entry; an entry may carry its own port (HOST:PORT)."""
        addresses = []
        for entry in self.bind:
            optional = entry.startswith("-")
            entry = entry.lstrip("-")
            host, port = entry, self.port
            match = re.fullmatch(r"\[(.+)\]:(\d+)|([^:]+):(\d+)", entry)
            if match:
                host = match.group(1) or match.group(3)
                port = int(match.group(2) or match.group(4))
            addresses.append((host, port, optional))
        return addresses

    def rewrite(self) -> None:
        """CONFIG REWRITE: write every value that differs from its default to the config file."""
        if self.path is None:
            raise ConfigError("The server is running without a config file")
        lines = []
        for setting in SETTINGS:
            value = setting.format(getattr(self, setting.attr))
            if value != setting.format(setting.parse(setting.default)):
                lines.append(f"{setting.name} {_quote(value) if setting.kind == 'str' else value}")
        tmp = self.path + ".tmp"
        with open(tmp, "w") as f:
            f.write("# Written by valkdb CONFIG REWRITE\n" + "\n".join(lines) + "\n")
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.path)


def _quote(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"' if (
        not value or any(c in value for c in " \"'\t")) else value
