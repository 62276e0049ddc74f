"""MEMORY USAGE / STATS / DOCTOR / MALLOC-STATS / PURGE / HELP, as Redis 7.0's object.c answers.

MEMORY USAGE reports what the key would cost in Redis (store/memory_model.py), not what its
Python objects cost: that is the figure a Redis user compares and sizes a Redis instance by.
MEMORY STATS reports the process as INFO memory measures it (its resident size; valkdb has no
allocator statistics, so the allocator's figures are that size too and their ratios 1), with
Redis's field names, order and reply shapes, and the per-database overheads as Redis counts
its dicts. MEMORY DOCTOR runs Redis's checks on those figures and answers Redis's texts.
"""

from __future__ import annotations

import struct

from valkdb import errors
from valkdb.commands import server as server_commands
from valkdb.commands.args import to_int
from valkdb.commands.keys import help_reply
from valkdb.core.context import Context
from valkdb.core.registry import command, container
from valkdb.errors import CommandError
from valkdb.protocol.encoder import OK, bulk, integer
from valkdb.store import memory_model

MEMORY = container("memory")

_NO_LIMIT = 2**63 - 1  # SAMPLES 0: every element


def _usage_samples(argv: list[bytes]) -> int:
    """The SAMPLES option (the last one given wins); every option is checked before the key."""
    samples = memory_model.DEFAULT_SAMPLES
    at = 3
    while at < len(argv):
        if argv[at].lower() != b"samples" or at + 1 >= len(argv):
            raise CommandError(errors.SYNTAX)
        samples = to_int(argv[at + 1])
        if samples < 0:
            raise CommandError(errors.SYNTAX)
        samples = samples or _NO_LIMIT
        at += 2
    return samples


@command("memory|usage")
def memory_usage(c: Context, argv: list[bytes]) -> bytes:
    samples = _usage_samples(argv)
    key = argv[2]
    value = c.db.peek(key)  # Redis does not touch the key (LOOKUP_NOTOUCH)
    if value is None:
        return c.resp.null
    config = c.server.config
    return integer(memory_model.key_size(key, value, samples, config.list_max_listpack_size,
                                         config.stream_node_max_bytes))


def _f32(value: float) -> float:
    """C's float: Redis computes its ratios and percentages in single precision."""
    return struct.unpack("f", struct.pack("f", value))[0]


def _ratio(a: int, b: int) -> float:
    """(float)a / b, as C computes it (b > 0)."""
    return _f32(_f32(a) / _f32(b)) if b else float("inf")


class _Overhead:
    """Redis's struct redisMemOverhead (getMemoryOverheadData), from INFO memory's figures."""

    def __init__(self, c: Context) -> None:
        info = dict(server_commands.info_memory(c))
        figure = lambda name: int(info[name])
        self.total = figure(b"used_memory")
        self.startup = figure(b"used_memory_startup")
        self.peak = max(figure(b"used_memory_peak"), self.total)
        self.rss = figure(b"used_memory_rss")
        self.allocated = figure(b"allocator_allocated")
        self.active = figure(b"allocator_active")
        self.resident = figure(b"allocator_resident")
        self.repl_backlog = figure(b"mem_replication_backlog")
        self.clients_slaves = figure(b"mem_clients_slaves")
        self.clients_normal = figure(b"mem_clients_normal")
        self.cluster_links = figure(b"mem_cluster_links")
        self.aof_buffer = figure(b"mem_aof_buffer")
        self.lua_caches = figure(b"used_memory_scripts_eval")
        self.functions_caches = figure(b"used_memory_functions")
        self.cached_scripts = figure(b"number_of_cached_scripts")
        self.allocator = info[b"mem_allocator"]
        self.dbs: list[tuple[int, int, int]] = []  # (index, main dict, expires dict)
        self.keys = 0
        overhead = (self.startup + self.repl_backlog + self.clients_slaves
                    + self.clients_normal + self.cluster_links + self.aof_buffer
                    + self.lua_caches + self.functions_caches)
        for db in c.server.keyspace.dbs:
            keys = db.size()
            if not keys:
                continue
            main, expires = memory_model.keyspace_overhead(keys, db.expires_count())
            self.dbs.append((db.index, main, expires))
            self.keys += keys
            overhead += main + expires
        self.overhead = overhead
        self.dataset = max(0, self.total - overhead)
        net = self.total - self.startup if self.total > self.startup else 1
        self.net = net
        self.dataset_perc = _f32(_f32(_f32(self.dataset) * 100) / _f32(net))
        self.peak_perc = _f32(_f32(_f32(self.total) * 100) / _f32(self.peak))
        self.bytes_per_key = net // self.keys if self.keys else 0
        self.allocator_frag = _ratio(self.active, self.allocated)
        self.allocator_rss = _ratio(self.resident, self.active)
        self.rss_extra = _ratio(self.rss, self.resident)
        self.total_frag = _ratio(self.rss, self.total)


