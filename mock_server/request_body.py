"""Reading a request body the way the spec allows: right media type, bounded size, JSON."""

from __future__ import annotations

import functools
from typing import Any

import orjson
from starlette.requests import ClientDisconnect, Request
from starlette.types import Receive

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
    problem = _media_type_problem(header, allowed)
    if problem is not None:
        raise _bad_content_type(problem)


@functools.lru_cache(maxsize=256)
def _media_type_problem(header: str | None, allowed: tuple[str, ...]) -> str | None:
    """What is wrong with a Content-Type, or None. Cached: clients send the same one again and again."""
    expected = " or ".join(allowed)
    if not header:
        return f"Content-Type: missing, must be {expected}"
    media_type, _, params = header.partition(";")
    if media_type.strip().lower() not in allowed:
        return f"Content-Type: must be {expected}"
    for param in params.split(";"):
        name, _, value = param.partition("=")
        if name.strip().lower() == "charset" and value.strip().strip('"').lower() not in ("utf-8", "utf8"):
            return "Content-Type: charset must be utf-8"
    return None


def body_too_large(limit: int) -> KlingError:
    return KlingError(
        BusinessCode.INVALID_REQUEST,
        f"body: larger than the limit of {limit} bytes",
        rule="body-too-large",
        path="body",
    )


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
    # Nesting needs an opening bracket per level: a body with few of them cannot be too deep, and
    # counting bytes is much cheaper than walking the parsed value.
    if raw.count(b"{") + raw.count(b"[") > max_depth and _depth_exceeds(body, max_depth):
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
