"""Geohash arithmetic for the GEO commands, with the exact IEEE results Redis 7.0 computes.

A geo set is a sorted set whose scores are 52-bit geohashes: 26 bits of latitude (over
-85.05112878..85.05112878, the Web Mercator limits) interleaved with 26 bits of longitude
(-180..180), latitude in the even bit positions. Everything here follows Redis's geohash.c
and geohash_helper.c operation for operation, so that scores, decoded coordinates, distances
and the set of cells a search visits are the same doubles as redis-server's (Python floats are
C doubles, and math's sin/cos/asin/sqrt are the same libm calls). Where C would produce a NaN
or an infinity quietly, these functions do too instead of raising.

Bits are plain Python ints; where C wraps a uint64_t or uint32_t the mask is explicit.
"""

from __future__ import annotations

import math

LAT_MIN, LAT_MAX = -85.05112878, 85.05112878
LON_MIN, LON_MAX = -180.0, 180.0
STEP_MAX = 26  # 26 * 2 = 52 bits, what a double holds exactly

MASK64 = (1 << 64) - 1
_MASK32 = (1 << 32) - 1
_EVEN = 0x5555555555555555
_ODD = 0xAAAAAAAAAAAAAAAA

_D_R = math.pi / 180.0  # degrees to radians, as Redis's D_R
EARTH_RADIUS_IN_METERS = 6372797.560856
_MERCATOR_MAX = 20037726.37

Range = tuple[float, float]
MERCATOR_LAT: Range = (LAT_MIN, LAT_MAX)
LONGITUDE: Range = (LON_MIN, LON_MAX)
STANDARD_LAT: Range = (-90.0, 90.0)  # the usual geohash's, for GEOHASH's strings

# An 8-bit value with a zero bit inserted above each of its bits, and the way back.
_SPREAD = [sum(((byte >> i) & 1) << (2 * i) for i in range(8)) for byte in range(256)]
_SQUASH = {spread: byte for byte, spread in enumerate(_SPREAD)}


def _spread(value: int) -> int:
    """The bits of a 32-bit value moved to the even positions of a 64-bit one."""
    spread = _SPREAD
    return (spread[value & 255] | spread[(value >> 8) & 255] << 16
            | spread[(value >> 16) & 255] << 32 | spread[(value >> 24) & 255] << 48)


def _squash(value: int) -> int:
    """The even-position bits of a 64-bit value, packed into 32 bits (_spread's inverse)."""
    value &= _EVEN
    squash = _SQUASH
    return (squash[value & 0xFFFF] | squash[(value >> 16) & 0xFFFF] << 8
            | squash[(value >> 32) & 0xFFFF] << 16 | squash[(value >> 48) & 0xFFFF] << 24)


def encode(longitude: float, latitude: float, step: int = STEP_MAX,
           lat_range: Range = MERCATOR_LAT) -> int:
    """The step*2-bit hash of a point inside the ranges (callers check them first)."""
    scale = float(1 << step)
    lat_offset = (latitude - lat_range[0]) / (lat_range[1] - lat_range[0]) * scale
    lon_offset = (longitude - LON_MIN) / (LON_MAX - LON_MIN) * scale
    return _spread(int(lat_offset)) | _spread(int(lon_offset)) << 1


def decode_area(bits: int, step: int) -> tuple[float, float, float, float]:
    """The cell of a hash: (lon_min, lon_max, lat_min, lat_max)."""
    lat_cell, lon_cell = _squash(bits), _squash(bits >> 1)
    cells = float(1 << step)
    lat_scale = LAT_MAX - LAT_MIN
    lon_scale = LON_MAX - LON_MIN
    return (LON_MIN + (lon_cell / cells) * lon_scale,
            LON_MIN + (((lon_cell + 1) & _MASK32) / cells) * lon_scale,
            LAT_MIN + (lat_cell / cells) * lat_scale,
            LAT_MIN + (((lat_cell + 1) & _MASK32) / cells) * lat_scale)


