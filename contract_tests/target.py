"""What the contract suite tests: the base URL, the dialect, the credentials and how hard to try.

Filled in from the pytest command line (see `conftest.py`); credentials come only from the
environment (`credentials.py`), so that they never show in a process list or a report.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from mock_server.spec import DEFAULT_SPEC_PATH, DIALECTS, Operation, Spec, load_spec
from mock_server.spec.decisions import Decision, catalog, contract_view, scoped

from .budget import BillableBudget
from .credentials import Credentials
from .observations import Observations
from .politeness import Throttle
from .strictness import FULL, Strictness
from .transport import Recorder, SuiteSession

CONFIG_PATH = Path(__file__).resolve().parent / "schemathesis.toml"
DOCUMENTED, UPSTREAM = "documented", "upstream"


def other_dialect(dialect: str) -> str:
    return UPSTREAM if dialect == DOCUMENTED else DOCUMENTED


# The documented dialect's create call, and the example the provider's page shows.
CREATE_OPERATION = DIALECTS[DOCUMENTED][1]
SEED_EXAMPLE = "seedDocumented"


@dataclass(frozen=True)
class Target:
    base_url: str
    credentials: Credentials
    spec_path: Path = DEFAULT_SPEC_PATH
    # Which of the contract's dialects the suite holds the target to (docs/contract.md).
    dialect: str = DOCUMENTED
    max_examples: int = 200
    # False for a target that accepts any non-empty token (`kling-mock serve` without --keys).
    checks_keys: bool = True
    budget: BillableBudget = field(default_factory=BillableBudget)
    throttle: Throttle = field(default_factory=lambda: Throttle(None))
    report_dir: Path | None = None
    # The kit's own mock is held to every decision of its spec; any other target to the contract alone.
    strictness: Strictness = field(default_factory=lambda: Strictness(FULL, "asked for"))
    observations: Observations = field(default_factory=Observations)

    @property
    def auth_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.credentials.token()}"}

    @property
    def second_token(self) -> str:
        return self.credentials.second_api_key

    @property
    def documented(self) -> bool:
        return self.dialect == DOCUMENTED

    def url(self, path: str) -> str:
        return self.base_url.rstrip("/") + path

    @cached_property
    def spec(self) -> Spec:
        return load_spec(self.spec_path)

    @cached_property
    def decisions(self) -> dict[str, Decision]:
        """The kit's decisions its spec marks: enforced at full strictness, observed otherwise."""
        return catalog(self.spec.document)

    @cached_property
    def positive_document(self) -> dict[str, Any]:
        """What valid requests are generated from, and answers judged by: a request keeping every decision is
        one any server must take; an answer is held to the contract alone, unless the target is the kit's mock."""
        if self.strictness.full:
            return self.spec.document
        return contract_view(self.spec.document, keep=scoped(self.spec.document, "request"))

    @cached_property
    def contract_spec(self) -> Spec:
        """The spec with every decision relaxed: what the contract alone requires of any server."""
        return load_spec(self.spec_path, relax_decisions=True)

    def contract_allows_body(self, operation_id: str, body: Any) -> bool:
        """Whether the contract alone takes `body` for the operation: a body that breaks only a decision does."""
        operation = next(op for op in self.contract_spec.operations if op.operation_id == operation_id)
        try:
            return operation.body_validator is not None and operation.body_validator.is_valid(body)
        except ValueError:  # not JSON at all (raw bytes)
            return False

    @cached_property
    def _other_create(self) -> Operation:
        other = other_dialect(self.dialect)
        spec = load_spec(DIALECTS[other][0], relax_decisions=True)
        return next(op for op in spec.operations if op.operation_id == DIALECTS[other][1])

    def other_dialect_takes(self, operation_id: str, body: Any) -> bool:
        """Whether `body`, sent to the work call, is a valid request of the other dialect: at the seed's path each
        request is answered in the dialect its body speaks (docs/contract.md, "Which dialect answers where"), so
        taking it breaks nothing."""
        validator = self._other_create.body_validator
        try:
            return operation_id == self.create.operation_id and validator is not None and validator.is_valid(body)
        except ValueError:  # not JSON at all (raw bytes)
            return False

    @cached_property
    def billable(self) -> tuple[Operation, ...]:
        """The operations the spec marks `x-kling-billable`: each success costs money on the real API."""
        return tuple(op for op in self.spec.operations if op.billable)

    @cached_property
    def create(self) -> Operation:
        """The call that does the work: the documented dialect's create, or the upstream's identify."""
        return next(op for op in self.spec.operations if op.operation_id == DIALECTS[self.dialect][1])

    @cached_property
    def request_examples(self) -> dict[str, Any]:
        """The work call's named request bodies in the spec, the provider's own first."""
        body = self.spec.document["paths"][self.create.path][self.create.method.lower()]["requestBody"]
        examples: dict[str, Any] = body["content"]["application/json"]["examples"]
        return {name: example["value"] for name, example in examples.items()}

    @cached_property
    def primary_example(self) -> str:
        """The example that must succeed above all: the provider page's own, in the documented dialect."""
        return SEED_EXAMPLE if self.documented else next(iter(self.request_examples))

    @property
    def minimal_example(self) -> Any:
        """The smallest valid request of the dialect (the spec's `minimal` example, else the primary one)."""
        return self.request_examples.get("minimal", self.request_examples[self.primary_example])

    @cached_property
    def recorder(self) -> Recorder:
        return Recorder(self.credentials.placeholders)

    def session(self) -> SuiteSession:
        """A session that keeps to the budget and the rate, and records what it sends."""
        base_path = urlsplit(self.base_url).path.rstrip("/")
        billable_paths = frozenset((op.method.upper(), (base_path + op.path).rstrip("/")) for op in self.billable)
        return SuiteSession(billable_paths, self.budget, self.throttle, self.recorder)


_current: Target | None = None


def configure(target: Target) -> None:
    global _current
    _current = target


def current() -> Target:
    if _current is None:
        raise RuntimeError("no target: run the suite with `kling-mock contract` or `pytest --contract-base-url URL`")
    return _current
