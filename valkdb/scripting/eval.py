"""EVAL, EVALSHA, EVAL_RO, EVALSHA_RO and SCRIPT (Redis's eval.c), on the Lua engine.

Scripts are cached by the SHA1 of their body, compiled once. A script may start with a shebang,
`#!lua flags=no-writes,allow-oom,...`: without one it runs in compatibility mode (may write,
as Redis 6 scripts); with one only the declared flags apply. What a script changes propagates
as its commands (effects replication), wrapped in MULTI/EXEC by the bus; EVAL itself never
does.
"""

from __future__ import annotations

import hashlib
from typing import Any

from valkdb import errors
from valkdb.commands.args import to_int
from valkdb.commands.keys import help_reply
from valkdb.core.context import Context
from valkdb.core.registry import command, container
from valkdb.errors import CommandError
from valkdb.protocol.encoder import OK, bulk, integer
from valkdb.protocol.reader import split_args
from valkdb.scripting.engine import LuaEngine

NO_WRITES, ALLOW_OOM, ALLOW_STALE, NO_CLUSTER, ALLOW_CROSS_SLOT = (1, 2, 4, 8, 16)
COMPAT_MODE = 1 << 8  # no shebang: Redis 6 semantics
SCRIPT_FLAGS = {b"no-writes": NO_WRITES, b"allow-oom": ALLOW_OOM, b"allow-stale": ALLOW_STALE,
                b"no-cluster": NO_CLUSTER, b"allow-cross-slot-keys": ALLOW_CROSS_SLOT}

NOSCRIPT = errors.err("NOSCRIPT No matching script. Please use EVAL.")
_RO_WITH_WRITES = errors.err("ERR Can not execute a script with write flag using *_ro command.")


class Script:
    __slots__ = ("body", "flags", "function")

    def __init__(self, body: bytes, flags: int, function: Any) -> None:
        self.body = body
        self.flags = flags
        self.function = function


class ScriptCache:
    """The server's EVAL scripts (lctx.lua_scripts) and the runtime they are compiled in."""

    def __init__(self, server: Any) -> None:
        self.server = server
        self.engine = LuaEngine(server)
        self.scripts: dict[bytes, Script] = {}
        self.memory = 0  # bytes of script bodies (used_memory_scripts_eval)

    def flush(self) -> None:
        """SCRIPT FLUSH: a new runtime, no scripts (scriptingReset)."""
        self.engine = LuaEngine(self.server)
        self.scripts.clear()
        self.memory = 0

    def create(self, body: bytes) -> tuple[bytes, Script]:
        """luaCreateFunction: the script's SHA1 and entry, compiled if new; CommandError with
        Redis's reply when the shebang or the code is wrong."""
        sha = hashlib.sha1(body).hexdigest().encode()
        script = self.scripts.get(sha)
        if script is not None:
            return sha, script
        flags, shebang_length = shebang_flags(body)
        function, message = self.engine.compile(body[shebang_length:])
        if function is None:
            raise CommandError(errors.err(
                "ERR Error compiling script (new function): " + message.decode("utf-8", "replace")))
        script = Script(body, flags, function)
        self.scripts[sha] = script
        self.memory += len(body) + 40
        return sha, script


def shebang_flags(body: bytes) -> tuple[int, int]:
    """evalExtractShebangFlags: (flags, length of the shebang line without its newline)."""
    if not body.startswith(b"#!"):
        return COMPAT_MODE, 0
    end = body.find(b"\n")
    if end < 0:
        raise CommandError(errors.err("ERR Invalid script shebang"))
    parts = split_args(body[:end])
    if not parts:
        raise CommandError(errors.err("ERR Invalid engine in script shebang"))
    if parts[0] != b"#!lua":
        raise CommandError(errors.err(
            "ERR Unexpected engine in script shebang: " + parts[0].decode("utf-8", "replace")))
    flags = 0
    for part in parts[1:]:
        if not part.startswith(b"flags="):
            raise CommandError(errors.err(
                "ERR Unknown lua shebang option: " + part.decode("utf-8", "replace")))
        for name in part[6:].split(b",") if part[6:] else ():  # "flags=" declares none
            flag = SCRIPT_FLAGS.get(name)
            if flag is None:
                raise CommandError(errors.err(
                    "ERR Unexpected flag in script shebang: " + name.decode("utf-8", "replace")))
            flags |= flag
    return flags, end


def scripts(c) -> ScriptCache:  # type: ignore[no-untyped-def]
    cache = c.server.scripts
    if cache is None:
        cache = c.server.scripts = ScriptCache(c.server)
    return cache


