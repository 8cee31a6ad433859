"""Lip-sync: a face of an identify-face session voiced by an audio clip (advanced lip-sync), or a video voiced by a
text or an audio (the older endpoint, the seed page's request). Both end with `task_result.videos`.

The schema (lip-sync.yaml) says what each field may be; the rules across fields are here, in one place
(`check_advanced`), each refused with 400/1201 naming the field path (docs/contract.md, "Advanced lip-sync"): the
session, the face, the clip of at least 2 s, its end by the audio's end, the insert by the video's end and
overlapping the face's window by 2 s, the audio's length. The audio's length is read from a base64 `sound_file`
itself (`media.audio_duration_ms`), and from a marker in a URL or an `audio_id` (`voice-7.5s.mp3`); where it
cannot be known, the rules that need it are not checked. The video's length is the session's.

Outcomes are chosen by input, as identify-face's: `no-speech` in the audio (its URL or id) fails the task, and so
does `unreachable`; a scenario's `failed` too.
"""

from __future__ import annotations

import base64
import binascii
import functools
from dataclasses import dataclass
from typing import Any

import orjson

from ..core import rules
from ..core.errors import BusinessCode, KlingError
from ..core.rules import Rule
from ..media import audio_duration_ms
from .links import Links
from .service import TaskService
from .sessions import find_session
from .tasks import ExternalIdTaken, Outcome, Task
from .videos import SHORTEST_WINDOW_MS, content_of, length_marker, video_ms, video_reference

# The audio a clip is cut from lasts 2 to 60 s (docs/contract.md).
SHORTEST_AUDIO_MS, LONGEST_AUDIO_MS = 2_000, 60_000
# What the older endpoint's text takes to say, per character, when nothing else says how long it speaks.
_SPOKEN_MS_PER_CHARACTER = 80
_AUDIO_FAILURES = {
    "no-speech": "no speech was found in the audio",
    "unreachable": "the audio could not be downloaded",
}
WATERMARK = "KLING MOCK"


def _refusal(rule: Rule, path: str, message: str) -> KlingError:
    return KlingError(BusinessCode.INVALID_PARAMETER, f"{path}: {message}", rule=rule, path=path)


@dataclass(frozen=True)
class Voicing:
    """What a lip-sync task was asked, all its outcome is derived from (its `payload`, as JSON)."""

    video: str
    duration_ms: int
    # When the face speaks in the video, in milliseconds.
    speaking: tuple[int, int]
    # The face that speaks: its session and id (the older endpoint's: its video's face "0").
    session_id: str
    face_id: str
    # The audio's URL or id, where its markers are: `no-speech`, `unreachable`.
    audio: str = ""
    watermark: bool = False
    external_id: str | None = None

    def payload(self) -> str:
        fields = (self.video, self.duration_ms, self.speaking, self.session_id, self.face_id, self.audio)
        return orjson.dumps([*fields, self.watermark, self.external_id]).decode()

    @staticmethod
    def of(payload: str) -> Voicing:
        video, duration, speaking, session_id, face_id, audio, watermark, external_id = orjson.loads(payload)
        return Voicing(video, duration, tuple(speaking), session_id, face_id, audio, watermark, external_id)

    @property
    def seed(self) -> str:
        """The face's seed: the same face as the session's face image."""
        return f"{self.session_id}#{self.face_id}"


class LipSyncTasks:
    """Lip-sync tasks of one endpoint: a succeeded one holds a video of the voiced face, as long as the video."""

    def __init__(self, name: str, shows_info: bool) -> None:
        self.name = name
        self._shows_info = shows_info

    def outcome(self, task: Task, links: Links) -> Outcome:
        return _outcome(task.task_id, task.owner, task.payload, links.base)

    def info(self, task: Task, links: Links) -> dict[str, Any] | None:
        if not self._shows_info:
            return None
        voicing = Voicing.of(task.payload)
        video_id = voicing.video.partition("|")[2]
        parent = {
            "id": video_id or voicing.session_id,
            "url": links.parent_video(task.owner, voicing.session_id),
            "duration": seconds(voicing.duration_ms),
        }
        return {"external_task_id": voicing.external_id or "", "parent_video": parent}


ADVANCED_LIP_SYNC = LipSyncTasks("advanced-lip-sync", shows_info=True)
LIP_SYNC = LipSyncTasks("lip-sync", shows_info=False)


def seconds(ms: int) -> str:
    """A length as Kling sends it: a string of seconds (`"5.2"`, `"10"`)."""
    return f"{ms / 1000:g}"


@functools.lru_cache(maxsize=1024)
def _outcome(task_id: str, owner: str, payload: str, base: str) -> Outcome:
    voicing = Voicing.of(payload)
    content = content_of(voicing.video)
    if content.problem is not None:
        return Outcome(succeeded=False, message=content.problem)
    audio = voicing.audio.lower()
    for marker, problem in _AUDIO_FAILURES.items():
        if marker in audio:
            return Outcome(succeeded=False, message=problem)
    links = Links(base)
    video = {"id": task_id, "url": links.video(owner, task_id), "duration": seconds(voicing.duration_ms)}
    if voicing.watermark:
        video["watermark_url"] = links.video(owner, task_id, watermark=True)
    return Outcome(succeeded=True, result={"videos": [video]})


# Advanced lip-sync.


