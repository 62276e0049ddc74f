"""The RDB format on its own: CRC64, LZF, every encoding hand-built from the format description,
corrupt files, and write_rdb -> RDBReader round trips of random datasets.

Payloads are built here from the formats (listpack.c, ziplist.c, intset.c, zipmap.c, lzf_d.c),
not with valkdb's writer, so a shared misunderstanding cannot pass unnoticed; the files Redis
itself writes and loads are covered by test_rdb_interop.py.
"""

from __future__ import annotations

import io
import math
import struct
from types import SimpleNamespace

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from valkdb.persistence import crc64 as crc64_module
from valkdb.persistence import lzf
from valkdb.persistence.crc64 import CHECK_VALUE, crc64, crc64_python
from valkdb.persistence.rdb import (
    RDB_VERSION,
    RDBError,
    RDBReader,
    check_rdb,
    encode_length,
    encode_string,
    write_rdb,
)
from valkdb.store.types import Hash, List, Set, ZSet

DEFAULT_LIMITS = SimpleNamespace(
    hash_max_listpack_entries=512, hash_max_listpack_value=64, set_max_intset_entries=512,
    zset_max_listpack_entries=128, zset_max_listpack_value=64)


# -- hand-built encodings ---------------------------------------------------------------------

def raw(data: bytes) -> bytes:
    """An RDB string with a 6-bit length."""
    assert len(data) < 64
    return bytes((len(data),)) + data


def rdb_file(body: bytes, version: int = RDB_VERSION, checksum: bool = True) -> bytes:
    data = b"REDIS%04d" % version + body + b"\xff"
    if version >= 5:
        data += struct.pack("<Q", crc64_python(data) if checksum else 0)
    return data


def read_all(data: bytes, limits: SimpleNamespace = DEFAULT_LIMITS) -> list[tuple]:
    return list(RDBReader(io.BytesIO(data), limits).records())


def one_value(body_after_key: bytes, type_byte: int, limits: SimpleNamespace = DEFAULT_LIMITS):
    """The value of a single key "k" of type_byte whose payload is body_after_key."""
    [(db, key, value, deadline)] = read_all(
        rdb_file(b"\xfe\x00" + bytes((type_byte,)) + raw(b"k") + body_after_key), limits)
    assert (db, key, deadline) == (0, b"k", None)
    return value


def listpack_backlen(length: int) -> bytes:
    """lpEncodeBacklen, written out for the sizes these tests use."""
    if length <= 127:
        return bytes((length,))
    if length < 16383:
        return bytes((length >> 7, (length & 127) | 128))
    assert length < 2097151
    return bytes((length >> 14, ((length >> 7) & 127) | 128, (length & 127) | 128))


def listpack_entry(entry: bytes | int) -> bytes:
    if isinstance(entry, int):
        if 0 <= entry <= 127:
            encoded = bytes((entry,))
        elif -4096 <= entry <= 4095:
            bits = entry & 0x1FFF
            encoded = bytes((0xC0 | bits >> 8, bits & 0xFF))
        elif -(1 << 15) <= entry < 1 << 15:
            encoded = b"\xf1" + struct.pack("<h", entry)
        elif -(1 << 23) <= entry < 1 << 23:
            encoded = b"\xf2" + (entry & 0xFFFFFF).to_bytes(3, "little")
        elif -(1 << 31) <= entry < 1 << 31:
            encoded = b"\xf3" + struct.pack("<i", entry)
        else:
            encoded = b"\xf4" + struct.pack("<q", entry)
    elif len(entry) < 64:
        encoded = bytes((0x80 | len(entry),)) + entry
    elif len(entry) < 4096:
        encoded = bytes((0xE0 | len(entry) >> 8, len(entry) & 0xFF)) + entry
    else:
        encoded = b"\xf0" + struct.pack("<I", len(entry)) + entry
    return encoded + listpack_backlen(len(encoded))


def listpack(entries: list) -> bytes:
    body = b"".join(map(listpack_entry, entries))
    return struct.pack("<IH", 6 + len(body) + 1, len(entries)) + body + b"\xff"


def ziplist(entries: list) -> bytes:
    body = b""
    previous = 0
    tail = 10
    for entry in entries:
        header = bytes((previous,)) if previous < 254 else b"\xfe" + struct.pack("<I", previous)
        if isinstance(entry, int):
            if 0 <= entry <= 12:
                encoded = bytes((0xF1 + entry,))
            elif -128 <= entry <= 127:
                encoded = b"\xfe" + struct.pack("<b", entry)
            elif -(1 << 15) <= entry < 1 << 15:
                encoded = b"\xc0" + struct.pack("<h", entry)
            elif -(1 << 23) <= entry < 1 << 23:
                encoded = b"\xf0" + (entry & 0xFFFFFF).to_bytes(3, "little")
            elif -(1 << 31) <= entry < 1 << 31:
                encoded = b"\xd0" + struct.pack("<i", entry)
            else:
                encoded = b"\xe0" + struct.pack("<q", entry)
        elif len(entry) < 64:
            encoded = bytes((len(entry),)) + entry
        elif len(entry) < 16384:
            encoded = struct.pack(">H", 0x4000 | len(entry)) + entry
        else:
            encoded = b"\x80" + struct.pack(">I", len(entry)) + entry
        tail = 10 + len(body)
        body += header + encoded
        previous = len(header + encoded)
    return struct.pack("<IIH", 10 + len(body) + 1, tail, len(entries)) + body + b"\xff"


