"""Which of the contract's dialects a target speaks, found out with one minimal request of each.

The documented dialect (section 1) creates a task; the upstream one (section 4) answers faces at
once. A dialect is spoken when its minimal valid request gets a success of its shape: a `task_id`,
or faces (`face_data`, or a provider's `face_list`, or a `session_id`). Whether the rest of the
answer keeps the contract is the suite's to say, not the probe's. An answer that says nothing of
the dialect (401, 429, 5xx) leaves it unknown. Each probe is billable, so it goes through the
suite's budget, and the dialect expected first is tried first: against a target that speaks it,
one request suffices.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import orjson

from mock_server.spec import dialect_spec

from .budget import BudgetSpent
from .target import DOCUMENTED, UPSTREAM, Target, other_dialect

_SECTIONS = {DOCUMENTED: "docs/contract.md, a task to poll", UPSTREAM: "docs/contract.md, faces at once"}
# What a success's `data` holds in each dialect.
_SHAPES = {DOCUMENTED: frozenset({"task_id"}), UPSTREAM: frozenset({"face_data", "face_list", "session_id"})}
# Refusals about the request's shape: the target understood enough of the request to judge it.
_SHAPE_REFUSALS = frozenset({400, 404, 422})


@dataclass(frozen=True)
class DialectFinding:
    speaks: str | None  # DOCUMENTED, UPSTREAM, or None when neither was recognised
    evidence: tuple[str, ...]
    # Whether any probe was sent and answered: without one, nothing is known.
    answered: bool = True

    def headline(self, held_to: str) -> str:
        """The sentence the output and the report open with."""
        if self.speaks is None:
            known = "neither dialect" if self.answered else "an unknown dialect"
            return f"The target speaks {known}: {'; '.join(self.evidence)}. Held to the {held_to} dialect."
        text = f"The target speaks the {self.speaks} dialect ({_SECTIONS[self.speaks]})"
        if self.speaks != held_to:
            text += f", not the {held_to} one this run holds it to: expect failures"
        return text + "."


def probe_targets(target: Target, first: str) -> tuple[Target, ...]:
    """The target as each dialect's probe sees it, with that dialect's own spec, `first` first."""
    return tuple(
        replace(target, dialect=dialect, spec_path=dialect_spec(dialect, None))
        for dialect in (first, other_dialect(first))
    )


def probe(target: Target, first: str) -> DialectFinding:
    """Send each dialect's minimal valid request, `first` first, until one is answered in its own dialect."""
    evidence = []
    telling = 0
    for as_dialect in probe_targets(target, first):
        dialect = as_dialect.dialect
        try:
            status, data_keys, description = _ask(as_dialect)
        except BudgetSpent:
            evidence.append(f"the {dialect} probe was not sent, the billable budget being spent")
            break
        evidence.append(f"the {dialect} dialect's minimal request got {description}")
        if status == 200 and data_keys & _SHAPES[dialect]:
            return DialectFinding(dialect, tuple(evidence))
        telling += status == 200 or status in _SHAPE_REFUSALS
    return DialectFinding(None, tuple(evidence), answered=telling > 0)


def _ask(target: Target) -> tuple[int, frozenset[str], str]:
    """Send the dialect's minimal request: the status, the keys of a success's `data`, and a description."""
    with target.session() as session:
        headers = {**target.auth_headers, "Content-Type": "application/json"}
        response = session.post(
            target.url(target.create.path), json=target.minimal_example, headers=headers, timeout=30
        )
    try:
        body = orjson.loads(response.content)
    except orjson.JSONDecodeError:
        return response.status_code, frozenset(), f"HTTP {response.status_code} with a body that is not JSON"
    body = body if isinstance(body, dict) else {}
    data = body.get("data")
    keys = frozenset(data) if isinstance(data, dict) else frozenset()
    if response.status_code == 200:
        shown = ", ".join(sorted(keys)) or "nothing"
        return 200, keys, f"HTTP 200 with data holding {shown}"
    return response.status_code, keys, f"HTTP {response.status_code}, code {body.get('code')}"
