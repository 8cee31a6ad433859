"""Memory per stored task: RSS (and, separately, tracemalloc) after storing N tasks in the mock's memory store.

Each size is measured in a fresh Python process, so that nothing from another measurement stays in
the heap. The process builds the store and service as the server does (`open_store`, `TaskService`),
then creates N tasks through `TaskService.create`, each from its own parse of the documented body
(`parse_json`, as a request's body is parsed) and its own owner digest (`BearerAuth.authenticate`),
so that every task holds what a task created over HTTP holds. No task is evicted (the store's bound
is N). Method "rss": the growth of VmRSS from just before the first create to just after the last,
after a full `gc.collect()`, over N. Method "tracemalloc": the growth of the memory traced, over N,
in its own process (tracing inflates RSS, so the two are never taken together).

Usage: python -m bench.memory --tasks 100000 [--tracemalloc]   (prints one JSON line)
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Sequence

from . import servers
from .report import MemoryResult
from .workload import ROOT, SPEC, TOKEN, documented_request

METHOD = (
    "Method: a fresh process per size creates N tasks in process through `TaskService.create` on the server's "
    "memory store (bound N, nothing evicted), each from its own parse of the documented body and its own owner "
    "digest; RSS: growth of VmRSS over N after `gc.collect()`; tracemalloc: growth of traced memory over N, in "
    "another process. The store's own bound is `--max-tasks` (default 100,000); 1,000,000 needs it raised."
)


def rss_bytes() -> int:
    rss_kb = servers.status_kb(os.getpid(), "VmRSS")
    if rss_kb == 0:
        raise RuntimeError("no VmRSS in /proc/self/status")
    return rss_kb * 1024


async def _fill(tasks: int, traced: bool) -> dict[str, float | int | None]:
    from mock_server.core.clock import SystemClock
    from mock_server.core.ids import IdGenerator
    from mock_server.domain import KINDS, Lifecycle, TaskService
    from mock_server.domain.identify_face import create_task
    from mock_server.domain.links import Links
    from mock_server.storage import MEMORY, open_backend
    from mock_server.validation import BearerAuth, parse_json

    raw = documented_request(SPEC).body or b""
    header = f"Bearer {TOKEN}"
    lifecycle = Lifecycle(1000)
    # One task more than measured: the first is created before the baseline, so that lazily built things
    # (caches, the first dict slots) are not counted per task.
    clock = SystemClock()
    store = open_backend(MEMORY, tasks + 1, lifecycle, clock).tasks
    service = TaskService(store, KINDS, IdGenerator(), lifecycle, clock)
    auth = BearerAuth()
    links = Links("http://127.0.0.1:8000/kling")
    await create_task(service, auth.authenticate(header), parse_json(raw, 32), None, links)
    gc.collect()
    if traced:
        tracemalloc.start()
    traced_before = tracemalloc.get_traced_memory()[0] if traced else 0
    rss_before = rss_bytes()
    started = time.perf_counter()
    for _ in range(tasks):
        await create_task(service, auth.authenticate(header), parse_json(raw, 32), None, links)
    seconds = time.perf_counter() - started
    gc.collect()
    rss_after = rss_bytes()
    traced_after = tracemalloc.get_traced_memory()[0] if traced else 0
    if traced:
        tracemalloc.stop()
    stored = len(store)  # type: ignore[arg-type]
    if stored != tasks + 1:
        raise RuntimeError(f"the store holds {stored} tasks, not {tasks + 1}: some were evicted")
    return {
        "tasks": tasks,
        "rss_bytes": rss_after - rss_before,
        "traced_bytes": traced_after - traced_before if traced else None,
        "seconds": seconds,
    }


def measure(tasks: int, traced: bool, timeout_s: float = 1800) -> MemoryResult:
    """One size, in a fresh process."""
    command = [sys.executable, "-m", "bench.memory", "--tasks", str(tasks)] + (["--tracemalloc"] if traced else [])
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=timeout_s, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"memory benchmark of {tasks} tasks failed:\n{done.stderr[-2000:]}")
    raw = json.loads(done.stdout.strip().splitlines()[-1])
    return MemoryResult(raw["tasks"], raw["rss_bytes"], raw["traced_bytes"], raw["seconds"])


def measure_sizes(sizes: Sequence[int], traced: bool) -> list[MemoryResult]:
    """RSS for each size and, with `traced`, tracemalloc's count from a second process of the same size."""
    results = []
    for tasks in sizes:
        by_rss = measure(tasks, traced=False)
        if traced:
            by_trace = measure(tasks, traced=True)
            by_rss = MemoryResult(tasks, by_rss.rss_bytes, by_trace.traced_bytes, by_rss.seconds)
        print(
            f"memory: {tasks:,} tasks, {by_rss.rss_per_task:,.0f} B/task by RSS"
            + (f", {by_rss.traced_per_task:,.0f} B/task by tracemalloc" if by_rss.traced_per_task else ""),
            file=sys.stderr,
            flush=True,
        )
        results.append(by_rss)
    return results


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--tasks", type=int, required=True, help="tasks to store (1 or more)")
    parser.add_argument("--tracemalloc", action="store_true", help="count traced memory instead of RSS only")
    args = parser.parse_args(argv)
    if args.tasks < 1:
        parser.error("--tasks must be 1 or more")
    print(json.dumps(asyncio.run(_fill(args.tasks, args.tracemalloc))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
