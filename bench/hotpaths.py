"""Where the mock's create and query spend their time: cProfile over the app, called in process.

The app is built as `kling-mock serve --admin --journal-size 1000 --tick-ms 1000` builds it (access
log on, written to /dev/null) and called directly through ASGI, without uvicorn: what shows here is
the mock's own work, from its ASGI entry (`fast_path.KlingApp`) down, on uvloop as served. The HTTP
server's share (httptools parsing, uvloop's socket work) is not in it: `py-spy record` against a server under wrk
shows that part.

First, what each part costs without a profiler (best of 3): the bare endpoint, the mock with everything
on, and the mock without its journal or its access log; then cProfile's view of create and query.

Usage: python -m bench.hotpaths [--requests 20000] [--top 25]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import io
import json
import logging
import os
import pstats
import sys
import time
from collections import defaultdict
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import uvloop

from .workload import SPEC, TOKEN, Request, documented_request, query_of

Message = dict[str, Any]
_SINKS: list[io.TextIOWrapper] = []


def scope_of(request: Request) -> Message:
    headers = [(b"host", b"127.0.0.1:8000"), (b"authorization", f"Bearer {TOKEN}".encode())]
    if request.body is not None:
        headers += [(b"content-type", b"application/json"), (b"content-length", str(len(request.body)).encode())]
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": request.method,
        "scheme": "http",
        "path": request.path,
        "raw_path": request.path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": headers,
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
    }


async def call(app: Any, request: Request) -> tuple[int, bytes]:
    """One request through the ASGI app, as uvicorn would make it: the status and the body answered."""
    pending = [{"type": "http.request", "body": request.body or b"", "more_body": False}]
    answer: list[Message] = []

    async def receive() -> Message:
        return pending.pop() if pending else {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        answer.append(message)

    await app(scope_of(request), receive, send)
    status = next(message["status"] for message in answer if message["type"] == "http.response.start")
    return status, b"".join(message.get("body", b"") for message in answer if message["type"] == "http.response.body")


def build_app(admin: bool = True) -> Any:
    """The app as `serve --admin --journal-size 1000 --tick-ms 1000` builds it (without `--admin`: no journal),
    its access log on and going to /dev/null."""
    from mock_server import Settings, create_app
    from mock_server.http.serving import configure_logging

    configure_logging("info")
    saved = sys.stdout
    # The app writes its access log to stdout's buffer, taken when it is built; kept open as long as we run.
    _SINKS.append(io.TextIOWrapper(open(os.devnull, "wb")))  # noqa: SIM115
    sys.stdout = _SINKS[-1]
    try:
        return create_app(Settings(admin=admin, journal_size=1000 if admin else 0, tick_ms=1000))
    finally:
        sys.stdout = saved


async def _many(app: Any, request: Request, count: int) -> None:
    for _ in range(count):
        status, body = await call(app, request)
        if status != 200:
            raise RuntimeError(f"{request.method} {request.path} answered {status}: {body[:300]!r}")


def timed(app: Any, request: Request, count: int, repeats: int = 3) -> float:
    """Seconds per request without a profiler, the best of `repeats` (a shared machine only ever slows it)."""
    best = float("inf")
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        runner.run(call(app, request))  # warm: lazily built things are not the hot path
        for _ in range(repeats):
            started = time.perf_counter()
            runner.run(_many(app, request, count))
            best = min(best, (time.perf_counter() - started) / count)
    return best


def profile(app: Any, request: Request, count: int) -> pstats.Stats:
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        runner.run(call(app, request))
        profiler = cProfile.Profile()
        profiler.enable()
        runner.run(_many(app, request, count))
        profiler.disable()
    return pstats.Stats(profiler)


@contextlib.contextmanager
def access_log_off() -> Iterator[None]:
    """As `--log-level warning` does: the middleware asks its logger at each request."""
    access = logging.getLogger("kling_mock.access")
    level = access.level
    access.setLevel(logging.WARNING)
    try:
        yield
    finally:
        access.setLevel(level)


def task_query(app: Any, create: Request) -> Request:
    _, body = asyncio.run(call(app, create))
    return query_of(create, json.loads(body)["data"]["task_id"])


def costs(create: Request, count: int) -> list[str]:
    """What each part costs in process, without a profiler: the bare endpoint, the mock, the mock less a feature."""
    from bench.bare_app import app as bare

    mock, unjournaled = build_app(), build_app(admin=False)
    query, unjournaled_query = task_query(mock, create), task_query(unjournaled, create)
    with access_log_off():
        quiet = timed(mock, create, count), timed(mock, query, count)
    rows = [
        ("bare Starlette endpoint (POST only)", timed(bare, create, count), None),
        ("mock, everything on", timed(mock, create, count), timed(mock, query, count)),
        (
            "mock without the journal (no --admin)",
            timed(unjournaled, create, count),
            timed(unjournaled, unjournaled_query, count),
        ),
        ("mock without the access log (--log-level warning)", *quiet),
    ]
    lines = ["== in process, without a profiler, best of 3 (us per request)", "", "  create    query  app"]
    for name, post, get in rows:
        lines.append(f"{post * 1e6:7.1f}  {'    n/a' if get is None else f'{get * 1e6:7.1f}'}  {name}")
    return [*lines, ""]


def by_area(stats: pstats.Stats) -> list[tuple[str, float]]:
    """Own time (tottime) summed per file of the mock and per library: where the time goes, coarsely."""
    totals: defaultdict[str, float] = defaultdict(float)
    raw: dict[tuple[str, int, str], tuple[int, int, float, float, Any]] = stats.stats  # type: ignore[attr-defined]
    for (filename, _, _), (_, _, own, _, _) in raw.items():
        totals[area(filename)] += own
    return sorted(totals.items(), key=lambda item: -item[1])


def area(filename: str) -> str:
    path = Path(filename)
    if "mock_server" in path.parts:
        return "mock_server/" + path.name
    for library in ("starlette", "jsonschema_rs", "orjson", "asyncio", "uvloop", "yaml"):
        if library in path.parts:
            return library
    return "builtins and stdlib" if filename.startswith("~") or "python3" in filename else path.name


def report(name: str, stats: pstats.Stats, count: int, top: int) -> str:
    areas = by_area(stats)
    total = sum(own for _, own in areas)
    lines = [f"== {name}: {total / count * 1e6:.1f} us per request profiled; own time by area:", ""]
    lines += [f"{own / total:6.1%}  {own / count * 1e6:7.2f} us  {where}" for where, own in areas[:top]]
    shown = io.StringIO()
    stats.stream = shown  # type: ignore[attr-defined]
    stats.sort_stats("tottime").print_stats(top)
    stats.sort_stats("cumulative").print_stats(top)
    return "\n".join(lines) + "\n" + shown.getvalue()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--requests", type=int, default=20_000, help="requests per endpoint (default: 20000)")
    parser.add_argument("--top", type=int, default=25, help="rows shown (default: 25)")
    args = parser.parse_args(argv)
    create = documented_request(SPEC)
    print("\n".join(costs(create, args.requests // 2)))
    app = build_app()
    for name, request in (("create", create), ("query", task_query(app, create))):
        print(report(name, profile(app, request, args.requests), args.requests, args.top))
    return 0


if __name__ == "__main__":
    sys.exit(main())
