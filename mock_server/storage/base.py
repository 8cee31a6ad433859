"""The seam between the mock and where its state lives: one `Backend` bundles tasks, the journal, the
scenarios and their rate limits, so that all of them follow the tasks into one place.

A backend in this process (`LocalBackend`: memory or SQLite) keeps the journal, the scenarios, the rate
limits and the callbacks waiting to go out here; a shared one (`storage.redis.RedisBackend`) keeps them where
every worker and mock given it shares them.
"""

from __future__ import annotations

from typing import Protocol

from ..core.clock import Clock
from ..domain import CallbackSender, TaskStore
from ..domain.outbox import CallbackOutbox, LocalOutbox
from ..journal import Journal, JournalStore
from ..scenarios import MemoryRateLimits, RateLimits, ScenarioList

# What a shared store's keys start with (Redis's), so that several mocks can share one.
DEFAULT_KEY_PREFIX = "kling-mock:"
REDIS_SCHEMES = ("redis", "rediss", "unix")


class Backend(Protocol):
    # The URL it was opened from, as messages may show it (no password).
    shown: str
    # True when other processes share it: the journal, scenarios and rate limits are kept there too.
    shared: bool
    tasks: TaskStore

    def journal(self, capacity: int) -> JournalStore:
        """The journal, bounded to `capacity` entries."""
        ...

    def scenario_list(self) -> ScenarioList | None:
        """The scenarios in play; None keeps them in each process (the book's own)."""
        ...

    def rate_limits(self) -> RateLimits: ...

    def callbacks(self, sender: CallbackSender, clock: Clock) -> CallbackOutbox:
        """Where callbacks wait to be delivered (by `sender`): in this process, or in a queue every process shares."""
        ...

    async def ping(self) -> None:
        """Raise `StoreUnavailable` while the backend cannot be reached (what `/healthz` reports)."""
        ...

    async def aclose(self) -> None:
        """Close what it holds; last at shutdown, after everything that uses it."""
        ...


class LocalBackend:
    """State in this process: tasks in memory or in a SQLite file, the rest in memory."""

    shared = False

    def __init__(self, tasks: TaskStore, shown: str) -> None:
        self.tasks = tasks
        self.shown = shown

    def journal(self, capacity: int) -> JournalStore:
        return Journal(capacity)

    def scenario_list(self) -> ScenarioList | None:
        return None

    def rate_limits(self) -> RateLimits:
        return MemoryRateLimits()

    def callbacks(self, sender: CallbackSender, clock: Clock) -> CallbackOutbox:
        return LocalOutbox(sender, clock)

    async def ping(self) -> None:
        """Memory and a local file cannot go away."""

    async def aclose(self) -> None:
        await self.tasks.aclose()
