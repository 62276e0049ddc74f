"""Differential tests of the GEO commands against redis-server 7.0.15, in RESP2 and RESP3.

Every reply must be byte-identical: the scores GEOADD computes (ZRANGE WITHSCORES of the geo
key is compared after every sequence), coordinates decoded from them, GEOHASH strings,
distances with their 4 decimals, the members a search finds and their order (COUNT ANY stops
where Redis's nine-cell walk stops; ties in distance come out of glibc's merge sort or Redis's
partial quicksort as Redis's do), and the errors and the order they are checked in.

hypothesis draws coordinates anywhere (the Mercator limits ±85.05112878 and ±180 included,
and just past them), clusters of points sharing coordinates (ties), non-geo scores decoded as
if they were geohashes, and searches of every shape, unit and option combination, valid or not.
"""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.compat.differ import Differ
from tests.compat.resp import elements
from tests.compat.test_strings_keys import COMPAT_SETTINGS
from valkdb.store import geohash

GEO_KEYS = [b"g", b"h"]
KEYS = [*GEO_KEYS, b"missing", b"s"]  # s is a string
MEMBERS = [b"a", b"b", b"c", b"d", b"Palermo", b"", b"\x00x"]

EDGE_LONGITUDES = [b"180", b"-180", b"0", b"180.0000001", b"-180.0000001", b"179.9999999"]
EDGE_LATITUDES = [b"85.05112878", b"-85.05112878", b"0", b"85.05112879", b"-85.0511288",
                  b"85.0511287799"]
BAD_NUMBERS = [b"x", b"nan", b"", b"1e400", b" 1", b"inf", b"-inf", b"0x10"]
UNITS = [b"m", b"km", b"mi", b"ft", b"KM", b"Mi", b"parsec", b"m\x00x"]

longitudes = st.one_of(st.floats(-180, 180).map(lambda x: b"%r" % x),
                       st.sampled_from(EDGE_LONGITUDES), st.sampled_from(BAD_NUMBERS))
latitudes = st.one_of(st.floats(-85.05112878, 85.05112878).map(lambda x: b"%r" % x),
                      st.sampled_from(EDGE_LATITUDES), st.sampled_from(BAD_NUMBERS[:3]))
keys = st.sampled_from(KEYS)
geo_keys = st.sampled_from(GEO_KEYS)
members = st.sampled_from(MEMBERS)
units = st.sampled_from(UNITS)
distances = st.one_of(st.sampled_from([b"0", b"1", b"100", b"5000", b"20000", b"-1", b"x",
                                       b"inf", b"0.5"]),
                      st.floats(0, 25000, allow_nan=False).map(lambda x: b"%r" % x))
counts = st.sampled_from([b"1", b"2", b"3", b"10", b"0", b"-1", b"x"])
geoadd_flags = st.lists(st.sampled_from([b"NX", b"XX", b"CH", b"ch", b"GT"]), max_size=2)
triples = st.lists(st.tuples(longitudes, latitudes, members), min_size=1, max_size=4)


def flat(*parts):  # type: ignore[no-untyped-def]
    out: list[bytes] = []
    for part in parts:
        if isinstance(part, bytes):
            out.append(part)
        else:
            for item in part:
                out.extend(item if isinstance(item, tuple) else (item,))
    return tuple(out)


geoadd = st.builds(lambda key, opts, items: flat(b"GEOADD", [key], opts, items),
                   keys, geoadd_flags, triples)
# Scores that are no geohash: GEOPOS & co. decode them as Redis's casts do.
zadd = st.builds(lambda key, score, member: (b"ZADD", key, score, member), geo_keys,
                 st.sampled_from([b"-1", b"1.5", b"1e30", b"inf", b"-inf", b"9.3e18",
                                  b"4503599627370495", b"4503599627370496", b"0"]), members)
reads = st.one_of(
    st.builds(lambda key, ms: flat(b"GEOPOS", [key], ms), keys, st.lists(members, max_size=3)),
    st.builds(lambda key, ms: flat(b"GEOHASH", [key], ms), keys,
              st.lists(members, max_size=3)),
    st.builds(lambda key, a, b, unit: flat(b"GEODIST", [key, a, b], unit), keys, members,
              members, st.sampled_from([(), (b"km",), (b"mi",), (b"ft",), (b"M",), (b"x",),
                                        (b"km", b"km")])),
)

