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


def search_ranges(shape: Shape) -> list[tuple[int, int] | None]:
    """The nine cells around the centre as score ranges [min, max) in Redis's search order,
    None for a cell the search excludes (geohashCalculateAreasByShapeWGS84)."""
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
    shift = 52 - step * 2
    return [None if cell is None else (cell << shift, (cell + 1) << shift) for cell in cells]
