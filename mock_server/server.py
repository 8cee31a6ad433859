"""Serving the app with uvicorn on a socket bound up front, so a taken port is a clear error."""

from __future__ import annotations

import errno
import logging
import socket
import sys

import uvicorn
from starlette.types import ASGIApp

from .app import Settings, create_app

logger = logging.getLogger("kling_mock")


class PortUnavailable(Exception):
    pass


def bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        reason = "the address is already in use" if exc.errno == errno.EADDRINUSE else exc.strerror
        raise PortUnavailable(f"cannot listen on {host}:{port}: {reason}") from None
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def configure_logging(level: str) -> None:
    """Diagnostics go to stderr; the access log (`request_log.py`) writes its JSON lines to stdout."""
    logging.basicConfig(stream=sys.stderr, format="%(levelname)s %(name)s: %(message)s", force=True)
    logging.getLogger().setLevel(level.upper())
    logging.getLogger("uvicorn.error").addFilter(_quiet_deliberate_drops)


def _quiet_deliberate_drops(record: logging.LogRecord) -> bool:
    """uvicorn calls an unfinished answer an error; the mock leaves one unfinished only to drop a connection."""
    return record.getMessage() != "ASGI callable returned without completing response."


class _AnnouncingServer(uvicorn.Server):
    """Says where it listens once it really serves (signal handlers in place, socket accepting)."""

    def __init__(self, config: uvicorn.Config, announcement: str) -> None:
        super().__init__(config)
        self.announcement = announcement

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        if self.started:
            # Tests and scripts read this line to learn the port when started with --port 0.
            print(self.announcement, file=sys.stderr, flush=True)


def run_app(app: ASGIApp, host: str, port: int, note: str) -> None:
    """Serve any ASGI app the way the mock is served, announcing `kling-mock listening on URL (note)`."""
    sock = bind(host, port)
    bound_host, bound_port = sock.getsockname()[:2]
    shown = f"[{bound_host}]" if ":" in bound_host else bound_host
    announcement = f"kling-mock listening on http://{shown}:{bound_port} ({note})"
    config = uvicorn.Config(app, log_config=None, access_log=False, lifespan="on", server_header=False)
    _AnnouncingServer(config, announcement).run(sockets=[sock])


def serve(settings: Settings, host: str, port: int, log_level: str = "info") -> None:
    configure_logging(log_level)
    mode = "only the configured keys" if settings.keys else "any non-empty bearer token"
    admin = ", admin API at /__admin" if settings.admin else ""
    run_app(create_app(settings), host, port, f"accepting {mode}{admin}")
