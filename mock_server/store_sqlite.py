"""Tasks in a SQLite file (`kling-mock serve --state FILE`), so that they survive a restart.

Every `add` and `update` is committed before it returns, so a task the mock has answered 200 for
is on disk: stopping the server (SIGTERM, or even SIGKILL) loses nothing acknowledged. The file
is in WAL mode with `synchronous=NORMAL`: a commit is an append to the write-ahead log, durable
against the process dying; only an operating-system crash or power cut may lose the last commits,
which is no concern for a mock.

The calls run inline on the event loop rather than in a worker thread. Each is one indexed
statement on a local file plus, for writes, a WAL append without fsync: tens of microseconds,
the order of validating a request body, while a thread hop would cost as much again. Inline, a
call also never suspends, so a task's read-advance-write in `TaskService.get` cannot interleave
with another request's, as with the memory store.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import orjson

from .outcomes import video_reference
from .store import Task

_SCHEMA = """
CREATE TABLE IF NOT EXISTS tasks (
    task_id      TEXT PRIMARY KEY,
    owner        TEXT NOT NULL,
    created_at   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL,
    step         INTEGER NOT NULL,
    callback_url TEXT,
    input        BLOB NOT NULL,  -- the task's video reference (files of earlier versions: its whole input, JSON)
    fate         TEXT
);
-- An index on owner holds (owner, rowid): an owner's tasks in creation order, read newest first.
CREATE INDEX IF NOT EXISTS tasks_by_owner ON tasks (owner);
"""
_COLUMNS = "task_id, owner, created_at, updated_at, input, callback_url, step, fate"


class StateFileError(Exception):
    """The state file cannot be opened or is not a mock's database."""


class SqliteTaskStore:
    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        try:
            # Used only from the event loop's thread, though it may be opened in another (test clients do).
            self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute("PRAGMA busy_timeout=5000")
            self._db.executescript(_SCHEMA)
            columns = {row[1] for row in self._db.execute("PRAGMA table_info(tasks)")}
            if columns and "fate" not in columns:  # a state file from before scenarios
                self._db.execute("ALTER TABLE tasks ADD COLUMN fate TEXT")
            self._db.execute(f"SELECT {_COLUMNS} FROM tasks LIMIT 0")  # a foreign `tasks` table fails here, not later
        except sqlite3.Error as exc:
            raise StateFileError(f"cannot use {self.path} as the state file: {exc}") from None

    async def add(self, task: Task) -> None:
        # In autocommit mode (isolation_level=None) the statement is committed when execute returns.
        self._db.execute(
            f"INSERT INTO tasks ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                task.task_id,
                task.owner,
                task.created_at,
                task.updated_at,
                task.video.encode(),
                task.callback_url,
                task.step,
                task.fate,
            ),
        )

    async def get(self, task_id: str) -> Task | None:
        row = self._db.execute(f"SELECT {_COLUMNS} FROM tasks WHERE task_id = ?", (task_id,)).fetchone()
        return None if row is None else _task(row)

    async def update(self, task: Task) -> None:
        # Only what moves: a task's input, owner and creation time never change.
        self._db.execute(
            "UPDATE tasks SET updated_at = ?, step = ? WHERE task_id = ?", (task.updated_at, task.step, task.task_id)
        )

    async def list_owned(self, owner: str, offset: int, limit: int) -> list[Task]:
        rows = self._db.execute(
            f"SELECT {_COLUMNS} FROM tasks WHERE owner = ? ORDER BY rowid DESC LIMIT ? OFFSET ?",
            (owner, limit, offset),
        ).fetchall()
        return [_task(row) for row in rows]

    async def recent(self, limit: int) -> list[Task]:
        rows = self._db.execute(f"SELECT {_COLUMNS} FROM tasks ORDER BY rowid DESC LIMIT ?", (limit,)).fetchall()
        return [_task(row) for row in rows]

    async def aclose(self) -> None:
        self._db.close()

    def __len__(self) -> int:
        count: int = self._db.execute("SELECT count(*) FROM tasks").fetchone()[0]
        return count


def _task(row: tuple[Any, ...]) -> Task:
    task_id, owner, created_at, updated_at, stored, callback_url, step, fate = row
    return Task(task_id, owner, created_at, updated_at, _video(stored), callback_url, step, fate)


def _video(stored: bytes) -> str:
    """The video reference a row keeps; a file of an earlier version kept the whole input as a JSON object
    (a reference never starts with `{`: it starts with a validated URI, or `|` when there is none)."""
    if stored.startswith(b"{"):
        return video_reference(orjson.loads(stored))
    return stored.decode()
