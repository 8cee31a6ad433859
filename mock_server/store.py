"""Where created tasks live, behind one small async interface that other stores can implement."""

from __future__ import annotations

import itertools
from collections import defaultdict, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

DEFAULT_MAX_TASKS = 100_000


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
    # What a scenario decided for it: "failed", or "processing" for ever; None lets its input decide.
    fate: str | None = None


class TaskStore(Protocol):
    async def add(self, task: Task) -> None: ...

    async def get(self, task_id: str) -> Task | None: ...

    async def update(self, task: Task) -> None: ...

    async def list_owned(self, owner: str, offset: int, limit: int) -> list[Task]:
        """The owner's tasks, newest first."""
        ...

    async def recent(self, limit: int) -> list[Task]:
        """Everyone's tasks, newest first: for the admin API, not for callers."""
        ...

    async def aclose(self) -> None:
        """Release what the store holds; called once, when the server shuts down."""
        ...


class MemoryTaskStore:
    """Tasks in dicts, for one process; the default. Bounded, so a long-running mock cannot grow without end.

    Past `max_tasks`, each insert evicts one task: the oldest *finished* one among the `scan` oldest
    tasks, or, when none of those is finished, the oldest task overall. Looking at a bounded number
    of entries keeps eviction O(1) per insert (a scan of the whole store would make it O(n) once
    old unfinished tasks pile up at the front). Whether a task is finished is the lifecycle's call,
    so `is_finished` comes from it (the stored `step` alone is not the status when time drives
    tasks); without it, eviction is plain oldest-first. An evicted task is gone: unknown to `get`
    and absent from its owner's list.

    Memory: about 1.1 KB per task holding the provider page's documented example input (1,096
    bytes by tracemalloc, 1,209 bytes of RSS, over 100,000 tasks each with its own parsed input, id
    and owner digest, on CPython 3.11; `tests/mock_server/test_mock_store.py` checks it stays under
    1.5 KB), so the default bound of 100,000 tasks costs about 120 MB. A larger input (base64
    audio) costs its own size on top.
    """

    def __init__(
        self,
        max_tasks: int = DEFAULT_MAX_TASKS,
        is_finished: Callable[[Task], bool] | None = None,
        scan: int = 32,
    ) -> None:
        if max_tasks < 1:
            raise ValueError("max_tasks must be at least 1")
        self.max_tasks = max_tasks
        self._is_finished = is_finished
        self._scan = scan
        self._tasks: dict[str, Task] = {}
        # Task ids, oldest first. A deque, not the front of `_tasks`: iterating a dict from its start
        # walks past every slot deleted since its last resize, which would make eviction O(n).
        self._age: deque[str] = deque()
        # Per owner, task ids in creation order (a dict keeps order and removes in O(1)).
        self._owned: defaultdict[str, dict[str, None]] = defaultdict(dict)

    async def add(self, task: Task) -> None:
        self._tasks[task.task_id] = task
        self._age.append(task.task_id)
        self._owned[task.owner][task.task_id] = None
        if len(self._tasks) > self.max_tasks:
            self._evict_one()

    async def get(self, task_id: str) -> Task | None:
        return self._tasks.get(task_id)

    async def update(self, task: Task) -> None:
        # An update to a task evicted meanwhile must not bring it back.
        if task.task_id in self._tasks:
            self._tasks[task.task_id] = task

    async def list_owned(self, owner: str, offset: int, limit: int) -> list[Task]:
        ids = itertools.islice(reversed(self._owned.get(owner, {})), offset, offset + limit)
        return [self._tasks[task_id] for task_id in ids]

    async def recent(self, limit: int) -> list[Task]:
        return [self._tasks[task_id] for task_id in itertools.islice(reversed(self._age), limit)]

    async def aclose(self) -> None:
        pass

    def __len__(self) -> int:
        return len(self._tasks)

    def _evict_one(self) -> None:
        victim = 0
        if self._is_finished is not None:
            for index, task_id in enumerate(itertools.islice(self._age, self._scan)):
                if self._is_finished(self._tasks[task_id]):
                    victim = index
                    break
        task_id = self._age[victim]
        del self._age[victim]  # O(victim), and victim < scan
        task = self._tasks.pop(task_id)
        owned = self._owned[task.owner]
        del owned[task_id]
        if not owned:
            del self._owned[task.owner]
