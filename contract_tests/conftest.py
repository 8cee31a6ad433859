"""Options of the contract suite. `kling-mock contract` passes them; so can a plain pytest run:

KLING_API_KEY=... pytest contract_tests --contract-base-url https://staging.example
"""

from __future__ import annotations

from pathlib import Path

import pytest

from mock_server.spec import DEFAULT_SPEC_PATH

from . import target


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("kling-contract", "Kling identify-face contract suite")
    group.addoption("--contract-base-url", help="base URL of the API under test (required)")
    group.addoption(
        "--contract-max-examples", type=int, default=200, help="generated cases per operation (default: 200)"
    )
    group.addoption("--contract-spec", type=Path, default=DEFAULT_SPEC_PATH, help="the OpenAPI spec to test against")
    group.addoption(
        "--contract-any-token",
        action="store_true",
        help="the target accepts any non-empty token (a mock without --keys): skip the unknown-key tests",
    )


def pytest_configure(config: pytest.Config) -> None:
    base_url = config.getoption("--contract-base-url")
    if not base_url:
        raise pytest.UsageError("the contract suite needs --contract-base-url (or run `kling-mock contract`)")
    token = target.token_from_env()
    if not token:
        raise pytest.UsageError(f"the contract suite needs a token in ${target.TOKEN_ENV}")
    target.configure(
        target.Target(
            base_url=base_url,
            token=token,
            spec_path=config.getoption("--contract-spec"),
            max_examples=config.getoption("--contract-max-examples"),
            checks_keys=not config.getoption("--contract-any-token"),
            second_token=target.token_from_env(target.SECOND_TOKEN_ENV),
        )
    )
