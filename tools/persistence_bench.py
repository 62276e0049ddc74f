"""What persistence costs: SET throughput with the AOF on, and GET latency during a BGSAVE.

    python tools/persistence_bench.py                    # both parts
    python tools/persistence_bench.py --part set --rounds 5
    python tools/persistence_bench.py --part bgsave --keys 1000000

SET: redis-benchmark -t set (50 clients; -P 1 with 200,000 requests, -P 16 with 1,000,000)
against valkdb and redis-server each without persistence, with appendonly yes + everysec and
with appendonly yes + always. Every round runs every case against the six servers, in an order
that alternates between rounds, so that drift on the machine hits all alike. Prints every
figure, then the medians, the ratio valkdb / redis-server per setting and valkdb everysec /
valkdb without persistence (the issue's bar: >= 0.8, judged on the median of the ratios within
each round, which the machine's drift between rounds does not move).

BGSAVE: load --keys keys (pipelined MSETs), GET one key on one connection for a second
(baseline), then again while another process sends BGSAVE and polls INFO persistence until
rdb_bgsave_in_progress:0. Prints the BGSAVE time (until the server reports it done), the time
the BGSAVE command took to answer (the fork), and the worst, p99 and median GET latency, for
valkdb and redis-server side by side (the issue's bar: worst GET < 50 ms for valkdb). The GET
loop pauses --pause-ms between requests (as keys_latency.py) so that on a small machine the
client does not take a core from the server and its child.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import platform
import socket
import statistics
import time

from bench import run_benchmark
from common import ServerProcess, load_strings, start_redis, start_valkdb
from keys_latency import read_reply_fully

SETTINGS = {
    "none": (),
    "everysec": ("--appendonly", "yes", "--appendfsync", "everysec"),
    "always": ("--appendonly", "yes", "--appendfsync", "always"),
}
EVERYSEC_BAR = 0.8  # valkdb everysec / valkdb without persistence
WORST_GET_BAR = 0.050  # seconds, valkdb during BGSAVE


def command(port: int, *args: bytes, timeout: float = 60) -> bytes:
    """One command on a new connection; its raw reply (one read: for short replies)."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(b"*%d\r\n" % len(args)
                     + b"".join(b"$%d\r\n%s\r\n" % (len(arg), arg) for arg in args))
        return sock.recv(1 << 16)


def wait_ready(port: int, timeout: float = 30) -> None:
    """Until the server has loaded its dataset (it answers -LOADING before)."""
    deadline = time.monotonic() + timeout
    while not command(port, b"PING").startswith(b"+PONG"):
        if time.monotonic() > deadline:
            raise TimeoutError(f"port {port} still loading after {timeout}s")
        time.sleep(0.05)


def start(server: str, setting: str) -> ServerProcess:
    args = SETTINGS[setting]
    process = start_valkdb(*args) if server == "valkdb" else start_redis(*args)
    wait_ready(process.port)
    return process


# -- SET throughput ------------------------------------------------------------------------------

def set_throughput(args: argparse.Namespace) -> None:
    cases = [(server, setting) for setting in SETTINGS for server in ("valkdb", "redis")]
    processes = {}
    try:
        for case in cases:
            processes[case] = start(*case)
        results: dict[tuple[int, str, str], list[float]] = {}
        pipelines = [int(p) for p in args.pipelines.split(",")]
        for round_no in range(args.rounds):
            order = cases if round_no % 2 == 0 else cases[::-1]
            for pipeline in pipelines:
                for server, setting in order:
                    requests = args.requests if pipeline == 1 else args.pipelined_requests
                    rps = run_benchmark(processes[server, setting].port, "set", requests,
                                        args.clients, pipeline)
                    results.setdefault((pipeline, server, setting), []).append(rps)
                    print(f"round {round_no + 1} -P {pipeline:<2} {server:<6} {setting:<8} "
                          f"{rps:>12,.0f} rps", flush=True)
    finally:
        for process in processes.values():
            process.stop()
    print("\n| SET | pipeline | valkdb rps | redis-server rps | valkdb / redis |\n"
          "|---|---|---|---|---|")
    for pipeline in pipelines:
        for setting in SETTINGS:
            ours = statistics.median(results[pipeline, "valkdb", setting])
            theirs = statistics.median(results[pipeline, "redis", setting])
            print(f"| {setting} | {pipeline} | {ours:,.0f} | {theirs:,.0f} | "
                  f"{ours / theirs:.2f}x |")
    print("\nvalkdb with the AOF / without: ratio of the medians, then median of the ratios "
          "within each round")
    for pipeline in pipelines:
        without = results[pipeline, "valkdb", "none"]
        for setting in ("everysec", "always"):
            runs = results[pipeline, "valkdb", setting]
            overall = statistics.median(runs) / statistics.median(without)
            paired = statistics.median(
                ours / theirs for ours, theirs in zip(runs, without, strict=True))
            bar = f" (bar >= {EVERYSEC_BAR}: {'met' if paired >= EVERYSEC_BAR else 'MISSED'})"
            print(f"valkdb -P {pipeline:<2} {setting:<8} / none: {overall:.3f}, per round "
                  f"{paired:.3f}{bar if setting == 'everysec' else ''}")


# -- GET latency during BGSAVE -------------------------------------------------------------------

