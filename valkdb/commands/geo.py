"""GEO commands (Redis's geo.c): sorted sets whose scores are 52-bit geohashes.

GEOADD is ZADD with each longitude,latitude pair turned into its score first, and it is
propagated as that ZADD, as Redis rewrites its command vector. The searches (GEOSEARCH,
GEOSEARCHSTORE, GEORADIUS[BYMEMBER][_RO]) share one path, georadiusGeneric's: the shape is
covered by the centre's geohash cell and its eight neighbours at a step estimated from the
radius (store/geohash.py), each cell is a range of scores walked in rank order, and each
member in it is kept if inside the shape. The walk order, where COUNT ANY stops, and how ties
in distance come out of the sort are Redis's: a full sort is glibc's stable merge sort, a
partial one (COUNT smaller than the matches) is Redis's pqsort, reproduced step for step.

Faster, with the same replies: the walk skips the parts of the cells (quarters of quarters,
each a range of scores) that cannot hold a match, which leaves the order of what it finds
unchanged; COUNT without ANY, ascending, searches the parts nearest first and stops once the
rest are surely farther, when ties cannot make the answer depend on the walk (_nearest).
Members are decoded and tested inline, with the float operations of geohash.decode and
Shape.contains (_matcher).

Replies: coordinates as addReplyHumanLongDouble ("%.17Lf" trimmed; a RESP3 double),
distances as fixed-point text with 4 decimals (a bulk string in both protocols), hashes as
the integer the score truncates to.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Callable

from valkdb import errors
from valkdb.commands.args import to_int
from valkdb.commands.zsets import _store_result, _zadd, get_zset, to_double
from valkdb.core.context import Context
from valkdb.core.registry import command, propagates
from valkdb.errors import CommandError
from valkdb.protocol.encoder import EMPTY_ARRAY, bulk, integer
from valkdb.store import geohash
from valkdb.store.geohash import Shape
from valkdb.store.types import ZSet

_UNSUPPORTED_UNIT = errors.err("ERR unsupported unit provided. please use M, KM, FT, MI")
_NOT_DECODABLE = errors.err("ERR could not decode requested zset member")
_NEED_RADIUS = errors.err("ERR need numeric radius")
_NEGATIVE_RADIUS = errors.err("ERR radius cannot be negative")
_NEED_WIDTH = errors.err("ERR need numeric width")
_NEED_HEIGHT = errors.err("ERR need numeric height")
_NEGATIVE_BOX = errors.err("ERR height or width cannot be negative")
_COUNT_NOT_POSITIVE = errors.err("ERR COUNT must be > 0")
_ANY_WITHOUT_COUNT = errors.err("ERR the ANY argument requires COUNT argument")

_UNITS = {b"m": 1.0, b"km": 1000.0, b"ft": 0.3048, b"mi": 1609.34}


def _word(arg: bytes) -> bytes:
    """An option as Redis's strcasecmp sees it: up to a NUL, any case."""
    return errors.c_string(arg).lower()


def _unit(arg: bytes) -> float:
    conversion = _UNITS.get(_word(arg))
    if conversion is None:
        raise CommandError(_UNSUPPORTED_UNIT)
    return conversion


def _lon_lat(lon_arg: bytes, lat_arg: bytes) -> tuple[float, float]:
    """extractLongLatOrReply: two doubles, then inside the Web Mercator limits."""
    lon, lat = to_double(lon_arg), to_double(lat_arg)
    if not (geohash.LON_MIN <= lon <= geohash.LON_MAX
            and geohash.LAT_MIN <= lat <= geohash.LAT_MAX):
        raise CommandError(errors.err(f"ERR invalid longitude,latitude pair {lon:f},{lat:f}"))
    return lon, lat


def _member_position(zs: ZSet, member: bytes) -> tuple[float, float] | None:
    score = zs.get(member)
    return None if score is None else geohash.decode(geohash.score_bits(score))


def _human(value: float) -> bytes:
    """ld2string's human mode: "%.17f", trailing zeros and point dropped, "-0" made "0"."""
    text = (b"%.17f" % value).rstrip(b"0").rstrip(b".")
    return b"0" if text == b"-0" else text


