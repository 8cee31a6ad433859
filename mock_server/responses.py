"""Kling's response envelope, serialised with orjson, and the ways a scenario mangles its delivery."""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
from starlette.responses import Response
from starlette.types import Receive, Scope, Send


class JSONResponse(Response):
    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)


def success(request_id: str, data: Any) -> JSONResponse:
    return JSONResponse({"code": 0, "message": "SUCCEED", "request_id": request_id, "data": data})


def error(status: int, code: int, message: str, request_id: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(
        {"code": code, "message": message, "request_id": request_id}, status_code=status, headers=headers
    )


class DroppedResponse(Response):
    """Sends the status line, the headers and half the body, then stops.

    An ASGI app cannot close a connection itself; returning mid-body makes the server close it,
    which is what a client sees when a connection drops mid-answer.
    """

    def __init__(self, inner: Response) -> None:
        self.inner = inner

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        inner = self.inner
        await send({"type": "http.response.start", "status": inner.status_code, "headers": inner.raw_headers})
        await send({"type": "http.response.body", "body": inner.body[: len(inner.body) // 2], "more_body": True})


class SlowBodyResponse(Response):
    """Sends the body a few bytes at a time, spread over `seconds`, as a congested link would."""

    def __init__(self, inner: Response, seconds: float, pieces: int = 10) -> None:
        self.inner = inner
        self.seconds = seconds
        self.pieces = pieces

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        inner = self.inner
        body = bytes(inner.body)
        size = max(1, -(-len(body) // self.pieces))
        chunks = [body[start : start + size] for start in range(0, len(body), size)] or [b""]
        await send({"type": "http.response.start", "status": inner.status_code, "headers": inner.raw_headers})
        for index, chunk in enumerate(chunks):
            await asyncio.sleep(self.seconds / len(chunks))
            await send({"type": "http.response.body", "body": chunk, "more_body": index < len(chunks) - 1})