@command("memory|stats")
def memory_stats(c: Context, argv: list[bytes]) -> bytes:
    mh = _Overhead(c)
    resp = c.resp
    pairs = [
        (b"peak.allocated", integer(mh.peak)),
        (b"total.allocated", integer(mh.total)),
        (b"startup.allocated", integer(mh.startup)),
        (b"replication.backlog", integer(mh.repl_backlog)),
        (b"clients.slaves", integer(mh.clients_slaves)),
        (b"clients.normal", integer(mh.clients_normal)),
        (b"cluster.links", integer(mh.cluster_links)),
        (b"aof.buffer", integer(mh.aof_buffer)),
        (b"lua.caches", integer(mh.lua_caches)),
        (b"functions.caches", integer(mh.functions_caches)),
    ]
    for index, main, expires in mh.dbs:
        pairs.append((b"db.%d" % index, resp.map([
            (bulk(b"overhead.hashtable.main"), integer(main)),
            (bulk(b"overhead.hashtable.expires"), integer(expires)),
            (bulk(b"overhead.hashtable.slot-to-keys"), integer(0)),
        ])))
    pairs += [
        (b"overhead.total", integer(mh.overhead)),
        (b"keys.count", integer(mh.keys)),
        (b"keys.bytes-per-key", integer(mh.bytes_per_key)),
        (b"dataset.bytes", integer(mh.dataset)),
        (b"dataset.percentage", resp.double(mh.dataset_perc)),
        (b"peak.percentage", resp.double(mh.peak_perc)),
        (b"allocator.allocated", integer(mh.allocated)),
        (b"allocator.active", integer(mh.active)),
        (b"allocator.resident", integer(mh.resident)),
        (b"allocator-fragmentation.ratio", resp.double(mh.allocator_frag)),
        (b"allocator-fragmentation.bytes", integer(mh.active - mh.allocated)),
        (b"allocator-rss.ratio", resp.double(mh.allocator_rss)),
        (b"allocator-rss.bytes", integer(mh.resident - mh.active)),
        (b"rss-overhead.ratio", resp.double(mh.rss_extra)),
        (b"rss-overhead.bytes", integer(mh.rss - mh.resident)),
        (b"fragmentation", resp.double(mh.total_frag)),
        (b"fragmentation.bytes", integer(mh.rss - mh.total)),
    ]
    return resp.map([(bulk(name), value) for name, value in pairs])


_EMPTY_BYTES = 5 << 20
_TEN_MB = 10 << 20

_DOCTOR_FINE = (b"Hi Sam, I can't find any memory issue in your instance. "
                b"I can only account for what occurs on this base.\n")
_DOCTOR_EMPTY = (
    b"Hi Sam, this instance is empty or is using very little memory, my issues detector can't "
    b"be used in these conditions. Please, leave for your mission on Earth and fill it with "
    b"some data. The new Sam and I will be back to our programming as soon as I finished "
    b"rebooting.\n")
_DOCTOR_ISSUES = b"Sam, I detected a few issues in this Redis instance memory implants:\n\n"
_DOCTOR_PEAK = (
    b" * Peak memory: In the past this instance used more than 150% the memory that is "
    b"currently using. The allocator is normally not able to release memory after a peak, so "
    b"you can expect to see a big fragmentation ratio, however this is actually harmless and is "
    b"only due to the memory peak, and if the Redis instance Resident Set Size (RSS) is "
    b"currently bigger than expected, the memory will be used as soon as you fill the Redis "
    b"instance with more data. If the memory peak was only occasional and you want to try to "
    b"reclaim memory, please try the MEMORY PURGE command, otherwise the only other option is "
    b"to shutdown and restart the instance.\n\n")
_DOCTOR_FRAG = (
    b" * High total RSS: This instance has a memory fragmentation and RSS overhead greater than "
    b"1.4 (this means that the Resident Set Size of the Redis process is much larger than the "
    b"sum of the logical allocations Redis performed). This problem is usually due either to a "
    b"large peak memory (check if there is a peak memory entry above in the report) or may "
    b"result from a workload that causes the allocator to fragment memory a lot. If the "
    b"problem is a large peak memory, then there is no issue. Otherwise, make sure you are "
    b"using the Jemalloc allocator and not the default libc malloc. Note: The currently used "
    b"allocator is \"%s\".\n\n")
_DOCTOR_ALLOC_FRAG = (
    b" * High allocator fragmentation: This instance has an allocator external fragmentation "
    b"greater than 1.1. This problem is usually due either to a large peak memory (check if "
    b"there is a peak memory entry above in the report) or may result from a workload that "
    b"causes the allocator to fragment memory a lot. You can try enabling 'activedefrag' "
    b"config option.\n\n")
