"""MODULE (module.c) as a Redis that cannot load modules answers: valkdb has no module API.

LOAD, LOADEX and UNLOAD are protected, as in Redis: refused unless `enable-module-command`
allows them (see debug.py's `allowed`); once allowed, loading fails as an impossible load does
in Redis ("Error loading the extension") and unloading finds no module. LIST and HELP are not
protected: the list is empty.
"""

from __future__ import annotations

from valkdb import errors
from valkdb.commands.debug import allowed, refusal
from valkdb.commands.keys import help_reply
from valkdb.core.context import Context
from valkdb.core.registry import command, container, protect
from valkdb.protocol.encoder import EMPTY_ARRAY

_MODULE_HELP = (
    b"MODULE <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    b"LIST",
    b"    Return a list of loaded modules.",
    b"LOAD <path> [<arg> ...]",
    b"    Load a module library from <path>, passing to it any optional arguments.",
    b"LOADEX <path> [[CONFIG NAME VALUE] [CONFIG NAME VALUE]] [ARGS ...]",
    b"    Load a module library from <path>, while passing it module configurations"
    b" and optional arguments.",
    b"UNLOAD <name>",
    b"    Unload a module.",
    b"HELP",
    b"    Prints this help.",
)

_REFUSAL = refusal("MODULE", "enable-module-command")


def _gate(ctx: Context) -> bytes | None:
    return None if allowed(ctx, ctx.server.config.enable_module_command) else _REFUSAL


container("module")


@command("module|help")
def module_help(c: Context, argv: list[bytes]) -> bytes:
    return help_reply(list(_MODULE_HELP))


@command("module|list")
def module_list(c: Context, argv: list[bytes]) -> bytes:
    return EMPTY_ARRAY


@command("module|load")
def module_load(c: Context, argv: list[bytes]) -> bytes:
    c.server.log.warning("Module %s failed to load: valkdb cannot load modules",
                         errors.c_string(argv[2]).decode("utf-8", "replace"))
    return errors.err("ERR Error loading the extension. Please check the server logs.")


@command("module|loadex")
def module_loadex(c: Context, argv: list[bytes]) -> bytes:
    return module_load(c, argv)


@command("module|unload")
def module_unload(c: Context, argv: list[bytes]) -> bytes:
    return errors.err("ERR Error unloading module: no such module with that name")


for _name in ("module|load", "module|loadex", "module|unload"):
    protect(_name, _gate)
