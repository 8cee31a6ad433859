"""`kling-mock proxy`: a validation proxy between a client and a real Kling backend.

Each request goes to the upstream as it came (method, path, query, headers but hop-by-hop ones and
Host, body), and the upstream's answer goes back to the client unchanged (status, headers but
hop-by-hop ones, the body's bytes as sent). With `--admin`, each exchange is journaled like the
mock's requests and judged on both sides: the request by the mock's `Judge` (what the client did
wrong), the answer by `journal.ResponseJudge` (what the upstream did wrong).

A body is read up to the spec's `x-kling-max-body-bytes` to be judged; a larger one still goes to
the upstream, the rest streamed on unread (the client's request is the upstream's to refuse; its
verdict says `body-too-large`). When no answer comes, the proxy answers itself, in Kling's
envelope: 504/5002 when the upstream did not answer within `--timeout`, 503/5001 when it could not
be reached, broke the connection, or answered more than the proxy passes on.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import AsyncIterator, Iterable
from email.utils import formatdate
from http.cookiejar import Cookie, CookieJar
from pathlib import Path
from typing import Any

import httpx
import orjson
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from ..admin import JournalAdmin, http_error
from ..core import rules
from ..core.errors import BusinessCode, Finding, KlingError
from ..core.ids import IdGenerator
from ..core.rules import Rule
from ..core.urls import shown_url
from ..http.answers import AnswerResponse, error
from ..http.refusals import method_not_allowed, not_found
from ..http.request_log import RequestLog, RequestLogMiddleware, flushing_lifespan
from ..http.routes import ADMIN_PREFIX, KIT_PATHS, KlingRoutes
from ..http.serving import configure_logging, run_app
from ..journal import Journal, Judge, ResponseJudge, UpstreamAnswer, read_headers
from ..spec import DIALECTS, Operation, Spec, load_spec
from ..validation import BearerAuth, natural_number
from .settings import ProxySettings

logger = logging.getLogger("kling_mock")

# An answer larger than this is not passed on (no answer of this API comes near it): 503/5001.
MAX_ANSWER_BYTES = 32 * 1024 * 1024
_READ_PIECE = 4096
# RFC 9110 7.6.1: headers for one connection, not for the message; with Host, never forwarded.
_HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "proxy-connection",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
    }
)
# What only the upstream can tell about a request: the verdict takes it from its answer.
_AUTH_FROM_ANSWER: dict[int, Rule] = {
    BusinessCode.AUTH_FAILED: rules.AUTH_REJECTED,
    BusinessCode.TOKEN_NOT_YET_VALID: rules.AUTH_NOT_YET_VALID,
    BusinessCode.TOKEN_EXPIRED: rules.AUTH_EXPIRED,
}
_DECODABLE = frozenset({"gzip", "deflate", "identity"})


class _NoCookies(CookieJar):
    """A cookie jar that keeps nothing."""

    def set_cookie(self, cookie: Cookie) -> None:
        pass

    def extract_cookies(self, response: Any, request: Any) -> None:
        pass


def create_proxy_app(settings: ProxySettings) -> Starlette:
    problem = settings.problem()
    if problem is not None:
        raise ValueError(problem)
    loaded: dict[Path, Spec] = {}
    views = {
        prefix: loaded.get(path) or loaded.setdefault(path, load_spec(path))
        for prefix, path in settings.views().items()
    }
    # With the dialects a body-dispatched operation answers as: the judges need their schemas.
    specs = _with_answered_as(list(loaded.values()))
    journal = Journal(settings.journal_size) if settings.admin and settings.journal_size else None
    judge = Judge(*specs, responses=ResponseJudge(*specs))
    # No cookie jar: each client's cookies are its own, sent as its headers; a shared jar would keep every
    # upstream `Set-Cookie` of every client, without bound, and send them on for the others.
    client = httpx.AsyncClient(timeout=settings.timeout, follow_redirects=False, cookies=_NoCookies())
    forwarder = _Forwarder(views, settings.upstream.rstrip("/"), client, settings.timeout, specs)
    access_sink = sys.stdout.buffer
    admin_app: ASGIApp | None = None
    if settings.admin:
        if journal is None:
            raise ValueError("the admin API needs the journal: give journal_size > 0")
        admin = JournalAdmin(settings.admin_token, journal, judge, upstream=shown_url(settings.upstream))
        admin_app = Starlette(routes=admin.routes(), exception_handlers={HTTPException: http_error})
    request_log = Middleware(
        RequestLogMiddleware,
        log=RequestLog(IdGenerator(), access_sink, journal, judge, unjournaled=KIT_PATHS),
    )
    dispatch = Middleware(_Dispatch, admin=admin_app, forwarder=forwarder)
    return Starlette(
        middleware=[request_log, dispatch],
        exception_handlers={Exception: forwarder.on_unexpected},
        lifespan=flushing_lifespan(access_sink, client.aclose),
    )


class _Dispatch:
    """Every request, whatever its path or method: the admin API's under /__admin (with `--admin`), the
    rest the upstream's. The app it wraps only runs the lifespan.

    Not routes: a catch-all route would also take an admin path's wrong method, which the admin API
    answers itself (405), and none takes a target that is not a path (`OPTIONS *`).
    """

    def __init__(self, app: ASGIApp, admin: ASGIApp | None, forwarder: _Forwarder) -> None:
        self.app = app
        self.admin = admin
        self.forwarder = forwarder

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self.app(scope, receive, send)
            return
        if scope["type"] != "http":  # a WebSocket: Kling's API has none, and the proxy passes none on
            await send({"type": "websocket.close"})
            return
        path = scope["path"]
        if self.admin is not None and (path == ADMIN_PREFIX or path.startswith(f"{ADMIN_PREFIX}/")):
            await self.admin(scope, receive, send)
            return
        response = await self.forwarder.forward(Request(scope, receive))
        await response(scope, receive, send)


class _NoAnswer(Exception):
    """The upstream gave no answer the proxy can pass on: the proxy answers with `code` itself."""

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


class _Forwarder:
    def __init__(
        self,
        views: dict[str, Spec],
        upstream: str,
        client: httpx.AsyncClient,
        timeout: float,
        specs: Iterable[Spec] = (),
    ) -> None:
        """`specs`: every spec loaded, where a body-dispatched operation finds the one it answers as."""
        self.spec = next(iter(views.values()))
        self.operations = {op.operation_id: op for spec in (*views.values(), *specs) for op in spec.operations}
        self.upstream = httpx.URL(upstream)
        self.client = client
        self.timeout = timeout
        self.auth = BearerAuth()
        self.routes = KlingRoutes({prefix: spec.operations for prefix, spec in views.items()})
        # A request to no operation with a body (a GET, an unknown path) is held up to the largest body the spec allows.
        self.default_limit = max(
            (operation.max_body_bytes for spec in views.values() for operation in spec.operations), default=1024 * 1024
        )

    async def forward(self, request: Request) -> Response:
        state = request.state
        method = request.method
        operation, refusal = self._route(method, request.scope["path"])
        state.operation = operation
        if operation is not None and operation.requires_auth:
            try:
                state.owner = self.auth.authenticate(request.headers.get("authorization"))
            except KlingError as exc:
                refusal = exc.finding
        state.refusal = refusal
        limit = operation.max_body_bytes if operation is not None and operation.body_validator else self.default_limit
        try:
            answer, raw = await self._exchange(request, limit)
        except _NoAnswer as exc:
            logger.warning("request %s: no answer passed on: %s", state.request_id, exc.reason)
            state.upstream = UpstreamAnswer(status=None, error=exc.reason)
            return self.own_answer(request, exc.code, f"kling-mock proxy: {exc.reason}")
        if operation is not None and operation.by_body and state.body_bytes == len(state.body):
            # Journaled as the operation the body speaks to, as the mock journals it.
            operation = state.operation = self._answered_as(operation, state.body)
        return self._pass_on(request, operation, answer, raw)

    def _answered_as(self, operation: Operation, raw: bytes) -> Operation:
        """The operation a body-dispatched one answers `raw` as; itself when the body is not JSON."""
        try:
            body = orjson.loads(raw)
        except orjson.JSONDecodeError:
            return operation
        return self.operations.get(operation.answered_as(body), operation)

    def _route(self, method: str, path: str) -> tuple[Operation | None, Finding | None]:
        """The operation a request reaches, or the refusal the mock would answer it with (404/1203, 404/1202)."""
        found = self.routes.match(path)
        if found is None:
            return None, not_found(method, path).finding
        routes = found[0]
        operation = routes.operation(method)
        if operation is None:
            return None, method_not_allowed(method, path, routes.allow).finding
        return operation, None

    async def _exchange(self, request: Request, limit: int) -> tuple[httpx.Response, bytes]:
        """Send the request on; the upstream's answer, its body read whole, or `_NoAnswer`."""
        state = request.state
        # httpx sets Host for the upstream, and the body's framing where the client's (hop-by-hop) was chunked.
        headers = [(name, value) for name, value in _end_to_end(request.scope["headers"]) if name.lower() != b"host"]
        try:
            head, rest = await _read_head(request, limit)
            state.body = head
            state.body_bytes = len(head)
            content = head if rest is None else _streamed(head, rest, state)
            outgoing = httpx.Request(request.method, self._url(request.scope), headers=headers, content=content)
            answer = await self.client.send(outgoing, stream=True)
            try:
                raw = await _read_capped(answer)
            finally:
                await answer.aclose()
        except httpx.InvalidURL:  # a target no URL can hold (`OPTIONS *`)
            raise _NoAnswer(BusinessCode.INVALID_REQUEST, "the request's target cannot be forwarded") from None
        except httpx.TimeoutException:
            raise _NoAnswer(
                BusinessCode.INTERNAL_TIMEOUT, f"the upstream did not answer within {self.timeout:g} s"
            ) from None
        except ClientDisconnect:
            raise _NoAnswer(
                BusinessCode.SERVICE_UNAVAILABLE, "the client went away before sending all of its body"
            ) from None
        except httpx.HTTPError as exc:
            raise _NoAnswer(
                BusinessCode.SERVICE_UNAVAILABLE, f"the upstream could not be reached ({_reason(exc)})"
            ) from None
        return answer, raw

    def _url(self, scope: Scope) -> httpx.URL:
        """The upstream's URL for a request: its path as sent (percent-encoding kept) after the upstream's prefix."""
        raw_path = scope.get("raw_path") or scope["path"].encode()
        query = b"?" + scope["query_string"] if scope["query_string"] else b""
        return self.upstream.copy_with(raw_path=self.upstream.raw_path.rstrip(b"/") + raw_path + query)

    def _pass_on(self, request: Request, operation: Operation | None, answer: httpx.Response, raw: bytes) -> Response:
        """The upstream's answer, as it came, noting in the request's state what the journal keeps of it."""
        state = request.state
        body, undecoded = _decoded(raw, answer.headers)
        code, message, request_id = _envelope_fields(body if undecoded is None else b"")
        state.business_code, state.message = code, message
        if request_id is not None:
            state.request_id = request_id  # what the client got, and what the upstream's logs know it by
        if state.refusal is None and code is not None and self.spec.status_by_code.get(code) == answer.status_code:
            state.refusal = _refusal_from_answer(operation, code, message)
        state.upstream = UpstreamAnswer(
            status=answer.status_code,
            headers=read_headers(answer.headers.raw)[1],
            body=body,
            body_bytes=len(body),
            undecoded=undecoded,
        )
        passed = Response(content=raw, status_code=answer.status_code)
        passed.raw_headers = _end_to_end(answer.headers.raw)
        return passed

    def own_answer(self, request: Request, code: int, message: str) -> Response:
        """An answer of the proxy's own, in Kling's envelope, with the status the spec's table gives `code`."""
        request.state.business_code = code
        request.state.message = message
        # uvicorn adds no Date here (the upstream's is passed on): an answer of the proxy's own carries its own.
        date = {"Date": formatdate(usegmt=True)}
        return AnswerResponse(error(self.spec.status_by_code[code], code, message, request.state.request_id, date))

    async def on_unexpected(self, request: Request, exc: Exception) -> Response:
        logger.exception("unexpected error while forwarding request %s", request.state.request_id)
        return self.own_answer(request, BusinessCode.INTERNAL_ERROR, "kling-mock proxy: internal error")


