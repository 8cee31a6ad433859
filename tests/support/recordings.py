"""Requests as the mock records them (`journal.Recording`), for the journals' unit tests."""

from __future__ import annotations

from functools import cache

from mock_server.core.errors import Finding
from mock_server.journal import JournalStore, Judge, Recording
from mock_server.spec import Spec, load_spec
from tests.support import CREATE_PATH

TOKEN = "sk-journal-secret-7e2b"
OWNER = "0" * 64
AT = 1_795_000_000_000
POLL_INTERVAL_MS = 1000


def recorded(
    path: str = CREATE_PATH,
    method: str = "POST",
    operation_id: str = "createIdentifyFaceTask",
    body: bytes = b'{"input": {"video_id": "v1", "mode": "text2video"}}',
    at: int = AT,
    owner: str = OWNER,
    query: str = "",
) -> Recording:
    """A refused request as the mock records it, its token in its Authorization header."""
    (operation,) = [operation for operation in _spec().operations if operation.operation_id == operation_id]
    headers = [(b"authorization", f"Bearer {TOKEN}".encode()), (b"content-type", b"application/json")]
    state = {
        "request_id": f"request-{at}-{path[-6:]}",
        "operation": operation,
        "owner": owner,
        "body": body,
        "business_code": 1201,
        "message": "input.text: required when mode is text2video",
        "refusal": Finding("required", "input.text", "input.text: required when mode is text2video"),
        "scenarios": ("slow",),
    }
    return Recording(method, path, query.encode(), headers, state, 400, at, 1.25)


def recorded_poll(task_id: str, at: int, owner: str = OWNER) -> Recording:
    return recorded(f"{CREATE_PATH}/{task_id}", "GET", "getIdentifyFaceTask", b"", at, owner)


@cache
def _spec() -> Spec:
    """The documented spec, loaded once: loading takes long enough (bundling, compiling) to outlast a poll's
    timing in Redis (`x-kling-min-poll-interval-ms`) between two recordings."""
    return load_spec()


@cache
def judge() -> Judge:
    return Judge(_spec())


def record(journal: JournalStore, recording: Recording) -> None:
    """`recording` kept by `journal` as the mock keeps it: judged, polls timed against POLL_INTERVAL_MS."""
    interval = POLL_INTERVAL_MS if recording.state["operation"].operation_id == "getIdentifyFaceTask" else None
    journal.record(recording, judge(), interval)
