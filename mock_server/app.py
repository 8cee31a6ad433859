"""The mock's application: Kling's routes from the spec (`fast_path.py`), the rest on Starlette, errors in
Kling's envelope."""

from __future__ import annotations

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
from .admin import Admin, error_response, http_error
from .auth import BearerAuth
from .callbacks import CallbackSender
from .errors import KlingError
from .fast_path import KlingApp, internal_error, method_not_allowed, not_found, unavailable
from .handlers import HANDLERS
from .ids import IdGenerator
from .journal import DEFAULT_JOURNAL_SIZE
from .lifecycle import Lifecycle
from .request_log import KIT_PATHS, RequestLog, RequestLogMiddleware, flushing_lifespan
from .responses import AnswerResponse, JSONResponse
from .scenarios import ScenarioBook
from .service import TaskService
from .spec import DEFAULT_SPEC_PATH, load_spec
from .storage import open_journal, open_rate_limits, open_scenario_list, open_store, shared_backend
from .store import DEFAULT_KEY_PREFIX, DEFAULT_MAX_TASKS, StoreUnavailable, TaskStore
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


def create_app(settings: Settings | None = None) -> KlingApp:
    """Kling's routes served by `KlingApp`, the rest (admin API, kit endpoints, unknown paths) by Starlette."""
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
    # The Redis the tasks are in, if they are: `/healthz` is ok only while it answers.
    backend = shared_backend(store)
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

    request_log = RequestLog(ids, access_sink, journal, judge, unjournaled=KIT_PATHS)

    def refuse(request: Request, exc: KlingError) -> Response:
        return AnswerResponse(kling.refuse(request.scope["state"], exc))

    def on_admin_api(request: Request) -> bool:
        """The admin API is not Kling's: its refusals are its own (openapi/admin.yaml), not the envelope."""
        return settings.admin and request.url.path.startswith(ADMIN_PREFIX)

    async def on_http_exception(request: Request, exc: Exception) -> Response:
        """Paths the spec does not have (Kling's own are `KlingApp`'s), and the kit endpoints' wrong methods."""
        assert isinstance(exc, HTTPException)
        if on_admin_api(request):
            return http_error(request, exc)
        if exc.status_code == 405:
            allowed = (exc.headers or {}).get("Allow", "")
            return refuse(request, method_not_allowed(request.method, request.url.path, allowed))
        return refuse(request, not_found(request.method, request.url.path))

    async def on_store_unavailable(request: Request, exc: Exception) -> Response:
        """Redis gone away: 503/5001, in the admin API's shape on its paths; the next request tries again."""
        assert isinstance(exc, StoreUnavailable)
        if on_admin_api(request):
            return error_response(503, f"service temporarily unavailable: {exc}")
        return refuse(request, unavailable(exc))

    async def on_unexpected(request: Request, exc: Exception) -> Response:
        logger.exception("unexpected error while answering request %s", request.state.request_id)
        return refuse(request, internal_error())

    async def healthz(request: Request) -> Response:
        """A load balancer's check: with the tasks in Redis, not ok while every Kling request would get 503/5001.

        The memory and SQLite stores cannot go away, so they are not asked.
        """
        if backend is not None:
            try:
                await backend.ping()
            except StoreUnavailable as exc:
                return refuse(request, unavailable(exc))
        return JSONResponse({"status": "ok"})

    async def openapi_yaml(request: Request) -> Response:
        return PlainTextResponse(spec.text, media_type="application/yaml")

    async def close() -> None:
        """The journal first: it writes what is still on its way through the Redis the task store closes."""
        if journal is not None:
            await journal.aclose()
        await service.aclose()

    routes = [Route("/healthz", healthz), Route("/openapi.yaml", openapi_yaml)]
    if settings.admin:
        if journal is None:
            raise ValueError("the admin API needs the journal: give journal_size > 0")
        routes += Admin(settings.admin_token, journal, judge, scenarios, service).routes()
    app = Starlette(
        routes=routes,
        middleware=[Middleware(RequestLogMiddleware, log=request_log)],
        exception_handlers={
            HTTPException: on_http_exception,
            StoreUnavailable: on_store_unavailable,
            Exception: on_unexpected,
        },
        lifespan=flushing_lifespan(access_sink, close, start=scenarios.start),
    )
    # Kling's paths have no trailing-slash twins: `/identify-face/` is unknown (404/1203), not a redirect.
    app.router.redirect_slashes = False
    kling = KlingApp(app, spec, auth, scenarios, service, request_log)
    return kling
