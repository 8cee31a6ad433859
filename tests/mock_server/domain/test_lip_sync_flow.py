"""Kling's lip-sync flow over real HTTP, as its clients run it: identify-face, advanced lip-sync, poll, download.

The docs' client (docs/examples/lip_sync_flow.py) completes the flow on Kling's own paths with a JWT and on the
aggregators' `/kling` paths with a static key, and `kling-mock verify` passes it. Each rule of advanced lip-sync's
create (docs/contract.md, "Advanced lip-sync") broken alone is 400/1201 naming its field, and verify names it. The
older lip-sync endpoint takes the seed page's request; identify-face on Kling's path says where that request goes.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from mock_server.client.process import MockProcess
from tests.support import SEED_EXAMPLE
from tests.support.lip_sync import (
    ACCESS_KEY,
    OTHER_KEY,
    SECRET_KEY,
    STATIC_KEY,
    VIDEO_MS,
    advance_clock,
    bearer,
    envelope,
    findings,
    flow_mock,
    follow,
    kling_jwt,
    longest_face,
    open_session,
    reset,
    run_docs_client,
    valid_request,
    verify,
    wav_base64,
)

ADVANCED = "/v1/videos/advanced-lip-sync"
LIP_SYNC = "/v1/videos/lip-sync"
SESSION_LIFETIME_MS = 24 * 60 * 60 * 1000


@pytest.fixture(scope="module")
def mock() -> Iterator[MockProcess]:
    with flow_mock() as server:
        yield server


@pytest.fixture
def http(mock: MockProcess) -> Iterator[httpx.Client]:
    """Team A, with its static key, on a fresh journal."""
    reset(mock)
    with httpx.Client(base_url=mock.base_url, headers=bearer(STATIC_KEY), timeout=30) as client:
        yield client


def _paths_served(mock: MockProcess, since: int) -> list[tuple[str, str, int]]:
    """(method, path, status) of each request of the access log from its line `since` on."""
    lines = [json.loads(line) for line in mock.access_log[since:] if line.startswith("{")]
    return [(line["method"], line["path"], line["status"]) for line in lines]


# The docs' client, end to end.


@pytest.mark.parametrize(
    ("prefix", "auth"),
    [("", ("--access-key", ACCESS_KEY, "--secret-key", SECRET_KEY)), ("/kling", ("--key", STATIC_KEY))],
    ids=["kling-paths-with-a-jwt", "aggregator-paths-with-a-static-key"],
)
def test_the_docs_client_completes_the_flow_and_verify_passes_it(
    mock: MockProcess, tmp_path: Path, prefix: str, auth: tuple[str, ...]
) -> None:
    reset(mock)
    seen = len(mock.access_log)
    done = run_docs_client(mock.base_url + prefix, tmp_path, *auth)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "succeed" in done.stdout
    [video] = tmp_path.glob("lip-sync-*.mp4")
    [face] = tmp_path.glob("face-*.png")
    assert video.stat().st_size > 1000 and face.stat().st_size > 100

    served = _paths_served(mock, seen)
    kling_calls = [(method, path) for method, path, status in served if "/videos/" in path]
    assert ("POST", f"{prefix}/v1/videos/identify-face") in kling_calls
    assert ("POST", f"{prefix}{ADVANCED}") in kling_calls
    polls = [path for method, path in kling_calls if method == "GET" and path.startswith(f"{prefix}{ADVANCED}/")]
    assert len(polls) >= 2  # submitted -> processing -> succeed, one step a poll
    assert all(status == 200 for _, path, status in served if "/videos/" in path)

    status, report = verify(mock.base_url)
    assert report["rules"] == [] and report["passed"] is True, json.dumps(report["rules"], indent=2)
    assert status == 0
    assert report["totals"]["judged"] >= 4 and report["totals"]["clean"] == report["totals"]["judged"]


def test_a_jwt_caller_is_its_access_key_whatever_the_token(mock: MockProcess) -> None:
    """Kling's JWTs are minted anew every half hour: the caller is the access key, not one token."""
    with httpx.Client(base_url=mock.base_url, timeout=30) as client:
        client.headers.update(bearer(kling_jwt()))
        session = open_session(client)
        renewed = client.post(ADVANCED, json=valid_request(session), headers=bearer(kling_jwt(lifetime_s=1700)))
        assert envelope(renewed)[:2] == (200, 0)
        foreign = client.post(ADVANCED, json=valid_request(session), headers=bearer(STATIC_KEY))
        assert envelope(foreign)[:2] == (400, 1201)


