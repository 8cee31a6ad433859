"""Unit tests of the task stores: the memory store's bound and eviction order, the SQLite store's round trip."""

from __future__ import annotations

import asyncio
import gc
import sqlite3
import tracemalloc
from collections.abc import Callable
from pathlib import Path

import orjson
import pytest

from mock_server.auth import token_digest
from mock_server.ids import IdGenerator, now_ms
from mock_server.lifecycle import Lifecycle
from mock_server.outcomes import video_reference
from mock_server.storage import open_store
from mock_server.store import MemoryTaskStore, Task, TaskStore
from mock_server.store_sqlite import SqliteTaskStore, StateFileError
from tests.support import SEED_EXAMPLE


def _task(task_id: str, owner: str = "alice", created_at: int = 1_700_000_000_000, step: int = 0) -> Task:
    return Task(task_id, owner, created_at, created_at, f"|{task_id}", None, step)


def _fill(store: TaskStore, *tasks: Task) -> None:
    async def add_all() -> None:
        for task in tasks:
            await store.add(task)

    asyncio.run(add_all())


def _ids(tasks: list[Task]) -> list[str]:
    return [task.task_id for task in tasks]


def _finished_in(done: set[str]) -> Callable[[Task], bool]:
    return lambda task: task.task_id in done


def test_past_the_bound_the_oldest_finished_task_goes_first() -> None:
    store = MemoryTaskStore(max_tasks=3, is_finished=_finished_in({"b", "c"}))
    _fill(store, _task("a"), _task("b"), _task("c"), _task("d"))
    assert len(store) == 3
    assert asyncio.run(store.get("b")) is None
    assert asyncio.run(store.get("a")) is not None
    _fill(store, _task("e"))
    assert _ids(asyncio.run(store.list_owned("alice", 0, 10))) == ["e", "d", "a"]


def test_with_nothing_finished_the_oldest_task_goes() -> None:
    store = MemoryTaskStore(max_tasks=2, is_finished=_finished_in(set()))
    _fill(store, _task("a"), _task("b"), _task("c"))
    assert asyncio.run(store.get("a")) is None
    assert _ids(asyncio.run(store.list_owned("alice", 0, 10))) == ["c", "b"]


def test_without_a_lifecycle_eviction_is_oldest_first() -> None:
    store = MemoryTaskStore(max_tasks=2)
    _fill(store, _task("a", step=2), _task("b", step=0), _task("c", step=2))
    assert _ids(asyncio.run(store.list_owned("alice", 0, 10))) == ["c", "b"]


def test_eviction_looks_only_at_the_oldest_few() -> None:
    """A finished task beyond the scanned window is not searched for: eviction stays O(1)."""
    store = MemoryTaskStore(max_tasks=3, is_finished=_finished_in({"c"}), scan=2)
    _fill(store, _task("a"), _task("b"), _task("c"), _task("d"))
    assert _ids(asyncio.run(store.list_owned("alice", 0, 10))) == ["d", "c", "b"]


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
        listed = asyncio.run(store.list_owned(owner, 0, 500))
        expected = [t.task_id for t in reversed(tasks) if t.owner == owner and t.task_id in kept]
        assert _ids(listed) == expected
    # bob's and carol's tasks were all older than alice's last 50: every one of them is gone.
    assert asyncio.run(store.list_owned("bob", 0, 500)) == []
    assert set(store._owned) == {"alice"}


def test_an_update_does_not_bring_back_an_evicted_task() -> None:
    store = MemoryTaskStore(max_tasks=1)
    first = _task("a")
    _fill(store, first, _task("b"))
    first.step = 1
    asyncio.run(store.update(first))
    assert asyncio.run(store.get("a")) is None
    assert len(store) == 1


def test_finished_is_the_lifecycle_s_call_when_time_drives_tasks() -> None:
    """With `--tick-ms` > 0 the stored step stays 0; a task is finished because of its age."""
    tick = 60_000
    store = open_store(None, 2, Lifecycle(tick))
    now = now_ms()
    old_but_stored_as_submitted = _task("old", created_at=now - 10 * tick, step=0)
    _fill(store, _task("young", created_at=now), old_but_stored_as_submitted, _task("new", created_at=now))
    assert _ids(asyncio.run(store.list_owned("alice", 0, 10))) == ["new", "young"]


