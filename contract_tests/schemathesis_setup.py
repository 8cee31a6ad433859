"""The schemathesis schema the generated suites use: a view of the target's spec, its base URL, its credentials.

Loaded from the spec as the mock loads it (`Spec.document`, external references bundled), in the view the
target is held to (`Target.positive_document`) or the whole spec, with the suite's session and token,
so that generated cases obey the same budget and rate as the rest.
"""

from __future__ import annotations

from typing import Any

import schemathesis
from schemathesis.config._report import ReportConfig
from schemathesis.schemas import BaseSchema

from .target import CONFIG_PATH, Target


def load_schema(target: Target, cassette: str, document: dict[str, Any]) -> BaseSchema:
    """The schema of `document` (a view of the target's spec), configured; `cassette` names schemathesis's own
    record of the cases, for replay."""
    schema = schemathesis.openapi.from_dict(document, config=schemathesis.Config.from_path(CONFIG_PATH))
    schema.config.update(base_url=target.base_url)

    # A provider, not a fixed header: a JWT is renewed before it expires, however long the run.
    @schema.auth(refresh_interval=None)
    class SuiteAuth:
        def get(self, case: schemathesis.Case[Any], ctx: Any) -> str:
            return target.credentials.token()

        def set(self, case: schemathesis.Case[Any], data: str, ctx: Any) -> None:
            case.headers["Authorization"] = f"Bearer {data}"

    # Against a target that takes any token, a request with a made-up token is rightly accepted.
    # With a budget or a rate cap, `ignored_auth` is out too: it re-sends requests on a transport of its
    # own, around both. The hand-written auth rules (test_rules.py) test the same through the suite's session.
    if not target.checks_keys or target.budget.limited or target.throttle.rps:
        schema.config.checks.ignored_auth.enabled = False
    if target.report_dir is not None:
        path = target.report_dir / "schemathesis" / f"{cassette}.yaml"
        path.parent.mkdir(parents=True, exist_ok=True)
        schema.config.reports.vcr = ReportConfig(enabled=True, path=path)
    return schema