def test_the_task_s_answers_are_kling_s_shapes(http: httpx.Client) -> None:
    session = open_session(http)
    created = http.post(ADVANCED, json={**valid_request(session), "external_task_id": "", "callback_url": ""})
    assert envelope(created)[:2] == (200, 0), created.text
    data = created.json()["data"]
    assert data["task_status"] == "submitted" and data["task_info"]["external_task_id"] == ""
    assert data["created_at"] == data["updated_at"] > 10**12
    task = follow(http, ADVANCED, data["task_id"])
    assert task["task_status"] == "succeed"
    [video] = task["task_result"]["videos"]
    assert isinstance(video["duration"], str) and float(video["duration"]) == VIDEO_MS / 1000
    assert "watermark_url" not in video
    parent = task["task_info"]["parent_video"]
    assert isinstance(parent["duration"], str) and parent["url"].startswith(http.base_url.scheme + "://")
    listed = http.get(ADVANCED, params={"pageNum": 1, "pageSize": 5}).json()["data"]
    assert listed[0]["task_id"] == data["task_id"]


# Each rule of the create, broken alone: 400/1201 naming the field, and verify naming the rule.

Case = Callable[[dict[str, Any]], dict[str, Any]]


def _choice(session: dict[str, Any], **changes: Any) -> dict[str, Any]:
    """A valid request with a clip of exactly 2 s at the longest face's start, then `changes` to its choice."""
    face = longest_face(session)
    base = valid_request(session, sound_end_time=2000, sound_insert_time=face["start_time"])
    entry = {**base["face_choose"][0], **changes}
    return {**base, "face_choose": [{key: value for key, value in entry.items() if value is not None}]}


def _overlapping_the_face_by(session: dict[str, Any], overlap: int) -> dict[str, Any]:
    """A 2 s clip overlapping the face's window by `overlap` ms, inside the video: after the window's start if it
    fits, else before."""
    face = longest_face(session)
    insert = face["end_time"] - overlap
    if insert + 2000 > VIDEO_MS:
        insert = face["start_time"] - (2000 - overlap)
    assert insert >= 0 and insert + 2000 <= VIDEO_MS
    return _choice(session, sound_insert_time=insert)


def _outside_the_face(session: dict[str, Any]) -> dict[str, Any]:
    return _overlapping_the_face_by(session, 1999)


