"""The contract's rules that a schema alone cannot say, as plain assertions.

Both the schemathesis checks (`checks.py`) and the hand-written tests (`test_rules.py`) apply
them, so each rule is written once. Each raises `AssertionError` with a message that says which
rule of the contract (docs/contract.md) the response broke.
"""

from __future__ import annotations

import json
import re
import time
from typing import Any

import requests

ID_PATTERN = re.compile(r"[A-Za-z0-9_-]{22}")
# How far a server's clock may be from ours before its timestamps count as wrong.
CLOCK_TOLERANCE_MS = 10 * 60 * 1000


def envelope(status: int, content_type: str, content: bytes, status_by_code: dict[int, int]) -> dict[str, Any]:
    """Every response is a JSON envelope whose business code agrees with its HTTP status.

    Returns the parsed body for further checks.
    """
    assert content_type.split(";")[0].strip().lower() == "application/json", (
        f"every response must be JSON, got Content-Type {content_type!r} with HTTP {status}"
    )
    try:
        body = json.loads(content)
    except ValueError as exc:
        raise AssertionError(f"HTTP {status}: the body is not valid JSON ({exc})") from None
    assert isinstance(body, dict), f"HTTP {status}: the body must be a JSON object, got {type(body).__name__}"
    for key in ("code", "message", "request_id"):
        assert key in body, f"HTTP {status}: the envelope has no {key!r}"
    code = body["code"]
    if status == 200:
        assert code == 0, f"HTTP 200 must carry code 0, got {code!r}"
        assert body["message"] == "SUCCEED", f"HTTP 200 must carry message 'SUCCEED', got {body['message']!r}"
    else:
        assert code != 0, f"code 0 (success) came with HTTP {status}"
        expected = status_by_code.get(code)
        assert expected is not None, f"HTTP {status} carries business code {code!r}, which is not in Kling's table"
        assert expected == status, f"business code {code} must be sent with HTTP {expected}, got HTTP {status}"
        assert isinstance(body["message"], str) and body["message"].strip(), "an error must have a message"
    return body


def envelope_of(response: requests.Response, status_by_code: dict[int, int]) -> dict[str, Any]:
    """`envelope` for a response of the `requests` library, which the hand-written tests use."""
    content_type = response.headers.get("content-type", "")
    return envelope(response.status_code, content_type, response.content, status_by_code)


class IdRegistry:
    """Remembers every id a target has answered, to catch one that comes back."""

    def __init__(self) -> None:
        self._request_ids: set[str] = set()
        self._task_ids: set[str] = set()

    def fresh(self, body: dict[str, Any], created_task: bool) -> None:
        request_id = _assert_id("request_id", body.get("request_id"))
        assert request_id not in self._request_ids, f"request_id {request_id!r} was already answered before"
        self._request_ids.add(request_id)
        if created_task:
            task_id = _assert_id("data.task_id", body.get("data", {}).get("task_id"))
            assert task_id not in self._task_ids, f"task_id {task_id!r} was given to an earlier task"
            self._task_ids.add(task_id)


# One for the whole run: an id the hand-written tests saw must not come back in a schemathesis case either.
ANSWERED_IDS = IdRegistry()


def _assert_id(name: str, value: Any) -> str:
    assert isinstance(value, str) and ID_PATTERN.fullmatch(value), (
        f"{name} must be 22 characters from A-Z a-z 0-9 _ -, got {value!r}"
    )
    return value


def tasks_in(body: dict[str, Any]) -> list[dict[str, Any]]:
    """The tasks a success carries: one for a create or a query, a page of them for a list."""
    data = body.get("data")
    candidates = data if isinstance(data, list) else [data]
    return [task for task in candidates if isinstance(task, dict) and "task_id" in task]


def timestamps(body: dict[str, Any], now_ms: int | None = None, recent: bool = True) -> None:
    """Task timestamps are integer milliseconds, `updated_at >= created_at`, and, for a task just
    created (`recent`), near the present."""
    now_ms = now_ms if now_ms is not None else time.time_ns() // 1_000_000
    for task in tasks_in(body):
        for key in ("created_at", "updated_at"):
            value = task.get(key)
            assert isinstance(value, int) and not isinstance(value, bool), f"{key} must be an integer, got {value!r}"
            assert not recent or abs(value - now_ms) <= CLOCK_TOLERANCE_MS, (
                f"{key}={value} is not Unix milliseconds near the present ({now_ms}); seconds, or a stale clock?"
            )
        assert task["updated_at"] >= task["created_at"], (
            f"task {task['task_id']}: updated_at ({task['updated_at']}) is before created_at ({task['created_at']})"
        )


def faces(body: dict[str, Any]) -> None:
    """Every face of a succeeded task appears before it disappears: `start_time <= end_time`."""
    for task in tasks_in(body):
        for face in (task.get("task_result") or {}).get("face_data") or []:
            start, end = face.get("start_time"), face.get("end_time")
            if isinstance(start, int) and isinstance(end, int):
                assert start <= end, (
                    f"task {task['task_id']} face {face.get('face_id')}: start_time {start} > end_time {end}"
                )


_STATUS_RANK = {"submitted": 0, "processing": 1, "succeed": 2, "failed": 2}


class TaskHistory:
    """Remembers each task as last seen, to catch one that moves backward."""

    def __init__(self) -> None:
        self._last: dict[str, dict[str, Any]] = {}

    def observe(self, body: dict[str, Any]) -> None:
        for task in tasks_in(body):
            before = self._last.get(task["task_id"])
            self._last[task["task_id"]] = task
            if before is None:
                continue
            old, new = before.get("task_status"), task.get("task_status")
            assert _STATUS_RANK.get(str(new), -1) >= _STATUS_RANK.get(str(old), -1), (
                f"task {task['task_id']} moved backward, from {old} to {new}"
            )
            assert not (old in ("succeed", "failed") and new != old), (
                f"task {task['task_id']} finished as {old}, then became {new}"
            )
            assert task.get("created_at") == before.get("created_at"), f"task {task['task_id']}: created_at changed"
            assert task.get("updated_at", 0) >= before.get("updated_at", 0), (
                f"task {task['task_id']}: updated_at went back in time"
            )
