"""Property-based tests generated from the spec: valid requests must be taken, invalid ones refused.

Schemathesis's built-in checks plus the contract's own (`checks.py`) run on every response;
`schemathesis.toml` says which built-in check the contract overrides and why. Valid requests come from the spec
with every decision of the kit kept (a request that keeps them is one any server must take), and so are invalid
ones, so that what they break is all that is wrong with them. Against a server other than the kit's mock, an
invalid case that breaks only a decision is not sent: the contract alone says what it must refuse
(`strictness.py`). An invalid request that creates a task is a budget finding too.
"""

from __future__ import annotations

from typing import Any

import schemathesis
from hypothesis import HealthCheck, reject, settings
from schemathesis.core import NotSet
from schemathesis.core.parameters import ParameterLocation

from . import (
    checks,  # noqa: F401  (registers the contract's checks)
    lip_sync,
)
from .budget import BudgetSpent
from .schemathesis_setup import load_schema
from .target import current

_target = current()
_session = _target.session()
_billable = [operation.operation_id for operation in _target.billable]
valid = load_schema(_target, "generated-valid-cases", _target.positive_document)
if _target.budget.limited:
    # With a budget, generated successes would spend it at random; the hand-written rules spend it on the requests
    # that say most.
    valid = valid.exclude(operation_id=_billable)
valid.config.generation.update(modes=[schemathesis.GenerationMode.POSITIVE], max_examples=_target.max_examples)
invalid = load_schema(_target, "generated-invalid-cases", _target.spec.document)
invalid.config.generation.update(modes=[schemathesis.GenerationMode.NEGATIVE], max_examples=_target.max_examples)

_settings = settings(deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])


@valid.parametrize()
@_settings
def test_valid_requests_are_taken(case: schemathesis.Case[Any]) -> None:
    fitted = lip_sync.fit_to_session(case, _session)
    response = case.call_and_validate(session=_session)
    # Fitted, it keeps the rules no schema says too: nothing is left to refuse it for.
    assert not fitted or response.status_code == 200, f"a valid create, fitted to the run's session: {response.text}"


@invalid.parametrize()
@_settings
def test_invalid_requests_are_refused(case: schemathesis.Case[Any]) -> None:
    if case.meta is None or case.meta.generation.mode is not schemathesis.GenerationMode.NEGATIVE:
        # The spec's own examples and the coverage phase's valid cases: `test_valid_requests_are_taken` sends
        # valid requests, from a view of the spec any server must take.
        reject()
    if not _target.strictness.full and _breaks_only_decisions(case):
        reject()
    if _speaks_the_other_dialect(case):
        reject()
    try:
        with _session.rejection_expected():
            case.call_and_validate(session=_session)
    except BudgetSpent:
        # Only after the target accepted a request it had to refuse (a failure reported already).
        reject()


def _speaks_the_other_dialect(case: schemathesis.Case[Any]) -> bool:
    """A body of the other dialect, which a path answering by body rightly takes."""
    if isinstance(case.body, NotSet):
        return False
    return _target.other_dialect_takes(case.operation.definition.raw["operationId"], case.body)


def _breaks_only_decisions(case: schemathesis.Case[Any]) -> bool:
    """A case whose only invalid part is a body the contract alone would take."""
    assert case.meta is not None
    negative = {
        location
        for location, component in case.meta.components.items()
        if component.mode is schemathesis.GenerationMode.NEGATIVE
    }
    if negative != {ParameterLocation.BODY} or isinstance(case.body, NotSet):
        return False
    return _target.contract_allows_body(case.operation.definition.raw["operationId"], case.body)
