"""Fast unit tests of judging an upstream's answer (`journal.answers`, through `Judge.upstream_verdict`), no server.

A proxy journals what the upstream answered; the answer is judged apart from the request, against the same
spec: Kling's envelope, the business-code table, and the response schema of its status. Every rule it names
starts with `response-`, and every path is the answer's (`data.created_at`, `code`, `status`).
"""

from __future__ import annotations

from functools import cache
from typing import Any

import orjson
import pytest

from mock_server.core.errors import Finding
from mock_server.journal import Entry, Judge, ResponseJudge, UpstreamAnswer, Verdict
from mock_server.spec import ADMIN_SPEC_PATH, Spec, load_spec
from tests.support import CREATE_PATH, CREATED_ANSWER, CREATED_AT_MS, REQUEST_ID, SEED_EXAMPLE, TASK_ID

CREATE, GET, LIST = "createIdentifyFaceTask", "getIdentifyFaceTask", "listIdentifyFaceTasks"
REFUSED: dict[str, Any] = {"code": 1201, "message": "input.mode: is required", "request_id": REQUEST_ID}
# The lip-sync flow's operations, whose create answers are shaped as identify-face's (a task, submitted).
ADVANCED, LIP_SYNC = "createAdvancedLipSyncTask", "createLipSyncTask"
GET_ADVANCED, GET_LIP_SYNC = "getAdvancedLipSyncTask", "getLipSyncTask"
ADVANCED_BODY: dict[str, Any] = {
    "session_id": TASK_ID,
    "face_choose": [
        {
            "face_id": "0",
            "sound_file": "https://example.com/audio/voice-6s.mp3",
            "sound_start_time": 0,
            "sound_end_time": 4000,
            "sound_insert_time": 500,
        }
    ],
}
# Each create: where a client calls it, and a request it may send.
CREATES: dict[str, tuple[str, Any]] = {
    CREATE: (CREATE_PATH, SEED_EXAMPLE),
    ADVANCED: ("/v1/videos/advanced-lip-sync", ADVANCED_BODY),
    LIP_SYNC: ("/kling/v1/videos/lip-sync", SEED_EXAMPLE),
}


@cache
def _spec() -> Spec:
    return load_spec()


@cache
def _judge() -> Judge:
    return Judge(_spec(), responses=ResponseJudge(_spec()))


def exchange(
    answer: Any = CREATED_ANSWER,
    *,
    status: int = 200,
    operation_id: str | None = CREATE,
    method: str | None = None,
    request: Any = SEED_EXAMPLE,
    content_type: str | None = "application/json",
    raw: bytes | None = None,
    undecoded: str | None = None,
    refusal: Finding | None = None,
    path: str | None = None,
) -> Entry:
    """A journal entry as the proxy records one: the client's request and the upstream's answer."""
    body = raw if raw is not None else orjson.dumps(answer)
    request_body = orjson.dumps(request) if operation_id in CREATES else b""
    operation = next((op for op in _spec().operations if op.operation_id == operation_id), None)
    path = path or {GET: f"{CREATE_PATH}/{TASK_ID}", None: f"{CREATE_PATH}-typo"}.get(operation_id, CREATE_PATH)
    headers = {"content-type": content_type} if content_type is not None else {}
    return Entry(
        seq=1,
        request_id=REQUEST_ID,
        at=CREATED_AT_MS,
        duration_ms=3.0,
        method=method or (operation.method if operation else "POST"),
        path=path,
        query="",
        operation_id=operation_id,
        caller="0123456789ab",
        headers={"content-type": "application/json", "authorization": "Bearer <redacted>"},
        body=request_body,
        body_bytes=len(request_body),
        status=status,
        code=None,
        message=None,
        refusal=refusal,
        upstream=UpstreamAnswer(status=status, headers=headers, body=body, body_bytes=len(body), undecoded=undecoded),
    )


def judged(item: Entry) -> Verdict:
    verdict = _judge().upstream_verdict(item)
    assert verdict is not None
    return verdict