def decode(bits: int) -> tuple[float, float]:
    """(longitude, latitude) of a 52-bit score's cell centre, clamped to the limits."""
    lon_min, lon_max, lat_min, lat_max = decode_area(bits, STEP_MAX)
    longitude = min(max((lon_min + lon_max) / 2, LON_MIN), LON_MAX)
    latitude = min(max((lat_min + lat_max) / 2, LAT_MIN), LAT_MAX)
    return longitude, latitude


def score_bits(score: float) -> int:
    """A score as C's (uint64_t) cast makes it on x86-64 (what Redis decodes a member with):
    truncation, negatives wrapped, out-of-range values 2**63 (or 0 past 2**64)."""
    if score >= 9.223372036854775808e18:
        rest = score - 9.223372036854775808e18
        return (int(rest) if rest < 9.223372036854775808e18 else 1 << 63) ^ (1 << 63)
    if score >= -9.223372036854775808e18:  # NaN fails both tests
        return int(score) & MASK64
    return 1 << 63


def score_integer(score: float) -> int:
    """A score as C's (long long) cast makes it on x86-64 (WITHHASH's reply)."""
    if -9.223372036854775808e18 <= score < 9.223372036854775808e18:
        return int(score)
    return -(1 << 63)


def to_standard_string(longitude: float, latitude: float) -> bytes:
    """GEOHASH's 11 characters: the point re-encoded over the standard -90..90 latitudes;
    52 bits give 10 characters and a half, the 11th is always '0'."""
    bits = encode(longitude, latitude, STEP_MAX, STANDARD_LAT)
    alphabet = b"0123456789bcdefghjkmnpqrstuvwxyz"
    return bytes([alphabet[(bits >> (47 - 5 * i)) & 0x1F] for i in range(10)]) + b"0"


# -- distances ------------------------------------------------------------------------------------

def _asin(x: float) -> float:
    return math.asin(x) if -1.0 <= x <= 1.0 else math.nan  # C gives NaN outside the domain


def _cos(x: float) -> float:
    return math.cos(x) if math.isfinite(x) else math.nan


def _divide(a: float, b: float) -> float:
    """IEEE division (Python raises on a zero divisor)."""
    if b == 0.0:
        if a == 0.0 or math.isnan(a):
            return math.nan
        return math.copysign(math.inf, a) * math.copysign(1.0, b)
    return a / b


def lat_distance(lat1: float, lat2: float) -> float:
    return EARTH_RADIUS_IN_METERS * abs(lat2 * _D_R - lat1 * _D_R)


