"""Every request's record: a line in the access log, and an entry in the journal.

`RequestLog` keeps both; `RequestLogMiddleware` puts it around Starlette's routes, and Kling's own
routes (`server.fast_path`) call it directly. Access lines carry the request id, never a
header: the Authorization token cannot leak. They are written to stdout's buffer without going
through `logging` (which flushes every record, a system call per request) and flushed a moment
later, so that a burst of requests costs one write. The journal is handed a `Recording` of what the
app noted in the request's state while answering (see `server.fast_path`), once the answer is sent; it keeps
it without making the request wait (the memory journal makes its entry when read, a Redis journal
writes it in the background).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any, BinaryIO

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..core.clock import system_ms
from ..core.ids import IdGenerator
from ..core.secrets import blank_text
from ..journal import EntryJudge, JournalStore, Recording, credentials

# `--log-level info` (the default) turns the access log on; `warning` and above turn it off.
logger = logging.getLogger("kling_mock.access")
FLUSH_AFTER_SECONDS = 0.1


class RequestLog:
    """Every request's record: its `request_id`, its access line and its journal entry.

    Shared by `RequestLogMiddleware` (Starlette's routes) and Kling's routes (`server.fast_path`), which
    call `begin` and `record` themselves. Requests to paths starting with one of `unjournaled` (the
    mock's own endpoints) are not journaled.
    """

    def __init__(
        self,
        ids: IdGenerator,
        sink: BinaryIO,
        journal: JournalStore | None = None,
        judge: EntryJudge | None = None,
        unjournaled: tuple[str, ...] = (),
    ) -> None:
        self.ids = ids
        self.sink = sink
        self.journal = journal
        self.judge = judge
        self.unjournaled = unjournaled
        self._flush_pending = False

    def begin(self) -> tuple[dict[str, Any], int, float]:
        """A new request's state (with its `request_id`), when it arrived (epoch ms) and a clock to time it."""
        return {"request_id": self.ids.new()}, system_ms(), time.perf_counter()

    def record(self, scope: Scope, state: dict[str, Any], status: int, arrived: int, started: float) -> None:
        """Log and journal a request answered with `status`, from what was noted in `state` while answering it."""
        elapsed_ms = round((time.perf_counter() - started) * 1000, 3)
        path: str = scope["path"]
        if logger.isEnabledFor(logging.INFO):
            # A token can land anywhere a client puts it, the path included (arguments swapped). No task
            # or route has a token's name, so only a refused request's path can hold one.
            secrets = credentials(scope["headers"]) if status >= 400 else ()
            record = {
                "request_id": state["request_id"],
                "method": scope["method"],
                "path": blank_text(path, secrets) if secrets else path,
                "status": status,
                "code": state.get("business_code"),
                "ms": elapsed_ms,
            }
            self._write(orjson.dumps(record, option=orjson.OPT_APPEND_NEWLINE))
        if self.journal is not None and not path.startswith(self.unjournaled):
            recording = Recording(
                scope["method"], path, scope["query_string"], scope["headers"], state, status, arrived, elapsed_ms
            )
            operation = state.get("operation")
            self.journal.record(recording, self.judge, operation.min_poll_interval_ms if operation else None)

    def _write(self, line: bytes) -> None:
        self.sink.write(line)
        if not self._flush_pending:
            self._flush_pending = True
            asyncio.get_running_loop().call_later(FLUSH_AFTER_SECONDS, self.flush)

    def flush(self) -> None:
        self._flush_pending = False
        if not self.sink.closed:
            self.sink.flush()


class RequestLogMiddleware:
    """`RequestLog` around an app: the request's state goes in `scope["state"]`, where the app notes its facts."""

    def __init__(self, app: ASGIApp, log: RequestLog) -> None:
        self.app = app
        self.log = log

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        state, arrived, started = self.log.begin()
        scope.setdefault("state", {}).update(state)
        state = scope["state"]
        status = 500

        async def send_and_note(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_and_note)
        finally:
            self.log.record(scope, state, status, arrived, started)


def flushing_lifespan(
    sink: BinaryIO,
    close: Callable[[], Awaitable[None]],
    start: Callable[[], Awaitable[None]] | None = None,
) -> Callable[[Any], AbstractAsyncContextManager[None]]:
    """An app's lifespan that runs `start` before serving, and at shutdown closes what the app opened (`close`),
    then flushes the access log.

    Flushed here, last: uvicorn ends a SIGTERM'd process by re-raising the signal, which skips Python's
    own flush at exit.
    """

    @asynccontextmanager
    async def lifespan(app: Any) -> AsyncIterator[None]:
        if start is not None:
            await start()
        try:
            yield
        finally:
            await close()
            sink.flush()

    return lifespan
