"""COMMAND and its subcommands, compared with a real redis-server 7.0.

The registry's metadata of every command valkdb has (arity, flags, key positions) must be what
redis-server's COMMAND INFO says; the replies of COMMAND INFO / DOCS must have Redis's shape,
byte for byte, in RESP2 and RESP3. Redis lists subcommands in its hash table's order (random per
process), so those lists are compared as sets.
"""

from __future__ import annotations

import io

import pytest

import valkdb.server  # noqa: F401  (registers every command, EVAL and FUNCTION included)
from tests.compat.differ import Differ
from tests.compat.resp import RawConnection, bulk_value, elements
from valkdb.core.registry import COMMANDS, TABLE

# Commands valkdb has that Redis 7.0 does not (redis-py 8 sends CLIENT SETINFO, a 7.2 command).
NEWER_THAN_7_0 = {"client|setinfo"}
EVERY_NAME = [name for entry in COMMANDS.values()
              for name in [entry.name, *(s.name for s in (entry.subcommands or {}).values())]]
# Sample invocations for GETKEYS; those whose command valkdb lacks are left out.
GETKEYS_CASES = [
    "get a", "get a b", "set k v ex 10", "mset a 1 b 2", "mset a 1 b", "del a b c", "rename a b",
    "object encoding k", "config get x", "ping", "nosuch a", "copy a b", "getex k", "mget a b",
    "eval s 2 a b c", "eval s 3 a", "zunionstore d 2 a b", "sort k by x store d",
    "sort k limit 0 1 get store by store store e store", "spublish a b", "ssubscribe a b",
    "sunsubscribe a",
    "lmpop 2 a b left",
    "xread count 2 streams a b 0 0", "migrate h 1 k 0 5", "exists a b", "expire k 5",
]


@pytest.fixture(params=[2, 3], ids=["resp2", "resp3"])
def pair(request, valkdb_server, redis_server):
    differ = Differ(valkdb_server.port, redis_server.port, request.param)
    yield differ
    differ.close()


@pytest.fixture(scope="module")
def theirs(redis_server):
    conn = RawConnection(redis_server.port)
    yield conn
    conn.close()


@pytest.fixture(scope="module")
def ours(valkdb_server):
    conn = RawConnection(valkdb_server.port)
    yield conn
    conn.close()


def canonical(reply: bytes):
    """A reply as nested tuples, with maps, sets and subcommand lists in a fixed order."""
    return _parse(io.BytesIO(reply))


def _parse(stream):
    line = stream.readline()
    kind, body = line[:1], line[1:-2]
    if kind in b"$=":
        return (kind, None) if body == b"-1" else (kind, stream.read(int(body) + 2)[:-2])
    if kind in b"*~%":
        count = int(body) * (2 if kind == b"%" else 1)
        items = [_parse(stream) for _ in range(count)]
        if kind == b"%":
            return (kind, tuple(sorted(zip(items[::2], items[1::2], strict=True), key=repr)))
        if kind == b"~" or _is_subcommand_list(items):
            return (kind, tuple(sorted(items, key=repr)))
        return (kind, tuple(items))
    return (kind, body)


def _is_subcommand_list(items) -> bool:
    """An array of COMMAND INFO entries of 'parent|sub' commands (Redis's hash order)."""
    return bool(items) and all(
        item[0] == b"*" and item[1] and item[1][0][0] == b"$" and b"|" in (item[1][0][1] or b"")
        for item in items)


def info_entry(conn: RawConnection, name: str) -> list[bytes]:
    reply = conn.call(b"COMMAND", b"INFO", name.encode())
    (entry,) = elements(reply)
    return [] if entry == b"$-1\r\n" else elements(entry)


@pytest.mark.parametrize("name", EVERY_NAME)
def test_registry_matches_redis(name, ours, theirs):
    expected = info_entry(theirs, name)
    if name in NEWER_THAN_7_0:
        assert expected == [], f"redis-server knows {name}: remove it from NEWER_THAN_7_0"
        return
    assert expected, f"redis-server 7.0 has no command {name}"
    got = info_entry(ours, name)
    fields = ["name", "arity", "flags", "first key", "last key", "step", "acl categories",
              "tips", "key specs"]
    for field, mine, redis in zip(fields, got, expected, strict=False):
        assert mine == redis, f"{name}: {field} differs: valkdb {mine!r}, redis {redis!r}"
    subcommands = {elements(sub)[0]: sub for sub in elements(expected[9])}
    ours_subs = [sub for sub in elements(got[9])
                 if bulk_value(elements(sub)[0]).decode() not in NEWER_THAN_7_0]
    assert all(subcommands.get(elements(sub)[0]) == sub for sub in ours_subs)


