"""Kling's operations answered as plain ASGI: the request hot path.

Starlette's middleware stack, router and `Request`/`Response` objects cost more than the mock's own
work on a request, so the spec's paths are served here: matched by `KlingRoutes`, headers read once
from `scope["headers"]` (ASGI names are lower-case bytes already), the body straight from `receive`,
the answer sent as two messages. Whatever else arrives (the admin API, `/healthz`, `/openapi.yaml`,
unknown paths, the lifespan) goes on to the Starlette app, `fallback`. Both record requests through
the same `RequestLog`, and refuse in the same envelope (`KlingApp.refuse`).
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import parse_qsl

from starlette.requests import ClientDisconnect
from starlette.types import ASGIApp, Receive, Scope, Send

from ..core import rules
from ..core.errors import BusinessCode, KlingError, StoreUnavailable
from ..domain import HANDLERS, Call, Links, TaskService
from ..http.answers import Answer, error, send_answer, success
from ..http.bodies import read_body
from ..http.refusals import internal_error, method_not_allowed, unavailable
from ..http.request_log import RequestLog
from ..http.routes import KlingRoutes, PathRoutes
from ..scenarios import SCENARIO_HEADER, ScenarioBook
from ..spec import Operation, Spec
from ..validation import BearerAuth, check_media_type, natural_number, parse_json, validate_body, validate_parameters

logger = logging.getLogger("kling_mock")

_SCENARIO = SCENARIO_HEADER.encode()
# A body not parsed yet (None is a body: JSON's `null`).
_UNPARSED = object()
# A Host header that may go into a URL as it is: a name or an address, and a port (anything else is not used).
_HOST = re.compile(r"(?:[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?|\[[0-9A-Fa-f:.]{2,45}\])(?::[0-9]{1,5})?")


class KlingApp:
    """The mock's ASGI app: Kling's routes here, everything else to `fallback`.

    `views` are the specs it answers by, one per path prefix; `specs`, every spec loaded (a body-dispatched operation
    answers as another's); `public_url`, where clients download results from when not from the address they reached
    the mock by.
    """

    def __init__(
        self,
        fallback: ASGIApp,
        views: Mapping[str, Spec],
        specs: Iterable[Spec],
        auth: BearerAuth,
        scenarios: ScenarioBook,
        service: TaskService,
        log: RequestLog,
        public_url: str | None = None,
    ) -> None:
        self.fallback = fallback
        self.auth = auth
        self.scenarios = scenarios
        self.service = service
        self.log = log
        self.public_url = public_url.rstrip("/") if public_url else None
        self.routes = KlingRoutes({prefix: spec.operations for prefix, spec in views.items()})
        # Every operation of every view, by id: what a body-dispatched operation answers as.
        self.operations = {op.operation_id: op for spec in specs for op in spec.operations}
        self._status_by_code = next(iter(views.values())).status_by_code

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            path = scope["path"]
            found = self.routes.match(path)
            if found is not None:
                await self._serve(scope, receive, send, *found)
                return
            spelled = self.routes.near_miss(path)
            if spelled is not None:
                await self._misspelled(scope, send, spelled)
                return
        await self.fallback(scope, receive, send)

    def links(self, scope: Scope, prefix: str) -> Links:
        """The URLs of results for the client of `scope`: at the address it reached the mock by (or the public one)."""
        if self.public_url is not None:
            return Links(self.public_url + prefix)
        return Links(f"{scope.get('scheme', 'http')}://{_host(scope)}{prefix}")

    async def _misspelled(self, scope: Scope, send: Send, spelled: str) -> None:
        """A path that misses Kling's only by case or a trailing slash: 404/1203, naming the path that exists."""
        state, arrived, started = self.log.begin()
        method, path = scope["method"], scope["path"]
        message = f"{method} {path}: no such resource; Kling's path is {spelled} (lower case, no trailing slash)"
        answer = self.refuse(state, KlingError(BusinessCode.NOT_FOUND, message, rule=rules.PATH_SPELLING, path="path"))
        try:
            await send_answer(answer, send)
        finally:
            self.log.record(scope, state, answer.status, arrived, started)

    def refuse(self, state: dict[str, Any], exc: KlingError) -> Answer:
        """The envelope of a refusal, noted in the request's `state` for its record."""
        state["business_code"] = exc.code
        state["message"] = exc.message
        state["refusal"] = exc.finding
        return error(self._status_by_code[exc.code], exc.code, exc.message, state["request_id"], exc.headers)

    async def _serve(
        self, scope: Scope, receive: Receive, send: Send, routes: PathRoutes, path_params: dict[str, str]
    ) -> None:
        state, arrived, started = self.log.begin()
        status = 500
        try:
            method = scope["method"]
            operation = routes.operation(method)
            try:
                if operation is None:
                    raise method_not_allowed(method, scope["path"], routes.allow)
                answer = await self._answer(operation, scope, receive, path_params, state, routes.prefix)
            except KlingError as exc:
                answer = self.refuse(state, exc)
            except StoreUnavailable as exc:
                answer = self.refuse(state, unavailable(exc))
            except ClientDisconnect:
                return  # nobody to answer
            except Exception:
                logger.exception("unexpected error while answering request %s", state["request_id"])
                answer = self.refuse(state, internal_error())
            status = answer.status
            if answer.drop:
                state["dropped"] = True
            await send_answer(answer, send)
        finally:
            self.log.record(scope, state, status, arrived, started)

    async def _answer(
        self,
        operation: Operation,
        scope: Scope,
        receive: Receive,
        path_params: dict[str, str],
        state: dict[str, Any],
        prefix: str,
    ) -> Answer:
        """Checks in the contract's order (auth, Content-Type, size, JSON, schema), scenarios after auth.

        Notes in `state` what the record shows: the operation, the body, the caller, the scenarios, the outcome.
        """
        state["operation"] = operation
        # First occurrence wins, as Starlette's `Headers.get` reads them.
        headers: dict[bytes, bytes] = dict(reversed(scope["headers"]))
        effects = None
        try:
            raw = b""
            oversized = None
            if operation.body_validator is not None:
                declared = natural_number(_text(headers, b"content-length"))
                # Read before the checks, so that the journal shows the body of a refused request too.
                try:
                    raw = state["body"] = await read_body(receive, operation.max_body_bytes, declared)
                except KlingError as exc:
                    oversized = exc
                    # Refused before all of it arrived: the journal can only tell it was over the limit.
                    state["body_bytes"] = declared or operation.max_body_bytes + 1
            # A body-dispatched operation answers as the one its body speaks: scenarios naming that one apply.
            parsed: Any = _UNPARSED
            if operation.by_body and oversized is None:
                try:
                    parsed = parse_json(raw, operation.max_body_depth)
                except KlingError:
                    pass  # refused below, in the contract's order
                else:
                    operation = state["operation"] = self.operations[operation.answered_as(parsed)]
            owner = state["owner"] = (
                self.auth.authenticate(_text(headers, b"authorization")) if operation.requires_auth else ""
            )
            effects = await self.scenarios.effects(
                operation, owner, _text(headers, _SCENARIO), _text(headers, b"prefer")
            )
            if effects is not None:
                state["scenarios"] = effects.names
                if effects.delay_seconds:
                    await asyncio.sleep(effects.delay_seconds)
                if effects.error is not None:
                    raise effects.error
            parameters = (
                validate_parameters(operation, path_params, _query(scope["query_string"]))
                if operation.parameter_types
                else {}
            )
            body = None
            if operation.body_validator is not None:
                check_media_type(_text(headers, b"content-type"), operation.media_types)
                if oversized is not None:
                    raise oversized
                body = parse_json(raw, operation.max_body_depth) if parsed is _UNPARSED else parsed
                if operation.by_body:
                    operation = state["operation"] = self.operations[operation.answered_as(body)]
                assert operation.body_validator is not None
                validate_body(operation.document, operation.body_validator, body, operation.elsewhere)
            fate = effects.task if effects is not None else None
            call = Call(state["request_id"], owner, parameters, body, self.links(scope, prefix), fate)
            data = await HANDLERS[operation.operation_id](self.service, call)
            state["business_code"] = 0
            state["message"] = "SUCCEED"
            answer = success(state["request_id"], data)
        except KlingError as exc:
            answer = self.refuse(state, exc)
        if effects is not None:
            answer.drop = effects.drop_connection
            answer.slow_seconds = effects.slow_body_ms / 1000
        return answer


def _host(scope: Scope) -> str:
    """The host and port the client reached the mock by: its Host header when it is one, else the socket's."""
    for name, value in scope["headers"]:
        if name == b"host":
            host: str = value.decode("latin-1")
            if _HOST.fullmatch(host):
                return host
            break
    server = scope.get("server") or ("127.0.0.1", 80)
    address = f"[{server[0]}]" if ":" in str(server[0]) else str(server[0])
    return f"{address}:{server[1]}"


def _text(headers: dict[bytes, bytes], name: bytes) -> str | None:
    """A header as text (latin-1, as Starlette decodes them), or None when absent."""
    value = headers.get(name)
    return None if value is None else value.decode("latin-1")


def _query(raw: bytes) -> dict[str, str]:
    """The query's parameters, the last of a repeated name winning, as Starlette's `QueryParams.get` reads them."""
    return dict(parse_qsl(raw.decode("latin-1"), keep_blank_values=True)) if raw else {}
