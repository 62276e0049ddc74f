"""CONFIG against a real redis-server 7.0.15: every setting's name and default, CONFIG SET's
answers for each kind's edge cases, encodings driven by the thresholds (aliases included),
rebinding, and files written by CONFIG REWRITE read back by the other server.

The values tried come from valkdb's table (each kind's corner cases); what they must produce
always comes from redis-server. These tests change settings, so they run on servers of their
own (tests.support.server_pair), not on the session's shared ones.
"""

from __future__ import annotations

import os
import shutil
import socket
import sys
import tempfile

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.compat.resp import RawConnection, bulk_value, elements
from tests.support import ServerProcess, free_port, redis_server_binary, server_pair
from valkdb.config import BY_NAME, SETTINGS, Setting

pytestmark = pytest.mark.skipif(redis_server_binary() is None, reason="no redis-server")

# Each server's own port and working directory; everything else must have Redis's default.
MACHINE_DEPENDENT = {"port", "dir"}
VALKDB_ONLY = {"keyspace-shards"}
# Not changed by the per-setting sweep, each for its reason (tests below cover the first two):
# rebinding; an AOF started and stopped; SIGALRM every millisecond; Redis raises (and as root
# lowers the hard) open files limit for large values.
NOT_SWEPT = {"port", "bind", "appendonly", "watchdog-period"}


def _values(setting: Setting) -> list[str]:
    """Texts worth trying for this setting: its range's edges, and what each kind refuses."""
    kind, lo, hi = setting.kind, setting.minimum, setting.maximum
    if setting.name == "maxclients":
        return ["1", "0", "5000", "10000", "-1", "4294967296", "abc", "2000000"]
    if kind in ("int", "memory", "percent"):
        values = [str(lo), str(hi), str(lo - 1), str(hi + 1), "abc", "", "05", "+5", " 5", "1k",
                  "1.5", "-1", "0", "7", str(2**63), str(-(2**63) - 1), str(2**64)]
        if kind != "int":
            values += ["1kb", "2mb", "1GB", "kb", "5%", "100%", "101%", "-5%", "0%", "1 kb",
                       "99999999999999999999", "99999999999999999999kb", str(2**64 - 1)]
        return values
    if kind == "octal":
        return ["700", "8", "-1", "1000"]
    if kind == "bool":
        return ["yes", "no", "YES", "No", "maybe", "", "1"]
    if kind in ("enum", "flags"):
        values = [*setting.choices, *(c.upper() for c in setting.choices), "foo", "", "a b"]
        return values + (["save now", "NOW save", "save nosave", "save  now"]
                         if kind == "flags" else [])
    if kind == "str":
        return ["x", "", "a b", "a/b", "a\\b", "{title}", "{port} x", "{{", "h-1.x", "é", "a_b"]
    return _SPECIAL_VALUES[setting.name]


_SPECIAL_VALUES = {
    "save": ["", "900 1", "900 1 300 10", "1 2 3", "0 1", "a b", "1 -1", "900  1 5", "+5 +6",
             "1 4294967297", " 900 1"],
    "client-output-buffer-limit": [
        "pubsub 1mb 2mb 3", "slave 1 2 3", "replica 1gb 1gb 0", "REPLICA 1 2 3", "master 1 1 1",
        "normal 1 2", "pubsub a 2 3", "pubsub 1 2 -1", "pubsub 1 2 +5", "",
        "normal 10mb 20mb 30 pubsub 1 2 3", "pubsub 1 2 99999999999", "pubsub 1 2 4294967296"],
    "oom-score-adj-values": ["0 200 800", "1 2 3", "-2000 0 2000", "1 2", "0 0 2001", "a b c",
                             "1 2 3 4", "", "+1 2 3"],
    "notify-keyspace-events": ["KEA", "Kx", "AnKm", "", "KEZ", "gE$", "n", "A A"],
    "latency-tracking-info-percentiles": ["50 99 99.9", "", "50", "99.99 0 100", "101", "abc",
                                          "50  99", "-1", "1e2", "0x10", "nan", "inf"],
    "replicaof": ["127.0.0.1 1", "no one"],
    "dir": ["/tmp"],
}


