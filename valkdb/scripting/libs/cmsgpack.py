"""``cmsgpack``: lua-cmsgpack 0.4.0 as Redis 7.0 ships it (lua_cmsgpack.c).

Pure Lua, run inside the runtime.  Packing walks Lua tables (``next`` order is ``lua_next``
order, so maps come out byte-identical) and unpacking builds them; from Python each element
would be a lupa crossing.  Numbers are converted exactly: integer bytes from doubles with
exact arithmetic, IEEE-754 floats and doubles through ``math.frexp``/``math.ldexp``, and the C
conversions Redis relies on are reproduced as x86-64 compiles them (the float-or-double choice
``(double)(float)d == d``; uint64 values above 2^63-1 coming back negative through
``lua_pushinteger``; int64 via ``lua_pushnumber``).  Tables nested deeper than 16 pack as nil,
as in Redis.  The Lua C stack limits of the C code (at most 4000 arguments to pack, 7999
values from unpack) are emulated, with Redis's messages.

Not reproducible in plain Lua: NaN payload bits (a packed NaN keeps its sign and becomes the
quiet NaN, which is what ``0/0`` and ``tonumber("nan")`` produce anyway); and a map with a nil
or NaN key fails with "table index is nil/NaN" prefixed by the caller's position, where Redis's
C ``lua_settable`` error carries none.
"""

from __future__ import annotations

from typing import Any, Final

