"""The plain schemathesis CLI with the project's config passes against the mock and fails against broken servers.

Users who do not run `kling-mock contract` run schemathesis itself, with `contract_tests/schemathesis.toml`
(the command in its header). That config must keep the mock green, and through its `hooks` key it must load
the contract's own checks: a server that reuses ids breaks no schema, so only those checks can catch it.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable, Sequence

import pytest

from .harness import CONFIG, KEY, KLING_PREFIX, MAX_EXAMPLES, SPEC, run_against

pytestmark = pytest.mark.slow


def _cli(*, config: bool = True, extra: Sequence[str] = ()) -> Callable[[str], Sequence[str]]:
    """`schemathesis [--config-file contract_tests/schemathesis.toml] run SPEC --url URL/kling ...`, all checks, all
    modes: under `/kling` the mock answers the documented dialect's requests, which the spec states."""

    def command(base_url: str) -> Sequence[str]:
        return [
            sys.executable,
            "-m",
            "schemathesis.cli",
            *(["--config-file", str(CONFIG)] if config else []),
            "run",
            str(SPEC),
            "--url",
            base_url + KLING_PREFIX,
            "-H",
            f"Authorization: Bearer {KEY}",
            "--mode",
            "all",
            "--max-examples",
            str(MAX_EXAMPLES),
            *extra,
        ]

    return command


def test_cli_passes_against_the_mock() -> None:
    """Every check the config leaves on, positive and negative cases, against a mock that checks keys."""
    outcome = run_against(None, _cli())
    assert outcome.server_stopped
    assert outcome.returncode == 0, outcome.tail()
    # Warnings only: without a session, the CLI's advanced lip-sync creates are refused (the config allows it).
    assert re.search(r"=+ (No issues found|\d+ warnings?) in ", outcome.output), outcome.tail()


@pytest.mark.parametrize(
    ("breakage", "expected"),
    [
        ("task-id-reused", "Custom check failed: `kling_fresh_ids`"),
        ("updated-before-created", "Custom check failed: `kling_timestamps`"),
        ("auth-ignored", "API accepts requests without authentication"),
    ],
)
def test_cli_fails_against_broken_server(breakage: str, expected: str) -> None:
    """The first two break no schema: only the contract's checks, loaded through the toml's hooks, see them."""
    outcome = run_against(breakage, _cli())
    assert outcome.server_stopped
    assert outcome.returncode == 1, outcome.tail()
    assert expected in outcome.output, outcome.tail()


def test_without_the_config_reused_task_ids_go_unnoticed() -> None:
    """The contrast that shows where the custom checks come from: no config, no hooks, no kling_* check.

    `unsupported_method` is excluded by hand, as the config does, since Kling's 404/1202 fails it. The stateful
    phase is left out: it follows the create's link to the query, where a reused id shows as a missing task.
    """
    extra = ["--exclude-checks", "unsupported_method", "--phases", "examples,coverage,fuzzing"]
    # identify-face alone: without the config, an advanced lip-sync create without a session fails
    # `positive_data_acceptance`, which the config relaxes for that operation.
    extra += ["--include-path-regex", "identify-face"]
    outcome = run_against("task-id-reused", _cli(config=False, extra=extra))
    assert outcome.server_stopped
    assert outcome.returncode == 0, outcome.tail()
    assert "kling_" not in outcome.output, outcome.tail()
