"""What every backend promises, tested the same way against memory, SQLite and Redis.

A new backend joins `BACKENDS` and passes this module before anything else; what only one backend does (the
memory store's cost per task, SQLite's migrations, Redis's outages and concurrent writers) is tested in that
backend's own module. Redis is Debian's `redis-server` on a loopback port (skipped without it, except in CI).
Each test runs in one event loop: redis-py's asyncio connections belong to the loop that made them.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from mock_server.core.callers import token_digest
from mock_server.core.clock import ManualClock
from mock_server.domain import ExternalIdTaken, Lifecycle, Task
from mock_server.scenarios import Scenario
from mock_server.storage import MEMORY, Backend, open_backend, sqlite_url
from mock_server.storage.redis.journal import RedisJournal
from mock_server.storage.redis.rate_limits import RedisRateLimits
from mock_server.storage.redis.scenarios import RedisScenarios
from tests.support.recordings import record, recorded_poll
from tests.support.redis_server import RedisServer

BACKENDS = ("memory", "sqlite", "redis")
ALICE, BOB = token_digest("alice-token"), token_digest("bob-token")
KIND, OTHER_KIND = "identify-face", "advanced-lip-sync"
T0 = 1_700_000_000_000

Body = Callable[[Backend], Awaitable[None]]


@pytest.fixture(params=BACKENDS)
def run(request: pytest.FixtureRequest, tmp_path: Path) -> Callable[..., None]:
    """Runs a test's body against a fresh backend of each kind, in an event loop of its own, closing it after."""
    kind = request.param
    if kind == "redis":
        server: RedisServer = request.getfixturevalue("redis_server")
        prefix = f"test:{request.node.name}:"
        with server.client() as client:
            for key in client.scan_iter(match=f"{prefix}*"):
                client.delete(key)
        url = server.url
    else:
        url, prefix = (MEMORY if kind == "memory" else sqlite_url(tmp_path / "state.db")), ""

    def run_body(body: Body, max_tasks: int = 1000) -> None:
        if kind == "sqlite" and max_tasks < 1000:
            pytest.skip("a state file keeps every task: it has no bound")

        async def main() -> None:
            backend = open_backend(url, max_tasks, Lifecycle(0), ManualClock(T0), prefix or "kling-mock:")
            try:
                await body(backend)
            finally:
                await backend.aclose()

        asyncio.run(main())

    return run_body


def _task(task_id: str, owner: str = ALICE, kind: str = KIND, created_at: int = T0, step: int = 0) -> Task:
    return Task(task_id, kind, owner, created_at, created_at, f"|{task_id}", None, step)


def _ids(tasks: list[Task]) -> list[str]:
    return [task.task_id for task in tasks]


def test_a_task_round_trips_with_everything_it_holds(run: Callable[..., None]) -> None:
    tasks = [_task(f"t{i}", owner=(ALICE, BOB)[i % 2], created_at=T0 + i) for i in range(7)]
    tasks[3].payload = 'https://example.com/ü "quoted" \\ video.mp4|{"an": "id"}'
    tasks[4].callback_url = "http://127.0.0.1:9/hook"
    tasks[5].fate = "processing"
    tasks[6].external_id = "my own id ü"
    tasks[2].kind = OTHER_KIND

    async def body(backend: Backend) -> None:
        kept = [await backend.tasks.add(task) for task in tasks]
        for task, stamped in zip(tasks, kept, strict=True):
            # As given, but its times: the store's clock stamps them (Redis's own; memory and SQLite keep these).
            assert dataclasses.replace(stamped, created_at=task.created_at, updated_at=task.updated_at) == task
            assert stamped.created_at == stamped.updated_at
            assert await backend.tasks.get(task.task_id) == stamped
        assert await backend.tasks.get("never") is None

    run(body)


def test_an_owners_tasks_of_a_kind_are_listed_newest_first_and_paged(run: Callable[..., None]) -> None:
    tasks = [_task(f"t{i}", owner=(ALICE, BOB)[i % 2], created_at=T0 + i) for i in range(7)]
    tasks[2].kind = OTHER_KIND

    async def body(backend: Backend) -> None:
        for task in tasks:
            await backend.tasks.add(task)
        store = backend.tasks
        assert _ids(await store.list_owned(ALICE, KIND, 0, 30)) == ["t6", "t4", "t0"]
        assert _ids(await store.list_owned(ALICE, KIND, 1, 1)) == ["t4"]
        assert _ids(await store.list_owned(ALICE, OTHER_KIND, 0, 30)) == ["t2"]
        assert _ids(await store.list_owned(BOB, KIND, 0, 30)) == ["t5", "t3", "t1"]
        assert await store.list_owned(token_digest("carol"), KIND, 0, 30) == []
        assert await store.list_owned(ALICE, KIND, 30, 30) == []
        assert _ids(await store.recent(3)) == ["t6", "t5", "t4"]

    run(body)


def test_tasks_of_the_same_millisecond_keep_their_creation_order(run: Callable[..., None]) -> None:
    names = [f"same-ms-{i}" for i in (7, 3, 19, 0, 12, 5, 1, 16, 9, 2)]  # ids in no particular order, as real ones

    async def body(backend: Backend) -> None:
        for name in names:
            await backend.tasks.add(_task(name))
        assert _ids(await backend.tasks.list_owned(ALICE, KIND, 0, 500)) == names[::-1]

    run(body)


