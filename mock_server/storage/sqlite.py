"""Tasks in a SQLite file (`kling-mock serve --state FILE`), so that they survive a restart.

Every `add` and `update` is committed before it returns, so a task the mock has answered 200 for
is on disk: stopping the server (SIGTERM, or even SIGKILL) loses nothing acknowledged. The file
is in WAL mode with `synchronous=NORMAL`: a commit is an append to the write-ahead log, durable
against the process dying; only an operating-system crash or power cut may lose the last commits,
which is no concern for a mock.

The calls run inline on the event loop rather than in a worker thread. Each is one indexed
statement on a local file plus, for writes, a WAL append without fsync: tens of microseconds,
the order of validating a request body, while a thread hop would cost as much again. Inline, a
call also never suspends, so a task's read-advance-write cannot interleave with another request's,
as with the memory store.
"""

from __future__ import annotations

import dataclasses
import sqlite3
from pathlib import Path
from typing import Any

from ..domain import ExternalIdTaken, Task

_SCHEMA = """
CREATE TABLE IF NOT EXISTS tasks (
    task_id      TEXT PRIMARY KEY,
    kind         TEXT NOT NULL,
    owner        TEXT NOT NULL,
    created_at   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL,
    step         INTEGER NOT NULL,
    callback_url TEXT,
    payload      BLOB NOT NULL,  -- what the task's family derives its outcome from; storage never reads it
    fate         TEXT,
    external_id  TEXT
);
"""
# An index holds (owner, kind, rowid): an owner's tasks of one kind in creation order, read newest first.
_INDEXES = """
CREATE INDEX IF NOT EXISTS tasks_by_owner_and_kind ON tasks (owner, kind);
CREATE UNIQUE INDEX IF NOT EXISTS tasks_by_external_id ON tasks (owner, kind, external_id)
    WHERE external_id IS NOT NULL;
"""
_COLUMNS = "task_id, kind, owner, created_at, updated_at, payload, callback_url, step, fate, external_id"
# A new task, stamped: its `created_at` (and `updated_at`) is the time proposed, or the last task's (rowid order,
# the lists' order) if that is later. Returns the stamp.
_INSERT = f"""
INSERT INTO tasks ({_COLUMNS})
SELECT ?2, ?3, ?4, stamp, stamp, ?5, ?6, ?7, ?8, ?9
FROM (SELECT max(?1, coalesce((SELECT created_at FROM tasks ORDER BY rowid DESC LIMIT 1), 0)) AS stamp)
RETURNING created_at
"""
# Files of versions before tasks had kinds held only identify-face tasks, their payload in a column `input`.
_LEGACY_KIND = "identify-face"


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
            self._upgrade()
            self._db.executescript(_INDEXES)
            self._db.execute(f"SELECT {_COLUMNS} FROM tasks LIMIT 0")  # a foreign `tasks` table fails here, not later
        except sqlite3.Error as exc:
            raise StateFileError(f"cannot use {self.path} as the state file: {exc}") from None

    def _upgrade(self) -> None:
        """Bring a file of an earlier version to this schema, in place."""
        columns = {row[1] for row in self._db.execute("PRAGMA table_info(tasks)")}
        if "fate" not in columns:  # before scenarios
            self._db.execute("ALTER TABLE tasks ADD COLUMN fate TEXT")
        if "input" in columns and "payload" not in columns:  # before kinds
            self._db.execute("ALTER TABLE tasks RENAME COLUMN input TO payload")
            self._db.execute(f"ALTER TABLE tasks ADD COLUMN kind TEXT NOT NULL DEFAULT '{_LEGACY_KIND}'")
            self._db.execute("ALTER TABLE tasks ADD COLUMN external_id TEXT")
            self._db.execute("DROP INDEX IF EXISTS tasks_by_owner")

    async def add(self, task: Task) -> Task:
        # In autocommit mode (isolation_level=None) the statement is committed when execute returns. The stamp
        # is taken in the insert itself: never before the last task's, whichever process wrote that one.
        try:
            [(stamp,)] = self._db.execute(
                _INSERT,
                (
                    task.created_at,
                    task.task_id,
                    task.kind,
                    task.owner,
                    task.payload.encode(),
                    task.callback_url,
                    task.step,
                    task.fate,
                    task.external_id,
                ),
            ).fetchall()  # stepped to the end: the statement is done, and committed
        except sqlite3.IntegrityError:
            if task.external_id is None:
                raise
            raise ExternalIdTaken(task.external_id) from None
        if stamp == task.created_at == task.updated_at:
            return task
        return dataclasses.replace(task, created_at=stamp, updated_at=stamp)

    async def now_ms(self, local_ms: int) -> int:
        return local_ms

    async def get(self, task_id: str) -> Task | None:
        row = self._db.execute(f"SELECT {_COLUMNS} FROM tasks WHERE task_id = ?", (task_id,)).fetchone()
        return None if row is None else _task(row)

    async def update(self, task: Task) -> None:
        # Only what moves: a task's input, owner and creation time never change.
        self._db.execute(
            "UPDATE tasks SET updated_at = ?, step = ? WHERE task_id = ?", (task.updated_at, task.step, task.task_id)
        )

    async def list_owned(self, owner: str, kind: str, offset: int, limit: int) -> list[Task]:
        rows = self._db.execute(
            f"SELECT {_COLUMNS} FROM tasks WHERE owner = ? AND kind = ? ORDER BY rowid DESC LIMIT ? OFFSET ?",
            (owner, kind, limit, offset),
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
    task_id, kind, owner, created_at, updated_at, payload, callback_url, step, fate, external_id = row
    payload = payload.decode() if isinstance(payload, bytes) else payload
    return Task(task_id, kind, owner, created_at, updated_at, payload, callback_url, step, fate, external_id)
