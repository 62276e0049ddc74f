"""Differential tests of MULTI, EXEC, DISCARD, WATCH and UNWATCH against redis-server 7.0.

Transactions are about what happens between commands, so each scenario is a script for two
clients, A and B, run step by step on both servers: every reply (QUEUED, the errors that doom a
transaction, the EXEC array with runtime errors in place, the null array of an aborted EXEC in
RESP2 and RESP3) must be byte for byte redis-server's. hypothesis then draws whole
transactions - writes before WATCH, writes by either client after it, queued commands
(sometimes refused) and EXEC or DISCARD - from the string and key command strategies of
test_strings_keys, and compares reply by reply and the data left behind.

Timing-dependent behaviour (expiry of a WATCHed key, atomicity under load, blocking) is in
tests/commands/test_transactions.py.
"""

from __future__ import annotations

import shlex

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.compat.differ import Differ
from tests.compat.resp import RawConnection
from tests.compat.test_strings_keys import (
    COMPAT_SETTINGS,
    ENCODING_CHANGERS,
    KEYS,
    any_arity,
    check_final_state,
    expiry_commands,
    key_commands,
    string_commands,
)
from tests.support import server_pair


@pytest.fixture
def clients(differ, valkdb_server, redis_server):
    """Client A (the differ fixture) and client B, each connected to both servers."""
    second = Differ(valkdb_server.port, redis_server.port, differ.protocol)
    second.history = differ.history  # one story of both clients' steps in a divergence
    yield {"A": differ, "B": second}
    second.close()


def missing_commands(differ: Differ, names: set[bytes]) -> list[bytes]:
    """Commands a scenario needs that valkdb does not have yet (other families are written
    in parallel): those scenarios are skipped until they exist."""
    def known(conn: RawConnection, name: bytes) -> bool:
        return conn.call(b"COMMAND", b"INFO", name)[4:] not in (b"$-1\r\n", b"_\r\n")
    return [name for name in sorted(names)
            if known(differ.theirs, name) and not known(differ.ours, name)]


def run_script(clients: dict[str, Differ], script: list[str]) -> None:
    """Steps are 'A: COMMAND args' or 'B: ...', compared reply by reply on both servers."""
    for step in script:
        who, _, line = step.partition(":")
        clients[who].check(*(arg.encode() for arg in shlex.split(line)))


def script_commands(script: list[str]) -> set[bytes]:
    return {shlex.split(step.partition(":")[2])[0].lower().encode() for step in script}


