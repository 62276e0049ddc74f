"""Raw bytes on the wire, valkdb against the real redis-server: every reply must be identical.

Bad input is where a server is most easily different: protocol errors must be answered with the
same text and the connection closed, after answering the commands that came before the error in
the same packet; harmless oddities (empty lines, `*0`, `*-10`) must be ignored. The cases are
Redis's own (tests/unit/protocol.tcl, tests/unit/auth.tcl) plus the limits of src/networking.c.
"""

from __future__ import annotations

import re
import socket
import time

import pytest
import redis

from tests.support import converse, server_pair

PING = b"*1\r\n$4\r\nPING\r\n"

CLOSING = {
    "invalid multibulk length (3000000000)": b"*3000000000\r\n",
    "invalid multibulk length (INT_MAX+1)": b"*2147483648\r\n",
    "invalid multibulk length (letters)": b"*abc\r\n",
    "invalid multibulk length (leading zero)": b"*01\r\n$4\r\nPING\r\n",
    "invalid multibulk length (plus sign)": b"*+1\r\n$4\r\nPING\r\n",
    "invalid multibulk length (space)": b"*1 \r\n$4\r\nPING\r\n",
    "invalid multibulk length (-0)": b"*-0\r\n",
    "invalid bulk length (-10)": b"*1\r\n$-10\r\n",
    "invalid bulk length (-1)": b"*1\r\n$-1\r\n",
    "invalid bulk length (2000000000)": b"*1\r\n$2000000000\r\n",
    "invalid bulk length (over proto-max-bulk-len)": b"*1\r\n$536870913\r\n",
    "invalid bulk length (letters)": b"*1\r\n$blabla\r\n",
    "invalid bulk length (leading zero)": b"*1\r\n$04\r\nPING\r\n",
    "expected $ got f": b"*1\r\nfoo\r\n",
    "expected $ got +": b"*1\r\n+PING\r\n",
    "expected $ got :": b"*2\r\n$4\r\nECHO\r\n:1\r\n",
    "expected $ got *": b"*2\r\n$4\r\nPING\r\n*1\r\n$4\r\nPING\r\n",
    "unbalanced double quotes": b'set """test-key""" test-value\r\n',
    "unbalanced single quote": b"ping 'abc\r\n",
    "text after closing quote": b'ping "a"b\r\n',
    "too big inline request": b"x" * (64 * 1024 + 10),
    "too big mbulk count string": b"*" + b"1" * (64 * 1024 + 10),
    "too big bulk count string": b"*1\r\n$" + b"1" * (64 * 1024 + 10),
}


@pytest.fixture(scope="module")
def both(valkdb_server, redis_server):
    """(valkdb port, redis port)."""
    return valkdb_server.port, redis_server.port


def same_reply(both, payload: bytes, closes: bool) -> bytes:
    """The same bytes from both servers, but for the client id in a HELLO reply."""
    valkdb_port, redis_port = both
    expected = converse(redis_port, payload, closes)
    assert _HELLO_ID.sub(b"id:N", converse(valkdb_port, payload, closes)) == _HELLO_ID.sub(
        b"id:N", expected)
    return expected


_HELLO_ID = re.compile(rb"\$2\r\nid\r\n:\d+")


@pytest.mark.parametrize("payload", CLOSING.values(), ids=CLOSING.keys())
def test_protocol_error_closes_after_earlier_commands(both, payload):
    reply = same_reply(both, PING + b"ECHO before\r\n" + payload, closes=True)
    assert reply.startswith(b"+PONG\r\n$6\r\nbefore\r\n-ERR Protocol error: ")


@pytest.mark.parametrize("payload", CLOSING.values(), ids=CLOSING.keys())
def test_protocol_error_split_over_packets(both, payload):
    """The same error when the bad request arrives a few bytes at a time."""
    expected = converse(both[1], payload, closes=True)
    for port in both:
        assert trickle(port, payload) == expected, port


