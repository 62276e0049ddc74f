"""Redis's glob-style patterns (util.c stringmatchlen) for KEYS, SCAN MATCH, PSUBSCRIBE, CONFIG GET.

`*` any run, `?` one byte, `[abc]` / `[^abc]` / `[a-z]` classes (a reversed range matches too),
`\\x` the byte x. A pattern is translated once into a compiled bytes regex (cached), so matching a
million keys runs at C speed.

The translation keeps stringmatchlen's quirks, which a differential test pins down: an
unterminated class ends at the end of the pattern (`[ab` is `[ab]`, `[` matches nothing, `[^`
any byte), `[a-]` is the range a..] (the `]` is taken as the range's end), ranges compare
*signed* chars (C's char is signed on x86-64, so bytes >= 0x80 sort below NUL), and no pattern
but the empty one matches the empty string (the matching loop never starts; KEYS and SCAN
special-case a lone `*` before matching, as Redis does).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable

_STAR, _QUESTION, _BACKSLASH, _OPEN, _CLOSE, _CARET, _DASH = b"*?\\[]^-"


def matcher(pattern: bytes, nocase: bool = False) -> Callable[[bytes], bool]:
    """A predicate telling whether a byte string matches the pattern."""
    return _compile(pattern, nocase)


@functools.lru_cache(maxsize=256)
def _compile(pattern: bytes, nocase: bool) -> Callable[[bytes], bool]:
    flags = re.DOTALL | (re.IGNORECASE if nocase else 0)
    fullmatch = re.compile(_translate(pattern, nocase), flags).fullmatch
    if not pattern:
        return lambda s: not s
    return lambda s: s != b"" and fullmatch(s) is not None


def _signed(byte: int) -> int:
    return byte - 256 if byte >= 128 else byte


def _lower(byte: int) -> int:
    return byte + 32 if 65 <= byte <= 90 else byte


def _translate(pattern: bytes, nocase: bool) -> bytes:
    out = []
    i, n = 0, len(pattern)
    while i < n:
        c = pattern[i]
        if c == _STAR:
            while i + 1 < n and pattern[i + 1] == _STAR:
                i += 1
            out.append(b".*")
        elif c == _QUESTION:
            out.append(b".")
        elif c == _OPEN:
            i, members = _class_members(pattern, i + 1, nocase)
            out.append(_byte_class(members))
        else:
            if c == _BACKSLASH and i + 1 < n:
                i += 1
            out.append(re.escape(pattern[i : i + 1]))
        i += 1
    return b"".join(out)


def _class_members(pattern: bytes, i: int, nocase: bool) -> tuple[int, set[int]]:
    """The bytes a class starting at pattern[i] (just after '[') matches, and the index of its
    last byte (']' or the pattern's last byte when unterminated)."""
    n = len(pattern)
    negate = i < n and pattern[i] == _CARET
    if negate:
        i += 1
    members: set[int] = set()
    while i < n and pattern[i] != _CLOSE:
        if pattern[i] == _BACKSLASH and n - i >= 2:
            i += 1
            members.add(pattern[i])
        elif n - i >= 3 and pattern[i + 1] == _DASH:
            start, end = sorted((_signed(pattern[i]), _signed(pattern[i + 2])))
            fold = _lower if nocase else int
            if nocase:
                start, end = _lower(start), _lower(end)
            members.update(b for b in range(256) if start <= _signed(fold(b)) <= end)
            i += 2
        else:
            members.add(pattern[i])
        i += 1
    if i >= n:  # unterminated: the class took the rest of the pattern
        i = n - 1
    if negate:
        members = set(range(256)) - members
    return i, members


def _byte_class(members: set[int]) -> bytes:
    if not members:
        return b"(?!)"
    if len(members) == 256:
        return b"."
    return b"[" + b"".join(re.escape(bytes([b])) for b in sorted(members)) + b"]"