def _swept() -> list[str]:
    return [s.name for s in SETTINGS if s.name not in NOT_SWEPT | VALKDB_ONLY]


def _config_map(conn: RawConnection, *patterns: str) -> dict[str, str]:
    items = elements(conn.call(b"CONFIG", b"GET", *(p.encode() for p in patterns)))
    values = [(bulk_value(item) or b"").decode("utf-8", "surrogateescape") for item in items]
    return dict(zip(values[::2], values[1::2], strict=True))


class Pair:
    """Raw connections to valkdb and to redis-server, used in lockstep."""

    def __init__(self, ours: ServerProcess, theirs: ServerProcess) -> None:
        self.servers = (ours, theirs)
        self.conns = [RawConnection(ours.port), RawConnection(theirs.port)]

    def both(self, *args: bytes) -> list[bytes]:
        return [conn.call(*args) for conn in self.conns]

    def get(self, *patterns: str) -> list[dict[str, str]]:
        return [_config_map(conn, *patterns) for conn in self.conns]

    def close(self) -> None:
        for conn in self.conns:
            conn.close()


@pytest.fixture(scope="module")
def pair():
    with server_pair() as (ours, theirs):
        connections = Pair(ours, theirs)
        yield connections
        connections.close()


# -- CONFIG GET ----------------------------------------------------------------------------------


def test_star_names_and_defaults(pair):
    ours, theirs = pair.get("*")
    assert set(ours) - set(theirs) == VALKDB_ONLY
    assert set(theirs) <= set(ours)
    assert {name: (ours[name], value) for name, value in theirs.items()
            if name not in MACHINE_DEPENDENT and ours[name] != value} == {}


def test_every_exact_name_as_redis(pair):
    """Each name and alias on its own, the hidden ones too, under the name asked."""
    for name in BY_NAME:
        ours, theirs = pair.get(name)
        if name not in MACHINE_DEPENDENT | VALKDB_ONLY:
            assert ours == theirs, name
    hidden = {s.name for s in SETTINGS if s.hidden}
    assert hidden and not hidden & set(pair.get("*")[1])  # patterns skip them, in Redis too
    assert not hidden & set(pair.get("*")[0])


@pytest.mark.parametrize("patterns", ["*ziplist*", "slave*", "*-max-*", "HASH-MAX-ZIPLIST-ENTRIES",
                                      "hash-max-ziplist-entries hash-max-listpack-entries",
                                      "replicaof SLAVEOF slaveof", "lua-time-limit busy*",
                                      "rdb-key-save-delay", "*delay*", "tls-*"])
def test_patterns_and_aliases_as_redis(pair, patterns):
    ours, theirs = pair.get(*patterns.split())
    assert ours == theirs


# -- CONFIG SET, one setting at a time -----------------------------------------------------------


@pytest.mark.parametrize("name", _swept())
def test_config_set_as_redis(pair, name):
    """Same reply to every value; after each accepted one, the same CONFIG GET (under the
    name and the alias); then the default back on both."""
    setting = BY_NAME[name]
    original = pair.get(name)
    names = [name, setting.alias] if setting.alias else [name]
    try:
        for value in _values(setting):
            for asked in names:
                replies = pair.both(b"CONFIG", b"SET", asked.encode(), value.encode())
                assert replies[0] == replies[1], (asked, value)
                if name not in MACHINE_DEPENDENT:
                    assert pair.get(asked)[0] == pair.get(asked)[1], (asked, value)
    finally:
        for conn, values in zip(pair.conns, original, strict=True):
            if BY_NAME[name].mutable and not BY_NAME[name].protected:
                assert conn.call(b"CONFIG", b"SET", name.encode(),
                                 values[name].encode()) == b"+OK\r\n"
    assert pair.get(name) == original


