"""Redis's glob-style patterns (util.c stringmatchlen) for KEYS, SCAN MATCH, PSUBSCRIBE, CONFIG GET.

`*` any run, `?` one byte, `[abc]` / `[^abc]` / `[a-z]` classes (a reversed range matches too),
`\\x` the byte x. A pattern is translated once into a compiled bytes regex (cached), so matching a
million keys runs at C speed.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable


def matcher(pattern: bytes, nocase: bool = False) -> Callable[[bytes], bool]:
    """A predicate telling whether a byte string matches the pattern."""
    if pattern == b"*":
        return _always
    return _compile(pattern, nocase)


def _always(_: bytes) -> bool:
    return True


@functools.lru_cache(maxsize=256)
def _compile(pattern: bytes, nocase: bool) -> Callable[[bytes], bool]:
    flags = re.DOTALL | (re.IGNORECASE if nocase else 0)
    fullmatch = re.compile(_translate(pattern), flags).fullmatch
    return lambda s: fullmatch(s) is not None


def _translate(pattern: bytes) -> bytes:
    out = []
    i, n = 0, len(pattern)
    while i < n:
        c = pattern[i : i + 1]
        if c == b"*":
            while i + 1 < n and pattern[i + 1] == 42:
                i += 1
            out.append(b".*")
        elif c == b"?":
            out.append(b".")
        elif c == b"\\" and i + 1 < n:
            i += 1
            out.append(re.escape(pattern[i : i + 1]))
        elif c == b"[":
            i += 1
            negate = i < n and pattern[i] == 94  # '^'
            if negate:
                i += 1
            members = []
            while i < n and pattern[i] != 93:  # ']'
                if pattern[i] == 92 and i + 1 < n:  # '\\' escapes the next byte
                    i += 1
                    members.append(re.escape(pattern[i : i + 1]))
                elif i + 2 < n and pattern[i + 1] == 45 and pattern[i + 2] != 93:  # a-z
                    lo, hi = sorted((pattern[i], pattern[i + 2]))
                    members.append(b"%s-%s" % (re.escape(bytes([lo])), re.escape(bytes([hi]))))
                    i += 2
                else:
                    members.append(re.escape(pattern[i : i + 1]))
                i += 1
            if not members:
                out.append(b"[^\\s\\S]" if not negate else b".")
            else:
                out.append(b"[" + (b"^" if negate else b"") + b"".join(members) + b"]")
        else:
            out.append(re.escape(c))
        i += 1
    return b"".join(out)