async def _read_head(request: Request, limit: int) -> tuple[bytes, AsyncIterator[bytes] | None]:
    """The body when it is at most `limit` bytes; else what was read of it, and the rest to stream on unread.

    A declared Content-Length over the limit is streamed on from its first byte: none of it is held.
    """
    stream = request.stream()
    declared = natural_number(request.headers.get("content-length"))
    if declared is not None and declared > limit:
        return b"", stream
    chunks: list[bytes] = []
    size = 0
    async for chunk in stream:
        chunks.append(chunk)
        size += len(chunk)
        if size > limit:
            return b"".join(chunks), stream
    return b"".join(chunks), None


async def _streamed(head: bytes, rest: AsyncIterator[bytes], state: Any) -> AsyncIterator[bytes]:
    """`head`, then the rest of the body as it arrives, counting it in `state.body_bytes` for the journal."""
    yield head
    async for chunk in rest:
        state.body_bytes += len(chunk)
        yield chunk


async def _read_capped(answer: httpx.Response) -> bytes:
    """The answer's body as sent (its Content-Encoding kept), refused past `MAX_ANSWER_BYTES`."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in answer.aiter_raw():
        size += len(chunk)
        if size > MAX_ANSWER_BYTES:
            raise _NoAnswer(
                BusinessCode.SERVICE_UNAVAILABLE, f"the upstream's answer is larger than {MAX_ANSWER_BYTES} bytes"
            )
        chunks.append(chunk)
    return b"".join(chunks)


def _end_to_end(raw: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    """Headers without the hop-by-hop ones, those the Connection header names among them."""
    named = {
        token.strip().lower()
        for name, value in raw
        if name.lower() == b"connection"
        for token in value.decode("latin-1").split(",")
    }
    return [(name, value) for name, value in raw if name.decode("latin-1").lower() not in _HOP_BY_HOP | named]


def _decoded(raw: bytes, headers: httpx.Headers) -> tuple[bytes, str | None]:
    """The body with its Content-Encoding undone, and None; or `raw` and why it cannot be judged.

    Undone a piece at a time, so that a small compressed body cannot grow past `MAX_ANSWER_BYTES`.
    A corrupt encoding leaves `raw`, which then fails as JSON: that is the upstream's fault.
    """
    encodings = [token.strip().lower() for token in headers.get("content-encoding", "").split(",") if token.strip()]
    unknown = [encoding for encoding in encodings if encoding not in _DECODABLE]
    if unknown:
        return raw, f"Content-Encoding {', '.join(unknown)}: the proxy cannot undo it"
    if all(encoding == "identity" for encoding in encodings):
        return raw, None
    pieces = (raw[start : start + _READ_PIECE] for start in range(0, len(raw), _READ_PIECE))
    decoding = httpx.Response(200, headers={"content-encoding": ", ".join(encodings)}, content=pieces)
    decoded: list[bytes] = []
    size = 0
    try:
        for piece in decoding.iter_bytes():
            size += len(piece)
            if size > MAX_ANSWER_BYTES:
                return raw, f"larger than {MAX_ANSWER_BYTES} bytes once decoded"
            decoded.append(piece)
    except httpx.DecodingError:
        return raw, None
    return b"".join(decoded), None


def _envelope_fields(body: bytes) -> tuple[int | None, str | None, str | None]:
    """The answer's business code, message and request_id, when its body is Kling's envelope (else None each)."""
    try:
        parsed = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None, None, None
    if not isinstance(parsed, dict):
        return None, None, None
    code, message, request_id = parsed.get("code"), parsed.get("message"), parsed.get("request_id")
    return (
        code if isinstance(code, int) and not isinstance(code, bool) else None,
        message if isinstance(message, str) else None,
        # Only an id that looks like one names the exchange: it goes into the access log as is.
        request_id if isinstance(request_id, str) and 0 < len(request_id) <= 64 and request_id.isprintable() else None,
    )


def _refusal_from_answer(operation: Operation | None, code: int, message: str | None) -> Finding | None:
    """What only the upstream could tell about the request: a key it refuses, a task it does not have."""
    said = f"the upstream answered {code}" + (f": {message}" if message else "")
    rule = _AUTH_FROM_ANSWER.get(code)
    if rule is not None:
        return Finding(rule.name, "header.Authorization", f"Authorization: {said}")
    locations = operation.parameter_locations if operation is not None else {}
    task = next((name for name, where in locations.items() if where == "path"), None)
    if code == BusinessCode.NOT_FOUND and task is not None:
        return Finding(rules.UNKNOWN_TASK.name, f"path.{task}", f"path.{task}: {said}")
    return None


def _reason(exc: httpx.HTTPError) -> str:
    """A short reason for a failed exchange. A connection's own words only: others may quote the request."""
    said = str(exc) if isinstance(exc, httpx.NetworkError | httpx.RemoteProtocolError) else ""
    return f"{type(exc).__name__}: {said[:200]}" if said else type(exc).__name__


def serve_proxy(settings: ProxySettings) -> None:
    configure_logging(settings.log_level)
    # httpx logs each request's URL at INFO, query included, where a client may have put its token.
    for name in ("httpx", "httpcore"):
        logging.getLogger(name).setLevel(logging.WARNING)
    admin = ", admin API at /__admin" if settings.admin else ""
    note = f"proxying to {shown_url(settings.upstream)}{admin}"
    # The upstream's Date header is passed on: uvicorn must not add a second one.
    run_app(create_proxy_app(settings), settings.host, settings.port, note, date_header=False)


def _with_answered_as(specs: list[Spec]) -> list[Spec]:
    """`specs`, and the dialects' a body-dispatched operation of theirs answers as (the judge needs their schemas)."""
    held = {operation.operation_id for spec in specs for operation in spec.operations}
    wanted = {answer for spec in specs for op in spec.operations for _, answer in op.by_body} - held
    return specs + [load_spec(path) for path, operation_id in DIALECTS.values() if operation_id in wanted]
