"""The contract suite can fail: `kling-mock contract` exits 1 against every broken server, 0 against the mock.

A suite that passes against everything proves nothing. Each broken server (`broken_servers.py`) is the
real mock with exactly one rule of the contract (docs/contract.md) broken; the suite is run against it as a
user runs it, in a subprocess, and its output must name the rule that broke (a check, a test, a message),
so that a run cannot count as caught because something else went wrong.

The runs are independent processes, so they go two at a time, ahead of the tests that read them.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import pytest

from .broken_servers import BREAKAGES, SEED_ID
from .harness import KLING_PREFIX, MAX_EXAMPLES, Outcome, run_against


def _failed(test_id: str) -> str:
    """The summary line of a failed test of `contract_tests/test_rules*.py`, by function name (and param)."""
    return rf"FAILED \S*test_rules(_documented)?\.py::{re.escape(test_id)}(?!\w)"


def _failed_lip_sync(test_id: str) -> str:
    """The summary line of a failed test of `contract_tests/test_lip_sync.py`."""
    return rf"FAILED \S*test_lip_sync\.py::{re.escape(test_id)}(?!\w)"


def _custom(check: str) -> str:
    """A failure of one of the contract's own schemathesis checks (`contract_tests/checks.py`)."""
    return re.escape(f"Custom check failed: `{check}`")


