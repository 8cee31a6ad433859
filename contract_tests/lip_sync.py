"""The lip-sync flow against any target: one identify-face session for the whole run, and requests fitted to it.

Every advanced lip-sync create needs a session that identify-face opened for the caller (docs/contract.md,
"Sessions"), and each identify-face call is billed: the suite opens one session, once, and every hand-written
test and generated case that voices a face uses it. A request fitted to the session keeps every rule across
fields, whatever the target: the first face whose window lasts 2 s, a clip of 2 to 3 s of a 3 s WAV sent as
base64 (so that any target reads the audio's length from the audio itself), inserted where the face is, which
lies inside the video (docs/contract.md, "What real clients rely on").
"""

from __future__ import annotations

import base64
import io
import math
import mimetypes
import re
import secrets
import time
import wave
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import pytest
import schemathesis
from schemathesis.core import NotSet

from mock_server.spec import Operation

from . import rules
from .calls import create, send, target
from .transport import SuiteSession

CREATE_ADVANCED, GET_ADVANCED, LIST_ADVANCED = (
    "createAdvancedLipSyncTask",
    "getAdvancedLipSyncTask",
    "listAdvancedLipSyncTasks",
)
CREATE_LIP_SYNC, GET_LIP_SYNC = "createLipSyncTask", "getLipSyncTask"
# The clip and the insert: at least 2 s each way (docs/contract.md, "Advanced lip-sync").
SHORTEST_CLIP_MS = 2_000
AUDIO_MS = 3_000
# A task followed to its end: polls at the spec's own pace, and at most this many of them.
MAX_POLLS = 60
# `duration` is a string of seconds, as Kling sends it ("5.2").
SECONDS = re.compile(r"[0-9]+(\.[0-9]+)?")


def operation(operation_id: str) -> Operation:
    return next(op for op in target.spec.operations if op.operation_id == operation_id)


def wav_base64(duration_ms: int, sample_rate: int = 8_000) -> str:
    """A mono 8-bit WAV of `duration_ms` ms, a 440 Hz tone, in base64 (no `data:` prefix), as clients send audio."""
    frames = duration_ms * sample_rate // 1000
    samples = bytes(128 + round(60 * math.sin(2 * math.pi * 440 * n / sample_rate)) for n in range(frames))
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(1)
        out.setframerate(sample_rate)
        out.writeframes(samples)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


AUDIO = wav_base64(AUDIO_MS)


@dataclass(frozen=True)
class Session:
    """A session identify-face opened for the suite's caller: its id and the faces it found."""

    session_id: str
    faces: tuple[dict[str, Any], ...]

    @property
    def face(self) -> dict[str, Any]:
        """The face to voice: the first whose window lasts the 2 s a clip needs (every one should)."""
        long_enough = [face for face in self.faces if _window(face) >= SHORTEST_CLIP_MS]
        return (long_enough or list(self.faces))[0]

    def request(self, **fields: Any) -> dict[str, Any]:
        """A create that keeps every rule: the face's window, a clip of 2 to 3 s of the audio, inserted at its start."""
        face = self.face
        clip = max(SHORTEST_CLIP_MS, min(_window(face), AUDIO_MS))
        choice = {
            "face_id": face["face_id"],
            "sound_file": AUDIO,
            "sound_start_time": 0,
            "sound_end_time": clip,
            "sound_insert_time": face["start_time"],
        }
        return {"session_id": self.session_id, "face_choose": [choice], **fields}

    def fit(self, body: Any) -> bool:
        """Make a generated body keep the rules across fields and calls, which no schema says: this session, its face,
        the clip and the insert, the audio, a fresh `external_task_id`. What the schema says stays as generated."""
        if not isinstance(body, dict):
            return False
        valid = self.request()
        choices = body.get("face_choose")
        generated = choices[0] if isinstance(choices, list) and choices and isinstance(choices[0], dict) else {}
        generated.pop("audio_id", None)
        body["session_id"] = valid["session_id"]
        body["face_choose"] = [{**generated, **valid["face_choose"][0]}]
        if isinstance(body.get("external_task_id"), str) and body["external_task_id"]:
            body["external_task_id"] = unique_external_id()
        return True


def _window(face: dict[str, Any]) -> int:
    start, end = face.get("start_time"), face.get("end_time")
    return end - start if isinstance(start, int) and isinstance(end, int) else 0


def unique_external_id() -> str:
    return f"kling-mock-contract-{secrets.token_hex(8)}"


_opened: Session | None = None
_not_opened: str | None = None


