"""A request body as the spec allows it: the right media type, a bounded size, JSON no deeper than the limit.

Pure checks, shared by the mock's answers and the journal's verdicts; reading the body off the wire is
`http.bodies`.
"""

from __future__ import annotations

import functools
from typing import Any

import orjson

from ..core import rules
from ..core.errors import BusinessCode, KlingError


def _bad_content_type(message: str) -> KlingError:
    return KlingError(BusinessCode.INVALID_REQUEST, message, rule=rules.CONTENT_TYPE, path="header.Content-Type")


def _not_json(message: str) -> KlingError:
    return KlingError(BusinessCode.INVALID_REQUEST, message, rule=rules.BODY_NOT_JSON, path="body")


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
        rule=rules.BODY_TOO_LARGE,
        path="body",
    )


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
            rule=rules.BODY_TOO_DEEP,
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
