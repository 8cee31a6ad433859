"""Identify-face: the faces a video shows, as a task to poll (the seed's dialect) or at once (Kling's own).

Both dialects find the same faces in the same video, derived from its `video_reference`: the same request always
finds the same faces, and a task keeps only that reference (its `payload`). Markers in the video's URL or id
decide what it holds (`videos.py`). Every answer opens a session for advanced lip-sync: the call is stored as a
task (the synchronous one stored finished), and its id is the session's (`sessions.py`).
"""

from __future__ import annotations

import functools
import hashlib
from typing import Any

import orjson

from ..core import rules
from ..core.errors import BusinessCode, KlingError
from .lifecycle import FAILED, PROCESSING
from .links import Links
from .service import TaskService
from .tasks import Outcome, Task
from .videos import SHORTEST_WINDOW_MS, content_of, video_reference

IDENTIFY_SCENARIO_FAILURE = "no faces could be identified (scenario)"


class IdentifyFaceTasks:
    """What identify-face finds: a succeeded task holds the faces, a failed one what its video lacked.

    `name` tells the seed's tasks (`identify-face`) from the synchronous calls (`identify-face-at-once`), which are
    stored only to keep the sessions they open: neither dialect lists the other's.
    """

    def __init__(self, name: str) -> None:
        self.name = name

    def outcome(self, task: Task, links: Links) -> Outcome:
        return _outcome(task.task_id, task.owner, video_of(task.payload), links.base)

    def info(self, task: Task, links: Links) -> dict[str, Any] | None:
        return None


IDENTIFY_FACE = IdentifyFaceTasks("identify-face")
IDENTIFY_FACE_AT_ONCE = IdentifyFaceTasks("identify-face-at-once")


def video_of(payload: str) -> str:
    """A task's video reference. State files of earlier versions kept the whole input, as a JSON object
    (a reference never starts with `{`: it starts with a validated URI, or `|` when there is none)."""
    return video_reference(orjson.loads(payload)) if payload.startswith("{") else payload


# A finished task's outcome, the same at every poll (and immutable): made once, while it is polled. Shared
# between answers, so never changed in place.
@functools.lru_cache(maxsize=1024)
def _outcome(task_id: str, owner: str, video: str, base: str) -> Outcome:
    content = content_of(video)
    if content.problem is not None:
        return Outcome(succeeded=False, message=content.problem)
    faces = [
        {**face, "face_image": Links(base).face_image(owner, task_id, face["face_id"])} for face in faces_of(video)
    ]
    return Outcome(succeeded=True, result={"session_id": task_id, "face_data": faces})


@functools.lru_cache(maxsize=1024)
def faces_of(video: str) -> tuple[dict[str, Any], ...]:
    """The faces a video (a `video_reference`) shows, each seen for at least 2000 ms within the video (a shorter
    window could never take a lip-sync), times in milliseconds; the same for the same video."""
    content = content_of(video)
    duration = content.duration_ms
    faces = []
    for index in range(content.face_count):
        seed = int.from_bytes(hashlib.sha256(f"{video}#{index}".encode()).digest()[:8], "big")
        start = (seed % ((duration - SHORTEST_WINDOW_MS) // 100 + 1)) * 100
        longer = (seed >> 24) % ((duration - start - SHORTEST_WINDOW_MS) // 100 + 1) * 100
        faces.append({"face_id": str(index), "start_time": start, "end_time": start + SHORTEST_WINDOW_MS + longer})
    return tuple(faces)


async def create_task(
    service: TaskService, owner: str, body: dict[str, Any], fate: str | None, links: Links
) -> dict[str, Any]:
    """The documented dialect: a task that finds the faces of `body["input"]`'s video."""
    task = await service.create(
        IDENTIFY_FACE, owner, video_reference(body["input"]), links, body.get("callback_url"), fate
    )
    return service.render(task, task.created_at, links)


async def identify(
    service: TaskService, owner: str, body: dict[str, Any], fate: str | None, links: Links
) -> dict[str, Any]:
    """The synchronous dialect: the faces, found at once, and the session they open. No callback is sent.

    A synchronous call has no failed task to carry a failure, so an outcome that fails (a marker, or a scenario's
    `failed`) is refused as an invalid parameter naming the video's field, and a scenario's `processing`, which
    the call cannot stay in, is an internal timeout.
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
        rule = rules.SCENARIO if fate == FAILED else rules.OUTCOME
        problem = IDENTIFY_SCENARIO_FAILURE if fate == FAILED else content.problem
        raise KlingError(BusinessCode.INVALID_PARAMETER, f"{field}: {problem}", rule=rule, path=field)
    task = await service.create(IDENTIFY_FACE_AT_ONCE, owner, video, links, finished=True)
    result = IDENTIFY_FACE_AT_ONCE.outcome(task, links).result
    assert result is not None
    return result
