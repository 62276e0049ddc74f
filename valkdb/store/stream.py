"""The stream value type (Redis's t_stream.c / stream.h): entries by ID, and consumer groups.

An entry ID is one int, `ms << 64 | seq`, so IDs compare, sort and step (+1 / -1) as Redis's
128-bit big-endian rax keys do. Entries live in nodes as Redis's listpacks do, the nodes in a
SortedDict by master ID (ranges by ID cost O(log n), trimming at the head drops whole nodes),
placed where Redis places them (stream-node-max-entries / -bytes: each `Node` keeps its
listpack's size as Redis computes it), so approximate trimming (`~`) and XINFO's radix-tree
figures come out as Redis's. Inside a node, IDs are in two arrays and each entry is kept as
the reply XRANGE sends for it: a range of entries is a slice of bytes, and an entry costs
tens of bytes, not Python objects. Deleted entries stay as tombstones until their node goes.

Consumer groups hold a last-delivered ID, an entries-read counter, a PEL (pending entries:
ID -> Nack) shared with their consumers' PELs, and consumers by name (rax order: bytes).
"""

from __future__ import annotations

import time
from array import array
from bisect import bisect_left, bisect_right
from collections.abc import Iterator
from typing import Any

import hiredis
from sortedcontainers import SortedDict

from valkdb.protocol.encoder import bulk_array
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


# What a canonical integer's first byte can be: anything else is a string at once.
_INTEGER_STARTS = frozenset(bytes((c,)) for c in b"-0123456789")


def lp_int_size(value: int) -> int:
    """Bytes an integer element takes in a listpack, its back-length included."""
    if 0 <= value <= 127:
        return 2
    if -4096 <= value <= 4095:
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
    if element[:1] in _INTEGER_STARTS and is_integer(element):
        return lp_int_size(int(element))
    n = len(element)
    size = n + (1 if n < 64 else 2 if n < 4096 else 5)
    return size + _backlen_size(size)


def _delta(value: int) -> int:
    """An ID delta as lpAppendInteger stores it: a signed 64-bit integer."""
    return value - (1 << 64) if value >= 1 << 63 else value


def encode_entry(text: bytes, flat: tuple[bytes, ...]) -> bytes:
    """An entry (its ID as text) as XRANGE replies with it: [ID, [field, value, ...]]."""
    return b"*2\r\n$%d\r\n%s\r\n%s" % (len(text), text, bulk_array(flat))  # type: ignore[arg-type]


def decode_entry(encoded: bytes) -> tuple[bytes, ...]:
    """The (field, value, ...) of an encoded entry."""
    reader = hiredis.Reader()
    reader.feed(encoded)
    return tuple(reader.gets()[1])


