"""CLIENT subcommands whose replies do not depend on the connection: compared with
redis-server 7.0.15 byte for byte, RESP2 and RESP3."""

from __future__ import annotations

import pytest

CASES = [
    (b"CLIENT", b"NO-EVICT", b"on"), (b"CLIENT", b"NO-EVICT", b"OFF"),
    (b"CLIENT", b"NO-EVICT", b"maybe"), (b"CLIENT", b"NO-EVICT"),
    (b"CLIENT", b"NO-EVICT", b"on", b"off"),
]


@pytest.mark.parametrize("args", CASES, ids=[b" ".join(a).decode() for a in CASES])
def test_replies(differ, args):
    differ.check(*args)
