"""The mock as a server: the ASGI app (`create_app`), its hot path for Kling's routes, and `serve`."""

from .app import create_app
from .serve import WorkersFailed, serve

__all__ = ["WorkersFailed", "create_app", "serve"]
