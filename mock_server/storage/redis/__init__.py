"""State in Redis (`--store redis://HOST:PORT/DB`): every worker and mock given it is one backend."""

from __future__ import annotations

from ...domain import TaskStore
from ...journal import JournalStore
from ...scenarios import RateLimits, ScenarioList
from .connection import RedisConnection, url_problem
from .journal import RedisJournal
from .rate_limits import RedisRateLimits
from .scenarios import RedisScenarios
from .tasks import RedisTaskStore

__all__ = ["RedisBackend", "url_problem"]


class RedisBackend:
    """Tasks, the journal, scenarios and rate limits in one Redis, under one key prefix."""

    shared = True

    def __init__(self, url: str, prefix: str, max_tasks: int, tick_ms: int) -> None:
        self.connection = RedisConnection(url, prefix)
        self.shown = self.connection.shown
        self.connection.check_reachable()
        self.tasks: TaskStore = RedisTaskStore(self.connection, max_tasks, tick_ms)

    def journal(self, capacity: int) -> JournalStore:
        return RedisJournal(self.connection, capacity)

    def scenario_list(self) -> ScenarioList | None:
        return RedisScenarios(self.connection)

    def rate_limits(self) -> RateLimits:
        return RedisRateLimits(self.connection)

    async def ping(self) -> None:
        await self.connection.ping()

    async def aclose(self) -> None:
        await self.connection.aclose()
