"""GEO commands through redis-py, in RESP2 and RESP3: the client's own geo API decodes the
same values from valkdb as from a real redis-server, and the keyspace rules hold (a geo set is
a sorted set: WATCH sees GEOADD, BZPOPMIN is served by GEOADD and GEOSEARCHSTORE).

Exact reply bytes, errors and edge cases are in tests/compat/test_geo_diff.py.
"""

from __future__ import annotations

import random

import pytest
import redis

from tests.commands.test_zsets import Blocked, _wait_blocked, both, ref  # noqa: F401
from valkdb.commands import geo
from valkdb.store import geohash
from valkdb.store.geohash import Shape
from valkdb.store.types import ZSet

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


# -- the pruned searches against a plain walk of the nine cells -----------------------------------

def _walk(zs: ZSet, shape: Shape, limit: int) -> list[tuple]:
    """Redis's membersOfAllNeighbors written plainly: every member of every cell tested."""
    found: list[tuple] = []
    previous = None
    for i, cell in enumerate(geohash.search_ranges(shape)):
        if cell is None or (previous is not None and cell == previous):
            continue
        if limit and len(found) >= limit:
            break
        if i:
            previous = cell
        for score, member in zs.ordered.irange((cell[0],), (cell[1],), inclusive=(True, False)):
            position = geohash.decode(geohash.score_bits(score))
            dist = shape.contains(*position)
            if dist is not None:
                found.append((member, score, *position, dist))
                if limit and len(found) >= limit:
                    break
    return found


def _as_tuples(matches: list[geo._Match]) -> list[tuple]:
    return [(m.member, m.score, m.longitude, m.latitude, m.dist) for m in matches]


REGIONS = [(13.5, 38.5, 1.0), (0.0, 0.0, 0.3), (0.0, 85.0, 0.3), (100.0, -84.9, 0.3),
           (180.0, 10.0, 0.4), (-45.0, 30.0, 3.0)]


@pytest.mark.parametrize("region", range(len(REGIONS)))
def test_pruned_search_is_the_plain_walk(region):
    """Shapes whose edge passes exactly through members (the radius, half width or half height
    is a member's own distance, in meters), dense sets, shared coordinates: the pruned walk
    finds what the plain one finds, in its order, and the nearest-first COUNT search returns
    what sorting all of it returns."""
    rng = random.Random(region)
    lon, lat, spread = REGIONS[region]
    zs = ZSet(False)
    points = []
    for i in range(6000):
        if points and rng.random() < 0.1:
            x, y = rng.choice(points)
        else:
            x = lon + rng.uniform(-spread, spread)
            y = min(max(lat + rng.uniform(-spread, spread), geohash.LAT_MIN), geohash.LAT_MAX)
            if rng.random() < 0.1:  # grid lines; past the limits too, as ZADD may write
                x, y = round(x, 1), round(y, 1)
            x = x - 360 if x > 180.3 else x
        points.append((x, y))
        zs.insert(b"m%d" % i, float(geohash.encode(x, y)), (1 << 60, 1 << 60))
    for _ in range(200):
        shape = Shape()
        shape.longitude = lon + rng.uniform(-spread, spread)
        shape.longitude -= 360 if shape.longitude > 180 else 0
        shape.latitude = min(max(lat + rng.uniform(-spread, spread), geohash.LAT_MIN),
                             geohash.LAT_MAX)
        if rng.random() < 0.2:  # on grid lines: 180 and 0 are cell borders at every step
            shape.longitude = min(round(shape.longitude, 1), 180.0)
            shape.latitude = min(round(shape.latitude, 1), geohash.LAT_MAX)
        other = geohash.decode(geohash.score_bits(zs[b"m%d" % rng.randrange(len(points))]))
        dist = geohash.distance(shape.longitude, shape.latitude, *other)
        across = geohash.distance(other[0], other[1], shape.longitude, other[1])
        upright = geohash.lat_distance(other[1], shape.latitude)
        kind = rng.randrange(4)
        if kind == 0:
            shape.radius = dist
        elif kind == 1:
            shape.radius = dist * rng.uniform(0.5, 1.5)
        else:
            shape.is_box = True
            shape.width = 2 * across if kind == 2 else 2 * across * rng.uniform(0.5, 2)
            shape.height = 2 * upright if kind == 2 else 2 * upright * rng.uniform(0.5, 2)
            if rng.random() < 0.5:
                shape.width, shape.height = max(shape.width, shape.height) * 1.01, shape.height
        limit = rng.choice([0, 0, 1, 5, 50])
        expected = _walk(zs, shape, limit)
        assert _as_tuples(geo._find(zs, shape, limit)) == expected
        count = rng.choice([1, 3, 10, 40, 10_000])
        nearest = geo._nearest(zs, shape, count)
        if nearest is not None:
            everything = geo._find(zs, shape, 0)
            wanted = min(count, len(everything))
            assert _as_tuples(nearest) == _as_tuples(geo._sorted(everything, False, wanted))
