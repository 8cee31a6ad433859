"""The admin API (`serve --admin`, `proxy --admin`), as openapi/admin.yaml describes it: journal, scenarios,
tasks, a page.

It lives under `/__admin`, outside Kling's namespace, on the server's own host and port. With an
admin token, every call needs it: as a bearer token, or as the cookie `/__admin/login` sets for
browsers. Every server has the journal and the page (`JournalAdmin`); the mock's has scenarios and
tasks too (`Admin`). A proxy plays no scenarios and holds no tasks: its scenario and task calls
answer 404, saying so. Journal, scenarios and tasks may be in Redis (`serve --store`): a call that
reads or changes them while Redis is away raises `StoreUnavailable`, which the app answers 503.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import parse_qs, urlsplit

import orjson
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from ..core.errors import KlingError
from ..domain import Links, TaskService
from ..http.answers import JSONResponse
from ..http.bodies import read_bounded
from ..http.routes import ADMIN_PREFIX as PREFIX
from ..journal import Entry, JournalStore, Judge
from ..scenarios import ScenarioBook, ScenarioError
from ..validation import check_media_type, natural_number

Endpoint = Callable[[Request], Awaitable[Response]]
COOKIE = "kling_mock_admin"
_LOGIN_BODY_LIMIT = 4096
_SCENARIO_BODY_LIMIT = 64 * 1024
# How far one call may move the clock: a year, more than any lifetime the mock keeps (sessions: 24 hours).
_CLOCK_LIMIT_MS = 366 * 24 * 60 * 60 * 1000
_INTEGER_FILTERS = ("status", "code", "since", "limit")

_PAGE_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; form-action 'self'; "
        "frame-ancestors 'none'"
    ),
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
}


class JournalAdmin:
    """What every server's admin API has: the page, sign-in, the journal and reset. A proxy's, as is.

    `upstream` names the backend a proxy forwards to, for the page; None for the mock.
    """

    def __init__(self, token: str | None, journal: JournalStore, judge: Judge, upstream: str | None = None) -> None:
        self.token = token
        self.journal = journal
        self.judge = judge
        self.upstream = upstream

    def routes(self) -> list[Route]:
        guarded = self._guarded
        endpoints: dict[str, dict[str, Endpoint]] = {
            PREFIX: {"GET": self._page},
            f"{PREFIX}/": {"GET": self._page},
            f"{PREFIX}/login": {"GET": self._login_form, "POST": self._login},
            f"{PREFIX}/journal": {"GET": guarded(self._journal), "DELETE": guarded(self._clear_journal)},
            f"{PREFIX}/reset": {"POST": guarded(self._reset)},
            **self._more_endpoints(),
        }
        return [route_by_method(path, methods) for path, methods in endpoints.items()]

    def _more_endpoints(self) -> dict[str, dict[str, Endpoint]]:
        """The scenario, task and clock calls: a proxy has none, and says so rather than leave them unknown."""
        absent = self._guarded(_not_served_by_a_proxy)
        return {
            f"{PREFIX}/scenarios": dict.fromkeys(("GET", "POST", "DELETE"), absent),
            f"{PREFIX}/scenarios/{{name}}": {"DELETE": absent},
            f"{PREFIX}/tasks": {"GET": absent},
            f"{PREFIX}/clock": dict.fromkeys(("GET", "POST"), absent),
        }

    # Who may.

    def _allowed(self, request: Request) -> bool:
        if self.token is None:
            return True
        scheme, _, presented = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() == "bearer":
            return hmac.compare_digest(presented.strip().encode(), self.token.encode())
        return hmac.compare_digest(request.cookies.get(COOKIE, "").encode(), self._cookie_value().encode())

    def _cookie_value(self) -> str:
        """What a signed-in browser carries: derived from the admin token, so the token itself never sits in it."""
        assert self.token is not None
        return hmac.new(self.token.encode(), b"kling-mock admin cookie", hashlib.sha256).hexdigest()

    def _guarded(self, endpoint: Endpoint) -> Endpoint:
        async def guarded(request: Request) -> Response:
            if not self._allowed(request):
                return error_response(
                    401, "the admin token is missing or wrong: send 'Authorization: Bearer <admin token>'"
                )
            if request.method != "GET" and not _same_origin(request):
                # Without a token, any web page the developer opens could otherwise drive the mock.
                return error_response(403, "Origin: cross-site requests may not change the mock")
            return await endpoint(request)

        return guarded

    # The page, for people.

    async def _page(self, request: Request) -> Response:
        from .page import render_page  # jinja2 loads only when someone looks

        if not self._allowed(request):
            return RedirectResponse(f"{PREFIX}/login", status_code=303)
        refresh = natural_number(request.query_params.get("refresh"), max_digits=4)
        journal = await self.journal.snapshot()
        html = render_page(
            [self._entry_json(entry) for entry in journal.entries],
            await self._task_items(100, request),
            recorded=journal.recorded,
            dropped=journal.dropped,
            lost=journal.lost,
            refresh_seconds=5 if refresh is None else refresh,
            upstream=self.upstream,
        )
        return _html(html)

    async def _login_form(self, request: Request) -> Response:
        from .page import render_login

        return _html(render_login())

    async def _login(self, request: Request) -> Response:
        from .page import render_login

        raw = await _bounded_body(request, _LOGIN_BODY_LIMIT)
        presented = parse_qs((raw or b"").decode("utf-8", "replace")).get("token", [""])[0]
        if self.token is not None and not hmac.compare_digest(presented.encode(), self.token.encode()):
            return _html(render_login("That is not the admin token."), status_code=401)
        response = RedirectResponse(PREFIX, status_code=303)
        if self.token is not None:
            response.set_cookie(COOKIE, self._cookie_value(), path=PREFIX, httponly=True, samesite="strict")
        return response

    # The journal.

    def _entry_json(self, entry: Entry) -> dict[str, Any]:
        self.judge.judge(entry)
        return entry.to_json()

    async def _journal(self, request: Request) -> Response:
        filters = dict(request.query_params)
        numbers = {name: natural_number(filters[name]) for name in _INTEGER_FILTERS if name in filters}
        for name, number in numbers.items():
            if number is None:
                return error_response(400, f"query.{name}: must be a non-negative integer")
        if numbers.get("limit") == 0:
            return error_response(400, "query.limit: must be 1 or more")
        if filters.get("verdict") not in (None, "error", "warning", "clean"):
            return error_response(400, "query.verdict: must be one of error, warning, clean")
        journal = await self.journal.snapshot()
        matching = [entry for entry in journal.entries if self._matches(entry, filters, numbers)]
        limit = numbers.get("limit") or len(matching)
        page = {
            "entries": [self._entry_json(entry) for entry in matching[-limit:]],
            "total": len(matching),
            "recorded": journal.recorded,
            "dropped": journal.dropped,
            "lost": journal.lost,
            "capacity": self.journal.capacity,
        }
        return JSONResponse(page)

    def _matches(self, entry: Entry, filters: dict[str, str], numbers: dict[str, int | None]) -> bool:
        texts = {"operation": entry.operation_id, "method": entry.method, "path": entry.path}
        if any(name in filters and filters[name] != value for name, value in texts.items()):
            return False
        if any(
            name in numbers and numbers[name] != value
            for name, value in (("status", entry.status), ("code", entry.code))
        ):
            return False
        if "since" in numbers and entry.seq <= (numbers["since"] or 0):
            return False
        if "verdict" in filters or "rule" in filters:
            verdict = self.judge.verdict(entry)
            if filters.get("verdict", verdict.result) != verdict.result:
                return False
            # The upstream's rules are named `response-...`: one filter finds a rule on either side.
            judged = (verdict, self.judge.upstream_verdict(entry) or verdict)
            rules = {finding.rule for side in judged for finding in (*side.errors, *side.warnings)}
            if "rule" in filters and filters["rule"] not in rules:
                return False
        return True

    async def _clear_journal(self, request: Request) -> Response:
        await self.journal.clear()
        return Response(status_code=204)

    async def _reset(self, request: Request) -> Response:
        """A proxy's: the journal is all there is to clear."""
        return await self._clear_journal(request)

    async def _task_items(self, limit: int, request: Request) -> list[dict[str, Any]] | None:
        """The tasks the page lists (their URLs for the client of `request`); None: this server holds none."""
        return None


