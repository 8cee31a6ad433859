"""Sessions: what identify-face found in a video, which advanced lip-sync voices (docs/contract.md, "Sessions").

A session is the identify-face call that opened it: a seed's task once it has succeeded, or a synchronous call,
stored finished. Its id is that task's, its faces and the video's length are derived from the task's video, and it
belongs to the caller that made the call. It is valid for 24 hours from when it opened, on the mock's clock (which
tests move forward through the admin API instead of waiting a day).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .identify_face import IDENTIFY_FACE, IDENTIFY_FACE_AT_ONCE, faces_of, video_of
from .lifecycle import FAILED, FINAL_STEP
from .service import TaskService
from .videos import content_of

SESSION_LIFETIME_MS = 24 * 60 * 60 * 1000


@dataclass(frozen=True)
class Session:
    session_id: str
    owner: str
    video: str
    duration_ms: int
    faces: tuple[dict[str, Any], ...]
    opened_at: int

    def face(self, face_id: str) -> dict[str, Any] | None:
        return next((face for face in self.faces if face["face_id"] == face_id), None)


async def find_session(service: TaskService, owner: str, session_id: str) -> Session | None:
    """The caller's session, while it is valid; None for one that is unknown, another caller's, or expired, alike."""
    task = await service.find(owner, session_id, (IDENTIFY_FACE, IDENTIFY_FACE_AT_ONCE))
    if task is None or task.fate == FAILED:
        return None
    now = service.clock.now_ms()
    step, opened_at = service.progress(task, now)
    video = video_of(task.payload)
    content = content_of(video)
    if step < FINAL_STEP or content.problem is not None or now >= opened_at + SESSION_LIFETIME_MS:
        return None
    return Session(session_id, owner, video, content.duration_ms, faces_of(video), opened_at)