def test_memory_per_task_stays_as_documented() -> None:
    """The store's docstring states ~0.4 KB per task with the documented example; keep it under 1 KB."""
    count = 20_000
    body = orjson.dumps(SEED_EXAMPLE)
    ids = IdGenerator(7)
    store = MemoryTaskStore(max_tasks=count)

    async def create_all() -> None:
        for i in range(count):
            created = orjson.loads(body)  # each request parses its own copy
            now = now_ms()
            video = video_reference(created["input"])
            await store.add(Task(ids.new(), token_digest(f"token-{i % 4}"), now, now, video))

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


def test_sqlite_round_trip_survives_reopening(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    tasks = [_task(f"t{i}", owner=("alice", "bob")[i % 2], created_at=1_700_000_000_000 + i) for i in range(7)]
    tasks[3].video = 'https://example.com/ü "quoted" \\ video.mp4|{"an": "id"}'
    tasks[4].callback_url = "http://127.0.0.1:9/hook"

    async def write() -> None:
        store: TaskStore = SqliteTaskStore(path)
        for task in tasks:
            await store.add(task)
        tasks[0].step, tasks[0].updated_at = 2, tasks[0].updated_at + 500
        await store.update(tasks[0])
        await store.aclose()

    asyncio.run(write())
    reopened = SqliteTaskStore(path)
    try:
        for task in tasks:
            assert asyncio.run(reopened.get(task.task_id)) == task
        assert asyncio.run(reopened.get("never")) is None
        assert _ids(asyncio.run(reopened.list_owned("alice", 0, 30))) == ["t6", "t4", "t2", "t0"]
        assert _ids(asyncio.run(reopened.list_owned("alice", 1, 2))) == ["t4", "t2"]
        assert _ids(asyncio.run(reopened.list_owned("bob", 0, 30))) == ["t5", "t3", "t1"]
        assert asyncio.run(reopened.list_owned("carol", 0, 30)) == []
        assert len(reopened) == 7
    finally:
        asyncio.run(reopened.aclose())


def test_sqlite_writes_are_committed_before_they_return(tmp_path: Path) -> None:
    """What a process killed right after answering leaves behind: another connection already sees it."""
    path = tmp_path / "state.db"
    writer = SqliteTaskStore(path)
    reader = SqliteTaskStore(path)
    try:
        task = _task("a")
        _fill(writer, task)
        assert asyncio.run(reader.get("a")) == task
        task.step = 1
        asyncio.run(writer.update(task))
        read = asyncio.run(reader.get("a"))
        assert read is not None and read.step == 1
    finally:
        asyncio.run(writer.aclose())
        asyncio.run(reader.aclose())


@pytest.mark.parametrize("content", [b"not a database at all, just some bytes" * 100, None])
def test_a_file_that_is_not_a_state_file_is_refused(tmp_path: Path, content: bytes | None) -> None:
    path = tmp_path / "state.db"
    if content is None:
        with sqlite3.connect(path) as other:
            other.execute("CREATE TABLE tasks (something_else TEXT)")
        other.close()
    else:
        path.write_bytes(content)
    with pytest.raises(StateFileError, match=r"state\.db"):
        SqliteTaskStore(path)


def test_a_state_file_of_an_earlier_version_keeps_its_tasks_outcomes(tmp_path: Path) -> None:
    """Earlier versions kept each task's whole input as JSON; its video reference is read from it."""
    path = tmp_path / "state.db"
    store = SqliteTaskStore(path)
    asyncio.run(store.add(_task("old")))
    asyncio.run(store.aclose())
    with sqlite3.connect(path) as db:
        db.execute("UPDATE tasks SET input = ?", (orjson.dumps(SEED_EXAMPLE["input"]),))
    reopened = SqliteTaskStore(path)
    try:
        task = asyncio.run(reopened.get("old"))
    finally:
        asyncio.run(reopened.aclose())
    assert task is not None and task.video == video_reference(SEED_EXAMPLE["input"])
