"""Redis 7.0 functions: libraries (FUNCTION LOAD / DELETE / FLUSH / LIST / STATS / DUMP / RESTORE
/ KILL / HELP) and FCALL / FCALL_RO (Redis's functions.c and function_lua.c).

A library is code that starts with `#!lua name=<library>`; loading runs it once, in the
functions' own Lua runtime (a second LuaEngine, as Redis keeps a lua_State for functions apart
from EVAL's), with globals where only `redis.register_function`, `redis.log` and the version
exist (functions.lua). The functions it registers are kept by name, case-insensitively across
libraries as Redis's dict is, and run through the engine like an EVAL script with the
function's name in place of the SHA1, KEYS and ARGV as their two arguments.

Libraries are part of the dataset: the FUNCTION commands that change them count as changes
(server.dirty), so the dispatcher propagates them as sent and save points count them; the RDB
saves them as Redis 7.0 does (one RDB_OPCODE_FUNCTION2 record per library, its code as a
string) and an AOF rewrite writes one FUNCTION LOAD per library.

FUNCTION DUMP's payload is those RDB records plus the RDB version and a CRC64, the format of
DUMP. Its codec belongs to persistence (RDB strings, LZF, CRC64), a layer above this one, so it
is not imported here: the server hands the registry a `PayloadCodec` (server.py wires
persistence.rdb's), the one place where both layers meet. The registry itself, like the Lua
runtime it compiles into, knows nothing of files.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from importlib import resources
from typing import Any, NamedTuple

from valkdb import REDIS_VERSION, errors
from valkdb.commands.keys import help_reply
from valkdb.core.context import Context
from valkdb.core.registry import Command, command, container
from valkdb.errors import CommandError
from valkdb.glob import matcher
from valkdb.protocol.encoder import OK, bulk, integer, simple
from valkdb.protocol.reader import parse_length, split_args
from valkdb.scripting.engine import LuaEngine, version_num
from valkdb.scripting.eval import COMPAT_MODE, NO_WRITES, SCRIPT_FLAGS, prepare, shebang_flags

LOAD_TIMEOUT = 0.5  # seconds a library's code may run at load (LOAD_TIMEOUT_MS)
ENGINE_NAME = b"LUA"
# FUNCTION LIST shows flags in this order (scripts_flags_def)
_FLAG_ORDER = tuple(SCRIPT_FLAGS.items())
_BAD_NAME = ("Library names can only contain letters, numbers, or underscores(_) and must be at "
             "least one character long")
_NAME_CHARS = frozenset(b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_")


class FunctionError(Exception):
    """A library refused; str() is Redis's message (without the ERR code)."""


class PayloadCodec(NamedTuple):
    """FUNCTION DUMP / RESTORE's payload format, from the persistence layer: `dump(codes)` the
    payload of these library codes; `load(payload)` iterates over the codes in a payload and
    raises ValueError with Redis's message where it is bad (Redis compiles each library as
    it reads it, so an earlier library's error comes first)."""

    dump: Callable[[list[bytes]], bytes]
    load: Callable[[bytes], Iterator[bytes]]


class Function:
    __slots__ = ("name", "callback", "description", "flags", "library")

    def __init__(self, name: bytes, callback: Any, description: bytes | None, flags: int,
                 library: Library) -> None:
        self.name = name
        self.callback = callback
        self.description = description
        self.flags = flags
        self.library = library


class Library:
    __slots__ = ("name", "code", "functions")

    def __init__(self, name: bytes, code: bytes) -> None:
        self.name = name
        self.code = code
        self.functions: dict[bytes, Function] = {}  # by name, case-sensitive


class Libraries:
    """A set of libraries and the functions they register (functionsLibCtx): the server's,
    or one being restored before it joins the server's."""

    def __init__(self) -> None:
        self.libraries: dict[bytes, Library] = {}
        self.functions: dict[bytes, Function] = {}  # by lower-cased name: FCALL ignores case

    def link(self, library: Library) -> None:
        for name, function in library.functions.items():
            self.functions.setdefault(name.lower(), function)
        self.libraries[library.name] = library

    def unlink(self, library: Library) -> None:
        for name in library.functions:
            if self.functions.get(name.lower()) in library.functions.values():
                del self.functions[name.lower()]
        del self.libraries[library.name]

    def colliding(self, library: Library) -> bytes | None:
        """The first of the library's functions another library here already has."""
        for name in library.functions:
            if name.lower() in self.functions:
                return name
        return None


