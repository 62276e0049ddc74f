"""The Lua engine: one Lua 5.1 runtime per server (lupa), the Redis API scripts call, the run of
a script, and the long-script rules.

bootstrap.lua builds the environment inside the runtime; this module holds what must reach the
server: redis.call / redis.pcall (Python functions, which Lua calls as C functions, as Redis's
are), the conversion of a command's reply to Lua values (redisProtocolToLuaType), and the run
context (Redis's scriptRunCtx): the Context the script's commands run in, whether it may write,
whether it has written, its protocol, its start time.

A script never yields to other clients, with one exception, as in Redis: once it has run for
busy-reply-threshold ms, the timeout hook lets the event loop serve other clients every 100,000
Lua instructions, and the server's gate answers them -BUSY (except the commands flagged
allow_busy: SCRIPT KILL, FUNCTION KILL, SHUTDOWN NOSAVE ...). Nothing else runs meanwhile.
"""

from __future__ import annotations

import hashlib
import math
import time
from importlib import resources
from typing import Any

import gevent
from lupa import lua51

from valkdb import REDIS_VERSION, errors
from valkdb.core.context import Context
from valkdb.core.dispatch import call, lookup
from valkdb.core.registry import TABLE, Command
from valkdb.protocol.encoder import RESP2_ENCODER, RESP3_ENCODER
from valkdb.scripting import libs

_BUSY_EVAL = errors.err(
    "BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.")
_BUSY_FUNCTION = errors.err(
    "BUSY Redis is busy running a script. You can only call FUNCTION KILL or SHUTDOWN NOSAVE.")

# Redis's log levels (LL_DEBUG .. LL_WARNING) as Python's.
_LOG_LEVELS = (10, 15, 20, 30)


def version_num(version: str) -> int:
    major, minor, patch = (int(part) for part in version.split(".")[:3])
    return (major << 16) | (minor << 8) | patch


class ScriptCallError(Exception):
    """An error a function of the API raises into the script, as Redis raises it: `kind`
    "table" (luaPushError + lua_error: {err = text}, `text` as luaPushErrorBuff takes it,
    "-CODE msg" or a bare message that gets the code ERR; `counted`: the error was already
    counted, ignore_error_stats_update) or "string" (luaL_error: the message, which gets the
    caller's position). Kinds are bytes: Lua sees them as strings."""

    def __init__(self, text: bytes, kind: bytes = b"table", counted: bool = False) -> None:
        super().__init__(text)
        self.text = text
        self.kind = kind
        self.counted = counted


def _lua_tostring(value: Any) -> bytes | None:
    """lua_tolstring: strings as they are, numbers as Lua prints them (%.14g), else None."""
    if type(value) is bytes:
        return value
    if type(value) is int or type(value) is float:
        number = float(value)
        if number.is_integer() and abs(number) < 1e15:
            return b"%d" % number
        return (b"%.14g" % number).replace(b"inf", b"inf")
    return None


def _lua_tonumber(value: Any) -> float | None:
    """lua_tonumber's numbers: numbers, and strings that read as one."""
    if type(value) is int or type(value) is float:
        return float(value)
    if type(value) is bytes:
        try:
            return float(value.strip())
        except ValueError:
            try:
                return float(int(value.strip(), 16))
            except ValueError:
                return None
    return None


def _checkint(args: tuple, n: int, fname: str) -> int:
    """luaL_checkint for argument n (1-based)."""
    value = args[n - 1] if len(args) >= n else None
    number = _lua_tonumber(value)
    if number is None:
        got = "no value" if len(args) < n else _lua_type(value)
        raise ScriptCallError(f"bad argument #{n} to '{fname}' (number expected, got {got})"
                              .encode(), b"string")
    return int(number)


def _lua_type(value: Any) -> str:
    if value is None:
        return "nil"
    if type(value) is bool:
        return "boolean"
    if type(value) is bytes:
        return "string"
    if type(value) is int or type(value) is float:
        return "number"
    return "table" if hasattr(value, "keys") else "userdata"


# Redis's rand48 state (rand.c): one per process, shared by every Lua runtime and never reset.
_RAND48 = [(0x1234ABCD << 16) | 0x330E]