QUEUE_ERRORS = {
    "nested MULTI is an error that does not doom the transaction": [
        "A: MULTI", "A: MULTI", "A: SET k 1", "A: EXEC", "A: GET k"],
    "EXEC and DISCARD without MULTI": ["A: EXEC", "A: DISCARD", "A: exec", "A: discard"],
    "WATCH inside MULTI is an error that does not doom the transaction": [
        "A: MULTI", "A: WATCH k", "A: SET k 1", "A: EXEC", "A: GET k"],
    "an unknown command dooms the transaction": [
        "A: MULTI", "A: SET k 1", "A: NOSUCHCOMMAND x", "A: SET j 2", "A: EXEC", "A: GET k",
        "A: GET j"],
    "a wrong arity dooms the transaction": [
        "A: MULTI", "A: SET k 1", "A: GET", "A: EXEC", "A: EXISTS k"],
    "an unknown subcommand dooms the transaction": [
        "A: MULTI", "A: OBJECT NOSUCH k", "A: EXEC"],
    "a container without its subcommand dooms the transaction": [
        "A: MULTI", "A: CONFIG", "A: EXEC"],
    "SHUTDOWN is not allowed inside MULTI": ["A: MULTI", "A: SHUTDOWN NOSAVE", "A: EXEC"],
    "wrong arity of MULTI inside MULTI dooms it": ["A: MULTI", "A: MULTI x", "A: EXEC"],
    "DISCARD with arguments dooms it": ["A: MULTI", "A: DISCARD x", "A: EXEC"],
    "a refused EXEC discards the transaction at once": [
        "A: MULTI", "A: SET k 1", "A: EXEC x", "A: EXEC", "A: GET k"],
    "a refused EXEC outside MULTI also drops the WATCHes": [
        "A: WATCH k", "A: EXEC x", "B: SET k 2", "A: MULTI", "A: PING", "A: EXEC"],
    "EXEC after an error still discards: the next EXEC has no MULTI": [
        "A: MULTI", "A: GET", "A: EXEC", "A: EXEC"],
    "errors at run time are returned in place, the rest runs": [
        "A: SET s abc", "A: MULTI", "A: INCR s", "A: SET n 1", "A: INCRBY n 2",
        "A: INCRBYFLOAT s 1", "A: SETRANGE n -1 x", "A: SET n 2 EX 0", "A: GET n", "A: EXEC"],
    "WRONGTYPE inside EXEC is returned in place": [
        "A: SET s abc", "A: MULTI", "A: LPUSH s x", "A: HSET s f v", "A: SADD s m",
        "A: ZADD s 1 m", "A: GET s", "A: EXEC"],
    "an empty transaction": ["A: MULTI", "A: EXEC", "A: MULTI", "A: DISCARD"],
    "DISCARD drops the queue": ["A: MULTI", "A: SET k 1", "A: DISCARD", "A: GET k"],
    "UNWATCH is queued inside MULTI": [
        "A: WATCH k", "A: MULTI", "A: UNWATCH", "A: SET k 1", "A: EXEC", "A: GET k"],
    "lowercase and mixed-case names": [
        "A: multi", "A: Set k 1", "A: eXeC"],
    "SELECT inside EXEC applies to the rest and stays": [
        "A: MULTI", "A: SELECT 1", "A: SET k 1", "A: EXEC", "A: GET k", "A: SELECT 0",
        "A: GET k"],
    "reply types inside EXEC follow the protocol": [
        "A: SET k 1.5", "A: MULTI", "A: INCRBYFLOAT k 1", "A: CONFIG GET maxmemory",
        "A: GET nokey", "A: TYPE k", "A: EXISTS k nokey", "A: ECHO hi", "A: EXEC"],
    "commands of every family queue and run": [
        "A: MULTI", "A: LPUSH l a b", "A: LRANGE l 0 -1", "A: HSET h f v", "A: HGETALL h",
        "A: SADD s 1 2", "A: SCARD s", "A: ZADD z 1 m", "A: ZRANGE z 0 -1 WITHSCORES",
        "A: ZSCORE z m", "A: EXEC"],
    "a blocking command inside MULTI does not block": [
        "A: MULTI", "A: BLPOP nolist 0", "A: BRPOP nolist 1", "A: BLMOVE nolist l LEFT LEFT 0",
        "A: BZPOPMIN noz 0", "A: EXEC"],
    "a blocking command inside MULTI takes what is there": [
        "A: RPUSH l a b", "A: MULTI", "A: BLPOP l 0", "A: BRPOP l 0", "A: BLPOP l 0",
        "A: EXEC"],
}

