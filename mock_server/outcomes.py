"""What identify-face finds in a video, chosen by the client through its input.

A fake backend is only useful if a client can make it fail on purpose. Markers in `video_url`
or `video_id` pick the outcome (see the README's table); everything else finds one face. The
face data is derived from the input, so the same request always finds the same faces. The
input is a task's `input` in the documented dialect, the body itself in the upstream one: both
name the video with the same two fields.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import re
from dataclasses import dataclass
from typing import Any

FACE_IMAGE_BASE = "https://cdn.kling-mock.invalid/faces"
_FACES = re.compile(r"faces-([1-9])")
_FAILURES = {
    "no-face": "no face was found in the video",
    "too-long": "the video is longer than the 60 seconds identify-face accepts",
    "unreachable": "the video could not be downloaded",
}


@dataclass(frozen=True)
class Outcome:
    succeeded: bool
    message: str | None = None
    face_count: int = 0


@functools.lru_cache(maxsize=1024)
def outcome_for(video: str) -> Outcome:
    """What the video (a `video_reference`) holds: its markers decide. Cached: a polled task asks at each poll."""
    reference = video.lower()
    for marker, message in _FAILURES.items():
        if marker in reference:
            return Outcome(succeeded=False, message=message)
    match = _FACES.search(reference)
    return Outcome(succeeded=True, face_count=int(match.group(1)) if match else 1)


def video_reference(task_input: dict[str, Any]) -> str:
    """All of an input that decides its outcome: a task keeps this, not its whole input (memory)."""
    return f"{task_input.get('video_url') or ''}|{task_input.get('video_id') or ''}"


def task_result(run_id: str, reference: str, face_count: int) -> dict[str, Any]:
    """Faces with times in milliseconds, `start_time <= end_time`, the same for the same video
    (a `video_reference`). `run_id` (the task's id, or a fresh id for a synchronous call) gives each
    run its own session.
    """
    session_id = _digest(f"{run_id}|{reference}")[:22]
    faces = []
    for index in range(face_count):
        seed = int.from_bytes(hashlib.sha256(f"{reference}#{index}".encode()).digest()[:8], "big")
        start = (seed % 20) * 500
        faces.append(
            {
                "face_id": str(index),
                "face_image": f"{FACE_IMAGE_BASE}/{session_id}/{index}.png",
                "start_time": start,
                "end_time": start + 1000 + (seed >> 8) % 30 * 200,
            }
        )
    return {"session_id": session_id, "face_data": faces}


def _digest(text: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).decode().rstrip("=")


# A finished task's result, the same at every poll (and an `Outcome` is immutable): made once, while it is
# polled. Shared between answers, so never changed in place.
finished_result = functools.lru_cache(maxsize=1024)(task_result)
