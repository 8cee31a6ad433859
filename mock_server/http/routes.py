"""Which of the spec's operations a request's path and method name, without Starlette's router; and the paths
that are the kit's own.

Built once from the specs a server answers by, one per path prefix (Kling's own paths, `/v1/videos/...`, and the
aggregators', `/kling/v1/videos/...`): a dict for the paths without parameters, and one compiled regex per
templated path (`/{task_id}`), each parameter matching one segment as Starlette's `{name}` does. A path that
misses one of Kling's only by letter case or a trailing slash is told apart (`near_miss`): clients that spell it so
exist, and deserve to be told the path that does.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from ..spec import Operation

# Where the admin API lives, outside Kling's namespace, on the server's own host and port.
ADMIN_PREFIX = "/__admin"
# The kit's own endpoints (the admin API and its page, the health check, the spec, the files results are
# downloaded from), not Kling's: the mock and the proxy answer or forward them without journaling them.
KIT_PATHS = (ADMIN_PREFIX, "/healthz", "/openapi.yaml", "/kling/openapi.yaml", "/files/", "/kling/files/")
_PARAMETER = re.compile(r"\\\{(\w+)\\\}")


@dataclass(frozen=True)
class PathRoutes:
    """A path's operations by method, its `Allow` list (HEAD wherever GET is, as Starlette says), and the prefix
    it is served under."""

    by_method: dict[str, Operation]
    allow: str
    prefix: str = ""

    def operation(self, method: str) -> Operation | None:
        """The operation `method` names; HEAD is answered as GET."""
        return self.by_method.get("GET" if method == "HEAD" else method)


class KlingRoutes:
    def __init__(self, views: Mapping[str, Iterable[Operation]]) -> None:
        """`views`: the operations served under each path prefix (`""` for Kling's own paths)."""
        self._exact: dict[str, PathRoutes] = {}
        self._templated: list[tuple[re.Pattern[str], PathRoutes]] = []
        # Each served path, folded (lower case), for what differs only by case or a trailing slash.
        self._folded: dict[str, str] = {}
        self._folded_templates: list[tuple[re.Pattern[str], str]] = []
        for prefix, operations in views.items():
            by_path: dict[str, dict[str, Operation]] = {}
            for operation in operations:
                by_path.setdefault(prefix + operation.path, {})[operation.method] = operation
            for path, by_method in by_path.items():
                methods = {*by_method, *(("HEAD",) if "GET" in by_method else ())}
                routes = PathRoutes(by_method, ", ".join(sorted(methods)), prefix)
                if "{" in path:
                    pattern = _PARAMETER.sub(r"(?P<\1>[^/]+)", re.escape(path))
                    self._templated.append((re.compile(pattern), routes))
                    self._folded_templates.append((re.compile(pattern, re.IGNORECASE), path))
                else:
                    self._exact[path] = routes
                    self._folded[path.lower()] = path

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

    def near_miss(self, path: str) -> str | None:
        """The served path `path` differs from only by letter case or a trailing slash, or None."""
        trimmed = path.rstrip("/") or path
        exact = self._folded.get(trimmed.lower())
        if exact is not None:
            return exact
        for pattern, template in self._folded_templates:
            found = pattern.fullmatch(trimmed)
            if found is not None:
                spelled = template
                for name, value in found.groupdict().items():
                    spelled = spelled.replace("{" + name + "}", value)
                return spelled
        return None
