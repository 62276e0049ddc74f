"""RDB snapshots in Redis 7.0's format (src/rdb.c): files that move between valkdb and Redis.

Writing (`write_rdb`) uses the simplest encodings Redis 7.0 loads, each verified against
redis-server 7.0.15: strings as type 0 (integer-encoded when the bytes are a canonical integer
that fits in 32 bits, as rdbTryIntegerEncoding; no LZF), lists as type 1, sets 2, hashes 4,
sorted sets 5 (8-byte doubles). Redis converts them to its compact encodings on load. Streams
have one encoding, written as Redis 7.0 writes it: type 19, listpack nodes (rdb_stream.py).

Reading (`RDBReader`) accepts every encoding Redis writes or has written since RDB version 1:
plain, ziplist, zipmap, intset, listpack, quicklist v1 and v2 (PLAIN nodes too), int-encoded and
LZF-compressed strings, string and binary doubles, streams (types 15 and 19). It sets valkdb's
encoding flags the way 7.0 converts on load (rdbLoadObject): a plain hash, set or sorted set
takes the compact encoding when it fits the limits; a compact one turns into a hashtable /
skiplist only when it has too many entries (zipmaps also when a value is too long).

Both sides are built for a million keys: output is joined into ~64 KiB chunks, input is read in
1 MiB chunks with the short-string case decoded inline, and the CRC64 is computed chunk by
chunk. `check_rdb` reproduces what redis-check-rdb prints.
"""

from __future__ import annotations

import io
import itertools
import re
import struct
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any, BinaryIO

from valkdb import REDIS_VERSION
from valkdb.persistence import lzf
from valkdb.persistence.crc64 import crc64
from valkdb.persistence.rdb_stream import (
    TYPE_STREAM_LISTPACKS,
    TYPE_STREAM_LISTPACKS_2,
    load_stream,
    stream_payload,
)
from valkdb.persistence.rdbcodec import RDBError, encode_length, encode_string, listpack_entries
from valkdb.store.stream import Stream
from valkdb.store.types import Hash, List, Set, ZSet

RDB_VERSION = 10

# Opcodes (src/rdb.h): byte values above every object type.
_OP_FUNCTION2 = 0xF5
_OP_FUNCTION_PRE_GA = 0xF6
_OP_MODULE_AUX = 0xF7
_OP_IDLE = 0xF8
_OP_FREQ = 0xF9
_OP_AUX = 0xFA
_OP_RESIZEDB = 0xFB
_OP_EXPIRETIME_MS = 0xFC
_OP_EXPIRETIME = 0xFD
_OP_SELECTDB = 0xFE
_OP_EOF = 0xFF

# Object types, indexed as redis-check-rdb names them (8 is unused).
_TYPE_NAMES = (
    "string", "list-linked", "set-hashtable", "zset-v1", "hash-hashtable", "zset-v2",
    "module-pre-release", "module-value", "", "hash-zipmap", "list-ziplist", "set-intset",
    "zset-ziplist", "hash-ziplist", "quicklist", "stream", "hash-listpack", "zset-listpack",
    "quicklist-v2", "stream-v2",
)
_TYPE_LIST = 1
_TYPE_SET = 2
_TYPE_HASH = 4
_TYPE_ZSET_2 = 5

_SHORT_READ = "Short read or OOM loading DB. Unrecoverable error, aborting now."
_READ_CHUNK = 1 << 20
_WRITE_CHUNK = 1 << 16
_MODULE_NAME_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
_UNSUPPORTED_TYPES = (6, 7)  # modules
_QUICKLIST_PLAIN = 1
_QUICKLIST_PACKED = 2
# A compact encoding read from the file keeps its entries as they are: the conversion is
# decided before they go in, so ZSet.insert must never convert on its own.
_NO_CONVERSION = (sys.maxsize, sys.maxsize)

_INT8 = struct.Struct("<b")
_INT16 = struct.Struct("<h")
_INT32 = struct.Struct("<i")
_INT64 = struct.Struct("<q")
_UINT32 = struct.Struct("<I")
_DOUBLE = struct.Struct("<d")
_EXPIRE_MS = struct.Struct("<Bq")
_CHECKSUM = struct.Struct("<Q")


# -- writing ------------------------------------------------------------------------------------

