"""Every request the suite sends goes through `SuiteSession`: the budget, politeness, and a record.

The hand-written tests use it directly, schemathesis through `call(session=...)`, so that one
place decides what may be sent and how fast, and remembers what each test last sent and got
back, for the drift report.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import requests
from urllib3.exceptions import NewConnectionError

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
    response_body: bytes

    def curl(self) -> str:
        """A curl command that sends the request again, safe to paste: everything single-quoted but the
        placeholders (`$KLING_TOKEN`), which the shell fills in from the environment."""
        parts = ["curl", "-i", "-X", shlex.quote(self.method), shlex.quote(self.url)]
        names = {name.lower() for name in self.request_headers}
        for name, value in self.request_headers.items():
            if name.lower() in _UNREMARKABLE_HEADERS or (name.lower() == "accept" and value == "*/*"):
                continue
            parts += ["-H", _quote_keeping_placeholders(f"{name}: {value}")]
        if self.request_body and "content-type" not in names:
            parts += ["-H", "'Content-Type:'"]  # curl would add a form's Content-Type the request did not have
        if len(self.request_body) > SHOWN_BODY_BYTES:
            return f"# the body, {len(self.request_body)} bytes, is too large to show here\n" + " ".join(parts)
        if self.request_body:
            parts += ["--data-binary", shlex.quote(self.request_body.decode("utf-8", "replace"))]
        return " ".join(parts)


def _quote_keeping_placeholders(text: str) -> str:
    """Single quotes around everything but `$NAME` placeholders, which stand in double quotes."""
    pieces = re.split(r"(\$KLING_[A-Z0-9_]+)", text)
    return "".join(f'"{piece}"' if index % 2 else shlex.quote(piece) for index, piece in enumerate(pieces) if piece)


class Recorder:
    """The last exchange of each test, under the name of the test running (`current`, set by the report)."""

    def __init__(self, placeholders: Callable[[], Mapping[str, str]]) -> None:
        # Secret value → the placeholder that stands for it; asked at each use, as tokens are renewed.
        self._placeholders = placeholders
        self.current = ""
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
            response_body=self.scrub(response.content[: SHOWN_BODY_BYTES * 4].decode("latin-1")).encode("latin-1"),
        )
        self.last_by_test[self.current] = exchange
        return exchange


class SuiteSession(requests.Session):
    def __init__(
        self, billable_paths: frozenset[tuple[str, str]], budget: BillableBudget, throttle: Throttle, recorder: Recorder
    ) -> None:
        super().__init__()
        # (METHOD, path) of the billable operations, as the target's URLs spell them (base path included).
        self.billable_paths = billable_paths
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
        path = urlsplit(url).path.rstrip("/")
        billable = (method, path) in self.billable_paths
        if billable:
            what = f"{method} {self.recorder.scrub(path)}"
            self.budget.reserve(what, self._must_reject)
        # Unknown unless an answer comes: a request lost on its way back may still have created a task.
        created: bool | None = None
        try:
            for attempt in range(MAX_RETRIES + 1):
                self.throttle.wait()
                try:
                    response = super().request(method, url, *args, **kwargs)
                except requests.ConnectionError as exc:
                    if _never_sent(exc):
                        created = False
                    raise
                # Asked on the last attempt too: its answer still sets the pace of the requests after it.
                if self.throttle.retry_after(response) is None or attempt == MAX_RETRIES:
                    break
            created = response.status_code == 200
        finally:
            if billable:
                self.budget.settle(created, self._must_reject, what)
        self.recorder.record(response)
        return response


def _never_sent(exc: requests.ConnectionError) -> bool:
    """No connection was made (refused, unresolved, timed out connecting): nothing can have been created."""
    reason = getattr(exc.args[0] if exc.args else None, "reason", None)
    return isinstance(exc, requests.exceptions.ConnectTimeout) or isinstance(reason, NewConnectionError)


def _text(value: str | bytes) -> str:
    return value.decode() if isinstance(value, bytes) else value
