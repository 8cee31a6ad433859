"""The contract's rules tested one by one, with requests written by hand.

Generated cases explore; these pin down what CONTRACT.md says outright: the documented example
succeeds, auth failures carry their codes, a wrong method is 404/1202, malformed bodies are 1200.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests

from mock_server.spec import HTTP_METHODS

from . import rules
from .target import current

_target = current()
_spec = _target.spec
_create = _target.create
_examples = _target.request_examples
_ids = rules.IdRegistry()
_JSON = {"Content-Type": "application/json"}


@pytest.fixture(scope="module")
def http() -> Iterator[requests.Session]:
    with requests.Session() as session:
        yield session


def _send(http: requests.Session, method: str, path: str, **kwargs: Any) -> tuple[int, dict[str, Any]]:
    response = http.request(method, _target.url(path), timeout=30, **kwargs)
    body = rules.envelope_of(response, _spec.status_by_code)
    _ids.fresh(body, created_task=response.status_code == 200 and method == "POST")
    return response.status_code, body


def _create_task(http: requests.Session, body: Any = None, headers: dict[str, str] | None = None, **kw: Any) -> Any:
    if headers is None:
        headers = {**_target.auth_headers, **_JSON}
    return _send(http, "POST", _create.path, headers=headers, json=body, **kw)


def test_documented_example_succeeds(http: requests.Session) -> None:
    """The provider page's own example must succeed, and twice gives two tasks."""
    seen = set()
    for _ in range(2):
        status, body = _create_task(http, _examples["seedDocumented"])
        assert (status, body["code"], body["message"]) == (200, 0, "SUCCEED"), body
        assert body["data"]["task_status"] == "submitted"
        rules.timestamps(body, recent=True)
        seen.add(body["data"]["task_id"])
    assert len(seen) == 2


@pytest.mark.parametrize("name", sorted(_examples))
def test_every_documented_request_example_succeeds(http: requests.Session, name: str) -> None:
    status, body = _create_task(http, _examples[name])
    assert status == 200, body


@pytest.mark.parametrize("header", [None, ""], ids=["absent", "empty"])
def test_missing_authorization_is_401_1001(http: requests.Session, header: str | None) -> None:
    headers = dict(_JSON) if header is None else {**_JSON, "Authorization": header}
    status, body = _create_task(http, _examples["seedDocumented"], headers=headers)
    assert (status, body["code"]) == (401, 1001), body


@pytest.mark.parametrize("header", ["Basic dXNlcjpwYXNz", "Bearer", "bare-token-without-scheme", "Bearer a b"])
def test_malformed_authorization_is_401_1002(http: requests.Session, header: str) -> None:
    status, body = _create_task(http, _examples["seedDocumented"], headers={**_JSON, "Authorization": header})
    assert (status, body["code"]) == (401, 1002), body


def test_unknown_key_is_401_1000(http: requests.Session) -> None:
    if not _target.checks_keys:
        pytest.skip("the target accepts any non-empty token (--contract-any-token)")
    headers = {**_JSON, "Authorization": "Bearer kling-mock-contract-unknown-key"}
    status, body = _create_task(http, _examples["seedDocumented"], headers=headers)
    assert (status, body["code"]) == (401, 1000), body


@pytest.mark.parametrize(
    "method",
    [
        m.upper()
        for m in HTTP_METHODS
        if m not in ("head", "options", "trace") and m not in _spec.document["paths"][_create.path]
    ],
)
def test_wrong_method_is_404_1202(http: requests.Session, method: str) -> None:
    """Kling answers a method a known path does not have with 404/1202, not 405."""
    status, body = _send(http, method, _create.path, headers=_target.auth_headers)
    assert (status, body["code"]) == (404, 1202), body


def test_unknown_path_is_404_1203(http: requests.Session) -> None:
    status, body = _send(
        http, "POST", _create.path + "-that-does-not-exist", headers={**_target.auth_headers, **_JSON}, json={}
    )
    assert (status, body["code"]) == (404, 1203), body


