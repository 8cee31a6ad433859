"""Fast unit tests of `mock_server.request_body`: media type, bounded reading and JSON parsing."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from starlette.requests import Request
from starlette.types import Message

from mock_server.core.errors import BusinessCode, KlingError
from mock_server.http.bodies import read_bounded
from mock_server.validation import check_media_type, parse_json

JSON_ONLY = ("application/json",)


@pytest.mark.parametrize(
    "header",
    [
        "application/json",
        "application/json; charset=utf-8",
        "application/json;charset=UTF-8",
        'application/json; charset="utf-8"',
        "Application/JSON",
        " application/json ",
        "application/json ; charset=utf-8",
        "application/json; foo=bar",
    ],
)
def test_accepted_media_types(header: str) -> None:
    check_media_type(header, JSON_ONLY)


@pytest.mark.parametrize(
    ("header", "message"),
    [
        (None, "Content-Type: missing, must be application/json"),
        ("", "Content-Type: missing, must be application/json"),
        ("text/plain", "Content-Type: must be application/json"),
        ("application/x-www-form-urlencoded", "Content-Type: must be application/json"),
        ("application/json-patch+json", "Content-Type: must be application/json"),
        ("application/jsonx", "Content-Type: must be application/json"),
        ("*/*", "Content-Type: must be application/json"),
        ("application/json, text/plain", "Content-Type: must be application/json"),
        ("application/json; charset=latin-1", "Content-Type: charset must be utf-8"),
        ("application/json; charset=utf-16", "Content-Type: charset must be utf-8"),
        ("application/json; charset", "Content-Type: charset must be utf-8"),
        ("application/json; charset=utf-8; charset=ascii", "Content-Type: charset must be utf-8"),
    ],
)
def test_refused_media_types(header: str | None, message: str) -> None:
    with pytest.raises(KlingError) as caught:
        check_media_type(header, JSON_ONLY)
    assert caught.value.code == BusinessCode.INVALID_REQUEST
    assert caught.value.message == message


def test_several_allowed_media_types_are_named() -> None:
    with pytest.raises(KlingError) as caught:
        check_media_type("text/plain", ("application/json", "application/merge-patch+json"))
    assert caught.value.message == "Content-Type: must be application/json or application/merge-patch+json"


@pytest.mark.parametrize(("raw", "value"), [(b"{}", {}), (b" [1] ", [1]), (b'{"a": "\\u00e9"}', {"a": "é"})])
def test_parse_json(raw: bytes, value: Any) -> None:
    assert parse_json(raw, max_depth=32) == value


@pytest.mark.parametrize("depth", [1, 2, 31, 32])
def test_parse_json_accepts_nesting_up_to_the_limit(depth: int) -> None:
    raw = b"[" * depth + b"]" * depth
    assert parse_json(raw, max_depth=32) is not None


@pytest.mark.parametrize(
    "raw",
    [b"[" * 33 + b"]" * 33, b'{"a": ' * 33 + b"1" + b"}" * 33, b'{"input": {"x": [' + b"[" * 40 + b"]" * 41 + b"}}"],
)
def test_parse_json_refuses_nesting_over_the_limit(raw: bytes) -> None:
    with pytest.raises(KlingError) as caught:
        parse_json(raw, max_depth=32)
    assert caught.value.code == BusinessCode.INVALID_REQUEST
    assert caught.value.message == "body: nested deeper than 32 levels"


@pytest.mark.parametrize(
    ("raw", "prefix"),
    [
        (b"", "body: empty"),
        (b" \r\n\t", "body: empty"),
        (b"{", "body: not valid JSON"),
        (b"input=x", "body: not valid JSON"),
        (b'{"a": NaN}', "body: not valid JSON"),
        (b'"\xff"', "body: not valid JSON"),
        (b"[" * 100_000, "body: not valid JSON"),
    ],
    ids=["empty", "whitespace", "truncated", "form", "nan", "bad_utf8", "deep"],
)
def test_parse_json_refusals_are_invalid_requests(raw: bytes, prefix: str) -> None:
    with pytest.raises(KlingError) as caught:
        parse_json(raw, max_depth=32)
    assert caught.value.code == BusinessCode.INVALID_REQUEST
    assert caught.value.message.startswith(prefix)


def _request(headers: dict[str, str], chunks: list[bytes]) -> tuple[Request, list[int]]:
    """A request whose body arrives in `chunks`; the list returned counts the chunks handed out."""
    served: list[int] = []

    async def receive() -> Message:
        index = len(served)
        served.append(index)
        if index >= len(chunks):
            raise AssertionError("the body was read past its end")
        return {"type": "http.request", "body": chunks[index], "more_body": index < len(chunks) - 1}

    scope = {
        "type": "http",
        "method": "POST",
        "path": "/",
        "headers": [(name.lower().encode(), value.encode()) for name, value in headers.items()],
    }
    return Request(scope, receive), served


def _read(request: Request, limit: int) -> bytes:
    return asyncio.run(read_bounded(request, limit))


def test_read_bounded_returns_a_body_at_the_limit() -> None:
    request, _ = _request({}, [b"ab", b"cd", b"e"])
    assert _read(request, 5) == b"abcde"


def test_read_bounded_refuses_a_declared_oversize_without_reading() -> None:
    request, served = _request({"Content-Length": "6"}, [b"abcdef"])
    with pytest.raises(KlingError) as caught:
        _read(request, 5)
    assert caught.value.code == BusinessCode.INVALID_REQUEST
    assert "limit of 5 bytes" in caught.value.message
    assert served == []


def test_read_bounded_stops_at_the_chunk_that_crosses_the_limit() -> None:
    """Without Content-Length the body is read only until it is known to be too large."""
    request, served = _request({"Transfer-Encoding": "chunked"}, [b"abc", b"def", b"ghi", b"jkl"])
    with pytest.raises(KlingError) as caught:
        _read(request, 5)
    assert caught.value.code == BusinessCode.INVALID_REQUEST
    assert len(served) == 2
