-- valkdb's Lua scripting environment, run once in a fresh lupa Lua 5.1 runtime, as Redis
-- 7.0's scriptingInit and luaRegisterRedisAPI build theirs (src/eval.c, src/script_lua.c).
--
-- Python passes in the functions that reach the server; everything a script calls that must
-- look like one of Redis's C functions (redis.call, redis.pcall) is one of those Python
-- functions, which Lua calls as C functions: a tail call to them keeps the script's frame, so
-- an error keeps the script's line. Errors they raise arrive as Python exceptions (userdata);
-- py_error_text turns them into Redis's error text wherever a script or Redis would see them
-- (pcall, xpcall, the error handler).
--
-- Returns the internal functions Python drives (run, compile, ...).

local py_call, py_pcall, py_error_info, py_log, py_setresp, py_set_repl, py_sha1hex,
      py_acl_check_cmd, py_random, py_randomseed, py_in_run, py_tick, version, version_num = ...

local G = _G
local type, tostring, tonumber, select, error, next = type, tostring, tonumber, select, error, next
local rawget, rawset, rawequal, setmetatable, getmetatable = rawget, rawset, rawequal,
  setmetatable, getmetatable
local setfenv, loadstring, load, xpcall, unpack = setfenv, loadstring, load, xpcall, unpack
local lua_next, lua_rawset, lua_setmetatable, lua_ipairs = next, rawset, setmetatable, ipairs
local lua_pcall = pcall
local format, sub, byte, gsub, find, rep = string.format, string.sub, string.byte, string.gsub,
  string.find, string.rep
local concat = table.concat
local floor = math.floor
local dbg = debug

-- What Redis 7.0 does not load (package, os, io) or removes (dofile, loadfile, print; debug once
-- the error handler holds it).
for _, name in ipairs({"dofile", "loadfile", "print", "io", "os", "package", "require",
                       "module", "debug", "python"}) do
  G[name] = nil
end

local INTERNAL = "=valkdb"  -- the chunk name of this file: its frames are not the script's

-- luaPushErrorBuff: "-CODE msg" or "msg" (code ERR) -> {err = "CODE msg"}, trailing CR/LF gone
local function error_table(text)
  local code, msg
  if byte(text, 1) == 45 then  -- '-'
    local space = find(text, " ", 1, true)
    if space then
      code, msg = sub(text, 2, space - 1), sub(text, space + 1)
    else
      code, msg = "ERR", sub(text, 2)
    end
  else
    code, msg = "ERR", text
  end
  msg = gsub(gsub(msg, "^[\r\n]+", ""), "[\r\n]+$", "")
  return {err = code .. " " .. msg}
end

