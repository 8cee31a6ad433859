"""Kling's business codes, findings about a request, and the exceptions that carry them.

Only the names live here; the HTTP status of each code is read from the spec
(`Spec.status_by_code`), which holds the contract's table.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

from .rules import Rule


class BusinessCode(IntEnum):
    AUTH_FAILED = 1000
    AUTH_MISSING = 1001
    AUTH_MALFORMED = 1002
    TOKEN_NOT_YET_VALID = 1003
    TOKEN_EXPIRED = 1004
    INVALID_REQUEST = 1200
    INVALID_PARAMETER = 1201
    INVALID_METHOD = 1202
    NOT_FOUND = 1203
    RATE_LIMITED = 1302
    INTERNAL_ERROR = 5000
    SERVICE_UNAVAILABLE = 5001
    INTERNAL_TIMEOUT = 5002


@dataclass(frozen=True)
class Finding:
    """One thing wrong with a request: a rule's name (`core.rules`), where in the request, and a message naming both."""

    rule: str
    path: str
    message: str


class KlingError(Exception):
    """A request the mock refuses, with the business code and a message naming the problem.

    `rule` and `path` say which check refused it, for the journal's verdicts; a rule of severity `answer`
    (a scenario's choice, an outcome) is recorded but not held against the client.
    """

    def __init__(
        self,
        code: int,
        message: str,
        headers: dict[str, str] | None = None,
        *,
        rule: Rule,
        path: str = "",
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.headers = headers or {}
        self.rule = rule
        self.path = path

    @property
    def finding(self) -> Finding:
        return Finding(self.rule.name, self.path, self.message)


class StoreUnavailable(Exception):
    """The store's backend cannot be reached or written to now (a Redis gone away): the request gets 503/5001.

    Transient: the next request tries again, so service resumes by itself once the backend is back.
    """


class StoreUnreachable(Exception):
    """At start: the store's backend (`--store`'s Redis) cannot be used; `kling-mock serve` exits 2, saying why."""
