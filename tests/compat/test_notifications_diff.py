"""Differential tests of keyspace notifications against redis-server 7.0.

On each server a subscriber PSUBSCRIBEs `__key*__:*` (and SUBSCRIBEs a sentinel channel), the
same commands run on a second connection, then the sentinel is published: every frame the
subscriber got before it must be the same, in the same order, byte for byte (RESP2 arrays or
RESP3 pushes, for the subscriber's protocol). The setting is reset to "" afterwards, since the
servers are shared by the whole session.
"""

from __future__ import annotations

import difflib
import time

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.compat.resp import RawConnection, elements, encode_command, read_reply
from tests.compat.test_strings_keys import COMPAT_SETTINGS, sequence
from tests.support import start_redis, start_valkdb

_SENTINEL = b"notifications-test-sentinel"


class Side:
    """One server: a connection that runs commands and one that listens."""

    def __init__(self, port: int, protocol: int, pattern: bytes, channels: tuple[bytes, ...]):
        self.commands = RawConnection(port)
        self.listener = RawConnection(port)
        if protocol == 3:
            self.listener.call(b"HELLO", b"3")
        if pattern:
            self.listener.call(b"PSUBSCRIBE", pattern)
        for channel in (*channels, _SENTINEL):
            self.listener.call(b"SUBSCRIBE", channel)

    def run(self, commands: list[tuple[bytes, ...]], pause: float = 0.0) -> list[bytes]:
        replies = [self.commands.call(*args) for args in commands]
        if pause:
            time.sleep(pause)
        return replies

    def events(self) -> list[bytes]:
        self.commands.call(b"PUBLISH", _SENTINEL, b"end")
        frames = []
        while True:
            frame = read_reply(self.listener.stream)
            if _SENTINEL in frame:
                return frames
            frames.append(frame)

    def close(self) -> None:
        self.commands.close()
        self.listener.close()


class Pair:
    def __init__(self, valkdb_port: int, redis_port: int, protocol: int) -> None:
        self.ports = (valkdb_port, redis_port)
        self.protocol = protocol
        self.sides: list[Side] = []
        self.listen()

    def listen(self, pattern: bytes = b"__key*__:*", channels: tuple[bytes, ...] = ()) -> None:
        self.close_sides()
        self.sides = [Side(port, self.protocol, pattern, channels) for port in self.ports]

    def configure(self, classes: bytes) -> None:
        for side in self.sides:
            assert side.commands.call(b"CONFIG", b"SET", b"notify-keyspace-events",
                                      classes) == b"+OK\r\n"

    def reset(self, classes: bytes = b"KEA") -> None:
        for side in self.sides:
            side.commands.call(b"CONFIG", b"SET", b"notify-keyspace-events", b"")
            side.commands.call(b"SELECT", b"0")
            assert side.commands.call(b"FLUSHALL") == b"+OK\r\n"
            side.events()  # drain
        self.configure(classes)

    def check(self, commands: list[tuple[bytes, ...]], pause: float = 0.0) -> list[bytes]:
        """Run the commands on both servers; their replies and event streams must agree."""
        replies = [side.run(commands, pause) for side in self.sides]
        events = [side.events() for side in self.sides]
        assert events[0] == events[1], _explain(commands, replies, events)
        return events[0]

    def close_sides(self) -> None:
        for side in self.sides:
            side.close()

    def close(self) -> None:
        for side in self.sides:
            side.commands.call(b"CONFIG", b"SET", b"notify-keyspace-events", b"")
            side.commands.call(b"SELECT", b"0")
            side.commands.call(b"FLUSHALL")
        self.close_sides()


def _explain(commands, replies, events) -> str:  # type: ignore[no-untyped-def]
    lines = ["commands / replies (valkdb | redis):"]
    for args, ours, theirs in zip(commands, replies[0], replies[1], strict=True):
        lines.append(f"  {args!r}: {ours!r} | {theirs!r}")
    lines.append("events (- valkdb, + redis):")
    lines.extend(difflib.ndiff([_brief(f) for f in events[0]], [_brief(f) for f in events[1]]))
    return "\n".join(lines)


def _brief(frame: bytes) -> str:
    """A message frame as `channel payload` (and whether it was a push)."""
    parts = [read_value(part) for part in elements(frame)[-2:]]
    return f"{frame[:1].decode()} {parts[0]!r} {parts[1]!r}"


