"""What `kling-mock proxy` is started with, and what cannot work in it: light, so that the command line can read
it without loading the proxy's server stack (uvicorn, Starlette, httpx)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from ..core.urls import shown_url
from ..journal import DEFAULT_JOURNAL_SIZE
from ..settings import DEFAULT_HOST, DEFAULT_PORT, admin_problem
from ..spec import SpecProblem, dialect_spec, views

DEFAULT_TIMEOUT_SECONDS = 30.0


@dataclass(frozen=True)
class ProxySettings:
    # The Kling backend to forward to: http(s)://host[:port][/prefix].
    upstream: str
    # What each path is judged as speaking: as the mock's (`Settings.dialect`, `Settings.spec_path`).
    dialect: str | None = None
    spec_path: Path | None = None
    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    # Seconds to wait for the upstream (connecting, sending, each read); past it, 504/5002.
    timeout: float = DEFAULT_TIMEOUT_SECONDS
    # Recent exchanges kept with their verdicts; 0 keeps none.
    journal_size: int = DEFAULT_JOURNAL_SIZE
    # Serve the admin API under /__admin; with `admin_token`, only to who presents it.
    admin: bool = False
    admin_token: str | None = None
    log_level: str = "info"

    def views(self) -> dict[str, Path]:
        """The spec each path prefix is judged by."""
        return views(self.dialect, self.spec_path)

    def problem(self) -> str | None:
        """What cannot work in these settings, if anything."""
        problem = upstream_problem(self.upstream) or admin_problem(
            self.admin, self.host, self.admin_token, self.journal_size
        )
        if problem is None and self.spec_path is not None:
            try:
                dialect_spec(self.dialect, self.spec_path)
            except SpecProblem as exc:
                return str(exc)
        return problem


def upstream_problem(url: str) -> str | None:
    """Why `url` cannot be an upstream, or None when it can."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return f"--upstream must be an http:// or https:// URL with a host, got {shown_url(url)!r}"
    if parts.username is not None or parts.password is not None:
        return "--upstream must not carry credentials: the client's own Authorization is forwarded"
    if parts.query or parts.fragment:
        return "--upstream must not have a query or a fragment: the client's path and query are appended to it"
    return None
