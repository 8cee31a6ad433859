"""Tasks in this process's memory: the default store, bounded so that a long-running mock cannot grow without end."""

from __future__ import annotations

import dataclasses
import gc
import itertools
from collections import defaultdict, deque
from collections.abc import Callable

from ..domain import ExternalIdTaken, Task

DEFAULT_MAX_TASKS = 100_000
# See `MemoryTaskStore`: how often the stored tasks are moved out of the garbage collector's sight.
FREEZE_EVERY = 10_000


class MemoryTaskStore:
    """Tasks in dicts, for one process.

    Past `max_tasks`, each insert evicts one task: the oldest *finished* one among the `scan` oldest
    tasks, or, when none of those is finished, the oldest task overall. Looking at a bounded number
    of entries keeps eviction O(1) per insert (a scan of the whole store would make it O(n) once
    old unfinished tasks pile up at the front). Whether a task is finished is the lifecycle's call,
    so `is_finished` comes from it (the stored `step` alone is not the status when time drives
    tasks); without it, eviction is plain oldest-first. An evicted task is gone: unknown to `get`
    and absent from its owner's list.

    Memory: about 0.4 KB per task (358 bytes by tracemalloc over 20,000 tasks of the documented
    example, each with its own parsed request, on CPython 3.11; the storage tests keep it under 1 KB):
    a task keeps only its payload, and its owner's digest and kind are shared. The default bound of
    100,000 tasks costs about 40 MB.

    A task is stamped with the time it brings, or the last task's if that is later (`add`): one clock per store,
    so that list order and `created_at` agree even when the system clock steps back.

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
        # Per owner and kind, task ids in creation order (a dict keeps order and removes in O(1)).
        self._owned: defaultdict[tuple[str, str], dict[str, None]] = defaultdict(dict)
        # (owner, kind, external id) → task id.
        self._external: dict[tuple[str, str, str], str] = {}
        self._inserted = 0
        self._last_stamp = 0

    async def add(self, task: Task) -> Task:
        if task.external_id is not None:
            key = (task.owner, task.kind, task.external_id)
            if key in self._external:
                raise ExternalIdTaken(task.external_id)
            self._external[key] = task.task_id
        # One clock per store: never before the last stamp, so that a system clock stepping back (NTP) cannot
        # list a task above one created after it. Nothing suspends between the stamp and the insert.
        self._last_stamp = max(self._last_stamp, task.created_at)
        if task.created_at != self._last_stamp or task.updated_at != self._last_stamp:
            task = dataclasses.replace(task, created_at=self._last_stamp, updated_at=self._last_stamp)
        self._inserted += 1
        if self._inserted % FREEZE_EVERY == 0:
            gc.freeze()
        self._tasks[task.task_id] = task
        self._age.append(task.task_id)
        self._owned[task.owner, task.kind][task.task_id] = None
        if len(self._tasks) > self.max_tasks:
            self._evict_one()
        return task

    async def now_ms(self, local_ms: int) -> int:
        return local_ms

    async def get(self, task_id: str) -> Task | None:
        return self._tasks.get(task_id)

    async def update(self, task: Task) -> None:
        # An update to a task evicted meanwhile must not bring it back.
        if task.task_id in self._tasks:
            self._tasks[task.task_id] = task

    async def list_owned(self, owner: str, kind: str, offset: int, limit: int) -> list[Task]:
        ids = itertools.islice(reversed(self._owned.get((owner, kind), {})), offset, offset + limit)
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
        owned = self._owned[task.owner, task.kind]
        del owned[task_id]
        if not owned:
            del self._owned[task.owner, task.kind]
        if task.external_id is not None:
            del self._external[task.owner, task.kind, task.external_id]
