"""Every setting, declared once: all of Redis 7.0's (types, ranges, defaults), plus valkdb's own.

This table is the single source for the command-line options (cli.py generates them), config
files, CONFIG GET / SET / REWRITE and the defaults. It follows Redis 7.0.15's own table (config.c)
setting by setting, in redis.conf's order of sections, except where valkdb deliberately differs
(bind: loopback only, as the shipped redis.conf has it) or adds its own (keyspace-shards).

"(compat)" in a help text means valkdb accepts and reports the setting exactly as Redis does but
does not act on it (yet): replication, cluster, TLS, ACL files, eviction, defragmentation ...
"""

from __future__ import annotations

from typing import Any

from valkdb.config.setting import Setting

INT_MIN, INT_MAX, UINT_MAX = -(2**31), 2**31 - 1, 2**32 - 1
LONG_MAX, ULONG_LONG_MAX = 2**63 - 1, 2**64 - 1


def _bool(name: str, default: str, help: str, **kw: Any) -> Setting:
    return Setting(name, "bool", default, help, **kw)


def _num(name: str, default: str, lo: int, hi: int, help: str,
         kind: str = "int", **kw: Any) -> Setting:
    return Setting(name, kind, default, help, minimum=lo, maximum=hi, **kw)


def _mem(name: str, default: str, lo: int, hi: int, help: str,
         **kw: Any) -> Setting:
    return Setting(name, "memory", default, help, minimum=lo, maximum=hi, **kw)


def _str(name: str, default: str, help: str, **kw: Any) -> Setting:
    return Setting(name, "str", default, help, **kw)


def _enum(name: str, default: str, choices: str, help: str,
          **kw: Any) -> Setting:
    return Setting(name, "enum", default, help, choices=tuple(choices.split()), **kw)


def _special(name: str, default: str, help: str, **kw: Any) -> Setting:
    return Setting(name, "special", default, help, **kw)


_ALLOWED = "no yes local"
_CPU = "CPUs to pin {} to (compat)."
_TLS = {"apply": "tls"}