def intset(values: list[int], width: int) -> bytes:
    code = {2: "h", 4: "i", 8: "q"}[width]
    return struct.pack(f"<II{len(values)}{code}", width, len(values), *sorted(values))


def zipmap(pairs: list[tuple[bytes, bytes]], free: int = 0) -> bytes:
    def length(data: bytes) -> bytes:
        return bytes((len(data),)) if len(data) < 254 else b"\xfe" + struct.pack("<I", len(data))

    out = bytes((min(len(pairs), 254),))
    for key, value in pairs:
        out += length(key) + key + length(value) + bytes((free,)) + value + b"\0" * free
    return out + b"\xff"


def string_blob(blob: bytes) -> bytes:
    """A length-prefixed RDB string of any size."""
    return encode_length(len(blob)) + blob


def plain(value):
    """A valkdb value as plain Python, for comparisons."""
    if isinstance(value, bytes):
        return value
    if isinstance(value, List):
        return [item[item.index(b"\n") + 1:-2] for item in value]
    if isinstance(value, Set):
        return set(value.members)
    if isinstance(value, Hash):
        return dict(value)
    if isinstance(value, ZSet):
        return dict(value)
    raise TypeError(type(value))


def resp(element: bytes) -> bytes:
    return b"$%d\r\n%s\r\n" % (len(element), element)


# -- CRC64 and LZF ----------------------------------------------------------------------------

def test_crc64_check_value():
    assert crc64_python(b"123456789") == CHECK_VALUE == 0xE9C6D914C4B8D9CA
    assert crc64(b"123456789") == CHECK_VALUE
    assert crc64_python(b"") == 0 and crc64_python(b"", 1234) == 1234


def bitwise_crc64(data: bytes, crc: int = 0) -> int:
    """Redis's crc64 one bit at a time (the definition the tables are derived from)."""
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0x95AC9329AC4BC9B5 if crc & 1 else crc >> 1
    return crc


@given(st.binary(max_size=300), st.binary(max_size=300))
def test_crc64_continues_and_matches_the_bitwise_definition(first, second):
    whole = crc64_python(first + second)
    assert whole == bitwise_crc64(first + second)
    assert crc64_python(second, crc64_python(first)) == whole
    assert crc64(second, crc64(first)) == whole


def test_crc64_over_blocks_and_tails():
    data = bytes(range(256)) * 600 + b"tail!"  # > 64 KiB: whole blocks, a partial one, bytes
    expected = bitwise_crc64(data)
    assert crc64_python(data) == expected
    assert crc64_python(memoryview(data)[3:], bitwise_crc64(data[:3])) == expected
    assert crc64(bytearray(data)) == expected


def test_crc64_native_agrees_when_installed():
    native = crc64_module._native()
    if native is None:
        pytest.skip("anycrc is not installed")
    data = bytes(range(256)) * 700 + b"xyz"
    assert native(data, 0) == crc64_python(data)
    assert native(data[5:], crc64_python(data[:5])) == crc64_python(data)


def test_lzf_literals_and_back_references():
    # "hello world, " literally, then 11 bytes from 13 back (length code 7 + extra byte 2)
    assert lzf.decompress(b"\x0chello world, \xe0\x02\x0c", 24) == b"hello world, hello world"
    # "abc" then 18 bytes from 3 back, overlapping what it produces, then "X"
    assert lzf.decompress(b"\x02abc\xe0\x09\x02\x00X", 22) == b"abc" * 7 + b"X"
    # a short reference (length 3 in the control byte) and a distance over 256
    prefix = bytes(range(256)) + b"QRST"
    data = b"\x1f" + prefix[:32]
    for start in range(32, len(prefix), 32):
        chunk = prefix[start:start + 32]
        data += bytes((len(chunk) - 1,)) + chunk
    distance = len(prefix)  # back to the very first byte
    data += bytes((1 << 5 | (distance - 1) >> 8, (distance - 1) & 0xFF))
    assert lzf.decompress(data, len(prefix) + 3) == prefix + prefix[:3]


@pytest.mark.parametrize("data,length", [
    (b"\x05abc", 6),  # literal run past the end
    (b"\x00a\x20\x05", 3),  # reference before the start
    (b"\x00a\x20", 3),  # reference cut short
    (b"\x00a\xe0", 9),  # long reference cut short
    (b"\x02abc", 4),  # expands to the wrong length
])
def test_lzf_corrupt(data, length):
    with pytest.raises(lzf.LZFError):
        lzf.decompress(data, length)


