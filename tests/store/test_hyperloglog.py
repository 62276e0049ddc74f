"""The HyperLogLog representation (store/hyperloglog.py) on its own: the hash and register
indexes Redis computes, the packing of 6-bit registers, and the two sparse update paths (on an
opcode list, and byte by byte for a payload cut inside its last opcode) agreeing byte for byte.
The commands' bytes are compared with redis-server in tests/compat/test_hyperloglog_diff.py."""

from __future__ import annotations

import random

from hypothesis import given, settings
from hypothesis import strategies as st

from valkdb.store import hyperloglog as hll


def test_pattern_matches_redis():
    # PFADD h x0 x1 x2 on redis-server 7.0.15, then PFDEBUG DECODE h:
    # Z:3653 v:2,1 Z:662 v:14,1 Z:8913 v:3,1 Z:3153
    assert hll.pattern(b"x0") == (4316, 14)
    assert hll.pattern(b"x1") == (13230, 3)
    assert hll.pattern(b"x2") == (3653, 2)


def test_murmur_long_inputs_use_whole_words():
    assert hll.murmur64a(b"") != hll.murmur64a(b"\x00")
    data = bytes(range(40))
    assert hll.murmur64a(data) != hll.murmur64a(data[:39])
    assert 0 <= hll.murmur64a(data) < 1 << 64


def test_dense_packing_round_trips():
    rng = random.Random(7)
    raw = bytes(rng.randrange(64) for _ in range(hll.REGISTERS))
    dense = hll.raw_to_dense(raw)
    assert len(dense) == hll.DENSE_BYTES
    assert hll.dense_to_raw(dense) == raw
    one_by_one = bytearray(hll.DENSE_BYTES + 1)
    for index, value in enumerate(raw):
        hll._dense_set(one_by_one, index, value)
    assert one_by_one[:hll.DENSE_BYTES] == dense


def test_max_registers_is_lane_wise():
    rng = random.Random(3)
    a = bytes(rng.randrange(64) for _ in range(hll.REGISTERS))
    b = bytes(rng.randrange(64) for _ in range(hll.REGISTERS))
    merged = hll.max_registers(int.from_bytes(a, "little"), int.from_bytes(b, "little"))
    assert merged.to_bytes(hll.REGISTERS, "little") == bytes(map(max, a, b))


def test_estimates():
    assert hll.count(hll.Hll(hll.EMPTY).histogram()) == 0
    all_63 = hll.raw_to_dense(b"\x3f" * hll.REGISTERS)
    work = hll.Hll(b"HYLL\x00\x00\x00\x00" + bytes(8) + bytes(all_63))
    assert hll.signed(hll.count(work.histogram())) == -(1 << 63)  # as Redis replies


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(0, hll.REGISTERS - 1), st.integers(1, 40)), max_size=300),
       st.sampled_from([0, 40, 200, 3000]))
def test_sparse_paths_agree(sets, max_sparse):
    fast = hll.Hll(hll.EMPTY)
    slow = hll.Hll(hll.EMPTY)
    slow.tail_cut, slow.payload = True, bytearray(slow.sparse_payload())  # the byte path
    for index, run in sets:
        assert fast.set(index, run, max_sparse) == slow.set(index, run, max_sparse)
        assert fast.to_bytes() == slow.to_bytes()
    assert fast.histogram() == slow.histogram()
