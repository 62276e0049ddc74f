"""Streams in RDB files without a server: valkdb's writer and reader agree on every part of a
stream (entries, node shapes, counters, groups, PELs, consumers), the listpack codec round
trips every element, and corrupt stream payloads fail with Redis's messages. The files'
agreement with redis-server is in test_stream_interop.py."""

from __future__ import annotations

import io

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.persistence.test_rdb import listpack, raw, rdb_file, read_all, string_blob
from valkdb.persistence.rdb import RDBError, RDBReader, write_rdb
from valkdb.persistence.rdb_stream import stream_payload
from valkdb.persistence.rdbcodec import (
    encode_length,
    listpack_entries,
    listpack_integer,
    listpack_string,
)
from valkdb.persistence.rdbcodec import listpack as build_listpack
from valkdb.store.stream import MAX_ID, Consumer, Group, Nack, Stream, make_id

LIMITS = None  # streams read no limits


def saved_and_loaded(stream: Stream) -> Stream:
    out = io.BytesIO()
    write_rdb(out, [(0, 1, 0, [(b"s", stream, None)])])
    [(_, key, value, _)] = list(RDBReader(io.BytesIO(out.getvalue()), LIMITS).records())
    assert key == b"s"
    return value


def shape(stream: Stream) -> dict:
    """Everything a stream holds, in plain values."""
    return {
        "entries": list(stream.items()),
        "nodes": [(n.master, n.fields, n.live, n.deleted, n.last, n.nbytes(),
                   list(n.entries()))
                  for n in stream.nodes.values()],
        "counters": (stream.last_id, stream.first_id, stream.max_deleted_id,
                     stream.entries_added),
        "groups": [(name, g.last_id, g.entries_read,
                    [(i, n.consumer.name, n.delivery_time, n.delivery_count)
                     for i, n in g.pel.items()],
                    [(c.name, c.seen_time, list(c.pel)) for c in g.consumers.values()])
                   for name, g in stream.groups.items()],
    }


def add_group(stream: Stream, name: bytes, last_id: int, entries_read: int,
              pending: dict[bytes, list[int]]) -> None:
    group = stream.groups[name] = Group(last_id, entries_read)
    for consumer_name, ids in pending.items():
        consumer = group.consumers[consumer_name] = Consumer(consumer_name, 1_700_000_000_123)
        for n, entry_id in enumerate(ids):
            nack = Nack(consumer, 1_700_000_000_000 + n, n + 1)
            group.pel[entry_id] = consumer.pel[entry_id] = nack


def sample() -> Stream:
    stream = Stream()
    for i in range(1, 21):
        flat = (b"a", b"%d" % (i * 1000 - 7000), b"b", b"x" * i) if i % 5 else (b"other", b"1")
        stream.append(make_id(i, i % 3), flat, 4096, 4)
    return stream


def test_a_stream_without_tombstones_round_trips_exactly():
    stream = sample()
    add_group(stream, b"g", make_id(7, 1), 7, {b"alice": [make_id(2, 2), make_id(5, 2)],
                                                b"bob": [make_id(7, 1)], b"idle": []})
    add_group(stream, b"123", MAX_ID, -1, {})
    stream.max_deleted_id = make_id(1, 0)
    assert shape(saved_and_loaded(stream)) == shape(stream)


def listpack_sizes(stream: Stream) -> list[int]:
    """The size of each node's listpack in the RDB payload."""
    reader = RDBReader(io.BytesIO(stream_payload(stream)), LIMITS)
    sizes = []
    for _ in range(reader._length()):
        reader._string()
        sizes.append(len(reader._string()))
    return sizes


def test_loaded_nodes_know_their_listpack_size():
    """What XADD compares with stream-node-max-bytes (lpBytes) is exact after a load."""
    stream = sample()
    loaded = saved_and_loaded(stream)
    assert [n.nbytes() for n in loaded.nodes.values()] == listpack_sizes(stream)


def test_appended_nodes_know_their_listpack_size():
    stream = sample()
    assert [n.nbytes() for n in stream.nodes.values()] == listpack_sizes(stream)


def test_tombstones_are_kept():
    """Deleted entries stay in their node, as in Redis's listpacks, through a save and a load:
    same entries, counts and listpack sizes, so later XADDs split nodes where Redis would."""
    stream = sample()  # nodes of 4: 1..4, 5..8, 9..12, 13..16, 17..20
    for ms, seq in ((5, 2), (7, 1), (8, 2), (10, 1), (20, 2)):
        assert stream.delete(make_id(ms, seq))
    stream.max_deleted_id = make_id(20, 2)
    loaded = saved_and_loaded(stream)
    before, after = shape(stream), shape(loaded)
    assert after == before
    assert [(n.live, n.deleted) for n in loaded.nodes.values()] == [
        (4, 0), (1, 3), (3, 1), (4, 0), (3, 1)]
    assert shape(saved_and_loaded(loaded)) == after


