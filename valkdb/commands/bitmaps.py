"""Bit commands on strings (Redis's bitops.c): SETBIT, GETBIT, BITCOUNT, BITPOS, BITOP, BITFIELD,
BITFIELD_RO.

A string is a bit array, most significant bit of its first byte first, zero-padded on the right
for reads. Strings are immutable bytes in the keyspace, so a write builds the new value and
stores it (keeping the TTL, as Redis changes the string in place); bit arithmetic runs on Python
ints made from the byte range involved, which is exact where Redis's code works in words.
"""

from __future__ import annotations

from valkdb import errors
from valkdb.commands.args import to_int
from valkdb.commands.strings import get_string
from valkdb.core.context import Context
from valkdb.core.notifications import GENERIC, STRING
from valkdb.core.registry import command
from valkdb.errors import CommandError
from valkdb.protocol.encoder import ONE, ZERO, integer

_BAD_OFFSET = errors.err("ERR bit offset is not an integer or out of range")
_BAD_BIT = errors.err("ERR bit is not an integer or out of range")
_BAD_BITPOS_BIT = errors.err("ERR The bit argument must be 1 or 0.")
_NOT_SINGLE = errors.err("ERR BITOP NOT must be called with a single source key.")
_BAD_OVERFLOW = errors.err("ERR Invalid OVERFLOW type specified")
_BAD_TYPE = errors.err("ERR Invalid bitfield type. Use something like i16 u8. Note that u64 is "
                       "not supported but i64 is.")
_RO_WRITE = errors.err("ERR BITFIELD_RO only supports the GET subcommand")


def _bit_offset(c: Context, arg: bytes, bits: int = 0) -> int:
    """getBitOffsetFromArgument: `#n` means n * bits (BITFIELD only, bits > 0)."""
    hashed = bits > 0 and arg[:1] == b"#"
    offset = to_int(arg[1:] if hashed else arg, _BAD_OFFSET)
    if hashed:
        offset *= bits
    if offset < 0 or (not c.obeys and offset >> 3 >= c.server.config.proto_max_bulk_len):
        raise CommandError(_BAD_OFFSET)
    return offset


def _grown(c: Context, key: bytes, max_bit: int) -> tuple[bytes, bool, bool]:
    """lookupStringForBitCommand: (the value zero-padded to hold max_bit, whether the key
    exists, whether it was created or grew)."""
    old = get_string(c.db, key)
    size = (max_bit >> 3) + 1
    if old is None:
        return b"\0" * size, False, True
    if len(old) < size:
        return old + b"\0" * (size - len(old)), True, True
    return old, True, False


def _save(c: Context, key: bytes, value: bytes, existed: bool) -> None:
    if existed:
        c.db.replace(key, value)  # changed in place: the TTL stays
    else:
        c.db.store(key, value)


@command("setbit")
def setbit(c: Context, argv: list[bytes]) -> bytes:
    offset = _bit_offset(c, argv[2])
    on = to_int(argv[3], _BAD_BIT)
    if on & ~1:
        return _BAD_BIT
    value, existed, grew = _grown(c, argv[1], offset)
    byte, mask = offset >> 3, 1 << (7 - (offset & 7))
    was = value[byte] & mask
    if grew or bool(was) != bool(on):
        new = (value[byte] & ~mask) | (mask if on else 0)
        _save(c, argv[1], value[:byte] + bytes((new,)) + value[byte + 1:], existed)
        c.notify(STRING, b"setbit", argv[1])
    return ONE if was else ZERO


@command("getbit")
def getbit(c: Context, argv: list[bytes]) -> bytes:
    offset = _bit_offset(c, argv[2])
    value = get_string(c.db, argv[1], read=True)
    byte = offset >> 3
    if value is None or byte >= len(value):
        return ZERO
    return ONE if value[byte] & (1 << (7 - (offset & 7))) else ZERO


