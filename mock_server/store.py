"""Where created tasks live, behind one small async interface that other stores can implement."""

from __future__ import annotations

import itertools
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any, Protocol


@dataclass
class Task:
    """A task as stored: what it was asked, by whom, and how far it has gone (`step` 0 to 2)."""

    task_id: str
    owner: str
    created_at: int
    updated_at: int
    input: dict[str, Any] = field(repr=False)
    callback_url: str | None = None
    step: int = 0


class TaskStore(Protocol):
    async def add(self, task: Task) -> None: ...

    async def get(self, task_id: str) -> Task | None: ...

    async def update(self, task: Task) -> None: ...

    async def list_owned(self, owner: str, offset: int, limit: int) -> list[Task]:
        """The owner's tasks, newest first."""
        ...


class MemoryTaskStore:
    """Tasks in dicts, for one process; the default."""

    def __init__(self) -> None:
        self._tasks: dict[str, Task] = {}
        # Per owner, task ids in creation order (a dict keeps order and removes in O(1)).
        self._owned: defaultdict[str, dict[str, None]] = defaultdict(dict)

    async def add(self, task: Task) -> None:
        self._tasks[task.task_id] = task
        self._owned[task.owner][task.task_id] = None

    async def get(self, task_id: str) -> Task | None:
        return self._tasks.get(task_id)

    async def update(self, task: Task) -> None:
        self._tasks[task.task_id] = task

    async def list_owned(self, owner: str, offset: int, limit: int) -> list[Task]:
        ids = itertools.islice(reversed(self._owned.get(owner, {})), offset, offset + limit)
        return [self._tasks[task_id] for task_id in ids]

    def __len__(self) -> int:
        return len(self._tasks)