def test_a_node_without_live_entries_keeps_its_edges():
    stream = Stream()
    for i in range(1, 9):
        stream.append(make_id(i, 0), (b"f", b"%d" % i), 4096, 4)
    stream.delete(make_id(8, 0))
    stream.trim(None, make_id(8, 0), False, 0)  # 5..7 marked deleted: no live entry left
    [node] = stream.nodes.values()
    assert (node.live, node.last) == (0, make_id(8, 0))
    loaded = saved_and_loaded(stream)
    [(master, node)] = loaded.nodes.items()
    assert (master, node.live, node.deleted, node.last) == (make_id(5, 0), 0, 4, make_id(8, 0))
    assert len(loaded) == 0 and loaded.first_id == 0


def test_an_empty_stream_with_groups():
    stream = Stream()
    add_group(stream, b"g", 0, 0, {b"c": []})
    assert shape(saved_and_loaded(stream)) == shape(stream)


def test_ids_with_wrapping_deltas():
    stream = Stream()
    big = (1 << 64) - 1
    for entry_id in (make_id(5, 100), make_id(6, 0), make_id(6, big), make_id(big - 1, big),
                     make_id(big, 0), make_id(big, big)):
        stream.append(entry_id, (b"k", b"v"), 4096, 0)
    assert shape(saved_and_loaded(stream)) == shape(stream)


ELEMENTS = [0, 1, 127, 128, -1, -4096, 4095, -4097, 4096, 32767, -32768, 32768, -32769,
            8388607, -8388608, 8388608, 2**31 - 1, -(2**31), 2**31, 2**63 - 1, -(2**63),
            b"", b"a", b"x" * 63, b"y" * 64, b"z" * 4095, b"w" * 4096, b"01", b"-0", b"+1",
            b"9223372036854775808", b"-9223372036854775809", b"1 ", b"12345678901234567890"]


def encode(element: int | bytes) -> bytes:
    return listpack_integer(element) if isinstance(element, int) else listpack_string(element)


def test_listpack_elements_as_redis_encodes_them():
    # the same bytes as the tests' independent encoder, and decoded back
    expected = listpack([int(e) if isinstance(e, bytes) and e.lstrip(b"-").isdigit()
                         and int(e) in range(-(2**63), 2**63) and e == b"%d" % int(e) else e
                         for e in ELEMENTS])
    encoded = build_listpack(map(encode, ELEMENTS), len(ELEMENTS))
    assert encoded == expected
    assert listpack_entries(encoded, "bad") == [
        b"%d" % e if isinstance(e, int) else e for e in ELEMENTS]


@given(st.lists(st.one_of(st.integers(-(2**63), 2**63 - 1), st.binary(max_size=300)),
                max_size=40))
def test_listpacks_round_trip(elements):
    encoded = build_listpack(map(encode, elements), len(elements))
    assert listpack_entries(encoded, "bad") == [
        b"%d" % e if isinstance(e, int) else e for e in elements]


def test_many_elements_leave_the_count_unknown():
    encoded = build_listpack([encode(1)] * 70000, 70000)
    assert encoded[4:6] == b"\xff\xff"
    assert len(listpack_entries(encoded, "bad")) == 70000


# -- corrupt payloads -----------------------------------------------------------------------------

KEY = bytes(15) + b"\x01"  # master ID 0-1


def node(*elements) -> bytes:
    return raw(KEY) + string_blob(listpack(list(elements)))


GOOD_NODE = node(1, 0, 1, b"f", 0, 2, 0, 0, b"v", 4)  # one entry 0-1 f v
# length 1, last ID 0-1, first ID 0-1, max deleted ID 0-0, entries added 1
TAIL = b"\x01" + b"\x00\x01" + b"\x00\x01" + b"\x00\x00" + b"\x01"


def stream_file(payload: bytes, type_byte: int = 19) -> bytes:
    return rdb_file(b"\xfe\x00" + bytes((type_byte,)) + raw(b"s") + payload)


def test_a_hand_built_stream_loads():
    [(_, _, value, _)] = read_all(stream_file(b"\x01" + GOOD_NODE + TAIL + b"\x00"))
    assert list(value.items()) == [(1, (b"f", b"v"))]


GROUP = raw(b"g") + b"\x00\x01" + b"\x01"  # name, last ID 0-1, entries read 1
PEL_ENTRY = KEY + b"\x00" * 8 + b"\x01"  # ID 0-1, delivery time 0, delivery count 1