def library_metadata(code: bytes) -> tuple[bytes, bytes]:
    """functionExtractLibMetaData: (engine, library name) from the shebang line."""
    if not code.startswith(b"#!"):
        raise FunctionError("Missing library metadata")
    end = code.find(b"\n")
    if end < 0 or b"\0" in code[:end]:
        raise FunctionError("Invalid library metadata")
    parts = split_args(code[:end])
    if not parts:
        raise FunctionError("Invalid library metadata")
    name = None
    for part in parts[1:]:
        if part[:5].lower() == b"name=":
            if name is not None:
                raise FunctionError("Invalid metadata value, name argument was given multiple "
                                    "times")
            name = part[5:]
            continue
        raise FunctionError("Invalid metadata value given: " + _text(part))
    if name is None:
        raise FunctionError("Library name was not given")
    return parts[0][2:], name


def _valid_name(name: bytes) -> bool:
    return bool(name) and _NAME_CHARS.issuperset(name)


def _text(data: bytes) -> str:
    return data.partition(b"\0")[0].decode("utf-8", "surrogateescape")


class Functions:
    """The server's libraries (server.functions) and the Lua runtime they run in, made on
    first use; `running` is the argv of the FCALL in progress (FUNCTION STATS)."""

    def __init__(self, server: Any, codec: PayloadCodec | None = None) -> None:
        self.server = server
        self.codec = codec
        self.current = Libraries()
        self.running: list[bytes] | None = None
        self._engine: LuaEngine | None = None
        self._load: Any = None  # functions.lua's load(code)

    @property
    def engine(self) -> LuaEngine:
        engine = self._engine
        if engine is None:
            engine = self._engine = LuaEngine(self.server)
            source = resources.files("valkdb.scripting").joinpath("functions.lua").read_bytes()
            compile_ = engine.lua.eval(
                "function(source) return assert(loadstring(source, '=valkdb')) end")
            self._load = compile_(source)(engine.api.globals, engine._log,
                                          REDIS_VERSION.encode(), version_num(REDIS_VERSION))
        return engine

    def codes(self) -> list[bytes]:
        """Every library's code, as the RDB and an AOF rewrite save them."""
        return [library.code for library in self.current.libraries.values()]

    def create(self, code: bytes, replace: bool, into: Libraries | None = None,
               timeout: float = LOAD_TIMEOUT) -> bytes:
        """functionsCreateWithLibraryCtx: compile and link a library; its name. FunctionError
        when refused (then nothing changed)."""
        libraries = self.current if into is None else into
        engine_name, name = library_metadata(code)
        if not _valid_name(name):
            raise FunctionError(_BAD_NAME)
        if engine_name.lower() != b"lua":
            raise FunctionError(f"Engine '{_text(engine_name)}' not found")
        old = libraries.libraries.get(name)
        if old is not None and not replace:
            raise FunctionError(f"Library '{_text(name)}' already exists")
        library = self._compile(name, code, timeout)
        if old is not None:
            libraries.unlink(old)
        collision = libraries.colliding(library)
        if collision is not None:
            if old is not None:
                libraries.link(old)
            raise FunctionError(f"Function {_text(collision)} already exists")
        libraries.link(library)
        return name

    def _compile(self, name: bytes, code: bytes, timeout: float) -> Library:
        engine = self.engine
        engine.load_deadline = time.monotonic() + timeout if timeout > 0 else None
        try:
            result = self._load(code[code.index(b"\n"):])
        finally:
            if engine.load_deadline is not None:
                engine.load_deadline = None
                engine._arm_hook(True)  # the count hook again, should the timeout have fired
        if type(result) is tuple:  # nil, message
            raise FunctionError(result[1].decode("utf-8", "surrogateescape"))
        library = Library(name, code)
        for entry in result.values():
            function_name, callback, description, flag_names = (entry[1], entry[2], entry[3],
                                                                entry[4])
            flags = 0
            for flag in flag_names.values():
                flags |= SCRIPT_FLAGS[flag]
            library.functions[function_name] = Function(
                function_name, callback, None if description is False else description, flags,
                library)
        if not library.functions:
            raise FunctionError("No functions registered")
        return library

    def join(self, restored: Libraries, replace: bool) -> None:
        """libraryJoin: link restored libraries, replacing same-named ones when `replace`;
        all or nothing."""
        current = self.current
        replaced = []
        try:
            for name in restored.libraries:
                old = current.libraries.get(name)
                if old is not None:
                    if not replace:
                        raise FunctionError(f"Library {_text(name)} already exists")
                    current.unlink(old)
                    replaced.append(old)
            for library in restored.libraries.values():
                collision = current.colliding(library)
                if collision is not None:
                    raise FunctionError(f"Function {_text(collision)} already exists")
        except FunctionError:
            for old in replaced:
                current.link(old)
            raise
        for library in restored.libraries.values():
            current.link(library)

    def restore_codes(self, codes: Iterable[bytes]) -> Libraries:
        """The libraries of a payload, compiled apart from the server's."""
        restored = Libraries()
        try:
            for code in codes:
                self.create(code, False, restored, timeout=0)
        except ValueError as exc:  # the payload itself is bad
            raise FunctionError(str(exc)) from None
        return restored

    def memory(self) -> int:
        """used_memory_vm_functions: the runtime's bytes (Redis's starts with one too)."""
        return self.engine.memory()

    def overhead(self) -> int:
        """used_memory_functions, estimated as Redis sums it: structures, names, code."""
        total = 0
        for library in self.current.libraries.values():
            total += 64 + len(library.name) + len(library.code)
            for function in library.functions.values():
                total += 72 + len(function.name) + len(function.description or b"")
        return total + 200