# -- lengths and strings ----------------------------------------------------------------------

@pytest.mark.parametrize("n,encoded", [
    (0, b"\x00"), (63, b"\x3f"), (64, b"\x40\x40"), (16383, b"\x7f\xff"),
    (16384, b"\x80\x00\x00\x40\x00"), (0xFFFFFFFF, b"\x80\xff\xff\xff\xff"),
    (1 << 32, b"\x81\x00\x00\x00\x01\x00\x00\x00\x00"),
])
def test_length_encoding(n, encoded):
    assert encode_length(n) == encoded


@pytest.mark.parametrize("data,encoded", [
    (b"0", b"\xc0\x00"), (b"-1", b"\xc0\xff"), (b"127", b"\xc0\x7f"), (b"-128", b"\xc0\x80"),
    (b"128", b"\xc1\x80\x00"), (b"-32768", b"\xc1\x00\x80"), (b"32768", b"\xc2\x00\x80\x00\x00"),
    (b"2147483647", b"\xc2\xff\xff\xff\x7f"), (b"-2147483648", b"\xc2\x00\x00\x00\x80"),
    # not canonical or too big for INT32: raw, as rdbTryIntegerEncoding leaves them
    (b"2147483648", b"\x0a2147483648"), (b"007", b"\x03007"), (b"-0", b"\x02-0"),
    (b"+5", b"\x02+5"), (b"", b"\x00"), (b" 1", b"\x02 1"), (b"1.5", b"\x031.5"),
    (b"12345678901", b"\x0b12345678901"),
])
def test_string_encoding(data, encoded):
    assert encode_string(data) == encoded


@pytest.mark.parametrize("encoded,expected", [
    (b"\x05hello", b"hello"),
    (b"\x40\x05hello", b"hello"),  # 14-bit length
    (b"\x80\x00\x00\x00\x05hello", b"hello"),  # 32-bit length
    (b"\x81" + (5).to_bytes(8, "big") + b"hello", b"hello"),  # 64-bit length
    (b"\x41\x00" + b"x" * 256, b"x" * 256),
    (b"\xc0\x85", b"-123"), (b"\xc1\x39\x30", b"12345"), (b"\xc1\xc7\xcf", b"-12345"),
    (b"\xc2\x15\xcd\x5b\x07", b"123456789"), (b"\xc2\xeb\x32\xa4\xf8", b"-123456789"),
    # LZF: 17 compressed bytes expanding to 24, as in test_lzf_literals_and_back_references
    (b"\xc3\x11\x18\x0chello world, \xe0\x02\x0c", b"hello world, hello world"),
])
def test_string_decoding(encoded, expected):
    assert one_value(encoded, 0) == expected
    assert one_value(b"\x01" + encoded, 1) == List([resp(expected)])  # as a list element


def test_string_encodings_round_trip_through_the_reader():
    values = [b"", b"0", b"-0", b"1" * 11, b"x" * 63, b"x" * 64, b"y" * 16383, b"z" * 16384,
              b"-2147483648", b"4294967296"]
    body = b"\xfe\x00" + b"".join(b"\x00" + encode_string(b"k%d" % i) + encode_string(value)
                                  for i, value in enumerate(values))
    assert [value for _, _, value, _ in read_all(rdb_file(body))] == values


# -- every object encoding, hand-built --------------------------------------------------------

def test_plain_types():
    assert one_value(b"\x03" + raw(b"a") + raw(b"b") + b"\xc0\x07", 1) == List(
        [resp(b"a"), resp(b"b"), resp(b"7")])
    value = one_value(b"\x02" + raw(b"x") + raw(b"y"), 2)
    assert plain(value) == {b"x", b"y"} and not value.intset
    value = one_value(b"\x02" + b"\xc0\x05" + raw(b"-3"), 2)
    assert plain(value) == {b"5", b"-3"} and value.intset
    value = one_value(b"\x02" + raw(b"f") + raw(b"v") + raw(b"g") + b"\xc0\x01", 4)
    assert plain(value) == {b"f": b"v", b"g": b"1"} and not value.hashtable
    value = one_value(b"\x02" + raw(b"m") + struct.pack("<d", 1.5) + raw(b"n")
                      + struct.pack("<d", -math.inf), 5)
    assert plain(value) == {b"m": 1.5, b"n": -math.inf} and value.listpack
    assert list(value.ordered) == [(-math.inf, b"n"), (1.5, b"m")]


def test_zset_v1_string_doubles():
    value = one_value(b"\x04" + raw(b"a") + b"\x031.5" + raw(b"b") + b"\xfe" + raw(b"c")
                      + b"\xff" + raw(b"d") + b"\x06-1e-05", 3)
    assert plain(value) == {b"a": 1.5, b"b": math.inf, b"c": -math.inf, b"d": -1e-05}
    with pytest.raises(RDBError, match="Zset with NAN score detected"):
        one_value(b"\x01" + raw(b"a") + b"\xfd", 3)


