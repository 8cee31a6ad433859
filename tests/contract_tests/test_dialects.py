"""`kling-mock contract --dialect`: the probe names the dialect a target speaks, first thing, and holds it to it.

Against the mock in either dialect (docs/contract.md, "Which dialect answers where"), in real processes over loopback.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from mock_server.client.process import MockProcess
from tests.support import free_loopback_port

from .harness import HANG_GUARD_SECONDS, KEY, SECOND_KEY, command_env

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module", params=["documented", "upstream"])
def mock(request: pytest.FixtureRequest) -> Iterator[tuple[str, MockProcess]]:
    dialect = request.param
    with MockProcess("--dialect", dialect, "--keys", f"{KEY},{SECOND_KEY}", "--log-level", "warning") as server:
        yield dialect, server


def contract(
    base_url: str, cwd: Path, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "mock_server", "contract", "--base-url", base_url, "--max-examples", "5", *args]
    return subprocess.run(
        command, cwd=cwd, env=env or command_env(), capture_output=True, text=True, timeout=HANG_GUARD_SECONDS
    )


def test_auto_names_the_dialect_first_and_passes_its_suite(mock: tuple[str, MockProcess], tmp_path: Path) -> None:
    dialect, server = mock
    result = contract(server.base_url, tmp_path, "--dialect", "auto", "--report-dir", "reports")
    first_lines = result.stderr.splitlines()[:3]
    assert any(f"The target speaks the {dialect} dialect" in line for line in first_lines), first_lines
    assert result.returncode == 0, result.stdout[-3000:]
    report = (tmp_path / "reports" / "drift-report.md").read_text().splitlines()
    assert report[2].startswith(f"**The target speaks the {dialect} dialect")
    assert f"held to the {dialect} dialect" in report[4]


@pytest.mark.parametrize("mock", ["upstream"], indirect=True)
def test_the_documented_suite_fails_against_the_upstream_dialect_and_says_why(
    mock: tuple[str, MockProcess], tmp_path: Path
) -> None:
    _, server = mock
    result = contract(server.base_url, tmp_path, "--dialect", "documented", "--report-dir", "reports")
    assert result.returncode == 1
    headline = (
        "The target speaks the upstream dialect (docs/contract.md, faces at once), "
        "not the documented one this run holds it to: expect failures."
    )
    assert headline in result.stderr.splitlines()[2]
    report = (tmp_path / "reports" / "drift-report.md").read_text().splitlines()
    assert report[2] == f"**{headline}**"
    assert report[4].startswith("**Result: FAILED**")


def test_a_dry_run_sends_nothing_and_says_what_it_would(tmp_path: Path) -> None:
    """Against a port nobody listens on: any request would fail the run, and none is made."""
    env = {name: value for name, value in command_env().items() if not name.startswith("KLING_")}
    url = f"http://127.0.0.1:{free_loopback_port()}"
    result = contract(url, tmp_path, "--dry-run", "--dialect", "auto", env=env)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "dry run: nothing is sent" in result.stderr
    assert f"documented: POST {url}/v1/videos/identify-face" in result.stderr
    assert f"upstream: POST {url}/v1/videos/identify-face" in result.stderr
    assert "test_documented_example_succeeds" in result.stdout
    assert not (tmp_path / "reports").exists()
