"""INCRBYFLOAT's arithmetic: Redis uses C `long double`, the x87 80-bit format on x86-64.

A Python float (a C double) gives different answers: `SET k 9223372036854775807` then
`INCRBYFLOAT k 0` returns ...807 in Redis (64-bit significand) and ...808 with a double, and
`INCRBYFLOAT k 1e400` works in Redis. So values are exact Fractions rounded to the 80-bit format
(64-bit significand, round half to even), parsed as strtold does (decimal, hex, inf) and printed
as Redis's ld2string does ("%.17Lf", trailing zeros dropped).
"""

from __future__ import annotations

import re
from decimal import Decimal
from fractions import Fraction

_SIGNIFICAND_BITS = 64
_MIN_EXPONENT = -16382  # of a normal number; below it the format is subnormal
_MAX_EXPONENT = 16383
_QUANTUM_EXPONENT = _MIN_EXPONENT - _SIGNIFICAND_BITS + 1  # the smallest subnormal is 2**this
_MAX_CHARS = 5 * 1024  # Redis's MAX_LONG_DOUBLE_CHARS

_DECIMAL = re.compile(rb"([+-]?)(\d*)(?:\.(\d*))?(?:[eE]([+-]?\d+))?")
_HEX = re.compile(rb"([+-]?)0[xX]([0-9a-fA-F]*)(?:\.([0-9a-fA-F]*))?(?:[pP]([+-]?\d+))?")
_INFINITY = re.compile(rb"[+-]?(?:inf|infinity)", re.IGNORECASE)


class Infinite(Exception):
    """The value is (or would become) an infinity: callers reply with their own error."""


def _round(value: Fraction) -> Fraction:
    """value rounded to the nearest 80-bit long double; Infinite on overflow."""
    if value == 0:
        return value
    magnitude = abs(value)
    exponent = magnitude.numerator.bit_length() - magnitude.denominator.bit_length()
    if Fraction(2) ** exponent > magnitude:
        exponent -= 1
    quantum_exponent = max(exponent - _SIGNIFICAND_BITS + 1, _QUANTUM_EXPONENT)
    quantum = Fraction(2) ** quantum_exponent
    steps = round(magnitude / quantum)  # Python rounds half to even, as the FPU does
    rounded = steps * quantum
    if rounded >= Fraction(2) ** (_MAX_EXPONENT + 1):
        raise Infinite
    return rounded if value > 0 else -rounded


def parse(arg: bytes) -> Fraction | None:
    """Redis's string2ld: the long double written in arg, or None if it is not one.

    Raises Infinite for "inf"-like input, which Redis accepts as a value (it is not NaN).
    """
    if not arg or len(arg) >= _MAX_CHARS:
        return None
    if _INFINITY.fullmatch(arg):
        raise Infinite
    hex_match = _HEX.fullmatch(arg)
    match = hex_match or _DECIMAL.fullmatch(arg)
    if match is None:
        return None
    sign, whole, fraction, exponent_text = match.groups()
    fraction = fraction or b""
    if not whole and not fraction:
        return None
    base = 16 if hex_match else 10
    digits = whole + fraction
    mantissa = int(digits, base) if digits else 0
    exponent = int(exponent_text or b"0")
    if mantissa == 0:
        return Fraction(0)
    # the scale of one unit of the last digit, as a power of 2 (hex) or of 10 (decimal)
    if hex_match:
        scale_exponent, radix = exponent - 4 * len(fraction), 2
        size = (mantissa.bit_length() + scale_exponent) * 0.30103
    else:
        scale_exponent, radix = exponent - len(fraction), 10
        size = len(digits.lstrip(b"0")) + scale_exponent
    if size > 4940:  # beyond LDBL_MAX: strtold reports ERANGE, Redis rejects it
        return None
    if size < -4960:  # below the smallest subnormal: ERANGE with 0, rejected too
        return None
    try:
        value = _round(mantissa * Fraction(radix) ** scale_exponent)
    except Infinite:  # overflow is ERANGE for strtold, not an infinity Redis would accept
        return None
    if value == 0:
        return None
    return -value if sign == b"-" else value


def add(a: Fraction, b: Fraction) -> Fraction:
    """a + b in long double; Infinite when it overflows."""
    return _round(a + b)


def format_human(value: Fraction) -> bytes:
    """ld2string(LD_STR_HUMAN): "%.17Lf", trailing zeros and point dropped, "-0" made "0"."""
    scaled = round(abs(value) * 10**17)
    whole, fraction = divmod(scaled, 10**17)
    # via Decimal: "%d" refuses ints of more than 4300 digits (LDBL_MAX has 4933)
    text = b"%s.%017d" % (format(Decimal(whole), "f").encode(), fraction)
    text = text.rstrip(b"0").rstrip(b".")
    if value < 0 and text != b"0":
        text = b"-" + text
    return text
