"""How XADD and XRANGE at a random ID grow with a stream's length, and the memory per entry.

    python tools/stream_scaling.py               # 10,000 and 1,000,000 entries
    python tools/stream_scaling.py --ops 20000

For valkdb and for a real redis-server (the reference), started side by side: fills one stream
per size with entries `<i>-1 f <i>` (one small field, as an event log's), then times `--ops`
commands of each kind sent pipelined over one connection: XADD of a new entry at the top, and
XRANGE <random existing ID> + COUNT 10. Prints the time per command, the ratio of the big size
to the small one (Redis's are O(log n); valkdb's bar is <= 2x) and the resident memory each
server grew by per entry while it filled the big stream.
"""

from __future__ import annotations

import argparse
import random
import socket

from common import encode, pair, rss_bytes, run_pipelined


def fill(sock: socket.socket, key: bytes, size: int) -> None:
    """XADD key <i>-1 f <i> for 1 <= i <= size, pipelined."""
    commands = [encode(b"XADD", key, b"%d-1" % i, b"f", b"%d" % i) for i in range(1, size + 1)]
    run_pipelined(sock, commands, batch=1000)


def workloads(key: bytes, size: int, ops: int, top: int, rng: random.Random,
              ) -> dict[str, list[bytes]]:
    return {
        "XADD": [encode(b"XADD", key, b"%d-1" % (top + i), b"f", b"v") for i in range(1, ops + 1)],
        "XRANGE <id> + COUNT 10": [
            encode(b"XRANGE", key, b"%d-1" % rng.randint(1, size), b"+", b"COUNT", b"10")
            for _ in range(ops)],
    }


def measure(server, sizes: list[int], ops: int, rounds: int, seed: int,
            ) -> tuple[dict[int, dict[str, float]], float]:
    """(microseconds per command per size, best of `rounds` runs; RSS bytes per entry grown
    while filling the biggest stream). The sizes take turns, so other load hits them alike."""
    rng = random.Random(seed)
    best: dict[int, dict[str, float]] = {size: {} for size in sizes}
    with socket.create_connection(("127.0.0.1", server.port), timeout=300) as sock:
        per_entry = 0.0
        for size in sizes:
            before = rss_bytes(server.proc.pid)
            fill(sock, b"stream:%d" % size, size)
            per_entry = (rss_bytes(server.proc.pid) - before) / size
        top = {size: size for size in sizes}
        for _ in range(rounds):
            for size in sizes:
                key = b"stream:%d" % size
                for name, commands in workloads(key, size, ops, top[size], rng).items():
                    micros = run_pipelined(sock, commands) / ops * 1e6
                    best[size][name] = min(best[size].get(name, micros), micros)
                top[size] += ops
    return best, per_entry


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="10000,1000000")
    parser.add_argument("--ops", type=int, default=20000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seed", type=int, default=7)
    options = parser.parse_args()
    small, big = (int(size) for size in options.sizes.split(","))
    valkdb, redis = pair()
    try:
        results = {name: measure(server, [small, big], options.ops, options.rounds, options.seed)
                   for name, server in (("valkdb", valkdb), ("redis-server", redis))}
    finally:
        valkdb.stop()
        redis.stop()
    print(f"{'server':<14}{'command':<26}{small:>12,} {big:>12,}  (us/op)  ratio")
    for name in ("valkdb", "redis-server"):
        times = results[name][0]
        for command in times[small]:
            a, b = times[small][command], times[big][command]
            print(f"{name:<14}{command:<26}{a:>12.2f} {b:>12.2f}  {b / a:13.2f}x")
    ours, theirs = results["valkdb"][1], results["redis-server"][1]
    print(f"memory per entry ({big:,} entries): valkdb {ours:.0f} bytes, redis-server "
          f"{theirs:.0f} bytes ({ours / theirs:.2f}x)")


if __name__ == "__main__":
    main()
