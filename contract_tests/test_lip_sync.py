"""The lip-sync flow (docs/contract.md, "The lip-sync flow"): advanced lip-sync on one identify-face session, its tasks
and their owners, the files its answers point at, and the older lip-sync endpoint.

Within the budget: one session for the whole run (`lip_sync.py`), one task followed to its end, two more for the
list's order and pages, one task of the older endpoint; every request that must be refused costs nothing. A task
still running after the last poll is no failure (the provider may be slow); one that failed is, against the kit's
own mock only, which never fails these requests: another target may refuse a synthetic tone as speech.
"""

from __future__ import annotations

import math
from typing import Any

import pytest

from . import lip_sync, rules
from .calls import JSON, send, target
from .lip_sync import Session
from .transport import SuiteSession

_CREATE = lip_sync.operation(lip_sync.CREATE_ADVANCED).path
_LIP_SYNC = lip_sync.operation(lip_sync.CREATE_LIP_SYNC).path
_HEADERS = {**target.auth_headers, **JSON}
# Far past any video's end: a clip inserted there is neither inside the video nor on the face.
_FAR_PAST_THE_END_MS = 3_600_000


@pytest.fixture(scope="module")
def opened(http: SuiteSession) -> Session:
    return lip_sync.session(http)


def _create(http: SuiteSession, body: dict[str, Any], refused: bool = False, **kwargs: Any) -> tuple[int, Any]:
    return send(http, "POST", _CREATE, refused, headers=kwargs.pop("headers", _HEADERS), json=body, **kwargs)


def _ended(http: SuiteSession, path: str, task_id: str) -> dict[str, Any]:
    """The task followed to its end: succeeded, or (not the kit's mock) failed with a reason."""
    task = lip_sync.follow(http, path, task_id)
    if task["task_status"] == "failed":
        assert task.get("task_status_msg"), f"failed task {task_id} has no task_status_msg"
        assert not target.strictness.full, f"the kit's mock must voice its own valid request: {task}"
        pytest.skip(f"task {task_id} failed: {task['task_status_msg']}")
    if task["task_status"] != "succeed":
        pytest.skip(f"task {task_id} still {task['task_status']} after {lip_sync.MAX_POLLS} polls")
    return task


@pytest.fixture(scope="module")
def voiced(http: SuiteSession, opened: Session) -> dict[str, Any]:
    """One task of a valid create, with a watermark and an id of the caller's, followed to its end."""
    external_id = lip_sync.unique_external_id()
    request = opened.request(external_task_id=external_id, watermark_info={"enabled": True})
    status, body = _create(http, request)
    assert status == 200, body
    created = body["data"]
    assert created["task_status"] == "submitted", f"a task is created submitted: {created}"
    rules.timestamps(body, recent=True)
    info = created.get("task_info") or {}
    assert info.get("external_task_id") == external_id, f"task_info.external_task_id: {created}"
    return _ended(http, _CREATE, created["task_id"])


def _clip(opened: Session, **changes: Any) -> dict[str, Any]:
    request = opened.request()
    request["face_choose"][0].update(changes)
    return request


