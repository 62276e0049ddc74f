"""``cjson``: Lua CJSON 2.1.0 as Redis 7.0 builds it (lua_cjson.c, strbuf, fpconv).

Pure Lua, run inside the runtime.  Why not Python: a Lua table can only be walked or built from
Python one lupa crossing per element (~0.5 us each), and Python's ``json`` differs from cjson in
every corner that matters here (number syntax through ``strtod``, ``%.14g`` output, NUL
handling, error positions).  Lua gives the exact primitives for free: ``string.format("%.14g")``
is the same ``snprintf`` cjson calls, ``tonumber`` is the same ``strtod`` (so hex, inf, nan and
huge numbers decode bit-for-bit alike), and ``next`` walks a table in the same order as
``lua_next``, so objects come out with Redis's key order.  Encoding a 100-element table costs
50-100 us, decoding it 60-180 us (Redis's C: 15-20 us and 6-9 us).

Faithful details: defaults (sparse convert off, ratio 2, safe 10, max depths 1000, invalid
numbers: encode off / decode on, keep buffer on, precision 14); ``/`` escaped as ``\\/``; DEL
as ``\\u007f``; sparse-array rules including the C ``int`` overflow of huge keys; error texts
and character positions; the C-string view of the input (decoding stops at a NUL); the Lua C
stack limit that caps nesting when the depth settings are raised.  ``cjson.null`` is a
userdata printing as ``userdata: (nil)`` instead of a NULL light userdata (Lua cannot create
one).
"""

from __future__ import annotations

from typing import Any, Final

