"""HyperLogLog values as Redis 7.0 keeps them: plain strings, byte for byte.

An HLL is a string that starts with a 16-byte header - "HYLL", the encoding (0 dense,
1 sparse), three unused bytes, the cached cardinality as 8 little-endian bytes whose top bit set
means "stale" - followed by 2**14 registers. Dense: 6 bits per register, packed from the low bit
of each byte up (12288 bytes). Sparse: run-length opcodes, ZERO (00xxxxxx, 1-64 zero registers),
XZERO (01xxxxxx xxxxxxxx, 1-16384 zero registers) and VAL (1vvvvvxx, 1-4 registers of value
1-32). Because clients can GET, SET, APPEND and SETRANGE these strings, every operation here
produces exactly the bytes Redis's hyperloglog.c produces, corrupted input included: the sparse
update is not canonical (it splits one opcode and merges VALs only near it), so it is replayed
opcode by opcode.

Speed in pure Python: the sparse form is worked on as a list of opcodes with the first register
of each (`starts`), which an update never shifts (a split or a merge keeps the registers that
later opcodes cover), so the opcode for a register is a bisect away; dense registers are
unpacked all at once with bytes.translate and big-integer ORs, and registers are maximised
lane-wise in one big integer (SWAR). The element hash is Redis's MurmurHash64A, seed 0xadc83b19.

`Hll` is the working copy of one value for the length of a command; commands/hyperloglog.py
turns it back into bytes. `Corrupted` is Redis's INVALIDOBJ.
"""

from __future__ import annotations

import math
import struct
from bisect import bisect_right

MAGIC = b"HYLL"
HEADER = 16
REGISTERS = 1 << 14
_P_MASK = REGISTERS - 1
_Q = 64 - 14
DENSE, SPARSE = 0, 1
DENSE_BYTES = REGISTERS * 6 // 8  # 12288
DENSE_SIZE = HEADER + DENSE_BYTES
_VAL_MAX_VALUE = 32
_VAL_MAX_LEN = 4
_ZERO_MAX_LEN = 64
_ALPHA_INF = 0.721347520444481703680  # 0.5 / ln(2)
_LLONG_MIN = -(1 << 63)

# A new HLL: sparse, one XZERO opcode for all 16384 registers, cached cardinality 0.
EMPTY = MAGIC + bytes((SPARSE, 0, 0, 0)) + bytes(8) + b"\x7f\xff"

_M = 0xC6A4A7935BD1E995
_MASK64 = (1 << 64) - 1
_SEED = 0xADC83B19
_QWORD = struct.Struct("<Q")


class Corrupted(Exception):
    """The value has a valid header but its registers cannot be read (-INVALIDOBJ)."""


def murmur64a(data: bytes, seed: int = _SEED) -> int:
    """MurmurHash64A as Redis computes it (little-endian words on every platform)."""
    n = len(data)
    h = (seed ^ (n * _M)) & _MASK64
    whole = n & ~7
    if whole:
        for (k,) in _QWORD.iter_unpack(memoryview(data)[:whole]):
            k = (k * _M) & _MASK64
            k ^= k >> 47
            h = ((h ^ ((k * _M) & _MASK64)) * _M) & _MASK64
    if n & 7:
        h = ((h ^ int.from_bytes(data[whole:], "little")) * _M) & _MASK64
    h ^= h >> 47
    h = (h * _M) & _MASK64
    return h ^ (h >> 47)


def pattern(element: bytes) -> tuple[int, int]:
    """(register index, length of the 000..1 run) of an element (Redis's hllPatLen)."""
    h = murmur64a(element)
    rest = (h >> 14) | (1 << _Q)
    return h & _P_MASK, (rest & -rest).bit_length()


def is_hll(value: bytes) -> bool:
    """Whether a string passes Redis's isHLLObjectOrReply: long enough, the magic, a known
    encoding, and exactly the dense size when dense. The registers are checked only when read."""
    return (len(value) >= HEADER and value[:4] == MAGIC and value[4] <= SPARSE
            and (value[4] == SPARSE or len(value) == DENSE_SIZE))


def cached_cardinality(value: bytes) -> int | None:
    """The cardinality the header caches, or None when the cache is stale."""
    if value[15] & 0x80:
        return None
    return int.from_bytes(value[8:16], "little")


def with_cardinality(value: bytes, card: int) -> bytes:
    """The value with `card` (an unsigned 64-bit number) cached in its header."""
    return value[:8] + card.to_bytes(8, "little") + value[HEADER:]