WATCH_ABORTS = {
    "a write by another client": [
        "A: SET k 1", "A: WATCH k", "B: SET k 2", "A: MULTI", "A: INCR k", "A: EXEC",
        "A: GET k"],
    "a write by the same client before MULTI": [
        "A: WATCH k", "A: SET k 2", "A: MULTI", "A: INCR k", "A: EXEC", "A: GET k"],
    "a key created by another client": [
        "A: WATCH k", "B: SET k 1", "A: MULTI", "A: PING", "A: EXEC"],
    "DEL": ["A: SET k 1", "A: WATCH k", "B: DEL k", "A: MULTI", "A: PING", "A: EXEC"],
    "UNLINK": ["A: SET k 1", "A: WATCH k", "B: UNLINK k", "A: MULTI", "A: PING", "A: EXEC"],
    "RENAME from the key": [
        "A: SET k 1", "A: WATCH k", "B: RENAME k j", "A: MULTI", "A: PING", "A: EXEC"],
    "RENAME onto the key": [
        "A: SET j 1", "A: WATCH k", "B: RENAME j k", "A: MULTI", "A: PING", "A: EXEC"],
    "EXPIRE": ["A: SET k 1", "A: WATCH k", "B: EXPIRE k 100", "A: MULTI", "A: PING",
               "A: EXEC"],
    "EXPIRE in the past deletes": [
        "A: SET k 1", "A: WATCH k", "B: EXPIREAT k 1", "A: MULTI", "A: PING", "A: EXEC"],
    "PERSIST": ["A: SET k 1 EX 100", "A: WATCH k", "B: PERSIST k", "A: MULTI", "A: PING",
                "A: EXEC"],
    "GETEX with a new TTL": [
        "A: SET k 1", "A: WATCH k", "B: GETEX k EX 100", "A: MULTI", "A: PING", "A: EXEC"],
    "GETDEL": ["A: SET k 1", "A: WATCH k", "B: GETDEL k", "A: MULTI", "A: PING", "A: EXEC"],
    "SET of the same value": [
        "A: SET k 1", "A: WATCH k", "B: SET k 1", "A: MULTI", "A: PING", "A: EXEC"],
    "APPEND of nothing": [
        "A: SET k 1", "A: WATCH k", "B: APPEND k ''", "A: MULTI", "A: PING", "A: EXEC"],
    "INCRBY 0": ["A: SET k 1", "A: WATCH k", "B: INCRBY k 0", "A: MULTI", "A: PING",
                 "A: EXEC"],
    "MOVE to another db": [
        "A: SET k 1", "A: WATCH k", "B: MOVE k 1", "A: MULTI", "A: PING", "A: EXEC"],
    "COPY onto the key": [
        "A: SET j 1", "A: WATCH k", "B: COPY j k", "A: MULTI", "A: PING", "A: EXEC"],
    "FLUSHDB of a db holding the key": [
        "A: SET k 1", "A: WATCH k", "B: FLUSHDB", "A: MULTI", "A: PING", "A: EXEC"],
    "FLUSHALL": ["A: SET k 1", "A: WATCH k", "B: FLUSHALL", "A: MULTI", "A: PING", "A: EXEC"],
    "SWAPDB bringing the key in": [
        "B: SELECT 1", "B: SET k 1", "A: WATCH k", "B: SWAPDB 0 1", "A: MULTI", "A: PING",
        "A: EXEC"],
    "SWAPDB taking the key away": [
        "A: SET k 1", "A: WATCH k", "B: SWAPDB 1 0", "A: MULTI", "A: PING", "A: EXEC"],
    "the WATCHed key in another db": [
        "A: SELECT 1", "A: WATCH k", "A: SELECT 0", "B: SELECT 1", "B: SET k 1", "A: MULTI",
        "A: PING", "A: EXEC"],
    "one of several WATCHed keys": [
        "A: WATCH a b c", "B: SET c 1", "A: MULTI", "A: SET a 1", "A: EXEC", "A: GET a"],
    "WATCH twice, then a write": [
        "A: WATCH k", "A: WATCH k j", "B: SET k 1", "A: MULTI", "A: PING", "A: EXEC"],
    "a write while the transaction is queued": [
        "A: WATCH k", "A: MULTI", "A: SET j 1", "B: SET k 1", "A: EXEC", "A: GET j"],
    "LPUSH": ["A: WATCH k", "B: LPUSH k a", "A: MULTI", "A: PING", "A: EXEC"],
    "LPOP of the last element": [
        "A: RPUSH k a", "A: WATCH k", "B: LPOP k", "A: MULTI", "A: PING", "A: EXEC"],
    "HSET": ["A: HSET k f v", "A: WATCH k", "B: HSET k g v", "A: MULTI", "A: PING", "A: EXEC"],
    "SADD": ["A: SADD k a", "A: WATCH k", "B: SADD k b", "A: MULTI", "A: PING", "A: EXEC"],
    "ZADD": ["A: ZADD k 1 a", "A: WATCH k", "B: ZADD k 2 a", "A: MULTI", "A: PING",
             "A: EXEC"],
}

