"""Callbacks over real HTTP: the mock POSTs the task to a receiver on loopback at each status change."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest

from mock_server.client.process import MockProcess
from tests.support import CREATE_PATH

WAIT_SECONDS = 20  # a bound for the waits below, not a speed assertion


class Receiver:
    """A callback receiver on 127.0.0.1 that fails its first `failures` deliveries."""

    def __init__(self, failures: int = 0) -> None:
        self.failures = failures
        self.received: list[dict[str, Any]] = []
        self.attempts = 0
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.attempts += 1
                if receiver.attempts <= receiver.failures:
                    self.send_response(503)
                else:
                    receiver.received.append(json.loads(body))
                    self.send_response(200)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks/kling"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def statuses(self) -> list[str]:
        return [task["task_status"] for task in self.received]

    def wait_for(self, count: int) -> list[str]:
        deadline = time.monotonic() + WAIT_SECONDS
        while len(self.received) < count and time.monotonic() < deadline:
            time.sleep(0.02)
        return self.statuses()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver()
    yield server
    server.close()


def _task(callback_url: str) -> dict[str, Any]:
    return {
        "input": {
            "video_url": "https://example.com/faces-2.mp4",
            "mode": "audio2video",
            "audio_type": "url",
            "audio_url": "https://example.com/voice.mp3",
        },
        "callback_url": callback_url,
    }


def _client(mock: MockProcess) -> httpx.Client:
    return httpx.Client(base_url=mock.base_url, headers={"Authorization": "Bearer hook-token"}, timeout=30)


def test_each_poll_that_changes_the_status_is_called_back(receiver: Receiver) -> None:
    with MockProcess("--tick-ms", "0") as mock, _client(mock) as http:
        task_id = http.post(CREATE_PATH, json=_task(receiver.url)).json()["data"]["task_id"]
        polled = [http.get(f"{CREATE_PATH}/{task_id}").json()["data"] for _ in range(3)]
        statuses = receiver.wait_for(3)
    assert statuses == ["submitted", "processing", "succeed"]
    # The callback carries the task in the query's shape.
    assert receiver.received[-1] == polled[-1]
    assert len(receiver.received[-1]["task_result"]["face_data"]) == 2


def test_time_driven_tasks_are_called_back_without_polling(receiver: Receiver) -> None:
    with MockProcess("--tick-ms", "50") as mock, _client(mock) as http:
        created = http.post(CREATE_PATH, json=_task(receiver.url)).json()["data"]
        statuses = receiver.wait_for(3)
    assert statuses == ["submitted", "processing", "succeed"]
    assert [task["updated_at"] - created["created_at"] for task in receiver.received] == [0, 50, 100]


def test_a_failing_receiver_is_retried_with_backoff() -> None:
    receiver = Receiver(failures=2)
    try:
        with MockProcess("--tick-ms", "0") as mock, _client(mock) as http:
            http.post(CREATE_PATH, json=_task(receiver.url))
            statuses = receiver.wait_for(1)
    finally:
        receiver.close()
    assert statuses == ["submitted"]
    assert receiver.attempts == 3


def test_a_callback_to_a_remote_host_is_refused_and_logged() -> None:
    with MockProcess("--tick-ms", "0") as mock, _client(mock) as http:
        answer = http.post(CREATE_PATH, json=_task("https://example.com/hooks/kling")).json()
        mock.stop()
    assert answer["code"] == 0, "the task is still created; only the callback is refused"
    refusals = [line for line in mock.stderr_lines if "callback for task" in line and "refused" in line]
    assert refusals and "example.com" in refusals[0] and "--callback-allow-host" in refusals[0]
