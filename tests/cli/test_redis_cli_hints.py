"""redis-cli 7.0's interactive hints, which it builds from the server's COMMAND DOCS at start-up.

The real redis-cli is driven through a pseudo-terminal against valkdb and against redis-server:
the hint shown after a command name must be the same text. A command redis-server has and
valkdb does not register gets a hint only from redis-server: that shows the hints come from
valkdb's COMMAND DOCS and not from the table compiled into redis-cli (its fallback).
"""

from __future__ import annotations

import re
import shutil

import pexpect
import pytest

import valkdb.commands  # noqa: F401  (registers every command)
from tests.compat.resp import RawConnection, bulk_value, elements
from valkdb.core.registry import COMMANDS

pytestmark = pytest.mark.skipif(shutil.which("redis-cli") is None, reason="needs redis-cli")

_HINT = re.compile(rb"\x1b\[0;90;49m(.*?)\x1b\[0m")  # linenoise's grey hint text


class Cli:
    """An interactive redis-cli on a pty."""

    def __init__(self, port: int, home: str) -> None:
        self.child = pexpect.spawn(
            "redis-cli", ["-p", str(port)], timeout=5, dimensions=(24, 250),
            env={"TERM": "xterm", "HOME": home, "PATH": "/usr/bin:/bin"})
        self.child.expect(rb"> ")

    def hint_after(self, text: str) -> bytes | None:
        """The hint shown once `text` is typed (None if there is none), then clear the line."""
        self.child.send(text)
        # linenoise redraws the whole line after each key; the last redraw has all of `text`
        self.child.expect(re.escape(b"> " + text.encode()) + rb"(?:\x1b\[0;90;49m(.*?)\x1b\[0m)?\r")
        hint = self.child.match.group(1)
        self.child.send("\x15")  # ctrl-U: erase the line
        self.child.expect(rb"\x1b\[0K[^\r>]*> \r")
        return hint

    def close(self) -> None:
        self.child.close(force=True)


@pytest.fixture(scope="module")
def clis(valkdb_server, redis_server, tmp_path_factory):
    home = str(tmp_path_factory.mktemp("home"))  # redis-cli's history file goes there
    ours, theirs = Cli(valkdb_server.port, home), Cli(redis_server.port, home)
    yield ours, theirs
    ours.close()
    theirs.close()


@pytest.mark.parametrize("typed", ["set ", "get ", "client ", "config get ", "mset "])
def test_hints_match_redis(clis, typed):
    ours, theirs = clis
    expected = theirs.hint_after(typed)
    assert expected is not None, "redis-server gave no hint: the test would prove nothing"
    assert ours.hint_after(typed) == expected


def test_hints_come_from_command_docs(clis, redis_server):
    ours, theirs = clis
    ref = RawConnection(redis_server.port)
    names = [bulk_value(item) or b"" for item in elements(ref.call(b"COMMAND", b"LIST"))]
    ref.close()
    containers = {n.partition(b"|")[0] for n in names if b"|" in n}  # their hint is empty
    missing = sorted(n.decode() for n in names
                     if b"|" not in n and n not in containers and n.decode() not in COMMANDS)
    # the first few that take arguments (a command without any has an empty hint anyway)
    hinted = [name for name in missing[:4] if theirs.hint_after(name + " ")][:2]
    if not hinted:
        pytest.skip("valkdb registers every command redis-server has")
    for name in hinted:
        assert ours.hint_after(name + " ") is None, name


def test_commands_still_run(clis):
    ours, _ = clis
    ours.child.send("ping\r")
    ours.child.expect(b"PONG")
