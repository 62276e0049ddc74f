"""DEBUG (Redis's debug.c): the test suite's and the tools' window into the server.

DEBUG is a "protected" command: the dispatcher refuses it (before authentication, as Redis's
processCommand) unless `enable-debug-command` is `yes`, or `local` and the client's address is
127.0.0.1 or ::1. The check is registered with the command (registry.protect); MODULE's
(module.py) works the same way.

DEBUG is one command of arity -2 in Redis 7.0 (not a container): its subcommands and their
argument counts are dispatched here, and anything else gets Redis's
"unknown subcommand or wrong number of arguments" error. What valkdb does differently, and why:

- SEGFAULT, PANIC, ASSERT, OOM, RESTART, CRASH-AND-RECOVER would end the process in Redis;
  valkdb refuses them with an error and keeps serving (a test tool must not take it down).
- SLEEP blocks the whole server with time.sleep, as nanosleep does in Redis.
- OBJECT reports valkdb's own serialized length (its DUMP payload, which writes the plain RDB
  encodings and no LZF); the quicklist fields are computed by packing the list as Redis's
  RPUSH would.
- HTSTATS / HTSTATS-KEY / SDSLEN describe the hash tables and sds strings Redis would have for
  the same data (valkdb keeps Python dicts and bytes): sizes follow Redis's growth rules, chain
  lengths come from Python's hash, so the shape is Redis's and the numbers are indicative.
- LISTPACK / QUICKLIST print nothing (Redis prints to its stdout) but answer as Redis does.
- MALLCTL / MALLCTL-STR: valkdb has no jemalloc; every key is unknown (ENOENT), as Redis
  answers for a key jemalloc does not have.
- The switches that tune Redis internals valkdb lacks (AOF-FLUSH-SLEEP, PAUSE-CRON,
  REPLYBUFFER, DROP-CLUSTER-PACKET-FILTER, SET-DISABLE-DENY-SCRIPTS, LEAK, REPLICATE) are
  parsed as Redis parses them, remembered, and answer +OK.
- RELOAD and LOADAOF run in the server (Server.debug_reload / debug_loadaof); where Redis would
  exit (a key already there under NOFLUSH without MERGE, no AOF to load) they answer an error.
- POPULATE lets other clients run between chunks of keys (Redis's is atomic).
- CHANGE-REPL-ID only logs (valkdb's replication IDs are fixed); CONFIG-REWRITE-FORCE-ALL is
  CONFIG REWRITE (settings at their defaults are not written); SET-SKIP-CHECKSUM-VALIDATION
  holds for the whole process (persistence/rdb.py's SKIP_CHECKSUM).
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from typing import Any

from valkdb import errors
from valkdb.commands.args import to_int
from valkdb.commands.digest import dataset_digest, key_digest
from valkdb.commands.keys import help_reply
from valkdb.config.parsing import c_int, memtoull, strtoll
from valkdb.core.context import Context, Pacer
from valkdb.core.registry import command, protect
from valkdb.protocol.encoder import OK, array, bulk, integer, simple
from valkdb.store.memory_model import alloc_size, dict_slots, sds_header
from valkdb.store.stream import lp_size
from valkdb.store.types import Hash, List, Set, ZSet, encoding, string_encoding

_HELP = (
    b"DEBUG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    b"AOF-FLUSH-SLEEP <microsec>",
    b"    Server will sleep before flushing the AOF, this is used for testing.",
    b"ASSERT",
    b"    Crash by assertion failed.",
    b"CHANGE-REPL-ID",
    b"    Change the replication IDs of the instance.",
    b"    Dangerous: should be used only for testing the replication subsystem.",
    b"CONFIG-REWRITE-FORCE-ALL",
    b"    Like CONFIG REWRITE but writes all configuration options, including",
    b"    keywords not listed in original configuration file or default values.",
    b"CRASH-AND-RECOVER [<milliseconds>]",
    b"    Hard crash and restart after a <milliseconds> delay (default 0).",
    b"DIGEST",
    b"    Output a hex signature representing the current DB content.",
    b"DIGEST-VALUE <key> [<key> ...]",
    b"    Output a hex signature of the values of all the specified keys.",
    b"ERROR <string>",
    b"    Return a Redis protocol error with <string> as message. Useful for clients",
    b"    unit tests to simulate Redis errors.",
    b"LEAK <string>",
    b"    Create a memory leak of the input string.",
    b"LOG <message>",
    b"    Write <message> to the server log.",
    b"HTSTATS <dbid>",
    b"    Return hash table statistics of the specified Redis database.",
    b"HTSTATS-KEY <key>",
    b"    Like HTSTATS but for the hash table stored at <key>'s value.",
    b"LOADAOF",
    b"    Flush the AOF buffers on disk and reload the AOF in memory.",
    b"REPLICATE <string>",
    b"    Replicates the provided string to replicas, allowing data divergence.",
    b"MALLCTL <key> [<val>]",
    b"    Get or set a malloc tuning integer.",
    b"MALLCTL-STR <key> [<val>]",
    b"    Get or set a malloc tuning string.",
    b"OBJECT <key>",
    b"    Show low level info about `key` and associated value.",
    b"DROP-CLUSTER-PACKET-FILTER <packet-type>",
    b"    Drop all packets that match the filtered type. Set to -1 allow all packets.",
    b"OOM",
    b"    Crash the server simulating an out-of-memory error.",
    b"PANIC",
    b"    Crash the server simulating a panic.",
    b"POPULATE <count> [<prefix>] [<size>]",
    b"    Create <count> string keys named key:<num>. If <prefix> is specified then",
    b"    it is used instead of the 'key' prefix. These are not propagated to",
    b"    replicas. Cluster slots are not respected so keys not belonging to the",
    b"    current node can be created in cluster mode.",
    b"PROTOCOL <type>",
    b"    Reply with a test value of the specified type. <type> can be: string,",
    b"    integer, double, bignum, null, array, set, map, attrib, push, verbatim,",
    b"    true, false.",
    b"RELOAD [option ...]",
    b"    Save the RDB on disk and reload it back to memory. Valid <option> values:",
    b"    * MERGE: conflicting keys will be loaded from RDB.",
    b"    * NOFLUSH: the existing database will not be removed before load, but",
    b"      conflicting keys will generate an exception and kill the server.",
    b"    * NOSAVE: the database will be loaded from an existing RDB file.",
    b"    Examples:",
    b"    * DEBUG RELOAD: verify that the server is able to persist, flush and reload",
    b"      the database.",
    b"    * DEBUG RELOAD NOSAVE: replace the current database with the contents of an",
    b"      existing RDB file.",
    b"    * DEBUG RELOAD NOSAVE NOFLUSH MERGE: add the contents of an existing RDB",
    b"      file to the database.",
    b"RESTART [<milliseconds>]",
    b"    Graceful restart: save config, db, restart after a <milliseconds> delay (default 0).",
    b"SDSLEN <key>",
    b"    Show low level SDS string info representing `key` and value.",
    b"SEGFAULT",
    b"    Crash the server with sigsegv.",
    b"SET-ACTIVE-EXPIRE <0|1>",
    b"    Setting it to 0 disables expiring keys in background when they are not",
    b"    accessed (otherwise the Redis behavior). Setting it to 1 reenables back the",
    b"    default.",
    b"QUICKLIST-PACKED-THRESHOLD <size>",
    b"    Sets the threshold for elements to be inserted as plain vs packed nodes",
    b"    Default value is 1GB, allows values up to 4GB. Setting to 0 restores to default.",
    b"SET-SKIP-CHECKSUM-VALIDATION <0|1>",
    b"    Enables or disables checksum checks for RDB files and RESTORE's payload.",
    b"SLEEP <seconds>",
    b"    Stop the server for <seconds>. Decimals allowed.",
    b"STRINGMATCH-TEST",
    b"    Run a fuzz tester against the stringmatchlen() function.",
    b"STRUCTSIZE",
    b"    Return the size of different Redis core C structures.",
    b"LISTPACK <key>",
    b"    Show low level info about the listpack encoding of <key>.",
    b"QUICKLIST <key> [<0|1>]",
    b"    Show low level info about the quicklist encoding of <key>.",
    b"    The optional argument (0 by default) sets the level of detail",
    b"CLIENT-EVICTION",
    b"    Show low level client eviction pools info (maxmemory-clients).",
    b"PAUSE-CRON <0|1>",
    b"    Stop periodic cron job processing.",
    b"REPLYBUFFER PEAK-RESET-TIME <NEVER||RESET|time>",
    b"    Sets the time (in milliseconds) to wait between client reply buffer peak resets.",
    b"    In case NEVER is provided the last observed peak will never be reset",
    b"    In case RESET is provided the peak reset time will be restored to the default value",
    b"REPLYBUFFER RESIZING <0|1>",
    b"    Enable or disable the reply buffer resize cron job",
    b"CLUSTERLINK KILL <to|from|all> <node-id>",
    b"    Kills the link based on the direction to/from (both) with the provided node.",
    b"HELP",
    b"    Prints this help.",
)


# -- who may run them -----------------------------------------------------------------------

def refusal(name: str, option: str) -> bytes:
    """processCommand's words for a protected command its setting does not allow."""
    return errors.err(
        f'ERR {name} command not allowed. If the {option} option is set to "local", you can run '
        "it from a local connection, otherwise you need to set this option in the configuration "
        "file, and then restart the server.")