def _coordinate(c, value: float) -> bytes:  # type: ignore[no-untyped-def]
    """addReplyHumanLongDouble: a bulk string in RESP2, a double in RESP3."""
    text = _human(value)
    return bulk(text) if c.resp.version == 2 else b",%s\r\n" % text


def _distance(value: float) -> bytes:
    """addReplyDoubleDistance: fixed point with 4 decimals (llrint: half to even)."""
    if value == 0:
        return bulk(b"0.0000")
    scaled = value * 10000.0
    ticks = round(scaled) if math.isfinite(scaled) and abs(scaled) < 2.0**63 else -(1 << 63)
    sign = b"-" if ticks < 0 else b""
    digits = b"%05d" % abs(ticks)
    return bulk(b"%s%s.%s" % (sign, digits[:-4], digits[-4:]))


# -- GEOADD ---------------------------------------------------------------------------------------

def _zadd_vector(argv: list[bytes]) -> list[bytes]:
    """The ZADD that GEOADD key [NX|XX] [CH] lon lat member ... is (geoaddCommand)."""
    at = 2
    nx = xx = False
    while at < len(argv):
        option = _word(argv[at])
        if option == b"nx":
            nx = True
        elif option == b"xx":
            xx = True
        elif option != b"ch":
            break
        at += 1
    if (len(argv) - at) % 3 or (nx and xx):
        raise CommandError(errors.SYNTAX)
    vector = [b"zadd", *argv[1:at]]
    for i in range(at, len(argv), 3):
        lon, lat = _lon_lat(argv[i], argv[i + 1])
        vector += [b"%d" % geohash.encode(lon, lat), argv[i + 2]]
    return vector


@command("geoadd")
def geoadd(c: Context, argv: list[bytes]) -> bytes:
    return _zadd(c, _zadd_vector(argv), incr=False)


@propagates("geoadd")
def _propagate_geoadd(c: Context, argv: list[bytes], reply: bytes) -> None:
    c.propagate(_zadd_vector(argv))


# -- GEOPOS, GEOHASH, GEODIST ---------------------------------------------------------------------

@command("geopos")
def geopos(c: Context, argv: list[bytes]) -> bytes:
    zs = get_zset(c, argv[1], read=True)
    parts = [b"*%d\r\n" % (len(argv) - 2)]
    for member in argv[2:]:
        position = None if zs is None else _member_position(zs, member)
        if position is None:
            parts.append(c.resp.null_array)
        else:
            parts += [b"*2\r\n", _coordinate(c, position[0]), _coordinate(c, position[1])]
    return b"".join(parts)


@command("geohash")
def geohash_(c: Context, argv: list[bytes]) -> bytes:
    zs = get_zset(c, argv[1], read=True)
    parts = [b"*%d\r\n" % (len(argv) - 2)]
    for member in argv[2:]:
        position = None if zs is None else _member_position(zs, member)
        if position is None:
            parts.append(c.resp.null)
        else:
            parts.append(bulk(geohash.to_standard_string(*position)))
    return b"".join(parts)


@command("geodist")
def geodist(c: Context, argv: list[bytes]) -> bytes:
    conversion = 1.0
    if len(argv) == 5:
        conversion = _unit(argv[4])
    elif len(argv) > 5:
        return errors.SYNTAX
    zs = get_zset(c, argv[1], read=True)
    if zs is None:
        return c.resp.null
    first, second = _member_position(zs, argv[2]), _member_position(zs, argv[3])
    if first is None or second is None:
        return c.resp.null
    return _distance(geohash.distance(*first, *second) / conversion)


# -- the searches ---------------------------------------------------------------------------------

class _Match:
    """A member found inside the shape (Redis's geoPoint)."""

    __slots__ = ("member", "score", "longitude", "latitude", "dist")

    def __init__(self, member: bytes, score: float, position: tuple[float, float],
                 dist: float) -> None:
        self.member, self.score, self.dist = member, score, dist
        self.longitude, self.latitude = position


# What the members of a cell look like to the shape test, one tuple per match:
# (distance, score, member, longitude, latitude).
Hit = tuple[float, float, bytes, float, float]

# How many steps below the nine cells' the pruning splits them.
_WALK_DEPTH = 3
_NEAREST_DEPTH = 8
_NEAREST_SPLIT = 16  # members of a part worth splitting it for


