"""What only the SQLite store does: every write committed before it returns, foreign files refused, files of
earlier versions read. What every backend does is `test_backends.py`'s; over HTTP, `test_sqlite_over_http.py`."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import orjson
import pytest

from mock_server.domain import Task
from mock_server.domain.identify_face import IDENTIFY_FACE, video_of
from mock_server.domain.videos import video_reference
from mock_server.storage.sqlite import SqliteTaskStore, StateFileError
from tests.support import SEED_EXAMPLE

KIND = IDENTIFY_FACE.name


def _task(task_id: str, owner: str = "alice", created_at: int = 1_700_000_000_000) -> Task:
    return Task(task_id, KIND, owner, created_at, created_at, f"|{task_id}")


def test_tasks_survive_reopening_the_file(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    tasks = [_task(f"t{i}", owner=("alice", "bob")[i % 2], created_at=1_700_000_000_000 + i) for i in range(4)]
    tasks[1].external_id = "mine"

    async def write() -> None:
        store = SqliteTaskStore(path)
        for task in tasks:
            await store.add(task)
        await store.aclose()

    asyncio.run(write())
    reopened = SqliteTaskStore(path)
    try:
        for task in tasks:
            assert asyncio.run(reopened.get(task.task_id)) == task
        assert len(reopened) == 4
    finally:
        asyncio.run(reopened.aclose())


def test_writes_are_committed_before_they_return(tmp_path: Path) -> None:
    """What a process killed right after answering leaves behind: another connection already sees it."""
    path = tmp_path / "state.db"
    writer = SqliteTaskStore(path)
    reader = SqliteTaskStore(path)
    try:
        task = _task("a")
        asyncio.run(writer.add(task))
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


_EARLIER_SCHEMA = """
CREATE TABLE tasks (
    task_id TEXT PRIMARY KEY, owner TEXT NOT NULL, created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL,
    step INTEGER NOT NULL, callback_url TEXT, input BLOB NOT NULL
);
CREATE INDEX tasks_by_owner ON tasks (owner);
"""


@pytest.mark.parametrize(
    "stored",
    [b"https://example.com/v.mp4|", orjson.dumps(SEED_EXAMPLE["input"])],
    ids=["a video reference", "a whole input"],
)
def test_a_state_file_of_an_earlier_version_keeps_its_tasks(tmp_path: Path, stored: bytes) -> None:
    """Files before kinds (and before scenarios) held identify-face tasks, their input, or earlier still its
    whole JSON, in a column `input`: they are upgraded in place, and each task's video is read as before."""
    path = tmp_path / "state.db"
    with sqlite3.connect(path) as db:
        db.executescript(_EARLIER_SCHEMA)
        db.execute("INSERT INTO tasks VALUES ('old', 'alice', 1, 2, 2, NULL, ?)", (stored,))
    db.close()
    reopened = SqliteTaskStore(path)
    try:
        task = asyncio.run(reopened.get("old"))
        listed = asyncio.run(reopened.list_owned("alice", KIND, 0, 10))
    finally:
        asyncio.run(reopened.aclose())
    assert task is not None and (task.kind, task.step, task.fate, task.external_id) == (KIND, 2, None, None)
    expected = "https://example.com/v.mp4|" if stored.startswith(b"https") else video_reference(SEED_EXAMPLE["input"])
    assert video_of(task.payload) == expected
    assert [task.task_id for task in listed] == ["old"]
