"""How the cost of ZADD, ZRANK and ZRANGE ... BYSCORE LIMIT 0 10 grows with a sorted set's size.

    python tools/zset_scaling.py                 # 10,000 and 1,000,000 members
    python tools/zset_scaling.py --ops 20000

For valkdb and for a real redis-server (the reference), started side by side: fills a sorted set
to each size, then times `--ops` commands of each kind sent pipelined over one connection, and
prints the time per command and the ratio of the big size to the small one. Those operations
are O(log n) in Redis; the bar for valkdb is a ratio <= 2x. (Per-command figures include the
protocol work, as a client sees them: that is the cost that must not grow.)
"""

from __future__ import annotations

import argparse
import random
import socket

from common import encode, pair, run_pipelined


def fill(sock: socket.socket, key: bytes, size: int, rng: random.Random) -> None:
    """ZADD key with `size` members m:<i> of random scores, 1,000 pairs a command."""
    commands = []
    for first in range(0, size, 1000):
        args = [b"ZADD", key]
        for i in range(first, min(first + 1000, size)):
            args += [b"%r" % rng.random(), b"m:%d" % i]
        commands.append(encode(*args))
    run_pipelined(sock, commands, batch=20)


def workloads(key: bytes, size: int, ops: int, rng: random.Random) -> dict[str, list[bytes]]:
    return {
        "ZADD": [encode(b"ZADD", key, b"%r" % rng.random(), b"new:%d" % i) for i in range(ops)],
        "ZRANK": [encode(b"ZRANK", key, b"m:%d" % rng.randrange(size)) for _ in range(ops)],
        "ZRANGE BYSCORE LIMIT 0 10": [
            encode(b"ZRANGE", key, b"%r" % rng.random(), b"+inf", b"BYSCORE", b"LIMIT", b"0",
                   b"10") for _ in range(ops)],
    }


def measure(port: int, sizes: list[int], ops: int, rounds: int,
            seed: int) -> dict[int, dict[str, float]]:
    """Microseconds per ZADD (new members, removed again after each round), ZRANK (existing
    members), ZRANGE BYSCORE LIMIT 0 10, per size: the best of `rounds` runs of `ops` commands.
    The sizes take turns, so that other load on the machine hits them alike."""
    rng = random.Random(seed)
    best: dict[int, dict[str, float]] = {size: {} for size in sizes}
    with socket.create_connection(("127.0.0.1", port), timeout=120) as sock:
        for size in sizes:
            run_pipelined(sock, [encode(b"DEL", b"zset:%d" % size)])
            fill(sock, b"zset:%d" % size, size, rng)
        for _ in range(rounds):
            for size in sizes:
                key = b"zset:%d" % size
                for name, commands in workloads(key, size, ops, rng).items():
                    micros = run_pipelined(sock, commands) / ops * 1e6
                    best[size][name] = min(best[size].get(name, micros), micros)
                run_pipelined(sock, [encode(b"ZREM", key, b"new:%d" % i) for i in range(ops)])
        run_pipelined(sock, [encode(b"DEL", *(b"zset:%d" % size for size in sizes))])
    return best


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
        results = {name: measure(server.port, [small, big], options.ops, options.rounds,
                                 options.seed)
                   for name, server in (("valkdb", valkdb), ("redis-server", redis))}
    finally:
        valkdb.stop()
        redis.stop()
    print(f"{'server':<14}{'command':<28}{small:>12,} {big:>12,}  (us/op)  ratio")
    for name in ("valkdb", "redis-server"):
        for command in results[name][small]:
            a, b = results[name][small][command], results[name][big][command]
            print(f"{name:<14}{command:<28}{a:>12.2f} {b:>12.2f}  {b / a:13.2f}x")


if __name__ == "__main__":
    main()
