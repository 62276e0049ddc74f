"""What a key would cost in Redis 7.0's memory, for MEMORY USAGE (object.c objectComputeSize).

valkdb's values are Python objects whose footprint says nothing a Redis user can compare, so
the estimate models Redis's own structures instead: a 64-bit build with jemalloc, whose
allocations round up to jemalloc's size classes (8, 16, 32, 48, ... 128, then four classes per
power of two), the 16-byte robj every value has, sds strings with their 1- to 17-byte headers,
24-byte dict entries, listpack bytes as listpack.c lays them out, quicklist nodes packed as
quicklist.c packs them, skiplist nodes, and a stream's rax and listpacks.

Like Redis, a collection that is a hash table, skiplist, quicklist or stream is costed from its
first `samples` elements (nodes for lists and streams) and the average extrapolated, so a
million-element value costs a few elements' work. Redis reads a listpack's or intset's size in
O(1); here it is computed from the elements, so past `EXACT_LIMIT` elements (possible only with
raised *-max-listpack-entries settings) those are sampled too.

Where Redis's figure depends on chance (a skiplist node's random level) or on history valkdb
does not keep (spare room left by APPEND, a dict caught mid-rehash), the model takes the
expected value or the settled state.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator
from typing import Any

from valkdb.store.stream import Stream, lp_int_size, lp_size, rax_count
from valkdb.store.types import Hash, List, Set, ZSet, string_encoding

# sizeof() of Redis 7.0's structures on a 64-bit build.
ROBJ = 16
DICT_ENTRY = 24
DICT = 56
POINTER = 8
QUICKLIST = 40
QUICKLIST_NODE = 40
ZSET = 16
ZSKIPLIST = 32
ZSKIPLIST_MAXLEVEL = 32
STREAM = 80
STREAM_ID = 16
RAX_NODE = 4
STREAM_CG = 40
STREAM_CONSUMER = 24
STREAM_NACK = 24
INTSET_HEADER = 8
LISTPACK_EMPTY = 7  # 6 bytes of header, 1 end marker

DEFAULT_SAMPLES = 5  # OBJ_COMPUTE_SIZE_DEF_SAMPLES
EXACT_LIMIT = 4096  # elements of a small encoding costed one by one before sampling
LLONG_HALF = (2**63 - 1) // 2
LIST_PICKS = 32  # elements read along a long list to estimate its node count


def alloc_size(size: int) -> int:
    """jemalloc's usable size for a request of `size` bytes (zmalloc_size)."""
    if size <= 8:
        return 8
    if size <= 128:
        return (size + 15) & ~15
    spacing = 1 << ((size - 1).bit_length() - 3)  # four classes per doubling
    return (size + spacing - 1) & ~(spacing - 1)


def sds_header(length: int) -> int:
    """The header of an sds of that length (sdsReqType: type 5, 8, 16, 32 or 64)."""
    if length < 1 << 5:
        return 1
    if length < 1 << 8:
        return 3
    if length < 1 << 16:
        return 5
    if length < 1 << 32:
        return 9
    return 17


def sds_size(length: int) -> int:
    """sdsZmallocSize of a string made to measure (sdsnewlen / sdsdup)."""
    return alloc_size(sds_header(length) + length + 1)


def string_size(value: bytes) -> int:
    encoding = string_encoding(value)
    if encoding == b"int":
        return ROBJ
    if encoding == b"embstr":  # robj, sdshdr8 and the bytes in one allocation
        return alloc_size(ROBJ + 3 + len(value) + 1)
    return ROBJ + sds_size(len(value))


def dict_slots(used: int) -> int:
    """Buckets of a settled dict holding `used` entries: a power of two, at least 4."""
    if used == 0:
        return 0
    return max(4, 1 << (used - 1).bit_length())


def _extrapolate(costs: Iterable[float], total: int, limit: int) -> float:
    """Redis's sampling: the average cost of the first `limit` elements, times `total`."""
    spent = 0.0
    samples = 0
    for cost in itertools.islice(costs, limit):
        spent += cost
        samples += 1
    return spent / samples * total if samples else 0.0


def _exact_limit(count: int, samples: int) -> int:
    """How many elements of a small encoding to cost one by one (all, unless it is huge)."""
    return count if samples >= count or count <= EXACT_LIMIT else EXACT_LIMIT


def _listpack_size(entry_sizes: Iterator[int], count: int, samples: int) -> int:
    """The allocation of a listpack of `count` entries, from their sizes."""
    body = _extrapolate(entry_sizes, count, _exact_limit(count, samples))
    return alloc_size(LISTPACK_EMPTY + int(body))