def test_tasks_are_stamped_in_their_list_order_whatever_time_they_bring(run: Callable[..., None]) -> None:
    """One clock per store: a task brought with an earlier time than the last (a clock stepped back, another
    machine's behind) is stamped no earlier than it, so list order and `created_at` agree."""
    brought = [T0 + 500, T0, T0 + 499, T0 - 10_000, T0 + 501]

    async def body(backend: Backend) -> None:
        kept = [await backend.tasks.add(_task(f"t{i}", created_at=at)) for i, at in enumerate(brought)]
        stamps = [task.created_at for task in kept]
        assert stamps == sorted(stamps)
        assert await backend.tasks.list_owned(ALICE, KIND, 0, 10) == kept[::-1]
        assert await backend.tasks.recent(10) == kept[::-1]
        # A later task, however early the time it brings, is stamped no earlier than the last.
        again = await backend.tasks.add(_task("late", created_at=T0 - 99_000))
        assert again.created_at >= stamps[-1]

    run(body)


def test_an_update_keeps_how_far_a_task_has_gone(run: Callable[..., None]) -> None:
    async def body(backend: Backend) -> None:
        task = await backend.tasks.add(_task("a"))
        task.step, task.updated_at = 2, task.created_at + 500
        await backend.tasks.update(task)
        assert await backend.tasks.get("a") == task

    run(body)


def test_an_external_id_is_unique_per_owner_and_kind(run: Callable[..., None]) -> None:
    async def body(backend: Backend) -> None:
        first = _task("a")
        first.external_id = "mine-1"
        await backend.tasks.add(first)
        again = _task("b")
        again.external_id = "mine-1"
        with pytest.raises(ExternalIdTaken):
            await backend.tasks.add(again)
        assert await backend.tasks.get("b") is None
        # Another owner, or another kind, may use the same id.
        for task_id, owner, kind in (("c", BOB, KIND), ("d", ALICE, OTHER_KIND)):
            task = _task(task_id, owner=owner, kind=kind)
            task.external_id = "mine-1"
            await backend.tasks.add(task)
        assert _ids(await backend.tasks.list_owned(ALICE, KIND, 0, 10)) == ["a"]

    run(body)


def test_past_the_bound_the_oldest_finished_task_goes_first(run: Callable[..., None]) -> None:
    async def body(backend: Backend) -> None:
        for task in (_task("a"), _task("b", step=2), _task("c", step=2), _task("d")):
            await backend.tasks.add(task)
        assert await backend.tasks.get("b") is None
        assert await backend.tasks.get("a") is not None
        await backend.tasks.add(_task("e"))
        assert _ids(await backend.tasks.list_owned(ALICE, KIND, 0, 10)) == ["e", "d", "a"]

    run(body, max_tasks=3)


def test_an_evicted_task_is_gone_with_its_external_id(run: Callable[..., None]) -> None:
    async def body(backend: Backend) -> None:
        first = _task("a", step=2)
        first.external_id = "mine"
        await backend.tasks.add(first)
        await backend.tasks.add(_task("b"))
        assert await backend.tasks.get("a") is None
        # An update of the evicted task does not bring it back.
        first.step = 2
        await backend.tasks.update(first)
        assert await backend.tasks.get("a") is None
        assert _ids(await backend.tasks.recent(10)) == ["b"]
        # Its external id is free again (with the next one evicted in turn).
        reused = _task("c")
        reused.external_id = "mine"
        await backend.tasks.add(reused)

    run(body, max_tasks=1)


def test_the_journal_keeps_what_it_records(run: Callable[..., None]) -> None:
    async def body(backend: Backend) -> None:
        journal = backend.journal(capacity=2)
        for number in range(3):
            record(journal, recorded_poll(f"t{number}", at=T0 + number * 5000))
        snapshot = await journal.snapshot()
        assert [entry.path.rsplit("/", 1)[1] for entry in snapshot.entries] == ["t1", "t2"]
        assert (snapshot.recorded, snapshot.dropped) == (3, 1)
        await journal.clear()
        assert (await journal.snapshot()).entries == []
        await journal.aclose()

    run(body)


def test_rate_limits_count_a_callers_requests(run: Callable[..., None]) -> None:
    scenario = Scenario("slow-down", "api", rate_limit=1.0)

    async def body(backend: Backend) -> None:
        limits = backend.rate_limits()
        assert await limits.take(ALICE, [scenario]) == [None]
        waited = await limits.take(ALICE, [scenario])
        assert waited[0] is not None and waited[0] >= 1
        assert await limits.take(BOB, [scenario]) == [None]

    run(body)


def test_a_backend_answers_its_health_check(run: Callable[..., None]) -> None:
    async def body(backend: Backend) -> None:
        await backend.ping()
        assert backend.shown and "password" not in backend.shown

    run(body)


def test_the_journal_scenarios_and_rate_limits_follow_the_tasks(run: Callable[..., None]) -> None:
    """A shared backend keeps them where its tasks are, for every process; a local one in this process."""

    async def body(backend: Backend) -> None:
        assert isinstance(backend.journal(7), RedisJournal) == backend.shared
        assert isinstance(backend.scenario_list(), RedisScenarios) == backend.shared
        assert isinstance(backend.rate_limits(), RedisRateLimits) == backend.shared
        assert (backend.scenario_list() is None) == (not backend.shared)

    run(body)