_DOCTOR_ALLOC_RSS = (
    b" * High allocator RSS overhead: This instance has an RSS memory overhead is greater than "
    b"1.1 (this means that the Resident Set Size of the allocator is much larger than the sum "
    b"what the allocator actually holds). This problem is usually due to a large peak memory "
    b"(check if there is a peak memory entry above in the report), you can try the MEMORY "
    b"PURGE command to reclaim it.\n\n")
_DOCTOR_PROC_RSS = (
    b" * High process RSS overhead: This instance has non-allocator RSS memory overhead is "
    b"greater than 1.1 (this means that the Resident Set Size of the Redis process is much "
    b"larger than the RSS the allocator holds). This problem may be due to Lua scripts or "
    b"Modules.\n\n")
_DOCTOR_CLIENTS = (
    b" * Big client buffers: The clients output buffers in this instance are greater than 200K "
    b"per client (on average). This may result from different causes, like Pub/Sub clients "
    b"subscribed to channels bot not receiving data fast enough, so that data piles on the "
    b"Redis instance output buffer, or clients sending commands with large replies or very "
    b"large sequences of commands in the same pipeline. Please use the CLIENT LIST command in "
    b"order to investigate the issue if it causes problems in your instance, or to understand "
    b"better why certain clients are using a big amount of memory.\n\n")
_DOCTOR_SCRIPTS = (
    b" * Many scripts: There seem to be many cached scripts in this instance (more than 1000). "
    b"This may be because scripts are generated and `EVAL`ed, instead of being parameterized "
    b"(with KEYS and ARGV), `SCRIPT LOAD`ed and `EVALSHA`ed. Unless `SCRIPT FLUSH` is called "
    b"periodically, the scripts' caches may end up consuming most of your memory.\n\n")
_DOCTOR_END = b"I'm here to keep you safe, Sam. I want to help you.\n"


def doctor_report(c: Context) -> bytes:
    """getMemoryDoctorReport's checks and texts. valkdb's process carries the Python runtime
    from the start, so "empty" is judged on what it grew since startup, not on its whole
    size (which alone is above Redis's 5 MB threshold)."""
    mh = _Overhead(c)
    if mh.total - mh.startup < _EMPTY_BYTES:
        return _DOCTOR_EMPTY
    clients = max(1, len(c.server.clients))  # no replicas: every client is a normal one
    found = [text for check, text in (
        (_f32(mh.peak) / _f32(mh.total) > 1.5, _DOCTOR_PEAK),
        (mh.total_frag > 1.4 and mh.rss - mh.total > _TEN_MB,
         _DOCTOR_FRAG % mh.allocator),
        (mh.allocator_frag > 1.1 and mh.active - mh.allocated > _TEN_MB, _DOCTOR_ALLOC_FRAG),
        (mh.allocator_rss > 1.1 and mh.resident - mh.active > _TEN_MB, _DOCTOR_ALLOC_RSS),
        (mh.rss_extra > 1.1 and mh.rss - mh.resident > _TEN_MB, _DOCTOR_PROC_RSS),
        (mh.clients_normal // clients > 200 * 1024, _DOCTOR_CLIENTS),
        (mh.cached_scripts > 1000, _DOCTOR_SCRIPTS),
    ) if check]
    if not found:
        return _DOCTOR_FINE
    return _DOCTOR_ISSUES + b"".join(found) + _DOCTOR_END


@command("memory|doctor")
def memory_doctor(c: Context, argv: list[bytes]) -> bytes:
    return c.resp.verbatim(doctor_report(c))


@command("memory|malloc-stats")
def memory_malloc_stats(c: Context, argv: list[bytes]) -> bytes:
    # What Redis answers when it is not built with jemalloc, which valkdb is not.
    return bulk(b"Stats not supported for the current allocator")


@command("memory|purge")
def memory_purge(c: Context, argv: list[bytes]) -> bytes:
    # Redis asks jemalloc to return dirty pages; CPython's allocator returns empty arenas to
    # the system on its own, so there is nothing to ask for.
    return OK


_MEMORY_HELP = [
    b"MEMORY <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    b"DOCTOR",
    b"    Return memory problems reports.",
    b"MALLOC-STATS",
    b"    Return internal statistics report from the memory allocator.",
    b"PURGE",
    b"    Attempt to purge dirty pages for reclamation by the allocator.",
    b"STATS",
    b"    Return information about the memory usage of the server.",
    b"USAGE <key> [SAMPLES <count>]",
    b"    Return memory in bytes used by <key> and its value. Nested values are",
    b"    sampled up to <count> times (default: 5, 0 means sample all).",
    b"HELP",
    b"    Prints this help.",
]


@command("memory|help")
def memory_help(c: Context, argv: list[bytes]) -> bytes:
    return help_reply(_MEMORY_HELP)