def _score_size(score: float) -> int:
    """A zset listpack's score entry (zzlInsertAt: an integer when it is one, else d2string)."""
    if -LLONG_HALF <= score <= LLONG_HALF and score == int(score):
        return lp_int_size(int(score))
    if score != score:
        text = b"nan"
    elif score in (float("inf"), float("-inf")):
        text = b"inf" if score > 0 else b"-inf"
    else:
        text = b"%.17g" % score
    return lp_size(text)


def _skiplist_node_size() -> float:
    """The expected allocation of a skiplist node: its level is random (p = 1/4 per level)."""
    expected = 0.0
    for level in range(1, ZSKIPLIST_MAXLEVEL + 1):
        chance = 0.75 * 0.25 ** (level - 1) if level < ZSKIPLIST_MAXLEVEL else 0.25 ** (level - 1)
        expected += chance * alloc_size(24 + 16 * level)
    return expected


SKIPLIST_NODE = _skiplist_node_size()
SKIPLIST_HEADER = alloc_size(24 + 16 * ZSKIPLIST_MAXLEVEL)


def _quicklist_allows(node_bytes: int, count: int, element: int, fill: int) -> bool:
    """_quicklistNodeAllowInsert: may a node of `node_bytes` take an element of that length?"""
    new_size = node_bytes + element + 8  # SIZE_ESTIMATE_OVERHEAD
    if fill < 0:
        return new_size <= 4096 << (min(-fill, 5) - 1)  # optimization_level
    return new_size <= 8192 and count < fill  # SIZE_SAFETY_LIMIT, then the count


def list_size(values: List, samples: int, fill: int) -> int:
    """A quicklist: its first `samples` nodes (as RPUSH packs them) costed, the rest averaged.
    Its elements are kept as RESP bulk strings (see commands/lists.py)."""
    total = ROBJ + QUICKLIST
    if not values:
        return total
    nodes: list[tuple[int, int]] = []  # (listpack bytes, elements) of each complete node
    node_bytes, count = LISTPACK_EMPTY, 0
    for encoded in values:
        element = _raw(encoded)
        if count and not _quicklist_allows(node_bytes, count, len(element), fill):
            nodes.append((node_bytes, count))
            if len(nodes) >= samples:
                break
            node_bytes, count = LISTPACK_EMPTY, 0
        node_bytes += lp_size(element)
        count += 1
    else:
        nodes.append((node_bytes, count))
    sampled = nodes[:samples]
    cost = sum(QUICKLIST_NODE + alloc_size(size) for size, _ in sampled)
    in_sampled = sum(n for _, n in sampled)
    length = len(nodes)
    if in_sampled < len(values):
        length += _nodes_beyond(values, in_sampled, fill)
    return int(total + cost / len(sampled) * length)


def _raw(encoded: bytes) -> bytes:
    return encoded[encoded.index(b"\n") + 1 : -2]


