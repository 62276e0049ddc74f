"""Differential tests of DEBUG and MODULE against redis-server 7.0.15 (debug.c, module.c).

DEBUG DIGEST must be Redis's, byte for byte, for the same dataset of every type (strings,
lists, sets, hashes and sorted sets in both their encodings, streams with tombstones,
expiring keys, several databases): replication and AOF tests compare the two servers with it.
PROTOCOL's replies are compared as bytes in RESP2 and RESP3, and so are HELP, the errors,
the refusals of the protected commands and the shape of DEBUG OBJECT's line.
"""

from __future__ import annotations

import random
import re
import socket
import threading
import time

import pytest

from tests.compat.resp import RawConnection, read_reply
from tests.support import start_redis, start_valkdb

_DEBUG_ON = ("--enable-debug-command", "yes", "--enable-module-command", "yes")


@pytest.fixture(scope="module")
def pair():
    ours = start_valkdb(*_DEBUG_ON)
    try:
        theirs = start_redis(*_DEBUG_ON)
    except Exception:
        ours.stop()
        raise
    yield ours, theirs
    ours.stop()
    theirs.stop()


@pytest.fixture(params=[2, 3], ids=["resp2", "resp3"])
def conns(request, pair):
    connections = [RawConnection(server.port) for server in pair]
    for conn in connections:
        conn.call(b"HELLO", b"%d" % request.param)
        assert conn.call(b"FLUSHALL") == b"+OK\r\n"
    yield connections
    for conn in connections:
        conn.call(b"SELECT", b"0")
        conn.close()


def both(conns, *args: bytes) -> tuple[bytes, bytes]:
    ours, theirs = conns
    return ours.call(*args), theirs.call(*args)


def same(conns, *args: bytes) -> bytes:
    ours, theirs = both(conns, *args)
    assert ours == theirs, (args, ours, theirs)
    return ours


# -- DIGEST -------------------------------------------------------------------------------------

def _dataset(seed: int) -> list[tuple[bytes, ...]]:
    """Commands building keys of every type and encoding, with deadlines and several dbs."""
    rng = random.Random(seed)

    def word() -> bytes:
        kind = rng.randrange(4)
        if kind == 0:
            return b"%d" % rng.randrange(-10**6, 10**6)
        if kind == 1:
            return bytes(rng.randrange(256) for _ in range(rng.randrange(0, 12)))
        if kind == 2:
            return b"w" * rng.randrange(60, 200)
        return b"m%d" % rng.randrange(1000)

    commands: list[tuple[bytes, ...]] = []
    for i in range(rng.randrange(5, 15)):
        key = b"k%d" % i
        kind = rng.randrange(7)
        count = rng.choice([1, 3, 20, 200])
        if kind == 0:
            commands.append((b"SET", key, word()))
        elif kind == 1:
            commands.append((b"RPUSH", key, *[word() for _ in range(count)]))
            commands.append((b"LPUSH", key, word()))
        elif kind == 2:
            if rng.random() < 0.5:
                commands.append((b"SADD", key, *[b"%d" % rng.randrange(10**4)
                                                 for _ in range(count)]))
            else:
                commands.append((b"SADD", key, *[word() for _ in range(count)]))
        elif kind == 3:
            flat = [part for _ in range(count) for part in (word(), word())]
            commands.append((b"HSET", key, *flat))
        elif kind == 4:
            scores = [b"%d" % rng.randrange(-50, 50), b"%.3f" % rng.uniform(-1e3, 1e3),
                      b"0.1", b"1e300", b"-inf", b"inf", b"3.0000000000000004", b"-0"]
            flat = [part for _ in range(count) for part in (rng.choice(scores), word())]
            commands.append((b"ZADD", key, *flat))
        elif kind == 5:
            for n in range(count):
                fields = [part for f in range(rng.randrange(1, 4))
                          for part in (b"f%d" % f, word())]
                commands.append((b"XADD", key, b"%d-%d" % (n + 1, rng.randrange(3)), *fields))
            if count > 1:
                commands.append((b"XDEL", key, b"1-0", b"1-1", b"1-2"))
        else:
            commands.append((b"SET", key, b"12345"))
            commands.append((b"INCRBY", key, b"%d" % rng.randrange(10**6)))
        if rng.random() < 0.3:
            commands.append((b"EXPIRE", key, b"1000"))
    commands.append((b"SELECT", b"%d" % rng.randrange(1, 4)))
    commands.append((b"SET", b"elsewhere", word()))
    commands.append((b"SELECT", b"0"))
    return commands


