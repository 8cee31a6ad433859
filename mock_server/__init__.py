"""A fake Kling identify-face backend, driven by the OpenAPI spec in `openapi/`."""

from .app import Settings, create_app

__all__ = ["Settings", "create_app"]