WATCH_KEEPS = {
    "reads": ["A: SET k 1", "A: WATCH k", "B: GET k", "B: EXISTS k", "B: TTL k", "B: TYPE k",
              "B: STRLEN k", "B: TOUCH k", "B: OBJECT ENCODING k", "A: MULTI", "A: PING",
              "A: EXEC"],
    "SETNX of an existing key": [
        "A: SET k 1", "A: WATCH k", "B: SETNX k 2", "B: SET k 3 NX", "B: MSETNX k 4 j 5",
        "A: MULTI", "A: PING", "A: EXEC"],
    "SET XX of a missing key": [
        "A: WATCH k", "B: SET k 1 XX", "A: MULTI", "A: PING", "A: EXEC"],
    "PERSIST without a TTL": [
        "A: SET k 1", "A: WATCH k", "B: PERSIST k", "A: MULTI", "A: PING", "A: EXEC"],
    "EXPIRE refused by NX or GT": [
        "A: SET k 1 EX 100", "A: WATCH k", "B: EXPIRE k 200 NX", "B: EXPIRE k 50 GT",
        "A: MULTI", "A: PING", "A: EXEC"],
    "DEL of a missing key": ["A: WATCH k", "B: DEL k", "A: MULTI", "A: PING", "A: EXEC"],
    "RENAME onto itself": [
        "A: SET k 1", "A: WATCH k", "B: RENAME k k", "A: MULTI", "A: PING", "A: EXEC"],
    "COPY from the key": [
        "A: SET k 1", "A: WATCH k", "B: COPY k j", "A: MULTI", "A: PING", "A: EXEC"],
    "GETEX without options": [
        "A: SET k 1", "A: WATCH k", "B: GETEX k", "B: GETEX k PERSIST", "A: MULTI", "A: PING",
        "A: EXEC"],
    "a write to the same name in another db": [
        "A: WATCH k", "B: SELECT 1", "B: SET k 1", "A: MULTI", "A: PING", "A: EXEC"],
    "FLUSHDB of a db without the key": [
        "A: SET j 1", "A: WATCH k", "B: FLUSHDB", "B: FLUSHALL", "A: MULTI", "A: PING",
        "A: EXEC"],
    "SWAPDB where neither db holds the key": [
        "A: WATCH k", "B: SWAPDB 0 1", "A: MULTI", "A: PING", "A: EXEC"],
    "UNWATCH before the write": [
        "A: WATCH k", "A: UNWATCH", "B: SET k 1", "A: MULTI", "A: PING", "A: EXEC"],
    "EXEC forgets the WATCHes": [
        "A: WATCH k", "A: MULTI", "A: EXEC", "B: SET k 1", "A: MULTI", "A: PING", "A: EXEC"],
    "an aborted EXEC forgets the WATCHes": [
        "A: WATCH k", "B: SET k 1", "A: MULTI", "A: EXEC", "B: SET k 2", "A: MULTI", "A: PING",
        "A: EXEC"],
    "DISCARD forgets the WATCHes": [
        "A: WATCH k", "A: MULTI", "A: DISCARD", "B: SET k 1", "A: MULTI", "A: PING",
        "A: EXEC"],
    "a write made by the transaction itself": [
        "A: WATCH k", "A: MULTI", "A: SET k 1", "A: SET k 2", "A: EXEC", "A: GET k"],
    "a failed LPOP of a missing key": [
        "A: WATCH k", "B: LPOP k", "B: SREM k a", "B: HDEL k f", "B: ZREM k a", "A: MULTI",
        "A: PING", "A: EXEC"],
    "a SADD of a member already there": [
        "A: SADD k a", "A: WATCH k", "B: SADD k a", "A: MULTI", "A: PING", "A: EXEC"],
}

RESET_AND_QUIT = {
    "RESET drops the queue and the WATCHes": [
        "A: WATCH k", "A: MULTI", "A: SET j 1", "A: RESET", "A: GET j", "B: SET k 1",
        "A: MULTI", "A: PING", "A: EXEC", "A: EXEC"],
    "RESET after a refused command": [
        "A: MULTI", "A: GET", "A: RESET", "A: MULTI", "A: PING", "A: EXEC"],
}

SCENARIOS = {**QUEUE_ERRORS, **WATCH_ABORTS, **WATCH_KEEPS, **RESET_AND_QUIT}


@pytest.mark.parametrize("script", SCENARIOS.values(), ids=SCENARIOS.keys())
def test_scenario(clients, script):
    missing = missing_commands(clients["A"], script_commands(script))
    if missing:
        pytest.skip(f"not implemented yet: {b', '.join(missing).decode()}")
    run_script(clients, script)