# -- the sparse opcodes -----------------------------------------------------------------------
# In `Hll.ops` an opcode is one int: its byte for ZERO (0x00-0x3f) and VAL (0x80-0xff), its two
# bytes big-endian for XZERO (0x4000-0x7fff), so the kinds never overlap.

def _span(op: int) -> int:
    if op < 0x80:
        return (op & 0x3F) + 1
    if op < 0x100:
        return (op & 3) + 1
    return (op & 0x3FFF) + 1


def _val(value: int, length: int) -> int:
    return 0x80 | (value - 1) << 2 | (length - 1)


def _zeros(length: int) -> int:
    """ZERO or XZERO for a run of zero registers, as Redis picks (XZERO above 64)."""
    return (0x4000 | (length - 1)) if length > _ZERO_MAX_LEN else length - 1


def _parse(payload: bytes) -> tuple[list[int], list[int], bool]:
    """The opcodes of a sparse payload, the first register of each, and whether the payload is
    made of whole opcodes (a corrupted one may end in half an XZERO, whose second byte Redis
    reads as the string's terminating NUL)."""
    ops: list[int] = []
    starts: list[int] = []
    first = 0
    p, n = 0, len(payload)
    whole = True
    while p < n:
        b = payload[p]
        if b & 0xC0 == 0x40:
            if p + 1 < n:
                op = b << 8 | payload[p + 1]
            else:
                op, whole = b << 8, False
            p += 2
            span = (op & 0x3FFF) + 1
        else:
            op = b
            p += 1
            span = (b & 0x3F) + 1 if b < 0x80 else (b & 3) + 1
        ops.append(op)
        starts.append(first)
        first += span
    return ops, starts, whole


def _encode(ops: list[int]) -> bytes:
    out = bytearray()
    for op in ops:
        if op < 0x100:
            out.append(op)
        else:
            out.append(op >> 8)
            out.append(op & 0xFF)
    return bytes(out)


def sparse_runs(payload: bytes) -> list[tuple[str, int, int]]:
    """(kind "z" / "Z" / "v", value, registers) of each opcode, for PFDEBUG DECODE."""
    ops, _, _ = _parse(payload)
    return [("z", 0, _span(op)) if op < 0x80 else ("v", (op >> 2 & 0x1F) + 1, _span(op))
            if op < 0x100 else ("Z", 0, _span(op)) for op in ops]


def _sparse_to_raw(payload: bytes) -> bytearray:
    """One byte per register (hllSparseToDense's and hllMerge's walk); Corrupted unless the
    runs cover exactly the 16384 registers. (Redis 7.0.15 as Debian ships it, with the fix for
    CVE-2025-32023: any run past the last register is an error, where the 7.0.15 tag stopped at
    a VAL that overflowed and accepted what came after it.)"""
    ops, _, _ = _parse(payload)
    raw = bytearray(REGISTERS)
    index = 0
    for op in ops:
        span = _span(op)
        if index + span > REGISTERS:
            raise Corrupted
        if 0x80 <= op < 0x100:
            raw[index:index + span] = bytes((((op >> 2) & 0x1F) + 1,)) * span
        index += span
    if index != REGISTERS:
        raise Corrupted
    return raw


# -- dense registers, all at once ---------------------------------------------------------------

def _table(f) -> bytes:  # type: ignore[no-untyped-def]
    return bytes(f(b) & 0xFF for b in range(256))


_LOW6, _HIGH2, _HIGH4, _HIGH6 = (_table(lambda b: b & 63), _table(lambda b: b >> 6),
                                 _table(lambda b: b >> 4), _table(lambda b: b >> 2))
_LOW4_UP2, _LOW2_UP4 = _table(lambda b: (b & 15) << 2), _table(lambda b: (b & 3) << 4)
_LOW2_UP6, _UP2, _UP4 = (_table(lambda b: (b & 3) << 6), _table(lambda b: b << 2),
                         _table(lambda b: b << 4))


def _or(a: bytes | bytearray, b: bytes | bytearray) -> bytes:
    """Bytewise OR of two equal-length strings whose set bits never overlap."""
    return (int.from_bytes(a, "little") | int.from_bytes(b, "little")).to_bytes(len(a), "little")


def dense_to_raw(registers: bytes | bytearray) -> bytearray:
    """The 16384 6-bit registers of a dense payload, one byte each (12 bytes hold 16)."""
    b0, b1, b2 = registers[0:DENSE_BYTES:3], registers[1:DENSE_BYTES:3], registers[2:DENSE_BYTES:3]
    raw = bytearray(REGISTERS)
    raw[0::4] = b0.translate(_LOW6)
    raw[1::4] = _or(b0.translate(_HIGH2), b1.translate(_LOW4_UP2))
    raw[2::4] = _or(b1.translate(_HIGH4), b2.translate(_LOW2_UP4))
    raw[3::4] = b2.translate(_HIGH6)
    return raw


