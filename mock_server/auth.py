"""Bearer authentication as CONTRACT.md section 1 settles it.

Tokens are never kept or logged: a caller is known by a digest of its token, which is also
what owns the tasks it creates.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

from .errors import BusinessCode, KlingError

_HEADER = "header.Authorization"


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class BearerAuth:
    """Accepts any non-empty bearer token, or only the given keys when there are any."""

    def __init__(self, keys: Iterable[str] = ()) -> None:
        self._accepted = frozenset(token_digest(key) for key in keys if key)

    @property
    def checks_keys(self) -> bool:
        return bool(self._accepted)

    def authenticate(self, header: str | None) -> str:
        """The caller's identity (a token digest), or `KlingError` with the contract's code."""
        if header is None or not header.strip():
            raise KlingError(
                BusinessCode.AUTH_MISSING,
                "Authorization: header is missing or empty",
                rule="auth-missing",
                path=_HEADER,
            )
        scheme, _, token = header.strip().partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token or " " in token:
            raise KlingError(
                BusinessCode.AUTH_MALFORMED,
                "Authorization: must be 'Bearer <token>'",
                rule="auth-malformed",
                path=_HEADER,
            )
        owner = token_digest(token)
        if self._accepted and owner not in self._accepted:
            raise KlingError(
                BusinessCode.AUTH_FAILED,
                "Authorization: the token is not accepted",
                rule="auth-rejected",
                path=_HEADER,
            )
        return owner
