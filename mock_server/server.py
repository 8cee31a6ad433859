"""Serving the app with uvicorn on a socket bound up front, so a taken port is a clear error."""

from __future__ import annotations

import errno
import logging
import socket
import sys

import uvicorn

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
    """Access lines (JSON) go to stdout, diagnostics to stderr."""
    access = logging.getLogger("kling_mock.access")
    access.handlers[:] = [logging.StreamHandler(sys.stdout)]
    access.propagate = False
    logging.basicConfig(stream=sys.stderr, format="%(levelname)s %(name)s: %(message)s", force=True)
    logging.getLogger().setLevel(level.upper())


def serve(settings: Settings, host: str, port: int, log_level: str = "info") -> None:
    configure_logging(log_level)
    app = create_app(settings)
    sock = bind(host, port)
    bound_host, bound_port = sock.getsockname()[:2]
    shown = f"[{bound_host}]" if ":" in bound_host else bound_host
    mode = "only the configured keys" if settings.keys else "any non-empty bearer token"
    # Tests and scripts read this line to learn the port when started with --port 0.
    print(f"kling-mock listening on http://{shown}:{bound_port} (accepting {mode})", file=sys.stderr, flush=True)
    config = uvicorn.Config(app, log_config=None, access_log=False, lifespan="off", server_header=False)
    uvicorn.Server(config).run(sockets=[sock])
