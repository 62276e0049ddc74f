"""Worst GET latency on one connection while another runs KEYS * over a big keyspace.

    python tools/keys_latency.py --keys 1000000

For valkdb and a real redis-server in the same run: load the keys, send `KEYS *` from another
process, and time GETs back to back on a second connection until that process has read the
whole reply. Prints the KEYS time (until the last byte of the reply arrived),
the number of GETs, the worst and the 99th-percentile GET latency.
"""

from __future__ import annotations

import argparse
import multiprocessing
import socket
import statistics
import time

from common import load_strings, pair


def read_reply_fully(sock: socket.socket, expected_tail: bytes) -> None:
    buf = b""
    while not buf.endswith(expected_tail):
        chunk = sock.recv(1 << 20)
        if not chunk:
            raise ConnectionError("closed")
        buf = buf[-64:] + chunk


def run_keys(port: int, count: int, elapsed) -> None:  # type: ignore[no-untyped-def]
    """In its own process: KEYS *, then drain the reply by counting its CRLFs (1 + 2 per key),
    which costs next to no CPU, so the reader does not slow the machine down."""
    with socket.create_connection(("127.0.0.1", port), timeout=120) as sock:
        start = time.perf_counter()
        sock.sendall(b"*2\r\n$4\r\nKEYS\r\n$1\r\n*\r\n")
        remaining = 1 + 2 * count
        previous = b""
        while remaining > 0:
            chunk = sock.recv(1 << 20)
            if not chunk:
                raise ConnectionError("closed")
            remaining -= (previous + chunk[:1]).count(b"\r\n") + chunk.count(b"\r\n")
            previous = chunk[-1:]
        elapsed.value = time.perf_counter() - start


def measure(port: int, count: int, last_key: bytes) -> tuple[float, list[float]]:
    elapsed = multiprocessing.Value("d", 0.0)
    reader = multiprocessing.Process(target=run_keys, args=(port, count, elapsed))
    latencies = []
    get = b"*2\r\n$3\r\nGET\r\n$%d\r\n%s\r\n" % (len(last_key), last_key)
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        reader.start()
        time.sleep(0.01)
        while reader.is_alive():
            start = time.perf_counter()
            sock.sendall(get)
            read_reply_fully(sock, b"\r\n")
            latencies.append(time.perf_counter() - start)
            time.sleep(0.0005)
        reader.join()
    return elapsed.value, latencies


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keys", type=int, default=1_000_000)
    args = parser.parse_args()
    valkdb, redis = pair()
    try:
        for name, server in (("valkdb", valkdb), ("redis-server", redis)):
            load_strings(server.port, args.keys)
            keys_time, latencies = measure(server.port, args.keys, b"key:%d" % (args.keys - 1))
            latencies.sort()
            p99 = latencies[int(len(latencies) * 0.99) - 1] if latencies else 0.0
            print(f"{name:<13} KEYS * over {args.keys:,} keys: {keys_time * 1000:8.1f} ms; "
                  f"{len(latencies):6d} GETs meanwhile, worst {latencies[-1] * 1000:7.1f} ms, "
                  f"p99 {p99 * 1000:6.2f} ms, median "
                  f"{statistics.median(latencies) * 1000:6.3f} ms", flush=True)
    finally:
        valkdb.stop()
        redis.stop()


if __name__ == "__main__":
    main()