async def create_advanced(
    service: TaskService, owner: str, body: dict[str, Any], fate: str | None, links: Links
) -> dict[str, Any]:
    """A task voicing a face of the caller's session, once every rule across the fields holds."""
    voicing = await check_advanced(service, owner, body)
    external_id = body.get("external_task_id") or None
    voicing = Voicing(**{**voicing.__dict__, "external_id": external_id})
    try:
        task = await service.create(
            ADVANCED_LIP_SYNC, owner, voicing.payload(), links, body.get("callback_url") or None, fate, external_id
        )
    except ExternalIdTaken:
        raise _refusal(
            rules.EXTERNAL_TASK_ID_TAKEN, "external_task_id", "already the id of another of your tasks"
        ) from None
    return service.render(task, task.created_at, links)


async def check_advanced(service: TaskService, owner: str, body: dict[str, Any]) -> Voicing:
    """The rules across the fields of a create (docs/contract.md, "Advanced lip-sync"), the first broken refused."""
    session = await find_session(service, owner, body["session_id"])
    if session is None:
        # Unknown, expired or another caller's: refused alike, never telling which.
        raise _refusal(rules.SESSION, "session_id", "no session of yours with this id is open (sessions last 24 h)")
    choice = body["face_choose"][0]
    where = "face_choose[0]"
    face = session.face(choice["face_id"])
    if face is None:
        faces = ", ".join(known["face_id"] for known in session.faces)
        raise _refusal(rules.FACE, f"{where}.face_id", f"not a face of the session (its faces: {faces})")
    start, end, insert = choice["sound_start_time"], choice["sound_end_time"], choice["sound_insert_time"]
    clip = end - start
    if clip < SHORTEST_WINDOW_MS:
        raise _refusal(
            rules.CLIP_LENGTH,
            f"{where}.sound_end_time",
            f"the clip (sound_end_time - sound_start_time) lasts {clip} ms; it must last at least 2000 ms",
        )
    audio, audio_ms = _audio(choice, where)
    if audio_ms is not None and not SHORTEST_AUDIO_MS <= audio_ms <= LONGEST_AUDIO_MS:
        field = "sound_file" if choice.get("sound_file") else "audio_id"
        raise _refusal(rules.AUDIO, f"{where}.{field}", f"the audio lasts {audio_ms} ms; it must last 2 to 60 s")
    if audio_ms is not None and end > audio_ms:
        raise _refusal(
            rules.CLIP_PAST_AUDIO, f"{where}.sound_end_time", f"{end} ms is after the audio's end ({audio_ms} ms)"
        )
    if insert + clip > session.duration_ms:
        raise _refusal(
            rules.INSERT_PAST_VIDEO,
            f"{where}.sound_insert_time",
            f"the clip inserted at {insert} ms ends at {insert + clip} ms, after the video's end "
            f"({session.duration_ms} ms)",
        )
    overlap = min(insert + clip, face["end_time"]) - max(insert, face["start_time"])
    if overlap < SHORTEST_WINDOW_MS:
        raise _refusal(
            rules.INSERT_OUTSIDE_FACE,
            f"{where}.sound_insert_time",
            f"the clip [{insert}, {insert + clip}] ms overlaps face {face['face_id']}'s window "
            f"[{face['start_time']}, {face['end_time']}] ms by {max(0, overlap)} ms; it must overlap it by at least "
            "2000 ms",
        )
    watermark = bool((body.get("watermark_info") or {}).get("enabled"))
    return Voicing(
        session.video,
        session.duration_ms,
        (insert, insert + clip),
        session.session_id,
        face["face_id"],
        audio,
        watermark,
    )


def _audio(choice: dict[str, Any], where: str) -> tuple[str, int | None]:
    """The audio's URL or id (where its markers are), and its length when it can be known."""
    sound = choice.get("sound_file") or ""
    if not sound:
        audio_id = choice.get("audio_id") or ""
        return audio_id, length_marker(audio_id)
    if sound.startswith(("http://", "https://")):
        return sound, length_marker(sound)
    duration = _decoded_length(sound)
    if duration is None:
        raise _refusal(rules.AUDIO, f"{where}.sound_file", "is not an mp3, wav, m4a or aac audio in base64")
    return "", duration


def _decoded_length(encoded: str) -> int | None:
    """The length of the base64 audio `encoded`, or None when it is no base64 of an audio file the mock reads."""
    try:
        return audio_duration_ms(base64.b64decode(encoded, validate=True))
    except (binascii.Error, ValueError):
        return None


# The older lip-sync endpoint: the seed page's request.


async def create_lip_sync(
    service: TaskService, owner: str, body: dict[str, Any], fate: str | None, links: Links
) -> dict[str, Any]:
    """A task voicing the video's face with the text (`text2video`) or the audio (`audio2video`) of `input`."""
    task_input = body["input"]
    video = video_reference(task_input)
    duration = video_ms(video)
    audio = ""
    if task_input["mode"] == "text2video":
        spoken: int | None = len(task_input["text"]) * _SPOKEN_MS_PER_CHARACTER
    elif task_input["audio_type"] == "url":
        audio = task_input["audio_url"]
        spoken = length_marker(audio)
    else:
        spoken = _decoded_length(task_input["audio_file"])
    speaking = (0, min(duration, max(SHORTEST_WINDOW_MS, spoken or duration)))
    # The face that speaks in the result's video is the video's face 0.
    voicing = Voicing(video, duration, speaking, video, "0", audio)
    task = await service.create(LIP_SYNC, owner, voicing.payload(), links, body.get("callback_url"), fate)
    return service.render(task, task.created_at, links)