def _nodes_beyond(values: List, start: int, fill: int) -> int:
    """How many nodes hold values[start:], from elements picked evenly along it: Redis reads
    its node count, valkdb estimates how many elements a node takes from their average size."""
    remaining = len(values) - start
    picks = [_raw(values[start + i * remaining // LIST_PICKS])
             for i in range(min(LIST_PICKS, remaining))]
    raw = sum(map(len, picks)) / len(picks)
    packed = sum(map(lp_size, picks)) / len(picks)
    limit = 4096 << (min(-fill, 5) - 1) if fill < 0 else 8192
    per_node = max(1, int((limit - LISTPACK_EMPTY - 8 - raw) // packed) + 1)
    if fill >= 0:
        per_node = min(per_node, max(1, fill))
    return -(-remaining // per_node)


def set_size(value: Set, samples: int) -> int:
    if value.intset:
        count = len(value.members)
        sampled = itertools.islice(value.members, _exact_limit(count, samples))
        width = max(map(_intset_width, sampled), default=2)
        return ROBJ + alloc_size(INTSET_HEADER + width * count)
    total = ROBJ + DICT + POINTER * dict_slots(len(value))
    members = value.members
    count = len(members)
    if samples < count:  # Redis's first members in hash order are as good as random ones
        members = [members[i * count // samples] for i in range(samples)]
    costs = (DICT_ENTRY + sds_size(len(m)) for m in members)
    return int(total + _extrapolate(costs, count, samples))


def _intset_width(member: bytes) -> int:
    """Bytes per member of an intset holding this one (INTSET_ENC_INT16, 32 or 64)."""
    n = int(member)
    if -(1 << 15) <= n < 1 << 15:
        return 2
    return 4 if -(1 << 31) <= n < 1 << 31 else 8


def hash_size(value: Hash, samples: int) -> int:
    if not value.hashtable:
        sizes = (lp_size(f) + lp_size(v) for f, v in value.items())
        return ROBJ + _listpack_size(sizes, len(value), samples)
    total = ROBJ + DICT + POINTER * dict_slots(len(value))
    costs = (DICT_ENTRY + sds_size(len(f)) + sds_size(len(v)) for f, v in value.items())
    return int(total + _extrapolate(costs, len(value), samples))


def zset_size(value: ZSet, samples: int) -> int:
    count = len(value)
    if value.listpack:
        sizes = (lp_size(m) + _score_size(s) for m, s in value.items())
        return ROBJ + _listpack_size(sizes, count, samples)
    total = (ROBJ + ZSET + ZSKIPLIST + DICT + POINTER * dict_slots(count) + SKIPLIST_HEADER)
    costs = (sds_size(len(m)) + DICT_ENTRY + SKIPLIST_NODE for _, m in value.ordered)
    return int(total + _extrapolate(costs, count, samples))


def _rax_size(elements: int, nodes: int) -> int:
    """streamRadixTreeMemoryUsage: Redis's rule of thumb for a rax of 16-byte keys."""
    return elements * STREAM_ID + nodes * RAX_NODE + nodes * POINTER * 30


def _pel_rax_size(pel: Any) -> int:
    """A PEL's rax (IDs as 16-byte big-endian keys); the node count sampled when it is big."""
    count = len(pel)
    if not count:
        return _rax_size(0, 1)
    keys = [k.to_bytes(16, "big") for k in itertools.islice(pel, EXACT_LIMIT)]
    nodes = rax_count(keys, 0, len(keys), 0)
    if count > len(keys):
        nodes = nodes * count // len(keys)
    return _rax_size(count, nodes)


def stream_size(value: Stream, samples: int, node_max_bytes: int) -> int:
    """The stream, its rax, its listpacks (first ones sampled, the last one as it is) and its
    consumer groups (all of them, as Redis counts them)."""
    prealloc = 4096  # STREAM_LISTPACK_MAX_PRE_ALLOCATE, capped by stream-node-max-bytes
    if 0 < node_max_bytes < prealloc:
        prealloc = node_max_bytes
    nodes = value.nodes
    total = ROBJ + STREAM + _rax_size(len(nodes), value.rax_nodes())
    if nodes:
        # Every node but the last was shrunk to fit when the next one was made; the last
        # keeps its preallocation until it outgrows it.
        last = nodes.peekitem(-1)[1]
        tail = alloc_size(max(prealloc, last.nbytes()))
        sampled = [tail if node is last else alloc_size(node.nbytes())
                   for node in itertools.islice(nodes.values(), samples)]
        if len(nodes) <= len(sampled):
            total += sum(sampled)
        else:
            total += sum(sampled) // len(sampled) * (len(nodes) - 1) + tail
    for group in value.groups.values():
        total += STREAM_CG + _pel_rax_size(group.pel) + STREAM_NACK * len(group.pel)
        for consumer in group.consumers.values():
            total += STREAM_CONSUMER + len(consumer.name) + _pel_rax_size(consumer.pel)
    return total


def value_size(value: Any, samples: int, list_fill: int = -2,
               stream_node_max_bytes: int = 4096) -> int:
    """objectComputeSize: what the value costs in Redis (its robj included)."""
    kind = type(value)
    if kind is bytes:
        return string_size(value)
    if kind is List:
        return list_size(value, samples, list_fill)
    if kind is Hash:
        return hash_size(value, samples)
    if kind is Set:
        return set_size(value, samples)
    if kind is ZSet:
        return zset_size(value, samples)
    if kind is Stream:
        return stream_size(value, samples, stream_node_max_bytes)
    raise TypeError(f"no memory model for {kind.__name__}")


def key_size(key: bytes, value: Any, samples: int, list_fill: int = -2,
             stream_node_max_bytes: int = 4096) -> int:
    """MEMORY USAGE: the value, the key's sds and its entry in the keyspace's dict."""
    return (value_size(value, samples, list_fill, stream_node_max_bytes)
            + sds_size(len(key)) + DICT_ENTRY)


def keyspace_overhead(keys: int, expires: int) -> tuple[int, int]:
    """A database's hash tables as MEMORY STATS counts them (getMemoryOverheadData): the main
    dict (entries, buckets and one robj per key) and the expires dict."""
    main = keys * DICT_ENTRY + dict_slots(keys) * POINTER + keys * ROBJ
    return main, expires * DICT_ENTRY + dict_slots(expires) * POINTER
