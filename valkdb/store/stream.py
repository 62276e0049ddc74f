"""The stream value type (Redis's t_stream.c / stream.h): entries by ID, and consumer groups.

An entry ID is one int, `ms << 64 | seq`, so IDs compare, sort and step (+1 / -1) as Redis's
128-bit big-endian rax keys do. Entries live in a SortedDict ID -> flat (field, value, ...)
tuple: ranges by ID cost O(log n), and trimming at the head is cheap.

Redis keeps entries in listpack nodes (stream-node-max-entries / -bytes), and approximate
trimming (`~`) removes whole nodes only, so `Node` records each node's boundaries: its master
ID and fields, its live and deleted entry counts, its last ID (tombstones included) and the
listpack's byte size as Redis would compute it. The entries' data is not duplicated there.
XINFO's radix-tree figures come from the node keys too.

Consumer groups hold a last-delivered ID, an entries-read counter, a PEL (pending entries:
ID -> Nack) shared with their consumers' PELs, and consumers by name (rax order: bytes).
"""

from __future__ import annotations

import time
from typing import Any

from sortedcontainers import SortedDict

from valkdb.store.types import is_integer

SEQ_BITS = 64
SEQ_MASK = (1 << 64) - 1
MAX_ID = (1 << 128) - 1
INVALID_ENTRIES_READ = -1  # SCG_INVALID_ENTRIES_READ
LISTPACK_MAX_SIZE = 1 << 30  # STREAM_LISTPACK_MAX_SIZE

FLAG_DELETED = 1
FLAG_SAMEFIELDS = 2


def mstime() -> int:
    return int(time.time() * 1000)


def make_id(ms: int, seq: int) -> int:
    return ms << SEQ_BITS | seq


def format_id(entry_id: int) -> bytes:
    return b"%d-%d" % (entry_id >> SEQ_BITS, entry_id & SEQ_MASK)


# -- listpack sizes (listpack.c), to place node boundaries where Redis does -------------------

def _backlen_size(size: int) -> int:
    if size <= 127:
        return 1
    if size < 16383:
        return 2
    if size < 2097151:
        return 3
    if size < 268435455:
        return 4
    return 5


def lp_int_size(value: int) -> int:
    """Bytes an integer element takes in a listpack, its back-length included."""
    if 0 <= value <= 127:
        size = 1
    elif -4096 <= value <= 4095:
        size = 2
    elif -32768 <= value <= 32767:
        size = 3
    elif -8388608 <= value <= 8388607:
        size = 4
    elif -(1 << 31) <= value < 1 << 31:
        size = 5
    else:
        size = 9
    return size + 1


def lp_size(element: bytes) -> int:
    """Bytes a string element takes (a canonical integer is stored as one, as lpAppend does)."""
    if is_integer(element):
        return lp_int_size(int(element))
    n = len(element)
    size = n + (1 if n < 64 else 2 if n < 4096 else 5)
    return size + _backlen_size(size)


def _delta(value: int) -> int:
    """An ID delta as lpAppendInteger stores it: a signed 64-bit integer."""
    return value - (1 << 64) if value >= 1 << 63 else value


class Node:
    """One listpack node of Redis's rax: where its entries start and how full it is."""

    __slots__ = ("master", "fields", "live", "deleted", "last", "body")

    def __init__(self, master: int, fields: tuple[bytes, ...]) -> None:
        self.master = master
        self.fields = fields  # the master entry's field names
        self.live = 0
        self.deleted = 0
        self.last = master  # the last entry's ID, a tombstone or not
        # Listpack bytes other than the two counters: header, master entry, entries.
        self.body = 7 + lp_int_size(len(fields)) + sum(map(lp_size, fields)) + 2

    def nbytes(self) -> int:
        return self.body + lp_int_size(self.live) + lp_int_size(self.deleted)

    def add_entry(self, entry_id: int, flat: tuple[bytes, ...]) -> None:
        fields = flat[0::2]
        same = fields == self.fields
        size = lp_int_size(FLAG_SAMEFIELDS if same else 0)
        size += lp_int_size(_delta((entry_id >> SEQ_BITS) - (self.master >> SEQ_BITS)))
        size += lp_int_size(_delta((entry_id & SEQ_MASK) - (self.master & SEQ_MASK)))
        parts = len(fields) + 3
        if same:
            size += sum(map(lp_size, flat[1::2]))
        else:
            size += lp_int_size(len(fields)) + sum(map(lp_size, flat))
            parts += len(fields) + 1
        self.body += size + lp_int_size(parts)
        self.live += 1
        self.last = entry_id


