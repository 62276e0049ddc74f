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

from valkdb.protocol.reader import parse_length, split_args


class ConfigError(Exception):
    """A value that cannot be set; args[0] is Redis's reason text."""


class ConfigFileError(ConfigError):
    """A bad line in a config file or on the command line, reported as redis-server does."""

    def __init__(self, reason: str, line: str, where: str) -> None:
        super().__init__(reason)
        self.line = line
        self.where = where  # "at line 3" / "of the command line"

    def fatal_text(self, version: str) -> str:
        """redis-server's start-up message for a bad config line (printed to stderr)."""
        return (f"\n*** FATAL CONFIG FILE ERROR (valkdb {version}) ***\n"
                f"Reading the configuration file, {self.where}\n>>> '{self.line}'\n{self.args[0]}")


_MEMORY_UNITS = {
    "": 1, "b": 1, "k": 1000, "kb": 1024, "m": 1000**2, "mb": 1024**2, "g": 1000**3, "gb": 1024**3,
}


def parse_memory(text: str) -> int:
    """Redis's memtoull: '1gb', '512mb', '100k', '42'."""
    match = re.fullmatch(r"(\d+)([a-zA-Z]*)", text)  # no sign, no spaces
    if not match or match.group(2).lower() not in _MEMORY_UNITS:
        raise ConfigError("argument must be a memory value")
    value = int(match.group(1)) * _MEMORY_UNITS[match.group(2).lower()]
    return min(value, 2**64 - 1)  # strtoull saturates


@dataclass(frozen=True)
class Setting:
    name: str
    kind: str  # int | memory | bool | str | enum | list | special
    default: str
    help: str
    mutable: bool = True
    protected: bool = False  # Redis 7.0: CONFIG SET refused unless enable-protected-configs
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
                number = parse_length(text.encode())  # Redis's string2ll: no '+', ' ', '05'
                if number is None or not -(2**63) <= number < 2**63:
                    raise ConfigError("argument couldn't be parsed into an integer")
                value = number
            lo, hi = self.minimum, self.maximum
            if (lo is not None and value < lo) or (hi is not None and value > hi):
                raise ConfigError(f"argument must be between {lo} and {hi} inclusive")
            if self.name in _CLAMPED:  # Redis accepts these, then clamps them
                value = min(max(value, _CLAMPED[self.name][0]), _CLAMPED[self.name][1])
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
    """Only the classes named; Config.set merges them into the current limits, as Redis does."""
    words = text.split()
    if not words or len(words) % 4:
        raise ConfigError("Wrong number of arguments in buffer limit configuration.")
    limits: dict[str, tuple[int, int, int]] = {}
    for i in range(0, len(words), 4):
        klass = {"slave": "replica"}.get(words[i].lower(), words[i].lower())
        if klass not in DEFAULT_OUTPUT_LIMITS:
            raise ConfigError("Invalid client class specified in buffer limit configuration.")
        try:
            hard, soft = parse_memory(words[i + 1]), parse_memory(words[i + 2])
            seconds = int(words[i + 3])
            if hard < 0 or soft < 0 or seconds < 0:
                raise ValueError
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

