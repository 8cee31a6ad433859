"""Serving the app with uvicorn on a socket bound up front, so a taken port is a clear error.

With `--workers N`, uvicorn's supervisor runs N worker processes on that one socket, each building
its own app from the settings (they share tasks through Redis: the CLI refuses workers without it).
"""

from __future__ import annotations

import errno
import functools
import logging
import socket
import sys
from collections.abc import Callable
from typing import Any

import uvicorn
from starlette.types import ASGIApp
from uvicorn.config import STARTUP_FAILURE
from uvicorn.supervisors import Multiprocess

from .app import Settings, create_app

logger = logging.getLogger("kling_mock")


# How long every worker has to load the spec and start serving before the start counts as failed.
_WORKER_START_SECONDS = 60


class PortUnavailable(Exception):
    pass


class WorkersFailed(Exception):
    """A worker did not start; it said why on stderr."""


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


def run_app(app: ASGIApp, host: str, port: int, note: str, *, date_header: bool = True) -> None:
    """Serve any ASGI app the way the mock is served, announcing `kling-mock listening on URL (note)`.

    `date_header=False` leaves out uvicorn's Date, for an app that passes on another server's.
    """
    sock = bind(host, port)
    config = _config(app, date_header=date_header)
    _AnnouncingServer(config, _announcement(sock, note)).run(sockets=[sock])


def _config(app: ASGIApp | Callable[[], ASGIApp], **options: Any) -> uvicorn.Config:
    """uvicorn's settings for every server of the kit: logging and access lines are the kit's own, the lifespan
    runs (it flushes the access log), and no Server header."""
    return uvicorn.Config(app, log_config=None, access_log=False, lifespan="on", server_header=False, **options)


def _announcement(sock: socket.socket, note: str) -> str:
    bound_host, bound_port = sock.getsockname()[:2]
    shown = f"[{bound_host}]" if ":" in bound_host else bound_host
    return f"kling-mock listening on http://{shown}:{bound_port} ({note})"


def serve(settings: Settings, host: str, port: int, log_level: str = "info", workers: int = 1) -> None:
    configure_logging(log_level)
    mode = "only the configured keys" if settings.keys else "any non-empty bearer token"
    admin = ", admin API at /__admin" if settings.admin else ""
    note = f"accepting {mode}{admin}"
    if settings.redis_url is not None:
        from .urls import shown_url

        note += f", tasks, journal and scenarios in Redis at {shown_url(settings.redis_url)}"
    # Built here with workers too, and dropped: whatever is wrong (the spec, the scenarios, a Redis that
    # cannot be reached) is then told once, before any worker starts, as without workers.
    app = create_app(settings)
    if workers == 1:
        run_app(app, host, port, note)
        return
    del app
    sock = bind(host, port)
    factory = functools.partial(_worker_app, settings, log_level)
    config = _config(factory, factory=True, workers=workers)
    supervisor = _AnnouncingSupervisor(config, [sock], _announcement(sock, f"{note}, {workers} workers"))
    with sock:
        supervisor.run()
    if not supervisor.announced:
        raise WorkersFailed("the workers did not start (see their errors above)")


def _worker_app(settings: Settings, log_level: str) -> ASGIApp:
    """A worker's app, built in the worker from the settings the supervisor handed it (pickled, never on argv)."""
    configure_logging(log_level)
    try:
        return create_app(settings)
    except Exception:
        # Exiting with STARTUP_FAILURE stops the supervisor, which would otherwise restart the worker for ever.
        logger.exception("a worker could not start")
        sys.exit(STARTUP_FAILURE)


class _AnnouncingSupervisor(Multiprocess):
    """uvicorn's supervisor of worker processes; says where it listens once every worker serves, and only then."""

    def __init__(self, config: uvicorn.Config, sockets: list[socket.socket], announcement: str) -> None:
        super().__init__(config, sockets)
        self.announcement = announcement
        self.announced = False

    def init_processes(self) -> None:
        super().init_processes()
        if all(process.wait_until_ready(_WORKER_START_SECONDS, self.should_exit) for process in self.processes):
            print(self.announcement, file=sys.stderr, flush=True)
            self.announced = True
        else:
            self.should_exit.set()