@pytest.mark.parametrize("seed", range(12))
def test_digest_equals_redis(conns, seed):
    assert same(conns, b"DEBUG", b"DIGEST") == b"+" + b"0" * 40 + b"\r\n"
    commands = _dataset(seed)
    for command in commands:
        ours, theirs = both(conns, *command)
        assert (ours[:1] == b"-") == (theirs[:1] == b"-"), (command, ours, theirs)
    keys = sorted({command[1] for command in commands if command[0] != b"SELECT"})
    same(conns, b"DEBUG", b"DIGEST-VALUE", *keys, b"missing")
    digest = same(conns, b"DEBUG", b"DIGEST")
    assert digest != b"+" + b"0" * 40 + b"\r\n"


@pytest.mark.parametrize("setup", [
    [(b"SET", b"k", b"v")],
    [(b"SET", b"k", b"v"), (b"EXPIRE", b"k", b"100")],
    [(b"RPUSH", b"k", b"a", b"b", b"c")],
    [(b"RPUSH", b"k", b"c", b"b", b"a")],
    [(b"SADD", b"k", b"1", b"2", b"3")],
    [(b"SADD", b"k", b"x", b"y", b"z")],
    [(b"HSET", b"k", b"f", b"1", b"g", b"2")],
    [(b"ZADD", b"k", b"1", b"a", b"2.5", b"b")],
    [(b"CONFIG", b"SET", b"zset-max-listpack-entries", b"0"),
     (b"ZADD", b"k", b"1", b"a", b"2.5", b"b", b"-inf", b"c")],
    [(b"XADD", b"k", b"1-1", b"f", b"v"), (b"XADD", b"k", b"2-0", b"f", b"w", b"g", b"x")],
    [(b"XADD", b"k", b"1-1", b"f", b"v"), (b"XGROUP", b"CREATE", b"k", b"g", b"0")],
    [(b"SELECT", b"5"), (b"SET", b"k", b"v")],
])
def test_digest_of_each_type(conns, setup):
    try:
        for command in setup:
            same(conns, *command)
        same(conns, b"DEBUG", b"DIGEST")
        same(conns, b"DEBUG", b"DIGEST-VALUE", b"k")
    finally:
        for conn in conns:
            conn.call(b"CONFIG", b"SET", b"zset-max-listpack-entries", b"128")


def test_digest_counts_keys_past_their_deadline(conns):
    for conn in conns:
        conn.call(b"DEBUG", b"SET-ACTIVE-EXPIRE", b"0")
    try:
        same(conns, b"SET", b"k", b"v", b"PX", b"1")
        time.sleep(0.05)
        same(conns, b"DEBUG", b"DIGEST-VALUE", b"k")
        same(conns, b"DEBUG", b"DIGEST")
    finally:
        for conn in conns:
            conn.call(b"DEBUG", b"SET-ACTIVE-EXPIRE", b"1")


# -- PROTOCOL, HELP, errors ------------------------------------------------------------------

@pytest.mark.parametrize("kind", [b"string", b"integer", b"double", b"bignum", b"null",
                                  b"array", b"set", b"map", b"attrib", b"push", b"verbatim",
                                  b"true", b"false", b"STRING", b"nope"])
def test_protocol_replies_byte_for_byte(conns, kind):
    ours, theirs = both(conns, b"DEBUG", b"PROTOCOL", kind)
    if ours[:1] in b"|>":  # an attribute or a push, then the real reply
        ours += read_reply(conns[0].stream)
        theirs += read_reply(conns[1].stream)
    assert ours == theirs
    same(conns, b"PING")  # nothing left over in either stream


