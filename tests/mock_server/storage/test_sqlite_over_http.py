"""`kling-mock serve --state FILE` over real HTTP: tasks, sessions and lip-sync tasks survive a restart, and SIGTERM
loses nothing acknowledged."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

from mock_server.cli import main
from mock_server.client.process import MockProcess
from tests.support import CREATE_PATH, SEED_EXAMPLE
from tests.support.lip_sync import follow, open_session, valid_request

STATUS_ORDER = {"submitted": 0, "processing": 1, "succeed": 2, "failed": 2}
TOKENS = ("state-alice", "state-bob", "state-carol")
PUBLIC_URL = "http://kling-mock.test:8000"
ADVANCED_PATH = "/v1/videos/advanced-lip-sync"
VIDEOS = ("https://example.com/talk.mp4", "https://example.com/faces-3.mp4", "https://example.com/no-face.mp4")


def _client(mock: MockProcess, token: str) -> httpx.Client:
    return httpx.Client(base_url=mock.base_url, headers={"Authorization": f"Bearer {token}"}, timeout=30)


def _request(video_url: str) -> dict[str, Any]:
    return {"input": {**SEED_EXAMPLE["input"], "video_url": video_url}}


def _listed(mock: MockProcess) -> dict[str, list[dict[str, Any]]]:
    """Every owner's tasks as the list returns them (listing never advances a task)."""
    lists = {}
    for token in TOKENS:
        with _client(mock, token) as http:
            answer = http.get(CREATE_PATH, params={"pageNum": 1, "pageSize": 500}).json()
        assert answer["code"] == 0, answer
        lists[token] = answer["data"]
    return lists


def _assert_stopped_cleanly(mock: MockProcess, state: Path) -> None:
    assert mock.stop() in (0, -signal.SIGTERM), "".join(mock.stderr_lines)
    assert not any("Traceback" in line for line in mock.stderr_lines), "".join(mock.stderr_lines)
    # The last connection's clean close checkpoints the write-ahead log into the file and removes it.
    assert not state.with_name(state.name + "-wal").exists()


@pytest.mark.parametrize("tick_ms", ["0", "1000"])
def test_tasks_survive_a_restart(tmp_path: Path, tick_ms: str) -> None:
    state = tmp_path / "state.db"
    # Both runs give results the same public URL: each would otherwise show the port it happened to get.
    args = ("--tick-ms", tick_ms, "--state", str(state), "--public-url", PUBLIC_URL)
    with MockProcess(*args) as mock:
        for owner_index, token in enumerate(TOKENS):
            with _client(mock, token) as http:
                for task_index in range(4):
                    created = http.post(CREATE_PATH, json=_request(VIDEOS[(owner_index + task_index) % 3])).json()
                    assert created["code"] == 0, created
                    for _ in range(task_index):  # with --tick-ms 0, tasks stored at every step
                        assert http.get(f"{CREATE_PATH}/{created['data']['task_id']}").json()["code"] == 0
        before = _listed(mock)
        _assert_stopped_cleanly(mock, state)
    assert all(len(tasks) == 4 for tasks in before.values())

    with MockProcess(*args) as again:
        after = _listed(again)
        if tick_ms == "0":  # nothing moves unless polled: the lists are exactly as they were
            assert after == before
        for token in TOKENS:
            assert [task["task_id"] for task in after[token]] == [task["task_id"] for task in before[token]]
            with _client(again, token) as http:
                for old in before[token]:
                    answer = http.get(f"{CREATE_PATH}/{old['task_id']}").json()
                    assert answer["code"] == 0, answer
                    new = answer["data"]
                    assert new["created_at"] == old["created_at"]
                    assert STATUS_ORDER[new["task_status"]] >= STATUS_ORDER[old["task_status"]]
                    assert new["updated_at"] >= old["updated_at"]
        # Ownership survives too: another caller still cannot see the tasks.
        with _client(again, "state-mallory") as http:
            stranger = http.get(f"{CREATE_PATH}/{before[TOKENS[0]][0]['task_id']}").json()
            assert stranger["code"] == 1203, stranger
        _assert_stopped_cleanly(again, state)


async def _burst_then_sigterm(
    mock: MockProcess, creates: int, stop_after: int, connections: int = 50
) -> list[tuple[str, dict[str, Any]]]:
    """Fire `creates` concurrent creates; once `stop_after` of them are answered, SIGTERM the mock.

    Over fewer connections than creates, so that at the signal some creates are mid-request (the
    server finishes them) and others still queued (the server is closing: they are cut off).
    """
    acknowledged: list[tuple[str, dict[str, Any]]] = []
    answered = 0
    stopping: asyncio.Future[int] | None = None
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    async with httpx.AsyncClient(base_url=mock.base_url, timeout=30, limits=limits) as http:

        async def create(index: int) -> None:
            nonlocal answered, stopping
            token = TOKENS[index % len(TOKENS)]
            try:
                response = await http.post(
                    CREATE_PATH, json=_request(VIDEOS[index % 3]), headers={"Authorization": f"Bearer {token}"}
                )
            except httpx.TransportError:
                return  # cut off by the shutdown: never acknowledged
            if response.status_code == 200:
                acknowledged.append((token, response.json()["data"]))
            answered += 1
            if answered == stop_after:
                # stop() sends SIGTERM and waits for the exit; the other creates go on meanwhile.
                stopping = asyncio.get_running_loop().run_in_executor(None, mock.stop)

        await asyncio.gather(*(create(index) for index in range(creates)))
    assert stopping is not None
    await stopping
    return acknowledged


