"""LOLWUT [VERSION n] [args]: computer art and the version (Redis's lolwut*.c).

Redis picks the artwork from a version string: its own ("7.0.15") unless VERSION n asks for
another, which it formats as the unsigned 32-bit value of n followed by ".0.0". A 5.x (or 4.9)
version draws Georg Nees's "Schotter" in Braille characters, a 6.x (or 5.9) version a city
skyline in ANSI colours, anything else (7.0 included) only says "Redis ver. 7.0.15". The art
uses random numbers, so only its geometry repeats from call to call: the canvas size, the
unrotated top two rows of Schotter's squares, the sky above the skyline.

Schotter's geometry is computed in single precision, as Redis's floats are, so the squares
land on the same pixels. The largest drawings take this Python about a second, so the drawing
lets other clients run between rows (core.context.Pacer) where Redis, much faster, does not.
"""

from __future__ import annotations

import math
import random
import struct
from collections.abc import Callable

from valkdb import REDIS_VERSION
from valkdb.commands.args import to_int
from valkdb.core.context import Context, Pacer
from valkdb.core.registry import command

_RAND_MAX = 2**31 - 1
_rand = random.Random()


def _c_rand() -> int:
    """libc's rand(): uniform in [0, RAND_MAX]."""
    return _rand.randint(0, _RAND_MAX)


def _f32(value: float) -> float:
    """value rounded to a C float."""
    return float(struct.unpack("f", struct.pack("f", value))[0])


def _c_round(value: float) -> float:
    """C's round(): halves away from zero."""
    return math.copysign(math.floor(abs(value) + 0.5), value)


def _clamp(value: int, high: int) -> int:
    return min(max(value, 1), high)


class _Canvas:
    """Pixels (colour indexes) in rows; drawing outside the canvas is ignored."""

    def __init__(self, width: int, height: int, background: int) -> None:
        self.width, self.height = width, height
        self.rows = [bytearray([background]) * width for _ in range(height)]

    def put(self, x: int, y: int, colour: int) -> None:
        if 0 <= x < self.width and 0 <= y < self.height:
            self.rows[y][x] = colour

    def get(self, x: int, y: int) -> int:
        if 0 <= x < self.width and 0 <= y < self.height:
            return self.rows[y][x]
        return 0

    def line(self, x1: int, y1: int, x2: int, y2: int, colour: int) -> None:
        """Bresenham's line, both ends included."""
        dx, dy = abs(x2 - x1), abs(y2 - y1)
        sx = 1 if x1 < x2 else -1
        sy = 1 if y1 < y2 else -1
        error = dx - dy
        while True:
            self.put(x1, y1, colour)
            if x1 == x2 and y1 == y2:
                return
            doubled = error * 2
            if doubled > -dy:
                error -= dy
                x1 += sx
            if doubled < dx:
                error += dx
                y1 += sy

    def square(self, x: int, y: int, size: float, angle: float, colour: int) -> None:
        """A square of side `size` centred on (x, y), rotated by `angle` radians."""
        radius = _f32(_c_round(_f32(size / 1.4142135623)))  # the circumscribed circle's
        k = _f32(math.pi / 4 + angle)
        corners = []
        for _ in range(4):
            corners.append((int(_c_round(math.sin(k) * radius + x)),
                            int(_c_round(math.cos(k) * radius + y))))
            k = _f32(k + math.pi / 2)
        for j in range(4):
            (ax, ay), (bx, by) = corners[j], corners[(j + 1) % 4]
            self.line(ax, ay, bx, by, colour)


# -- version 5: Schotter ----------------------------------------------------------------------

# A character cell is 2 x 4 pixels, shown as the Braille pattern with the matching dots.
_BRAILLE = [chr(0x2800 + dots).encode() for dots in range(256)]


def _schotter(cols: int, per_row: int, per_col: int, pace: Pacer) -> _Canvas:
    width = cols * 2
    padding = 2 if width > 4 else 0
    side = _f32((width - padding * 2) / per_row)
    canvas = _Canvas(width, int(_f32(_f32(side * per_col) + padding * 2)), 0)
    half = _f32(side / 2)
    for y in range(per_col):
        pace()
        for x in range(per_row):
            sx = int(_f32(_f32(_f32(x * side) + half) + padding))
            sy = int(_f32(_f32(_f32(y * side) + half) + padding))
            angle = 0.0
            if y > 1:  # from the third row down, ever more disorder
                r1, r2, r3 = (_f32(_c_rand() / _RAND_MAX / per_col * y) for _ in range(3))
                r1, r2, r3 = (-r if _c_rand() % 2 else r for r in (r1, r2, r3))
                angle = r1
                sx = int(_f32(sx + _f32(r2 * side / 3)))
                sy = int(_f32(sy + _f32(r3 * side / 3)))
            canvas.square(sx, sy, side, angle, 1)
    return canvas


