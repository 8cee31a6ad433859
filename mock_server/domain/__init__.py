"""What Kling's operations do, apart from HTTP: tasks and their lifecycle, outcomes, callbacks, one module per
operation family (`identify_face`, `lip_sync`), the sessions identify-face opens, the URLs of results and the files
they name, and `operations`, which maps each of the spec's operationIds to its work."""

from .callbacks import CallbackSender
from .files import File, open_file
from .identify_face import IDENTIFY_FACE
from .lifecycle import FINAL_STEP, Lifecycle
from .links import Links
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
    "File",
    "Handler",
    "Lifecycle",
    "Links",
    "Outcome",
    "Task",
    "TaskKind",
    "TaskService",
    "TaskStore",
    "open_file",
]
