"""Thousands of tasks from concurrent callers: no id collides, none is lost, none leaks to another owner.

The unit tests create a handful of tasks one at a time; a product creates thousands, many at once.
This runs 5,000 creates at a concurrency of 64 against a real server (uvicorn over loopback, as
users run it), then reads every task back and pages through every owner's list. Loops are bounded
and nothing asserts on time, so a slow machine makes the test slower, never flaky.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator, Sequence
from contextlib import AsyncExitStack
from dataclasses import dataclass
from typing import Any, TypeVar

import httpx
import pytest

from mock_server.client.process import MockProcess
from tests.support import CREATE_PATH

TASKS = 5_000
CONCURRENCY = 64
# A handful of callers, so that ownership is exercised: each must see exactly its own tasks.
OWNERS = tuple(f"scale-owner-{index}" for index in range(5))
PAGE_SIZE = 500
# The list is read until a short page; this bounds the loop should the server never send one.
MAX_PAGES = TASKS // PAGE_SIZE + 2

T = TypeVar("T")
R = TypeVar("R")
Work = Callable[[httpx.AsyncClient, T], Awaitable[R]]


@dataclass(frozen=True)
class Answer:
    """What one HTTP exchange returned: the status and the parsed envelope."""

    status: int
    body: dict[str, Any]


@dataclass(frozen=True)
class Created:
    """One create call: who sent it and what came back."""

    owner: str
    answer: Answer

    @property
    def task_id(self) -> str:
        return str(self.answer.body["data"]["task_id"])


@dataclass(frozen=True)
class ScaleRun:
    """Everything the run saw, gathered once for the module and then checked by several tests."""

    created: list[Created]
    reads: list[tuple[Created, Answer]]
    pages: dict[str, list[Answer]]

    def request_ids(self) -> list[str]:
        answers = [c.answer for c in self.created] + [a for _, a in self.reads]
        answers += [page for pages in self.pages.values() for page in pages]
        return [str(answer.body.get("request_id")) for answer in answers]


def _task_request(index: int) -> dict[str, Any]:
    """A distinct, valid text2video request; the URL differs so that no two inputs are the same."""
    return {
        "input": {
            "video_url": f"https://example.com/scale/{index}.mp4",
            "mode": "text2video",
            "text": f"Scale test task {index}.",
            "voice_id": "girlfriend_1_speech02",
            "voice_language": "en",
        }
    }


async def _bounded(clients: Sequence[httpx.AsyncClient], items: Sequence[T], work: Work[T, R]) -> list[R]:
    """`work` over every item by one worker per client, so at most `len(clients)` at once; results in item order.

    A fixed pool of workers sharing one iterator: never more requests in flight than workers, and
    no task object per item waiting on a semaphore. Each worker has a client of its own, with one
    connection: one httpx client pooling 64 connections spends about four times the CPU per request
    (httpcore scans its pool for each request), which made the client, not the server, the bottleneck.
    """
    results: dict[int, R] = {}
    pending = iter(enumerate(items))

    async def worker(http: httpx.AsyncClient) -> None:
        for index, item in pending:
            results[index] = await work(http, item)

    await asyncio.gather(*(worker(http) for http in clients))
    return [results[index] for index in range(len(items))]


def _answer(response: httpx.Response) -> Answer:
    body = response.json()
    return Answer(response.status_code, body if isinstance(body, dict) else {"not an object": body})


def _auth(owner: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {owner}"}


async def _create(http: httpx.AsyncClient, index: int) -> Created:
    owner = OWNERS[index % len(OWNERS)]
    response = await http.post(CREATE_PATH, json=_task_request(index), headers=_auth(owner))
    return Created(owner, _answer(response))


async def _read(http: httpx.AsyncClient, task: Created) -> tuple[Created, Answer]:
    response = await http.get(f"{CREATE_PATH}/{task.task_id}", headers=_auth(task.owner))
    return task, _answer(response)


async def _list_all(http: httpx.AsyncClient, owner: str) -> list[Answer]:
    """Every page of the owner's list, up to the first short one (at most `MAX_PAGES`)."""
    pages: list[Answer] = []
    for page_num in range(1, MAX_PAGES + 1):
        params = {"pageNum": page_num, "pageSize": PAGE_SIZE}
        page = _answer(await http.get(CREATE_PATH, params=params, headers=_auth(owner)))
        pages.append(page)
        if page.status != 200 or len(page.body.get("data", [])) < PAGE_SIZE:
            break
    return pages