@pytest.mark.parametrize("payload,message", [
    (b"\x01" + raw(b"short") + string_blob(listpack([1])), "not the size of a stream ID"),
    (b"\x01" + raw(KEY) + string_blob(listpack([])), "Empty listpack inside stream"),
    (b"\x01" + node(1, 0, 1, b"f", 0, 2, 0, 0, b"v", 5) + TAIL + b"\x00",
     "Stream listpack integrity check failed."),  # a wrong lp-count
    (b"\x01" + node(2, 0, 1, b"f", 0, 2, 0, 0, b"v", 4) + TAIL + b"\x00",
     "Stream listpack integrity check failed."),  # a wrong live count
    (b"\x01" + node(1, 0, 1, b"f", 1, 2, 0, 0, b"v", 4) + TAIL + b"\x00",
     "Stream listpack integrity check failed."),  # no master entry terminator
    (b"\x02" + GOOD_NODE + GOOD_NODE + TAIL + b"\x00", "Listpack re-added with existing key"),
    (b"\x01" + GOOD_NODE + b"\x02" + TAIL[1:] + b"\x00",
     "Stream length inconsistent with rax entries"),
    (b"\x01" + GOOD_NODE + TAIL + b"\x02" + GROUP + b"\x00\x00" + GROUP + b"\x00\x00",
     "Duplicated consumer group name g"),
    (b"\x01" + GOOD_NODE + TAIL + b"\x01" + GROUP + b"\x02" + PEL_ENTRY + PEL_ENTRY,
     "Duplicated global PEL entry loading stream consumer group"),
    (b"\x01" + GOOD_NODE + TAIL + b"\x01" + GROUP + b"\x00\x02" + raw(b"c") + bytes(8)
     + b"\x00" + raw(b"c") + bytes(8) + b"\x00", "Duplicate stream consumer detected."),
    (b"\x01" + GOOD_NODE + TAIL + b"\x01" + GROUP + b"\x00\x01" + raw(b"c") + bytes(8)
     + b"\x01" + KEY, "Consumer entry not found in group global PEL"),
    (b"\x01" + GOOD_NODE + TAIL + b"\x01" + GROUP + b"\x01" + PEL_ENTRY + b"\x01" + raw(b"c")
     + bytes(8) + b"\x02" + KEY + KEY, "Duplicated consumer PEL entry  loading a stream"),
    (b"\x01" + GOOD_NODE + TAIL + b"\x01" + GROUP + b"\x01" + PEL_ENTRY + b"\x00",
     "Stream CG PEL entry without consumer"),
])
def test_corrupt_streams(payload, message):
    with pytest.raises(RDBError, match=message):
        read_all(stream_file(payload))


# -- type 15 (RDB_TYPE_STREAM_LISTPACKS, Redis 5 to 6.2) -------------------------------------------

def v1_payload(stream: Stream) -> bytes:
    """A type 15 payload: type 19's without the first ID, max deleted ID, entries-added and
    the groups' entries-read."""
    v2 = stream_payload(stream)
    reader = RDBReader(io.BytesIO(v2), LIMITS)
    for _ in range(reader._length()):
        reader._string()
        reader._string()
    for _ in range(3):  # length, last ID
        reader._length()
    head = v2[:reader.position]
    for _ in range(5):  # first ID, max deleted ID, entries added
        reader._length()
    groups = [encode_length(reader._length())]
    for name, group in stream.groups.items():
        reader._string()
        for _ in range(3):
            reader._length()
        groups.append(raw(name) + encode_length(group.last_id >> 64)
                      + encode_length(group.last_id & ((1 << 64) - 1)))
        start = reader.position
        for _ in range(reader._length()):
            reader._read(24)
            reader._length()
        for _ in range(reader._length()):
            reader._string()
            reader._read(8)
            for _ in range(reader._length()):
                reader._read(16)
        groups.append(v2[start:reader.position])
    assert reader.position == len(v2)
    return head + b"".join(groups)


def test_type_15_gets_redis_defaults():
    stream = sample()
    stream.delete(make_id(3, 0))
    add_group(stream, b"at-last", stream.last_id, 0, {})
    add_group(stream, b"at-first", stream.first_id, 0, {b"c": [make_id(1, 1)]})
    add_group(stream, b"between", make_id(9, 0), 0, {})
    [(_, _, value, _)] = read_all(stream_file(v1_payload(stream), 15))
    assert value.entries_added == len(stream) == 19
    assert (value.first_id, value.max_deleted_id) == (make_id(1, 1), 0)
    assert {name: g.entries_read for name, g in value.groups.items()} == {
        b"at-last": 19, b"at-first": 1, b"between": -1}


def test_type_15_empty_stream_first_id_is_the_maximal_id():
    stream = Stream()
    stream.last_id = make_id(5, 5)
    [(_, _, value, _)] = read_all(stream_file(v1_payload(stream), 15))
    assert (value.first_id, value.entries_added) == (MAX_ID, 0)
