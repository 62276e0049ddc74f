"""Server commands: SHUTDOWN, TIME, LASTSAVE, INFO and CONFIG.

INFO prints Redis 7.0's sections and field names, so that clients and tools that parse it
(redis-py's info(), redis-benchmark, monitoring agents) find what they look for. CONFIG GET and
SET read and write the settings of valkdb/config/, aliases included, with Redis's multi-parameter
forms and its exact error replies; CONFIG SET is all or nothing, as in Redis 7.0, and runs a
setting's apply step (re-listening, the AOF, the open files limit) only when its value changed.
"""

from __future__ import annotations

import os
import resource
import struct
import sys
import time

import gevent

from valkdb import REDIS_VERSION, __version__, errors
from valkdb.commands.debug import allowed
from valkdb.commands.keys import help_reply
from valkdb.config import BY_NAME, ConfigError, Setting
from valkdb.core.context import Context
from valkdb.core.registry import command, container
from valkdb.core.stats import info_safe, percentile
from valkdb.errors import AofError, CommandError
from valkdb.glob import matcher
from valkdb.protocol.encoder import OK, bulk


@command("shutdown")
def shutdown(c: Context, argv: list[bytes]) -> bytes:
    flags = {arg.upper() for arg in argv[1:]}
    if not flags <= {b"NOSAVE", b"SAVE", b"NOW", b"FORCE", b"ABORT"}:
        return errors.SYNTAX
    if {b"NOSAVE", b"SAVE"} <= flags or (b"ABORT" in flags and len(flags) > 1):
        return errors.SYNTAX
    if b"ABORT" in flags:
        return errors.NO_SHUTDOWN  # valkdb shuts down at once: nothing is ever pending
    server = c.server
    if server.busy_script is not None and b"NOSAVE" not in flags:
        # a script past its threshold: only SHUTDOWN NOSAVE ends the server (shutdownCommand)
        return server.busy_script.busy_reply()
    server.log.warning("User requested shutdown...")
    save = True if b"SAVE" in flags else False if b"NOSAVE" in flags else None
    if not server.prepare_shutdown(save, force=b"FORCE" in flags):
        return errors.SHUTDOWN_FAILED
    # Run the rest in its own greenlet: it closes this client too, without a reply.
    gevent.spawn(server.shutdown, "Received SHUTDOWN, shutting down", save=save, prepared=True)
    c.close_after_reply = True
    return b""