class Nack:
    """A pending entry: delivered to `consumer`, not yet acknowledged."""

    __slots__ = ("consumer", "delivery_time", "delivery_count")

    def __init__(self, consumer: Consumer | None, delivery_time: int, delivery_count: int = 1,
                 ) -> None:
        self.consumer = consumer
        self.delivery_time = delivery_time
        self.delivery_count = delivery_count


class Consumer:
    __slots__ = ("name", "pel", "seen_time")

    def __init__(self, name: bytes, seen_time: int) -> None:
        self.name = name
        self.pel: Any = SortedDict()  # ID -> Nack, the same objects as the group's
        self.seen_time = seen_time


class Group:
    __slots__ = ("last_id", "entries_read", "pel", "consumers")

    def __init__(self, last_id: int, entries_read: int) -> None:
        self.last_id = last_id
        self.entries_read = entries_read
        self.pel: Any = SortedDict()  # ID -> Nack
        self.consumers: Any = SortedDict()  # name -> Consumer

    def consumer(self, name: bytes, refresh: bool = True) -> Consumer | None:
        """streamLookupConsumer: the seen-time is refreshed unless told not to."""
        found = self.consumers.get(name)
        if found is not None and refresh:
            found.seen_time = mstime()
        return found

    def create_consumer(self, name: bytes) -> Consumer | None:
        if name in self.consumers:
            return None
        created = self.consumers[name] = Consumer(name, mstime())
        return created

    def delete_consumer(self, consumer: Consumer) -> None:
        for entry_id in consumer.pel:
            del self.pel[entry_id]
        del self.consumers[consumer.name]

    def remove_nack(self, entry_id: int) -> Nack:
        nack = self.pel.pop(entry_id)
        if nack.consumer is not None:
            nack.consumer.pel.pop(entry_id, None)
        return nack