async def _run(base_url: str) -> ScaleRun:
    one_connection = httpx.Limits(max_connections=1, max_keepalive_connections=1)
    async with AsyncExitStack() as stack:
        clients = [
            await stack.enter_async_context(httpx.AsyncClient(base_url=base_url, limits=one_connection, timeout=60))
            for _ in range(CONCURRENCY)
        ]
        created = await _bounded(clients, range(TASKS), _create)
        ok = [c for c in created if c.answer.status == 200 and c.answer.body.get("code") == 0]
        reads = await _bounded(clients, ok, _read)
        pages = await _bounded(clients[: len(OWNERS)], OWNERS, _list_all)
    return ScaleRun(created, reads, dict(zip(OWNERS, pages, strict=True)))


@pytest.fixture(scope="module")
def scale_run() -> Iterator[ScaleRun]:
    """One server and one run for the module: the tests below check different properties of it."""
    with MockProcess("--tick-ms", "0") as mock:
        yield asyncio.run(_run(mock.base_url))


def test_every_create_succeeds(scale_run: ScaleRun) -> None:
    assert len(scale_run.created) == TASKS
    failures = Counter((c.answer.status, c.answer.body.get("code")) for c in scale_run.created)
    assert failures == Counter({(200, 0): TASKS})
    assert all(c.answer.body["data"]["task_status"] == "submitted" for c in scale_run.created)


def test_task_ids_and_request_ids_never_repeat(scale_run: ScaleRun) -> None:
    task_ids = Counter(c.task_id for c in scale_run.created)
    assert len(task_ids) == TASKS, [task_id for task_id, n in task_ids.items() if n > 1][:10]
    request_ids = Counter(scale_run.request_ids())
    assert len(request_ids) == sum(request_ids.values()), [rid for rid, n in request_ids.items() if n > 1][:10]


def test_every_task_is_readable_by_its_owner(scale_run: ScaleRun) -> None:
    assert len(scale_run.reads) == TASKS
    wrong = [
        (task.task_id, answer)
        for task, answer in scale_run.reads
        if answer.status != 200
        or answer.body.get("code") != 0
        or answer.body["data"]["task_id"] != task.task_id
        or answer.body["data"]["created_at"] != task.answer.body["data"]["created_at"]
    ]
    assert not wrong, f"{len(wrong)} tasks not read back by their owner, e.g. {wrong[:3]}"


@pytest.mark.parametrize("owner", OWNERS)
def test_each_owner_lists_exactly_its_tasks_newest_first(scale_run: ScaleRun, owner: str) -> None:
    pages = scale_run.pages[owner]
    assert all((page.status, page.body.get("code")) == (200, 0) for page in pages)
    assert len(pages[-1].body["data"]) < PAGE_SIZE, f"no short page within {MAX_PAGES} pages"
    assert all(len(page.body["data"]) == PAGE_SIZE for page in pages[:-1])
    listed = [task for page in pages for task in page.body["data"]]
    listed_ids = [task["task_id"] for task in listed]
    assert len(listed_ids) == len(set(listed_ids)), "a task is listed twice"
    expected = {c.task_id for c in scale_run.created if c.owner == owner}
    assert len(expected) == TASKS // len(OWNERS)
    assert set(listed_ids) == expected, (
        f"missing {len(expected - set(listed_ids))}, foreign {len(set(listed_ids) - expected)}"
    )
    created_at = [task["created_at"] for task in listed]
    assert created_at == sorted(created_at, reverse=True), "not newest first"
