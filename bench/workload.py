"""The requests measured: the spec's documented create request, and the query of a task it created.

The bench follows the spec: the body is the `seedDocumented` example of `createIdentifyFaceTask`
(the provider page's own example), sent with one bearer token throughout.
"""

from __future__ import annotations

import http.client
import json
import urllib.parse
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

OPERATION_ID = "createIdentifyFaceTask"
EXAMPLE = "seedDocumented"
TOKEN = "bench-token"
ROOT = Path(__file__).resolve().parent.parent
# The spec whose documented request is measured (the checkout's, which `kling-mock serve` loads by default).
SPEC = ROOT / "openapi" / "identify-face.yaml"


class WorkloadError(RuntimeError):
    """The spec lacks the documented request, or a server answered it wrongly."""


@dataclass(frozen=True)
class Request:
    """What wrk repeats: a method, a path and, for a create, a JSON body."""

    method: str
    path: str
    body: bytes | None = None


def documented_request(spec: Path) -> Request:
    """The create request of the spec's documented example."""
    document = yaml.safe_load(spec.read_text(encoding="utf-8"))
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if isinstance(operation, dict) and operation.get("operationId") == OPERATION_ID:
                example = operation["requestBody"]["content"]["application/json"]["examples"][EXAMPLE]
                body = json.dumps(example["value"], separators=(",", ":")).encode()
                return Request(method.upper(), path, body)
    raise WorkloadError(f"{spec}: no operation {OPERATION_ID}")


def query_of(create: Request, task_id: str) -> Request:
    """The query of one task: GET on the create path followed by the task id."""
    return Request("GET", f"{create.path}/{urllib.parse.quote(task_id, safe='')}")


def send(base_url: str, request: Request, timeout: float = 10.0) -> tuple[int, Any]:
    """One exchange on a fresh connection: the status and the parsed JSON answer (None when not JSON).

    Raises OSError while nothing listens yet; the caller polls with it.
    """
    url = urllib.parse.urlsplit(base_url)
    connection = http.client.HTTPConnection(url.hostname or "127.0.0.1", url.port, timeout=timeout)
    headers = {"Authorization": f"Bearer {TOKEN}"}
    if request.body is not None:
        headers["Content-Type"] = "application/json"
    try:
        connection.request(request.method, request.path, body=request.body, headers=headers)
        response = connection.getresponse()
        status, raw = response.status, response.read()
    finally:
        connection.close()
    try:
        return status, json.loads(raw) if raw else None
    except ValueError:
        return status, None


def is_good(status: int, answer: Any, kling_envelope: bool) -> bool:
    """HTTP 200 and, for a server that speaks Kling's envelope, `code: 0` with a task in `data`."""
    if status != 200:
        return False
    if not kling_envelope:
        return True
    return (
        isinstance(answer, dict)
        and answer.get("code") == 0
        and isinstance(answer.get("data"), dict)
        and bool(answer["data"].get("task_id"))
    )


def check(name: str, base_url: str, request: Request, kling_envelope: bool) -> Any:
    """The answer to `request`, or WorkloadError when it is not a good one: then requests/s would mean nothing."""
    status, answer = send(base_url, request)
    if not is_good(status, answer, kling_envelope):
        raise WorkloadError(f"{name} answered {request.method} {request.path} with {status}: {answer!r:.500}")
    return answer