class Stream:
    """A Redis stream value (OBJECT ENCODING `stream`)."""

    __slots__ = ("entries", "nodes", "last_id", "first_id", "max_deleted_id", "entries_added",
                 "groups")
    type_name = b"stream"

    def __init__(self) -> None:
        self.entries: Any = SortedDict()  # ID -> (field, value, ...)
        self.nodes: Any = SortedDict()  # master ID -> Node
        self.last_id = 0
        self.first_id = 0
        self.max_deleted_id = 0
        self.entries_added = 0
        self.groups: Any = SortedDict()  # name -> Group

    def encoding(self) -> bytes:
        return b"stream"

    def __len__(self) -> int:
        return len(self.entries)

    def __bool__(self) -> bool:  # an empty stream is still a value (it is never deleted)
        return True

    # -- entries -------------------------------------------------------------------------------

    def append(self, entry_id: int, flat: tuple[bytes, ...], max_bytes: int, max_entries: int,
               ) -> None:
        """streamAppendItem, the ID already checked: the node boundaries as Redis's."""
        nodes = self.nodes
        tail = nodes.peekitem(-1)[1] if nodes else None
        if tail is not None:
            if max_bytes == 0 or max_bytes > LISTPACK_MAX_SIZE:
                max_bytes = LISTPACK_MAX_SIZE
            if tail.nbytes() + sum(map(len, flat)) >= max_bytes or (
                    max_entries and tail.live + tail.deleted >= max_entries):
                tail = None
        if tail is None:
            tail = nodes[entry_id] = Node(entry_id, flat[0::2])
        tail.add_entry(entry_id, flat)
        self.entries[entry_id] = flat
        self.entries_added += 1
        self.last_id = entry_id
        if len(self.entries) == 1:
            self.first_id = entry_id

    def node_of(self, entry_id: int) -> Node:
        nodes = self.nodes
        return nodes.peekitem(nodes.bisect_right(entry_id) - 1)[1]

    def delete(self, entry_id: int) -> bool:
        """streamDeleteItem: a tombstone in its node; a node left with no live entry goes."""
        if self.entries.pop(entry_id, None) is None:
            return False
        node = self.node_of(entry_id)
        if node.live == 1:
            del self.nodes[node.master]
        else:
            node.live -= 1
            node.deleted += 1
        return True

    def _drop_node(self, node: Node) -> None:
        entries = self.entries
        for entry_id in list(entries.irange(node.master, node.last)):
            del entries[entry_id]
        del self.nodes[node.master]

    def trim(self, maxlen: int | None, minid: int, approx: bool, limit: int) -> int:
        """streamTrim by MAXLEN (maxlen not None) or MINID; how many entries were removed."""
        deleted = 0
        nodes, entries = self.nodes, self.entries
        while nodes:
            if maxlen is not None and len(entries) <= maxlen:
                break
            node = nodes.peekitem(0)[1]
            if limit and deleted + node.live > limit:
                break
            if maxlen is not None:
                whole = len(entries) - node.live >= maxlen
            else:
                whole = node.last < minid
            if whole:
                deleted += node.live
                self._drop_node(node)
                continue
            if approx:
                break
            marked = 0
            for entry_id in list(entries.irange(node.master, node.last)):
                if (len(entries) <= maxlen) if maxlen is not None else entry_id >= minid:
                    break
                del entries[entry_id]
                marked += 1
            node.live -= marked
            node.deleted += marked
            deleted += marked
            break
        if not entries:
            self.first_id = 0
        elif deleted:
            self.first_id = entries.peekitem(0)[0]
        return deleted

    def first_edge(self) -> int:
        """streamGetEdgeID(first, tombstones included): the first node's master ID, or the
        maximal ID for an empty stream."""
        return self.nodes.peekitem(0)[0] if self.nodes else MAX_ID

    def last_valid_id(self) -> int:
        return self.entries.peekitem(-1)[0] if self.entries else 0

    def range(self, start: int, end: int, count: int = 0, rev: bool = False,
              ) -> list[tuple[int, tuple[bytes, ...]]]:
        """Entries with start <= ID <= end, at most count (0: all), oldest first unless rev."""
        entries = self.entries
        ids = entries.irange(start, end, reverse=rev)
        found = []
        for entry_id in ids:
            found.append((entry_id, entries[entry_id]))
            if len(found) == count:
                break
        return found

    # -- counters of consumer groups -----------------------------------------------------------

    def has_tombstones(self, start: int, end: int = MAX_ID) -> bool:
        """streamRangeHasTombstones."""
        if not self.entries or not self.max_deleted_id:
            return False
        if self.first_id > self.max_deleted_id:
            return False
        return start <= self.max_deleted_id <= end

    def estimate_distance(self, entry_id: int) -> int:
        """streamEstimateDistanceFromFirstEverEntry: the entries-read counter of an ID, when
        it can be known (else INVALID_ENTRIES_READ)."""
        if not self.entries_added:
            return 0
        if not self.entries and entry_id <= self.last_id:
            return self.entries_added
        if entry_id == self.last_id:
            return self.entries_added
        if entry_id > self.last_id:
            return INVALID_ENTRIES_READ
        if not self.max_deleted_id or self.max_deleted_id < self.first_id:
            if entry_id < self.first_id:
                return self.entries_added - len(self.entries)
            if entry_id == self.first_id:
                return self.entries_added - len(self.entries) + 1
        return INVALID_ENTRIES_READ

    def lag(self, group: Group) -> int | None:
        """streamReplyWithCGLag: entries not yet delivered to the group, None if unknown."""
        if not self.entries_added:
            return 0
        if group.entries_read != INVALID_ENTRIES_READ and not self.has_tombstones(group.last_id):
            return self.entries_added - group.entries_read
        read = self.estimate_distance(group.last_id)
        return None if read == INVALID_ENTRIES_READ else self.entries_added - read

    def advance_group(self, group: Group, entry_id: int) -> bool:
        """A delivery of entry_id to the group (streamReplyWithRange): its last ID and
        entries-read counter move on. True if the last ID moved."""
        if entry_id <= group.last_id:
            return False
        if group.entries_read != INVALID_ENTRIES_READ and not self.has_tombstones(entry_id):
            group.entries_read += 1
        elif self.entries_added:
            group.entries_read = self.estimate_distance(entry_id)
        group.last_id = entry_id
        return True

    # -- radix tree figures (XINFO STREAM) -----------------------------------------------------

    def rax_nodes(self) -> int:
        """The number of nodes of Redis's rax holding these listpack nodes' 16-byte keys."""
        keys = [k.to_bytes(16, "big") for k in self.nodes]
        return _rax_count(keys, 0, len(keys), 0) if keys else 1


def _rax_count(keys: list[bytes], lo: int, hi: int, depth: int) -> int:
    """Nodes of the compressed radix tree over sorted keys[lo:hi] below a node at depth."""
    if depth == 16:
        return 1
    first, last = keys[lo], keys[hi - 1]
    common = depth
    while common < 16 and first[common] == last[common]:
        common += 1
    if common > depth:  # a compressed node holds the shared chars
        return 1 + _rax_count(keys, lo, hi, common)
    total = 1  # a branching node, one child per distinct byte
    start = lo
    while start < hi:
        byte = keys[start][depth]
        end = start + 1
        while end < hi and keys[end][depth] == byte:
            end += 1
        total += _rax_count(keys, start, end, depth + 1)
        start = end
    return total
