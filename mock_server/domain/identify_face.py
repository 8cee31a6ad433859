"""Identify-face: the faces a video shows, as a task to poll (the seed's dialect) or at once (Kling's own).

Both dialects find the same faces in the same video: derived from its `video_reference`, so the same request
always finds the same faces, and a task keeps only that reference of its input (its `payload`). Markers in the
video's URL or id decide what it holds (`videos.py`).
"""

from __future__ import annotations

import base64
import functools
import hashlib
from typing import Any

import orjson

from ..core import rules
from ..core.errors import BusinessCode, KlingError
from .lifecycle import FAILED, PROCESSING
from .service import TaskService
from .tasks import Outcome, Task
from .videos import content_of, video_reference

FACE_IMAGE_BASE = "https://cdn.kling-mock.invalid/faces"
IDENTIFY_SCENARIO_FAILURE = "no faces could be identified (scenario)"


class IdentifyFaceTasks:
    """The documented dialect's tasks: a succeeded one holds the faces, a failed one what its video lacked."""

    name = "identify-face"

    def outcome(self, task: Task) -> Outcome:
        return _outcome(task.task_id, video_of(task.payload))


IDENTIFY_FACE = IdentifyFaceTasks()


def video_of(payload: str) -> str:
    """A task's video reference. State files of earlier versions kept the whole input, as a JSON object
    (a reference never starts with `{`: it starts with a validated URI, or `|` when there is none)."""
    return video_reference(orjson.loads(payload)) if payload.startswith("{") else payload


# A finished task's outcome, the same at every poll (and immutable): made once, while it is polled. Shared
# between answers, so never changed in place.
@functools.lru_cache(maxsize=1024)
def _outcome(task_id: str, video: str) -> Outcome:
    content = content_of(video)
    if content.problem is not None:
        return Outcome(succeeded=False, message=content.problem)
    return Outcome(succeeded=True, result=faces_found(task_id, video, content.face_count))


def faces_found(run_id: str, reference: str, face_count: int) -> dict[str, Any]:
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


async def create_task(service: TaskService, owner: str, body: dict[str, Any], fate: str | None) -> dict[str, Any]:
    """The documented dialect: a task that finds the faces of `body["input"]`'s video."""
    return await service.create(IDENTIFY_FACE, owner, video_reference(body["input"]), body.get("callback_url"), fate)


def identify(service: TaskService, body: dict[str, Any], fate: str | None) -> dict[str, Any]:
    """The synchronous dialect: the faces, found at once. No task is stored, no callback sent.

    A synchronous call has no failed task to carry a failure, so an outcome that fails (a marker,
    or a scenario's `failed`) is refused as an invalid parameter naming the video's field, and a
    scenario's `processing`, which the call cannot stay in, is an internal timeout.
    """
    if fate == PROCESSING:
        raise KlingError(
            BusinessCode.INTERNAL_TIMEOUT, "internal timeout: no faces found in time (scenario)", rule=rules.SCENARIO
        )
    field = "video_url" if body.get("video_url") else "video_id"
    video = video_reference(body)
    content = content_of(video)
    if fate == FAILED or content.problem is not None:
        # Chosen by a marker or a scenario, not a broken rule: the verdict does not hold it against the client.
        rule, problem = (
            (rules.SCENARIO, IDENTIFY_SCENARIO_FAILURE) if fate == FAILED else (rules.OUTCOME, content.problem)
        )
        raise KlingError(BusinessCode.INVALID_PARAMETER, f"{field}: {problem}", rule=rule, path=field)
    return faces_found(service.ids.new(), video, content.face_count)