LISTPACK_ENTRIES = [b"", b"a", b"x" * 63, b"y" * 64, b"z" * 4095, b"w" * 4096, b"v" * 20000,
                    0, 127, 128, -1, 4095, -4096, 4096, -32768, 32767, 32768, -(1 << 23),
                    (1 << 23) - 1, 1 << 23, -(1 << 31), (1 << 31) - 1, 1 << 31, -(1 << 63),
                    (1 << 63) - 1]


def as_bytes(entry: bytes | int) -> bytes:
    return b"%d" % entry if isinstance(entry, int) else entry


def test_listpack_entries_in_a_quicklist_v2():
    packed = listpack(LISTPACK_ENTRIES)
    plain_node = b"p" * 100
    body = (b"\x03" + b"\x02" + string_blob(packed) + b"\x01" + string_blob(plain_node)
            + b"\x02" + string_blob(listpack([b"last"])))
    value = one_value(body, 18)
    assert plain(value) == [as_bytes(e) for e in LISTPACK_ENTRIES] + [plain_node, b"last"]
    with pytest.raises(RDBError, match="Quicklist integrity check failed."):
        one_value(b"\x01\x03" + string_blob(packed), 18)


ZIPLIST_ENTRIES = [b"", b"a", b"x" * 63, b"y" * 64, b"z" * 16383, b"w" * 16384, 0, 12, 13, -1,
                   127, -128, 128, 32767, -32768, 32768, (1 << 23) - 1, -(1 << 23), 1 << 23,
                   (1 << 31) - 1, -(1 << 31), 1 << 31, (1 << 63) - 1, -(1 << 63)]


def test_ziplist_entries_in_a_list_and_a_quicklist_v1():
    expected = [as_bytes(e) for e in ZIPLIST_ENTRIES]
    assert plain(one_value(string_blob(ziplist(ZIPLIST_ENTRIES)), 10)) == expected
    body = b"\x02" + string_blob(ziplist(ZIPLIST_ENTRIES)) + string_blob(ziplist([b"end", 3]))
    assert plain(one_value(body, 14)) == expected + [b"end", b"3"]


def test_intsets():
    for width, values in ((2, [-32768, 0, 5, 32767]), (4, [-(1 << 31), 1 << 20]),
                          (8, [-(1 << 63), (1 << 63) - 1, 7])):
        value = one_value(string_blob(intset(values, width)), 11)
        assert plain(value) == {b"%d" % v for v in values} and value.intset
    with pytest.raises(RDBError, match="Intset integrity check failed."):
        one_value(string_blob(intset([1, 2], 2)[:-1]), 11)
    with pytest.raises(RDBError, match="Intset integrity check failed."):
        one_value(string_blob(intset([1, 1], 2)), 11)


def test_zipmaps():
    pairs = [(b"f", b"v"), (b"", b"empty key"), (b"k" * 300, b"long key"), (b"n", b"x" * 260)]
    for free in (0, 3):
        value = one_value(string_blob(zipmap(pairs, free)), 9)
        assert plain(value) == dict(pairs)
        assert value.hashtable  # a value longer than hash-max-listpack-value
    value = one_value(string_blob(zipmap([(b"a", b"1"), (b"b", b"2")])), 9)
    assert plain(value) == {b"a": b"1", b"b": b"2"} and not value.hashtable
    with pytest.raises(RDBError, match="Zipmap integrity check failed."):
        one_value(string_blob(zipmap(pairs)[:-1]), 9)


def test_compact_hashes_and_zsets():
    value = one_value(string_blob(ziplist([b"f", b"v", b"n", 12])), 13)
    assert plain(value) == {b"f": b"v", b"n": b"12"} and not value.hashtable
    value = one_value(string_blob(listpack([b"f", b"v", b"n", -5])), 16)
    assert plain(value) == {b"f": b"v", b"n": b"-5"} and not value.hashtable
    value = one_value(string_blob(ziplist([b"m", b"1.5", b"n", 3, b"i", b"-inf"])), 12)
    assert plain(value) == {b"m": 1.5, b"n": 3.0, b"i": -math.inf} and value.listpack
    value = one_value(string_blob(listpack([b"m", b"2.5", b"n", -3])), 17)
    assert plain(value) == {b"m": 2.5, b"n": -3.0} and value.listpack
    assert [member for _, member in value.ordered] == [b"n", b"m"]