def _list_payload(value: List) -> bytes:
    # Elements are stored as RESP bulk strings: the data sits between the header and the CRLF.
    parts = [encode_length(len(value))]
    parts += [encode_string(item[item.index(b"\n") + 1:-2]) for item in value]
    return b"".join(parts)


def _set_payload(value: Set) -> bytes:
    parts = [encode_length(len(value))]
    parts += [encode_string(member) for member in value.members]
    return b"".join(parts)


def _hash_payload(value: Hash) -> bytes:
    parts = [encode_length(len(value))]
    for field, field_value in value.items():
        parts.append(encode_string(field))
        parts.append(encode_string(field_value))
    return b"".join(parts)


def _zset_payload(value: ZSet) -> bytes:
    # Highest first, as Redis saves a skiplist: each insert on load then lands at the head.
    parts = [encode_length(len(value))]
    pack = _DOUBLE.pack
    for score, member in reversed(value.ordered):
        parts.append(encode_string(member))
        parts.append(pack(score))
    return b"".join(parts)


_ENCODERS: dict[type, tuple[bytes, Callable[[Any], bytes]]] = {
    List: (bytes((_TYPE_LIST,)), _list_payload),
    Set: (bytes((_TYPE_SET,)), _set_payload),
    Hash: (bytes((_TYPE_HASH,)), _hash_payload),
    ZSet: (bytes((_TYPE_ZSET_2,)), _zset_payload),
    Stream: (bytes((TYPE_STREAM_LISTPACKS_2,)), stream_payload),
}


class _Sink:
    """Chunks joined before each write to `out`, with the running CRC64 of all of them."""

    __slots__ = ("out", "parts", "crc")

    def __init__(self, out: BinaryIO) -> None:
        self.out = out
        self.parts: list[bytes] = []
        self.crc = 0

    def flush(self) -> None:
        data = b"".join(self.parts)
        self.parts.clear()
        self.crc = crc64(data, self.crc)
        self.out.write(data)


def _write_entries(sink: _Sink, items: Iterable[tuple[bytes, Any, int | None]]) -> None:
    append = sink.parts.append
    string = encode_string
    encoders = _ENCODERS
    pending = 0
    for key, value, deadline in items:
        if type(value) is bytes:
            record = b"\x00" + string(key) + string(value)  # type 0, a string
        else:
            type_byte, payload = encoders[type(value)]
            record = type_byte + string(key) + payload(value)
        if deadline is not None:
            append(_EXPIRE_MS.pack(_OP_EXPIRETIME_MS, deadline))
        append(record)
        pending += len(record)
        if pending >= _WRITE_CHUNK:
            sink.flush()
            pending = 0


def write_rdb(out: BinaryIO,
              databases: Iterable[tuple[int, int, int, Iterable[tuple[bytes, Any, int | None]]]],
              *, ctime: int | None = None, functions: Iterable[bytes] = ()) -> None:
    """A whole RDB file, as rdbSaveRio lays it out.

    databases yields (db_index, keys_count, expires_count, items), items (key, value,
    deadline_ms or None); the counts only size the loader's tables (RESIZEDB). A database
    whose items are empty is left out, as Redis leaves out empty databases. `functions` are
    the function libraries' codes, saved before the keys (rdbSaveFunctions)."""
    sink = _Sink(out)
    append = sink.parts.append
    append(b"REDIS%04d" % RDB_VERSION)
    aux = ((b"redis-ver", REDIS_VERSION.encode()), (b"redis-bits", b"64"),
           (b"ctime", b"%d" % (int(time.time()) if ctime is None else ctime)),
           (b"used-mem", b"0"), (b"aof-base", b"0"))
    for name, value in aux:
        append(bytes((_OP_AUX,)) + encode_string(name) + encode_string(value))
    append(function_records(functions))
    for db_index, keys_count, expires_count, items in databases:
        entries = iter(items)
        first = next(entries, None)
        if first is None:
            continue
        append(bytes((_OP_SELECTDB,)) + encode_length(db_index) + bytes((_OP_RESIZEDB,))
               + encode_length(keys_count) + encode_length(expires_count))
        _write_entries(sink, itertools.chain((first,), entries))
    append(bytes((_OP_EOF,)))
    sink.flush()
    out.write(_CHECKSUM.pack(sink.crc))


