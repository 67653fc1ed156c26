"""Fixtures for tests that break real dependencies (see tests/faults/support.py)."""

import pytest

from tests.faults.support import PrivateRedis


@pytest.fixture
def private_redis():
    server = PrivateRedis().start()
    yield server
    server.close()
