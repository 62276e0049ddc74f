"""The basics through redis-py in both protocols."""


def test_set_get_incr(r):
    assert r.set("a", "1") is True
    assert r.get("a") == b"1"
    assert r.incr("a") == 2
    assert r.get("missing") is None


def test_expiry_roundtrip(r):
    r.set("k", "v", px=100000)
    assert 99000 < r.pttl("k") <= 100000
    assert r.persist("k") is True
    assert r.ttl("k") == -1