SETTINGS: tuple[Setting, ...] = (
    # -- Network ---------------------------------------------------------------------------------
    _special("bind", "127.0.0.1 -::1", "Addresses to listen on; '-' marks one that may be "
             "unavailable. HOST:PORT also accepted (valkdb).", apply="bind"),
    _str("bind-source-addr", "", "Source address of outgoing connections (compat).",
         nullable=True),
    _bool("protected-mode", "yes", "Refuse non-loopback clients while no password is set "
          "(compat)."),
    _enum("enable-protected-configs", "no", _ALLOWED,
          "Allow CONFIG SET of protected settings (dir, dbfilename): no, yes, local clients.",
          mutable=False),
    _enum("enable-debug-command", "no", _ALLOWED, "Allow DEBUG (compat).", mutable=False),
    _enum("enable-module-command", "no", _ALLOWED, "Allow MODULE (compat).", mutable=False),
    _num("port", "6379", 0, 65535, "TCP port; CONFIG SET re-listens.", apply="port"),
    _num("tcp-backlog", "511", 0, INT_MAX, "listen() backlog.", mutable=False),
    _str("unixsocket", "", "Unix socket path (compat: valkdb listens on TCP only).",
         nullable=True, mutable=False),
    _num("unixsocketperm", "0", 0, 0o777, "Unix socket permissions, octal (compat).",
         kind="octal", unsigned=True, mutable=False),
    _num("timeout", "0", 0, INT_MAX, "Close a client idle this many seconds (0 = never)."),
    _num("tcp-keepalive", "300", 0, INT_MAX, "TCP keepalive interval in seconds (0 = off)."),
    _num("socket-mark-id", "0", 0, UINT_MAX, "SO_MARK of listening sockets (compat).",
         unsigned=True, mutable=False),
    # -- TLS (valkdb has none: turning it on is refused, as by a Redis without certificates) -----
    _num("tls-port", "0", 0, 65535, "TLS port (compat).", apply="tls-port"),
    _str("tls-cert-file", "", "Server certificate (compat).", nullable=True, **_TLS),
    _str("tls-key-file", "", "Server private key (compat).", nullable=True, **_TLS),
    _str("tls-key-file-pass", "", "Passphrase of tls-key-file (compat).", nullable=True, **_TLS),
    _str("tls-client-cert-file", "", "Client certificate (compat).", nullable=True, **_TLS),
    _str("tls-client-key-file", "", "Client private key (compat).", nullable=True, **_TLS),
    _str("tls-client-key-file-pass", "", "Passphrase of tls-client-key-file (compat).",
         nullable=True, **_TLS),
    _str("tls-dh-params-file", "", "DH parameters (compat).", nullable=True, **_TLS),
    _str("tls-ca-cert-file", "", "CA certificate bundle (compat).", nullable=True, **_TLS),
    _str("tls-ca-cert-dir", "", "CA certificate directory (compat).", nullable=True, **_TLS),
    _enum("tls-auth-clients", "yes", "no yes optional", "Client certificates required (compat)."),
    _bool("tls-replication", "no", "TLS for replication links (compat).", **_TLS),
    _bool("tls-cluster", "no", "TLS for the cluster bus (compat).", **_TLS),
    _str("tls-protocols", "", "TLS versions (compat).", nullable=True, **_TLS),
    _str("tls-ciphers", "", "TLS 1.2 ciphers (compat).", nullable=True, **_TLS),
    _str("tls-ciphersuites", "", "TLS 1.3 cipher suites (compat).", nullable=True, **_TLS),
    _bool("tls-prefer-server-ciphers", "no", "Server's cipher order first (compat).", **_TLS),
    _bool("tls-session-caching", "yes", "TLS session cache (compat).", **_TLS),
    _num("tls-session-cache-size", "20480", 0, INT_MAX, "TLS sessions cached (compat).", **_TLS),
    _num("tls-session-cache-timeout", "300", 0, INT_MAX, "TLS session lifetime, seconds "
         "(compat).", **_TLS),
    # -- General -----------------------------------------------------------------------------------
    _bool("daemonize", "no", "Run in the background.", mutable=False),
    _enum("supervised", "no", "upstart systemd auto no", "Supervision (compat).", mutable=False),
    _str("pidfile", "", "Write the process id to this file.", nullable=True, mutable=False),
    _enum("loglevel", "notice", "debug verbose notice warning", "Log verbosity."),
    _str("logfile", "", "Log file (empty = standard output).", mutable=False),
    _bool("syslog-enabled", "no", "Log to syslog (compat).", mutable=False),
    _str("syslog-ident", "redis", "Syslog identity (compat).", mutable=False),
    _enum("syslog-facility", "local0", "user local0 local1 local2 local3 local4 local5 local6 "
          "local7", "Syslog facility (compat).", mutable=False),
    _bool("crash-log-enabled", "yes", "Log a stack trace on a crash (compat)."),
    _bool("crash-memcheck-enabled", "yes", "Memory test after a crash (compat)."),
    _num("databases", "16", 1, INT_MAX, "Number of databases.", mutable=False),
    _num("keyspace-shards", "16", 1, 4096,
         "Dicts per database, each behind its own lock (valkdb's own setting).", mutable=False),
    _bool("always-show-logo", "no", "ASCII-art logo at start-up (compat).", mutable=False),
    _bool("set-proc-title", "yes", "Set the process title (compat).", mutable=False),
    _str("proc-title-template", "{title} {listen-addr} {server-mode}",
         "Process title template (compat)."),
    # -- Snapshotting ------------------------------------------------------------------------------
    _special("save", "3600 1 300 100 60 10000",
             "Snapshot points: BGSAVE after <seconds> when at least <changes> writes ('' = none)."),
    _bool("stop-writes-on-bgsave-error", "yes",
          "Refuse writes (MISCONF) while the last background save failed."),
    _bool("rdbcompression", "yes", "Compress strings in RDB files (compat: valkdb does not)."),
    _bool("rdbchecksum", "yes", "RDB checksum (compat: valkdb always writes and checks one).",
          mutable=False),
    _enum("sanitize-dump-payload", "no", "no yes clients", "Deep checks of RESTORE payloads "
          "(compat)."),
    _str("dbfilename", "dump.rdb", "RDB file name.", protected=True),
    _bool("rdb-del-sync-files", "no", "Delete RDB files used only for replication (compat)."),
    _special("dir", ".", "Working directory for data files.", protected=True,
             deny_loading=True),
    _bool("rdb-save-incremental-fsync", "yes", "fsync RDB files as they grow (compat)."),
    _num("rdb-key-save-delay", "0", INT_MIN, INT_MAX, "Testing: delay per key saved (compat).",
         hidden=True),
    _num("key-load-delay", "0", INT_MIN, INT_MAX, "Testing: delay per key loaded (compat).",
         hidden=True),
    _num("loading-process-events-interval-bytes", "2097152", 1024, INT_MAX,
         "Testing: bytes loaded between event loop passes (compat).", hidden=True),
    # -- Replication -------------------------------------------------------------------------------
    _special("replicaof", "no one", "Master to replicate: <host> <port> (compat: valkdb has no "
             "replication).", alias="slaveof", mutable=False),
    _str("masterauth", "", "Password for the master (compat).", nullable=True),
    _str("masteruser", "", "User for the master (compat).", nullable=True),
    _bool("replica-serve-stale-data", "yes", "Answer while the link is down (compat).",
          alias="slave-serve-stale-data"),
    _bool("replica-read-only", "yes", "Replicas refuse writes (compat).", alias="slave-read-only"),
    _bool("repl-diskless-sync", "yes", "Full syncs over the socket (compat)."),
    _num("repl-diskless-sync-delay", "5", 0, INT_MAX, "Seconds to wait for more replicas "
         "(compat)."),
    _num("repl-diskless-sync-max-replicas", "0", 0, INT_MAX, "Replicas that end the wait early "
         "(compat)."),
    _enum("repl-diskless-load", "disabled", "disabled on-empty-db swapdb",
          "Replica loads from the socket (compat).", deny_loading=True),
    _num("repl-ping-replica-period", "10", 1, INT_MAX, "Seconds between pings to replicas "
         "(compat).", alias="repl-ping-slave-period"),
    _num("repl-timeout", "60", 1, INT_MAX, "Replication timeout, seconds (compat)."),
    _bool("repl-disable-tcp-nodelay", "no", "Fewer, larger packets to replicas (compat)."),
    _mem("repl-backlog-size", "1mb", 1, LONG_MAX, "Replication backlog (compat); CONFIG SET "
         "makes it at least 16kb.", apply="repl-backlog-size"),
    _num("repl-backlog-ttl", "3600", 0, LONG_MAX, "Seconds before a backlog without replicas "
         "goes (compat)."),
    _num("replica-priority", "100", 0, INT_MAX, "Sentinel promotion priority (compat).",
         alias="slave-priority"),
    _enum("propagation-error-behavior", "ignore", "ignore panic panic-on-replicas",
          "On an error in a replicated command (compat)."),
    _bool("replica-ignore-disk-write-errors", "no", "Replica goes on after a disk error "
          "(compat)."),
    _bool("replica-announced", "yes", "Sentinel lists this replica (compat)."),
    _num("min-replicas-to-write", "0", 0, INT_MAX, "Writes need this many replicas (compat).",
         alias="min-slaves-to-write"),
    _num("min-replicas-max-lag", "10", 0, INT_MAX, "Lag, seconds, for a replica to count "
         "(compat).", alias="min-slaves-max-lag"),
    _str("replica-announce-ip", "", "Address announced to the master (compat).",
         alias="slave-announce-ip", nullable=True),
    _num("replica-announce-port", "0", 0, 65535, "Port announced to the master (compat).",
         alias="slave-announce-port"),
    _bool("replica-lazy-flush", "no", "Flush in the background before a full sync (compat).",
          alias="slave-lazy-flush"),
    # -- Keys tracking, security, clients --------------------------------------------------------
    _num("tracking-table-max-keys", "1000000", 0, LONG_MAX, "Keys the client tracking table "
         "holds before it forgets some, telling their clients.", unsigned=True, apply="tracking"),
    _num("acllog-max-len", "128", 0, LONG_MAX, "ACL LOG entries kept (compat)."),
    _str("aclfile", "", "ACL file (compat).", mutable=False),
    _str("requirepass", "", "Password the default user must AUTH with (empty = none).",
         nullable=True),
    _enum("acl-pubsub-default", "resetchannels", "allchannels resetchannels",
          "Channels of new ACL users (compat)."),
    _num("maxclients", "10000", 1, UINT_MAX, "Maximum connected clients; CONFIG SET raises the "
         "open files limit.", unsigned=True, apply="maxclients"),
    # -- Memory management -----------------------------------------------------------------------
    _mem("maxmemory", "0", 0, ULONG_LONG_MAX, "Memory limit (reported in INFO; no eviction).",
         unsigned=True),
    _enum("maxmemory-policy", "noeviction", "volatile-lru volatile-lfu volatile-random "
          "volatile-ttl allkeys-lru allkeys-lfu allkeys-random noeviction",
          "Eviction policy (OBJECT FREQ needs an LFU one; no eviction).", apply="ageing"),
    _num("maxmemory-samples", "5", 1, INT_MAX, "Keys sampled per eviction (compat)."),
    _num("maxmemory-eviction-tenacity", "10", 0, 100, "Eviction effort (compat)."),
    _bool("replica-ignore-maxmemory", "yes", "Replicas do not evict (compat).",
          alias="slave-ignore-maxmemory"),
    _num("active-expire-effort", "1", 1, 10, "Effort of the active expiry cycle."),
    _num("maxmemory-clients", "0", -100, LONG_MAX, "Memory limit of all clients, or N% of "
         "maxmemory (compat).", kind="percent"),
    # -- Lazy freeing, threads, OOM score, huge pages --------------------------------------------
    _bool("lazyfree-lazy-eviction", "no", "Evict in the background (compat)."),
    _bool("lazyfree-lazy-expire", "no", "Expire in the background (compat)."),
    _bool("lazyfree-lazy-server-del", "no", "Implicit deletes in the background (compat)."),
    _bool("lazyfree-lazy-user-del", "no", "DEL acts as UNLINK (compat)."),
    _bool("lazyfree-lazy-user-flush", "no", "FLUSH* default to ASYNC (compat)."),
    _num("io-threads", "1", 1, 128, "I/O threads (compat).", mutable=False),
    _bool("io-threads-do-reads", "no", "Threads also read (compat).", mutable=False),
    _enum("oom-score-adj", "no", "no yes relative absolute", "Set the process's oom_score_adj "
          "(compat)."),
    _special("oom-score-adj-values", "0 200 800", "oom_score_adj of master, replica, child "
             "(compat)."),
    _bool("disable-thp", "yes", "Turn transparent huge pages off (compat).", mutable=False),
    # -- Append only mode ------------------------------------------------------------------------
    _bool("appendonly", "no", "Log every write to the append-only file.", deny_loading=True,
          apply="appendonly"),
    _str("appendfilename", "appendonly.aof", "AOF base name.", mutable=False),
    _str("appenddirname", "appendonlydir", "AOF directory name.", mutable=False),
    _enum("appendfsync", "everysec", "everysec always no", "AOF fsync policy."),
    _bool("no-appendfsync-on-rewrite", "no", "Skip fsync while a child process saves."),
    _num("auto-aof-rewrite-percentage", "100", 0, INT_MAX,
         "Rewrite the AOF when it grew this much (percent) since the last rewrite (0 = never)."),
    _mem("auto-aof-rewrite-min-size", "64mb", 0, LONG_MAX, "No automatic rewrite below this "
         "size."),
    _bool("aof-load-truncated", "yes", "Load an AOF whose last command is cut short."),
    _bool("aof-use-rdb-preamble", "yes", "Write the rewritten AOF base in RDB format."),
    _bool("aof-timestamp-enabled", "no", "Annotate the AOF with #TS:<unix time> lines."),
    _bool("aof-rewrite-incremental-fsync", "yes", "fsync the rewritten AOF as it grows "
          "(compat)."),
    _bool("aof-disable-auto-gc", "no", "Keep the history files an AOF rewrite replaces."),
    # -- Shutdown, scripting, cluster ------------------------------------------------------------
    _num("shutdown-timeout", "10", 0, INT_MAX, "Seconds a graceful shutdown may take."),
    Setting("shutdown-on-sigint", "flags", "default", "SHUTDOWN flags for SIGINT (compat).",
            choices=("default", "save", "nosave", "now", "force")),
    Setting("shutdown-on-sigterm", "flags", "default", "SHUTDOWN flags for SIGTERM (compat).",
            choices=("default", "save", "nosave", "now", "force")),
    _num("busy-reply-threshold", "5000", 0, LONG_MAX, "Milliseconds before a busy script gets "
         "-BUSY replies (compat).", alias="lua-time-limit"),
    _bool("cluster-enabled", "no", "Cluster mode (compat).", mutable=False),
    _str("cluster-config-file", "nodes.conf", "Cluster state file (compat).", mutable=False),
    _num("cluster-node-timeout", "15000", 0, LONG_MAX, "Milliseconds before a node is failing "
         "(compat)."),
    _num("cluster-port", "0", 0, 65535, "Cluster bus port (compat).", mutable=False),
    _num("cluster-replica-validity-factor", "10", 0, INT_MAX, "Data age limit for failover "
         "(compat).", alias="cluster-slave-validity-factor"),
    _num("cluster-migration-barrier", "1", 0, INT_MAX, "Replicas a master keeps (compat)."),
    _bool("cluster-allow-replica-migration", "yes", "Replicas may migrate (compat)."),
    _bool("cluster-require-full-coverage", "yes", "Stop when a slot is uncovered (compat)."),
    _bool("cluster-replica-no-failover", "no", "Never fail over (compat).",
          alias="cluster-slave-no-failover"),
    _bool("cluster-allow-reads-when-down", "no", "Reads while the cluster is down (compat)."),
    _bool("cluster-allow-pubsubshard-when-down", "yes", "Shard channels while down (compat)."),
    _mem("cluster-link-sendbuf-limit", "0", 0, ULONG_LONG_MAX, "Cluster link buffer limit "
         "(compat).", unsigned=True),
    _str("cluster-announce-hostname", "", "Hostname announced (compat).", nullable=True),
    _enum("cluster-preferred-endpoint-type", "ip", "ip hostname unknown-endpoint",
          "Endpoint in redirects (compat)."),
    _str("cluster-announce-ip", "", "Address announced (compat).", nullable=True),
    _num("cluster-announce-port", "0", 0, 65535, "Port announced (compat)."),
    _num("cluster-announce-tls-port", "0", 0, 65535, "TLS port announced (compat)."),
    _num("cluster-announce-bus-port", "0", 0, 65535, "Bus port announced (compat)."),
    # -- Slow log, latency, notifications --------------------------------------------------------
    _num("slowlog-log-slower-than", "10000", -1, LONG_MAX, "Microseconds for a command to be "
         "logged in the SLOWLOG (-1: never, 0: every command).", apply="monitoring"),
    _num("slowlog-max-len", "128", 0, LONG_MAX, "SLOWLOG entries kept."),
    _num("latency-monitor-threshold", "0", 0, LONG_MAX, "Milliseconds for a command to be "
         "recorded as a LATENCY event (0: off).", apply="monitoring"),
    _bool("latency-tracking", "yes", "Per-command latency percentiles in INFO latencystats."),
    _special("latency-tracking-info-percentiles", "50 99 99.9", "Percentiles INFO latencystats "
             "shows."),
    _special("notify-keyspace-events", "", "Keyspace event classes published.",
             apply="notify"),
    # -- Encodings of small values (OBJECT ENCODING reports them) --------------------------------
    _num("hash-max-listpack-entries", "512", 0, LONG_MAX,
         "A hash with more fields is a hashtable.", unsigned=True,
         alias="hash-max-ziplist-entries"),
    _mem("hash-max-listpack-value", "64", 0, LONG_MAX,
         "A hash with a longer field or value is a hashtable.", unsigned=True,
         alias="hash-max-ziplist-value"),
    _num("list-max-listpack-size", "-2", INT_MIN, INT_MAX, "Quicklist node size (compat: "
         "a list is always a quicklist).", alias="list-max-ziplist-size"),
    _num("list-compress-depth", "0", 0, INT_MAX, "Uncompressed quicklist nodes at each end "
         "(compat)."),
    _num("set-max-intset-entries", "512", 0, LONG_MAX,
         "A set of integers with more members is a hashtable.", unsigned=True),
    _num("zset-max-listpack-entries", "128", 0, LONG_MAX,
         "A sorted set with more members is a skiplist.", unsigned=True,
         alias="zset-max-ziplist-entries"),
    _mem("zset-max-listpack-value", "64", 0, LONG_MAX,
         "A sorted set with a longer member is a skiplist.", unsigned=True,
         alias="zset-max-ziplist-value"),
    _mem("hll-sparse-max-bytes", "3000", 0, LONG_MAX, "Sparse HyperLogLog size limit (compat).",
         unsigned=True),
    _mem("stream-node-max-bytes", "4096", 0, LONG_MAX, "Stream node size limit (compat).",
         unsigned=True),
    _num("stream-node-max-entries", "100", 0, LONG_MAX, "Stream node entries limit (compat)."),
    _bool("activerehashing", "yes", "Rehash main dicts incrementally (compat)."),
    # -- Client limits and the event loop --------------------------------------------------------
    _special("client-output-buffer-limit",
             "normal 0 0 0 replica 256mb 64mb 60 pubsub 32mb 8mb 60",
             "Per class: hard limit, soft limit, soft seconds."),
    _mem("client-query-buffer-limit", "1gb", 1024 * 1024, LONG_MAX,
         "Largest pending request per client.", unsigned=True),
    _mem("proto-max-bulk-len", "512mb", 1024 * 1024, LONG_MAX,
         "Largest bulk string a request may carry."),
    _num("hz", "10", 0, INT_MAX, "Background task frequency (active expiry, timeouts); "
         "kept within 1..500."),
    _bool("dynamic-hz", "yes", "Raise hz with many clients (compat)."),
    _num("lfu-log-factor", "10", 0, INT_MAX, "LFU counter logarithm factor.", apply="ageing"),
    _num("lfu-decay-time", "1", 0, INT_MAX, "LFU counter decay, minutes.", apply="ageing"),
    # -- Active defragmentation ------------------------------------------------------------------
    _bool("activedefrag", "no", "Active defragmentation (refused, as by Debian's Redis)."),
    _mem("active-defrag-ignore-bytes", "100mb", 1, LONG_MAX, "Fragmentation ignored below "
         "this (compat).", unsigned=True),
    _num("active-defrag-threshold-lower", "10", 0, 1000, "Percent to start (compat)."),
    _num("active-defrag-threshold-upper", "100", 0, 1000, "Percent for full effort (compat)."),
    _num("active-defrag-cycle-min", "1", 1, 99, "Minimum CPU percent (compat)."),
    _num("active-defrag-cycle-max", "25", 1, 99, "Maximum CPU percent (compat)."),
    _num("active-defrag-max-scan-fields", "1000", 1, LONG_MAX, "Fields scanned in one step "
         "(compat)."),
    # -- CPU affinity, allocator, debugging ------------------------------------------------------
    _bool("jemalloc-bg-thread", "yes", "jemalloc's purge thread (compat)."),
    _str("server_cpulist", "", _CPU.format("the server"), nullable=True, mutable=False),
    _str("bio_cpulist", "", _CPU.format("background I/O"), nullable=True, mutable=False),
    _str("aof_rewrite_cpulist", "", _CPU.format("AOF rewrites"), nullable=True, mutable=False),
    _str("bgsave_cpulist", "", _CPU.format("background saves"), nullable=True, mutable=False),
    _str("ignore-warnings", "", "Start-up warnings to silence (compat)."),
    _num("watchdog-period", "0", 0, INT_MAX, "Debugging: stack trace of slow commands (compat).",
         hidden=True),
    _bool("use-exit-on-panic", "no", "Debugging: exit() instead of abort() (compat).",
          hidden=True),
)

# Every name CONFIG accepts, lowercase: each setting's name and its alias.
BY_NAME: dict[str, Setting] = {s.name: s for s in SETTINGS} | {
    s.alias: s for s in SETTINGS if s.alias}
