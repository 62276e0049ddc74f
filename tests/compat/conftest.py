"""The `differ` fixture: valkdb and a real redis-server side by side, in RESP2 and RESP3."""

from __future__ import annotations

import pytest

from tests.compat.differ import Differ


@pytest.fixture(params=[2, 3], ids=["resp2", "resp3"])
def differ(request, valkdb_server, redis_server):
    pair = Differ(valkdb_server.port, redis_server.port, request.param)
    yield pair
    pair.close()
