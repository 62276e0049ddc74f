"""Config: the current value of every setting, from defaults, files, the command line, CONFIG SET.

Values live as attributes named like the settings with '_' for '-' (config.port), so hot paths
read them with one attribute lookup; an alias (slaveof, hash-max-ziplist-entries) is only another
name for the same attribute. Files are read as redis-server reads them: `name value ...` lines,
'#' comments, `include` (with glob patterns), and the three directives Redis 7.0 still ignores.
"""

from __future__ import annotations

import glob
import os
import re
from typing import TYPE_CHECKING, Any

from valkdb.config.errors import ConfigError, ConfigFileError
from valkdb.config.rewrite import rewrite_file
from valkdb.config.setting import Setting
from valkdb.config.table import BY_NAME, SETTINGS
from valkdb.config.users import check_user
from valkdb.protocol.reader import split_args

# Gone from Redis 7.0 but still accepted (and ignored) in files, each with exactly one argument.
_DEPRECATED = {"list-max-ziplist-entries", "list-max-ziplist-value", "lua-replicate-commands"}
_BAD_DIRECTIVE = "Bad directive or wrong number of arguments"


def _words(raw: list[bytes]) -> list[str]:
    return [word.decode("utf-8", "surrogateescape") for word in raw]


class Config:
    """Current values, as attributes named like the settings with '_' for '-' (config.port)."""

    if TYPE_CHECKING:  # the attributes come from SETTINGS at run time
        def __getattr__(self, name: str) -> Any: ...

    def __init__(self) -> None:
        self.path: str | None = None  # the config file, for CONFIG REWRITE and SIGHUP
        self._save_loaded = False  # Redis: the first `save` line read replaces the defaults
        self._users: list[tuple[list[str], str, str]] = []  # `user` lines: words, line, where
        for setting in SETTINGS:
            setattr(self, setting.attr, setting.parse(setting.default, startup=True))

    @staticmethod
    def lookup(name: str) -> Setting:
        setting = BY_NAME.get(name.lower())
        if setting is None:
            raise ConfigError(_BAD_DIRECTIVE)
        return setting

    def refusal(self, setting: Setting, local: bool = True) -> str | None:
        """Why CONFIG SET may not change this setting (None: it may); `local`: from loopback."""
        if not setting.mutable:
            return "can't set immutable config"
        allowed = self.enable_protected_configs
        if setting.protected and not (allowed == "yes" or allowed == "local" and local):
            return "can't set protected config"
        return None

    def set(self, name: str, text: str, *, startup: bool = False, local: bool = True) -> bool:
        """Set one setting (or alias) from text; True if its value changed. ConfigError if
        unknown, invalid, or (unless startup) not settable by CONFIG SET.

        startup=True means "from the command line": immutable settings may be set, and `save`
        values add up (the first replaces the defaults), as in Redis.
        """
        setting = self.lookup(name)
        if not startup:
            reason = self.refusal(setting, local)
            if reason:
                raise ConfigError(reason)
        return self._assign(setting, setting.parse(text, startup=startup), startup)

    def set_words(self, name: str, words: list[str]) -> None:
        """A config-file directive and its arguments."""
        setting = self.lookup(name)
        if not setting.multi_arg and len(words) != 1:
            raise ConfigError("wrong number of arguments")
        if setting.multi_arg and len(words) == 1 and words[0]:  # `save "900 1"` is two words
            split = split_args(words[0].encode("utf-8", "surrogateescape"))
            words = [] if split is None else _words(split)
        self._assign(setting, setting.parse_words(words), startup=True)

    def _assign(self, setting: Setting, value: Any, startup: bool) -> bool:
        if setting.name == "client-output-buffer-limit":  # only the classes named change
            value = {**self.client_output_buffer_limit, **value}
        elif setting.name == "save" and startup and value:
            if self._save_loaded:
                value = self.save + value
            self._save_loaded = True
        elif setting.name == "dir" and not startup:  # CONFIG SET dir moves the process, as Redis
            try:
                os.chdir(value)
            except OSError as exc:
                raise ConfigError(exc.strerror or str(exc)) from None
            value = os.getcwd()
        changed = value != getattr(self, setting.attr)
        setattr(self, setting.attr, value)
        return changed

    def get(self, name: str) -> str:
        """The value as CONFIG GET spells it; `name` may be an alias."""
        setting = BY_NAME[name.lower()]
        return setting.format(getattr(self, setting.attr))

    # -- files -------------------------------------------------------------------------------

    def load_file(self, path: str) -> None:
        """Apply a redis.conf-style file (and what it includes)."""
        self.path = os.path.abspath(path)
        self._load(path)
        for words, line, where in self._users:  # now that requirepass is known
            try:
                check_user(words, self.requirepass)
            except ConfigError as exc:
                raise ConfigFileError(exc.args[0], line, where) from None

    def _load(self, path: str) -> None:
        with open(path, "rb") as f:
            lines = f.read().split(b"\n")
        for number, raw in enumerate(lines, 1):
            line = raw.strip(b" \t\r\n")
            if not line or line.startswith(b"#"):
                continue
            text = line.decode("utf-8", "surrogateescape")
            try:
                self._apply_line(line, text, f"at line {number}")
            except ConfigFileError:
                raise
            except ConfigError as exc:
                raise ConfigFileError(exc.args[0], text, f"at line {number}") from None
            except OSError as exc:  # an include that cannot be read
                raise ConfigFileError(f"Fatal error, can't open config file '{exc.filename}': "
                                      f"{exc.strerror}", text, f"at line {number}") from None

    def _apply_line(self, line: bytes, text: str, where: str) -> None:
        split = split_args(line)
        if split is None:
            raise ConfigError("Unbalanced quotes in configuration line")
        if not split:
            return
        words = _words(split)
        name = words[0].lower()
        if name in BY_NAME:
            self.set_words(name, words[1:])
        elif name in _DEPRECATED and len(words) == 2:
            pass
        elif name == "include" and len(words) == 2:
            self._include(words[1])
        elif name == "user" and len(words) >= 2:
            self._users.append((words[1:], text, where))
        else:
            raise ConfigError(_BAD_DIRECTIVE)

    def _include(self, pattern: str) -> None:
        """One file, or every file a glob pattern matches (none is fine), as in Redis."""
        if not any(char in pattern for char in "*?["):
            self._load(pattern)  # relative to the working directory, as in Redis
            return
        for path in sorted(glob.glob(pattern)):
            self._load(path)

    def rewrite(self) -> None:
        """CONFIG REWRITE (see rewrite.py)."""
        if self.path is None:
            raise ConfigError("The server is running without a config file")
        rewrite_file(self, self.path)

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
