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