_DEBUG_REFUSAL = refusal("DEBUG", "enable-debug-command")


def allowed(ctx: Context, setting: str) -> bool:
    """Redis's allowProtectedAction: `yes`, or `local` and a loopback peer (islocalClient:
    exactly 127.0.0.1 or ::1). A context without a socket (the AOF loader) is the server's."""
    if setting == "yes":
        return True
    if setting != "local":
        return False
    addr = getattr(ctx, "addr", None)
    if addr is None:
        return True
    return addr.rpartition(":")[0].strip("[]") in ("127.0.0.1", "::1")


def _debug_gate(ctx: Context) -> bytes | None:
    return None if allowed(ctx, ctx.server.config.enable_debug_command) else _DEBUG_REFUSAL



# -- the DEBUG command -----------------------------------------------------------------------

_Handler = Callable[[Context, list[bytes]], bytes]
# subcommand -> (least argc, most argc, handler), argc counting DEBUG and the subcommand.
_SUBCOMMANDS: dict[bytes, tuple[int, int, _Handler]] = {}
_ANY = 1 << 30


def _sub(*names: str, least: int = 2, most: int | None = None) -> Callable[[_Handler], _Handler]:
    def register(handler: _Handler) -> _Handler:
        for name in names:
            _SUBCOMMANDS[name.encode()] = (least, least if most is None else most, handler)
        return handler
    return register