@pytest.mark.parametrize("type_byte,payload,message", [
    (13, ziplist([b"f", b"v", b"f", b"w"]), "Hash ziplist integrity check failed."),
    (13, ziplist([b"f"]), "Hash ziplist integrity check failed."),
    (16, listpack([b"f", b"v", b"f", b"w"]), "Hash listpack integrity check failed."),
    (12, ziplist([b"m", b"x"]), "Zset ziplist integrity check failed."),
    (17, listpack([b"m", b"1", b"m", b"2"]), "Duplicate zset fields detected"),
    (17, listpack([b"m", b"1", b"n"]), "Zset listpack integrity check failed."),
    (10, ziplist([b"a"])[:-1] + b"\x00", "List ziplist integrity check failed."),
    (16, listpack([b"a", b"b"])[:-3] + b"\xff", "Hash listpack integrity check failed."),
])
def test_corrupt_compact_encodings(type_byte, payload, message):
    with pytest.raises(RDBError, match=message):
        one_value(string_blob(payload), type_byte)


@pytest.mark.parametrize("type_byte,body,message", [
    (2, b"\x02" + raw(b"a") + raw(b"a"), "Duplicate set members detected"),
    (4, b"\x02" + raw(b"f") + raw(b"1") + raw(b"f") + raw(b"2"), "Duplicate hash fields detected"),
    (5, b"\x02" + raw(b"m") + struct.pack("<d", 1) + raw(b"m") + struct.pack("<d", 2),
     "Duplicate zset fields detected"),
    (5, b"\x01" + raw(b"m") + struct.pack("<d", math.nan), "Zset with NAN score detected"),
])
def test_duplicates_and_nan(type_byte, body, message):
    with pytest.raises(RDBError, match=message):
        one_value(body, type_byte)


# -- encodings chosen on load (checked against redis-server 7.0 in test_rdb_interop.py) --------

def limits(**changes) -> SimpleNamespace:
    return SimpleNamespace(**{**vars(DEFAULT_LIMITS), **changes})


def test_encoding_flags_follow_redis_conversions_on_load():
    small = limits(hash_max_listpack_entries=2, hash_max_listpack_value=3,
                   set_max_intset_entries=2, zset_max_listpack_entries=2,
                   zset_max_listpack_value=3)
    three_fields = b"\x03" + raw(b"a") + raw(b"1") + raw(b"b") + raw(b"2") + raw(b"c") + raw(b"3")
    assert one_value(three_fields, 4, small).hashtable
    assert one_value(b"\x01" + raw(b"a") + raw(b"long"), 4, small).hashtable
    assert not one_value(b"\x01" + raw(b"a") + raw(b"abc"), 4, small).hashtable
    # listpack / ziplist hashes convert for their number of fields only; zipmaps for both
    assert not one_value(string_blob(listpack([b"a", b"long"])), 16, small).hashtable
    assert not one_value(string_blob(ziplist([b"a", b"long"])), 13, small).hashtable
    assert one_value(string_blob(listpack([b"a", 1, b"b", 2, b"c", 3])), 16, small).hashtable
    assert one_value(string_blob(zipmap([(b"a", b"long")])), 9, small).hashtable

    assert not one_value(b"\x03\xc0\x01\xc0\x02\xc0\x03", 2, small).intset
    assert not one_value(b"\x02\xc0\x01" + raw(b"x"), 2, small).intset
    assert one_value(b"\x02\xc0\x01\xc0\x02", 2, small).intset
    assert not one_value(string_blob(intset([1, 2, 3], 2)), 11, small).intset

    def zset_v2(*members: bytes) -> bytes:
        return bytes((len(members),)) + b"".join(raw(m) + struct.pack("<d", 1) for m in members)

    assert not one_value(zset_v2(b"a", b"b", b"c"), 5, small).listpack
    assert not one_value(zset_v2(b"long"), 5, small).listpack
    assert one_value(zset_v2(b"a", b"b"), 5, small).listpack
    assert one_value(string_blob(listpack([b"long", 1])), 17, small).listpack
    assert not one_value(string_blob(ziplist([b"a", 1, b"b", 2, b"c", 3])), 12, small).listpack


def test_negative_zero_scores():
    body = b"\x01" + raw(b"m") + struct.pack("<d", -0.0)
    skiplist = one_value(body, 5, limits(zset_max_listpack_entries=0))
    assert math.copysign(1, skiplist[b"m"]) == -1  # a skiplist keeps the sign
    listpacked = one_value(body, 5)
    assert math.copysign(1, listpacked[b"m"]) == 1  # a listpack stores the integer 0


# -- file structure ---------------------------------------------------------------------------

