"""The identify-face backend's logic, apart from HTTP: create, query and list tasks, or identify at once."""

from __future__ import annotations

import builtins
from typing import Any

from .callbacks import CallbackSender
from .errors import BusinessCode, KlingError
from .ids import IdGenerator, now_ms
from .journal import caller_fingerprint
from .lifecycle import FAILED, FINAL_STEP, PROCESSING, Lifecycle
from .outcomes import Outcome, finished_result, outcome_for, task_result, video_reference
from .store import Task, TaskStore

SCENARIO_FAILURE = Outcome(succeeded=False, message="the task failed (scenario)")
IDENTIFY_SCENARIO_FAILURE = Outcome(succeeded=False, message="no faces could be identified (scenario)")


class TaskService:
    def __init__(
        self, store: TaskStore, ids: IdGenerator, lifecycle: Lifecycle, callbacks: CallbackSender | None = None
    ) -> None:
        self.store = store
        self.ids = ids
        self.lifecycle = lifecycle
        self.callbacks = callbacks

    async def create(self, owner: str, body: dict[str, Any], fate: str | None = None) -> dict[str, Any]:
        now = now_ms()
        task = Task(
            task_id=self.ids.new(),
            owner=owner,
            created_at=now,
            updated_at=now,
            video=video_reference(body["input"]),
            callback_url=body.get("callback_url"),
            fate=fate,
        )
        await self.store.add(task)
        self._call_back_on_create(task, now)
        return self.render(task, now)

    def identify(self, body: dict[str, Any], fate: str | None = None) -> dict[str, Any]:
        """The faces, found at once (the upstream dialect): no task is stored, no callback sent.

        A synchronous call has no failed task to carry a failure, so an outcome that fails (a marker,
        or a scenario's `failed`) is refused as an invalid parameter naming the video's field, and a
        scenario's `processing`, which the call cannot stay in, is an internal timeout.
        """
        if fate == PROCESSING:
            raise KlingError(
                BusinessCode.INTERNAL_TIMEOUT, "internal timeout: no faces found in time (scenario)", rule="scenario"
            )
        field = "video_url" if body.get("video_url") else "video_id"
        video = video_reference(body)
        outcome = IDENTIFY_SCENARIO_FAILURE if fate == FAILED else outcome_for(video)
        if not outcome.succeeded:
            # Chosen by a marker or a scenario, not a broken rule: the verdict does not hold it against the client.
            rule = "scenario" if fate == FAILED else "outcome"
            raise KlingError(BusinessCode.INVALID_PARAMETER, f"{field}: {outcome.message}", rule=rule, path=field)
        return task_result(self.ids.new(), video, outcome.face_count)

    async def get(self, owner: str, task_id: str) -> dict[str, Any]:
        task = await self.store.get(task_id)
        # Another caller's task is as unknown as a task that never was: its existence is not told.
        if task is None or task.owner != owner:
            raise KlingError(
                BusinessCode.NOT_FOUND, f"task {task_id}: no such task", rule="unknown-task", path="path.task_id"
            )
        now = now_ms()
        if self._last_step(task) > task.step and self.lifecycle.on_poll(task, now):
            await self.store.update(task)
            if task.callback_url and self.callbacks:
                self.callbacks.send(task.callback_url, self.render(task, now))
        return self.render(task, now)

    async def list(self, owner: str, page_num: int, page_size: int) -> list[dict[str, Any]]:
        now = now_ms()
        tasks = await self.store.list_owned(owner, (page_num - 1) * page_size, page_size)
        return [self.render(task, now) for task in tasks]

    async def recent(self, limit: int) -> builtins.list[tuple[str, dict[str, Any]]]:
        """Everyone's latest tasks, each with its caller's fingerprint, for the admin API."""
        now = now_ms()
        return [(caller_fingerprint(task.owner), self.render(task, now)) for task in await self.store.recent(limit)]

    @staticmethod
    def _last_step(task: Task) -> int:
        """How far the task may go: a task a scenario holds in `processing` stops at step 1."""
        return 1 if task.fate == PROCESSING else FINAL_STEP

    def _call_back_on_create(self, task: Task, now: int) -> None:
        """Announce `submitted` now and, when time drives the lifecycle, each later status at its time."""
        if not (task.callback_url and self.callbacks):
            return
        self.callbacks.send(task.callback_url, self.render(task, now))
        tick = self.lifecycle.tick_ms
        if tick > 0:
            for step in range(1, self._last_step(task) + 1):
                at = task.created_at + step * tick
                self.callbacks.send(task.callback_url, self.render(task, at), delay=(at - now) / 1000)

    async def aclose(self) -> None:
        """Stop pending callbacks, then close the store (a SQLite file is left consistent)."""
        if self.callbacks:
            await self.callbacks.aclose()
        await self.store.aclose()

    def render(self, task: Task, now: int) -> dict[str, Any]:
        """The task as the query returns it, as of `now`.

        Its outcome is only looked at once it is final: until then the status does not depend on it.
        """
        step, updated_at = self.lifecycle.current(task, now)
        if step > self._last_step(task):
            step = self._last_step(task)
            updated_at = task.created_at + step * self.lifecycle.tick_ms
        outcome = None
        if step >= FINAL_STEP:
            outcome = SCENARIO_FAILURE if task.fate == FAILED else outcome_for(task.video)
        data: dict[str, Any] = {
            "task_id": task.task_id,
            "task_status": self.lifecycle.status(step, outcome is None or outcome.succeeded),
            "created_at": task.created_at,
            "updated_at": updated_at,
        }
        if outcome is not None and outcome.succeeded:
            data["task_result"] = finished_result(task.task_id, task.video, outcome.face_count)
        elif outcome is not None:
            data["task_status_msg"] = outcome.message
        return data
