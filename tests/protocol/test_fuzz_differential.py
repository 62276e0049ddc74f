"""Differential protocol fuzzing: valkdb and a real redis-server get the same generated and
mutated requests (tools/protofuzz) and must send the same bytes back, close the connection in
the same cases, keep answering PING on a second connection and log no traceback.

The seeded run is sized for CI (20,000 cases, about 25 s here); VALKDB_FUZZ_CASES and
VALKDB_FUZZ_SEED scale it up or explore other cases locally; `python tools/proto_fuzz.py` runs
the long ones.
The divergences the fuzzer found are kept below as fixed cases, so that each stays fixed.
"""

from __future__ import annotations

import os

import pytest

from tests.support import start_redis, start_valkdb
from tools.protofuzz import compare_payload, run, start_pair
from tools.protofuzz.cases import multibulk, sentinel

CASES = int(os.environ.get("VALKDB_FUZZ_CASES", "20000"))
SEED = int(os.environ.get("VALKDB_FUZZ_SEED", "20261204"))


@pytest.fixture(scope="module")
def targets():
    """(valkdb, redis-server) of this module: the run may restart valkdb after a hang."""
    valkdb, redis = start_pair(start_valkdb, start_redis)
    yield valkdb, redis
    valkdb.stop()
    redis.stop()


def test_seeded_differential_run(targets):
    report = run(*targets, seed=SEED, cases=CASES, max_failures=3, minimize=3)
    print(report.text())
    assert report.clean, report.text()


PATHOLOGICAL = b"fz-regress:" + b"a*" * 20 + b"b"
FOUND = {
    # The bytes after a bulk argument are skipped unread: hiredis must not take them as a type.
    "bulk trailer skipped": b"*3\r\n$3\r\nSET\r\n$1\r\nkXY:5\r\n*1\r\n$4\r\nPING\r\n",
    "multibulk length, 5000 digits": b"PING\r\n*" + b"1" * 5000 + b"\r\n",
    "bulk length, 4301 digits": b"PING\r\n*1\r\n$" + b"1" * 4301 + b"\r\n",
    "negative bulk length, 4301 digits": b"*1\r\n$-" + b"1" * 4301 + b"\r\n",
    "multibulk length below LLONG_MIN": b"*-9223372036854775809\r\nPING\r\n",
    "inline: \\v and \\f inside arguments": b"ECHO a\x0bb\r\nECHO x\x0cy\r\nSET k\x0b\"\"\r\n",
    "inline: \\v after a closing quote": b"ECHO \"a\"\x0b\r\nPING\r\n",
    "nothing is parsed after QUIT": b"QUIT\r\n*1\r\nfoo\r\n",
    "nothing is parsed after QUIT, inline": b"quit\n'\n",
    "RESP3: a message to oneself after the replies before it":
        b"HELLO 3\r\nSUBSCRIBE fz-regress-c\r\nPUBLISH fz-regress-c m\r\n",
}


@pytest.mark.parametrize("payload", FOUND.values(), ids=FOUND.keys())
def test_divergences_found_by_the_fuzzer(targets, payload):
    same, text, _, _ = compare_payload(targets[0].port, targets[1].port, payload)
    assert same, text


def test_inline_line_over_64k_in_slow_pieces(targets):
    """Both servers see the line grow past 64 KiB without its newline: too big inline request."""
    payload = b"ECHO " + b"a" * 100_000 + b"\r\n"
    cuts = tuple(range(10_000, len(payload), 10_000))
    same, text, _, _ = compare_payload(targets[0].port, targets[1].port, payload, cuts=cuts,
                                       pause=0.05)
    assert same, text


def test_pathological_glob_answers_at_once(targets):
    """KEYS a*a*...*b against a 40-byte key: Redis stops backtracking, so must valkdb."""
    token = b"fz-regress-end"
    key = b"fz-regress:" + b"a" * 40
    payload = (multibulk([b"SELECT", b"15"]) + multibulk([b"SET", key, b"v"])
               + multibulk([b"KEYS", PATHOLOGICAL])
               + multibulk([b"SCAN", b"0", b"MATCH", PATHOLOGICAL, b"COUNT", b"100000"])
               + multibulk([b"DEL", key]) + sentinel(token))
    same, text, _, ours = compare_payload(targets[0].port, targets[1].port, payload, token=token)
    assert ours.seconds < 1.0, text
    assert same, text