@command("time")
def time_(c: Context, argv: list[bytes]) -> bytes:
    now = time.time_ns() // 1000
    return b"*2\r\n" + bulk(b"%d" % (now // 1_000_000)) + bulk(b"%d" % (now % 1_000_000))


# -- INFO --------------------------------------------------------------------------------------
# Field names and order are Redis 7.0's (src/server.c genRedisInfoString); values are valkdb's
# own where it keeps them, and Redis's idle values for machinery valkdb does not have.

# Per process, as Redis's run_id. os.urandom, not secrets: that loads OpenSSL (+4 MB RSS).
_RUN_ID = os.urandom(20).hex().encode()
_REPL_ID = os.urandom(20).hex().encode()


def _human(n: int) -> bytes:
    """Redis's bytesToHuman: 1023B, 1.00K, 2.50M ..."""
    if n < 1024:
        return b"%dB" % n
    for power, unit in enumerate(b"KMGTPE", 1):
        if n < 1024 ** (power + 1) or unit == ord("E"):
            return b"%.2f%c" % (n / 1024**power, unit)
    raise AssertionError("unreachable")


def process_rss() -> int:
    """The process's resident size now."""
    try:
        with open("/proc/self/statm", "rb") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def process_peak() -> int:
    """The process's peak resident size (VmHWM). Not getrusage's ru_maxrss where /proc has
    it: Linux carries that over exec, so a server started by a big process would report its
    parent's peak."""
    try:
        with open("/proc/self/status", "rb") as status:
            for line in status:
                if line.startswith(b"VmHWM:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def _info_server(c):
    server, config, now = c.server, c.server.config, time.time()
    uname = os.uname()
    uptime = int(now - server.started)
    return [
        (b"redis_version", REDIS_VERSION.encode()),
        (b"valkdb_version", __version__.encode()),
        (b"redis_git_sha1", b"00000000"),
        (b"redis_git_dirty", b"0"),
        (b"redis_build_id", b"0"),
        (b"redis_mode", b"standalone"),
        (b"os", f"{uname.sysname} {uname.release} {uname.machine}".encode()),
        (b"arch_bits", b"%d" % (struct.calcsize("P") * 8)),
        (b"monotonic_clock", b"POSIX clock_gettime"),
        (b"multiplexing_api", str(gevent.get_hub().loop.backend).encode()),
        (b"atomicvar_api", b"gevent"),
        (b"gcc_version", b"0.0.0"),
        (b"process_id", b"%d" % os.getpid()),
        (b"process_supervised", b"no"),
        (b"run_id", _RUN_ID),
        (b"tcp_port", b"%d" % config.port),
        (b"server_time_usec", b"%d" % (time.time_ns() // 1000)),
        (b"uptime_in_seconds", b"%d" % uptime),
        (b"uptime_in_days", b"%d" % (uptime // 86400)),
        (b"hz", b"%d" % config.hz),
        (b"configured_hz", b"%d" % config.hz),
        (b"lru_clock", b"%d" % (int(now) & ((1 << 24) - 1))),
        (b"executable", os.path.abspath(sys.argv[0]).encode()),
        (b"config_file", (config.path or "").encode()),
        (b"io_threads_active", b"0"),
    ]


def _info_clients(c):
    clients = list(c.server.clients.values())
    return [
        (b"connected_clients", b"%d" % len(clients)),
        (b"cluster_connections", b"0"),
        (b"maxclients", b"%d" % c.server.config.maxclients),
        (b"client_recent_max_input_buffer",
         b"%d" % max((client.reader.pending() for client in clients), default=0)),
        (b"client_recent_max_output_buffer",
         b"%d" % max((client.output_size() for client in clients), default=0)),
        (b"blocked_clients", b"%d" % (c.server.blocking.count + c.server.pause.postponed)),
        (b"tracking_clients", b"%d" % c.server.tracking.clients),
        (b"clients_in_timeout_table", b"0"),
    ]


def info_memory(c):  # type: ignore[no-untyped-def]
    """INFO memory's fields (MEMORY STATS and DOCTOR read them too)."""
    config = c.server.config
    used = process_rss()
    peak = max(used, process_peak())
    startup = c.server.startup_rss or used  # the size before clients grew it
    dataset = max(0, used - startup)
    system = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    zero = b"0"
    scripts = c.server.scripts  # EVAL's Lua runtime, once a script has needed it
    # (before that, the figure of Redis's fresh Lua state)
    eval_vm = 32768 if scripts is None else scripts.engine.memory()
    eval_scripts, eval_count = (0, 0) if scripts is None else (scripts.memory,
                                                               len(scripts.scripts))
    functions = c.server.functions  # the functions' runtime, also made on first use
    function_vm = 33792 if functions._engine is None else functions.memory()
    function_caches = functions.overhead()
    current = functions.current
    vm_total = eval_vm + function_vm
    scripts_total = eval_scripts + function_caches
    return [
        (b"used_memory", b"%d" % used), (b"used_memory_human", _human(used)),
        (b"used_memory_rss", b"%d" % used), (b"used_memory_rss_human", _human(used)),
        (b"used_memory_peak", b"%d" % peak), (b"used_memory_peak_human", _human(peak)),
        (b"used_memory_peak_perc", b"%.2f%%" % (100 * used / peak)),
        (b"used_memory_overhead", b"%d" % startup),
        (b"used_memory_startup", b"%d" % startup),
        (b"used_memory_dataset", b"%d" % dataset),
        (b"used_memory_dataset_perc", b"%.2f%%" % (100 * dataset / used)),
        (b"allocator_allocated", b"%d" % used), (b"allocator_active", b"%d" % used),
        (b"allocator_resident", b"%d" % used),
        (b"total_system_memory", b"%d" % system),
        (b"total_system_memory_human", _human(system)),
        (b"used_memory_lua", b"%d" % eval_vm), (b"used_memory_vm_eval", b"%d" % eval_vm),
        (b"used_memory_lua_human", _human(eval_vm)),
        (b"used_memory_scripts_eval", b"%d" % eval_scripts),
        (b"number_of_cached_scripts", b"%d" % eval_count),
        (b"number_of_functions", b"%d" % len(current.functions)),
        (b"number_of_libraries", b"%d" % len(current.libraries)),
        (b"used_memory_vm_functions", b"%d" % function_vm),
        (b"used_memory_vm_total", b"%d" % vm_total),
        (b"used_memory_vm_total_human", _human(vm_total)),
        (b"used_memory_functions", b"%d" % function_caches),
        (b"used_memory_scripts", b"%d" % scripts_total),
        (b"used_memory_scripts_human", _human(scripts_total)),
        (b"maxmemory", b"%d" % config.maxmemory),
        (b"maxmemory_human", _human(config.maxmemory)),
        (b"maxmemory_policy", config.maxmemory_policy.encode()),
        (b"allocator_frag_ratio", b"1.00"), (b"allocator_frag_bytes", zero),
        (b"allocator_rss_ratio", b"1.00"), (b"allocator_rss_bytes", zero),
        (b"rss_overhead_ratio", b"1.00"), (b"rss_overhead_bytes", zero),
        (b"mem_fragmentation_ratio", b"1.00"), (b"mem_fragmentation_bytes", zero),
        (b"mem_not_counted_for_evict", zero), (b"mem_replication_backlog", zero),
        (b"mem_total_replication_buffers", zero), (b"mem_clients_slaves", zero),
        (b"mem_clients_normal",
         b"%d" % sum(client.output_size() for client in c.server.clients.values())),
        (b"mem_cluster_links", zero), (b"mem_aof_buffer", zero),
        (b"mem_allocator", b"pymalloc"),
        (b"active_defrag_running", zero), (b"lazyfree_pending_objects", zero),
        (b"lazyfreed_objects", zero),
    ]


def _info_persistence(c):
    server = c.server
    rdb, files, children = server.rdb, server.aof_files, server.children
    zero, never = b"0", b"-1"

    def running(kind: str) -> bytes:
        return b"1" if children.running(kind) else zero

    def seconds(kind: str) -> bytes:
        if not children.running(kind):
            return never
        assert children.active is not None
        return b"%d" % (time.monotonic() - children.active.started)

    def status(good: bool) -> bytes:
        return b"ok" if good else b"err"

    fields = [
        (b"loading", b"1" if server.loading else zero), (b"async_loading", zero),
        (b"current_cow_peak", zero), (b"current_cow_size", zero),
        (b"current_cow_size_age", zero), (b"current_fork_perc", b"0.00"),
        (b"current_save_keys_processed", zero), (b"current_save_keys_total", zero),
    ]
    if server.loading:
        progress = server.loading_progress
        total, loaded = progress.get("total_bytes", 0), progress.get("loaded_bytes", 0)
        started = progress.get("start_time", time.time())
        elapsed = time.time() - started
        eta = (total - loaded) * elapsed / loaded if loaded else 1
        fields += [
            (b"loading_start_time", b"%d" % started), (b"loading_total_bytes", b"%d" % total),
            (b"loading_rdb_used_mem", zero), (b"loading_loaded_bytes", b"%d" % loaded),
            (b"loading_loaded_perc", b"%.2f" % (100 * loaded / total if total else 0)),
            (b"loading_eta_seconds", b"%d" % eta),
        ]
    fields += [
        (b"rdb_changes_since_last_save", b"%d" % server.dirty),
        (b"rdb_bgsave_in_progress", running("rdb")),
        (b"rdb_last_save_time", b"%d" % rdb.last_save),
        (b"rdb_last_bgsave_status", status(rdb.last_bgsave_ok)),
        (b"rdb_last_bgsave_time_sec", b"%d" % rdb.last_bgsave_seconds),
        (b"rdb_current_bgsave_time_sec", seconds("rdb")), (b"rdb_saves", b"%d" % rdb.saves),
        (b"rdb_last_cow_size", zero),
        (b"rdb_last_load_keys_expired", b"%d" % rdb.last_load_keys[1]),
        (b"rdb_last_load_keys_loaded", b"%d" % rdb.last_load_keys[0]),
        (b"aof_enabled", b"1" if server.aof is not None else zero),
        (b"aof_rewrite_in_progress", running("aof")),
        (b"aof_rewrite_scheduled", b"1" if files.rewrite_scheduled else zero),
        (b"aof_last_rewrite_time_sec", b"%d" % files.last_rewrite_seconds),
        (b"aof_current_rewrite_time_sec", seconds("aof")),
        (b"aof_last_bgrewrite_status", status(files.last_rewrite_ok)),
        (b"aof_rewrites", b"%d" % files.rewrites),
        (b"aof_rewrites_consecutive_failures", b"%d" % files.rewrite_failures),
        (b"aof_last_write_status", status(files.write_error is None)),
        (b"aof_last_cow_size", zero), (b"module_fork_in_progress", zero),
        (b"module_fork_last_cow_size", zero),
    ]
    if server.aof is not None:
        fields += [
            (b"aof_current_size", b"%d" % files.size), (b"aof_base_size", b"%d" % files.base_size),
            (b"aof_pending_rewrite", b"1" if files.rewrite_scheduled else zero),
            (b"aof_buffer_length", b"%d" % files.buffered()),
            (b"aof_pending_bio_fsync", b"1" if files.fsync_pending() else zero),
            (b"aof_delayed_fsync", zero),
        ]
    return fields


def _info_stats(c):
    server, stats = c.server, c.server.stats
    zero = b"0"
    counters = [b"total_net_input_bytes", b"total_net_output_bytes",
                b"total_net_repl_input_bytes", b"total_net_repl_output_bytes"]
    rates = [b"instantaneous_input_kbps", b"instantaneous_output_kbps",
             b"instantaneous_input_repl_kbps", b"instantaneous_output_repl_kbps"]
    idle = [b"sync_full", b"sync_partial_ok", b"sync_partial_err"]
    after_expired = [b"expired_time_cap_reached_count", b"expire_cycle_cpu_milliseconds",
                     b"evicted_keys", b"evicted_clients", b"total_eviction_exceeded_time",
                     b"current_eviction_exceeded_time"]
    tail = [b"latest_fork_usec", b"total_forks", b"migrate_cached_sockets",
            b"slave_expires_tracked_keys", b"active_defrag_hits", b"active_defrag_misses",
            b"active_defrag_key_hits", b"active_defrag_key_misses",
            b"total_active_defrag_time", b"current_active_defrag_time"]
    tail_after_errors = [b"dump_payload_sanitizations",
            b"total_reads_processed", b"total_writes_processed",
            b"io_threaded_reads_processed", b"io_threaded_writes_processed",
            b"reply_buffer_shrinks", b"reply_buffer_expands"]
    return [
        (b"total_connections_received", b"%d" % stats["total_connections_received"]),
        (b"total_commands_processed", b"%d" % server.monitoring.total_calls()),
        (b"instantaneous_ops_per_sec", zero),
        *[(name, zero) for name in counters], *[(name, b"0.00") for name in rates],
        (b"rejected_connections", b"%d" % stats["rejected_connections"]),
        *[(name, zero) for name in idle],
        (b"expired_keys", b"%d" % sum(db.expired for db in server.keyspace.dbs)),
        (b"expired_stale_perc", b"0.00"),
        *[(name, zero) for name in after_expired],
        (b"keyspace_hits", b"%d" % stats["keyspace_hits"]),
        (b"keyspace_misses", b"%d" % stats["keyspace_misses"]),
        (b"pubsub_channels", b"%d" % len(server.pubsub.channels)),
        (b"pubsub_patterns", b"%d" % server.pubsub.numpat()),
        (b"pubsubshard_channels", b"%d" % len(server.pubsub.shard_channels)),
        *[(name, zero) for name in tail],
        (b"tracking_total_keys", b"%d" % len(server.tracking.table)),
        (b"tracking_total_items", b"%d" % server.tracking.items),
        (b"tracking_total_prefixes", b"%d" % len(server.tracking.prefixes)),
        (b"unexpected_error_replies", zero),
        (b"total_error_replies", b"%d" % server.monitoring.error_replies),
        *[(name, zero) for name in tail_after_errors],
    ]


def _info_replication(c):
    return [
        (b"role", b"master"), (b"connected_slaves", b"0"),
        (b"master_failover_state", b"no-failover"),
        (b"master_replid", _REPL_ID), (b"master_replid2", b"0" * 40),
        (b"master_repl_offset", b"0"), (b"second_repl_offset", b"-1"),
        (b"repl_backlog_active", b"0"), (b"repl_backlog_size", b"1048576"),
        (b"repl_backlog_first_byte_offset", b"0"), (b"repl_backlog_histlen", b"0"),
    ]


def _info_cpu(c):
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    thread = resource.getrusage(getattr(resource, "RUSAGE_THREAD", resource.RUSAGE_SELF))
    return [
        (b"used_cpu_sys", b"%.6f" % own.ru_stime), (b"used_cpu_user", b"%.6f" % own.ru_utime),
        (b"used_cpu_sys_children", b"%.6f" % children.ru_stime),
        (b"used_cpu_user_children", b"%.6f" % children.ru_utime),
        (b"used_cpu_sys_main_thread", b"%.6f" % thread.ru_stime),
        (b"used_cpu_user_main_thread", b"%.6f" % thread.ru_utime),
    ]


def _info_modules(c):
    return []  # valkdb loads no modules


def _info_cluster(c):
    return [(b"cluster_enabled", b"0")]


def _info_keyspace(c):
    return [
        (b"db%d" % db.index, b"keys=%d,expires=%d,avg_ttl=0" % (size, db.expires_count()))
        for db in c.server.keyspace.dbs if (size := db.size())
    ]


def _info_commandstats(c):
    return [
        (b"cmdstat_%s" % info_safe(name).encode(),
         b"calls=%d,usec=%d,usec_per_call=%.2f,rejected_calls=%d,failed_calls=%d" % (
             calls, usec, usec / calls if calls else 0.0, rejected, failed))
        for name, calls, usec, rejected, failed in c.server.monitoring.command_lines()
    ]


def _info_errorstats(c):
    errors_ = c.server.monitoring.errors
    return [(b"errorstat_%s" % info_safe(prefix.decode("latin-1")).encode("latin-1"),
             b"count=%d" % errors_[prefix]) for prefix in sorted(errors_)]


def _info_latencystats(c):
    server = c.server
    if not server.config.latency_tracking:
        return []
    wanted = server.config.latency_tracking_info_percentiles
    lines = []
    for entry, durations in server.monitoring.histograms().items():
        if not durations:
            continue
        values = b",".join(b"p%s=%.3f" % (_percentile_name(p), percentile(durations, p))
                           for p in wanted)
        lines.append((b"latency_percentiles_usec_%s" % info_safe(entry.name).encode(), values))
    return lines


def _percentile_name(value: float) -> bytes:
    text = b"%f" % value  # as trimDoubleString: no trailing zeros, no trailing dot
    return text.rstrip(b"0").rstrip(b".") if b"." in text else text


# name -> (title, fields); in Redis's order (commandstats and latencystats only with "all").
_SECTIONS = {
    b"server": (b"Server", _info_server),
    b"clients": (b"Clients", _info_clients),
    b"memory": (b"Memory", info_memory),
    b"persistence": (b"Persistence", _info_persistence),
    b"stats": (b"Stats", _info_stats),
    b"replication": (b"Replication", _info_replication),
    b"cpu": (b"CPU", _info_cpu),
    b"modules": (b"Modules", _info_modules),
    b"commandstats": (b"Commandstats", _info_commandstats),
    b"errorstats": (b"Errorstats", _info_errorstats),
    b"latencystats": (b"Latencystats", _info_latencystats),
    b"cluster": (b"Cluster", _info_cluster),
    b"keyspace": (b"Keyspace", _info_keyspace),
}
_DEFAULT_SECTIONS = set(_SECTIONS) - {b"commandstats", b"latencystats"}


def info_sections(names: list[bytes]) -> list[bytes]:
    """The sections INFO prints for these arguments, in Redis's order."""
    wanted = {name.lower() for name in names} or {b"default"}
    if wanted & {b"default", b"all", b"everything"}:
        wanted |= _DEFAULT_SECTIONS
    if wanted & {b"all", b"everything"}:
        wanted |= {b"commandstats", b"latencystats"}
    return [name for name in _SECTIONS if name in wanted]


@command("info")
def info(c: Context, argv: list[bytes]) -> bytes:
    parts = []
    for name in info_sections(argv[1:]):
        title, fields = _SECTIONS[name]
        lines = [b"# %s\r\n" % title] + [b"%s:%s\r\n" % field for field in fields(c)]
        parts.append(b"".join(lines))
    return c.resp.verbatim(b"\r\n".join(parts))


# -- CONFIG ------------------------------------------------------------------------------------

container("config")

_CONFIG_HELP = [
    b"CONFIG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    b"GET <pattern>",
    b"    Return parameters matching the glob-like <pattern> and their values.",
    b"SET <directive> <value>",
    b"    Set the configuration <directive> to <value>.",
    b"RESETSTAT",
    b"    Reset statistics reported by the INFO command.",
    b"REWRITE",
    b"    Rewrite the configuration file.",
    b"HELP",
    b"    Prints this help.",
]


# Every name CONFIG GET patterns match (aliases too, as separate entries), hidden ones left out.
_LISTED = [(name, setting) for name, setting in BY_NAME.items() if not setting.hidden]


@command("config|get")
def config_get(c: Context, argv: list[bytes]) -> bytes:
    config = c.server.config
    found: dict[str, tuple[bytes, Setting]] = {}  # name or alias -> (name to answer, setting)
    for pattern in argv[2:]:
        if not any(char in pattern for char in b"*?["):
            key = pattern.lower().decode("latin-1")
            if key in BY_NAME and key not in found:
                found[key] = (pattern, BY_NAME[key])  # Redis answers with the name as asked
            continue
        match = matcher(pattern, nocase=True)
        for name, setting in _LISTED:
            if name not in found and match(name.encode()):
                found[name] = (name.encode(), setting)
    return c.resp.map((bulk(asked), bulk(config.get(setting.name).encode(
        "utf-8", "surrogateescape"))) for asked, setting in found.values())


def _config_set_error(name: bytes, reason: str) -> CommandError:
    return CommandError(errors.err_bytes(
        b"ERR CONFIG SET failed (possibly related to argument '%s') - %s"
        % (name, reason.encode())))


def _is_local(c) -> bool:
    """Redis's islocalClient: connected from 127.0.0.1 or ::1."""
    return c.addr.rpartition(":")[0] in ("127.0.0.1", "[::1]")


def _settings_to_set(c, argv: list[bytes]) -> list[tuple[Setting, bytes, str]]:
    """Redis's first pass: every name known, settable, not refused while loading and given
    once, else the first of these errors. Each setting comes with the name its own errors use:
    the alias if it was named by its alias."""
    config, local = c.server.config, _is_local(c)
    chosen: list[tuple[Setting, bytes, str]] = []
    for i in range(2, len(argv), 2):
        name = argv[i]
        key = name.lower().decode("latin-1")
        setting = BY_NAME.get(key)
        if setting is None:
            raise CommandError(errors.err_bytes(
                b"ERR Unknown option or number of arguments for CONFIG SET - '%s'" % name))
        reason = config.refusal(setting, local)
        if reason:
            raise _config_set_error(name, reason)
        if c.server.loading and setting.deny_loading:
            raise CommandError(errors.LOADING)
        if any(key.encode() == seen for _, seen, _ in chosen):  # an alias is another entry
            raise _config_set_error(name, "duplicate parameter")
        chosen.append((setting, key.encode(), argv[i + 1].decode("utf-8", "surrogateescape")))
    return chosen


def _restore(c, previous: list[tuple[Setting, str]]) -> None:
    for setting, old in previous:
        try:
            c.server.config.set(setting.name, old, local=True)
        except ConfigError as exc:
            c.server.log.warning("Failed restoring failed CONFIG SET command. Error setting %s "
                                 "to '%s': %s", setting.name, old, exc.args[0])


def _apply_tls_port(server) -> None:
    raise ConfigError("Unable to update TLS configuration. Check server logs.")  # no TLS here


def _apply_tls(server) -> None:
    config = server.config
    if config.tls_port or config.tls_replication or config.tls_cluster:
        _apply_tls_port(server)


def _apply_listeners(reason: str):  # type: ignore[no-untyped-def]
    def apply(server) -> None:
        try:
            server.relisten()
        except OSError as exc:
            server.log.warning("Failed to listen: %s", exc)
            raise ConfigError(reason) from None
    return apply


def _apply_appendonly(server) -> None:
    try:
        server.appendonly_changed()
    except (OSError, AofError) as exc:
        server.log.warning("Unable to turn on AOF: %s", exc)
        raise ConfigError("Unable to turn on AOF. Check server logs.") from None


_RESERVED_FDS = 32  # Redis keeps this many descriptors for listeners, files and logs


def _apply_maxclients(server) -> None:
    """Raise the open files limit to maxclients + 32 if needed; as Redis, refuse (naming what
    would fit) when the system will not allow it."""
    wanted = server.config.maxclients + _RESERVED_FDS
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY or soft >= wanted:
        return
    # Redis tries lower limits in steps of 16 from the wanted one: the first that fits the
    # hard limit, unless the process may raise that too; never below the current one.
    capped = hard != resource.RLIM_INFINITY and hard < wanted
    candidates = [wanted] + ([wanted + (hard - wanted) // 16 * 16] if capped else [])
    best = soft
    for candidate in candidates:
        if candidate <= soft:
            break
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (
                candidate, hard if hard == resource.RLIM_INFINITY else max(candidate, hard)))
        except (ValueError, OSError):
            continue
        best = candidate
        break
    if best < wanted:
        raise ConfigError("The operating system is not able to handle the specified number of "
                          f"clients, try with {best - _RESERVED_FDS}")


def _apply_backlog_size(server) -> None:
    # Redis resizes its backlog then, to at least 16kb (not when reading the config file).
    server.config.repl_backlog_size = max(server.config.repl_backlog_size, 16 * 1024)


# What CONFIG SET does after changing a setting whose Setting.apply names one of these.
_APPLY = {
    "port": _apply_listeners("Unable to listen on this port. Check server logs."),
    "bind": _apply_listeners("Failed to bind to specified addresses."),
    "appendonly": _apply_appendonly,
    "maxclients": _apply_maxclients,
    "repl-backlog-size": _apply_backlog_size,
    "tls-port": _apply_tls_port,
    "tls": _apply_tls,
    "ageing": lambda server: server.configure_ageing(),
    "notify": lambda server: server.configure_notifications(),
    "tracking": lambda server: server.update_gate(),  # the table may be over its new limit
    "monitoring": lambda server: server.monitoring.configure(),
}


@command("config|set")
def config_set(c: Context, argv: list[bytes]) -> bytes:
    """As Redis 7.0: check every name, set every value (undoing them all at the first refusal),
    then run each changed setting's apply step once (undoing everything if one fails)."""
    if len(argv) % 2:
        return errors.SYNTAX
    chosen = _settings_to_set(c, argv)
    config = c.server.config
    from_loopback = allowed(c, "local")  # enable-protected-configs local: loopback clients
    previous = [(setting, config.get(setting.name)) for setting, _, _ in chosen]
    applies: dict[str, bytes] = {}  # apply step -> the name its error blames
    for i, (setting, name, text) in enumerate(chosen):
        try:
            changed = config.set(setting.name, text, local=from_loopback)
        except ConfigError as exc:
            _restore(c, previous[:i + 1])
            raise _config_set_error(name, exc.args[0]) from None
        if changed and setting.apply:
            applies.setdefault(setting.apply, name)
    for apply, name in applies.items():
        try:
            _APPLY[apply](c.server)
        except ConfigError as exc:
            c.server.log.warning("Failed applying new configuration. Possibly related to new %s "
                                 "setting. Restoring previous settings.", name.decode())
            _restore(c, previous)
            for undo in applies:
                try:
                    _APPLY[undo](c.server)
                except ConfigError:
                    pass  # logged by the step; the old values were working before
            raise _config_set_error(name, exc.args[0]) from None
    return OK


@command("config|resetstat")
def config_resetstat(c: Context, argv: list[bytes]) -> bytes:
    server = c.server
    for name in server.stats:
        server.stats[name] = 0
    server.monitoring.reset()
    for db in server.keyspace.dbs:
        db.expired = 0
    return OK


@command("config|rewrite")
def config_rewrite(c: Context, argv: list[bytes]) -> bytes:
    try:
        c.server.config.rewrite()
    except ConfigError as exc:
        return errors.err("ERR " + exc.args[0])
    except OSError as exc:
        c.server.log.warning("CONFIG REWRITE failed: %s", exc.strerror)
        return errors.err(f"ERR Rewriting config file: {exc.strerror}")
    c.server.log.info("CONFIG REWRITE executed with success.")
    return OK


@command("config|help")
def config_help(c: Context, argv: list[bytes]) -> bytes:
    return help_reply(_CONFIG_HELP)
