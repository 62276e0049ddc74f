"""Text to numbers and back the way Redis's C helpers do it, since CONFIG SET's answers follow them.

Redis parses settings with a few libc-flavoured functions whose corner cases users can see: a
memory value may be empty ("" is 0) or overflow (it wraps), strtoll skips leading blanks and takes
a '+', string2ll takes neither. Each function here reproduces one of them; `quoted` is the
inverse of the config-file splitter, for CONFIG REWRITE.
"""

from __future__ import annotations

import math
import re

from valkdb.protocol.reader import parse_length

INT64_MIN, INT64_MAX, UINT64_MAX = -(2**63), 2**63 - 1, 2**64 - 1

_MEMORY_UNITS = {
    "": 1, "b": 1, "k": 1000, "kb": 1024, "m": 1000**2, "mb": 1024**2, "g": 1000**3, "gb": 1024**3,
}
_DIGITS = re.compile(r"[0-9]*")
_STRTOLL = re.compile(r"[ \t\n\v\f\r]*([+-]?)([0-9]*)")
# strtod's decimal and hexadecimal forms, and its inf / nan words (string2d refuses nan later).
_FLOAT = re.compile(r"[+-]?(?:(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?"
                    r"|0[xX](?:[0-9a-fA-F]+\.?[0-9a-fA-F]*|\.[0-9a-fA-F]+)(?:[pP][+-]?[0-9]+)?"
                    r"|inf(?:inity)?|nan)", re.IGNORECASE)


def memtoull(text: str) -> int | None:
    """A memory value ('1gb', '100k', '42') as an unsigned 64-bit number, or None.

    As in Redis: no sign or blanks, units are case-insensitive, the digits may be missing (0)
    and a value past 2**64 wraps around rather than failing.
    """
    digits = _DIGITS.match(text).group()  # type: ignore[union-attr]
    unit = text[len(digits):].lower()
    if unit not in _MEMORY_UNITS or len(digits) >= 128:
        return None
    value = min(int(digits or "0"), UINT64_MAX)  # strtoull saturates
    return value * _MEMORY_UNITS[unit] % 2**64


def string2ll(text: str) -> int | None:
    """Redis's strict integer: no blanks, no '+', no leading zeros, within 64 bits."""
    value = parse_length(text.encode("utf-8", "surrogateescape"))
    return value if value is not None and INT64_MIN <= value <= INT64_MAX else None


def strtoll(text: str, base: int = 10) -> tuple[int, str, bool]:
    """libc strtoll as Redis calls it: (value, the text left unparsed, overflowed).

    Leading blanks and a sign are skipped; with no digits at all the value is 0 and nothing is
    consumed; an overflow saturates. Callers check what Redis checks (usually: nothing left).
    """
    match = _STRTOLL.match(text)
    assert match is not None  # every part of the pattern may be empty
    sign, digits = match.groups()
    if base == 8:
        digits = re.match(r"[0-7]*", digits).group()  # type: ignore[union-attr]
    if not digits:
        return 0, text, False
    value = int(digits, base) * (-1 if sign == "-" else 1)
    rest = text[match.start(2) + len(digits):]
    if not INT64_MIN <= value <= INT64_MAX:
        return (INT64_MIN if value < 0 else INT64_MAX), rest, True
    return value, rest, False


def c_int(value: int) -> int:
    """The value stored in a C int (32 bits, two's complement), as an assignment truncates it."""
    return (value + 2**31) % 2**32 - 2**31


def string2d(text: str) -> float | None:
    """Redis's strict double: all of the text, no leading blank, no nan, no overflow."""
    if not text or text[0].isspace() or not _FLOAT.fullmatch(text):
        return None
    lowered = text.lower().lstrip("+-")
    if lowered.startswith("nan"):
        return None
    value = float.fromhex(text) if lowered.startswith("0x") else float(text)
    if math.isinf(value) and not lowered.startswith("inf"):
        return None  # ERANGE: too large
    if value == 0 and re.search(r"[1-9]", lowered.split("e")[0] if "x" not in lowered
                                else lowered.split("p")[0][2:]):
        return None  # ERANGE: too small
    return value


def format_double(value: float) -> str:
    """printf's %f with its trailing zeros (and then a trailing point) trimmed, as Redis prints."""
    text = f"{value:f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def format_memory(value: int) -> str:
    """A byte count as CONFIG REWRITE writes it: the largest of gb / mb / kb that divides it."""
    if value >= 2**63:
        value -= 2**64  # Redis prints it as a signed long long
    for unit, size in (("gb", 1024**3), ("mb", 1024**2), ("kb", 1024)):
        if value and value % size == 0:
            return f"{value // size}{unit}"
    return str(value)


# Redis's sdscatrepr (CONFIG REWRITE, the AOF manifest, MONITOR): the bytes it prints as they
# are, and what it prints for each byte: C escapes, \xHH for what is not printable.
PRINTED_AS_IS = bytes(c for c in range(32, 127) if c not in (ord("\\"), ord('"')))
_ESCAPES = {ord("\\"): b"\\\\", ord('"'): b'\\"', ord("\n"): b"\\n", ord("\r"): b"\\r",
            ord("\t"): b"\\t", 7: b"\\a", 8: b"\\b"}
_ESCAPE_TABLE = [_ESCAPES.get(c) or (bytes([c]) if 32 <= c < 127 else b"\\x%02x" % c)
                 for c in range(256)]


def escaped(raw: bytes) -> bytes:
    """What sdscatrepr prints between its quotes."""
    if not raw.translate(None, PRINTED_AS_IS):
        return raw
    table = _ESCAPE_TABLE
    return b"".join([table[c] for c in raw])


def repr_bytes(raw: bytes) -> bytes:
    """sdscatrepr: a double-quoted C-style literal."""
    return b'"' + escaped(raw) + b'"'


def quoted(value: str) -> str:
    """sdscatrepr of a setting: a double-quoted string that the config-file splitter reads back."""
    return repr_bytes(value.encode("utf-8", "surrogateescape")).decode("ascii")
