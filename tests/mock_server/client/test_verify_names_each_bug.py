"""Acceptance test of "validate client implementations": `kling-mock verify` names each client's bug.

Each client of `buggy.py` runs against a real mock (`serve --admin --tick-ms 0`, journal reset between
clients), then `kling-mock verify` runs as a real subprocess in each of its formats. The JSON report must
name exactly the rules and field paths of the client's bug, the text and JUnit reports the same rules,
and the exit status must be what CI needs: 1 for errors, 0 for warnings unless `--fail-on-warnings`.
The correct client must get a clean report, even with `--fail-on-warnings`.

Nothing here is timed: the server measures the poll interval; the tight loop polls in well under the
spec's 1000 ms, the correct client sleeps a full second between polls.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from mock_server.client.process import MockProcess
from tests.support import ROOT
from tests.support import clients as buggy

REPO = ROOT
# Findings by (severity, rule): the field paths expected for it.
Findings = dict[tuple[str, str], set[str]]
_UNKNOWN = ("warning", "unknown-field")


@dataclass(frozen=True)
class Case:
    client: buggy.Client
    findings: Findings = field(default_factory=dict)
    # The business code the client is refused with; None when the API tolerates its bug.
    refused_with: int | None = None
    # The dialect the mock is forced to (`serve --dialect`), None for the default: by default the seed's path
    # answers each body in the dialect it speaks, so a body is a mistake only where one dialect is served.
    dialect: str | None = None

    @property
    def has_errors(self) -> bool:
        return any(severity == "error" for severity, _ in self.findings)


BUGGY = [
    Case(buggy.no_auth_client, {("error", "auth-missing"): {"header.Authorization"}}, refused_with=1001),
    Case(buggy.token_without_bearer_client, {("error", "auth-malformed"): {"header.Authorization"}}, 1002),
    Case(buggy.missing_mode_client, {("error", "required"): {"input.mode"}}, 1201),
    Case(
        buggy.form_body_client,
        # The mock refuses the content type; the verdict also says the body would not parse as JSON.
        {("error", "content-type"): {"header.Content-Type"}, ("error", "body-not-json"): {"body"}},
        1200,
    ),
    Case(
        buggy.upstream_dialect_client,
        {("error", "required"): {"input"}, _UNKNOWN: {"video_id"}},
        1201,
        dialect="documented",
    ),
    Case(
        buggy.flattened_input_client,
        {
            ("error", "required"): {"input"},
            _UNKNOWN: {"video_url", "mode", "text", "voice_id", "voice_language"},
        },
        1201,
        dialect="documented",
    ),
    Case(buggy.french_voice_client, {("error", "enum"): {"input.voice_language"}}, 1201),
    Case(buggy.lipsync_mode_client, {("error", "enum"): {"input.mode"}}, 1201),
    # Polling is judged per request: the path of the finding is the request's own path (rule's wording).
    Case(buggy.tight_polling_client, {("warning", "polling-too-fast"): {"path.task_id"}}),
    Case(buggy.default_language_client, {("warning", "default-relied-on"): {"input.voice_language"}}),
    Case(
        buggy.misspelt_field_client,
        {_UNKNOWN: {"input.voice_langauge"}, ("warning", "default-relied-on"): {"input.voice_language"}},
    ),
    Case(buggy.typo_url_client, {_UNKNOWN: {"input.video_ur1"}}),
]


@pytest.fixture(scope="module")
def mock() -> Iterator[MockProcess]:
    with MockProcess("--admin", "--tick-ms", "0") as server:
        yield server


@pytest.fixture(scope="module")
def documented_mock() -> Iterator[MockProcess]:
    """A mock forced to the documented dialect on every path (`--dialect documented`)."""
    with MockProcess("--admin", "--tick-ms", "0", "--dialect", "documented") as server:
        yield server


def _reset(mock: MockProcess) -> MockProcess:
    assert httpx.post(f"{mock.base_url}/__admin/reset", timeout=10).status_code == 204
    return mock


@pytest.fixture
def fresh_mock(mock: MockProcess) -> MockProcess:
    """The shared mock with an empty journal and no scenarios, as `POST /__admin/reset` leaves it."""
    return _reset(mock)


@pytest.fixture
def case_mock(case: Case, request: pytest.FixtureRequest) -> MockProcess:
    """The mock of the case's dialect, reset as `fresh_mock` is."""
    mock: MockProcess = request.getfixturevalue("documented_mock" if case.dialect == "documented" else "mock")
    return _reset(mock)