_CLAMPED = {"hz": (1, 500)}  # CONFIG_MIN_HZ, CONFIG_MAX_HZ
_SPECIAL_PARSERS = {"save": _parse_save, "client-output-buffer-limit": _parse_output_limits}
_SPECIAL_FORMATTERS = {
    "save": lambda points: " ".join(f"{s} {c}" for s, c in points),
    # Redis 7.0 still spells the replica class "slave" in CONFIG GET and CONFIG REWRITE.
    "client-output-buffer-limit": lambda limits: " ".join(
        f"{'slave' if k == 'replica' else k} {h} {s} {sec}" for k, (h, s, sec) in limits.items()
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
    S("tcp-keepalive", "int", "300", "TCP keepalive interval in seconds (0 = off).", minimum=0,
      maximum=2147483647),
    S("protected-mode", "bool", "yes", "Refuse non-loopback clients while no password is set."),
    S("timeout", "int", "0", "Close a client idle this many seconds (0 = never).", minimum=0,
      maximum=2147483647),
    S("maxclients", "int", "10000", "Maximum connected clients.", minimum=1,
      maximum=4294967295),
    S("requirepass", "str", "", "Password the default user must AUTH with (empty = none)."),
    # Limits
    S("proto-max-bulk-len", "memory", "512mb", "Largest bulk string a request may carry.",
      minimum=1024 * 1024, maximum=9223372036854775807),
    S("client-query-buffer-limit", "memory", "1gb", "Largest pending request per client.",
      minimum=1024 * 1024, maximum=9223372036854775807),
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
      minimum=0, maximum=2147483647),
    S("active-expire-effort", "int", "1", "Effort of the active expiry cycle.",
      minimum=1, maximum=10),
    # Encodings of small hashes and sets (OBJECT ENCODING reports them; Redis 7.0's defaults)
    S("hash-max-listpack-entries", "int", "512", "A hash with more fields is a hashtable.",
      minimum=0, maximum=9223372036854775807),
    S("hash-max-listpack-value", "memory", "64", "A hash with a longer field or value is a "
      "hashtable.", minimum=0, maximum=9223372036854775807),
    S("set-max-intset-entries", "int", "512", "A set of integers with more members is a "
      "hashtable.", minimum=0, maximum=9223372036854775807),
    S("zset-max-listpack-entries", "int", "128", "A sorted set with more members is a "
      "skiplist.", minimum=0, maximum=9223372036854775807),
    S("zset-max-listpack-value", "memory", "64", "A sorted set with a longer member is a "
      "skiplist.", minimum=0, maximum=9223372036854775807),
    # Persistence: RDB snapshots
    S("save", "special", "3600 1 300 100 60 10000",
      "Snapshot points: BGSAVE after <seconds> when at least <changes> writes ('' = none)."),
    S("dir", "str", ".", "Working directory for data files.", protected=True),
    S("dbfilename", "str", "dump.rdb", "RDB file name.", protected=True),
    S("rdbcompression", "bool", "yes", "Reported; valkdb writes strings uncompressed."),
    S("rdbchecksum", "bool", "yes", "Reported; valkdb always writes and checks the CRC64.",
      mutable=False),
    S("stop-writes-on-bgsave-error", "bool", "yes",
      "Refuse writes (MISCONF) while the last background save failed."),
    S("rdb-save-incremental-fsync", "bool", "yes", "Reported for compatibility."),
    S("rdb-del-sync-files", "bool", "no", "Reported for compatibility."),
    # Persistence: the append-only file
    S("appendonly", "bool", "no", "Log every write to the append-only file."),
    S("appendfsync", "enum", "everysec", "AOF fsync policy.",
      choices=("everysec", "always", "no")),
    S("appendfilename", "str", "appendonly.aof", "AOF base name.", mutable=False),
    S("appenddirname", "str", "appendonlydir", "AOF directory name.", mutable=False),
    S("aof-load-truncated", "bool", "yes", "Load an AOF whose last command is cut short."),
    S("aof-use-rdb-preamble", "bool", "yes", "Write the rewritten AOF base in RDB format."),
    S("aof-timestamp-enabled", "bool", "no", "Annotate the AOF with #TS:<unix time> lines."),
    S("aof-disable-auto-gc", "bool", "no", "Keep the history files an AOF rewrite replaces."),
    S("aof-rewrite-incremental-fsync", "bool", "yes", "Reported for compatibility."),
    S("no-appendfsync-on-rewrite", "bool", "no", "Skip fsync while a child process saves."),
    S("auto-aof-rewrite-percentage", "int", "100",
      "Rewrite the AOF when it grew this much (percent) since the last rewrite (0 = never).",
      minimum=0, maximum=2147483647),
    S("auto-aof-rewrite-min-size", "memory", "64mb", "No automatic rewrite below this size.",
      minimum=0, maximum=9223372036854775807),
    # Process
    S("daemonize", "bool", "no", "Run in the background.", mutable=False),
    S("pidfile", "str", "", "Write the process id to this file.", mutable=False),
    S("loglevel", "enum", "notice", "Log verbosity.",
      choices=("debug", "verbose", "notice", "warning")),
    S("logfile", "str", "", "Log file (empty = standard output).", mutable=False),
    S("shutdown-timeout", "int", "10", "Seconds a graceful shutdown may take.", minimum=0,
      maximum=2147483647),
    S("lua-time-limit", "int", "5000", "Reported for compatibility.", minimum=0,
      maximum=9223372036854775807),
    S("slowlog-log-slower-than", "int", "10000", "Reported for compatibility.", minimum=-1,
      maximum=9223372036854775807),
    S("slowlog-max-len", "int", "128", "Reported for compatibility.", minimum=0,
      maximum=9223372036854775807),
)
BY_NAME = {s.name: s for s in SETTINGS}


