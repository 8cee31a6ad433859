"""Kling's response envelope, serialised once with orjson, and the ways a scenario mangles its delivery.

An `Answer` is what Kling's routes send: status, body and raw headers, ready for the two ASGI
messages of a response, with no Starlette `Response` built on the hot path. Where Starlette wants a
`Response` (its exception handlers, the proxy), `AnswerResponse` carries one.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

import orjson
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

_JSON = (b"content-type", b"application/json")


class JSONResponse(Response):
    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)


@dataclass(slots=True)
class Answer:
    """A response to send; a scenario may drop it half-way (`drop`) or spread it over `slow_seconds`."""

    status: int
    body: bytes
    headers: list[tuple[bytes, bytes]]
    drop: bool = False
    slow_seconds: float = 0.0


def json_answer(content: Any, status: int = 200, headers: dict[str, str] | None = None) -> Answer:
    """`content` as JSON, with Starlette's headers for it (given ones first, then length and type)."""
    body = orjson.dumps(content)
    raw = [(b"content-length", str(len(body)).encode()), _JSON]
    if headers:
        raw[:0] = [(name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in headers.items()]
    return Answer(status, body, raw)


def success(request_id: str, data: Any) -> Answer:
    return json_answer({"code": 0, "message": "SUCCEED", "request_id": request_id, "data": data})


def error(status: int, code: int, message: str, request_id: str, headers: dict[str, str] | None = None) -> Answer:
    return json_answer({"code": code, "message": message, "request_id": request_id}, status, headers)


async def send_answer(answer: Answer, send: Send) -> None:
    """Send `answer` whole, or as its scenario mangles it.

    Dropped: the status line, the headers and half the body, then nothing. An ASGI app cannot close a
    connection itself; returning mid-body makes the server close it, which is what a client sees when a
    connection drops mid-answer. Slow: the body a few bytes at a time, as a congested link would send it.
    """
    await send({"type": "http.response.start", "status": answer.status, "headers": answer.headers})
    body = answer.body
    if answer.drop:
        await send({"type": "http.response.body", "body": body[: len(body) // 2], "more_body": True})
    elif answer.slow_seconds:
        await _send_slowly(body, answer.slow_seconds, send)
    else:
        await send({"type": "http.response.body", "body": body})


async def _send_slowly(body: bytes, seconds: float, send: Send, pieces: int = 10) -> None:
    size = max(1, -(-len(body) // pieces))
    chunks = [body[start : start + size] for start in range(0, len(body), size)] or [b""]
    for index, chunk in enumerate(chunks):
        await asyncio.sleep(seconds / len(chunks))
        await send({"type": "http.response.body", "body": chunk, "more_body": index < len(chunks) - 1})


class AnswerResponse(Response):
    """An `Answer` where Starlette wants a `Response`."""

    def __init__(self, answer: Answer) -> None:
        self.answer = answer
        self.status_code = answer.status
        self.body = answer.body
        self.raw_headers = answer.headers
        self.background = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send_answer(self.answer, send)