class Node:
    """One listpack node of Redis's rax: its entries, tombstones included, as Redis keeps them.

    Each entry's ID is in `ms` / `seq` (sorted, for bisection) and its reply (what XRANGE sends
    for it) in `data`, ending at `ends[i]`: a range of live entries is one slice of `data`. A
    deleted entry stays as a tombstone (flagged in `gone`) until its node goes, as in Redis.
    `body` is the listpack's size as Redis computes it, which decides where nodes end."""

    __slots__ = ("master", "master_ms", "master_seq", "fields", "ms", "seq", "ends", "data",
                 "gone", "live", "deleted", "body")

    def __init__(self, master: int, fields: tuple[bytes, ...]) -> None:
        self.master = master
        self.master_ms, self.master_seq = master >> SEQ_BITS, master & SEQ_MASK
        self.fields = fields  # the master entry's field names
        self.ms = array("Q")
        self.seq = array("Q")
        self.ends = array("L")
        self.data = bytearray()
        self.gone: bytearray | None = None  # one flag per entry once any is deleted
        self.live = 0
        self.deleted = 0
        # Listpack bytes other than the two counters: header, master entry, entries.
        self.body = 7 + lp_int_size(len(fields)) + sum(map(lp_size, fields)) + 2

    @property
    def last(self) -> int:
        """The last entry's ID, a tombstone or not."""
        return make_id(self.ms[-1], self.seq[-1]) if self.ms else self.master

    def nbytes(self) -> int:
        return self.body + lp_int_size(self.live) + lp_int_size(self.deleted)

    def add_entry(self, entry_id: int, flat: tuple[bytes, ...], encoded: bytes) -> None:
        fields = flat[0::2]
        ms, seq = entry_id >> SEQ_BITS, entry_id & SEQ_MASK
        size = lp_int_size(_delta(ms - self.master_ms)) + lp_int_size(_delta(seq - self.master_seq))
        parts = len(fields) + 3
        if fields == self.fields:  # SAMEFIELDS (flags 2: one byte and its back-length)
            size += 2 + sum(map(lp_size, flat[1::2]))
        else:
            size += 2 + lp_int_size(len(fields)) + sum(map(lp_size, flat))
            parts += len(fields) + 1
        self.body += size + lp_int_size(parts)
        self.live += 1
        self.ms.append(ms)
        self.seq.append(seq)
        self.data += encoded
        self.ends.append(len(self.data))
        if self.gone is not None:
            self.gone.append(0)

    def position(self, entry_id: int) -> int:
        """The index of the first entry (tombstones included) whose ID is >= entry_id."""
        ms, seq = entry_id >> SEQ_BITS, entry_id & SEQ_MASK
        low = bisect_left(self.ms, ms)
        high = bisect_right(self.ms, ms, low)
        return bisect_left(self.seq, seq, low, high) if high > low else low

    def id_at(self, index: int) -> int:
        return make_id(self.ms[index], self.seq[index])

    def encoded(self, index: int) -> bytes:
        return bytes(self.data[self.ends[index - 1] if index else 0:self.ends[index]])

    def is_live(self, index: int) -> bool:
        return self.gone is None or not self.gone[index]

    def mark_deleted(self, index: int) -> None:
        if self.gone is None:
            self.gone = bytearray(len(self.ms))
        self.gone[index] = 1
        self.live -= 1
        self.deleted += 1

    def entries(self) -> Iterator[tuple[int, bytes, bool]]:
        """(ID, encoded entry, live) for every entry, tombstones included, oldest first."""
        for index in range(len(self.ms)):
            yield self.id_at(index), self.encoded(index), self.is_live(index)

    def reply_slice(self, first: int, stop: int, count: int) -> tuple[int, bytes]:
        """At most count (0: all) live entries of [first, stop) as (how many, their replies)."""
        if self.gone is None:
            if count and stop - first > count:
                stop = first + count
            if stop <= first:
                return 0, b""
            begin = self.ends[first - 1] if first else 0
            return stop - first, bytes(self.data[begin:self.ends[stop - 1]])
        parts = [self.encoded(i) for i in range(first, stop) if not self.gone[i]]
        if count:
            parts = parts[:count]
        return len(parts), b"".join(parts)


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

    __slots__ = ("nodes", "tail", "length", "last_id", "first_id", "max_deleted_id",
                 "entries_added", "groups")
    type_name = b"stream"

    def __init__(self) -> None:
        self.nodes: Any = SortedDict()  # master ID -> Node
        self.tail: Node | None = None  # the last node, once append has looked it up
        self.length = 0  # live entries
        self.last_id = 0
        self.first_id = 0
        self.max_deleted_id = 0
        self.entries_added = 0
        self.groups: Any = SortedDict()  # name -> Group

    def encoding(self) -> bytes:
        return b"stream"

    def __len__(self) -> int:
        return self.length

    def __bool__(self) -> bool:  # an empty stream is still a value (it is never deleted)
        return True

    # -- entries -------------------------------------------------------------------------------

    def append(self, entry_id: int, flat: tuple[bytes, ...], max_bytes: int, max_entries: int,
               ) -> bytes:
        """streamAppendItem, the ID already checked: the node boundaries as Redis's. Returns
        the entry's ID as text."""
        nodes = self.nodes
        tail = self.tail
        if tail is None and nodes:
            tail = nodes.peekitem(-1)[1]
        if tail is not None:
            if max_bytes == 0 or max_bytes > LISTPACK_MAX_SIZE:
                max_bytes = LISTPACK_MAX_SIZE
            if tail.nbytes() + sum(map(len, flat)) >= max_bytes or (
                    max_entries and tail.live + tail.deleted >= max_entries):
                tail = None
        if tail is None:
            tail = nodes[entry_id] = Node(entry_id, flat[0::2])
        self.tail = tail
        text = format_id(entry_id)
        tail.add_entry(entry_id, flat, encode_entry(text, flat))
        self.length += 1
        self.entries_added += 1
        self.last_id = entry_id
        if self.length == 1:
            self.first_id = entry_id
        return text

    def _node_index(self, entry_id: int) -> int:
        """The index in `nodes` of the node that would hold entry_id (-1: before them all)."""
        return self.nodes.bisect_right(entry_id) - 1

    def _find(self, entry_id: int) -> tuple[Node, int] | None:
        """The node and index of a live entry."""
        at = self._node_index(entry_id)
        if at < 0:
            return None
        node = self.nodes.peekitem(at)[1]
        index = node.position(entry_id)
        if index < len(node.ms) and node.id_at(index) == entry_id and node.is_live(index):
            return node, index
        return None

    def __contains__(self, entry_id: int) -> bool:
        return self._find(entry_id) is not None

    def get(self, entry_id: int) -> bytes | None:
        """The entry's reply, or None if there is no such live entry."""
        found = self._find(entry_id)
        return None if found is None else found[0].encoded(found[1])

    def delete(self, entry_id: int) -> bool:
        """streamDeleteItem: a tombstone in its node; a node left with no live entry goes."""
        found = self._find(entry_id)
        if found is None:
            return False
        node, index = found
        if node.live == 1:
            self._drop(node)
        else:
            node.mark_deleted(index)
        self.length -= 1
        return True

    def _drop(self, node: Node) -> None:
        del self.nodes[node.master]
        if node is self.tail:
            self.tail = None

    def first_entry(self) -> tuple[int, bytes] | None:
        """The oldest live entry (ID, reply)."""
        found = self.scan(0, MAX_ID, 1)
        return found[0] if found else None

    def last_entry(self) -> tuple[int, bytes] | None:
        found = self.scan(0, MAX_ID, 1, rev=True)
        return found[0] if found else None

    def refresh_first(self) -> None:
        """first_id after the first entry was deleted."""
        first = self.first_entry()
        self.first_id = 0 if first is None else first[0]

    def trim(self, maxlen: int | None, minid: int, approx: bool, limit: int) -> int:
        """streamTrim by MAXLEN (maxlen not None) or MINID; how many entries were removed."""
        deleted = 0
        nodes = self.nodes
        while nodes:
            if maxlen is not None and self.length <= maxlen:
                break
            node = nodes.peekitem(0)[1]
            if limit and deleted + node.live > limit:
                break
            if maxlen is not None:
                whole = self.length - node.live >= maxlen
            else:
                whole = node.last < minid
            if whole:
                deleted += node.live
                self.length -= node.live
                self._drop(node)
                continue
            if approx:
                break
            for index in range(len(node.ms)):
                if (self.length <= maxlen) if maxlen is not None else node.id_at(index) >= minid:
                    break
                if node.is_live(index):
                    node.mark_deleted(index)
                    self.length -= 1
                    deleted += 1
            break
        if deleted:
            self.refresh_first()
        return deleted

    def first_edge(self) -> int:
        """streamGetEdgeID(first, tombstones included): the first node's master ID, or the
        maximal ID for an empty stream."""
        return self.nodes.peekitem(0)[0] if self.nodes else MAX_ID

    def last_valid_id(self) -> int:
        last = self.last_entry()
        return 0 if last is None else last[0]

    def reply_range(self, start: int, end: int, count: int = 0) -> tuple[int, bytes]:
        """Live entries with start <= ID <= end, oldest first, at most count (0: all), as
        (how many, their replies joined): slices of the nodes' data."""
        nodes = self.nodes
        if not nodes or start > end:
            return 0, b""
        total = 0
        parts = []
        for master in nodes.islice(max(self._node_index(start), 0)):
            if master > end:
                break
            node = nodes[master]
            first = node.position(start) if start > master else 0
            stop = node.position(end + 1) if end < MAX_ID and end < node.last else len(node.ms)
            n, data = node.reply_slice(first, stop, count - total if count else 0)
            if n:
                total += n
                parts.append(data)
                if total == count:
                    break
        return total, b"".join(parts)

    def scan(self, start: int, end: int, count: int = 0, rev: bool = False,
             ) -> list[tuple[int, bytes]]:
        """Live entries with start <= ID <= end as (ID, reply), at most count (0: all), oldest
        first unless rev."""
        nodes = self.nodes
        found: list[tuple[int, bytes]] = []
        if not nodes or start > end:
            return found
        if rev:
            at = self._node_index(end)
            masters = nodes.islice(0, at + 1, reverse=True) if at >= 0 else ()
        else:
            masters = nodes.islice(max(self._node_index(start), 0))
        for master in masters:
            node = nodes[master]
            if rev and node.last < start:
                break
            if not rev and master > end:
                break
            first = node.position(start)
            stop = node.position(end + 1) if end < MAX_ID else len(node.ms)
            indexes = range(stop - 1, first - 1, -1) if rev else range(first, stop)
            for index in indexes:
                if node.is_live(index):
                    found.append((node.id_at(index), node.encoded(index)))
                    if len(found) == count:
                        return found
        return found

    def items(self) -> Iterator[tuple[int, tuple[bytes, ...]]]:
        """Every live entry as (ID, (field, value, ...)), oldest first (persistence)."""
        for node in self.nodes.values():
            for entry_id, encoded, live in node.entries():
                if live:
                    yield entry_id, decode_entry(encoded)

    # -- counters of consumer groups -----------------------------------------------------------

    def has_tombstones(self, start: int, end: int = MAX_ID) -> bool:
        """streamRangeHasTombstones."""
        if not self.length or not self.max_deleted_id:
            return False
        if self.first_id > self.max_deleted_id:
            return False
        return start <= self.max_deleted_id <= end

    def estimate_distance(self, entry_id: int) -> int:
        """streamEstimateDistanceFromFirstEverEntry: the entries-read counter of an ID, when
        it can be known (else INVALID_ENTRIES_READ)."""
        if not self.entries_added:
            return 0
        if not self.length and entry_id <= self.last_id:
            return self.entries_added
        if entry_id == self.last_id:
            return self.entries_added
        if entry_id > self.last_id:
            return INVALID_ENTRIES_READ
        if not self.max_deleted_id or self.max_deleted_id < self.first_id:
            if entry_id < self.first_id:
                return self.entries_added - self.length
            if entry_id == self.first_id:
                return self.entries_added - self.length + 1
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
        return rax_count(keys, 0, len(keys), 0) if keys else 1


def rax_count(keys: list[bytes], lo: int, hi: int, depth: int) -> int:
    """Nodes of the compressed radix tree over sorted keys[lo:hi] below a node at depth."""
    if depth == 16:
        return 1
    first, last = keys[lo], keys[hi - 1]
    common = depth
    while common < 16 and first[common] == last[common]:
        common += 1
    if common > depth:  # a compressed node holds the shared chars
        return 1 + rax_count(keys, lo, hi, common)
    total = 1  # a branching node, one child per distinct byte
    start = lo
    while start < hi:
        byte = keys[start][depth]
        end = start + 1
        while end < hi and keys[end][depth] == byte:
            end += 1
        total += rax_count(keys, start, end, depth + 1)
        start = end
    return total