search_options = st.lists(st.one_of(
    st.sampled_from([(b"WITHDIST",), (b"WITHCOORD",), (b"WITHHASH",), (b"ASC",), (b"DESC",),
                     (b"ANY",), (b"withdist",), (b"BOGUS",), (b"COUNT",)]),
    st.tuples(st.just(b"COUNT"), counts),
    st.tuples(st.just(b"COUNT"), counts, st.just(b"ANY")),
), max_size=4)
store_options = st.sampled_from([(), (b"STORE", b"dst"), (b"STOREDIST", b"dst"), (b"STORE",),
                                 (b"STORE", b"g")])
origin = st.one_of(st.tuples(st.just(b"FROMMEMBER"), members),
                   st.tuples(st.just(b"FROMLONLAT"), longitudes, latitudes))
shape = st.one_of(st.tuples(st.just(b"BYRADIUS"), distances, units),
                  st.tuples(st.just(b"BYBOX"), distances, distances, units))
searches = st.one_of(
    st.builds(lambda name, key, lon, lat, r, u, opts, store: flat(name, [key, lon, lat, r, u],
                                                                  opts, store),
              st.sampled_from([b"GEORADIUS", b"GEORADIUS_RO"]), keys, longitudes, latitudes,
              distances, units, search_options, store_options),
    st.builds(lambda name, key, m, r, u, opts, store: flat(name, [key, m, r, u], opts, store),
              st.sampled_from([b"GEORADIUSBYMEMBER", b"GEORADIUSBYMEMBER_RO"]), keys, members,
              distances, units, search_options, store_options),
    st.builds(lambda key, parts, opts: flat(b"GEOSEARCH", [key], parts, opts), keys,
              st.lists(st.one_of(origin, shape), min_size=0, max_size=3), search_options),
    st.builds(lambda dst, key, o, s, opts, dist: flat(b"GEOSEARCHSTORE", [dst, key, o, s],
                                                      opts, dist),
              st.sampled_from([b"dst", b"g"]), keys, origin, shape, search_options,
              st.sampled_from([(), (b"STOREDIST",)])),
)


def run_sequence(differ: Differ, commands: list[tuple[bytes, ...]]) -> None:
    differ.reset()
    differ.check(b"SET", b"s", b"string")
    for args in commands:
        differ.check(*args)
    for key in (*GEO_KEYS, b"dst"):
        if differ.check(b"TYPE", key) == b"+zset\r\n":
            differ.check(b"ZRANGE", key, b"0", b"-1", b"WITHSCORES")
            differ.check(b"OBJECT", b"ENCODING", key)
    differ.check(b"DBSIZE")


@settings(COMPAT_SETTINGS, max_examples=150)
@given(st.lists(st.one_of(geoadd, reads, zadd), min_size=1, max_size=12))
def test_add_and_read_sequences(differ, commands):
    run_sequence(differ, commands)


@settings(COMPAT_SETTINGS, max_examples=200)
@given(st.lists(geoadd, min_size=1, max_size=4),
       st.lists(st.one_of(searches, reads, zadd), min_size=1, max_size=10))
def test_search_sequences(differ, additions, commands):
    run_sequence(differ, [*additions, *commands])


# Clusters: points around a centre, many sharing coordinates, so that distances tie and COUNT
# cuts through the ties (Redis's partial sort) or not (its full, stable sort).
coordinate_pairs = st.tuples(st.floats(-179, 179), st.floats(-84, 84))


