"""How strictly the suite holds its target: the kit's own mock to everything its spec says, any other to the
contract alone.

The spec decides what the contract leaves open (docs/contract.md, "What the contract suite holds a real target
to"), and marks each decision. Against the kit's own mock every decision is enforced: the mock made them. A
server that decided otherwise is not wrong, so against any other target the suite holds it to the contract only,
and reports what it did with each decision as an observation, never a failure.

A target says it is the kit's mock by the header it sends with its spec (`GET /openapi.yaml`): the mock enforcing
its decisions says `enforced`, one started with `--relax-decisions` says `relaxed`, and anything else (no such
header, no such path) is a target of its own.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

import requests

FULL, CONTRACT, AUTO = "full", "contract", "auto"
LEVELS = (FULL, CONTRACT)
# What the kit's mock sends with `/openapi.yaml` (mock_server's `DECISIONS_HEADER`, which the suite may not import).
DECISIONS_HEADER = "X-Kling-Mock-Decisions"
ENFORCED = "enforced"


@dataclass(frozen=True)
class Strictness:
    level: str
    # Why this level, for the run's first lines and its report.
    reason: str

    @property
    def full(self) -> bool:
        return self.level == FULL

    def headline(self) -> str:
        if self.full:
            return f"Held to the contract and every decision of the kit's spec: {self.reason}."
        return (
            f"Held to the contract alone: {self.reason}. What it does where the contract is silent is reported as "
            "observations, never as failures (--strictness full to enforce the kit's decisions)."
        )


def chosen(level: str, base_url: str, session: requests.Session) -> Strictness:
    """The level asked for, or, with `auto`, the one the target calls for (one GET of its spec, not billable)."""
    if level == FULL:
        return Strictness(FULL, "asked for with --strictness full")
    if level == CONTRACT:
        return Strictness(CONTRACT, "asked for with --strictness contract")
    said = _decisions_said(base_url, session)
    if said == ENFORCED:
        return Strictness(FULL, "the target is the kit's own mock, which enforces them")
    if said is not None:
        return Strictness(CONTRACT, f"the target is the kit's mock with its decisions {said}")
    return Strictness(CONTRACT, "the target is not the kit's own mock")


def _decisions_said(base_url: str, session: requests.Session) -> str | None:
    """What the target's spec endpoint says of its decisions: under the base URL, else at its origin."""
    parts = urlsplit(base_url)
    origin = f"{parts.scheme}://{parts.netloc}"
    for url in dict.fromkeys((base_url.rstrip("/") + "/openapi.yaml", origin + "/openapi.yaml")):
        try:
            response = session.get(url, timeout=10)
        except requests.RequestException:
            return None
        said = response.headers.get(DECISIONS_HEADER) if response.status_code == 200 else None
        if said is not None:
            return said.strip().lower()
    return None
