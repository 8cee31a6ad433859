"""Property-based tests generated from the spec: positive and negative cases, every check.

Schemathesis's built-in checks plus the contract's own (`checks.py`) run on every response;
`schemathesis.toml` says which built-in check the contract overrides and why.
"""

from __future__ import annotations

from typing import Any

import schemathesis
from hypothesis import HealthCheck, settings

from . import checks  # noqa: F401  (registers the contract's checks)
from .target import CONFIG_PATH, current

_target = current()
schema = schemathesis.openapi.from_path(_target.spec_path, config=schemathesis.Config.from_path(CONFIG_PATH))
schema.config.update(base_url=_target.base_url, headers=_target.auth_headers)
schema.config.generation.update(max_examples=_target.max_examples)
# Against a target that takes any token, a request with a made-up token is rightly accepted.
_excluded = [] if _target.checks_keys else [schemathesis.checks.ignored_auth]


@schema.parametrize()
@settings(deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
def test_operation_conforms(case: schemathesis.Case[Any]) -> None:
    case.call_and_validate(excluded_checks=_excluded)
