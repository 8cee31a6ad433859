"""Deliberately broken servers: the real mock, wrapped so that it breaks exactly one rule of the contract.

The contract suite is only worth something if it fails against a server that breaks the contract.
Each breakage here takes the real `mock_server` app and bends one rule of the contract (docs/contract.md),
on the way in (rewriting the request before the mock sees it) or on the way out (rewriting its answer),
so that everything else stays correct and a failing suite can only be failing for that one rule.

    python -m tests.contract_tests.broken_servers serve --port 0 --breakage NAME [--keys KEY]
    python -m tests.contract_tests.broken_servers list

Like `kling-mock serve`, it prints `kling-mock listening on http://HOST:PORT` on stderr, so that
`MockProcess(..., module="tests.contract_tests.broken_servers")` can start it. It listens on 127.0.0.1 only.
"""

from __future__ import annotations

import argparse
import os
import sys
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeGuard

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mock_server import Settings, create_app
from mock_server.core.environment import KEYS_ENV
from mock_server.core.errors import BusinessCode, KlingError
from mock_server.core.ids import IdGenerator
from mock_server.http.serving import configure_logging, run_app
from mock_server.spec import load_spec
from mock_server.validation import BearerAuth
from tests.support import CREATE_PATH

HOST = "127.0.0.1"
# The seed page's own ids: a server that copies its documentation answers these every time.
SEED_ID = "CmJ8DGePZioAAAAAAFIvOQ"
_MODES = ("text2video", "audio2video")
_NAMED_INPUT_FIELDS = frozenset(load_spec().document["components"]["schemas"]["TaskInput"]["properties"])


@dataclass
class Exchange:
    """One request and the mock's answer to it; a breakage rewrites either side in place."""

    method: str
    path: str
    headers: list[tuple[bytes, bytes]]
    body: bytes
    accepted_key: str
    query: bytes = b""
    status: int = 0
    response_headers: list[tuple[bytes, bytes]] = field(default_factory=list)
    response_body: bytes = b""

    @property
    def is_create(self) -> bool:
        return self.method == "POST" and self.path == CREATE_PATH

    def header(self, name: str) -> str | None:
        return _get(self.headers, name)

    def set_header(self, name: str, value: str | None) -> None:
        self.headers = _set(self.headers, name, value)

    def input(self) -> dict[str, Any] | None:
        """The request's `input` object, if the body is a JSON object that has one."""
        body = _loads(self.body)
        value = body.get("input") if isinstance(body, dict) else None
        return value if isinstance(value, dict) else None

    def set_input(self, value: dict[str, Any]) -> None:
        body = _loads(self.body)
        assert isinstance(body, dict)
        self.body = orjson.dumps({**body, "input": value})

    def answer(self) -> dict[str, Any] | None:
        """The mock's answer, if it is a JSON object in Kling's envelope."""
        body = _loads(self.response_body)
        return body if isinstance(body, dict) and "code" in body else None

    def set_answer(self, body: dict[str, Any]) -> None:
        self.response_body = orjson.dumps(body)

    def refuse(self, status: int, code: int, message: str) -> None:
        """Replace the answer by a Kling error (well formed: only the decision to refuse is wrong)."""
        self.status = status
        self.response_headers = [(b"content-type", b"application/json")]
        self.set_answer({"code": code, "message": message, "request_id": IdGenerator().new()})


Hook = Callable[[Exchange], None]


def _nothing(exchange: Exchange) -> None:
    """No change."""


@dataclass(frozen=True)
class Breakage:
    """One rule broken: `before` rewrites the request the mock sees, `after` the answer the client gets."""

    name: str
    rule: str
    before: Hook = _nothing
    after: Hook = _nothing