def _matcher(shape: Shape) -> Callable[[object], list[Hit]]:
    """The shape test of geoWithinShape over (score, member) pairs of a cell's scores (in
    [0, 2**54), where score_bits is int()): geohash.decode and Shape.contains inlined, the same
    floating-point operations in the same order, so the same doubles come out. The clamps of
    decode only ever lower a coordinate (cell indexes 2**26, from LAT_MAX or LON_MAX)."""
    table = geohash.DEINTERLEAVE
    lon_min_, lat_min_ = geohash.LON_MIN, geohash.LAT_MIN
    lon_max_, lat_max_ = geohash.LON_MAX, geohash.LAT_MAX
    lon_scale = geohash.LON_MAX - geohash.LON_MIN
    lat_scale = geohash.LAT_MAX - geohash.LAT_MIN
    cells = float(1 << geohash.STEP_MAX)
    d_r = geohash._D_R
    earth = geohash.EARTH_RADIUS_IN_METERS
    two_earth = 2.0 * earth
    sin, cos, sqrt, asin, nan = math.sin, math.cos, math.sqrt, math.asin, math.nan
    centre_lon, centre_lat = shape.longitude, shape.latitude
    centre_lon_r, centre_lat_r = centre_lon * d_r, centre_lat * d_r
    centre_cos = cos(centre_lat_r)

    if not shape.is_box:
        limit = shape.radius * shape.conversion

        def circle(items) -> list[Hit]:  # type: ignore[no-untyped-def]
            hits: list[Hit] = []
            for score, member in items:
                bits = int(score)
                v = (table[bits & 0xFFFF] | table[(bits >> 16) & 0xFFFF] << 8
                     | table[(bits >> 32) & 0xFFFF] << 16 | table[bits >> 48] << 24)
                lat_cell = v & 0xFFFFFFFF
                lon_cell = v >> 32
                lon = (lon_min_ + (lon_cell / cells) * lon_scale
                       + (lon_min_ + ((lon_cell + 1) / cells) * lon_scale)) / 2
                if lon > lon_max_:
                    lon = lon_max_
                lat = (lat_min_ + (lat_cell / cells) * lat_scale
                       + (lat_min_ + ((lat_cell + 1) / cells) * lat_scale)) / 2
                if lat > lat_max_:
                    lat = lat_max_
                x = sin((lon * d_r - centre_lon_r) / 2)
                lat_r = lat * d_r
                if x == 0.0:
                    dist = earth * abs(lat_r - centre_lat_r)
                else:
                    u = sin((lat_r - centre_lat_r) / 2)
                    root = sqrt(u * u + centre_cos * cos(lat_r) * x * x)
                    dist = two_earth * asin(root) if root <= 1.0 else nan
                if dist > limit:
                    continue
                hits.append((dist, score, member, lon, lat))
            return hits

        return circle

    half_height = shape.height * shape.conversion / 2
    half_width = shape.width * shape.conversion / 2

    def box(items) -> list[Hit]:  # type: ignore[no-untyped-def]
        hits: list[Hit] = []
        for score, member in items:
            bits = int(score)
            v = (table[bits & 0xFFFF] | table[(bits >> 16) & 0xFFFF] << 8
                 | table[(bits >> 32) & 0xFFFF] << 16 | table[bits >> 48] << 24)
            lat_cell = v & 0xFFFFFFFF
            lat = (lat_min_ + (lat_cell / cells) * lat_scale
                   + (lat_min_ + ((lat_cell + 1) / cells) * lat_scale)) / 2
            if lat > lat_max_:
                lat = lat_max_
            lat_r = lat * d_r
            if earth * abs(centre_lat_r - lat_r) > half_height:
                continue
            lon_cell = v >> 32
            lon = (lon_min_ + (lon_cell / cells) * lon_scale
                   + (lon_min_ + ((lon_cell + 1) / cells) * lon_scale)) / 2
            if lon > lon_max_:
                lon = lon_max_
            # distance(lon, lat, centre_lon, lat): the same latitude twice, u is 0
            lon_r = lon * d_r
            x = sin((centre_lon_r - lon_r) / 2)
            if x == 0.0:
                across = 0.0
            else:
                cos_lat = cos(lat_r)
                root = sqrt(cos_lat * cos_lat * x * x)  # 0.0 * 0.0 + that is that
                across = two_earth * asin(root) if root <= 1.0 else nan
            if across > half_width:
                continue
            # distance(centre_lon, centre_lat, lon, lat)
            x = sin((lon_r - centre_lon_r) / 2)
            if x == 0.0:
                dist = earth * abs(lat_r - centre_lat_r)
            else:
                u = sin((lat_r - centre_lat_r) / 2)
                root = sqrt(u * u + centre_cos * cos(lat_r) * x * x)
                dist = two_earth * asin(root) if root <= 1.0 else nan
            hits.append((dist, score, member, lon, lat))
        return hits

    return box


