"""Registers the `slow` marker, so that `-m "not slow"` skips the tests that run whole suites."""

from __future__ import annotations

import pytest


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "slow: starts real servers and runs a whole test suite in a subprocess (seconds each)"
    )