@pytest.fixture(params=[2, 3], ids=["resp2", "resp3"])
def events(request, valkdb_server, redis_server):
    pair = Pair(valkdb_server.port, redis_server.port, request.param)
    pair.reset()
    yield pair
    pair.close()


def cmds(*lines: str) -> list[tuple[bytes, ...]]:
    return [tuple(word.encode() for word in line.split()) for line in lines]


# -- the setting -----------------------------------------------------------------------------

@pytest.mark.parametrize("classes", [
    "", "K", "E", "KE", "A", "KEA", "AKE", "g$lshzxetdn", "g$lshzxetd", "gKEA", "mn", "Am", "An",
    "Amn", "tdn", "x", "e", "$", "EK", "nmEK", "KEAmnA", "lsh", "zhs", "AAAA", "Eg", "KEm",
])
def test_setting_round_trip(events, classes):
    replies = []
    for side in events.sides:
        conn = side.commands
        replies.append((conn.call(b"CONFIG", b"SET", b"notify-keyspace-events", classes.encode()),
                        conn.call(b"CONFIG", b"GET", b"notify-keyspace-events")))
    assert replies[0] == replies[1]


@pytest.mark.parametrize("classes", ["KEB", "a", "1", " ", "K E", "KEAx!", "*"])
def test_setting_rejects(events, classes):
    replies = []
    for side in events.sides:
        conn = side.commands
        replies.append((conn.call(b"CONFIG", b"SET", b"notify-keyspace-events", classes.encode()),
                        conn.call(b"CONFIG", b"GET", b"notify-keyspace-events")))
    assert replies[0] == replies[1]


# -- per command family ----------------------------------------------------------------------

