"""What Kling's operations do, apart from HTTP: tasks and their lifecycle, outcomes, callbacks, one module per
operation family (`identify_face`), and `operations`, which maps each of the spec's operationIds to its work."""

from .callbacks import CallbackSender
from .identify_face import IDENTIFY_FACE
from .lifecycle import FINAL_STEP, Lifecycle
from .operations import HANDLERS, KINDS, Call, Handler
from .service import TaskService
from .tasks import ExternalIdTaken, Outcome, Task, TaskKind, TaskStore

__all__ = [
    "FINAL_STEP",
    "HANDLERS",
    "IDENTIFY_FACE",
    "KINDS",
    "Call",
    "CallbackSender",
    "ExternalIdTaken",
    "Handler",
    "Lifecycle",
    "Outcome",
    "Task",
    "TaskKind",
    "TaskService",
    "TaskStore",
]