@command("debug")
def debug(c: Context, argv: list[bytes]) -> bytes:
    found = _SUBCOMMANDS.get(argv[1].lower())
    if found is None or not found[0] <= len(argv) <= found[1]:
        return errors.subcommand_syntax(argv[1], "debug")
    return found[2](c, argv)


def _atoi(arg: bytes) -> int:
    """C's atoi, as Redis reads DEBUG's switches: leading digits, else 0."""
    return c_int(strtoll(arg.decode("latin-1"))[0])


def _settings(c: Context) -> dict[str, Any]:
    """What DEBUG's switches set, per server (Server.debug_settings)."""
    return c.server.debug_settings  # type: ignore[no-any-return]


def _switch(name: str, setting: str) -> None:
    def handler(c: Context, argv: list[bytes]) -> bytes:
        _settings(c)[setting] = _atoi(argv[2])
        return OK
    _sub(name, least=3)(handler)


for _name, _setting in (("set-disable-deny-scripts", "disable_deny_scripts"),
                        ("pause-cron", "pause_cron"), ("aof-flush-sleep", "aof_flush_sleep")):
    _switch(_name, _setting)


@_sub("help")
def _help(c: Context, argv: list[bytes]) -> bytes:
    return help_reply(list(_HELP))


@_sub("segfault", "panic", "assert", "oom", least=2, most=_ANY)
def _crash(c: Context, argv: list[bytes]) -> bytes:
    c.server.log.warning("DEBUG %s refused: valkdb does not crash on request",
                         argv[1].decode("latin-1").upper())
    return errors.err_bytes(b"ERR DEBUG %s is not supported: valkdb does not crash on request"
                            % argv[1].upper())


