"""Deliver a task to its `callback_url` each time its status changes.

A fake backend must not become a tool to make requests to arbitrary hosts: by default it calls
back only loopback addresses (`localhost`, 127.0.0.0/8, ::1), and `--callback-allow-host` adds
named hosts. Hostnames are not resolved, so DNS cannot turn an allowed name into another address.
A refused or undeliverable callback is logged, never silently dropped.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit

import httpx

from ..core.urls import is_loopback

logger = logging.getLogger("kling_mock.callbacks")


class CallbackSender:
    def __init__(
        self,
        allowed_hosts: Iterable[str] = (),
        attempts: int = 5,
        first_delay: float = 0.2,
        timeout: float = 5.0,
    ) -> None:
        self.allowed_hosts = frozenset(host.lower() for host in allowed_hosts)
        self.attempts = attempts
        self.first_delay = first_delay
        self._client = httpx.AsyncClient(timeout=timeout, follow_redirects=False)
        self._pending: set[asyncio.Task[None]] = set()
        # Per task, its latest delivery: the next one waits for it, so that a task's statuses arrive in order.
        self._latest: dict[str, asyncio.Task[None]] = {}

    def refusal(self, url: str) -> str | None:
        """Why a callback to `url` may not be sent, or None when it may."""
        host = (urlsplit(url).hostname or "").lower()
        if host in self.allowed_hosts or is_loopback(url):
            return None
        return f"host {host!r} is not a loopback address; allow it with --callback-allow-host {host}"

    def permits(self, url: str, task_id: str) -> bool:
        """Whether a callback to `url` may be sent; a refusal is logged, never silent."""
        reason = self.refusal(url)
        if reason is not None:
            logger.warning("callback for task %s refused: %s", task_id, reason)
        return reason is None

    def send(self, url: str, task: dict[str, Any], delay: float = 0.0) -> None:
        """Deliver `task` to `url` in the background, after `delay` seconds and after its earlier callbacks."""
        if not self.permits(url, task["task_id"]):
            return
        task_id = task["task_id"]
        previous = self._latest.get(task_id)
        pending = asyncio.get_running_loop().create_task(self._deliver(url, task, delay, previous))
        self._pending.add(pending)
        self._latest[task_id] = pending
        pending.add_done_callback(functools.partial(self._done, task_id))

    def _done(self, task_id: str, delivery: asyncio.Task[None]) -> None:
        self._pending.discard(delivery)
        if self._latest.get(task_id) is delivery:
            del self._latest[task_id]

    async def _deliver(self, url: str, task: dict[str, Any], delay: float, previous: asyncio.Task[None] | None) -> None:
        await asyncio.sleep(delay)
        if previous is not None:
            await asyncio.wait([previous])
        await self.deliver(url, task)

    async def deliver(self, url: str, task: dict[str, Any]) -> bool:
        """POST `task` to `url` now, retrying with backoff; True once answered 2xx, False (logged) after the last try.

        The outbox shared through Redis (`storage.redis.callbacks`) delivers its jobs with it too.
        """
        wait = self.first_delay
        problem = ""
        for attempt in range(1, self.attempts + 1):
            try:
                response = await self._client.post(url, json=task)
                if response.is_success:
                    return True
                problem = f"HTTP {response.status_code}"
            except httpx.HTTPError as exc:
                problem = type(exc).__name__
            if attempt < self.attempts:
                await asyncio.sleep(wait)
                wait *= 2
        logger.warning(
            "callback for task %s (%s) not delivered after %d attempts: %s",
            task["task_id"],
            task["task_status"],
            self.attempts,
            problem,
        )
        return False

    async def aclose(self) -> None:
        for pending in list(self._pending):
            pending.cancel()
        await asyncio.gather(*self._pending, return_exceptions=True)
        await self._client.aclose()
