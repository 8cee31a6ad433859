"""A synchronous client of the mock's admin API (openapi/admin.yaml), for `verify` and for tests.

It turns every way the admin API can be out of reach into one of two exceptions with a message a
person can act on: `AdminUnavailable` (no mock there, admin API off, token missing or refused, the
mock failing) and `AdminError` (the mock refused a call: a bad filter, an unknown scenario).

The admin token is a secret: it goes only into the `Authorization` header, and is blanked from every
message this module writes, the server's own error texts included.
"""

from __future__ import annotations

from types import TracebackType
from typing import Any
from urllib.parse import quote

import httpx

ADMIN_PREFIX = "/__admin"
START_HINT = "start it with `kling-mock serve --admin`"
TOKEN_HINT = "pass the one the mock was started with (--admin-token or $KLING_MOCK_ADMIN_TOKEN)"
# The journal filters admin.yaml documents for `GET /__admin/journal`.
JOURNAL_FILTERS = frozenset({"operation", "method", "path", "status", "code", "verdict", "rule", "since", "limit"})
_REDACTED = "<redacted>"


class AdminClientError(Exception):
    """Either failure below: what a caller catches when it only needs to know the call did not work."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


class AdminUnavailable(AdminClientError):
    """The admin API cannot be used at all: unreachable, switched off, or the token is missing or wrong."""


class AdminError(AdminClientError):
    """The admin API refused one call (a 4xx other than 401), with the server's `error` text."""