FAMILIES = {
    "strings": cmds(
        "SET a 1", "SET a 2 EX 100", "SET a 3 KEEPTTL", "SET a 4 NX", "SET b 4 XX", "SET a 5 GET",
        "SETNX a 1", "SETNX n 1", "SETEX s 100 v", "PSETEX p 100000 v", "SET e v PX 100000",
        "MSET m1 1 m2 2", "MSETNX m1 1 m3 3", "MSETNX m4 1 m5 2", "GETSET a 10", "GETDEL a",
        "GETDEL a", "APPEND ap x", "APPEND ap y", "INCR i", "DECR i", "INCRBY i 5",
        "DECRBY i 2", "INCRBYFLOAT f 1.5", "INCRBYFLOAT f 1", "SETRANGE r 3 abc",
        "SETRANGE r 0 z", "SETRANGE r2 0 ''", "GETEX s EX 200", "GETEX s PERSIST",
        "GETEX s PX 100000", "GETEX missing EX 10", "SET x y EXAT 1", "GET x", "INCR s",
        "SET t v", "GETEX t EXAT 1", "SET k v", "GET k",
    ),
    "keys": cmds(
        "SET a 1", "SET b 2", "SET c 3", "DEL a b zz", "UNLINK c", "SET a 1", "EXPIRE a 100",
        "PEXPIRE a 100000", "EXPIREAT a 4102444800", "PEXPIREAT a 4102444800000",
        "EXPIRE a 100 NX", "EXPIRE a 50 GT", "PERSIST a", "PERSIST a", "EXPIRE a -1",
        "SET a 1", "PEXPIREAT a 1", "SET a 1", "RENAME a b", "RENAME b b", "SET c 3",
        "RENAMENX b c", "RENAMENX b d", "COPY d e", "COPY d e", "COPY d e REPLACE",
        "COPY d e1 DB 1", "MOVE e 2", "MOVE zz 2", "SET l 1", "MOVE l 2", "SELECT 2", "DEL l",
        "SET l x", "SELECT 0", "MOVE l 2", "EXISTS q", "TYPE q", "TTL q", "TOUCH d q",
        "SET z 1", "EXPIRETIME z", "SWAPDB 0 1",
    ),
    "lists": cmds(
        "LPUSH l a b c", "RPUSH l d", "LPUSHX l e", "RPUSHX l f", "LPUSHX nl x", "RPUSHX nl x",
        "LINSERT l BEFORE a z", "LINSERT l AFTER nope z", "LSET l 0 q", "LPOP l", "RPOP l",
        "LPOP l 2", "RPOP l 0", "LREM l 1 a", "LREM l 0 nope", "LTRIM l 0 0", "LTRIM l 0 -1",
        "RPUSH m 1 2 3", "LMOVE m n LEFT RIGHT", "RPOPLPUSH m n", "LMOVE m n RIGHT LEFT",
        "LMOVE n n LEFT LEFT", "LTRIM n 5 10", "RPUSH o 1", "LPOP o", "RPUSH o 1 2",
        "LMPOP 2 x o LEFT COUNT 5", "RPUSH o 1 2 3", "LMPOP 1 o RIGHT", "LREM o 0 1",
        "LREM o 0 2", "BLPOP o 0.01", "RPUSH o 1", "BLPOP o 1", "RPUSH o 1 2", "BRPOP o 1",
        "BLMOVE o p LEFT LEFT 1", "BLMOVE o p LEFT LEFT 1", "BLMPOP 1 1 p LEFT", "LPUSH z 1",
        "LSET z 0 2",
    ),
    "hashes": cmds(
        "HSET h a 1 b 2", "HSET h a 1", "HMSET h c 3", "HSETNX h a 1", "HSETNX h d 4",
        "HDEL h a zz", "HDEL h zz", "HINCRBY h n 1", "HINCRBYFLOAT h f 1.5", "HDEL h b c d n f",
        "HSET h2 a 1", "HDEL h2 a", "HINCRBY h3 x 1", "HINCRBYFLOAT h4 x 1", "HGET h3 x",
    ),
    "sets": cmds(
        "SADD s a b c", "SADD s a", "SREM s a zz", "SREM s zz", "SPOP s", "SADD s x y",
        "SPOP s 1", "SPOP s 10", "SADD s 1 2 3", "SMOVE s t 1", "SMOVE s t 9", "SMOVE s s 2",
        "SMOVE s t 2", "SMOVE s t 3", "SADD a 1 2 3", "SADD b 2 3 4", "SINTERSTORE d a b",
        "SUNIONSTORE d a b", "SDIFFSTORE d a b", "SINTERSTORE d a nope", "SDIFFSTORE e a a",
        "SADD d 1", "SUNIONSTORE d nope", "SADD f 1", "SPOP f 0", "SREM f 1", "SADD g 1",
        "SPOP g 1",
    ),
    "zsets": cmds(
        "ZADD z 1 a 2 b", "ZADD z 1 a", "ZADD z INCR 5 a", "ZADD z NX 1 a", "ZADD z XX 3 b",
        "ZADD z XX 3 c", "ZINCRBY z 2 b", "ZINCRBY w 1 m", "ZREM z a zz", "ZREM z zz",
        "ZADD z 1 a 2 b 3 c 4 d", "ZREMRANGEBYRANK z 0 0", "ZREMRANGEBYRANK z 10 20",
        "ZREMRANGEBYSCORE z 2 2", "ZREMRANGEBYLEX z - +", "ZADD z 1 a 2 b 3 c", "ZPOPMIN z",
        "ZPOPMAX z 1", "ZPOPMAX z 0", "ZPOPMIN z 5", "ZADD y 1 a 2 b", "ZADD x 2 b 3 c",
        "ZUNIONSTORE u 2 x y", "ZINTERSTORE u 2 x y", "ZDIFFSTORE u 2 x y", "ZDIFFSTORE u 2 x x",
        "ZRANGESTORE r x 0 -1", "ZRANGESTORE r x 5 6", "ZMPOP 1 x MIN", "ZMPOP 2 q x MAX COUNT 9",
        "BZPOPMIN y 1", "BZPOPMAX y 1", "ZADD y 1 a", "BZMPOP 1 1 y MIN", "ZADD v 1 a",
        "ZREMRANGEBYSCORE v 0 5", "ZADD v 1 a", "ZREMRANGEBYLEX v - +", "ZUNIONSTORE o 1 nope",
    ),
    "streams": cmds(
        "XADD s 1-0 a 1", "XADD s 2-0 b 2", "XADD s MAXLEN 1 3-0 c 3", "XADD s MAXLEN 5 4-0 d 4",
        "XADD s NOMKSTREAM 5-0 e 5", "XADD t NOMKSTREAM 5-0 e 5", "XDEL s 4-0 9-0", "XDEL s 9-0",
        "XTRIM s MAXLEN 0", "XTRIM s MAXLEN 0", "XADD s 6-0 f 6", "XSETID s 7-0",
        "XGROUP CREATE s g 0", "XGROUP CREATE s g 0", "XGROUP CREATE m g $ MKSTREAM",
        "XGROUP CREATECONSUMER s g c1", "XGROUP CREATECONSUMER s g c1", "XGROUP SETID s g 0",
        "XREADGROUP GROUP g c2 COUNT 10 STREAMS s >", "XREADGROUP GROUP g c2 STREAMS s >",
        "XACK s g 6-0", "XADD s 8-0 g 8", "XREADGROUP GROUP g c3 STREAMS s >",
        "XCLAIM s g c4 0 8-0", "XAUTOCLAIM s g c5 0 0", "XGROUP DELCONSUMER s g c1",
        "XGROUP DELCONSUMER s g c5", "XGROUP DESTROY s g", "XGROUP DESTROY s g", "DEL s",
    ),
    "geo": cmds(
        "GEOADD g 13.361389 38.115556 Palermo 15.087269 37.502669 Catania",
        "GEOADD g NX 13.361389 38.115556 Palermo", "GEOADD g XX 1 1 Nope",
        "GEORADIUS g 15 37 200 km STORE r", "GEORADIUS g 15 37 200 km STOREDIST d",
        "GEORADIUS g 15 37 1 km STORE r", "GEOSEARCHSTORE r2 g FROMLONLAT 15 37 BYRADIUS 200 km",
        "GEOSEARCHSTORE r2 g FROMLONLAT 15 37 BYRADIUS 1 km",
        "GEORADIUSBYMEMBER g Palermo 10 km STORE r3", "GEOPOS g Palermo", "GEOPOS nope a",
        "GEODIST nope a b", "GEOHASH nope a", "GEOSEARCH nope FROMLONLAT 15 37 BYRADIUS 1 km",
        "GEORADIUS nope 15 37 200 km STORE r4", "GEORADIUS nope 15 37 200 km STORE r",
    ),
    "bitmaps_hll": cmds(
        "SETBIT b 7 1", "SETBIT b 7 1", "SETBIT b 100 0", "BITFIELD f SET u8 0 255",
        "BITFIELD f GET u8 0", "BITFIELD f INCRBY u8 0 1", "BITFIELD nf GET u8 0",
        "SET x abc", "SET y def", "BITOP AND o x y", "BITOP OR o x y", "BITOP NOT o2 x",
        "BITOP AND o nope nope2", "PFADD h a b c", "PFADD h a", "PFADD h2", "PFADD h2",
        "PFCOUNT h", "PFMERGE h3 h h2", "PFMERGE h4", "PFADD h5 x", "PFCOUNT h h5",
    ),
    "sort": cmds(
        "RPUSH l 3 1 2", "SORT l STORE o", "SORT l STORE o", "SORT nope STORE o",
        "SORT nope STORE o2", "SADD s 2 1", "SORT s ALPHA STORE o3", "SORT_RO l",
    ),
    "generic_edges": cmds(
        "SET a 1", "SET b 2", "RENAME a b", "SET a 1", "COPY a b REPLACE", "FLUSHDB", "SET a 1",
        "FLUSHALL", "SET a 1", "SWAPDB 0 1", "SELECT 1", "DEL a", "SELECT 0", "SET a 1",
        "MOVE a 1", "SELECT 1", "SET a 2", "SELECT 0", "SET a 1", "MOVE a 1", "SET a 2 EX 10",
        "SET a 3 PX 0", "SET a 3 EX abc", "EXPIRE a abc", "RENAME nope x", "LPUSH a x",
        "INCR b", "SADD b x", "LPUSH w x", "RENAME w a", "SET a 1", "RENAMENX a w",
    ),
    "dump_restore": cmds(
        "RPUSH l 1 2 3", "DUMP l", "DUMP nope", "RESTORE l 0 bogus", "RESTORE l 0 bogus REPLACE",
    ),
}


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_family(events, family):
    events.check(FAMILIES[family])


