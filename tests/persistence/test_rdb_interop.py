"""RDB files against a real redis-server 7.0 and redis-check-rdb.

- What Redis writes (every encoding it uses: listpack, quicklist with compressed and PLAIN nodes,
  intset, hashtable, skiplist, LZF and integer strings, expiry times) is read back by RDBReader
  with the same values, deadlines and encodings as Redis reports.
- What valkdb writes is loaded by redis-server (DEBUG RELOAD NOSAVE over the file) with every
  key, type, value and deadline intact, and redis-check-rdb calls it OK.
- Old encodings Redis no longer writes (ziplist, zipmap, quicklist v1, RDB version 3 without a
  checksum) are hand-built and loaded by both, which must agree.
- check_rdb prints what redis-check-rdb prints, for good and broken files.
"""

from __future__ import annotations

import io
import os
import shutil
import struct
import subprocess
import time

import pytest
import redis
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.persistence.test_rdb import (
    DEFAULT_LIMITS,
    intset,
    listpack,
    plain,
    raw,
    rdb_file,
    string_blob,
    values,
    ziplist,
    zipmap,
)
from tests.support import redis_server_binary, start_redis
from valkdb.persistence.rdb import RDBReader, check_rdb, encode_length, write_rdb
from valkdb.store.types import Hash, List, Set, ZSet

CHECKER = shutil.which("redis-check-rdb")
pytestmark = pytest.mark.skipif(redis_server_binary() is None or CHECKER is None,
                                reason="redis-server 7.0 / redis-check-rdb not installed")


@pytest.fixture(scope="module")
def server():
    process = start_redis("--enable-debug-command", "yes")
    yield process
    process.stop()


@pytest.fixture
def client(server):
    connection = redis.Redis(port=server.port, socket_timeout=20)
    connection.flushall()
    connection.execute_command("DEBUG", "QUICKLIST-PACKED-THRESHOLD", "1000")
    yield connection
    connection.close()


def dump_path(client: redis.Redis) -> str:
    directory = client.config_get("dir")["dir"]
    return os.path.join(directory, client.config_get("dbfilename")["dbfilename"])


def read_file(path: str, limits=DEFAULT_LIMITS) -> tuple[RDBReader, dict]:
    """(reader, {(db, key): (value, deadline)})."""
    with open(path, "rb") as f:
        reader = RDBReader(f, limits)
        return reader, {(db, key): (value, deadline)
                        for db, key, value, deadline in reader.records()}


def redis_value(client: redis.Redis, key: bytes):
    """A key's value as redis-py reports it, in test_rdb.plain's form."""
    kind = client.type(key)
    if kind == b"string":
        return client.get(key)
    if kind == b"list":
        return client.lrange(key, 0, -1)
    if kind == b"set":
        return set(client.smembers(key))
    if kind == b"hash":
        return client.hgetall(key)
    assert kind == b"zset"
    return dict(client.zrange(key, 0, -1, withscores=True))


def valkdb_encoding(value) -> bytes | None:
    """The OBJECT ENCODING valkdb reports for value, where it can differ from Redis's."""
    if isinstance(value, Set):
        return b"intset" if value.intset else b"hashtable"
    if isinstance(value, Hash):
        return b"hashtable" if value.hashtable else b"listpack"
    if isinstance(value, ZSet):
        return b"listpack" if value.listpack else b"skiplist"
    return None


def score_bits(scores: dict) -> dict:
    return {member: struct.pack("<d", score) for member, score in scores.items()}


def assert_same_as_redis(client: redis.Redis, loaded: dict) -> None:
    """Every key RDBReader loaded is in redis-server with the same value, deadline, encoding,
    and redis-server has no other key."""
    for db in {db for db, _ in loaded} | {0}:
        client.execute_command("SELECT", db)
        keys = {key for (key_db, key) in loaded if key_db == db}
        assert set(client.keys("*")) == keys
        for key in keys:
            value, deadline = loaded[db, key]
            expected = redis_value(client, key)
            assert plain(value) == expected, key
            if isinstance(value, ZSet):
                assert score_bits(plain(value)) == score_bits(expected), key
            assert client.pexpiretime(key) == (-1 if deadline is None else deadline), key
            encoding = valkdb_encoding(value)
            if encoding is not None:
                assert client.object("encoding", key) == encoding, key
    client.execute_command("SELECT", 0)


