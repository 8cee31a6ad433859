"""Reading a request's body off the wire (ASGI's `receive`), never further than the spec's limit."""

from __future__ import annotations

from starlette.requests import ClientDisconnect, Request
from starlette.types import Receive

from ..validation import body_too_large, natural_number


async def read_bounded(request: Request, limit: int) -> bytes:
    """`read_body` of a Starlette request."""
    return await read_body(request.receive, limit, natural_number(request.headers.get("content-length")))


async def read_body(receive: Receive, limit: int, declared: int | None) -> bytes:
    """The body, straight from ASGI's `receive`, refusing it as soon as it is known to exceed `limit` bytes.

    A declared Content-Length (`declared`) over the limit is refused before reading anything; a
    chunked body is read only up to the chunk that crosses the limit. The server stops at a declared
    length, so a body within it is within the limit. Raises `ClientDisconnect` when the client goes.
    """
    if declared is not None and declared > limit:
        raise body_too_large(limit)
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            raise ClientDisconnect()
        chunk: bytes = message.get("body", b"")
        more = message.get("more_body", False)
        size += len(chunk)
        if size > limit:
            raise body_too_large(limit)
        if not chunks and not more:
            return chunk  # the usual case: the whole body in one message
        chunks.append(chunk)
        if not more:
            return b"".join(chunks)