def run_bgsave(port: int, fork_seconds, total_seconds) -> None:  # type: ignore[no-untyped-def]
    """In its own process: BGSAVE, then INFO persistence every 10 ms until it is over."""
    with socket.create_connection(("127.0.0.1", port), timeout=600) as sock:
        start = time.perf_counter()
        sock.sendall(b"*1\r\n$6\r\nBGSAVE\r\n")
        reply = sock.recv(1024)
        fork_seconds.value = time.perf_counter() - start
        if not reply.startswith(b"+"):
            raise RuntimeError(f"BGSAVE: {reply!r}")
        info = b"*2\r\n$4\r\nINFO\r\n$11\r\npersistence\r\n"
        while True:
            sock.sendall(info)
            if b"rdb_bgsave_in_progress:0" in read_bulk(sock):
                break
            time.sleep(0.01)
        total_seconds.value = time.perf_counter() - start


def read_bulk(sock: socket.socket) -> bytes:
    data = b""
    while b"\r\n" not in data:
        data += sock.recv(1 << 16)
    header, _, body = data.partition(b"\r\n")
    if not header.startswith(b"$"):
        raise RuntimeError(f"not a bulk string: {data[:200]!r}")
    size = int(header[1:])
    while len(body) < size + 2:
        body += sock.recv(1 << 16)
    return body[:size]


def get_latencies(sock: socket.socket, key: bytes, pause: float,
                  until: float | multiprocessing.Process) -> list[float]:
    """GET key back to back until `until` (a perf_counter time, or a process ending)."""
    get = b"*2\r\n$3\r\nGET\r\n$%d\r\n%s\r\n" % (len(key), key)
    latencies = []
    while (until.is_alive() if isinstance(until, multiprocessing.Process)
           else time.perf_counter() < until):
        start = time.perf_counter()
        sock.sendall(get)
        read_reply_fully(sock, b"\r\n")
        latencies.append(time.perf_counter() - start)
        time.sleep(pause)
    return latencies


def summary(latencies: list[float]) -> str:
    ordered = sorted(latencies)
    p99 = ordered[max(0, int(len(ordered) * 0.99) - 1)]
    return (f"{len(ordered):6d} GETs, worst {ordered[-1] * 1000:7.1f} ms, p99 {p99 * 1000:6.2f} "
            f"ms, median {statistics.median(ordered) * 1000:6.3f} ms")


def bgsave_latency(args: argparse.Namespace) -> None:
    worst: dict[str, float] = {}
    for server in ("valkdb", "redis"):
        process = start(server, "none")
        try:
            load_strings(process.port, args.keys)
            key = b"key:%d" % (args.keys - 1)
            fork_seconds = multiprocessing.Value("d", 0.0)
            total_seconds = multiprocessing.Value("d", 0.0)
            saver = multiprocessing.Process(target=run_bgsave,
                                            args=(process.port, fork_seconds, total_seconds))
            with socket.create_connection(("127.0.0.1", process.port), timeout=60) as sock:
                idle = get_latencies(sock, key, args.pause_ms / 1000, time.perf_counter() + 1)
                saver.start()
                during = get_latencies(sock, key, args.pause_ms / 1000, saver)
                saver.join()
            if saver.exitcode:
                raise RuntimeError(f"the BGSAVE process failed on {server}")
            size = os.path.getsize(os.path.join(process.cwd, "dump.rdb"))
        finally:
            process.stop()
        worst[server] = max(during)
        name = "redis-server" if server == "redis" else server
        print(f"{name:<12} BGSAVE of {args.keys:,} keys: {total_seconds.value:6.2f} s "
              f"({size / 1e6:.1f} MB), BGSAVE reply {fork_seconds.value * 1000:6.1f} ms\n"
              f"{'':<12} during: {summary(during)}\n"
              f"{'':<12} before: {summary(idle)}", flush=True)
    verdict = "met" if worst["valkdb"] < WORST_GET_BAR else "MISSED"
    print(f"\nworst GET during BGSAVE: valkdb {worst['valkdb'] * 1000:.1f} ms, redis-server "
          f"{worst['redis'] * 1000:.1f} ms (bar for valkdb < {WORST_GET_BAR * 1000:.0f} ms: "
          f"{verdict})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--part", choices=("set", "bgsave", "both"), default="both")
    parser.add_argument("--pipelines", default="1,16")
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--requests", type=int, default=200_000)
    parser.add_argument("--pipelined-requests", type=int, default=1_000_000,
                        help="per run with -P > 1 (a run of --requests would last ~0.5 s)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--keys", type=int, default=1_000_000)
    parser.add_argument("--pause-ms", type=float, default=0.5)
    args = parser.parse_args()
    print(f"# {time.strftime('%Y-%m-%d %H:%M')} {platform.machine()} {os.cpu_count()} cores, "
          f"load average {os.getloadavg()[0]:.2f}")
    if args.part in ("set", "both"):
        print(f"## SET, {args.clients} clients, {args.requests:,} requests per run "
              f"({args.pipelined_requests:,} pipelined)")
        set_throughput(args)
    if args.part in ("bgsave", "both"):
        print(f"\n## GET latency during BGSAVE of {args.keys:,} keys")
        bgsave_latency(args)


if __name__ == "__main__":
    main()
