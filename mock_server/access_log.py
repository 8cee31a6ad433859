"""One structured line per request, as pure ASGI middleware so that it costs little.

The line carries the request id, never a header: the Authorization token cannot leak.
"""

from __future__ import annotations

import logging
import time

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .ids import IdGenerator

logger = logging.getLogger("kling_mock.access")


class AccessLogMiddleware:
    """Gives each request its `request_id` (in `scope["state"]`) and logs its outcome."""

    def __init__(self, app: ASGIApp, ids: IdGenerator) -> None:
        self.app = app
        self.ids = ids

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
                logger.info(orjson.dumps(record).decode())
