"""`kling-mock serve`: the mock served with uvicorn (`http.serving`), in one process or several.

With `--workers N`, uvicorn's supervisor runs N worker processes on one socket, each building its own app
from the settings (they share their state through Redis: the settings refuse workers without it).
"""

from __future__ import annotations

import functools
import logging
import socket
import sys

import uvicorn
from starlette.types import ASGIApp
from uvicorn.config import STARTUP_FAILURE
from uvicorn.supervisors import Multiprocess

from ..core.urls import shown_url
from ..http.serving import announcement, bind, configure_logging, run_app, uvicorn_config
from ..settings import Settings
from .app import create_app

logger = logging.getLogger("kling_mock")


# How long every worker has to load the spec and start serving before the start counts as failed.
_WORKER_START_SECONDS = 60


class WorkersFailed(Exception):
    """A worker did not start; it said why on stderr."""


def serve(settings: Settings) -> None:
    """Serve until stopped (SIGINT, SIGTERM). Raises `SettingsError`, `PortUnavailable` or `WorkersFailed`."""
    configure_logging(settings.log_level)
    mode = "only the configured keys" if settings.keys else "any non-empty bearer token"
    admin = ", admin API at /__admin" if settings.admin else ""
    note = f"accepting {mode}{admin}"
    if settings.shared:
        note += f", tasks, journal and scenarios in Redis at {shown_url(settings.store)}"
    # Built here with workers too, and dropped: whatever is wrong (the spec, the scenarios, a Redis that
    # cannot be reached) is then told once, before any worker starts, as without workers.
    app = create_app(settings)
    workers = settings.workers
    if workers == 1:
        run_app(app, settings.host, settings.port, note)
        return
    del app
    sock = bind(settings.host, settings.port)
    factory = functools.partial(_worker_app, settings)
    config = uvicorn_config(factory, factory=True, workers=workers)
    supervisor = _AnnouncingSupervisor(config, [sock], announcement(sock, f"{note}, {workers} workers"))
    with sock:
        supervisor.run()
    if not supervisor.announced:
        raise WorkersFailed("the workers did not start (see their errors above)")


def _worker_app(settings: Settings) -> ASGIApp:
    """A worker's app, built in the worker from the settings the supervisor handed it (pickled, never on argv)."""
    configure_logging(settings.log_level)
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