def function_records(codes: Iterable[bytes]) -> bytes:
    """One RDB_OPCODE_FUNCTION2 record per library: its code as a string."""
    return b"".join(bytes((_OP_FUNCTION2,)) + encode_string(code) for code in codes)


_PAYLOAD_VERSION = RDB_VERSION.to_bytes(2, "little")


def function_payload(codes: Iterable[bytes]) -> bytes:
    """FUNCTION DUMP's payload: the libraries' RDB records, the RDB version (2 bytes, little
    endian) and the CRC64 of all that (8 bytes, little endian), as DUMP's payloads end."""
    body = function_records(codes) + _PAYLOAD_VERSION
    return body + _CHECKSUM.pack(crc64(body))


# DEBUG SET-SKIP-CHECKSUM-VALIDATION: RESTORE payloads and RDB files are read without checking
# their CRC64 (the RDB version is still checked), as Redis's server.skip_checksum_validation.
SKIP_CHECKSUM = [False]


def set_skip_checksum(skip: bool) -> None:
    SKIP_CHECKSUM[0] = skip


def _check_payload(payload: bytes) -> None:
    """verifyDumpPayload: a footer whose RDB version this server reads, and a CRC64 that
    matches; ValueError with RESTORE's message otherwise."""
    if (len(payload) < 10 or int.from_bytes(payload[-10:-8], "little") > RDB_VERSION
            or not SKIP_CHECKSUM[0]
            and _CHECKSUM.unpack(payload[-8:])[0] != crc64(memoryview(payload)[:-8])):
        raise ValueError("DUMP payload version or checksum are wrong")


def function_payload_codes(payload: bytes) -> Iterator[bytes]:
    """The library codes in a FUNCTION RESTORE payload, one by one; ValueError with Redis's
    message (functionRestoreCommand, verifyDumpPayload) where the payload goes wrong."""
    _check_payload(payload)
    reader = RDBReader(io.BytesIO(payload), _DefaultLimits())
    while len(payload) - reader.position > 10:
        type_byte = reader._byte()
        if type_byte not in (_OP_FUNCTION2, _OP_FUNCTION_PRE_GA):
            raise ValueError("given type is not a function")
        yield reader.function_code(type_byte)


def value_payload(value: Any) -> bytes:
    """DUMP's payload: the value as one RDB object (its type byte, then the value as an RDB
    file stores it), the RDB version and the CRC64 (createDumpPayload)."""
    if type(value) is bytes:
        body = b"\x00" + encode_string(value)
    else:
        type_byte, payload = _ENCODERS[type(value)]
        body = type_byte + payload(value)
    body += _PAYLOAD_VERSION
    return body + _CHECKSUM.pack(crc64(body))


def payload_value(payload: bytes, limits: Any) -> Any:
    """RESTORE's value from a DUMP payload of Redis or valkdb, in the encoding `limits`
    (the server's settings) choose; ValueError with Redis's message when the footer is wrong
    or the object cannot be read ("Bad data format": a module type, a function, an empty
    collection, a value cut short). Bytes after the object are ignored, as Redis ignores them."""
    _check_payload(payload)
    reader = RDBReader(io.BytesIO(payload[:-10]), limits)
    try:
        loader = reader._loaders.get(reader._byte())
        value = None if loader is None else loader()
    except (RDBError, ValueError, IndexError, struct.error):
        value = None
    if value is None:
        raise ValueError("Bad data format")
    return value


# -- decoding the compact encodings ---------------------------------------------------------------

_ZIPLIST_INTEGER_WIDTHS = {0xC0: 2, 0xD0: 4, 0xE0: 8, 0xF0: 3, 0xFE: 1}


