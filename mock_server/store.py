"""Where created tasks live, behind one small async interface that other stores can implement."""

from __future__ import annotations

import gc
import itertools
from collections import defaultdict, deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

DEFAULT_MAX_TASKS = 100_000
# See `MemoryTaskStore`: how often the stored tasks are moved out of the garbage collector's sight.
FREEZE_EVERY = 10_000
# What a shared store's keys start with (Redis's), so that several mocks can share one.
DEFAULT_KEY_PREFIX = "kling-mock:"


@dataclass(slots=True)
class Task:
    """A task as stored: what it was asked, by whom, and how far it has gone (`step` 0 to 2).

    Of its input only the video it names is kept (`outcomes.video_reference`): that alone decides
    what the task finds, and a parsed input would be most of a task's memory.
    """

    task_id: str
    owner: str
    created_at: int
    updated_at: int
    video: str
    callback_url: str | None = None
    step: int = 0
    # What a scenario decided for it: "failed", or "processing" for ever; None lets its input decide.
    fate: str | None = None


class StoreUnavailable(Exception):
    """The store's backend cannot be reached or written to now (a Redis gone away): the request gets 503/5001.

    Transient: the next request tries again, so service resumes by itself once the backend is back.
    """


class StoreUnreachable(Exception):
    """At start: the store's backend (`--store`'s Redis) cannot be used; `kling-mock serve` exits 2, saying why."""


class TaskStore(Protocol):
    """Every method may raise `StoreUnavailable`; the stores in this process (memory, SQLite) never do."""

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

    Memory: about 0.4 KB per task (358 bytes by tracemalloc over 20,000 tasks of the documented
    example, each with its own parsed request, on CPython 3.11; `tests/mock_server/test_mock_store.py`
    keeps it under 1 KB): a task keeps only the video reference of its input, and its owner's digest
    is shared. The default bound of 100,000 tasks costs about 40 MB.

    Stored tasks are frozen out of the garbage collector's sight every `FREEZE_EVERY` inserts: they
    hold no reference cycles (reference counting frees an evicted one), and a full collection
    walking a hundred thousand of them would stall every request in flight for tens of milliseconds.
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
        self._inserted = 0

    async def add(self, task: Task) -> None:
        self._inserted += 1
        if self._inserted % FREEZE_EVERY == 0:
            gc.freeze()
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
        if victim == 0:
            task_id = self._age.popleft()  # the usual case: the oldest task is finished
        else:
            task_id = self._age[victim]
            del self._age[victim]  # O(victim), and victim < scan
        task = self._tasks.pop(task_id)
        owned = self._owned[task.owner]
        del owned[task_id]
        if not owned:
            del self._owned[task.owner]
