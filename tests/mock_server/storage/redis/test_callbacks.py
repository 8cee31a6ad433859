"""Unit tests of the callback queue in Redis (`storage.redis.callbacks.RedisCallbackQueue`), on a real redis-server.

Two queues on one prefix are two processes sharing a Redis: a due job is claimed by one of them only, a task's
statuses come out one at a time and in order, enqueueing a status twice (or again once delivered) queues it once,
a lease not renewed runs out and the job goes to the other, and an acknowledgement deletes it. The dispatcher
that drives the queue, and delivery over HTTP with processes killed, are `test_callbacks_over_http.py`'s.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from mock_server.domain.outbox import Callback
from mock_server.storage.redis.callbacks import RedisCallbackQueue
from mock_server.storage.redis.connection import RedisConnection
from tests.support.redis_server import run_and_close

URL = "http://127.0.0.1:9/hooks/kling"
NOW = 1_700_000_000_000
STATUSES = ("submitted", "processing", "succeed")


def _callback(task_id: str, order: int, due_in_ms: int = 0, url: str = URL) -> Callback:
    task: dict[str, Any] = {"task_id": task_id, "task_status": STATUSES[order], "updated_at": NOW + due_in_ms}
    return Callback(url, task, order, NOW + due_in_ms)


def _queues(
    backend_for: Callable[..., RedisConnection], count: int = 2, **kwargs: int
) -> tuple[list[RedisCallbackQueue], list[RedisConnection]]:
    """`count` processes' queues on one prefix, each with a connection (and so a holder token) of its own."""
    connections = [backend_for() for _ in range(count)]
    return [RedisCallbackQueue(connection, **kwargs) for connection in connections], connections


def _claimed(jobs: list[Any]) -> list[tuple[str, int]]:
    return [(job.task_id, job.order) for job in jobs]


def test_a_due_job_is_claimed_by_one_process_only(backend_for: Callable[..., RedisConnection]) -> None:
    queues, connections = _queues(backend_for, count=4)

    async def test() -> None:
        for number in range(20):
            await queues[number % 4].put([_callback(f"t{number}", 0)], NOW)
        # Four processes claiming at once, again and again: each job lands in exactly one of them.
        rounds = [await asyncio.gather(*(queue.claim(5) for queue in queues)) for _ in range(3)]
        claimed = [job for found in rounds for jobs, _ in found for job in jobs]
        assert sorted(_claimed(claimed)) == sorted((f"t{number}", 0) for number in range(20))
        assert claimed[0].url == URL and claimed[0].task == _callback(claimed[0].task_id, 0).task

    run_and_close(test, *connections)


def test_a_status_is_queued_once_whoever_enqueues_it_and_however_often(
    backend_for: Callable[..., RedisConnection],
) -> None:
    (first, second), connections = _queues(backend_for)

    async def test() -> None:
        # Two workers advancing the same task at once: each queues `processing`, with its own rendering.
        await first.put([_callback("t", 0)], NOW)
        await asyncio.gather(first.put([_callback("t", 1)], NOW), second.put([_callback("t", 1, 5)], NOW))
        jobs, _ = await first.claim(10)
        assert _claimed(jobs) == [("t", 0)]
        assert await first.ack(jobs[0])
        jobs, _ = await second.claim(10)
        assert _claimed(jobs) == [("t", 1)]
        assert await second.ack(jobs[0])
        # Delivered statuses are remembered: a stale worker queueing one again, or an earlier one, adds nothing.
        await first.put([_callback("t", 1), _callback("t", 0)], NOW)
        assert await first.claim(10) == ([], None)

    run_and_close(test, *connections)


def test_a_task_s_statuses_come_out_one_at_a_time_in_order(backend_for: Callable[..., RedisConnection]) -> None:
    (first, second), connections = _queues(backend_for)

    async def test() -> None:
        # Queued out of order (a slow worker's `processing` after another's `succeed`): delivered in order.
        await first.put([_callback("t", 2)], NOW)
        await second.put([_callback("t", 0), _callback("t", 1)], NOW)
        delivered = []
        for _ in range(3):
            jobs, _ = await first.claim(10)
            assert len(jobs) == 1
            # While one status is out, the next waits: no process can claim it.
            assert (await second.claim(10))[0] == []
            delivered.append(jobs[0].task["task_status"])
            assert await first.ack(jobs[0])
        assert delivered == list(STATUSES)
        assert await second.claim(10) == ([], None)

    run_and_close(test, *connections)