# What the output must show for each breakage (regexes, all of them): the rule that caught it.
EXPECTED: dict[str, tuple[str, ...]] = {
    "message-not-succeed": (r"HTTP 200 must carry message 'SUCCEED', got 'OK'", _custom("kling_envelope")),
    "success-code-nonzero": (r"HTTP 200 must carry code 0, got 200\b", _custom("kling_envelope")),
    "request-id-constant": (f"request_id '{SEED_ID}' was already answered before", _custom("kling_fresh_ids")),
    "task-id-reused": (f"task_id '{SEED_ID}' was given to an earlier task", _custom("kling_fresh_ids")),
    "ids-hex32": (r"must be 22 characters from A-Z a-z 0-9 _ -, got '[0-9a-f]{32}'", _custom("kling_fresh_ids")),
    "timestamps-in-seconds": (r"created_at=\d{10} is not Unix milliseconds", _custom("kling_timestamps")),
    "updated-before-created": (r"updated_at \(\d+\) is before created_at", _custom("kling_timestamps")),
    "auth-ignored": (
        _failed("test_missing_authorization_is_401_1001[absent]"),
        "API accepts requests without authentication",
    ),
    "malformed-auth-as-1001": (
        _failed("test_malformed_authorization_is_401_1002"),
        r"assert \(401, 1001\) == \(401, 1002\)",
    ),
    "unknown-key-accepted": (_failed("test_unknown_key_is_401_1000"), "API accepts invalid authentication"),
    "content-type-unchecked": (
        _failed("test_wrong_content_type_is_400_1200"),
        # The body is the documented example: only its Content-Type is wrong.
        r"assert \(200, 0\) == \(400, 1200\)",
    ),
    "charset-suffix-rejected": (_failed("test_content_type_with_charset_is_accepted"),),
    "task-id-required": (_failed("test_documented_example_succeeds"), r"input\.task_id: is required"),
    "both-videos-rejected": (_failed("test_documented_example_succeeds"), "mutually exclusive"),
    "voice-language-required": (
        "Schema-valid request rejected",
        r"input\.voice_language: required when mode is text2video",
    ),
    "unnamed-fields-rejected": ("Schema-valid request rejected", "input: unknown fields are not allowed"),
    "text-over-120-accepted": ("Schema-violating request accepted", "input -> text: String larger than maxLength"),
    "voice-speed-unchecked": (
        "Schema-violating request accepted",
        "input -> voice_speed: Value (greater|less) than (maximum|minimum)",
    ),
    "mode-unchecked": (
        _failed("test_a_broken_field_rule_is_400_1201_naming_the_field"),
        "input -> mode: Invalid enum value",
    ),
    "video-unchecked": (_failed("test_each_field_rule_is_400_1201[no-video]"),),
    "error-sent-with-200": (r"HTTP 200 must carry code 0, got 1\d{3}\b", _custom("kling_envelope")),
    "1201-sent-with-422": ("business code 1201 must be sent with HTTP 400, got HTTP 422", _custom("kling_envelope")),
    "code-not-in-table": (
        "HTTP 400 carries business code 40001, which is not in Kling's table",
        _custom("kling_envelope"),
    ),
    "error-message-empty": ("an error must have a message", _custom("kling_envelope")),
    "field-path-not-named": (
        _failed("test_a_broken_field_rule_is_400_1201_naming_the_field"),
        "the message must name the field path: 'invalid parameter'",
    ),
    "error-without-request-id": (r"HTTP \d{3}: the envelope has no 'request_id'", _custom("kling_envelope")),
    "body-not-json-as-1201": (
        _failed("test_body_not_a_json_object_is_400_1200"),
        r"assert \(400, 1201\) == \(400, 1200\)",
    ),
    "body-too-large-as-413": (
        r"FAILED \S*test_decisions\.py::test_a_decision_of_the_kit\[body-size-0\]",
        "business code 1200 must be sent with HTTP 400, got HTTP 413",
    ),
    "wrong-method-405": (
        _failed("test_wrong_method_is_404_1202"),
        "business code 1202 must be sent with HTTP 404, got HTTP 405",
    ),
    "unknown-path-as-1202": (_failed("test_unknown_path_is_404_1203"), r"assert \(404, 1202\) == \(404, 1203\)"),
    "unknown-path-plain-text": (
        _failed("test_unknown_path_is_404_1203"),
        "every response must be JSON, got Content-Type 'text/plain",
    ),
    "server-error-on-bad-voice-speed": ("Server error", r"\[500\] Internal Server Error"),
    "server-error-on-fast-voice": (_failed("test_field_bounds_are_accepted[voice_speed-max]"),),
    "status-goes-backward": (r"moved backward, from (succeed|failed) to processing",),
    "page-size-ignored": (r"tasks, pageSize was \d+",),
    "succeeded-without-result": (r"ST108 Response violates schema", r'"required": \[[\s|]*"task_result"'),
    "list-oldest-first": (r"should be this run's, newest first",),
    "tasks-shared-by-all-callers": (_failed("test_another_callers_task_is_404_1203_and_never_listed"),),
    "unknown-task-as-1201": (_failed("test_query_of_an_unknown_task_is_404_1203"),),
    "face-ends-before-it-starts": (r"start_time \d+ > end_time \d+",),
    "session-shared-by-all-callers": (
        _failed_lip_sync("test_another_callers_session_is_refused"),
        "another caller could use session",
    ),
    "clip-under-2s-accepted": (
        _failed_lip_sync("test_each_cross_field_rule_broken_alone_is_400_1201_naming_the_field[clip-under-2s]"),
    ),
    "face-not-in-session-accepted": (
        _failed_lip_sync("test_each_cross_field_rule_broken_alone_is_400_1201_naming_the_field[face-not-in-session]"),
    ),
    "duration-a-number": (
        _failed_lip_sync("test_a_valid_create_goes_to_succeed_with_videos"),
        r"a video's duration must be a string of seconds \(\"5\.2\"\), as Kling sends it: got \d",
    ),
    "lip-sync-list-oldest-first": (
        _failed_lip_sync("test_the_list_is_newest_first_and_its_pages_neither_repeat_nor_skip"),
        "the list must be newest first",
    ),
    "video-download-404": (
        _failed_lip_sync("test_every_file_an_answer_points_at_downloads"),
        r"/files/videos/\S+: HTTP 404",
    ),
    "download-wrong-content-type": (
        _failed_lip_sync("test_every_file_an_answer_points_at_downloads"),
        r"Content-Type 'application/octet-stream', its extension says '(image/png|video/mp4)'",
    ),
    "older-lip-sync-answers-faces": (
        _failed_lip_sync("test_the_older_endpoint_takes_the_seeds_request_and_ends_with_videos"),
        "has no task_result.videos",
    ),
}
# The lip-sync flow's breakages fail the hand-written tests of test_lip_sync.py: few generated cases will do.
FEW_EXAMPLES = 5
_FEW = frozenset(name for name, patterns in EXPECTED.items() if "test_lip_sync" in patterns[0])