@pytest.mark.parametrize("classes", [b"KEA", b"Kg", b"E$", b"Kl", b"Es", b"Kh", b"Ez", b"Kt",
                                     b"KEx", b"Eg$", b"KElshz", b"KEn", b"KEAn", b"En", b"Kn"])
@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_family_class_subsets(events, family, classes):
    events.configure(classes)
    events.check(FAMILIES[family])


@pytest.mark.parametrize("classes", [b"KEA", b"KEAn", b"Eg"])
def test_dump_restore(events, classes):
    """RESTORE of a payload DUMPed by each server itself (the payloads differ in their
    encodings, the events must not)."""
    events.configure(classes)
    for side in events.sides:
        side.run(cmds("RPUSH src 1 2 3", "SET str abc"))
    events.check(cmds("DEL nothing"))
    for side in events.sides:
        payload = read_value(side.commands.call(b"DUMP", b"src"))
        side.commands.call(b"RESTORE", b"dst", b"0", payload)
        side.commands.call(b"RESTORE", b"dst", b"0", payload)
        side.commands.call(b"RESTORE", b"dst", b"0", payload, b"REPLACE")
        side.commands.call(b"RESTORE", b"dst2", b"100000", payload)
        side.commands.call(b"RESTORE", b"dst3", b"1", payload, b"ABSTTL")
        side.commands.call(b"RESTORE", b"dst", b"1", payload, b"ABSTTL", b"REPLACE")
    events.check(cmds("DEL nothing"))