def session(http: SuiteSession) -> Session:
    """The run's session, opened by the first test that needs it (one billable identify-face call, once)."""
    global _opened, _not_opened
    if _opened is None and _not_opened is None:
        try:
            _opened = _open(http)
        except AssertionError as exc:
            _not_opened = str(exc)
    if _opened is None:
        message = f"no identify-face session to voice: {_not_opened}"
        if target.strictness.full:
            pytest.fail(message)  # the kit's own mock opens one for its own example
        pytest.skip(message)
    return _opened


def _open(http: SuiteSession) -> Session:
    status, body = create(http, target.minimal_example)
    assert status == 200, f"identify-face refused the minimal example: {body}"
    data = body["data"]
    if target.documented:
        task = follow(http, target.create.path, data["task_id"])
        assert task["task_status"] == "succeed", f"the identify-face task did not succeed: {task}"
        data = task["task_result"]
    assert isinstance(data.get("session_id"), str) and data["session_id"], f"no session_id in {data}"
    faces = data.get("face_data")
    assert isinstance(faces, list) and faces, f"no faces to voice in {data}"
    return Session(data["session_id"], tuple(faces))


def follow(http: SuiteSession, path: str, task_id: str) -> dict[str, Any]:
    """Poll a task at the spec's pace until it ends (or the polls run out): its status only forward, its times in
    order. Returns the task as last seen."""
    history = rules.TaskHistory()
    query = next(op for op in target.spec.operations if op.path == f"{path}/{{task_id}}")
    interval_s = (query.min_poll_interval_ms or 1000) / 1000
    task: dict[str, Any] = {}
    for _ in range(MAX_POLLS):
        status, body = send(http, "GET", f"{path}/{task_id}", headers=target.auth_headers)
        assert status == 200, body
        history.observe(body)
        rules.timestamps(body, recent=False)
        task = body["data"]
        assert task["task_id"] == task_id, f"asked for task {task_id}, got {task['task_id']}"
        if task["task_status"] in ("succeed", "failed"):
            return task
        time.sleep(interval_s)
    return task


def videos(task: dict[str, Any]) -> list[dict[str, Any]]:
    """A succeeded lip-sync task's videos (docs/contract.md, "Following a lip-sync task"), each checked."""
    found = (task.get("task_result") or {}).get("videos")
    assert isinstance(found, list) and found, f"succeeded task {task['task_id']} has no task_result.videos: {task}"
    for video in found:
        assert isinstance(video, dict), f"a video must be an object: {video!r}"
        url = video.get("url")
        assert isinstance(url, str) and url.startswith(("http://", "https://")), f"a video's url: {url!r}"
        duration = video.get("duration")
        assert isinstance(duration, str) and SECONDS.fullmatch(duration), (
            f'a video\'s duration must be a string of seconds ("5.2"), as Kling sends it: got {duration!r}'
        )
    return found


def urls_of(task: dict[str, Any]) -> list[str]:
    """Every URL a lip-sync task hands its owner: each video's `url` and `watermark_url`, the parent video's."""
    found = []
    for video in (task.get("task_result") or {}).get("videos") or []:
        found += [video[key] for key in ("url", "watermark_url") if isinstance(video.get(key), str)]
    parent = ((task.get("task_info") or {}).get("parent_video") or {}).get("url")
    if isinstance(parent, str):
        found.append(parent)
    return found


def download_problem(http: SuiteSession, url: str) -> str | None:
    """What is wrong with downloading `url` as a client does, without the API's Authorization header (docs/contract.md,
    "What real clients rely on"): not 200, or a content type other than its extension's. None when all is well."""
    response = http.get(url, timeout=60)
    if response.status_code != 200:
        return f"{url}: HTTP {response.status_code}"
    expected, _ = mimetypes.guess_type(urlsplit(url).path)
    got = response.headers.get("content-type", "").split(";")[0].strip().lower()
    if expected is not None and got != expected:
        return f"{url}: Content-Type {got!r}, its extension says {expected!r}"
    return None


def fit_to_session(case: schemathesis.Case[Any], http: SuiteSession) -> bool:
    """A generated advanced lip-sync create voices a face of the run's session, its clip where the face is: the rules
    across fields and calls are the hand-written tests' (`test_lip_sync.py`), and a generated body keeps them.
    Returns whether the case was such a create."""
    if case.operation.definition.raw.get("operationId") != CREATE_ADVANCED or isinstance(case.body, NotSet):
        return False
    return session(http).fit(case.body)
