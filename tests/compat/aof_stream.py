"""What a server appends to its AOF: follow the INCR file of a multi-part AOF (Redis 7.0's
appendonlydir/ layout) and parse the RESP commands written since the last look.

Independent of valkdb's own AOF code on purpose: it reads valkdb's files and redis-server's the
same way, strictly (a command must be a complete `*<n>` array of `$<len>` bulks), so a torn or
malformed write shows up as an error rather than being papered over.
"""

from __future__ import annotations

import time
from pathlib import Path

MANIFEST = "appendonly.aof.manifest"


def parse_manifest(text: bytes) -> list[dict[str, str]]:
    """The manifest's lines as {'file': ..., 'seq': ..., 'type': ...} dicts, in order."""
    entries = []
    for line in text.decode().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        words = line.split()
        if len(words) % 2:
            raise ValueError(f"odd manifest line {line!r}")
        entries.append(dict(zip(words[::2], words[1::2], strict=True)))
    return entries


class AofTail:
    """The INCR file a server appends to, and how much of it has been looked at."""

    def __init__(self, data_dir: Path, dirname: str = "appendonlydir",
                 timeout: float = 10.0) -> None:
        self.aof_dir = Path(data_dir) / dirname
        self.name = self._incr_name(timeout)
        self.offset = self.path.stat().st_size

    @property
    def path(self) -> Path:
        return self.aof_dir / self.name

    def _incr_name(self, timeout: float) -> str:
        """The last INCR file the manifest names (waiting for the manifest at start-up)."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                entries = parse_manifest((self.aof_dir / MANIFEST).read_bytes())
                incrs = [entry["file"] for entry in entries if entry.get("type") == "i"]
                if incrs and (self.aof_dir / incrs[-1]).exists():
                    return incrs[-1]
            except FileNotFoundError:
                pass
            if time.monotonic() > deadline:
                raise TimeoutError(f"no INCR file in {self.aof_dir} after {timeout}s")
            time.sleep(0.02)

    def take(self) -> bytes:
        """The bytes appended since the last take() (or since the tail was opened)."""
        current = self._incr_name(0)
        if current != self.name:
            raise AssertionError(f"the AOF was rewritten ({self.name} -> {current}): "
                                 "the INCR file being followed is not the one written to")
        with open(self.path, "rb") as f:
            f.seek(self.offset)
            data = f.read()
        self.offset += len(data)
        return data


def _line(data: bytes, pos: int) -> tuple[bytes, int]:
    end = data.find(b"\r\n", pos)
    if end < 0:
        raise ValueError(f"truncated line at byte {pos}: {data[pos:pos + 40]!r}")
    return data[pos:end], end + 2


def parse_commands(data: bytes) -> list[list[bytes]]:
    """The commands in a piece of AOF: each a `*<n>\\r\\n` then n `$<len>\\r\\n<bytes>\\r\\n`."""
    commands = []
    pos = 0
    while pos < len(data):
        header, pos = _line(data, pos)
        if not header.startswith(b"*") or not header[1:].isdigit() or header == b"*0":
            raise ValueError(f"not a command header: {header!r}")
        argv = []
        for _ in range(int(header[1:])):
            length, pos = _line(data, pos)
            if not length.startswith(b"$") or not length[1:].isdigit():
                raise ValueError(f"not a bulk length: {length!r}")
            size = int(length[1:])
            if data[pos + size : pos + size + 2] != b"\r\n":
                raise ValueError(f"truncated or unterminated bulk at byte {pos}")
            argv.append(data[pos : pos + size])
            pos += size + 2
        commands.append(argv)
    return commands


def format_commands(commands: list[list[bytes]]) -> str:
    """`SET k v; DEL k` for messages (arguments with spaces or odd bytes repr'd)."""
    def show(arg: bytes) -> str:
        text = arg.decode("latin-1")
        return text if text and text.isprintable() and " " not in text else repr(arg)
    return "; ".join(" ".join(show(arg) for arg in argv) for argv in commands) or "(nothing)"
