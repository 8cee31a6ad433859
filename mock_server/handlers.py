"""Each operation of the spec, by `operationId`: a validated call in, Kling's envelope out.

The spec decides which operations exist and where; `TaskService` does the work.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from .responses import JSONResponse, success
from .service import TaskService


@dataclass(frozen=True)
class Call:
    """A request that passed validation: who made it, its typed parameters and its body."""

    request_id: str
    owner: str
    parameters: dict[str, Any]
    body: Any
    # A scenario's decision for a task this call creates, or for the faces it finds ("failed" or "processing").
    fate: str | None = None


Handler = Callable[[TaskService, Call], Awaitable[JSONResponse]]


async def create_identify_face_task(service: TaskService, call: Call) -> JSONResponse:
    return success(call.request_id, await service.create(call.owner, call.body, call.fate))


async def get_identify_face_task(service: TaskService, call: Call) -> JSONResponse:
    return success(call.request_id, await service.get(call.owner, call.parameters["task_id"]))


async def identify_face(service: TaskService, call: Call) -> JSONResponse:
    """The upstream dialect: the faces at once, no task."""
    return success(call.request_id, service.identify(call.body, call.fate))


async def list_identify_face_tasks(service: TaskService, call: Call) -> JSONResponse:
    page = await service.list(call.owner, call.parameters["pageNum"], call.parameters["pageSize"])
    return success(call.request_id, page)


HANDLERS: dict[str, Handler] = {
    "createIdentifyFaceTask": create_identify_face_task,
    "getIdentifyFaceTask": get_identify_face_task,
    "listIdentifyFaceTasks": list_identify_face_tasks,
    "identifyFace": identify_face,
}