def test_opcodes_aux_databases_and_deadlines():
    body = (b"\xfa" + raw(b"redis-ver") + raw(b"7.0.15") + b"\xfa" + raw(b"x-unknown") + b"\xc0\x01"
            + b"\xfe\x00\xfb\x02\x01"
            + b"\xfc" + struct.pack("<q", 1700000000123) + b"\x00" + raw(b"a") + raw(b"1")
            + b"\xf8\x05" + b"\xf9\x07" + b"\x00" + raw(b"b") + raw(b"2")
            + b"\xfe\x40\x0f"  # database 15 (with a 14-bit length)
            + b"\xfd" + struct.pack("<i", 1700000000) + b"\xf9\x01\x00" + raw(b"c") + raw(b"3")
            + b"\xfc" + struct.pack("<q", 5) + b"\x00" + raw(b"old") + raw(b"expired"))
    reader = RDBReader(io.BytesIO(rdb_file(body)), DEFAULT_LIMITS)
    assert list(reader.records()) == [
        (0, b"a", b"1", 1700000000123), (0, b"b", b"2", None),
        (15, b"c", b"3", 1700000000000), (15, b"old", b"expired", 5)]
    assert reader.aux == {b"redis-ver": b"7.0.15", b"x-unknown": b"1"}
    assert reader.version == RDB_VERSION and not reader.checksum_disabled
    assert reader.position == len(rdb_file(body))


def test_input_is_left_just_past_the_rdb():
    """An AOF with an RDB preamble goes on with commands after the checksum."""
    tail = b"*1\r\n$4\r\nPING\r\n" * 100_000  # more than the reader reads ahead
    inp = io.BytesIO(SAMPLE + tail)
    reader = RDBReader(inp, DEFAULT_LIMITS)
    assert len(list(reader.records())) == 9
    assert reader.position == len(SAMPLE) == inp.tell()
    assert inp.read() == tail


def test_old_versions_without_checksum_and_zero_checksum():
    body = b"\xfe\x00\x00" + raw(b"k") + raw(b"v")
    assert read_all(rdb_file(body, version=3)) == [(0, b"k", b"v", None)]
    reader = RDBReader(io.BytesIO(rdb_file(body, checksum=False)), DEFAULT_LIMITS)
    assert list(reader.records()) == [(0, b"k", b"v", None)]
    assert reader.checksum_disabled


def test_empty_collections_are_skipped():
    body = (b"\xfe\x00" + b"\x02" + raw(b"empty-set") + b"\x00"
            + b"\x10" + raw(b"empty-hash") + string_blob(listpack([]))
            + b"\x12" + raw(b"empty-list") + b"\x00" + b"\x00" + raw(b"k") + raw(b"v"))
    reader = RDBReader(io.BytesIO(rdb_file(body)), DEFAULT_LIMITS)
    assert list(reader.records()) == [(0, b"k", b"v", None)]
    assert reader.empty_keys == [b"empty-set", b"empty-hash", b"empty-list"]


@pytest.mark.parametrize("data,message", [
    (b"", "Short read or OOM loading DB. Unrecoverable error, aborting now."),
    (b"XEDIS0010\xff" + b"\0" * 8, "Wrong signature trying to load DB from file"),
    (b"REDIS0011\xff" + b"\0" * 8, "Can't handle RDB format version 11"),
    (b"REDIS0000\xff" + b"\0" * 8, "Can't handle RDB format version 0"),
    (b"REDISxxxx\xff" + b"\0" * 8, "Can't handle RDB format version 0"),
    (rdb_file(b"\xfe\x00\x00" + raw(b"k") + raw(b"v"))[:-1],
     "Short read or OOM loading DB. Unrecoverable error, aborting now."),
    (rdb_file(b"\xfe\x00\x00" + raw(b"k") + raw(b"v"))[:-8] + b"foobar00",
     r"Wrong RDB checksum expected: \([0-9a-f]+\) but got \(30307261626f6f66\). Aborting now."),
    (rdb_file(b"\x08" + raw(b"k") + raw(b"v")), "Unknown RDB encoding type 8"),
    (rdb_file(b"\x14" + raw(b"k") + raw(b"v")), "Unknown RDB encoding type 20"),
    (rdb_file(b"\x00" + raw(b"k") + b"\xc4"), "Unknown RDB string encoding type 4"),
    (rdb_file(b"\x01" + raw(b"k") + b"\xbf"), "Unknown length encoding 191 in rdbLoadLen()"),
    (rdb_file(b"\x00" + raw(b"k") + b"\xc3\x02\x05\x00a"), "Invalid LZF compressed string"),
    (rdb_file(b"\x0f" + raw(b"s") + b"\x01" + raw(b"short")),
     "Stream node key entry is not the size of a stream ID"),
    (rdb_file(b"\x13" + raw(b"s") + b"\x01" + raw(bytes(16)) + string_blob(listpack([]))),
     "Empty listpack inside stream"),
    (rdb_file(b"\x07" + raw(b"m") + b"\x81" + (0x51_5C_E9_1D_76_D6_E1_00).to_bytes(8, "big")),
     "no matching module type '"),
    (rdb_file(b"\xf7\x00"), "AUX module data I can't load"),
    (rdb_file(b"\xf5\xc4"), "Failed loading library, Failed loading library payload"),
    (rdb_file(b"\xf6" + raw(b"x")), "Failed loading library, Failed loading engine name"),
])
def test_corrupt_or_unsupported_files(data, message):
    with pytest.raises(RDBError, match=message):
        read_all(data)


