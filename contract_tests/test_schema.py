"""Property-based tests generated from the spec: positive and negative cases, every check.

Schemathesis's built-in checks plus the contract's own (`checks.py`) run on every response;
`schemathesis.toml` says which built-in check the contract overrides and why. A negative case
must be refused: one that creates a task is a budget finding too.
"""

from __future__ import annotations

from typing import Any

import schemathesis
from hypothesis import HealthCheck, reject, settings

from . import checks  # noqa: F401  (registers the contract's checks)
from .budget import BudgetSpent
from .schemathesis_setup import load_schema
from .target import current

_target = current()
_session = _target.session()
schema = load_schema(_target, "generated-cases")
schema.config.generation.update(max_examples=_target.max_examples)


_billable = {operation.operation_id for operation in _target.billable}


@schema.parametrize()
@settings(deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
def test_operation_conforms(case: schemathesis.Case[Any]) -> None:
    refused = case.meta is not None and case.meta.generation.mode is schemathesis.GenerationMode.NEGATIVE
    billable = case.operation.definition.raw.get("operationId") in _billable
    if billable and not refused and _target.budget.limited:
        # With a budget, generated successes would spend it at random; the hand-written rules spend it
        # on the requests that say most. Decided by the case alone, so that Hypothesis replays it alike.
        reject()
    try:
        with _session.rejection_expected(refused):
            case.call_and_validate(session=_session)
    except BudgetSpent:
        # Only after the target accepted a request it had to refuse (a failure reported already).
        reject()