RULES: dict[str, tuple[Case, str, str]] = {
    # id: (the request, the field path, the rule)
    "unknown-session": (
        lambda session: {**_choice(session), "session_id": "NoSuchSession000000000"},
        "session_id",
        "session",
    ),
    "no-session": (lambda session: {"face_choose": _choice(session)["face_choose"]}, "session_id", "required"),
    "face-not-in-the-session": (lambda session: _choice(session, face_id="7"), "face_choose[0].face_id", "face"),
    "no-face-choice": (lambda session: {**_choice(session), "face_choose": []}, "face_choose", "minItems"),
    "two-face-choices": (
        lambda session: {**_choice(session), "face_choose": _choice(session)["face_choose"] * 2},
        "face_choose",
        "maxItems",
    ),
    "no-face-id": (lambda session: _choice(session, face_id=None), "face_choose[0].face_id", "required"),
    "both-audio-sources": (lambda session: _choice(session, audio_id="voice-6s"), "face_choose[0]", "audio-source"),
    "no-audio-source": (lambda session: _choice(session, sound_file=None), "face_choose[0]", "audio-source"),
    "sound-file-with-a-data-prefix": (
        lambda session: _choice(session, sound_file="data:audio/wav;base64," + wav_base64(3000)),
        "face_choose[0].sound_file",
        "anyOf",
    ),
    "sound-file-not-audio": (
        lambda session: _choice(session, sound_file=base64.b64encode(b"plain text, no audio").decode()),
        "face_choose[0].sound_file",
        "audio",
    ),
    "audio-under-2s": (
        lambda session: _choice(session, sound_file=wav_base64(1500)),
        "face_choose[0].sound_file",
        "audio",
    ),
    "audio-over-60s": (
        lambda session: _choice(session, sound_file=wav_base64(61_000)),
        "face_choose[0].sound_file",
        "audio",
    ),
    "audio-id-over-60s": (
        lambda session: _choice(session, sound_file=None, audio_id="voice-61s"),
        "face_choose[0].audio_id",
        "audio",
    ),
    "start-below-0": (
        lambda session: _choice(session, sound_start_time=-1),
        "face_choose[0].sound_start_time",
        "minimum",
    ),
    "clip-under-2s": (
        lambda session: _choice(session, sound_end_time=1999),
        "face_choose[0].sound_end_time",
        "clip-length",
    ),
    "clip-past-the-audio": (
        lambda session: _choice(session, sound_file=wav_base64(3000), sound_start_time=1001, sound_end_time=3001),
        "face_choose[0].sound_end_time",
        "clip-past-audio",
    ),
    "times-not-integers": (
        lambda session: _choice(session, sound_end_time=2000.5),
        "face_choose[0].sound_end_time",
        "type",
    ),
    "insert-below-0": (
        lambda session: _choice(session, sound_insert_time=-1),
        "face_choose[0].sound_insert_time",
        "minimum",
    ),
    "insert-past-the-video": (
        lambda session: _choice(session, sound_insert_time=VIDEO_MS - 1999),
        "face_choose[0].sound_insert_time",
        "insert-past-video",
    ),
    "insert-outside-the-face": (_outside_the_face, "face_choose[0].sound_insert_time", "insert-outside-face"),
    "volume-over-2": (lambda session: _choice(session, sound_volume=2.5), "face_choose[0].sound_volume", "maximum"),
    "original-volume-below-0": (
        lambda session: _choice(session, original_audio_volume=-0.1),
        "face_choose[0].original_audio_volume",
        "minimum",
    ),
    "watermark-not-a-boolean": (
        lambda session: {**_choice(session), "watermark_info": {"enabled": "yes"}},
        "watermark_info.enabled",
        "type",
    ),
    "callback-not-a-url": (
        lambda session: {**_choice(session), "callback_url": "ftp://example.com/hook"},
        "callback_url",
        "anyOf",
    ),
}


def test_the_requests_the_cases_change_are_valid(mock: MockProcess, http: httpx.Client) -> None:
    """Each case changes one thing of a request verify passes: a 2 s clip, and one overlapping the face by 2 s."""
    session = open_session(http)
    for request in (_choice(session), _overlapping_the_face_by(session, 2000)):
        assert envelope(http.post(ADVANCED, json=request))[:2] == (200, 0)
    assert verify(mock.base_url)[1]["rules"] == []


@pytest.mark.parametrize(("case", "path", "rule"), RULES.values(), ids=RULES.keys())
def test_each_rule_broken_alone_is_named(
    mock: MockProcess, http: httpx.Client, case: Case, path: str, rule: str
) -> None:
    session = open_session(http)
    status, code, message = envelope(http.post(ADVANCED, json=case(session)))
    assert (status, code) == (400, 1201), message
    assert message.startswith(f"{path}: "), message

    exit_status, report = verify(mock.base_url)
    assert exit_status == 1
    assert findings(report) == {("error", rule): {path}}, json.dumps(report["rules"], indent=2)


