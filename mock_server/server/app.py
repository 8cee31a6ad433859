"""The mock's application: Kling's routes from the spec (`fast_path.py`), the rest on Starlette, errors in
Kling's envelope."""

from __future__ import annotations

import logging
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from ..admin import Admin, error_response, http_error
from ..core.clock import Clock, SystemClock
from ..core.errors import KlingError, StoreUnavailable
from ..core.ids import IdGenerator
from ..domain import HANDLERS, KINDS, CallbackSender, Lifecycle, TaskService, open_file
from ..http.answers import AnswerResponse, JSONResponse
from ..http.refusals import internal_error, method_not_allowed, not_found, unavailable
from ..http.request_log import RequestLog, RequestLogMiddleware, flushing_lifespan
from ..http.routes import ADMIN_PREFIX, KIT_PATHS
from ..journal import Judge
from ..scenarios import ScenarioBook
from ..settings import Settings
from ..spec import DIALECTS, Spec, load_spec
from ..storage import open_backend
from ..validation import BearerAuth
from .fast_path import KlingApp

logger = logging.getLogger("kling_mock")
Endpoint = Callable[[Request], Awaitable[Response]]
# Sent with `/openapi.yaml`: `enforced` or `relaxed`, the kit's decisions as this mock plays them; and the dialect
# identify-face speaks on those paths.
DECISIONS_HEADER = "X-Kling-Mock-Decisions"
DIALECT_HEADER = "X-Kling-Mock-Dialect"
# Results are the same bytes for as long as they exist: a client may keep them; a browser may play them.
_FILE_HEADERS = {"Cache-Control": "private, max-age=3600"}


def create_app(settings: Settings | None = None, clock: Clock | None = None) -> KlingApp:
    """Kling's routes served by `KlingApp`, the rest (admin API, kit endpoints, unknown paths) by Starlette.

    `clock` is the mock's time (the system's by default): tests in process give theirs.
    """
    settings = settings or Settings()
    settings.check()
    loaded: dict[Path, Spec] = {}
    views = {
        prefix: loaded.get(path) or loaded.setdefault(path, load_spec(path, settings.relax_decisions))
        for prefix, path in settings.views().items()
    }
    # The dialects a body-dispatched operation answers as, when no view serves them itself.
    answered_as = {operation_id for spec in loaded.values() for op in spec.operations for _, operation_id in op.by_body}
    for path, operation_id in DIALECTS.values():
        if operation_id in answered_as and path not in loaded:
            loaded[path] = load_spec(path, settings.relax_decisions)
    specs = list(loaded.values())
    missing = {op.operation_id for spec in specs for op in spec.operations if not op.by_body} - HANDLERS.keys()
    if missing:
        raise RuntimeError(f"the spec names operations the mock does not implement: {sorted(missing)}")
    clock = clock or SystemClock()
    auth = BearerAuth(settings.keys, dict(settings.key_pairs))
    ids = IdGenerator(settings.seed)
    lifecycle = Lifecycle(settings.tick_ms)
    backend = open_backend(settings.store, settings.max_tasks, lifecycle, clock, settings.store_prefix)
    callbacks = backend.callbacks(CallbackSender(settings.callback_allow_hosts), clock)
    service = TaskService(backend.tasks, KINDS, ids, lifecycle, clock, callbacks)
    # Only the admin API reads the journal: without it, recording would be work for nobody.
    journal = backend.journal(settings.journal_size) if settings.admin else None
    judge = Judge(*specs)
    scenarios = ScenarioBook(specs, settings.scenarios, settings.seed, backend.rate_limits(), backend.scenario_list())

    # Access lines go to stdout, written buffered: the lifespan flushes them last.
    access_sink = sys.stdout.buffer
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
        """A load balancer's check: with the state in Redis, not ok while every Kling request would get 503/5001."""
        try:
            await backend.ping()
        except StoreUnavailable as exc:
            return refuse(request, unavailable(exc))
        return JSONResponse({"status": "ok"})

    def openapi_yaml(prefix: str) -> Endpoint:
        spec = views[prefix]
        headers = {DECISIONS_HEADER: spec.decisions, DIALECT_HEADER: _dialect_of(spec)}

        async def endpoint(request: Request) -> Response:
            """The spec the paths under `prefix` answer by; the headers tell the contract suite it is the kit's
            mock, which dialect it speaks there, and whether it enforces the kit's decisions."""
            return PlainTextResponse(spec.text, media_type="application/yaml", headers=headers)

        return endpoint

    async def download(request: Request) -> Response:
        """A result's file (`domain.files`): the URL is the permission, so no Authorization is asked for."""
        found = await open_file(service, "/files/" + request.path_params["file"])
        if found is None:
            return refuse(request, not_found(request.method, request.url.path))
        return Response(found.content, media_type=found.media_type, headers=_FILE_HEADERS)

    async def start() -> None:
        """Before serving: the `--scenarios` file seeded, and this process's callback dispatcher running."""
        await scenarios.start()
        await callbacks.start()

    async def close() -> None:
        """The journal first: it writes what is still on its way through the Redis the backend closes last."""
        if journal is not None:
            await journal.aclose()
        await service.aclose()
        await backend.aclose()

    routes = [Route("/healthz", healthz)]
    for prefix in views:
        routes.append(Route(f"{prefix}/openapi.yaml", openapi_yaml(prefix)))
        routes.append(Route(f"{prefix}/files/{{file:path}}", download))
    if journal is not None:
        routes += Admin(settings.admin_token, journal, judge, scenarios, service).routes()
    app = Starlette(
        routes=routes,
        middleware=[Middleware(RequestLogMiddleware, log=request_log)],
        exception_handlers={
            HTTPException: on_http_exception,
            StoreUnavailable: on_store_unavailable,
            Exception: on_unexpected,
        },
        lifespan=flushing_lifespan(access_sink, close, start=start),
    )
    # Kling's paths have no trailing-slash twins: `/identify-face/` is unknown (404/1203), not a redirect.
    app.router.redirect_slashes = False
    kling = KlingApp(app, views, specs, auth, scenarios, service, request_log, settings.public_url)
    return kling


def _dialect_of(spec: Spec) -> str:
    """The dialect a spec speaks, by the operation only that dialect has; `custom` for a spec of one's own."""
    held = {op.operation_id for op in spec.operations}
    return next((name for name, (_, operation_id) in DIALECTS.items() if operation_id in held), "custom")