@st.composite
def clusters(draw):  # type: ignore[no-untyped-def]
    lon, lat = draw(coordinate_pairs)
    spread = draw(st.sampled_from([0.001, 0.1, 2.0, 30.0]))
    offsets = st.tuples(st.floats(-spread, spread), st.floats(-spread, spread))
    bases = draw(st.lists(offsets, min_size=1, max_size=4))
    points = draw(st.lists(st.one_of(st.sampled_from(bases), offsets), min_size=1,
                           max_size=60))
    args: list[bytes] = []
    for i, (dx, dy) in enumerate(points):
        args += [b"%r" % min(max(lon + dx, -180.0), 180.0),
                 b"%r" % min(max(lat + dy, -85.05112878), 85.05112878), b"m%d" % i]
    radius = draw(st.floats(0, spread * 200)) if spread < 30 else draw(st.floats(0, 20000))
    return args, b"%r" % (lon + bases[0][0]), b"%r" % (lat + bases[0][1]), b"%r" % radius


@settings(COMPAT_SETTINGS, max_examples=150)
@given(clusters(), st.sampled_from([b"128", b"0"]), st.lists(st.tuples(
    st.sampled_from([(b"BYRADIUS", b"r", b"km"), (b"BYBOX", b"r", b"r", b"km"),
                     (b"BYBOX", b"r", b"1", b"mi")]),
    st.sampled_from([(), (b"ASC",), (b"DESC",)]),
    st.sampled_from([(), (b"COUNT", b"1"), (b"COUNT", b"5"), (b"COUNT", b"17"),
                     (b"COUNT", b"40"), (b"COUNT", b"3", b"ANY")]),
    st.sampled_from([(b"FROMLONLAT", b"lon", b"lat"), (b"FROMMEMBER", b"m0")])),
    min_size=1, max_size=4))
def test_clusters_ties_and_counts(differ, cluster, entries, searches_):
    points, lon, lat, radius = cluster
    differ.reset()
    for conn in (differ.ours, differ.theirs):
        conn.call(b"CONFIG", b"SET", b"zset-max-listpack-entries", entries)
    try:
        differ.check(b"GEOADD", b"g", *points)
        differ.check(b"ZRANGE", b"g", b"0", b"-1", b"WITHSCORES")
        fill = {b"r": radius, b"lon": lon, b"lat": lat}
        for by, order, count, start in searches_:
            parts = [fill.get(part, part) for part in (*start, *by)]
            differ.check(b"GEOSEARCH", b"g", *parts, *order, *count, b"WITHDIST", b"WITHHASH")
            differ.check(b"GEOSEARCHSTORE", b"d", b"g", *parts, *order, *count, b"STOREDIST")
            differ.check(b"ZRANGE", b"d", b"0", b"-1", b"WITHSCORES")
            differ.check(b"OBJECT", b"ENCODING", b"d")
            differ.check(b"GEORADIUS", b"g", lon, lat, radius, b"km", *order, *count,
                         b"WITHCOORD")
    finally:
        for conn in (differ.ours, differ.theirs):
            conn.call(b"CONFIG", b"SET", b"zset-max-listpack-entries", b"128")


