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
from typing import Any
from urllib.parse import parse_qsl

from starlette.requests import ClientDisconnect
from starlette.types import ASGIApp, Receive, Scope, Send

from ..core.errors import KlingError, StoreUnavailable
from ..domain import HANDLERS, Call, TaskService
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


class KlingApp:
    """The mock's ASGI app: Kling's routes here, everything else to `fallback`."""

    def __init__(
        self,
        fallback: ASGIApp,
        spec: Spec,
        auth: BearerAuth,
        scenarios: ScenarioBook,
        service: TaskService,
        log: RequestLog,
    ) -> None:
        self.fallback = fallback
        self.spec = spec
        self.auth = auth
        self.scenarios = scenarios
        self.service = service
        self.log = log
        self.routes = KlingRoutes(spec.operations)
        self._status_by_code = spec.status_by_code

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            found = self.routes.match(scope["path"])
            if found is not None:
                await self._serve(scope, receive, send, *found)
                return
        await self.fallback(scope, receive, send)

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
                answer = await self._answer(operation, scope, receive, path_params, state)
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
        self, operation: Operation, scope: Scope, receive: Receive, path_params: dict[str, str], state: dict[str, Any]
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
                validate_parameters(self.spec, operation, path_params, _query(scope["query_string"]))
                if operation.parameter_types
                else {}
            )
            body = None
            if operation.body_validator is not None:
                check_media_type(_text(headers, b"content-type"), operation.media_types)
                if oversized is not None:
                    raise oversized
                body = parse_json(raw, operation.max_body_depth)
                validate_body(self.spec, operation.body_validator, body)
            fate = effects.task if effects is not None else None
            data = await HANDLERS[operation.operation_id](
                self.service, Call(state["request_id"], owner, parameters, body, fate)
            )
            state["business_code"] = 0
            state["message"] = "SUCCEED"
            answer = success(state["request_id"], data)
        except KlingError as exc:
            answer = self.refuse(state, exc)
        if effects is not None:
            answer.drop = effects.drop_connection
            answer.slow_seconds = effects.slow_body_ms / 1000
        return answer


def _text(headers: dict[bytes, bytes], name: bytes) -> str | None:
    """A header as text (latin-1, as Starlette decodes them), or None when absent."""
    value = headers.get(name)
    return None if value is None else value.decode("latin-1")


def _query(raw: bytes) -> dict[str, str]:
    """The query's parameters, the last of a repeated name winning, as Starlette's `QueryParams.get` reads them."""
    return dict(parse_qsl(raw.decode("latin-1"), keep_blank_values=True)) if raw else {}
