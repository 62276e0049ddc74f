"""The encoder's bytes must be what Redis sends; each encoding is also decoded by hiredis (a
client's parser) to prove it is well-formed and means what the handler meant."""

from __future__ import annotations

import math

import hiredis
import pytest

from valkdb.protocol import encoder
from valkdb.protocol.encoder import RESP2_ENCODER, RESP3_ENCODER


def decode(data: bytes):
    reader = hiredis.Reader()
    reader.feed(data)
    value = reader.gets()
    assert reader.gets() is False, "trailing bytes"
    return value


@pytest.mark.parametrize("n", [-(2**63), -2, -1, 0, 1, 1023, 1024, 2**63 - 1])
def test_integer(n):
    assert encoder.integer(n) == b":%d\r\n" % n
    assert decode(encoder.integer(n)) == n


def test_constants():
    assert (encoder.OK, encoder.PONG, encoder.EMPTY_ARRAY, encoder.EMPTY_BULK) == (
        b"+OK\r\n", b"+PONG\r\n", b"*0\r\n", b"$0\r\n\r\n")
    assert (encoder.ZERO, encoder.ONE, encoder.MINUS_ONE, encoder.MINUS_TWO) == (
        b":0\r\n", b":1\r\n", b":-1\r\n", b":-2\r\n")


@pytest.mark.parametrize("value", [b"", b"a", b"\r\n", b"\x00\xff" * 1000])
def test_bulk_is_binary_safe(value):
    assert encoder.bulk(value) == b"$%d\r\n%s\r\n" % (len(value), value)
    assert decode(encoder.bulk(value)) == value


def test_arrays():
    assert encoder.bulk_array([b"a", b"", b"\r\n"]) == b"*3\r\n$1\r\na\r\n$0\r\n\r\n$2\r\n\r\n\r\n"
    assert decode(encoder.bulk_array([b"a", b"", b"\r\n"])) == [b"a", b"", b"\r\n"]
    assert encoder.array([encoder.ONE, encoder.bulk(b"x")]) == b"*2\r\n:1\r\n$1\r\nx\r\n"
    assert encoder.bulk_array([]) == encoder.array([]) == b"*0\r\n"


@pytest.mark.parametrize("value, text", [
    (1.5, b"1.5"), (0.1, b"0.10000000000000001"), (math.inf, b"inf"), (-math.inf, b"-inf"),
    (3.0, b"3"), (-0.0, b"-0"), (1e300, b"1.0000000000000001e+300"),
])
def test_doubles_as_redis_formats_them(value, text):
    assert encoder.format_double(value) == text
    assert RESP2_ENCODER.double(value) == encoder.bulk(text)
    assert RESP3_ENCODER.double(value) == b",%s\r\n" % text


def test_resp2_spellings():
    resp = RESP2_ENCODER
    assert (resp.null, resp.null_array, resp.true, resp.false) == (
        b"$-1\r\n", b"*-1\r\n", b":1\r\n", b":0\r\n")
    pairs = [(encoder.bulk(b"k"), encoder.ONE)]
    assert resp.map(pairs) == b"*2\r\n$1\r\nk\r\n:1\r\n"
    assert resp.bulk_set([b"a"]) == b"*1\r\n$1\r\na\r\n"
    assert resp.push([encoder.bulk(b"m")]) == b"*1\r\n$1\r\nm\r\n"
    assert resp.verbatim(b"text") == b"$4\r\ntext\r\n"


def test_resp3_spellings():
    resp = RESP3_ENCODER
    assert (resp.null, resp.null_array, resp.true, resp.false) == (
        b"_\r\n", b"_\r\n", b"#t\r\n", b"#f\r\n")
    pairs = [(encoder.bulk(b"k"), encoder.ONE), (encoder.bulk(b"l"), resp.null)]
    assert resp.map(pairs) == b"%2\r\n$1\r\nk\r\n:1\r\n$1\r\nl\r\n_\r\n"
    assert decode(resp.map(pairs)) == {b"k": 1, b"l": None}
    assert resp.bulk_set([b"a", b"b"]) == b"~2\r\n$1\r\na\r\n$1\r\nb\r\n"
    assert resp.push([encoder.bulk(b"m")]) == b">1\r\n$1\r\nm\r\n"
    assert resp.verbatim(b"text") == b"=8\r\ntxt:text\r\n"
    assert decode(resp.true) is True and decode(resp.false) is False