def test_another_caller_s_session_is_refused_as_an_unknown_one(mock: MockProcess, http: httpx.Client) -> None:
    session = open_session(http)
    with httpx.Client(base_url=mock.base_url, headers=bearer(OTHER_KEY), timeout=30) as other:
        foreign = envelope(other.post(ADVANCED, json=valid_request(session)))
        unknown = envelope(
            other.post(ADVANCED, json={**valid_request(session), "session_id": "NoSuchSession000000000"})
        )
    assert foreign[:2] == (400, 1201) and foreign[2].startswith("session_id: ")
    assert foreign == unknown, "never telling which"
    assert findings(verify(mock.base_url)[1]) == {("error", "session"): {"session_id"}}
    # Its owner still can.
    assert envelope(http.post(ADVANCED, json=valid_request(session)))[:2] == (200, 0)


def test_a_session_expires_after_24_hours_on_the_mock_s_clock(mock: MockProcess, http: httpx.Client) -> None:
    session = open_session(http)
    request = valid_request(session)
    advance_clock(mock, SESSION_LIFETIME_MS - 60_000)
    assert envelope(http.post(ADVANCED, json=request))[:2] == (200, 0), "still open a minute before its end"
    advance_clock(mock, 60_000)
    status, code, message = envelope(http.post(ADVANCED, json=request))
    assert (status, code) == (400, 1201) and message.startswith("session_id: "), message
    reset(mock)
    envelope(http.post(ADVANCED, json=request))
    assert findings(verify(mock.base_url)[1]) == {("error", "session"): {"session_id"}}
    # Its face images went with it; a new session works at once.
    assert httpx.get(longest_face(session)["face_image"], timeout=30).status_code == 404
    assert envelope(http.post(ADVANCED, json=valid_request(open_session(http))))[:2] == (200, 0)


def test_external_task_id_is_unique_per_caller(mock: MockProcess, http: httpx.Client) -> None:
    session = open_session(http)
    request = {**valid_request(session), "external_task_id": "order-42"}
    first = http.post(ADVANCED, json=request)
    assert envelope(first)[:2] == (200, 0)
    assert first.json()["data"]["task_info"]["external_task_id"] == "order-42"
    status, code, message = envelope(http.post(ADVANCED, json=request))
    assert (status, code) == (400, 1201) and message.startswith("external_task_id: "), message
    with httpx.Client(base_url=mock.base_url, headers=bearer(OTHER_KEY), timeout=30) as other:
        theirs = open_session(other)
        assert envelope(other.post(ADVANCED, json={**valid_request(theirs), "external_task_id": "order-42"}))[:2] == (
            200,
            0,
        )
    reset(mock)
    http.post(ADVANCED, json=request)
    assert findings(verify(mock.base_url)[1]) == {("error", "external-task-id-taken"): {"external_task_id"}}


def test_a_failing_audio_marker_fails_the_task(http: httpx.Client) -> None:
    session = open_session(http)
    request = _choice(session, sound_file="https://example.com/no-speech-6s.mp3")
    created = http.post(ADVANCED, json=request)
    assert envelope(created)[:2] == (200, 0), created.text
    task = follow(http, ADVANCED, created.json()["data"]["task_id"])
    assert task["task_status"] == "failed" and "no speech" in task["task_status_msg"]
    assert "task_result" not in task or not task["task_result"].get("videos")


# Paths.


