"""Lua helpers shared by the four libraries: the C-function-like wrapper, C argument checking,
C integer-conversion emulation and IEEE-754 byte codecs.

In Redis these libraries are C functions, which shows in their errors: ``luaL_error`` prefixes
the caller's position ("user_script:1: ") and ``luaL_argerror`` names the function as the
caller spelt it ("bad argument #1 to 'encode'", or '?' under ``pcall(cjson.encode)``).  Each
library function here is a Lua wrapper that runs the implementation under ``pcall`` *without*
tail-calling it, so its own frame survives: it re-raises with ``error(msg, 2)`` (the caller's
position, or none when the caller is C, exactly like ``luaL_where(L, 1)``) and takes the name
from ``debug.getinfo``.  What plain Lua cannot reproduce: when a script *tail-calls* a library
function (``return cjson.encode(f)``), Lua 5.1 discards the script's frame -- a C callee would
not -- so the message then has no position prefix (Redis: "user_script:1: ...").  A
coroutine.wrap trampoline is a real C closure and would get that case right too, but an error
kills its coroutine for good (5.1's ``debug.setupvalue`` refuses C closures), so a function a
script kept in a local would stop working after its first error.

Other traces of being Lua rather than C: ``debug.getinfo(f).what`` is "Lua", ``string.dump``
and ``setfenv`` accept the functions, and arguments/results beyond Lua's C-stack limits are
handled per library (see cmsgpack and struct).

No Python object is ever reachable from scripts: everything here is plain Lua.
"""

from __future__ import annotations

from typing import Any, Final

