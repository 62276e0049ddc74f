"""LZF decompression (liblzf's lzf_d.c), for the compressed strings Redis writes in RDB files.

Redis compresses every string longer than 20 bytes that shrinks (rdbcompression yes, the
default), listpacks and ziplists included, so loading its files needs this; valkdb writes
uncompressed strings and has no use for the compressor.

The stream is a sequence of tokens. A control byte below 32 starts a literal run of ctrl + 1
bytes; otherwise its top 3 bits are a back-reference length - 2 (7: one more length byte
follows) and its low 5 bits, with the next byte, the distance - 1 back into the output.
"""

from __future__ import annotations


class LZFError(ValueError):
    """The compressed data is corrupt or does not expand to the announced length."""


def decompress(data: bytes, length: int) -> bytes:
    """The `length` bytes that data expands to."""
    out = bytearray()
    size = len(data)
    i = 0
    while i < size:
        ctrl = data[i]
        i += 1
        if ctrl < 32:
            end = i + ctrl + 1
            if end > size:
                raise LZFError("literal run past the end of the input")
            out += data[i:end]
            i = end
            continue
        count = ctrl >> 5
        if count == 7:
            if i >= size:
                raise LZFError("back-reference length past the end of the input")
            count += data[i]
            i += 1
        if i >= size:
            raise LZFError("back-reference offset past the end of the input")
        start = len(out) - ((ctrl & 0x1F) << 8) - data[i] - 1
        i += 1
        if start < 0:
            raise LZFError("back-reference before the start of the output")
        count += 2
        distance = len(out) - start
        if count <= distance:
            out += out[start:start + count]
        else:  # the copy overlaps what it produces: a repeating pattern
            pattern = out[start:]
            out += (pattern * (count // distance + 1))[:count]
    if len(out) != length:
        raise LZFError(f"expanded to {len(out)} bytes instead of {length}")
    return bytes(out)