_NUMERIC = [s.name for s in SETTINGS if s.kind in ("int", "memory", "percent", "bool", "enum")
            and s.mutable and not s.protected and not s.apply and s.name not in NOT_SWEPT]


@settings(max_examples=300, deadline=None)
@given(name=st.sampled_from(_NUMERIC),
       value=st.text(alphabet="0123456789-+ %.kKmMgGbByesnoxYN", max_size=8))
def test_random_values_as_redis(pair, name, value):
    replies = pair.both(b"CONFIG", b"SET", name.encode(), value.encode())
    assert replies[0] == replies[1]
    ours, theirs = pair.get(name)
    assert ours == theirs
    if replies[0] == b"+OK\r\n":
        default = BY_NAME[name].format(BY_NAME[name].default_value)
        assert pair.both(b"CONFIG", b"SET", name.encode(), default.encode()) == [b"+OK\r\n"] * 2


# -- CONFIG SET, several at once, and the refusals -----------------------------------------------

# One argument pair of each sort; every ordered pair and triple of them is sent at once.
_ARGUMENTS = {
    "valid": ["maxmemory-samples", "7"],
    "valid-alias": ["slave-priority", "50"],
    "invalid": ["maxmemory-samples", "0"],
    "invalid-alias": ["HASH-MAX-ZIPLIST-ENTRIES", "abc"],
    "unknown": ["no-such-setting", "1"],
    "immutable": ["daemonize", "yes"],
    "protected": ["dbfilename", "x.rdb"],
    "primary-of-alias": ["replica-priority", "60"],
    "bad-enum": ["loglevel", "loud"],
    "special": ["save", "900 1"],
    "bad-special": ["save", "1"],
}


def _combinations():
    sorts = list(_ARGUMENTS)
    for first in sorts:
        for second in sorts:
            yield first, second
            yield first, second, "valid"


@pytest.mark.parametrize("sorts", list(_combinations()), ids="+".join)
def test_several_settings_at_once(pair, sorts):
    args = [b"CONFIG", b"SET"]
    for sort in sorts:
        args += [word.encode() for word in _ARGUMENTS[sort]]
    before = pair.get("maxmemory-samples", "replica-priority", "save", "loglevel")
    replies = pair.both(*args)
    assert replies[0] == replies[1]
    after = pair.get("maxmemory-samples", "replica-priority", "save", "loglevel")
    assert after[0] == after[1]  # all or nothing, on both
    for conn, values in zip(pair.conns, before, strict=True):
        for name, value in values.items():
            conn.call(b"CONFIG", b"SET", name.encode(), value.encode())


@pytest.mark.parametrize("args", [
    "CONFIG SET", "CONFIG SET maxclients", "CONFIG SET maxclients 10 port",
    "CONFIG SET hz 5 hz 6", "CONFIG SET Hz 5 HZ 6", "CONFIG SET tls-port 1",
    "CONFIG SET tls-replication yes", "CONFIG SET tls-cluster no", "CONFIG SET activedefrag yes",
    "CONFIG SET enable-protected-configs yes", "CONFIG SET slaveof no one",
])
def test_config_set_errors_byte_for_byte(pair, args):
    replies = pair.both(*args.encode().split())
    assert replies[0] == replies[1]


# -- Encodings ------------------------------------------------------------------------------------

_SMALL_THRESHOLDS = ["hash-max-ziplist-entries", "2", "hash-max-ziplist-value", "4",
                     "zset-max-ziplist-entries", "2", "zset-max-ziplist-value", "4",
                     "set-max-intset-entries", "2", "list-max-ziplist-size", "1",
                     "list-compress-depth", "1"]
_KEYS = [
    ("HSET", "h-small", "a", "1"), ("HSET", "h-many", "a", "1", "b", "2", "c", "3"),
    ("HSET", "h-long", "a", "12345"), ("ZADD", "z-small", "1", "a"),
    ("ZADD", "z-many", "1", "a", "2", "b", "3", "c"), ("ZADD", "z-long", "1", "abcdefgh"),
    ("SADD", "s-small", "1", "2"), ("SADD", "s-many", "1", "2", "3"), ("SADD", "s-text", "x"),
    ("RPUSH", "l-small", "a"), ("RPUSH", "l-many", *"abcdefgh"),
]


