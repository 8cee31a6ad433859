"""Unit tests of the schema the generated suites share (`contract_tests.schemathesis_setup`)."""

from __future__ import annotations

import pytest

from contract_tests.budget import BillableBudget
from contract_tests.credentials import Credentials
from contract_tests.politeness import Throttle
from contract_tests.schemathesis_setup import load_schema
from contract_tests.target import Target
from tests.support import TOKEN


@pytest.mark.parametrize(
    ("checks_keys", "max_billable", "rps", "expected"),
    [
        (True, None, None, True),  # a target that checks keys, no budget, no cap: made-up tokens must be refused
        (False, None, None, False),  # one that takes any token rightly accepts a made-up one
        (True, 5, None, False),  # ignored_auth re-sends around the budget
        (True, None, 2.0, False),  # ... and around the rate cap
    ],
)
def test_ignored_auth_runs_only_where_it_can_be_right_and_safe(
    checks_keys: bool, max_billable: int | None, rps: float | None, expected: bool
) -> None:
    target = Target(
        "http://127.0.0.1:9",
        Credentials(api_key=TOKEN),
        checks_keys=checks_keys,
        budget=BillableBudget(max_billable),
        throttle=Throttle(rps),
    )
    schema = load_schema(target, "unused", target.spec.document)
    for result in schema.get_all_operations():
        operation = result.ok()
        assert schema.config.checks_config_for(operation=operation, phase=None).ignored_auth.enabled is expected