def registry(c: Context) -> Functions:
    functions: Functions = c.server.functions
    return functions


# -- FUNCTION ---------------------------------------------------------------------------------

container("function")


def _changed(c: Context) -> None:
    """The libraries changed: a change to propagate and for the save points (server.dirty++)."""
    c.server.dirty += 1


@command("function|load")
def function_load(c: Context, argv: list[bytes]) -> bytes:
    replace = False
    position = 2
    while position < len(argv) - 1:
        option = argv[position]
        position += 1
        if option.lower() == b"replace":
            replace = True
            continue
        return errors.err("ERR Unknown option given: " + _oneline(option))
    timeout = 0.0 if c.server.loading else LOAD_TIMEOUT  # the AOF is obeyed, however slow
    try:
        name = registry(c).create(argv[position], replace, timeout=timeout)
    except FunctionError as exc:
        return _error(exc)
    _changed(c)
    return bulk(name)


@command("function|delete")
def function_delete(c: Context, argv: list[bytes]) -> bytes:
    current = registry(c).current
    library = current.libraries.get(argv[2])
    if library is None:
        return errors.err("ERR Library not found")
    current.unlink(library)
    _changed(c)
    return OK


@command("function|flush")
def function_flush(c: Context, argv: list[bytes]) -> bytes:
    if len(argv) > 3:
        return _subcommand_syntax(argv)
    if len(argv) == 3 and argv[2].lower() not in (b"sync", b"async"):
        return errors.err("ERR FUNCTION FLUSH only supports SYNC|ASYNC option")
    registry(c).current = Libraries()
    _changed(c)
    return OK


@command("function|list")
def function_list(c: Context, argv: list[bytes]) -> bytes:
    with_code = False
    pattern = None
    i = 2
    while i < len(argv):
        arg = argv[i].lower()
        if not with_code and arg == b"withcode":
            with_code = True
        elif pattern is None and arg == b"libraryname":
            if i >= len(argv) - 1:
                return errors.err("ERR library name argument was not given")
            i += 1
            pattern = argv[i]
        else:
            return errors.err("ERR Unknown argument " + _oneline(argv[i]))
        i += 1
    resp = c.resp
    match = matcher(pattern, nocase=True) if pattern is not None else None
    replies = []
    for library in registry(c).current.libraries.values():
        if match is not None and not match(library.name):
            continue
        functions = []
        for function in library.functions.values():
            description = (resp.null if function.description is None
                           else bulk(function.description))
            flags = resp.set([simple(name) for name, bit in _FLAG_ORDER
                              if function.flags & bit])
            functions.append(resp.map(((bulk(b"name"), bulk(function.name)),
                                       (bulk(b"description"), description),
                                       (bulk(b"flags"), flags))))
        fields = [(bulk(b"library_name"), bulk(library.name)),
                  (bulk(b"engine"), bulk(ENGINE_NAME)),
                  (bulk(b"functions"), b"*%d\r\n%s" % (len(functions), b"".join(functions)))]
        if with_code:
            fields.append((bulk(b"library_code"), bulk(library.code)))
        replies.append(resp.map(fields))
    return b"*%d\r\n%s" % (len(replies), b"".join(replies))


