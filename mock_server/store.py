"""Where created tasks live. The query endpoints of the task lifecycle read them from here."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol


@dataclass
class Task:
    task_id: str
    owner: str
    task_status: str
    created_at: int
    updated_at: int
    input: dict[str, Any] = field(repr=False)
    callback_url: str | None = None

    def summary(self) -> dict[str, Any]:
        """The task as the create call answers it."""
        return {
            "task_id": self.task_id,
            "task_status": self.task_status,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
        }


class TaskStore(Protocol):
    async def add(self, task: Task) -> None: ...

    async def get(self, task_id: str) -> Task | None: ...


class MemoryTaskStore:
    """Tasks in a dict, for one process; the default."""

    def __init__(self) -> None:
        self._tasks: dict[str, Task] = {}

    async def add(self, task: Task) -> None:
        self._tasks[task.task_id] = task

    async def get(self, task_id: str) -> Task | None:
        return self._tasks.get(task_id)

    def __len__(self) -> int:
        return len(self._tasks)
