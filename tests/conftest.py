"""Shared fixtures: the mock as a real uvicorn server on a free loopback port."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import httpx
import pytest

from mock_server.client.process import MockProcess
from tests.support import CREATE_PATH, TOKEN

__all__ = ["CREATE_PATH", "TOKEN"]


@pytest.fixture(autouse=True)
def _root_logging_restored() -> Iterator[None]:
    """A test that runs `kling-mock serve` in process (to see it refuse) points logging at the stderr pytest
    captured for that test; later tests' log records would go to that closed stream."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


@pytest.fixture(scope="session")
def mock_server() -> Iterator[MockProcess]:
    """One mock for the session, accepting any bearer token, as `make run` starts it."""
    with MockProcess() as mock:
        yield mock


@pytest.fixture
def client(mock_server: MockProcess) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=mock_server.base_url, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=30) as http:
        yield http
