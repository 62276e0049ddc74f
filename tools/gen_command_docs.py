"""Generate valkdb/commands/command_docs.json from a real redis-server 7.0.

valkdb's COMMAND INFO / COMMAND DOCS take arity, flags and key positions from its own registry,
but the parts it cannot know by itself - ACL categories, tips, key specs, and the documentation
(summary, since, group, complexity, arguments, history ...) that redis-cli 7.0 builds its hints
from - come from the file this tool writes. It asks redis-server, in RESP3, for COMMAND INFO and
COMMAND DOCS of every command valkdb registers, and stores the replies with their RESP3 types so
that valkdb can send them back byte for byte in either protocol.

Re-run it whenever a command is added to the registry:
    python tools/gen_command_docs.py              # starts a redis-server on a free port
    python tools/gen_command_docs.py --port 6379  # or asks one that is running

The stored form of a RESP3 value: integers and bulk strings as JSON numbers and strings, arrays
as lists, and the other types tagged: {"map": {key: value ...}}, {"set": [...]},
{"simple": "text"}.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import sys
from typing import Any

from common import start_redis

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

import valkdb.commands  # noqa: E402,F401  (registers every command)
from valkdb.core.registry import COMMANDS  # noqa: E402

OUTPUT = os.path.join(ROOT, "valkdb", "commands", "command_docs.json")


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


def registered_names() -> dict[str, list[str]]:
    """Each top-level command valkdb registers -> the full names of its registered subcommands."""
    return {
        name: [sub.name for sub in (entry.subcommands or {}).values()]
        for name, entry in COMMANDS.items()
    }


def info_record(entry: list) -> dict[str, Any]:
    """What valkdb stores of one COMMAND INFO entry (the rest comes from its registry)."""
    return {"acl_categories": entry[6], "tips": entry[7], "key_specs": entry[8]}


def collect(sock: socket.socket) -> dict[str, Any]:
    reader = Resp3Reader(sock)
    ask(sock, reader, "HELLO", "3")
    version = ask(sock, reader, "INFO", "server")
    names = registered_names()
    infos = ask(sock, reader, "COMMAND", "INFO", *names)
    docs = ask(sock, reader, "COMMAND", "DOCS", *names)["map"]
    records: dict[str, Any] = {}
    for name, info in zip(names, infos, strict=True):
        if info is None:
            print(f"warning: redis-server does not know '{name}'", file=sys.stderr)
            continue
        subinfos = {sub[0]: sub for sub in info[9]} if isinstance(info[9], list) else {}
        doc = dict(docs[name]["map"])
        subdocs = doc.pop("subcommands", {"map": {}})["map"]
        records[name] = {**info_record(info), "docs": {"map": doc}}
        for full in names[name]:
            if full not in subinfos:
                print(f"warning: redis-server does not know '{full}'", file=sys.stderr)
                continue
            records[full] = {**info_record(subinfos[full]), "docs": subdocs[full]}
    redis_version = next(line.split(":", 1)[1] for line in version.splitlines()
                         if line.startswith("redis_version:"))
    return {"generated_from": f"redis-server {redis_version}", "commands": records}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, help="ask the redis-server on this loopback port")
    parser.add_argument("--output", default=OUTPUT)
    options = parser.parse_args()
    server = None if options.port else start_redis()
    port = options.port or server.port  # type: ignore[union-attr]
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
            data = collect(sock)
    finally:
        if server is not None:
            server.stop()
    with open(options.output, "w") as f:
        json.dump(data, f, indent=1, ensure_ascii=False, sort_keys=False)
        f.write("\n")
    print(f"wrote {len(data['commands'])} commands to {options.output}")


if __name__ == "__main__":
    main()
