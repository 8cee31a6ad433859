"""Choosing the task store from the settings: a state file's SQLite store, else a bounded memory one."""

from __future__ import annotations

from pathlib import Path

from .ids import now_ms
from .lifecycle import FINAL_STEP, Lifecycle
from .store import MemoryTaskStore, Task, TaskStore
from .store_sqlite import SqliteTaskStore


def open_store(state_path: Path | None, max_tasks: int, lifecycle: Lifecycle) -> TaskStore:
    """`max_tasks` bounds the memory store only: a state file is meant to keep everything."""
    if state_path is not None:
        return SqliteTaskStore(state_path)

    def is_finished(task: Task) -> bool:
        # The lifecycle decides: when time drives tasks, the stored step stays 0 while the status moves.
        return lifecycle.current(task, now_ms())[0] == FINAL_STEP

    return MemoryTaskStore(max_tasks, is_finished)
