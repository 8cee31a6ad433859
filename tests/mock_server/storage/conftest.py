"""Fixtures of the unit tests of what keeps state in Redis: one real redis-server per module, a prefix per test."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from mock_server.storage.redis.connection import RedisConnection
from tests.support.redis_server import RedisServer, redis_server_executable


@pytest.fixture(scope="module")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """Skipped without Debian's redis-server, except in CI."""
    with RedisServer(redis_server_executable(), tmp_path_factory.mktemp("redis")).start() as server:
        yield server


@pytest.fixture
def backend_for(redis_server: RedisServer, request: pytest.FixtureRequest) -> Callable[..., RedisConnection]:
    """Backends on the shared Redis, under a prefix of this test's own: as many as processes a test plays."""
    prefix = f"test:{request.node.name}:"
    with redis_server.client() as client:
        for key in client.scan_iter(match=f"{prefix}*"):
            client.delete(key)
    return lambda prefix=prefix: RedisConnection(redis_server.url, prefix)