@pytest.mark.parametrize(
    "raw", [b"{not json", b"", b"[1, 2]", b'"a string"', b"42"], ids=["broken", "empty", "array", "string", "number"]
)
def test_body_not_a_json_object_is_400_1200(http: requests.Session, raw: bytes) -> None:
    status, body = _create_task(http, headers={**_target.auth_headers, **_JSON}, data=raw)
    assert (status, body["code"]) == (400, 1200), body


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", "application/xml"])
def test_wrong_content_type_is_400_1200(http: requests.Session, content_type: str) -> None:
    headers = {**_target.auth_headers, "Content-Type": content_type}
    status, body = _send(http, "POST", _create.path, headers=headers, data=b'{"input": {}}')
    assert (status, body["code"]) == (400, 1200), body


def test_a_broken_field_rule_is_400_1201_naming_the_field(http: requests.Session) -> None:
    request = {"input": {**_examples["seedDocumented"]["input"], "mode": "sing"}}
    status, body = _create_task(http, request)
    assert (status, body["code"]) == (400, 1201), body
    assert "input.mode" in body["message"], f"the message must name the field path: {body['message']!r}"


def test_content_type_with_charset_is_accepted(http: requests.Session) -> None:
    """CONTRACT.md section 1: `application/json; charset=utf-8` is fine."""
    headers = {**_target.auth_headers, "Content-Type": "application/json; charset=utf-8"}
    status, body = _send(http, "POST", _create.path, headers=headers, json=_examples["seedDocumented"])
    assert status == 200, body


def test_body_too_large_is_400_1200(http: requests.Session) -> None:
    """A body over the spec's `x-kling-max-body-bytes` is an invalid request, not a 413."""
    padding = b"a" * _create.max_body_bytes
    status, body = _create_task(http, headers={**_target.auth_headers, **_JSON}, data=b'{"pad": "' + padding + b'"}')
    assert (status, body["code"]) == (400, 1200), body


_INPUT_SCHEMA: dict[str, Any] = _spec.document["components"]["schemas"]["TaskInput"]["properties"]
_SEED_INPUT: dict[str, Any] = _examples["seedDocumented"]["input"]
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
def test_field_bounds_are_accepted(http: requests.Session, field: str, value: Any) -> None:
    """Each bound of a field is valid input: it must succeed, never 400 nor 5xx."""
    status, body = _create_task(http, {"input": {**_SEED_INPUT, field: value}})
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
def test_each_field_rule_is_400_1201(http: requests.Session, field: str, value: dict[str, Any]) -> None:
    """Every field rule of CONTRACT.md section 1, broken alone on the documented example, is 400/1201 naming it."""
    status, body = _create_task(http, {"input": value})
    assert (status, body["code"]) == (400, 1201), body
    assert field in body["message"], f"the message must name {field}: {body['message']!r}"


def test_query_of_an_unknown_task_is_404_1203(http: requests.Session) -> None:
    status, body = _send(http, "GET", f"{_create.path}/kling-mock-contract-no-such-task", headers=_target.auth_headers)
    assert (status, body["code"]) == (404, 1203), body


def test_another_callers_task_is_404_1203_and_never_listed(http: requests.Session) -> None:
    """CONTRACT.md section 3: a task belongs to the caller that created it."""
    if not _target.second_token:
        pytest.skip("set KLING_API_KEY_2 to a second caller's key to test ownership")
    status, body = _create_task(http, _examples["seedDocumented"])
    assert status == 200, body
    task_id = body["data"]["task_id"]
    other = {"Authorization": f"Bearer {_target.second_token}"}
    status, body = _send(http, "GET", f"{_create.path}/{task_id}", headers=other)
    assert (status, body["code"]) == (404, 1203), f"another caller could read task {task_id}: {body}"
    status, body = _send(http, "GET", _create.path, headers=other, params={"pageSize": 500})
    assert status == 200, body
    assert task_id not in [task["task_id"] for task in body["data"]], f"another caller sees task {task_id} listed"
