"""The synchronous dialect's own rules (docs/contract.md): exactly one video source, at the top level."""

from __future__ import annotations

from typing import Any

import pytest

from .calls import create, target
from .transport import SuiteSession

if target.documented:
    pytest.skip("rules of the upstream dialect", allow_module_level=True)

_VIDEO_URL = "https://example.com/video.mp4"


@pytest.mark.parametrize(
    ("body", "named"),
    [
        ({}, "video_"),
        ({"video_id": "", "video_url": ""}, "video_"),
        ({"video_id": "v1", "video_url": _VIDEO_URL}, "video_"),
        ({"video_url": "not a url"}, "video_url"),
        ({"video_id": 5}, "video_id"),
        ({"input": {"video_url": _VIDEO_URL}}, "video_"),
    ],
    ids=["neither", "both-empty", "both", "url-not-a-uri", "id-not-a-string", "documented-wrapper"],
)
def test_each_video_source_rule_is_400_1201_naming_the_field(
    http: SuiteSession, body: dict[str, Any], named: str
) -> None:
    status, answer = create(http, body, refused=True)
    assert (status, answer["code"]) == (400, 1201), answer
    assert named in answer["message"], f"the message must name the field: {answer['message']!r}"


def test_faces_come_at_once_with_their_times_in_order(http: SuiteSession) -> None:
    status, answer = create(http, {"video_url": _VIDEO_URL})
    assert status == 200, answer
    faces = answer["data"]["face_data"]
    assert all(face["start_time"] <= face["end_time"] for face in faces), faces
