"""Streams in RDB files: RDB_TYPE_STREAM_LISTPACKS (15) and _LISTPACKS_2 (19) read as Redis
7.0's rdbLoadObject reads them, and written as type 19 the way rdbSaveObject writes them.

The value is the rax of listpack nodes (each: its master ID as a 16-byte big-endian key, then
the listpack), the stream's length and last ID, for type 19 also its first ID, max deleted ID
and entries-added counter, then the consumer groups: name, last-delivered ID, entries-read (19
only), the group's PEL (raw ID, delivery time, delivery count) and the consumers (name,
seen-time, their PEL's IDs, resolved against the group's).

A node's listpack (t_stream.c, streamAppendItem) starts with a master entry: live count,
deleted count, the master fields and a 0. Each entry then holds flags (DELETED, SAMEFIELDS),
its ID as ms / seq deltas from the master ID, the field count and fields unless SAMEFIELDS,
the values, and the number of elements it took.

Loading and saving keep every node as it is, tombstones (deleted entries, which Redis keeps in
their listpack until the node goes) included: a node holds the same entries, the same counts
and the same listpack size in both servers, so the XADDs that follow open new nodes where
Redis would, and `~` trims remove the same nodes.
"""

from __future__ import annotations

import struct
from collections.abc import Callable

from valkdb.persistence.rdbcodec import (
    RDBError,
    encode_length,
    encode_string,
    listpack,
    listpack_entries,
    listpack_integer,
    listpack_string,
)
from valkdb.store.stream import (
    FLAG_DELETED,
    FLAG_SAMEFIELDS,
    MAX_ID,
    SEQ_BITS,
    SEQ_MASK,
    Consumer,
    Group,
    Nack,
    Node,
    Stream,
    decode_entry,
    encode_entry,
    format_id,
    lp_int_size,
)

TYPE_STREAM_LISTPACKS = 15
TYPE_STREAM_LISTPACKS_2 = 19

_INT64 = struct.Struct("<q")
_U64 = (1 << 64) - 1
_LISTPACK_FAILURE = "Stream listpack integrity check failed."


def _signed(value: int) -> int:
    """An unsigned 64-bit number as C's int64_t cast reads it (entries-read -1, ID deltas)."""
    value &= _U64
    return value - (1 << 64) if value >> 63 else value


# -- loading ------------------------------------------------------------------------------------

def load_stream(length: Callable[[], int], string: Callable[[], bytes],
                read: Callable[[int], bytes], rdb_type: int) -> Stream:
    """A stream value from the reader's primitives (rdbLoadLen, rdbGenericLoadStringObject,
    rioRead), type 15 or 19."""
    stream = Stream()
    nodes = stream.nodes
    live: list[int] = []  # the live entries' IDs
    previous_last = -1
    for _ in range(length()):
        key = string()
        if len(key) != 16:
            raise RDBError("Stream node key entry is not the size of a stream ID")
        blob = string()
        master = int.from_bytes(key, "big")
        node = _load_node(master, blob, live)
        if master in nodes:
            raise RDBError("Listpack re-added with existing key")
        if master <= previous_last:  # nodes come in ID order and never overlap
            raise RDBError(_LISTPACK_FAILURE)
        nodes[master] = node
        previous_last = node.last
    stream.length = len(live)
    count = length()
    stream.last_id = _load_id(length)
    if rdb_type == TYPE_STREAM_LISTPACKS_2:
        stream.first_id = _load_id(length)
        stream.max_deleted_id = _load_id(length)
        stream.entries_added = length()
    else:  # what Redis 7.0 sets for a stream from an older file
        stream.entries_added = count
        stream.first_id = live[0] if live else MAX_ID
    if count != len(live):  # Redis only notices a length without any node
        raise RDBError("Stream length inconsistent with rax entries")
    for _ in range(length()):
        _load_group(stream, length, string, read, rdb_type)
    return stream


def _load_id(length: Callable[[], int]) -> int:
    ms = length()
    return ms << SEQ_BITS | length()


def _load_node(master: int, blob: bytes, live_ids: list[int]) -> Node:
    """One listpack as a Node, tombstones included; its live entries' IDs go to live_ids."""
    elements = listpack_entries(blob, _LISTPACK_FAILURE)
    if not elements:
        raise RDBError("Empty listpack inside stream")
    try:
        count, deleted, field_count = int(elements[0]), int(elements[1]), int(elements[2])
        fields = tuple(elements[3:3 + field_count])
        at = 3 + field_count
        if len(fields) != field_count or elements[at] != b"0":
            raise RDBError(_LISTPACK_FAILURE)
        at += 1
        master_ms, master_seq = master >> SEQ_BITS, master & SEQ_MASK
        end = len(elements)
        live = dead = 0
        previous = master - 1
        entries: list[tuple[int, tuple[bytes, ...], bool]] = []
        while at < end:
            flags = int(elements[at])
            entry_id = ((master_ms + int(elements[at + 1])) & _U64) << SEQ_BITS | (
                (master_seq + int(elements[at + 2])) & _U64)
            at += 3
            flat: list[bytes]
            if flags & FLAG_SAMEFIELDS:
                flat = [b""] * (2 * field_count)
                flat[0::2] = fields
                flat[1::2] = elements[at:at + field_count]
                at += field_count
                parts = field_count + 3
            else:
                pair_count = int(elements[at])
                flat = elements[at + 1:at + 1 + 2 * pair_count]
                at += 1 + 2 * pair_count
                parts = 2 * pair_count + 4
                if pair_count < 0 or len(flat) != 2 * pair_count:
                    raise RDBError(_LISTPACK_FAILURE)
            if int(elements[at]) != parts or entry_id <= previous:
                raise RDBError(_LISTPACK_FAILURE)
            at += 1
            deleted_entry = bool(flags & FLAG_DELETED)
            if deleted_entry:
                dead += 1
            else:
                live += 1
                live_ids.append(entry_id)
            entries.append((entry_id, tuple(flat), deleted_entry))
            previous = entry_id
    except (ValueError, IndexError):
        raise RDBError(_LISTPACK_FAILURE) from None
    if live != count or dead != deleted:
        raise RDBError(_LISTPACK_FAILURE)
    node = Node(master, fields)
    for index, (entry_id, flat_entry, deleted_entry) in enumerate(entries):
        node.add_entry(entry_id, flat_entry, encode_entry(format_id(entry_id), flat_entry))
        if deleted_entry:
            node.mark_deleted(index)
    node.body = len(blob) - lp_int_size(count) - lp_int_size(deleted)
    return node


