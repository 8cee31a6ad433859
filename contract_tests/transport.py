"""Every request the suite sends goes through `SuiteSession`: the budget, politeness, and a record.

The hand-written tests use it directly, schemathesis through `call(session=...)`, so that one
place decides what may be sent and how fast, and remembers what each test last sent and got
back, for the drift report.
"""

from __future__ import annotations

import os
import shlex
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import requests

from .budget import BillableBudget
from .politeness import MAX_RETRIES, Throttle

# Headers worth repeating in a reproduction; the rest are what any client adds.
_UNREMARKABLE_HEADERS = frozenset({"user-agent", "accept-encoding", "connection", "content-length", "host"})
# Bodies shown in reports are cut here: a report is read, not replayed byte for byte.
SHOWN_BODY_BYTES = 4096


@dataclass(frozen=True)
class Exchange:
    """One request and its answer, with every secret already replaced by its placeholder."""

    method: str
    url: str
    request_headers: dict[str, str]
    request_body: bytes
    status: int
    response_headers: dict[str, str]
    response_body: bytes

    def curl(self) -> str:
        """A curl command that sends the request again; placeholders like `$KLING_TOKEN` expand in the shell."""
        parts = ["curl", "-i", "-X", self.method, shlex.quote(self.url)]
        for name, value in self.request_headers.items():
            if name.lower() in _UNREMARKABLE_HEADERS or (name.lower() == "accept" and value == "*/*"):
                continue
            parts += ["-H", _shell_quote_keeping_placeholders(f"{name}: {value}")]
        if self.request_body:
            if len(self.request_body) > SHOWN_BODY_BYTES:
                parts += ["--data-binary", f"@body.bin  # {len(self.request_body)} bytes, not shown"]
            else:
                parts += ["--data-binary", shlex.quote(self.request_body.decode("utf-8", "replace"))]
        return " ".join(parts)


def _shell_quote_keeping_placeholders(text: str) -> str:
    """Double quotes, so that `$KLING_TOKEN` expands, with everything else escaped."""
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("`", "\\`")
    return f'"{escaped}"'


class Recorder:
    """The last exchange of each test, keyed by pytest's current test id."""

    def __init__(self, placeholders: Callable[[], Mapping[str, str]]) -> None:
        # Secret value → the placeholder that stands for it; asked at each use, as tokens are renewed.
        self._placeholders = placeholders
        self.last_by_test: dict[str, Exchange] = {}

    def scrub(self, text: str) -> str:
        for value, placeholder in sorted(self._placeholders().items(), key=lambda item: -len(item[0])):
            text = text.replace(value, placeholder)
        return text

    def record(self, response: requests.Response) -> Exchange:
        request = response.request
        body = request.body or b""
        body_bytes = body.encode() if isinstance(body, str) else bytes(body) if isinstance(body, bytes) else b""
        exchange = Exchange(
            method=request.method or "GET",
            url=self.scrub(_text(request.url or "")),
            request_headers={name: self.scrub(_text(value)) for name, value in request.headers.items()},
            request_body=self.scrub(body_bytes.decode("latin-1")).encode("latin-1"),
            status=response.status_code,
            response_headers={name: self.scrub(value) for name, value in response.headers.items()},
            response_body=self.scrub(response.content[: SHOWN_BODY_BYTES * 4].decode("latin-1")).encode("latin-1"),
        )
        self.last_by_test[current_test()] = exchange
        return exchange


def current_test() -> str:
    """pytest's id of the test running now, or "" outside one (the dialect probe)."""
    return os.environ.get("PYTEST_CURRENT_TEST", "").rsplit(" ", 1)[0]


class SuiteSession(requests.Session):
    def __init__(
        self, billable_urls: frozenset[tuple[str, str]], budget: BillableBudget, throttle: Throttle, recorder: Recorder
    ) -> None:
        super().__init__()
        self.billable_urls = billable_urls
        self.budget = budget
        self.throttle = throttle
        self.recorder = recorder
        self._must_reject = False

    @contextmanager
    def rejection_expected(self, expected: bool = True) -> Iterator[None]:
        """Requests sent inside must be rejected: one that creates a task anyway is a finding."""
        before, self._must_reject = self._must_reject, expected
        try:
            yield
        finally:
            self._must_reject = before

    def request(self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any) -> requests.Response:
        method, url = _text(method).upper(), _text(url)
        what = f"{method} {urlsplit(self.recorder.scrub(url)).path}"
        billable = (method, url.split("?", 1)[0].rstrip("/")) in self.billable_urls
        if billable:
            self.budget.reserve(what)
        created = True  # unless the answer shows otherwise: a lost answer may still have created a task
        try:
            for attempt in range(MAX_RETRIES + 1):
                self.throttle.wait()
                response = super().request(method, url, *args, **kwargs)
                if attempt == MAX_RETRIES or self.throttle.retry_after(response) is None:
                    break
            created = response.status_code == 200
        finally:
            if billable:
                self.budget.settle(created, self._must_reject, what)
        self.recorder.record(response)
        return response


def _text(value: str | bytes) -> str:
    return value.decode() if isinstance(value, bytes) else value