def test_docs_file_covers_the_registry():
    missing = set(EVERY_NAME) - set(TABLE) - NEWER_THAN_7_0
    assert not missing, f"run tools/gen_command_docs.py: no docs for {sorted(missing)}"


@pytest.mark.parametrize("args", [
    "COMMAND INFO get", "COMMAND INFO GET set nosuch config|get", "COMMAND INFO mset del",
    "COMMAND DOCS get", "COMMAND DOCS set MSET nosuch", "COMMAND DOCS nosuch",
    "COMMAND HELP", "COMMAND FOO", "COMMAND COUNT x", "COMMAND GETKEYS get",
    "COMMAND LIST FILTERBY", "COMMAND LIST x", "COMMAND LIST FILTERBY FOO x",
    "COMMAND LIST FILTERBY PATTERN a FILTERBY ACLCAT b", "COMMAND LIST FILTERBY MODULE foo",
    "COMMAND LIST FILTERBY ACLCAT nosuch", "COMMAND DOCS config|get", "COMMAND INFO get|x",
])
def test_replies_byte_for_byte(pair, args):
    pair.check(*args.encode().split())


@pytest.mark.parametrize("name", ["config", "command"])
def test_containers_have_redis_shape(pair, name):
    # RESP2 flattens the map of subcommand docs, whose order is Redis's hash order: RESP3 only
    for sub in (b"INFO", b"DOCS") if pair.protocol == 3 else (b"INFO",):
        ours, theirs = pair.both(b"COMMAND", sub, name.encode())
        assert canonical(ours) == canonical(theirs)


def test_count_and_all_entries_are_the_registry(ours):
    assert ours.call(b"COMMAND", b"COUNT") == b":%d\r\n" % len(COMMANDS)
    entries = elements(ours.call(b"COMMAND"))
    assert sorted(bulk_value(elements(e)[0]).decode() for e in entries) == sorted(COMMANDS)


def test_list_is_every_registered_name(ours):
    names = [bulk_value(item) for item in elements(ours.call(b"COMMAND", b"LIST"))]
    assert sorted(n.decode() for n in names) == sorted(EVERY_NAME)


@pytest.mark.parametrize("filter_args", [
    ("PATTERN", "*"), ("PATTERN", "CONFIG*"), ("PATTERN", "*|get"), ("PATTERN", "?et*"),
    ("ACLCAT", "string"), ("ACLCAT", "READ"), ("ACLCAT", "admin"), ("ACLCAT", "pubsub"),
])
def test_list_filterby_is_redis_restricted_to_the_registry(ours, theirs, filter_args):
    args = (b"COMMAND", b"LIST", b"FILTERBY", *(a.encode() for a in filter_args))
    redis_names = {bulk_value(item) for item in elements(theirs.call(*args))}
    our_names = [bulk_value(item) for item in elements(ours.call(*args))
                 if bulk_value(item).decode() not in NEWER_THAN_7_0]
    assert len(our_names) == len(set(our_names))
    assert set(our_names) == {n for n in redis_names if n.decode() in EVERY_NAME}


@pytest.mark.parametrize("case", GETKEYS_CASES)
def test_getkeys(pair, case):
    words = case.split()
    if words[0] not in COMMANDS and words[0] != "nosuch":
        return
    pair.check(b"COMMAND", b"GETKEYS", *(w.encode() for w in words))
    # Key specs with variable_flags (SET, BITFIELD) make Redis compute the flags in C code
    specs = TABLE.get(words[0], {}).get("key_specs", {"set": []})["set"]
    if not any({"simple": "variable_flags"} in spec["map"]["flags"]["set"] for spec in specs):
        pair.check(b"COMMAND", b"GETKEYSANDFLAGS", *(w.encode() for w in words))
