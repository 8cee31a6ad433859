"""Fast unit tests of `mock_server.verdicts.Judge`: verdicts worked out from journal entries built here, no server.

The mock stops at a request's first problem; the verdict lists them all, adds warnings, takes from the mock's
answer only what the record cannot show (the token, a task's existence), and never holds a scenario's injected
error against the client.
"""

from __future__ import annotations

from collections import Counter
from functools import cache
from typing import Any

import orjson
import pytest

from mock_server.core.errors import Finding, KlingError
from mock_server.journal import Entry, Judge, Verdict
from mock_server.spec import ADMIN_SPEC_PATH, Operation, Spec, load_spec
from mock_server.validation import check_media_type, parse_json, validate_body
from tests.support import CREATE_PATH

CREATE, GET, LIST = "createIdentifyFaceTask", "getIdentifyFaceTask", "listIdentifyFaceTasks"
TASK_PATH = f"{CREATE_PATH}/CmJ8DGePZioAAAAAAFIvOQ"
JSON_HEADERS = {"content-type": "application/json", "authorization": "Bearer <redacted>"}
AUDIO_URL_INPUT: dict[str, Any] = {
    "video_url": "https://example.com/v.mp4",
    "mode": "audio2video",
    "audio_type": "url",
    "audio_url": "https://example.com/a.mp3",
}
TEXT_INPUT: dict[str, Any] = {
    "video_id": "de1b86d9-8e40-4f1c-a6a5-6459f8eb42f2",
    "mode": "text2video",
    "text": "Hello",
    "voice_id": "girlfriend_1_speech02",
    "voice_language": "en",
}
# The lip-sync flow's creates, with a body each that the schema accepts, and where the mock serves them.
ADVANCED, LIP_SYNC = "createAdvancedLipSyncTask", "createLipSyncTask"
ADVANCED_BODY: dict[str, Any] = {
    "session_id": "CmJ8DGePZioAAAAAAFIvOQ",
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
CREATES = {
    CREATE: (CREATE_PATH, {"input": AUDIO_URL_INPUT}),
    ADVANCED: ("/kling/v1/videos/advanced-lip-sync", ADVANCED_BODY),
    LIP_SYNC: ("/v1/videos/lip-sync", {"input": AUDIO_URL_INPUT}),
}


@cache
def _spec() -> Spec:
    return load_spec()


@cache
def _judge() -> Judge:
    return Judge(_spec())


def operation(operation_id: str) -> Operation:
    return next(op for op in _spec().operations if op.operation_id == operation_id)


def entry(
    operation_id: str | None = CREATE,
    *,
    body: Any = None,
    raw: bytes | None = None,
    method: str | None = None,
    path: str | None = None,
    query: str = "",
    headers: dict[str, str] | None = None,
    body_bytes: int | None = None,
    status: int = 200,
    code: int | None = 0,
    refusal: Finding | None = None,
    scenarios: tuple[str, ...] = (),
    since_last_poll_ms: int | None = None,
) -> Entry:
    """A journal entry as `request_log` records one."""
    if raw is None:
        raw = orjson.dumps(body) if body is not None else b""
    op = operation(operation_id) if operation_id else None
    return Entry(
        seq=1,
        request_id="Bm9xQ2V4TDhqUkZsVWdBQQ",
        at=1_795_000_000_000,
        duration_ms=1.5,
        method=method or (op.method if op else "GET"),
        path=path or (TASK_PATH if operation_id == GET else CREATE_PATH),
        query=query,
        operation_id=operation_id,
        caller="0123456789ab",
        headers=dict(JSON_HEADERS if headers is None else headers),
        body=raw,
        body_bytes=len(raw) if body_bytes is None else body_bytes,
        status=status,
        code=code,
        message="SUCCEED" if code == 0 else "refused",
        refusal=refusal,
        scenarios=scenarios,
        since_last_poll_ms=since_last_poll_ms,
    )


def verdict(item: Entry) -> Verdict:
    return _judge().verdict(item)


def rules(findings: tuple[Finding, ...]) -> list[str]:
    return [finding.rule for finding in findings]


def refusal_of(call: Any, *args: Any) -> Finding:
    """The finding the mock's own check refuses with, as `app.py` records it."""
    with pytest.raises(KlingError) as caught:
        call(*args)
    return caught.value.finding


# Clean requests, and the verdict's shape.


@pytest.mark.parametrize(
    "item",
    [
        entry(body={"input": AUDIO_URL_INPUT}),
        entry(body={"input": TEXT_INPUT, "callback_url": "https://example.com/hook"}),
        entry(LIST, query="pageNum=2&pageSize=10", headers={}),
        entry(GET, headers={}),
        entry(GET, headers={}, since_last_poll_ms=1000),
        entry(ADVANCED, path=CREATES[ADVANCED][0], body=ADVANCED_BODY),
        entry(LIP_SYNC, path=CREATES[LIP_SYNC][0], body={"input": TEXT_INPUT}),
    ],
    ids=["audio2video", "text2video", "list", "get", "get-polled-at-the-interval", "advanced-lip-sync", "lip-sync"],
)
def test_a_request_by_the_contract_is_clean(item: Entry) -> None:
    result = verdict(item)
    assert (result.result, result.errors, result.warnings) == ("clean", (), ())


def test_a_verdict_is_worked_out_once_and_matches_admin_yaml() -> None:
    item = entry(body={"input": {**TEXT_INPUT, "voice_language": "fr"}, "extra": 1})
    first = verdict(item)
    assert verdict(item) is first
    assert item.verdict is first
    validator = load_spec(ADMIN_SPEC_PATH).validator("#/components/schemas/Verdict")
    shown = first.to_json()
    assert validator.is_valid(shown), [error.message for error in validator.iter_errors(shown)]
    assert shown["result"] == "error"
    assert [w["rule"] for w in shown["warnings"]] == ["unknown-field"]


# Every schema error, not only the first.


def test_every_schema_error_is_listed_not_just_the_first() -> None:
    body = {
        "input": {
            "mode": "sing",
            "video_url": "ftp://example.com/v.mp4",
            "text": "",
            "voice_id": "",
            "voice_language": "fr",
            "voice_speed": 5,
            "task_id": "",
        },
        "callback_url": "not a url",
    }
    # The mock's answer stops at a few and names the first rule only.
    validator = operation(CREATE).body_validator
    assert validator is not None
    with pytest.raises(KlingError) as caught:
        validate_body(_spec().document, validator, body)
    item = entry(body=body, status=400, code=1201, refusal=caught.value.finding)
    result = verdict(item)
    paths = {finding.path for finding in result.errors}
    assert {
        "input.mode",
        "input.video_url",
        "input.text",
        "input.voice_id",
        "input.voice_language",
        "input.voice_speed",
        "input.task_id",
        "callback_url",
    } <= paths
    assert result.result == "error"
    # Each finding once, even the one the answer already named.
    assert len(set(result.errors)) == len(result.errors)
    for finding in result.errors:
        assert finding.message.startswith(f"{finding.path}: ")


def test_conditional_requirements_are_all_listed() -> None:
    result = verdict(entry(body={"input": {"mode": "text2video"}}, status=400, code=1201))
    assert {(f.rule, f.path) for f in result.errors} >= {
        ("video-source", "input"),
        ("required", "input.text"),
        ("required", "input.voice_id"),
    }


def test_a_body_that_is_not_an_object_is_one_error() -> None:
    result = verdict(entry(body=["input"], status=400, code=1200))
    assert [(f.rule, f.path) for f in result.errors] == [("type", "body")]


# Warnings.


@pytest.mark.parametrize(
    ("body", "path"),
    [
        ({"input": AUDIO_URL_INPUT, "model_name": "kling-v1"}, "model_name"),
        ({"input": {**AUDIO_URL_INPUT, "audio_speed": 1.0}}, "input.audio_speed"),
    ],
    ids=["top-level", "inside-input"],
)
def test_unknown_field_is_a_warning(body: dict[str, Any], path: str) -> None:
    result = verdict(entry(body=body))
    assert result.errors == ()
    assert [(f.rule, f.path) for f in result.warnings] == [("unknown-field", path)]
    assert result.result == "warning"


def test_unknown_fields_at_both_levels_are_each_listed() -> None:
    result = verdict(entry(body={"input": {**AUDIO_URL_INPUT, "a": 1, "b": 2}, "c": 3}))
    assert sorted(f.path for f in result.warnings) == ["c", "input.a", "input.b"]
    assert set(rules(result.warnings)) == {"unknown-field"}


def test_text2video_without_voice_language_relies_on_the_default() -> None:
    text_input = {key: value for key, value in TEXT_INPUT.items() if key != "voice_language"}
    result = verdict(entry(body={"input": text_input}))
    assert result.errors == ()
    assert [(f.rule, f.path) for f in result.warnings] == [("default-relied-on", "input.voice_language")]
    assert "zh" in result.warnings[0].message


def test_audio2video_without_voice_language_relies_on_nothing() -> None:
    assert verdict(entry(body={"input": AUDIO_URL_INPUT})).warnings == ()


def test_an_unknown_query_parameter_is_a_warning() -> None:
    result = verdict(entry(LIST, query="pageNum=1&page_size=10&debug", headers={}))
    assert result.errors == ()
    assert sorted((f.rule, f.path) for f in result.warnings) == [
        ("unknown-parameter", "query.debug"),
        ("unknown-parameter", "query.page_size"),
    ]


def test_an_unknown_query_parameter_on_create_is_a_warning_too() -> None:
    result = verdict(entry(body={"input": AUDIO_URL_INPUT}, query="async=1"))
    assert [(f.rule, f.path) for f in result.warnings] == [("unknown-parameter", "query.async")]


def test_a_bad_query_parameter_is_an_error() -> None:
    result = verdict(entry(LIST, query="pageSize=0&pageNum=x", headers={}, status=400, code=1201))
    assert len(result.errors) == 2
    assert {f.rule for f in result.errors} == {"minimum", "type"}


def test_a_bad_query_parameters_path_says_query() -> None:
    result = verdict(entry(LIST, query="pageSize=0", headers={}, status=400, code=1201))
    assert [f.path for f in result.errors] == ["query.pageSize"]


@pytest.mark.parametrize("since", [0, 1, 500, 999])
def test_polling_faster_than_the_minimum_interval_is_a_warning(since: int) -> None:
    result = verdict(entry(GET, headers={}, since_last_poll_ms=since))
    assert result.errors == ()
    assert rules(result.warnings) == ["polling-too-fast"]
    assert "1000 ms" in result.warnings[0].message
    assert result.result == "warning"


@pytest.mark.parametrize("since", [None, 1000, 1001, 60_000])
def test_polling_at_or_above_the_minimum_interval_is_fine(since: int | None) -> None:
    assert verdict(entry(GET, headers={}, since_last_poll_ms=since)).warnings == ()


def test_only_operations_with_a_poll_interval_are_judged_for_polling() -> None:
    assert operation(LIST).min_poll_interval_ms is None
    assert verdict(entry(LIST, headers={}, since_last_poll_ms=1)).warnings == ()


# Refusals: taken from the answer, or worked out again (and then not twice).


AUTH_MISSING = Finding("auth-missing", "header.Authorization", "Authorization: header is missing or empty")


def test_auth_missing_is_taken_from_the_answer() -> None:
    headers = {"content-type": "application/json"}
    item = entry(body={"input": AUDIO_URL_INPUT}, headers=headers, status=401, code=1001, refusal=AUTH_MISSING)
    result = verdict(item)
    assert result.errors == (AUTH_MISSING,)


def test_auth_missing_comes_with_the_body_errors_the_mock_never_reached() -> None:
    item = entry(body={"input": {"mode": "audio2video", "video_id": "v"}}, status=401, code=1001, refusal=AUTH_MISSING)
    result = verdict(item)
    assert rules(result.errors) == ["auth-missing", "required"]
    assert result.errors[1].path == "input.audio_type"


def test_unknown_task_is_taken_from_the_answer() -> None:
    unknown = Finding("unknown-task", "path.task_id", "task CmJ8DGePZioAAAAAAFIvOQ: no such task")
    result = verdict(entry(GET, headers={}, status=404, code=1203, refusal=unknown))
    assert result.errors == (unknown,)


@pytest.mark.parametrize("operation_id", CREATES)
@pytest.mark.parametrize("rule", ["auth-malformed", "auth-rejected", "scenario-header"])
def test_other_refusals_the_record_cannot_show_are_taken_from_the_answer(rule: str, operation_id: str) -> None:
    refusal = Finding(rule, "header.X", f"header.X: {rule}")
    path, body = CREATES[operation_id]
    result = verdict(entry(operation_id, path=path, body=body, status=400, code=1200, refusal=refusal))
    assert result.errors == (refusal,)


CROSS_FIELD_REFUSALS = {
    "session": "session_id",
    "face": "face_choose[0].face_id",
    "clip-length": "face_choose[0].sound_end_time",
    "clip-past-audio": "face_choose[0].sound_end_time",
    "audio": "face_choose[0].sound_file",
    "insert-past-video": "face_choose[0].sound_insert_time",
    "insert-outside-face": "face_choose[0].sound_insert_time",
    "external-task-id-taken": "external_task_id",
}


@pytest.mark.parametrize(("rule", "path"), CROSS_FIELD_REFUSALS.items(), ids=CROSS_FIELD_REFUSALS.keys())
def test_advanced_lip_sync_rules_across_fields_are_taken_from_the_answer(rule: str, path: str) -> None:
    """What they hold against (a session, an audio) is the state of the moment: the record cannot show it again,
    so the verdict believes the answer, as for an unknown task."""
    refusal = Finding(rule, path, f"{path}: broken")
    item = entry(ADVANCED, path=CREATES[ADVANCED][0], body=ADVANCED_BODY, status=400, code=1201, refusal=refusal)
    assert verdict(item).errors == (refusal,)


def test_a_content_type_refusal_is_worked_out_again_and_listed_once() -> None:
    refusal = refusal_of(check_media_type, "text/plain", operation(CREATE).media_types)
    item = entry(
        body={"input": AUDIO_URL_INPUT},
        headers={"content-type": "text/plain"},
        status=400,
        code=1200,
        refusal=refusal,
    )
    result = verdict(item)
    assert Counter(rules(result.errors)) == {"content-type": 1}
    assert result.errors[0].path == "header.Content-Type"


def test_a_missing_content_type_is_worked_out_from_the_headers() -> None:
    result = verdict(entry(body={"input": AUDIO_URL_INPUT}, headers={}, status=400, code=1200))
    assert rules(result.errors) == ["content-type"]


def test_body_not_json_is_worked_out_again_and_listed_once() -> None:
    raw = b'{"input": {"mode": '
    refusal = refusal_of(parse_json, raw, 32)
    result = verdict(entry(raw=raw, status=400, code=1200, refusal=refusal))
    assert Counter(rules(result.errors)) == {"body-not-json": 1}
    assert result.errors[0].path == "body"


def test_a_wrong_content_type_and_a_bad_body_are_both_listed() -> None:
    result = verdict(entry(raw=b"input=1", headers={"content-type": "application/x-www-form-urlencoded"}, status=400))
    assert rules(result.errors) == ["content-type", "body-not-json"]


def test_an_empty_body_is_not_json() -> None:
    result = verdict(entry(raw=b"  ", status=400, code=1200))
    assert rules(result.errors) == ["body-not-json"]


def test_a_body_nested_too_deep_is_worked_out_again() -> None:
    raw = b'{"input": ' + b"[" * 40 + b"]" * 40 + b"}"
    result = verdict(entry(raw=raw, status=400, code=1200))
    assert rules(result.errors) == ["body-too-deep"]


def test_a_refusal_the_record_contradicts_is_not_believed() -> None:
    """Worked out again means from the record: a stale content-type refusal on a clean record is dropped."""
    stale = Finding("content-type", "header.Content-Type", "Content-Type: must be application/json")
    assert verdict(entry(body={"input": AUDIO_URL_INPUT}, refusal=stale)).result == "clean"


# Scenarios' errors are the mock's doing, not the client's.


def test_a_scenario_injected_error_is_not_held_against_the_client() -> None:
    injected = Finding("scenario", "", "service temporarily unavailable (maintenance) (scenario)")
    item = entry(body={"input": AUDIO_URL_INPUT}, status=503, code=5001, refusal=injected, scenarios=("maint",))
    result = verdict(item)
    assert (result.result, result.errors, result.warnings) == ("clean", (), ())


def test_a_scenario_does_not_hide_the_clients_own_errors() -> None:
    injected = Finding("scenario", "", "requests too fast: rate limit (scenario)")
    item = entry(body={"input": {"mode": "audio2video"}}, status=429, code=1302, refusal=injected, scenarios=("rl",))
    result = verdict(item)
    assert "scenario" not in rules(result.errors)
    assert {f.path for f in result.errors} >= {"input", "input.audio_type"}


# Sizes, and paths the spec does not have.


def test_a_body_larger_than_the_limit_is_too_large_whatever_was_kept() -> None:
    limit = operation(CREATE).max_body_bytes
    refusal = Finding("body-too-large", "body", f"body: larger than the limit of {limit} bytes")
    for kept in (b"", b'{"input": {"video_url": "https://example.com/' + b"x" * 1000):
        result = verdict(entry(raw=kept, body_bytes=limit + 1, status=400, code=1200, refusal=refusal))
        assert rules(result.errors) == ["body-too-large"], kept[:20]
        assert str(limit) in result.errors[0].message


def test_a_body_at_the_limit_is_not_too_large() -> None:
    limit = operation(CREATE).max_body_bytes
    raw = orjson.dumps({"input": AUDIO_URL_INPUT})
    assert verdict(entry(raw=raw, body_bytes=limit)).errors == ()


def test_an_unknown_path_is_one_error_and_nothing_else() -> None:
    unknown = Finding("unknown-path", "path", "GET /kling/v1/videos/nope: no such resource")
    item = entry(None, method="GET", path="/kling/v1/videos/nope", query="x=1", status=404, code=1203, refusal=unknown)
    result = verdict(item)
    assert (result.errors, result.warnings) == ((unknown,), ())


def test_a_wrong_method_is_one_error() -> None:
    wrong = Finding("method", "method", "DELETE /kling/v1/videos/identify-face: method not allowed, use GET, POST")
    item = entry(None, method="DELETE", path=CREATE_PATH, status=404, code=1202, refusal=wrong)
    assert verdict(item).errors == (wrong,)
