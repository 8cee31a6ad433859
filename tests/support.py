"""Values the end-to-end tests share."""

from __future__ import annotations

from typing import Any

CREATE_PATH = "/kling/v1/videos/identify-face"
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
