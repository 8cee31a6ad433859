"""Reading a request body the way the spec allows: right media type, bounded size, JSON."""

from __future__ import annotations

from typing import Any

import orjson
from starlette.requests import Request

from .errors import BusinessCode, KlingError


def _bad_content_type(message: str) -> KlingError:
    return KlingError(BusinessCode.INVALID_REQUEST, message, rule="content-type", path="header.Content-Type")


def _not_json(message: str) -> KlingError:
    return KlingError(BusinessCode.INVALID_REQUEST, message, rule="body-not-json", path="body")


def natural_number(text: str | None, max_digits: int = 18) -> int | None:
    """`text` as a non-negative integer when it is one in ASCII digits, else None.

    `str.isdigit` alone accepts digits `int` refuses ("²"), and `int` refuses very long numbers.
    """
    if text is None or not text.isascii() or not text.isdigit() or len(text) > max_digits:
        return None
    return int(text)


def check_media_type(header: str | None, allowed: tuple[str, ...]) -> None:
    """Accept the spec's media types, with at most a UTF-8 charset parameter."""
    expected = " or ".join(allowed)
    if not header:
        raise _bad_content_type(f"Content-Type: missing, must be {expected}")
    media_type, _, params = header.partition(";")
    if media_type.strip().lower() not in allowed:
        raise _bad_content_type(f"Content-Type: must be {expected}")
    for param in params.split(";"):
        name, _, value = param.partition("=")
        if name.strip().lower() == "charset" and value.strip().strip('"').lower() not in ("utf-8", "utf8"):
            raise _bad_content_type("Content-Type: charset must be utf-8")


def body_too_large(limit: int) -> KlingError:
    return KlingError(
        BusinessCode.INVALID_REQUEST,
        f"body: larger than the limit of {limit} bytes",
        rule="body-too-large",
        path="body",
    )


async def read_bounded(request: Request, limit: int) -> bytes:
    """The body, refusing it as soon as it is known to exceed `limit` bytes.

    A declared Content-Length over the limit is refused before reading anything; a chunked
    body is read only up to the chunk that crosses the limit.
    """
    too_large = body_too_large(limit)
    declared = natural_number(request.headers.get("content-length"))
    if declared is not None:
        if declared > limit:
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
        raise _not_json("body: empty, must be a JSON object")
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise _not_json(f"body: not valid JSON ({exc})") from None
    if _depth_exceeds(body, max_depth):
        raise KlingError(
            BusinessCode.INVALID_REQUEST,
            f"body: nested deeper than {max_depth} levels",
            rule="body-too-deep",
            path="body",
        )
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