class Config:
    """Current values, as attributes named like the settings with '_' for '-' (config.port)."""

    if TYPE_CHECKING:  # the attributes come from SETTINGS at run time
        def __getattr__(self, name: str) -> Any: ...

    def __init__(self) -> None:
        self.path: str | None = None  # the config file, for CONFIG REWRITE and SIGHUP
        self._save_loaded = False  # Redis: the first `save` line read replaces the defaults
        self._from_files: set[str] = set()  # settings some loaded file (or include) names
        for setting in SETTINGS:
            setattr(self, setting.attr, setting.parse(setting.default))

    def set(self, name: str, text: str, *, startup: bool = False) -> None:
        """Set one setting from its textual form; ConfigError if unknown, invalid or immutable.

        startup=True means "read from a config file or the command line": immutable settings
        may be set, and `save` lines add up (the first one replaces the defaults), as in Redis.
        """
        setting = BY_NAME.get(name.lower())
        if setting is None:
            raise ConfigError("Bad directive or wrong number of arguments")
        if not startup and not setting.mutable:
            raise ConfigError("can't set immutable config")
        if not startup and setting.protected:
            raise ConfigError("can't set protected config")
        value = setting.parse(text)
        if setting.name == "client-output-buffer-limit":
            value = {**self.client_output_buffer_limit, **value}
        elif setting.name == "save" and startup and value:
            if self._save_loaded:
                value = self.save + value
            self._save_loaded = True
        setattr(self, setting.attr, value)

    def set_words(self, name: str, words: list[str]) -> None:
        """A directive with its arguments, from a file or the command line (startup)."""
        setting = BY_NAME.get(name.lower())
        if setting is not None and setting.kind not in ("list", "special") and len(words) != 1:
            raise ConfigError("wrong number of arguments")
        self.set(name, " ".join(words), startup=True)

    def get(self, name: str) -> str:
        setting = BY_NAME[name]
        return setting.format(getattr(self, setting.attr))

    def load_file(self, path: str) -> None:
        """Apply a redis.conf-style file: `name value ...` lines, '#' comments, `include`."""
        self.path = os.path.abspath(path)
        self._load(path)

    def _load(self, path: str) -> None:
        with open(path, "rb") as f:
            lines = f.read().splitlines()
        for number, raw in enumerate(lines, 1):
            line = raw.strip()
            if not line or line.startswith(b"#"):
                continue
            text = raw.decode(errors="replace")
            try:
                self._apply_line(line)
            except ConfigFileError:
                raise
            except ConfigError as exc:
                raise ConfigFileError(exc.args[0], text, f"at line {number}") from None
            except OSError as exc:  # an include that cannot be read
                raise ConfigFileError(f"Fatal error, can't open config file '{exc.filename}': "
                                      f"{exc.strerror}", text, f"at line {number}") from None

    def _apply_line(self, line: bytes) -> None:
        split = split_args(line)
        if split is None:
            raise ConfigError("Unbalanced quotes in configuration line")
        try:
            words = [w.decode() for w in split]
        except UnicodeDecodeError:
            raise ConfigError("invalid UTF-8 in configuration line") from None
        name = words[0].lower()
        if name == "include":
            if len(words) != 2:
                raise ConfigError("Bad directive or wrong number of arguments")
            self._load(words[1])  # relative to the working directory, as in Redis
            return
        self.set_words(name, words[1:])
        self._from_files.add(name)

    def listen_addresses(self) -> list[tuple[str, int, bool]]:
        """(host, port, optional) per bind entry.

        As in redis.conf, a leading '-' marks an address that may be unavailable, '*' is every
        IPv4 address and '::*' every IPv6 one; an entry may carry its own port: HOST:PORT or
        [V6]:PORT.
        """
        addresses = []
        for entry in self.bind:
            optional = entry.startswith("-")
            host, port = entry.lstrip("-"), self.port
            match = re.fullmatch(r"\[(.+)\](?::(\d+))?|([^:]+):(\d+)", host)
            if match:
                host = match.group(1) or match.group(3)
                port = int(match.group(2) or match.group(4) or port)
            host = {"*": "0.0.0.0", "::*": "::"}.get(host, host)
            addresses.append((host, port, optional))
        return addresses

    def rewrite(self) -> None:
        """CONFIG REWRITE: update the config file in place, as Redis does.

        Comments, blank lines and includes stay; each setting's first line gets the current
        value and its later lines go; settings the file lacks are appended when they differ
        from the default or came from an included file.
        """
        if self.path is None:
            raise ConfigError("The server is running without a config file")
        with open(self.path, "rb") as f:
            old_lines = f.read().decode(errors="replace").splitlines()
        lines, written = [], set()
        for line in old_lines:
            words = split_args(line.strip().encode())
            name = words[0].decode().lower() if words else ""
            if name not in BY_NAME:
                lines.append(line)
            elif name not in written:
                lines.append(self._directive(BY_NAME[name]))
                written.add(name)
        for setting in SETTINGS:
            if setting.name not in written and (
                    setting.name in self._from_files
                    or self.get(setting.name) != setting.format(setting.parse(setting.default))):
                lines.append(self._directive(setting))
        tmp = self.path + ".tmp"
        with open(tmp, "w") as f:
            f.write("\n".join(lines) + "\n")
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, self.path)

    def _directive(self, setting: Setting) -> str:
        value = self.get(setting.name)
        return f"{setting.name} {_quote(value) if setting.kind == 'str' or not value else value}"


def _quote(value: str) -> str:
    """A value as a config file line must spell it to read back the same (sdssplitargs)."""
    if value and not any(c in value for c in " \"'\t\r\n\\"):
        return value
    escaped = value.replace("\\", "\\\\").replace('"', '\\"')
    return '"' + escaped.replace("\n", "\\n").replace("\r", "\\r").replace("\t", "\\t") + '"'
