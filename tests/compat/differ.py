"""Send the same command to valkdb and to a real redis-server 7.0 and compare the raw replies.

Only what Redis itself leaves open is normalised, each case below says why; everything else
must match byte for byte, errors included.
"""

from __future__ import annotations

import io
import time

from tests.compat.resp import RawConnection, bulk_value, elements, read_reply

# Relative TTLs are computed from each server's own clock a few ms apart, and TTL rounds to the
# nearest second, so a remaining time may differ by one unit of rounding.
_TIME_TOLERANCE = {b"TTL": 1, b"EXPIRETIME": 1, b"PTTL": 250, b"PEXPIRETIME": 250}
# Key order in these replies is the hash table's order, which Redis does not specify.
_UNORDERED = {b"KEYS"}
# A set's or hash's members come in its hash table's order unless a small encoding (intset,
# listpack) fixes it; tests that rely on those orders compare the bytes themselves.
_UNORDERED |= {b"SMEMBERS", b"SINTER", b"SUNION", b"SDIFF", b"HKEYS", b"HVALS"}
_UNORDERED_PAIRS = {b"HGETALL"}
# Random picks: only the shape (reply types, sizes, nulls) must agree; tests check membership.
_RANDOM = {b"SPOP", b"SRANDMEMBER", b"HRANDFIELD", b"ZRANDMEMBER"}
# Cursors over a collection are opaque: compare what a complete iteration returns.
_COLLECTION_SCANS = {b"SSCAN", b"HSCAN", b"ZSCAN"}
_SCAN_PAGES = 10_000  # bound on one SCAN iteration


_RELATIVE_TTL = frozenset((b"EXPIRE", b"PEXPIRE", b"SETEX", b"PSETEX", b"SET", b"GETEX"))


class Divergence(AssertionError):
    pass


class Differ:
    """A pair of raw connections, one to valkdb and one to redis-server, used in lockstep."""

    def __init__(self, valkdb_port: int, redis_port: int, protocol: int) -> None:
        self.ours = RawConnection(valkdb_port)
        self.theirs = RawConnection(redis_port)
        self.protocol = protocol
        self.history: list[tuple[bytes, ...]] = []
        self.reset()

    def reset(self) -> None:
        """A clean start: both servers empty, db 0, the chosen protocol (HELLO's own reply
        names the server and its version, so it is not compared)."""
        self.history.clear()
        for conn in (self.ours, self.theirs):
            conn.call(b"HELLO", b"%d" % self.protocol)
            for command in ((b"FLUSHALL",), (b"SELECT", b"0")):
                reply = conn.call(*command)
                assert reply == b"+OK\r\n", (command, reply)

    def close(self) -> None:
        self.ours.close()
        self.theirs.close()

    def both(self, *args: bytes) -> tuple[bytes, bytes]:
        self.history.append(args)
        return self.ours.call(*args), self.theirs.call(*args)

    def check(self, *args: bytes) -> bytes:
        """Run a command on both servers; raise Divergence unless the replies agree."""
        name = args[0].upper() if args else b""
        if name in _RELATIVE_TTL:
            # A relative TTL counts from the command's millisecond: two of them (SETEX then
            # EXPIRE ... GT) compare equal on a server that ran both within one millisecond
            # and unequal on one that did not. Let a millisecond pass so both see them differ.
            time.sleep(0.002)
        ours, theirs = self.both(*args)
        if name == b"SCAN" and not ours.startswith(b"-") and not theirs.startswith(b"-"):
            return self._check_full_scan(args)
        if (name in _COLLECTION_SCANS and ours != theirs and not ours.startswith(b"-")
                and not theirs.startswith(b"-")):
            return self._check_full_collection_scan(name, args)
        if name == b"DBSIZE" and ours != theirs:
            ours, theirs = self._dbsize_after_lazy_expiry()
        if not _equivalent(name, ours, theirs):
            raise Divergence(self._explain(ours, theirs))
        return ours

    def _dbsize_after_lazy_expiry(self) -> tuple[bytes, bytes]:
        """DBSIZE counts keys past their deadline until lazy or active expiry removes them, a
        race in Redis itself (Redis 7.0's SET ... PXAT <past> leaves such a key for up to a
        cron tick; valkdb drops it at once). A full SCAN expires them on both; then compare."""
        scan_all(self.ours)
        scan_all(self.theirs)
        return self.ours.call(b"DBSIZE"), self.theirs.call(b"DBSIZE")

    def _check_full_scan(self, args: tuple[bytes, ...]) -> bytes:
        """Cursors are opaque and differ between implementations: compare the set of keys
        returned by a complete iteration instead, with the same options."""
        options = args[2:]
        ours, theirs = scan_all(self.ours, options), scan_all(self.theirs, options)
        if ours != theirs:
            raise Divergence(self._explain(repr(sorted(ours)), repr(sorted(theirs))))
        return b""

    def _check_full_collection_scan(self, name: bytes, args: tuple[bytes, ...]) -> bytes:
        command, options = args[:2], args[3:]
        pairs = name in (b"HSCAN", b"ZSCAN")
        ours = scan_all(self.ours, options, command, pairs=pairs)
        theirs = scan_all(self.theirs, options, command, pairs=pairs)
        if ours != theirs:
            raise Divergence(self._explain(repr(sorted(ours)), repr(sorted(theirs))))
        return b""

    def _explain(self, ours: object, theirs: object) -> str:
        steps = "\n".join("  " + b" ".join(step).decode("latin-1") for step in self.history)
        return f"after:\n{steps}\nvalkdb: {ours!r}\nredis:  {theirs!r}"


