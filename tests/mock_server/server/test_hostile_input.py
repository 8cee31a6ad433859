"""Hostile input against a real mock over HTTP.

Whatever arrives, the contract wants a 4xx in Kling's envelope, never a 5xx, and a server that
keeps serving: every test ends by checking `/healthz` and a valid create call.

Identify-face's create is the first target; the lip-sync flow's creates (advanced lip-sync, and the older
lip-sync endpoint) read bodies the same way, so the cases that are about reading a body run against each of them
too (the `create` fixture), with that operation's own fields.
"""

from __future__ import annotations

import base64
import io
import json
import socket
import uuid
import wave
from collections.abc import Callable, Iterator
from dataclasses import dataclass
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


def assert_still_serving(http: httpx.Client, create: Create | None = None) -> None:
    """The server survived: it answers its health check and still creates a task (with `create`, that one too)."""
    health = http.get("/healthz")
    assert health.status_code == 200
    created = post_json_bytes(http, VALID_BODY)
    assert (created.status_code, created.json()["code"]) == (200, 0), created.text
    if create is not None:
        again = create.post(http, create.valid)
        assert (again.status_code, again.json()["code"]) == (200, 0), again.text


def _body_with(**fields: Any) -> bytes:
    return json.dumps({"input": {**VALID_INPUT, **fields}}).encode()