def _cells(shape: Shape) -> tuple[int, list[int], geohash.CellFilter | None]:
    """membersOfAllNeighbors's cells: the nine in order, an excluded one skipped, one equal to
    the cell searched just before it skipped too (Redis never compares with the centre cell);
    and the filter to prune them with, if the search allows it."""
    step, cells = geohash.search_cells(shape)
    kept: list[int] = []
    previous: int | None = None
    for i, cell in enumerate(cells):
        if cell is None or (previous is not None and cell == previous):
            continue
        if i:
            previous = cell
        kept.append(cell)
    prune = geohash.CellFilter(shape)
    return step, kept, prune if step >= geohash.PRUNE_MIN_STEP and prune.usable() else None


def _find(zs: ZSet, shape: Shape, limit: int) -> list[_Match]:
    """membersOfAllNeighbors: the cells in order, each walked in rank order; with a limit
    (COUNT ANY) the walk stops as soon as that many were found."""
    found: list[_Match] = []
    ordered = zs.ordered
    match = _matcher(shape)
    step, cells, prune = _cells(shape)
    for cell in cells:
        if limit and len(found) >= limit:
            break
        if prune is None:
            ranges = [geohash.cell_range(cell, step)]
        else:
            ranges = geohash.pruned_ranges(cell, step, prune, _WALK_DEPTH)
        for low, high in ranges:
            hits = match(ordered.irange((low,), (high,), inclusive=(True, False)))
            if limit:
                hits = hits[:limit - len(found)]
            found += [_Match(member, score, (lon, lat), dist)
                      for dist, score, member, lon, lat in hits]
            if limit and len(found) >= limit:
                break
    return found


def _nearest(zs: ZSet, shape: Shape, count: int) -> list[_Match] | None:
    """COUNT without ANY, ascending: the reply's matches, found nearest first.

    Parts of the cells are searched in the order of a lower bound on their distance, split
    while they hold many members, until the rest are surely farther than the `count + 1`
    nearest found so far. If those `count + 1` have distinct distances, Redis's partial sort
    of all the matches puts the first `count` of them first, in that order, whatever order it
    was given them in. If there are no more than `count` matches, all were found: put back in
    the walk's order (the cell, then the score and member) they sort as Redis's full sort does.
    None where neither holds (no pruning, ties, NaN), for the walk of every cell instead."""
    step, cells, prune = _cells(shape)
    if prune is None:
        return None
    ordered = zs.ordered
    bisect = ordered.bisect_left
    match = _matcher(shape)
    classify = prune.classify
    decode_area = geohash.decode_area
    last = min(step + _NEAREST_DEPTH, geohash.STEP_MAX)
    todo: list[tuple[float, int, int, int]] = []  # (distance bound, step, cell bits, walk index)
    for index, cell in enumerate(cells):
        bound, verdict = classify(decode_area(cell, step))
        if verdict:
            todo.append((bound, step, cell, index))
    heapq.heapify(todo)
    wanted = count + 1
    best: list[tuple[float, int, int, Hit]] = []  # a max-heap: (-distance, seq, index, hit)
    seq = 0
    while todo:
        bound, cell_step, cell, index = heapq.heappop(todo)
        if len(best) == wanted and bound > -best[0][0]:
            break
        low, high = geohash.cell_range(cell, cell_step)
        if cell_step < last and bisect((high,)) - bisect((low,)) > _NEAREST_SPLIT:
            for quarter in range(4):
                bits = cell << 2 | quarter
                part_bound, part_verdict = classify(decode_area(bits, cell_step + 1))
                if part_verdict:
                    heapq.heappush(todo, (part_bound, cell_step + 1, bits, index))
            continue
        for hit in match(ordered.irange((low,), (high,), inclusive=(True, False))):
            dist = hit[0]
            if dist != dist:  # NaN: Redis's comparisons are no order
                return None
            seq += 1
            if len(best) < wanted:
                heapq.heappush(best, (-dist, seq, index, hit))
            elif dist < -best[0][0]:
                heapq.heapreplace(best, (-dist, seq, index, hit))
    if len(best) < wanted:  # every match: in the walk's order, then as _sorted sorts them
        walk = sorted(best, key=lambda entry: (entry[2], entry[3][1], entry[3][2]))
        hits = sorted((entry[3] for entry in walk), key=lambda hit: hit[0])
    else:
        hits = sorted(entry[3] for entry in best)
        if any(hits[i][0] >= hits[i + 1][0] for i in range(count)):
            return None
        hits = hits[:count]
    return [_Match(member, score, (lon, lat), dist) for dist, score, member, lon, lat in hits]


