"""RequestReader without sockets: every command must come out whole, whatever the chunking.

The reader has two parsers - hiredis's C parser for whole buffers of canonical multibulk requests
and an exact pure-Python parser for everything else - so the properties that matter are that the
result never depends on how the bytes were split into feeds, and that both paths agree. Redis's
limits and error texts are checked against the real server in test_wire.py; here they are checked
for the reader alone (chunk by chunk), including the cases Redis's sdssplitargs defines.
"""

from __future__ import annotations

import os
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from valkdb.protocol.reader import (
    INLINE_MAX_SIZE,
    QueryBufferOverflow,
    RequestReader,
    parse_length,
    split_args,
)


class PurePythonReader(RequestReader):
    """The same reader with the hiredis fast path switched off."""

    __slots__ = ()

    def _hiredis_commands(self, buf: bytes) -> None:
        return None


def multibulk(*args: bytes) -> bytes:
    return b"*%d\r\n" % len(args) + b"".join(b"$%d\r\n%s\r\n" % (len(a), a) for a in args)


def read_all(data: bytes, cuts: list[int] = (), reader_class=RequestReader, **limits):
    """Feed data split at `cuts`, reading after every feed; return (commands, error)."""
    reader = reader_class(**limits)
    commands = []
    start = 0
    for cut in sorted(set(cuts)) + [len(data)]:
        if cut <= start:
            continue
        reader.feed(data[start:cut])
        commands += reader.read()
        start = cut
    return commands, reader.error


def byte_by_byte(data: bytes, reader_class=RequestReader):
    return read_all(data, list(range(1, len(data))), reader_class)


# -- well-formed requests -------------------------------------------------------------------------


def test_one_command_in_one_feed():
    assert read_all(multibulk(b"SET", b"k", b"v")) == ([[b"SET", b"k", b"v"]], None)


@pytest.mark.parametrize("reader_class", [RequestReader, PurePythonReader])
def test_byte_by_byte_pipeline(reader_class):
    data = multibulk(b"SET", b"k", b"v") + b"PING\r\n" + multibulk(b"GET", b"k\r\n\x00")
    expected = [[b"SET", b"k", b"v"], [b"PING"], [b"GET", b"k\r\n\x00"]]
    assert byte_by_byte(data, reader_class) == (expected, None)


def test_partial_command_waits_for_the_rest():
    reader = RequestReader()
    reader.feed(b"*2\r\n$3\r\nGET\r\n$1\r")
    assert reader.read() == []
    assert reader.pending() > 0
    reader.feed(b"\nk\r\n")
    assert reader.read() == [[b"GET", b"k"]]
    assert reader.pending() == 0


def test_pipeline_of_many_commands_in_one_feed():
    data = multibulk(b"INCR", b"n") * 10_000
    commands, error = read_all(data)
    assert error is None
    assert commands == [[b"INCR", b"n"]] * 10_000


def test_big_bulk_over_many_feeds_is_linear():
    value = bytes(range(256)) * 40_000  # 10 MB
    data = multibulk(b"SET", b"k", value)
    started = time.monotonic()
    commands, error = read_all(data, list(range(1000, len(data), 1000)))  # 10,000 feeds
    assert time.monotonic() - started < 5
    assert error is None and commands == [[b"SET", b"k", value]]


def test_many_arguments_over_many_feeds():
    args = [b"%d" % i for i in range(50_000)]
    data = multibulk(b"RPUSH", *args)
    commands, error = read_all(data, list(range(7, len(data), 997)))
    assert error is None and commands == [[b"RPUSH", *args]]


def test_empty_and_negative_multibulk_and_empty_lines_are_ignored():
    data = b"*0\r\n*-10\r\n\r\n\n   \r\n" + multibulk(b"PING")
    assert byte_by_byte(data) == ([[b"PING"]], None)


def test_bulk_crlf_is_skipped_unchecked():
    # Redis skips the two bytes after a bulk's data without looking at them.
    assert read_all(b"*1\r\n$4\r\nPINGxx" + b"PING\r\n") == ([[b"PING"], [b"PING"]], None)


