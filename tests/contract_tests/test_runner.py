"""`kling-mock contract` tells a run that cannot start (exit 2) from a broken contract (exit 1)."""

from __future__ import annotations

import os
import subprocess
import sys

from tests.support import free_loopback_port


def _contract(base_url: str, token: str | None) -> subprocess.CompletedProcess[str]:
    env = {key: value for key, value in os.environ.items() if key != "KLING_API_KEY"}
    if token is not None:
        env["KLING_API_KEY"] = token
    command = [sys.executable, "-m", "mock_server", "contract", "--base-url", base_url]
    return subprocess.run(command, capture_output=True, text=True, env=env, timeout=120)


def test_unreachable_target_is_exit_2_with_a_clear_message() -> None:
    url = f"http://127.0.0.1:{free_loopback_port()}"
    result = _contract(url, token="some-key")
    assert result.returncode == 2
    assert f"cannot reach {url}" in result.stderr
    assert "Traceback" not in result.stderr


def test_missing_token_is_exit_2_and_names_the_variable() -> None:
    result = _contract("http://127.0.0.1:9", token=None)
    assert result.returncode == 2
    assert "KLING_API_KEY" in result.stderr
