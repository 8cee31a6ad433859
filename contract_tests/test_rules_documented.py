"""The documented dialect's own rules (docs/contract.md, "Create an identify-face task" and "Following a task"):
each field, tasks and their owners."""

from __future__ import annotations

import time
from typing import Any

import pytest

from . import rules
from .calls import create, create_path, primary, send, target
from .transport import SuiteSession

# One task followed to its end: polls at the spec's own pace, and at most this many of them.
_MAX_POLLS = 60

if not target.documented:
    pytest.skip("rules of the documented dialect", allow_module_level=True)


def test_a_broken_field_rule_is_400_1201_naming_the_field(http: SuiteSession) -> None:
    request = {"input": {**primary["input"], "mode": "sing"}}
    status, body = create(http, request, refused=True)
    assert (status, body["code"]) == (400, 1201), body
    assert "input.mode" in body["message"], f"the message must name the field path: {body['message']!r}"


_INPUT_SCHEMA: dict[str, Any] = target.spec.document["components"]["schemas"]["TaskInput"]["properties"]
_SEED_INPUT: dict[str, Any] = primary["input"]
_SPEED, _TEXT = _INPUT_SCHEMA["voice_speed"], _INPUT_SCHEMA["text"]


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("voice_speed", _SPEED["minimum"]),
        ("voice_speed", _SPEED["maximum"]),
        ("text", "x" * _TEXT["minLength"]),
        ("text", "x" * _TEXT["maxLength"]),
    ],
    ids=["voice_speed-min", "voice_speed-max", "text-min", "text-max"],
)
def test_field_bounds_are_accepted(http: SuiteSession, field: str, value: Any) -> None:
    """Each bound of a field is valid input: it must succeed, never 400 nor 5xx."""
    status, body = create(http, {"input": {**_SEED_INPUT, field: value}})
    assert status == 200, body


def _without(*keys: str) -> dict[str, Any]:
    return {key: value for key, value in _SEED_INPUT.items() if key not in keys}


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("input.voice_speed", {**_SEED_INPUT, "voice_speed": _SPEED["minimum"] - 0.01}),
        ("input.voice_speed", {**_SEED_INPUT, "voice_speed": _SPEED["maximum"] + 0.01}),
        ("input.text", {**_SEED_INPUT, "text": ""}),
        ("input.text", {**_SEED_INPUT, "text": "x" * (_TEXT["maxLength"] + 1)}),
        ("input.voice_language", {**_SEED_INPUT, "voice_language": "fr"}),
        ("input", _without("video_id", "video_url")),
        ("input", {**_without("video_url"), "video_id": ""}),
        ("input.text", _without("text")),
        ("input.audio_type", {**_without("text", "voice_id"), "mode": "audio2video"}),
        ("input.audio_file", {**_without("text", "voice_id"), "mode": "audio2video", "audio_type": "file"}),
        ("input.audio_url", {**_without("text", "voice_id"), "mode": "audio2video", "audio_type": "url"}),
    ],
    ids=[
        "voice_speed-below-min",
        "voice_speed-above-max",
        "text-empty",
        "text-too-long",
        "voice_language-not-in-enum",
        "no-video",
        "video_id-empty",
        "text2video-without-text",
        "audio2video-without-audio_type",
        "file-without-audio_file",
        "url-without-audio_url",
    ],
)
def test_each_field_rule_is_400_1201(http: SuiteSession, field: str, value: dict[str, Any]) -> None:
    """Every field rule of the create call, broken alone on the documented example, is 400/1201 naming it."""
    status, body = create(http, {"input": value}, refused=True)
    assert (status, body["code"]) == (400, 1201), body
    assert field in body["message"], f"the message must name {field}: {body['message']!r}"


def test_query_of_an_unknown_task_is_404_1203(http: SuiteSession) -> None:
    status, body = send(http, "GET", f"{create_path}/kling-mock-contract-no-such-task", headers=target.auth_headers)
    assert (status, body["code"]) == (404, 1203), body


def test_another_callers_task_is_404_1203_and_never_listed(http: SuiteSession) -> None:
    """docs/contract.md, "Following a task": a task belongs to the caller that created it."""
    if not target.second_token:
        pytest.skip("set KLING_API_KEY_2 to a second caller's key to test ownership")
    status, body = create(http, primary)
    assert status == 200, body
    task_id = body["data"]["task_id"]
    other = {"Authorization": f"Bearer {target.second_token}"}
    status, body = send(http, "GET", f"{create_path}/{task_id}", headers=other)
    assert (status, body["code"]) == (404, 1203), f"another caller could read task {task_id}: {body}"
    status, body = send(http, "GET", create_path, headers=other, params={"pageSize": 500})
    assert status == 200, body
    assert task_id not in [task["task_id"] for task in body["data"]], f"another caller sees task {task_id} listed"


def test_a_task_moves_only_forward_to_its_end(http: SuiteSession) -> None:
    """docs/contract.md, "Following a task", on one task, for a billable call: the lifecycle machines' work when
    the budget is small. A task still running after the last poll is no failure: the provider may be slow."""
    status, body = create(http, primary)
    assert status == 200, body
    task_id = body["data"]["task_id"]
    history = rules.TaskHistory()
    history.observe(body)
    operation = next(op for op in target.spec.operations if op.path.endswith("{task_id}"))
    interval_s = (operation.min_poll_interval_ms or 1000) / 1000
    for _ in range(_MAX_POLLS):
        time.sleep(interval_s)
        status, body = send(http, "GET", f"{create_path}/{task_id}", headers=target.auth_headers)
        assert status == 200, body
        history.observe(body)
        rules.timestamps(body, recent=False)
        rules.faces(body)
        task = body["data"]
        if task["task_status"] == "failed":
            assert task.get("task_status_msg"), f"failed task {task_id} has no task_status_msg"
            return
        if task["task_status"] == "succeed":
            assert task.get("task_result", {}).get("face_data"), f"succeeded task {task_id} has no face_data"
            return