@_sub("restart", "crash-and-recover", least=2, most=_ANY)
def _restart(c: Context, argv: list[bytes]) -> bytes:
    if len(argv) >= 3:
        to_int(argv[2])
    return errors.err("ERR failed to restart the server. Check server logs.")


@_sub("log", least=3)
def _log(c: Context, argv: list[bytes]) -> bytes:
    c.server.log.warning("DEBUG LOG: %s", errors.c_string(argv[2]).decode("utf-8", "replace"))
    return OK


@_sub("leak", least=3)
def _leak(c: Context, argv: list[bytes]) -> bytes:
    return OK


@_sub("replicate", least=3, most=_ANY)
def _replicate(c: Context, argv: list[bytes]) -> bytes:
    return OK  # valkdb has no replicas to feed


@_sub("drop-cluster-packet-filter", least=3)
def _drop_cluster_packet_filter(c: Context, argv: list[bytes]) -> bytes:
    _settings(c)["cluster_drop_packet_filter"] = to_int(argv[2])
    return OK


@_sub("clusterlink", least=5)
def _clusterlink(c: Context, argv: list[bytes]) -> bytes:
    if argv[2].lower() != b"kill":
        return errors.subcommand_syntax(argv[1], "debug")
    return errors.err("ERR Debug option only available for cluster mode enabled setup!")


@_sub("reload", least=2, most=_ANY)
def _reload(c: Context, argv: list[bytes]) -> bytes:
    merge, flush, save = False, True, True
    for option in argv[2:]:
        option = option.lower()
        if option == b"merge":
            merge = True
        elif option == b"noflush":
            flush = False
        elif option == b"nosave":
            save = False
        else:
            return errors.err("ERR DEBUG RELOAD only supports the MERGE, NOFLUSH and NOSAVE "
                              "options.")
    refusal: bytes | None = c.server.debug_reload(save=save, flush=flush, merge=merge)
    return OK if refusal is None else refusal


@_sub("loadaof", least=2, most=_ANY)
def _loadaof(c: Context, argv: list[bytes]) -> bytes:
    refusal: bytes | None = c.server.debug_loadaof()
    return OK if refusal is None else refusal


# -- keys and values -------------------------------------------------------------------------

def _raw_value(c: Context, key: bytes) -> Any:
    """The value as stored, even past its deadline (Redis's dictFind on the keyspace)."""
    return c.db.shard(key).data.get(key)


def _element(encoded: bytes) -> bytes:
    return encoded[encoded.index(b"\n") + 1:-2]  # a list keeps its elements as RESP bulks


def _quicklist_nodes(value: List, fill: int, packed_threshold: int) -> list[int]:
    """The listpack bytes of each node of the quicklist RPUSH would build (Redis's
    _quicklistNodeAllowInsert; an element of packed_threshold bytes or more is a plain node)."""
    limit = 4096 << (min(-fill, 5) - 1) if fill < 0 else 8192
    sizes: list[int] = []
    node = count = 0
    for encoded in value:
        element = _element(encoded)
        if len(element) >= packed_threshold:
            if count:
                sizes.append(node)
                node = count = 0
            sizes.append(len(element))
            continue
        if count and (node + len(element) + 8 > limit or 0 <= fill <= count):
            sizes.append(node)
            node = count = 0
        if not count:
            node = 7  # header and end marker
        node += lp_size(element)
        count += 1
    if count:
        sizes.append(node)
    return sizes


_DEFAULT_PACKED_THRESHOLD = 1 << 30


@_sub("object", least=3)
def _object(c: Context, argv: list[bytes]) -> bytes:
    key = argv[2]
    value = _raw_value(c, key)
    if value is None:
        return errors.NO_SUCH_KEY
    shared = (type(value) is bytes and string_encoding(value) == b"int"
              and 0 <= int(value) < 10000)  # Redis's shared integers
    serialized = len(c.server.dump_codec.dump(value)) - 11  # no type byte, version, CRC
    field = c.db.access_field(key)
    extra = b""
    if type(value) is List:
        config = c.server.config
        threshold = _settings(c).get("packed_threshold", _DEFAULT_PACKED_THRESHOLD)
        nodes = _quicklist_nodes(value, config.list_max_listpack_size, threshold)
        extra = (b" ql_nodes:%d ql_avg_node:%.2f ql_listpack_max:%d ql_compressed:%d "
                 b"ql_uncompressed_size:%d" % (
                     len(nodes), len(value) / len(nodes), config.list_max_listpack_size,
                     config.list_compress_depth != 0, sum(nodes)))
    return simple(b"Value at:0x%x refcount:%d encoding:%s serializedlength:%d lru:%d "
                  b"lru_seconds_idle:%d%s" % (
                      id(value), 2147483647 if shared else 1, encoding(value), serialized,
                      field, c.db.ageing.idle_seconds(field), extra))


