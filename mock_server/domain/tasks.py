"""A task as stored, and what a store of them offers: the same for every operation family.

A `Task` is its kind (the family that made it), its owner, how far it has gone, its times, and the `payload`
its family derives the outcome from, which storage never reads. So a new family of operations is a new
`TaskKind`, with no change to any store.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from .links import Links


@dataclass(slots=True)
class Task:
    """A task as stored: what it was asked (`payload`, its family's to read), by whom, and how far it has gone.

    `step` goes 0 to 2 (submitted, processing, finished). `payload` is what decides the outcome and nothing
    more: a whole parsed input would be most of a task's memory.
    """

    task_id: str
    kind: str
    owner: str
    created_at: int
    updated_at: int
    payload: str
    callback_url: str | None = None
    step: int = 0
    # What a scenario decided for it: "failed", or "processing" for ever; None lets its input decide.
    fate: str | None = None
    # The caller's own id for it (Kling's `external_task_id`): unique among the owner's tasks of its kind.
    external_id: str | None = None


class ExternalIdTaken(Exception):
    """A store refuses a task whose `external_id` another task of the same owner and kind has."""


class TaskStore(Protocol):
    """Where tasks live. Every method may raise `StoreUnavailable`; the stores in this process never do."""

    async def add(self, task: Task) -> Task:
        """Keep a new task, stamped by the store's clock; return it as kept. `ExternalIdTaken` when its owner
        already has one of its kind with its `external_id`.

        The stamp (its `created_at` and `updated_at`) is taken in the same step that gives the task its place in
        the lists, and is never earlier than any stamp before it: list order and `created_at` agree by
        construction, whatever the clocks of the processes sharing the store.
        """
        ...

    async def now_ms(self, local_ms: int) -> int:
        """The store's time, for a stamp about to be stored (a polled task's `updated_at`): `local_ms`, this
        process's, for a store in this process; the shared clock's for a store processes share."""
        ...

    async def get(self, task_id: str) -> Task | None: ...

    async def update(self, task: Task) -> None:
        """Keep how far the task has gone (`step`, `updated_at`); nothing else of a task ever changes."""
        ...

    async def list_owned(self, owner: str, kind: str, offset: int, limit: int) -> list[Task]:
        """The owner's tasks of one kind, newest first."""
        ...

    async def recent(self, limit: int) -> list[Task]:
        """Everyone's tasks, newest first: for the admin API, not for callers."""
        ...

    async def aclose(self) -> None:
        """Release what the store holds; called once, when the server shuts down."""
        ...


@dataclass(frozen=True)
class Outcome:
    """How a finished task ends: its `task_result` when it succeeded, else the reason it failed."""

    succeeded: bool
    message: str | None = None
    result: dict[str, Any] | None = None


class TaskKind(Protocol):
    """An operation family's tasks: what its finished tasks hold, derived from the task alone, and the URLs of
    their results made for the client that asks (`links`)."""

    name: str

    def outcome(self, task: Task, links: Links) -> Outcome:
        """How `task` ends, from its id and payload; the same at every call (a family may cache it)."""
        ...

    def info(self, task: Task, links: Links) -> dict[str, Any] | None:
        """What the task was asked, as Kling shows it in `task_info`; None for a kind that shows none."""
        ...
