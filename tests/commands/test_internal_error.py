"""The last line of defence: a handler that raises answers -ERR, logs its traceback once and
leaves the connection and the dataset usable."""

from __future__ import annotations

import logging

from valkdb.commands.registry import Command
from valkdb.config import Config
from valkdb.connection import Client
from valkdb.server import Server


def _broken(client, argv):
    raise KeyError(argv[1])


def test_handler_bug_answers_err_and_logs_once(caplog):
    server = Server(Config())
    client = Client(server, None, ("127.0.0.1", 1))
    entry = Command("broken", _broken, 2, "write", 1, 1, 1)
    with caplog.at_level(logging.ERROR, logger="valkdb"):
        first = client.call(entry, [b"broken", b"k"])
        second = client.call(entry, [b"broken", b"k"])
    assert first == second == b"-ERR internal error in 'broken' command: KeyError\r\n"
    logged = [r for r in caplog.records if "Internal error in 'broken'" in r.getMessage()]
    assert len(logged) == 1 and logged[0].exc_info is not None
    assert server.dirty == 0  # nothing counted or propagated for the failed write
    assert client.execute([b"PING"]) == b"+PONG\r\n"
