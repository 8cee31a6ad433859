"""Each operation of the spec, by `operationId`: a validated call in, the envelope's `data` out.

The spec decides which operations exist and where; each family's module (`identify_face.py`) does the work.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, NamedTuple

from . import identify_face
from .identify_face import IDENTIFY_FACE
from .service import TaskService


class Call(NamedTuple):
    """A request that passed validation: who made it, its typed parameters and its body.

    A named tuple, not a frozen dataclass: made once per request, and a frozen dataclass's
    `__init__` costs a microsecond.
    """

    request_id: str
    owner: str
    parameters: dict[str, Any]
    body: Any
    # A scenario's decision for a task this call creates, or for the faces it finds ("failed" or "processing").
    fate: str | None = None


Handler = Callable[[TaskService, Call], Awaitable[Any]]


async def create_identify_face_task(service: TaskService, call: Call) -> Any:
    return await identify_face.create_task(service, call.owner, call.body, call.fate)


async def get_identify_face_task(service: TaskService, call: Call) -> Any:
    return await service.get(IDENTIFY_FACE, call.owner, call.parameters["task_id"])


async def list_identify_face_tasks(service: TaskService, call: Call) -> Any:
    return await service.list(IDENTIFY_FACE, call.owner, call.parameters["pageNum"], call.parameters["pageSize"])


async def identify_face_at_once(service: TaskService, call: Call) -> Any:
    return identify_face.identify(service, call.body, call.fate)


# Every kind of task the operations make, for rendering any of them (the admin API lists them all).
KINDS = (IDENTIFY_FACE,)

HANDLERS: dict[str, Handler] = {
    "createIdentifyFaceTask": create_identify_face_task,
    "getIdentifyFaceTask": get_identify_face_task,
    "listIdentifyFaceTasks": list_identify_face_tasks,
    "identifyFace": identify_face_at_once,
}
