"""No false alarms: the suite holds the kit's own mock to every decision of its spec, any other target to the
contract alone (docs/contract.md, "What the contract suite holds a real target to").

The proof is a lenient server: the real mock started with `--relax-decisions`, which takes whatever the contract
does not forbid (an empty optional string, an ftp:// URL, odd base64, deep but valid JSON, an 8 MiB body). The
suite passes it, whatever Hypothesis's seed, listing what it did with each decision as observations; asked for
full strictness, it fails it, naming each decision. That every broken server still fails at the contract level is
`test_contract_can_fail.py`'s.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from starlette.types import ASGIApp, Receive, Scope, Send

from contract_tests.strictness import CONTRACT, DECISIONS_HEADER, FULL, chosen
from mock_server.client.process import MockProcess
from mock_server.spec import load_spec
from mock_server.spec.decisions import catalog
from tests.support import ROOT
from tests.support.threaded_server import served_in_thread

from .harness import HANG_GUARD_SECONDS, KEY, KLING_PREFIX, MAX_EXAMPLES, SECOND_KEY, command_env

DECISIONS_WITH_EXAMPLES = sorted(
    name
    for name, decision in catalog(load_spec(ROOT / "openapi" / "identify-face.yaml").document).items()
    if decision.examples
)


def _contract(base_url: str, cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "mock_server", "contract", "--base-url", base_url, "--max-examples"]
    return subprocess.run(
        [*command, str(MAX_EXAMPLES), *args],
        cwd=cwd,
        env=command_env(),
        capture_output=True,
        text=True,
        timeout=HANG_GUARD_SECONDS,
        check=False,
    )


@pytest.fixture(scope="module")
def lenient() -> Iterator[MockProcess]:
    with MockProcess("--relax-decisions", "--keys", f"{KEY},{SECOND_KEY}", "--log-level", "warning") as server:
        yield server


@pytest.mark.slow
@pytest.mark.parametrize("seed", [1, 2, 3, 4, 5])
def test_a_server_that_decides_otherwise_passes_with_its_decisions_observed(
    lenient: MockProcess, seed: int, tmp_path: Path
) -> None:
    result = _contract(lenient.base_url + KLING_PREFIX, tmp_path, "--seed", str(seed), "--report-dir", "reports")
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert any("Held to the contract alone" in line for line in result.stderr.splitlines()[:6]), result.stderr
    report = (tmp_path / "reports" / "drift-report.md").read_text(encoding="utf-8")
    assert "## Decisions observed" in report
    for decision in DECISIONS_WITH_EXAMPLES:
        assert f"`{decision}`: observed: accepts" in report, f"{decision} not observed:\n{report}"


@pytest.mark.slow
def test_asked_for_full_strictness_it_fails_that_server_on_each_decision(lenient: MockProcess, tmp_path: Path) -> None:
    result = _contract(lenient.base_url + KLING_PREFIX, tmp_path, "--strictness", "full")
    assert result.returncode == 1, result.stdout[-3000:]
    for decision in DECISIONS_WITH_EXAMPLES:
        assert f"test_a_decision_of_the_kit[{decision}-0]" in result.stdout, decision
    assert "Held to the contract and every decision" in result.stderr


@pytest.mark.slow
def test_the_kit_s_own_mock_is_held_to_every_decision(tmp_path: Path) -> None:
    """At Kling's own paths, where it answers identify-face synchronously."""
    with MockProcess("--keys", f"{KEY},{SECOND_KEY}", "--log-level", "warning") as mock:
        result = _contract(mock.base_url, tmp_path)
    assert result.returncode == 0, result.stdout[-3000:]
    assert "the target is the kit's own mock, which enforces them" in result.stderr


# How the level is chosen, against stand-ins that say (or do not say) what they are.


def _stand_in(decisions_said: str | None, spec_path: str = "/openapi.yaml") -> ASGIApp:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        found = scope["path"] == spec_path
        headers = [(b"content-type", b"application/yaml")]
        if found and decisions_said is not None:
            headers.append((DECISIONS_HEADER.lower().encode(), decisions_said.encode()))
        await send({"type": "http.response.start", "status": 200 if found else 404, "headers": headers})
        await send({"type": "http.response.body", "body": b"openapi: 3.1.0\n" if found else b""})

    return app


@pytest.mark.parametrize(
    ("said", "spec_path", "base_path", "level"),
    [
        ("enforced", "/openapi.yaml", "", FULL),
        ("relaxed", "/openapi.yaml", "", CONTRACT),
        (None, "/openapi.yaml", "", CONTRACT),
        ("enforced", "/elsewhere.yaml", "", CONTRACT),
        ("enforced", "/openapi.yaml", "/kling", FULL),
        ("enforced", "/kling/openapi.yaml", "/kling", FULL),
    ],
    ids=["the-mock", "a-relaxed-mock", "no-header", "no-spec", "spec-at-the-origin", "spec-under-the-prefix"],
)
def test_auto_holds_only_the_kit_s_enforcing_mock_to_its_decisions(
    said: str | None, spec_path: str, base_path: str, level: str
) -> None:
    with served_in_thread(_stand_in(said, spec_path)) as base_url, requests.Session() as session:
        strictness = chosen("auto", base_url + base_path, session)
    assert strictness.level == level, strictness.reason


def test_a_level_asked_for_is_taken_without_asking_the_target() -> None:
    with requests.Session() as session:
        assert chosen("full", "http://127.0.0.1:9", session).level == FULL
        assert chosen("contract", "http://127.0.0.1:9", session).level == CONTRACT
