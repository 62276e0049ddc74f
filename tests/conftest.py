"""Shared fixtures: one valkdb and one real redis-server per test session, redis-py clients."""

from __future__ import annotations

import os
import socket

import pytest
import redis
from hypothesis import settings

from tests.support import start_redis, start_valkdb

# In CI (CI=true) hypothesis replays the same examples every run, so a submission is judged on
# what was run before it; locally it keeps exploring new ones.
settings.register_profile("ci", derandomize=True, database=None, print_blob=True)
if os.environ.get("CI"):
    settings.load_profile("ci")


@pytest.fixture(scope="session")
def valkdb_server():
    server = start_valkdb("--enable-debug-command", "yes")
    yield server
    server.stop()


@pytest.fixture(scope="session")
def redis_server():
    server = start_redis("--enable-debug-command", "yes")
    yield server
    server.stop()


@pytest.fixture(params=[2, 3], ids=["resp2", "resp3"])
def r(request, valkdb_server):
    """A redis-py client of valkdb in RESP2 and in RESP3 (redis-py's default), on a clean db."""
    client = redis.Redis(port=valkdb_server.port, protocol=request.param, socket_timeout=10)
    client.flushall()
    yield client
    client.close()


@pytest.fixture
def ref(redis_server):
    """A redis-py client of the real redis-server (RESP2), on a clean db."""
    client = redis.Redis(port=redis_server.port, protocol=2, socket_timeout=10)
    client.flushall()
    yield client
    client.close()


@pytest.fixture
def raw(valkdb_server):
    """A raw socket to valkdb, for exact bytes."""
    sock = socket.create_connection(("127.0.0.1", valkdb_server.port), timeout=10)
    yield sock
    sock.close()
