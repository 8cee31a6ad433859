"""Callbacks with `--store redis://...` over real HTTP: each status of each task arrives once, in order, whichever
worker or mock answered, and whichever dies.

Real processes throughout: a real redis-server on loopback (skipped without one, except in CI), mocks as child
processes, and a receiver (an ASGI app under uvicorn on 127.0.0.1, in a thread of the test) that counts what it
was sent. A callback counts as delivered when the receiver answered it 200 to a sender still connected; one whose
sender went away while the receiver held it (a mock killed mid-delivery) counts as cut, as its sender saw no
answer. Waiting is bounded polling, never a timing assertion.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.types import Receive, Scope, Send

from mock_server.client.process import MockProcess
from tests.support import CREATE_PATH, SEED_EXAMPLE
from tests.support.redis_server import RedisServer
from tests.support.threaded_server import served_in_thread

TOKEN = "redis-callbacks-token"
STATUSES = ["submitted", "processing", "succeed"]
WAIT_SECONDS = 40  # a bound for the waits below (a lease to run out, a loaded machine), not a speed assertion
# After everything expected arrived, how long nothing more may arrive: longer than a dispatcher's idle look.
QUIET_SECONDS = 2.0


class Receiver:
    """Counts callbacks by (task, status); while `hold` is set, keeps each request unanswered until it is cleared."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.delivered: list[dict[str, Any]] = []
        self.cut: list[dict[str, Any]] = []
        self.attempts = 0
        self.held = 0
        self.hold = threading.Event()
        self.url = ""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        assert scope["type"] == "http"
        body, more = b"", True
        while more:
            message = await receive()
            body, more = body + message.get("body", b""), message.get("more_body", False)
        task = json.loads(body)
        with self.lock:
            self.attempts += 1
        if self.hold.is_set():
            gone = asyncio.ensure_future(receive())  # `http.disconnect` once the sender goes away
            with self.lock:
                self.held += 1
            while self.hold.is_set() and not gone.done():
                await asyncio.sleep(0.01)
            with self.lock:
                self.held -= 1
            if gone.done():
                with self.lock:
                    self.cut.append(task)
                return
            gone.cancel()
        with self.lock:
            self.delivered.append(task)
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"application/json")]})
        await send({"type": "http.response.body", "body": b"{}"})

    def by_task(self) -> dict[str, list[str]]:
        with self.lock:
            statuses: defaultdict[str, list[str]] = defaultdict(list)
            for task in self.delivered:
                statuses[task["task_id"]].append(task["task_status"])
            return dict(statuses)

    def wait_until(self, done: Callable[[], bool], what: str) -> None:
        deadline = time.monotonic() + WAIT_SECONDS
        while not done():
            assert time.monotonic() < deadline, f"{what}: {self.attempts} attempts, {len(self.delivered)} delivered"
            time.sleep(0.02)

    def wait_for(self, count: int) -> None:
        self.wait_until(lambda: len(self.delivered) >= count, f"{count} callbacks")

    def assert_each_status_once_in_order(self, task_ids: list[str], statuses: list[str] = STATUSES) -> None:
        """Every task got each status exactly once, in order, and nothing more comes."""
        self.wait_for(len(task_ids) * len(statuses))
        time.sleep(QUIET_SECONDS)
        assert self.by_task() == {task_id: statuses for task_id in task_ids}


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    receiving = Receiver()
    with served_in_thread(receiving) as base_url:
        receiving.url = f"{base_url}/hooks/kling"
        yield receiving
        receiving.hold.clear()


@pytest.fixture
def prefix(request: pytest.FixtureRequest) -> str:
    """Keys of this test's own on the module's Redis."""
    return f"test:{request.node.name}:"


def _mock(redis_server: RedisServer, prefix: str, *args: str) -> MockProcess:
    return MockProcess("--store", redis_server.url, "--store-prefix", prefix, "--tick-ms", "0", *args)


@contextmanager
def _serving(redis_server: RedisServer, prefix: str, topology: str, *args: str) -> Iterator[list[MockProcess]]:
    """Two mocks on one Redis, or one mock with two workers (given twice): where the requests go, in turn."""
    if topology == "two mocks":
        with _mock(redis_server, prefix, *args) as first, _mock(redis_server, prefix, *args) as second:
            yield [first, second]
    else:
        with _mock(redis_server, prefix, "--workers", "2", *args) as workers:
            yield [workers, workers]


def _call(mock: MockProcess, method: str, path: str, **kwargs: Any) -> httpx.Response:
    """One request on a connection of its own: with workers, successive ones may land on any of them."""
    headers = {"Authorization": f"Bearer {TOKEN}", "Connection": "close"}
    with httpx.Client(base_url=mock.base_url, headers=headers, timeout=30) as http:
        answer = http.request(method, path, **kwargs)
    assert answer.status_code == 200, answer.text
    return answer