def read_value(reply: bytes) -> bytes:
    assert reply.startswith(b"$"), reply
    return reply[reply.index(b"\r\n") + 2 : -2]


# -- expiry ----------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def debug_servers():
    """A pair of servers of this module's own that accept DEBUG, to switch active expiry off."""
    ours = start_valkdb("--enable-debug-command", "yes")
    theirs = start_redis("--enable-debug-command", "yes")
    yield ours, theirs
    ours.stop()
    theirs.stop()


@pytest.fixture(params=[2, 3], ids=["resp2", "resp3"])
def lazy_events(request, debug_servers):
    pair = Pair(debug_servers[0].port, debug_servers[1].port, request.param)
    pair.reset()
    for side in pair.sides:
        assert side.commands.call(b"DEBUG", b"SET-ACTIVE-EXPIRE", b"0") == b"+OK\r\n"
    yield pair
    for side in pair.sides:
        side.commands.call(b"DEBUG", b"SET-ACTIVE-EXPIRE", b"1")
    pair.close()


def test_lazy_expiry(lazy_events):
    """Keys past their deadline expire when a command touches them, before its own events."""
    lazy_events.check(cmds("SET a 1 PX 5", "SET b 1 PX 5", "RPUSH l 1", "PEXPIRE l 5",
                           "HSET h a 1", "PEXPIRE h 5", "SET s x PX 5", "SADD t 1",
                           "PEXPIRE t 5", "SET keep 1 PX 5"), pause=0.05)
    lazy_events.configure(b"KEAmn")
    lazy_events.check(cmds("GET a", "SET b 2", "LPUSH l x", "HGET h a", "APPEND s y",
                           "SMEMBERS t", "EXISTS keep", "GET keep"))


def test_lazy_expiry_classes(lazy_events):
    lazy_events.configure(b"Ex")
    lazy_events.check(cmds("SET a 1 PX 5", "SET b 1 PX 5", "SET c 1 PX 5"), pause=0.05)
    lazy_events.check(cmds("GET a", "DEL b", "TYPE c"))


@pytest.mark.parametrize("key_type", ["SET k 1 PX 20", "HSET k a 1", "RPUSH k 1",
                                      "SADD k 1", "ZADD k 1 a", "XADD k 1-1 a 1"])
def test_active_expiry(events, key_type):
    """The active cycle's `expired` (one key per test: the order it picks keys in is its own)."""
    events.check(cmds(key_type, "PEXPIRE k 20"), pause=0.6)


def test_active_expiry_classes(events):
    events.configure(b"Ex")
    events.check(cmds("SET a 1 PX 20", "SET b 1"), pause=0.6)
    events.configure(b"Kg")
    events.check(cmds("SET a 1 PX 20", "SET b 1"), pause=0.6)


# -- key misses and new keys -----------------------------------------------------------------