EDGE_CASES = [
    (b"GEOADD", b"k", b"XX", b"NX", b"1", b"2", b"m"),
    (b"GEOADD", b"k", b"0", b"85.05112878", b"top", b"180", b"-85.05112878", b"bottom",
     b"13.361389", b"38.115556", b"Palermo", b"15.087269", b"37.502669", b"Catania",
     b"-180", b"0", b"west"),
    (b"ZRANGE", b"k", b"0", b"-1", b"WITHSCORES"),
    (b"GEOPOS", b"k", b"top", b"bottom", b"Palermo", b"west", b"nosuch"),
    (b"GEOHASH", b"k", b"top", b"bottom", b"Palermo", b"west", b"nosuch"),
    (b"GEOPOS", b"missing", b"a"),
    (b"GEOHASH", b"missing", b"a", b"b"),
    # scores no GEOADD makes, decoded as Redis's (uint64_t) cast reads them on x86-64
    (b"ZADD", b"k", b"1e30", b"big", b"-1", b"negative", b"1.5", b"fraction", b"inf", b"pinf",
     b"-inf", b"ninf", b"9.3e18", b"high"),
    (b"GEOPOS", b"k", b"big", b"negative", b"fraction", b"pinf", b"ninf", b"high"),
    (b"GEOHASH", b"k", b"big", b"negative", b"fraction", b"pinf", b"ninf", b"high"),
    (b"GEODIST", b"k", b"negative", b"ninf", b"km"),
    (b"GEOADD", b"k", b"200", b"1", b"x"),
    (b"GEOADD", b"k", b"1e300", b"1", b"x"),
    (b"GEOADD", b"k", b"inf", b"1", b"x"),
    (b"GEOADD", b"k", b"1", b"-85.05112879", b"x"),
    (b"GEOADD", b"k", b"1", b"nan", b"x"),
    (b"GEOADD", b"k", b"1", b"2"),
    (b"GEOADD", b"k", b"GT", b"1", b"2", b"m"),
    (b"GEOADD", b"k", b"1", b"2", b"ok", b"1", b"200", b"bad"),
    (b"EXISTS", b"ok"),
    (b"GEODIST", b"k", b"top", b"bottom"),
    (b"GEODIST", b"k", b"Palermo", b"Catania", b"km"),
    (b"GEODIST", b"k", b"Palermo", b"Catania", b"MI"),
    (b"GEODIST", b"k", b"Palermo", b"Catania", b"ft"),
    (b"GEODIST", b"k", b"Palermo", b"Catania", b"parsec"),
    (b"GEODIST", b"k", b"Palermo", b"Catania", b"km", b"x"),
    (b"GEODIST", b"k", b"Palermo", b"nosuch"),
    (b"GEODIST", b"k", b"Palermo", b"Palermo"),
    (b"GEODIST", b"k", b"west", b"top"),
    (b"GEORADIUS", b"k", b"15", b"37", b"200", b"km", b"WITHDIST", b"WITHCOORD", b"WITHHASH"),
    (b"GEORADIUS", b"k", b"15", b"37", b"200", b"km", b"DESC", b"COUNT", b"1"),
    (b"GEORADIUS", b"k", b"15", b"37", b"200", b"km", b"COUNT", b"1", b"ANY"),
    (b"GEORADIUS", b"k", b"15", b"37", b"200", b"km", b"ANY"),
    (b"GEORADIUS", b"k", b"15", b"37", b"200", b"km", b"COUNT", b"0"),
    (b"GEORADIUS", b"k", b"15", b"37", b"200", b"km", b"COUNT", b"x"),
    (b"GEORADIUS", b"k", b"15", b"37", b"200", b"km", b"COUNT"),
    (b"GEORADIUS", b"k", b"15", b"37", b"200", b"km", b"STORE", b"dst"),
    (b"ZRANGE", b"dst", b"0", b"-1", b"WITHSCORES"),
    (b"GEORADIUS", b"k", b"15", b"37", b"200", b"km", b"STOREDIST", b"dst"),
    (b"ZRANGE", b"dst", b"0", b"-1", b"WITHSCORES"),
    (b"GEORADIUS", b"k", b"15", b"37", b"200", b"km", b"STORE", b"dst", b"WITHDIST"),
    (b"GEORADIUS_RO", b"k", b"15", b"37", b"200", b"km", b"STORE", b"dst"),
    (b"GEORADIUS", b"k", b"15", b"37", b"-1", b"km"),
    (b"GEORADIUS", b"k", b"15", b"37", b"x", b"km"),
    (b"GEORADIUS", b"k", b"15", b"37", b"1", b"lightyear"),
    (b"GEORADIUS", b"k", b"15", b"95", b"1", b"km"),
    (b"GEORADIUSBYMEMBER", b"k", b"Palermo", b"200", b"km", b"WITHDIST"),
    (b"GEORADIUSBYMEMBER", b"k", b"nosuch", b"200", b"km"),
    (b"GEORADIUSBYMEMBER", b"missing", b"nosuch", b"x", b"y", b"WITHDIST"),
    (b"GEORADIUSBYMEMBER", b"missing", b"nosuch", b"x", b"y", b"STORE", b"dst"),
    (b"EXISTS", b"dst"),
    (b"GEORADIUSBYMEMBER_RO", b"k", b"Palermo", b"200", b"km", b"WITHCOORD", b"DESC"),
    (b"GEOSEARCH", b"k", b"FROMMEMBER", b"Palermo", b"BYRADIUS", b"200", b"km"),
    (b"GEOSEARCH", b"k", b"FROMLONLAT", b"15", b"37", b"BYBOX", b"400", b"400", b"km",
     b"WITHDIST", b"WITHCOORD"),
    (b"GEOSEARCH", b"k", b"FROMLONLAT", b"15", b"37", b"BYBOX", b"400", b"x", b"km"),
    (b"GEOSEARCH", b"k", b"FROMLONLAT", b"15", b"37", b"BYBOX", b"x", b"4", b"km"),
    (b"GEOSEARCH", b"k", b"FROMLONLAT", b"15", b"37", b"BYBOX", b"-4", b"4", b"km"),
    (b"GEOSEARCH", b"k", b"FROMLONLAT", b"15", b"37", b"FROMMEMBER", b"Palermo", b"BYBOX",
     b"4", b"4", b"km"),
    (b"GEOSEARCH", b"k", b"FROMMEMBER", b"Palermo", b"FROMLONLAT", b"15", b"37", b"BYBOX",
     b"4", b"4", b"km"),
    (b"GEOSEARCH", b"k", b"BYRADIUS", b"1", b"km"),
    (b"geosearch", b"k", b"FROMLONLAT", b"1", b"1"),
    (b"GeoSearch", b"k", b"BYRADIUS", b"1", b"km"),
    (b"GEOSEARCH", b"k", b"FROMLONLAT", b"1", b"1", b"BYRADIUS", b"1", b"km", b"BYBOX", b"1",
     b"1", b"km"),
    (b"GEOSEARCH", b"k", b"FROMLONLAT", b"1", b"1", b"BYRADIUS", b"1", b"km", b"STORE", b"x"),
    (b"GEOSEARCH", b"k", b"FROMLONLAT", b"1", b"1", b"BYRADIUS", b"1", b"km", b"STOREDIST"),
    (b"GEOSEARCH", b"missing", b"FROMMEMBER", b"x", b"BYRADIUS", b"1", b"km"),
    (b"GEOSEARCH", b"k", b"FROMMEMBER", b"nosuch", b"BYRADIUS", b"1", b"km"),
    (b"GEOSEARCHSTORE", b"d", b"k", b"FROMMEMBER", b"Palermo", b"BYRADIUS", b"200", b"km"),
    (b"ZRANGE", b"d", b"0", b"-1", b"WITHSCORES"),
    (b"GEOSEARCHSTORE", b"d", b"k", b"FROMMEMBER", b"Palermo", b"BYRADIUS", b"200", b"km",
     b"STOREDIST"),
    (b"ZRANGE", b"d", b"0", b"-1", b"WITHSCORES"),
    (b"GEOSEARCHSTORE", b"d", b"k", b"FROMMEMBER", b"Palermo", b"BYRADIUS", b"200", b"km",
     b"WITHDIST"),
    (b"GEOSEARCHSTORE", b"d", b"k", b"FROMMEMBER", b"Palermo", b"BYRADIUS", b"1", b"m",
     b"COUNT", b"1"),
    (b"GEOSEARCHSTORE", b"d", b"k", b"FROMLONLAT", b"0", b"0", b"BYRADIUS", b"1", b"m"),
    (b"EXISTS", b"d"),
    (b"GEOSEARCHSTORE", b"d", b"missing", b"FROMMEMBER", b"Palermo", b"BYRADIUS", b"1", b"m"),
    # huge and degenerate shapes: step 1 cells, infinities, zero sizes
    (b"GEOSEARCH", b"k", b"FROMLONLAT", b"0", b"0", b"BYRADIUS", b"30000", b"km", b"WITHDIST"),
    (b"GEOSEARCH", b"k", b"FROMLONLAT", b"0", b"0", b"BYRADIUS", b"inf", b"km", b"WITHDIST"),
    (b"GEOSEARCH", b"k", b"FROMLONLAT", b"0", b"0", b"BYBOX", b"inf", b"inf", b"km",
     b"WITHDIST"),
    (b"GEOSEARCH", b"k", b"FROMLONLAT", b"0", b"0", b"BYBOX", b"0", b"0", b"km"),
    (b"GEOSEARCH", b"k", b"FROMLONLAT", b"13.361389", b"38.115556", b"BYRADIUS", b"0", b"km",
     b"WITHDIST"),
    (b"GEOSEARCH", b"k", b"FROMLONLAT", b"180", b"85.05112878", b"BYRADIUS", b"500", b"km",
     b"WITHDIST", b"WITHHASH"),
    (b"GEOSEARCH", b"k", b"FROMLONLAT", b"-180", b"-85.05112878", b"BYBOX", b"3000", b"3000",
     b"km", b"WITHDIST", b"WITHHASH"),
    # WRONGTYPE comes after the coordinates are checked
    (b"SET", b"s", b"x"),
    (b"GEOADD", b"s", b"1", b"1", b"m"),
    (b"GEOADD", b"s", b"1", b"100", b"m"),
    (b"GEOPOS", b"s", b"m"),
    (b"GEODIST", b"s", b"a", b"b", b"parsec"),
    (b"GEOSEARCH", b"s", b"FROMLONLAT", b"1", b"1", b"BYRADIUS", b"1", b"km"),
    (b"GEORADIUSBYMEMBER", b"s", b"m", b"1", b"km"),
    # options as GEOADD passes them to ZADD: CH counts updates, NX / XX filter
    (b"GEOADD", b"k", b"CH", b"NX", b"13.361389", b"38.115556", b"Palermo", b"1", b"1", b"new"),
    (b"GEOADD", b"k", b"ch", b"XX", b"13", b"38", b"Palermo", b"1", b"1", b"new2"),
    (b"GEOADD", b"k", b"XX", b"13", b"38.1", b"Palermo"),
    (b"ZRANGE", b"k", b"0", b"-1", b"WITHSCORES"),
]


