"""GEO commands through redis-py, in RESP2 and RESP3: the client's own geo API decodes the
same values from valkdb as from a real redis-server, and the keyspace rules hold (a geo set is
a sorted set: WATCH sees GEOADD, BZPOPMIN is served by GEOADD and GEOSEARCHSTORE).

Exact reply bytes, errors and edge cases are in tests/compat/test_geo_diff.py.
"""

from __future__ import annotations

import pytest
import redis

from tests.commands.test_zsets import Blocked, _wait_blocked, both, ref  # noqa: F401
from valkdb.store import geohash

PLACES = (13.361389, 38.115556, "Palermo", 15.087269, 37.502669, "Catania",
          2.2944813, 48.8583701, "Eiffel")


def test_redis_py_geo_api(r, ref):  # noqa: F811
    for client in (r, ref):
        client.geoadd("g", PLACES)
    both(r, ref, lambda c: c.zrange("g", 0, -1, withscores=True))
    both(r, ref, lambda c: c.geopos("g", "Palermo", "nobody", "Eiffel"))
    both(r, ref, lambda c: c.geohash("g", "Palermo", "Catania"))
    both(r, ref, lambda c: c.geodist("g", "Palermo", "Eiffel", unit="km"))
    both(r, ref, lambda c: c.geosearch("g", longitude=15, latitude=37, radius=200, unit="km",
                                       withdist=True, withcoord=True, withhash=True,
                                       sort="ASC"))
    both(r, ref, lambda c: c.geosearch("g", member="Palermo", width=3000, height=3000,
                                       unit="km", count=2, sort="DESC", withdist=True))
    both(r, ref, lambda c: c.georadiusbymember("g", "Catania", 500, unit="km", withdist=True))
    both(r, ref, lambda c: [c.geosearchstore("d", "g", member="Palermo", radius=2000,
                                             unit="km", storedist=True),
                            c.zrange("d", 0, -1, withscores=True)])


def test_watch_sees_geoadd(r):
    r.geoadd("g", (1, 1, "a"))
    other = redis.Redis(port=r.connection_pool.connection_kwargs["port"])
    with r.pipeline() as pipe:
        pipe.watch("g")
        other.geoadd("g", (2, 2, "a"))  # moves a: a change
        pipe.multi()
        pipe.geopos("g", "a")
        with pytest.raises(redis.WatchError):
            pipe.execute()
    other.close()


def test_bzpopmin_served_by_geo_writes(r):
    waiter = Blocked(r, lambda c: c.bzpopmin("k", timeout=5))
    waiter.start()
    _wait_blocked(r, 1)
    r.geoadd("k", (0, 0, "origin"))
    assert waiter.outcome()[:2] == [b"k", b"origin"]
    r.geoadd("g", (1, 1, "a"))
    waiter = Blocked(r, lambda c: c.bzpopmin("k", timeout=5))
    waiter.start()
    _wait_blocked(r, 1)
    assert r.geosearchstore("k", "g", longitude=1, latitude=1, radius=1, unit="km") == 1
    assert waiter.outcome() == [b"k", b"a", float(geohash.encode(1, 1))]


def test_geohash_neighbours_wrap_around():
    """Moving east of the last column (or north of the top row) wraps to the first one."""
    step = 2
    east_edge = geohash.encode(179.0, 0.0, step)
    assert geohash._move(east_edge, step, 1, 0) == geohash.encode(-179.0, 0.0, step)
    north_edge = geohash.encode(0.0, 85.0, step)
    assert geohash._move(north_edge, step, 0, 1) == geohash.encode(0.0, -85.0, step)
    assert geohash.decode(geohash.encode(13.361389, 38.115556)) == (
        13.361389338970184, 38.1155563954963)
    assert geohash.encode(13.361389, 38.115556) == 3479099956230698
