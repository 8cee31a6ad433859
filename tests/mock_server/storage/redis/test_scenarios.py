"""Unit tests of the scenarios kept in Redis (`storage.redis.scenarios.RedisScenarios`), against a real redis-server.

Two books on one prefix are two processes sharing a Redis: a scenario added through one plays in the
other at its next request, `times` counts across both, and the `--scenarios` file seeds the list once
per file. `tests/mock_server/scenarios/test_book.py` covers what does not depend on where scenarios are kept.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from mock_server.core.callers import token_digest
from mock_server.core.errors import StoreUnavailable
from mock_server.scenarios import Effects, ScenarioBook
from mock_server.spec import Operation, Spec, load_spec
from mock_server.storage.redis.connection import RedisConnection
from mock_server.storage.redis.rate_limits import RedisRateLimits
from mock_server.storage.redis.scenarios import RedisScenarios
from tests.support.redis_server import RedisServer, run_and_close

TOKEN = "sk-scenarios-redis-secret-40c1"
OWNER = token_digest(TOKEN)
FLAKY = {"name": "flaky", "when": {}, "times": 2, "code": 5000}
SLOW = {"name": "slow", "when": {"token": TOKEN}, "latency_ms": 5}


@cache
def _spec() -> Spec:
    return load_spec()


def _create() -> Operation:
    return next(op for op in _spec().operations if op.operation_id == "createIdentifyFaceTask")


def _book(backend: RedisConnection, *file: dict[str, Any]) -> ScenarioBook:
    return ScenarioBook(_spec(), file, seed=1, rate_limits=RedisRateLimits(backend), shared=RedisScenarios(backend))


async def _code(book: ScenarioBook, header: str | None = None) -> int | None:
    effects: Effects | None = await book.effects(_create(), OWNER, header, None)
    return effects.error.code if effects is not None and effects.error is not None else None


async def _remaining(book: ScenarioBook) -> dict[str, int | None]:
    return {scenario.name: scenario.remaining for scenario in await book.listed()}


def test_a_scenario_added_through_one_process_plays_in_the_other(backend_for: Callable[..., RedisConnection]) -> None:
    backends = backend_for(), backend_for()
    first, second = (_book(backend) for backend in backends)

    async def test() -> None:
        await first.start()
        await second.start()
        assert await _code(second) is None
        await first.add({"name": "down", "when": {}, "code": 5001})
        assert await _code(second) == 5001
        await first.add({"name": "named", "code": 1103})
        assert await _code(second, header="named, down") == 1103
        assert await second.remove("down")
        assert await _code(first) is None
        assert not await first.remove("down")

    run_and_close(test, *backends)


def test_times_counts_across_processes(backend_for: Callable[..., RedisConnection]) -> None:
    backends = backend_for(), backend_for()
    first, second = (_book(backend) for backend in backends)

    async def test() -> None:
        await first.add(FLAKY)
        codes = [await _code(book) for book in (first, second, first, second, second)]
        assert codes == [5000, 5000, None, None, None]
        assert await _remaining(first) == await _remaining(second) == {"flaky": 0}
        # Replaced under the same name: its counter starts afresh.
        await second.add(FLAKY)
        assert await _remaining(first) == {"flaky": 2}
        assert await _code(first) == 5000

    run_and_close(test, *backends)


def test_a_use_of_a_scenario_replaced_meanwhile_is_not_counted(backend_for: Callable[..., RedisConnection]) -> None:
    backends = backend_for(), backend_for()
    first, second = (RedisScenarios(backend) for backend in backends)
    book = ScenarioBook(_spec())

    async def test() -> None:
        await first.put(book.parse({**FLAKY, "times": 1}, "api"))
        stale = (await first.current())["flaky"]
        await second.put(book.parse({**FLAKY, "times": 1}, "api"))
        assert await first.count_uses([stale]) == []
        assert [scenario.remaining for scenario in await second.listed()] == [1]

    run_and_close(test, *backends)


def test_the_list_keeps_its_order_and_never_a_token(
    backend_for: Callable[..., RedisConnection], redis_server: RedisServer
) -> None:
    backend = backend_for()
    book = _book(backend, SLOW)

    async def test() -> None:
        await book.start()
        await book.add({"name": "b", "code": 1103})
        await book.add({"name": "c", "times": 3, "code": 5001})
        await book.add({"name": "b", "code": 5000})  # replaced: now the newest
        listed = await book.listed()
        assert [(scenario.name, scenario.source) for scenario in listed] == [
            ("slow", "file"),
            ("c", "api"),
            ("b", "api"),
        ]
        assert listed[0].to_json()["when"] == {"caller": OWNER[:12]}

    run_and_close(test, backend)
    with redis_server.client() as client:
        keys = list(client.scan_iter(match=f"{backend.prefix}*"))
        assert keys
        for key in keys:
            held = client.hgetall(key) if client.type(key) == b"hash" else {key: client.get(key)}
            for name, value in held.items():
                assert TOKEN.encode() not in name + (value or b"")


def test_the_file_seeds_the_list_once_per_file(backend_for: Callable[..., RedisConnection]) -> None:
    backends = backend_for(), backend_for(), backend_for()
    first, again, other = _book(backends[0], FLAKY, SLOW), _book(backends[1], FLAKY, SLOW), _book(backends[2], SLOW)

    async def test() -> None:
        await first.start()
        assert await _code(first) == 5000
        assert await first.remove("slow")
        await first.add({"name": "api", "code": 1103})
        # Another worker, or the same mock restarted, with the same file: nothing refilled nor brought back.
        await again.start()
        assert await _remaining(again) == {"flaky": 1, "api": None}
        # A mock with another file: its file's scenarios replace the list.
        await other.start()
        assert await _remaining(first) == {"slow": None}
        # A reset puts the resetting process's file back, counters full; a clear keeps nothing.
        await first.reset()
        assert await _remaining(other) == {"flaky": 2, "slow": None}
        await first.clear()
        await again.start()
        assert await _remaining(again) == {}

    run_and_close(test, *backends)


def test_while_redis_is_away_the_list_last_read_plays(redis_server: RedisServer, tmp_path: Path) -> None:
    gone = RedisServer(redis_server.executable, tmp_path)
    backend = RedisConnection(gone.url)
    book = _book(backend, SLOW)

    async def test() -> None:
        await book.start()
        await book.add({"name": "named", "times": 2, "code": 5000})
        assert await _code(book, header="named") == 5000
        gone.stop()
        # A scenario without `times` still plays; one with it cannot be counted.
        effects = await book.effects(_create(), token_digest("someone-else"), "slow", None)
        assert effects is not None and effects.names == ("slow",)
        with pytest.raises(StoreUnavailable):
            await _code(book, header="named")
        for call in (book.listed(), book.add(SLOW), book.remove("slow"), book.reset(), book.clear()):
            with pytest.raises(StoreUnavailable):
                await call
        gone.start()  # empty: the next request seeds the file's again
        assert await _remaining(book) == {}
        assert await _code(book) is None
        assert await _remaining(book) == {"slow": None}

    with gone.start():
        run_and_close(test, backend)


def test_a_redis_away_at_start_is_seeded_by_the_first_request(redis_server: RedisServer, tmp_path: Path) -> None:
    gone = RedisServer(redis_server.executable, tmp_path)
    backend = RedisConnection(gone.url)
    book = _book(backend, SLOW)

    async def test() -> None:
        await book.start()  # says so, and serves
        gone.start()
        assert await book.effects(_create(), OWNER, None, None) is not None
        assert await _remaining(book) == {"slow": None}

    with gone:
        run_and_close(test, backend)
