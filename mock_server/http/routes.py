"""Which of the spec's operations a request's path and method name, without Starlette's router; and the paths
that are the kit's own.

Built once from the spec's paths: a dict for the paths without parameters, and one compiled regex
per templated path (`/{task_id}`), each parameter matching one segment as Starlette's `{name}` does.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from ..spec import Operation

# Where the admin API lives, outside Kling's namespace, on the server's own host and port.
ADMIN_PREFIX = "/__admin"
# The kit's own endpoints (the admin API and its page, the health check, the spec), not Kling's: the mock and
# the proxy answer or forward them without journaling them.
KIT_PATHS = (ADMIN_PREFIX, "/healthz", "/openapi.yaml")
_PARAMETER = re.compile(r"\\\{(\w+)\\\}")


@dataclass(frozen=True)
class PathRoutes:
    """A path's operations by method, and its `Allow` list (HEAD wherever GET is, as Starlette says)."""

    by_method: dict[str, Operation]
    allow: str

    def operation(self, method: str) -> Operation | None:
        """The operation `method` names; HEAD is answered as GET."""
        return self.by_method.get("GET" if method == "HEAD" else method)


class KlingRoutes:
    def __init__(self, operations: Iterable[Operation]) -> None:
        by_path: dict[str, dict[str, Operation]] = {}
        for operation in operations:
            by_path.setdefault(operation.path, {})[operation.method] = operation
        self._exact: dict[str, PathRoutes] = {}
        self._templated: list[tuple[re.Pattern[str], PathRoutes]] = []
        for path, by_method in by_path.items():
            methods = {*by_method, *(("HEAD",) if "GET" in by_method else ())}
            routes = PathRoutes(by_method, ", ".join(sorted(methods)))
            if "{" in path:
                self._templated.append((re.compile(_PARAMETER.sub(r"(?P<\1>[^/]+)", re.escape(path))), routes))
            else:
                self._exact[path] = routes

    def match(self, path: str) -> tuple[PathRoutes, dict[str, str]] | None:
        """The routes of `path` and its path parameters, or None when the spec has no such path."""
        routes = self._exact.get(path)
        if routes is not None:
            return routes, {}
        for pattern, routes in self._templated:
            found = pattern.fullmatch(path)
            if found is not None:
                return routes, found.groupdict()
        return None
