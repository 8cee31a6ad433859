"""Options of the contract suite. `kling-mock contract` passes them; so can a plain pytest run:

KLING_API_KEY=... pytest contract_tests --contract-base-url https://staging.example
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from mock_server.spec import DEFAULT_SPEC_PATH

from . import target
from .budget import BillableBudget
from .credentials import Credentials, CredentialsMissing
from .politeness import suite_throttle
from .report import DriftReport
from .strictness import AUTO, LEVELS, chosen
from .transport import SuiteSession

# The hand-written rules first, then the lifecycle, then generated cases: a small budget goes to the
# requests that say most.
_MODULE_ORDER = (
    "test_rules.py",
    "test_rules_documented.py",
    "test_rules_upstream.py",
    "test_lip_sync.py",
    "test_decisions.py",
    "test_lifecycle.py",
    "test_schema.py",
)


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("kling-contract", "Kling identify-face contract suite")
    group.addoption("--contract-base-url", help="base URL of the API under test (required)")
    group.addoption(
        "--contract-max-examples", type=int, default=200, help="generated cases per operation (default: 200)"
    )
    group.addoption("--contract-spec", type=Path, default=DEFAULT_SPEC_PATH, help="the OpenAPI spec to test against")
    group.addoption(
        "--contract-dialect",
        choices=[target.DOCUMENTED, target.UPSTREAM],
        default=target.DOCUMENTED,
        help="the dialect the target is held to (docs/contract.md, Which dialect answers where)",
    )
    group.addoption(
        "--contract-any-token",
        action="store_true",
        help="the target accepts any non-empty token (a mock without --keys): skip the unknown-key tests",
    )
    group.addoption(
        "--contract-max-billable", type=int, help="at most this many task-creating calls (default: no limit)"
    )
    group.addoption(
        "--contract-billable-spent", type=int, default=0, help="billable calls already made in this run (the probe)"
    )
    group.addoption("--contract-rps", type=float, help="at most this many requests per second (default: no limit)")
    group.addoption("--contract-report-dir", type=Path, help="write drift-report.md here")
    group.addoption(
        "--contract-strictness",
        choices=[*LEVELS, AUTO],
        default=AUTO,
        help="full: every decision of the kit's spec; contract: the contract alone, decisions observed; auto: full "
        "for the kit's own mock, else contract (default)",
    )
    group.addoption("--contract-dialect-finding", default="", help="what a probe found out about the target's dialect")


def pytest_configure(config: pytest.Config) -> None:
    base_url = config.getoption("--contract-base-url")
    if not base_url:
        raise pytest.UsageError("the contract suite needs --contract-base-url (or run `kling-mock contract`)")
    try:
        credentials = Credentials.from_env()
    except CredentialsMissing as exc:
        raise pytest.UsageError(f"the contract suite needs credentials: {exc}") from None
    report_dir = config.getoption("--contract-report-dir")
    throttle = suite_throttle(config.pluginmanager.get_plugins(), config.getoption("--contract-rps"))
    with requests.Session() as probing:
        strictness = chosen(config.getoption("--contract-strictness"), base_url, probing)
    suite_target = target.Target(
        base_url=base_url,
        credentials=credentials,
        spec_path=config.getoption("--contract-spec"),
        dialect=config.getoption("--contract-dialect"),
        max_examples=config.getoption("--contract-max-examples"),
        checks_keys=not config.getoption("--contract-any-token"),
        budget=BillableBudget(
            config.getoption("--contract-max-billable"), spent=config.getoption("--contract-billable-spent")
        ),
        throttle=throttle,
        report_dir=report_dir,
        strictness=strictness,
    )
    target.configure(suite_target)
    if report_dir is not None:
        config.pluginmanager.register(
            DriftReport(suite_target, config.getoption("--contract-dialect-finding")), "kling-drift-report"
        )


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    def rank(item: pytest.Item) -> int:
        name = item.path.name
        return _MODULE_ORDER.index(name) if name in _MODULE_ORDER else len(_MODULE_ORDER)

    items.sort(key=rank)  # stable: each module keeps its own order


@pytest.fixture(scope="module")
def http() -> Iterator[SuiteSession]:
    """The suite's session: within the budget and the rate, recording what it sends."""
    with target.current().session() as session:
        yield session
