"""Unit tests of what the suite records and reports: secrets replaced, reproductions that run, the report's shape."""

from __future__ import annotations

import shlex
from pathlib import Path

import pytest
import requests

from contract_tests.budget import BillableBudget
from contract_tests.credentials import Credentials
from contract_tests.politeness import Throttle
from contract_tests.report import DriftReport, RuleResult
from contract_tests.target import Target
from contract_tests.transport import Exchange, Recorder

TOKEN = "tok-0123456789abcdef"


def exchange(**overrides: object) -> Exchange:
    fields: dict[str, object] = {
        "method": "POST",
        "url": "http://127.0.0.1:9/kling/v1/videos/identify-face",
        "request_headers": {"Authorization": "Bearer $KLING_TOKEN", "Content-Type": "application/json"},
        "request_body": b'{"input": {"mode": "it\'s"}}',
        "status": 400,
        "response_body": b'{"code": 1201, "message": "input.mode: bad", "request_id": "x"}',
    }
    fields.update(overrides)
    return Exchange(**fields)  # type: ignore[arg-type]


def test_curl_expands_the_token_placeholder_and_quotes_the_rest() -> None:
    command = exchange().curl()
    words = shlex.split(command)
    assert words[:5] == ["curl", "-i", "-X", "POST", "http://127.0.0.1:9/kling/v1/videos/identify-face"]
    # The placeholder alone in double quotes: the shell puts the exported token in its place.
    assert "'Authorization: Bearer '\"$KLING_TOKEN\"" in command
    assert words[-1] == '{"input": {"mode": "it\'s"}}'


def test_curl_runs_nothing_a_hostile_target_or_request_put_in_it() -> None:
    hostile = "$(touch /tmp/pwned) `id` $HOME \" ' !"
    command = exchange(request_headers={"X-Note": hostile}, request_body=hostile.encode()).curl()
    words = shlex.split(command)
    assert words[words.index("-H") + 1] == f"X-Note: {hostile}"
    assert words[-1] == hostile
    # No header held the body's type: curl is told not to add one of its own.
    assert "Content-Type:" in words


def test_curl_leaves_out_a_huge_body_and_says_so() -> None:
    command = exchange(request_body=b"x" * 100_000).curl()
    assert command.startswith("# the body, 100000 bytes, is too large to show here")
    assert "xxxx" not in command


def test_the_recorder_replaces_secrets_everywhere() -> None:
    recorder = Recorder(lambda: {TOKEN: "$KLING_TOKEN"})
    response = requests.Response()
    response.status_code = 401
    response._content = f'{{"message": "bad token {TOKEN}"}}'.encode()
    response.request = requests.Request(
        "POST", f"http://127.0.0.1:9/x?key={TOKEN}", headers={"Authorization": f"Bearer {TOKEN}"}, data=TOKEN
    ).prepare()
    recorded = recorder.record(response)
    assert TOKEN not in repr(recorded)
    assert recorded.request_headers["Authorization"] == "Bearer $KLING_TOKEN"


def test_the_report_opens_with_the_dialect_and_the_verdict(tmp_path: Path) -> None:
    credentials = Credentials(api_key=TOKEN)
    target = Target(
        "http://127.0.0.1:9", credentials, budget=BillableBudget(5), throttle=Throttle(2.0), report_dir=tmp_path
    )
    report = DriftReport(target, "The target speaks the upstream dialect (docs/contract.md, faces at once).")
    report.results = {
        "test_rules.py::test_documented_example_succeeds": RuleResult(
            "failed", f"AssertionError: {TOKEN} said no", exchange()
        ),
        "test_schema.py::test_operation_conforms[GET /kling/v1/videos/identify-face]": RuleResult("passed", "", None),
    }
    text = report.render()
    lines = text.splitlines()
    assert lines[2] == "**The target speaks the upstream dialect (docs/contract.md, faces at once).**"
    assert lines[4].startswith("**Result: FAILED**: 1 of 2 rules broken")
    assert "| `test_schema.py::test_operation_conforms[GET /kling/v1/videos/identify-face]` | passed |" in lines
    assert "curl -i -X POST" in text and '"code": 1201' in text
    assert "at most 2 requests/s" in text


def test_each_operation_of_the_generated_tests_is_a_rule_of_its_own(tmp_path: Path) -> None:
    """schemathesis's tests of each operation share one node id: the report tells them apart by name."""
    target = Target("http://127.0.0.1:9", Credentials(api_key=TOKEN), report_dir=tmp_path)
    report = DriftReport(target)
    nodeid = "contract_tests/test_schema.py::test_operation_conforms"
    for operation, outcome in (("GET /a", "failed"), ("POST /a", "passed")):
        location = ("contract_tests/test_schema.py", 30, f"test_operation_conforms[{operation}]")
        report.pytest_runtest_logreport(pytest.TestReport(nodeid, location, {}, outcome, None, "call"))
    assert report.results.keys() == {
        "test_schema.py::test_operation_conforms[GET /a]",
        "test_schema.py::test_operation_conforms[POST /a]",
    }
    assert "**Result: FAILED**: 1 of 2 rules broken" in report.render()
