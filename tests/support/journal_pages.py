"""Builders of admin API `JournalPage`s (openapi/admin.yaml), for tests of what reads the journal."""

from __future__ import annotations

from typing import Any

from tests.support import CREATE_PATH as CREATE


def finding(rule: str, path: str, message: str | None = None) -> dict[str, str]:
    return {"rule": rule, "path": path, "message": message or f"{path}: breaks {rule}"}


def entry(
    seq: int,
    errors: list[dict[str, str]] | None = None,
    warnings: list[dict[str, str]] | None = None,
    **overrides: Any,
) -> dict[str, Any]:
    """A `JournalEntry` with every field admin.yaml requires."""
    errors, warnings = errors or [], warnings or []
    body = '{"input": {"video_id": "v1", "mode": "text2video"}}'
    value: dict[str, Any] = {
        "seq": seq,
        "request_id": f"req-{seq:019d}",
        "at": 1_795_533_775_000 + seq,
        "duration_ms": 1.5,
        "method": "POST",
        "path": CREATE,
        "query": "",
        "operation": "createIdentifyFace",
        "caller": "0123456789ab",
        "headers": {
            "authorization": "<redacted>",
            "content-type": "application/json",
            "host": "127.0.0.1:8000",
        },
        "body": body,
        "body_bytes": len(body),
        "body_truncated": False,
        "response": {"status": 400, "code": 1201, "message": "; ".join(f["message"] for f in errors) or None}
        if errors
        else {"status": 200, "code": 0, "message": "SUCCEED"},
        "scenarios": [],
        "verdict": verdict(errors, warnings),
        "upstream": None,
    }
    value.update(overrides)
    return value


def verdict(errors: list[dict[str, str]], warnings: list[dict[str, str]] | None = None) -> dict[str, Any]:
    warnings = warnings or []
    return {"result": "error" if errors else "warning" if warnings else "clean", "errors": errors, "warnings": warnings}


def answer(
    errors: list[dict[str, str]] | None = None, warnings: list[dict[str, str]] | None = None, **overrides: Any
) -> dict[str, Any]:
    """An `UpstreamAnswer`: what a proxy's upstream answered, with its verdict."""
    value: dict[str, Any] = {
        "status": 200,
        "headers": {"content-type": "text/plain"},
        "body": "OK, created",
        "body_bytes": 11,
        "body_truncated": False,
        "error": None,
        "verdict": verdict(errors or [], warnings),
    }
    value.update(overrides)
    return value


def page(*entries: dict[str, Any], dropped: int = 0, capacity: int = 1000, total: int | None = None) -> dict[str, Any]:
    """A `JournalPage`."""
    return {
        "entries": list(entries),
        "total": len(entries) if total is None else total,
        "recorded": len(entries) + dropped,
        "dropped": dropped,
        "capacity": capacity,
    }