@command("function|stats")
def function_stats(c: Context, argv: list[bytes]) -> bytes:
    functions = registry(c)
    busy = c.server.busy_script
    run = None if busy is None else busy.run
    if run is not None and run.eval_mode:
        return busy.busy_reply()
    resp = c.resp
    if run is None or functions.running is None:
        running = resp.null
    else:
        command_argv = functions.running
        running = resp.map((
            (bulk(b"name"), bulk(run.name)),
            (bulk(b"command"), b"*%d\r\n%s" % (len(command_argv),
                                               b"".join(bulk(a) for a in command_argv))),
            (bulk(b"duration_ms"), integer(int((time.monotonic() - run.started) * 1000)))))
    current = functions.current
    engine = resp.map(((bulk(b"libraries_count"), integer(len(current.libraries))),
                       (bulk(b"functions_count"), integer(len(current.functions)))))
    return resp.map(((bulk(b"running_script"), running),
                     (bulk(b"engines"), resp.map(((bulk(ENGINE_NAME), engine),)))))


@command("function|kill")
def function_kill(c: Context, argv: list[bytes]) -> bytes:
    engine = c.server.busy_script
    if engine is None:
        return errors.err("NOTBUSY No scripts in execution right now.")
    return engine.kill(eval_mode=False)  # type: ignore[no-any-return]


@command("function|dump")
def function_dump(c: Context, argv: list[bytes]) -> bytes:
    functions = registry(c)
    assert functions.codec is not None, "the server wires the payload codec"
    return bulk(functions.codec.dump(functions.codes()))


@command("function|restore")
def function_restore(c: Context, argv: list[bytes]) -> bytes:
    if len(argv) > 4:
        return _subcommand_syntax(argv)
    policy = b"append"
    if len(argv) == 4:
        policy = argv[3].lower()
        if policy not in (b"append", b"replace", b"flush"):
            return errors.err("ERR Wrong restore policy given, value should be either FLUSH, "
                              "APPEND or REPLACE.")
    functions = registry(c)
    assert functions.codec is not None, "the server wires the payload codec"
    try:
        restored = functions.restore_codes(functions.codec.load(argv[2]))
        if policy == b"flush":
            functions.current = restored
        else:
            functions.join(restored, replace=policy == b"replace")
    except FunctionError as exc:
        return _error(exc)
    _changed(c)
    return OK


_FUNCTION_HELP = [line.encode() for line in (
    "FUNCTION <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "LOAD [REPLACE] <FUNCTION CODE>",
    "    Create a new library with the given library name and code.",
    "DELETE <LIBRARY NAME>",
    "    Delete the given library.",
    "LIST [LIBRARYNAME PATTERN] [WITHCODE]",
    "    Return general information on all the libraries:",
    "    * Library name",
    "    * The engine used to run the Library",
    "    * Library description",
    "    * Functions list",
    "    * Library code (if WITHCODE is given)",
    "    It also possible to get only function that matches a pattern using LIBRARYNAME argument.",
    "STATS",
    "    Return information about the current function running:",
    "    * Function name",
    "    * Command used to run the function",
    "    * Duration in MS that the function is running",
    "    If no function is running, return nil",
    "    In addition, returns a list of available engines.",
    "KILL",
    "    Kill the current running function.",
    "FLUSH [ASYNC|SYNC]",
    "    Delete all the libraries.",
    "    When called without the optional mode argument, the behavior is determined by the",
    "    lazyfree-lazy-user-flush configuration directive. Valid modes are:",
    "    * ASYNC: Asynchronously flush the libraries.",
    "    * SYNC: Synchronously flush the libraries.",
    "DUMP",
    "    Return a serialized payload representing the current libraries, can be restored using "
    "FUNCTION RESTORE command",
    "RESTORE <PAYLOAD> [FLUSH|APPEND|REPLACE]",
    "    Restore the libraries represented by the given payload, it is possible to give a "
    "restore policy to",
    "    control how to handle existing libraries (default APPEND):",
    "    * FLUSH: delete all existing libraries.",
    "    * APPEND: appends the restored libraries to the existing libraries. On collision, abort.",
    "    * REPLACE: appends the restored libraries to the existing libraries, On collision, "
    "replace the old",
    "      libraries with the new libraries (notice that even on this option there is a chance "
    "of failure",
    "      in case of functions name collision with another library).",
    "HELP",
    "    Prints this help.",
)]


