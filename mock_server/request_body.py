"""Reading a request body the way the spec allows: right media type, bounded size, JSON."""

from __future__ import annotations

from typing import Any

import orjson
from starlette.requests import Request

from .errors import BusinessCode, KlingError


def check_media_type(header: str | None, allowed: tuple[str, ...]) -> None:
    """Accept the spec's media types, with at most a UTF-8 charset parameter."""
    expected = " or ".join(allowed)
    if not header:
        raise KlingError(BusinessCode.INVALID_REQUEST, f"Content-Type: missing, must be {expected}")
    media_type, _, params = header.partition(";")
    if media_type.strip().lower() not in allowed:
        raise KlingError(BusinessCode.INVALID_REQUEST, f"Content-Type: must be {expected}")
    for param in params.split(";"):
        name, _, value = param.partition("=")
        if name.strip().lower() == "charset" and value.strip().strip('"').lower() not in ("utf-8", "utf8"):
            raise KlingError(BusinessCode.INVALID_REQUEST, "Content-Type: charset must be utf-8")


async def read_bounded(request: Request, limit: int) -> bytes:
    """The body, refusing it as soon as it is known to exceed `limit` bytes.

    A declared Content-Length over the limit is refused before reading anything; a chunked
    body is read only up to the chunk that crosses the limit.
    """
    too_large = KlingError(BusinessCode.INVALID_REQUEST, f"body: larger than the limit of {limit} bytes")
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit():
        if int(declared) > limit:
            raise too_large
        # The server stops at the declared length, so the whole body is within the limit.
        return await request.body()
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise too_large
        chunks.append(chunk)
    return b"".join(chunks)


def parse_json(raw: bytes, max_depth: int) -> Any:
    """The parsed body, refusing JSON nested deeper than `max_depth`.

    Deep nesting is refused here, before validation, because the validator and the serialiser
    have recursion limits of their own that an accepted body must never reach.
    """
    if not raw.strip():
        raise KlingError(BusinessCode.INVALID_REQUEST, "body: empty, must be a JSON object")
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise KlingError(BusinessCode.INVALID_REQUEST, f"body: not valid JSON ({exc})") from None
    if _depth_exceeds(body, max_depth):
        raise KlingError(BusinessCode.INVALID_REQUEST, f"body: nested deeper than {max_depth} levels")
    return body


def _depth_exceeds(value: Any, limit: int) -> bool:
    pending: list[tuple[Any, int]] = [(value, 1)]
    while pending:
        node, depth = pending.pop()
        children = node.values() if isinstance(node, dict) else node if isinstance(node, list) else ()
        for child in children:
            if isinstance(child, dict | list):
                if depth + 1 > limit:
                    return True
                pending.append((child, depth + 1))
    return False