class Run:
    """One script's run (scriptRunCtx)."""

    __slots__ = ("caller", "name", "read_only", "allow_oom", "eval_mode", "write_dirty",
                 "killed", "closed", "started", "timed_out", "repl")

    def __init__(self, caller: Context, name: bytes, read_only: bool, allow_oom: bool,
                 eval_mode: bool) -> None:
        self.caller = caller
        self.name = name
        self.read_only = read_only
        self.allow_oom = allow_oom
        self.eval_mode = eval_mode
        self.write_dirty = False  # a write command ran: SCRIPT KILL may not stop it
        self.killed = False
        self.closed = False  # the caller's greenlet was killed while the script yielded
        self.started = time.monotonic()
        self.timed_out = False
        self.repl = 3  # redis.set_repl: REPL_ALL


class ScriptContext(Context):
    """The context a script's commands run in (Redis's Lua client): no socket, nothing yields or
    blocks, noscript commands are refused."""

    caller: Context = None  # type: ignore[assignment]  # the client running the script

    def __init__(self, server: Any) -> None:
        super().__init__(server)
        self.in_script = True
        self.script_keys: list[bytes] = []


class LuaEngine:
    def __init__(self, server: Any) -> None:
        self.server = server
        self.lua = lua51.LuaRuntime(
            encoding=None, unpack_returned_tuples=True, register_eval=False,
            register_builtins=False, attribute_filter=_no_attributes)
        libs.install(self.lua)
        source = resources.files("valkdb.scripting").joinpath("bootstrap.lua").read_bytes()
        load = self.lua.eval("function(source) return assert(loadstring(source, '=valkdb')) end")
        bootstrap = load(source)
        self.api = bootstrap(
            self._call, self._pcall, self._error_info, self._log, self._setresp,
            self._set_repl, self._sha1hex, self._acl_check_cmd, self._random, self._randomseed,
            self._in_run, self._tick, REDIS_VERSION.encode(), version_num(REDIS_VERSION))
        api = self.api
        self._run_eval = api.run_eval
        self._run_function = api.run_function
        self._compile = api.compile
        self._arm_hook = api.arm_hook
        self._ok_table = api.ok_table
        self._err_table = api.err_table
        self._table_from = self.lua.table_from
        self.ctx = ScriptContext(server)
        self.run: Run | None = None
        # While FUNCTION LOAD runs a library's code: when the load times out (monotonic).
        self.load_deadline: float | None = None
        # The timeout hook stays armed: it costs nothing between its calls, every 100,000 Lua
        # instructions, and returns at once when no run is past its threshold.
        self._arm_hook(True)

    # -- compiling and running -------------------------------------------------------------

    def compile(self, body: bytes, chunkname: bytes = b"@user_script") -> tuple[Any, bytes]:
        """(the Lua function, b"") or (None, Lua's error message)."""
        result = self._compile(body, chunkname)
        if type(result) is tuple:  # nil, message
            return None, result[1]
        return result, b""

    def execute(self, caller: Context, function: Any, name: bytes, keys: list[bytes],
                args: list[bytes], read_only: bool, allow_oom: bool = True,
                eval_mode: bool = True) -> bytes:
        """Run a compiled script for the caller; its reply in the caller's protocol."""
        run = Run(caller, name, read_only, allow_oom, eval_mode)
        ctx = self.ctx
        ctx.db = caller.db
        ctx.resp = RESP2_ENCODER  # scripts start in RESP2 (redis.setresp changes it)
        # Client tracking: the script's reads remember its declared keys, for its caller.
        ctx.caller, ctx.tracking, ctx.script_keys = caller, caller.tracking, keys
        self.run = run
        try:
            runner = self._run_eval if eval_mode else self._run_function
            reply = runner(function, name, len(keys), caller.resp.version == 3, *keys, *args)
        finally:
            self.run = None
            ctx.caller, ctx.tracking = None, None  # type: ignore[assignment]
            if run.killed or run.closed:
                self._arm_hook(True)  # the count hook again, in place of the kill's line hook
            if run.timed_out:
                self.server.busy_script = None
                self.server.update_gate()
        if run.closed:
            raise gevent.GreenletExit  # the connection goes without the script's reply
        return reply

    # -- redis.call / redis.pcall ----------------------------------------------------------

    def _call(self, *args: Any) -> Any:
        reply = self._command(args)
        kind = reply[0]
        if kind == 58:  # ':' the commonest reply, converted here
            return int(reply[1:-2])
        if kind == 45:  # '-'
            raise ScriptCallError(reply[:-2], counted=True)
        return self._to_lua(reply)

    def _pcall(self, *args: Any) -> Any:
        try:
            reply = self._command(args)
        except ScriptCallError as exc:
            return self._err_table(exc.text, exc.counted)
        if reply[:1] == b"-":
            return self._err_table(reply[:-2], True)
        return self._to_lua(reply)

    def _command(self, args: tuple) -> bytes:
        """Check and run one command from the script (scriptCall); its reply bytes."""
        run = self.run
        if run is None:
            raise ScriptCallError(b"redis.call/pcall can only be called inside a script "
                                  b"invocation")
        argv = list(args)
        for arg in argv:
            if type(arg) is not bytes:
                argv = _argv(args)
                break
        if not argv:
            _argv(args)  # raises Redis's error for a call without arguments
        entry = _SCRIPT_COMMANDS.get(argv[0]) or _script_command(argv)
        if entry.subcommands is not None and len(argv) > 1:
            entry = _script_command(argv)
        arity = entry.arity
        if arity != len(argv) and (arity > 0 or len(argv) < -arity):
            raise ScriptCallError(b"Wrong number of args calling Redis command from script",
                                  counted=True)
        if entry.no_script:
            raise ScriptCallError(b"This Redis command is not allowed from script", counted=True)
        if entry.write or entry.may_replicate:
            if run.read_only:
                raise ScriptCallError(b"Write commands are not allowed from read-only scripts.",
                                      counted=True)
            if entry.write and not run.write_dirty:
                gate = self.server.gate
                refusal = gate(self.ctx, entry, argv) if gate is not None else None
                if refusal is not None and refusal[:8] != b"-LOADING" and refusal[:5] != b"-BUSY":
                    raise ScriptCallError(refusal[:-2], counted=True)
                run.write_dirty = True
        self.server.monitoring.clock = time.monotonic_ns()  # the command's duration starts here
        if run.repl & 1:
            return call(self.ctx, entry, argv)
        # redis.set_repl without REPL_AOF: the command's effects are not propagated (to the
        # AOF, the only output so far)
        ops = self.server.propagation.ops
        logged = len(ops)
        reply = call(self.ctx, entry, argv)
        del ops[logged:]
        return reply

    def _to_lua(self, reply: bytes) -> Any:
        """A command's reply as Lua values (redisProtocolToLuaType); the common ones first."""
        kind = reply[0]
        if kind == 58:  # ':'
            return int(reply[1:-2])
        if kind == 36:  # '$'
            if reply[1] == 45:  # $-1
                return False
            return reply[reply.index(b"\n") + 1 : -2]
        if kind == 43:  # '+'
            return self._ok_table(reply[1:-2])
        value, _ = self._parse(reply, 0)
        return value

    def _parse(self, buf: bytes, pos: int) -> tuple[Any, int]:
        kind = buf[pos]
        end = buf.index(b"\r\n", pos)
        line = buf[pos + 1 : end]
        pos = end + 2
        api = self.api
        if kind == 58:  # ':'
            return int(line), pos
        if kind in (36, 61):  # '$' '=' (verbatim)
            size = int(line)
            if size < 0:
                return False, pos
            data = buf[pos : pos + size]
            if kind == 61:
                return api.verbatim_table(data[:3], data[4:]), pos + size + 2
            return data, pos + size + 2
        if kind == 43:  # '+'
            return self._ok_table(line), pos
        if kind == 45:  # '-'
            return self._err_table(b"-" + line), pos
        if kind in (42, 126, 37, 124):  # '*' '~' '%' '|'
            count = int(line)
            if count < 0:
                return False, pos
            if kind == 124:  # attributes are not shown to scripts: skip them
                for _ in range(2 * count):
                    _, pos = self._parse(buf, pos)
                return self._parse(buf, pos)
            if kind == 37:
                pairs = {}
                for _ in range(count):
                    key, pos = self._parse(buf, pos)
                    pairs[key], pos = self._parse(buf, pos)
                return api.map_table(self._table_from(pairs)), pos
            items = []
            for _ in range(count):
                item, pos = self._parse(buf, pos)
                items.append(item)
            if kind == 126:
                return api.set_table(self._table_from(dict.fromkeys(items, True))), pos
            return self._table_from(items), pos
        if kind == 95:  # '_'
            return None, pos
        if kind == 35:  # '#'
            return line == b"t", pos
        if kind == 44:  # ','
            return api.double_table(float(line)), pos
        if kind == 40:  # '('
            return api.big_table(line), pos
        raise ValueError(f"unexpected reply type {chr(kind)!r}")

    def _error_info(self, exc: Any) -> tuple[bytes, bytes, bool] | None:
        """(kind, text, counted) of an error an API function raised (None: not one of ours)."""
        if isinstance(exc, ScriptCallError):
            return exc.kind, exc.text, exc.counted
        if isinstance(exc, Exception):  # a bug: the script sees it, it does not crash us
            return (b"table", f"internal error in a script call: {type(exc).__name__}".encode(),
                    False)
        return None

    # -- the rest of the redis.* API -------------------------------------------------------

    def _log(self, *args: Any) -> None:
        """redis.log(level, message ...) as luaLogCommand."""
        if len(args) < 2:
            raise ScriptCallError(b"redis.log() requires two arguments or more.")
        level = _lua_tonumber(args[0])
        if level is None:
            raise ScriptCallError(b"First argument must be a number (log level).")
        if not 0 <= int(level) <= 3:
            raise ScriptCallError(b"Invalid debug level.")
        parts = []
        for j, arg in enumerate(args[1:]):
            text = _lua_tostring(arg)
            if text is not None:
                parts.append(text if j == 0 else b" " + text)
        self.server.log.log(_LOG_LEVELS[int(level)], "%s",
                            b"".join(parts).decode("utf-8", "replace"))

    def _setresp(self, *args: Any) -> None:
        if self.run is None:
            raise ScriptCallError(b"redis.setresp can only be called inside a script invocation")
        if len(args) != 1:
            raise ScriptCallError(b"redis.setresp() requires one argument.")
        resp = int(_lua_tonumber(args[0]) or 0)
        if resp not in (2, 3):
            raise ScriptCallError(b"RESP version must be 2 or 3.")
        self.ctx.resp = RESP3_ENCODER if resp == 3 else RESP2_ENCODER

    def _set_repl(self, *args: Any) -> None:
        run = self.run
        if run is None:
            raise ScriptCallError(b"redis.set_repl can only be called inside a script invocation")
        if len(args) != 1:
            raise ScriptCallError(b"redis.set_repl() requires two arguments.")
        flags = int(_lua_tonumber(args[0]) or 0)
        if flags & ~3:
            raise ScriptCallError(b"Invalid replication flags. Use REPL_AOF, REPL_REPLICA, "
                                  b"REPL_ALL or REPL_NONE.")
        run.repl = flags

    def _sha1hex(self, *args: Any) -> bytes:
        if len(args) != 1:
            raise ScriptCallError(b"wrong number of arguments")
        return hashlib.sha1(_lua_tostring(args[0]) or b"").hexdigest().encode()

    def _acl_check_cmd(self, *args: Any) -> bool:
        if self.run is None:
            raise ScriptCallError(b"redis.acl_check_cmd can only be called inside a script "
                                  b"invocation")
        if _resolve(_argv(args)) is None:
            raise ScriptCallError(b"Invalid command passed to redis.acl_check_cmd()")
        return True  # every client is the default user, which may run everything

    def _in_run(self) -> int | None:
        """None outside a script's run, else the script's protocol (2 or 3)."""
        return None if self.run is None else self.ctx.resp.version

    def _random(self, *args: Any) -> float:
        """math.random on redisLrand48() % INT32_MAX / INT32_MAX, as redis_math_random."""
        if self.run is None:
            raise ScriptCallError(b"math.random can only be called inside a script invocation",
                                  b"string")
        _RAND48[0] = state = (0x5DEECE66D * _RAND48[0] + 0xB) & ((1 << 48) - 1)
        r = ((state >> 17) % 0x7FFFFFFF) / 0x7FFFFFFF
        if not args:
            return r
        if len(args) == 1:
            upper = _checkint(args, 1, "random")
            if upper < 1:
                raise ScriptCallError(b"bad argument #1 to 'random' (interval is empty)",
                                      b"string")
            return math.floor(r * upper) + 1
        if len(args) == 2:
            lower, upper = _checkint(args, 1, "random"), _checkint(args, 2, "random")
            if lower > upper:
                raise ScriptCallError(b"bad argument #2 to 'random' (interval is empty)",
                                      b"string")
            return math.floor(r * (upper - lower + 1)) + lower
        raise ScriptCallError(b"wrong number of arguments", b"string")

    def _randomseed(self, *args: Any) -> None:
        if self.run is None:
            raise ScriptCallError(b"math.randomseed can only be called inside a script "
                                  b"invocation", b"string")
        seed = _checkint(args, 1, "randomseed") & 0xFFFFFFFF
        _RAND48[0] = (seed << 16) | 0x330E

    # -- long scripts ----------------------------------------------------------------------

    def _tick(self) -> bytes | None:
        """The timeout hook (scriptInterrupt): past busy-reply-threshold, serve the event loop
        (other clients get -BUSY); a killed script gets its error."""
        run = self.run
        if run is None:
            deadline = self.load_deadline
            if deadline is not None and time.monotonic() > deadline:
                return b"FUNCTION LOAD timeout"  # luaEngineLoadHook
            return None
        if not run.timed_out:
            elapsed = (time.monotonic() - run.started) * 1000
            threshold = self.server.config.busy_reply_threshold
            if threshold <= 0 or elapsed < threshold:
                return None
            run.timed_out = True
            self.server.log.warning(
                "Slow script detected: still in execution after %d milliseconds. You can try "
                "killing the script using the %s command.", elapsed,
                "SCRIPT KILL" if run.eval_mode else "FUNCTION KILL")
            self.server.busy_script = self
            self.server.update_gate()
        try:
            gevent.sleep(0.0001)  # a timer: other clients' I/O is polled
        except gevent.GreenletExit:  # the caller is being closed (SHUTDOWN NOSAVE): no reply
            run.closed = True
            return b"Script killed by user with SCRIPT KILL..."
        if run.killed:
            self.server.log.warning("Lua script killed by user with SCRIPT KILL.")
            return b"Script killed by user with SCRIPT KILL..."
        return None

    def caller(self) -> Context | None:
        """The context whose script is running (None between scripts)."""
        return None if self.run is None else self.run.caller

    def busy_refusal(self, entry: Command) -> bytes | None:
        """While a script is past its threshold: -BUSY for every command not allow_busy."""
        return None if entry.allow_busy else self.busy_reply()

    def busy_reply(self) -> bytes:
        run = self.run
        return _BUSY_EVAL if run is None or run.eval_mode else _BUSY_FUNCTION

    def kill(self, eval_mode: bool) -> bytes:
        """SCRIPT KILL (eval_mode) / FUNCTION KILL (scriptKill)."""
        run = self.run
        if run is None or not run.timed_out:
            return errors.err("NOTBUSY No scripts in execution right now.")
        if run.write_dirty:
            return errors.err(
                "UNKILLABLE Sorry the script already executed write commands against the "
                "dataset. You can either wait the script termination or kill the server in a "
                "hard way using the SHUTDOWN NOSAVE command.")
        if eval_mode and not run.eval_mode:
            return _BUSY_FUNCTION
        if not eval_mode and run.eval_mode:
            return _BUSY_EVAL
        run.killed = True
        return b"+OK\r\n"

    def memory(self) -> int:
        """Bytes the Lua runtime uses (used_memory_lua)."""
        return int(self.lua.eval("collectgarbage('count')") * 1024)