def _bit_range(argv: list[bytes], at: int, length: int, has_end: bool,
               ) -> tuple[int, int] | None:
    """BITCOUNT / BITPOS's [start [end [BIT|BYTE]]] from argv[at] on, as an inclusive range of
    bits clipped to the string (None: empty)."""
    start = to_int(argv[at])
    unit_at = at + 2
    is_bit = False
    if len(argv) > unit_at:
        unit = argv[unit_at].lower()
        if unit not in (b"bit", b"byte"):
            raise CommandError(errors.SYNTAX)
        is_bit = unit == b"bit"
    total = length * 8 if is_bit else length
    end = to_int(argv[at + 1]) if has_end else total - 1
    if start < 0:
        start += total
    if end < 0:
        end += total
    start, end = max(start, 0), min(max(end, 0), total - 1)
    if start > end:
        return None
    return (start, end) if is_bit else (start * 8, end * 8 + 7)


def _bits(value: bytes | bytearray, first: int, last: int) -> int:
    """Bits first..last (inclusive) of value as an int, the first one most significant."""
    chunk = int.from_bytes(value[first >> 3:(last >> 3) + 1], "big")
    return (chunk >> (7 - (last & 7))) & ((1 << (last - first + 1)) - 1)


@command("bitcount")
def bitcount(c: Context, argv: list[bytes]) -> bytes:
    value = get_string(c.db, argv[1], read=True)
    if value is None:
        return ZERO
    if len(argv) == 2:
        return integer(int.from_bytes(value, "big").bit_count())
    if len(argv) > 5 or len(argv) == 3:
        return errors.SYNTAX
    start, end = to_int(argv[2]), to_int(argv[3])
    if start < 0 and end < 0 and start > end:
        return ZERO
    found = _bit_range(argv, 2, len(value), True)
    return ZERO if found is None else integer(_bits(value, *found).bit_count())


@command("bitpos")
def bitpos(c: Context, argv: list[bytes]) -> bytes:
    bit = to_int(argv[2])
    if bit not in (0, 1):
        return _BAD_BITPOS_BIT
    value = get_string(c.db, argv[1], read=True)
    if value is None:
        return integer(-1 if bit else 0)
    if len(argv) > 6:
        return errors.SYNTAX
    end_given = len(argv) >= 5
    if len(argv) == 3:
        found = (0, len(value) * 8 - 1) if value else None
    else:
        found = _bit_range(argv, 3, len(value), end_given)
    if found is None:
        return integer(-1)
    first, last = found
    width = last - first + 1
    bits = _bits(value, first, last)
    if not bit:
        bits ^= (1 << width) - 1
    if bits:
        return integer(first + width - bits.bit_length())
    if bit or end_given:
        return integer(-1)
    return integer(last + 1)  # no clear bit: the first one of the zero padding


@command("bitop")
def bitop(c: Context, argv: list[bytes]) -> bytes:
    op = argv[1].lower()
    if op not in (b"and", b"or", b"xor", b"not"):
        return errors.SYNTAX
    if op == b"not" and len(argv) != 4:
        return _NOT_SINGLE
    sources = [get_string(c.db, key, read=True) or b"" for key in argv[3:]]
    size = max(map(len, sources))
    if size:
        numbers = [int.from_bytes(s.ljust(size, b"\0"), "big") for s in sources]
        result = numbers[0]
        if op == b"not":
            result ^= (1 << (size * 8)) - 1
        for number in numbers[1:]:
            if op == b"and":
                result &= number
            elif op == b"or":
                result |= number
            else:
                result ^= number
        c.db.store(argv[2], result.to_bytes(size, "big"))
        c.notify(STRING, b"set", argv[2])
    elif c.db.delete(argv[2]):
        c.notify(GENERIC, b"del", argv[2])
    return integer(size)


class _Field:
    """One BITFIELD operation, parsed."""

    __slots__ = ("op", "signed", "bits", "offset", "value", "overflow")

    def __init__(self, op: bytes, signed: bool, bits: int, offset: int, value: int,
                 overflow: bytes) -> None:
        self.op, self.signed, self.bits, self.offset = op, signed, bits, offset
        self.value, self.overflow = value, overflow


def _field_type(arg: bytes) -> tuple[bool, int]:
    kind = arg[:1]
    if kind not in (b"i", b"u"):
        raise CommandError(_BAD_TYPE)
    bits = to_int(arg[1:].partition(b"\0")[0], _BAD_TYPE)  # C reads it up to a NUL
    if bits < 1 or bits > (64 if kind == b"i" else 63):
        raise CommandError(_BAD_TYPE)
    return kind == b"i", bits


