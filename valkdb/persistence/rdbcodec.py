"""The RDB format's building blocks, shared by rdb.py and the stream codec (rdb_stream.py):
RDBError, lengths and strings as rdbSaveLen / rdbSaveRawString write them, and listpacks
(listpack.c) both ways.

The listpack encoder writes what lpAppend / lpAppendInteger build: a string that
lpStringToInt64 takes for an integer is stored as one, every integer in the smallest of the
7-bit, 13-bit, 16/24/32/64-bit forms, each element followed by its back-length; the header
holds the total size and the element count (65535 when it does not fit: "unknown").
"""

from __future__ import annotations

import struct
from collections.abc import Iterable

from valkdb.protocol.reader import parse_length

_INT8 = struct.Struct("<b")
_INT16 = struct.Struct("<h")
_INT32 = struct.Struct("<i")
_UINT32 = struct.Struct("<I")
_LISTPACK_HEADER = struct.Struct("<IH")


class RDBError(Exception):
    """A corrupt or unsupported file; str() is a log-ready message.

    records() fills in where it happened, for check_rdb's report: the file offset, what it was
    doing (redis-check-rdb's words), and the key and type being read, if any."""

    offset = 0
    doing = "start"
    key: bytes | None = None
    key_type = -1


# -- lengths and strings -------------------------------------------------------------------------

_SHORT_LENGTHS = [bytes((n,)) for n in range(64)] + [
    bytes((0x40 | n >> 8, n & 0xFF)) for n in range(64, 1 << 14)]


def encode_length(n: int) -> bytes:
    """rdbSaveLen: 6 or 14 bits, else a 32- or 64-bit big-endian number after a marker byte."""
    if n < 1 << 14:
        return _SHORT_LENGTHS[n]
    if n <= 0xFFFFFFFF:
        return b"\x80" + n.to_bytes(4, "big")
    return b"\x81" + n.to_bytes(8, "big")


def encode_string(data: bytes) -> bytes:
    """rdbSaveRawString without compression: a canonical 32-bit integer as INT8/16/32."""
    size = len(data)
    if size <= 11:
        digits = data[1:] if data[:1] == b"-" else data
        if digits.isdigit() and (digits[0] != 0x30 or size == 1):
            value = int(data)
            if -0x80 <= value <= 0x7F:
                return b"\xc0" + _INT8.pack(value)
            if -0x8000 <= value <= 0x7FFF:
                return b"\xc1" + _INT16.pack(value)
            if -0x80000000 <= value <= 0x7FFFFFFF:
                return b"\xc2" + _INT32.pack(value)
    if size < 1 << 14:
        return _SHORT_LENGTHS[size] + data
    return encode_length(size) + data


# -- reading listpacks ----------------------------------------------------------------------------

def _listpack_backlen_size(length: int) -> int:
    """lpEncodeBacklen: how many bytes follow an entry of `length` bytes to give its length."""
    if length <= 127:
        return 1
    if length < 16383:
        return 2
    if length < 2097151:
        return 3
    if length < 268435455:
        return 4
    return 5


def listpack_entries(blob: bytes, failure: str) -> list[bytes]:
    """A listpack's entries (listpack.c), integers as decimal strings; RDBError(failure) if
    the blob is malformed."""
    size = len(blob)
    end = size - 1
    if size < 7 or _UINT32.unpack_from(blob)[0] != size or blob[end] != 0xFF:
        raise RDBError(failure)
    entries: list[bytes] = []
    append = entries.append
    i = 6
    while i < end:
        first = blob[i]
        if first < 0x80:  # 7-bit unsigned integer
            append(b"%d" % first)
            i += 2
            continue
        if first < 0xC0:  # string up to 63 bytes
            start = i + 1
            stop = start + (first & 0x3F)
        elif first < 0xE0:  # 13-bit signed integer
            value = (first & 0x1F) << 8 | blob[i + 1]
            append(b"%d" % (value - 8192 if value >= 4096 else value))
            i += 3
            continue
        elif first < 0xF0:  # string up to 4095 bytes
            start = i + 2
            stop = start + ((first & 0x0F) << 8 | blob[i + 1])
        elif first == 0xF0:  # string with a 32-bit length
            start = i + 5
            stop = start + int.from_bytes(blob[i + 1:start], "little")
        elif first <= 0xF4:  # 16, 24, 32 or 64-bit signed integer
            width = (2, 3, 4, 8)[first - 0xF1]
            append(b"%d" % int.from_bytes(blob[i + 1:i + 1 + width], "little", signed=True))
            i += 2 + width
            continue
        else:
            raise RDBError(failure)
        append(blob[start:stop])
        i = stop + _listpack_backlen_size(stop - i)
    count = blob[4] | blob[5] << 8
    if i != end or (count != 65535 and count != len(entries)):
        raise RDBError(failure)
    return entries


# -- writing listpacks ----------------------------------------------------------------------------

def _backlen(length: int) -> bytes:
    """lpEncodeBacklen: an element's length, 7 bits a byte, read from its last byte back."""
    if length <= 127:
        return bytes((length,))
    if length < 16383:
        return bytes((length >> 7, length & 127 | 128))
    if length < 2097151:
        return bytes((length >> 14, length >> 7 & 127 | 128, length & 127 | 128))
    if length < 268435455:
        return bytes((length >> 21, length >> 14 & 127 | 128, length >> 7 & 127 | 128,
                      length & 127 | 128))
    return bytes((length >> 28, length >> 21 & 127 | 128, length >> 14 & 127 | 128,
                  length >> 7 & 127 | 128, length & 127 | 128))


def listpack_integer(value: int) -> bytes:
    """lpAppendInteger's element (back-length included) for a signed 64-bit integer."""
    if 0 <= value <= 127:
        return bytes((value, 1))
    if -4096 <= value <= 4095:
        value &= 0x1FFF
        return bytes((0xC0 | value >> 8, value & 0xFF, 2))
    if -32768 <= value <= 32767:
        return b"\xf1" + (value & 0xFFFF).to_bytes(2, "little") + b"\x03"
    if -8388608 <= value <= 8388607:
        return b"\xf2" + (value & 0xFFFFFF).to_bytes(3, "little") + b"\x04"
    if -(1 << 31) <= value < 1 << 31:
        return b"\xf3" + (value & 0xFFFFFFFF).to_bytes(4, "little") + b"\x05"
    return b"\xf4" + (value & 0xFFFFFFFFFFFFFFFF).to_bytes(8, "little") + b"\x09"


def listpack_string(data: bytes) -> bytes:
    """lpAppend's element for a string: an integer when lpStringToInt64 reads it as one."""
    value = parse_length(data)
    if value is not None:
        return listpack_integer(value)
    size = len(data)
    if size < 64:
        head = bytes((0x80 | size,))
    elif size < 4096:
        head = bytes((0xE0 | size >> 8, size & 0xFF))
    else:
        head = b"\xf0" + _UINT32.pack(size)
    return head + data + _backlen(len(head) + size)


def listpack(elements: Iterable[bytes], count: int) -> bytes:
    """A whole listpack around `count` already encoded elements."""
    body = b"".join(elements)
    return _LISTPACK_HEADER.pack(len(body) + 7, min(count, 65535)) + body + b"\xff"
