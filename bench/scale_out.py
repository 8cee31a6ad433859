"""Scale-out check: the list stays newest first when several callers create through several mocks on one Redis.

Two mocks share one fresh redis-server (the first with `--workers 2`); several callers (tokens) create tasks at
once through both, at most `--concurrency` requests in flight; then each caller's list is read back page by page
through each mock. A run passes when every list has `created_at` non-increasing down the pages and holds each
task its caller created exactly once (none lost, none repeated, none of another caller's).

    python -m bench.scale_out                          # 10 runs of 5,000 creates at concurrency 64
    python -m bench.scale_out --runs 1 --tasks 3000    # what `make test` runs (test_scale_out.py)

docs/scaling.md records its last result. Exit status 1 when any run found a problem.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from mock_server.client.process import MockProcess

from . import servers, workload

# Kling's largest page is 500; an odd size makes pages end anywhere among tasks of one millisecond.
PAGE_SIZE = 137
# Only so that a hung mock fails the run instead of blocking it; nothing is judged by time.
REQUEST_TIMEOUT_S = 60.0


class ScaleOutError(RuntimeError):
    """A create was not answered 200, or a page not 200: the run cannot be judged."""


@dataclass
class RunResult:
    """One run: how many tasks were created, in how long, and what was wrong with the lists read back."""

    created: int
    seconds: float
    problems: list[str] = field(default_factory=list)


def check_listing(listed: Sequence[dict[str, Any]], created: set[str], where: str) -> list[str]:
    """What is wrong with one caller's list, read back whole: out of order, repeated, lost, or someone else's."""
    problems: list[str] = []
    ids = [task["task_id"] for task in listed]
    for above, below in itertools.pairwise(listed):
        if below["created_at"] > above["created_at"]:
            problems.append(
                f"{where}: {below['task_id']} (created_at {below['created_at']}) listed below "
                f"{above['task_id']} (created_at {above['created_at']})"
            )
    if len(set(ids)) != len(ids):
        problems.append(f"{where}: {len(ids) - len(set(ids))} tasks listed twice")
    if lost := created - set(ids):
        problems.append(f"{where}: {len(lost)} tasks lost, e.g. {sorted(lost)[:3]}")
    if foreign := set(ids) - created:
        problems.append(f"{where}: {len(foreign)} tasks not the caller's, e.g. {sorted(foreign)[:3]}")
    return problems


async def create_all(
    base_urls: Sequence[str], tokens: Sequence[str], total: int, concurrency: int, body: bytes, path: str
) -> dict[str, set[str]]:
    """`total` creates, `concurrency` in flight at most, round robin over callers and mocks; each caller's ids."""
    created: dict[str, set[str]] = {token: set() for token in tokens}
    indexes = iter(range(total))  # shared: each create is taken by one sender, and the loop ends with them
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(timeout=REQUEST_TIMEOUT_S, limits=limits) as http:

        async def sender() -> None:
            for index in indexes:
                token = tokens[index % len(tokens)]
                base_url = base_urls[(index // len(tokens)) % len(base_urls)]
                headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
                answer = await http.post(base_url + path, content=body, headers=headers)
                if answer.status_code != 200:
                    raise ScaleOutError(f"create through {base_url}: {answer.status_code} {answer.text[:300]}")
                created[token].add(answer.json()["data"]["task_id"])

        await asyncio.gather(*(sender() for _ in range(concurrency)))
    return created


def read_list(base_url: str, token: str, path: str, expected: int, page_size: int = PAGE_SIZE) -> list[dict[str, Any]]:
    """The caller's whole list, page by page until a short page (at most two pages more than `expected` needs)."""
    listed: list[dict[str, Any]] = []
    with httpx.Client(
        base_url=base_url, headers={"Authorization": f"Bearer {token}"}, timeout=REQUEST_TIMEOUT_S
    ) as http:
        for page in range(1, expected // page_size + 3):
            answer = http.get(path, params={"pageNum": page, "pageSize": page_size})
            if answer.status_code != 200:
                raise ScaleOutError(f"list page {page} through {base_url}: {answer.status_code} {answer.text[:300]}")
            data: list[dict[str, Any]] = answer.json()["data"]
            listed += data
            if len(data) < page_size:
                break
    return listed


@contextlib.contextmanager
def two_mocks(redis_url: str, *args: str) -> Iterator[tuple[MockProcess, MockProcess]]:
    """Two mocks on one Redis, the first with two workers; both stopped on the way out."""
    common = ("--store", redis_url, "--max-tasks", "1000000", "--log-level", "warning", *args)
    with MockProcess(*common, "--workers", "2") as first, MockProcess(*common) as second:
        yield first, second


def run_once(mocks: Sequence[MockProcess], tasks: int, concurrency: int, tokens: Sequence[str]) -> RunResult:
    """Create `tasks` through `mocks` as the callers of `tokens` (whose lists must hold nothing yet), then read
    every caller's list back through each mock."""
    documented = workload.documented_request(workload.SPEC)
    # Where the seed page documents it: under `/kling` (Kling's own path answers identify-face at once).
    create = workload.Request(documented.method, workload.DOCUMENTED_PREFIX + documented.path, documented.body)
    assert create.body is not None
    started = time.perf_counter()
    try:
        created = asyncio.run(
            create_all([m.base_url for m in mocks], tokens, tasks, concurrency, create.body, create.path)
        )
    except httpx.TransportError as exc:
        said = "".join(line for mock in mocks for line in mock.stderr_lines[-20:])
        raise ScaleOutError(f"a create failed: {exc!r}; the mocks said:\n{said}") from exc
    result = RunResult(sum(len(ids) for ids in created.values()), time.perf_counter() - started)
    if result.created != tasks:
        result.problems.append(f"{tasks} creates answered, {result.created} distinct task ids")
    for mock in mocks:
        for token, ids in created.items():
            listed = read_list(mock.base_url, token, create.path, len(ids))
            result.problems += check_listing(listed, ids, f"{mock.base_url} {token}")
    return result


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.scale_out", description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--tasks", type=int, default=5000, help="creates per run")
    parser.add_argument("--concurrency", type=int, default=64, help="creates in flight at most")
    parser.add_argument("--callers", type=int, default=4, help="tokens creating at once")
    args = parser.parse_args(argv)
    executable, note = servers.find_redis()
    if executable is None:
        print(note, file=sys.stderr)
        return 2
    failed = 0
    with (
        tempfile.TemporaryDirectory(prefix="scale-out-") as workdir,
        servers.redis_serving(executable, Path(workdir), cpu=0) as redis,
        two_mocks(redis.url) as mocks,
    ):
        for run in range(1, args.runs + 1):
            # Tokens of this run only: runs against the same Redis do not see each other's tasks.
            tokens = [f"scale-out-run-{run}-caller-{n}" for n in range(args.callers)]
            try:
                result = run_once(mocks, args.tasks, args.concurrency, tokens)
            except ScaleOutError as exc:
                result = RunResult(0, 0.0, [str(exc)])
            verdict = "ok" if not result.problems else f"{len(result.problems)} problems"
            rate = result.created / result.seconds if result.seconds else 0.0
            print(f"run {run}: {result.created} tasks in {result.seconds:.1f} s ({rate:.0f}/s), lists: {verdict}")
            for problem in result.problems[:20]:
                print(f"  {problem}")
            failed += bool(result.problems)
    print(f"{args.runs - failed} of {args.runs} runs: every list newest first, nothing lost or repeated")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