def prepare(c, flags: int, read_only_command: bool) -> tuple[bool, bool]:  # type: ignore[no-untyped-def]
    """scriptPrepareForRun's checks; (run read-only, may exceed maxmemory)."""
    if not flags & COMPAT_MODE and not flags & NO_WRITES:
        server = c.server
        if server.rdb.refuses_writes:
            raise CommandError(errors.err(
                "MISCONF Redis is configured to save RDB snapshots, but it's currently unable "
                "to persist to disk. Writable scripts are blocked. Use 'no-writes' flag for read "
                "only scripts."))
        if server.aof is not None and server.aof.write_error is not None:
            raise CommandError(errors.err(
                "MISCONF Redis is configured to persist data to AOF, but it's currently unable "
                "to persist to disk. Writable scripts are blocked. Use 'no-writes' flag for read "
                "only scripts. AOF error: " + server.aof.write_error))
        if read_only_command:
            raise CommandError(_RO_WITH_WRITES)
    read_only = read_only_command or (not flags & COMPAT_MODE and bool(flags & NO_WRITES))
    allow_oom = not flags & COMPAT_MODE and bool(flags & ALLOW_OOM)
    return read_only, allow_oom


def _evaluate(c, argv: list[bytes], by_sha: bool, read_only_command: bool) -> bytes:  # type: ignore[no-untyped-def]
    if by_sha and len(argv[1]) != 40:
        return NOSCRIPT
    numkeys = to_int(argv[2])
    if numkeys > len(argv) - 3:
        return errors.err("ERR Number of keys can't be greater than number of args")
    if numkeys < 0:
        return errors.err("ERR Number of keys can't be negative")
    cache = scripts(c)
    if by_sha:
        sha = argv[1].lower()
        script = cache.scripts.get(sha)
        if script is None:
            return NOSCRIPT
    else:
        sha, script = cache.create(argv[1])
    if script.flags & COMPAT_MODE and not read_only_command:  # the common case
        read_only = allow_oom = False
    else:
        read_only, allow_oom = prepare(c, script.flags, read_only_command)
    keys = argv[3 : 3 + numkeys]
    args = argv[3 + numkeys :]
    return cache.engine.execute(c, script.function, sha, keys, args, read_only, allow_oom)


@command("eval")
def eval_(c: Context, argv: list[bytes]) -> bytes:
    return _evaluate(c, argv, by_sha=False, read_only_command=False)


@command("evalsha")
def evalsha(c: Context, argv: list[bytes]) -> bytes:
    return _evaluate(c, argv, by_sha=True, read_only_command=False)


@command("eval_ro")
def eval_ro(c: Context, argv: list[bytes]) -> bytes:
    return _evaluate(c, argv, by_sha=False, read_only_command=True)


@command("evalsha_ro")
def evalsha_ro(c: Context, argv: list[bytes]) -> bytes:
    return _evaluate(c, argv, by_sha=True, read_only_command=True)


# -- SCRIPT ---------------------------------------------------------------------------------

_SCRIPT_HELP = [
    b"SCRIPT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    b"DEBUG (YES|SYNC|NO)",
    b"    Set the debug mode for subsequent scripts executed.",
    b"EXISTS <sha1> [<sha1> ...]",
    b"    Return information about the existence of the scripts in the script cache.",
    b"FLUSH [ASYNC|SYNC]",
    b"    Flush the Lua scripts cache. Very dangerous on replicas.",
    b"    When called without the optional mode argument, the behavior is determined by the",
    b"    lazyfree-lazy-user-flush configuration directive. Valid modes are:",
    b"    * ASYNC: Asynchronously flush the scripts cache.",
    b"    * SYNC: Synchronously flush the scripts cache.",
    b"KILL",
    b"    Kill the currently executing Lua script.",
    b"LOAD <script>",
    b"    Load a script into the scripts cache without executing it.",
    b"HELP",
    b"    Prints this help.",
]


container("script")


@command("script|help")
def script_help(c: Context, argv: list[bytes]) -> bytes:
    return help_reply(_SCRIPT_HELP)


@command("script|flush")
def script_flush(c: Context, argv: list[bytes]) -> bytes:
    if len(argv) > 3 or len(argv) == 3 and argv[2].lower() not in (b"sync", b"async"):
        return errors.err("ERR SCRIPT FLUSH only support SYNC|ASYNC option")
    scripts(c).flush()
    return OK


@command("script|exists")
def script_exists(c: Context, argv: list[bytes]) -> bytes:
    known = scripts(c).scripts
    return b"*%d\r\n%s" % (len(argv) - 2,
                           b"".join(integer(int(sha.lower() in known)) for sha in argv[2:]))


@command("script|load")
def script_load(c: Context, argv: list[bytes]) -> bytes:
    sha, _ = scripts(c).create(argv[2])
    return bulk(sha)


@command("script|kill")
def script_kill(c: Context, argv: list[bytes]) -> bytes:
    engine = c.server.busy_script
    if engine is None:
        return errors.err("NOTBUSY No scripts in execution right now.")
    return engine.kill(eval_mode=True)


@command("script|debug")
def script_debug(c: Context, argv: list[bytes]) -> bytes:
    mode = argv[2].lower()
    if mode == b"no":
        return OK
    if mode in (b"yes", b"sync"):
        return errors.err("ERR The Lua debugger (SCRIPT DEBUG YES|SYNC) is not available in "
                          "valkdb")
    return errors.err("ERR Use SCRIPT DEBUG YES/SYNC/NO")
