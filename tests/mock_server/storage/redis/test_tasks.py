"""What only the Redis task store and rate limits do, against a real redis-server (skipped without one, not in CI).

What every backend does is `test_backends.py`'s; this adds what sharing brings: several clients (as several
processes) on one Redis, updates that never move a task backward, prefixes that keep mocks apart, an outage,
what a task costs in Redis, and the store URL.
Each test runs in one event loop: redis-py's asyncio connections belong to the loop that made them.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import orjson
import pytest

from mock_server.core.callers import token_digest
from mock_server.core.clock import SystemClock, system_ms
from mock_server.core.errors import StoreUnavailable, StoreUnreachable
from mock_server.core.ids import IdGenerator
from mock_server.domain import Lifecycle, Task
from mock_server.domain.identify_face import IDENTIFY_FACE
from mock_server.domain.videos import video_reference
from mock_server.scenarios import Scenario
from mock_server.storage import open_backend
from mock_server.storage.redis.connection import RedisConnection, url_problem
from mock_server.storage.redis.rate_limits import RedisRateLimits
from mock_server.storage.redis.tasks import RedisTaskStore
from tests.support import SEED_EXAMPLE
from tests.support.redis_server import RedisServer, run_and_close

KIND = IDENTIFY_FACE.name
ALICE, BOB = token_digest("alice-token"), token_digest("bob-token")


def _task(task_id: str, owner: str = ALICE, created_at: int = 1_700_000_000_000, step: int = 0) -> Task:
    return Task(task_id, KIND, owner, created_at, created_at, f"|{task_id}", None, step)


def _ids(tasks: list[Task]) -> list[str]:
    return [task.task_id for task in tasks]


def test_updates_only_move_a_task_forward_whoever_writes_last(backend_for: Callable[..., RedisConnection]) -> None:
    """Two processes advancing one task: a stale write (a lower step) is dropped, whichever arrives last."""
    first, second = (RedisTaskStore(backend_for(), max_tasks=100, tick_ms=0) for _ in range(2))

    async def test() -> None:
        kept = await first.add(_task("a"))
        ahead, behind = _task("a", created_at=kept.created_at, step=2), _task("a", created_at=kept.created_at, step=1)
        ahead.updated_at, behind.updated_at = kept.created_at + 900, kept.created_at + 500
        await first.update(ahead)
        await second.update(behind)
        assert await second.get("a") == ahead
        # Many concurrent writers of every step: the task ends at the highest.
        await second.add(_task("b"))
        writes = [_task("b", step=step) for step in (1, 2, 1, 0, 2, 1) * 5]
        await asyncio.gather(*((first, second)[i % 2].update(task) for i, task in enumerate(writes)))
        stored = await first.get("b")
        assert stored is not None and stored.step == 2

    run_and_close(test, first, second)


def test_with_nothing_finished_the_oldest_task_goes_and_only_the_oldest_few_are_looked_at(
    backend_for: Callable[..., RedisConnection],
) -> None:
    nothing_finished = RedisTaskStore(backend_for(), max_tasks=2, tick_ms=0)
    narrow = RedisTaskStore(backend_for("test:narrow-scan:"), max_tasks=3, tick_ms=0, scan=2)

    async def test() -> None:
        for task in (_task("a"), _task("b"), _task("c")):
            await nothing_finished.add(task)
        assert _ids(await nothing_finished.list_owned(ALICE, KIND, 0, 10)) == ["c", "b"]
        # A finished task beyond the scanned window is not searched for.
        for task in (_task("a"), _task("b"), _task("c", step=2), _task("d")):
            await narrow.add(task)
        assert _ids(await narrow.list_owned(ALICE, KIND, 0, 10)) == ["d", "c", "b"]

    run_and_close(test, nothing_finished, narrow)


def test_finished_is_the_lifecycle_s_call_when_time_drives_tasks(backend_for: Callable[..., RedisConnection]) -> None:
    """With `--tick-ms` > 0 the stored step stays 0; a task is finished because of its age, on Redis's clock.

    The store stamps tasks itself (Redis's `TIME`), so "old" is made old by waiting past its last step's time.
    """
    tick = 50
    store = RedisTaskStore(backend_for(), max_tasks=2, tick_ms=tick)

    async def test() -> None:
        await store.add(_task("old"))
        await asyncio.sleep(4 * tick / 1000)  # past FINAL_STEP ticks: "old" is finished by its age
        # "stepped" is finished by its stored step, which does not count when time drives tasks.
        for task in (_task("stepped", step=2), _task("new")):
            await store.add(task)
        assert _ids(await store.list_owned(ALICE, KIND, 0, 10)) == ["new", "stepped"]

    run_and_close(test, store)


def test_the_bound_holds_and_owner_lists_follow_eviction(
    backend_for: Callable[..., RedisConnection], redis_server: RedisServer
) -> None:
    connection = backend_for()
    store = RedisTaskStore(connection, max_tasks=10, tick_ms=0)
    owners = [ALICE, BOB, token_digest("carol")]
    tasks = [_task(str(i), owner=owners[i % 3] if i < 50 else ALICE, step=2 * (i % 3 == 0)) for i in range(100)]

    kept: set[str] = set()

    async def test() -> None:
        for task in tasks:
            await store.add(task)
        kept.update([task.task_id for task in tasks if await store.get(task.task_id) is not None])
        assert len(kept) == 10
        for owner in owners:
            expected = [task.task_id for task in reversed(tasks) if task.owner == owner and task.task_id in kept]
            assert _ids(await store.list_owned(owner, KIND, 0, 500)) == expected
        # bob's and carol's tasks were all older than alice's last 50: every one of them is gone.
        assert await store.list_owned(BOB, KIND, 0, 500) == []

    run_and_close(test, store)
    with redis_server.client() as client:
        # What is left: the 10 tasks, alice's list, the list of all, the counter, the clock. Nothing piles up.
        assert len(list(client.scan_iter(match=f"{connection.prefix}*"))) == 14
        assert client.zcard(f"{connection.prefix}tasks") == 10


def test_mocks_with_other_prefixes_do_not_see_each_other_s_tasks(backend_for: Callable[..., RedisConnection]) -> None:
    mine = RedisTaskStore(backend_for(), max_tasks=10, tick_ms=0)
    theirs = RedisTaskStore(backend_for("test:another-mock:"), max_tasks=10, tick_ms=0)

    async def test() -> None:
        await mine.add(_task("a"))
        assert await theirs.get("a") is None
        assert await theirs.list_owned(ALICE, KIND, 0, 10) == []
        assert await theirs.recent(10) == []

    run_and_close(test, mine, theirs)


def test_a_stored_task_costs_under_a_kilobyte_of_redis(redis_server: RedisServer, tmp_path: Path) -> None:
    """The documented example's task: record, key, and its entries in the owner's list and the list of all.

    On a redis-server of its own: on the shared one, memory other tests' keys free meanwhile is counted too.
    """
    count = 2_000
    own = RedisServer(redis_server.executable, tmp_path).start()
    store = RedisTaskStore(RedisConnection(own.url), max_tasks=count, tick_ms=0)
    body = orjson.dumps(SEED_EXAMPLE)
    ids = IdGenerator(7)
    with own, own.client() as client:
        before = int(client.info("memory")["used_memory"])

        async def test() -> None:
            for i in range(count):
                now = system_ms()
                video = video_reference(orjson.loads(body)["input"])
                await store.add(Task(ids.new(), KIND, token_digest(f"token-{i % 4}"), now, now, video))

        run_and_close(test, store)
        per_task = (int(client.info("memory")["used_memory"]) - before) / count
    assert 150 < per_task < 1024, per_task


def test_a_redis_that_cannot_be_reached_is_refused_without_naming_the_password() -> None:
    with pytest.raises(StoreUnreachable) as refused:
        open_backend("redis://:sekrit-pw@127.0.0.1:1/0", 10, Lifecycle(0), SystemClock())
    assert "redis://127.0.0.1:1/0" in str(refused.value)
    assert "sekrit-pw" not in str(refused.value)


def test_an_outage_is_store_unavailable_not_a_redis_error(redis_server: RedisServer, tmp_path: Path) -> None:
    gone = RedisServer(redis_server.executable, tmp_path)
    store = RedisTaskStore(RedisConnection(gone.url), max_tasks=10, tick_ms=0)

    async def test() -> None:
        await store.add(_task("a"))
        gone.stop()
        calls: list[Callable[[], Awaitable[Any]]] = [
            lambda: store.add(_task("b")),
            lambda: store.get("a"),
            lambda: store.update(_task("a", step=1)),
            lambda: store.list_owned(ALICE, KIND, 0, 10),
            lambda: store.recent(10),
        ]
        for call in calls:
            with pytest.raises(StoreUnavailable, match=r"the task store \(Redis\) cannot be reached"):
                await call()
        gone.start()  # empty again: nothing was saved
        await store.add(_task("c"))
        assert _ids(await store.recent(10)) == ["c"]

    with gone.start():
        run_and_close(test, store)


# Rate limits.


def _limited(name: str, rate: float) -> Scenario:
    return Scenario(name=name, source="file", automatic=True, rate_limit=rate)


def test_rate_limits_count_across_processes_and_per_caller(backend_for: Callable[..., RedisConnection]) -> None:
    """Two limiters on one Redis are two processes: a burst of 3 is 3 between them, for each caller."""
    stores = [RedisTaskStore(backend_for(), max_tasks=10, tick_ms=0) for _ in range(2)]
    limits = [RedisRateLimits(store.connection) for store in stores]
    scenario = _limited("rl", 3)

    async def test() -> None:
        waits = [await limits[i % 2].take(ALICE, [scenario]) for i in range(5)]
        assert waits[:3] == [[None]] * 3
        assert all(wait[0] is not None and wait[0] >= 1 for wait in waits[3:])
        assert await limits[1].take(BOB, [scenario]) == [None]

    run_and_close(test, *stores)


def test_a_slow_rate_limit_asks_to_wait_long_enough_and_limits_are_taken_together(
    backend_for: Callable[..., RedisConnection],
) -> None:
    store = RedisTaskStore(backend_for(), max_tasks=10, tick_ms=0)
    limits = RedisRateLimits(store.connection)
    slow, fast = _limited("slow", 0.25), _limited("fast", 100)

    async def test() -> None:
        assert await limits.take(ALICE, [slow, fast]) == [None, None]
        second = await limits.take(ALICE, [slow, fast])
        assert second[1] is None
        assert second[0] is not None and second[0] >= 4

    run_and_close(test, store)


# The URL as the command line takes it.


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("redis://127.0.0.1:6379/0", None),
        ("rediss://cache.example:6380/1", None),
        ("unix:///run/redis.sock?db=2", None),
        ("http://127.0.0.1:6379", "--store takes a Redis URL"),
        ("127.0.0.1:6379", "--store takes a Redis URL"),
        ("redis://127.0.0.1:port/0", "could not be cast"),
    ],
)
def test_store_urls(url: str, problem: str | None) -> None:
    found = url_problem(url)
    assert (found is None) if problem is None else (found is not None and problem in found)
