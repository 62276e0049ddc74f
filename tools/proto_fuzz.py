"""Differential protocol fuzzer, long runs: valkdb and a real redis-server get the same inputs.

    python tools/proto_fuzz.py                              # 100,000 cases, seed 1
    python tools/proto_fuzz.py --cases 1000000              # the long run of the README
    python tools/proto_fuzz.py --first 123456 --cases 1     # one case again (same --seed, --batch)

Prints progress after every batch, then: cases run, compared, identical %, mismatches (the first
few shrunk to short reproductions, as Python bytes literals), crashes, hangs and tracebacks in
valkdb's log. Exits 1 on any crash, hang or traceback, 2 if fewer than --min-identical percent of
the replies were byte-identical. The cases are tools/protofuzz's, as in the test suite's run.
"""

from __future__ import annotations

import argparse
import os
import platform
import signal
import sys
import time

from common import start_redis, start_valkdb
from protofuzz import run, start_pair


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--first", type=int, default=0, help="index of the first case")
    parser.add_argument("--concurrency", type=int, default=96, help="cases in flight")
    parser.add_argument("--batch", type=int, default=2000, help="cases between health checks")
    parser.add_argument("--bound", type=float, default=1.0, help="seconds a glob match may take")
    parser.add_argument("--kinds", default="proto,keys,psub",
                        help="which cases to run: proto (requests), keys (KEYS and SCAN MATCH "
                             "patterns), psub (PSUBSCRIBE patterns)")
    parser.add_argument("--max-failures", type=int, default=10,
                        help="stop after this many crashes and hangs")
    parser.add_argument("--reproductions", type=int, default=5,
                        help="kinds of mismatch shrunk and shown in full")
    parser.add_argument("--min-identical", type=float, default=99.95)
    args = parser.parse_args()
    # SIGTERM (timeout, kill) ends the run through the finally below: no server is left behind.
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    print(f"# {time.strftime('%Y-%m-%d %H:%M')} {platform.machine()} {os.cpu_count()} cores, "
          f"seed {args.seed}, {args.cases} cases from {args.first}", flush=True)
    valkdb, redis = start_pair(start_valkdb, start_redis)
    try:
        report = run(valkdb, redis, seed=args.seed, cases=args.cases, first=args.first,
                     concurrency=args.concurrency, batch=args.batch, bound=args.bound,
                     minimize=args.reproductions, max_failures=args.max_failures,
                     kinds=tuple(args.kinds.split(",")),
                     progress=lambda line: print(line, flush=True))
    finally:
        valkdb.stop()
        redis.stop()
    print(report.text(args.reproductions))
    if not report.healthy:
        sys.exit(1)
    if report.identical_percent < args.min_identical:
        sys.exit(2)


if __name__ == "__main__":
    main()
