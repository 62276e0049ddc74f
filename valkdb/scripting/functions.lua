-- Function libraries' Lua side (Redis 7.0's function_lua.c), run once in the functions' own
-- runtime after bootstrap.lua.
--
-- A library's code runs once, at FUNCTION LOAD, with globals that hold nothing but a small
-- `redis` table: register_function, log, the LOG_* levels and the version. Everything else
-- (string, pcall, redis.call ...) is a "nonexistent global variable" then, as in Redis 7.0. The
-- functions it registers are closures over the same globals table, whose lookups go to the full
-- sandbox once the load is over: at FCALL time they see what an EVAL script sees. Redis swaps
-- the __index of its globals' metatable the same way (luaEngineCreate).
--
-- Returns load(code): the registered functions (a list of {name, callback, description or
-- false, {flag names}}) or nil and Redis's error text.

local globals, py_log, version, version_num = ...

local type, tostring, select, error, next, setmetatable, rawget = type, tostring, select, error,
  next, setmetatable, rawget
local loadstring, setfenv, xpcall = loadstring, setfenv, xpcall
local format, find, lower = string.format, string.find, string.lower

local READONLY = "Attempt to modify a readonly table"

local function raise(msg)  -- luaPushError + luaError: an error table, no position
  error({err = "ERR " .. msg}, 0)
end

local function readonly_error() error(READONLY, 2) end

-- A read-only view of `real` whose missing fields raise, as luaSetErrorMetatable +
-- luaSetTableProtectionRecursively make Redis's load-time tables.
local function protected(real)
  return setmetatable({}, {
    __index = function(_, name)
      local value = rawget(real, name)
      if value == nil then
        error(format("Script attempted to access nonexistent global variable '%s'",
                     tostring(name)), 2)
      end
      return value
    end,
    __newindex = readonly_error,
    __metatable = false,
  })
end

local current  -- the load in progress: {names = set, list = registered}, nil otherwise

local function is_string(v) return type(v) == "string" or type(v) == "number" end

local function read_flags(t)  -- luaRegisterFunctionReadFlags: nil on an unknown flag
  local names = {}
  local j = 1
  while true do
    local flag = t[j]
    j = j + 1
    if flag == nil then break end
    if not is_string(flag) then return nil end
    names[#names + 1] = lower(tostring(flag))
  end
  return names
end

local KNOWN_FLAGS = {["no-writes"] = true, ["allow-oom"] = true, ["allow-stale"] = true,
                     ["no-cluster"] = true, ["allow-cross-slot-keys"] = true}

local function named_args(t)
  if type(t) ~= "table" then
    raise("calling redis.register_function with a single argument is only applicable to Lua " ..
          "table (representing named arguments).")
  end
  local name, desc, callback, flags
  for key, value in next, t do
    if not is_string(key) then
      raise("named argument key given to redis.register_function is not a string")
    end
    key = lower(tostring(key))
    if key == "function_name" then
      if not is_string(value) then
        raise("function_name argument given to redis.register_function must be a string")
      end
      name = tostring(value)
    elseif key == "description" then
      if not is_string(value) then
        raise("description argument given to redis.register_function must be a string")
      end
      desc = tostring(value)
    elseif key == "callback" then
      if type(value) ~= "function" then
        raise("callback argument given to redis.register_function must be a function")
      end
      callback = value
    elseif key == "flags" then
      if type(value) ~= "table" then
        raise("flags argument to redis.register_function must be a table representing " ..
              "function flags")
      end
      flags = read_flags(value)
      if flags then
        for _, flag in next, flags do
          if not KNOWN_FLAGS[flag] then flags = nil break end
        end
      end
      if not flags then raise("unknown flag given") end
    else
      raise("unknown argument given to redis.register_function")
    end
  end
  if not name then raise("redis.register_function must get a function name argument") end
  if not callback then raise("redis.register_function must get a callback argument") end
  return name, callback, desc or false, flags or {}
end

local function register_function(...)
  if not current then
    raise("redis.register_function can only be called on FUNCTION LOAD command")
  end
  local argc = select("#", ...)
  if argc < 1 or argc > 2 then raise("wrong number of arguments to redis.register_function") end
  local name, callback, desc, flags
  if argc == 1 then
    name, callback, desc, flags = named_args((...))
  else
    local first, second = ...
    if not is_string(first) then
      raise("first argument to redis.register_function must be a string")
    end
    if type(second) ~= "function" then
      raise("second argument to redis.register_function must be a function")
    end
    name, callback, desc, flags = tostring(first), second, false, {}
  end
  -- functionLibCreateFunction (which words a bad function name as a bad library name)
  if not find(name, "^[a-zA-Z0-9_]+$") then
    raise("Library names can only contain letters, numbers, or underscores(_) and must be at " ..
          "least one character long")
  end
  if current.names[name] then raise("Function already exists in the library") end
  current.names[name] = true
  current.list[#current.list + 1] = {name, callback, desc, flags}
end

local library_api = protected({
  redis = protected({
    register_function = register_function, log = py_log,
    LOG_DEBUG = 0, LOG_VERBOSE = 1, LOG_NOTICE = 2, LOG_WARNING = 3,
    REDIS_VERSION = version, REDIS_VERSION_NUM = version_num,
  }),
})

-- Every library's globals: read-only, lookups to the load-time API or to the sandbox.
local env_meta = {__index = globals, __newindex = readonly_error, __metatable = false}
local env = setmetatable({}, env_meta)

local function error_text(err)  -- luaExtractErrorInformation's msg
  if is_string(err) then return "ERR " .. tostring(err) end
  if type(err) == "table" then
    local msg = rawget(err, "err")
    if is_string(msg) then return tostring(msg) end
  end
  return "(null)"
end

local function load(code)
  local chunk, err = loadstring(code, "@user_function")
  if not chunk then return nil, "Error compiling function: " .. err end
  setfenv(chunk, env)
  current = {names = {}, list = {}}
  env_meta.__index = library_api
  local ok, result = xpcall(chunk, function(e) return e end)
  env_meta.__index = globals
  local registered = current.list
  current = nil
  if not ok then return nil, "Error registering functions: " .. error_text(result) end
  return registered
end

return load