def _compare(descending: bool) -> Callable[[_Match, _Match], int]:
    """sort_gp_asc / sort_gp_desc, NaN distances included."""
    sign = -1 if descending else 1

    def compare(a: _Match, b: _Match) -> int:
        if a.dist > b.dist:
            return sign
        return 0 if a.dist == b.dist else -sign

    return compare


def _merge_sort(items: list[_Match], cmp: Callable[[_Match, _Match], int]) -> list[_Match]:
    """glibc's qsort (a top-down merge sort), for comparisons NaN makes inconsistent."""
    if len(items) <= 1:
        return items
    half = len(items) // 2
    left, right = _merge_sort(items[:half], cmp), _merge_sort(items[half:], cmp)
    merged: list[_Match] = []
    i = j = 0
    while i < len(left) and j < len(right):
        if cmp(left[i], right[j]) <= 0:
            merged.append(left[i])
            i += 1
        else:
            merged.append(right[j])
            j += 1
    return merged + left[i:] + right[j:]


def _partial_sort(a: list[_Match], cmp: Callable[[_Match, _Match], int], wanted: int) -> None:
    """Redis's pqsort(a, 0, wanted - 1): Bentley & McIlroy's quicksort that only recurses into
    the parts holding ranks < wanted. Ties come out in its order, so it is followed exactly."""

    def median(i: int, j: int, k: int) -> int:
        if cmp(a[i], a[j]) < 0:
            return j if cmp(a[j], a[k]) < 0 else (k if cmp(a[i], a[k]) < 0 else i)
        return j if cmp(a[j], a[k]) > 0 else (i if cmp(a[i], a[k]) < 0 else k)

    def swap_runs(i: int, j: int, n: int) -> None:
        for t in range(n):
            a[i + t], a[j + t] = a[j + t], a[i + t]

    def sort(lo: int, n: int) -> None:
        while True:
            if n < 7:
                for m in range(lo + 1, lo + n):
                    k = m
                    while k > lo and cmp(a[k - 1], a[k]) > 0:
                        a[k], a[k - 1] = a[k - 1], a[k]
                        k -= 1
                return
            pm = lo + n // 2
            if n > 7:
                pl, pn = lo, lo + n - 1
                if n > 40:
                    d = n // 8
                    pl = median(pl, pl + d, pl + 2 * d)
                    pm = median(pm - d, pm, pm + d)
                    pn = median(pn - 2 * d, pn - d, pn)
                pm = median(pl, pm, pn)
            a[lo], a[pm] = a[pm], a[lo]
            pa = pb = lo + 1
            pc = pd = lo + n - 1
            while True:
                while pb <= pc:
                    result = cmp(a[pb], a[lo])
                    if result > 0:
                        break
                    if result == 0:
                        a[pa], a[pb] = a[pb], a[pa]
                        pa += 1
                    pb += 1
                while pb <= pc:
                    result = cmp(a[pc], a[lo])
                    if result < 0:
                        break
                    if result == 0:
                        a[pc], a[pd] = a[pd], a[pc]
                        pd -= 1
                    pc -= 1
                if pb > pc:
                    break
                a[pb], a[pc] = a[pc], a[pb]
                pb += 1
                pc -= 1
            end = lo + n
            r = min(pa - lo, pb - pa)
            swap_runs(lo, pb - r, r)
            r = min(pd - pc, end - pd - 1)
            swap_runs(pb, end - r, r)
            r = pb - pa
            if r > 1 and lo < wanted:  # the part holds ranks below `wanted`
                sort(lo, r)
            r = pd - pc
            if r <= 1 or end - r >= wanted:
                return
            lo, n = end - r, r

    sort(0, len(a))