def ziplist_entries(blob: bytes, failure: str) -> list[bytes]:
    """A ziplist's entries (ziplist.c, RDB versions before 10), integers as decimal strings."""
    size = len(blob)
    end = size - 1
    if size < 11 or _UINT32.unpack_from(blob)[0] != size or blob[end] != 0xFF:
        raise RDBError(failure)
    entries: list[bytes] = []
    append = entries.append
    i = 10
    while i < end:
        i += 5 if blob[i] == 0xFE else 1  # the previous entry's length
        if i >= end:
            raise RDBError(failure)
        first = blob[i]
        kind = first >> 6
        if kind == 0:
            start = i + 1
            stop = start + (first & 0x3F)
        elif kind == 1:
            start = i + 2
            stop = start + ((first & 0x3F) << 8 | blob[i + 1])
        elif first == 0x80:
            start = i + 5
            stop = start + int.from_bytes(blob[i + 1:start], "big")
        elif 0xF1 <= first <= 0xFD:  # 4-bit immediate, 1..13 standing for 0..12
            append(b"%d" % ((first & 0x0F) - 1))
            i += 1
            continue
        elif first in _ZIPLIST_INTEGER_WIDTHS:
            width = _ZIPLIST_INTEGER_WIDTHS[first]
            append(b"%d" % int.from_bytes(blob[i + 1:i + 1 + width], "little", signed=True))
            i += 1 + width
            continue
        else:
            raise RDBError(failure)
        append(blob[start:stop])
        i = stop
    count = blob[8] | blob[9] << 8
    if i != end or (count != 65535 and count != len(entries)):
        raise RDBError(failure)
    return entries


_INTSET_FORMATS = {2: "h", 4: "i", 8: "q"}


def intset_members(blob: bytes) -> list[bytes]:
    """An intset's integers (intset.c) as decimal strings."""
    if len(blob) < 8:
        raise RDBError("Intset integrity check failed.")
    width, count = struct.unpack_from("<II", blob)
    if width not in _INTSET_FORMATS or len(blob) != 8 + width * count:
        raise RDBError("Intset integrity check failed.")
    return [b"%d" % n for n in struct.unpack_from(f"<{count}{_INTSET_FORMATS[width]}", blob, 8)]


def zipmap_pairs(blob: bytes) -> list[bytes]:
    """A zipmap's keys and values, alternating (zipmap.c, the hash encoding of RDB < 4)."""
    failure = "Zipmap integrity check failed."
    entries: list[bytes] = []
    i = 1  # the first byte is a count, exact only below 254
    try:
        while blob[i] != 0xFF:
            for is_value in (False, True):
                length = blob[i]
                i += 1
                if length == 254:
                    length = _UINT32.unpack_from(blob, i)[0]
                    i += 4
                elif length == 255:
                    raise RDBError(failure)
                free = 0  # a value is followed by this many unused bytes
                if is_value:
                    free = blob[i]
                    i += 1
                entries.append(blob[i:i + length])
                i += length + free
    except (IndexError, struct.error):
        raise RDBError(failure) from None
    if i != len(blob) - 1:
        raise RDBError(failure)
    return entries


def _module_type_name(module_id: int) -> str:
    """moduleTypeNameByID: the 9-character name packed in a module type id's top 54 bits."""
    return "".join(_MODULE_NAME_CHARS[(module_id >> (10 + 6 * j)) & 63] for j in range(8, -1, -1))


def _resp(element: bytes) -> bytes:
    return b"$%d\r\n%s\r\n" % (len(element), element)


# -- reading --------------------------------------------------------------------------------------

