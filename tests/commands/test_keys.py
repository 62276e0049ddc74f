"""Generic key commands and expiry: regressions found by tests/compat, and the behaviour over
time (active and lazy expiry, SCAN under concurrent changes, SWAPDB seen from another client)
that a command-by-command differential test cannot see.

Expected answers come from the real redis-server (`ref`) wherever it can be asked.
"""

from __future__ import annotations

import time

import pytest
import redis

from tests.commands.test_strings import outcome

GLOB_KEYS = ["", "a", "b", "c", "ab", "[", "]", "^", "-", "\\", "*", "?", "a]", "\x00", "é"]


@pytest.mark.parametrize("pattern", [
    "*", "**", "", "?", "[a-]", "[a-c]", "[c-a]", "[^a]", "[ab", "[", "[^", "[\\]]", "[a\\]",
    "\\", "\\*", "a*", "*]", "[]", "[]a]", "[\x00-a]", "[a-\xff]",
])
def test_keys_glob_edge_cases(r, ref, pattern):
    """Unterminated classes, '[a-]' (a range up to ']'), signed-char ranges, '*' and the
    empty key: stringmatchlen's exact behaviour."""
    for client in (r, ref):
        client.mset({key: "v" for key in GLOB_KEYS})
    assert sorted(r.keys(pattern)) == sorted(ref.keys(pattern))
    assert sorted(r.scan_iter(match=pattern, count=3)) == sorted(ref.scan_iter(match=pattern))


@pytest.mark.parametrize("cursor", ["", "+0", "-0", "00", "-", "+", "x", " 0", "0 ", "-1",
                                    "18446744073709551615", "18446744073709551616",
                                    "-18446744073709551616", "1.5"])
def test_scan_cursor_parsing_is_strtoul(r, ref, cursor):
    """Only whether a cursor is accepted is compared: what an arbitrary cursor resumes from is
    the implementation's own business."""
    ours, theirs = outcome(r, "SCAN", cursor), outcome(ref, "SCAN", cursor)
    assert isinstance(ours, str) == isinstance(theirs, str)
    if isinstance(theirs, str):
        assert ours == theirs


def wait_until(predicate, timeout: float) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return predicate()


def test_active_expiry_removes_keys_nobody_reads(r, ref):
    for client in (r, ref):
        for name in ("x", "y", "z"):
            client.set(name, "v", px=300)
        client.set("kept", "v")
        assert client.dbsize() == 4
    # DBSIZE touches no key: only active expiry can bring it down
    assert wait_until(lambda: ref.dbsize() == 1, 2.0), "redis-server itself did not"
    assert wait_until(lambda: r.dbsize() == 1, 2.0)
    assert r.get("kept") == b"v"


def test_expired_keys_are_never_read(r):
    """Whether active expiry got there first or not, a key past its deadline is gone for
    every read, at once."""
    r.set("k", "v", px=40)
    time.sleep(0.06)
    assert r.get("k") is None
    assert r.exists("k") == 0
    assert r.ttl("k") == -2


def test_lazy_expiry(r):
    """With active expiry off (DEBUG SET-ACTIVE-EXPIRE 0), a read deletes an expired key."""
    try:
        r.execute_command("DEBUG", "SET-ACTIVE-EXPIRE", "0")
    except redis.ResponseError as exc:
        pytest.skip(f"valkdb has no DEBUG SET-ACTIVE-EXPIRE yet: {exc}")
    try:
        r.mset({"a": "1", "b": "2", "c": "3"})
        for name in ("a", "b", "c"):
            r.pexpire(name, 50)
        time.sleep(0.1)
        assert r.dbsize() == 3
        assert r.keys("*") == [] and list(r.scan_iter()) == []
        assert r.mget("a", "b", "c") == [None, None, None]
        assert r.dbsize() == 0
    finally:
        r.execute_command("DEBUG", "SET-ACTIVE-EXPIRE", "1")


def test_keys_and_scan_skip_expired_keys(r):
    r.set("live", "v")
    for i in range(20):
        r.set(f"short:{i}", "v", px=30)
    time.sleep(0.05)
    assert r.keys("*") == [b"live"]
    assert list(r.scan_iter(count=5)) == [b"live"]


def test_scan_returns_every_key_present_throughout(r):
    """SCAN's guarantee: a key present from start to end of an iteration is returned, even
    while other keys are deleted and added between calls."""
    check_scan_under_changes(r)


def test_scan_under_changes_on_redis(ref):
    """The same check on redis-server: the test asks nothing Redis does not promise."""
    check_scan_under_changes(ref)


def check_scan_under_changes(client: redis.Redis) -> None:
    stable = {f"stable:{i}".encode() for i in range(300)}
    # interleaved, so that in every shard doomed keys sit between stable ones
    client.mset({key: "v" for i in range(300) for key in (f"stable:{i}", f"doomed:{i}")})
    seen: set[bytes] = set()
    cursor, calls = 0, 0
    while True:
        cursor, page = client.scan(cursor, count=10)
        seen.update(page)
        calls += 1
        # between calls: delete keys already returned (they sit before the cursor's position,
        # the case that would make a naive offset skip keys) and others, and add new ones
        returned_doomed = [key for key in page if key.startswith(b"doomed:")]
        client.delete(*returned_doomed, *(f"doomed:{(calls * 7 + j) % 300}" for j in range(3)))
        client.mset({f"new:{calls}:{j}": "v" for j in range(3)})
        if cursor == 0 or calls > 2000:
            break
    assert cursor == 0, "SCAN did not finish"
    assert stable <= seen, sorted(stable - seen)[:5]


def test_swapdb_is_seen_by_a_client_of_the_other_db(r, valkdb_server):
    other = redis.Redis(port=valkdb_server.port, db=1, socket_timeout=10)
    try:
        r.set("from0", "zero")
        other.set("from1", "one")
        assert r.swapdb(0, 1) is True
        assert other.get("from0") == b"zero"
        assert other.get("from1") is None
        assert r.get("from1") == b"one"
        assert other.dbsize() == 1 and r.dbsize() == 1
    finally:
        other.close()