def _sorted(found: list[_Match], descending: bool, wanted: int) -> list[_Match]:
    cmp = _compare(descending)
    if wanted < len(found):
        _partial_sort(found, cmp, wanted)
        return found[:wanted]
    if any(math.isnan(match.dist) for match in found):
        return _merge_sort(found, cmp)
    return sorted(found, key=lambda match: match.dist, reverse=descending)


# Which search: around coordinates or a member (GEORADIUS*), refusing STORE (_RO), or the
# GEOSEARCH syntax, with a destination (GEOSEARCHSTORE).
COORDS, MEMBER, NO_STORE, SEARCH, SEARCH_STORE = 1, 2, 4, 8, 16


def _distance_args(shape: Shape, radius: bytes, unit: bytes) -> None:
    """extractDistanceOrReply."""
    value = to_double(radius, _NEED_RADIUS)
    if value < 0:
        raise CommandError(_NEGATIVE_RADIUS)
    shape.radius = value
    shape.conversion = _unit(unit)
    shape.is_box = False


def _box_args(shape: Shape, width: bytes, height: bytes, unit: bytes) -> None:
    """extractBoxOrReply."""
    w, h = to_double(width, _NEED_WIDTH), to_double(height, _NEED_HEIGHT)
    if h < 0 or w < 0:
        raise CommandError(_NEGATIVE_BOX)
    shape.width, shape.height = w, h
    shape.conversion = _unit(unit)
    shape.is_box = True