def test_exec_refused_in_resp2_subscribed_mode(valkdb_server, redis_server):
    """EXEC refused because the client subscribed inside the transaction (RESP2 only)."""
    pair = Differ(valkdb_server.port, redis_server.port, 2)
    try:
        for step in ("MULTI", "SUBSCRIBE ch", "PING", "EXEC", "EXEC", "PING", "RESET"):
            pair.check(*(arg.encode() for arg in step.split()))
    finally:
        pair.close()


def test_exec_before_auth():
    """Before AUTH, EXEC is refused as EXECABORT ... NOAUTH, MULTI as NOAUTH; AUTH inside
    MULTI is queued. (Differ would send HELLO and FLUSHALL first, so raw connections here.)"""
    steps = ("EXEC", "MULTI", "DISCARD", "WATCH k", "UNWATCH", "AUTH pw", "MULTI", "AUTH bad",
             "AUTH pw", "SET k 1", "EXEC", "GET k")
    with server_pair("--requirepass", "pw") as (ours, theirs):
        replies = []
        for server in (ours, theirs):
            conn = RawConnection(server.port)
            replies.append([conn.call(*(arg.encode() for arg in step.split())) for step in steps])
            conn.close()
    assert replies[0] == replies[1]


# -- hypothesis: whole transactions ---------------------------------------------------------

# Inside EXEC replies are compared byte for byte, without the differ's normalisation, so the
# queue holds no command whose reply is unordered, random or clock-dependent.
_NOT_QUEUED = {b"KEYS", b"SCAN", b"RANDOMKEY", b"TTL", b"PTTL", b"EXPIRETIME", b"PEXPIRETIME",
               b"DBSIZE", b"OBJECT"}


def _deterministic(args: tuple[bytes, ...]) -> bool:
    return args[0].upper() not in _NOT_QUEUED


queueable = st.one_of(string_commands, key_commands, expiry_commands).filter(_deterministic)
# Rarely a command the dispatcher refuses (wrong arity): the whole transaction is doomed.
queued_commands = st.one_of(queueable, queueable, queueable, queueable, queueable,
                            any_arity.filter(_deterministic))
writes = st.one_of(string_commands, key_commands, expiry_commands)
watched = st.lists(st.sampled_from(KEYS), min_size=1, max_size=3).map(tuple)


@st.composite
def transactions(draw):  # type: ignore[no-untyped-def]
    """(setup, WATCHed keys, [(who, command)] between WATCH and MULTI, queue, ending)."""
    setup = draw(st.lists(string_commands, max_size=5))
    keys = draw(st.one_of(st.just(()), watched))
    between = draw(st.lists(st.tuples(st.sampled_from("AB"), writes), max_size=4))
    queue = draw(st.lists(queued_commands, max_size=8))
    ending = draw(st.sampled_from([(b"EXEC",), (b"EXEC",), (b"EXEC",), (b"DISCARD",)]))
    return setup, keys, between, queue, ending


def run_transaction(a: Differ, b: Differ, drawn) -> None:  # type: ignore[no-untyped-def]
    setup, keys, between, queue, ending = drawn
    commands = [*setup, *(args for _, args in between), *queue]
    encodings_comparable = not any(args[0].upper() in ENCODING_CHANGERS for args in commands)
    if not encodings_comparable:  # valkdb keeps no per-value encoding (see ENCODING_CHANGERS)
        between = [(who, args) for who, args in between if args[0].upper() != b"OBJECT"]
        queue = [args for args in queue if args[0].upper() != b"OBJECT"]
    a.reset()
    b.ours.call(b"SELECT", b"0")
    b.theirs.call(b"SELECT", b"0")
    for args in setup:
        a.check(*args)
    if keys:
        a.check(b"WATCH", *keys)
    for who, args in between:
        (a if who == "A" else b).check(*args)
    a.check(b"MULTI")
    for args in queue:
        a.check(*args)
    a.check(*ending)
    # The transaction may have left A in another db; the state check selects each in turn.
    check_final_state(a, encodings_comparable)


@settings(COMPAT_SETTINGS, max_examples=120)
@given(transactions())
def test_transactions(clients, drawn):
    run_transaction(clients["A"], clients["B"], drawn)