LUA_SOURCE: Final[str] = r"""
local H = ...
local cfunction, cfunction_multi, raise, argerror = H.cfunction, H.cfunction_multi, H.raise,
  H.argerror
local checklstring, checkinteger, toint32 = H.checklstring, H.checkinteger, H.toint32
local double_bytes, float_bytes, float_exact = H.double_bytes, H.float_bytes, H.float_exact
local bytes_double, bytes_float, be32, u32 = H.bytes_double, H.bytes_float, H.be32, H.u32
local spread = H.spread
local type, next, select = type, next, select
local floor, huge = math.floor, math.huge
local char, byte, sub, format = string.char, string.byte, string.sub, string.format
local concat = table.concat
local TWO31, TWO32, TWO63 = 2^31, 2^32, 2^63
local MAXCSTACK, MAX_NESTING = 8000, 16

local function int64_bytes(n)  -- two's complement, big-endian, of an integral n in [-2^63, 2^63)
  local hi = floor(n / TWO32)
  local lo = n - hi * TWO32
  if hi < 0 then hi = hi + TWO32 end
  return be32(hi) .. be32(lo)
end

local function encode_int(n)
  if n >= 0 then
    if n <= 127 then return char(n) end
    if n <= 0xff then return char(0xcc, n) end
    if n <= 0xffff then return char(0xcd, floor(n / 256), n % 256) end
    if n <= 0xffffffff then return "\206" .. be32(n) end
    return "\207" .. int64_bytes(n)
  end
  if n >= -32 then return char(n + 256) end
  if n >= -128 then return char(0xd0, n + 256) end
  if n >= -32768 then
    n = n + 65536
    return char(0xd1, floor(n / 256), n % 256)
  end
  if n >= -2147483648 then return "\210" .. be32(n + TWO32) end
  return "\211" .. int64_bytes(n)
end

local function encode_number(n)
  -- IS_INT64_EQUIVALENT: !isinf(n) && (int64_t)n == n
  if n == n and n >= -TWO63 and n < TWO63 and n % 1 == 0 then return encode_int(n) end
  if float_exact(n) then return "\202" .. float_bytes(n) end
  return "\203" .. double_bytes(n)
end

local function length_header(n, fix, op16, op32)
  if n <= 15 then return char(fix + n) end
  if n <= 65535 then return char(op16, floor(n / 256), n % 256) end
  return char(op32) .. be32(n % TWO32)
end

-- table_is_an_array(): only keys 1..N, N being the number of keys (an empty table is one)
local function is_array(t)
  local count, max = 0, 0
  for k in next, t do
    if type(k) ~= "number" or k <= 0 or k >= TWO31 or k % 1 ~= 0 then return false end
    if k > max then max = k end
    count = count + 1
  end
  return max == count
end

local function encode(v, level, buf, nb)
  local tv = type(v)
  if tv == "table" and level == MAX_NESTING then tv = "nil" end
  nb = nb + 1
  if tv == "string" then
    local l = #v
    if l < 32 then buf[nb] = char(0xa0 + l)
    elseif l <= 0xff then buf[nb] = char(0xd9, l)
    elseif l <= 0xffff then buf[nb] = char(0xda, floor(l / 256), l % 256)
    else buf[nb] = "\219" .. be32(l % TWO32) end
    nb = nb + 1; buf[nb] = v
  elseif tv == "number" then
    buf[nb] = encode_number(v)
  elseif tv == "boolean" then
    buf[nb] = v and "\195" or "\194"
  elseif tv == "table" then
    if is_array(v) then
      local len = #v
      buf[nb] = length_header(len, 0x90, 0xdc, 0xdd)
      for j = 1, len do nb = encode(v[j], level + 1, buf, nb) end
    else
      local len = 0
      for _ in next, v do len = len + 1 end
      buf[nb] = length_header(len, 0x80, 0xde, 0xdf)
      for k, val in next, v do
        nb = encode(k, level + 1, buf, nb)
        nb = encode(val, level + 1, buf, nb)
      end
    end
  else
    buf[nb] = "\192"
  end
  return nb
end

local function pack(...)
  local n = select("#", ...)
  if n == 0 then argerror("pack", 0, "MessagePack pack needs input.") end
  if n + n > MAXCSTACK then argerror("pack", 0, "Too many arguments for MessagePack pack.") end
  local buf, nb = {}, 0
  if n == 1 then
    nb = encode((...), 0, buf, nb)
  else
    local args = { ... }
    for i = 1, n do nb = encode(args[i], 0, buf, nb) end
  end
  return concat(buf, "", 1, nb)
end

-- ===== decoding =====
local EOF, BADFMT = "Missing bytes in input.", "Bad data format in input."
local TOO_MANY = "stack overflow (too many return values at once; use unpack_one or " ..
  "unpack_limit instead.)"

local decode

local function need(p, len, n)
  if len - p + 1 < n then raise(EOF) end
end

local function decode_array(s, p, len, sp, count)
  local t = {}
  if sp + 2 > MAXCSTACK then raise("stack overflow (in function mp_decode_to_lua_array)") end
  for i = 1, count do
    local v
    v, p = decode(s, p, len, sp + 2)
    t[i] = v
  end
  return t, p
end

local function decode_map(s, p, len, sp, count)
  local t = {}
  for _ = 1, count do
    local k, v
    k, p = decode(s, p, len, sp + 1)
    v, p = decode(s, p, len, sp + 2)
    if k == nil then raise("table index is nil") end
    if k ~= k then raise("table index is NaN") end
    t[k] = v
  end
  return t, p
end

local function signed64(hi, lo)
  if hi >= TWO31 then hi = hi - TWO32 end
  return hi * TWO32 + lo
end

-- one value at s[p], sp Lua stack slots already in use; returns the value and the next index
decode = function(s, p, len, sp)
  need(p, len, 1)
  if sp + 1 > MAXCSTACK then raise(TOO_MANY) end
  local c = byte(s, p)
  if c < 0x80 then return c, p + 1 end
  if c >= 0xe0 then return c - 256, p + 1 end
  if c < 0x90 then return decode_map(s, p + 1, len, sp, c - 0x80) end
  if c < 0xa0 then return decode_array(s, p + 1, len, sp, c - 0x90) end
  if c < 0xc0 then
    local l = c - 0xa0
    need(p, len, 1 + l)
    return sub(s, p + 1, p + l), p + 1 + l
  end
  if c == 0xc0 then return nil, p + 1 end
  if c == 0xc2 then return false, p + 1 end
  if c == 0xc3 then return true, p + 1 end
  if c == 0xcc then need(p, len, 2); return byte(s, p + 1), p + 2 end
  if c == 0xd0 then
    need(p, len, 2)
    local b = byte(s, p + 1)
    return b >= 128 and b - 256 or b, p + 2
  end
  if c == 0xcd or c == 0xd1 then
    need(p, len, 3)
    local a, b = byte(s, p + 1, p + 2)
    local v = a * 256 + b
    if c == 0xd1 and v >= 32768 then v = v - 65536 end
    return v, p + 3
  end
  if c == 0xce or c == 0xd2 then
    need(p, len, 5)
    local v = u32(s, p + 1)
    if c == 0xd2 and v >= TWO31 then v = v - TWO32 end
    return v, p + 5
  end
  if c == 0xcf or c == 0xd3 then
    need(p, len, 9)
    return signed64(u32(s, p + 1), u32(s, p + 5)), p + 9
  end
  if c == 0xca then need(p, len, 5); return bytes_float(s, p + 1), p + 5 end
  if c == 0xcb then need(p, len, 9); return bytes_double(s, p + 1), p + 9 end
  if c == 0xd9 then
    need(p, len, 2)
    local l = byte(s, p + 1)
    need(p, len, 2 + l)
    return sub(s, p + 2, p + 1 + l), p + 2 + l
  end
  if c == 0xda then
    need(p, len, 3)
    local a, b = byte(s, p + 1, p + 2)
    local l = a * 256 + b
    need(p, len, 3 + l)
    return sub(s, p + 3, p + 2 + l), p + 3 + l
  end
  if c == 0xdb then
    need(p, len, 5)
    local l = u32(s, p + 1)
    p = p + 5
    need(p, len, l)
    return sub(s, p, p + l - 1), p + l
  end
  if c == 0xdc or c == 0xde then
    need(p, len, 3)
    local a, b = byte(s, p + 1, p + 2)
    local f = c == 0xdc and decode_array or decode_map
    return f(s, p + 3, len, sp, a * 256 + b)
  end
  if c == 0xdd or c == 0xdf then
    need(p, len, 5)
    local f = c == 0xdd and decode_array or decode_map
    return f(s, p + 5, len, sp, u32(s, p + 1))
  end
  raise(BADFMT)
end

local function unpack_full(s, limit, offset)
  local len = #s
  local decode_all = limit == 0 and offset == 0
  if offset < 0 or limit < 0 then
    raise(format("Invalid request to unpack with offset of %d and limit of %d.",
      toint32(offset), toint32(len)))
  elseif offset > len then
    raise(format("Start offset %d greater than input length %d.", toint32(offset), toint32(len)))
  end
  local results, cnt, p = {}, 0, offset + 1
  local extra = decode_all and 0 or 1
  while p <= len and (decode_all or cnt < limit) do
    local v
    v, p = decode(s, p, len, 1 + cnt)
    cnt = cnt + 1
    results[cnt + extra] = v
  end
  if decode_all then return spread(results, 1, cnt) end
  if cnt + 2 > MAXCSTACK then raise("stack overflow (in function mp_unpack_full)") end
  results[1] = p > len and -1 or p - 1
  return spread(results, 1, cnt + 1)
end

local function unpack_all(...)
  local n = select("#", ...)
  return unpack_full(checklstring("unpack", 1, n, (...)), 0, 0)
end

local function unpack_one(...)
  local n = select("#", ...)
  local s, offset = ...
  if offset == nil then offset = 0 else offset = checkinteger("unpack_one", 2, n, offset) end
  return unpack_full(checklstring("unpack_one", 1, n, s), 1, offset)
end

local function unpack_limit(...)
  local n = select("#", ...)
  local s, limit, offset = ...
  limit = checkinteger("unpack_limit", 2, n, limit)
  if offset == nil then offset = 0 else offset = checkinteger("unpack_limit", 3, n, offset) end
  return unpack_full(checklstring("unpack_limit", 1, n, s), limit, offset)
end

return {
  pack = cfunction(pack),
  unpack = cfunction_multi(unpack_all),
  unpack_one = cfunction_multi(unpack_one),
  unpack_limit = cfunction_multi(unpack_limit),
  _NAME = "cmsgpack",
  _VERSION = "lua-cmsgpack 0.4.0",
  _COPYRIGHT = "Copyright (C) 2012, Salvatore Sanfilippo",
  _DESCRIPTION = "MessagePack C implementation for Lua",
}
"""


def load(lua: Any, support: Any) -> Any:
    """Create the cmsgpack module table in `lua` (not yet bound to a global)."""
    return lua.execute(LUA_SOURCE, support, name="=valkdb.scripting.libs.cmsgpack")
