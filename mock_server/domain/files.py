"""The files answers point at, made for real: a face's PNG, a lip-sync result's MP4, a session's video.

A URL is the permission (`links.py`): its signature must verify with the owner of what it names, which must still be
stored and have succeeded. Anything else is no file (the server answers 404): an unknown or altered URL, another
caller's ids, a task not finished, or one the store's bound has dropped (as Kling clears results after 30 days).
Files are deterministic (the same URL, the same bytes) and cached; a video is encoded off the event loop.
"""

from __future__ import annotations

import asyncio
import functools
from dataclasses import dataclass

from ..media import face_png, lip_sync_mp4
from .identify_face import IDENTIFY_FACE, IDENTIFY_FACE_AT_ONCE
from .lifecycle import FINAL_STEP
from .links import FileRef, Links, parse, verifies
from .lip_sync import ADVANCED_LIP_SYNC, LIP_SYNC, WATERMARK, Voicing
from .service import TaskService
from .sessions import find_session
from .tasks import Task

PNG, MP4 = "image/png", "video/mp4"


@dataclass(frozen=True)
class File:
    media_type: str
    content: bytes


async def open_file(service: TaskService, path: str) -> File | None:
    """The file `path` (after its prefix: `/files/...`) names, or None when there is none for it."""
    parsed = parse(path)
    if parsed is None:
        return None
    ref, presented = parsed
    task = await service.store.get(ref.id)
    if task is None or not verifies(task.owner, ref, presented):
        return None
    if ref.kind in ("faces", "parents"):
        if task.kind not in (IDENTIFY_FACE.name, IDENTIFY_FACE_AT_ONCE.name):
            return None
        session = await find_session(service, task.owner, task.task_id)
        if session is None:
            return None
        if ref.kind == "parents":
            content = await asyncio.to_thread(_video, f"{session.session_id}#0", session.duration_ms, None, False)
            return File(MP4, content)
        if ref.face is None or session.face(ref.face) is None:
            return None
        return File(PNG, _face(f"{session.session_id}#{ref.face}", f"face {ref.face}"))
    return await _result(service, ref, task)


async def _result(service: TaskService, ref: FileRef, task: Task) -> File | None:
    """A lip-sync task's video, once it has succeeded (with its watermark when it asked for one)."""
    if task.kind not in (ADVANCED_LIP_SYNC.name, LIP_SYNC.name):
        return None
    step, _ = service.progress(task, service.clock.now_ms())
    outcome = service.outcome(task, step, Links(""))
    voicing = Voicing.of(task.payload)
    if step < FINAL_STEP or outcome is None or not outcome.succeeded or (ref.watermark and not voicing.watermark):
        return None
    content = await asyncio.to_thread(_video, voicing.seed, voicing.duration_ms, voicing.speaking, ref.watermark)
    return File(MP4, content)


@functools.lru_cache(maxsize=256)
def _face(seed: str, label: str) -> bytes:
    return face_png(seed, label)


# Videos are a few kilobytes each: the last few dozen served stay ready.
@functools.lru_cache(maxsize=64)
def _video(seed: str, duration_ms: int, speaking: tuple[int, int] | None, watermark: bool) -> bytes:
    return lip_sync_mp4(seed, duration_ms, speaking, WATERMARK if watermark else None)