def _load_group(stream: Stream, length: Callable[[], int], string: Callable[[], bytes],
                read: Callable[[int], bytes], rdb_type: int) -> None:
    name = string()
    last_id = _load_id(length)
    if rdb_type == TYPE_STREAM_LISTPACKS_2:
        entries_read = _signed(length())
    else:
        entries_read = stream.estimate_distance(last_id)
    if name in stream.groups:
        raise RDBError(f"Duplicated consumer group name {name.decode(errors='replace')}")
    group = stream.groups[name] = Group(last_id, entries_read)
    pel = group.pel
    for _ in range(length()):
        entry_id = int.from_bytes(read(16), "big")
        delivery_time = _INT64.unpack(read(8))[0]
        nack = Nack(None, delivery_time, length())
        if entry_id in pel:
            raise RDBError("Duplicated global PEL entry loading stream consumer group")
        pel[entry_id] = nack
    for _ in range(length()):
        consumer_name = string()
        if consumer_name in group.consumers:
            raise RDBError("Duplicate stream consumer detected.")
        consumer = Consumer(consumer_name, _INT64.unpack(read(8))[0])
        group.consumers[consumer_name] = consumer
        for _ in range(length()):
            entry_id = int.from_bytes(read(16), "big")
            found = pel.get(entry_id)
            if found is None:
                raise RDBError("Consumer entry not found in group global PEL")
            if entry_id in consumer.pel:
                raise RDBError("Duplicated consumer PEL entry  loading a stream consumer group")
            found.consumer = consumer
            consumer.pel[entry_id] = found
    # Redis checks this only with sanitize-dump-payload yes; valkdb's commands assume every
    # pending entry has an owner, so a file without one is refused.
    if any(nack.consumer is None for nack in pel.values()):
        raise RDBError("Stream CG PEL entry without consumer")


# -- saving -------------------------------------------------------------------------------------

def stream_payload(stream: Stream) -> bytes:
    """rdbSaveObject's OBJ_STREAM part (type 19)."""
    nodes = stream.nodes
    parts = [encode_length(len(nodes))]
    for master, node in nodes.items():
        parts.append(encode_string(master.to_bytes(16, "big")))
        parts.append(encode_string(_node_listpack(node)))
    parts.append(encode_length(len(stream)))
    for entry_id in (stream.last_id, stream.first_id, stream.max_deleted_id):
        parts += (encode_length(entry_id >> SEQ_BITS), encode_length(entry_id & SEQ_MASK))
    parts.append(encode_length(stream.entries_added))
    parts.append(encode_length(len(stream.groups)))
    pack_time = _INT64.pack
    for name, group in stream.groups.items():
        parts += (encode_string(name), encode_length(group.last_id >> SEQ_BITS),
                  encode_length(group.last_id & SEQ_MASK),
                  encode_length(group.entries_read & _U64), encode_length(len(group.pel)))
        for entry_id, nack in group.pel.items():
            parts += (entry_id.to_bytes(16, "big"), pack_time(nack.delivery_time),
                      encode_length(nack.delivery_count))
        parts.append(encode_length(len(group.consumers)))
        for consumer_name, consumer in group.consumers.items():
            parts += (encode_string(consumer_name), pack_time(consumer.seen_time),
                      encode_length(len(consumer.pel)))
            parts += [entry_id.to_bytes(16, "big") for entry_id in consumer.pel]
    return b"".join(parts)


def _node_listpack(node: Node) -> bytes:
    """The node's listpack: master entry, then every entry, its tombstones included."""
    fields = node.fields
    field_count = len(fields)
    integer, string = listpack_integer, listpack_string
    elements = [integer(node.live), integer(node.deleted), integer(field_count)]
    elements += map(string, fields)
    elements.append(integer(0))
    master_ms, master_seq = node.master >> SEQ_BITS, node.master & SEQ_MASK
    same_parts = integer(field_count + 3)  # flags, ms and seq deltas, the values
    for entry_id, encoded, live in node.entries():
        flat = decode_entry(encoded)
        flags = 0 if live else FLAG_DELETED
        delta = (integer(_signed((entry_id >> SEQ_BITS) - master_ms)),
                 integer(_signed((entry_id & SEQ_MASK) - master_seq)))
        if flat[0::2] == fields:
            elements.extend((integer(flags | FLAG_SAMEFIELDS), *delta))
            elements.extend(map(string, flat[1::2]))
            elements.append(same_parts)
        else:
            elements.extend((integer(flags), *delta, integer(len(flat) // 2)))
            elements.extend(map(string, flat))
            elements.append(integer(len(flat) + 4))
    return listpack(elements, len(elements))