@pytest.mark.parametrize(
    ("method", "wrong", "right"),
    [
        ("POST", "/v1/videos/Identify-face", "/v1/videos/identify-face"),
        ("POST", "/v1/videos/advanced-lip-sync/", "/v1/videos/advanced-lip-sync"),
        ("POST", "/kling/v1/videos/Advanced-Lip-Sync", "/kling/v1/videos/advanced-lip-sync"),
        (
            "GET",
            "/kling/v1/videos/advanced-lip-sync/SomeTask0000000000000/",
            "/kling/v1/videos/advanced-lip-sync/SomeTask0000000000000",
        ),
        ("POST", "/v1/videos/LIP-SYNC", "/v1/videos/lip-sync"),
    ],
    ids=["case", "trailing-slash", "case-under-kling", "task-with-trailing-slash", "upper-case"],
)
def test_a_path_wrong_by_case_or_a_slash_names_the_right_one(
    mock: MockProcess, http: httpx.Client, method: str, wrong: str, right: str
) -> None:
    status, code, message = envelope(http.request(method, wrong, json={"video_url": "https://example.com/a.mp4"}))
    assert (status, code) == (404, 1203)
    assert f"Kling's path is {right} " in message, message
    assert findings(verify(mock.base_url)[1]) == {("error", "path-spelling"): {"path"}}


# The older lip-sync endpoint, and the seed's request where it does not belong.


def test_the_seed_s_request_at_the_older_lip_sync_endpoint_ends_with_videos(mock: MockProcess) -> None:
    reset(mock)
    for prefix in ("", "/kling"):
        with httpx.Client(base_url=mock.base_url + prefix, headers=bearer(STATIC_KEY), timeout=30) as http:
            created = http.post(LIP_SYNC, json=SEED_EXAMPLE)
            assert envelope(created)[:2] == (200, 0), created.text
            assert created.json()["data"]["task_status"] == "submitted"
            task = follow(http, LIP_SYNC, created.json()["data"]["task_id"], interval=1.0)
            assert task["task_status"] == "succeed"
            [video] = task["task_result"]["videos"]
            assert isinstance(video["duration"], str) and float(video["duration"]) > 0
            assert video["url"].startswith(f"{mock.base_url}{prefix}/files/videos/")
            assert httpx.get(video["url"], timeout=30).headers["content-type"] == "video/mp4"
            assert (
                http.get(LIP_SYNC, params={"pageNum": 1, "pageSize": 1}).json()["data"][0]["task_id"] == task["task_id"]
            )
    status, report = verify(mock.base_url)
    assert report["rules"] == [] and status == 0, json.dumps(report["rules"], indent=2)


def test_the_seed_s_request_at_identify_face_on_kling_s_path_is_told_where_it_goes(mock: MockProcess) -> None:
    reset(mock)
    with httpx.Client(base_url=mock.base_url, headers=bearer(STATIC_KEY), timeout=30) as http:
        status, code, message = envelope(http.post("/v1/videos/identify-face", json=SEED_EXAMPLE))
    assert (status, code) == (400, 1201)
    # The first field it does not take, and the endpoint that does, come first; then what identify-face wants.
    assert message.startswith("input: not a field of this request; POST /v1/videos/lip-sync takes it; "), message
    assert "body: video_id or video_url is required at the top level" in message, message
    assert findings(verify(mock.base_url)[1]) == {
        ("error", "wrong-endpoint"): {"input"},
        ("error", "video-source"): {"body"},
        ("warning", "unknown-field"): {"input"},
    }


def test_the_kling_prefix_answers_each_body_in_its_dialect(mock: MockProcess) -> None:
    with httpx.Client(base_url=mock.base_url + "/kling", headers=bearer(STATIC_KEY), timeout=30) as http:
        seed = http.post("/v1/videos/identify-face", json=SEED_EXAMPLE)
        assert envelope(seed)[:2] == (200, 0)
        assert seed.json()["data"]["task_status"] == "submitted"
        task = follow(http, "/v1/videos/identify-face", seed.json()["data"]["task_id"])
        assert task["task_status"] == "succeed" and task["task_result"]["face_data"]
        # The documented task's session feeds advanced lip-sync too.
        session = task["task_result"]
        assert envelope(http.post(ADVANCED, json=valid_request(session)))[:2] == (200, 0)

        at_once = http.post("/v1/videos/identify-face", json={"video_url": "https://example.com/videos/a.mp4"})
        assert envelope(at_once)[:2] == (200, 0)
        assert "task_id" not in at_once.json()["data"] and at_once.json()["data"]["face_data"]
