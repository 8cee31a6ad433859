"""The Starlette application: routes built from the spec, errors in Kling's envelope."""

from __future__ import annotations

import asyncio
import functools
import logging
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from .admin import PREFIX as ADMIN_PREFIX
from .admin import Admin, http_error
from .auth import BearerAuth
from .callbacks import CallbackSender
from .errors import BusinessCode, KlingError
from .handlers import HANDLERS, Call
from .ids import IdGenerator
from .journal import DEFAULT_JOURNAL_SIZE
from .lifecycle import Lifecycle
from .request_body import check_media_type, natural_number, parse_json, read_bounded
from .request_log import RequestLogMiddleware, flushing_lifespan
from .responses import DroppedResponse, JSONResponse, SlowBodyResponse, error
from .routing import route_by_method
from .scenarios import SCENARIO_HEADER, ScenarioBook
from .service import TaskService
from .spec import DEFAULT_SPEC_PATH, Operation, load_spec
from .storage import open_journal, open_rate_limits, open_scenario_list, open_store
from .store import DEFAULT_KEY_PREFIX, DEFAULT_MAX_TASKS, StoreUnavailable, TaskStore
from .validation import validate_body, validate_parameters
from .verdicts import Judge

logger = logging.getLogger("kling_mock")


@dataclass
class Settings:
    spec_path: Path = DEFAULT_SPEC_PATH
    keys: tuple[str, ...] = ()
    # Kling's access key → secret key pairs: the mock then accepts HS256 JWTs signed with them.
    key_pairs: tuple[tuple[str, str], ...] = ()
    # Milliseconds per lifecycle step; 0 advances a task at each poll.
    tick_ms: int = 1000
    # The same seed and the same requests give the same ids and results.
    seed: int | None = None
    # Hosts callbacks may go to besides loopback ones.
    callback_allow_hosts: tuple[str, ...] = ()
    # At most this many tasks in memory or Redis; past it the oldest finished ones go first.
    max_tasks: int = DEFAULT_MAX_TASKS
    # A SQLite file that keeps tasks across restarts; None keeps them in memory.
    state_path: Path | None = None
    # A Redis (redis://HOST:PORT/DB) that keeps tasks, the journal, scenarios and rate limits for every process
    # given it; None: this one's.
    redis_url: str | None = None
    # What this mock's keys start with there, so that several mocks can share a Redis.
    redis_prefix: str = DEFAULT_KEY_PREFIX
    # The store, when the caller brings one; None builds it from `redis_url`, `state_path` and `max_tasks`.
    # The app closes it on shutdown.
    store: TaskStore | None = None
    # Recent requests kept with their verdicts; 0 keeps none.
    journal_size: int = DEFAULT_JOURNAL_SIZE
    # Serve the admin API under /__admin; with `admin_token`, only to who presents it.
    admin: bool = False
    admin_token: str | None = None
    # Scenarios played from the start (a `--scenarios` file's list).
    scenarios: tuple[dict[str, Any], ...] = ()