def test_a_job_due_later_waits_for_its_time(backend_for: Callable[..., RedisConnection]) -> None:
    (queue,), connections = _queues(backend_for, count=1)

    async def test() -> None:
        await queue.put([_callback("t", 0, due_in_ms=400)], NOW)
        jobs, wait_ms = await queue.claim(10)
        assert jobs == [] and wait_ms is not None and 0 < wait_ms <= 400
        await asyncio.sleep(wait_ms / 1000 + 0.05)
        jobs, _ = await queue.claim(10)
        assert _claimed(jobs) == [("t", 0)]

    run_and_close(test, *connections)


def test_a_lease_that_runs_out_hands_the_job_to_another_process(
    backend_for: Callable[..., RedisConnection],
) -> None:
    """The holder stops renewing (it died, or stalled): the job goes to another, and the first can no longer ack."""
    (dead, alive), connections = _queues(backend_for, lease_ms=300)

    async def test() -> None:
        await dead.put([_callback("t", 0), _callback("t", 1)], NOW)
        jobs, wait_ms = await dead.claim(10)
        assert _claimed(jobs) == [("t", 0)] and wait_ms is not None and 200 < wait_ms <= 300
        assert (await alive.claim(10))[0] == []
        await asyncio.sleep(0.4)
        taken, _ = await alive.claim(10)
        assert _claimed(taken) == [("t", 0)]
        assert await dead.renew(["t"]) == [False]
        assert not await dead.ack(jobs[0]), "the lease is the new holder's"
        assert await alive.ack(taken[0])
        assert _claimed((await alive.claim(10))[0]) == [("t", 1)]

    run_and_close(test, *connections)


def test_a_renewed_lease_keeps_the_job(backend_for: Callable[..., RedisConnection]) -> None:
    (holder, other), connections = _queues(backend_for, lease_ms=300)

    async def test() -> None:
        await holder.put([_callback("t", 0)], NOW)
        jobs, _ = await holder.claim(10)
        for _ in range(8):  # 0.8 s: well past the lease, renewed every 0.1 s
            await asyncio.sleep(0.1)
            assert await holder.renew(["t"]) == [True]
            assert (await other.claim(10))[0] == []
        assert await holder.ack(jobs[0])

    run_and_close(test, *connections)


def test_an_acknowledged_job_is_deleted_and_its_memory_expires(
    backend_for: Callable[..., RedisConnection],
) -> None:
    (queue,), connections = _queues(backend_for, count=1, retain_ms=200)
    connection = connections[0]

    async def test() -> None:
        await queue.put([_callback("t", 0)], NOW)
        jobs, _ = await queue.claim(10)
        assert await queue.ack(jobs[0])
        client = connection.client
        assert await client.zcard(connection.key("callbacks")) == 0
        assert await client.hgetall(connection.key("callback", "t")) == {b"url": URL.encode(), b"sent": b"0"}
        assert 0 < await client.pttl(connection.key("callback", "t")) <= 200
        await asyncio.sleep(0.3)
        assert await client.exists(connection.key("callback", "t")) == 0
        # A later status (a poll after the key expired) is queued as any.
        await queue.put([_callback("t", 1)], NOW)
        jobs, _ = await queue.claim(10)
        assert _claimed(jobs) == [("t", 1)]
        assert await client.pttl(connection.key("callback", "t")) == -1, "pending: never expires"

    run_and_close(test, *connections)


def test_jobs_handed_back_are_due_at_once_for_another_process(backend_for: Callable[..., RedisConnection]) -> None:
    (stopping, other), connections = _queues(backend_for)

    async def test() -> None:
        await stopping.put([_callback("a", 0)], NOW)
        await stopping.put([_callback("b", 0)], NOW)
        jobs, _ = await stopping.claim(10)
        assert len(jobs) == 2
        await other.release(["a"])  # not its to hand back: nothing happens
        assert (await other.claim(10))[0] == []
        await stopping.release(["a", "b"])
        assert sorted(_claimed((await other.claim(10))[0])) == [("a", 0), ("b", 0)]

    run_and_close(test, *connections)
