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

Worst case: a naive translation (`a.*a.*a.*b`) backtracks exponentially, as stringmatchlen did
before Redis cut it short (skipLongerMatches, 7.0). Between two stars a pattern is a run of
fixed-width tokens, so the leftmost place each run matches is the only one worth trying: each
middle run is matched as `(?=(?P<gN>.*?run))(?P=gN)` - a lookahead (atomic in Python's re) whose
text is then consumed - and the regex engine never returns into it. A match costs at most
O(len(pattern) * len(string)). A pattern with many stars (each group costs compile time) is
matched run by run instead, each run's regex found leftmost with `search`.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable

_STAR, _QUESTION, _BACKSLASH, _OPEN, _CLOSE, _CARET, _DASH = b"*?\\[]^-"


def matcher(pattern: bytes, nocase: bool = False) -> Callable[[bytes], bool]:
    """A predicate telling whether a byte string matches the pattern."""
    return _compile(pattern, nocase)


_MAX_GROUPS = 64  # above this, one regex with a group per run compiles too slowly


@functools.lru_cache(maxsize=256)
def _compile(pattern: bytes, nocase: bool) -> Callable[[bytes], bool]:
    if not pattern:
        return lambda s: not s
    flags = re.DOTALL | (re.IGNORECASE if nocase else 0)
    runs = _runs(pattern, nocase)
    if len(runs) <= _MAX_GROUPS + 2:
        fullmatch = re.compile(_one_regex(runs), flags).fullmatch
        return lambda s: s != b"" and fullmatch(s) is not None
    compiled = [(re.compile(b"".join(run), flags), len(run)) for run in runs]
    return functools.partial(_match_runs, compiled)


def _match_runs(runs: list[tuple[re.Pattern[bytes], int]], s: bytes) -> bool:
    """The first run at the start, the last at the end, each middle one leftmost between."""
    (first, first_width), (last, last_width) = runs[0], runs[-1]
    end = len(s) - last_width
    if not s or end < first_width or first.match(s, 0, first_width) is None:
        return False
    if last.match(s, end) is None:
        return False
    pos = first_width
    for run, _ in runs[1:-1]:
        found = run.search(s, pos, end)
        if found is None:
            return False
        pos = found.end()
    return True


def _signed(byte: int) -> int:
    return byte - 256 if byte >= 128 else byte


def _lower(byte: int) -> int:
    return byte + 32 if 65 <= byte <= 90 else byte


def _runs(pattern: bytes, nocase: bool) -> list[list[bytes]]:
    """The pattern's runs between stars, each a list of one-byte regexes."""
    runs: list[list[bytes]] = [[]]
    i, n = 0, len(pattern)
    while i < n:
        c = pattern[i]
        if c == _STAR:
            while i + 1 < n and pattern[i + 1] == _STAR:
                i += 1
            runs.append([])
        elif c == _QUESTION:
            runs[-1].append(b".")
        elif c == _OPEN:
            i, members = _class_members(pattern, i + 1, nocase)
            runs[-1].append(_byte_class(members))
        else:
            if c == _BACKSLASH and i + 1 < n:
                i += 1
            runs[-1].append(re.escape(pattern[i : i + 1]))
        i += 1
    return runs


def _one_regex(runs: list[list[bytes]]) -> bytes:
    """The runs as one regex, the middle ones atomic (see above)."""
    if len(runs) == 1:
        return b"".join(runs[0])
    out = [b"".join(runs[0])]
    for number, run in enumerate(runs[1:-1]):
        if run:
            group = b"g%d" % number
            out.append(b"(?=(?P<%s>.*?%s))(?P=%s)" % (group, b"".join(run), group))
    out.append(b".*" + b"".join(runs[-1]))
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