def fill_every_encoding(client: redis.Redis) -> bytes:
    """Keys in every encoding Redis 7.0 saves; returns the incompressible PLAIN list element."""
    client.config_set("list-compress-depth", 1)  # inner quicklist nodes are saved compressed
    client.set("str", "hello")
    client.set("str:empty", "")
    client.set("str:int", "12345")
    client.set("str:neg", "-42")
    client.set("str:wide", "123456789012345")
    client.set("str:binary", bytes(range(256)))
    client.set("str:lzf", "abc" * 10000)
    client.rpush("list:small", "a", "b", "1", "-2")
    client.rpush("list:big", *[f"element-{i}" for i in range(3000)])
    plain_element = os.urandom(1500)  # over the packed threshold: a PLAIN node
    client.rpush("list:plain", "x", plain_element, "y")
    client.sadd("set:intset", 1, 2, 3, -5, 1 << 40)
    client.sadd("set:big-intset", *range(600))
    client.sadd("set:strings", "a", "b", "c")
    client.hset("hash:small", mapping={"f1": "v1", "f2": "123", "": "empty field"})
    client.hset("hash:big", mapping={f"field-{i}": f"value-{i}" for i in range(600)})
    client.hset("hash:long", mapping={"f": "v" * 100})
    client.zadd("zset:small", {"a": 1.5, "b": -0.0, "c": float("inf"), "d": float("-inf")})
    client.zadd("zset:big", {f"m{i}": i / 7 for i in range(600)})
    client.zadd("zset:big", {"negative-zero": -0.0})
    client.zadd("zset:long", {"m" * 100: 3})
    deadline = int(time.time() * 1000) + 10_000_000
    client.pexpireat("str", deadline)
    client.expire("hash:small", 1000)
    client.select(3)
    client.set("db3", "three")
    client.rpush("db3:list", "x")
    client.select(0)
    return plain_element


def test_reads_what_redis_writes(client):
    plain_element = fill_every_encoding(client)
    encodings = {key: client.object("encoding", key) for key in client.keys("*")}
    assert {encodings[b"set:intset"], encodings[b"set:big-intset"]} == {b"intset", b"hashtable"}
    assert {encodings[b"zset:small"], encodings[b"zset:big"]} == {b"listpack", b"skiplist"}
    assert client.save()
    path = dump_path(client)
    with open(path, "rb") as f:
        data = f.read()
    assert b"abc" * 100 not in data  # the long string went in LZF-compressed
    assert b"\x01" + encode_length(1500) + plain_element in data  # a PLAIN quicklist node
    reader, loaded = read_file(path)
    assert reader.version == 10 and reader.aux[b"redis-ver"] == b"7.0.15"
    assert reader.position == len(data)
    assert len(loaded) == 21
    assert isinstance(loaded[0, b"list:big"][0], List)
    assert_same_as_redis(client, loaded)


OLD_ENCODINGS = (
    b"\xfe\x00"
    + b"\x0a" + raw(b"list:ziplist") + string_blob(ziplist([b"a", 7, -300, 1 << 40, b"z" * 70]))
    + b"\x0e" + raw(b"list:quicklist") + b"\x02" + string_blob(ziplist([b"a", b"b"]))
    + string_blob(ziplist([3, b"c" * 300]))
    + b"\x0d" + raw(b"hash:ziplist") + string_blob(ziplist([b"f", b"v", b"n", 12, b"l", b"x" * 90]))
    + b"\x0c" + raw(b"zset:ziplist") + string_blob(ziplist([b"m", b"1.5", b"n", -3, b"o", b"inf"]))
    + b"\x0b" + raw(b"set:intset") + string_blob(intset([-(1 << 40), 5, 1 << 40], 8))
    + b"\x10" + raw(b"hash:listpack") + string_blob(listpack([b"f", 1, b"g", b"w" * 100]))
    + b"\x11" + raw(b"zset:listpack") + string_blob(listpack([b"m" * 100, b"-2.25", b"n", 4000]))
    + b"\x12" + raw(b"list:quicklist2") + b"\x02\x02" + string_blob(listpack([b"a", -1]))
    + b"\x01" + string_blob(b"plain")
    + b"\x03" + raw(b"zset:v1") + b"\x02" + raw(b"a") + b"\x041.25" + raw(b"b") + b"\xff"
    + b"\xfd" + struct.pack("<i", 2_000_000_000) + b"\x00" + raw(b"expires:seconds") + raw(b"v")
)
ZIPMAP_FILE = rdb_file(
    b"\xfe\x00\x09" + raw(b"hash:zipmap") + string_blob(zipmap([(b"a", b"1"), (b"b", b"2")], 2))
    + b"\x09" + raw(b"hash:zipmap-long") + string_blob(zipmap([(b"k", b"v" * 300)])), version=3)