def _create(mock: MockProcess, callback_url: str) -> dict[str, Any]:
    data: dict[str, Any] = _call(mock, "POST", CREATE_PATH, json={**SEED_EXAMPLE, "callback_url": callback_url}).json()[
        "data"
    ]
    return data


def _status(mock: MockProcess, task_id: str) -> str:
    status: str = _call(mock, "GET", f"{CREATE_PATH}/{task_id}").json()["data"]["task_status"]
    return status


def _poll_to_the_end(mocks: list[MockProcess], task_ids: list[str]) -> None:
    """Poll every task through each mock at once (two polls racing to advance it) until every one has succeeded."""
    with ThreadPoolExecutor(max_workers=2 * len(mocks)) as pool:
        for task_id in task_ids:
            for _ in range(len(STATUSES)):
                seen = list(pool.map(lambda mock, task_id=task_id: _status(mock, task_id), mocks))
                if "succeed" in seen:
                    break
            assert _status(mocks[0], task_id) == "succeed"


def _assert_no_traceback(*mocks: MockProcess) -> None:
    for mock in mocks:
        assert not any("Traceback" in line for line in mock.stderr_lines), "".join(mock.stderr_lines)


def _holders(redis_server: RedisServer, prefix: str, task_ids: list[str]) -> dict[str, str]:
    """Which process holds each task's job now (its holder token starts with its pid)."""
    with redis_server.client() as client:
        held = {task_id: client.hget(f"{prefix}callback:{task_id}", "holder") for task_id in task_ids}
    return {task_id: holder.decode() for task_id, holder in held.items() if holder}


def _children(pid: int) -> list[int]:
    """The worker processes of uvicorn's supervisor `pid`."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parent = int((entry / "stat").read_text().rpartition(")")[2].split()[1])
                command = (entry / "cmdline").read_bytes()
            except (OSError, IndexError, ValueError):
                continue  # gone meanwhile
            if parent == pid and b"spawn_main" in command:
                found.append(int(entry.name))
    return found


@pytest.mark.parametrize("topology", ["two mocks", "two workers"])
def test_polled_through_both_each_status_is_called_back_once_in_order(
    redis_server: RedisServer, prefix: str, receiver: Receiver, topology: str
) -> None:
    """`--tick-ms 0`: polls racing through both processes may each advance a task; each status still goes out once."""
    with _serving(redis_server, prefix, topology) as mocks:
        task_ids = [_create(mocks[number % 2], receiver.url)["task_id"] for number in range(8)]
        _poll_to_the_end(mocks, task_ids)
        receiver.assert_each_status_once_in_order(task_ids)
    assert receiver.attempts == len(receiver.delivered) and not receiver.cut
    _assert_no_traceback(*mocks)


@pytest.mark.parametrize("topology", ["two mocks", "two workers"])
def test_time_driven_statuses_are_called_back_once_in_order_at_their_times(
    redis_server: RedisServer, prefix: str, receiver: Receiver, topology: str
) -> None:
    """`--tick-ms 200`: every process's dispatcher looks for due jobs; each is delivered by one of them only."""
    with _serving(redis_server, prefix, topology, "--tick-ms", "200") as mocks:
        created = [_create(mocks[number % 2], receiver.url) for number in range(8)]
        task_ids = [task["task_id"] for task in created]
        receiver.assert_each_status_once_in_order(task_ids)
    # Each callback carries the task as the query renders it at that status's time.
    created_at = {task["task_id"]: task["created_at"] for task in created}
    for task in receiver.delivered:
        step = STATUSES.index(task["task_status"])
        assert task["updated_at"] - created_at[task["task_id"]] == 200 * step
    assert receiver.delivered[-1]["task_result"]["face_data"]
    _assert_no_traceback(*mocks)


def test_a_mock_killed_mid_delivery_leaves_its_callbacks_to_the_other(
    redis_server: RedisServer, prefix: str, receiver: Receiver
) -> None:
    """SIGKILL while the receiver is slow to answer: the other mock takes the jobs over once their leases run out,
    and the later statuses wait for them."""
    receiver.hold.set()
    with _mock(redis_server, prefix) as survivor:
        doomed = _mock(redis_server, prefix).start()
        try:
            task_ids = [_create(doomed, receiver.url)["task_id"] for _ in range(4)]
            receiver.wait_until(lambda: receiver.held == 4, "deliveries held by the receiver")
            # The mock that queued them claimed them at once (the other only looks every second).
            its_jobs = sum(h.startswith(f"{doomed.pid}-") for h in _holders(redis_server, prefix, task_ids).values())
            assert its_jobs >= 1
            doomed.stop(signal.SIGKILL)
            receiver.wait_until(lambda: len(receiver.cut) >= its_jobs, "the killed mock's deliveries cut")
            receiver.hold.clear()
            # Polled meanwhile: `processing` is queued behind the `submitted` the dead mock held.
            for task_id in task_ids:
                assert _status(survivor, task_id) == "processing"
            receiver.wait_for(4)
            for task_id in task_ids:
                assert _status(survivor, task_id) == "succeed"
            receiver.assert_each_status_once_in_order(task_ids)
        finally:
            doomed.stop(signal.SIGKILL)
    assert receiver.attempts >= its_jobs + 3 * 4
    _assert_no_traceback(survivor)