def found(findings: tuple[Finding, ...]) -> set[tuple[str, str]]:
    return {(finding.rule, finding.path) for finding in findings}


# What keeps the contract.


@pytest.mark.parametrize(
    "item",
    [
        exchange(),
        exchange(REFUSED, status=400, request={"input": {"video_id": "v1"}}),
        exchange({"code": 1302, "message": "slow down", "request_id": REQUEST_ID}, status=429),
        exchange({**CREATED_ANSWER, "data": [CREATED_ANSWER["data"]]}, operation_id=LIST),
        exchange({**CREATED_ANSWER, "data": {**CREATED_ANSWER["data"], "task_status": "processing"}}, operation_id=GET),
        exchange(CREATED_ANSWER, content_type="application/json; charset=utf-8"),
        exchange(raw=b"", method="HEAD", operation_id=GET),
    ],
    ids=["created", "refused-bad-request", "rate-limited", "list", "get", "charset", "head"],
)
def test_an_answer_by_the_contract_is_clean(item: Entry) -> None:
    verdict = judged(item)
    assert (verdict.result, verdict.errors, verdict.warnings) == ("clean", (), ())


def test_the_verdict_is_worked_out_once_and_matches_admin_yaml() -> None:
    item = exchange({**CREATED_ANSWER, "request_id": "short"})
    first = judged(item)
    assert judged(item) is first
    assert item.upstream is not None and item.upstream.verdict is first
    validator = load_spec(ADMIN_SPEC_PATH).validator("#/components/schemas/UpstreamAnswer")
    shown = item.upstream.to_json()
    assert validator.is_valid(shown), [error.message for error in validator.iter_errors(shown)]
    assert shown["verdict"]["result"] == "error"


# The envelope's rules.


def test_http_200_with_an_error_code_breaks_the_status_rule_once() -> None:
    verdict = judged(exchange(REFUSED, status=200))
    assert ("response-status", "code") in found(verdict.errors)
    (status,) = [finding for finding in verdict.errors if finding.rule == "response-status"]
    assert status.message == "code: HTTP 200 must carry code 0, got 1201, which Kling sends with HTTP 400"
    # The 200 schema says more about the body; its `code: must be 0` would say the same thing again.
    assert ("response-schema", "message") in found(verdict.errors)
    assert ("response-schema", "data") in found(verdict.errors)
    assert ("response-schema", "code") not in found(verdict.errors)


def test_an_error_code_with_another_status_than_the_tables() -> None:
    verdict = judged(exchange(REFUSED, status=404, request={"input": {}}))
    assert found(verdict.errors) == {("response-status", "code")}
    assert verdict.errors[0].message == "code: 1201 is sent with HTTP 400, not 404"


@pytest.mark.parametrize(
    ("answer", "status", "message"),
    [
        ({**REFUSED, "code": 0}, 400, "code: code 0 (success) came with HTTP 400"),
        ({**REFUSED, "code": 1999}, 400, "code: 1999 is not in Kling's business-code table"),
    ],
)
def test_codes_that_no_status_carries(answer: dict[str, Any], status: int, message: str) -> None:
    verdict = judged(exchange(answer, status=status))
    assert [finding.message for finding in verdict.errors if finding.rule == "response-status"] == [message]
    assert ("response-schema", "code") not in found(verdict.errors)


def test_a_status_the_operation_does_not_declare() -> None:
    verdict = judged(exchange({**REFUSED, "code": 5000}, status=502))
    messages = {finding.path: finding.message for finding in verdict.errors if finding.rule == "response-status"}
    assert messages["status"].startswith("status: HTTP 502 is not an answer the contract declares for")
    assert messages["code"] == "code: 5000 is sent with HTTP 500, not 502"


