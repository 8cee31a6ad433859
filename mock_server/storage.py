"""Choosing where state lives from the settings: Redis with `--store`, SQLite with `--state`, else bounded memory.

Tasks decide; the journal, the scenarios and their rate limits follow them into Redis when they are
there, so that every process sharing it is one backend, and otherwise stay in each process.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from .ids import now_ms
from .journal import Journal, JournalStore
from .lifecycle import FINAL_STEP, Lifecycle
from .store import DEFAULT_KEY_PREFIX, MemoryTaskStore, Task, TaskStore
from .store_sqlite import SqliteTaskStore

if TYPE_CHECKING:
    from .redis_backend import RedisBackend
    from .scenarios import RateLimits, ScenarioList


def open_store(
    state_path: Path | None,
    max_tasks: int,
    lifecycle: Lifecycle,
    redis_url: str | None = None,
    redis_prefix: str = DEFAULT_KEY_PREFIX,
) -> TaskStore:
    """`max_tasks` bounds the memory and Redis stores: a state file is meant to keep everything.

    A Redis that cannot be reached now raises `StoreUnreachable`: better refused at start than 5001 for every request.
    """
    if redis_url is not None:
        from .redis_backend import RedisBackend
        from .store_redis import RedisTaskStore

        backend = RedisBackend(redis_url, redis_prefix)
        backend.check_reachable()
        return RedisTaskStore(backend, max_tasks, lifecycle.tick_ms)
    if state_path is not None:
        return SqliteTaskStore(state_path)

    def is_finished(task: Task) -> bool:
        # The lifecycle decides: when time drives tasks, the stored step stays 0 while the status moves.
        return lifecycle.current(task, now_ms())[0] == FINAL_STEP

    return MemoryTaskStore(max_tasks, is_finished)


def shared_backend(store: TaskStore) -> RedisBackend | None:
    """The Redis a store keeps tasks in, for what must follow them there."""
    if isinstance(store, MemoryTaskStore | SqliteTaskStore):
        return None  # and the Redis client is not even imported: it adds 80 ms to every start
    from .store_redis import RedisTaskStore

    return store.backend if isinstance(store, RedisTaskStore) else None


def open_rate_limits(store: TaskStore) -> RateLimits | None:
    """Rate limits follow the tasks: into the store's Redis when it has one; None keeps them in each process."""
    backend = shared_backend(store)
    if backend is None:
        return None
    from .rate_limits_redis import RedisRateLimits

    return RedisRateLimits(backend)


def open_scenario_list(store: TaskStore) -> ScenarioList | None:
    """The scenarios follow the tasks likewise; None keeps them in each process (`ScenarioBook`'s default)."""
    backend = shared_backend(store)
    if backend is None:
        return None
    from .scenarios_redis import RedisScenarios

    return RedisScenarios(backend)


def open_journal(store: TaskStore, capacity: int) -> JournalStore:
    """The journal follows the tasks likewise, bounded to `capacity` entries."""
    backend = shared_backend(store)
    if backend is None:
        return Journal(capacity)
    from .journal_redis import RedisJournal

    return RedisJournal(backend, capacity)
