"""Start a server (the mock, or a broken one) and run a command against it, as a user would.

Every run gets a fresh working directory: schemathesis and Hypothesis write `.schemathesis/` and
`.hypothesis/` there (an example saved against one broken server must not make the next run fail,
and the checkout stays clean), and no stray `schemathesis.toml` can be discovered from it.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from mock_server.client.process import MockProcess
from tests.support import ROOT

SPEC = ROOT / "openapi" / "identify-face.yaml"
CONFIG = ROOT / "contract_tests" / "schemathesis.toml"
BROKEN_SERVERS = "tests.contract_tests.broken_servers"
# The servers check keys, as a real backend does; the suites get these, one per caller.
KEY = "contract-can-fail-test-key"
SECOND_KEY = "contract-can-fail-second-caller"
MAX_EXAMPLES = 30
# The aggregators' paths, where the mock answers the seed's request with its task: the documented dialect, which
# identify-face.yaml states and most breakages break. At Kling's own paths it answers synchronously.
KLING_PREFIX = "/kling"
# Only so that a hung run fails instead of blocking the session; no test asserts on time.
HANG_GUARD_SECONDS = 480
# Variables of the caller that would change what the commands under test do.
_SCRUBBED = (
    "PYTEST_ADDOPTS",
    "PYTEST_PLUGINS",
    "SCHEMATHESIS_HOOKS",
    "KLING_MOCK_KEYS",
    "KLING_API_KEY",
    "KLING_API_KEY_2",
    "KLING_ACCESS_KEY",
    "KLING_SECRET_KEY",
)


@dataclass(frozen=True)
class Outcome:
    returncode: int
    output: str
    server_stopped: bool

    def tail(self, lines: int = 80) -> str:
        return "\n".join(self.output.splitlines()[-lines:])


def command_env() -> dict[str, str]:
    """The caller's environment without what would steer the run, plus the token and the checkout on the path."""
    env = {name: value for name, value in os.environ.items() if name not in _SCRUBBED}
    env["KLING_API_KEY"] = KEY
    env["KLING_API_KEY_2"] = SECOND_KEY
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    return env


def start_server(breakage: str | None) -> MockProcess:
    """The real mock on 127.0.0.1 (breakage None), or the mock broken by one breakage; both accept only our keys."""
    keys = f"{KEY},{SECOND_KEY}"
    if breakage is None:
        return MockProcess("--keys", keys, "--log-level", "warning", env=command_env())
    return MockProcess("--keys", keys, "--breakage", breakage, env=command_env(), module=BROKEN_SERVERS)


def run_against(breakage: str | None, command: Callable[[str], Sequence[str]]) -> Outcome:
    """Start the server, run `command(base_url)` in a fresh directory, stop the server."""
    with start_server(breakage) as server, tempfile.TemporaryDirectory(prefix="contract-run-") as cwd:
        result = subprocess.run(
            list(command(server.base_url)),
            cwd=cwd,
            env=command_env(),
            capture_output=True,
            text=True,
            timeout=HANG_GUARD_SECONDS,
            check=False,
        )
    return Outcome(result.returncode, result.stdout + result.stderr, server_stopped=not server.running)
