"""What a video holds, chosen by the client through its input.

A fake backend is only useful if a client can make it fail on purpose. Markers in `video_url` or `video_id`
decide what a video holds (docs/outcomes.md has the table); everything else holds one face. A video is known by
its `video_reference`: all of an input that decides its outcome, which is what a task keeps of it.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from typing import Any

_FACES = re.compile(r"faces-([1-9])")
_FAILURES = {
    "no-face": "no face was found in the video",
    "too-long": "the video is longer than the 60 seconds identify-face accepts",
    "unreachable": "the video could not be downloaded",
}


@dataclass(frozen=True)
class VideoContent:
    """What a video holds: why it cannot be used (`problem`), or how many faces it shows."""

    problem: str | None = None
    face_count: int = 0


@functools.lru_cache(maxsize=1024)
def content_of(video: str) -> VideoContent:
    """What the video (a `video_reference`) holds: its markers decide. Cached: a polled task asks at each poll."""
    reference = video.lower()
    for marker, problem in _FAILURES.items():
        if marker in reference:
            return VideoContent(problem=problem)
    match = _FACES.search(reference)
    return VideoContent(face_count=int(match.group(1)) if match else 1)


def video_reference(fields: dict[str, Any]) -> str:
    """All of an input that decides what its video holds: the `video_url` and `video_id` it names."""
    return f"{fields.get('video_url') or ''}|{fields.get('video_id') or ''}"