@command("function|help")
def function_help(c: Context, argv: list[bytes]) -> bytes:
    return help_reply(_FUNCTION_HELP)


def _oneline(data: bytes) -> str:
    """addReplyErrorFormat's argument: no CR or LF inside an error line."""
    return _text(data).replace("\r", " ").replace("\n", " ")


def _error(exc: FunctionError) -> bytes:
    return errors.err("ERR " + str(exc).replace("\r", " ").replace("\n", " "))


def _subcommand_syntax(argv: list[bytes]) -> bytes:
    return errors.subcommand_syntax(argv[1], "function")


# -- FCALL ------------------------------------------------------------------------------------

def _fcall(c: Context, argv: list[bytes], read_only_command: bool) -> bytes:
    functions = registry(c)
    function = functions.current.functions.get(argv[1].lower())
    if function is None:
        return errors.err("ERR Function not found")
    numkeys = parse_length(argv[2])
    if numkeys is None:
        return errors.err("ERR Bad number of keys provided")
    if numkeys > len(argv) - 3:
        return errors.err("ERR Number of keys can't be greater than number of args")
    if numkeys < 0:
        return errors.err("ERR Number of keys can't be negative")
    if not function.flags & NO_WRITES:
        # The function's flags are the command's (scriptFlagsToCmdFlags): a writing one is
        # refused like any write command while writes are (processCommand's MISCONF).
        server = c.server
        if server.rdb.refuses_writes:
            return errors.MISCONF_RDB
        if server.aof is not None and server.aof.write_error is not None:
            return errors.misconf_aof(server.aof.write_error)
    try:
        read_only, allow_oom = prepare(c, function.flags, read_only_command)
    except CommandError as exc:
        return exc.reply
    keys = argv[3 : 3 + numkeys]
    args = argv[3 + numkeys :]
    functions.running = argv
    try:
        return functions.engine.execute(c, function.callback, function.name, keys, args,
                                        read_only, allow_oom, eval_mode=False)
    finally:
        functions.running = None


@command("fcall")
def fcall(c: Context, argv: list[bytes]) -> bytes:
    return _fcall(c, argv, read_only_command=False)


@command("fcall_ro")
def fcall_ro(c: Context, argv: list[bytes]) -> bytes:
    return _fcall(c, argv, read_only_command=True)


# -- what a script may do ---------------------------------------------------------------------

def may_write(server: Any, entry: Command, argv: list[bytes]) -> bool:
    """Whether a command may change the dataset or the replication stream (Redis's
    CMD_WRITE|CMD_MAY_REPLICATE), a script's declared flags standing for EVAL's and FCALL's
    own (evalGetCommandFlags, fcallGetCommandFlags): CLIENT PAUSE WRITE lets `no-writes`
    scripts run."""
    if not (entry.write or entry.may_replicate):
        return False
    flags: int | None = None
    if entry.name == "eval" and len(argv) > 1:
        try:
            flags = shebang_flags(argv[1])[0]
        except CommandError:
            return True
    elif entry.name == "evalsha" and len(argv) > 1 and server.scripts is not None:
        script = server.scripts.scripts.get(argv[1].lower())
        flags = None if script is None else script.flags
    elif entry.name == "fcall" and len(argv) > 1:
        function = server.functions.current.functions.get(argv[1].lower())
        flags = None if function is None else function.flags
    return flags is None or bool(flags & COMPAT_MODE) or not flags & NO_WRITES