@pytest.mark.parametrize("args", [
    (b"HELP",), (b"help",), (b"HELP", b"x"), (b"nosuch",), (b"OBJECT",), (b"object", b"nokey"),
    (b"DIGEST", b"x"), (b"POPULATE", b"-1"), (b"POPULATE", b"x"), (b"POPULATE", b"1", b"p",
                                                                   b"-3"),
    (b"POPULATE", b"1", b"p", b"1", b"x"), (b"PROTOCOL",), (b"SLEEP",), (b"ERROR", b"oops"),
    (b"ERROR", b"a\r\nb"), (b"ERROR", b"WRONGTYPE x"), (b"RELOAD", b"bogus"),
    (b"HTSTATS", b"x"), (b"HTSTATS", b"99"), (b"HTSTATS", b"-1"), (b"HTSTATS-KEY", b"nokey"),
    (b"SDSLEN", b"nokey"), (b"LISTPACK", b"nokey"), (b"QUICKLIST", b"nokey"),
    (b"QUICKLIST-PACKED-THRESHOLD", b"5gb"), (b"QUICKLIST-PACKED-THRESHOLD", b"x"),
    (b"QUICKLIST-PACKED-THRESHOLD", b"0"), (b"STRUCTSIZE",),
    (b"CLIENT-EVICTION",), (b"CLUSTERLINK", b"KILL", b"to", b"x"), (b"CLUSTERLINK", b"x", b"y"),
    (b"DROP-CLUSTER-PACKET-FILTER", b"x"), (b"RESTART", b"x"), (b"REPLYBUFFER", b"x", b"y"),
    (b"REPLYBUFFER", b"PEAK-RESET-TIME", b"x"), (b"REPLYBUFFER", b"resizing", b"1"),
    (b"MALLCTL", b"nosuch.key"), (b"MALLCTL-STR", b"nosuch.key"), (b"JMAP",),
    (b"DICT-RESIZING", b"1"), (b"CONFIG-REWRITE-FORCE-ALL",), (b"LOG", b"hello"),
    (b"LEAK", b"x"), (b"SET-DISABLE-DENY-SCRIPTS", b"0"), (b"PAUSE-CRON", b"0"),
    (b"AOF-FLUSH-SLEEP", b"0"), (b"DIGEST-VALUE",), (b"SLEEP", b"0"), (b"SLEEP", b"x"),
])
def test_replies_and_errors_byte_for_byte(conns, args):
    same(conns, b"DEBUG", *args)


def test_stringmatch_test(pair):
    """Redis really runs its glob fuzzer here, which takes seconds."""
    connections = [RawConnection(server.port, timeout=120) for server in pair]
    same(connections, b"DEBUG", b"STRINGMATCH-TEST")
    for conn in connections:
        conn.close()


def test_arity_and_module(conns):
    same(conns, b"DEBUG")
    for args in ((b"HELP",), (b"LIST",), (b"LIST", b"x"), (b"LOAD", b"/nonexistent.so"),
                 (b"LOADEX", b"/nonexistent.so", b"CONFIG", b"a", b"b"), (b"UNLOAD", b"x"),
                 (b"nosuch",), (b"LOAD",)):
        same(conns, b"MODULE", *args)


def test_keys_for_structure_subcommands(conns):
    same(conns, b"SET", b"str", b"hello")
    same(conns, b"SET", b"int", b"42")
    same(conns, b"RPUSH", b"list", b"a", b"b")
    same(conns, b"HSET", b"hash", b"f", b"v")
    same(conns, b"SADD", b"iset", b"1")
    for args in ((b"SDSLEN", b"str"), (b"SDSLEN", b"int"), (b"SDSLEN", b"list"),
                 (b"LISTPACK", b"hash"), (b"LISTPACK", b"list"), (b"QUICKLIST", b"list"),
                 (b"QUICKLIST", b"hash"), (b"HTSTATS-KEY", b"hash"), (b"HTSTATS-KEY", b"iset"),
                 (b"HTSTATS-KEY", b"str")):
        same(conns, b"DEBUG", *args)


# -- OBJECT ----------------------------------------------------------------------------------

_OBJECT_LINE = re.compile(rb"\+Value at:0x[0-9a-f]+ refcount:(\d+) encoding:(\w+) "
                          rb"serializedlength:(\d+) lru:(\d+) lru_seconds_idle:(\d+)(.*)\r\n")


