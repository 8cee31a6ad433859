"""A fake Kling backend and contract kit, driven by the OpenAPI spec in `openapi/`.

Start it with `kling-mock serve`; build the app yourself with `create_app(Settings(...))` and serve it with any
ASGI server. The subpackages are the kit's layers (docs/architecture, ARCHITECTURE.md); what is named here is the
whole public surface of the package, and a test pins it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.2.0"
__all__ = ["Settings", "__version__", "create_app"]

if TYPE_CHECKING:
    from .server import create_app
    from .settings import Settings


def __getattr__(name: str) -> Any:
    """Loaded when first asked for: `kling-mock verify` and the pytest plugin never load the server."""
    if name == "create_app":
        from .server import create_app

        return create_app
    if name == "Settings":
        from .settings import Settings

        return Settings
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