def _broken(opened: Session, rule: str) -> tuple[dict[str, Any], tuple[str, ...]]:
    """A valid request with one rule of docs/contract.md's table broken, and the field paths its refusal may name."""
    face = opened.face
    start, end = face["start_time"], face["end_time"]
    # The clip overlaps the face by 1999 ms: from 1 ms before the face, or ending 1 ms after it (maybe past the video).
    off_face = start - 1 if start >= 1 else end - 1999
    choice = "face_choose[0]"
    broken = {
        "unknown-session": ({**opened.request(), "session_id": "kling-mock-contract-no-such-session"}, ("session_id",)),
        "face-not-in-session": (_clip(opened, face_id="kling-mock-contract-no-such-face"), (f"{choice}.face_id",)),
        "audio-id-and-sound-file": (_clip(opened, audio_id="kling-mock-contract-audio"), (choice,)),
        "neither-audio-id-nor-sound-file": (_clip(opened, sound_file=""), (choice,)),
        "clip-under-2s": (_clip(opened, sound_end_time=1999), (f"{choice}.sound_end_time",)),
        "clip-past-the-audio": (
            _clip(opened, sound_start_time=1000, sound_end_time=lip_sync.AUDIO_MS + 1),
            (f"{choice}.sound_end_time",),
        ),
        # A clip of 2 s of a 1.5 s audio also ends past the audio: either field may be named.
        "audio-under-2s": (
            _clip(opened, sound_file=lip_sync.wav_base64(1500), sound_end_time=2000),
            (f"{choice}.sound_file", f"{choice}.sound_end_time"),
        ),
        "audio-over-60s": (_clip(opened, sound_file=lip_sync.wav_base64(61_000)), (f"{choice}.sound_file",)),
        "insert-past-the-video": (
            _clip(opened, sound_insert_time=_FAR_PAST_THE_END_MS),
            (f"{choice}.sound_insert_time",),
        ),
        "insert-off-the-face": (
            _clip(opened, sound_end_time=2000, sound_insert_time=off_face),
            (f"{choice}.sound_insert_time",),
        ),
    }
    return broken[rule]


_RULES = (
    "unknown-session",
    "face-not-in-session",
    "audio-id-and-sound-file",
    "neither-audio-id-nor-sound-file",
    "clip-under-2s",
    "clip-past-the-audio",
    "audio-under-2s",
    "audio-over-60s",
    "insert-past-the-video",
    "insert-off-the-face",
)


@pytest.mark.parametrize("rule", _RULES)
def test_each_cross_field_rule_broken_alone_is_400_1201_naming_the_field(
    http: SuiteSession, opened: Session, rule: str
) -> None:
    """docs/contract.md, "Advanced lip-sync": each rule broken alone on a valid request is 400/1201 naming the field."""
    request, fields = _broken(opened, rule)
    status, body = _create(http, request, refused=True)
    assert (status, body["code"]) == (400, 1201), f"{rule}: {body}"
    assert any(field in body["message"] for field in fields), f"{rule}: the message must name {fields}: {body}"


def test_every_face_of_the_session_can_take_a_clip(opened: Session) -> None:
    """docs/contract.md, "What real clients rely on": every face's window lasts at least 2000 ms."""
    for face in opened.faces:
        start, end = face.get("start_time"), face.get("end_time")
        assert isinstance(start, int) and isinstance(end, int) and end - start >= lip_sync.SHORTEST_CLIP_MS, (
            f"face {face.get('face_id')} of session {opened.session_id}: a window shorter than 2000 ms: {face}"
        )


def test_a_valid_create_goes_to_succeed_with_videos(voiced: dict[str, Any]) -> None:
    """submitted -> ... -> succeed, each video with its url and its duration a string of seconds. With the watermark
    asked for, the kit's mock adds each video's `watermark_url` (the contract allows it, not demands it)."""
    for video in lip_sync.videos(voiced):
        watermarked = video.get("watermark_url")
        if watermarked is None and not target.strictness.full:
            continue
        assert isinstance(watermarked, str) and watermarked.startswith(("http://", "https://")), (
            f"a watermark was asked for: each video has a watermark_url: {video}"
        )


def test_an_external_task_id_is_unique_among_the_callers_tasks(
    http: SuiteSession, opened: Session, voiced: dict[str, Any]
) -> None:
    taken = voiced["task_info"]["external_task_id"]
    status, body = _create(http, opened.request(external_task_id=taken), refused=True)
    assert (status, body["code"]) == (400, 1201), body
    assert "external_task_id" in body["message"], f"the message must name external_task_id: {body}"


def _other_caller() -> dict[str, str]:
    if not target.second_token:
        pytest.skip("set KLING_API_KEY_2 to a second caller's key to test ownership")
    return {"Authorization": f"Bearer {target.second_token}"}


