"""State in Redis (`--store redis://HOST:PORT/DB`): every worker and mock given it is one backend."""

from __future__ import annotations

from ...core.clock import Clock
from ...domain import CallbackSender, TaskStore
from ...domain.outbox import CallbackOutbox, SharedOutbox
from ...journal import JournalStore
from ...scenarios import RateLimits, ScenarioList
from .callbacks import RedisCallbackQueue
from .connection import RedisConnection, url_problem
from .journal import RedisJournal
from .rate_limits import RedisRateLimits
from .scenarios import RedisScenarios
from .tasks import RedisTaskStore

__all__ = ["RedisBackend", "url_problem"]


class RedisBackend:
    """Tasks, the journal, scenarios, rate limits and callbacks to deliver in one Redis, under one key prefix."""

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

    def callbacks(self, sender: CallbackSender, clock: Clock) -> CallbackOutbox:
        return SharedOutbox(RedisCallbackQueue(self.connection), sender, clock)

    async def ping(self) -> None:
        await self.connection.ping()

    async def aclose(self) -> None:
        await self.connection.aclose()
