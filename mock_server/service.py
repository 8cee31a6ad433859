"""The identify-face backend's logic, apart from HTTP: create, query and list tasks."""

from __future__ import annotations

from typing import Any

from .callbacks import CallbackSender
from .errors import BusinessCode, KlingError
from .ids import IdGenerator, now_ms
from .lifecycle import FAILED, FINAL_STEP, SUCCEED, Lifecycle
from .outcomes import outcome_for, task_result
from .store import Task, TaskStore


class TaskService:
    def __init__(
        self, store: TaskStore, ids: IdGenerator, lifecycle: Lifecycle, callbacks: CallbackSender | None = None
    ) -> None:
        self.store = store
        self.ids = ids
        self.lifecycle = lifecycle
        self.callbacks = callbacks

    async def create(self, owner: str, body: dict[str, Any]) -> dict[str, Any]:
        now = now_ms()
        task = Task(
            task_id=self.ids.new(),
            owner=owner,
            created_at=now,
            updated_at=now,
            input=body["input"],
            callback_url=body.get("callback_url"),
        )
        await self.store.add(task)
        self._call_back_on_create(task, now)
        return self.render(task, now)

    async def get(self, owner: str, task_id: str) -> dict[str, Any]:
        task = await self.store.get(task_id)
        # Another caller's task is as unknown as a task that never was: its existence is not told.
        if task is None or task.owner != owner:
            raise KlingError(BusinessCode.NOT_FOUND, f"task {task_id}: no such task")
        now = now_ms()
        if self.lifecycle.on_poll(task, now):
            await self.store.update(task)
            if task.callback_url and self.callbacks:
                self.callbacks.send(task.callback_url, self.render(task, now))
        return self.render(task, now)

    async def list(self, owner: str, page_num: int, page_size: int) -> list[dict[str, Any]]:
        now = now_ms()
        tasks = await self.store.list_owned(owner, (page_num - 1) * page_size, page_size)
        return [self.render(task, now) for task in tasks]

    def _call_back_on_create(self, task: Task, now: int) -> None:
        """Announce `submitted` now and, when time drives the lifecycle, each later status at its time."""
        if not (task.callback_url and self.callbacks):
            return
        self.callbacks.send(task.callback_url, self.render(task, now))
        tick = self.lifecycle.tick_ms
        if tick > 0:
            for step in range(1, FINAL_STEP + 1):
                at = task.created_at + step * tick
                self.callbacks.send(task.callback_url, self.render(task, at), delay=(at - now) / 1000)

    async def aclose(self) -> None:
        """Stop pending callbacks, then close the store (a SQLite file is left consistent)."""
        if self.callbacks:
            await self.callbacks.aclose()
        await self.store.aclose()

    def render(self, task: Task, now: int) -> dict[str, Any]:
        """The task as the query returns it, as of `now`."""
        step, updated_at = self.lifecycle.current(task, now)
        outcome = outcome_for(task.input)
        status = self.lifecycle.status(step, outcome.succeeded)
        data: dict[str, Any] = {
            "task_id": task.task_id,
            "task_status": status,
            "created_at": task.created_at,
            "updated_at": updated_at,
        }
        if status == FAILED:
            data["task_status_msg"] = outcome.message
        elif status == SUCCEED:
            data["task_result"] = task_result(task.task_id, task.input, outcome.face_count)
        return data
