"""Routes with one endpoint per path and method, as the admin API's paths need (Kling's are `kling_routes.py`'s)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

Endpoint = Callable[[Request], Awaitable[Response]]


def route_by_method(path: str, endpoints: dict[str, Endpoint]) -> Route:
    """One route for all of a path's methods, so that a wrong method's `Allow` lists every one of them.

    (Starlette gives each `Route` its own `Allow`: two routes on one path would each list only theirs.)
    """

    async def endpoint(request: Request) -> Response:
        return await endpoints["GET" if request.method == "HEAD" else request.method](request)

    return Route(path, endpoint, methods=list(endpoints))
