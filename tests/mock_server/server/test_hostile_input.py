"""Hostile input against a real mock over HTTP.

Whatever arrives, the contract wants a 4xx in Kling's envelope, never a 5xx, and a server that
keeps serving: every test ends by checking `/healthz` and a valid create call.
"""

from __future__ import annotations

import base64
import json
import socket
from collections.abc import Callable, Iterator
from functools import cache
from typing import Any
from urllib.parse import urlsplit

import httpx
import jsonschema
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from mock_server.client.process import MockProcess
from mock_server.spec import Operation, Spec, load_spec
from tests.support import CREATE_PATH, SPEC_CREATE_PATH

TOKEN = "hostile-test-token"
VALID_INPUT: dict[str, Any] = {
    "video_id": "de1b86d9-8e40-4f1c-a6a5-6459f8eb42f2",
    "mode": "text2video",
    "text": "Hello, this is my digital twin speaking.",
    "voice_id": "girlfriend_1_speech02",
    "voice_language": "zh",
}
VALID_BODY = json.dumps({"input": VALID_INPUT}).encode()
# An error envelope is a few hundred bytes; one much larger is echoing what the client sent.
SMALL_RESPONSE = 1024
HYPOTHESIS_SETTINGS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])

Outcome = tuple[int, int]


@cache
def _spec() -> Spec:
    return load_spec()


def _create_operation() -> Operation:
    return next(op for op in _spec().operations if op.method == "POST" and op.path == SPEC_CREATE_PATH)


def _body_limit() -> int:
    """The spec's `x-kling-max-body-bytes`, as the mock compiled it."""
    return _create_operation().max_body_bytes


def _audio_file_max_length() -> int:
    return int(_spec().document["components"]["schemas"]["TaskInput"]["properties"]["audio_file"]["maxLength"])


@pytest.fixture(scope="module")
def http(mock_server: MockProcess) -> Iterator[httpx.Client]:
    """Module-scoped (hypothesis refuses function-scoped fixtures), with a valid bearer token."""
    with httpx.Client(
        base_url=mock_server.base_url, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=60
    ) as client:
        yield client


def post_json_bytes(http: httpx.Client, content: Any, content_type: str = "application/json") -> httpx.Response:
    return http.post(CREATE_PATH, content=content, headers={"Content-Type": content_type})


def check_envelope(response: httpx.Response) -> dict[str, Any]:
    """The answer is no 5xx, and is Kling's envelope with a code the spec sends with that status."""
    assert response.status_code < 500, f"{response.status_code}: {response.text[:500]}"
    content_type = response.headers.get("content-type", "")
    assert content_type.startswith("application/json"), f"{response.status_code} {response.headers}: not JSON"
    envelope = response.json()
    assert isinstance(envelope, dict)
    assert isinstance(envelope.get("code"), int)
    assert isinstance(envelope.get("message"), str) and envelope["message"]
    assert isinstance(envelope.get("request_id"), str)
    if response.status_code == 200:
        assert envelope["code"] == 0
    else:
        assert _spec().status_by_code.get(envelope["code"]) == response.status_code, envelope
    return envelope


def assert_outcome(response: httpx.Response, *allowed: Outcome) -> dict[str, Any]:
    envelope = check_envelope(response)
    assert (response.status_code, envelope["code"]) in allowed, envelope
    return envelope


def assert_still_serving(http: httpx.Client) -> None:
    """The server survived: it answers its health check and still creates a task."""
    health = http.get("/healthz")
    assert health.status_code == 200
    created = post_json_bytes(http, VALID_BODY)
    assert (created.status_code, created.json()["code"]) == (200, 0), created.text


def _body_with(**fields: Any) -> bytes:
    return json.dumps({"input": {**VALID_INPUT, **fields}}).encode()


def _raw_body_with(field: str, raw_value: bytes) -> bytes:
    """A valid body whose `input.<field>` is the given raw JSON text, unparsed by Python."""
    head = json.dumps({"input": VALID_INPUT}).encode()[:-2]
    return head + b', "' + field.encode() + b'": ' + raw_value + b"}}"