def trickle(port: int, payload: bytes) -> bytes:
    """Send the first 40 bytes 3 at a time, then the rest; return all bytes until the close."""
    received = b""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        try:
            for i in range(0, min(len(payload), 40), 3):
                sock.sendall(payload[i : i + 3])
                time.sleep(0.001)
            sock.sendall(payload[40:])
        except OSError:
            pass  # closed by the server after the error
        try:
            while data := sock.recv(4096):
                received += data
        except ConnectionResetError:
            pass
    return received


IGNORED = {
    "empty query": b"\r\n",
    "empty lines": b"\r\n\n\r\n   \r\n",
    "zero multibulk": b"*0\r\n",
    "negative multibulk": b"*-10\r\n",
    "minus one multibulk": b"*-1\r\n",
    "bulk CRLF not checked": b"*1\r\n$4\r\nPINGxx",
    "LF-only inline": b"ping\n",
    "tabs and spaces": b" \t ping \t \r\n",
}


@pytest.mark.parametrize("payload", IGNORED.values(), ids=IGNORED.keys())
def test_harmless_input_keeps_the_connection(both, payload):
    same_reply(both, payload + PING, closes=False)


INLINE = [
    b'ping "a\\x41b"', b'ping "\\x4"', b'ping "\\xZZ"', b'ping "\\n\\r\\t\\b\\a\\q"',
    b"ping 'a\\'b'", b"ping 'a\\nb'", b'ping ""', b'echo a"b c" ', b"set k 'v v'", b"get k",
    b'echo "\\xff\\x00"', b"ping a b c",
]


@pytest.mark.parametrize("line", INLINE, ids=[repr(line) for line in INLINE])
def test_inline_commands(both, line):
    same_reply(both, b"del k\r\n" + line + b"\r\n", closes=False)


COMMAND_ERRORS = {
    "unknown command": b"nosuchcommand a b\r\n",
    "unknown command, long name": b"x" * 300 + b" a\r\n",
    "unknown command, long args": b"nosuch " + b"a" * 100 + b" " + b"b" * 100 + b" c\r\n",
    "unknown command, many args": b"nosuch " + b"ab " * 100 + b"\r\n",
    "unknown command, CR LF in name": b"*2\r\n$8\r\nno\r\nsu\nc\r\n$3\r\na\rb\r\n",
    "unknown command, empty name": b"*1\r\n$0\r\n\r\n",
    "unknown command, binary": b'"\\x01\\xff" "\\x00" "a\\x00b"\r\n',
    "unknown command, NUL in name": b'"ab\\x00cd" x\r\n',
    "unknown subcommand, NUL": b'client "ab\\x00cd"\r\n',
    "wrong arity": b"get\r\n",
    "wrong arity, upper": b"GET a b\r\n",
    "wrong arity, ping": b"ping a b\r\n",
    "unknown subcommand": b"client nosuch\r\n",
    "unknown subcommand, long": b"client " + b"y" * 300 + b"\r\n",
    "unknown subcommand, CR LF": b"*2\r\n$6\r\nclient\r\n$4\r\na\r\nb\r\n",
    "container without subcommand": b"client\r\n",
    "subcommand wrong arity": b"client id x\r\n",
}


@pytest.mark.parametrize("payload", COMMAND_ERRORS.values(), ids=COMMAND_ERRORS.keys())
def test_command_errors_keep_the_connection(both, payload):
    assert same_reply(both, payload + PING, closes=False).endswith(b"+PONG\r\n")


@pytest.mark.parametrize("prefix", [b"\x00", b"*\x00", b"$\x00"])
def test_protocol_desync_regression(both, prefix):
    """Redis's 'Protocol desync regression test': garbage must end in a close, not a hang."""
    for port in both:
        with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
            sock.sendall(prefix)
            received = b""
            for _ in range(200):  # 200 KB: the 64 KB inline limit must trigger well before
                try:
                    sock.sendall(b"A" * 1023 + b"\n")
                except OSError:
                    break
            sock.settimeout(10)
            try:
                while data := sock.recv(4096):
                    received += data
            except ConnectionResetError:
                pass
        assert b"Protocol error" in received, port


