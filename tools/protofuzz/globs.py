"""Glob cases: generated patterns for KEYS, SCAN MATCH and PSUBSCRIBE.

Patterns are built from the pieces stringmatchlen treats specially (`*` and runs of it, `?`,
classes with `^`, ranges both ways round, `]` and `-` in odd places, escapes, an unterminated
class, a trailing backslash), bytes that are special to C (NUL, >= 0x80: signed chars) and the
pathological `a*a*a*...b` shapes that make a backtracking matcher exponential. Keys and channels
use the same alphabet and include long runs of `a`, on which those shapes bite.

A KEYS case matches one pattern against the batch's key set, which lives alone in database 9 so
that KEYS and SCAN see only it. A PSUBSCRIBE case gives each pattern its own subscriber and
publishes to a few channels; patterns and channels start with the case's literal prefix, so
cases running side by side never see each other's messages.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

GLOB_DB = b"9"
_ALPHABET = b"aaaaabbbcA0-^]\\[*?\x00\xff\x80 \n"


@dataclass(frozen=True)
class KeysCase:
    index: int
    label: str
    pattern: bytes
    kind: str = "keys"


@dataclass(frozen=True)
class PsubCase:
    index: int
    label: str
    prefix: bytes
    patterns: tuple[bytes, ...]  # without the prefix
    channels: tuple[bytes, ...]  # without the prefix
    kind: str = "psub"


def _word(rng: random.Random, longest: int = 10) -> bytes:
    return bytes(rng.choice(_ALPHABET) for _ in range(rng.randint(0, longest)))


def _long(rng: random.Random) -> bytes:
    n = rng.randint(30, 60)
    return rng.choice([b"a" * n, b"a" * (n - 1) + b"b", b"ab" * (n // 2), b"a" * n + b"c"])


def key_set(seed: int, batch: int) -> list[bytes]:
    """The keys of database 9 for one batch: short words, the empty key, long runs of a."""
    rng = random.Random(f"keys/{seed}/{batch}")
    keys = {_word(rng) for _ in range(rng.randint(20, 80))}
    keys.update(_long(rng) for _ in range(4))
    keys.update([b"", b"a" * 40, b"a" * 39 + b"b"])
    return sorted(keys)


def _class(rng: random.Random) -> bytes:
    out = [b"["]
    if rng.random() < 0.3:
        out.append(b"^")
    for _ in range(rng.randint(0, 4)):
        r = rng.random()
        if r < 0.4:
            out.append(bytes([rng.choice(_ALPHABET)]))
        elif r < 0.75:
            low, high = rng.choice(_ALPHABET), rng.choice(_ALPHABET)
            out.append(bytes([low, 45, high]))  # a-z, z-a, a-], \x00-\xff ...
        elif r < 0.9:
            out.append(b"\\" + bytes([rng.choice(_ALPHABET)]))
        else:
            out.append(rng.choice([b"-", b"]", b"^", b"\\"]))
    if rng.random() < 0.85:
        out.append(b"]")
    return b"".join(out)


def pattern(rng: random.Random) -> tuple[str, bytes]:
    r = rng.random()
    if r < 0.12:
        n = rng.randint(3, 25)
        shape = rng.choice([b"a*" * n + b"b", b"*a" * n + b"*b", b"*?" * n + b"c",
                            b"a*" * n + b"[b]", b"*a*" * n + b"\\b", b"?*" * n + b"a*b",
                            (b"a*" * n)[:-1] + b"b*", b"*" + b"a?*" * n + b"c"])
        return "pathological", shape
    if r < 0.17:
        return "special", rng.choice([b"*", b"", b"?", b"[", b"[^", b"[]", b"[^]", b"\\", b"**",
                                      b"[a-]", b"[]a]", b"[\\", b"[a-\\]", b"\\*", b"*\\",
                                      b"[\x00-\xff]", b"[\xff-\x00]", b"[^\x80]", b"\x00*"])
    out = []
    for _ in range(rng.randint(1, 8)):
        r = rng.random()
        if r < 0.35:
            out.append(bytes([rng.choice(_ALPHABET.replace(b"*", b"").replace(b"?", b""))]))
        elif r < 0.5:
            out.append(b"?")
        elif r < 0.7:
            out.append(b"*" * rng.choice([1, 1, 1, 2, 3]))
        elif r < 0.9:
            out.append(_class(rng))
        else:
            out.append(b"\\" + bytes([rng.choice(_ALPHABET)]))
    if rng.random() < 0.05:
        out.append(b"\\")
    return "generated", b"".join(out)


def keys_case(seed: int, index: int) -> KeysCase:
    label, pat = pattern(random.Random(f"glob/{seed}/{index}"))
    return KeysCase(index, label, pat)


def psub_case(seed: int, index: int) -> PsubCase:
    rng = random.Random(f"psub/{seed}/{index}")
    patterns = []
    labels = set()
    for _ in range(rng.randint(1, 4)):
        label, pat = pattern(rng)
        labels.add(label)
        patterns.append(pat)
    channels = [_word(rng) for _ in range(rng.randint(2, 6))]
    channels += [_long(rng), b""]
    return PsubCase(index, "+".join(sorted(labels)), b"g%07d." % (index % 10_000_000),
                    tuple(patterns), tuple(channels))
