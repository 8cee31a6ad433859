"""The package's public surface is small and explicit: what `__all__` names, pinned here so that a change to it
is a decision, not an accident."""

from __future__ import annotations

import importlib
import subprocess
import sys

import pytest

import mock_server

SURFACES = {
    "mock_server": ["Settings", "__version__", "create_app"],
    "mock_server.server": ["WorkersFailed", "create_app", "serve"],
    "mock_server.client.conformance": [
        "REPORT_FORMAT",
        "SUITE_NAME",
        "JournalFormatError",
        "Report",
        "RuleSummary",
        "build_report",
        "summary_line",
        "to_json",
        "to_junit",
        "to_text",
    ],
    "mock_server.client.pytest_plugin": ["ARGS_INI", "DEFAULT_ARGS", "KlingMock", "KlingMockServer", "MockScenario"],
}


@pytest.mark.parametrize("module", sorted(SURFACES))
def test_the_public_surface_is_as_pinned(module: str) -> None:
    imported = importlib.import_module(module)
    assert sorted(imported.__all__) == sorted(SURFACES[module])
    for name in imported.__all__:
        assert getattr(imported, name) is not None


def test_every_subpackage_names_what_it_offers_and_has_it() -> None:
    for name in ("core", "spec", "validation", "journal", "scenarios", "domain", "storage", "admin", "server"):
        package = importlib.import_module(f"mock_server.{name}")
        if name == "core":
            continue  # modules, not a surface: `from mock_server.core.errors import ...`
        assert package.__all__, name
        assert all(hasattr(package, item) for item in package.__all__), name


def test_importing_the_package_loads_no_server() -> None:
    """`kling-mock verify` and the pytest plugin import `mock_server`; neither needs Starlette or uvicorn."""
    code = (
        "import sys, mock_server, mock_server.client.verify; print(sorted({'starlette', 'uvicorn'} & set(sys.modules)))"
    )
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert loaded == "[]"
    assert mock_server.create_app.__module__ == "mock_server.server.app"