def distance(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    """The haversine great-circle distance in meters, as geohashGetDistance."""
    v = math.sin((lon2 * _D_R - lon1 * _D_R) / 2)
    if v == 0.0:
        return lat_distance(lat1, lat2)
    lat1r, lat2r = lat1 * _D_R, lat2 * _D_R
    u = math.sin((lat2r - lat1r) / 2)
    a = u * u + math.cos(lat1r) * math.cos(lat2r) * v * v
    return 2.0 * EARTH_RADIUS_IN_METERS * _asin(math.sqrt(a))


# -- search areas ---------------------------------------------------------------------------------

class Shape:
    """A search: its centre, a circle (radius) or a box (width, height), in `unit`s (the
    unit's size in meters is `conversion`)."""

    __slots__ = ("longitude", "latitude", "radius", "width", "height", "conversion", "is_box")

    def __init__(self) -> None:
        self.longitude = self.latitude = 0.0
        self.radius = self.width = self.height = 0.0
        self.conversion = 1.0
        self.is_box = False

    def contains(self, longitude: float, latitude: float) -> float | None:
        """The distance in meters from the centre to a point inside the shape, else None."""
        if not self.is_box:
            dist = distance(self.longitude, self.latitude, longitude, latitude)
            return None if dist > self.radius * self.conversion else dist
        if lat_distance(latitude, self.latitude) > self.height * self.conversion / 2:
            return None
        if (distance(longitude, latitude, self.longitude, latitude)
                > self.width * self.conversion / 2):
            return None
        return distance(self.longitude, self.latitude, longitude, latitude)

    def bounds(self) -> tuple[float, float, float, float]:
        """geohashBoundingBox: (min_lon, min_lat, max_lon, max_lat)."""
        conversion = self.conversion
        if self.is_box:
            height, width = conversion * (self.height / 2), conversion * (self.width / 2)
        else:
            height = width = conversion * self.radius
        lat = self.latitude
        lat_delta = (height / EARTH_RADIUS_IN_METERS) / _D_R
        edge = lat - lat_delta if lat < 0 else lat + lat_delta
        lon_delta = _divide(width / EARTH_RADIUS_IN_METERS, _cos(edge * _D_R)) / _D_R
        return (self.longitude - lon_delta, lat - lat_delta, self.longitude + lon_delta,
                lat + lat_delta)

    def reach(self) -> float:
        """How far from the centre the shape reaches, in meters (for the step estimate)."""
        if self.is_box:
            half_w, half_h = self.width / 2, self.height / 2
            return math.sqrt(half_w * half_w + half_h * half_h) * self.conversion
        return self.radius * self.conversion


def estimate_step(range_meters: float, latitude: float) -> int:
    """geohashEstimateStepsByRadius: the coarsest step whose cells still cover the range."""
    if range_meters == 0:
        return 26
    step = 1
    while range_meters < _MERCATOR_MAX:
        range_meters *= 2
        step += 1
    step -= 2
    if latitude > 66 or latitude < -66:
        step -= 1
        if latitude > 80 or latitude < -80:
            step -= 1
    return min(max(step, 1), 26)


def _move(bits: int, step: int, lon_delta: int, lat_delta: int) -> int:
    """The neighbouring cell, wrapping around at the edges as Redis's geohash_move_x/y."""
    shift = 64 - step * 2
    if lon_delta:
        ones = _EVEN >> shift
        lon = bits & _ODD
        lon = lon + ones + 1 if lon_delta > 0 else (lon | ones) - (ones + 1)
        bits = (lon & MASK64 & (_ODD >> shift)) | (bits & _EVEN)
    if lat_delta:
        ones = _ODD >> shift
        lat = bits & _EVEN
        lat = lat + ones + 1 if lat_delta > 0 else (lat | ones) - (ones + 1)
        bits = (bits & _ODD) | (lat & MASK64 & (_EVEN >> shift))
    return bits


# The order Redis searches the nine cells in: centre, N, S, E, W, NE, NW, SE, SW.
_AROUND = ((0, 0), (0, 1), (0, -1), (1, 0), (-1, 0), (1, 1), (-1, 1), (1, -1), (-1, -1))


def search_cells(shape: Shape) -> tuple[int, list[int | None]]:
    """The step and the nine cells around the centre in Redis's search order, None for a cell
    the search excludes (geohashCalculateAreasByShapeWGS84)."""
    min_lon, min_lat, max_lon, max_lat = shape.bounds()
    lon, lat = shape.longitude, shape.latitude
    step = estimate_step(shape.reach(), lat)
    bits = encode(lon, lat, step)
    if step > 1:
        north = decode_area(_move(bits, step, 0, 1), step)
        south = decode_area(_move(bits, step, 0, -1), step)
        east = decode_area(_move(bits, step, 1, 0), step)
        west = decode_area(_move(bits, step, -1, 0), step)
        if (north[3] < max_lat or south[2] > min_lat or east[1] < max_lon
                or west[0] > min_lon):
            step -= 1
            bits = encode(lon, lat, step)
    cells: list[int | None] = [_move(bits, step, dx, dy) for dx, dy in _AROUND]
    if step >= 2:
        area = decode_area(bits, step)
        excluded = set()
        if area[2] < min_lat:
            excluded |= {2, 7, 8}  # S, SE, SW
        if area[3] > max_lat:
            excluded |= {1, 5, 6}  # N, NE, NW
        if area[0] < min_lon:
            excluded |= {4, 6, 8}  # W, NW, SW
        if area[1] > max_lon:
            excluded |= {3, 5, 7}  # E, SE, NE
        for i in excluded:
            cells[i] = None
    return step, cells


def search_ranges(shape: Shape) -> list[tuple[int, int] | None]:
    """The nine cells of search_cells as score ranges [min, max)."""
    step, cells = search_cells(shape)
    shift = 52 - step * 2
    return [None if cell is None else (cell << shift, (cell + 1) << shift) for cell in cells]


# -- pruning: which parts of the nine cells can hold a match --------------------------------------
#
# Redis tests every member of the nine cells against the shape. Only those inside can match, so
# a cell is split into its four quarters (the next step's cells: four consecutive score ranges,
# in score order) and a quarter no point of which can be inside the shape is dropped. The
# members of the ranges kept come out in the same order as the whole cell's, and each is still
# tested exactly as Redis tests it: the pruning only skips members that test would reject.
#
# A member's decoded point lies in the rectangle of every cell holding its score (decode_area's
# arithmetic is monotonic), or on the limit where decode clamps it. Over a rectangle the
# haversine is bounded below using the smallest latitude gap dphi and longitude gap dlam (around
# the circle) to the centre: hav(d) >= hav(dphi) + cos(lat1) * min(cos(lat2)) * hav(dlam); a
# box's two tests likewise (R * dphi, and min(cos(lat2))**2 * hav(dlam) for the width). Every
# bound is loosened by far more than the rounding of either side (1e-9 relative, 1e-6 m,
# 1e-9 degrees). Pruning starts at step 4: the nine cells are then distinct and no member of
# them is near the centre's antipode (hav(d) < 0.994), where asin is ill-conditioned and
# rounding could make Redis's distance a NaN that passes its test.

PRUNE_MIN_STEP = 4
_SLACK_DEG = 1e-9
_SHRINK, _GROW, _SLACK_M = 1.0 - 1e-9, 1.0 + 1e-9, 1e-6
_HALF_D_R = _D_R / 2
_TWO_R = 2.0 * EARTH_RADIUS_IN_METERS
_HALF_TURN = math.pi * EARTH_RADIUS_IN_METERS


class CellFilter:
    """Bounds, for one search, on what the shape test gives over a cell's rectangle."""

    __slots__ = ("lon", "lat", "cos_lat", "is_box", "limit", "half_width", "half_height")

    def __init__(self, shape: Shape) -> None:
        self.lon, self.lat = shape.longitude, shape.latitude
        self.cos_lat = math.cos(self.lat * _D_R)
        self.is_box = shape.is_box
        self.limit = shape.radius * shape.conversion
        self.half_width = shape.width * shape.conversion / 2
        self.half_height = shape.height * shape.conversion / 2

    def usable(self) -> bool:
        return all(math.isfinite(x) for x in (self.lon, self.lat, self.limit, self.half_width,
                                              self.half_height))

    def classify(self, area: tuple[float, float, float, float]) -> tuple[float, int]:
        """(a lower bound on the distance from the centre to any point of the rectangle
        (lon_min, lon_max, lat_min, lat_max), 0 when no point of it can be inside the shape,
        2 when all surely are, else 1). Every bound is loosened: gaps in degrees by 1e-9,
        distances by 1e-9 relative and 1e-6 m."""
        sin, cos, asin, sqrt = math.sin, math.cos, math.asin, math.sqrt
        lon_lo, lon_hi, lat_lo, lat_hi = area
        # decode clamps: the cells past the limits (only scores no GEOADD makes) hold points
        # on the limit itself
        if lon_hi > LON_MAX:
            lon_hi = LON_MAX
            lon_lo = lon_lo if lon_lo < LON_MAX else LON_MAX
        if lat_hi > LAT_MAX:
            lat_hi = LAT_MAX
            lat_lo = lat_lo if lat_lo < LAT_MAX else LAT_MAX
        lon_lo -= _SLACK_DEG
        lon_hi += _SLACK_DEG
        lat_lo -= _SLACK_DEG
        lat_hi += _SLACK_DEG
        lat = self.lat
        below, above = lat - lat_lo, lat_hi - lat  # how far the edges are from the centre
        if below >= 0.0 and above >= 0.0:
            dphi_min = 0.0
        else:
            dphi_min = (-below if below < 0.0 else -above) - _SLACK_DEG
            if dphi_min < 0.0:
                dphi_min = 0.0
        dphi_max = (abs(below) if abs(below) > abs(above) else abs(above)) + _SLACK_DEG
        width = lon_hi - lon_lo
        if width >= 360.0:
            dlam_min, dlam_max = 0.0, 180.0
        else:
            start = (lon_lo - self.lon) % 360.0  # where the interval starts, east of the centre
            end = start + width
            if end >= 360.0:
                dlam_min = 0.0
                end -= 360.0
            else:
                dlam_min = (start if start < 360.0 - end else 360.0 - end) - _SLACK_DEG
                if dlam_min < 0.0:
                    dlam_min = 0.0
            if start <= 180.0 <= start + width:
                dlam_max = 180.0
            else:
                near_start = start if start < 360.0 - start else 360.0 - start
                near_end = end if end < 360.0 - end else 360.0 - end
                dlam_max = (near_start if near_start > near_end else near_end) + _SLACK_DEG
                if dlam_max > 180.0:
                    dlam_max = 180.0
        cos_lo, cos_hi = cos(lat_lo * _D_R), cos(lat_hi * _D_R)
        cos_min = cos_lo if cos_lo < cos_hi else cos_hi
        if cos_min < 0.0:
            cos_min = 0.0
        s_phi, s_lam = sin(dphi_min * _HALF_D_R), sin(dlam_min * _HALF_D_R)
        hav_lam = s_lam * s_lam
        a = s_phi * s_phi + self.cos_lat * cos_min * hav_lam
        low = (_TWO_R * asin(sqrt(a)) if a < 1.0 else _HALF_TURN) * _SHRINK - _SLACK_M
        if self.is_box:
            if EARTH_RADIUS_IN_METERS * dphi_min * _D_R * _SHRINK - _SLACK_M > self.half_height:
                return low, 0
            a = cos_min * cos_min * hav_lam
            across = _TWO_R * asin(sqrt(a)) if a < 1.0 else _HALF_TURN
            if across * _SHRINK - _SLACK_M > self.half_width:
                return low, 0
        elif low > self.limit:
            return low, 0
        cos_max = 1.0 if lat_lo <= 0.0 <= lat_hi else (cos_lo if cos_lo > cos_hi else cos_hi)
        if cos_max > 1.0:
            cos_max = 1.0
        s_phi, s_lam = sin(dphi_max * _HALF_D_R), sin(dlam_max * _HALF_D_R)
        hav_lam = s_lam * s_lam
        if self.is_box:
            if EARTH_RADIUS_IN_METERS * dphi_max * _D_R * _GROW + _SLACK_M >= self.half_height:
                return low, 1
            a = cos_max * cos_max * hav_lam
        else:
            a = s_phi * s_phi + self.cos_lat * cos_max * hav_lam
        high = (_TWO_R * asin(sqrt(a)) if a < 1.0 else _HALF_TURN) * _GROW + _SLACK_M
        return low, 2 if high < (self.half_width if self.is_box else self.limit) else 1


def cell_range(bits: int, step: int) -> tuple[int, int]:
    """The scores [min, max) of a cell's members."""
    shift = 52 - step * 2
    return bits << shift, (bits + 1) << shift


def pruned_ranges(bits: int, step: int, cells: CellFilter, depth: int) -> list[tuple[int, int]]:
    """The score ranges, ascending, of the parts of a cell that may hold a match: quarters
    split down to `depth` more steps, or until wholly inside or outside the shape."""
    ranges: list[tuple[int, int]] = []
    last = min(step + depth, STEP_MAX)

    def visit(bits: int, step: int) -> None:
        _, verdict = cells.classify(decode_area(bits, step))
        if verdict == 0:
            return
        if verdict == 1 and step < last:
            for quarter in range(4):
                visit(bits << 2 | quarter, step + 1)
            return
        low, high = cell_range(bits, step)
        if ranges and ranges[-1][1] == low:
            ranges[-1] = (ranges[-1][0], high)
        else:
            ranges.append((low, high))

    visit(bits, step)
    return ranges


# 16 interleaved bits -> their 8 latitude (even) bits | their 8 longitude (odd) bits << 32.
DEINTERLEAVE = [_SQUASH[x & 0x5555] | _SQUASH[(x >> 1) & 0x5555] << 32 for x in range(65536)]