MISSES = cmds(
    "GET a", "MGET a b", "STRLEN a", "GETRANGE a 0 1", "EXISTS a", "TYPE a", "TTL a",
    "LRANGE l 0 -1", "LLEN l", "LINDEX l 0", "HGET h a", "HGETALL h", "HLEN h", "SMEMBERS s",
    "SISMEMBER s a", "SCARD s", "ZRANGE z 0 -1", "ZSCORE z a", "ZCARD z", "XLEN x",
    "XRANGE x - +", "PFCOUNT p", "GETBIT b 0", "BITCOUNT b", "SORT_RO l", "DUMP a",
    "OBJECT ENCODING a", "SET a 1", "GET a", "SET a 1 GET", "SET nx 1 GET", "GETDEL q",
    "INCR i", "LPUSH l 1", "RPOP l", "RPOP l", "SINTER s s2", "SUNION s s2", "ZUNION 2 z z2",
    "HSTRLEN h a", "HEXISTS h a", "LPOS l 1", "ZRANK z a", "ZMSCORE z a", "SMISMEMBER s a",
    "HMGET h a", "HRANDFIELD h", "SRANDMEMBER s", "ZRANDMEMBER z", "GEOPOS g a", "GEODIST g a b",
    "MEMORY USAGE a", "PTTL q", "EXPIRETIME q", "BITPOS b 1", "LCS a q",
)


# Writes whose source keys are read (lookupKeyRead): their misses count too; their
# destinations' do not.
WRITE_MISSES = cmds(
    "SINTERSTORE d s1 s2", "SUNIONSTORE d s1 s2", "SDIFFSTORE d s1", "ZUNIONSTORE d 2 z1 z2",
    "ZINTERSTORE d 1 z1", "ZRANGESTORE d z1 0 -1", "BITOP OR d b1 b2", "PFMERGE d h1 h2",
    "PFCOUNT h1 h2", "COPY src dst", "SORT nope STORE d", "RPUSH l 1 2", "SORT l BY w_*",
    "SORT l BY w_* GET o_* GET #", "HSET hp f 1", "SORT l BY hp->f GET hp->g", "TOUCH a b",
    "XREAD STREAMS x1 x2 0 0", "XACK x1 g 1-1", "XPENDING x1 g", "XCLAIM x1 g c 0 1-1",
    "XAUTOCLAIM x1 g c 0 0", "XADD x 1-1 a 1", "XGROUP CREATE x g 0",
    "XREADGROUP GROUP g c STREAMS x >", "MGET a l b", "BITFIELD bf GET u8 0",
    "BITFIELD_RO bf GET u8 0", "BITFIELD bf SET u8 0 1", "LMPOP 2 m1 m2 LEFT", "ZMPOP 1 m1 MIN",
    "GETEX nope", "GETEX nope PERSIST", "SMOVE s1 s2 a", "LMOVE m1 m2 LEFT LEFT", "RENAME q w",
    "EXPIRE q 10", "PERSIST q", "LPUSHX q a", "HSETNX q a b", "INCR q", "DEL q",
    "SCAN 0 TYPE string", "HSCAN q 0", "SSCAN q 0", "ZSCAN q 0",
)


@pytest.mark.parametrize("classes", [b"KEm", b"Em", b"Km", b"KEA"])
@pytest.mark.parametrize("commands", [MISSES, WRITE_MISSES], ids=["reads", "writes"])
def test_key_misses(events, classes, commands):
    events.configure(classes)
    events.check(commands)


def test_blocked_clients_served(events):
    """A blocked pop served by another client's push: the push's events, then the pop's."""
    waiters = []
    for side in events.sides:
        waiter = RawConnection(side.commands.sock.getpeername()[1])
        for args in ((b"BLPOP", b"l", b"5"), (b"BLMOVE", b"m", b"n", b"LEFT", b"RIGHT", b"5"),
                     (b"BZPOPMIN", b"z", b"5")):
            waiter.sock.sendall(encode_command(args))
            waiters.append(waiter)
            waiter = RawConnection(side.commands.sock.getpeername()[1])
        waiter.close()
    time.sleep(0.2)  # let them block
    events.check(cmds("RPUSH l a b", "LPUSH m x", "ZADD z 1 a 2 b"))
    for waiter in waiters:
        read_reply(waiter.stream)
        waiter.close()


@pytest.mark.parametrize("classes", [b"KEn", b"En", b"KEAn"])
@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_new_keys(events, family, classes):
    events.configure(classes)
    events.check(FAMILIES[family])


# -- other databases, channels, scripts, transactions ----------------------------------------