# -- errors ---------------------------------------------------------------------------------------

ERRORS = [
    (b"*3000000000\r\n", b"invalid multibulk length"),
    (b"*abc\r\n", b"invalid multibulk length"),
    (b"*01\r\n", b"invalid multibulk length"),
    (b"*-0\r\n", b"invalid multibulk length"),
    (b"*1\r\n$-10\r\n", b"invalid bulk length"),
    (b"*1\r\n$-1\r\n", b"invalid bulk length"),
    (b"*1\r\n$2000000000\r\n", b"invalid bulk length"),
    (b"*1\r\n$x\r\n", b"invalid bulk length"),
    (b"*1\r\n$ 4\r\n", b"invalid bulk length"),
    (b"*1\r\n$04\r\nPING\r\n", b"invalid bulk length"),
    (b"*1\r\n$+4\r\nPING\r\n", b"invalid bulk length"),
    (b"*1\r\n$4 \r\nPING\r\n", b"invalid bulk length"),
    (b"*+1\r\n$4\r\nPING\r\n", b"invalid multibulk length"),
    (b"*1 \r\n$4\r\nPING\r\n", b"invalid multibulk length"),
    (b"*1\r\nfoo\r\n", b"expected '$', got 'f'"),
    (b"*1\r\n+foo\r\n", b"expected '$', got '+'"),
    (b"*1\r\n:1\r\n", b"expected '$', got ':'"),
    (b"*2\r\n$4\r\nPING\r\n*1\r\n", b"expected '$', got '*'"),
    (b'ping "a\r\n', b"unbalanced quotes in request"),
    (b"ping 'a'b\r\n", b"unbalanced quotes in request"),
    (b"x" * (INLINE_MAX_SIZE + 1), b"too big inline request"),
    (b"*" + b"1" * INLINE_MAX_SIZE, b"too big mbulk count string"),
    (b"*1\r\n$" + b"1" * INLINE_MAX_SIZE, b"too big bulk count string"),
]


@pytest.mark.parametrize("data, error", ERRORS, ids=[repr(d[:24]) for d, _ in ERRORS])
@pytest.mark.parametrize("reader_class", [RequestReader, PurePythonReader])
def test_protocol_errors(data, error, reader_class):
    before = multibulk(b"PING")
    assert read_all(before + data, reader_class=reader_class) == ([[b"PING"]], error)
    # In small pieces: the same commands before it, the same error.
    cuts = list(range(1, len(before) + len(data), 4096 if len(data) > 1000 else 1))
    assert read_all(before + data, cuts, reader_class) == ([[b"PING"]], error)


def test_nothing_is_read_after_an_error():
    reader = RequestReader()
    reader.feed(b"*x\r\n")
    assert reader.read() == [] and reader.error == b"invalid multibulk length"
    reader.feed(multibulk(b"PING"))
    assert reader.read() == []


def test_bulk_longer_than_proto_max_bulk_len():
    data = multibulk(b"SET", b"k", b"x" * 101)
    assert read_all(data, max_bulk_len=100) == ([], b"invalid bulk length")
    assert read_all(data, max_bulk_len=101) == ([[b"SET", b"k", b"x" * 101]], None)


@pytest.mark.parametrize("reader_class", [RequestReader, PurePythonReader])
def test_unauthenticated_limits(reader_class):
    def unauthenticated(data):
        reader = reader_class()
        reader.authenticated = False
        reader.feed(data)
        return reader.read(), reader.error

    ten = [b"a"] * 10
    assert unauthenticated(multibulk(*ten)) == ([ten], None)
    assert unauthenticated(multibulk(*ten, b"a")) == ([], b"unauthenticated multibulk length")
    assert unauthenticated(multibulk(b"x" * 16384)) == ([[b"x" * 16384]], None)
    assert unauthenticated(multibulk(b"x" * 16385)) == ([], b"unauthenticated bulk length")