def test_edge_cases(differ):
    differ.reset()
    for command in EDGE_CASES:
        differ.check(*command)


NAMES = [b"GEOADD", b"GEOPOS", b"GEOHASH", b"GEODIST", b"GEORADIUS", b"GEORADIUS_RO",
         b"GEORADIUSBYMEMBER", b"GEORADIUSBYMEMBER_RO", b"GEOSEARCH", b"GEOSEARCHSTORE"]


@pytest.mark.parametrize("name", [n.decode().lower() for n in NAMES])
def test_command_info(differ, name):
    """Arity, flags and key positions as COMMAND INFO shows them."""
    ours, theirs = differ.both(b"COMMAND", b"INFO", name.encode())
    ours_info, theirs_info = (elements(elements(r)[0]) for r in (ours, theirs))
    assert ours_info[:6] == theirs_info[:6]


@settings(COMPAT_SETTINGS, max_examples=60)
@given(st.lists(st.tuples(st.sampled_from(NAMES), st.lists(st.sampled_from(
    [*KEYS, b"a", b"1", b"2", b"km", b"COUNT", b"STORE", b"FROMMEMBER", b"BYRADIUS"]),
    max_size=6).map(tuple)).map(lambda t: (t[0], *t[1])), min_size=1, max_size=8))