def _braille(canvas: _Canvas, pace: Pacer) -> bytes:
    blank = bytearray(canvas.width)
    rows = canvas.rows + [blank, blank, blank]
    lines = []
    for y in range(0, canvas.height, 4):
        pace()
        r0, r1, r2, r3 = rows[y : y + 4]
        lines.append(b"".join(
            _BRAILLE[a | b << 1 | c << 2 | d << 3 | e << 4 | f << 5 | g << 6 | h << 7]
            for a, b, c, d, e, f, g, h in zip(
                r0[0::2], r1[0::2], r2[0::2], r0[1::2], r1[1::2], r2[1::2], r3[0::2], r3[1::2],
                strict=True)))
        if y != canvas.height - 1:
            lines.append(b"\n")
    return b"".join(lines)


def _version5(args: list[bytes], pace: Pacer) -> bytes:
    cols, per_row, per_col = 66, 8, 12
    if len(args) > 1:
        cols = to_int(args[1])
    if len(args) > 2:
        per_row = to_int(args[2])
    if len(args) > 3:
        per_col = to_int(args[3])
    canvas = _schotter(_clamp(cols, 1000), _clamp(per_row, 200), _clamp(per_col, 200), pace)
    return _braille(canvas, pace) + (
        b"\nGeorg Nees - schotter, plotter on paper, 1968. Redis ver. %s\n"
        % REDIS_VERSION.encode())


# -- version 6: a skyline ---------------------------------------------------------------------

# Black, two greys and white, each cell one space with both colours set.
_CELLS = [b"\033[%s \033[0m" % code for code in (b"0;30;40m", b"0;90;100m", b"0;37;47m",
                                                 b"0;97;107m")]


def _skyscraper(canvas: _Canvas, xoff: int, width: int, height: int, windows: bool,
                colour: int) -> None:
    bottom = canvas.height - 1
    top = bottom - height + 1
    for y in range(bottom, top - 1, -1):
        for x in range(xoff, xoff + width):
            if y == top and (x <= xoff + 1 or x >= xoff + width - 2):
                continue  # the roof is narrower
            pixel = colour
            if windows and xoff + 1 < x < xoff + width - 2 and top + 1 < y < bottom - 1:
                relx, rely = x - (xoff + 1), y - (top + 1)
                if relx // 2 % 2 and rely % 2:  # windows two pixels wide, one tall
                    pixel = colour
                    while pixel == colour:
                        pixel = 1 + _c_rand() % 2
                    if relx % 2:
                        pixel = canvas.get(x - 1, y)
            canvas.put(x, y, pixel)


def _skyline(canvas: _Canvas, pace: Pacer) -> None:
    h = canvas.height
    for colour in (2, 1):  # light grey behind darker grey, no windows
        offset = -10
        while offset < canvas.width:
            offset += _c_rand() % 8
            width = 10 + _c_rand() % 9
            divisor = 2 if colour == 2 else 3
            height = h // 2 + (_c_rand() % h) // divisor
            pace()
            _skyscraper(canvas, offset, width, height, False, colour)
            offset += width // 2 if colour == 2 else width + 1
    offset = -10
    while offset < canvas.width:  # black in front, with windows
        offset += _c_rand() % 8
        width = 5 + _c_rand() % 14
        if width % 4:
            width += width % 3
        height = h // 3 + (_c_rand() % h) // 2
        pace()
        _skyscraper(canvas, offset, width, height, True, 0)
        offset += width + 5


def _version6(args: list[bytes], pace: Pacer) -> bytes:
    cols, rows = 80, 20
    if len(args) > 1:
        cols = to_int(args[1])
    if len(args) > 2:
        rows = to_int(args[2])
    canvas = _Canvas(_clamp(cols, 1000), _clamp(rows, 1000), 3)
    _skyline(canvas, pace)
    art = b"\n".join(b"".join([_CELLS[pixel] for pixel in row]) for row in canvas.rows)
    return art + (
        b"\nDedicated to the 8 bit game developers of past and present.\n"
        b"Original 8 bit image from Plaguemon by hikikomori. Redis ver. %s\n"
        % REDIS_VERSION.encode())


def _plain(args: list[bytes], pace: Pacer) -> bytes:
    return b"Redis ver. %s\n" % REDIS_VERSION.encode()


def _artwork(version: str) -> Callable[[list[bytes], Pacer], bytes]:
    major, minor = version[:2], version[2:3]
    if (major == "5." and minor != "9") or version.startswith("4.9"):
        return _version5
    if (major == "6." and minor != "9") or version.startswith("5.9"):
        return _version6
    return _plain


@command("lolwut")
def lolwut(c: Context, argv: list[bytes]) -> bytes:
    version, args = REDIS_VERSION, argv
    if len(argv) >= 3 and argv[1].lower() == b"version":
        version = f"{to_int(argv[2]) & 0xFFFFFFFF}.0.0"
        args = argv[:1] + argv[3:]  # the artwork sees its own arguments only
    return c.resp.verbatim(_artwork(version)(args, Pacer(c)))