def test_a_mock_stopped_gracefully_hands_its_callbacks_back_at_once(
    redis_server: RedisServer, prefix: str, receiver: Receiver
) -> None:
    """SIGTERM while the receiver holds its deliveries: the mock stops them and hands their jobs back as it shuts
    down, so the other need not wait for leases to run out."""
    receiver.hold.set()
    with _mock(redis_server, prefix) as survivor:
        stopping = _mock(redis_server, prefix).start()
        try:
            task_ids = [_create(stopping, receiver.url)["task_id"] for _ in range(3)]
            receiver.wait_until(lambda: receiver.held == 3, "deliveries held by the receiver")
            assert stopping.stop() in (0, -signal.SIGTERM)
        finally:
            stopping.stop(signal.SIGKILL)
        assert not any(h.startswith(f"{stopping.pid}-") for h in _holders(redis_server, prefix, task_ids).values())
        receiver.hold.clear()
        receiver.assert_each_status_once_in_order(task_ids, STATUSES[:1])
    _assert_no_traceback(stopping, survivor)


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="finds worker processes through /proc")
def test_a_worker_killed_mid_delivery_leaves_its_callbacks_to_the_others(
    redis_server: RedisServer, prefix: str, receiver: Receiver
) -> None:
    """SIGKILL one of two workers while the receiver holds what both are delivering: its jobs go to the other (or to
    the worker the supervisor starts in its place) once their leases run out; the other's arrive as they were."""
    receiver.hold.set()
    with _mock(redis_server, prefix, "--workers", "2") as mock:
        workers = _children(mock.pid)
        assert len(workers) == 2
        task_ids = [_create(mock, receiver.url)["task_id"] for _ in range(6)]
        receiver.wait_until(lambda: receiver.held == 6, "the workers delivering, held by the receiver")
        holders = _holders(redis_server, prefix, task_ids)
        assert len(holders) == 6
        victim = int(next(iter(holders.values())).partition("-")[0])
        assert victim in workers
        its_jobs = sum(holder.startswith(f"{victim}-") for holder in holders.values())
        os.kill(victim, signal.SIGKILL)
        receiver.wait_until(lambda: len(receiver.cut) >= its_jobs, "the killed worker's deliveries cut")
        receiver.hold.clear()
        receiver.wait_for(6)
        _poll_to_the_end([mock, mock], task_ids)
        receiver.assert_each_status_once_in_order(task_ids)
        assert receiver.attempts >= its_jobs + 3 * 6
    _assert_no_traceback(mock)


def test_callbacks_due_later_outlive_the_mock_that_queued_them(
    redis_server: RedisServer, prefix: str, receiver: Receiver
) -> None:
    """`--tick-ms 2000`: the mock that created the tasks is killed before their later statuses are due; the other
    delivers them at their times."""
    with _mock(redis_server, prefix, "--tick-ms", "2000") as survivor:
        doomed = _mock(redis_server, prefix, "--tick-ms", "2000").start()
        try:
            created = [_create(doomed, receiver.url) for _ in range(4)]
            task_ids = [task["task_id"] for task in created]
            receiver.wait_for(4)
            # Killed once `submitted` is acknowledged everywhere: nothing is in flight, the rest is due later.
            receiver.wait_until(lambda: not _holders(redis_server, prefix, task_ids), "acknowledgements")
            doomed.stop(signal.SIGKILL)
            receiver.assert_each_status_once_in_order(task_ids)
        finally:
            doomed.stop(signal.SIGKILL)
    created_at = {task["task_id"]: task["created_at"] for task in created}
    for task in receiver.delivered:
        assert task["updated_at"] - created_at[task["task_id"]] == 2000 * STATUSES.index(task["task_status"])
    assert receiver.attempts == 12 and not receiver.cut
    _assert_no_traceback(survivor)


def test_a_callback_to_a_remote_host_is_refused_and_logged(redis_server: RedisServer, prefix: str) -> None:
    with _mock(redis_server, prefix) as mock:
        task_id = _create(mock, "https://example.com/hooks/kling")["task_id"]
        assert _status(mock, task_id) == "processing"
        mock.stop()
    refusals = [line for line in mock.stderr_lines if f"callback for task {task_id} refused" in line]
    assert len(refusals) == 2 and "--callback-allow-host" in refusals[0]
    with redis_server.client() as client:
        assert not client.exists(f"{prefix}callback:{task_id}"), "a refused callback is never queued"