def test_wrong_arity_and_syntax(differ, commands):
    run_sequence(differ, [(b"GEOADD", b"g", b"1", b"1", b"a", b"2", b"2", b"b"), *commands])


# Large dense sets: the searches prune the nine cells down to the parts that can hold a match
# and find the nearest members first, which must give the same members in the same order as
# Redis's walk of whole cells. Regions: an ordinary one, the cell borders at 0,0, the poles'
# limits and the antimeridian; members on grid lines (cell borders) and sharing coordinates.
DENSE_REGIONS = [(13.5, 38.5, 1.0), (0.0, 0.0, 0.4), (0.5, 84.6, 0.5), (-30.0, -84.7, 0.4),
                 (179.8, -20.0, 0.5)]


def _dense_points(rng, lon, lat, spread, n):  # type: ignore[no-untyped-def]
    points: list[tuple[float, float]] = []
    while len(points) < n:
        kind = rng.random()
        if kind < 0.1 and points:
            points.append(rng.choice(points))  # the same coordinates: ties
            continue
        x, y = lon + rng.uniform(-spread, spread), lat + rng.uniform(-spread, spread)
        if kind < 0.2:
            x, y = round(x, 1), round(y, 1)  # grid lines, 0 among them
        if x > 180:
            x -= 360
        points.append((x, min(max(y, -85.05112878), 85.05112878)))
    return points