def create_app(settings: Settings | None = None) -> Starlette:
    settings = settings or Settings()
    spec = load_spec(settings.spec_path)
    auth = BearerAuth(settings.keys, dict(settings.key_pairs))
    ids = IdGenerator(settings.seed)
    callbacks = CallbackSender(settings.callback_allow_hosts)
    lifecycle = Lifecycle(settings.tick_ms)
    store = settings.store
    if store is None:
        store = open_store(
            settings.state_path, settings.max_tasks, lifecycle, settings.redis_url, settings.redis_prefix
        )
    service = TaskService(store, ids, lifecycle, callbacks)
    # Only the admin API reads the journal: without it, recording would be work for nobody.
    journal = open_journal(store, settings.journal_size) if settings.admin and settings.journal_size else None
    judge = Judge(spec)
    scenarios = ScenarioBook(
        spec, settings.scenarios, settings.seed, open_rate_limits(store), open_scenario_list(store)
    )

    # Access lines go to stdout, written buffered: the lifespan flushes them last.
    access_sink = sys.stdout.buffer

    missing = {op.operation_id for op in spec.operations} - HANDLERS.keys()
    if missing:
        raise RuntimeError(f"the spec names operations the mock does not implement: {sorted(missing)}")

    def error_response(request: Request, exc: KlingError) -> JSONResponse:
        request.state.business_code = exc.code
        request.state.message = exc.message
        request.state.refusal = exc.finding
        status = spec.status_by_code[exc.code]
        return error(status, exc.code, exc.message, request.state.request_id, exc.headers)

    async def answer(operation: Operation, request: Request) -> Response:
        """Checks in the contract's order (auth, Content-Type, size, JSON, schema), scenarios after auth."""
        state = request.state
        state.operation = operation
        effects = None
        try:
            raw = b""
            oversized = None
            if operation.body_validator is not None:
                # Read before the checks, so that the journal shows the body of a refused request too.
                try:
                    raw = state.body = await read_bounded(request, operation.max_body_bytes)
                except KlingError as exc:
                    oversized = exc
                    # Refused before all of it arrived: the journal can only tell it was over the limit.
                    declared = natural_number(request.headers.get("content-length"))
                    state.body_bytes = declared or operation.max_body_bytes + 1
            owner = state.owner = (
                auth.authenticate(request.headers.get("authorization")) if operation.requires_auth else ""
            )
            effects = await scenarios.effects(
                operation, owner, request.headers.get(SCENARIO_HEADER), request.headers.get("prefer")
            )
            if effects is not None:
                state.scenarios = effects.names
                if effects.delay_seconds:
                    await asyncio.sleep(effects.delay_seconds)
                if effects.error is not None:
                    raise effects.error
            parameters = validate_parameters(spec, operation, request.path_params, request.query_params)
            body = None
            if operation.body_validator is not None:
                check_media_type(request.headers.get("content-type"), operation.media_types)
                if oversized is not None:
                    raise oversized
                body = parse_json(raw, operation.max_body_depth)
                validate_body(spec, operation.body_validator, body)
            fate = effects.task if effects is not None else None
            response: Response = await HANDLERS[operation.operation_id](
                service, Call(state.request_id, owner, parameters, body, fate)
            )
            state.business_code = 0
            state.message = "SUCCEED"
        except KlingError as exc:
            response = error_response(request, exc)
        if effects is not None and effects.drop_connection:
            state.dropped = True
            return DroppedResponse(response)
        if effects is not None and effects.slow_body_ms:
            return SlowBodyResponse(response, effects.slow_body_ms / 1000)
        return response

    async def on_http_exception(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        target = f"{request.method} {request.url.path}"
        if settings.admin and request.url.path.startswith(ADMIN_PREFIX):
            # The admin API is not Kling's: its refusals are its own (openapi/admin.yaml), not the envelope.
            return http_error(request, exc)
        if exc.status_code == 405:
            allowed = (exc.headers or {}).get("Allow", "")
            return error_response(
                request,
                KlingError(
                    BusinessCode.INVALID_METHOD,
                    f"{target}: method not allowed, use {allowed}",
                    headers={"Allow": allowed},
                    rule="method",
                    path="method",
                ),
            )
        return error_response(
            request, KlingError(BusinessCode.NOT_FOUND, f"{target}: no such resource", rule="unknown-path", path="path")
        )

    async def on_store_unavailable(request: Request, exc: Exception) -> Response:
        """Redis gone away: 503/5001, in the admin API's shape on its paths; the next request tries again."""
        message = f"service temporarily unavailable: {exc}"
        if settings.admin and request.url.path.startswith(ADMIN_PREFIX):
            return JSONResponse({"error": message}, status_code=503)
        unavailable = KlingError(BusinessCode.SERVICE_UNAVAILABLE, message, rule="store-unavailable")
        return error_response(request, unavailable)

    async def on_unexpected(request: Request, exc: Exception) -> Response:
        logger.exception("unexpected error while answering request %s", request.state.request_id)
        return error_response(request, KlingError(BusinessCode.INTERNAL_ERROR, "internal server error"))

    async def healthz(request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def openapi_yaml(request: Request) -> Response:
        return PlainTextResponse(spec.text, media_type="application/yaml")

    async def close() -> None:
        """The journal first: it writes what is still on its way through the Redis the task store closes."""
        if journal is not None:
            await journal.aclose()
        await service.aclose()

    by_path: dict[str, dict[str, Operation]] = {}
    for operation in spec.operations:
        by_path.setdefault(operation.path, {})[operation.method] = operation
    routes = [
        route_by_method(path, {method: functools.partial(answer, operation) for method, operation in ops.items()})
        for path, ops in by_path.items()
    ]
    routes += [Route("/healthz", healthz), Route("/openapi.yaml", openapi_yaml)]
    if settings.admin:
        if journal is None:
            raise ValueError("the admin API needs the journal: give journal_size > 0")
        routes += Admin(settings.admin_token, journal, judge, scenarios, service).routes()
    request_log = Middleware(
        RequestLogMiddleware,
        ids=ids,
        sink=access_sink,
        journal=journal,
        judge=judge,
        unjournaled=(ADMIN_PREFIX, "/healthz", "/openapi.yaml"),
    )
    app = Starlette(
        routes=routes,
        middleware=[request_log],
        exception_handlers={
            HTTPException: on_http_exception,
            StoreUnavailable: on_store_unavailable,
            Exception: on_unexpected,
        },
        lifespan=flushing_lifespan(access_sink, close, start=scenarios.start),
    )
    # Kling's paths have no trailing-slash twins: `/identify-face/` is unknown (404/1203), not a redirect.
    app.router.redirect_slashes = False
    return app
