"""Serving an ASGI app with uvicorn the way every server of the kit is served: on a socket bound up front (so a
taken port is a clear error), with the kit's own logging and access lines, announcing where it listens."""

from __future__ import annotations

import errno
import logging
import socket
import sys
from collections.abc import Callable
from typing import Any

import uvicorn
from starlette.types import ASGIApp


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
    """Diagnostics go to stderr; the access log (`request_log`) writes its JSON lines to stdout."""
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


def run_app(app: ASGIApp, host: str, port: int, note: str, *, date_header: bool = True) -> None:
    """Serve any ASGI app the way the mock is served, announcing `kling-mock listening on URL (note)`.

    `date_header=False` leaves out uvicorn's Date, for an app that passes on another server's.
    """
    sock = bind(host, port)
    config = uvicorn_config(app, date_header=date_header)
    _AnnouncingServer(config, announcement(sock, note)).run(sockets=[sock])


def uvicorn_config(app: ASGIApp | Callable[[], ASGIApp], **options: Any) -> uvicorn.Config:
    """uvicorn's settings for every server of the kit: logging and access lines are the kit's own, the lifespan
    runs (it flushes the access log), and no Server header."""
    return uvicorn.Config(app, log_config=None, access_log=False, lifespan="on", server_header=False, **options)


def announcement(sock: socket.socket, note: str) -> str:
    bound_host, bound_port = sock.getsockname()[:2]
    shown = f"[{bound_host}]" if ":" in bound_host else bound_host
    return f"kling-mock listening on http://{shown}:{bound_port} ({note})"