def test_module_type_names_are_decoded():
    # moduleTypeEncodeId("mymodtype", 2): 9 characters of 6 bits, then a 10-bit version
    charset = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    module_id = 0
    for char in "mymodtype":
        module_id = module_id << 6 | charset.index(char)
    module_id = module_id << 10 | 2
    body = b"\x07" + raw(b"m") + b"\x81" + module_id.to_bytes(8, "big")
    with pytest.raises(RDBError, match="no matching module type 'mymodtype'"):
        read_all(rdb_file(body))


SAMPLE_BODY = (b"\xfa" + raw(b"redis-ver") + raw(b"7.0.15") + b"\xfe\x00\xfb\x09\x01"
               + b"\xfc" + struct.pack("<q", 1 << 50) + b"\x00" + raw(b"s") + raw(b"v")
               + b"\x00" + raw(b"n") + b"\xc1\x39\x30"
               + b"\x01" + raw(b"l") + b"\x02" + raw(b"a") + raw(b"b")
               + b"\x12" + raw(b"q") + b"\x01\x02" + string_blob(listpack([b"x", 5]))
               + b"\x0b" + raw(b"i") + string_blob(intset([1, 2], 2))
               + b"\x10" + raw(b"h") + string_blob(listpack([b"f", b"v"]))
               + b"\x11" + raw(b"z") + string_blob(listpack([b"m", b"1.5"]))
               + b"\x05" + raw(b"y") + b"\x01" + raw(b"m") + struct.pack("<d", 2)
               + b"\x00" + raw(b"c") + b"\xc3\x11\x18\x0chello world, \xe0\x02\x0c")
SAMPLE = rdb_file(SAMPLE_BODY)


def test_sample_loads():
    assert [key for _, key, _, _ in read_all(SAMPLE)] == [
        b"s", b"n", b"l", b"q", b"i", b"h", b"z", b"y", b"c"]


@given(st.integers(0, len(SAMPLE) - 1))
def test_every_truncation_is_a_short_read(cut):
    with pytest.raises(RDBError, match="Short read"):
        read_all(SAMPLE[:cut])


@settings(max_examples=300)
@given(st.integers(0, len(SAMPLE) - 1), st.integers(0, 255))
def test_any_changed_byte_is_an_rdb_error(position, byte):
    assume(SAMPLE[position] != byte)
    data = SAMPLE[:position] + bytes((byte,)) + SAMPLE[position + 1:]
    try:
        reader = RDBReader(io.BytesIO(data), DEFAULT_LIMITS)
        list(reader.records())
    except RDBError:
        return
    assert reader.version < 5 or reader.checksum_disabled  # nothing left to catch it


# -- write_rdb -> RDBReader round trips -------------------------------------------------------

BLOBS = st.one_of(
    st.binary(max_size=40),
    st.integers(-(1 << 40), 1 << 40).map(lambda n: b"%d" % n),
    st.sampled_from([b"", b"0", b"-0", b"007", b"+1", b"1" * 65]),
)
LARGE_BLOBS = st.sampled_from([b"x" * 70000, bytes(range(256)) * 300])  # over 64 KiB
SCORES = st.one_of(st.floats(allow_nan=False), st.sampled_from([-0.0, 0.0, math.inf, -math.inf]))


def is_integer(member: bytes) -> bool:
    """Whether an intset can hold member: canonical decimal within 64 bits."""
    try:
        return b"%d" % int(member) == member and -(1 << 63) <= int(member) < 1 << 63
    except ValueError:
        return False


@st.composite
def values(draw):
    kind = draw(st.sampled_from(["string", "list", "set", "hash", "zset"]))
    if kind == "string":
        return draw(BLOBS | LARGE_BLOBS)
    if kind == "list":
        elements = draw(st.lists(BLOBS, min_size=1, max_size=20))
        if draw(st.booleans()):
            elements.append(draw(LARGE_BLOBS))
        return List(map(resp, elements))
    if kind == "set":
        members = draw(st.lists(BLOBS, min_size=1, max_size=20, unique=True))
        value = Set(True)
        for member in members:
            value.add(member, 512)
        return value
    if kind == "hash":
        value = Hash()
        value.update(draw(st.dictionaries(BLOBS, BLOBS, min_size=1, max_size=20)))
        return value
    value = ZSet(False)
    for member, score in draw(st.dictionaries(BLOBS, SCORES, min_size=1, max_size=20)).items():
        value.insert(member, score, (128, 64))
    return value


DATASETS = st.dictionaries(
    st.integers(0, 15),
    st.dictionaries(BLOBS, st.tuples(values(), st.none() | st.integers(0, 1 << 62)),
                    min_size=0, max_size=8),
    max_size=4)
