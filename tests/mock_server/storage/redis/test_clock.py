"""One clock for what is ordered, as a property over interleavings: whatever order creates from several processes
reach a store in, and whatever times their clocks bring, every list read back page by page is newest first.

Three stores on one Redis stand for three processes (each its own connection), their clocks skewed by up to
five seconds either way; each create yields to the others a few times first, so that Hypothesis chooses the
interleaving. Then for every owner, read in pages: `created_at` non-increasing, each of its tasks once, and a
task whose create was answered before another's was sent is listed below it. The same holds for three SQLite
stores on one file (three processes sharing `--state`), and for the memory store (one process). Last, the
service: a mock whose own clock is years off still stamps its tasks by Redis's.
"""

from __future__ import annotations

import asyncio
import itertools
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mock_server.core.clock import ManualClock
from mock_server.core.ids import IdGenerator
from mock_server.domain import IDENTIFY_FACE, KINDS, Lifecycle, Task, TaskService, TaskStore
from mock_server.domain.links import Links
from mock_server.storage.memory import MemoryTaskStore
from mock_server.storage.redis.connection import RedisConnection
from mock_server.storage.redis.tasks import RedisTaskStore
from mock_server.storage.sqlite import SqliteTaskStore
from tests.support.redis_server import RedisServer

KIND = "identify-face"
OWNERS = ("alice", "bob", "carol")
PROCESSES = 3
T0 = 1_800_000_000_000
SKEW_MS = 5000


@dataclass(frozen=True)
class Create:
    process: int
    owner: int
    skew_ms: int  # how far the process's clock is off
    yields: int  # how often it lets the others go first


CREATES = st.lists(
    st.builds(
        Create,
        st.integers(0, PROCESSES - 1),
        st.integers(0, len(OWNERS) - 1),
        st.integers(-SKEW_MS, SKEW_MS),
        st.integers(0, 4),
    ),
    min_size=1,
    max_size=60,
)
_examples = itertools.count()


async def _check(stores: list[TaskStore], creates: list[Create], page_size: int) -> None:
    """Create concurrently, then read every owner's list back in pages and check it."""
    ticks = itertools.count()  # one event order: when each create was sent and answered
    sent: dict[str, int] = {}
    answered: dict[str, int] = {}

    async def create(index: int, plan: Create) -> Task:
        for _ in range(plan.yields):
            await asyncio.sleep(0)
        task_id = f"t{index}"
        brought = T0 + plan.skew_ms
        sent[task_id] = next(ticks)
        kept = await stores[plan.process % len(stores)].add(
            Task(task_id, KIND, OWNERS[plan.owner], brought, brought, "|")
        )
        answered[task_id] = next(ticks)
        return kept

    kept = await asyncio.gather(*(create(i, plan) for i, plan in enumerate(creates)))
    for owner in OWNERS:
        listed: list[Task] = []
        for page in range(len(creates) // page_size + 2):  # bounded: one page more than needed, at most
            found = await stores[page % len(stores)].list_owned(owner, KIND, page * page_size, page_size)
            listed += found
            if len(found) < page_size:
                break
        stamps = [task.created_at for task in listed]
        assert stamps == sorted(stamps, reverse=True)
        mine = {task.task_id: task for task in kept if task.owner == owner}
        assert [task.task_id for task in listed] == list(dict.fromkeys(task.task_id for task in listed))
        assert {task.task_id: task for task in listed} == mine  # each once, as `add` returned it
        place = {task.task_id: n for n, task in enumerate(listed)}
        for earlier, later in itertools.permutations(mine, 2):
            if answered[earlier] < sent[later]:
                assert place[later] < place[earlier], (earlier, later)


HYPOTHESIS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@HYPOTHESIS
@given(creates=CREATES, page_size=st.integers(1, 7))
def test_redis_lists_are_newest_first_whatever_the_interleaving(
    redis_server: RedisServer, creates: list[Create], page_size: int
) -> None:
    prefix = f"test:clock:{next(_examples)}:"
    connections = [RedisConnection(redis_server.url, prefix) for _ in range(PROCESSES)]
    stores: list[TaskStore] = [RedisTaskStore(connection, max_tasks=1000, tick_ms=0) for connection in connections]

    async def run() -> None:
        try:
            await _check(stores, creates, page_size)
        finally:
            for connection in connections:
                await connection.aclose()

    asyncio.run(run())


@pytest.mark.parametrize("kind", ["sqlite", "memory"])
@HYPOTHESIS
@given(creates=CREATES, page_size=st.integers(1, 7))
def test_local_lists_are_newest_first_whatever_time_is_brought(
    kind: str, creates: list[Create], page_size: int
) -> None:
    with tempfile.TemporaryDirectory(prefix="clock-") as directory:
        make: Callable[[], TaskStore] = lambda: SqliteTaskStore(Path(directory) / "state.db")  # noqa: E731
        stores = [make() for _ in range(PROCESSES)] if kind == "sqlite" else [MemoryTaskStore()]

        async def run() -> None:
            try:
                await _check(stores, creates, page_size)
            finally:
                for store in stores:
                    await store.aclose()

        asyncio.run(run())


LINKS = Links("http://127.0.0.1:8000")


def test_a_mock_whose_clock_is_years_off_stamps_by_redis_s(redis_server: RedisServer) -> None:
    """The service takes `created_at` from the store and a polled `updated_at` from its clock, not its own."""
    connection = RedisConnection(redis_server.url, f"test:clock:service:{next(_examples)}:")
    store = RedisTaskStore(connection, max_tasks=100, tick_ms=0)
    service = TaskService(store, KINDS, IdGenerator(), Lifecycle(0), ManualClock(T0 - 10 * 365 * 86_400_000))

    async def redis_ms() -> int:
        seconds, microseconds = await connection.client.time()
        return int(seconds) * 1000 + int(microseconds) // 1000

    async def run() -> None:
        try:
            before = await redis_ms()
            task = await service.create(IDENTIFY_FACE, "alice", "|video", LINKS)
            created = service.render(task, task.created_at, LINKS)
            after = await redis_ms()
            assert before <= created["created_at"] == created["updated_at"] <= after
            polled = await service.get(IDENTIFY_FACE, "alice", created["task_id"], LINKS)
            assert polled["task_status"] == "processing"
            assert after <= polled["updated_at"] <= await redis_ms()
        finally:
            await connection.aclose()

    asyncio.run(run())