def scan_all(conn: RawConnection, options: tuple[bytes, ...] = (),
             command: tuple[bytes, ...] = (b"SCAN",), pairs: bool = False) -> set:
    """Every key one complete SCAN iteration returns (or member, or (field, value) pair of an
    SSCAN / HSCAN `command` such as (b"HSCAN", key))."""
    keys: set = set()
    cursor = b"0"
    for _ in range(_SCAN_PAGES):
        reply = conn.call(*command, cursor, *options)
        cursor_reply, page = elements(reply)
        cursor = bulk_value(cursor_reply) or b""
        items = [bulk_value(item) or b"" for item in elements(page)]
        keys.update(zip(items[::2], items[1::2], strict=True) if pairs else items)
        if cursor == b"0":
            return keys
    raise AssertionError("SCAN did not finish")


def _equivalent(name: bytes, ours: bytes, theirs: bytes) -> bool:
    if ours == theirs:
        return True
    if name in _TIME_TOLERANCE and ours[:1] == theirs[:1] == b":":
        a, b = int(ours[1:-2]), int(theirs[1:-2])
        return a >= 0 and b >= 0 and abs(a - b) <= _TIME_TOLERANCE[name]
    if name in _UNORDERED and ours[:1] == theirs[:1] and ours[:1] in (b"*", b"~"):
        return sorted(elements(ours)) == sorted(elements(theirs))
    if name in _UNORDERED_PAIRS and ours[:1] == theirs[:1] and ours[:1] in (b"*", b"%"):
        return sorted(_pairs(ours)) == sorted(_pairs(theirs))
    if name in _RANDOM:
        return _shape(ours) == _shape(theirs)
    if name == b"RANDOMKEY":  # a random choice: only whether there was one must agree
        return (bulk_value(ours) is None) == (bulk_value(theirs) is None)
    return False


def _pairs(reply: bytes) -> list[tuple[bytes, bytes]]:
    """The (key, value) replies of a RESP3 map or of a RESP2 flat array of pairs."""
    stream = io.BytesIO(reply)
    count = int(stream.readline()[1:-2])
    flat = [read_reply(stream) for _ in range(count * 2 if reply[:1] == b"%" else count)]
    return list(zip(flat[::2], flat[1::2], strict=True))


def _shape(reply: bytes) -> object:
    """What a random reply must share with another: types, sizes and nulls, not the values."""
    if reply[:1] in (b"*", b"~") and not reply.startswith(b"*-1"):
        return reply[:1], [_shape(item) for item in elements(reply)]
    if reply[:1] == b"$":
        return bulk_value(reply) is None
    if reply[:1] == b",":  # a RESP3 double (ZRANDMEMBER's scores)
        return b","
    return reply
