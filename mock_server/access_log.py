"""One structured line per request, as pure ASGI middleware so that it costs little.

The line carries the request id, never a header: the Authorization token cannot leak. Lines are
written to stdout's buffer without going through `logging` (which flushes every record, a
system call per request) and flushed a moment later, so that a burst of requests costs one write.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import BinaryIO

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .ids import IdGenerator

# `--log-level info` (the default) turns the access log on; `warning` and above turn it off.
logger = logging.getLogger("kling_mock.access")
FLUSH_AFTER_SECONDS = 0.1


class AccessLogMiddleware:
    """Gives each request its `request_id` (in `scope["state"]`) and logs its outcome."""

    def __init__(self, app: ASGIApp, ids: IdGenerator, sink: BinaryIO) -> None:
        self.app = app
        self.ids = ids
        self.sink = sink
        self._flush_pending = False

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        state = scope.setdefault("state", {})
        state["request_id"] = self.ids.new()
        started = time.perf_counter()
        status = 500

        async def send_and_note(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_and_note)
        finally:
            if logger.isEnabledFor(logging.INFO):
                record = {
                    "request_id": state["request_id"],
                    "method": scope["method"],
                    "path": scope["path"],
                    "status": status,
                    "code": state.get("business_code"),
                    "ms": round((time.perf_counter() - started) * 1000, 3),
                }
                self._write(orjson.dumps(record, option=orjson.OPT_APPEND_NEWLINE))

    def _write(self, line: bytes) -> None:
        self.sink.write(line)
        if not self._flush_pending:
            self._flush_pending = True
            asyncio.get_running_loop().call_later(FLUSH_AFTER_SECONDS, self.flush)

    def flush(self) -> None:
        self._flush_pending = False
        if not self.sink.closed:
            self.sink.flush()