# Breakages the suite does not catch (every time): gaps in contract_tests, each to be closed by the
# hand-written test that EXPECTED names for it. Strict, so that closing a gap shows here.
GAPS: dict[str, str] = {}


def _contract_command(prefix: str, max_examples: int, dialect: str | None = None) -> Callable[[str], Sequence[str]]:
    """At the contract level, as against any target but the kit's own mock: every breakage breaks the contract
    itself, so that no decision of the kit is needed to catch it. With a dialect, held to it: a breakage that
    refuses the seed's request would otherwise pass the probe for the other dialect, which `/kling` speaks too."""

    def command(base_url: str) -> Sequence[str]:
        return [
            sys.executable,
            "-m",
            "mock_server",
            "contract",
            "--base-url",
            base_url + prefix,
            "--max-examples",
            str(max_examples),
            "--strictness",
            "contract",
            *(["--dialect", dialect] if dialect else []),
        ]

    return command


class ContractRuns:
    """`kling-mock contract` against each server (None: the correct mock) at a base path, two runs at a time."""

    def __init__(self, workers: int) -> None:
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="contract-run")
        self._runs: dict[tuple[str | None, str], Future[Outcome]] = {}

    def submit(self, breakage: str | None, prefix: str = KLING_PREFIX) -> None:
        if (breakage, prefix) not in self._runs:
            examples = FEW_EXAMPLES if breakage in _FEW else MAX_EXAMPLES
            # The correct mock is found out (`auto`); a broken one held to the documented dialect it breaks.
            command = _contract_command(prefix, examples, None if breakage is None else "documented")
            self._runs[breakage, prefix] = self._pool.submit(run_against, breakage, command)

    def outcome(self, breakage: str | None, prefix: str = KLING_PREFIX) -> Outcome:
        self.submit(breakage, prefix)
        return self._runs[breakage, prefix].result()

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)


@pytest.fixture(scope="module")
def contract_runs(request: pytest.FixtureRequest) -> Iterator[ContractRuns]:
    """Starts, in test order, the runs of every selected test of this module, so that they overlap."""
    runs = ContractRuns(workers=2)
    for item in request.session.items:
        if isinstance(item, pytest.Function) and item.module is request.module and "contract_runs" in item.fixturenames:
            params: dict[str, Any] = item.callspec.params if hasattr(item, "callspec") else {}
            runs.submit(params.get("breakage"), params.get("prefix", KLING_PREFIX))
    try:
        yield runs
    finally:
        runs.close()


def test_every_breakage_says_what_its_failure_must_mention() -> None:
    assert EXPECTED.keys() == BREAKAGES.keys()
    assert GAPS.keys() <= EXPECTED.keys()


@pytest.mark.slow
@pytest.mark.parametrize("prefix", [KLING_PREFIX, ""], ids=["aggregators-paths", "klings-own-paths"])
def test_contract_passes_against_the_mock(contract_runs: ContractRuns, prefix: str) -> None:
    """The control: with the same command, the correct mock (checking keys) passes, at either base URL."""
    outcome = contract_runs.outcome(None, prefix)
    assert outcome.server_stopped
    assert outcome.returncode == 0, outcome.tail()
    assert re.search(r"=+ \d+ passed", outcome.output), outcome.tail()


def _breakages() -> Iterator[object]:
    for name in BREAKAGES:
        marks = [pytest.mark.slow]
        if name in GAPS:
            marks.append(pytest.mark.xfail(strict=True, reason=f"gap in contract_tests: {GAPS[name]}"))
        yield pytest.param(name, marks=marks, id=name)


@pytest.mark.parametrize("breakage", list(_breakages()))
def test_contract_fails_against_broken_server(contract_runs: ContractRuns, breakage: str) -> None:
    """Exit status 1 (the target broke the contract, not a usage error), naming the broken rule."""
    outcome = contract_runs.outcome(breakage)
    assert outcome.server_stopped
    assert outcome.returncode == 1, f"{BREAKAGES[breakage].rule}: not caught\n{outcome.tail()}"
    missing = [pattern for pattern in EXPECTED[breakage] if not re.search(pattern, outcome.output)]
    assert not missing, f"{BREAKAGES[breakage].rule}: the output does not show {missing}\n{outcome.tail()}"