class RDBReader:
    """Reads an RDB file record by record; see records()."""

    def __init__(self, inp: BinaryIO, limits: Any) -> None:
        self._inp = inp
        self._limits = limits
        self._buffer = b""
        self._offset = 0  # read position in _buffer
        self._buffer_start = 0  # file position of _buffer[0]
        self._crc = 0  # CRC64 of the file up to _buffer[_crc_from]
        self._crc_from = 0
        # check_rdb's settings: where progress lines go, and redis-check-rdb's verdict on an
        # empty collection (it reports the unexpected end of its value, the server skips it).
        self._info: Callable[[str], None] | None = None
        self._empty_keys_fatal = False
        self.aux: dict[bytes, bytes] = {}
        self.version = 0
        self.checksum_disabled = False  # the file says 0: nothing was verified
        self.empty_keys: list[bytes] = []  # collections saved empty, skipped as Redis does
        # Called with each function library's code as it is read (None: skipped).
        self.on_function: Callable[[bytes], None] | None = None
        self._loaders: dict[int, Callable[[], Any]] = {
            0: self._string, 1: self._list, 2: self._set, 3: self._zset_v1, 4: self._hash,
            5: self._zset_v2, 9: self._hash_zipmap, 10: self._list_ziplist,
            11: self._set_intset, 12: self._zset_ziplist, 13: self._hash_ziplist,
            14: self._quicklist, 16: self._hash_listpack, 17: self._zset_listpack,
            18: self._quicklist_v2, TYPE_STREAM_LISTPACKS: self._stream_v1,
            TYPE_STREAM_LISTPACKS_2: self._stream_v2,
        }

    @property
    def position(self) -> int:
        """Bytes consumed so far."""
        return self._buffer_start + self._offset

    # Low-level reads. The buffer holds the unread part of the last chunk; _fill appends the
    # next chunk(s) and checksums what was consumed before dropping it.

    def _fill(self, needed: int) -> None:
        """Make `needed` bytes available at the read position, or fail with a short read."""
        buffer, offset = self._buffer, self._offset
        self._crc = crc64(memoryview(buffer)[self._crc_from:offset], self._crc)
        self._crc_from = offset
        pieces = [buffer[offset:]]
        available = len(pieces[0])
        while available < needed:
            # Reads are bounded so that a corrupt huge length fails at the end of the file
            # instead of asking for all that memory at once.
            piece = self._inp.read(max(_READ_CHUNK, min(needed - available, 1 << 26)))
            if not piece:
                raise RDBError(_SHORT_READ)
            pieces.append(piece)
            available += len(piece)
        self._buffer = b"".join(pieces)
        self._buffer_start += offset
        self._offset = self._crc_from = 0

    def _read(self, n: int) -> bytes:
        offset = self._offset
        end = offset + n
        if end > len(self._buffer):
            self._fill(n)
            offset, end = 0, n
        self._offset = end
        return self._buffer[offset:end]

    def _byte(self) -> int:
        offset = self._offset
        if offset >= len(self._buffer):
            self._fill(1)
            offset = 0
        self._offset = offset + 1
        return self._buffer[offset]

    def _length(self) -> int:
        """rdbLoadLen."""
        first = self._byte()
        kind = first >> 6
        if kind == 0:
            return first
        if kind == 1:
            return (first & 0x3F) << 8 | self._byte()
        if first == 0x80:
            return int.from_bytes(self._read(4), "big")
        if first == 0x81:
            return int.from_bytes(self._read(8), "big")
        if kind == 3:  # an encoded-value marker where a length was expected, taken as rdbLoadLen
            return first & 0x3F
        raise RDBError(f"Unknown length encoding {first} in rdbLoadLen()")

    def _string(self) -> bytes:
        """rdbGenericLoadStringObject: raw, integer-encoded or LZF-compressed."""
        buffer, offset = self._buffer, self._offset
        if offset < len(buffer):  # the common case, a short string already buffered
            first = buffer[offset]
            if first < 0x40:
                end = offset + 1 + first
                if end <= len(buffer):
                    self._offset = end
                    return buffer[offset + 1:end]
        first = self._byte()
        if first < 0xC0:
            self._offset -= 1
            return self._read(self._length())
        encoding = first & 0x3F
        if encoding == 0:
            return b"%d" % _INT8.unpack(self._read(1))[0]
        if encoding == 1:
            return b"%d" % _INT16.unpack(self._read(2))[0]
        if encoding == 2:
            return b"%d" % _INT32.unpack(self._read(4))[0]
        if encoding == 3:
            compressed_length = self._length()
            length = self._length()
            try:
                return lzf.decompress(self._read(compressed_length), length)
            except lzf.LZFError as error:
                raise RDBError(f"Invalid LZF compressed string: {error}") from None
        raise RDBError(f"Unknown RDB string encoding type {encoding}")

    def _double_v1(self) -> float:
        """rdbLoadDoubleValue: a length byte (253 NaN, 254 +inf, 255 -inf) and ASCII digits."""
        length = self._byte()
        if length >= 253:
            return (float("nan"), float("inf"), float("-inf"))[length - 253]
        text = self._read(length)
        try:
            return float(text)
        except ValueError:
            raise RDBError(f"Invalid double value {text!r}") from None

    # Object loaders (rdbLoadObject), one per type; None for an empty collection, which
    # Redis skips.

    def _list(self) -> List | None:
        string = self._string
        return List(_resp(string()) for _ in range(self._length())) or None

    def _quicklist(self) -> List | None:
        value = List()
        for _ in range(self._length()):
            value.extend(map(_resp, ziplist_entries(self._string(),
                                                    "Ziplist integrity check failed.")))
        return value or None

    def _quicklist_v2(self) -> List | None:
        value = List()
        for _ in range(self._length()):
            container = self._length()
            if container == _QUICKLIST_PLAIN:
                value.append(_resp(self._string()))
            elif container == _QUICKLIST_PACKED:
                value.extend(map(_resp, listpack_entries(self._string(),
                                                         "Listpack integrity check failed.")))
            else:
                raise RDBError("Quicklist integrity check failed.")
        return value or None

    def _list_ziplist(self) -> List | None:
        entries = ziplist_entries(self._string(), "List ziplist integrity check failed.")
        return List(map(_resp, entries)) or None

    def _set(self) -> Set | None:
        count = self._length()
        limit = self._limits.set_max_intset_entries
        value = Set(count <= limit)
        string = self._string
        for _ in range(count):
            if not value.add(string(), limit):
                raise RDBError("Duplicate set members detected")
        return value or None

    def _set_intset(self) -> Set | None:
        limit = self._limits.set_max_intset_entries
        value = Set(True)
        for member in intset_members(self._string()):
            if not value.add(member, limit):
                raise RDBError("Intset integrity check failed.")
        return value or None

    def _hash(self) -> Hash | None:
        count = self._length()
        limits = self._limits
        value = Hash()
        string = self._string
        longest = 0
        for _ in range(count):
            field = string()
            value[field] = field_value = string()
            longest = max(longest, len(field), len(field_value))
        if len(value) != count:
            raise RDBError("Duplicate hash fields detected")
        value.hashtable = (count > limits.hash_max_listpack_entries
                           or longest > limits.hash_max_listpack_value)
        return value or None

    def _hash_from_pairs(self, pairs: list[bytes], failure: str, longest: int = 0) -> Hash | None:
        if len(pairs) % 2:
            raise RDBError(failure)
        value = Hash()
        value.update(zip(pairs[::2], pairs[1::2], strict=True))
        if len(value) * 2 != len(pairs):
            raise RDBError(failure)
        limits = self._limits
        value.hashtable = (len(value) > limits.hash_max_listpack_entries
                           or longest > limits.hash_max_listpack_value)
        return value or None

    def _hash_zipmap(self) -> Hash | None:
        pairs = zipmap_pairs(self._string())
        longest = max(map(len, pairs), default=0)
        return self._hash_from_pairs(pairs, "Zipmap integrity check failed.", longest)

    def _hash_ziplist(self) -> Hash | None:
        failure = "Hash ziplist integrity check failed."
        return self._hash_from_pairs(ziplist_entries(self._string(), failure), failure)

    def _hash_listpack(self) -> Hash | None:
        failure = "Hash listpack integrity check failed."
        return self._hash_from_pairs(listpack_entries(self._string(), failure), failure)

    def _zset(self, pairs: Iterable[tuple[bytes, float]], listpack: bool) -> ZSet | None:
        value = ZSet(listpack)
        for member, score in pairs:
            if member in value:
                raise RDBError("Duplicate zset fields detected")
            if score != score:
                raise RDBError("Zset with NAN score detected")
            value.insert(member, score, _NO_CONVERSION)
        return value or None

    def _plain_zset(self, load_score: Callable[[], float]) -> ZSet | None:
        # Sorted sets are saved unordered, so Redis decides the encoding after loading them all.
        string = self._string
        pairs = [(string(), load_score()) for _ in range(self._length())]
        limits = self._limits
        listpack = (len(pairs) <= limits.zset_max_listpack_entries
                    and max((len(member) for member, _ in pairs), default=0)
                    <= limits.zset_max_listpack_value)
        return self._zset(pairs, listpack)

    def _zset_v1(self) -> ZSet | None:
        return self._plain_zset(self._double_v1)

    def _zset_v2(self) -> ZSet | None:
        unpack = _DOUBLE.unpack
        return self._plain_zset(lambda: unpack(self._read(8))[0])

    def _compact_zset(self, entries: list[bytes], failure: str) -> ZSet | None:
        if len(entries) % 2:
            raise RDBError(failure)
        try:
            scores = [float(score) for score in entries[1::2]]
        except ValueError:
            raise RDBError(failure) from None
        listpack = len(scores) <= self._limits.zset_max_listpack_entries
        return self._zset(zip(entries[::2], scores, strict=True), listpack)

    def _zset_ziplist(self) -> ZSet | None:
        failure = "Zset ziplist integrity check failed."
        return self._compact_zset(ziplist_entries(self._string(), failure), failure)

    def _zset_listpack(self) -> ZSet | None:
        failure = "Zset listpack integrity check failed."
        return self._compact_zset(listpack_entries(self._string(), failure), failure)

    def _stream_v1(self) -> Stream:
        return load_stream(self._length, self._string, self._read, TYPE_STREAM_LISTPACKS)

    def _stream_v2(self) -> Stream:
        return load_stream(self._length, self._string, self._read, TYPE_STREAM_LISTPACKS_2)

    def _unsupported(self, type_byte: int) -> RDBError:
        """The error for a type valkdb cannot hold, once its key has been read."""
        if type_byte == 6:
            return RDBError("Pre-release module format not supported")
        module = _module_type_name(self._length())
        return RDBError("The RDB file contains module data I can't load: no matching "
                        f"module type '{module}' (modules are not supported by valkdb)")

    def records(self) -> Iterator[tuple[int, bytes, Any, int | None]]:
        """(db_index, key, value, deadline_ms or None) for every key in file order, expired
        ones included; empty collections are skipped (their names go to empty_keys). The
        checksum is verified after the last key (unless the file stores 0). The reader reads
        ahead; when done, a seekable inp is put back just past the checksum, where the
        commands of an AOF with an RDB preamble start."""
        doing = "start"
        key: bytes | None = None
        key_type = 0  # what redis-check-rdb shows before the first key
        try:
            magic = self._read(9)
            if magic[:5] != b"REDIS":
                raise RDBError("Wrong signature trying to load DB from file")
            number = re.match(rb"\s*[-+]?\d+", magic[5:])  # what atoi() reads
            self.version = int(number.group()) if number else 0
            if not 1 <= self.version <= RDB_VERSION:
                raise RDBError(f"Can't handle RDB format version {self.version}")
            byte, string, length, loaders = self._byte, self._string, self._length, self._loaders
            db = 0
            deadline = None
            while True:
                doing = "read-type"
                type_byte = byte()
                if type_byte < _OP_FUNCTION2:
                    loader = loaders.get(type_byte)
                    if loader is None and type_byte not in _UNSUPPORTED_TYPES:
                        raise RDBError(f"Unknown RDB encoding type {type_byte}")
                    key_type = type_byte
                    doing = "read-key"
                    key = string()
                    doing = "read-object-value"
                    if loader is None:
                        raise self._unsupported(type_byte)
                    value = loader()
                    if value is not None:
                        yield db, key, value, deadline
                    elif self._empty_keys_fatal:
                        raise RDBError(_SHORT_READ)
                    else:
                        self.empty_keys.append(key)
                    key = None
                    key_type = -1
                    deadline = None
                elif type_byte == _OP_EXPIRETIME_MS:
                    doing = "read-expire"
                    deadline = _INT64.unpack(self._read(8))[0]
                elif type_byte == _OP_EXPIRETIME:
                    doing = "read-expire"
                    deadline = _INT32.unpack(self._read(4))[0] * 1000
                elif type_byte == _OP_FREQ:
                    self._read(1)
                elif type_byte == _OP_IDLE:
                    length()
                elif type_byte == _OP_SELECTDB:
                    doing = "read-len"
                    db = length()
                    if self._info:
                        self._info(f"Selecting DB ID {db}")
                elif type_byte == _OP_RESIZEDB:
                    doing = "read-len"
                    length()
                    length()
                elif type_byte == _OP_AUX:
                    doing = "read-aux"
                    name = string()
                    self.aux[name] = string()
                    if self._info:
                        self._info(f"AUX FIELD {name.decode(errors='replace')} = "
                                   f"'{self.aux[name].decode(errors='replace')}'")
                elif type_byte == _OP_EOF:
                    break
                elif type_byte == _OP_MODULE_AUX:
                    doing = "read-module-aux"
                    module = _module_type_name(length())
                    raise RDBError("The RDB file contains AUX module data I can't load: no "
                                   f"matching module '{module}' (modules are not supported by "
                                   "valkdb)")
                else:  # a function library (or its 7.0 rc1/rc2 format)
                    doing = "read-functions"
                    try:
                        code = self.function_code(type_byte)
                    except ValueError as error:
                        raise RDBError(f"Failed loading library, {error}") from None
                    if self.on_function is not None:
                        self.on_function(code)
            doing = "check-sum"
            self._check_sum()
            read_ahead = len(self._buffer) - self._offset
            if read_ahead and self._inp.seekable():
                self._inp.seek(-read_ahead, io.SEEK_CUR)
        except RDBError as error:
            error.offset = self.position
            error.doing = doing
            error.key = key
            error.key_type = key_type
            raise

    def function_code(self, type_byte: int) -> bytes:
        """rdbFunctionLoad's read: the library's code; the 7.0 rc1/rc2 record (name, engine,
        optional description, body) gets the shebang the code now carries. ValueError with
        Redis's message when the record is cut short."""
        if type_byte == _OP_FUNCTION2:
            return self._function_part(self._string, "Failed loading library payload")
        name = self._function_part(self._string, "Failed loading library name")
        engine = self._function_part(self._string, "Failed loading engine name")
        if self._function_part(self._length, "Failed loading library description indicator"):
            self._function_part(self._string, "Failed loading library description")
        body = self._function_part(self._string, "Failed loading library blob")
        return b"#!%s name=%s\n%s" % (engine, name, body)

    @staticmethod
    def _function_part(read: Callable[[], Any], failure: str) -> Any:
        try:
            return read()
        except RDBError:
            raise ValueError(failure) from None

    def _check_sum(self) -> None:
        """Files from RDB version 5 on end with the CRC64 of everything before it."""
        if self.version < 5:
            return
        expected = crc64(memoryview(self._buffer)[self._crc_from:self._offset], self._crc)
        stored = _CHECKSUM.unpack(self._read(8))[0]
        if stored == 0:
            self.checksum_disabled = True
            if self._info:
                self._info("RDB file was saved with checksum disabled: no check performed.")
        elif stored != expected and not SKIP_CHECKSUM[0]:
            raise RDBError(f"Wrong RDB checksum expected: ({expected:x}) but got ({stored:x}). "
                           "Aborting now.")
        elif self._info:
            self._info("Checksum OK")


