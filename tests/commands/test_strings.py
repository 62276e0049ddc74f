"""String commands: regression tests for divergences from Redis 7.0 found by tests/compat.

Each test asks the real redis-server (`ref`) for the expected answer instead of hard-coding it,
and runs against valkdb through redis-py in RESP2 and RESP3 (`r`).
"""

from __future__ import annotations

import pytest
import redis


def outcome(client: redis.Redis, *args: object) -> object:
    """A command's result, or its error text, so errors compare like values."""
    try:
        return client.execute_command(*args)
    except redis.ResponseError as exc:
        return f"error: {exc}"


@pytest.mark.parametrize("start, increment", [
    (b"9223372036854775807", b"0"),  # exact in a 64-bit significand, not in a double
    (b"1", b"0x10"),  # strtold reads hex
    (b"1", b"0x1.8p1"),
    (b"0", b"1e400"),  # beyond a double's range, within a long double's
    (b"1e308", b"1e308"),
    (b"3", b"1e20"),
    (b"100000000000000000000", b"-1e-5"),
    (b"0.1", b"0.2"),
    (b"-0", b"-0"),  # "-0" is printed as "0"
    (b"0", b"-1e-20"),
    (b"0", b"3e-4951"),  # a subnormal long double: accepted, prints 0
    (b"0", b"1e-99999"),  # underflow to zero: rejected
    (b"0", b"1.2e4932"),  # overflow: rejected as not a float, not as an infinity
    (b"1", b"inf"),
    (b"inf", b"0"),
    (b"1", b"1 "),
    (b"1", b"1\x00"),
])
def test_incrbyfloat_uses_long_double(r, ref, start, increment):
    for client in (r, ref):
        client.set("k", start)
    assert outcome(r, "INCRBYFLOAT", "k", increment) == outcome(ref, "INCRBYFLOAT", "k", increment)
    assert r.get("k") == ref.get("k")


@pytest.mark.parametrize("options", [("EX", "0"), ("PX", "-1"), ("EXAT", "abc"),
                                     ("EX", "9223372036854775807")])
def test_getex_checks_the_time_only_for_an_existing_key(r, ref, options):
    assert outcome(r, "GETEX", "missing", *options) == outcome(ref, "GETEX", "missing", *options)
    for client in (r, ref):
        client.set("k", "v")
    assert outcome(r, "GETEX", "k", *options) == outcome(ref, "GETEX", "k", *options)
    assert outcome(r, "GETEX", "k", "BOGUS") == outcome(ref, "GETEX", "k", "BOGUS")


def test_object_encoding_of_values_set_directly(r, ref):
    """The encodings valkdb can know from the value alone (not after APPEND/SETRANGE: see
    tests/compat ENCODING_CHANGERS)."""
    values = ["1", "-0", "01", " 1", "12345678901234567890", "-9223372036854775808", "x" * 44,
              "x" * 45, "9999", "10000", ""]
    for value in values:
        for client in (r, ref):
            client.set("k", value)
        for sub in ("ENCODING", "REFCOUNT"):
            assert outcome(r, "OBJECT", sub, "k") == outcome(ref, "OBJECT", sub, "k"), value
