"""How a task moves: submitted → processing → succeed or failed, and only forward.

Driven by elapsed time, one step every `tick_ms`; with `tick_ms` 0, each poll of the task
advances it one step at once, so that tests need not wait.
"""

from __future__ import annotations

from dataclasses import dataclass

from .tasks import Task

SUBMITTED, PROCESSING, SUCCEED, FAILED = "submitted", "processing", "succeed", "failed"
FINAL_STEP = 2


@dataclass(frozen=True)
class Lifecycle:
    tick_ms: int = 1000

    @property
    def advances_on_poll(self) -> bool:
        """True when polls move tasks (and their stored `updated_at`), False when time does."""
        return self.tick_ms == 0

    def on_poll(self, task: Task, now: int) -> bool:
        """Advance a task that is being polled; True when its stored state changed."""
        if self.tick_ms == 0 and task.step < FINAL_STEP:
            task.step += 1
            task.updated_at = max(now, task.updated_at)
            return True
        return False

    def current(self, task: Task, now: int) -> tuple[int, int]:
        """The task's step and `updated_at` as of `now`: as stored, or, when time drives tasks, as far as its age
        takes it (a task stored finished, as a call answered at once is, is finished whatever its age)."""
        if self.tick_ms == 0 or task.step >= FINAL_STEP:
            return task.step, task.updated_at
        step = min(FINAL_STEP, max(0, now - task.created_at) // self.tick_ms)
        return step, task.created_at + step * self.tick_ms

    @staticmethod
    def status(step: int, succeeded: bool) -> str:
        """The status at `step`; `succeeded` says how the task ends once it has."""
        if step < FINAL_STEP:
            return (SUBMITTED, PROCESSING)[step]
        return SUCCEED if succeeded else FAILED