class AdminClient:
    """`with AdminClient("http://127.0.0.1:8000", token) as admin: admin.journal(verdict="error")`."""

    def __init__(self, base_url: str, token: str | None = None, timeout: float = 10.0) -> None:
        # An empty token (an empty $KLING_MOCK_ADMIN_TOKEN) means none, as for the mock.
        self._token = token or None
        self._where = _display_url(base_url)
        if self._token is not None and not _sendable(self._token):
            # Never let httpx or h11 quote the value in their own errors.
            raise AdminUnavailable(
                "the admin token cannot be sent in an HTTP header: it must be printable ASCII without spaces"
            )
        headers = {"Accept": "application/json"}
        if self._token is not None:
            headers["Authorization"] = f"Bearer {self._token}"
        try:
            self._http = httpx.Client(base_url=base_url, headers=headers, timeout=timeout, follow_redirects=False)
        except (httpx.InvalidURL, TypeError, ValueError) as exc:
            raise AdminUnavailable(f"not a usable base URL {self._where!r}: {self._scrub(str(exc))}") from None

    def __repr__(self) -> str:
        return f"AdminClient(base_url={self._where!r}, token={'<set>' if self._token else None})"

    def __enter__(self) -> AdminClient:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    # The admin API's calls, as admin.yaml names them.

    def journal(self, **filters: str | int | None) -> dict[str, Any]:
        """`GET /__admin/journal`: the `JournalPage` of the entries matching `filters` (None ones left out)."""
        unknown = sorted(set(filters) - JOURNAL_FILTERS)
        if unknown:
            raise TypeError(
                f"unknown journal filter(s) {', '.join(unknown)}; known: {', '.join(sorted(JOURNAL_FILTERS))}"
            )
        params = {name: str(value) for name, value in filters.items() if value is not None}
        page = self._json(self._request("GET", "/journal", params=params))
        if not isinstance(page.get("entries"), list):
            raise AdminError(f"{self._where} answered {ADMIN_PREFIX}/journal with something that is not a journal page")
        return page

    def clear_journal(self) -> None:
        self._request("DELETE", "/journal")

    def scenarios(self) -> list[dict[str, Any]]:
        return self._list(self._request("GET", "/scenarios"), "scenarios")

    def add_scenario(self, scenario: dict[str, Any]) -> dict[str, Any]:
        """Add the scenario, or replace the one of its name; returns it as the mock keeps it."""
        return self._json(self._request("POST", "/scenarios", json=scenario))

    def remove_scenario(self, name: str) -> None:
        """Raises `AdminError` (status 404) when the mock has no scenario of that name."""
        self._request("DELETE", f"/scenarios/{quote(name, safe='')}")

    def clear_scenarios(self) -> None:
        self._request("DELETE", "/scenarios")

    def tasks(self, limit: int = 100) -> list[dict[str, Any]]:
        return self._list(self._request("GET", "/tasks", params={"limit": str(limit)}), "tasks")

    def reset(self) -> None:
        self._request("POST", "/reset")

    def clock(self) -> int:
        """Now on the mock's clock, in epoch milliseconds."""
        return int(self._json(self._request("GET", "/clock"))["now_ms"])

    def advance_clock(self, ms: int) -> int:
        """Move the mock's clock `ms` forward (a session expires after 24 hours); now on it, after."""
        return int(self._json(self._request("POST", "/clock", json={"advance_ms": ms}))["now_ms"])

    # Plumbing.

    def _request(
        self, method: str, path: str, params: dict[str, str] | None = None, json: Any = None
    ) -> httpx.Response:
        target = ADMIN_PREFIX + path
        try:
            response = self._http.request(method, target, params=params, json=json)
        except httpx.TimeoutException:
            raise AdminUnavailable(
                f"the mock at {self._where} did not answer {method} {target} in time; is it running and responsive?"
            ) from None
        except httpx.UnsupportedProtocol:
            raise AdminUnavailable(
                f"not a usable base URL {self._where!r}: it must start with http:// or https://"
            ) from None
        except httpx.HTTPError as exc:
            reason = self._scrub(str(exc)) or type(exc).__name__
            raise AdminUnavailable(f"cannot reach the mock at {self._where}: {reason}; is it running?") from None
        self._check(response, method, target)
        return response

    def _check(self, response: httpx.Response, method: str, target: str) -> None:
        status = response.status_code
        if status < 300:
            return
        body = _json_object(response)
        error = body.get("error") if body is not None else None
        detail = self._scrub(error) if isinstance(error, str) else None
        # Kling's own envelope (`{"code": 1203, ...}`) on an admin path: the request reached Kling's
        # routes, so the admin API is not being served.
        kling_envelope = body is not None and isinstance(body.get("code"), int) and error is None
        if (status == 404 and detail is None) or (status == 401 and kling_envelope):
            raise AdminUnavailable(
                f"{self._where} does not serve the admin API (HTTP {status} for {target}): {START_HINT}", status
            )
        if status == 401:
            problem = "the admin API needs a token" if self._token is None else "the admin token was refused"
            said = f" (the mock said: {detail})" if detail else ""
            raise AdminUnavailable(f"{problem}{said}: {TOKEN_HINT}", status)
        if status >= 500:
            said = f": {detail}" if detail else ""
            raise AdminUnavailable(
                f"the mock at {self._where} failed to answer {method} {target}: HTTP {status}{said}", status
            )
        if 300 <= status < 400:
            raise AdminError(
                f"{method} {target}: unexpected redirect (HTTP {status}); is {self._where} the mock?", status
            )
        raise AdminError(f"{method} {target}: HTTP {status}: {detail or 'refused, without a reason'}", status)

    def _json(self, response: httpx.Response) -> dict[str, Any]:
        body = _json_object(response)
        if body is None:
            raise AdminError(
                f"{self._where} answered {response.request.url.path} with something that is not a JSON object"
            )
        return body

    def _list(self, response: httpx.Response, key: str) -> list[dict[str, Any]]:
        items = self._json(response).get(key)
        if not isinstance(items, list):
            raise AdminError(f"{self._where} answered {response.request.url.path} without a `{key}` list")
        return items

    def _scrub(self, text: str) -> str:
        """The text with the admin token blanked: server texts and transport errors may echo a header."""
        return text.replace(self._token, _REDACTED) if self._token else text


def _json_object(response: httpx.Response) -> dict[str, Any] | None:
    try:
        body = response.json()
    except ValueError:
        return None
    return body if isinstance(body, dict) else None


def _sendable(token: str) -> bool:
    """A token HTTP can carry in `Bearer <token>` as is: visible ASCII, no spaces."""
    return all(0x21 <= ord(char) <= 0x7E for char in token)


def _display_url(base_url: str) -> str:
    """The base URL for messages, without any user:password part."""
    try:
        url = httpx.URL(base_url)
    except (httpx.InvalidURL, TypeError, ValueError):
        return base_url.rpartition("@")[2] if "@" in base_url else base_url
    if url.userinfo:
        url = url.copy_with(username=None, password=None)
    return str(url).rstrip("/")