@pytest.mark.parametrize("data", [rdb_file(OLD_ENCODINGS, version=9), ZIPMAP_FILE],
                         ids=["version-9", "version-3-zipmap"])
def test_old_encodings_load_as_in_redis(client, data):
    path = dump_path(client)
    with open(path, "wb") as f:
        f.write(data)
    client.execute_command("DEBUG", "RELOAD", "NOSAVE")
    _, loaded = read_file(path)
    assert loaded
    assert_same_as_redis(client, loaded)


SMALL_LIMITS = dict(hash_max_listpack_entries=2, hash_max_listpack_value=3,
                    set_max_intset_entries=2, zset_max_listpack_entries=2,
                    zset_max_listpack_value=3)


def test_encodings_converted_on_load_as_in_redis(client):
    """The conversions redis-server makes on load under tight limits, valkdb makes too."""
    path = dump_path(client)
    with open(path, "wb") as f:
        f.write(rdb_file(OLD_ENCODINGS, version=9))
    try:
        for name, limit in SMALL_LIMITS.items():
            client.config_set(name.replace("_", "-"), limit)
        client.execute_command("DEBUG", "RELOAD", "NOSAVE")
        _, loaded = read_file(path, limits=type("Limits", (), SMALL_LIMITS))
        assert_same_as_redis(client, loaded)
    finally:
        for name, limit in vars(DEFAULT_LIMITS).items():
            client.config_set(name.replace("_", "-"), limit)


def write_dataset(path: str, dataset: dict[int, dict]) -> None:
    databases = [(db, len(keys), sum(deadline is not None for _, deadline in keys.values()),
                  [(key, value, deadline) for key, (value, deadline) in keys.items()])
                 for db, keys in sorted(dataset.items())]
    with open(path, "wb") as f:
        write_rdb(f, databases)


def redis_check(path: str) -> tuple[int, list[str]]:
    result = subprocess.run([CHECKER, path], capture_output=True, text=True, timeout=60)
    return result.returncode, result.stdout.splitlines()


def assert_same_as(dataset: dict[int, dict], loaded: dict) -> None:
    expected = {(db, key): entry for db, keys in dataset.items() for key, entry in keys.items()}
    assert loaded.keys() == expected.keys()
    for db_key, (value, deadline) in loaded.items():
        assert (plain(value), deadline) == (plain(expected[db_key][0]), expected[db_key][1])


def every_type_dataset() -> dict[int, dict]:
    now = int(time.time() * 1000)
    hash_value = Hash()
    hash_value.update({b"f": b"v", b"n": b"-17", b"": b"", b"big": b"b" * 70000})
    set_value = Set(True)
    for member in (b"1", b"-2", b"x", b"4294967296"):
        set_value.add(member, 512)
    zset_value = ZSet(False)
    for member, score in ((b"a", 1.5), (b"b", -0.0), (b"c", float("inf")), (b"d", -1e300)):
        zset_value.insert(member, score, (128, 64))
    return {
        0: {b"string": (b"hello", now + 5_000_000), b"int": (b"-123", None),
            b"big": (os.urandom(100_000), None), b"empty": (b"", None),
            b"list": (List([b"$1\r\na\r\n", b"$0\r\n\r\n", b"$5\r\n12345\r\n"]), now + 7_000_000),
            b"hash": (hash_value, None), b"set": (set_value, None), b"zset": (zset_value, None)},
        5: {b"in-db-5": (b"five", None)},
    }