def _argv(args: tuple) -> list[bytes]:
    """luaArgsToRedisArgv: the Lua arguments as a command's argv."""
    if not args:
        raise ScriptCallError(b"Please specify at least one argument for this redis lib call")
    argv = list(args)
    for i, arg in enumerate(argv):
        if type(arg) is not bytes:
            if type(arg) is int or type(arg) is float:
                argv[i] = b"%.17g" % arg  # Lua numbers lose nothing
                if arg != arg and math.copysign(1.0, arg) < 0:
                    argv[i] = b"-nan"  # as C's printf shows 0/0 on x86
            else:
                raise ScriptCallError(b"Lua redis lib command arguments must be strings or "
                                      b"integers")
    return argv


def _resolve(argv: list[bytes]) -> Command | None:
    """lookupCommand: a container with no subcommand argument is itself (and fails arity)."""
    entry = lookup(argv[0])
    if entry is not None and entry.subcommands is not None and len(argv) > 1:
        return entry.subcommands.get(argv[1].lower())
    return entry


# Commands a script may call, by the name as the script spells it: looked up once.
_SCRIPT_COMMANDS: dict[bytes, Command] = {}


def _script_command(argv: list[bytes]) -> Command:
    """The command argv names (else Redis's error for an unknown one); remembered when the name
    alone decides it (a command that is no container)."""
    entry = _resolve(argv)
    if entry is None:
        spec = TABLE.get(argv[0].lower().decode("latin-1"))
        if spec is not None and "noscript" in spec["flags"]:  # known to Redis, not here
            raise ScriptCallError(b"This Redis command is not allowed from script", counted=True)
        raise ScriptCallError(b"Unknown Redis command called from script", counted=True)
    if entry.parent is None and entry.subcommands is None and len(_SCRIPT_COMMANDS) < 4096:
        _SCRIPT_COMMANDS[argv[0]] = entry
    return entry


def _no_attributes(obj: Any, name: str, setting: bool) -> str:
    """Scripts see the Python functions of the API as opaque: no attribute reaches Python."""
    raise AttributeError(name)