def raw_to_dense(raw: bytes | bytearray) -> bytearray:
    """The dense payload of registers given one byte each (values below 64)."""
    r0, r1, r2, r3 = raw[0::4], raw[1::4], raw[2::4], raw[3::4]
    dense = bytearray(DENSE_BYTES)
    dense[0::3] = _or(r0, r1.translate(_LOW2_UP6))
    dense[1::3] = _or(r1.translate(_HIGH6), r2.translate(_UP4))
    dense[2::3] = _or(r2.translate(_HIGH4), r3.translate(_UP2))
    return dense


_LANE_HIGH = int.from_bytes(b"\x80" * REGISTERS, "little")


def max_registers(a: int, b: int) -> int:
    """Lane-wise maximum of two registers-as-bytes integers (every lane below 128): in each
    byte, (b | 0x80) - a keeps its top bit exactly when b >= a, and never borrows."""
    ge = (((b | _LANE_HIGH) - a) & _LANE_HIGH) >> 7
    mask = ge * 0xFF
    return (b & mask) | (a & ~mask)


def histogram(raw: bytes | bytearray) -> list[int]:
    """How many registers hold each value 0-63."""
    counts = [0] * 64
    left = REGISTERS
    for value in range(64):
        if not left:
            break
        n = raw.count(value)
        counts[value] = n
        left -= n
    return counts


# -- the estimate (hllCount with Ertl's estimator, as Redis 7.0) ---------------------------------

def _sigma(x: float) -> float:
    if x == 1.0:
        return math.inf
    y, z = 1.0, x
    while True:
        x *= x
        previous = z
        z += x * y
        y += y
        if previous == z:
            return z


def _tau(x: float) -> float:
    if x == 0.0 or x == 1.0:
        return 0.0
    y, z = 1.0, 1 - x
    while True:
        x = math.sqrt(x)
        previous = z
        y *= 0.5
        z -= math.pow(1 - x, 2) * y
        if previous == z:
            return z / 3


def count(counts: list[int]) -> int:
    """The cardinality estimate from a register histogram, as the unsigned 64-bit number Redis
    computes (an estimate llroundl cannot represent comes out as x86's 0x8000000000000000)."""
    m = float(REGISTERS)
    z = m * _tau((m - counts[_Q + 1]) / m)
    for j in range(_Q, 0, -1):
        z += counts[j]
        z *= 0.5
    z += m * _sigma(counts[0] / m)
    estimate = _ALPHA_INF * m * m / z if z else math.inf
    if math.isinf(estimate) or math.isnan(estimate):
        rounded = _LLONG_MIN
    else:
        floor = math.floor(estimate)
        rounded = int(floor) + (1 if estimate - floor >= 0.5 else 0)
        if rounded >= 1 << 63:
            rounded = _LLONG_MIN
    return int(float(rounded)) & _MASK64


def signed(card: int) -> int:
    """An unsigned 64-bit count as Redis replies it (a long long)."""
    return card - (1 << 64) if card >= 1 << 63 else card


# -- the working copy -------------------------------------------------------------------------