def test_desync_garbage_waits_then_fails_at_the_inline_limit():
    # Redis's "Protocol desync regression": a NUL hides the newlines from strchr.
    for prefix in (b"\x00", b"*\x00", b"$\x00"):
        reader = RequestReader()
        reader.feed(prefix)
        for _ in range(100):
            reader.feed(b"A" * 1024 + b"\r\n")
            assert reader.read() == []
        assert reader.error is not None and reader.error.startswith(b"too big")


def test_query_buffer_limit():
    reader = RequestReader(query_buffer_limit=1000)
    reader.feed(b"*1\r\n$2000\r\n" + b"x" * 900)
    with pytest.raises(QueryBufferOverflow):
        reader.feed(b"x" * 200)


def test_huge_multibulk_count_does_not_stall():
    # hiredis preallocates a list of the announced size: *300000000 took seconds and gigabytes.
    started = time.monotonic()
    for count in (b"99999999", b"300000000", b"2147483647"):
        for data in (b"*%s\r\n" % count, multibulk(b"PING") + b"*1\r\n*%s\r\n" % count):
            read_all(data)
    assert time.monotonic() - started < 1


# -- inline commands (sdssplitargs) ---------------------------------------------------------------

SPLITS = [
    (b"set k v", [b"set", b"k", b"v"]),
    (b"  \t set   k \x0b v \x0c ", [b"set", b"k", b"v"]),
    (b"", []),
    (b"   ", []),
    (b'ping "a\\x41b"', [b"ping", b"aAb"]),
    (b'ping "\\x4"', [b"ping", b"x4"]),
    (b'ping "\\xZZ"', [b"ping", b"xZZ"]),
    (b'ping "\\n\\r\\t\\b\\a\\q\\\\\\""', [b"ping", b'\n\r\t\b\aq\\"']),
    (b"ping 'a\\'b'", [b"ping", b"a'b"]),
    (b"ping 'a\\nb'", [b"ping", b"a\\nb"]),
    (b'ping ""', [b"ping", b""]),
    (b"ping ''", [b"ping", b""]),
    (b'ping a"b c" d', [b"ping", b"ab c", b"d"]),
    (b'ping a"b c"d', None),
    (b'ping "a" b', [b"ping", b"a", b"b"]),
    (b'ping "a"b', None),
    (b"ping 'a'b", None),
    (b'ping "a', None),
    (b"ping 'a", None),
    (b'ping "a\\"', None),
]


@pytest.mark.parametrize("line, expected", SPLITS, ids=[repr(s) for s, _ in SPLITS])
def test_split_args(line, expected):
    assert split_args(line) == expected


@pytest.mark.parametrize("line, expected", SPLITS, ids=[repr(s) for s, _ in SPLITS])
def test_inline_commands_through_the_reader(line, expected):
    commands, error = byte_by_byte(line + b"\r\n")
    if expected is None:
        assert (commands, error) == ([], b"unbalanced quotes in request")
    else:
        assert (commands, error) == ([expected] if expected else [], None)


def test_split_args_stops_at_nul():
    assert split_args(b"ping a\x00b c") == [b"ping", b"a"]


def test_inline_lf_only_and_inline_then_multibulk():
    assert byte_by_byte(b"ping\nget k\r\n" + multibulk(b"PING")) == (
        [[b"ping"], [b"get", b"k"], [b"PING"]], None)


@pytest.mark.parametrize("text, value", [
    (b"0", 0), (b"12", 12), (b"-3", -3), (b"01", None), (b"-0", None), (b"+1", None),
    (b" 1", None), (b"1 ", None), (b"", None), (b"-", None), (b"1a", None),
    (b"9223372036854775807", 2**63 - 1), (b"9223372036854775808", None),
    (b"-9223372036854775808", -(2**63)), (b"-9223372036854775809", None),
    (b"1" * 21, None), (b"1" * 4301, None), (b"0" * 20, None),
])
def test_parse_length(text, value):
    assert parse_length(text) == value


# -- properties -----------------------------------------------------------------------------------

