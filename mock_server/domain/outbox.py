"""The callback outbox: each status of a task, queued for delivery to its `callback_url` at its time.

`TaskService` only says "this status of this task, rendered so, is due at T" (`Callback`); the backend chooses
the outbox (`storage.base.Backend.callbacks`), as it chooses where the journal and the scenarios live:

- `LocalOutbox` (memory, SQLite): in this process, as callbacks always were: each one an asyncio task that sleeps
  until it is due and waits for its task's previous one (`CallbackSender.send`). Lost at shutdown.
- `SharedOutbox` (Redis): every process sharing a `CallbackQueue` enqueues into it and runs a dispatcher that
  claims due jobs from it. The queue keeps one job per (task, status), whoever enqueues it and however often,
  and hands a task's statuses out one at a time, in order. A claim is a lease, renewed while its delivery (and
  its retries) goes on; a process that dies holding one leaves it to whichever claims it once the lease has run
  out, and one stopped gracefully hands its claims back at once.

Delivery is exactly once while processes live, and at least once when one dies: a process killed after the
receiver took a callback but before the queue heard of it leaves it to be delivered again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from ..core.clock import Clock
from ..core.errors import StoreUnavailable
from .callbacks import CallbackSender

logger = logging.getLogger("kling_mock.callbacks")

# How often an idle dispatcher looks for jobs no enqueue of its own woke it for: another process's, due now,
# or one whose holder died (its lease run out).
IDLE_SECONDS = 1.0
# Deliveries one process runs at once; more due jobs wait in the queue (for it, or for another process).
MAX_IN_FLIGHT = 64
# A delivered callback whose acknowledgement fails (the queue away) is acknowledged again, so many times.
_ACK_ATTEMPTS = 5
# At shutdown, deliveries in flight get this long to finish before they are stopped and handed back.
_GRACE_SECONDS = 1.0


@dataclass(frozen=True, slots=True)
class Callback:
    """One status of one task for its `callback_url`: `task` as the query renders it at `due_ms`.

    `order` is the status's place in the task's life (the lifecycle's step): a task's callbacks are delivered
    in ascending order, and one per order, however often it is enqueued.
    """

    url: str
    task: dict[str, Any]
    order: int
    due_ms: int

    @property
    def task_id(self) -> str:
        task_id: str = self.task["task_id"]
        return task_id


class CallbackOutbox(Protocol):
    async def enqueue(self, callbacks: Sequence[Callback]) -> None:
        """Queue callbacks of one task (refused ones are logged and dropped); they go out in the background."""
        ...

    async def start(self) -> None:
        """Start delivering: the app's lifespan calls it before serving."""
        ...

    async def aclose(self) -> None:
        """Stop delivering; at shutdown, before the backend closes."""
        ...


class LocalOutbox:
    """Callbacks in this process (memory and SQLite backends): `CallbackSender`'s own scheduling, as it always was."""

    def __init__(self, sender: CallbackSender, clock: Clock) -> None:
        self.sender = sender
        self.clock = clock

    async def enqueue(self, callbacks: Sequence[Callback]) -> None:
        now = self.clock.now_ms()
        for callback in callbacks:
            self.sender.send(callback.url, callback.task, delay=max(0, callback.due_ms - now) / 1000)

    async def start(self) -> None:
        """Nothing to start: each callback is its own asyncio task."""

    async def aclose(self) -> None:
        await self.sender.aclose()


@dataclass(frozen=True, slots=True)
class Claimed:
    """A job this process holds the lease of: its task's earliest status not delivered yet."""

    task_id: str
    order: int
    url: str
    task: dict[str, Any]


class CallbackQueue(Protocol):
    """Jobs shared by processes, claimed atomically (storage implements it: `storage.redis.callbacks`)."""

    # How long a claim holds without renewal: a dead holder's jobs wait this long for another process.
    lease_ms: int

    async def put(self, callbacks: Sequence[Callback], now_ms: int) -> None:
        """Add callbacks of one task (`due_ms` on the clock that says `now_ms`); a (task, order) known already,
        pending or delivered, is left as it is."""
        ...

    async def claim(self, limit: int) -> tuple[list[Claimed], int | None]:
        """At most `limit` due jobs, now held by this process; and milliseconds until the next job (or lease end)
        comes due, None when the queue is empty."""
        ...

    async def renew(self, task_ids: Sequence[str]) -> list[bool]:
        """Extend the leases of jobs this process holds; per job, False when it holds it no longer."""
        ...

    async def ack(self, job: Claimed) -> bool:
        """The job is done (delivered, or given up on): its task's next status comes due. False when the lease had
        been taken over meanwhile (the job is the new holder's)."""
        ...

    async def release(self, task_ids: Sequence[str]) -> None:
        """Hand back jobs held and not done (at shutdown), due again at once for any process."""
        ...


class SharedOutbox:
    """Callbacks through a queue every process shares: enqueued by whichever answered, delivered by whichever claims."""

    def __init__(
        self,
        queue: CallbackQueue,
        sender: CallbackSender,
        clock: Clock,
        idle_seconds: float = IDLE_SECONDS,
        max_in_flight: int = MAX_IN_FLIGHT,
    ) -> None:
        self.queue = queue
        self.sender = sender
        self.clock = clock
        self.idle_seconds = idle_seconds
        self.max_in_flight = max_in_flight
        self._wake = asyncio.Event()
        # The jobs this process holds, by task id, each with its delivery.
        self._held: dict[str, asyncio.Task[None]] = {}
        self._workers: list[asyncio.Task[None]] = []
        self._closed = False

    async def enqueue(self, callbacks: Sequence[Callback]) -> None:
        """Written to the queue before the request is answered: a process dying a moment later loses nothing."""
        allowed = [callback for callback in callbacks if self.sender.permits(callback.url, callback.task_id)]
        if not allowed:
            return
        await self.queue.put(allowed, self.clock.now_ms())
        self._start()
        self._wake.set()

    async def start(self) -> None:
        self._start()

    def _start(self) -> None:
        if not self._workers and not self._closed:
            loop = asyncio.get_running_loop()
            self._workers = [loop.create_task(self._dispatch()), loop.create_task(self._renew())]

    async def _dispatch(self) -> None:
        """Claim what is due, deliver each in a task of its own; sleep until the next is due, an enqueue, or a
        delivery's end (after which its task's next status may be due)."""
        wait = 0.0
        while True:
            if wait > 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), wait)
            self._wake.clear()
            room = self.max_in_flight - len(self._held)
            if room <= 0:
                wait = self.idle_seconds
                continue
            try:
                jobs, next_ms = await self.queue.claim(room)
            except StoreUnavailable:
                wait = self.idle_seconds  # said once by the store; the jobs wait there
                continue
            except Exception:
                logger.exception("the callback queue could not be read")
                wait = self.idle_seconds
                continue
            for job in jobs:
                if job.task_id not in self._held:  # else ours already: the claim only renewed its lease
                    self._held[job.task_id] = asyncio.get_running_loop().create_task(self._deliver(job))
            wait = self.idle_seconds if next_ms is None else min(self.idle_seconds, next_ms / 1000)
            if not jobs and wait <= 0:
                wait = 0.05  # due, but not claimable by us: look again shortly, never spin

    async def _deliver(self, job: Claimed) -> None:
        try:
            try:
                if self.sender.permits(job.url, job.task_id):
                    await self.sender.deliver(job.url, job.task)  # retries, and logs the last failure
            except Exception:
                # Given up, not handed on: another process would fail the same way, for ever.
                logger.exception("callback for task %s could not be delivered", job.task_id)
            await self._ack(job)
        finally:
            self._held.pop(job.task_id, None)
            self._wake.set()

    async def _ack(self, job: Claimed) -> None:
        wait = self.sender.first_delay
        for attempt in range(1, _ACK_ATTEMPTS + 1):
            try:
                if not await self.queue.ack(job):
                    logger.warning(
                        "callback for task %s (%s): its lease ran out before it was acknowledged; the process "
                        "that took it over may deliver it again",
                        job.task_id,
                        job.task["task_status"],
                    )
                return
            except StoreUnavailable:
                if attempt < _ACK_ATTEMPTS:
                    await asyncio.sleep(wait)
                    wait *= 2
        logger.warning(
            "callback for task %s (%s) delivered but not acknowledged (the task store cannot be reached): it will "
            "be delivered again once its lease runs out",
            job.task_id,
            job.task["task_status"],
        )

    async def _renew(self) -> None:
        """Keep the leases of the jobs held: four renewals per lease, so that a slow moment does not lose one."""
        while True:
            await asyncio.sleep(self.queue.lease_ms / 4000)
            held = list(self._held.items())
            if not held:
                continue
            try:
                kept = await self.queue.renew([task_id for task_id, _ in held])
            except StoreUnavailable:
                continue
            except Exception:
                logger.exception("the leases of callbacks in flight could not be renewed")
                continue
            for (task_id, delivery), ours in zip(held, kept, strict=True):
                # Only that very delivery: once it ended, a later status of the same task may be ours again.
                if not ours and self._held.get(task_id) is delivery:
                    logger.warning("callback for task %s: its lease ran out, another process took it over", task_id)
                    self._held.pop(task_id)
                    delivery.cancel()

    async def aclose(self) -> None:
        """Stop claiming; give deliveries in flight a moment, then stop them and hand their jobs back."""
        self._closed = True
        for worker in self._workers:
            worker.cancel()
        await asyncio.gather(*self._workers, return_exceptions=True)
        if self._held:
            await asyncio.wait(list(self._held.values()), timeout=_GRACE_SECONDS)
        unfinished = dict(self._held)
        for delivery in unfinished.values():
            delivery.cancel()
        await asyncio.gather(*unfinished.values(), return_exceptions=True)
        if unfinished:
            try:
                await self.queue.release(list(unfinished))
            except StoreUnavailable:
                logger.warning("%d callbacks in flight wait for their leases to run out", len(unfinished))
        await self.sender.aclose()
