"""Resident memory for N small string keys: valkdb vs a real redis-server, same run.

    python tools/memory.py --keys 1000000
"""

from __future__ import annotations

import argparse

from common import load_strings, pair, rss_bytes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keys", type=int, default=1_000_000)
    args = parser.parse_args()
    valkdb, redis = pair()
    try:
        figures = {}
        for name, server in (("valkdb", valkdb), ("redis-server", redis)):
            before = rss_bytes(server.proc.pid)
            load_strings(server.port, args.keys)
            after = rss_bytes(server.proc.pid)
            figures[name] = after
            print(f"{name:<13} RSS empty {before / 2**20:7.1f} MiB, with {args.keys:,} keys "
                  f"{after / 2**20:7.1f} MiB ({(after - before) / args.keys:.0f} bytes/key)")
        print(f"ratio valkdb / redis-server: {figures['valkdb'] / figures['redis-server']:.2f}x")
    finally:
        valkdb.stop()
        redis.stop()


if __name__ == "__main__":
    main()