-- A raised error as Redis's handlers see it. The Python functions of the API raise errors of two
-- kinds: "table", as luaPushError + lua_error (an error table), and "string", as luaL_error (a
-- message that gets the caller's position, `where`, when there is one).
local function as_redis_error(err, where)
  if type(err) == "userdata" then
    local kind, text, counted = py_error_info(err)
    if kind == "table" then
      local t = error_table(text)
      if counted then t.ignore_error_stats_update = true end
      return t
    elseif kind == "string" then
      return (where or "") .. text
    end
  end
  return err
end

local function raise(text)
  error(error_table(text), 0)
end

-- __redis__err__handler: the error as a table, with the script's position (the caller of a C
-- function, and never one of this file's frames).
local function err_handler(err)
  local level = 2
  local info = dbg.getinfo(level, "nSl")
  if info and info.what == "C" then  -- error() itself, or redis.call
    level = level + 1
    info = dbg.getinfo(level, "nSl")
  end
  while info and info.source == INTERNAL do
    level = level + 1
    info = dbg.getinfo(level, "nSl")
  end
  err = as_redis_error(err, info and info.currentline > 0
                            and info.short_src .. ":" .. info.currentline .. ": " or "")
  if type(err) ~= "table" then
    err = {err = "ERR " .. tostring(err)}
  end
  if info then
    err["source"] = info.source
    err["line"] = info.currentline
  end
  return err
end

-- luaRedisPcall: Redis's pcall hands back the text of an error table.
local function pack(...) return select("#", ...), {...} end

local function redis_pcall(f, ...)
  local n, results = pack(lua_pcall(f, ...))
  if not results[1] then
    local err = as_redis_error(results[2])
    if type(err) == "table" then
      local text = err.err
      if type(text) == "string" or type(text) == "number" then err = text end
    end
    results[2] = err
  end
  return unpack(results, 1, n)
end

local function redis_xpcall(f, handler)
  return xpcall(f, function(err) return handler(as_redis_error(err)) end)
end

-- redis.* -------------------------------------------------------------------------------------

local redis = {}
redis.call = py_call
redis.pcall = py_pcall

redis.log = py_log
redis.LOG_DEBUG, redis.LOG_VERBOSE, redis.LOG_NOTICE, redis.LOG_WARNING = 0, 1, 2, 3
redis.REDIS_VERSION_NUM = version_num
redis.REDIS_VERSION = version
redis.setresp = py_setresp
redis.sha1hex = py_sha1hex

function redis.error_reply(...)
  local s = ...
  if select("#", ...) ~= 1 or type(s) ~= "string" then
    return error_table("wrong number or type of arguments")
  end
  return error_table(byte(s, 1) == 45 and s or "-" .. s)
end

function redis.status_reply(...)
  local s = ...
  if select("#", ...) ~= 1 or type(s) ~= "string" then
    return error_table("wrong number or type of arguments")
  end
  return {ok = s}
end

redis.set_repl = py_set_repl
redis.REPL_NONE, redis.REPL_AOF, redis.REPL_SLAVE, redis.REPL_REPLICA, redis.REPL_ALL =
  0, 1, 2, 2, 3
redis.acl_check_cmd = py_acl_check_cmd

function redis.breakpoint() return false end   -- the debugger is not available
function redis.debug() end
function redis.replicate_commands() return true end

G.redis = redis
G.pcall = redis_pcall
G.xpcall = redis_xpcall
G.__redis__err__handler = err_handler

-- math.random / randomseed on Redis's rand48, the same sequence on every machine
G.math.random = py_random
G.math.randomseed = py_randomseed

-- The sandbox ------------------------------------------------------------------------------------
--
-- Redis's patched Lua makes tables read-only; plain Lua gets the same answers from proxies: a
-- script sees an empty table whose reads go to the real one and whose writes fail. Reading a
-- global that does not exist fails as in Redis.

local READONLY = "Attempt to modify a readonly table"
local proxies = {}

local function readonly(real)
  local proxy = proxies[real]
  if proxy then return proxy end
  proxy = {}
  proxies[real] = proxy
  setmetatable(proxy, {
    __index = real,
    __newindex = function() error(READONLY, 2) end,
    __metatable = false,
  })
  return proxy
end

-- Redis 7.0.15's globals, nothing more (KEYS and ARGV join them at each EVAL)
local ALLOWED = {
  "_G", "_VERSION", "__redis__err__handler", "assert", "bit", "cjson", "cmsgpack",
  "collectgarbage", "coroutine", "error", "gcinfo", "getmetatable", "ipairs", "load",
  "loadstring", "math", "next", "pairs", "pcall", "rawequal", "rawget", "rawset", "redis",
  "select", "setmetatable", "string", "struct", "table", "tonumber", "tostring", "type",
  "unpack", "xpcall",
}
local globals = {}  -- what scripts read through the global proxy
for _, name in lua_ipairs(ALLOWED) do
  local value = rawget(G, name)
  if type(value) == "table" and name ~= "_G" then
    globals[name] = readonly(value)
  else
    globals[name] = value
  end
end
setmetatable(globals, {
  __index = function(_, name)
    error(format("Script attempted to access nonexistent global variable '%s'", tostring(name)), 2)
  end,
})
local env = setmetatable({}, {
  __index = globals,
  __newindex = function() error(READONLY, 2) end,
  -- what getmetatable(_G) shows: Redis's error metatable, itself read-only
  __metatable = readonly({__index = getmetatable(globals).__index}),
})
globals._G = env

-- The real table behind each proxy (a script's view of a read-only table).
local real_of = {[env] = globals}
for real, proxy in lua_next, proxies do real_of[proxy] = real end

-- Strings' metatable is read-only too; its __index is the string library as scripts see it.
local string_mt = getmetatable("")
string_mt.__index = globals.string
string_mt.__metatable = readonly({__index = globals.string})
real_of[string_mt.__metatable] = {__index = globals.string}

local lua_type = type

-- The built-ins that would see through a proxy, or write behind it, see the real table.
local function sandbox_next(t, k)
  return lua_next(real_of[t] or t, k)
end
globals.next = sandbox_next
globals.pairs = function(t)
  if real_of[t] then return sandbox_next, t, nil end
  return pairs(t)
end
globals.ipairs = function(t)
  return lua_ipairs(real_of[t] or t)
end
globals.rawget = function(t, k)
  return rawget(real_of[t] or t, k)
end
globals.rawset = function(t, k, v)
  if real_of[t] or t == string_mt then error(READONLY, 0) end
  return lua_rawset(t, k, v)
end
globals.setmetatable = function(t, mt)
  if real_of[t] then error(READONLY, 0) end
  if lua_type(t) ~= "table" then
    error("bad argument #1 to 'setmetatable' (table expected, got " ..
          (t == nil and "no value" or lua_type(t)) .. ")", 2)
  end
  if mt ~= nil and lua_type(mt) ~= "table" then
    error("bad argument #2 to 'setmetatable' (nil or table expected)", 2)
  end
  lua_setmetatable(t, mt)
  return t
end
-- Code a script loads runs in the sandbox too.
globals.loadstring = function(source, name)
  local f, err = loadstring(source, name)
  if f then setfenv(f, env) end
  return f, err
end
globals.load = function(source, name)
  local f, err = load(source, name)
  if f then setfenv(f, env) end
  return f, err
end

-- redis.call and the API's other Python functions are userdata to Lua: type() calls them
-- functions, as Redis's C functions are.
local callables = {}
for _, f in lua_ipairs({py_call, py_pcall, py_log, py_setresp, py_set_repl, py_sha1hex,
                        py_acl_check_cmd, py_random, py_randomseed}) do
  callables[f] = true
end
globals.type = function(value)
  local kind = lua_type(value)
  if kind == "userdata" and callables[value] then return "function" end
  return kind
end

-- Lua -> RESP (luaReplyToRedisReply) ----------------------------------------------------------

local function double_text(d)
  if d ~= d then return format("%.17g", d) end
  if d == 1 / 0 then return "inf" end
  if d == -1 / 0 then return "-inf" end
  return format("%.17g", d)
end

local function bulk(s)
  return "$" .. #s .. "\r\n" .. s .. "\r\n"
end

local function oneline(s)
  return (gsub(s, "[\r\n]", " "))
end

-- What C sees of a Lua string through strlen (sdsnew): up to its first NUL.
local function cstring(s)
  local nul = find(s, "\0", 1, true)
  return nul and sub(s, 1, nul - 1) or s
end

local encode
-- luaReplyToRedisReply checks for room on the Lua stack at each level: past it, an error
-- replaces the value (7,995 nested arrays on Redis 7.0.15).
local MAX_DEPTH = 7995
local depth = 0

-- out: the parts so far; script3: the script's protocol is RESP3 (booleans); resp3: the caller's
local function encode_table(t, out, script3, resp3)
  local err = rawget(t, "err")
  if type(err) == "string" then
    -- addReplyErrorFormat: trailing CR/LF trimmed, the others made spaces
    out[#out + 1] = oneline((gsub("-" .. cstring(err), "[\r\n]+$", ""))) .. "\r\n"
    return
  end
  local ok = rawget(t, "ok")
  if type(ok) == "string" then
    out[#out + 1] = "+" .. oneline(cstring(ok)) .. "\r\n"
    return
  end
  local double = rawget(t, "double")
  if type(double) == "number" then
    local text = double_text(double)
    out[#out + 1] = resp3 and ("," .. text .. "\r\n") or bulk(text)
    return
  end
  local big = rawget(t, "big_number")
  if type(big) == "string" then
    big = oneline(big)
    out[#out + 1] = resp3 and ("(" .. big .. "\r\n") or bulk(big)
    return
  end
  local verbatim = rawget(t, "verbatim_string")
  if type(verbatim) == "table" then
    local fmt, str = rawget(verbatim, "format"), rawget(verbatim, "string")
    if type(fmt) == "string" and type(str) == "string" then
      if resp3 then
        out[#out + 1] = "=" .. (#str + 4) .. "\r\n" .. sub(fmt .. "   ", 1, 3) .. ":" .. str ..
          "\r\n"
      else
        out[#out + 1] = bulk(str)
      end
      return
    end
  end
  local map = rawget(t, "map")
  if type(map) == "table" then
    local header = #out + 1
    out[header] = ""
    local count = 0
    for key, value in next, map do
      encode(key, out, script3, resp3)
      encode(value, out, script3, resp3)
      count = count + 1
    end
    out[header] = resp3 and ("%" .. count .. "\r\n") or ("*" .. 2 * count .. "\r\n")
    return
  end
  local set = rawget(t, "set")
  if type(set) == "table" then
    local header = #out + 1
    out[header] = ""
    local count = 0
    for key in next, set do
      encode(key, out, script3, resp3)
      count = count + 1
    end
    out[header] = (resp3 and "~" or "*") .. count .. "\r\n"
    return
  end
  local header = #out + 1
  out[header] = ""
  local j = 1
  while true do
    local value = rawget(t, j)
    if value == nil then break end
    encode(value, out, script3, resp3)
    j = j + 1
  end
  out[header] = "*" .. (j - 1) .. "\r\n"
end

encode = function(value, out, script3, resp3)
  local kind = type(value)
  if kind == "string" then
    out[#out + 1] = bulk(value)
  elseif kind == "number" then
    out[#out + 1] = format(":%d\r\n", value)
  elseif kind == "boolean" then
    if script3 then
      out[#out + 1] = resp3 and (value and "#t\r\n" or "#f\r\n") or (value and ":1\r\n" or ":0\r\n")
    else
      out[#out + 1] = value and ":1\r\n" or (resp3 and "_\r\n" or "$-1\r\n")
    end
  elseif kind == "table" then
    if depth >= MAX_DEPTH then
      out[#out + 1] = "-ERR reached lua stack limit\r\n"
      return
    end
    depth = depth + 1
    encode_table(value, out, script3, resp3)
    depth = depth - 1
  else
    out[#out + 1] = resp3 and "_\r\n" or "$-1\r\n"
  end
end

-- Errors as luaCallFunction replies them.
local function error_reply(err, funcname)
  if type(err) ~= "table" then
    return "-ERR Error running script " .. funcname .. ", " .. sub(tostring(err), 1, 100) ..
      "\r\n"
  end
  local msg = err.err
  if type(msg) ~= "string" and type(msg) ~= "number" then msg = "" end
  local text = "-" .. cstring(tostring(msg))
  local source, line = err.source, err.line
  if (type(source) == "string" or type(source) == "number")
      and (type(line) == "string" or type(line) == "number") then
    text = text .. " script: " .. funcname .. ", on " .. tostring(source) .. ":" ..
      tostring(line) .. "."
  end
  return oneline(text) .. "\r\n"
end

-- Running scripts --------------------------------------------------------------------------------

local function args_table(all, first, last)
  local t = {}
  for i = first, last do t[i - first + 1] = all[i] end
  return t
end

-- EVAL: KEYS and ARGV are globals; f runs under the error handler; the reply is RESP bytes.
local function run_eval(f, funcname, nkeys, resp3, ...)
  -- globals has no __newindex: plain stores. Fresh tables each run: scripts may change them.
  if nkeys == select("#", ...) then  -- keys only, the commonest case: one table
    globals.KEYS, globals.ARGV = {...}, {}
  else
    local all = {...}
    globals.KEYS = args_table(all, 1, nkeys)
    globals.ARGV = args_table(all, nkeys + 1, select("#", ...))
  end
  local ok, result = xpcall(f, err_handler)
  if not ok then return error_reply(result, funcname) end
  if type(result) == "number" then return format(":%d\r\n", result) end
  local out = {}
  encode(result, out, py_in_run() == 3, resp3)
  return concat(out)
end

-- FCALL: the keys and arguments are the function's two arguments.
local function run_function(f, funcname, nkeys, resp3, ...)
  local all = {...}
  local n = select("#", ...)
  local keys, argv = args_table(all, 1, nkeys), args_table(all, nkeys + 1, n)
  local ok, result = xpcall(function() return f(keys, argv) end, err_handler)
  if not ok then return error_reply(result, funcname) end
  local out = {}
  encode(result, out, py_in_run() == 3, resp3)
  return concat(out)
end

-- A script body compiled as Redis compiles it: chunk "@user_script", the sandbox as its globals.
local function compile(body, chunkname)
  local f, err = loadstring(body, chunkname or "@user_script")
  if not f then return nil, err end
  setfenv(f, env)
  return f
end

-- The timeout hook: every 100,000 instructions, as Redis's luaMaskCountHook.
local function hook()
  local where = dbg.getinfo(2, "S")
  if where and where.source == INTERNAL then return end  -- not in the script: let it end
  local verdict = py_tick()
  if verdict then
    dbg.sethook(hook, "l")  -- keeps firing, so that a pcall cannot swallow it for good
    raise(verdict)
  end
end

local function arm_hook(on)
  if on then dbg.sethook(hook, "", 100000) else dbg.sethook() end
end

local function ok_table(s) return {ok = s} end
local function err_table_of(text, counted)
  local t = error_table(text)
  if counted then t.ignore_error_stats_update = true end
  return t
end
local function map_table(t) return {map = t} end
local function set_table(t) return {set = t} end
local function double_table(d) return {double = d} end
local function big_table(s) return {big_number = s} end
local function verbatim_table(fmt, s) return {verbatim_string = {format = fmt, string = s}} end

return {
  run_eval = run_eval, run_function = run_function, compile = compile, arm_hook = arm_hook,
  ok_table = ok_table, err_table = err_table_of, map_table = map_table, set_table = set_table,
  double_table = double_table, big_table = big_table, verbatim_table = verbatim_table,
  globals = globals,  -- what function libraries' globals read at FCALL time (functions.lua)
}
