"""The refusals every server of the kit answers in Kling's envelope, whatever operation was asked for."""

from __future__ import annotations

from ..core import rules
from ..core.errors import BusinessCode, KlingError, StoreUnavailable


def method_not_allowed(method: str, path: str, allow: str) -> KlingError:
    """Kling answers a known path's wrong method 404/1202, naming the right ones in `Allow`."""
    return KlingError(
        BusinessCode.INVALID_METHOD,
        f"{method} {path}: method not allowed, use {allow}",
        headers={"Allow": allow},
        rule=rules.METHOD,
        path="method",
    )


def not_found(method: str, path: str) -> KlingError:
    return KlingError(
        BusinessCode.NOT_FOUND, f"{method} {path}: no such resource", rule=rules.UNKNOWN_PATH, path="path"
    )


def unavailable(exc: StoreUnavailable) -> KlingError:
    """Redis gone away: 503/5001; the next request tries again."""
    message = f"service temporarily unavailable: {exc}"
    return KlingError(BusinessCode.SERVICE_UNAVAILABLE, message, rule=rules.STORE_UNAVAILABLE)


def internal_error() -> KlingError:
    return KlingError(BusinessCode.INTERNAL_ERROR, "internal server error", rule=rules.INTERNAL_ERROR)
