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

local py_call, py_pcall, py_error_text, py_log, py_setresp, py_set_repl, py_sha1hex,
      py_rand, py_srand, py_in_run, py_tick, version, version_num = ...

local G = _G
local type, tostring, tonumber, select, error, next = type, tostring, tonumber, select, error, next
local rawget, rawset, rawequal, setmetatable, getmetatable = rawget, rawset, rawequal,
  setmetatable, getmetatable
local setfenv, loadstring, xpcall, unpack = setfenv, loadstring, xpcall, unpack
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

-- A raised error as Redis's handlers see it: a Python error from redis.call becomes its table.
local function as_redis_error(err)
  if type(err) == "userdata" then
    local text = py_error_text(err)
    if text then return error_table(text) end
  end
  return err
end

local function raise(text)
  error(error_table(text), 0)
end

-- __redis__err__handler: the error as a table, with the script's position (the caller of a C
-- function, and never one of this file's frames).
local function err_handler(err)
  err = as_redis_error(err)
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

function redis.log(...)
  local argc = select("#", ...)
  if argc < 2 then raise("redis.log() requires two arguments or more.") end
  local level = ...
  if type(level) ~= "number" and tonumber(level) == nil then
    raise("First argument must be a number (log level).")
  end
  level = tonumber(level)
  if level < 0 or level > 3 then raise("Invalid debug level.") end
  local parts = {}
  for j = 2, argc do
    local value = select(j, ...)
    local kind = type(value)
    if kind == "string" or kind == "number" then
      parts[#parts + 1] = (j ~= 2 and " " or "") .. tostring(value)
    elseif j ~= 2 then
      parts[#parts + 1] = " "
    end
  end
  py_log(floor(level), concat(parts))
end
redis.LOG_DEBUG, redis.LOG_VERBOSE, redis.LOG_NOTICE, redis.LOG_WARNING = 0, 1, 2, 3
redis.REDIS_VERSION_NUM = version_num
redis.REDIS_VERSION = version

function redis.setresp(...)
  if not py_in_run() then raise("redis.setresp can only be called inside a script invocation") end
  if select("#", ...) ~= 1 then raise("redis.setresp() requires one argument.") end
  local resp = tonumber((...)) or 0
  if resp ~= 2 and resp ~= 3 then raise("RESP version must be 2 or 3.") end
  py_setresp(resp)
end

function redis.sha1hex(...)
  if select("#", ...) ~= 1 then raise("wrong number of arguments") end
  local s = ...
  local kind = type(s)
  return py_sha1hex((kind == "string" or kind == "number") and tostring(s) or "")
end

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

function redis.set_repl(...)
  if not py_in_run() then raise("redis.set_repl can only be called inside a script invocation") end
  if select("#", ...) ~= 1 then raise("redis.set_repl() requires two arguments.") end
  local flags = floor(tonumber((...)) or 0)
  if flags < 0 or flags > 3 then
    raise("Invalid replication flags. Use REPL_AOF, REPL_REPLICA, REPL_ALL or REPL_NONE.")
  end
  py_set_repl(flags)
end
redis.REPL_NONE, redis.REPL_AOF, redis.REPL_SLAVE, redis.REPL_REPLICA, redis.REPL_ALL =
  0, 1, 2, 2, 3

function redis.acl_check_cmd(...)
  if not py_in_run() then
    raise("redis.acl_check_cmd can only be called inside a script invocation")
  end
  if select("#", ...) == 0 then
    raise("Please specify at least one argument for this redis lib call")
  end
  return true  -- every client is the default user, which may run everything
end

function redis.breakpoint() return false end   -- the debugger is not available
function redis.debug() end
function redis.replicate_commands() return true end

G.redis = redis
G.pcall = redis_pcall
G.xpcall = redis_xpcall
G.__redis__err__handler = err_handler

-- math.random / randomseed on Redis's rand48, the same sequence on every machine
local function checkint(value, n, fname)
  local number = tonumber(value)
  if number == nil then
    local got = value == nil and "no value" or type(value)
    error(format("bad argument #%d to '%s' (number expected, got %s)", n, fname, got), 3)
  end
  return number >= 0 and floor(number) or -floor(-number)
end

G.math.random = function(...)
  if not py_in_run() then error("math.random can only be called inside a script invocation", 2) end
  local r = py_rand()
  local argc = select("#", ...)
  if argc == 0 then return r end
  if argc == 1 then
    local u = checkint((...), 1, "random")
    if u < 1 then error("bad argument #1 to 'random' (interval is empty)", 2) end
    return floor(r * u) + 1
  end
  if argc == 2 then
    local l, u = ...
    l, u = checkint(l, 1, "random"), checkint(u, 2, "random")
    if l > u then error("bad argument #2 to 'random' (interval is empty)", 2) end
    return floor(r * (u - l + 1)) + l
  end
  error("wrong number of arguments", 2)
end
G.math.randomseed = function(seed)
  if not py_in_run() then
    error("math.randomseed can only be called inside a script invocation", 2)
  end
  py_srand(checkint(seed, 1, "randomseed"))
end

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

local globals = {}  -- what scripts read through the global proxy
for name, value in next, G do
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

-- redis.call and redis.pcall are Python functions (userdata to Lua): type() calls them
-- functions, as Redis's C functions are.
local lua_type = type
local callables = {[py_call] = true, [py_pcall] = true}
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

local encode

-- out: the parts so far; script3: the script's protocol is RESP3 (booleans); resp3: the caller's
local function encode_table(t, out, script3, resp3)
  local err = rawget(t, "err")
  if type(err) == "string" then
    out[#out + 1] = "-" .. oneline(err) .. "\r\n"
    return
  end
  local ok = rawget(t, "ok")
  if type(ok) == "string" then
    out[#out + 1] = "+" .. oneline(ok) .. "\r\n"
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
    encode_table(value, out, script3, resp3)
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
  local text = "-" .. tostring(msg)
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
  local all = {...}
  local n = select("#", ...)
  globals.KEYS = args_table(all, 1, nkeys)  -- globals has no __newindex: a plain store
  globals.ARGV = args_table(all, nkeys + 1, n)
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
local KILLED = "Script killed by user with SCRIPT KILL..."
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
local function err_table_of(text) return error_table(text) end
local function map_table(t) return {map = t} end
local function set_table(t) return {set = t} end
local function double_table(d) return {double = d} end
local function big_table(s) return {big_number = s} end
local function verbatim_table(fmt, s) return {verbatim_string = {format = fmt, string = s}} end

return {
  run_eval = run_eval, run_function = run_function, compile = compile, arm_hook = arm_hook,
  ok_table = ok_table, err_table = err_table_of, map_table = map_table, set_table = set_table,
  double_table = double_table, big_table = big_table, verbatim_table = verbatim_table,
  killed = KILLED, globals = globals, env = env, readonly = readonly,
}