def test_thresholds_drive_object_encoding_as_redis(pair):
    before = pair.get(*_SMALL_THRESHOLDS[::2])
    try:
        assert pair.both(b"CONFIG", b"SET", *(w.encode() for w in _SMALL_THRESHOLDS)) == [
            b"+OK\r\n"] * 2
        for command in _KEYS:
            pair.both(*(word.encode() for word in command))
            replies = pair.both(b"OBJECT", b"ENCODING", command[1].encode())
            assert replies[0] == replies[1], command
        assert pair.both(b"OBJECT", b"ENCODING", b"l-many")[1] == b"$9\r\nquicklist\r\n"
    finally:
        pair.both(b"FLUSHALL")
        for conn, values in zip(pair.conns, before, strict=True):
            for name, value in values.items():
                conn.call(b"CONFIG", b"SET", name.encode(), value.encode())


# -- Rebinding, protected settings ---------------------------------------------------------------


def _listening(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2):
            return True
    except OSError:
        return False


def test_port_and_bind_rebind_as_redis():
    with server_pair() as servers:
        connections = Pair(*servers)
        try:
            ports = [server.port for server in servers]
            new = [free_port(), free_port()]
            for conn, port in zip(connections.conns, new, strict=True):
                assert conn.call(b"CONFIG", b"SET", b"port", b"%d" % port) == b"+OK\r\n"
            assert all(map(_listening, new)) and not any(map(_listening, ports))
            # A port in use (the other server's) is refused, and the old one still listens.
            replies = [conn.call(b"CONFIG", b"SET", b"port", b"%d" % other)
                       for conn, other in zip(connections.conns, new[::-1], strict=True)]
            assert replies[0] == replies[1] and b"Unable to listen" in replies[0]
            assert all(map(_listening, new))
            for args in (b"bind 192.0.2.1", b"bind -192.0.2.1 127.0.0.1", b"bind 127.0.0.1",
                         b"bind 127.0.0.1 port 0x", b"bind 1.1.1.1 maxmemory-samples 3"):
                replies = connections.both(b"CONFIG", b"SET", *args.split())
                assert replies[0] == replies[1], args
                ours, theirs = connections.get("bind", "maxmemory-samples")
                assert ours == theirs, args
                assert all(map(_listening, new)), args
        finally:
            connections.close()


@pytest.mark.parametrize("allowed", ["yes", "local"])
def test_protected_settings_when_allowed(allowed, tmp_path):
    with server_pair("--enable-protected-configs", allowed) as servers:
        connections = Pair(*servers)
        try:
            for args in (f"dir {tmp_path}", "dir /nonexistent/x", "dbfilename a/b",
                         "dbfilename x.rdb", "dir ."):
                replies = connections.both(b"CONFIG", b"SET", *args.encode().split())
                assert replies[0] == replies[1], args
                ours, theirs = connections.get("dir", "dbfilename")
                assert ours == theirs, args
        finally:
            connections.close()


# -- CONFIG REWRITE ------------------------------------------------------------------------------

_SETS_BEFORE_REWRITE = [
    ("maxmemory-clients", "5%"), ("notify-keyspace-events", "KEA"), ("hz", "10"),
    ("shutdown-on-sigint", "save now"), ("latency-tracking-info-percentiles", "50 99.99"),
    ("replica-announce-ip", "1.2.3.4"), ("maxmemory", "100mb"), ("save", "900 1 300 10"),
    ("client-output-buffer-limit", "replica 1gb 512mb 0"), ("slave-read-only", "no"),
    ("unixsocketperm", "700"), ("list-max-ziplist-size", "-3"), ("masteruser", "u"),
    ("appendfsync", "always"), ("oom-score-adj", "relative"), ("proc-title-template", "{port}"),
    ("tracking-table-max-keys", "0"), ("ignore-warnings", 'a "q"'), ("requirepass", "x y"),
]


