"""One Redis connection pool per process, for the state mocks share (`kling-mock serve --store redis://...`).

Whatever keeps state in Redis borrows the one `RedisConnection`: the tasks, the journal, the scenarios and
their rate limits. It gives them the key prefix, so that several mocks can share a Redis, and one translation
of Redis's failures into `StoreUnavailable`, which the app answers as 503/5001 until Redis is back.

Standalone Redis 5 or later (its scripts read the server's clock), or a primary; not Redis Cluster:
the scripts touch keys they find on the way, which Cluster's slots forbid.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable
from typing import TypeVar
from urllib.parse import urlsplit

import redis
import redis.asyncio
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from ...core.errors import StoreUnavailable, StoreUnreachable
from ...core.urls import shown_url
from ..base import DEFAULT_KEY_PREFIX, REDIS_SCHEMES

logger = logging.getLogger("kling_mock.store")

# Short enough that a request during an outage gets its 5001 at once, long enough for a loaded Redis.
_CONNECT_TIMEOUT_SECONDS = 2.0
_COMMAND_TIMEOUT_SECONDS = 5.0
# What "Redis is not there now" looks like (connection refused or reset, timeouts, a Redis still loading
# its data, one that refuses writes: out of memory, or a replica). Anything else is a bug, answered 5000.
_UNAVAILABLE = (redis.ConnectionError, redis.TimeoutError, redis.exceptions.OutOfMemoryError, redis.ReadOnlyError)
_UNREACHABLE = "cannot be reached"
_REFUSES = "takes no writes now"
_T = TypeVar("_T")


def url_problem(url: str) -> str | None:
    """What is wrong with a `--store` URL, if anything; it names no password."""
    if urlsplit(url).scheme not in REDIS_SCHEMES:
        return "--store takes a Redis URL, redis://HOST:PORT/DB (or rediss://, unix://)"
    try:
        redis.connection.parse_url(url)  # type: ignore[no-untyped-call]
    except ValueError as exc:
        return f"--store {shown_url(url)}: {exc}"
    return None


class RedisConnection:
    """The connection pool (redis-py's asyncio client, connecting lazily and again after a failure) and key prefix.

    The Redis backend (`storage.redis.RedisBackend`) owns it, and closes it last at shutdown.
    """

    def __init__(self, url: str, prefix: str = DEFAULT_KEY_PREFIX) -> None:
        self.url = url
        self.prefix = prefix
        self.shown = shown_url(url)
        # One retry, at once: after a Redis restart a pooled connection fails once, and its retry reconnects.
        # No backoff: while Redis is away, the caller should hear 5001 now rather than wait for it.
        self.client = redis.asyncio.Redis.from_url(
            url,
            socket_connect_timeout=_CONNECT_TIMEOUT_SECONDS,
            socket_timeout=_COMMAND_TIMEOUT_SECONDS,
            retry=Retry(NoBackoff(), 1),
        )
        self._down = False

    def key(self, *parts: str) -> str:
        return self.prefix + ":".join(parts)

    def check_reachable(self) -> None:
        """Ping once, synchronously (at start, before serving); raise `StoreUnreachable` saying why not."""
        try:
            with redis.Redis.from_url(
                self.url, socket_connect_timeout=_CONNECT_TIMEOUT_SECONDS, socket_timeout=_COMMAND_TIMEOUT_SECONDS
            ) as client:
                client.ping()
        except redis.RedisError as exc:
            raise StoreUnreachable(f"cannot use the task store at {self.shown}: {exc}") from None

    async def call(self, pending: Awaitable[_T]) -> _T:
        """Await a Redis call, turning an outage into `StoreUnavailable`; say once when one starts and ends."""
        try:
            result = await pending
        except _UNAVAILABLE as exc:
            if not self._down:
                self._down = True
                logger.warning("the task store at %s is unavailable (%s): 503/5001 until it is back", self.shown, exc)
            refused = isinstance(exc, redis.ResponseError)  # it answers, but takes no writes
            raise StoreUnavailable(f"the task store (Redis) {_REFUSES if refused else _UNREACHABLE}") from exc
        if self._down:
            self._down = False
            logger.warning("the task store at %s is back", self.shown)
        return result

    async def ping(self) -> None:
        """One PING through the pool, for `/healthz`: `StoreUnavailable` as any call, within the same timeouts.

        Through `call`, so an outage found by a health check is logged once, and its end too, like any other.
        """
        await self.call(self.client.ping())

    async def aclose(self) -> None:
        await self.client.aclose()