def test_sigterm_during_a_burst_loses_no_acknowledged_task(tmp_path: Path) -> None:
    state = tmp_path / "state.db"
    with MockProcess("--state", str(state)) as mock:
        acknowledged = asyncio.run(_burst_then_sigterm(mock, creates=200, stop_after=20))
        _assert_stopped_cleanly(mock, state)
    assert len(acknowledged) >= 20

    with MockProcess("--state", str(state)) as again:
        for token in TOKENS:
            with _client(again, token) as http:
                mine = [data for owner, data in acknowledged if owner == token]
                for data in mine:
                    answer = http.get(f"{CREATE_PATH}/{data['task_id']}").json()
                    assert answer["code"] == 0, answer
                    assert answer["data"]["created_at"] == data["created_at"]
                listed = http.get(CREATE_PATH, params={"pageNum": 1, "pageSize": 500}).json()["data"]
                assert {data["task_id"] for data in mine} <= {task["task_id"] for task in listed}


def test_seed_and_state_are_refused_together(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A seeded mock repeats its task ids at each start; with a state file the second start would collide."""
    assert main(["serve", "--seed", "1", "--state", str(tmp_path / "state.db")]) == 2
    assert "--seed and --state" in capsys.readouterr().err
    assert not (tmp_path / "state.db").exists()


def test_a_state_file_that_is_not_one_is_refused(tmp_path: Path) -> None:
    state = tmp_path / "state.db"
    state.write_bytes(b"these bytes are not a SQLite database" * 100)
    command = [sys.executable, "-m", "mock_server", "serve", "--port", "0", "--state", str(state)]
    finished = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
    assert finished.returncode == 2, finished.stderr
    assert f"cannot use {state} as the state file" in finished.stderr


def _downloaded(mock: MockProcess, url: str) -> httpx.Response:
    """A result's URL fetched from `mock` itself: the URLs carry the public address both runs were given."""
    assert url.startswith(PUBLIC_URL), url
    return httpx.get(mock.base_url + url.removeprefix(PUBLIC_URL), timeout=30)


def test_sessions_and_lip_sync_tasks_survive_a_restart(tmp_path: Path) -> None:
    state = tmp_path / "state.db"
    args = ("--tick-ms", "0", "--state", str(state), "--public-url", PUBLIC_URL)
    owner, stranger = TOKENS[0], TOKENS[1]
    with MockProcess(*args) as mock, _client(mock, owner) as http:
        session = open_session(http)
        pending = http.post(ADVANCED_PATH, json=valid_request(session))
        assert pending.status_code == 200, pending.text
        finished = http.post(ADVANCED_PATH, json=valid_request(session))
        assert finished.status_code == 200, finished.text
        done = follow(http, ADVANCED_PATH, finished.json()["data"]["task_id"])
        assert done["task_status"] == "succeed", done
        before = http.get(ADVANCED_PATH, params={"pageSize": 500}).json()["data"]
        _assert_stopped_cleanly(mock, state)
    assert [task["task_id"] for task in before] == [
        finished.json()["data"]["task_id"],
        pending.json()["data"]["task_id"],
    ]

    with MockProcess(*args) as again:
        with _client(again, owner) as http:
            # The tasks as they were (nothing moves unless polled), the finished one's video still there.
            assert http.get(ADVANCED_PATH, params={"pageSize": 500}).json()["data"] == before
            assert http.get(f"{ADVANCED_PATH}/{done['task_id']}").json()["data"] == done
            video = _downloaded(again, done["task_result"]["videos"][0]["url"])
            assert (video.status_code, video.headers["content-type"]) == (200, "video/mp4")
            assert video.content[4:8] == b"ftyp"
            assert follow(http, ADVANCED_PATH, before[1]["task_id"])["task_status"] == "succeed"
            # The session is still open, with its faces: lip-synced again, its pictures downloadable.
            again_created = http.post(ADVANCED_PATH, json=valid_request(session))
            assert again_created.status_code == 200, again_created.text
            for face in session["face_data"]:
                picture = _downloaded(again, face["face_image"])
                assert (picture.status_code, picture.content[:8]) == (200, b"\x89PNG\r\n\x1a\n")
            unknown_face = http.post(ADVANCED_PATH, json=valid_request(session, face_id="99"))
            assert (unknown_face.status_code, unknown_face.json()["code"]) == (400, 1201)
            assert unknown_face.json()["message"].startswith("face_choose[0].face_id: "), unknown_face.json()
        # Still its owner's alone.
        with _client(again, stranger) as http:
            foreign = http.post(ADVANCED_PATH, json=valid_request(session))
            assert (foreign.status_code, foreign.json()["code"]) == (400, 1201)
            assert foreign.json()["message"].startswith("session_id: ")
        _assert_stopped_cleanly(again, state)
