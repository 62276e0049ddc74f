"""The last line of defence: a handler that raises answers -ERR, logs its traceback once and
leaves the connection and the dataset usable."""

from __future__ import annotations

import logging

from valkdb.config import Config
from valkdb.core.context import Context
from valkdb.core.dispatch import call, execute
from valkdb.core.registry import Command
from valkdb.server import Server


def _broken(client, argv):
    raise KeyError(argv[1])


def test_handler_bug_answers_err_and_logs_once(caplog):
    server = Server(Config())
    propagated = []
    server.propagation.outputs.append(propagated.extend)
    ctx = Context(server)
    entry = Command("broken", _broken, 2, "write", 1, 1, 1)
    with caplog.at_level(logging.ERROR, logger="valkdb"):
        first = call(ctx, entry, [b"broken", b"k"])
        second = call(ctx, entry, [b"broken", b"k"])
    assert first == second == b"-ERR internal error in 'broken' command: KeyError\r\n"
    logged = [r for r in caplog.records if "Internal error in 'broken'" in r.getMessage()]
    assert len(logged) == 1 and logged[0].exc_info is not None
    assert server.dirty == 0 and propagated == []  # nothing counted or propagated
    assert execute(ctx, [b"PING"]) == b"+PONG\r\n"