# -- redis-check-rdb ------------------------------------------------------------------------------

class _DefaultLimits:
    """Redis's defaults: check_rdb only needs some limits to build values."""

    hash_max_listpack_entries = 512
    hash_max_listpack_value = 64
    set_max_intset_entries = 512
    zset_max_listpack_entries = 128
    zset_max_listpack_value = 64


def _checker_wording(message: str) -> str:
    """redis-check-rdb words three of the server's errors its own way."""
    if message == _SHORT_READ:
        return "Unexpected EOF reading RDB file"
    if message.startswith("Wrong RDB checksum"):
        return "RDB CRC error"
    if message.startswith("Unknown RDB encoding type"):
        return f"Invalid object type: {message.rsplit(' ', 1)[1]}"
    return message


def check_rdb(path: str) -> tuple[bool, list[str]]:
    """What redis-check-rdb prints for the file at path: (looks OK, lines)."""
    lines = [f"[offset 0] Checking RDB file {path}"]
    try:
        inp = open(path, "rb")
    except OSError as error:  # redis-check-rdb just exits 1; say why
        return False, lines + [f"Cannot open RDB file {path}: {error.strerror}"]
    keys = expires = already_expired = 0
    now = int(time.time() * 1000)
    with inp:
        reader = RDBReader(inp, _DefaultLimits())
        reader._info = lambda message: lines.append(f"[offset {reader.position}] {message}")
        reader._empty_keys_fatal = True
        try:
            for _, _, _, deadline in reader.records():
                keys += 1
                if deadline is not None:
                    expires += 1
                    already_expired += deadline < now
        except RDBError as error:
            if error.key is not None:
                keys += 1  # counted as soon as its name is read
            lines += ["--- RDB ERROR DETECTED ---",
                      f"[offset {error.offset}] {_checker_wording(str(error))}",
                      f"[additional info] While doing: {error.doing}"]
            if error.key is not None:
                lines.append(f"[additional info] Reading key "
                             f"'{error.key.decode(errors='replace')}'")
            if error.key_type != -1:
                lines.append(f"[additional info] Reading type {error.key_type} "
                             f"({_TYPE_NAMES[error.key_type]})")
            ok = False
        else:
            lines.append(f"[offset {reader.position}] \\o/ RDB looks OK! \\o/")
            ok = True
    lines += [f"[info] {keys} keys read", f"[info] {expires} expires",
              f"[info] {already_expired} already expired"]
    return ok, lines
