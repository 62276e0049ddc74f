"""The generic key commands on every data type: the glue between the keyspace and the families.

Each family (lists, hashes, sets, sorted sets) registers its value class with keys.py so that
TYPE, SCAN TYPE and OBJECT ENCODING know it, and its values must survive COPY (a deep copy),
RENAME, MOVE, DEL, UNLINK, EXPIRE and FLUSHDB like strings do. Everything here is compared
with the real redis-server, raw reply by raw reply, in RESP2 and RESP3. The encoding
thresholds (hash-max-listpack-entries ...) are read from the real server, not assumed: they
differ between builds (Debian's 7.0.15 uses 512 hash entries, upstream 128).

A family whose commands are not registered yet is skipped, so this module is green at any time
and covers every type as soon as it exists.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import pytest

from tests.compat import conftest as compat
from tests.compat.differ import Differ
from tests.compat.test_transactions import missing_commands

differ = compat.differ  # the valkdb / redis-server pair, in RESP2 and RESP3

Command = tuple[bytes, ...]


def cmd(*words: str | bytes) -> Command:
    return tuple(w.encode() if isinstance(w, str) else w for w in words)


@dataclass(frozen=True)
class Family:
    """A data type, with commands (applied to a key name) to make, change and read a value."""

    name: str
    commands: frozenset[bytes]  # all must exist in valkdb for the family's tests to run
    create: tuple[str, ...]  # small value: arguments after the key
    create_verb: str
    mutate: tuple[str, ...]
    reads: tuple[tuple[str, ...], ...]  # (verb, *args after the key): the whole value, ordered

    def make(self, key: bytes) -> Command:
        return cmd(self.create_verb, key, *self.create)

    def change(self, key: bytes) -> Command:
        return cmd(self.mutate[0], key, *self.mutate[1:])

    def read_all(self, key: bytes) -> list[Command]:
        return [cmd(verb, key, *rest) for verb, *rest in self.reads]


FAMILIES = {
    "list": Family("list", frozenset({b"rpush", b"lrange", b"llen"}), ("a", "b", "c"), "RPUSH",
                   ("RPUSH", "d"), (("LRANGE", "0", "-1"), ("LLEN",))),
    "hash": Family("hash", frozenset({b"hset", b"hgetall", b"hlen"}), ("f1", "v1", "f2", "v2"),
                   "HSET", ("HSET", "f3", "v3"), (("HGETALL",), ("HLEN",))),
    "set": Family("set", frozenset({b"sadd", b"smismember", b"scard"}), ("1", "2", "3"), "SADD",
                  ("SADD", "4"), (("SMISMEMBER", "1", "2", "3", "4"), ("SCARD",))),
    "zset": Family("zset", frozenset({b"zadd", b"zrange", b"zcard"}), ("1", "a", "2", "b"),
                   "ZADD", ("ZADD", "3", "c"), (("ZRANGE", "0", "-1", "WITHSCORES"), ("ZCARD",))),
}


def available(pair: Differ) -> list[Family]:
    return [family for family in FAMILIES.values()
            if not missing_commands(pair, set(family.commands))]


def need(pair: Differ, family_name: str) -> Family:
    family = FAMILIES[family_name]
    missing = missing_commands(pair, set(family.commands))
    if missing:
        pytest.skip(f"{family_name}: not implemented yet: {b', '.join(missing).decode()}")
    return family


def run(pair: Differ, *commands: Command) -> None:
    for command in commands:
        pair.check(*command)


def check_value(pair: Differ, family: Family, key: bytes) -> None:
    run(pair, cmd("TYPE", key), *family.read_all(key))


family_names = pytest.mark.parametrize("name", FAMILIES)


# -- TYPE, OBJECT, SCAN TYPE, EXISTS, TOUCH ---------------------------------------------------

@family_names
def test_type_exists_touch_refcount(differ, name):
    family = need(differ, name)
    differ.reset()
    run(differ, family.make(b"k"), cmd("TYPE", "k"), cmd("EXISTS", "k", "k", "nokey"),
        cmd("TOUCH", "k"), cmd("OBJECT", "REFCOUNT", "k"), cmd("OBJECT", "FREQ", "k"),
        cmd("DBSIZE"), cmd("KEYS", "*"), cmd("RANDOMKEY"))


def test_scan_type_filters_every_type(differ):
    differ.reset()
    run(differ, cmd("SET", "s1", "v"), cmd("SET", "s2", "1"))
    families = available(differ)
    for family in families:
        for n in range(3):
            run(differ, family.make(f"{family.name}{n}".encode()))
    for type_name in ("string", "list", "hash", "set", "zset", "stream", "none", "nosuch",
                      "STRING", "Hash", "ZSET"):
        differ.check(*cmd("SCAN", "0", "TYPE", type_name, "COUNT", "2"))
        differ.check(*cmd("SCAN", "0", "MATCH", "*1", "TYPE", type_name))


def _config_number(pair: Differ, name: str) -> int:
    """A setting of the REAL server (the specification of this build)."""
    reply = pair.theirs.call(b"CONFIG", b"GET", name.encode())  # an array, or a RESP3 map
    return int(reply.split(b"\r\n")[-2])


def _members(prefix: str, count: int, width: int = 0) -> list[str]:
    return [f"{prefix}{n}".ljust(width, "x") for n in range(count)]


def encoding_cases(pair: Differ, name: str) -> dict[str, list[Command]]:
    """Setup commands for key k around each encoding threshold of the family."""
    if name == "list":
        return {"small": [cmd("RPUSH", "k", "a")],
                "long": [cmd("RPUSH", "k", *_members("e", 1000))],
                "big element": [cmd("RPUSH", "k", "x" * 10000)]}
    if name == "set":
        most = _config_number(pair, "set-max-intset-entries")
        ints = [str(n) for n in range(most)]
        return {
            "integers": [cmd("SADD", "k", "1", "-5", "3")],
            "most integers": [cmd("SADD", "k", *ints)],
            "one integer too many": [cmd("SADD", "k", *ints, str(most))],
            "a string": [cmd("SADD", "k", "1", "a")],
            "string removed again": [cmd("SADD", "k", "1", "a"), cmd("SREM", "k", "a")],
            "int64 limits": [cmd("SADD", "k", "9223372036854775807", "-9223372036854775808")],
            "beyond int64": [cmd("SADD", "k", "9223372036854775808")],
            "not canonical": [cmd("SADD", "k", "-0")],
            "leading zero": [cmd("SADD", "k", "01")],
            "plus sign": [cmd("SADD", "k", "+1")],
            "spaces": [cmd("SADD", "k", " 1")],
        }
    verb, remove, prefix = {"hash": ("HSET", "HDEL", "hash"), "zset": ("ZADD", "ZREM", "zset")}[
        name]
    entries = _config_number(pair, f"{prefix}-max-listpack-entries")
    width = _config_number(pair, f"{prefix}-max-listpack-value")

    def add(members: list[str]) -> Command:
        pairs = [(m, "1") if name == "hash" else ("1", m) for m in members]
        return cmd(verb, "k", *(x for p in pairs for x in p))

    cases = {
        "small": [add(["a", "b"])],
        "most entries": [add(_members("m", entries))],
        "one entry too many": [add(_members("m", entries + 1))],
        "longest member": [add(["y" * width])],
        "member too long": [add(["y" * (width + 1)])],
        "shrunk after growing": [add(_members("m", entries + 1)),
                                 cmd(remove, "k", *_members("m", entries))],
        "long member removed": [add(["a", "y" * (width + 1)]), cmd(remove, "k", "y" * (width + 1))],
    }
    if name == "hash":
        cases["value too long"] = [cmd("HSET", "k", "f", "v" * (width + 1))]
        cases["longest value"] = [cmd("HSET", "k", "f", "v" * width)]
    return cases


ENCODING_CASES = [("list", c) for c in ("small", "long", "big element")] + [
    ("set", c) for c in ("integers", "most integers", "one integer too many", "a string",
                         "string removed again", "int64 limits", "beyond int64", "not canonical",
                         "leading zero", "plus sign", "spaces")] + [
    (family, c) for family in ("hash", "zset")
    for c in ("small", "most entries", "one entry too many", "longest member",
              "member too long", "shrunk after growing", "long member removed")] + [
    ("hash", "value too long"), ("hash", "longest value")]


@pytest.mark.parametrize(("name", "case"), ENCODING_CASES,
                         ids=[f"{name}-{case}" for name, case in ENCODING_CASES])
def test_object_encoding(differ, name, case):
    need(differ, name)
    differ.reset()
    run(differ, *encoding_cases(differ, name)[case])
    differ.check(b"OBJECT", b"ENCODING", b"k")
    # A copy (deep, and possibly rebuilt) keeps the encoding Redis's dup gives it.
    differ.check(b"COPY", b"k", b"copy")
    differ.check(b"OBJECT", b"ENCODING", b"copy")


# -- COPY, RENAME, MOVE ---------------------------------------------------------------------

@family_names
def test_copy_is_deep(differ, name):
    family = need(differ, name)
    differ.reset()
    run(differ, family.make(b"src"), cmd("PEXPIRE", "src", "100000000"),
        cmd("COPY", "src", "dst"), cmd("PTTL", "dst"), family.change(b"dst"))
    check_value(differ, family, b"src")
    check_value(differ, family, b"dst")
    run(differ, family.change(b"src"), family.change(b"src"))
    check_value(differ, family, b"dst")


@family_names
def test_copy_to_another_db_and_replace(differ, name):
    family = need(differ, name)
    differ.reset()
    run(differ, family.make(b"src"), cmd("COPY", "src", "src", "DB", "1"), cmd("SELECT", "1"),
        family.change(b"src"), cmd("SELECT", "0"))
    check_value(differ, family, b"src")
    run(differ, cmd("SET", "str", "v"), cmd("COPY", "src", "str"), cmd("COPY", "src", "str",
                                                                        "REPLACE"))
    check_value(differ, family, b"str")
    run(differ, cmd("COPY", "str", "src", "DB", "1"), cmd("COPY", "str", "src", "DB", "1",
                                                           "REPLACE"), cmd("SELECT", "1"))
    check_value(differ, family, b"src")
    run(differ, cmd("SET", "s", "v"), cmd("COPY", "s", "src", "DB", "1", "REPLACE"),
        cmd("TYPE", "src"), cmd("GET", "src"))


@family_names
def test_rename_and_renamenx(differ, name):
    family = need(differ, name)
    differ.reset()
    run(differ, family.make(b"a"), cmd("EXPIRE", "a", "1000"), cmd("RENAME", "a", "b"),
        cmd("EXISTS", "a"), cmd("TTL", "b"), cmd("OBJECT", "ENCODING", "b"))
    check_value(differ, family, b"b")
    run(differ, cmd("SET", "s", "v"), cmd("RENAMENX", "b", "s"), cmd("RENAME", "b", "s"),
        cmd("TTL", "s"))
    check_value(differ, family, b"s")
    run(differ, cmd("SET", "t", "v"), cmd("RENAME", "t", "s"), cmd("TYPE", "s"),
        cmd("RENAME", "s", "s"), family.make(b"x"), cmd("RENAMENX", "x", "x"),
        family.change(b"s"))  # WRONGTYPE: s is a string again


@family_names
def test_move(differ, name):
    family = need(differ, name)
    differ.reset()
    run(differ, family.make(b"k"), cmd("PEXPIRE", "k", "100000000"), cmd("MOVE", "k", "1"),
        cmd("EXISTS", "k"), family.make(b"k"), cmd("MOVE", "k", "1"), cmd("SELECT", "1"),
        cmd("PTTL", "k"))
    check_value(differ, family, b"k")
    run(differ, cmd("MOVE", "k", "1"), cmd("MOVE", "k", "0"), cmd("SELECT", "0"))
    check_value(differ, family, b"k")


# -- DEL, UNLINK, EXPIRE, FLUSHDB, SWAPDB, INFO keyspace ---------------------------------------

@family_names
def test_del_and_unlink(differ, name):
    family = need(differ, name)
    differ.reset()
    run(differ, family.make(b"a"), family.make(b"b"), cmd("SET", "c", "v"),
        cmd("DEL", "a", "c", "nokey"), cmd("UNLINK", "b", "b"), cmd("DBSIZE"), cmd("TYPE", "a"))
    check_value(differ, family, b"a")
    run(differ, family.make(b"a"), cmd("SET", "a", "v"), cmd("TYPE", "a"), cmd("GET", "a"))


@family_names
def test_expire_on_collections(differ, name):
    family = need(differ, name)
    differ.reset()
    run(differ, family.make(b"k"), cmd("EXPIRE", "k", "1000"), cmd("TTL", "k"),
        family.change(b"k"), cmd("TTL", "k"),  # changing a collection keeps its TTL
        cmd("PERSIST", "k"), cmd("TTL", "k"), cmd("PEXPIRE", "k", "40"),
        family.make(b"gone"), cmd("EXPIREAT", "gone", "1"), cmd("EXISTS", "gone"))
    check_value(differ, family, b"gone")
    time.sleep(0.1)
    check_value(differ, family, b"k")
    run(differ, family.make(b"k"), cmd("TTL", "k"))  # a fresh value, without the old TTL


def test_flushdb_swapdb_and_info_keyspace(differ):
    differ.reset()
    families = available(differ)
    for db in (b"0", b"1"):
        run(differ, cmd("SELECT", db), cmd("SET", "s", "v"))
        for n, family in enumerate(families):
            run(differ, family.make(b"%s%d" % (family.name.encode(), n)))
            run(differ, family.make(b"ttl-%s" % family.name.encode()),
                cmd("EXPIRE", b"ttl-%s" % family.name.encode(), "1000"))
    check_info_keyspace(differ)
    run(differ, cmd("SWAPDB", "0", "1"), cmd("SELECT", "0"), cmd("FLUSHDB"))
    check_info_keyspace(differ)
    run(differ, cmd("SELECT", "1"), cmd("DBSIZE"))
    for family in families:
        check_value(differ, family, b"ttl-%s" % family.name.encode())
    run(differ, cmd("FLUSHALL"), cmd("DBSIZE"))
    check_info_keyspace(differ)


def check_info_keyspace(pair: Differ) -> None:
    """INFO keyspace's keys= and expires= per db (avg_ttl is an estimate, not compared)."""
    def counts(conn) -> list[bytes]:  # type: ignore[no-untyped-def]
        text = conn.call(b"INFO", b"keyspace")  # a bulk in RESP2, a verbatim string in RESP3
        return [line.split(b",avg_ttl")[0] for line in text.split(b"\r\n")
                if line.startswith(b"db")]
    assert counts(pair.ours) == counts(pair.theirs)


# -- a command of one type on a key of another ------------------------------------------------

STRING_COMMANDS = [("GET",), ("APPEND", "x"), ("INCR",), ("STRLEN",), ("GETRANGE", "0", "1"),
                   ("SETRANGE", "0", "x"), ("GETDEL",), ("GETEX",), ("GETSET", "v"),
                   ("SET", "v", "GET"), ("INCRBYFLOAT", "1")]


@family_names
def test_wrongtype_across_types(differ, name):
    family = need(differ, name)
    differ.reset()
    run(differ, family.make(b"k"), cmd("SET", "s", "v"))
    for verb, *rest in STRING_COMMANDS:
        differ.check(*cmd(verb, "k", *rest))
    check_value(differ, family, b"k")  # unchanged by the refused commands
    for other in available(differ):
        for key in (b"k", b"s"):
            if other is not family or key == b"s":
                for read in other.read_all(key):
                    differ.check(*read)
                differ.check(*other.change(key))
    check_value(differ, family, b"k")
    differ.check(b"MGET", b"k", b"s")
