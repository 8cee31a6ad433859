"""The contract's rules that a schema alone cannot say, as plain assertions.

Both the schemathesis checks (`checks.py`) and the hand-written tests (`test_rules.py`) apply
them, so each rule is written once. Each raises `AssertionError` with a message that says which
rule of CONTRACT.md the response broke.
"""

from __future__ import annotations

import json
import re
import time
from typing import Any

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


def _assert_id(name: str, value: Any) -> str:
    assert isinstance(value, str) and ID_PATTERN.fullmatch(value), (
        f"{name} must be 22 characters from A-Z a-z 0-9 _ -, got {value!r}"
    )
    return value


def timestamps(body: dict[str, Any], now_ms: int | None = None) -> None:
    """Task timestamps are integer milliseconds near the present, and `updated_at >= created_at`."""
    data = body.get("data")
    if not isinstance(data, dict) or "created_at" not in data:
        return
    now_ms = now_ms if now_ms is not None else time.time_ns() // 1_000_000
    for key in ("created_at", "updated_at"):
        value = data.get(key)
        assert isinstance(value, int) and not isinstance(value, bool), f"data.{key} must be an integer, got {value!r}"
        assert abs(value - now_ms) <= CLOCK_TOLERANCE_MS, (
            f"data.{key}={value} is not Unix milliseconds near the present ({now_ms}); seconds, or a stale clock?"
        )
    assert data["updated_at"] >= data["created_at"], (
        f"data.updated_at ({data['updated_at']}) is before data.created_at ({data['created_at']})"
    )