def _search(c, argv: list[bytes], src: int, flags: int) -> bytes:  # type: ignore[no-untyped-def]
    """georadiusGeneric: arguments checked in Redis's order, then the search."""
    zs = get_zset(c, argv[src], read=True)
    shape = Shape()
    store_key: bytes | None = None
    store_dist = False
    if flags & COORDS:
        base = 6
        shape.longitude, shape.latitude = _lon_lat(argv[2], argv[3])
        _distance_args(shape, argv[4], argv[5])
    elif flags & MEMBER:
        base = 5
        if zs is not None:
            position = _member_position(zs, argv[2])
            if position is None:
                return _NOT_DECODABLE
            shape.longitude, shape.latitude = position
            _distance_args(shape, argv[3], argv[4])
    else:
        base = 2
        if flags & SEARCH_STORE:
            base = 3
            store_key = argv[1]
    withdist = withhash = withcoord = any_ = False
    from_member = from_lonlat = by_radius = by_box = False
    order = 0  # 1 ascending, 2 descending
    count = 0
    n = len(argv)
    i = base
    while i < n:
        option = _word(argv[i])
        left = n - i - 1  # arguments after this one
        search = flags & SEARCH
        if option == b"withdist":
            withdist = True
        elif option == b"withhash":
            withhash = True
        elif option == b"withcoord":
            withcoord = True
        elif option == b"any":
            any_ = True
        elif option == b"asc":
            order = 1
        elif option == b"desc":
            order = 2
        elif option == b"count" and left >= 1:
            count = to_int(argv[i + 1])
            if count <= 0:
                return _COUNT_NOT_POSITIVE
            i += 1
        elif option in (b"store", b"storedist") and left >= 1 and not flags & (NO_STORE | SEARCH):
            store_key, store_dist = argv[i + 1], option == b"storedist"
            i += 1
        elif option == b"storedist" and flags & SEARCH_STORE:
            store_dist = True
        elif option == b"frommember" and left >= 1 and search and not from_lonlat:
            if zs is not None:
                position = _member_position(zs, argv[i + 1])
                if position is None:
                    return _NOT_DECODABLE
                shape.longitude, shape.latitude = position
            from_member = True
            i += 1
        elif option == b"fromlonlat" and left >= 2 and search and not from_member:
            shape.longitude, shape.latitude = _lon_lat(argv[i + 1], argv[i + 2])
            from_lonlat = True
            i += 2
        elif option == b"byradius" and left >= 2 and search and not by_box:
            _distance_args(shape, argv[i + 1], argv[i + 2])
            by_radius = True
            i += 2
        elif option == b"bybox" and left >= 3 and search and not by_radius:
            _box_args(shape, argv[i + 1], argv[i + 2], argv[i + 3])
            by_box = True
            i += 3
        else:
            return errors.SYNTAX
        i += 1
    if store_key is not None and (withdist or withhash or withcoord):
        what = "GEOSEARCHSTORE" if flags & SEARCH_STORE else "STORE option in GEORADIUS"
        return errors.err(
            f"ERR {what} is not compatible with WITHDIST, WITHHASH and WITHCOORD options")
    name = argv[0].decode("latin-1")
    if flags & SEARCH and not (from_member or from_lonlat):
        return errors.err(f"ERR exactly one of FROMMEMBER or FROMLONLAT can be specified for "
                          f"{name}")
    if flags & SEARCH and not (by_radius or by_box):
        return errors.err(f"ERR exactly one of BYRADIUS and BYBOX can be specified for {name}")
    if any_ and not count:
        return _ANY_WITHOUT_COUNT
    if zs is None:
        if store_key is None:
            return EMPTY_ARRAY
        return _store_result(c, store_key, [], b"")  # deletes it
    if count and not order and not any_:
        order = 1
    nearest = _nearest(zs, shape, count) if count and order == 1 and not any_ else None
    if nearest is not None:
        found = nearest
    else:
        found = _find(zs, shape, count if any_ else 0)
        wanted = count if count and count < len(found) else len(found)
        if order:
            found = _sorted(found, order == 2, wanted)
        else:
            found = found[:wanted]
    if not found and store_key is None:
        return EMPTY_ARRAY
    if store_key is not None:
        items = [(match.dist / shape.conversion if store_dist else match.score, match.member)
                 for match in found]
        return _store_result(c, store_key, items,
                             b"geosearchstore" if flags & SEARCH else b"georadiusstore")
    return _reply(c, found, shape.conversion, withdist, withhash, withcoord)


def _reply(c, found: list[_Match], conversion: float, withdist: bool,  # type: ignore[no-untyped-def]
           withhash: bool, withcoord: bool) -> bytes:
    parts = [b"*%d\r\n" % len(found)]
    extras = withdist + withhash + withcoord
    header = b"*%d\r\n" % (extras + 1)
    for match in found:
        if extras:
            parts.append(header)
        parts.append(bulk(match.member))
        if withdist:
            parts.append(_distance(match.dist / conversion))
        if withhash:
            parts.append(integer(geohash.score_integer(match.score)))
        if withcoord:
            parts += [b"*2\r\n", _coordinate(c, match.longitude),
                      _coordinate(c, match.latitude)]
    return b"".join(parts)


@command("georadius")
def georadius(c: Context, argv: list[bytes]) -> bytes:
    return _search(c, argv, 1, COORDS)


@command("georadiusbymember")
def georadiusbymember(c: Context, argv: list[bytes]) -> bytes:
    return _search(c, argv, 1, MEMBER)


@command("georadius_ro")
def georadius_ro(c: Context, argv: list[bytes]) -> bytes:
    return _search(c, argv, 1, COORDS | NO_STORE)


@command("georadiusbymember_ro")
def georadiusbymember_ro(c: Context, argv: list[bytes]) -> bytes:
    return _search(c, argv, 1, MEMBER | NO_STORE)


@command("geosearch")
def geosearch(c: Context, argv: list[bytes]) -> bytes:
    return _search(c, argv, 1, SEARCH)


@command("geosearchstore")
def geosearchstore(c: Context, argv: list[bytes]) -> bytes:
    return _search(c, argv, 2, SEARCH | SEARCH_STORE)
