"""What only the memory store does: which finished task it evicts, how little it looks at, what a task costs.

What every backend does (round trips, lists, the bound, external ids) is `test_backends.py`'s.
"""

from __future__ import annotations

import asyncio
import gc
import tracemalloc
from collections.abc import Callable

import orjson

from mock_server.core.callers import token_digest
from mock_server.core.clock import ManualClock
from mock_server.core.ids import IdGenerator
from mock_server.domain import Lifecycle, Task
from mock_server.domain.identify_face import IDENTIFY_FACE
from mock_server.domain.videos import video_reference
from mock_server.storage import MEMORY, open_backend
from mock_server.storage.memory import MemoryTaskStore
from tests.support import SEED_EXAMPLE

KIND = IDENTIFY_FACE.name


def _task(task_id: str, owner: str = "alice", created_at: int = 1_700_000_000_000, step: int = 0) -> Task:
    return Task(task_id, KIND, owner, created_at, created_at, f"|{task_id}", None, step)


def _fill(store: MemoryTaskStore, *tasks: Task) -> None:
    async def add_all() -> None:
        for task in tasks:
            await store.add(task)

    asyncio.run(add_all())


def _ids(tasks: list[Task]) -> list[str]:
    return [task.task_id for task in tasks]


def _finished_in(done: set[str]) -> Callable[[Task], bool]:
    return lambda task: task.task_id in done


def test_with_nothing_finished_the_oldest_task_goes() -> None:
    store = MemoryTaskStore(max_tasks=2, is_finished=_finished_in(set()))
    _fill(store, _task("a"), _task("b"), _task("c"))
    assert asyncio.run(store.get("a")) is None
    assert _ids(asyncio.run(store.list_owned("alice", KIND, 0, 10))) == ["c", "b"]


def test_without_a_lifecycle_eviction_is_oldest_first() -> None:
    store = MemoryTaskStore(max_tasks=2)
    _fill(store, _task("a", step=2), _task("b", step=0), _task("c", step=2))
    assert _ids(asyncio.run(store.list_owned("alice", KIND, 0, 10))) == ["c", "b"]


def test_eviction_looks_only_at_the_oldest_few() -> None:
    """A finished task beyond the scanned window is not searched for: eviction stays O(1)."""
    store = MemoryTaskStore(max_tasks=3, is_finished=_finished_in({"c"}), scan=2)
    _fill(store, _task("a"), _task("b"), _task("c"), _task("d"))
    assert _ids(asyncio.run(store.list_owned("alice", KIND, 0, 10))) == ["d", "c", "b"]


def test_the_bound_holds_and_owner_lists_follow_eviction() -> None:
    store = MemoryTaskStore(max_tasks=10, is_finished=lambda task: int(task.task_id) % 3 == 0)
    owners = ["alice", "bob", "carol"]
    tasks = [_task(str(i), owner=owners[i % 3] if i < 50 else "alice") for i in range(100)]
    for task in tasks:
        _fill(store, task)
        assert len(store) <= 10
    kept = {task.task_id for task in tasks if asyncio.run(store.get(task.task_id)) is not None}
    assert len(kept) == 10
    for owner in owners:
        listed = asyncio.run(store.list_owned(owner, KIND, 0, 500))
        expected = [t.task_id for t in reversed(tasks) if t.owner == owner and t.task_id in kept]
        assert _ids(listed) == expected
    # bob's and carol's tasks were all older than alice's last 50: every one of them is gone.
    assert asyncio.run(store.list_owned("bob", KIND, 0, 500)) == []
    assert set(store._owned) == {("alice", KIND)}


def test_finished_is_the_lifecycle_s_call_when_time_drives_tasks() -> None:
    """With `--tick-ms` > 0 the stored step stays 0; a task is finished because of its age."""
    tick = 60_000
    clock = ManualClock(1_800_000_000_000)
    backend = open_backend(MEMORY, 2, Lifecycle(tick), clock)
    now = clock.now_ms()
    old_but_stored_as_submitted = _task("old", created_at=now - 10 * tick, step=0)
    store = backend.tasks
    assert isinstance(store, MemoryTaskStore)
    # "stepped" is finished by its stored step, "old" by its age: the lifecycle's age is what counts.
    _fill(store, old_but_stored_as_submitted, _task("stepped", created_at=now, step=2), _task("new", created_at=now))
    assert _ids(asyncio.run(store.list_owned("alice", KIND, 0, 10))) == ["new", "stepped"]


def test_a_task_is_never_stamped_before_the_last_one() -> None:
    """One clock per store: a system clock stepping back (NTP) cannot list a task above a later one."""
    store = MemoryTaskStore()

    async def add_all() -> list[Task]:
        return [await store.add(_task(name, created_at=at)) for name, at in (("a", 1000), ("b", 900), ("c", 1001))]

    kept = asyncio.run(add_all())
    assert [(task.created_at, task.updated_at) for task in kept] == [(1000, 1000), (1000, 1000), (1001, 1001)]
    listed = asyncio.run(store.list_owned("alice", KIND, 0, 10))
    assert listed == kept[::-1]


def test_memory_per_task_stays_as_documented() -> None:
    """The store's docstring states ~0.4 KB per task with the documented example; keep it under 1 KB."""
    count = 20_000
    body = orjson.dumps(SEED_EXAMPLE)
    ids = IdGenerator(7)
    store = MemoryTaskStore(max_tasks=count)

    async def create_all() -> None:
        for i in range(count):
            created = orjson.loads(body)  # each request parses its own copy
            now = 1_800_000_000_000 + i
            video = video_reference(created["input"])
            await store.add(Task(ids.new(), KIND, token_digest(f"token-{i % 4}"), now, now, video))

    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        asyncio.run(create_all())
        gc.collect()
        per_task = (tracemalloc.get_traced_memory()[0] - before) / count
    finally:
        tracemalloc.stop()
    assert 150 < per_task < 1024, per_task