LIMITS = st.builds(SimpleNamespace, hash_max_listpack_entries=st.integers(0, 30),
                   hash_max_listpack_value=st.integers(0, 80),
                   set_max_intset_entries=st.integers(0, 30),
                   zset_max_listpack_entries=st.integers(0, 30),
                   zset_max_listpack_value=st.integers(0, 80))


def write(dataset: dict) -> bytes:
    out = io.BytesIO()
    databases = [(db, len(keys), sum(d is not None for _, d in keys.values()),
                  [(key, value, deadline) for key, (value, deadline) in keys.items()])
                 for db, keys in sorted(dataset.items())]
    write_rdb(out, databases, ctime=1700000000)
    return out.getvalue()


def score_bits(score: float) -> bytes:
    return struct.pack("<d", score)


@settings(max_examples=100, deadline=None)
@given(DATASETS, LIMITS)
def test_round_trip(dataset, limits):
    data = write(dataset)
    reader = RDBReader(io.BytesIO(data), limits)
    loaded = {}
    for db, key, value, deadline in reader.records():
        loaded.setdefault(db, {})[key] = (value, deadline)
    assert reader.aux[b"redis-ver"] == b"7.0.15" and reader.aux[b"ctime"] == b"1700000000"
    assert reader.position == len(data)
    assert {db: keys for db, keys in dataset.items() if keys}.keys() == loaded.keys()
    for db, keys in loaded.items():
        assert keys.keys() == dataset[db].keys()
        for key, (value, deadline) in keys.items():
            original, original_deadline = dataset[db][key]
            assert deadline == original_deadline
            assert type(value) is type(original) and plain(value) == plain(original)
            if isinstance(value, Set):
                assert value.intset == (len(value) <= limits.set_max_intset_entries
                                        and all(map(is_integer, value)))
            elif isinstance(value, Hash):
                assert value.hashtable == (
                    len(value) > limits.hash_max_listpack_entries
                    or max(map(len, [*value, *value.values()])) > limits.hash_max_listpack_value)
            elif isinstance(value, ZSet):
                assert value.listpack == (
                    len(value) <= limits.zset_max_listpack_entries
                    and max(map(len, value)) <= limits.zset_max_listpack_value)
                # A skiplist keeps scores bit for bit; a listpack turns -0 into 0, as Redis.
                assert {m: score_bits(s) for m, s in value.items()} == {
                    m: score_bits(s + 0.0 if value.listpack else s) for m, s in original.items()}
                assert list(value.ordered) == sorted((s, m) for m, s in value.items())


def test_empty_databases_are_left_out():
    data = write({0: {}, 3: {b"k": (b"v", None)}})
    assert b"\xfe\x00" not in data[:data.index(b"\xfe\x03")]
    assert read_all(data) == [(3, b"k", b"v", None)]


def test_written_layout():
    out = io.BytesIO()
    write_rdb(out, [(0, 2, 1, [(b"k", b"v", 1700000000123), (b"n", b"12", None)])],
              ctime=1700000000)
    data = out.getvalue()
    assert data.startswith(b"REDIS0010\xfa\x09redis-ver\x067.0.15\xfa\x0aredis-bits\xc0\x40"
                           b"\xfa\x05ctime\xc2" + struct.pack("<i", 1700000000)
                           + b"\xfa\x08used-mem\xc0\x00\xfa\x08aof-base\xc0\x00")
    assert data.endswith(b"\xfe\x00\xfb\x02\x01\xfc" + struct.pack("<q", 1700000000123)
                         + b"\x00\x01k\x01v\x00\x01n\xc0\x0c\xff"
                         + struct.pack("<Q", crc64_python(data[:-8])))


# -- check_rdb on its own (its output is compared with redis-check-rdb in the interop tests) --

def test_check_rdb_reports(tmp_path):
    path = tmp_path / "dump.rdb"
    path.write_bytes(SAMPLE)
    ok, lines = check_rdb(str(path))
    assert ok
    assert lines[0] == f"[offset 0] Checking RDB file {path}"
    assert lines[1] == "[offset 27] AUX FIELD redis-ver = '7.0.15'"
    assert lines[2] == "[offset 29] Selecting DB ID 0"
    assert lines[-5:] == [f"[offset {len(SAMPLE)}] Checksum OK",
                          f"[offset {len(SAMPLE)}] \\o/ RDB looks OK! \\o/",
                          "[info] 9 keys read", "[info] 1 expires", "[info] 0 already expired"]

    path.write_bytes(SAMPLE[:-8] + b"foobar00")
    ok, lines = check_rdb(str(path))
    assert not ok
    assert lines[-6:] == ["--- RDB ERROR DETECTED ---", f"[offset {len(SAMPLE)}] RDB CRC error",
                          "[additional info] While doing: check-sum", "[info] 9 keys read",
                          "[info] 1 expires", "[info] 0 already expired"]

    ok, lines = check_rdb(str(tmp_path / "missing.rdb"))
    assert not ok and "missing.rdb" in lines[0]
