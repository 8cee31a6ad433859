"""What the tests share: the repository's root, requests and answers, ports, and skipping what a machine lacks."""

from __future__ import annotations

import os
import socket
from pathlib import Path
from typing import Any, NoReturn

import pytest

# The repository, whose files (the specs, the fixtures, the docs, the Makefile) tests read.
ROOT = Path(__file__).resolve().parents[2]
CREATE_PATH = "/kling/v1/videos/identify-face"
# The same operation as the spec names it: the spec's paths are Kling's own, each also served under `/kling`.
SPEC_CREATE_PATH = "/v1/videos/identify-face"
TOKEN = "test-token-not-a-secret"
# The provider page's documented request; its lost `text` value is stood in for.
SEED_EXAMPLE: dict[str, Any] = {
    "input": {
        "video_id": "de1b86d9-8e40-4f1c-a6a5-6459f8eb42f2",
        "video_url": "https://xxxxxxx.mp4",
        "mode": "text2video",
        "text": "Hello from the documented example",
        "voice_id": "girlfriend_1_speech02",
        "voice_language": "zh",
    }
}
# A create call's conforming answer: ids of 22 characters, timestamps in milliseconds.
REQUEST_ID = "Bm9xQ2V4TDhqUkZsVWdBQQ"
TASK_ID = "CmJ8DGePZioAAAAAAFIvOQ"
CREATED_AT_MS = 1_795_533_775_231
CREATED_ANSWER: dict[str, Any] = {
    "code": 0,
    "message": "SUCCEED",
    "request_id": REQUEST_ID,
    "data": {"task_id": TASK_ID, "task_status": "submitted", "created_at": CREATED_AT_MS, "updated_at": CREATED_AT_MS},
}


def free_loopback_port() -> int:
    """A port on 127.0.0.1 that was free a moment ago: nothing listens on it, until something binds it."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def skip_or_fail(reason: str, in_ci: str, fix: str | None = None) -> NoReturn:
    """Skip the test for want of `reason` (saying `fix`, if given); in CI (`$CI` set), where it must run, fail it.

    `in_ci` says why CI must run it, and how CI provides what is missing.
    """
    if os.environ.get("CI"):
        pytest.fail(f"{reason}; {in_ci}")
    pytest.skip(reason if fix is None else f"{reason}: {fix}")
