"""Generate valkdb/core/commands.json, Redis 7.0's command table as data.

Every command and subcommand redis-server 7.0 has, declared once: arity, flags, key positions,
ACL categories, tips, key specs and the documentation (summary, since, group, complexity,
arguments, history ...) that COMMAND INFO / DOCS report and redis-cli 7.0 builds its hints from.
valkdb's registry reads it (a handler is registered by name only), its dispatcher checks arity
and flags from it, and COMMAND answers from it. The tool asks redis-server, in RESP3, for
COMMAND INFO and COMMAND DOCS of everything and stores the replies with their RESP3 types, so
that valkdb can send them back byte for byte in either protocol; the flags COMMAND INFO hides
(may_replicate, protected, sentinel ...) come from Redis's own src/commands/*.json.

    python tools/gen_command_docs.py --redis-git /work/.mirror/redis+redis/repo
    python tools/gen_command_docs.py --redis-git DIR --port 6379  # ask a running server

The stored form of a RESP3 value: integers and bulk strings as JSON numbers and strings, arrays
as lists, and the other types tagged: {"map": {key: value ...}}, {"set": [...]},
{"simple": "text"}.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
from typing import Any

from common import start_redis

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

OUTPUT = os.path.join(ROOT, "valkdb", "core", "commands.json")


class Resp3Reader:
    """A blocking reader of RESP3 replies from a socket that keeps every type apart."""

    def __init__(self, sock: socket.socket) -> None:
        self.file = sock.makefile("rb")

    def read(self) -> Any:
        line = self.file.readline()
        if not line.endswith(b"\r\n"):
            raise ConnectionError("connection closed mid-reply")
        kind, body = line[:1], line[1:-2].decode()
        if kind in (b"$", b"="):
            if body == "-1":
                return None
            data = self.file.read(int(body) + 2)[:-2].decode()
            return data[4:] if kind == b"=" else data
        if kind == b"+":
            return {"simple": body}
        if kind == b"-":
            raise RuntimeError(f"redis-server replied with an error: {body}")
        if kind == b":":
            return int(body)
        if kind == b"_":
            return None
        if kind in (b"*", b"~", b">"):
            items = [self.read() for _ in range(int(body))]
            return {"set": items} if kind == b"~" else items
        if kind == b"%":
            pairs = [(self.read(), self.read()) for _ in range(int(body))]
            return {"map": dict(pairs)}
        raise ValueError(f"unexpected RESP3 type {line!r}")


def ask(sock: socket.socket, reader: Resp3Reader, *args: str) -> Any:
    parts = [b"*%d\r\n" % len(args)]
    for arg in args:
        data = arg.encode()
        parts.append(b"$%d\r\n%s\r\n" % (len(data), data))
    sock.sendall(b"".join(parts))
    return reader.read()


def source_flags(git_dir: str, tag: str) -> dict[str, list[str]]:
    """Full name ("config|get") -> every flag Redis declares for it, hidden ones included."""
    names = subprocess.run(["git", "-C", git_dir, "ls-tree", "--name-only", f"{tag}:src/commands"],
                           capture_output=True, text=True, check=True).stdout.split()
    flags: dict[str, list[str]] = {}
    for file in names:
        text = subprocess.run(["git", "-C", git_dir, "show", f"{tag}:src/commands/{file}"],
                              capture_output=True, text=True, check=True).stdout
        for name, spec in json.loads(text).items():
            full = f"{spec['container']}|{name}" if "container" in spec else name
            flags[full.lower()] = [flag.lower() for flag in spec.get("command_flags", [])]
    return flags


def info_record(entry: list, declared: list[str]) -> dict[str, Any]:
    """One COMMAND INFO entry: arity, flags, key positions, ACL categories, tips, key specs.
    The flags are the declared ones and those Redis derives at start-up (movablekeys)."""
    shown = [flag["simple"] for flag in entry[2]["set"]]
    flags = declared + [flag for flag in shown if flag not in declared]
    return {"arity": entry[1], "flags": flags, "first_key": entry[3], "last_key": entry[4],
            "step": entry[5], "acl_categories": entry[6], "tips": entry[7],
            "key_specs": entry[8]}


def collect(sock: socket.socket, flags: dict[str, list[str]]) -> dict[str, Any]:
    reader = Resp3Reader(sock)
    ask(sock, reader, "HELLO", "3")
    version = ask(sock, reader, "INFO", "server")
    infos = ask(sock, reader, "COMMAND", "INFO")
    docs = ask(sock, reader, "COMMAND", "DOCS")["map"]
    records: dict[str, Any] = {}
    for info in sorted(infos, key=lambda entry: entry[0]):
        name = info[0]
        doc = dict(docs[name]["map"])
        subdocs = doc.pop("subcommands", {"map": {}})["map"]
        records[name] = {**info_record(info, flags[name]), "docs": {"map": doc}}
        subcommands = info[9] if isinstance(info[9], list) else []  # RESP3: an empty set
        for sub in sorted(subcommands, key=lambda entry: entry[0]):
            records[sub[0]] = {**info_record(sub, flags[sub[0]]), "docs": subdocs[sub[0]]}
    redis_version = next(line.split(":", 1)[1] for line in version.splitlines()
                         if line.startswith("redis_version:"))
    return {"generated_from": f"redis-server {redis_version}", "commands": records}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, help="ask the redis-server on this loopback port")
    parser.add_argument("--output", default=OUTPUT)
    parser.add_argument("--redis-git", required=True,
                        help="a git directory of redis/redis (for src/commands/*.json)")
    parser.add_argument("--tag", default="7.0.15")
    options = parser.parse_args()
    flags = source_flags(options.redis_git, options.tag)
    server = None if options.port else start_redis()
    port = options.port or server.port  # type: ignore[union-attr]
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
            data = collect(sock, flags)
    finally:
        if server is not None:
            server.stop()
    with open(options.output, "w") as f:
        json.dump(data, f, indent=1, ensure_ascii=False, sort_keys=False)
        f.write("\n")
    print(f"wrote {len(data['commands'])} commands to {options.output}")


if __name__ == "__main__":
    main()