def _nested(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


# --- raw sockets, for what an HTTP client refuses to send --------------------------------------------


def _address(mock: MockProcess) -> tuple[str, int]:
    parts = urlsplit(mock.base_url)
    assert parts.hostname == "127.0.0.1" and parts.port is not None
    return parts.hostname, parts.port


def _read_response(sock: socket.socket) -> tuple[int, dict[str, str], bytes]:
    """Status, headers and body of one HTTP/1.1 response with a Content-Length."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            raise AssertionError(f"the server closed the connection without a full answer: {data[:200]!r}")
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    headers = {name.strip().lower(): value.strip() for name, _, value in (line.partition(":") for line in header_lines)}
    length = int(headers.get("content-length", "0"))
    while len(body) < length:
        chunk = sock.recv(65536)
        if not chunk:
            break
        body += chunk
    return int(status_line.split()[1]), headers, body[:length]


def raw_exchange(mock: MockProcess, request: bytes) -> tuple[int, dict[str, str], bytes]:
    """Send bytes as they are and read the answer; the socket timeout only guards against a hang."""
    with socket.create_connection(_address(mock), timeout=60) as sock:
        sock.sendall(request)
        return _read_response(sock)


def _raw_post(headers: list[bytes], body: bytes = b"") -> bytes:
    lines = [f"POST {CREATE_PATH} HTTP/1.1".encode(), b"Host: 127.0.0.1", *headers]
    return b"\r\n".join(lines) + b"\r\n\r\n" + body


def _raw_envelope(status: int, headers: dict[str, str], body: bytes) -> tuple[int, int]:
    assert status < 500
    assert headers.get("content-type", "").startswith("application/json"), body[:200]
    envelope = json.loads(body)
    assert _spec().status_by_code.get(envelope["code"]) == status
    return status, int(envelope["code"])


# --- nesting -----------------------------------------------------------------------------------------

NESTING_CASES: dict[str, tuple[bytes, set[Outcome]]] = {
    "100k_open_brackets": (b"[" * 100_000, {(400, 1200)}),
    "100k_balanced_brackets": (_nested(100_000), {(400, 1200)}),
    "100k_nested_objects": (b'{"a":' * 100_000 + b"1" + b"}" * 100_000, {(400, 1200)}),
    "100k_deep_input": (b'{"input": ' + _nested(100_000) + b"}", {(400, 1200)}),
    # Deep enough to pass the JSON parser's depth limit but not the schema validator's recursion limit.
    "300_deep_unknown_field_of_invalid_body": (b'{"x": ' + _nested(300) + b"}", {(400, 1200), (400, 1201)}),
    "300_deep_input": (b'{"input": ' + _nested(300) + b"}", {(400, 1200), (400, 1201)}),
    "300_deep_voice_speed": (_raw_body_with("voice_speed", _nested(300)), {(400, 1200), (400, 1201)}),
    "1000_deep_unknown_field_of_valid_body": (_raw_body_with("extra", _nested(1000)), {(200, 0), (400, 1200)}),
}


@pytest.mark.parametrize(("content", "allowed"), NESTING_CASES.values(), ids=NESTING_CASES.keys())
def test_deep_nesting(http: httpx.Client, content: bytes, allowed: set[Outcome]) -> None:
    assert_outcome(post_json_bytes(http, content), *allowed)
    assert_still_serving(http)


# --- size ----------------------------------------------------------------------------------------------


def _padded_valid_body(size: int) -> bytes:
    """A valid create body of exactly `size` bytes, padded with an unknown field."""
    empty = json.dumps({"input": VALID_INPUT, "padding": ""}).encode()
    body = json.dumps({"input": VALID_INPUT, "padding": "x" * (size - len(empty))}).encode()
    assert len(body) == size
    return body


def test_body_at_the_limit_is_read(http: httpx.Client) -> None:
    assert_outcome(post_json_bytes(http, _padded_valid_body(_body_limit())), (200, 0))
    assert_still_serving(http)


def test_body_over_the_limit_with_content_length(http: httpx.Client) -> None:
    envelope = assert_outcome(post_json_bytes(http, _padded_valid_body(_body_limit() + 1)), (400, 1200))
    assert "limit" in envelope["message"]
    assert_still_serving(http)


def test_body_over_the_limit_chunked(http: httpx.Client) -> None:
    piece = b" " * (1024 * 1024)

    def chunks() -> Iterator[bytes]:
        """No Content-Length: httpx sends a generator with Transfer-Encoding: chunked."""
        yield b'{"input": {"video_id": "v", "mode": "text2video", "text": "hi", "voice_id": "v"}, "padding": '
        for _ in range(_body_limit() // len(piece) + 2):
            yield piece
        yield b"1}"

    response = http.post(CREATE_PATH, content=chunks(), headers={"Content-Type": "application/json"})
    assert response.request.headers.get("transfer-encoding") == "chunked"
    assert "content-length" not in response.request.headers
    assert_outcome(response, (400, 1200))
    assert_still_serving(http)


def test_oversized_content_length_is_refused_before_the_body(mock_server: MockProcess, http: httpx.Client) -> None:
    """The server answers a declared oversize at once: the body is never sent, so it cannot have read it."""
    request = _raw_post(
        [
            f"Authorization: Bearer {TOKEN}".encode(),
            b"Content-Type: application/json",
            f"Content-Length: {_body_limit() * 100}".encode(),
        ]
    )
    assert _raw_envelope(*raw_exchange(mock_server, request)) == (400, 1200)
    assert_still_serving(http)


def test_oversized_chunked_body_is_refused_before_its_end(mock_server: MockProcess, http: httpx.Client) -> None:
    """One chunk just over the limit, and no last chunk: the answer comes without the body ever ending."""
    size = _body_limit() + 1
    head = _raw_post(
        [f"Authorization: Bearer {TOKEN}".encode(), b"Content-Type: application/json", b"Transfer-Encoding: chunked"]
    )
    request = head + f"{size:x}\r\n".encode() + b" " * size
    assert _raw_envelope(*raw_exchange(mock_server, request)) == (400, 1200)
    assert_still_serving(http)


# --- encodings -----------------------------------------------------------------------------------------

INVALID_UTF8_CASES: dict[str, bytes] = {
    "invalid_bytes_in_value": _raw_body_with("video_id", b'"\xff\xfe"'),
    "overlong_slash": _raw_body_with("video_id", b'"\xc0\xaf"'),
    "truncated_sequence": _raw_body_with("text", b'"\xe4\xbd"'),
    "utf8_encoded_surrogate": _raw_body_with("text", b'"\xed\xa0\x80"'),
    "invalid_bytes_in_key": VALID_BODY[:-1] + b', "\xff\xfe": 1}',
    "utf16_body": json.dumps({"input": VALID_INPUT}).encode("utf-16"),
    "latin1_body": json.dumps({"input": {**VALID_INPUT, "text": "café"}}, ensure_ascii=False).encode("latin-1"),
}


@pytest.mark.parametrize("content", INVALID_UTF8_CASES.values(), ids=INVALID_UTF8_CASES.keys())
def test_invalid_utf8(http: httpx.Client, content: bytes) -> None:
    assert_outcome(post_json_bytes(http, content), (400, 1200))
    assert_still_serving(http)


LONE_SURROGATE_CASES: dict[str, bytes] = {
    "high_surrogate": _raw_body_with("video_id", b'"\\ud800"'),
    "low_surrogate": _raw_body_with("video_id", b'"\\udc00"'),
    "reversed_pair": _raw_body_with("text", b'"\\udc00\\ud800"'),
    "high_surrogate_at_end": _raw_body_with("text", b'"abc\\udbff"'),
}


@pytest.mark.parametrize("content", LONE_SURROGATE_CASES.values(), ids=LONE_SURROGATE_CASES.keys())
def test_lone_surrogates(http: httpx.Client, content: bytes) -> None:
    """Escaped lone surrogates parse as JSON grammar but are not Unicode text: refused as not JSON.

    Accepting them would store a string that cannot be encoded again (a 500 waiting in the query).
    """
    assert_outcome(post_json_bytes(http, content), (400, 1200))
    assert_still_serving(http)


NUL_CASES: dict[str, tuple[bytes, set[Outcome]]] = {
    "raw_nul_in_string": (_raw_body_with("video_id", b'"a\x00b"'), {(400, 1200)}),
    "raw_nul_before_body": (b"\x00" + VALID_BODY, {(400, 1200)}),
    "raw_nul_after_body": (VALID_BODY + b"\x00", {(400, 1200)}),
    "only_nul_bytes": (b"\x00" * 1024, {(400, 1200)}),
    "escaped_nul_in_video_id": (_raw_body_with("video_id", b'"a\\u0000b"'), {(200, 0)}),
    "escaped_nul_in_unknown_key": (VALID_BODY[:-1] + b', "\\u0000": 1}', {(200, 0)}),
    "escaped_nul_in_mode": (_raw_body_with("mode", b'"text2video\\u0000"'), {(400, 1201)}),
}


@pytest.mark.parametrize(("content", "allowed"), NUL_CASES.values(), ids=NUL_CASES.keys())
def test_nul_bytes(http: httpx.Client, content: bytes, allowed: set[Outcome]) -> None:
    envelope = assert_outcome(post_json_bytes(http, content), *allowed)
    assert "\x00" not in envelope["message"]
    assert_still_serving(http)


# --- numbers and keys ------------------------------------------------------------------------------------

_OUT_OF_RANGE = {(400, 1200), (400, 1201)}
NUMBER_CASES: dict[str, tuple[bytes, set[Outcome]]] = {
    "1e400": (b"1e400", _OUT_OF_RANGE),
    "minus_1e400": (b"-1e400", _OUT_OF_RANGE),
    "10_pow_400_as_digits": (b"1" + b"0" * 400, _OUT_OF_RANGE),
    "100k_digits": (b"9" * 100_000, _OUT_OF_RANGE),
    "huge_exponent": (b"1e999999999999999999", _OUT_OF_RANGE),
    "2_pow_64": (str(2**64).encode(), _OUT_OF_RANGE),
    "tiny_1e-400": (b"1e-400", _OUT_OF_RANGE),
    # 1.000...0001 with 100k zeros is 1.0 as a double: in range, or refused, never a crash.
    "long_fraction": (b"1." + b"0" * 100_000 + b"1", {(200, 0), (400, 1200)}),
    "long_exponent_digits": (b"1e-" + b"0" * 100_000 + b"1", {(200, 0), (400, 1200), (400, 1201)}),
}


@pytest.mark.parametrize(("raw", "allowed"), NUMBER_CASES.values(), ids=NUMBER_CASES.keys())
def test_huge_numbers(http: httpx.Client, raw: bytes, allowed: set[Outcome]) -> None:
    """Out of range for voice_speed (or for a double): a bad parameter or a body refused, never a crash."""
    assert_outcome(post_json_bytes(http, _raw_body_with("voice_speed", raw)), *allowed)
    assert_still_serving(http)


DUPLICATE_KEY_CASES: dict[str, tuple[bytes, set[Outcome]]] = {
    # JSON leaves duplicates undefined; the last one winning (as in most parsers) or a refusal are both fine,
    # the first one winning would make the mock disagree with nearly every backend.
    "bad_then_good_mode": (_raw_body_with("mode", b'"bogus", "mode": "text2video"'), {(200, 0), (400, 1200)}),
    "good_then_bad_mode": (_raw_body_with("mode", b'"text2video", "mode": "bogus"'), {(400, 1201), (400, 1200)}),
    "good_then_bad_input": (VALID_BODY[:-1] + b', "input": 5}', {(400, 1201), (400, 1200)}),
    "ten_thousand_duplicates": (VALID_BODY[:-1] + b', "x": 1' * 10_000 + b"}", {(200, 0), (400, 1200)}),
}


@pytest.mark.parametrize(("content", "allowed"), DUPLICATE_KEY_CASES.values(), ids=DUPLICATE_KEY_CASES.keys())
def test_duplicate_keys(http: httpx.Client, content: bytes, allowed: set[Outcome]) -> None:
    assert_outcome(post_json_bytes(http, content), *allowed)
    assert_still_serving(http)


# --- large values ------------------------------------------------------------------------------------------


def _audio_body(audio_file: str) -> bytes:
    return json.dumps(
        {
            "input": {
                "video_url": "https://example.com/videos/presenter.mp4",
                "mode": "audio2video",
                "audio_type": "file",
                "audio_file": audio_file,
            }
        }
    ).encode()


def test_largest_legal_audio_file_is_accepted(http: httpx.Client) -> None:
    """5 MiB of audio is about 7 MB of base64: exactly the spec's maxLength, within the body limit."""
    audio = base64.b64encode(bytes(range(256)) * (5 * 1024 * 4)).decode()
    assert len(audio) == _audio_file_max_length()
    assert len(_audio_body(audio)) <= _body_limit()
    assert_outcome(post_json_bytes(http, _audio_body(audio)), (200, 0))
    assert_still_serving(http)


def test_audio_file_just_over_max_length_is_refused_without_echo(http: httpx.Client) -> None:
    audio = base64.b64encode(bytes(range(256)) * (5 * 1024 * 4) + b"\x01\x02").decode()
    assert len(audio) == _audio_file_max_length() + 4
    response = post_json_bytes(http, _audio_body(audio))
    envelope = assert_outcome(response, (400, 1201))
    assert envelope["message"].startswith("input.audio_file:")
    assert len(response.content) < SMALL_RESPONSE, "the message echoes the value"
    assert_still_serving(http)


SEVEN_MB = 7_000_000
# Built when the test runs, not at collection: together they weigh some 60 MB.
LARGE_VALUE_CASES: dict[str, tuple[Callable[[], bytes], str]] = {
    "audio_file_not_base64": (lambda: _audio_body("!" * (_audio_file_max_length() - 4)), "input.audio_file"),
    "mode": (lambda: _body_with(mode="m" * SEVEN_MB), "input.mode"),
    "text": (lambda: _body_with(text="t" * SEVEN_MB), "input.text"),
    "voice_language": (lambda: _body_with(voice_language="l" * SEVEN_MB), "input.voice_language"),
    "video_url": (lambda: _body_with(video_url="u" * SEVEN_MB), "input.video_url"),
    "callback_url": (
        lambda: json.dumps({"input": VALID_INPUT, "callback_url": "c" * SEVEN_MB}).encode(),
        "callback_url",
    ),
    "input_as_string": (lambda: json.dumps({"input": "i" * SEVEN_MB}).encode(), "input"),
    "input_as_list": (lambda: json.dumps({"input": [0] * (SEVEN_MB // 3)}).encode(), "input"),
}


@pytest.mark.parametrize(("build", "path"), LARGE_VALUE_CASES.values(), ids=LARGE_VALUE_CASES.keys())
def test_large_invalid_value_is_not_echoed(http: httpx.Client, build: Callable[[], bytes], path: str) -> None:
    content = build()
    assert len(content) <= _body_limit()
    response = post_json_bytes(http, content)
    envelope = assert_outcome(response, (400, 1201))
    assert envelope["message"].startswith(f"{path}:")
    assert len(response.content) < SMALL_RESPONSE, "the message echoes the value"
    assert_still_serving(http)


# --- headers -------------------------------------------------------------------------------------------------


def test_long_bearer_token_is_accepted(http: httpx.Client) -> None:
    """Any non-empty token is accepted by default, whatever its length (a JWT can be long)."""
    response = http.post(
        CREATE_PATH,
        content=VALID_BODY,
        headers={"Authorization": "Bearer " + "t" * 65536, "Content-Type": "application/json"},
    )
    assert_outcome(response, (200, 0))
    assert_still_serving(http)


def test_long_malformed_authorization_is_not_echoed(http: httpx.Client) -> None:
    secret = "s" * (1024 * 1024)
    response = http.post(
        CREATE_PATH,
        content=VALID_BODY,
        headers={"Authorization": f"Token {secret}", "Content-Type": "application/json"},
    )
    assert_outcome(response, (401, 1002))
    assert len(response.content) < SMALL_RESPONSE
    assert_still_serving(http)


LONG_HEADER_CASES: dict[str, dict[str, str]] = {
    "one_mib_unknown_header": {"X-Garbage": "g" * (1024 * 1024)},
    "thousand_headers": {f"X-Header-{i}": str(i) for i in range(1000)},
    "long_content_type_parameters": {"Content-Type": "application/json" + "; p=v" * 10_000},
    "long_user_agent": {"User-Agent": "u" * 65536},
}


@pytest.mark.parametrize("headers", LONG_HEADER_CASES.values(), ids=LONG_HEADER_CASES.keys())
def test_long_headers(http: httpx.Client, headers: dict[str, str]) -> None:
    response = http.post(CREATE_PATH, content=VALID_BODY, headers={"Content-Type": "application/json", **headers})
    assert response.status_code < 500
    if response.headers.get("content-type", "").startswith("application/json"):
        assert_outcome(response, (200, 0), (400, 1200))
    assert_still_serving(http)


CONTENT_TYPE_CASES: dict[str, tuple[str, Outcome]] = {
    "uppercase": ("APPLICATION/JSON", (200, 0)),
    "charset_upper": ("application/json; charset=UTF-8", (200, 0)),
    "charset_quoted": ('application/json; charset="utf-8"', (200, 0)),
    "spaces_around": ("application/json ; charset=utf-8", (200, 0)),
    "empty": ("", (400, 1200)),
    "semicolon_only": (";", (400, 1200)),
    "charset_latin1": ("application/json; charset=latin-1", (400, 1200)),
    "charset_utf16": ("application/json; charset=utf-16", (400, 1200)),
    "charset_without_value": ("application/json; charset", (400, 1200)),
    "text_plain": ("text/plain", (400, 1200)),
    "json_suffix": ("application/jsonx", (400, 1200)),
    "json_patch": ("application/json-patch+json", (400, 1200)),
    "problem_json": ("application/problem+json", (400, 1200)),
    "list_of_types": ("application/json, text/plain", (400, 1200)),
    "wildcard": ("*/*", (400, 1200)),
    "application_wildcard": ("application/*", (400, 1200)),
    "multipart": ("multipart/form-data; boundary=xyz", (400, 1200)),
    "form": ("application/x-www-form-urlencoded", (400, 1200)),
    "non_ascii": ("application/jsön", (400, 1200)),
}


@pytest.mark.parametrize(("content_type", "expected"), CONTENT_TYPE_CASES.values(), ids=CONTENT_TYPE_CASES.keys())
def test_weird_content_types(http: httpx.Client, content_type: str, expected: Outcome) -> None:
    headers = {b"Content-Type": content_type.encode("utf-8")}
    response = http.post(CREATE_PATH, content=VALID_BODY, headers=headers)
    envelope = assert_outcome(response, expected)
    if expected[1] == 1200:
        assert envelope["message"].startswith("Content-Type:")
    assert_still_serving(http)


def test_raw_non_latin_bytes_in_headers(mock_server: MockProcess, http: httpx.Client) -> None:
    """Bytes an HTTP client would not send: in the Content-Type, and in the token."""
    content_type = _raw_post(
        [
            f"Authorization: Bearer {TOKEN}".encode(),
            b"Content-Type: application/json; charset=\xff\xfe",
            f"Content-Length: {len(VALID_BODY)}".encode(),
        ],
        VALID_BODY,
    )
    assert _raw_envelope(*raw_exchange(mock_server, content_type)) == (400, 1200)
    token = _raw_post(
        [b"Authorization: Bearer \xff\xfe\x80", b"Content-Type: application/json", b"Content-Length: 2"],
        b"{}",
    )
    assert _raw_envelope(*raw_exchange(mock_server, token)) == (400, 1201)
    blank = _raw_post([b"Authorization: Bearer \t ", b"Content-Type: application/json", b"Content-Length: 2"], b"{}")
    assert _raw_envelope(*raw_exchange(mock_server, blank)) == (401, 1002)
    assert_still_serving(http)


# --- paths and methods -----------------------------------------------------------------------------------------

PATH_CASES: dict[str, str] = {
    "non_ascii_root": "/ü",
    "non_ascii_below_create": f"{CREATE_PATH}/ü",
    "cjk": "/kling/v1/videos/识别人脸",
    "emoji": "/kling/v1/videos/identify-face-🙂",
    "percent_encoded_invalid_utf8": "/%ff%fe",
    "percent_encoded_nul": f"{CREATE_PATH}%00",
    "dot_dot": "/%2e%2e/%2e%2e/etc/passwd",
    "uppercase": CREATE_PATH.upper(),
    "trailing_slash": f"{CREATE_PATH}/",
    "long_path": "/" + "a" * 60_000,
}


@pytest.mark.parametrize("path", PATH_CASES.values(), ids=PATH_CASES.keys())
def test_unknown_paths(http: httpx.Client, path: str) -> None:
    """Paths the spec does not have: 404, in the envelope, whatever the characters (no redirect either)."""
    response = http.post(path, content=VALID_BODY, headers={"Content-Type": "application/json"})
    assert_outcome(response, (404, 1203), (404, 1202))
    assert_still_serving(http)


def test_raw_non_ascii_request_line(mock_server: MockProcess, http: httpx.Client) -> None:
    """Unencoded UTF-8 in the request target is not HTTP: any 4xx will do, the HTTP parser may answer it."""
    status, _, _ = raw_exchange(mock_server, "GET /ü HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
    assert 400 <= status < 500
    assert_still_serving(http)


@pytest.mark.parametrize("method", ["PUT", "DELETE", "PATCH", "OPTIONS", "TRACE", "PROPFIND"])
def test_other_methods_on_the_create_path(http: httpx.Client, method: str) -> None:
    response = http.request(method, CREATE_PATH, content=VALID_BODY, headers={"Content-Type": "application/json"})
    envelope = assert_outcome(response, (404, 1202))
    assert "POST" in response.headers.get("allow", "")
    assert envelope["message"].startswith(f"{method} {CREATE_PATH}")
    assert_still_serving(http)


def test_head_on_an_unknown_task(http: httpx.Client) -> None:
    """HEAD gets the GET answer without its body: 404 (1203 is only in the envelope a HEAD cannot carry)."""
    response = http.head(f"{CREATE_PATH}/no-such-task")
    assert response.status_code == 404
    assert response.content == b""
    assert_still_serving(http)


# --- anything at all ---------------------------------------------------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=50),
    lambda children: st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=12), children, max_size=5),
    max_leaves=30,
)
_FIELDS = sorted(load_spec().document["components"]["schemas"]["TaskInput"]["properties"])
_PLAUSIBLE = st.sampled_from(
    ["text2video", "audio2video", "file", "url", "zh", "en", "", "https://example.com/a.mp4", "QUJD", "x" * 121]
)
_VALID_INPUTS: list[dict[str, Any]] = [
    VALID_INPUT,
    {
        "video_url": "https://example.com/v.mp4",
        "mode": "audio2video",
        "audio_type": "url",
        "audio_url": "https://a.b/c",
    },
    {"video_id": "v", "mode": "audio2video", "audio_type": "file", "audio_file": "SUQzBAAAAAAAI1RTU0U="},
]


@cache
def _reference_request_validator() -> jsonschema.Draft202012Validator:
    """The `jsonschema` library over the spec document: a second opinion on which bodies are valid."""
    uri = "urn:kling-mock:openapi"
    resource: Resource[Any] = Resource.from_contents(_spec().document, default_specification=DRAFT202012)
    registry: Registry[Any] = Registry().with_resource(uri, resource)
    pointer = "/paths/~1kling~1v1~1videos~1identify-face/post/requestBody/content/application~1json/schema"
    return jsonschema.Draft202012Validator({"$ref": f"{uri}#{pointer}"}, registry=registry)


@st.composite
def plausible_bodies(draw: st.DrawFn) -> dict[str, Any]:
    """A valid body with a few fields dropped or replaced, so that each rule is broken alone or not at all."""
    fields = dict(draw(st.sampled_from(_VALID_INPUTS)))
    for name in draw(st.lists(st.sampled_from(_FIELDS), max_size=3, unique=True)):
        if draw(st.booleans()):
            fields.pop(name, None)
        else:
            fields[name] = draw(_PLAUSIBLE | st.floats(0.5, 2.5) | json_values)
    body: dict[str, Any] = {"input": fields}
    if draw(st.booleans()):
        body["callback_url"] = draw(_PLAUSIBLE | json_values)
    return body


@HYPOTHESIS_SETTINGS
@given(content=st.binary(max_size=4096))
def test_arbitrary_bytes(http: httpx.Client, content: bytes) -> None:
    check_envelope(post_json_bytes(http, content))


@HYPOTHESIS_SETTINGS
@given(value=json_values)
def test_arbitrary_json_values(http: httpx.Client, value: Any) -> None:
    check_envelope(post_json_bytes(http, json.dumps(value).encode()))


@HYPOTHESIS_SETTINGS
@given(body=plausible_bodies())
def test_plausible_bodies(http: httpx.Client, body: dict[str, Any]) -> None:
    """Bodies shaped like requests, so that the field rules, not only the parser, are exercised.

    The mock (jsonschema-rs) must accept exactly the bodies the `jsonschema` library finds valid.
    """
    response = post_json_bytes(http, json.dumps(body).encode())
    envelope = check_envelope(response)
    expected = (200, 0) if _reference_request_validator().is_valid(body) else (400, 1201)
    assert (response.status_code, envelope["code"]) == expected, envelope


def test_still_serving_after_everything(http: httpx.Client) -> None:
    """Runs after the property tests above (file order): the server outlived them all."""
    assert_still_serving(http)
