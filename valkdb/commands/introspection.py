"""COMMAND and its subcommands: what this server can run, described as Redis 7.0 describes it.

Everything reported is about the commands valkdb's registry actually has, from Redis's table
(core/registry.py, core/commands.json): arity, flags, key positions, ACL categories, tips, key
specs and the documentation (COMMAND DOCS, from which redis-cli 7.0 builds its hints), kept with
their RESP3 types so that the replies have Redis's shape in both protocols.
Encoded entries are cached per protocol: the registry does not change while the server runs.
"""

from __future__ import annotations

import functools
from typing import Any

from valkdb import errors
from valkdb.commands.keys import help_reply
from valkdb.core.context import Context
from valkdb.core.registry import COMMANDS, Command, command, container
from valkdb.errors import CommandError
from valkdb.glob import matcher
from valkdb.protocol.encoder import EMPTY_ARRAY, array, bulk, bulk_array, integer, simple
from valkdb.protocol.reader import parse_length

_HELP = [
    b"COMMAND <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    b"(no subcommand)",
    b"    Return details about all Redis commands.",
    b"COUNT",
    b"    Return the total number of commands in this Redis server.",
    b"LIST",
    b"    Return a list of all commands in this Redis server.",
    b"INFO [<command-name> ...]",
    b"    Return details about multiple Redis commands.",
    b"    If no command names are given, documentation details for all",
    b"    commands are returned.",
    b"DOCS [<command-name> ...]",
    b"    Return documentation details about multiple Redis commands.",
    b"    If no command names are given, documentation details for all",
    b"    commands are returned.",
    b"GETKEYS <full-command>",
    b"    Return the keys from a full Redis command.",
    b"GETKEYSANDFLAGS <full-command>",
    b"    Return the keys and the access flags from a full Redis command.",
    b"HELP",
    b"    Prints this help.",
]

# The flags COMMAND INFO shows, in Redis's order (server.c addReplyFlagsForCommand); the others
# (may_replicate, sentinel, only_sentinel, protected) it hides on purpose.
_SHOWN_FLAGS = (
    "write", "readonly", "denyoom", "module", "admin", "pubsub", "noscript", "blocking",
    "loading", "stale", "skip_monitor", "skip_slowlog", "asking", "fast", "no_auth",
    "no_mandatory_keys", "no_async_loading", "no_multi", "movablekeys", "allow_busy",
)

def encode(resp: Any, node: Any) -> bytes:
    """A value stored by tools/gen_command_docs.py, in the client's protocol."""
    if isinstance(node, str):
        return bulk(node.encode())
    if isinstance(node, int):
        return integer(node)
    if isinstance(node, list):
        return array([encode(resp, item) for item in node])
    if node is None:
        return resp.null
    if "map" in node:
        return resp.map([(bulk(k.encode()), encode(resp, v)) for k, v in node["map"].items()])
    if "set" in node:
        return resp.set([encode(resp, item) for item in node["set"]])
    return simple(node["simple"].encode())


def find(name: bytes) -> Command | None:
    """A command by its full name, 'get' or 'config|get', any case."""
    parent, _, sub = name.lower().partition(b"|")
    entry = COMMANDS.get(parent.decode("latin-1"))
    if entry is None or not sub:
        return entry
    return (entry.subcommands or {}).get(sub)


def subcommands(entry: Command) -> list[Command]:
    """Registered subcommands (Redis lists them in its hash order, random per process)."""
    return list((entry.subcommands or {}).values())


def _every_command() -> list[Command]:
    """Every command and subcommand, each container followed by its subcommands."""
    out = []
    for entry in COMMANDS.values():
        out.append(entry)
        out.extend(subcommands(entry))
    return out


@functools.lru_cache(maxsize=2048)
def info_entry(resp: Any, entry: Command) -> bytes:
    """COMMAND INFO's 10-element entry."""
    data = entry.spec
    subs = (array([info_entry(resp, sub) for sub in subcommands(entry)])
            if entry.subcommands is not None else resp.set([]))
    return array([
        bulk(entry.name.encode()), integer(entry.arity),
        resp.set([simple(flag.encode()) for flag in _SHOWN_FLAGS if flag in entry.flags]),
        integer(entry.first_key), integer(entry.last_key), integer(entry.step),
        encode(resp, data["acl_categories"]), encode(resp, data["tips"]),
        encode(resp, data["key_specs"]), subs,
    ])


