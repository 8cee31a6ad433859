"""What `kling-mock proxy` is started with: light, so that the command line can read its defaults
without loading the proxy's server stack (uvicorn, Starlette, httpx)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .journal import DEFAULT_JOURNAL_SIZE
from .spec import DEFAULT_SPEC_PATH

DEFAULT_TIMEOUT_SECONDS = 30.0


@dataclass
class ProxySettings:
    # The Kling backend to forward to: http(s)://host[:port][/prefix].
    upstream: str
    spec_path: Path = DEFAULT_SPEC_PATH
    # Seconds to wait for the upstream (connecting, sending, each read); past it, 504/5002.
    timeout: float = DEFAULT_TIMEOUT_SECONDS
    # Recent exchanges kept with their verdicts; 0 keeps none.
    journal_size: int = DEFAULT_JOURNAL_SIZE
    # Serve the admin API under /__admin; with `admin_token`, only to who presents it.
    admin: bool = False
    admin_token: str | None = None
