"""Worst GET latency on one connection while another runs KEYS * over a big keyspace.

    python tools/keys_latency.py --keys 1000000

For valkdb and a real redis-server in the same run: load the keys, start `KEYS *` from
redis-cli, and time GETs back to back on another connection until redis-cli has read the whole
reply. Prints the KEYS time (including redis-cli's reading),
the number of GETs, the worst and the 99th-percentile GET latency.
"""

from __future__ import annotations

import argparse
import socket
import statistics
import subprocess
import threading
import time

from common import load_strings, pair


def read_reply_fully(sock: socket.socket, expected_tail: bytes) -> None:
    buf = b""
    while not buf.endswith(expected_tail):
        chunk = sock.recv(1 << 20)
        if not chunk:
            raise ConnectionError("closed")
        buf = buf[-64:] + chunk


def measure(port: int, last_key: bytes) -> tuple[float, list[float]]:
    keys_done = threading.Event()
    keys_time = [0.0]

    def run_keys() -> None:
        # Another process reads the reply, so this one's GIL cannot delay the GET timings.
        start = time.perf_counter()
        subprocess.run(["redis-cli", "-p", str(port), "KEYS", "*"], stdout=subprocess.DEVNULL,
                       check=True, timeout=300)
        keys_time[0] = time.perf_counter() - start
        keys_done.set()

    latencies = []
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        get = b"*2\r\n$3\r\nGET\r\n$%d\r\n%s\r\n" % (len(last_key), last_key)
        worker = threading.Thread(target=run_keys)
        worker.start()
        time.sleep(0.01)
        while not keys_done.is_set():
            start = time.perf_counter()
            sock.sendall(get)
            read_reply_fully(sock, b"\r\n")
            latencies.append(time.perf_counter() - start)
            if len(latencies) % 64 == 0:
                time.sleep(0.001)
        worker.join()
    return keys_time[0], latencies


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keys", type=int, default=1_000_000)
    args = parser.parse_args()
    valkdb, redis = pair()
    try:
        for name, server in (("valkdb", valkdb), ("redis-server", redis)):
            load_strings(server.port, args.keys)
            keys_time, latencies = measure(server.port, b"key:%d" % (args.keys - 1))
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