@_sub("sdslen", least=3)
def _sdslen(c: Context, argv: list[bytes]) -> bytes:
    key = argv[2]
    value = _raw_value(c, key)
    if value is None:
        return errors.NO_SUCH_KEY
    if type(value) is not bytes or string_encoding(value) == b"int":
        return errors.err("ERR Not an sds encoded string.")
    if string_encoding(value) == b"embstr":
        value_alloc = alloc_size(16 + 3 + len(value) + 1) - 16
    else:
        value_alloc = alloc_size(sds_header(len(value)) + len(value) + 1)
    key_alloc = alloc_size(sds_header(len(key)) + len(key) + 1)
    return simple(b"key_sds_len:%d, key_sds_avail:0, key_zmalloc: %d, val_sds_len:%d, "
                  b"val_sds_avail:0, val_zmalloc: %d" % (len(key), key_alloc, len(value),
                                                         value_alloc))


def _encoded_lookup(c: Context, key: bytes) -> Any:
    """objectCommandLookupOrReply: the live value, or None."""
    return c.db.peek(key)


@_sub("listpack", least=3)
def _listpack(c: Context, argv: list[bytes]) -> bytes:
    value = _encoded_lookup(c, argv[2])
    if value is None:
        return errors.NO_SUCH_KEY
    if type(value) is bytes or encoding(value) != b"listpack":
        return errors.err("ERR Not a listpack encoded object.")
    return simple(b"Listpack structure printed on stdout")


@_sub("quicklist", least=3, most=4)
def _quicklist(c: Context, argv: list[bytes]) -> bytes:
    value = _encoded_lookup(c, argv[2])
    if value is None:
        return errors.NO_SUCH_KEY
    if type(value) is not List:
        return errors.err("ERR Not a quicklist encoded object.")
    return simple(b"Quicklist structure printed on stdout")


@_sub("populate", least=3, most=5)
def _populate(c: Context, argv: list[bytes]) -> bytes:
    count = to_int(argv[2], errors.NOT_POSITIVE)
    size = to_int(argv[4], errors.NOT_POSITIVE) if len(argv) == 5 else 0
    if count < 0 or size < 0:
        return errors.NOT_POSITIVE
    prefix = errors.c_string(argv[3]) if len(argv) >= 4 else b"key"
    db = c.db
    pace = Pacer(c)
    for j in range(count):
        key = (b"%s:%d" % (prefix, j))[:127]  # snprintf into 128 bytes
        if db.lookup(key) is not None:
            continue
        value = b"value:%d" % j
        if size:
            value = value[:size].ljust(size, b"\0")
        db.store(key, value)
        if not j & 1023:
            pace()
    return OK


@_sub("digest")
def _digest(c: Context, argv: list[bytes]) -> bytes:
    return simple(dataset_digest(c.server.keyspace).hex().encode())


@_sub("digest-value", least=2, most=_ANY)
def _digest_value(c: Context, argv: list[bytes]) -> bytes:
    return array([simple(key_digest(c.db, key).hex().encode()) for key in argv[2:]])


# -- replies of every type -------------------------------------------------------------------