@functools.lru_cache(maxsize=2048)
def docs_entry(resp: Any, entry: Command) -> bytes:
    """COMMAND DOCS's map of one command, its registered subcommands nested as Redis nests them."""
    pairs = [(bulk(k.encode()), encode(resp, v)) for k, v in entry.spec["docs"]["map"].items()]
    if entry.subcommands is not None:
        pairs.append((bulk(b"subcommands"), resp.map(
            [(bulk(sub.name.encode()), docs_entry(resp, sub)) for sub in subcommands(entry)])))
    return resp.map(pairs)


def _all_info(c: Context, argv: list[bytes]) -> bytes:
    return array([info_entry(c.resp, entry) for entry in COMMANDS.values()])


COMMAND = container("command")
COMMAND.handler = _all_info


@command("command|count")
def command_count(c: Context, argv: list[bytes]) -> bytes:
    return integer(len(COMMANDS))


@command("command|info")
def command_info(c: Context, argv: list[bytes]) -> bytes:
    if len(argv) == 2:
        return _all_info(c, argv)
    entries = [find(name) for name in argv[2:]]
    return array([c.resp.null if e is None else info_entry(c.resp, e) for e in entries])


@command("command|docs")
def command_docs(c: Context, argv: list[bytes]) -> bytes:
    if len(argv) == 2:
        entries = list(COMMANDS.values())
    else:
        entries = [e for e in (find(name) for name in argv[2:]) if e is not None]
    return c.resp.map([(bulk(e.name.encode()), docs_entry(c.resp, e)) for e in entries])


@command("command|list")
def command_list(c: Context, argv: list[bytes]) -> bytes:
    if len(argv) == 2:
        return bulk_array([e.name.encode() for e in _every_command()])
    if len(argv) != 5 or argv[2].lower() != b"filterby":
        return errors.SYNTAX
    kind, value = argv[3].lower(), argv[4]
    if kind == b"module":
        return EMPTY_ARRAY  # valkdb has no modules
    if kind == b"aclcat":
        wanted = {"simple": "@" + value.decode("latin-1").lower()}
        chosen = [e for e in _every_command()
                  if wanted in e.spec["acl_categories"]["set"]]
    elif kind == b"pattern":
        match = matcher(value, nocase=True)
        chosen = [e for e in _every_command() if match(e.name.encode())]
    else:
        return errors.SYNTAX
    return bulk_array([e.name.encode() for e in chosen])


@command("command|getkeys")
def command_getkeys(c: Context, argv: list[bytes]) -> bytes:
    return bulk_array([argv[2:][pos] for pos, _ in _keys_of(argv[2:])])


@command("command|getkeysandflags")
def command_getkeysandflags(c: Context, argv: list[bytes]) -> bytes:
    target = argv[2:]
    return array([
        array([bulk(target[pos]), c.resp.set([simple(f.encode()) for f in flags])])
        for pos, flags in _keys_of(target)
    ])


@command("command|help")
def command_help(c: Context, argv: list[bytes]) -> bytes:
    return help_reply(_HELP)


# -- key positions -----------------------------------------------------------------------------


def _keys_of(argv: list[bytes]) -> list[tuple[int, list[str]]]:
    """(position, key-spec flags) of each key in a full command, or CommandError as Redis."""
    entry = find(argv[0])
    if entry is not None and entry.subcommands is not None and len(argv) > 1:
        entry = (entry.subcommands or {}).get(argv[1].lower())
    if entry is None:
        raise CommandError(errors.err("ERR Invalid command specified"))
    specs = [spec["map"] for spec in entry.spec["key_specs"]["set"]]
    real = [spec for spec in specs if "not_key" not in _flags(spec)]  # not channel names
    if (entry.first_key <= 0 and not specs) or (specs and not real):
        raise CommandError(errors.err("ERR The command has no key arguments"))
    specs = real
    arity = entry.arity
    if arity != len(argv) and (arity > 0 or len(argv) < -arity):
        raise CommandError(errors.err("ERR Invalid number of arguments specified for command"))
    keys = _sort_keys(argv) if entry.name == "sort" else _keys_from_specs(specs, argv)
    if keys is None:  # a spec only Redis's own C code can follow: the registry's positions
        flags = _flags(specs[0]) if specs else []
        last = entry.last_key if entry.last_key >= 0 else len(argv) + entry.last_key
        keys = [(pos, flags) for pos in range(entry.first_key, last + 1, entry.step or 1)]
    if not keys and "no_mandatory_keys" not in entry.flags:
        raise CommandError(errors.err("ERR Invalid arguments specified for command"))
    return keys