@pytest.mark.parametrize("setup, exact_length", [
    ((b"SET", b"k", b"hello"), True),
    ((b"SET", b"k", b"123"), True),
    ((b"SET", b"k", b"123456789012"), True),
    ((b"SET", b"k", b"x" * 100), False),  # Redis compresses it with LZF
    ((b"RPUSH", b"k", b"a", b"b", b"1"), False),
    ((b"HSET", b"k", b"f", b"v"), False),
    ((b"SADD", b"k", b"1", b"2"), False),
    ((b"ZADD", b"k", b"1", b"a"), False),
    ((b"XADD", b"k", b"1-1", b"f", b"v"), False),
])
def test_object_line(conns, setup, exact_length):
    same(conns, *setup)
    ours, theirs = both(conns, b"DEBUG", b"OBJECT", b"k")
    mine, reference = _OBJECT_LINE.fullmatch(ours), _OBJECT_LINE.fullmatch(theirs)
    assert mine and reference, (ours, theirs)
    assert mine.group(1, 2) == reference.group(1, 2)
    if mine.group(1) == b"1":  # a shared integer keeps the LRU of whoever touched it last
        assert abs(int(mine.group(4)) - int(reference.group(4))) < 5  # the same LRU clock
        # (idle seconds: either server's one-second LRU clock may tick between the commands)
        assert abs(int(mine.group(5)) - int(reference.group(5))) <= 1
    if exact_length:
        assert mine.group(3) == reference.group(3)
    assert mine.group(6) == reference.group(6)  # the quicklist fields


@pytest.mark.parametrize("items", [
    [b"a"] * 3, [b"x" * 10] * 1000, [b"z" * 5000] * 20, [b"%d" % i for i in range(5000)],
])
def test_object_quicklist_fields(conns, items):
    for start in range(0, len(items), 500):
        same(conns, b"RPUSH", b"k", *items[start:start + 500])
    ours, theirs = both(conns, b"DEBUG", b"OBJECT", b"k")
    assert _OBJECT_LINE.fullmatch(ours).group(6) == _OBJECT_LINE.fullmatch(theirs).group(6)


# -- POPULATE, SLEEP, SET-ACTIVE-EXPIRE, RELOAD ------------------------------------------------

@pytest.mark.parametrize("args", [
    (b"10",), (b"5", b"pre"), (b"3", b"p", b"3"), (b"3", b"p", b"20"), (b"2", b"p", b"0"),
    (b"0",), (b"4", b"p\x00hidden"), (b"2", b"x" * 200),
])
def test_populate(conns, args):
    same(conns, b"SET", b"key:1", b"kept")
    same(conns, b"SET", b"pre:1", b"kept")
    same(conns, b"DEBUG", b"POPULATE", *args)
    same(conns, b"DBSIZE")
    keys = sorted(read_reply_list(conns[1].call(b"KEYS", b"*")))
    assert sorted(read_reply_list(conns[0].call(b"KEYS", b"*"))) == keys
    for key in keys:
        same(conns, b"GET", key)
    same(conns, b"DEBUG", b"DIGEST")


def read_reply_list(reply: bytes) -> list[bytes]:
    parts = reply.split(b"\r\n")
    return [parts[i] for i in range(2, len(parts) - 1, 2)]


def test_sleep_blocks_every_client(pair):
    for server in pair:
        sleeper = RawConnection(server.port)
        other = socket.create_connection(("127.0.0.1", server.port), timeout=5)
        thread = threading.Thread(target=sleeper.call, args=(b"DEBUG", b"SLEEP", b"0.5"))
        started = time.monotonic()
        thread.start()
        time.sleep(0.1)
        other.sendall(b"PING\r\n")
        assert other.recv(100) == b"+PONG\r\n"
        waited = time.monotonic() - started
        thread.join()
        assert waited >= 0.45, (server, waited)
        other.close()
        sleeper.close()