class BreakOneRule:
    """Pure ASGI middleware: buffers each request and its answer so that a breakage can rewrite them."""

    def __init__(self, app: ASGIApp, breakage: Breakage, accepted_key: str) -> None:
        self.app = app
        self.breakage = breakage
        self.accepted_key = accepted_key

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                break
        exchange = Exchange(
            scope["method"],
            scope["path"],
            list(scope["headers"]),
            b"".join(chunks),
            self.accepted_key,
            query=scope.get("query_string", b""),
        )
        sent_body = exchange.body
        self.breakage.before(exchange)
        if exchange.body != sent_body:
            exchange.set_header("content-length", str(len(exchange.body)))

        delivered = False

        async def replay() -> Message:
            nonlocal delivered
            if not delivered:
                delivered = True
                return {"type": "http.request", "body": exchange.body, "more_body": False}
            return await receive()

        start: dict[str, Any] = {}
        parts: list[bytes] = []

        async def capture(message: Message) -> None:
            if message["type"] == "http.response.start":
                start.update(message)
            elif message["type"] == "http.response.body":
                parts.append(message.get("body", b""))

        await self.app({**scope, "headers": exchange.headers, "query_string": exchange.query}, replay, capture)
        exchange.status = int(start["status"])
        exchange.response_headers = list(start.get("headers", []))
        exchange.response_body = answered = b"".join(parts)
        self.breakage.after(exchange)
        if exchange.response_body != answered:
            exchange.response_headers = _set(
                exchange.response_headers, "content-length", str(len(exchange.response_body))
            )
        await send({"type": "http.response.start", "status": exchange.status, "headers": exchange.response_headers})
        await send({"type": "http.response.body", "body": exchange.response_body})


def _get(headers: list[tuple[bytes, bytes]], name: str) -> str | None:
    wanted = name.lower().encode("latin-1")
    return next((value.decode("latin-1") for key, value in headers if key.lower() == wanted), None)


def _set(headers: list[tuple[bytes, bytes]], name: str, value: str | None) -> list[tuple[bytes, bytes]]:
    wanted = name.lower().encode("latin-1")
    kept = [(key, old) for key, old in headers if key.lower() != wanted]
    return kept if value is None else [*kept, (wanted, value.encode("latin-1"))]


def _loads(raw: bytes) -> Any:
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None


def _is_number(value: Any) -> TypeGuard[float]:
    return isinstance(value, int | float) and not isinstance(value, bool)


# --- building blocks -------------------------------------------------------------------------------------------


def _on_success(edit: Callable[[dict[str, Any]], None]) -> Hook:
    """Edit every success answer (HTTP 200, code 0)."""

    def hook(exchange: Exchange) -> None:
        answer = exchange.answer()
        if exchange.status == 200 and answer is not None and answer["code"] == 0:
            edit(answer)
            exchange.set_answer(answer)

    return hook


def _on_created(edit: Callable[[dict[str, Any]], None]) -> Hook:
    """Edit the `data` of every answer that created a task."""

    def edit_data(answer: dict[str, Any]) -> None:
        if isinstance(answer.get("data"), dict):
            edit(answer["data"])

    hook = _on_success(edit_data)
    return lambda exchange: hook(exchange) if exchange.is_create else None


def _on_error(edit: Callable[[Exchange, dict[str, Any]], None], codes: Sequence[int] = ()) -> Hook:
    """Edit every error answer, or only those with one of `codes`."""

    def hook(exchange: Exchange) -> None:
        answer = exchange.answer()
        if exchange.status >= 400 and answer is not None and (not codes or answer["code"] in codes):
            edit(exchange, answer)
            exchange.set_answer(answer)

    return hook


def _refuse_created(when: Callable[[dict[str, Any]], bool], message: str) -> Hook:
    """Refuse with 400/1201 a create call that the mock (rightly) accepted, when `when(input)`."""

    def hook(exchange: Exchange) -> None:
        value = exchange.input()
        if exchange.is_create and exchange.status == 200 and value is not None and when(value):
            exchange.refuse(400, BusinessCode.INVALID_PARAMETER, message)

    return hook


def _rewrite_input(edit: Callable[[dict[str, Any]], bool]) -> Hook:
    """Let `edit` repair the request's `input` before the mock validates it; it returns whether it changed."""

    def hook(exchange: Exchange) -> None:
        value = exchange.input()
        if exchange.is_create and value is not None and edit(value):
            exchange.set_input(value)

    return hook