def tracked_keys(entry: Command, argv: list[bytes]) -> list[bytes]:
    """The keys a read-only command read, for client tracking (Redis's getKeysFromCommand):
    the declared positions, or the key specs where they move."""
    if entry.first_key > 0 and "movablekeys" not in entry.flags:
        return entry.keys(argv)
    try:
        return [argv[pos] for pos, _ in _keys_of(argv)]
    except CommandError:
        return []


_SORT_SKIPS = {b"limit": 2, b"get": 1, b"by": 1}


def _sort_keys(argv: list[bytes]) -> list[tuple[int, list[str]]]:
    """SORT's keys, found as Redis's sortGetKeys finds them (its STORE key spec is of a kind
    no spec walk follows): the sorted key, and the argument after the last STORE, skipping
    the arguments of LIMIT, GET and BY."""
    keys = [(1, ["RO", "access"])]
    store = None
    i = 2
    while i < len(argv):
        word = argv[i].lower()
        if word in _SORT_SKIPS:
            i += _SORT_SKIPS[word]
        elif word == b"store" and i + 1 < len(argv):
            store = i + 1
        i += 1
    if store is not None:
        keys.append((store, ["OW", "update"]))
    return keys


def _flags(spec: dict[str, Any]) -> list[str]:
    return [flag["simple"] for flag in spec["flags"]["set"]]


class _InvalidSpec(Exception):
    """The arguments do not fit a key spec (Redis's invalid_spec: no keys at all)."""


def _keys_from_specs(specs: list[dict], argv: list[bytes]) -> list[tuple[int, list[str]]] | None:
    """Redis's getKeysUsingKeySpecs; None when a spec is of a kind it cannot follow."""
    if not specs:
        return None
    keys: list[tuple[int, list[str]]] = []
    try:
        for spec in specs:
            first = _begin_search(spec["begin_search"]["map"], argv)
            if first is None:
                return None
            if first == 0:  # its keyword is absent: no keys from this spec
                continue
            span = _find_keys(spec["find_keys"]["map"], first, argv)
            if span is None:
                return None
            first, last, step = span
            if last >= len(argv) or last < first or first >= len(argv):
                raise _InvalidSpec
            keys.extend((pos, _flags(spec)) for pos in range(first, last + 1, step))
    except _InvalidSpec:
        return []
    return keys


def _begin_search(begin: dict[str, Any], argv: list[bytes]) -> int | None:
    """The index where the keys start; 0 when the keyword is absent; None for 'unknown'."""
    spec = begin["spec"]["map"]
    if begin["type"] == "index":
        return spec["index"]
    if begin["type"] != "keyword":
        return None
    keyword, start = spec["keyword"].encode().lower(), spec["startfrom"]
    positions = range(start, len(argv)) if start > 0 else range(len(argv) + start, 0, -1)
    return next((i + 1 for i in positions if argv[i].lower() == keyword), 0)


def _find_keys(find_keys: dict[str, Any], first: int, argv: list[bytes]
               ) -> tuple[int, int, int] | None:
    """(first, last, step) of the keys; None for 'unknown'."""
    spec = find_keys["spec"]["map"]
    if find_keys["type"] == "range":
        lastkey, limit = spec["lastkey"], spec["limit"]
        if lastkey >= 0:
            last = first + lastkey
        elif not limit:
            last = len(argv) + lastkey
        else:
            last = first + (len(argv) - first) // limit + lastkey
        return first, last, spec["keystep"]
    if find_keys["type"] == "keynum":
        index = first + spec["keynumidx"]
        if index >= len(argv):
            raise _InvalidSpec
        numkeys = parse_length(argv[index])
        if numkeys is None or numkeys < 0:
            raise _InvalidSpec
        first += spec["firstkey"]
        return first, first + numkeys - 1, spec["keystep"]
    return None