def _protocol_reply(c: Context, name: bytes) -> bytes:
    resp = c.resp
    three = resp.version >= 3
    if name == b"string":
        return bulk(b"Hello World")
    if name == b"integer":
        return integer(12345)
    if name == b"double":
        return resp.double(3.141)
    if name == b"bignum":
        number = b"1234567999999999999999999999999999999"
        return b"(%s\r\n" % number if three else bulk(number)
    if name == b"null":
        return resp.null
    if name == b"array":
        return array([integer(j) for j in range(3)])
    if name == b"set":
        return resp.set([integer(j) for j in range(3)])
    if name == b"map":
        return resp.map((integer(j), resp.true if j == 1 else resp.false) for j in range(3))
    if name == b"attrib":
        attribute = (b"|1\r\n" + bulk(b"key-popularity") + array([bulk(b"key:123"), integer(90)])
                     if three else b"")
        return attribute + bulk(b"Some real reply following the attribute")
    if name == b"push":
        if not three:
            return errors.err("ERR RESP2 is not supported by this command")
        return (resp.push([bulk(b"server-cpu-usage"), integer(42)])
                + bulk(b"Some real reply following the push reply"))
    if name == b"true":
        return resp.true
    if name == b"false":
        return resp.false
    if name == b"verbatim":
        return resp.verbatim(b"This is a verbatim\nstring")
    return errors.err("ERR Wrong protocol type name. Please use one of the following: "
                      "string|integer|double|bignum|null|array|set|map|attrib|push|verbatim|"
                      "true|false")


@_sub("protocol", least=3)
def _protocol(c: Context, argv: list[bytes]) -> bytes:
    return _protocol_reply(c, argv[2].lower())


# strtod's decimal forms and words; what follows them is ignored, no number at all is 0.
_STRTOD = re.compile(rb"[ \t\n\v\f\r]*([+-]?(?:(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?"
                     rb"|inf(?:inity)?|nan))", re.IGNORECASE)


@_sub("sleep", least=3)
def _sleep(c: Context, argv: list[bytes]) -> bytes:
    match = _STRTOD.match(argv[2])
    seconds = float(match.group(1)) if match else 0.0
    micros = seconds * 1_000_000
    # C's conversion to long long: a NaN, an infinity or an overflow is no sleep at all here.
    if micros == micros and 0 < micros < 2**63:
        time.sleep(int(micros) / 1_000_000)  # the whole server stops, as nanosleep does
    return OK


@_sub("set-active-expire", least=3)
def _set_active_expire(c: Context, argv: list[bytes]) -> bytes:
    c.server.expiry.enabled = _atoi(argv[2]) != 0
    return OK


@_sub("set-skip-checksum-validation", least=3)
def _set_skip_checksum_validation(c: Context, argv: list[bytes]) -> bytes:
    c.server.skip_checksum_validation(_atoi(argv[2]) != 0)
    return OK


@_sub("quicklist-packed-threshold", least=3)
def _quicklist_packed_threshold(c: Context, argv: list[bytes]) -> bytes:
    size = memtoull(argv[2].decode("latin-1"))
    if size is None or size > (1 << 32) - (1 << 20):
        return errors.err("ERR argument must be a memory value bigger than 1 and smaller than "
                          "4gb")
    _settings(c)["packed_threshold"] = size or _DEFAULT_PACKED_THRESHOLD
    return OK


@_sub("error", least=3)
def _error(c: Context, argv: list[bytes]) -> bytes:
    return errors.err_bytes(argv[2])


@_sub("structsize")
def _structsize(c: Context, argv: list[bytes]) -> bytes:
    return bulk(b"bits:64 robj:16 dictentry:24 sdshdr5:1 sdshdr8:3 sdshdr16:5 sdshdr32:9 "
                b"sdshdr64:17 ")


def _table_stats(keys: list[bytes], slots: int) -> bytes:
    """dictGetStats of one table: its chains spread as Python's hash spreads the keys."""
    if not keys:
        return (b"Hash table 0 stats (main hash table):\n"
                b"No stats available for empty dictionaries\n")
    chains: dict[int, int] = {}
    for key in keys:
        bucket = hash(key) & (slots - 1)
        chains[bucket] = chains.get(bucket, 0) + 1
    lengths = [0] * 50
    lengths[0] = slots - len(chains)
    for chain in chains.values():
        lengths[min(chain, 49)] += 1
    text = (b"Hash table 0 stats (main hash table):\n table size: %d\n number of elements: %d\n"
            b" different slots: %d\n max chain length: %d\n avg chain length (counted): %.02f\n"
            b" avg chain length (computed): %.02f\n Chain length distribution:\n" % (
                slots, len(keys), len(chains), max(chains.values()), len(keys) / len(chains),
                len(keys) / len(chains)))
    for length, buckets in enumerate(lengths[:49]):
        if buckets:
            text += b"   %d: %d (%.02f%%)\n" % (length, buckets, buckets / slots * 100)
    return text


