"""The work common to every kind of task: ids, the lifecycle, callbacks, ownership, and rendering a task as
Kling's query answers it."""

from __future__ import annotations

import builtins
from collections.abc import Iterable
from typing import Any

from ..core import rules
from ..core.callers import caller_fingerprint
from ..core.clock import Clock
from ..core.errors import BusinessCode, KlingError
from ..core.ids import IdGenerator
from .lifecycle import FAILED, FINAL_STEP, PROCESSING, Lifecycle
from .links import Links
from .outbox import Callback, CallbackOutbox
from .tasks import Outcome, Task, TaskKind, TaskStore

SCENARIO_FAILURE = Outcome(succeeded=False, message="the task failed (scenario)")


def not_found(task_id: str) -> KlingError:
    """Another caller's task is as unknown as a task that never was: its existence is not told."""
    return KlingError(
        BusinessCode.NOT_FOUND, f"task {task_id}: no such task", rule=rules.UNKNOWN_TASK, path="path.task_id"
    )


class TaskService:
    def __init__(
        self,
        store: TaskStore,
        kinds: Iterable[TaskKind],
        ids: IdGenerator,
        lifecycle: Lifecycle,
        clock: Clock,
        callbacks: CallbackOutbox | None = None,
    ) -> None:
        self.store = store
        self.kinds = {kind.name: kind for kind in kinds}
        self.ids = ids
        self.lifecycle = lifecycle
        self.clock = clock
        self.callbacks = callbacks

    async def create(
        self,
        kind: TaskKind,
        owner: str,
        payload: str,
        links: Links,
        callback_url: str | None = None,
        fate: str | None = None,
        external_id: str | None = None,
        *,
        finished: bool = False,
    ) -> Task:
        """A new task, stored; `finished` for what a call does at once (the synchronous identify-face).

        `ExternalIdTaken` when the owner has a task of this kind with `external_id` already.
        """
        now = self.clock.now_ms()
        step = FINAL_STEP if finished else 0
        proposed = Task(self.ids.new(), kind.name, owner, now, now, payload, callback_url, step, fate, external_id)
        # The store stamps it: its time orders the lists, so `created_at` is the store's, not this process's.
        task = await self.store.add(proposed)
        await self._call_back_on_create(task, task.created_at, links)
        return task

    async def find(self, owner: str, task_id: str, kinds: Iterable[TaskKind]) -> Task | None:
        """The owner's task of one of `kinds`; None for any other, which is as unknown as one that never was."""
        task = await self.store.get(task_id)
        if task is None or task.owner != owner or task.kind not in {kind.name for kind in kinds}:
            return None
        return task

    async def get(self, kind: TaskKind, owner: str, task_id: str, links: Links) -> dict[str, Any]:
        task = await self.find(owner, task_id, (kind,))
        if task is None:
            raise not_found(task_id)
        now = self.clock.now_ms()
        if self._last_step(task) > task.step and self.lifecycle.advances_on_poll:
            # A stored `updated_at` is on the store's clock, as `created_at` is: one clock for every process.
            now = await self.store.now_ms(now)
            if self.lifecycle.on_poll(task, now):
                # Queued before the step is stored: whoever reads the new step finds its callback queued already.
                await self._call_back(task, links, [(task.step, now)])
                await self.store.update(task)
        return self.render(task, now, links)

    async def list(
        self, kind: TaskKind, owner: str, page_num: int, page_size: int, links: Links
    ) -> list[dict[str, Any]]:
        now = self.clock.now_ms()
        tasks = await self.store.list_owned(owner, kind.name, (page_num - 1) * page_size, page_size)
        return [self.render(task, now, links) for task in tasks]

    async def recent(self, limit: int, links: Links) -> builtins.list[tuple[str, str, dict[str, Any]]]:
        """Everyone's latest tasks, each with its caller's fingerprint and its kind, for the admin API."""
        now = self.clock.now_ms()
        tasks = await self.store.recent(limit)
        return [(caller_fingerprint(task.owner), task.kind, self.render(task, now, links)) for task in tasks]

    @staticmethod
    def _last_step(task: Task) -> int:
        """How far the task may go: a task a scenario holds in `processing` stops at step 1."""
        return 1 if task.fate == PROCESSING else FINAL_STEP

    async def _call_back_on_create(self, task: Task, now: int, links: Links) -> None:
        """Announce the status the task starts in now (`submitted`, or its end for a call answered at once) and,
        when time drives the lifecycle, each later status at its time."""
        if not task.callback_url:
            return
        tick = self.lifecycle.tick_ms
        later = range(task.step + 1, self._last_step(task) + 1) if tick > 0 else range(0)
        steps = [(task.step, now), *((step, task.created_at + step * tick) for step in later)]
        await self._call_back(task, links, steps)

    async def _call_back(self, task: Task, links: Links, steps: builtins.list[tuple[int, int]]) -> None:
        """Queue a callback per (step, time it is due): the task as the query renders it then."""
        if task.callback_url and self.callbacks:
            url = task.callback_url
            await self.callbacks.enqueue([Callback(url, self.render(task, at, links), step, at) for step, at in steps])

    async def aclose(self) -> None:
        """Stop pending callbacks (the store is its backend's to close)."""
        if self.callbacks:
            await self.callbacks.aclose()

    def progress(self, task: Task, now: int) -> tuple[int, int]:
        """How far the task has gone as of `now`, and since when: its step and `updated_at`."""
        step, updated_at = self.lifecycle.current(task, now)
        if step > self._last_step(task):
            step = self._last_step(task)
            updated_at = task.created_at + step * self.lifecycle.tick_ms
        return step, updated_at

    def outcome(self, task: Task, step: int, links: Links) -> Outcome | None:
        """How the task ended, once it has (a scenario's failure, else its kind's say); None before."""
        if step < FINAL_STEP:
            return None
        return SCENARIO_FAILURE if task.fate == FAILED else self.kinds[task.kind].outcome(task, links)

    def render(self, task: Task, now: int, links: Links) -> dict[str, Any]:
        """The task as the query returns it, as of `now`, its URLs made for the client that asks (`links`).

        Its outcome is only looked at once it is final: until then the status does not depend on it.
        """
        kind = self.kinds[task.kind]
        step, updated_at = self.progress(task, now)
        outcome = self.outcome(task, step, links)
        data: dict[str, Any] = {
            "task_id": task.task_id,
            "task_status": self.lifecycle.status(step, outcome is None or outcome.succeeded),
        }
        info = kind.info(task, links)
        if info is not None:
            data["task_info"] = info
        data["created_at"] = task.created_at
        data["updated_at"] = updated_at
        if outcome is not None and outcome.succeeded:
            data["task_result"] = outcome.result
        elif outcome is not None:
            data["task_status_msg"] = outcome.message
        return data
