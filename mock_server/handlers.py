"""What each operation of the spec does once its request has passed validation.

Handlers are keyed by the spec's `operationId`: the spec decides which exist and where.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from .ids import new_id, now_ms
from .responses import JSONResponse, success
from .store import Task, TaskStore


@dataclass(frozen=True)
class Call:
    """A request that passed validation: who made it, with what body and path parameters."""

    request_id: str
    owner: str
    body: Any
    path_params: dict[str, str]


Handler = Callable[[TaskStore, Call], Awaitable[JSONResponse]]


async def create_identify_face_task(store: TaskStore, call: Call) -> JSONResponse:
    now = now_ms()
    task = Task(
        task_id=new_id(),
        owner=call.owner,
        task_status="submitted",
        created_at=now,
        updated_at=now,
        input=call.body["input"],
        callback_url=call.body.get("callback_url"),
    )
    await store.add(task)
    return success(call.request_id, task.summary())


HANDLERS: dict[str, Handler] = {
    "createIdentifyFaceTask": create_identify_face_task,
}