_TOKENS = st.sampled_from([
    b"*", b"$", b"\r\n", b"\r", b"\n", b"\x00", b"0", b"1", b"2", b"3", b"-1", b"10", b" ",
    b'"', b"'", b"\\x41", b"\\", b"a", b"PING", b"+", b":", b"*1\r\n$4\r\nPING\r\n",
    b"*2\r\n$3\r\nGET\r\n$1\r\nk\r\n", b"*0\r\n", b"*-1\r\n", b"$-1\r\n", b"*1\r\n*1\r\n",
])
_STREAMS = st.lists(
    st.one_of(_TOKENS, st.binary(max_size=8),
              st.lists(st.binary(max_size=6), min_size=1, max_size=4).map(
                  lambda args: multibulk(*args))),
    max_size=30,
).map(b"".join)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=_STREAMS, cuts=st.lists(st.integers(min_value=1, max_value=400), max_size=12))
def test_chunking_never_changes_the_result(data, cuts):
    whole = read_all(data, reader_class=PurePythonReader)
    assert read_all(data) == whole  # hiredis fast path vs exact parser
    assert read_all(data, cuts) == whole
    assert read_all(data, cuts, PurePythonReader) == whole


@settings(max_examples=200, deadline=None)
@given(args=st.lists(st.lists(st.binary(max_size=20), min_size=1, max_size=6), max_size=8),
       cuts=st.lists(st.integers(min_value=1, max_value=600), max_size=10))
def test_well_formed_pipelines_round_trip(args, cuts):
    data = b"".join(multibulk(*argv) for argv in args)
    assert read_all(data) == (args, None)
    assert read_all(data, cuts) == (args, None)
    assert read_all(data, cuts, PurePythonReader) == (args, None)


# -- the fast path is only taken where it reads what the exact parser reads ---------------------

_PIECES = [b"*", b"$", b"\r\n", b"\r", b"\n", b"XY", b"+", b"(", b"=", b":", b"%", b"~", b"|",
           b">", b"-", b"_", b",", b"#", b"0", b"1", b"2", b"3", b"9999", b"txt:", b"a", b"\x00"]


def _read_all(reader_class, data: bytes):
    reader = reader_class()
    reader.feed(data)
    commands = reader.read()
    return commands, reader.error, reader.pending()


_OTHER_ELEMENTS = [b":5\r\n", b"+x\r\n", b"(12\r\n", b"=7\r\ntxt:abc\r\n", b"$-1\r\n",
                   b"_\r\n", b"*1\r\n$1\r\na\r\n", b"%1\r\n+a\r\n+b\r\n", b"~1\r\n+a\r\n",
                   b"-ERR x\r\n", b",1.5\r\n", b"#t\r\n", b"*-1\r\n", b"*0\r\n"]
_element = st.one_of(
    st.binary(max_size=5).map(lambda d: b"$%d\r\n%s\r\n" % (len(d), d)),
    st.tuples(st.binary(max_size=5), st.sampled_from([b"XY", b"\r\n", b"\n\r", b"\r\r"])).map(
        lambda t: b"$%d\r\n%s%s" % (len(t[0]), t[0], t[1])),
    st.sampled_from(_OTHER_ELEMENTS),
)
_request = st.tuples(st.lists(_element, min_size=1, max_size=4), st.integers(-1, 1)).map(
    lambda t: b"*%d\r\n" % (len(t[0]) + t[1]) + b"".join(t[0]))


@settings(max_examples=int(os.environ.get("VALKDB_READER_EXAMPLES", "3000")), deadline=None)
@given(st.lists(_request, min_size=1, max_size=4), st.integers(0, 20))
def test_fast_path_equals_exact_parser(requests, cut):
    """Pipelines of requests whose elements are bulk strings, bulk strings with other bytes
    where the CRLF after the data goes (both parsers skip them), other RESP types, wrong
    counts, and a possibly cut end: hiredis's answer is taken only where it is the exact
    parser's."""
    data = b"".join(requests)
    data = data[: max(1, len(data) - cut)] if cut < 10 else data
    assert _read_all(RequestReader, data) == _read_all(PurePythonReader, data)
