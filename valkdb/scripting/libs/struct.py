"""``struct``: Roberto Ierusalimschy's struct library as Redis 7.0 ships it (lua_struct.c).

Pure Lua, run inside the runtime: formats are short strings parsed character by character and
the values are Lua numbers and strings, so there is nothing for Python to speed up, and every
C-level conversion is reproduced with exact double arithmetic as x86-64 compiles it: integers
pack through ``(unsigned long)(long)n`` (truncation; out-of-range and NaN give
0x8000000000000000, values >= 2^64 give 0), only the low 8 bytes of wider integers carry data,
signed unpacking of 9..32-byte integers uses the same masked shift count as the C code,
``f`` rounds to float (nearest even, overflow to infinity), native byte order is little endian,
``!`` defaults to 8, ``i`` is 4 bytes and ``l``/``L``/``T`` are 8.  Error messages, argument
numbers (including the off-by-one of "string too short") and the C-string reading of the format
(it ends at a NUL) are Redis's.  NaN payload bits are not kept (sign only).
"""

from __future__ import annotations

from typing import Any, Final

LUA_SOURCE: Final[str] = r"""
local H = ...
local cfunction, cfunction_multi, raise, argerror = H.cfunction, H.cfunction_multi, H.raise,
  H.argerror
local checknumber, checkinteger, checklstring = H.checknumber, H.checkinteger, H.checklstring
local tointeger, tosize, cstring, band = H.tointeger, H.tosize, H.cstring, H.band
local double_bytes, float_bytes, bytes_double, bytes_float = H.double_bytes, H.float_bytes,
  H.bytes_double, H.bytes_float
local be32, spread = H.be32, H.spread
local select, tonumber = select, tonumber
local floor = math.floor
local byte, sub, rep, reverse, format, match, find = string.byte, string.sub, string.rep,
  string.reverse, string.format, string.match, string.find
local concat = table.concat
local TWO32, TWO63, TWO64, MAXCSTACK = 2^32, 2^63, 2^64, 8000
local MAXINTSIZE, MAXALIGN = 32, 8

local INTEGER = { b = true, B = true, h = true, H = true, l = true, L = true, T = true, i = true,
  I = true }
local SIGNED = { b = true, h = true, l = true, i = true }
local FIXED = { b = 1, B = 1, h = 2, H = 2, l = 8, L = 8, T = 8, f = 4, d = 8, x = 1 }

local function getnum(fmt, i, default)
  local digits = match(fmt, "^%d+", i)
  if not digits then return default, i end
  local a = 0
  for j = 1, #digits do
    local d = byte(digits, j) - 48
    if a > 214748364 or a * 10 > 2147483647 - d then raise("integral size overflow") end
    a = a * 10 + d
  end
  return a, i + #digits
end

local function optsize(opt, fmt, i)
  local size = FIXED[opt]
  if size then return size, i end
  if opt == "c" then return getnum(fmt, i, 1) end
  if opt == "i" or opt == "I" then
    size, i = getnum(fmt, i, 4)
    if size > MAXINTSIZE then
      raise(format("integral size %d is larger than limit of %d", size, MAXINTSIZE))
    end
    return size, i
  end
  return 0, i
end

local function gettoalign(len, align, opt, size)
  if size == 0 or opt == "c" then return 0 end
  if size > align then size = align end
  return band(size - band(len, size - 1), size - 1)
end

-- controloptions(); returns the new (little, align)
local function control(fname, opt, fmt, i, little, align)
  if opt == " " then return little, align, i end
  if opt == ">" then return false, align, i end
  if opt == "<" then return true, align, i end
  if opt == "!" then
    local a
    a, i = getnum(fmt, i, MAXALIGN)
    if a <= 0 or band(a, a - 1) ~= 0 then raise(format("alignment %d is not a power of 2", a)) end
    return little, a, i
  end
  argerror(fname, 1, format("invalid format option '%s'", opt))
end

-- the 64-bit pattern of (Uinttype) conversions of n, as (hi, lo) unsigned 32-bit halves
local function integer_bits(n)
  local t
  if n < 0 then
    t = tointeger(n)
    if t == 0 then return 0, 0 end
  elseif n ~= n then
    return 2147483648, 0
  elseif n < TWO64 then
    t = floor(n)
  else
    return 0, 0
  end
  local hi = floor(t / TWO32)
  local lo = t - hi * TWO32
  if hi < 0 then hi = hi + TWO32 end
  return hi, lo
end

local function little_endian(s, little)  -- bytes of a big-endian field in the wanted order
  if little then return reverse(s) end
  return s
end

local function pack(...)
  local n = select("#", ...)
  local args = { ... }
  local fmt = cstring(checklstring("pack", 1, n, args[1]))
  n = n + 1   -- b_pack pushes a nil mark here: a missing argument reads as "got nil"
  local little, align = true, 1
  local arg, total = 2, 0
  local buf, nb = {}, 0
  local i, flen = 1, #fmt
  while i <= flen do
    local opt = sub(fmt, i, i)
    local size
    size, i = optsize(opt, fmt, i + 1)
    local toalign = gettoalign(total, align, opt, size)
    total = total + toalign
    if toalign > 0 then nb = nb + 1; buf[nb] = rep("\0", toalign) end
    if INTEGER[opt] then
      local hi, lo = integer_bits(checknumber("pack", arg, n, args[arg]))
      arg = arg + 1
      local field = be32(hi) .. be32(lo)
      if size <= 8 then field = sub(field, 9 - size) else field = rep("\0", size - 8) .. field end
      nb = nb + 1; buf[nb] = little_endian(field, little)
    elseif opt == "x" then
      nb = nb + 1; buf[nb] = "\0"
    elseif opt == "f" or opt == "d" then
      local x = checknumber("pack", arg, n, args[arg])
      arg = arg + 1
      nb = nb + 1
      buf[nb] = little_endian(opt == "f" and float_bytes(x) or double_bytes(x), little)
    elseif opt == "c" or opt == "s" then
      local s = checklstring("pack", arg, n, args[arg])
      arg = arg + 1
      local l = #s
      if size == 0 then size = l end
      if l < size then argerror("pack", arg, "string too short") end
      nb = nb + 1; buf[nb] = sub(s, 1, size)
      if opt == "s" then
        nb = nb + 1; buf[nb] = "\0"
        size = size + 1
      end
    else
      little, align, i = control("pack", opt, fmt, i, little, align)
    end
    total = total + size
  end
  return concat(buf, "", 1, nb)
end

local function getinteger(s, little, signed, size)
  if not little then s = reverse(s) end
  s = s .. "\0\0\0\0\0\0\0\0"
  local b0, b1, b2, b3, b4, b5, b6, b7 = byte(s, 1, 8)
  local lo = ((b3 * 256 + b2) * 256 + b1) * 256 + b0
  local hi = ((b7 * 256 + b6) * 256 + b5) * 256 + b4
  if signed then
    local bit = (size * 8 - 1) % 64   -- the C shift count, masked as x86-64 does
    if bit >= 32 then
      local m = 2 ^ (bit - 32)
      if hi >= m then hi = hi % m - m end
    elseif hi > 0 or lo >= 2 ^ bit then
      local m = 2 ^ bit
      return lo % m - m
    end
  end
  return hi * TWO32 + lo
end

local function unpack_(...)
  local n = select("#", ...)
  local fmt, data, pos = ...
  fmt = cstring(checklstring("unpack", 1, n, fmt))
  data = checklstring("unpack", 2, n, data)
  local ld = #data
  if pos == nil then pos = 1 else pos = checkinteger("unpack", 3, n, pos) end
  if pos == 0 then argerror("unpack", 3, "offset must be 1 or greater") end
  pos = pos - 1   -- a negative pos stands for a huge size_t
  local little, align = true, 1
  local res, nres = {}, 0
  local i, flen = 1, #fmt
  while i <= flen do
    local opt = sub(fmt, i, i)
    local size
    size, i = optsize(opt, fmt, i + 1)
    if pos >= 0 then pos = pos + gettoalign(pos, align, opt, size) end
    if pos < 0 or size > ld or pos > ld - size then
      argerror("unpack", 2, "data string too short")
    end
    if n + nres + 2 > MAXCSTACK then raise("stack overflow (too many results)") end
    if INTEGER[opt] then
      nres = nres + 1
      res[nres] = getinteger(sub(data, pos + 1, pos + size), little, SIGNED[opt], size)
    elseif opt == "f" or opt == "d" then
      local field = little_endian(sub(data, pos + 1, pos + size), little)
      nres = nres + 1
      res[nres] = opt == "f" and bytes_float(field, 1) or bytes_double(field, 1)
    elseif opt == "c" then
      if size == 0 then
        local prev = nres > 0 and tonumber(res[nres])
        if not prev then raise("format 'c0' needs a previous size") end
        size = tosize(prev)
        nres = nres - 1
        if not size or size > ld or pos > ld - size then
          argerror("unpack", 2, "data string too short")
        end
      end
      nres = nres + 1; res[nres] = sub(data, pos + 1, pos + size)
    elseif opt == "s" then
      local e = find(data, "\0", pos + 1, true)
      if not e then raise("unfinished string in data") end
      size = e - pos
      nres = nres + 1; res[nres] = sub(data, pos + 1, e - 1)
    elseif opt ~= "x" then
      little, align, i = control("unpack", opt, fmt, i, little, align)
    end
    pos = pos + size
  end
  res[nres + 1] = pos + 1
  return spread(res, 1, nres + 1)
end

local function size_(...)
  local n = select("#", ...)
  local fmt = cstring(checklstring("size", 1, n, (...)))
  local align, pos = 1, 0
  local i, flen = 1, #fmt
  while i <= flen do
    local opt = sub(fmt, i, i)
    local size
    size, i = optsize(opt, fmt, i + 1)
    pos = pos + gettoalign(pos, align, opt, size)
    if opt == "s" then
      argerror("size", 1, "option 's' has no fixed size")
    elseif opt == "c" and size == 0 then
      argerror("size", 1, "option 'c0' has no fixed size")
    end
    if not match(opt, "%w") then
      local _
      _, align, i = control("size", opt, fmt, i, true, align)
    end
    pos = pos + size
  end
  return pos
end

return {
  pack = cfunction(pack),
  unpack = cfunction_multi(unpack_),
  size = cfunction(size_),
}
"""


def load(lua: Any, support: Any) -> Any:
    """Create the struct module table in `lua` (not yet bound to a global)."""
    return lua.execute(LUA_SOURCE, support, name="=valkdb.scripting.libs.struct")