def verify(base_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    """`kling-mock verify` as CI runs it: a separate process."""
    command = [sys.executable, "-m", "mock_server", "verify", "--base-url", base_url, *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=60, cwd=REPO, check=False)


@dataclass
class Reports:
    """One client's reports in every format, with each run's exit status."""

    json: dict[str, Any]
    json_status: int
    strict_json: dict[str, Any]  # --fail-on-warnings, written with --output
    strict_status: int
    text: str
    text_status: int
    junit: ET.Element
    junit_status: int


def all_reports(base_url: str, tmp_path: Path) -> Reports:
    plain = verify(base_url, "--format", "json")
    strict_file = tmp_path / "strict.json"
    strict = verify(base_url, "--format", "json", "--fail-on-warnings", "--output", str(strict_file))
    text = verify(base_url, "--format", "text")
    junit_file = tmp_path / "reports" / "conformance.xml"
    junit = verify(base_url, "--format", "junit", "--output", str(junit_file))
    for run in (plain, strict, text, junit):
        assert run.returncode in (0, 1), run.stderr
        assert run.stderr == ""
    assert f"json report written to {strict_file}" in strict.stdout
    assert f"junit report written to {junit_file}" in junit.stdout
    return Reports(
        json=json.loads(plain.stdout),
        json_status=plain.returncode,
        strict_json=json.loads(strict_file.read_text(encoding="utf-8")),
        strict_status=strict.returncode,
        text=text.stdout,
        text_status=text.returncode,
        junit=ET.fromstring(junit_file.read_text(encoding="utf-8")),
        junit_status=junit.returncode,
    )


def json_findings(report: dict[str, Any]) -> Findings:
    return {(rule["severity"], rule["rule"]): {path["path"] for path in rule["paths"]} for rule in report["rules"]}


def text_rules(text: str) -> set[tuple[str, str]]:
    """The (severity, rule) headings of the text report: `  [error] required: 1 request, 1 finding`."""
    return set(re.findall(r"^ {2}\[(error|warning)\] (\S+): \d+ requests?, \d+ findings?$", text, re.MULTILINE))


def junit_rules(root: ET.Element) -> dict[tuple[str, str], bool]:
    """(severity, rule) of each testcase, and whether it fails."""
    cases = {}
    for case in root.iter("testcase"):
        severity = case.get("classname", "").removeprefix("kling-mock.conformance.").removesuffix("s")
        cases[(severity, case.get("name", ""))] = case.find("failure") is not None
    return cases


@pytest.mark.parametrize("case", BUGGY, ids=[case.client.__name__ for case in BUGGY])
def test_verify_names_the_bug(case: Case, case_mock: MockProcess, tmp_path: Path) -> None:
    token = f"token-of-{case.client.__name__}"
    if case.refused_with is not None:
        with pytest.raises(buggy.KlingApiError) as refusal:
            case.client(case_mock.base_url, token)
        assert refusal.value.code == case.refused_with
    else:
        # The API tolerates the bug: the client "works", and only the journal knows better.
        assert case.client(case_mock.base_url, token)["task_status"] == "succeed"

    reports = all_reports(case_mock.base_url, tmp_path)

    # JSON: exactly the rules of this bug, at the expected field paths.
    assert json_findings(reports.json) == case.findings, json.dumps(reports.json["rules"], indent=2)
    assert json_findings(reports.strict_json) == case.findings
    for rule in reports.json["rules"]:
        example = rule["example"]
        assert example["findings"], rule
        assert {finding["path"] for finding in example["findings"]} <= case.findings[(rule["severity"], rule["rule"])]
        if rule["severity"] == "error":
            assert example["response"]["code"] == case.refused_with

    # Exit status: errors always fail; warnings only with --fail-on-warnings.
    assert reports.json_status == (1 if case.has_errors else 0)
    assert reports.json["passed"] is not case.has_errors
    assert reports.strict_status == 1
    assert reports.strict_json["passed"] is False
    assert reports.text_status == reports.junit_status == reports.json_status

    # Text and JUnit name the same rules as JSON, with the same severities.
    assert text_rules(reports.text) == set(case.findings)
    for (severity, rule), paths in case.findings.items():
        block = reports.text.split(f"[{severity}] {rule}:", 1)[1]
        paths_line = block.splitlines()[1]
        assert all(f"{path} (" in paths_line for path in paths), paths_line
    expected_summary = "FAILED" if case.has_errors else "passed with warnings"
    assert reports.text.startswith(f"kling-mock conformance: {expected_summary}: ")
    junit = junit_rules(reports.junit)
    assert junit == {(severity, rule): severity == "error" for severity, rule in case.findings}
    assert reports.junit.get("failures") == str(sum(severity == "error" for severity, _ in case.findings))


def test_the_correct_client_gets_a_clean_report(fresh_mock: MockProcess, tmp_path: Path) -> None:
    task = buggy.correct_client(fresh_mock.base_url, "token-of-correct-client")
    assert task["task_status"] == "succeed"
    assert task["task_result"]["face_data"]

    reports = all_reports(fresh_mock.base_url, tmp_path)

    for report in (reports.json, reports.strict_json):
        assert report["rules"] == []
        assert report["passed"] is True
        assert report["notes"] == []
        totals = report["totals"]
        # The create and at least two polls (submitted -> processing -> succeed), every one clean.
        assert totals["judged"] >= 3
        assert totals["clean"] == totals["judged"]
        assert totals["with_errors"] == totals["with_warnings"] == totals["dropped"] == 0
    assert reports.json_status == reports.strict_status == reports.text_status == reports.junit_status == 0
    assert reports.text.startswith("kling-mock conformance: clean: ")
    assert "ERRORS" not in reports.text and "WARNINGS" not in reports.text
    assert reports.junit.get("failures") == "0"
    assert [case.get("name") for case in reports.junit.iter("testcase")] == ["no findings"]


def test_an_empty_journal_is_not_a_pass_by_accident(fresh_mock: MockProcess) -> None:
    """A client that never reached the mock: the report says nothing was judged (and why that may be)."""
    run = verify(fresh_mock.base_url, "--format", "json", "--fail-on-warnings")
    report = json.loads(run.stdout)
    assert report["totals"]["judged"] == 0
    assert any("holds no requests" in note for note in report["notes"])
    assert report["summary"].startswith("kling-mock conformance: nothing to judge")


def test_a_short_dev_token_is_not_held_against_a_correct_client(fresh_mock: MockProcess) -> None:
    """A correct create, with the token teams use in development, which the video's URL happens to contain.

    The mock accepts it (200); the verdict must agree. Only the create is sent: the polls add nothing here.
    """
    body = {"input": {**buggy._text2video(video_url="https://cdn.example.com/test-clips/presenter.mp4")}}
    answer = httpx.post(
        f"{fresh_mock.base_url}{buggy.CREATE_PATH}", json=body, headers={"Authorization": "Bearer test"}, timeout=10
    )
    assert answer.json()["code"] == 0
    run = verify(fresh_mock.base_url, "--format", "json", "--fail-on-warnings")
    assert json.loads(run.stdout)["rules"] == []
    assert run.returncode == 0
