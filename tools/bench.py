"""redis-benchmark against valkdb and a real redis-server, interleaved in one run.

    python tools/bench.py                       # SET and GET, 50 clients, -P 1 and -P 16
    python tools/bench.py --tests lpush,rpop --rounds 5 --requests 200000

    python tools/bench.py --baseline a73ca45    # also valkdb as of that revision, same run
    python tools/bench.py --observed            # also each server with observers attached: a
        # `redis-cli monitor` and a RESP3 client tracking every key (CLIENT TRACKING on BCAST)
    python tools/bench.py --tests evalsha       # EVALSHA of `return redis.call('INCR', KEYS[1])`
    python tools/bench.py --tests xadd,xrange   # XADD *, XRANGE <random ID> + COUNT 10 (100,000)
    python tools/bench.py --tests setbit,getbit,bitcount,pfadd,pfcount,geoadd,geosearch
        # bits of a 1 MB bitmap, BITCOUNT of a 64 MB string (fewer requests: each one counts
        # 64 MB), HyperLogLogs, and a 100,000-member geo set

Each round runs every (pipeline, test) case against every server, rotating which goes first, so
that drift on the machine hits all alike. Prints every figure, then the median per case and the
ratio valkdb / redis-server (and valkdb / the baseline revision).
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import io
import os
import platform
import random
import socket
import statistics
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext

from common import encode, pair, run_pipelined, start_valkdb

# Tests that are a command line of their own rather than a redis-benchmark -t test.
SCRIPT = "return redis.call('INCR', KEYS[1])"
SCRIPT_SHA = hashlib.sha1(SCRIPT.encode()).hexdigest()
STREAM_LENGTH = 100_000  # entries 1-1 ... 100000-1 in bench:stream
BIG_STRING = 64 << 20  # bytes of bench:big, for BITCOUNT
GEO_MEMBERS = 100_000  # members of bench:geo, spread over 2 x 2 degrees around Palermo
HLL_ELEMENTS = 100_000  # elements added to bench:hll (dense by then)
COMMANDS = {
    "evalsha": ["EVALSHA", SCRIPT_SHA, "1", "counter"],
    "xadd": ["XADD", "bench:events", "*", "type", "signup"],
    # __rand_int__ is a random 12-digit number below -r: an ID `ms` somewhere in the stream.
    "xrange": ["-r", str(STREAM_LENGTH), "XRANGE", "bench:stream", "__rand_int__", "+", "COUNT",
               "10"],
    # __rand_int__ has leading zeros, which bit offsets refuse: fixed offsets in a 1 MB bitmap.
    "setbit": ["SETBIT", "bench:bits", "4000000", "1"],
    "getbit": ["GETBIT", "bench:bits", "4000001"],
    "bitcount": ["BITCOUNT", "bench:big"],
    "pfadd": ["-r", "100000000", "PFADD", "bench:hll-new", "element:__rand_int__"],
    "pfcount": ["PFCOUNT", "bench:hll"],
    "geoadd": ["-r", "100000000", "GEOADD", "bench:geo-new", "13.361389", "38.115556",
               "member:__rand_int__"],
    "geosearch": ["GEOSEARCH", "bench:geo", "FROMLONLAT", "13.5", "38.5", "BYRADIUS", "10", "km",
                  "COUNT", "10", "ASC"],
}
# Tests whose every request is heavy run with at most this many requests.
REQUEST_CAP = {"bitcount": 2000}


def prepare(port: int) -> None:
    """What the command tests need on a server: the script loaded, the stream filled."""
    with socket.create_connection(("127.0.0.1", port), timeout=60) as sock:
        sock.sendall(encode(b"SCRIPT", b"LOAD", SCRIPT.encode()))
        if not sock.recv(100).startswith(b"$40"):
            raise RuntimeError("SCRIPT LOAD failed")
        run_pipelined(sock, [encode(b"DEL", b"bench:stream")] + [
            encode(b"XADD", b"bench:stream", b"%d-1" % i, b"f", b"%d" % i)
            for i in range(1, STREAM_LENGTH + 1)], batch=1000)
        rng = random.Random(12)  # the same members on every server
        geo = [encode(b"GEOADD", b"bench:geo", *(
            part for i in range(start, start + 100)
            for part in (b"%.6f" % (12.5 + 2 * rng.random()),
                         b"%.6f" % (37.5 + 2 * rng.random()), b"m%d" % i)
        )) for start in range(0, GEO_MEMBERS, 100)]
        hll = [encode(b"PFADD", b"bench:hll", *(b"e%d" % i for i in range(start, start + 1000)))
               for start in range(0, HLL_ELEMENTS, 1000)]
        run_pipelined(sock, [encode(b"DEL", b"bench:geo", b"bench:hll", b"bench:big"),
                             encode(b"SETBIT", b"bench:bits", b"%d" % (8 << 20), b"1"),
                             encode(b"SETRANGE", b"bench:big", b"%d" % (BIG_STRING - 5),
                                    b"\xff\x0f\x01\xf0\x55"),
                             *geo, *hll], batch=100)


def run_benchmark(port: int, test: str, requests: int, clients: int, pipeline: int) -> float:
    what = COMMANDS[test] if test in COMMANDS else ["-t", test]
    done = subprocess.run(
        ["redis-benchmark", "-p", str(port), "-n", str(requests), "-c", str(clients),
         "-P", str(pipeline), "--csv", *what],
        capture_output=True, text=True, timeout=600, check=True)
    if "rror" in done.stderr:  # "Error from server: ..." for any error reply
        raise RuntimeError(f"redis-benchmark -t {test} got errors: {done.stderr[:500]!r}")
    # Some tests first fill a key ("LPUSH (needed to benchmark LRANGE)"): take the test's row.
    name = next(arg for arg in what if arg.isupper()) if test in COMMANDS else test.upper()
    rows = [row for row in csv.reader(io.StringIO(done.stdout))
            if row and row[0].split()[0] == name]
    if not rows:
        raise RuntimeError(f"redis-benchmark printed nothing usable: {done.stdout!r}")
    return float(rows[0][1])


@contextmanager
def observers(port: int) -> Iterator[None]:
    """A `redis-cli monitor` and a RESP3 BCAST tracking client reading everything they get."""
    monitor = subprocess.Popen(["redis-cli", "-p", str(port), "monitor"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    tracker = socket.create_connection(("127.0.0.1", port), timeout=60)
    tracker.sendall(encode(b"HELLO", b"3") + encode(b"CLIENT", b"TRACKING", b"on", b"BCAST"))
    reader = threading.Thread(target=_drain, args=(tracker,), daemon=True)
    reader.start()
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=60) as admin:
            deadline = time.monotonic() + 10
            while True:  # until both are attached
                admin.sendall(encode(b"CLIENT", b"LIST"))
                listing = admin.recv(1 << 20)
                if b"flags=O" in listing and b"flags=tB" in listing:
                    break
                if time.monotonic() > deadline:
                    raise RuntimeError(f"observers did not attach: {listing!r}")
                time.sleep(0.05)
        yield
    finally:
        monitor.terminate()
        monitor.wait()
        tracker.shutdown(socket.SHUT_RDWR)
        tracker.close()
        reader.join()


def _drain(sock: socket.socket) -> None:
    try:
        while sock.recv(1 << 20):
            pass
    except OSError:
        pass


def export_revision(revision: str) -> str:
    """A directory holding the valkdb package as of a git revision (git archive, no checkout)."""
    root = tempfile.mkdtemp(prefix="valkdb-baseline-")
    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    archive = subprocess.run(["git", "-C", repo, "archive", revision, "valkdb"],
                             capture_output=True, check=True).stdout
    subprocess.run(["tar", "-x", "-C", root], input=archive, check=True)
    return root


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tests", default="set,get")
    parser.add_argument("--pipelines", default="1,16")
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--requests", type=int, default=200000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--baseline", help="a git revision of valkdb to measure alongside")
    parser.add_argument("--observed", action="store_true",
                        help="also run every case with a MONITOR and a tracking client attached")
    args = parser.parse_args()
    valkdb, redis = pair()
    servers = {"valkdb": valkdb, "redis": redis}
    if args.baseline:
        servers["baseline"] = start_valkdb(source=export_revision(args.baseline))
    if any(test in COMMANDS for test in args.tests.split(",")):
        for server in servers.values():
            prepare(server.port)
    results: dict[tuple[int, str, str], list[float]] = {}
    print(f"# {time.strftime('%Y-%m-%d %H:%M')} {platform.machine()} {os.cpu_count()} cores, "
          f"{args.clients} clients, {args.requests} requests per run"
          + (f", baseline valkdb {args.baseline}" if args.baseline else ""))
    try:
        for round_no in range(args.rounds):
            names = list(servers)
            order = names[round_no % len(names):] + names[:round_no % len(names)]
            for pipeline in map(int, args.pipelines.split(",")):
                for test in args.tests.split(","):
                    for name in order:
                        requests = min(args.requests, REQUEST_CAP.get(test, args.requests))
                        for observed in ((False, True) if args.observed else (False,)):
                            port = servers[name].port
                            with observers(port) if observed else nullcontext():
                                rps = run_benchmark(port, test, requests, args.clients,
                                                    pipeline)
                            label = name + "+observed" * observed
                            results.setdefault((pipeline, test, label), []).append(rps)
                            print(f"round {round_no + 1} -P {pipeline:<2} {test:<10} "
                                  f"{label:<17} {rps:>12,.0f} rps", flush=True)
    finally:
        for server in servers.values():
            server.stop()
    baseline, observed = "baseline" in servers, args.observed
    print("\n| test | pipeline | valkdb rps | redis-server rps | ratio |"
          + (" baseline rps | valkdb / baseline |" if baseline else "")
          + (" valkdb observed rps | observed / not | redis observed rps | observed / not |"
             if observed else "")
          + "\n|---|---|---|---|---|" + ("---|---|" if baseline else "")
          + ("---|---|---|---|" if observed else ""))
    for pipeline in map(int, args.pipelines.split(",")):
        for test in args.tests.split(","):
            median = {label: statistics.median(figures)
                      for (p, t, label), figures in results.items() if (p, t) == (pipeline, test)}
            ours, theirs = median["valkdb"], median["redis"]
            row = f"| {test.upper()} | {pipeline} | {ours:,.0f} | {theirs:,.0f} | " \
                  f"{ours / theirs:.2f}x |"
            if baseline:
                row += f" {median['baseline']:,.0f} | {ours / median['baseline']:.3f}x |"
            if observed:
                for name in ("valkdb", "redis"):
                    watched = median[name + "+observed"]
                    row += f" {watched:,.0f} | {watched / median[name]:.2f}x |"
            print(row)


if __name__ == "__main__":
    main()
