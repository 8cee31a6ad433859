"""Kling's business codes and the exception that carries one to the client.

Only the names live here; the HTTP status of each code is read from the spec
(`Spec.status_by_code`), which holds the contract's table.
"""

from __future__ import annotations

from enum import IntEnum


class BusinessCode(IntEnum):
    AUTH_FAILED = 1000
    AUTH_MISSING = 1001
    AUTH_MALFORMED = 1002
    INVALID_REQUEST = 1200
    INVALID_PARAMETER = 1201
    INVALID_METHOD = 1202
    NOT_FOUND = 1203
    INTERNAL_ERROR = 5000


class KlingError(Exception):
    """A request the mock refuses, with the business code and a message naming the problem."""

    def __init__(self, code: BusinessCode, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.headers = headers or {}