def test_redis_loads_what_valkdb_writes(client):
    path = dump_path(client)
    dataset = every_type_dataset()
    write_dataset(path, dataset)
    assert redis_check(path)[1][-4:-3] == [f"[offset {os.path.getsize(path)}] "
                                           "\\o/ RDB looks OK! \\o/"]
    client.execute_command("DEBUG", "RELOAD", "NOSAVE")
    _, loaded = read_file(path)
    assert_same_as(dataset, loaded)
    assert_same_as_redis(client, loaded)
    assert client.object("encoding", "set") == b"hashtable"


@settings(max_examples=25, deadline=None)
@given(st.dictionaries(st.integers(0, 15),
                       st.dictionaries(st.binary(max_size=20),
                                       st.tuples(values(), st.none() | st.integers(1, 1 << 40)),
                                       max_size=6),
                       max_size=3))
def test_redis_loads_random_datasets(server, dataset):
    client = redis.Redis(port=server.port, socket_timeout=20)
    path = dump_path(client)
    # Deadlines are pushed into the future: as a master, Redis drops expired keys on load.
    future = int(time.time() * 1000) + 10_000_000
    dataset = {db: {key: (value, None if deadline is None else future + deadline)
                    for key, (value, deadline) in keys.items()} for db, keys in dataset.items()}
    write_dataset(path, dataset)
    client.execute_command("DEBUG", "RELOAD", "NOSAVE")
    _, loaded = read_file(path)
    assert_same_as(dataset, loaded)
    assert_same_as_redis(client, loaded)
    client.close()


# -- check_rdb against redis-check-rdb ---------------------------------------------------------

def corrupt_variants(good: bytes) -> dict[str, bytes]:
    return {
        "good": good,
        "truncated": good[:len(good) // 2],
        "bad-crc": good[:-8] + b"foobar00",
        "zero-crc": good[:-8] + b"\0" * 8,
        "bad-magic": b"XEDIS" + good[5:],
        "bad-version": b"REDIS0011" + good[9:],
        "unknown-type": rdb_file(b"\xfe\x00\x00" + raw(b"k") + raw(b"v") + b"\x08" + raw(b"x")),
        "empty-key": rdb_file(b"\xfe\x00\x02" + raw(b"empty") + b"\x00" + b"\x00" + raw(b"k")
                              + raw(b"v")),
        "expired": rdb_file(b"\xfe\x00\xfc" + struct.pack("<q", 1000) + b"\x00" + raw(b"old")
                            + raw(b"v") + b"\xfd" + struct.pack("<i", 2_000_000_000) + b"\x00"
                            + raw(b"new") + raw(b"v")),
    }


def test_check_rdb_prints_what_redis_check_rdb_prints(client, tmp_path):
    fill_every_encoding(client)
    client.save()
    with open(dump_path(client), "rb") as f:
        redis_file = f.read()
    out = io.BytesIO()
    dataset = every_type_dataset()
    write_rdb(out, [(db, len(keys), 1, [(k, v, d) for k, (v, d) in keys.items()])
                    for db, keys in dataset.items()])
    cases = {f"redis-{name}": data for name, data in corrupt_variants(redis_file).items()}
    cases |= {f"valkdb-{name}": data for name, data in corrupt_variants(out.getvalue()).items()}
    cases["duplicate-member"] = rdb_file(b"\xfe\x00\x02" + raw(b"s") + b"\x02" + raw(b"a") * 2)
    for name, data in cases.items():
        path = str(tmp_path / f"{name}.rdb")
        with open(path, "wb") as f:
            f.write(data)
        returncode, expected = redis_check(path)
        ok, lines = check_rdb(path)
        assert ok == (returncode == 0), name
        if name == "duplicate-member":
            # Redis prefixes the reason with where in its C source the check is made
            assert expected[3].endswith("-> Duplicate set members detected")
            expected[3] = "[offset 19] Duplicate set members detected"
            expected = expected[:-1]  # and logs that the server would terminate
        assert lines == expected, name