def test_pipeline_of_ten_thousand_commands_in_one_write(both):
    payload = b"DEL pipelined\r\n" + b"*2\r\n$4\r\nINCR\r\n$9\r\npipelined\r\n" * 10_000
    reply = same_reply(both, payload, closes=False)
    assert reply.endswith(b":10000\r\n")


def test_garbage_from_one_client_does_not_disturb_another(valkdb_server):
    client = redis.Redis(port=valkdb_server.port, socket_timeout=5)
    with socket.create_connection(("127.0.0.1", valkdb_server.port), timeout=5) as bad:
        bad.sendall(b"\x00")
        for i in range(120):  # 60 KB without a newline, just under the 64 KB inline limit
            bad.sendall(b"\xfe" * 512)
            if i % 10 == 0:
                assert client.set("calm", i) is True
                assert client.get("calm") == b"%d" % i
                assert client.ping() is True
        try:
            bad.sendall(b"\xfe" * 8192)
        except OSError:
            pass
        assert b"Protocol error: too big inline request" in bad.recv(4096)
    assert client.echo("still here") == b"still here"
    client.close()


# -- servers with limits: requirepass and a 1 MB query buffer ------------------------------------

LIMITS = ("--requirepass", "pw", "--client-query-buffer-limit", "1mb")


@pytest.fixture(scope="module")
def strict():
    """(valkdb port, redis port) of servers started with a password and a 1 MB query buffer."""
    with server_pair(*LIMITS) as (valkdb, reference):
        yield valkdb.port, reference.port


def multibulk(*args: bytes) -> bytes:
    return b"*%d\r\n" % len(args) + b"".join(b"$%d\r\n%s\r\n" % (len(a), a) for a in args)


UNAUTHENTICATED = {
    "10 arguments": (multibulk(*[b"a"] * 10), False),
    "11 arguments": (multibulk(*[b"a"] * 11), True),
    "16384 byte argument": (multibulk(b"x" * 16384), False),
    "16385 byte argument": (multibulk(b"x" * 16385), True),
    "NOAUTH": (multibulk(b"GET", b"k") + b"set k v\r\n", False),
    "HELLO 3 NOAUTH": (b"hello 3\r\nhello 3 auth default wrong\r\n", False),
    "WRONGPASS": (multibulk(b"AUTH", b"wrong") + b"auth nobody pw\r\n", False),
}
# Redis parses command by command: the limits no longer apply to what follows AUTH in the packet.
PARSED_BEFORE_AUTH = {
    "limits lifted by AUTH": (
        b"auth pw\r\n" + multibulk(*[b"a"] * 11) + multibulk(b"ECHO", b"x" * 16385), False),
    "limits lifted by HELLO AUTH": (
        b"hello 2 auth default pw\r\n" + multibulk(b"ECHO", b"x" * 16385), False),
}


@pytest.mark.parametrize(
    "payload, closes", UNAUTHENTICATED.values(), ids=UNAUTHENTICATED.keys())
def test_unauthenticated_length_limits(strict, payload, closes):
    same_reply(strict, payload, closes)


@pytest.mark.parametrize(
    "payload, closes", PARSED_BEFORE_AUTH.values(), ids=PARSED_BEFORE_AUTH.keys())
def test_limits_lifted_by_auth_in_the_same_packet(strict, payload, closes):
    same_reply(strict, payload, closes)


def test_query_buffer_limit_closes_without_reply(strict):
    partial = b"*2\r\n$4\r\nECHO\r\n$3000000\r\n" + b"x" * 2_000_000
    for port in strict:
        with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
            sock.sendall(b"AUTH pw\r\n")
            assert sock.recv(100) == b"+OK\r\n"
            received = b""
            try:
                sock.sendall(partial)
                while data := sock.recv(4096):
                    received += data
            except (ConnectionResetError, BrokenPipeError):
                pass
        assert received == b"", port


@pytest.mark.parametrize("payload", [b"POST / HTTP/1.1\r\n", b"PING\r\nHost: x\r\n"])
def test_cross_protocol_attack_closes_without_reply(both, payload):
    assert converse(both[1], payload, closes=True) == b""
    assert converse(both[0], payload, closes=True, timeout=1) == b""
