"""What one setting is: its declaration, and what its kind means to CONFIG SET, GET and REWRITE.

Redis 7.0 declares every setting with one of a few kinds (yes/no, integer, memory, memory or
percent, octal, enumeration, set of flags, string, and "special" ones with code of their own);
the kind decides which texts CONFIG SET takes, the exact error it answers otherwise, how CONFIG
GET spells the value and which line CONFIG REWRITE writes. Values are plain Python objects (bool,
int, str, tuple ...) so the rest of valkdb reads them without parsing anything.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Any

from valkdb.config.errors import ConfigError
from valkdb.config.parsing import INT64_MAX, format_memory, memtoull, quoted, string2ll, strtoll
from valkdb.config.special import SPECIALS, VALIDATORS
from valkdb.protocol.reader import split_args


def parse_memory(text: str) -> int:
    """A memory value ('1gb', '512mb', '100k', '42') in bytes; ConfigError if it is not one."""
    value = memtoull(text)
    if value is None:
        raise ConfigError("argument must be a memory value")
    return value


_NUMBER_ERRORS = {
    "int": "argument couldn't be parsed into an integer",
    "memory": "argument must be a memory value",
    "percent": "argument must be a memory or percent value",
    "octal": "argument couldn't be parsed as an octal number",
}
_CLAMPED = {"hz": (1, 500)}  # Redis accepts any hz, then keeps it within these
# Enumerations where two names mean one value: CONFIG GET answers with the first.
_SYNONYMS = {"oom-score-adj": {"relative": "yes"}}
_ERROR_LIMIT = 255  # Redis formats these errors into a 256-byte buffer


@dataclass(frozen=True)
class Setting:
    """One setting as Redis 7.0 declares it (config.c's table), plus its help line."""

    name: str
    kind: str  # bool | int | memory | percent | octal | enum | flags | str | special
    default: str  # any text CONFIG SET would take
    help: str
    alias: str = ""  # the older name Redis still accepts (slaveof, hash-max-ziplist-entries ...)
    mutable: bool = True  # CONFIG SET may change it (else only the file or the command line)
    protected: bool = False  # CONFIG SET refused unless enable-protected-configs allows it
    hidden: bool = False  # CONFIG GET patterns skip it: only its exact name finds it
    deny_loading: bool = False  # CONFIG SET answers -LOADING while the dataset loads
    minimum: int = 0  # numeric kinds: the inclusive range
    maximum: int = 0
    unsigned: bool = False  # Redis keeps it unsigned: a negative number wraps, then fails
    choices: tuple[str, ...] = ()  # enum and flags kinds
    nullable: bool = False  # str: empty means "not set", and CONFIG REWRITE then omits it
    apply: str = ""  # what the server does after CONFIG SET changed it (commands/server.py)

    @property
    def attr(self) -> str:
        return self.name.replace("-", "_")

    @property
    def multi_arg(self) -> bool:
        """Takes several words (`save 900 1`); the others take exactly one."""
        if self.kind == "special":
            return SPECIALS[self.name].multi_arg
        return self.kind == "flags"

    @cached_property
    def default_value(self) -> Any:
        return self.parse(self.default, startup=True)

    def parse(self, text: str, startup: bool = False) -> Any:
        """A value from one string: CONFIG SET's argument, or the command line's (startup).

        CONFIG SET splits a several-word value at each single space, as Redis does (so two
        spaces make an empty word); the command line splits it like a config-file line.
        """
        if not self.multi_arg:
            return self.parse_words([text])
        if startup:
            words = split_args(text.encode("utf-8", "surrogateescape"))
            if words is None:
                raise ConfigError("Unbalanced quotes in configuration line")
            return self.parse_words([w.decode("utf-8", "surrogateescape") for w in words])
        return self.parse_words(text.split(" ") if text else [])

    def parse_words(self, words: list[str]) -> Any:
        kind = self.kind
        if kind == "special":
            return SPECIALS[self.name].parse(words)
        value: Any
        if kind == "flags":
            value = self._flags(words)
        elif kind == "bool":
            if words[0].lower() not in ("yes", "no"):
                raise ConfigError("argument must be 'yes' or 'no'")
            value = words[0].lower() == "yes"
        elif kind == "enum":
            if words[0].lower() not in self.choices:
                raise self._enum_error()
            value = _SYNONYMS.get(self.name, {}).get(words[0].lower(), words[0].lower())
        elif kind == "str":
            value = words[0]
        else:
            value = self._number(words[0])
        if self.name in VALIDATORS:
            VALIDATORS[self.name](value)
        return value

    def _enum_error(self) -> ConfigError:
        text = "argument(s) must be one of the following: " + ", ".join(self.choices)
        return ConfigError(text[:_ERROR_LIMIT])

    def _flags(self, words: list[str]) -> tuple[str, ...]:
        """Several words, each a flag name; stored as the set flags in the table's order."""
        named = {word.lower() for word in words}
        if not words or not named <= set(self.choices):
            raise self._enum_error()
        return tuple(flag for flag in self.choices[1:] if flag in named)  # [0] means none

    def _number(self, text: str) -> int:
        kind = self.kind
        value = memtoull(text) if kind in ("memory", "percent") else None
        if value is None and kind == "percent" and len(text) > 1 and text.endswith("%"):
            percent = string2ll(text[:-1])
            if percent is not None and percent >= 0:
                value = -percent  # Redis keeps a percentage as a negative number
        if kind == "octal":
            number, rest, overflow = strtoll(text, 8)
            value = None if rest or overflow else number
        elif kind == "int":
            value = string2ll(text)
        if value is None:
            raise ConfigError(_NUMBER_ERRORS[kind])
        if value > INT64_MAX:
            value -= 2**64  # memtoull's unsigned result lands in a signed long long
        lo, hi = self.minimum, self.maximum
        if self.unsigned:
            value %= 2**64
            if not lo <= value <= hi:
                form = "o" if kind == "octal" else "d"
                raise ConfigError(f"argument must be between {lo:{form}} and {hi:{form}} inclusive")
        elif kind == "percent" and value < 0:
            if value < lo:
                raise ConfigError(f"percentage argument must be less or equal to {-lo}")
        elif not lo <= value <= hi:
            raise ConfigError(f"argument must be between {lo} and {hi} inclusive")
        if self.name in _CLAMPED:
            value = min(max(value, _CLAMPED[self.name][0]), _CLAMPED[self.name][1])
        return value

    def format(self, value: Any) -> str:
        """The value as CONFIG GET spells it."""
        kind = self.kind
        if kind == "bool":
            return "yes" if value else "no"
        if kind == "percent" and value < 0:
            return f"{-value}%"
        if kind == "octal":
            return f"{value:o}"
        if kind == "flags":
            return " ".join(value) or self.choices[0]
        if kind == "special":
            return SPECIALS[self.name].format(value)
        return str(value)

    def rewrite_lines(self, value: Any) -> list[tuple[str, bool]]:
        """CONFIG REWRITE's lines for this value, each with "write it even if the file lacks it".

        No lines at all means the setting is unset: the file's lines for it go.
        """
        kind, changed = self.kind, value != self.default_value
        if kind == "special":
            return SPECIALS[self.name].rewrite(self.name, value, self.default_value)
        if kind == "str":
            if self.nullable and not value:
                return []
            return [(f"{self.name} {quoted(value)}", self.nullable or changed)]
        if kind in ("memory", "percent") and value >= 0:
            return [(f"{self.name} {format_memory(value)}", changed)]
        return [(f"{self.name} {self.format(value)}", changed)]