def _start(argv: list[str], port: int, cwd: str) -> ServerProcess:
    return ServerProcess([*argv, "--port", str(port)], port, cwd)


def _conf(directory: str) -> str:
    include = os.path.join(directory, "inc.conf")
    with open(include, "w") as f:
        f.write("hz 20\ntimeout 3\n")  # hz is set back to its default: lost on reload
    return (f"# a comment\nbind 127.0.0.1\ndir {directory}\nsave 60 1000\nsave 30 5000\n"
            "hash-max-ziplist-entries 10\ntimeout 5\n\n\n\ntimeout 6\nslaveof 127.0.0.1 1\n"
            f"include {include}\nlist-max-ziplist-entries 5\nmaxmemory 1gb\n"
            "client-output-buffer-limit pubsub 1mb 2mb 3\nunixsocketperm 700\n")


def _rewritten(text: str) -> tuple[list[str], list[str]]:
    """The lines before Redis's "Generated" mark in order, those after it sorted (Redis appends
    them in its hash table's order); the port lines (each server's own) left out."""
    lines = [line for line in text.split("\n") if not line.startswith("port ")]
    mark = lines.index("# Generated by CONFIG REWRITE") if "# Generated by CONFIG REWRITE" in \
        lines else len(lines)
    return lines[:mark], sorted(lines[mark:])


def test_rewrite_as_redis_and_files_swap():
    directory = tempfile.mkdtemp(prefix="valkdb-rewrite-")
    paths = [os.path.join(directory, name) for name in ("ours.conf", "theirs.conf")]
    for path in paths:
        with open(path, "w") as f:
            f.write(_conf(directory))
    valkdb = [sys.executable, "-m", "valkdb"]
    redis = [redis_server_binary() or "redis-server"]
    servers = [_start([*valkdb, paths[0]], free_port(), directory),
               _start([*redis, paths[1]], free_port(), directory)]
    reloaded: list[ServerProcess] = []
    try:
        pair = Pair(*servers)
        for name, value in _SETS_BEFORE_REWRITE:
            replies = pair.both(b"CONFIG", b"SET", name.encode(), value.encode())
            assert replies[0] == replies[1], name
        pair.both(b"AUTH", b"x y")
        for _ in range(2):  # the second rewrite reuses the lines the first one wrote
            assert pair.both(b"CONFIG", b"REWRITE") == [b"+OK\r\n"] * 2
            assert pair.both(b"CONFIG", b"SET", b"maxmemory-samples", b"9") == [b"+OK\r\n"] * 2
        texts = [open(path).read() for path in paths]
        assert _rewritten(texts[0]) == _rewritten(texts[1])
        running = pair.get("*")
        pair.close()
        # Each server now starts from the other's file, and must end up where that one was.
        reloaded = [_start([*valkdb, paths[1]], free_port(), directory),
                    _start([*redis, paths[0]], free_port(), directory)]
        again = Pair(*reloaded)
        again.both(b"AUTH", b"x y")
        now = again.get("*")
        # hz went back to its default, so the rewrite left it out and the include's 20 is back,
        # in Redis too; maxmemory-samples changed after the last rewrite.
        ignored = {"port", "hz", "maxmemory-samples"} | VALKDB_ONLY
        for before, after in zip(running[::-1], now, strict=True):
            assert {name: (value, after.get(name)) for name, value in before.items()
                    if name not in ignored and after.get(name) != value} == {}
        assert {name: (value, now[1][name]) for name, value in now[0].items()
                if name not in {"port"} | VALKDB_ONLY and now[1][name] != value} == {}
        assert now[0]["hz"] == now[1]["hz"] == "20"
        again.close()
    finally:
        for server in servers + reloaded:
            server.stop()
        shutil.rmtree(directory, ignore_errors=True)
