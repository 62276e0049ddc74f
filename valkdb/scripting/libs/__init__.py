"""The Lua libraries Redis 7.0 embeds in its scripting engine: cjson, cmsgpack, bit and struct.

All four are written in plain Lua and run inside the lupa Lua 5.1 runtime (each module says why
that beats Python functions for it).  ``install(lua)`` registers them the way Redis's
``luaLoadLibraries`` does (src/script_lua.c, 7.0.15): every library becomes a global; ``bit``
and ``struct`` use ``luaL_register`` and so also land in the registry's ``_LOADED`` table (which
is ``package.loaded`` when the package library is present), while ``cjson`` and ``cmsgpack``
only set their global.  Library functions are Lua wrappers that raise errors the way C
functions do (see ``_support`` for how, and for the one case they cannot match), and no Python
object is reachable from them.

Redis 7.0 additionally marks these tables read-only through its patched Lua VM; that
protection belongs to the sandbox that owns the runtime, not to this package.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from valkdb.scripting.libs import _support, bit, cjson, cmsgpack, struct

if TYPE_CHECKING:
    from lupa.lua51 import LuaRuntime

__all__ = ["install"]

_REGISTER = r"""
local cjson, struct, cmsgpack, bit = ...
local G = _G
G.cjson = cjson
G.struct = struct
G.cmsgpack = cmsgpack
G.bit = bit
local loaded
if debug and debug.getregistry then loaded = debug.getregistry()._LOADED end
if type(loaded) ~= "table" and type(package) == "table" then loaded = package.loaded end
if type(loaded) == "table" then
  loaded.struct = struct
  loaded.bit = bit
end
"""


def install(lua: LuaRuntime) -> None:
    """Create the globals cjson, cmsgpack, bit and struct in `lua` (a lupa lua51 runtime).

    Needs the runtime's standard libraries (base, string, table, math, coroutine, debug) as
    lupa opens them; call it before the sandbox removes ``debug`` or locks the globals.
    """
    helpers: Any = _support.load(lua)
    lua.execute(_REGISTER, cjson.load(lua, helpers), struct.load(lua, helpers),
                cmsgpack.load(lua, helpers), bit.load(lua, helpers),
                name="=valkdb.scripting.libs")