def test_another_callers_session_is_refused(http: SuiteSession, opened: Session) -> None:
    """A session belongs to the caller that opened it: another's use of it is 400/1201 on `session_id`."""
    other = _other_caller()
    status, body = _create(http, opened.request(), refused=True, headers={**other, **JSON})
    assert (status, body["code"]) == (400, 1201), f"another caller could use session {opened.session_id}: {body}"
    assert "session_id" in body["message"], f"the message must name session_id: {body}"


def test_another_callers_task_is_404_1203_and_never_listed(http: SuiteSession, voiced: dict[str, Any]) -> None:
    other = _other_caller()
    task_id = voiced["task_id"]
    status, body = send(http, "GET", f"{_CREATE}/{task_id}", headers=other)
    assert (status, body["code"]) == (404, 1203), f"another caller could read task {task_id}: {body}"
    status, body = send(http, "GET", _CREATE, headers=other, params={"pageSize": 500})
    assert status == 200, body
    assert task_id not in [task["task_id"] for task in body["data"]], f"another caller sees task {task_id} listed"


def test_the_list_is_newest_first_and_its_pages_neither_repeat_nor_skip(
    http: SuiteSession, opened: Session, voiced: dict[str, Any]
) -> None:
    """Two more tasks after the followed one: pages of 1 and of 2 list the three, newest first, each once."""
    created = [voiced["task_id"]]
    for _ in range(2):
        status, body = _create(http, opened.request())
        assert status == 200, body
        created.append(body["data"]["task_id"])
    for page_size in (1, 2):
        listed: list[dict[str, Any]] = []
        for page_num in range(1, math.ceil(len(created) / page_size) + 1):
            params = {"pageNum": page_num, "pageSize": page_size}
            status, body = send(http, "GET", _CREATE, headers=target.auth_headers, params=params)
            assert status == 200, body
            page = body["data"]
            assert len(page) <= page_size, f"page {page_num} has {len(page)} tasks, pageSize was {page_size}"
            listed += page
        ids = [task["task_id"] for task in listed]
        assert len(ids) == len(set(ids)), f"a task was listed twice across pages of {page_size}: {ids}"
        times = [task["created_at"] for task in listed]
        assert times == sorted(times, reverse=True), f"the list must be newest first, pages of {page_size}: {times}"
        assert [task_id for task_id in ids if task_id in created] == created[::-1], (
            f"pages of {page_size} must list the newest {len(created)} tasks, this run's, newest first: {ids}"
        )


def test_every_file_an_answer_points_at_downloads(http: SuiteSession, opened: Session, voiced: dict[str, Any]) -> None:
    """Each `face_image`, video `url`, `watermark_url` and the parent video's `url` answers 200, without the API's
    Authorization header, with the content type its extension says (docs/contract.md, "What real clients rely on")."""
    urls = [face["face_image"] for face in opened.faces if isinstance(face.get("face_image"), str)]
    urls += lip_sync.urls_of(voiced)
    problems = [problem for url in urls if (problem := lip_sync.download_problem(http, url))]
    assert not problems, "downloads that fail: " + "; ".join(problems)


def test_the_older_endpoint_takes_the_seeds_request_and_ends_with_videos(http: SuiteSession) -> None:
    """docs/contract.md, "The older lip-sync endpoint": the seed page's request creates a task that ends with videos,
    which download."""
    request = next(
        iter(
            target.spec.document["paths"][_LIP_SYNC]["post"]["requestBody"]["content"]["application/json"][
                "examples"
            ].values()
        )
    )["value"]
    status, body = send(http, "POST", _LIP_SYNC, headers=_HEADERS, json=request)
    assert status == 200, body
    assert body["data"]["task_status"] == "submitted", body
    task = _ended(http, _LIP_SYNC, body["data"]["task_id"])
    lip_sync.videos(task)
    problems = [problem for url in lip_sync.urls_of(task) if (problem := lip_sync.download_problem(http, url))]
    assert not problems, "downloads that fail: " + "; ".join(problems)
