"""Following a task over real HTTP, as a client does: create, poll with backoff, read the faces."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from mock_server.client.process import MockProcess
from tests.support import CREATE_PATH

STATUS_ORDER = {"submitted": 0, "processing": 1, "succeed": 2, "failed": 2}


def _audio_task(video_url: str) -> dict[str, Any]:
    return {
        "input": {
            "video_url": video_url,
            "mode": "audio2video",
            "audio_type": "url",
            "audio_url": "https://example.com/voice.mp3",
        }
    }


@pytest.fixture(scope="module")
def instant_mock() -> Iterator[MockProcess]:
    """Each poll advances a task one step: no waiting in tests."""
    with MockProcess("--tick-ms", "0") as mock:
        yield mock


def _client(mock: MockProcess, token: str) -> httpx.Client:
    return httpx.Client(base_url=mock.base_url, headers={"Authorization": f"Bearer {token}"}, timeout=30)


def run_client_loop(http: httpx.Client, request: dict[str, Any], max_polls: int = 50) -> list[dict[str, Any]]:
    """What a real client does: create, then poll with exponential backoff until the task is finished."""
    created = http.post(CREATE_PATH, json=request).json()
    assert created["code"] == 0, created
    task_id = created["data"]["task_id"]
    seen = [created["data"]]
    delay = 0.01
    for _ in range(max_polls):
        answer = http.get(f"{CREATE_PATH}/{task_id}").json()
        assert answer["code"] == 0, answer
        seen.append(answer["data"])
        if answer["data"]["task_status"] in ("succeed", "failed"):
            return seen
        time.sleep(delay)
        delay = min(delay * 2, 0.2)
    raise AssertionError(f"task {task_id} never finished: {seen[-1]}")


def _assert_moves_forward(seen: list[dict[str, Any]]) -> None:
    ranks = [STATUS_ORDER[data["task_status"]] for data in seen]
    assert ranks == sorted(ranks), [data["task_status"] for data in seen]
    assert all(data["updated_at"] >= data["created_at"] for data in seen)
    assert [d["updated_at"] for d in seen] == sorted(d["updated_at"] for d in seen)


@pytest.mark.parametrize(
    ("video_url", "faces"), [("https://example.com/talk.mp4", 1), ("https://example.com/faces-3.mp4", 3)]
)
def test_client_loop_reads_the_faces(instant_mock: MockProcess, video_url: str, faces: int) -> None:
    with _client(instant_mock, "loop-token") as http:
        seen = run_client_loop(http, _audio_task(video_url))
    _assert_moves_forward(seen)
    assert [d["task_status"] for d in seen] == ["submitted", "processing", "succeed"]
    result = seen[-1]["task_result"]
    assert result["session_id"]
    assert [face["face_id"] for face in result["face_data"]] == [str(i) for i in range(faces)]
    for face in result["face_data"]:
        assert 0 <= face["start_time"] <= face["end_time"]
        # Downloadable from the mock itself, at the address and prefix the client used.
        assert face["face_image"].startswith(f"{instant_mock.base_url}/kling/files/faces/")
        assert face["face_image"].endswith(".png")


@pytest.mark.parametrize(
    ("video_url", "message"),
    [("https://example.com/no-face.mp4", "no face"), ("https://example.com/too-long.mp4", "longer than")],
)
def test_client_loop_sees_a_failure_with_its_reason(instant_mock: MockProcess, video_url: str, message: str) -> None:
    with _client(instant_mock, "loop-token") as http:
        seen = run_client_loop(http, _audio_task(video_url))
    _assert_moves_forward(seen)
    final = seen[-1]
    assert final["task_status"] == "failed"
    assert message in final["task_status_msg"]
    assert "task_result" not in final


def test_time_drives_the_lifecycle_when_ticking() -> None:
    with MockProcess("--tick-ms", "100") as mock, _client(mock, "tick-token") as http:
        seen = run_client_loop(http, _audio_task("https://example.com/talk.mp4"), max_polls=200)
    _assert_moves_forward(seen)
    assert seen[-1]["task_status"] == "succeed"
    assert seen[-1]["updated_at"] == seen[-1]["created_at"] + 200


def test_a_task_belongs_to_its_creator(instant_mock: MockProcess) -> None:
    with _client(instant_mock, "owner-a") as owner, _client(instant_mock, "owner-b") as other:
        task_id = owner.post(CREATE_PATH, json=_audio_task("https://example.com/a.mp4")).json()["data"]["task_id"]
        foreign = other.get(f"{CREATE_PATH}/{task_id}")
        assert (foreign.status_code, foreign.json()["code"]) == (404, 1203)
        assert task_id not in [t["task_id"] for t in other.get(CREATE_PATH, params={"pageSize": 500}).json()["data"]]
        assert owner.get(f"{CREATE_PATH}/{task_id}").json()["data"]["task_id"] == task_id


def test_unknown_task_is_404_1203(instant_mock: MockProcess) -> None:
    with _client(instant_mock, "anyone") as http:
        response = http.get(f"{CREATE_PATH}/AAAAAAAAAAAAAAAAAAAAAA")
    assert (response.status_code, response.json()["code"]) == (404, 1203)


def test_list_pages_are_newest_first_and_neither_repeat_nor_skip(instant_mock: MockProcess) -> None:
    with _client(instant_mock, "lister") as http:
        created = [
            http.post(CREATE_PATH, json=_audio_task(f"https://example.com/{i}.mp4")).json()["data"]["task_id"]
            for i in range(7)
        ]
        pages = [http.get(CREATE_PATH, params={"pageNum": n, "pageSize": 3}).json()["data"] for n in (1, 2, 3, 4)]
        default_page = http.get(CREATE_PATH).json()["data"]
    assert [len(page) for page in pages] == [3, 3, 1, 0]
    assert [task["task_id"] for page in pages for task in page] == created[::-1]
    assert [task["task_id"] for task in default_page] == created[::-1]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"pageNum": 0}, "pageNum"),
        ({"pageNum": 1001}, "pageNum"),
        ({"pageSize": 501}, "pageSize"),
        ({"pageSize": "x"}, "pageSize"),
    ],
)
def test_list_parameters_out_of_range_are_400_1201(
    instant_mock: MockProcess, params: dict[str, Any], field: str
) -> None:
    with _client(instant_mock, "lister") as http:
        response = http.get(CREATE_PATH, params=params)
    assert (response.status_code, response.json()["code"]) == (400, 1201)
    assert response.json()["message"].startswith(f"query.{field}: ")


def test_same_seed_same_requests_same_answers() -> None:
    def session() -> list[Any]:
        # One public URL for both: results' URLs would otherwise differ by the port each mock happened to get.
        args = ("--seed", "42", "--tick-ms", "0", "--public-url", "http://kling-mock.test:8000")
        with MockProcess(*args) as mock, _client(mock, "seeded") as http:
            answers = []
            for video in ("https://example.com/faces-2.mp4", "https://example.com/no-face.mp4"):
                created = http.post(CREATE_PATH, json=_audio_task(video)).json()
                task_id = created["data"]["task_id"]
                polls = [http.get(f"{CREATE_PATH}/{task_id}").json() for _ in range(2)]
                answers.append(
                    (created["request_id"], task_id, [(p["request_id"], p["data"].get("task_result")) for p in polls])
                )
            return answers

    assert session() == session()