def _nested(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


# --- the creates under test ----------------------------------------------------------------------------

# Where a raw JSON text goes in a body: a string no case sends, replaced once the body is JSON.
_RAW = "@@raw-json-text@@"
Field = tuple[str | int, ...]


@dataclass(frozen=True)
class Create:
    """One create operation: where the mock serves it, the spec's path for it, a valid body, and which of its
    fields the cases alter (by role, so that one case reads the same against each create)."""

    name: str
    path: str
    spec_path: str
    body: dict[str, Any]
    # A string field (where bytes that are no JSON text go); one whose value is checked (an enum, a session); a
    # number with bounds; the object or array that holds the fields.
    text: Field
    checked: Field
    number: Field
    holder: Field
    # The schema (in `components.schemas`) that holds the number field, for its bounds.
    number_schema: str = "TaskInput"
    # Another string field, of prose (identify-face's `text`).
    prose: Field = ("input", "text")

    @property
    def number_bounds(self) -> tuple[float, float]:
        schema = _spec().document["components"]["schemas"][self.number_schema]["properties"][str(self.number[-1])]
        return float(schema["minimum"]), float(schema["maximum"])

    @property
    def operation(self) -> Operation:
        return next(op for op in _spec().operations if op.method == "POST" and op.path == self.spec_path)

    @property
    def valid(self) -> bytes:
        return json.dumps(self.body).encode()

    def with_value(self, field: Field, value: Any) -> dict[str, Any]:
        """The valid body with `field` set to `value` (the body is copied, never changed)."""
        body: Any = json.loads(self.valid)
        node = body
        for key in field[:-1]:
            node = node[key]
        node[field[-1]] = value
        result: dict[str, Any] = body
        return result

    def with_raw(self, field: Field, raw: bytes) -> bytes:
        """The valid body whose `field` is the given raw JSON text, unparsed by Python."""
        return json.dumps(self.with_value(field, _RAW)).encode().replace(json.dumps(_RAW).encode(), raw, 1)

    def value_of(self, field: Field) -> bytes:
        """The valid body's value of `field`, as JSON text."""
        node: Any = self.body
        for key in field:
            node = node[key]
        return json.dumps(node).encode()

    def post(self, http: httpx.Client, content: Any, content_type: str = "application/json") -> httpx.Response:
        return http.post(self.path, content=content, headers={"Content-Type": content_type})


IDENTIFY_FACE_CREATE = Create(
    "identify-face",
    CREATE_PATH,
    SPEC_CREATE_PATH,
    {"input": VALID_INPUT},
    text=("input", "video_id"),
    checked=("input", "mode"),
    number=("input", "voice_speed"),
    holder=("input",),
)
# The older lip-sync endpoint takes identify-face's documented body; served here under Kling's own paths.
LIP_SYNC_CREATE = Create(
    "lip-sync",
    "/v1/videos/lip-sync",
    "/v1/videos/lip-sync",
    {"input": VALID_INPUT},
    text=("input", "video_id"),
    checked=("input", "mode"),
    number=("input", "voice_speed"),
    holder=("input",),
)
CREATES = ["identify-face", "advanced-lip-sync", "lip-sync"]


def _advanced_lip_sync_create(http: httpx.Client) -> Create:
    """Advanced lip-sync's create, its body voicing a face of a session the test's caller opened just now."""
    opened = http.post(SPEC_CREATE_PATH, json={"video_url": "https://example.com/videos/hostile-input.mp4"})
    assert opened.status_code == 200, opened.text
    session = opened.json()["data"]
    face = next(face for face in session["face_data"] if face["end_time"] - face["start_time"] >= 2000)
    clip = min(4000, face["end_time"] - face["start_time"])
    choice = {
        "face_id": face["face_id"],
        "sound_file": "https://example.com/audio/voice-6s.mp3",
        "sound_start_time": 0,
        "sound_end_time": clip,
        "sound_insert_time": face["start_time"],
    }
    return Create(
        "advanced-lip-sync",
        "/kling/v1/videos/advanced-lip-sync",
        "/v1/videos/advanced-lip-sync",
        {"session_id": session["session_id"], "face_choose": [choice]},
        text=("face_choose", 0, "face_id"),
        checked=("session_id",),
        number=("face_choose", 0, "sound_volume"),
        holder=("face_choose",),
        number_schema="FaceChoice",
        prose=("external_task_id",),
    )


@pytest.fixture(scope="module", params=CREATES)
def create(request: pytest.FixtureRequest, http: httpx.Client) -> Create:
    """Each create in turn, its valid body checked to be accepted first (a refused one would prove nothing)."""
    chosen = {"identify-face": IDENTIFY_FACE_CREATE, "lip-sync": LIP_SYNC_CREATE}.get(request.param)
    chosen = chosen or _advanced_lip_sync_create(http)
    accepted = chosen.post(http, chosen.valid)
    assert (accepted.status_code, accepted.json()["code"]) == (200, 0), accepted.text
    return chosen


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


def _raw_post(headers: list[bytes], body: bytes = b"", path: str = CREATE_PATH) -> bytes:
    lines = [f"POST {path} HTTP/1.1".encode(), b"Host: 127.0.0.1", *headers]
    return b"\r\n".join(lines) + b"\r\n\r\n" + body


def _raw_envelope(status: int, headers: dict[str, str], body: bytes) -> tuple[int, int]:
    assert status < 500
    assert headers.get("content-type", "").startswith("application/json"), body[:200]
    envelope = json.loads(body)
    assert _spec().status_by_code.get(envelope["code"]) == status
    return status, int(envelope["code"])


# --- nesting -----------------------------------------------------------------------------------------


def _holder_key(create: Create) -> bytes:
    return json.dumps(create.holder[0]).encode()


def _beside(field: Field, name: str) -> Field:
    """A field called `name` in the object that holds `field`."""
    return (*field[:-1], name)


# Each case is built for the create under test: `input` for identify-face's and the older lip-sync's body,
# `face_choose` for advanced lip-sync's, and their number field (`voice_speed`, `sound_volume`).
NESTING_CASES: dict[str, tuple[Callable[[Create], bytes], set[Outcome]]] = {
    "100k_open_brackets": (lambda create: b"[" * 100_000, {(400, 1200)}),
    "100k_balanced_brackets": (lambda create: _nested(100_000), {(400, 1200)}),
    "100k_nested_objects": (lambda create: b'{"a":' * 100_000 + b"1" + b"}" * 100_000, {(400, 1200)}),
    "100k_deep_holder": (lambda create: b"{" + _holder_key(create) + b": " + _nested(100_000) + b"}", {(400, 1200)}),
    # Deep enough to pass the JSON parser's depth limit but not the schema validator's recursion limit.
    "300_deep_unknown_field_of_invalid_body": (
        lambda create: b'{"x": ' + _nested(300) + b"}",
        {(400, 1200), (400, 1201)},
    ),
    "300_deep_holder": (
        lambda create: b"{" + _holder_key(create) + b": " + _nested(300) + b"}",
        {(400, 1200), (400, 1201)},
    ),
    "300_deep_number": (lambda create: create.with_raw(create.number, _nested(300)), {(400, 1200), (400, 1201)}),
    "1000_deep_unknown_field_of_valid_body": (
        lambda create: create.with_raw(_beside(create.text, "extra"), _nested(1000)),
        {(200, 0), (400, 1200)},
    ),
}


@pytest.mark.parametrize(("build", "allowed"), NESTING_CASES.values(), ids=NESTING_CASES.keys())
def test_deep_nesting(
    http: httpx.Client, create: Create, build: Callable[[Create], bytes], allowed: set[Outcome]
) -> None:
    assert_outcome(create.post(http, build(create)), *allowed)
    assert_still_serving(http, create)


# --- size ----------------------------------------------------------------------------------------------


def _padded_valid_body(size: int, create: Create = IDENTIFY_FACE_CREATE) -> bytes:
    """A valid create body of exactly `size` bytes, padded with an unknown field."""
    empty = json.dumps({**create.body, "padding": ""}).encode()
    body = json.dumps({**create.body, "padding": "x" * (size - len(empty))}).encode()
    assert len(body) == size
    return body


def test_body_at_the_limit_is_read(http: httpx.Client, create: Create) -> None:
    assert_outcome(create.post(http, _padded_valid_body(create.operation.max_body_bytes, create)), (200, 0))
    assert_still_serving(http, create)


def test_body_over_the_limit_with_content_length(http: httpx.Client, create: Create) -> None:
    content = _padded_valid_body(create.operation.max_body_bytes + 1, create)
    envelope = assert_outcome(create.post(http, content), (400, 1200))
    assert "limit" in envelope["message"]
    assert_still_serving(http, create)


def test_body_over_the_limit_chunked(http: httpx.Client, create: Create) -> None:
    piece = b" " * (1024 * 1024)
    limit = create.operation.max_body_bytes

    def chunks() -> Iterator[bytes]:
        """No Content-Length: httpx sends a generator with Transfer-Encoding: chunked."""
        yield create.valid[:-1] + b', "padding": '
        for _ in range(limit // len(piece) + 2):
            yield piece
        yield b"1}"

    response = http.post(create.path, content=chunks(), headers={"Content-Type": "application/json"})
    assert response.request.headers.get("transfer-encoding") == "chunked"
    assert "content-length" not in response.request.headers
    assert_outcome(response, (400, 1200))
    assert_still_serving(http, create)


def test_oversized_content_length_is_refused_before_the_body(
    mock_server: MockProcess, http: httpx.Client, create: Create
) -> None:
    """The server answers a declared oversize at once: the body is never sent, so it cannot have read it."""
    request = _raw_post(
        [
            f"Authorization: Bearer {TOKEN}".encode(),
            b"Content-Type: application/json",
            f"Content-Length: {create.operation.max_body_bytes * 100}".encode(),
        ],
        path=create.path,
    )
    assert _raw_envelope(*raw_exchange(mock_server, request)) == (400, 1200)
    assert_still_serving(http, create)


def test_oversized_chunked_body_is_refused_before_its_end(
    mock_server: MockProcess, http: httpx.Client, create: Create
) -> None:
    """One chunk just over the limit, and no last chunk: the answer comes without the body ever ending."""
    size = create.operation.max_body_bytes + 1
    head = _raw_post(
        [f"Authorization: Bearer {TOKEN}".encode(), b"Content-Type: application/json", b"Transfer-Encoding: chunked"],
        path=create.path,
    )
    request = head + f"{size:x}\r\n".encode() + b" " * size
    assert _raw_envelope(*raw_exchange(mock_server, request)) == (400, 1200)
    assert_still_serving(http, create)


# --- encodings -----------------------------------------------------------------------------------------


def _text(create: Create, raw: bytes) -> bytes:
    return create.with_raw(create.text, raw)


def _checked(create: Create, raw: bytes) -> bytes:
    return create.with_raw(create.checked, raw)


def _prose(create: Create, raw: bytes) -> bytes:
    return create.with_raw(create.prose, raw)


INVALID_UTF8_CASES: dict[str, Callable[[Create], bytes]] = {
    "invalid_bytes_in_value": lambda create: _text(create, b'"\xff\xfe"'),
    "overlong_slash": lambda create: _text(create, b'"\xc0\xaf"'),
    "truncated_sequence": lambda create: _prose(create, b'"\xe4\xbd"'),
    "utf8_encoded_surrogate": lambda create: _prose(create, b'"\xed\xa0\x80"'),
    "invalid_bytes_in_key": lambda create: create.valid[:-1] + b', "\xff\xfe": 1}',
    "utf16_body": lambda create: create.valid.decode().encode("utf-16"),
    "latin1_body": lambda create: json.dumps(create.with_value(create.prose, "café"), ensure_ascii=False).encode(
        "latin-1"
    ),
}


@pytest.mark.parametrize("build", INVALID_UTF8_CASES.values(), ids=INVALID_UTF8_CASES.keys())
def test_invalid_utf8(http: httpx.Client, create: Create, build: Callable[[Create], bytes]) -> None:
    assert_outcome(create.post(http, build(create)), (400, 1200))
    assert_still_serving(http, create)


LONE_SURROGATE_CASES: dict[str, Callable[[Create], bytes]] = {
    "high_surrogate": lambda create: _text(create, b'"\\ud800"'),
    "low_surrogate": lambda create: _text(create, b'"\\udc00"'),
    "reversed_pair": lambda create: _prose(create, b'"\\udc00\\ud800"'),
    "high_surrogate_at_end": lambda create: _prose(create, b'"abc\\udbff"'),
}


@pytest.mark.parametrize("build", LONE_SURROGATE_CASES.values(), ids=LONE_SURROGATE_CASES.keys())
def test_lone_surrogates(http: httpx.Client, create: Create, build: Callable[[Create], bytes]) -> None:
    """Escaped lone surrogates parse as JSON grammar but are not Unicode text: refused as not JSON.

    Accepting them would store a string that cannot be encoded again (a 500 waiting in the query).
    """
    assert_outcome(create.post(http, build(create)), (400, 1200))
    assert_still_serving(http, create)


def _nul_accepted(create: Create) -> bytes:
    """An escaped NUL in a string any string may fill: identify-face's `video_id`, and a fresh `external_task_id`
    for advanced lip-sync (whose text field, `face_id`, must name a face of the session)."""
    if create.name == "advanced-lip-sync":
        return create.with_raw(("external_task_id",), f'"{uuid.uuid4()}\\u0000b"'.encode())
    return _text(create, b'"a\\u0000b"')


NUL_CASES: dict[str, tuple[Callable[[Create], bytes], set[Outcome]]] = {
    "raw_nul_in_string": (lambda create: _text(create, b'"a\x00b"'), {(400, 1200)}),
    "raw_nul_before_body": (lambda create: b"\x00" + create.valid, {(400, 1200)}),
    "raw_nul_after_body": (lambda create: create.valid + b"\x00", {(400, 1200)}),
    "only_nul_bytes": (lambda create: b"\x00" * 1024, {(400, 1200)}),
    "escaped_nul_in_free_text": (_nul_accepted, {(200, 0)}),
    "escaped_nul_in_unknown_key": (lambda create: create.valid[:-1] + b', "\\u0000": 1}', {(200, 0)}),
    # `mode` for identify-face's body, `session_id` for advanced lip-sync's: a value that is checked.
    "escaped_nul_in_checked_value": (
        lambda create: _checked(create, create.value_of(create.checked)[:-1] + b'\\u0000"'),
        {(400, 1201)},
    ),
}


@pytest.mark.parametrize(("build", "allowed"), NUL_CASES.values(), ids=NUL_CASES.keys())
def test_nul_bytes(http: httpx.Client, create: Create, build: Callable[[Create], bytes], allowed: set[Outcome]) -> None:
    envelope = assert_outcome(create.post(http, build(create)), *allowed)
    assert "\x00" not in envelope["message"]
    assert_still_serving(http, create)


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
def test_huge_numbers(http: httpx.Client, create: Create, raw: bytes, allowed: set[Outcome]) -> None:
    """Out of range for the number field (`voice_speed`, `sound_volume`; or for a double): a bad parameter or a
    body refused, never a crash. A value that is, as a double, within the field's bounds (1e-400 is 0.0, which
    `sound_volume` allows) may be accepted too."""
    low, high = create.number_bounds
    if low <= float(raw) <= high:
        allowed = {*allowed, (200, 0)}
    assert_outcome(create.post(http, create.with_raw(create.number, raw)), *allowed)
    assert_still_serving(http, create)


def _twice(create: Create, first: bytes, then: bytes) -> bytes:
    """The checked field given twice, `first` then `then` (raw JSON texts)."""
    return _checked(create, first + b", " + json.dumps(create.checked[-1]).encode() + b": " + then)


DUPLICATE_KEY_CASES: dict[str, tuple[Callable[[Create], bytes], set[Outcome]]] = {
    # JSON leaves duplicates undefined; the last one winning (as in most parsers) or a refusal are both fine,
    # the first one winning would make the mock disagree with nearly every backend.
    "bad_then_good_checked": (
        lambda create: _twice(create, b'"bogus"', create.value_of(create.checked)),
        {(200, 0), (400, 1200)},
    ),
    "good_then_bad_checked": (
        lambda create: _twice(create, create.value_of(create.checked), b'"bogus"'),
        {(400, 1201), (400, 1200)},
    ),
    "good_then_bad_holder": (
        lambda create: create.valid[:-1] + b", " + _holder_key(create) + b": 5}",
        {(400, 1201), (400, 1200)},
    ),
    "ten_thousand_duplicates": (
        lambda create: create.valid[:-1] + b', "x": 1' * 10_000 + b"}",
        {(200, 0), (400, 1200)},
    ),
}


@pytest.mark.parametrize(("build", "allowed"), DUPLICATE_KEY_CASES.values(), ids=DUPLICATE_KEY_CASES.keys())
def test_duplicate_keys(
    http: httpx.Client, create: Create, build: Callable[[Create], bytes], allowed: set[Outcome]
) -> None:
    assert_outcome(create.post(http, build(create)), *allowed)
    assert_still_serving(http, create)


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


# The creates whose body is identify-face's documented one (`input`, `audio_file`, ...), and advanced lip-sync.
DOCUMENTED_BODIES = pytest.mark.parametrize("create", ["identify-face", "lip-sync"], indirect=True)
ADVANCED_ONLY = pytest.mark.parametrize("create", ["advanced-lip-sync"], indirect=True)


@DOCUMENTED_BODIES
def test_largest_legal_audio_file_is_accepted(http: httpx.Client, create: Create) -> None:
    """5 MiB of audio is about 7 MB of base64: exactly the spec's maxLength, within the body limit."""
    audio = base64.b64encode(bytes(range(256)) * (5 * 1024 * 4)).decode()
    assert len(audio) == _audio_file_max_length()
    assert len(_audio_body(audio)) <= create.operation.max_body_bytes
    assert_outcome(create.post(http, _audio_body(audio)), (200, 0))
    assert_still_serving(http, create)


@DOCUMENTED_BODIES
def test_audio_file_just_over_max_length_is_refused_without_echo(http: httpx.Client, create: Create) -> None:
    audio = base64.b64encode(bytes(range(256)) * (5 * 1024 * 4) + b"\x01\x02").decode()
    assert len(audio) == _audio_file_max_length() + 4
    response = create.post(http, _audio_body(audio))
    envelope = assert_outcome(response, (400, 1201))
    assert envelope["message"].startswith("input.audio_file:")
    assert len(response.content) < SMALL_RESPONSE, "the message echoes the value"
    assert_still_serving(http, create)


def _five_mib_wav(extra: bytes = b"") -> bytes:
    """A WAV of exactly 5 MiB (44.1 kHz stereo silence, some 30 s: an audio advanced lip-sync takes), then `extra`."""
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(2)
        out.setsampwidth(2)
        out.setframerate(44100)
        out.writeframes(b"\0" * (5 * 1024 * 1024 - 44))
    assert len(buffer.getvalue()) == 5 * 1024 * 1024
    return buffer.getvalue() + extra


def _sound_file_max_length() -> int:
    choice = _spec().document["components"]["schemas"]["FaceChoice"]["properties"]["sound_file"]
    return max(int(shape.get("maxLength", 0)) for shape in choice["anyOf"])


@ADVANCED_ONLY
def test_largest_legal_sound_file_is_accepted(http: httpx.Client, create: Create) -> None:
    """5 MiB of audio in base64 is exactly the spec's maxLength for `sound_file`, within the body limit; the mock
    reads the audio's length from it."""
    audio = base64.b64encode(_five_mib_wav()).decode()
    assert len(audio) == _sound_file_max_length()
    content = json.dumps(create.with_value(_beside(create.text, "sound_file"), audio)).encode()
    assert len(content) <= create.operation.max_body_bytes
    assert_outcome(create.post(http, content), (200, 0))
    assert_still_serving(http, create)


@ADVANCED_ONLY
def test_sound_file_just_over_max_length_is_refused_without_echo(http: httpx.Client, create: Create) -> None:
    audio = base64.b64encode(_five_mib_wav(b"\x01\x02")).decode()
    assert len(audio) == _sound_file_max_length() + 4
    response = create.post(http, json.dumps(create.with_value(_beside(create.text, "sound_file"), audio)).encode())
    envelope = assert_outcome(response, (400, 1201))
    assert envelope["message"].startswith("face_choose[0].sound_file:")
    assert len(response.content) < SMALL_RESPONSE, "the message echoes the value"
    assert_still_serving(http, create)


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


@DOCUMENTED_BODIES
@pytest.mark.parametrize(("build", "path"), LARGE_VALUE_CASES.values(), ids=LARGE_VALUE_CASES.keys())
def test_large_invalid_value_is_not_echoed(
    http: httpx.Client, create: Create, build: Callable[[], bytes], path: str
) -> None:
    content = build()
    assert len(content) <= create.operation.max_body_bytes
    response = create.post(http, content)
    envelope = assert_outcome(response, (400, 1201))
    assert envelope["message"].startswith(f"{path}:")
    assert len(response.content) < SMALL_RESPONSE, "the message echoes the value"
    assert_still_serving(http, create)


def _advanced_with(field: Field, value: Any) -> Callable[[Create], bytes]:
    return lambda create: json.dumps(create.with_value(field, value)).encode()


# Advanced lip-sync's fields: refused by the schema, or by the rules across fields (an unknown session, a face
# not in it), whose messages must not echo either.
ADVANCED_LARGE_VALUE_CASES: dict[str, tuple[Callable[[Create], bytes], str]] = {
    "sound_file_not_base64": (
        lambda create: _advanced_with(_beside(create.text, "sound_file"), "!" * (_sound_file_max_length() - 4))(create),
        "face_choose[0].sound_file",
    ),
    "session_id": (_advanced_with(("session_id",), "s" * SEVEN_MB), "session_id"),
    "face_id": (_advanced_with(("face_choose", 0, "face_id"), "f" * SEVEN_MB), "face_choose[0].face_id"),
    "callback_url": (_advanced_with(("callback_url",), "c" * SEVEN_MB), "callback_url"),
    "face_choose_as_string": (_advanced_with(("face_choose",), "i" * SEVEN_MB), "face_choose"),
}


@ADVANCED_ONLY
@pytest.mark.parametrize(("build", "path"), ADVANCED_LARGE_VALUE_CASES.values(), ids=ADVANCED_LARGE_VALUE_CASES.keys())
def test_large_invalid_advanced_lip_sync_value_is_not_echoed(
    http: httpx.Client, create: Create, build: Callable[[Create], bytes], path: str
) -> None:
    content = build(create)
    assert len(content) <= create.operation.max_body_bytes
    response = create.post(http, content)
    envelope = assert_outcome(response, (400, 1201))
    assert envelope["message"].startswith(f"{path}:")
    assert len(response.content) < SMALL_RESPONSE, "the message echoes the value"
    assert_still_serving(http, create)


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
def test_weird_content_types(http: httpx.Client, create: Create, content_type: str, expected: Outcome) -> None:
    headers = {b"Content-Type": content_type.encode("utf-8")}
    response = http.post(create.path, content=create.valid, headers=headers)
    envelope = assert_outcome(response, expected)
    if expected[1] == 1200:
        assert envelope["message"].startswith("Content-Type:")
    assert_still_serving(http, create)


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
    "advanced_lip_sync_uppercase": "/v1/videos/Advanced-Lip-Sync",
    "advanced_lip_sync_trailing_slash": "/kling/v1/videos/advanced-lip-sync/",
    "advanced_lip_sync_non_ascii_below": "/v1/videos/advanced-lip-sync/ü/x",
    "lip_sync_uppercase": "/KLING/V1/VIDEOS/LIP-SYNC",
    "lip_sync_trailing_slash": "/v1/videos/lip-sync/",
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
def test_other_methods_on_the_create_path(http: httpx.Client, create: Create, method: str) -> None:
    response = http.request(method, create.path, content=create.valid, headers={"Content-Type": "application/json"})
    envelope = assert_outcome(response, (404, 1202))
    assert "POST" in response.headers.get("allow", "")
    assert envelope["message"].startswith(f"{method} {create.path}")
    assert_still_serving(http, create)


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
def _reference_request_validator(spec_path: str = SPEC_CREATE_PATH) -> jsonschema.Draft202012Validator:
    """The `jsonschema` library over the spec document: a second opinion on which bodies are valid."""
    uri = "urn:kling-mock:openapi"
    resource: Resource[Any] = Resource.from_contents(_spec().document, default_specification=DRAFT202012)
    registry: Registry[Any] = Registry().with_resource(uri, resource)
    route = spec_path.replace("~", "~0").replace("/", "~1")
    pointer = f"/paths/{route}/post/requestBody/content/application~1json/schema"
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
def test_arbitrary_bytes(http: httpx.Client, create: Create, content: bytes) -> None:
    check_envelope(create.post(http, content))


@HYPOTHESIS_SETTINGS
@given(value=json_values)
def test_arbitrary_json_values(http: httpx.Client, create: Create, value: Any) -> None:
    check_envelope(create.post(http, json.dumps(value).encode()))


@DOCUMENTED_BODIES
@HYPOTHESIS_SETTINGS
@given(body=plausible_bodies())
def test_plausible_bodies(http: httpx.Client, create: Create, body: dict[str, Any]) -> None:
    """Bodies shaped like requests, so that the field rules, not only the parser, are exercised.

    The mock (jsonschema-rs) must accept exactly the bodies the `jsonschema` library finds valid.
    """
    response = create.post(http, json.dumps(body).encode())
    envelope = check_envelope(response)
    expected = (200, 0) if _reference_request_validator(create.spec_path).is_valid(body) else (400, 1201)
    assert (response.status_code, envelope["code"]) == expected, envelope


def test_still_serving_after_everything(http: httpx.Client) -> None:
    """Runs after the property tests above (file order): the server outlived them all."""
    assert_still_serving(http)