def test_other_database(events):
    events.check(cmds("SELECT 3", "SET a 1", "LPUSH l x", "EXPIRE a 100", "DEL a l", "SELECT 0",
                      "SET a 1", "MOVE a 3", "SET b 1", "COPY b b DB 5"))


def test_plain_channel_subscribers(events):
    events.listen(b"", (b"__keyspace@0__:a", b"__keyevent@0__:set", b"__keyevent@0__:del"))
    events.check(cmds("SET a 1", "SET b 1", "DEL a b", "LPUSH a x", "RENAME a b"))


def test_scripts(events):
    events.check([
        (b"EVAL", b"redis.call('set', KEYS[1], 'x'); redis.call('lpush', KEYS[2], 'y');"
                  b"redis.call('del', KEYS[1]); return redis.call('rpop', KEYS[2])",
         b"2", b"a", b"b"),
        (b"EVAL", b"redis.call('incr', 'i'); redis.call('expire', 'i', 100)", b"0"),
        (b"FUNCTION", b"LOAD", b"#!lua name=notifylib\n"
                               b"redis.register_function('f', function(keys, args)"
                               b" redis.call('hset', keys[1], 'a', '1');"
                               b" return redis.call('hdel', keys[1], 'a') end)"),
        (b"FCALL", b"f", b"1", b"h"),
        (b"FUNCTION", b"DELETE", b"notifylib"),
    ])


def test_transactions(events):
    events.check(cmds("MULTI", "SET a 1", "INCR a", "LPUSH l a", "RPOP l", "EXPIRE a 0", "EXEC",
                      "MULTI", "SET b 1", "DISCARD", "SET w 1", "WATCH w", "SET w 2", "MULTI",
                      "DEL w", "EXEC"))


# -- generated sequences ---------------------------------------------------------------------

_KEYS = [b"a", b"b", b"c"]
_key = st.sampled_from(_KEYS)
_member = st.sampled_from([b"x", b"y", b"z", b"1", b"2"])
_num = st.sampled_from([b"0", b"1", b"-1", b"2", b"10", b"1.5", b"abc"])
_commands = st.one_of(
    sequence(b"SET", _key, _member), sequence(b"GET", _key), sequence(b"DEL", _key, _key),
    sequence(b"INCR", _key), sequence(b"APPEND", _key, _member),
    sequence(b"INCRBYFLOAT", _key, _num), sequence(b"EXPIRE", _key, _num),
    sequence(b"PERSIST", _key), sequence(b"RENAME", _key, _key), sequence(b"COPY", _key, _key),
    sequence(b"LPUSH", _key, _member), sequence(b"RPOP", _key), sequence(b"LPOP", _key, _num),
    sequence(b"LMOVE", _key, _key, st.sampled_from([b"LEFT", b"RIGHT"]),
             st.sampled_from([b"LEFT", b"RIGHT"])),
    sequence(b"LREM", _key, _num, _member), sequence(b"LTRIM", _key, _num, _num),
    sequence(b"HSET", _key, _member, _member), sequence(b"HDEL", _key, _member),
    sequence(b"HINCRBY", _key, _member, _num), sequence(b"SADD", _key, _member),
    sequence(b"SREM", _key, _member), sequence(b"SMOVE", _key, _key, _member),
    sequence(b"SINTERSTORE", _key, _key, _key), sequence(b"SUNIONSTORE", _key, _key),
    sequence(b"ZADD", _key, _num, _member), sequence(b"ZINCRBY", _key, _num, _member),
    sequence(b"ZREM", _key, _member), sequence(b"ZPOPMIN", _key),
    sequence(b"ZUNIONSTORE", _key, b"2", _key, _key), sequence(b"SETRANGE", _key, _num, _member),
    sequence(b"XADD", _key, b"*", _member, _member), sequence(b"XTRIM", _key, b"MAXLEN", _num),
    sequence(b"SORT", _key, b"ALPHA", b"STORE", _key), sequence(b"TYPE", _key),
)


@COMPAT_SETTINGS
@given(st.lists(_commands, min_size=1, max_size=15),
       st.sampled_from([b"KEA", b"KEAmn", b"Kg$", b"El", b"Kshz", b"Etn"]))
def test_generated_sequences(events, sequence_, classes):
    events.reset(classes)
    events.check(sequence_)