def _dense_search(rng, key, lon, lat, spread, n):  # type: ignore[no-untyped-def]
    """A random search around the region, in one of the command forms."""
    x, y = lon + rng.uniform(-spread, spread), lat + rng.uniform(-spread, spread)
    if rng.random() < 0.15:
        x, y = round(x, 1), round(y, 1)
    if x > 180:
        x -= 360
    y = min(max(y, -85.05112878), 85.05112878)
    size = rng.choice([0.0, 0.05, 0.5, 2.0, 5.0, 10.0, 20.0, 40.0, 80.0, 200.0])
    size *= rng.uniform(0.5, 1.5)
    unit = rng.choice([b"km", b"m", b"mi"])
    scale = {b"km": 1.0, b"m": 1000.0, b"mi": 1 / 1.60934}[unit]
    radius = b"%r" % (size * scale)
    options: list[bytes] = [o for o in (b"WITHDIST", b"WITHCOORD", b"WITHHASH")
                            if rng.random() < 0.4]
    order = rng.choice([(), (), (b"ASC",), (b"DESC",)])
    count = rng.choice([(), (), (b"COUNT", b"1"), (b"COUNT", b"10"), (b"COUNT", b"50"),
                        (b"COUNT", b"10", b"ANY"), (b"COUNT", b"200", b"ANY")])
    if size > 30 and not count:
        count = (b"COUNT", b"25")
    tail = [*options, *order, *count]
    origin = (b"FROMLONLAT", b"%r" % x, b"%r" % y)
    if rng.random() < 0.2:
        origin = (b"FROMMEMBER", b"m%d" % rng.randrange(n))
    form = rng.random()
    if form < 0.5:
        return (b"GEOSEARCH", key, *origin, b"BYRADIUS", radius, unit, *tail)
    if form < 0.8:
        height = b"%r" % (size * scale * rng.choice([0.2, 1.0, 2.0, 3.0]))
        return (b"GEOSEARCH", key, *origin, b"BYBOX", radius, height, unit, *tail)
    return (b"GEORADIUS", key, b"%r" % x, b"%r" % y, radius, unit, *tail)


@pytest.mark.parametrize("region", range(len(DENSE_REGIONS)))
def test_dense_sets(differ, region):
    rng = random.Random(1000 + region)
    lon, lat, spread = DENSE_REGIONS[region]
    n = 20_000
    differ.reset()
    points = _dense_points(rng, lon, lat, spread, n)
    for start in range(0, n, 500):
        args = [b"GEOADD", b"g"]
        for i in range(start, min(start + 500, n)):
            args += [b"%r" % points[i][0], b"%r" % points[i][1], b"m%d" % i]
        differ.check(*args)
    if lat > 80 or lon > 170:
        # scores past the limits, as only ZADD writes them: decoded onto the limits
        args = [b"ZADD", b"g"]
        for i in range(300):
            x = min(lon + rng.uniform(-spread, spread), 180.2)
            y = min(lat + rng.uniform(-spread, spread), 85.2)
            if x > 180.0 or y > 85.05112878:
                args += [b"%d" % geohash.encode(x, y), b"z%d" % i]
        differ.check(*args)
    # the history would hold every member: name the set instead
    differ.history[:] = [(b"GEOADD", b"g", b"<%d members: region %d>" % (n, region))]
    for _ in range(250):
        command = _dense_search(rng, b"g", lon, lat, spread, n)
        differ.check(*command)
        differ.history.pop()
    for _ in range(20):
        command = _dense_search(rng, b"g", lon, lat, spread, n)
        if command[0] != b"GEOSEARCH" or any(o.startswith(b"WITH") for o in command):
            continue
        differ.check(b"GEOSEARCHSTORE", b"d", *command[1:], b"STOREDIST")
        differ.check(b"ZRANGE", b"d", b"0", b"-1", b"WITHSCORES")
        differ.history[1:] = []
