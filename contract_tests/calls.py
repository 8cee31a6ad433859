"""How the hand-written tests call the target: through the suite's session, every answer's envelope checked.

A test that expects a refusal says so (`refused=True`): such a request costs nothing, unless the
target accepts it, which is then a finding of the budget as well as a failure.
"""

from __future__ import annotations

from typing import Any

from . import rules
from .observations import Observation
from .target import Target, current
from .transport import SuiteSession

target = current()
create_path = target.create.path
examples = target.request_examples
primary = examples[target.primary_example]
JSON = {"Content-Type": "application/json"}


def send(
    http: SuiteSession, method: str, path: str, refused: bool = False, **kwargs: Any
) -> tuple[int, dict[str, Any]]:
    with http.rejection_expected(refused):
        response = http.request(method, target.url(path), timeout=30, **kwargs)
    body = rules.envelope_of(response, target.spec.status_by_code)
    data = body.get("data")
    # A task created: the documented dialect's, or a lip-sync one (the upstream dialect answers faces, no task).
    makes_task = (target.documented and path == create_path) or (isinstance(data, dict) and "task_id" in data)
    created = response.status_code == 200 and method == "POST" and makes_task
    rules.ANSWERED_IDS.fresh(body, created_task=created)
    return response.status_code, body


def create(
    http: SuiteSession, body: Any = None, headers: dict[str, str] | None = None, refused: bool = False, **kw: Any
) -> tuple[int, dict[str, Any]]:
    """Call the dialect's work operation (the create, or the upstream's identify) with the caller's token."""
    if headers is None:
        headers = {**target.auth_headers, **JSON}
    return send(http, "POST", create_path, refused, headers=headers, json=body, **kw)


def observe(on: Target, decision: str, request: str, status: int, body: dict[str, Any]) -> None:
    """Note what the target did with a request that breaks only one of the kit's decisions."""
    says = on.decisions[decision].says if decision in on.decisions else ""
    code = body.get("code") if isinstance(body.get("code"), int) else None
    on.observations.add(Observation(decision, says, request, status, code))