class Admin(JournalAdmin):
    """The mock's admin API: the journal's, with its scenarios and tasks."""

    def __init__(
        self, token: str | None, journal: JournalStore, judge: Judge, scenarios: ScenarioBook, service: TaskService
    ) -> None:
        super().__init__(token, journal, judge)
        self.scenarios = scenarios
        self.service = service

    def _more_endpoints(self) -> dict[str, dict[str, Endpoint]]:
        guarded = self._guarded
        return {
            f"{PREFIX}/scenarios": {
                "GET": guarded(self._scenarios),
                "POST": guarded(self._add_scenario),
                "DELETE": guarded(self._clear_scenarios),
            },
            f"{PREFIX}/scenarios/{{name}}": {"DELETE": guarded(self._remove_scenario)},
            f"{PREFIX}/tasks": {"GET": guarded(self._tasks)},
            f"{PREFIX}/clock": {"GET": guarded(self._clock), "POST": guarded(self._advance_clock)},
        }

    # Scenarios.

    async def _scenarios(self, request: Request) -> Response:
        return JSONResponse({"scenarios": [scenario.to_json() for scenario in await self.scenarios.listed()]})

    async def _add_scenario(self, request: Request) -> Response:
        try:
            check_media_type(request.headers.get("content-type"), ("application/json",))
        except KlingError as exc:
            return error_response(400, exc.message)
        raw = await _bounded_body(request, _SCENARIO_BODY_LIMIT)
        if raw is None:
            return error_response(400, f"body: larger than {_SCENARIO_BODY_LIMIT} bytes")
        try:
            scenario = await self.scenarios.add(orjson.loads(raw))
        except orjson.JSONDecodeError:
            return error_response(400, "body: not valid JSON")
        except ScenarioError as exc:
            return error_response(400, str(exc))
        return JSONResponse(scenario.to_json(), status_code=201)

    async def _clear_scenarios(self, request: Request) -> Response:
        await self.scenarios.clear()
        return Response(status_code=204)

    async def _remove_scenario(self, request: Request) -> Response:
        name = request.path_params["name"]
        if not await self.scenarios.remove(name):
            return error_response(404, f"no scenario named {name!r}")
        return Response(status_code=204)

    async def _reset(self, request: Request) -> Response:
        await super()._reset(request)
        await self.scenarios.reset()
        return Response(status_code=204)

    # Tasks.

    async def _tasks(self, request: Request) -> Response:
        limit = natural_number(request.query_params.get("limit", "100"))
        if limit is None or not 1 <= limit <= 1000:
            return error_response(400, "query.limit: must be an integer from 1 to 1000")
        return JSONResponse({"tasks": await self._task_items(limit, request)})

    # The clock.

    async def _clock(self, request: Request) -> Response:
        return JSONResponse({"now_ms": self.service.clock.now_ms()})

    async def _advance_clock(self, request: Request) -> Response:
        """Move the mock's clock forward, so that a test sees a session expire or a task finish without waiting."""
        raw = await _bounded_body(request, _SCENARIO_BODY_LIMIT)
        try:
            body = orjson.loads(raw) if raw is not None else None
        except orjson.JSONDecodeError:
            body = None
        advance = body.get("advance_ms") if isinstance(body, dict) else None
        if isinstance(advance, bool) or not isinstance(advance, int) or not 0 <= advance <= _CLOCK_LIMIT_MS:
            return error_response(400, f"body.advance_ms: must be an integer from 0 to {_CLOCK_LIMIT_MS}")
        self.service.clock.advance(advance)
        return await self._clock(request)

    async def _task_items(self, limit: int, request: Request) -> list[dict[str, Any]] | None:
        links = Links(str(request.base_url).rstrip("/"))
        items = await self.service.recent(limit, links)
        return [{"caller": caller, "kind": kind, "task": task} for caller, kind, task in items]