class Hll:
    """One HLL value being worked on: a mutable header, and either the dense registers
    (`dense`, with one spare byte past the end as the C string's NUL) or the sparse opcodes
    (`ops`, `starts`, `size` in bytes). A corrupted sparse payload that ends in half an opcode
    is kept as bytes (`tail_cut`) and updated byte by byte, as Redis does."""

    __slots__ = ("header", "dense", "ops", "starts", "size", "tail_cut", "payload")

    def __init__(self, value: bytes) -> None:
        self.header = bytearray(value[:HEADER])
        self.dense: bytearray | None = None
        self.ops: list[int] = []
        self.starts: list[int] = []
        self.size = 0
        self.tail_cut = False
        self.payload = bytearray()  # only while tail_cut
        if value[4] == DENSE:
            self.dense = bytearray(value[HEADER:]) + b"\0"
        else:
            self.ops, self.starts, whole = _parse(value[HEADER:])
            self.size = len(value) - HEADER
            if not whole:
                self.tail_cut = True
                self.payload = bytearray(value[HEADER:])

    @property
    def is_sparse(self) -> bool:
        return self.dense is None

    def to_bytes(self) -> bytes:
        if self.dense is not None:
            return bytes(self.header) + self.dense[:DENSE_BYTES]
        if self.tail_cut:
            return bytes(self.header) + self.payload
        return bytes(self.header) + _encode(self.ops)

    def sparse_payload(self) -> bytes:
        return bytes(self.payload) if self.tail_cut else _encode(self.ops)

    def invalidate(self) -> None:
        self.header[15] |= 0x80

    def registers(self) -> bytearray:
        """One byte per register; Corrupted for a sparse payload that does not cover exactly
        the 16384 registers."""
        if self.dense is not None:
            return dense_to_raw(self.dense)
        return _sparse_to_raw(self.sparse_payload())

    def histogram(self) -> list[int]:
        """The registers' histogram (hllCount's); Corrupted for a sparse payload covering
        other than 16384 registers (its runs are all counted first, as Redis does not stop)."""
        if self.dense is not None:
            return histogram(dense_to_raw(self.dense))
        counts = [0] * 64
        ops, starts, _ = _parse(self.sparse_payload()) if self.tail_cut else (
            self.ops, self.starts, True)
        total = 0
        for op in ops:
            span = _span(op)
            counts[(((op >> 2) & 0x1F) + 1) if 0x80 <= op < 0x100 else 0] += span
            total += span
        if total != REGISTERS:
            raise Corrupted
        return counts

    def to_dense(self) -> bool:
        """Convert to dense (hllSparseToDense: the header is kept, encoding changed); False when
        already dense. Corrupted if the sparse payload is invalid."""
        if self.dense is not None:
            return False
        raw = _sparse_to_raw(self.sparse_payload())
        self.dense = raw_to_dense(raw) + b"\0"
        self.header[4] = DENSE
        self.ops, self.starts, self.size, self.tail_cut = [], [], 0, False
        self.payload = bytearray()
        return True

    def merge_into_dense(self, raw: int) -> None:
        """Dense registers := max(registers, raw) (raw as max_registers takes it)."""
        assert self.dense is not None
        mine = int.from_bytes(dense_to_raw(self.dense), "little")
        merged = max_registers(mine, raw).to_bytes(REGISTERS, "little")
        self.dense = raw_to_dense(merged) + b"\0"

    # -- adding ---------------------------------------------------------------------------------

    def add_all(self, elements: list[bytes], max_sparse: int) -> tuple[int, bool]:
        """PFADD's loop: (registers raised, whether it stopped on a corrupted payload). What
        changed before a corruption was found stays changed, as in Redis."""
        updated = 0
        for i, element in enumerate(elements):
            if self.dense is not None:
                return updated + self._dense_add_all(elements[i:]), False
            index, run = pattern(element)
            result = self.set(index, run, max_sparse)
            if result < 0:
                return updated, True
            updated += result
        return updated, False

    def _dense_add_all(self, elements: list[bytes]) -> int:
        regs = self.dense
        assert regs is not None
        updated = 0
        for element in elements:
            index, run = pattern(element)
            updated += _dense_set(regs, index, run)
        return updated

    def set(self, index: int, run: int, max_sparse: int) -> int:
        """Raise register `index` to `run` (hllSparseSet / hllDenseSet): 1 if it changed, 0 if
        not, -1 for a corrupted sparse payload. A sparse HLL turns dense when the value does not
        fit a VAL or the payload would outgrow hll-sparse-max-bytes."""
        if self.dense is not None:
            return _dense_set(self.dense, index, run)
        if run > _VAL_MAX_VALUE:
            return self._promote(index, run)
        if self.tail_cut:
            result = self._sparse_set_bytes(index, run, max_sparse)
        else:
            result = self._sparse_set(index, run, max_sparse)
        if result == 2:
            return self._promote(index, run)
        if result == 1:
            self.invalidate()
        return result

    def _promote(self, index: int, run: int) -> int:
        try:
            self.to_dense()
        except Corrupted:
            return -1
        assert self.dense is not None
        return _dense_set(self.dense, index, run)

    def _sparse_set(self, index: int, run: int, max_sparse: int) -> int:
        """hllSparseSet on whole opcodes; 2 means promote."""
        ops, starts = self.ops, self.starts
        if not ops:
            return -1
        i = bisect_right(starts, index) - 1
        op, first = ops[i], starts[i]
        span = _span(op)
        if index > first + span - 1:
            return -1  # past the registers the payload covers
        is_val = 0x80 <= op < 0x100
        if is_val:
            current = ((op >> 2) & 0x1F) + 1
            if current >= run:
                return 0
        if span == 1 and op < 0x100:  # a lone VAL or ZERO becomes a lone VAL
            ops[i] = _val(run, 1)
        else:
            last = first + span - 1
            seq: list[int] = []
            seq_starts: list[int] = []
            if index != first:
                seq.append(_val(current, index - first) if is_val else _zeros(index - first))
                seq_starts.append(first)
            seq.append(_val(run, 1))
            seq_starts.append(index)
            if index != last:
                seq.append(_val(current, last - index) if is_val else _zeros(last - index))
                seq_starts.append(index + 1)
            delta = sum(1 if s < 0x100 else 2 for s in seq) - (1 if op < 0x100 else 2)
            if delta > 0 and HEADER + self.size + delta > max_sparse:
                return 2
            ops[i:i + 1] = seq
            starts[i:i + 1] = seq_starts
            self.size += delta
        # Merge equal adjacent VALs, looking at up to five opcodes from the one before.
        j = i - 1 if i > 0 else 0
        n = len(ops)
        scans = 5
        while j < n and scans:
            scans -= 1
            op = ops[j]
            if op < 0x80 or op >= 0x100:
                j += 1
                continue
            if j + 1 < n:
                nxt = ops[j + 1]
                if 0x80 <= nxt < 0x100 and (op ^ nxt) & 0x7C == 0:
                    length = (op & 3) + (nxt & 3) + 2
                    if length <= _VAL_MAX_LEN:
                        ops[j] = (op & ~3) | (length - 1)
                        del ops[j + 1]
                        del starts[j + 1]
                        n -= 1
                        self.size -= 1
                        continue
            j += 1
        return 1

    def _sparse_set_bytes(self, index: int, run: int, max_sparse: int) -> int:
        """hllSparseSet on raw bytes, for a payload cut inside its last opcode: a read past the
        end sees the NUL that terminates every Redis string; a write past it is lost."""
        buf = self.payload
        end = len(buf)

        def at(p: int) -> tuple[int, int, int]:  # (first byte, registers, bytes)
            b = buf[p]
            if b & 0xC0 == 0x40:
                return b, ((b & 0x3F) << 8 | (buf[p + 1] if p + 1 < end else 0)) + 1, 2
            return b, ((b & 0x3F) if b < 0x80 else (b & 3)) + 1, 1

        p, first, prev, span, oplen, b = 0, 0, -1, 0, 1, 0
        while p < end:
            b, span, oplen = at(p)
            if index <= first + span - 1:
                break
            prev = p
            p += oplen
            first += span
        if span == 0 or p >= end:
            return -1
        is_val = b & 0x80
        if is_val:
            current = ((b >> 2) & 0x1F) + 1
            if current >= run:
                return 0
        if span == 1 and oplen == 1:
            buf[p] = _val(run, 1)
        else:
            last = first + span - 1
            seq: list[int] = []
            if index != first:
                seq.append(_val(current, index - first) if is_val else _zeros(index - first))
            seq.append(_val(run, 1))
            if index != last:
                seq.append(_val(current, last - index) if is_val else _zeros(last - index))
            encoded = _encode(seq)
            delta = len(encoded) - oplen
            if delta > 0 and HEADER + end + delta > max_sparse:
                return 2
            if p + oplen < end:
                buf[p:p + oplen] = encoded
            else:
                buf[p:] = encoded
                del buf[end + delta:]
            end += delta
        q = prev if prev >= 0 else 0
        scans = 5
        while q < end and scans:
            scans -= 1
            b = buf[q]
            if b & 0xC0 == 0x40:
                q += 2
                continue
            if b & 0xC0 == 0:
                q += 1
                continue
            if q + 1 < end and buf[q + 1] & 0x80 and (b ^ buf[q + 1]) & 0x7C == 0:
                length = (b & 3) + (buf[q + 1] & 3) + 2
                if length <= _VAL_MAX_LEN:
                    buf[q + 1] = (b & ~3) | (length - 1)
                    del buf[q]
                    end -= 1
                    continue
            q += 1
        return 1


def _dense_set(regs: bytearray, index: int, run: int) -> int:
    """Raise a 6-bit register (regs has a spare byte past the last register)."""
    bit = index * 6
    byte, shift = bit >> 3, bit & 7
    b0, b1 = regs[byte], regs[byte + 1]
    if ((b0 >> shift) | (b1 << (8 - shift))) & 63 >= run:
        return 0
    regs[byte] = (b0 & ~(63 << shift) & 0xFF) | ((run << shift) & 0xFF)
    regs[byte + 1] = (b1 & ~(63 >> (8 - shift))) | (run >> (8 - shift))
    return 1