LUA_SOURCE: Final[str] = r"""
local H = {}
local type, select, tostring, tonumber = type, select, tostring, tonumber
local error, pcall = error, pcall
local floor, frexp, ldexp, huge = math.floor, math.frexp, math.ldexp, math.huge
local char, byte, format = string.char, string.byte, string.format
local find, sub = string.find, string.sub

local getinfo = debug.getinfo
local ARGERROR = {}

-- the message luaL_argerror would build, seen from the library function's frame (level 2)
local function argmessage(err)
  local narg, extramsg, fname = err[2], err[3], err[4]
  local ar = getinfo(3, "n")
  local name = ar and ar.name
  if ar and ar.namewhat == "method" then
    narg = narg - 1
    if narg == 0 then return format("calling '%s' on bad self (%s)", name, extramsg) end
  end
  if name == nil then
    local caller = getinfo(4, "S")
    name = (caller and caller.what == "tail") and fname or "?"
  end
  return format("bad argument #%d to '%s' (%s)", narg, name, extramsg)
end

local function message(err)
  if type(err) == "table" and err[1] == ARGERROR then return argmessage(err) end
  return err
end

-- A library function returning one value: impl(...) runs under pcall in a frame of its own
function H.cfunction(impl)
  return function(...)
    local ok, r = pcall(impl, ...)
    if ok then return r end
    error(message(r), 2)
  end
end

local function pack(...) return { n = select("#", ...), ... } end
local unpack = unpack

-- t[i..j] as multiple values; unpack() alone stops short of the 7999 results a C function
-- may return (its own frame counts against the 8000-slot C stack limit)
local function spread(t, i, j)
  if j - i < 7900 then return unpack(t, i, j) end
  return t[i], t[i + 1], t[i + 2], t[i + 3], t[i + 4], t[i + 5], t[i + 6], t[i + 7], t[i + 8],
    t[i + 9], t[i + 10], t[i + 11], t[i + 12], t[i + 13], t[i + 14], t[i + 15],
    unpack(t, i + 16, j)
end
H.spread = spread

-- The same for a function returning any number of values
function H.cfunction_multi(impl)
  return function(...)
    local r = pack(pcall(impl, ...))
    if r[1] then return spread(r, 2, r.n) end
    error(message(r[2]), 2)
  end
end

function H.raise(msg) error(msg, 0) end

-- luaL_typename of argument i when n arguments were passed
local function typename(n, i, v)
  if i > n then return "no value" end
  return type(v)
end

local function argerror(fname, i, msg)
  error({ ARGERROR, i, msg, fname }, 0)
end
H.argerror = argerror

local function typeerror(fname, i, n, v, tname)
  argerror(fname, i, tname .. " expected, got " .. typename(n, i, v))
end
H.typeerror = typeerror

-- luaL_checknumber: numbers and numeric strings (lua_tonumber == tonumber for one argument)
local function checknumber(fname, i, n, v)
  local x = tonumber(v)
  if x == nil then typeerror(fname, i, n, v, "number") end
  return x
end
H.checknumber = checknumber

local TWO31, TWO32, TWO63, TWO64 = 2^31, 2^32, 2^63, 2^64

-- (ptrdiff_t)x as compiled for x86-64: truncation, out of range and NaN give INT64_MIN
local function tointeger(x)
  if x ~= x or x >= TWO63 or x < -TWO63 then return -TWO63 end
  if x >= 0 then return floor(x) end
  return -floor(-x)
end
H.tointeger = tointeger

-- luaL_checkinteger
function H.checkinteger(fname, i, n, v)
  return tointeger(checknumber(fname, i, n, v))
end

-- (int) of an integral lua_Integer value: keep the low 32 bits, signed
function H.toint32(x)
  local r = x % TWO32
  if r >= TWO31 then r = r - TWO32 end
  return r
end

-- (size_t)x as compiled for x86-64 (cvttsd2si, with the 2^63 split for large values);
-- nil stands for "a huge value" (negative or NaN inputs)
function H.tosize(x)
  if x ~= x then return nil end
  if x >= TWO64 then return 0 end
  if x >= 0 then return floor(x) end
  if x > -1 then return 0 end
  return nil
end

-- luaL_checklstring: strings, and numbers converted with "%.14g" (as lua_tolstring does)
function H.checklstring(fname, i, n, v)
  local t = type(v)
  if t == "string" then return v end
  if t == "number" then return tostring(v) end
  typeerror(fname, i, n, v, "string")
end

-- A C string view of s: up to its first NUL
function H.cstring(s)
  local z = find(s, "\0", 1, true)
  if z then return sub(s, 1, z - 1) end
  return s
end

-- Bitwise AND of two integers in [0, 2^32), nibble by nibble
local AND4 = {}
for a = 0, 15 do
  for b = 0, 15 do
    local r, bit, x, y = 0, 1, a, b
    for _ = 1, 4 do
      if x % 2 == 1 and y % 2 == 1 then r = r + bit end
      x, y, bit = floor(x / 2), floor(y / 2), bit * 2
    end
    AND4[a * 16 + b] = r
  end
end
local function band32(a, b)
  local r, s = 0, 1
  while a > 0 and b > 0 do
    local x, y = a % 16, b % 16
    r = r + AND4[x * 16 + y] * s
    a, b, s = (a - x) / 16, (b - y) / 16, s * 16
  end
  return r
end
H.band32 = band32

-- AND of non-negative integers below 2^53
function H.band(a, b)
  if a < TWO32 and b < TWO32 then return band32(a, b) end
  local ah, bh = floor(a / TWO32), floor(b / TWO32)
  return band32(ah, bh) * TWO32 + band32(a - ah * TWO32, b - bh * TWO32)
end

-- NaN values: the sign is the only part of a NaN that Lua code can observe (tostring)
local nan_a = 0 / 0
local nan_b = -nan_a
local NAN_POS, NAN_NEG = nan_a, nan_b
if tostring(nan_a):sub(1, 1) == "-" then NAN_POS, NAN_NEG = nan_b, nan_a end
H.NAN_POS, H.NAN_NEG = NAN_POS, NAN_NEG

local function signbit(d)
  if d ~= d then return tostring(d):sub(1, 1) == "-" end
  return d < 0 or (d == 0 and 1 / d < 0)
end

local function be32(x)  -- 4 big-endian bytes of an integer in [0, 2^32)
  local b3 = x % 256; x = (x - b3) / 256
  local b2 = x % 256; x = (x - b2) / 256
  local b1 = x % 256
  return char((x - b1) / 256, b1, b2, b3)
end
H.be32 = be32

-- 8 big-endian bytes of a double (a NaN keeps its sign, its payload becomes the quiet bit)
function H.double_bytes(d)
  local sign = signbit(d) and 128 or 0
  if d ~= d then return char(sign + 127, 248, 0, 0, 0, 0, 0, 0) end
  if sign > 0 then d = -d end
  if d == huge then return char(sign + 127, 240, 0, 0, 0, 0, 0, 0) end
  if d == 0 then return char(sign, 0, 0, 0, 0, 0, 0, 0) end
  local m, e = frexp(d)
  local mant
  if e < -1021 then
    e, mant = 0, ldexp(d, 1074)
  else
    e, mant = e + 1022, (m * 2 - 1) * 4503599627370496
  end
  local hi = floor(mant / TWO32)
  local lo = mant - hi * TWO32
  local hb = hi % 65536
  return char(sign + floor(e / 16), (e % 16) * 16 + (hi - hb) / 65536, floor(hb / 256), hb % 256)
    .. be32(lo)
end

-- (double)(float)d == d ?
function H.float_exact(d)
  if d ~= d then return false end
  if d == huge or d == -huge or d == 0 then return true end
  local m, e = frexp(d)
  if e > 128 then return false end
  if e >= -125 then return (m * 16777216) % 1 == 0 end
  if e < -148 then return false end
  return ldexp(d, 149) % 1 == 0
end

-- 4 big-endian bytes of (float)d: round to nearest even, overflow to infinity
function H.float_bytes(d)
  local sign = signbit(d) and 128 or 0
  if d ~= d then return char(sign + 127, 192, 0, 0) end
  if sign > 0 then d = -d end
  if d == huge then return char(sign + 127, 128, 0, 0) end
  local bits = 0
  if d ~= 0 then
    local m, e = frexp(d)
    local q
    if e >= -125 then q = m * 16777216 else q = ldexp(d, 149) end
    local r = floor(q)
    local frac = q - r
    if frac > 0.5 or (frac == 0.5 and r % 2 == 1) then r = r + 1 end
    if e >= -125 then
      if r == 16777216 then r, e = 8388608, e + 1 end
      if e > 128 then bits = 255 * 8388608 else bits = (e + 126) * 8388608 + (r - 8388608) end
    else
      bits = r   -- subnormal; r == 2^23 is the smallest normal, same bits
    end
  end
  return be32(sign * 16777216 + bits)
end

local function u32(s, p)
  local a, b, c, d = byte(s, p, p + 3)
  return ((a * 256 + b) * 256 + c) * 256 + d
end
H.u32 = u32

-- the double stored big-endian at s[p..p+7]
function H.bytes_double(s, p)
  local hi, lo = u32(s, p), u32(s, p + 4)
  local neg = hi >= TWO31
  if neg then hi = hi - TWO31 end
  local e = floor(hi / 1048576)
  local mant = (hi - e * 1048576) * TWO32 + lo
  local v
  if e == 2047 then
    if mant ~= 0 then return neg and NAN_NEG or NAN_POS end
    v = huge
  elseif e == 0 then
    v = ldexp(mant, -1074)
  else
    v = ldexp(mant + 4503599627370496, e - 1075)
  end
  if neg then return -v end
  return v
end

-- the float stored big-endian at s[p..p+3], as a double
function H.bytes_float(s, p)
  local bits = u32(s, p)
  local neg = bits >= TWO31
  if neg then bits = bits - TWO31 end
  local e = floor(bits / 8388608)
  local mant = bits - e * 8388608
  local v
  if e == 255 then
    if mant ~= 0 then return neg and NAN_NEG or NAN_POS end
    v = huge
  elseif e == 0 then
    v = ldexp(mant, -149)
  else
    v = ldexp(mant + 8388608, e - 150)
  end
  if neg then return -v end
  return v
end

-- cjson.null: Redis uses a NULL light userdata, which plain Lua cannot make; a userdata
-- that prints the same stands in for it
local null = newproxy(true)
local null_mt = getmetatable(null)
null_mt.__tostring = function() return "userdata: (nil)" end
null_mt.__metatable = false
H.null = null

return H
"""


def load(lua: Any) -> Any:
    """Run the support chunk in `lua`; returns the helper table the libraries take."""
    return lua.execute(LUA_SOURCE, name="=valkdb.scripting.libs._support")