async def _bounded_body(request: Request, limit: int) -> bytes | None:
    """The body, or None when it is larger than `limit`."""
    try:
        return await read_bounded(request, limit)
    except KlingError:
        return None


async def _not_served_by_a_proxy(request: Request) -> Response:
    target = f"{request.method} {request.url.path}"
    return error_response(404, f"{target}: a proxy plays no scenarios and holds no tasks (the upstream has its own)")


def http_error(request: Request, exc: Exception) -> Response:
    """The admin API's own answer to an unknown admin path (404) or a wrong method (405), as `AdminError`."""
    assert isinstance(exc, HTTPException)
    reason = "method not allowed" if exc.status_code == 405 else "no such admin resource"
    error = {"error": f"{request.method} {request.url.path}: {reason}"}
    return JSONResponse(error, status_code=exc.status_code, headers=exc.headers)


def _same_origin(request: Request) -> bool:
    """A request a browser sent from another site carries that site as its Origin; programs send none."""
    origin = request.headers.get("origin")
    return origin is None or urlsplit(origin).netloc == request.headers.get("host")


def _html(content: str, status_code: int = 200) -> HTMLResponse:
    """A page that loads nothing from elsewhere, runs no script and is never cached or framed."""
    return HTMLResponse(content, status_code=status_code, headers=_PAGE_HEADERS)


def error_response(status: int, message: str) -> JSONResponse:
    """The admin API's refusal, as `AdminError` (openapi/admin.yaml)."""
    return JSONResponse({"error": message}, status_code=status)


def route_by_method(path: str, endpoints: dict[str, Endpoint]) -> Route:
    """One route for all of a path's methods, so that a wrong method's `Allow` lists every one of them.

    (Starlette gives each `Route` its own `Allow`: two routes on one path would each list only theirs.)
    """

    async def endpoint(request: Request) -> Response:
        return await endpoints["GET" if request.method == "HEAD" else request.method](request)

    return Route(path, endpoint, methods=list(endpoints))