def _parse_fields(c: Context, argv: list[bytes]) -> list[_Field]:
    fields = []
    overflow = b"wrap"
    i = 2
    while i < len(argv):
        more = len(argv) - i - 1
        op = argv[i].lower()
        if op == b"overflow" and more >= 1:
            overflow = argv[i + 1].lower()
            if overflow not in (b"wrap", b"sat", b"fail"):
                raise CommandError(_BAD_OVERFLOW)
            i += 2
            continue
        if not ((op == b"get" and more >= 2) or (op in (b"set", b"incrby") and more >= 3)):
            raise CommandError(errors.SYNTAX)
        signed, bits = _field_type(argv[i + 1])
        offset = _bit_offset(c, argv[i + 2], bits)
        value = to_int(argv[i + 3]) if op != b"get" else 0
        fields.append(_Field(op, signed, bits, offset, value, overflow))
        i += 3 if op == b"get" else 4
    return fields


def _read_field(value: bytes | bytearray, field: _Field) -> int:
    """The field's value, the string zero-padded past its end."""
    end = field.offset + field.bits - 1
    padded = value[field.offset >> 3:(end >> 3) + 1].ljust((end >> 3) - (field.offset >> 3) + 1,
                                                           b"\0")
    number = _bits(padded, field.offset & 7, (field.offset & 7) + field.bits - 1)
    if field.signed and number >> (field.bits - 1):
        number -= 1 << field.bits
    return number


def _write_field(value: bytearray, field: _Field, number: int) -> None:
    bits, offset = field.bits, field.offset
    first, last = offset >> 3, (offset + bits - 1) >> 3
    span = (last - first + 1) * 8
    shift = span - (offset & 7) - bits
    chunk = int.from_bytes(value[first:last + 1], "big")
    mask = ((1 << bits) - 1) << shift
    chunk = (chunk & ~mask) | ((number & ((1 << bits) - 1)) << shift)
    value[first:last + 1] = chunk.to_bytes(last - first + 1, "big")


def _limited(field: _Field, number: int) -> tuple[int, bool]:
    """checkSignedBitfieldOverflow / checkUnsignedBitfieldOverflow, on exact integers:
    (the value to store, whether it overflowed)."""
    bits = field.bits
    low, high = ((-(1 << (bits - 1)), (1 << (bits - 1)) - 1) if field.signed
                 else (0, (1 << bits) - 1))
    if low <= number <= high:
        return number, False
    if field.overflow == b"sat":
        return (high if number > high else low), True
    wrapped = number & ((1 << bits) - 1)
    if field.signed and wrapped >> (bits - 1):
        wrapped -= 1 << bits
    return wrapped, True


def _bitfield(c: Context, argv: list[bytes], read_only: bool) -> bytes:
    fields = _parse_fields(c, argv)
    key = argv[1]
    writes = [f for f in fields if f.op != b"get"]
    if not writes:
        current = get_string(c.db, key, read=True) or b""
        return b"*%d\r\n%s" % (len(fields), b"".join(integer(_read_field(current, f))
                                                      for f in fields))
    if read_only:
        return _RO_WRITE
    grown, existed, grew = _grown(c, key, max(f.offset + f.bits - 1 for f in writes))
    value = bytearray(grown)
    replies = []
    changes = 0
    for field in fields:
        old = _read_field(value, field)
        if field.op == b"get":
            replies.append(integer(old))
            continue
        if field.op == b"incrby":
            new, overflowed = _limited(field, old + field.value)
            reply = new
        else:  # an unsigned field takes the value as C's uint64_t cast makes it
            set_to = field.value if field.signed else field.value & ((1 << 64) - 1)
            new, overflowed = _limited(field, set_to)
            reply = old
        if overflowed and field.overflow == b"fail":
            replies.append(c.resp.null)
            continue
        replies.append(integer(reply))
        _write_field(value, field, new)
        if grew or old != new:
            changes += 1
    if changes or grew:  # Redis makes room before it writes, even when every write fails
        _save(c, key, bytes(value), existed)
    if changes:
        c.notify(STRING, b"setbit", key)
    return b"*%d\r\n%s" % (len(replies), b"".join(replies))


@command("bitfield")
def bitfield(c: Context, argv: list[bytes]) -> bytes:
    return _bitfield(c, argv, False)


@command("bitfield_ro")
def bitfield_ro(c: Context, argv: list[bytes]) -> bytes:
    return _bitfield(c, argv, True)
