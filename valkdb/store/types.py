"""The value types a key can hold, and the names Redis gives them and their encodings.

A string is `bytes`; the collections below subclass the Python container that serves them
best. They belong to the store, not to the command families that change them, so that
persistence (RDB) and the keyspace's users never import command modules.

Redis's small encodings (listpack, intset) are flags here: they drive OBJECT ENCODING and the
few replies whose order or shape depends on the encoding, and are never converted back, as in
Redis.
"""

from __future__ import annotations

from collections import deque
from random import random as _random
from typing import Any

from sortedcontainers import SortedList

from valkdb.protocol.reader import parse_length

LLONG_MAX = 2**63 - 1
LLONG_MIN = -(2**63)


class List(deque):
    """A Redis list value (a quicklist in Redis 7.0 whatever its size)."""

    __slots__ = ()
    type_name = b"list"

    def encoding(self) -> bytes:
        return b"quicklist"


class Hash(dict):
    """A Redis hash value: field -> value, in listpack order while `hashtable` is False."""

    __slots__ = ("hashtable", "deletions")
    type_name = b"hash"

    def __init__(self) -> None:
        super().__init__()
        self.hashtable = False
        self.deletions = 0  # fields deleted so far; HSCAN cursors use it to stay complete

    def encoding(self) -> bytes:
        return b"hashtable" if self.hashtable else b"listpack"


def is_integer(member: bytes) -> bool:
    """Redis's isSdsRepresentableAsLongLong: could an intset hold this member?"""
    if len(member) > 20:
        return False
    value = parse_length(member)
    return value is not None and LLONG_MIN <= value <= LLONG_MAX


class Set(dict):
    """A Redis set value: member -> its index in `members` (O(1) random picks)."""

    __slots__ = ("members", "intset")
    type_name = b"set"

    def __init__(self, intset: bool) -> None:
        super().__init__()
        self.members: list[bytes] = []
        self.intset = intset

    def encoding(self) -> bytes:
        return b"intset" if self.intset else b"hashtable"

    def add(self, member: bytes, intset_limit: int) -> bool:
        if member in self:
            return False
        self[member] = len(self.members)
        self.members.append(member)
        if self.intset and (len(self.members) > intset_limit or not is_integer(member)):
            self.intset = False
        return True

    def remove(self, member: bytes) -> bool:
        index = self.pop(member, None)
        if index is None:
            return False
        members = self.members
        last = members.pop()
        if index < len(members):
            members[index] = last
            self[last] = index
        return True

    def random_member(self) -> bytes:
        members = self.members
        return members[int(_random() * len(members))]

    def pop_random(self) -> bytes:
        """Remove a member chosen at random and return it (SPOP's O(1) step)."""
        members = self.members
        index = int(_random() * len(members))
        member = members[index]
        last = members.pop()
        if index < len(members):
            members[index] = last
            self[last] = index
        del self[member]
        return member

    def ordered(self) -> list[bytes]:
        """The members in Redis's iteration order where it is defined: an intset's ascending."""
        return sorted(self.members, key=int) if self.intset else self.members


class ZSet(dict):
    """A Redis sorted set: member -> score, and `ordered` (score, member) pairs in rank order.

    Tuples compare as Redis orders a sorted set: by score, then by member bytes, so rank, range
    and pop cost O(log n) as on Redis's skiplist. `deletions` counts members removed so far:
    ZSCAN cursors use it to stay complete."""

    __slots__ = ("ordered", "listpack", "deletions")
    type_name = b"zset"

    def __init__(self, listpack: bool) -> None:
        super().__init__()
        self.ordered: Any = SortedList()
        self.listpack = listpack
        self.deletions = 0

    def encoding(self) -> bytes:
        return b"listpack" if self.listpack else b"skiplist"

    def __deepcopy__(self, memo: dict) -> ZSet:  # COPY: scores and members are immutable
        twin = ZSet(self.listpack)
        dict.update(twin, self)
        twin.ordered = self.ordered.copy()
        return twin

    def insert(self, member: bytes, score: float, limits: tuple[int, int]) -> None:
        """Add a new member (Redis's zsetAdd converts a listpack before it grows too big)."""
        if self.listpack and (len(self) >= limits[0] or len(member) > limits[1]):
            self.listpack = False
        if self.listpack:
            score += 0.0  # a listpack stores -0 as the integer 0
        self[member] = score
        self.ordered.add((score, member))

    def rescore(self, member: bytes, old: float, new: float) -> None:
        if self.listpack:
            new += 0.0
        ordered = self.ordered
        ordered.remove((old, member))
        ordered.add((new, member))
        self[member] = new

    def discard(self, member: bytes) -> bool:
        score = self.pop(member, None)
        if score is None:
            return False
        self.ordered.remove((score, member))
        self.deletions += 1
        return True

    def pop_end(self, highest: bool) -> tuple[float, bytes]:
        score, member = self.ordered.pop(-1 if highest else 0)
        del self[member]
        self.deletions += 1
        return score, member

    def delete_span(self, start: int, stop: int) -> int:
        """Remove the members of ranks start <= rank < stop; how many were removed."""
        ordered = self.ordered
        for _, member in ordered.islice(start, stop):
            del self[member]
        del ordered[start:stop]
        self.deletions += stop - start
        return stop - start

    def rank(self, member: bytes) -> int | None:
        score = self.get(member)
        return None if score is None else self.ordered.index((score, member))


def string_encoding(value: bytes) -> bytes:
    if len(value) <= 20 and parse_length(value) is not None:
        if LLONG_MIN <= int(value) <= LLONG_MAX:
            return b"int"
    return b"embstr" if len(value) <= 44 else b"raw"


def type_name(value: Any) -> bytes:
    """Redis's type name for a stored value (TYPE, SCAN TYPE)."""
    return b"string" if type(value) is bytes else value.type_name


def encoding(value: Any) -> bytes:
    """Redis's name for a stored value's encoding (OBJECT ENCODING)."""
    return string_encoding(value) if type(value) is bytes else value.encoding()