@_sub("htstats", least=3)
def _htstats(c: Context, argv: list[bytes]) -> bytes:
    index = to_int(argv[2])
    keyspace = c.server.keyspace
    if not 0 <= index < len(keyspace):
        return errors.err("ERR Out of range database")
    db = keyspace[index]
    keys = [key for shard in db.shards for key in shard.data]
    expiring = [key for shard in db.shards for key in shard.expires]
    return c.resp.verbatim(b"[Dictionary HT]\n" + _table_stats(keys, dict_slots(len(keys)))
                           + b"[Expires HT]\n"
                           + _table_stats(expiring, dict_slots(len(expiring))))


@_sub("htstats-key", least=3)
def _htstats_key(c: Context, argv: list[bytes]) -> bytes:
    value = _encoded_lookup(c, argv[2])
    if value is None:
        return errors.NO_SUCH_KEY
    if type(value) is bytes or encoding(value) not in (b"hashtable", b"skiplist"):
        return errors.err("ERR The value stored at the specified key is not represented using "
                          "an hash table")
    members = list(value.members) if type(value) is Set else list(value)
    assert type(value) in (Set, Hash, ZSet)
    return c.resp.verbatim(_table_stats(members, dict_slots(len(members))))


@_sub("change-repl-id")
def _change_repl_id(c: Context, argv: list[bytes]) -> bytes:
    c.server.log.warning("Changing replication IDs after receiving DEBUG change-repl-id")
    return OK


@_sub("stringmatch-test")
def _stringmatch_test(c: Context, argv: list[bytes]) -> bytes:
    return simple(b"Apparently Redis did not crash: test passed")


@_sub("config-rewrite-force-all")
def _config_rewrite_force_all(c: Context, argv: list[bytes]) -> bytes:
    config = c.server.config
    if config.path is None:
        return errors.err("ERR CONFIG-REWRITE-FORCE-ALL failed: Bad address")
    try:
        config.rewrite()
    except OSError as exc:
        return errors.err(f"ERR CONFIG-REWRITE-FORCE-ALL failed: {exc.strerror}")
    return OK


_BUCKET_MIN_LOG, _BUCKETS = 15, 19  # CLIENT_MEM_USAGE_BUCKET_MIN_LOG, CLIENT_MEM_USAGE_BUCKETS


@_sub("client-eviction")
def _client_eviction(c: Context, argv: list[bytes]) -> bytes:
    if not c.server.config.maxmemory_clients:
        return errors.err("ERR maxmemory-clients is disabled.")
    lines = []
    for j in range(_BUCKETS):
        low = b"bucket          0" if j == 0 else b"bucket %10d" % (1 << (j - 1 + _BUCKET_MIN_LOG))
        high = (b"+            : " if j == _BUCKETS - 1
                else b" - %10d: " % ((1 << (j + _BUCKET_MIN_LOG)) - 1))
        clients = len(c.server.clients) if j == 0 else 0  # valkdb does not account them
        lines.append(low + high + b"tot-mem: %10d, clients: %d\n" % (0, clients))
    return c.resp.verbatim(b"".join(lines))


@_sub("mallctl", "mallctl-str", least=3, most=_ANY)
def _mallctl(c: Context, argv: list[bytes]) -> bytes:
    if argv[1].lower() == b"mallctl" and len(argv) > 3:
        to_int(argv[3])
    return errors.err("ERR No such file or directory")


@_sub("replybuffer", least=4)
def _replybuffer(c: Context, argv: list[bytes]) -> bytes:
    option, value = argv[2].lower(), argv[3]
    if option == b"peak-reset-time":
        if value.lower() == b"never":
            _settings(c)["reply_buffer_peak_reset_time"] = -1
        elif value.lower() == b"reset":
            _settings(c)["reply_buffer_peak_reset_time"] = 5000
        else:
            _settings(c)["reply_buffer_peak_reset_time"] = to_int(value)
    elif option == b"resizing":
        _settings(c)["reply_buffer_resizing"] = _atoi(value)
    else:
        return errors.subcommand_syntax(argv[1], "debug")
    return OK


protect("debug", _debug_gate)
