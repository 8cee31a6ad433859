"""Where the mock's state lives, chosen by the URL of `--store`: `memory` (the default), `sqlite:///FILE`
(`--state FILE`), or `redis://HOST:PORT/DB` (shared by every worker and mock given it).

Storage knows no operation: it keeps `domain.Task`s, whatever their kind, and the journal's entries and
scenarios as their packages define them.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

from ..core.clock import Clock
from ..core.urls import shown_url
from ..domain import FINAL_STEP, Lifecycle, Task
from .base import DEFAULT_KEY_PREFIX, REDIS_SCHEMES, Backend, LocalBackend
from .memory import DEFAULT_MAX_TASKS, MemoryTaskStore
from .sqlite import SqliteTaskStore, StateFileError

__all__ = [
    "DEFAULT_KEY_PREFIX",
    "DEFAULT_MAX_TASKS",
    "MEMORY",
    "Backend",
    "StateFileError",
    "open_backend",
    "sqlite_url",
    "store_url_problem",
]

MEMORY = "memory"
_SQLITE = "sqlite"


def sqlite_url(path: Path) -> str:
    """The store URL of a SQLite file (`--state FILE`)."""
    return f"{_SQLITE}:///{path}"


def store_url_problem(url: str) -> str | None:
    """What is wrong with a store URL, if anything; it names no password."""
    scheme = urlsplit(url).scheme
    if url == MEMORY:
        return None
    if scheme == _SQLITE:
        return None if _sqlite_path(url) else "--store sqlite:///FILE needs a file"
    if scheme in REDIS_SCHEMES:
        from .redis import url_problem

        return url_problem(url)
    return (
        f"--store takes a Redis URL, redis://HOST:PORT/DB (or rediss://, unix://), sqlite:///FILE, or memory; "
        f"got {shown_url(url)}"
    )


def open_backend(
    url: str, max_tasks: int, lifecycle: Lifecycle, clock: Clock, prefix: str = DEFAULT_KEY_PREFIX
) -> Backend:
    """The backend `url` names. `max_tasks` bounds the memory and Redis stores: a state file keeps everything.

    A Redis that cannot be reached now raises `StoreUnreachable`: better refused at start than 5001 for every request.
    """
    problem = store_url_problem(url)
    if problem is not None:
        raise ValueError(problem)
    if urlsplit(url).scheme in REDIS_SCHEMES:
        from .redis import RedisBackend  # the Redis client adds 80 ms to every start: only for a mock that uses it

        return RedisBackend(url, prefix, max_tasks, lifecycle.tick_ms)
    if url != MEMORY:
        return LocalBackend(SqliteTaskStore(_sqlite_path(url)), url)

    def is_finished(task: Task) -> bool:
        # The lifecycle decides: when time drives tasks, the stored step stays 0 while the status moves.
        return lifecycle.current(task, clock.now_ms())[0] == FINAL_STEP

    return LocalBackend(MemoryTaskStore(max_tasks, is_finished), MEMORY)


def _sqlite_path(url: str) -> str:
    """`sqlite:///relative/file` and `sqlite:////absolute/file`, as SQLAlchemy spells them."""
    return url.partition(":///")[2]
