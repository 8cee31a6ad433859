"""The contract's rules as schemathesis checks, run on every response the suite provokes.

Importing this module registers them, and the hook that keeps generated cases within HTTP; the CLI
loads it through `hooks` in `schemathesis.toml`.
"""

from __future__ import annotations

from typing import Any

import schemathesis

from mock_server.spec import business_code_table

from . import rules
from .target import CREATE_OPERATION

_history = rules.TaskHistory()
_tables: dict[int, dict[int, int]] = {}
# Headers of the HTTP message itself (its framing, its connection), not of the API: RFC 9110's hop-by-hop
# ones, Content-Length, Host, Expect and Trailer.
TRANSPORT_HEADERS = frozenset(
    {
        "connection",
        "content-length",
        "expect",
        "host",
        "keep-alive",
        "proxy-connection",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
    }
)


@schemathesis.hook("map_case")
def without_transport_headers(ctx: schemathesis.HookContext, case: schemathesis.Case[Any]) -> schemathesis.Case[Any]:
    """Drop generated headers that frame the message: the suite tests the API, not the target's HTTP parser.

    Hypothesis draws header names from the strings of the project's own code (`content-length` among them).
    A `content-length` that is not a number gets the HTTP server's own text/plain 400, and one on a bodiless
    GET makes the server take the next request on the connection for its body: either breaks the envelope
    rule for an answer no API gives.
    """
    if case.headers:
        for name in [name for name in case.headers if name.lower() in TRANSPORT_HEADERS]:
            del case.headers[name]
    return case


def _status_by_code(case: schemathesis.Case[Any]) -> dict[int, int]:
    document = case.operation.schema.raw_schema
    key = id(document)
    if key not in _tables:
        _tables[key] = {code: status for code, (status, _) in business_code_table(document).items()}
    return _tables[key]


def _envelope(response: schemathesis.Response, case: schemathesis.Case[Any]) -> dict[str, Any]:
    content_type = (response.headers.get("content-type") or [""])[0]
    return rules.envelope(response.status_code, content_type, response.content, _status_by_code(case))


def _valid_envelope(response: schemathesis.Response, case: schemathesis.Case[Any]) -> dict[str, Any] | None:
    """The parsed envelope, or None when it is broken: `kling_envelope` alone reports that."""
    try:
        return _envelope(response, case)
    except AssertionError:
        return None


@schemathesis.check
def kling_envelope(ctx: Any, response: schemathesis.Response, case: schemathesis.Case[Any]) -> None:
    """JSON envelope; HTTP 200 exactly when code is 0, with SUCCEED; each error code with its status."""
    _envelope(response, case)


@schemathesis.check
def kling_fresh_ids(ctx: Any, response: schemathesis.Response, case: schemathesis.Case[Any]) -> bool | None:
    """Ids of the right shape, never repeated: request ids across all calls, task ids across creations."""
    body = _valid_envelope(response, case)
    if body is None:
        return True  # skipped: kling_envelope reports it
    data = body.get("data")
    # The documented dialect's create, or any other that answered a task (the lip-sync ones).
    created = response.status_code == 200 and (
        case.operation.definition.raw.get("operationId") == CREATE_OPERATION
        or (case.operation.method.upper() == "POST" and isinstance(data, dict) and "task_id" in data)
    )
    rules.ANSWERED_IDS.fresh(body, created_task=created)
    return None


@schemathesis.check
def kling_timestamps(ctx: Any, response: schemathesis.Response, case: schemathesis.Case[Any]) -> bool | None:
    """Millisecond timestamps, `updated_at >= created_at`, near the present for a task just created."""
    body = _valid_envelope(response, case) if response.status_code == 200 else None
    if body is None:
        return True  # skipped: not a success, or kling_envelope reports it
    rules.timestamps(body, recent=case.operation.method.upper() == "POST")
    return None


@schemathesis.check
def kling_task_lifecycle(ctx: Any, response: schemathesis.Response, case: schemathesis.Case[Any]) -> bool | None:
    """A task's status only moves forward across calls, and its faces have `start_time <= end_time`."""
    body = _valid_envelope(response, case) if response.status_code == 200 else None
    if body is None:
        return True  # skipped: not a success, or kling_envelope reports it
    rules.faces(body)
    _history.observe(body)
    return None
