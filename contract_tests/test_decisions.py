"""The kit's decisions: where the contract is silent, what the kit's mock does, and what another target does.

Each decision of the spec (`components.x-kling-decisions`) comes with requests that break it and nothing the
contract states. Against the kit's own mock (full strictness) each must be refused with 400 and the decision's
code: the mock made the decision. Against any other target, what it does with each is an observation for the
drift report, never a failure (though a refusal must still be Kling's envelope, its code with the table's status:
a body too large is 400/1200, never a 413), and the request costs a billable unit if the target takes it.
"""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from .budget import BudgetSpent
from .calls import JSON, observe, send, target
from .observations import Observation
from .transport import SuiteSession

_OPERATIONS = {operation.operation_id: operation for operation in target.spec.operations}


def _cases() -> list[Any]:
    cases = []
    for decision in target.decisions.values():
        for number, example in enumerate(decision.examples):
            if example["operation"] in _OPERATIONS:
                cases.append(pytest.param(decision.name, example, id=f"{decision.name}-{number}"))
    return cases


def _first_example(operation_id: str) -> dict[str, Any]:
    operation = _OPERATIONS[operation_id]
    body = target.spec.document["paths"][operation.path][operation.method.lower()]["requestBody"]
    examples: dict[str, Any] = body["content"]["application/json"]["examples"]
    value: dict[str, Any] = next(iter(examples.values()))["value"]
    return value


def _request(example: dict[str, Any]) -> tuple[bytes, str]:
    """The bytes the example sends, and what it breaks, as the report says it."""
    body = _first_example(example["operation"])
    said = []
    if "input" in example:
        body = {**body, "input": {**body["input"], **example["input"]}}
        said += [f"input.{name} = {value!r}" for name, value in example["input"].items()]
    if "body" in example:
        body = {**body, **example["body"]}
        said += [f"{name} = {value!r}" for name, value in example["body"].items()]
    if "nested_levels" in example:
        nested: Any = "deep"
        for _ in range(example["nested_levels"]):
            nested = [nested]
        body = {**body, "nested": nested}
        said.append(f"JSON nested {example['nested_levels'] + 1} levels deep")
    raw = orjson.dumps(body)
    if "padded_to_bytes" in example:
        padding = example["padded_to_bytes"] - len(raw) - len(b',"pad":""')
        raw = raw[:-1] + b',"pad":"' + b"a" * padding + b'"}'
        said.append(f"a body of {len(raw)} bytes")
    return raw, "a request with " + ", ".join(said)


@pytest.mark.parametrize(("decision", "example"), _cases())
def test_a_decision_of_the_kit(http: SuiteSession, decision: str, example: dict[str, Any]) -> None:
    operation = _OPERATIONS[example["operation"]]
    raw, what = _request(example)
    full = target.strictness.full
    headers = {**target.auth_headers, **JSON}
    try:
        status, body = send(http, operation.method, operation.path, refused=full, headers=headers, data=raw)
    except BudgetSpent:
        if full:
            raise
        says = target.decisions[decision].says
        target.observations.add(Observation(decision, says, what, None, None, "the billable budget was spent"))
        return
    if not full:
        observe(target, decision, what, status, body)
        return
    code = target.decisions[decision].code
    assert (status, body["code"]) == (400, code), f"{decision}: the kit's mock refuses {what} with 400/{code}: {body}"
