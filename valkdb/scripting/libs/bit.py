"""``bit``: LuaBitOp 1.0.2 as Redis 7.0 ships it (lua_bit.c).

Pure Lua, run inside the runtime.  Each operation is a handful of exact double-arithmetic steps
(~1 us), about what a single Lua-to-Python crossing through lupa costs before any work is done,
and a Python error could only surface as a userdata, not as Redis's error string.

Argument conversion reproduces LuaBitOp's trick bit for bit: the number plus 2^52+2^51, then the
low 32 bits of that double's representation -- so fractions round to nearest even, values wrap
modulo 2^32, and beyond 2^52 the same precision artefacts appear as in Redis (the low mantissa
bits are read with ``math.frexp``).  Results are signed 32-bit numbers.  Only NaN payload bits
cannot be read from Lua; every NaN converts to 0, as the NaNs Lua arithmetic produces do.
"""

from __future__ import annotations

from typing import Any, Final

LUA_SOURCE: Final[str] = r"""
local H = ...
local cfunction, typeerror, band32 = H.cfunction, H.typeerror, H.band32
local tonumber, select, floor, frexp, huge = tonumber, select, math.floor, math.frexp, math.huge
local format, sub = string.format, string.sub
local TWO31, TWO32, TWO52, TWO53, MAGIC = 2^31, 2^32, 2^52, 2^53, 6755399441055744

-- barg(): the argument as an unsigned 32-bit value
local function barg(fname, i, n, v)
  local x = tonumber(v)
  if x == nil then typeerror(fname, i, n, v, "number") end
  local y = x + MAGIC
  if y >= TWO52 and y < TWO53 then return y % TWO32 end
  if y ~= y or y == huge or y == -huge then return 0 end
  local m = frexp(y)
  if m < 0 then m = -m end
  return (m * TWO53) % TWO32
end

local function ret(b)
  if b >= TWO31 then return b - TWO32 end
  return b
end

local function bor32(a, b) return a + b - band32(a, b) end
local function bxor32(a, b) return a + b - 2 * band32(a, b) end

local function fold(fname, op)
  return function(...)
    local n = select("#", ...)
    local b = barg(fname, 1, n, (...))
    if n == 2 then
      return ret(op(b, barg(fname, 2, n, (select(2, ...)))))
    end
    if n > 2 then
      local args = { ... }
      for i = n, 2, -1 do b = op(b, barg(fname, i, n, args[i])) end
    end
    return ret(b)
  end
end

local function shift(fname, op)
  return function(...)
    local n = select("#", ...)
    local a, s = ...
    local b = barg(fname, 1, n, a)
    return ret(op(b, barg(fname, 2, n, s) % 32))
  end
end

local function tobit(...)
  return ret(barg("tobit", 1, select("#", ...), (...)))
end

local function bnot(...)
  return ret(4294967295 - barg("bnot", 1, select("#", ...), (...)))
end

local function bswap(...)
  local b = barg("bswap", 1, select("#", ...), (...))
  local b0 = b % 256; b = (b - b0) / 256
  local b1 = b % 256; b = (b - b1) / 256
  local b2 = b % 256
  return ret(((b0 * 256 + b1) * 256 + b2) * 256 + (b - b2) / 256)
end

local function tohex(...)
  local n = select("#", ...)
  local a, d = ...
  local b = barg("tohex", 1, n, a)
  local digits, fmt = 8, "%08x"
  if n >= 2 then
    digits = ret(barg("tohex", 2, n, d))
    if digits < 0 then
      fmt = "%08X"
      digits = -digits
    end
    if digits > 8 then digits = 8 end
  end
  return sub(format(fmt, b), 9 - digits)
end

return {
  tobit = cfunction(tobit),
  bnot = cfunction(bnot),
  band = cfunction(fold("band", band32)),
  bor = cfunction(fold("bor", bor32)),
  bxor = cfunction(fold("bxor", bxor32)),
  lshift = cfunction(shift("lshift", function(b, s) return (b * 2 ^ s) % TWO32 end)),
  rshift = cfunction(shift("rshift", function(b, s) return floor(b / 2 ^ s) end)),
  arshift = cfunction(shift("arshift", function(b, s)
    if b >= TWO31 then return floor((b - TWO32) / 2 ^ s) % TWO32 end
    return floor(b / 2 ^ s)
  end)),
  rol = cfunction(shift("rol", function(b, s)
    if s == 0 then return b end
    return (b * 2 ^ s) % TWO32 + floor(b / 2 ^ (32 - s))
  end)),
  ror = cfunction(shift("ror", function(b, s)
    if s == 0 then return b end
    return floor(b / 2 ^ s) + (b * 2 ^ (32 - s)) % TWO32
  end)),
  bswap = cfunction(bswap),
  tohex = cfunction(tohex),
}
"""


def load(lua: Any, support: Any) -> Any:
    """Create the bit module table in `lua` (not yet bound to a global)."""
    return lua.execute(LUA_SOURCE, support, name="=valkdb.scripting.libs.bit")