def _set_field(key: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def edit(target: dict[str, Any]) -> None:
        target[key] = value

    return edit


def _auth_problem(header: str | None) -> BusinessCode | None:
    """What the mock's own authentication (any token accepted) says of an Authorization value."""
    try:
        BearerAuth().authenticate(header)
    except KlingError as exc:
        return exc.code
    return None


# --- the breakages ---------------------------------------------------------------------------------------------


def _status_of(status: int) -> Callable[[Exchange, dict[str, Any]], None]:
    def edit(exchange: Exchange, answer: dict[str, Any]) -> None:
        exchange.status = status

    return edit


def _answer_field(key: str, value: Any) -> Callable[[Exchange, dict[str, Any]], None]:
    def edit(exchange: Exchange, answer: dict[str, Any]) -> None:
        answer[key] = value

    return edit


def _without_request_id(exchange: Exchange, answer: dict[str, Any]) -> None:
    del answer["request_id"]


def _hex_ids(answer: dict[str, Any]) -> None:
    answer["request_id"] = uuid.uuid4().hex
    if isinstance(answer.get("data"), dict) and "task_id" in answer["data"]:
        answer["data"]["task_id"] = uuid.uuid4().hex


def _seconds(data: dict[str, Any]) -> None:
    for key in ("created_at", "updated_at"):
        data[key] //= 1000


def _updated_before_created(data: dict[str, Any]) -> None:
    data["updated_at"] = data["created_at"] - 1000


def _plain_text_not_found(exchange: Exchange) -> None:
    answer = exchange.answer()
    if answer is not None and answer["code"] == BusinessCode.NOT_FOUND:
        exchange.response_headers = [(b"content-type", b"text/plain; charset=utf-8")]
        exchange.response_body = b"Not Found"


def _body_error_as_1201(exchange: Exchange, answer: dict[str, Any]) -> None:
    # Only the body's own problems (not JSON, not an object, too large), not a wrong Content-Type.
    if str(answer["message"]).startswith("body"):
        answer["code"] = BusinessCode.INVALID_PARAMETER


def _too_large_as_413(exchange: Exchange, answer: dict[str, Any]) -> None:
    if "larger than the limit" in str(answer["message"]):
        exchange.status = 413


def _inject_missing_auth(exchange: Exchange) -> None:
    if exchange.header("authorization") is None:
        exchange.set_header("authorization", f"Bearer {exchange.accepted_key}")


def _drop_malformed_auth(exchange: Exchange) -> None:
    if _auth_problem(exchange.header("authorization")) == BusinessCode.AUTH_MALFORMED:
        exchange.set_header("authorization", None)


def _accept_any_key(exchange: Exchange) -> None:
    header = exchange.header("authorization")
    if header is not None and _auth_problem(header) is None:
        exchange.set_header("authorization", f"Bearer {exchange.accepted_key}")


def _any_content_type_as_json(exchange: Exchange) -> None:
    if exchange.is_create and exchange.header("content-type") is not None:
        exchange.set_header("content-type", "application/json")


def _refuse_charset_suffix(exchange: Exchange) -> None:
    content_type = exchange.header("content-type") or ""
    if exchange.is_create and exchange.status == 200 and ";" in content_type:
        exchange.refuse(400, BusinessCode.INVALID_REQUEST, "Content-Type: must be exactly application/json")


def _truncate_text(value: dict[str, Any]) -> bool:
    text = value.get("text")
    if isinstance(text, str) and len(text) > 120:
        value["text"] = text[:120]
        return True
    return False


def _clamp_voice_speed(value: dict[str, Any]) -> bool:
    speed = value.get("voice_speed")
    if _is_number(speed) and not 0.8 <= speed <= 2.0:
        value["voice_speed"] = min(max(speed, 0.8), 2.0)
        return True
    return False


def _default_unknown_mode(value: dict[str, Any]) -> bool:
    if "mode" in value and value["mode"] not in _MODES:
        value["mode"] = "text2video"
        return True
    return False


def _invent_missing_video(value: dict[str, Any]) -> bool:
    if not value.get("video_id") and not value.get("video_url"):
        value["video_url"] = "https://example.com/videos/made-up.mp4"
        return True
    return False


def _fail_on_fast_voice(exchange: Exchange) -> None:
    value = exchange.input()
    speed = value.get("voice_speed") if value is not None else None
    if exchange.is_create and exchange.status == 200 and _is_number(speed) and speed > 1.9:
        exchange.refuse(500, BusinessCode.INTERNAL_ERROR, "internal server error")


def _fail_on_bad_voice_speed(exchange: Exchange) -> None:
    value = exchange.input()
    speed = value.get("voice_speed") if value is not None else None
    if exchange.is_create and exchange.status == 400 and speed is not None and not _is_number(speed):
        exchange.refuse(500, BusinessCode.INTERNAL_ERROR, "internal server error")


# --- section 3: following a task ------------------------------------------------------------------------------

_polls: dict[str, int] = {}


def _status_goes_backward(exchange: Exchange) -> None:
    """Every other poll of a finished task answers it as still processing."""
    answer = exchange.answer()
    if exchange.method != "GET" or exchange.path == CREATE_PATH or answer is None or answer["code"] != 0:
        return
    task = answer["data"]
    _polls[task["task_id"]] = count = _polls.get(task["task_id"], 0) + 1
    if task["task_status"] in ("succeed", "failed") and count % 2 == 0:
        task["task_status"] = "processing"
        task.pop("task_result", None)
        task.pop("task_status_msg", None)
        exchange.set_answer(answer)


def _page_size_ignored(exchange: Exchange) -> None:
    """The list serves one task more than `pageSize` asks for."""
    if exchange.method != "GET" or exchange.path != CREATE_PATH:
        return
    params = dict(part.split(b"=", 1) for part in exchange.query.split(b"&") if b"=" in part)
    if params.get(b"pageSize", b"").isdigit():
        params[b"pageSize"] = str(int(params[b"pageSize"]) + 1).encode()
        exchange.query = b"&".join(key + b"=" + value for key, value in params.items())


def _face_ends_before_it_starts(answer: dict[str, Any]) -> None:
    tasks = answer["data"] if isinstance(answer["data"], list) else [answer["data"]]
    for task in tasks:
        for face in (task.get("task_result") or {}).get("face_data", []):
            face["start_time"] = face["end_time"] + 100


def _succeeded_without_result(answer: dict[str, Any]) -> None:
    tasks = answer["data"] if isinstance(answer["data"], list) else [answer["data"]]
    for task in tasks:
        if task.get("task_status") == "succeed":
            task.pop("task_result", None)


def _list_oldest_first(answer: dict[str, Any]) -> None:
    if isinstance(answer["data"], list):
        answer["data"].reverse()


def _tasks_shared_by_all_callers(exchange: Exchange) -> None:
    """Reads are answered as if every caller were the first one: tasks leak across callers."""
    if exchange.method == "GET" and exchange.header("authorization"):
        exchange.set_header("authorization", f"Bearer {exchange.accepted_key}")


def _unknown_task_as_invalid_parameter(exchange: Exchange) -> None:
    answer = exchange.answer()
    if exchange.method == "GET" and answer is not None and answer["code"] == BusinessCode.NOT_FOUND:
        exchange.refuse(400, BusinessCode.INVALID_PARAMETER, "task_id: invalid")


# --- section 6: the lip-sync flow -------------------------------------------------------------------------------

_ADVANCED = "/v1/videos/advanced-lip-sync"
_LIP_SYNC = "/v1/videos/lip-sync"
_PREFIX = "/kling"
# Each session's faces, as identify-face answered them (at once, or in a succeeded task): session id -> faces.
_sessions: dict[str, list[dict[str, Any]]] = {}


def _api_path(path: str) -> str:
    """The path as the spec spells it: without the aggregators' `/kling` prefix."""
    return path[len(_PREFIX) :] if path.startswith(_PREFIX + "/") else path


def _is_advanced_create(exchange: Exchange) -> bool:
    return exchange.method == "POST" and _api_path(exchange.path) == _ADVANCED


def _first_choice(exchange: Exchange) -> dict[str, Any] | None:
    body = _loads(exchange.body)
    choices = body.get("face_choose") if isinstance(body, dict) else None
    first = choices[0] if isinstance(choices, list) and choices else None
    return first if isinstance(first, dict) else None


def _rewrite_choice(edit: Callable[[dict[str, Any], dict[str, Any]], bool]) -> Hook:
    """Let `edit(body, face_choose[0])` repair an advanced lip-sync create before the mock checks it."""

    def hook(exchange: Exchange) -> None:
        body = _loads(exchange.body)
        choice = _first_choice(exchange)
        if _is_advanced_create(exchange) and isinstance(body, dict) and choice is not None and edit(body, choice):
            body["face_choose"][0] = choice
            exchange.body = orjson.dumps(body)

    return hook


def _session_shared_by_all_callers(exchange: Exchange) -> None:
    """An advanced lip-sync create is answered as if every caller were the first: sessions leak across callers."""
    if _is_advanced_create(exchange) and exchange.header("authorization"):
        exchange.set_header("authorization", f"Bearer {exchange.accepted_key}")


def _stretch_short_clip(body: dict[str, Any], choice: dict[str, Any]) -> bool:
    start, end = choice.get("sound_start_time"), choice.get("sound_end_time")
    if _is_number(start) and _is_number(end) and 0 <= end - start < 2000:
        choice["sound_end_time"] = start + 2000
        return True
    return False


def _remember_faces(exchange: Exchange) -> None:
    """Note the faces of every session identify-face opens, from its answer or its succeeded task."""
    answer = exchange.answer()
    data = answer.get("data") if answer is not None and answer["code"] == 0 else None
    result = data.get("task_result") if isinstance(data, dict) else None
    for found in (data, result):
        if isinstance(found, dict) and isinstance(found.get("session_id"), str) and found.get("face_data"):
            _sessions[found["session_id"]] = found["face_data"]


def _swap_unknown_face(body: dict[str, Any], choice: dict[str, Any]) -> bool:
    faces = _sessions.get(str(body.get("session_id")), [])
    known = {face["face_id"] for face in faces}
    if not faces or choice.get("face_id") in known:
        return False
    # The face a client would mean: the first whose window takes a clip.
    choice["face_id"] = next((f for f in faces if f["end_time"] - f["start_time"] >= 2000), faces[0])["face_id"]
    return True


def _videos_of(answer: dict[str, Any]) -> list[dict[str, Any]]:
    tasks = answer["data"] if isinstance(answer.get("data"), list) else [answer.get("data")]
    found: list[dict[str, Any]] = []
    for task in tasks:
        if isinstance(task, dict):
            found += (task.get("task_result") or {}).get("videos") or []
    return found


def _duration_as_number(answer: dict[str, Any]) -> None:
    for video in _videos_of(answer):
        video["duration"] = float(video["duration"])


def _lip_sync_list_oldest_first(exchange: Exchange) -> None:
    answer = exchange.answer()
    listed = answer is not None and isinstance(answer.get("data"), list)
    if exchange.method == "GET" and _api_path(exchange.path) in (_ADVANCED, _LIP_SYNC) and answer and listed:
        answer["data"].reverse()
        exchange.set_answer(answer)


def _is_download(exchange: Exchange, kind: str = "") -> bool:
    """A GET of a file an answer points at (`/files/faces/...`, `/files/videos/...`), of `kind` if given."""
    return exchange.method == "GET" and _api_path(exchange.path).startswith(f"/files/{kind}")


def _video_download_404(exchange: Exchange) -> None:
    if _is_download(exchange, "videos/") and exchange.status == 200:
        exchange.refuse(404, BusinessCode.NOT_FOUND, "no such file")


def _download_as_octet_stream(exchange: Exchange) -> None:
    if _is_download(exchange) and exchange.status == 200:
        exchange.response_headers = _set(exchange.response_headers, "content-type", "application/octet-stream")


def _older_lip_sync_answers_faces(exchange: Exchange) -> None:
    """The older endpoint's tasks end as identify-face's do: faces, where the client waits for videos."""
    answer = exchange.answer()
    if exchange.method != "GET" or not _api_path(exchange.path).startswith(_LIP_SYNC) or answer is None:
        return
    tasks = answer["data"] if isinstance(answer.get("data"), list) else [answer.get("data")]
    for task in tasks:
        if isinstance(task, dict) and isinstance(task.get("task_result"), dict):
            face = {"face_id": "0", "face_image": "https://example.com/face.png", "start_time": 0, "end_time": 5000}
            task["task_result"] = {"session_id": task["task_id"], "face_data": [face]}
    exchange.set_answer(answer)


BREAKAGES: dict[str, Breakage] = {
    b.name: b
    for b in [
        # Section 1, success.
        Breakage(
            "message-not-succeed", "a success carries message SUCCEED", after=_on_success(_set_field("message", "OK"))
        ),
        Breakage("success-code-nonzero", "HTTP 200 carries code 0", after=_on_success(_set_field("code", 200))),
        Breakage(
            "request-id-constant",
            "request_id is new for every response",
            after=_on_success(_set_field("request_id", SEED_ID)),
        ),
        Breakage(
            "task-id-reused", "task_id is new for every created task", after=_on_created(_set_field("task_id", SEED_ID))
        ),
        Breakage("ids-hex32", "ids are 22 characters from A-Z a-z 0-9 _ -", after=_on_success(_hex_ids)),
        Breakage("timestamps-in-seconds", "created_at/updated_at are Unix milliseconds", after=_on_created(_seconds)),
        Breakage("updated-before-created", "updated_at >= created_at", after=_on_created(_updated_before_created)),
        # Section 1, headers.
        Breakage("auth-ignored", "a missing Authorization is 401/1001", before=_inject_missing_auth),
        Breakage("malformed-auth-as-1001", "a malformed Authorization is 401/1002", before=_drop_malformed_auth),
        Breakage("unknown-key-accepted", "a key the server does not accept is 401/1000", before=_accept_any_key),
        Breakage(
            "content-type-unchecked", "a Content-Type other than JSON is 400/1200", before=_any_content_type_as_json
        ),
        Breakage("charset-suffix-rejected", "a '; charset=utf-8' suffix is fine", after=_refuse_charset_suffix),
        # Section 1, body.
        Breakage(
            "task-id-required",
            "input.task_id is optional: the documented example omits it and must succeed",
            after=_refuse_created(lambda value: "task_id" not in value, "input.task_id: is required"),
        ),
        Breakage(
            "both-videos-rejected",
            "video_id and video_url together are accepted (the documented example sends both)",
            after=_refuse_created(
                lambda value: "video_id" in value and "video_url" in value,
                "input: video_id and video_url are mutually exclusive",
            ),
        ),
        Breakage(
            "voice-language-required",
            "voice_language may be omitted (default zh)",
            after=_refuse_created(
                lambda value: value.get("mode") == "text2video" and "voice_language" not in value,
                "input.voice_language: required when mode is text2video",
            ),
        ),
        Breakage(
            "unnamed-fields-rejected",
            "fields the contract does not name are accepted",
            after=_refuse_created(
                lambda value: bool(set(value) - _NAMED_INPUT_FIELDS), "input: unknown fields are not allowed"
            ),
        ),
        Breakage("text-over-120-accepted", "input.text is 1 to 120 characters", before=_rewrite_input(_truncate_text)),
        Breakage("voice-speed-unchecked", "input.voice_speed is 0.8 to 2.0", before=_rewrite_input(_clamp_voice_speed)),
        Breakage(
            "mode-unchecked", "input.mode is text2video or audio2video", before=_rewrite_input(_default_unknown_mode)
        ),
        Breakage(
            "video-unchecked", "one of video_id / video_url is required", before=_rewrite_input(_invent_missing_video)
        ),
        # Section 2, errors.
        Breakage("error-sent-with-200", "an error is never sent with HTTP 200", after=_on_error(_status_of(200))),
        Breakage("1201-sent-with-422", "1201 is sent with HTTP 400", after=_on_error(_status_of(422), [1201])),
        Breakage(
            "code-not-in-table",
            "every business code is in Kling's table",
            after=_on_error(_answer_field("code", 40001), [1201]),
        ),
        Breakage(
            "error-message-empty",
            "an error's message names what was wrong",
            after=_on_error(_answer_field("message", "")),
        ),
        Breakage(
            "field-path-not-named",
            "a bad field's message names its path",
            after=_on_error(_answer_field("message", "invalid parameter"), [1201]),
        ),
        Breakage("error-without-request-id", "every error carries a request_id", after=_on_error(_without_request_id)),
        Breakage(
            "body-not-json-as-1201",
            "a body that is not a JSON object is 400/1200",
            after=_on_error(_body_error_as_1201, [1200]),
        ),
        Breakage(
            "body-too-large-as-413", "a body that is too large is 400/1200", after=_on_error(_too_large_as_413, [1200])
        ),
        Breakage("wrong-method-405", "a wrong method is 404/1202, not 405", after=_on_error(_status_of(405), [1202])),
        Breakage(
            "unknown-path-as-1202", "an unknown path is 404/1203", after=_on_error(_answer_field("code", 1202), [1203])
        ),
        Breakage(
            "unknown-path-plain-text",
            "every error, 404 included, is Kling's JSON envelope",
            after=_plain_text_not_found,
        ),
        Breakage(
            "server-error-on-bad-voice-speed",
            "no input, however malformed, may produce a 5xx",
            after=_fail_on_bad_voice_speed,
        ),
        Breakage("server-error-on-fast-voice", "no valid input may produce a 5xx", after=_fail_on_fast_voice),
        # Section 3, following a task.
        Breakage("status-goes-backward", "task_status only moves forward", after=_status_goes_backward),
        Breakage("page-size-ignored", "the list honours pageSize", before=_page_size_ignored),
        Breakage(
            "succeeded-without-result",
            "a succeeded task carries task_result",
            after=_on_success(_succeeded_without_result),
        ),
        Breakage("list-oldest-first", "the list is newest first", after=_on_success(_list_oldest_first)),
        Breakage("tasks-shared-by-all-callers", "a task belongs to its creator", before=_tasks_shared_by_all_callers),
        Breakage("unknown-task-as-1201", "an unknown task is 404/1203", after=_unknown_task_as_invalid_parameter),
        Breakage(
            "face-ends-before-it-starts",
            "start_time <= end_time for every face",
            after=_on_success(_face_ends_before_it_starts),
        ),
        # Section 6, the lip-sync flow.
        Breakage(
            "session-shared-by-all-callers",
            "a session belongs to the caller that opened it",
            before=_session_shared_by_all_callers,
        ),
        Breakage(
            "clip-under-2s-accepted", "the clip lasts at least 2000 ms", before=_rewrite_choice(_stretch_short_clip)
        ),
        Breakage(
            "face-not-in-session-accepted",
            "face_id is a face of the session",
            before=_rewrite_choice(_swap_unknown_face),
            after=_remember_faces,
        ),
        Breakage(
            "duration-a-number",
            "a video's duration is a string of seconds",
            after=_on_success(_duration_as_number),
        ),
        Breakage(
            "lip-sync-list-oldest-first", "the lip-sync lists are newest first", after=_lip_sync_list_oldest_first
        ),
        Breakage("video-download-404", "a result video's url downloads", after=_video_download_404),
        Breakage(
            "download-wrong-content-type",
            "a file downloads with the content type its extension says",
            after=_download_as_octet_stream,
        ),
        Breakage(
            "older-lip-sync-answers-faces",
            "the older lip-sync endpoint's task ends with videos",
            after=_older_lip_sync_answers_faces,
        ),
    ]
}


def serve(breakage: Breakage, keys: tuple[str, ...], port: int, log_level: str) -> None:
    """Serve the mock, broken by `breakage`, on 127.0.0.1; announce the address as `kling-mock serve` does."""
    configure_logging(log_level)
    # Each poll advances a task at once, so that a short contract run sees tasks finish.
    settings = Settings(keys=keys, tick_ms=0)
    app = BreakOneRule(create_app(settings), breakage, accepted_key=keys[0] if keys else "any-token")
    run_app(app, HOST, port, f"broken: {breakage.name}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tests.contract_tests.broken_servers", description=__doc__.split("\n")[0]
    )
    commands = parser.add_subparsers(dest="command", required=True)
    serve_parser = commands.add_parser("serve", help="serve the mock with one rule broken")
    serve_parser.add_argument("--breakage", required=True, choices=sorted(BREAKAGES))
    serve_parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1, 0 for any free one")
    serve_parser.add_argument(
        "--keys", default=os.environ.get(KEYS_ENV, ""), help=f"accepted keys (default: ${KEYS_ENV})"
    )
    serve_parser.add_argument("--log-level", default="warning", choices=["debug", "info", "warning", "error"])
    commands.add_parser("list", help="list the breakages and the rule each breaks")
    args = parser.parse_args(argv)
    if args.command == "list":
        for breakage in BREAKAGES.values():
            print(f"{breakage.name:28} {breakage.rule}")
        return 0
    keys = tuple(key.strip() for key in args.keys.split(",") if key.strip())
    serve(BREAKAGES[args.breakage], keys, args.port, args.log_level)
    return 0


if __name__ == "__main__":
    sys.exit(main())
