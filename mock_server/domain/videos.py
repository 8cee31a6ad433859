"""What a video (or an audio) holds, chosen by the client through its input.

A fake backend is only useful if a client can make it fail on purpose. Markers in `video_url` or `video_id`
decide what a video holds (docs/outcomes.md has the table): faces, a failure, its length; everything else holds
one face and lasts 10 seconds (5 or 10 for a video Kling made, given by its id). A video is known by its
`video_reference`: all of an input that decides its outcome, which is what a task keeps of it. Audio URLs carry
their length the same way (`voice-7.5s.mp3`).
"""

from __future__ import annotations

import functools
import hashlib
import re
from dataclasses import dataclass
from typing import Any

_FACES = re.compile(r"faces-([1-9])")
# A length marker: `-12s` or `_7.5s` before an extension, a separator or the end (`talk-12s.mp4`, `clip_7.5s`).
_LENGTH = re.compile(r"(?<=[-_/])([0-9]{1,4}(?:\.[0-9]{1,3})?)s(?=[._/|-]|$)")
_FAILURES = {
    "no-face": "no face was found in the video",
    "too-long": "the video is longer than the 60 seconds identify-face accepts",
    "unreachable": "the video could not be downloaded",
}
# Identify-face's bounds on a video: 60 s at most, and long enough for a face's window of 2 s.
LONGEST_VIDEO_MS = 60_000
SHORTEST_VIDEO_MS = 2_000
# A face's window lasts at least this long: a shorter one could never take a lip-sync (docs/contract.md).
SHORTEST_WINDOW_MS = 2_000
# A video of unknown length (a URL without a marker) lasts this long; one Kling made lasts 5 or 10 s.
DEFAULT_VIDEO_MS = 10_000
_KLING_VIDEO_MS = (5_000, 10_000)


@dataclass(frozen=True)
class VideoContent:
    """What a video holds: why it cannot be used (`problem`), or its faces and its length."""

    problem: str | None = None
    face_count: int = 0
    duration_ms: int = DEFAULT_VIDEO_MS


@functools.lru_cache(maxsize=1024)
def content_of(video: str) -> VideoContent:
    """What the video (a `video_reference`) holds: its markers decide. Cached: a polled task asks at each poll."""
    reference = video.lower()
    for marker, problem in _FAILURES.items():
        if marker in reference:
            return VideoContent(problem=problem)
    duration_ms = video_ms(video)
    if duration_ms > LONGEST_VIDEO_MS:
        return VideoContent(problem=_FAILURES["too-long"])
    if duration_ms < SHORTEST_VIDEO_MS:
        return VideoContent(problem="the video is shorter than the 2 seconds a face's window needs")
    match = _FACES.search(reference)
    return VideoContent(face_count=int(match.group(1)) if match else 1, duration_ms=duration_ms)


def video_ms(video: str) -> int:
    """A video's length in milliseconds: its marker's, else 5 or 10 s for a video Kling made, else 10 s."""
    found = length_marker(video)
    if found is not None:
        return found
    url, _, video_id = video.partition("|")
    if video_id and not url:
        return _KLING_VIDEO_MS[hashlib.sha256(video_id.encode()).digest()[0] % 2]
    return DEFAULT_VIDEO_MS


def length_marker(text: str) -> int | None:
    """The length a marker in `text` gives (`-12s`, `_7.5s`), in milliseconds, or None."""
    match = _LENGTH.search(text.lower())
    return None if match is None else round(float(match.group(1)) * 1000)


def video_reference(fields: dict[str, Any]) -> str:
    """All of an input that decides what its video holds: the `video_url` and `video_id` it names."""
    return f"{fields.get('video_url') or ''}|{fields.get('video_id') or ''}"