def test_set_active_expire(pair):
    for server in pair:
        conn = RawConnection(server.port)
        conn.call(b"FLUSHALL")
        assert conn.call(b"DEBUG", b"SET-ACTIVE-EXPIRE", b"0") == b"+OK\r\n"
        try:
            conn.call(b"SET", b"k", b"v", b"PX", b"20")
            time.sleep(0.4)
            assert conn.call(b"DBSIZE") == b":1\r\n"  # nobody deleted it
            assert conn.call(b"DEBUG", b"SET-ACTIVE-EXPIRE", b"1") == b"+OK\r\n"
            deadline = time.monotonic() + 3
            while conn.call(b"DBSIZE") != b":0\r\n" and time.monotonic() < deadline:
                time.sleep(0.05)
            assert conn.call(b"DBSIZE") == b":0\r\n"
        finally:
            conn.call(b"DEBUG", b"SET-ACTIVE-EXPIRE", b"1")
            conn.close()


def test_reload_keeps_the_data(conns):
    for command in _dataset(99):
        both(conns, *command)
    digest = same(conns, b"DEBUG", b"DIGEST")
    same(conns, b"DEBUG", b"RELOAD")
    assert same(conns, b"DEBUG", b"DIGEST") == digest
    same(conns, b"SET", b"after", b"1")
    same(conns, b"DEBUG", b"RELOAD", b"NOSAVE")  # back to the file: 'after' is gone
    assert same(conns, b"DEBUG", b"DIGEST") == digest
    same(conns, b"SET", b"after", b"1")
    same(conns, b"DEBUG", b"RELOAD", b"NOSAVE", b"NOFLUSH", b"MERGE")
    same(conns, b"EXISTS", b"after")
    same(conns, b"DBSIZE")
    same(conns, b"DEBUG", b"DIGEST")


def test_reload_with_functions(conns):
    code = b"#!lua name=lib\nredis.register_function('f', function() return 1 end)"
    same(conns, b"FUNCTION", b"LOAD", code)
    same(conns, b"DEBUG", b"RELOAD")
    same(conns, b"FCALL", b"f", b"0")
    same(conns, b"DEBUG", b"RELOAD", b"NOSAVE", b"NOFLUSH", b"MERGE")
    same(conns, b"FUNCTION", b"LIST")
    same(conns, b"FUNCTION", b"FLUSH")


def test_skip_checksum_validation(conns):
    same(conns, b"SET", b"k", b"value")
    payload = conns[1].call(b"DUMP", b"k")
    body = payload[payload.index(b"\r\n") + 2:-2]
    broken = body[:-1] + bytes([body[-1] ^ 1])
    same(conns, b"RESTORE", b"r", b"0", broken)
    try:
        same(conns, b"DEBUG", b"SET-SKIP-CHECKSUM-VALIDATION", b"1")
        same(conns, b"RESTORE", b"r", b"0", broken)
        same(conns, b"GET", b"r")
    finally:
        same(conns, b"DEBUG", b"SET-SKIP-CHECKSUM-VALIDATION", b"0")


# -- who may run them ------------------------------------------------------------------------

@pytest.mark.parametrize("options", [(), ("--enable-debug-command", "no"),
                                     ("--enable-debug-command", "local",
                                      "--enable-module-command", "local")])
def test_protected_commands_refused(options):
    ours, theirs = start_valkdb(*options), start_redis(*options)
    try:
        connections = [RawConnection(ours.port), RawConnection(theirs.port)]
        for args in ((b"DEBUG", b"HELP"), (b"DEBUG", b"SLEEP", b"0"), (b"DEBUG",),
                     (b"MODULE", b"LIST"), (b"MODULE", b"HELP"), (b"MODULE", b"LOAD", b"x"),
                     (b"MODULE", b"UNLOAD", b"x"), (b"MODULE", b"LOADEX", b"x"),
                     (b"MULTI",), (b"DEBUG", b"DIGEST"), (b"EXEC",)):
            same(connections, *args)
        for conn in connections:
            conn.close()
    finally:
        ours.stop()
        theirs.stop()


def test_refusal_comes_before_authentication():
    options = ("--requirepass", "secret")
    ours, theirs = start_valkdb(*options), start_redis(*options)
    try:
        connections = [RawConnection(ours.port), RawConnection(theirs.port)]
        same(connections, b"DEBUG", b"HELP")
        same(connections, b"MODULE", b"LOAD", b"x")
        same(connections, b"MODULE", b"LIST")
        for conn in connections:
            conn.close()
    finally:
        ours.stop()
        theirs.stop()
