"""Each operation of the spec, by `operationId`: a validated call in, the envelope's `data` out.

The spec decides which operations exist and where; each family's module (`identify_face.py`, `lip_sync.py`)
does the work.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, NamedTuple

from . import identify_face, lip_sync
from .identify_face import IDENTIFY_FACE, IDENTIFY_FACE_AT_ONCE
from .links import Links
from .lip_sync import ADVANCED_LIP_SYNC, LIP_SYNC
from .service import TaskService
from .tasks import TaskKind


class Call(NamedTuple):
    """A request that passed validation: who made it, its typed parameters and its body, and where it came from.

    A named tuple, not a frozen dataclass: made once per request, and a frozen dataclass's
    `__init__` costs a microsecond.
    """

    request_id: str
    owner: str
    parameters: dict[str, Any]
    body: Any
    # The URLs of results, for the address the client reached the mock by.
    links: Links
    # A scenario's decision for a task this call creates, or for the faces it finds ("failed" or "processing").
    fate: str | None = None


Handler = Callable[[TaskService, Call], Awaitable[Any]]


def _querying(kind: TaskKind) -> Handler:
    async def get(service: TaskService, call: Call) -> Any:
        return await service.get(kind, call.owner, call.parameters["task_id"], call.links)

    return get


def _listing(kind: TaskKind) -> Handler:
    async def list_tasks(service: TaskService, call: Call) -> Any:
        parameters = call.parameters
        return await service.list(kind, call.owner, parameters["pageNum"], parameters["pageSize"], call.links)

    return list_tasks


async def create_identify_face_task(service: TaskService, call: Call) -> Any:
    return await identify_face.create_task(service, call.owner, call.body, call.fate, call.links)


async def identify_face_at_once(service: TaskService, call: Call) -> Any:
    return await identify_face.identify(service, call.owner, call.body, call.fate, call.links)


async def create_advanced_lip_sync_task(service: TaskService, call: Call) -> Any:
    return await lip_sync.create_advanced(service, call.owner, call.body, call.fate, call.links)


async def create_lip_sync_task(service: TaskService, call: Call) -> Any:
    return await lip_sync.create_lip_sync(service, call.owner, call.body, call.fate, call.links)


# Every kind of task the operations make, for rendering any of them (the admin API lists them all).
KINDS = (IDENTIFY_FACE, IDENTIFY_FACE_AT_ONCE, ADVANCED_LIP_SYNC, LIP_SYNC)

HANDLERS: dict[str, Handler] = {
    "createIdentifyFaceTask": create_identify_face_task,
    "getIdentifyFaceTask": _querying(IDENTIFY_FACE),
    "listIdentifyFaceTasks": _listing(IDENTIFY_FACE),
    "identifyFace": identify_face_at_once,
    "createAdvancedLipSyncTask": create_advanced_lip_sync_task,
    "getAdvancedLipSyncTask": _querying(ADVANCED_LIP_SYNC),
    "listAdvancedLipSyncTasks": _listing(ADVANCED_LIP_SYNC),
    "createLipSyncTask": create_lip_sync_task,
    "getLipSyncTask": _querying(LIP_SYNC),
    "listLipSyncTasks": _listing(LIP_SYNC),
}