LUA_SOURCE: Final[str] = r"""
local H = ...
local cfunction, cfunction_multi, raise, argerror = H.cfunction, H.cfunction_multi, H.raise,
  H.argerror
local checklstring, checkinteger = H.checklstring, H.checkinteger
local toint32, cstring = H.toint32, H.cstring
local null = H.null
local type, next, rawget, rawset = type, next, rawget, rawset
local tonumber, select, rawequal = tonumber, select, rawequal
local floor, huge = math.floor, math.huge
local format, find, sub, byte, char, gsub, match, lower = string.format, string.find, string.sub,
  string.byte, string.char, string.gsub, string.match, string.lower
local concat = table.concat
local INT_MIN, INT_MAX, MAXCSTACK = -2147483648, 2147483647, 8000

local ESC = {}
for i = 0, 31 do ESC[char(i)] = format("\\u%04x", i) end
ESC["\b"], ESC["\t"], ESC["\n"], ESC["\f"], ESC["\r"] = "\\b", "\\t", "\\n", "\\f", "\\r"
ESC['"'], ESC["/"], ESC["\\"], ESC["\127"] = '\\"', "\\/", "\\\\", "\\u007f"

local function quote(s)
  if find(s, '[%c"/\\]') then s = gsub(s, '[%c"/\\]', ESC) end
  return '"' .. s .. '"'
end

-- int32 wrap-around of a * b (non-negative ints), as C's int multiplication does
local function imul32(a, b)
  local bl = b % 65536
  local r = (a * bl + ((a * ((b - bl) / 65536)) % 65536) * 65536) % 4294967296
  if r >= 2147483648 then r = r - 4294967296 end
  return r
end

local UNESC = { [34] = '"', [92] = "\\", [47] = "/", [98] = "\b", [116] = "\t", [110] = "\n",
  [102] = "\f", [114] = "\r" }
local SINGLE = { [123] = "T_OBJ_BEGIN", [125] = "T_OBJ_END", [91] = "T_ARR_BEGIN",
  [93] = "T_ARR_END", [44] = "T_COMMA", [58] = "T_COLON" }
local UNKNOWN = { [102] = true, [105] = true, [73] = true, [110] = true, [78] = true,
  [116] = true, [43] = true }

local function utf8(cp)
  if cp <= 0x7F then return char(cp) end
  if cp <= 0x7FF then return char(floor(cp / 64) + 0xC0, cp % 64 + 0x80) end
  if cp <= 0xFFFF then
    return char(floor(cp / 4096) + 0xE0, floor(cp / 64) % 64 + 0x80, cp % 64 + 0x80)
  end
  return char(floor(cp / 262144) + 0xF0, floor(cp / 4096) % 64 + 0x80,
    floor(cp / 64) % 64 + 0x80, cp % 64 + 0x80)
end

-- \uXXXX (and surrogate pair) at s[k] == "\\"; returns utf-8 bytes and the next index
local function unicode_escape(s, k)
  local h = match(s, "^%x%x%x%x", k + 2)
  if not h then return nil end
  local cp = tonumber(h, 16)
  if cp >= 0xD800 and cp <= 0xDFFF then
    if cp >= 0xDC00 or sub(s, k + 6, k + 7) ~= "\\u" then return nil end
    local l = match(s, "^%x%x%x%x", k + 8)
    if not l then return nil end
    local lo = tonumber(l, 16)
    if lo < 0xDC00 or lo > 0xDFFF then return nil end
    return utf8((cp - 0xD800) * 1024 + (lo - 0xDC00) + 0x10000), k + 12
  end
  return utf8(cp), k + 6
end

-- Where glibc strtod() would stop reading a number that starts at s[i] (nil: no number)
local function strtod_end(s, i)
  local j = i
  local c = byte(s, j)
  if c == 43 or c == 45 then j = j + 1 end
  local e = match(s, "^[iI][nN][fF]()", j)
  if e then return match(s, "^[iI][nN][iI][tT][yY]()", e) or e end
  e = match(s, "^[nN][aA][nN]()", j)
  if e then return match(s, "^%([%w_]*%)()", e) or e end
  local h = match(s, "^0[xX]()", j)
  if h and (match(s, "^%x", h) or match(s, "^%.%x", h)) then
    e = match(s, "^%x*()", h)
    if byte(s, e) == 46 then e = match(s, "^%x*()", e + 1) end
    return match(s, "^[pP][+-]?%d+()", e) or e
  end
  local d = match(s, "^%d*()", j)
  local digits = d - j
  if byte(s, d) == 46 then
    local d2 = match(s, "^%d*()", d + 1)
    digits, d = digits + d2 - d - 1, d2
  end
  if digits == 0 then return nil end
  return match(s, "^[eE][+-]?%d+()", d) or d
end

-- json_is_invalid_number(): syntax strtod() takes but strict JSON does not
local function is_invalid_number(s, i)
  local c = byte(s, i)
  if c == 43 then return true end
  if c == 45 then i = i + 1; c = byte(s, i) end
  if c == 48 then
    local c2 = byte(s, i + 1)
    return c2 ~= nil and (c2 == 120 or c2 == 88 or (c2 >= 48 and c2 <= 57))
  end
  if c == nil or c <= 57 then return false end
  local w = lower(sub(s, i, i + 2))
  return w == "inf" or w == "nan"
end

local function lex_number(s, i)
  local e = strtod_end(s, i)
  local v = e and tonumber(sub(s, i, e - 1))
  if v == nil then return "T_ERROR", "invalid number", nil, i end
  return "T_NUMBER", v, e, i
end

local function lex_string(s, i)
  local j = i + 1
  local parts, np
  while true do
    local k = find(s, '["\\]', j)
    if not k then return "T_ERROR", "unexpected end of string", nil, #s + 1 end
    if byte(s, k) == 34 then
      local piece = sub(s, j, k - 1)
      if parts then
        parts[np + 1] = piece
        piece = concat(parts, "", 1, np + 1)
      end
      return "T_STRING", piece, k + 1, i
    end
    if not parts then parts, np = {}, 0 end
    np = np + 1; parts[np] = sub(s, j, k - 1)
    local e = byte(s, k + 1)
    local r = UNESC[e]
    if r then
      j = k + 2
    elseif e == 117 then
      r, j = unicode_escape(s, k)
      if not r then return "T_ERROR", "invalid unicode escape code", nil, k end
    else
      return "T_ERROR", "invalid escape code", nil, k
    end
    np = np + 1; parts[np] = r
  end
end

local DEFAULTS = { sparse_convert = 0, sparse_ratio = 2, sparse_safe = 10, encode_depth = 1000,
  decode_depth = 1000, encode_invalid = 0, decode_invalid = 1, keep_buffer = 1, precision = 14 }
local BOOL_OPTIONS = { "off", "on" }
local INVALID_OPTIONS = { "off", "on", "null" }

local new_instance
new_instance = function()
  local cfg = {}
  for k, v in next, DEFAULTS do cfg[k] = v end
  local numfmt = "%.14g"

  -- ===== encoding =====
  local function number(x)
    if x ~= x or x == huge or x == -huge then
      local mode = cfg.encode_invalid
      if mode == 0 then raise("Cannot serialise number: must not be NaN or Inf") end
      if mode ~= 1 then return "null" end
      if x ~= x then return "nan" end
    end
    return format(numfmt, x)
  end

  local value
  local function tablevalue(t, depth, sp, buf, nb)
    depth = depth + 1
    if depth > cfg.encode_depth or sp + 3 > MAXCSTACK then
      raise(format("Cannot serialise, excessive nesting (%d)", depth))
    end
    local max, items, object = 0, 0, false
    for k in next, t do
      if type(k) == "number" and k >= 1 and floor(k) == k then
        if k > max then max = k <= INT_MAX and k or INT_MIN end
        items = items + 1
      else
        object = true
        break
      end
    end
    if not object then
      local ratio = cfg.sparse_ratio
      if ratio > 0 and max > imul32(items, ratio) and max > cfg.sparse_safe then
        if cfg.sparse_convert == 0 then
          raise("Cannot serialise table: excessively sparse array")
        end
        object = true
      end
    end
    if not object and max > 0 then
      nb = nb + 1; buf[nb] = "["
      for i = 1, max do
        if i > 1 then nb = nb + 1; buf[nb] = "," end
        nb = value(rawget(t, i), depth, sp + 1, buf, nb)
      end
      nb = nb + 1; buf[nb] = "]"
      return nb
    end
    nb = nb + 1; buf[nb] = "{"
    local comma = false
    for k, v in next, t do
      if comma then nb = nb + 1; buf[nb] = "," else comma = true end
      local tk = type(k)
      nb = nb + 1
      if tk == "string" then
        buf[nb] = quote(k) .. ":"
      elseif tk == "number" then
        buf[nb] = '"' .. number(k) .. '":'
      else
        raise("Cannot serialise " .. tk .. ": table key must be a number or string")
      end
      nb = value(v, depth, sp + 2, buf, nb)
    end
    nb = nb + 1; buf[nb] = "}"
    return nb
  end

  value = function(v, depth, sp, buf, nb)
    local tv = type(v)
    if tv == "string" then
      nb = nb + 1; buf[nb] = quote(v)
    elseif tv == "number" then
      nb = nb + 1; buf[nb] = number(v)
    elseif tv == "table" then
      return tablevalue(v, depth, sp, buf, nb)
    elseif tv == "boolean" then
      nb = nb + 1; buf[nb] = v and "true" or "false"
    elseif tv == "nil" or rawequal(v, null) then
      nb = nb + 1; buf[nb] = "null"
    else
      raise("Cannot serialise " .. tv .. ": type not supported")
    end
    return nb
  end

  local function encode(...)
    if select("#", ...) ~= 1 then argerror("encode", 1, "expected 1 argument") end
    local v = ...
    local tv = type(v)
    if tv == "string" then return quote(v) end
    if tv == "number" then return number(v) end
    local buf = {}
    return concat(buf, "", 1, value(v, 0, 1, buf, 0))
  end

  -- ===== decoding =====
  local function lex(s, i)
    local c = byte(s, i)
    if c == 32 or c == 9 or c == 10 or c == 13 then
      i = find(s, "[^ \t\n\r]", i + 1)
      if not i then return "T_END", nil, nil, #s + 1 end
      c = byte(s, i)
    end
    if c == nil then return "T_END", nil, nil, i end
    local tt = SINGLE[c]
    if tt then return tt, nil, i + 1, i end
    if c == 34 then return lex_string(s, i) end
    if c == 45 or (c >= 48 and c <= 57) then
      if cfg.decode_invalid == 0 and is_invalid_number(s, i) then
        return "T_ERROR", "invalid number", nil, i
      end
      return lex_number(s, i)
    end
    if UNKNOWN[c] then
      if c == 116 and sub(s, i, i + 3) == "true" then return "T_BOOLEAN", true, i + 4, i end
      if c == 102 and sub(s, i, i + 4) == "false" then return "T_BOOLEAN", false, i + 5, i end
      if c == 110 and sub(s, i, i + 3) == "null" then return "T_NULL", null, i + 4, i end
      if cfg.decode_invalid ~= 0 and is_invalid_number(s, i) then return lex_number(s, i) end
    end
    return "T_ERROR", "invalid token", nil, i
  end

  local function expected(what, tt, val, at)
    if tt == "T_ERROR" then tt = val end
    raise(format("Expected %s but found %s at character %d", what, tt, at))
  end

  local function descend(depth, sp, slots, at)
    if depth > cfg.decode_depth or sp + slots > MAXCSTACK then
      raise(format("Found too many nested data structures (%d) at character %d", depth, at))
    end
  end

  local parse
  local function parse_object(s, i, depth, sp, at)
    descend(depth, sp, 3, at)
    local t = {}
    local tt, val, ni, idx = lex(s, i)
    if tt == "T_OBJ_END" then return t, ni end
    while true do
      if tt ~= "T_STRING" then expected("object key string", tt, val, idx) end
      local key = val
      tt, val, ni, idx = lex(s, ni)
      if tt ~= "T_COLON" then expected("colon", tt, val, idx) end
      tt, val, ni, idx = lex(s, ni)
      val, ni = parse(s, tt, val, ni, idx, depth, sp + 2)
      rawset(t, key, val)
      tt, val, ni, idx = lex(s, ni)
      if tt == "T_OBJ_END" then return t, ni end
      if tt ~= "T_COMMA" then expected("comma or object end", tt, val, idx) end
      tt, val, ni, idx = lex(s, ni)
    end
  end

  local function parse_array(s, i, depth, sp, at)
    descend(depth, sp, 2, at)
    local t = {}
    local tt, val, ni, idx = lex(s, i)
    if tt == "T_ARR_END" then return t, ni end
    local n = 0
    while true do
      val, ni = parse(s, tt, val, ni, idx, depth, sp + 1)
      n = n + 1
      rawset(t, n, val)
      tt, val, ni, idx = lex(s, ni)
      if tt == "T_ARR_END" then return t, ni end
      if tt ~= "T_COMMA" then expected("comma or array end", tt, val, idx) end
      tt, val, ni, idx = lex(s, ni)
    end
  end

  parse = function(s, tt, val, ni, idx, depth, sp)
    if tt == "T_STRING" or tt == "T_NUMBER" or tt == "T_BOOLEAN" or tt == "T_NULL" then
      return val, ni
    elseif tt == "T_ARR_BEGIN" then
      return parse_array(s, ni, depth + 1, sp, idx)
    elseif tt == "T_OBJ_BEGIN" then
      return parse_object(s, ni, depth + 1, sp, idx)
    end
    expected("value", tt, val, idx)
  end

  local function decode(...)
    local n = select("#", ...)
    if n ~= 1 then argerror("decode", 1, "expected 1 argument") end
    local s = checklstring("decode", 1, n, (...))
    if #s >= 2 and (byte(s, 1) == 0 or byte(s, 2) == 0) then
      raise("JSON parser does not support UTF-16 or UTF-32")
    end
    s = cstring(s)
    local tt, val, ni, idx = lex(s, 1)
    local v
    v, ni = parse(s, tt, val, ni, idx, 0, 1)
    tt, val, ni, idx = lex(s, ni)
    if tt ~= "T_END" then expected("the end", tt, val, idx) end
    return v
  end

  -- ===== configuration =====
  local function arg_init(fname, n, nargs)
    if n > nargs then argerror(fname, nargs + 1, "found too many arguments") end
  end

  local function integer_option(fname, i, v, key, min, max)
    if v ~= nil then
      local x = toint32(checkinteger(fname, i, i, v))
      if x < min or x > max then
        argerror(fname, 1, format("expected integer between %d and %d", min, max))
      end
      cfg[key] = x
    end
    return cfg[key]
  end

  local function enum_option(fname, i, v, key, options)
    if v ~= nil then
      if type(v) == "boolean" then
        cfg[key] = v and 1 or 0
      else
        local name = cstring(checklstring(fname, i, i, v))
        local found
        for j = 1, #options do
          if options[j] == name then found = j - 1; break end
        end
        if not found then argerror(fname, i, format("invalid option '%s'", name)) end
        cfg[key] = found
      end
    end
    local setting = cfg[key]
    if setting == 0 or setting == 1 then return setting == 1 end
    return options[setting + 1]
  end

  local function int_setting(fname, key, min, max)
    return function(...)
      arg_init(fname, select("#", ...), 1)
      return integer_option(fname, 1, (...), key, min, max)
    end
  end

  local function enum_setting(fname, key, options)
    return function(...)
      arg_init(fname, select("#", ...), 1)
      return enum_option(fname, 1, (...), key, options)
    end
  end

  local function encode_sparse_array(...)
    arg_init("encode_sparse_array", select("#", ...), 3)
    local convert, ratio, safe = ...
    convert = enum_option("encode_sparse_array", 1, convert, "sparse_convert", BOOL_OPTIONS)
    ratio = integer_option("encode_sparse_array", 2, ratio, "sparse_ratio", 0, INT_MAX)
    safe = integer_option("encode_sparse_array", 3, safe, "sparse_safe", 0, INT_MAX)
    return convert, ratio, safe
  end

  local precision = int_setting("encode_number_precision", "precision", 1, 14)
  local function encode_number_precision(...)
    local p = precision(...)
    numfmt = "%." .. p .. "g"
    return p
  end

  return {
    encode = cfunction(encode),
    decode = cfunction(decode),
    encode_sparse_array = cfunction_multi(encode_sparse_array),
    encode_max_depth = cfunction(int_setting("encode_max_depth", "encode_depth", 1, INT_MAX)),
    decode_max_depth = cfunction(int_setting("decode_max_depth", "decode_depth", 1, INT_MAX)),
    encode_number_precision = cfunction(encode_number_precision),
    encode_keep_buffer = cfunction(enum_setting("encode_keep_buffer", "keep_buffer", BOOL_OPTIONS)),
    encode_invalid_numbers = cfunction(
      enum_setting("encode_invalid_numbers", "encode_invalid", INVALID_OPTIONS)),
    decode_invalid_numbers = cfunction(
      enum_setting("decode_invalid_numbers", "decode_invalid", BOOL_OPTIONS)),
    new = cfunction(function() return new_instance() end),
    null = null,
    _NAME = "cjson",
    _VERSION = "2.1.0",
  }
end

return new_instance()
"""


def load(lua: Any, support: Any) -> Any:
    """Create a cjson module table in `lua` (not yet bound to a global)."""
    return lua.execute(LUA_SOURCE, support, name="=valkdb.scripting.libs.cjson")
