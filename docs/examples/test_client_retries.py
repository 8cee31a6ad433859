"""A client's retry logic, tested with the kit's pytest plugin: `pytest docs/examples/test_client_retries.py`."""

import time

import httpx
import pytest

from mock_server.client.pytest_plugin import KlingMock

CREATE = "/kling/v1/videos/identify-face"
BODY = {
    "input": {
        "video_url": "https://example.com/faces-2.mp4",
        "mode": "audio2video",
        "audio_type": "url",
        "audio_url": "https://example.com/voice.mp3",
    }
}


def create_task(kling: httpx.Client, attempts: int = 3) -> str:
    """The client under test: creates a task, waiting as `Retry-After` says when rate-limited."""
    for _ in range(attempts):
        response = kling.post(CREATE, json=BODY)
        if response.status_code != 429:
            break
        time.sleep(float(response.headers.get("Retry-After", "1")))
    response.raise_for_status()
    return str(response.json()["data"]["task_id"])


def test_create_task_rides_out_a_rate_limit(kling_mock: KlingMock) -> None:
    kling_mock.scenario(name="rate-limited", code=1302, retry_after=1, times=2)
    with httpx.Client(base_url=kling_mock.base_url, headers=kling_mock.headers) as kling:
        task_id = create_task(kling)
    assert [entry["response"]["status"] for entry in kling_mock.journal()] == [429, 429, 200]
    assert [task["task_id"] for task in kling_mock.tasks()] == [task_id]
    kling_mock.assert_conformant()  # the 429s were the scenario's doing, not held against the client


def test_create_task_gives_up_after_its_attempts(kling_mock: KlingMock) -> None:
    # Every create refused, until the block ends.
    with (
        kling_mock.scenario(code=1302, retry_after=0),
        httpx.Client(base_url=kling_mock.base_url, headers=kling_mock.headers) as kling,
        pytest.raises(httpx.HTTPStatusError),
    ):
        create_task(kling)
    assert len(kling_mock.journal(code=1302)) == 3
