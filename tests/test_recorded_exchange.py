"""The recorded exchanges of `fixtures/exchanges/` keep the spec and stay what the seeded mock answers.

A recorded conversation is only worth sharing if it is right and current: right, so every recorded
response validates against the spec's schema for its operation and status; current, so replaying
it against a fresh mock started with the recording's `--seed` gives exactly the recorded answers
(timestamps aside, which are the recording run's wall clock). The second check is what proves that
`--seed` keeps fixtures valid.
"""

from __future__ import annotations

import importlib.util
import json
import re
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import jsonschema_rs
import pytest

from mock_server.process import MockProcess

# The spec-resolving helpers of the request and response fixtures, reused rather than copied.
from .test_fixtures import FIXTURES, _escape, _reference_validator, _request_schema_pointer, _spec

EXCHANGES = FIXTURES / "exchanges"
# Keys whose values are the recording run's clock: recorded, never compared.
TIMESTAMP_KEYS = frozenset({"created_at", "updated_at"})
NOT_COMPARED = "<timestamp, not compared>"

# The file format of fixtures/README.md, as a schema: a malformed file fails here, readably.
_EXCHANGE_FORMAT: dict[str, Any] = {
    "type": "array",
    "minItems": 2,
    "items": {
        "type": "object",
        "required": ["request", "response"],
        "additionalProperties": False,
        "properties": {
            "request": {
                "type": "object",
                "required": ["method", "path"],
                "additionalProperties": False,
                "properties": {
                    "method": {"enum": ["GET", "POST"]},
                    "path": {"type": "string", "pattern": "^/"},
                    "body": {"type": "object"},
                },
            },
            "response": {
                "type": "object",
                "required": ["status", "body"],
                "additionalProperties": False,
                "properties": {
                    "status": {"type": "integer", "minimum": 200, "maximum": 599},
                    "body": {"type": "object"},
                },
            },
        },
    },
}


