"""Every server a persistence test started is stopped after it, even when the test failed."""

import pytest

from tests.persistence.servers import stop_started_servers


@pytest.fixture(autouse=True)
def _stop_servers_after_each_test():
    yield
    stop_started_servers()