def test_a_text_body_is_neither_json_nor_an_envelope() -> None:
    verdict = judged(exchange(raw=b"Bad Gateway", status=400, content_type="text/plain"))
    assert found(verdict.errors) == {("response-content-type", "header.Content-Type"), ("response-envelope", "body")}
    assert "must be application/json" in verdict.errors[0].message


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (b"", "body: empty, must be a JSON object"),
        (b"[1, 2]", "body: must be a JSON object (Kling's envelope), got list"),
        (b"[" * 100 + b"]" * 100, "body: nested deeper than 64 levels"),
    ],
)
def test_a_body_that_is_no_envelope(raw: bytes, message: str) -> None:
    verdict = judged(exchange(raw=raw))
    assert [(finding.rule, finding.message) for finding in verdict.errors] == [("response-envelope", message)]


def test_no_content_type_at_all() -> None:
    verdict = judged(exchange(content_type=None))
    assert found(verdict.errors) == {("response-content-type", "header.Content-Type")}


# The schema of the status.


@pytest.mark.parametrize("operation_id", CREATES)
@pytest.mark.parametrize(
    ("data", "path"),
    [
        ({"created_at": CREATED_AT_MS // 1000, "updated_at": CREATED_AT_MS // 1000}, "data.created_at"),
        ({"task_id": "not-22-characters"}, "data.task_id"),
        ({"task_status": "queued"}, "data.task_status"),
    ],
    ids=["seconds-not-milliseconds", "task-id-shape", "status-enum"],
)
def test_the_body_is_judged_by_the_schema_of_its_status(data: dict[str, Any], path: str, operation_id: str) -> None:
    """Every create's answer is a submitted task: each is held to its schema alike."""
    where, request = CREATES[operation_id]
    answer = {**CREATED_ANSWER, "data": {**CREATED_ANSWER["data"], **data}}
    verdict = judged(exchange(answer, operation_id=operation_id, request=request, path=where))
    assert ("response-schema", path) in found(verdict.errors)
    assert all(finding.rule == "response-schema" for finding in verdict.errors)


@pytest.mark.parametrize("operation_id", CREATES)
def test_each_create_s_answer_by_the_contract_is_clean(operation_id: str) -> None:
    """The answers the test above breaks, whole: what it finds is the break, not the create."""
    where, request = CREATES[operation_id]
    verdict = judged(exchange(operation_id=operation_id, request=request, path=where))
    assert (verdict.result, verdict.errors, verdict.warnings) == ("clean", (), ())


def _lip_sync_task(duration: Any) -> dict[str, Any]:
    """A succeeded lip-sync task's answer, its video `duration` long."""
    video = {"id": TASK_ID, "url": "https://example.com/videos/voiced.mp4", "duration": duration}
    data = {**CREATED_ANSWER["data"], "task_status": "succeed", "task_result": {"videos": [video]}}
    return {**CREATED_ANSWER, "data": data}


@pytest.mark.parametrize(
    ("operation_id", "path"),
    [(GET_ADVANCED, f"/v1/videos/advanced-lip-sync/{TASK_ID}"), (GET_LIP_SYNC, f"/kling/v1/videos/lip-sync/{TASK_ID}")],
    ids=["advanced-lip-sync", "lip-sync"],
)
def test_a_lip_sync_video_s_duration_is_a_string_of_seconds(operation_id: str, path: str) -> None:
    """docs/contract.md: `duration` is a string holding seconds, as Kling sends it; a number breaks the schema."""
    clean = judged(exchange(_lip_sync_task("5.2"), operation_id=operation_id, path=path))
    assert (clean.result, clean.errors, clean.warnings) == ("clean", (), ())
    broken = judged(exchange(_lip_sync_task(5.2), operation_id=operation_id, path=path))
    assert found(broken.errors) == {("response-schema", "data.task_result.videos[0].duration")}


def test_a_missing_field_and_a_wrong_request_id() -> None:
    data = {key: value for key, value in CREATED_ANSWER["data"].items() if key != "updated_at"}
    verdict = judged(exchange({**CREATED_ANSWER, "request_id": "abc", "data": data}))
    assert found(verdict.errors) == {("response-schema", "data.updated_at"), ("response-schema", "request_id")}
    by_path = {finding.path: finding.message for finding in verdict.errors}
    assert by_path["data.updated_at"] == "data.updated_at: is required"
    assert by_path["request_id"].startswith("request_id: must match the pattern")


def test_an_error_answer_is_judged_by_its_own_schema() -> None:
    verdict = judged(exchange({"code": 1201, "request_id": REQUEST_ID}, status=400, request={"input": {}}))
    assert found(verdict.errors) == {("response-schema", "message")}


# The answer against the request.


def test_refusing_a_request_the_contract_accepts() -> None:
    verdict = judged(exchange(REFUSED, status=400))
    assert found(verdict.errors) == {("response-refused-valid-request", "code")}
    assert "stricter than the contract" in verdict.errors[0].message


def test_refusing_a_request_that_has_errors_is_right() -> None:
    assert judged(exchange(REFUSED, status=400, request={"input": {}})).result == "clean"


def test_an_unknown_task_is_the_upstreams_to_know() -> None:
    not_found = {"code": 1203, "message": "no such task", "request_id": REQUEST_ID}
    refusal = Finding("unknown-task", "path.task_id", "path.task_id: the upstream answered 1203")
    assert judged(exchange(not_found, status=404, operation_id=GET, refusal=refusal)).result == "clean"
    # On a path without a task, 1203 says the upstream does not know a path the contract has.
    verdict = judged(exchange(not_found, status=404))
    assert found(verdict.errors) == {("response-refused-valid-request", "code")}


def test_accepting_a_request_the_contract_refuses_is_a_warning() -> None:
    verdict = judged(exchange(request={"input": {"video_id": "v1", "mode": "sing"}}))
    assert verdict.errors == ()
    assert found(verdict.warnings) == {("response-accepted-invalid-request", "status")}
    assert verdict.warnings[0].message == (
        "status: HTTP 200 accepts a request the contract refuses (enum): the upstream is more lenient"
    )


# What cannot be judged.


def test_a_body_the_proxy_could_not_decode_is_not_judged() -> None:
    verdict = judged(exchange(raw=b"\x8b\x00", undecoded="Content-Encoding br: the proxy cannot undo it"))
    assert verdict.errors == ()
    assert [(finding.rule, finding.message) for finding in verdict.warnings] == [
        ("response-not-judged", "body: not judged: Content-Encoding br: the proxy cannot undo it")
    ]


def test_an_answer_to_an_unknown_path_is_judged_by_the_envelope_only() -> None:
    not_found = {"code": 1203, "message": "no such path", "request_id": "free-form"}
    unknown = Finding("unknown-path", "path", "POST /typo: no such resource")
    assert judged(exchange(not_found, status=404, operation_id=None, refusal=unknown)).result == "clean"
    verdict = judged(exchange(not_found, status=400, operation_id=None, refusal=unknown))
    assert found(verdict.errors) == {("response-status", "code")}


def test_no_answer_and_no_upstream_have_no_verdict() -> None:
    unanswered = exchange()
    unanswered.upstream = UpstreamAnswer(status=None, error="the upstream could not be reached")
    assert _judge().upstream_verdict(unanswered) is None
    mocked = exchange()
    mocked.upstream = None
    assert _judge().upstream_verdict(mocked) is None
    # The mock's judge has no response rules at all.
    assert Judge(_spec()).upstream_verdict(exchange()) is None


def test_every_finding_names_its_side_and_its_path() -> None:
    answers = [
        exchange(REFUSED, status=200),
        exchange(raw=b"oops", status=418, content_type="text/html"),
        exchange({**CREATED_ANSWER, "data": {"task_id": 1}}),
        exchange(request={"input": {}}),
    ]
    for item in answers:
        verdict = judged(item)
        for finding in (*verdict.errors, *verdict.warnings):
            assert finding.rule.startswith("response-")
            # A header's finding names it as the request's do: `Content-Type: ...`.
            assert finding.message.startswith(f"{finding.path.removeprefix('header.')}: "), finding