@cache
def _recorder() -> ModuleType:
    """`fixtures/record_exchange.py`, the one place that says how the exchanges are recorded.

    Loaded from its file (fixtures/ is no package) so that the seed, the token and the requests
    the replay uses are the recording's own, not a copy that could drift.
    """
    spec = importlib.util.spec_from_file_location("record_exchange", FIXTURES / "record_exchange.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _exchange_files() -> list[Path]:
    return sorted(EXCHANGES.glob("*.json"))


def _read(path: Path) -> list[dict[str, Any]]:
    data = json.loads(path.read_text(encoding="utf-8"))
    jsonschema_rs.Draft202012Validator(_EXCHANGE_FORMAT).validate(data)
    steps: list[dict[str, Any]] = data
    return steps


FILES = _exchange_files()
FILE_IDS = [path.stem for path in FILES]


def _operation_path(method: str, path: str) -> str:
    """The spec's path template that `method path` is an operation of, e.g. `.../{task_id}` for a poll."""
    for template, item in _spec().document["paths"].items():
        literal_parts = re.split(r"\{[^/}]+\}", template)
        pattern = "[^/]+".join(re.escape(part) for part in literal_parts)
        if method.lower() in item and re.fullmatch(pattern, path):
            return str(template)
    raise AssertionError(f"{method} {path} is no operation of the spec")


def _response_schema_pointer(template: str, method: str, status: int) -> str:
    """The JSON pointer to the schema of one operation's response with this status.

    As `test_fixtures._response_schema_pointer` does for the create call, but for any operation: an
    OpenAPI `$ref` to `components.responses` is followed here, JSON Schema `$ref`s by the validator.
    """
    responses = _spec().document["paths"][template][method.lower()]["responses"]
    assert str(status) in responses, f"the spec declares no {status} response for {method} {template}"
    pointer = f"/paths/{_escape(template)}/{method.lower()}/responses/{status}"
    response = responses[str(status)]
    if "$ref" in response:
        ref = str(response["$ref"])
        assert ref.startswith("#/"), f"only local references are expected, got {ref}"
        pointer = ref[1:]
    return f"{pointer}/content/{_escape('application/json')}/schema"


def _schema_errors(method: str, path: str, status: int, body: Any) -> list[str]:
    pointer = _response_schema_pointer(_operation_path(method, path), method, status)
    return [f"{list(e.absolute_path)}: {e.message}" for e in _reference_validator(pointer).iter_errors(body)]


def _without_timestamps(value: Any) -> Any:
    """`value` with every timestamp replaced by one marker: what is compared between runs."""
    if isinstance(value, dict):
        return {k: NOT_COMPARED if k in TIMESTAMP_KEYS else _without_timestamps(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_without_timestamps(item) for item in value]
    return value


# --- the files ---------------------------------------------------------------------------------------


def test_every_recorder_exchange_is_recorded_and_current() -> None:
    """The files are the recorder's exchanges, from the requests it sends today: none missing, none stale."""
    expected: dict[str, dict[str, Any]] = _recorder().exchange_requests()
    assert {path.stem for path in FILES} == set(expected), "run `python fixtures/record_exchange.py`"
    for path in FILES:
        create = _read(path)[0]["request"]
        assert create == {"method": "POST", "path": "/kling/v1/videos/identify-face", "body": expected[path.stem]}, (
            f"{path.name} was recorded from another request: run `python fixtures/record_exchange.py`"
        )


def test_the_documented_exchange_sends_the_spec_example() -> None:
    """Read from the spec itself, not through the recorder, so that a recorder bug cannot hide here."""
    operation = _spec().document["paths"]["/kling/v1/videos/identify-face"]["post"]
    example = operation["requestBody"]["content"]["application/json"]["examples"]["seedDocumented"]["value"]
    assert _read(EXCHANGES / "seed_documented.json")[0]["request"]["body"] == example


@pytest.mark.parametrize(
    ("name", "final_status", "faces"),
    [("seed_documented", "succeed", 1), ("faces_3", "succeed", 3), ("no_face", "failed", 0)],
)
def test_exchange_is_a_create_poll_result_loop(name: str, final_status: str, faces: int) -> None:
    steps = _read(EXCHANGES / f"{name}.json")
    task_id = steps[0]["response"]["body"]["data"]["task_id"]
    assert all(
        step["request"] == {"method": "GET", "path": f"/kling/v1/videos/identify-face/{task_id}"} for step in steps[1:]
    )
    statuses = [step["response"]["body"]["data"]["task_status"] for step in steps]
    assert statuses == ["submitted", "processing", final_status]
    final = steps[-1]["response"]["body"]["data"]
    if final_status == "succeed":
        assert len(final["task_result"]["face_data"]) == faces
    else:
        assert "no face" in final["task_status_msg"]


@pytest.mark.parametrize("path", FILES, ids=FILE_IDS)
def test_recorded_responses_match_the_spec(path: Path) -> None:
    for index, step in enumerate(_read(path)):
        request, response = step["request"], step["response"]
        errors = _schema_errors(request["method"], request["path"], response["status"], response["body"])
        assert not errors, f"step {index}, {request['method']} {request['path']}: {errors}"


@pytest.mark.parametrize("path", FILES, ids=FILE_IDS)
def test_recorded_create_requests_match_the_spec(path: Path) -> None:
    validator = _reference_validator(_request_schema_pointer())
    for step in _read(path):
        if "body" in step["request"]:
            assert not [e.message for e in validator.iter_errors(step["request"]["body"])]


# --- the files against a fresh seeded mock ---------------------------------------------------------


@pytest.mark.parametrize("path", FILES, ids=FILE_IDS)
def test_replay_against_a_fresh_seeded_mock_gives_the_recorded_answers(path: Path) -> None:
    recorder = _recorder()
    steps = _read(path)
    headers = {"Authorization": f"Bearer {recorder.TOKEN}"}
    with (
        MockProcess(*recorder.SERVE_ARGS) as mock,
        httpx.Client(base_url=mock.base_url, headers=headers, timeout=30) as http,
    ):
        for index, step in enumerate(steps):
            request, recorded = step["request"], step["response"]
            response = http.request(request["method"], request["path"], json=request.get("body"))
            replayed = response.json()
            assert response.status_code == recorded["status"], f"step {index}: {replayed}"
            assert _without_timestamps(replayed) == _without_timestamps(recorded["body"]), f"step {index} differs"
            errors = _schema_errors(request["method"], request["path"], response.status_code, replayed)
            assert not errors, f"step {index}: the replayed answer breaks the spec: {errors}"
