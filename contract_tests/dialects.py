"""Which of CONTRACT.md's dialects a target speaks, found out with one minimal request of each.

The documented dialect (section 1) creates a task; the upstream one (section 4) answers faces at
once. A dialect is spoken when its minimal valid request gets a success whose body its spec's 200
response schema accepts. Each probe is billable, so it goes through the suite's budget, and the
dialect expected first is tried first: against a target that speaks it, one request suffices.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import orjson

from mock_server.spec import resolve_response

from .budget import BudgetSpent
from .target import DOCUMENTED, UPSTREAM, Target, other_dialect, spec_path_of

_SECTIONS = {DOCUMENTED: "CONTRACT.md section 1, a task to poll", UPSTREAM: "CONTRACT.md section 4, faces at once"}


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


def probe(target: Target, first: str) -> DialectFinding:
    """Send each dialect's minimal valid request, `first` first, until one is answered in its own dialect."""
    evidence = []
    probes_answered = 0
    for dialect in (first, other_dialect(first)):
        as_dialect = replace(target, dialect=dialect, spec_path=spec_path_of(dialect))
        try:
            answered = _answers_in(as_dialect)
        except BudgetSpent:
            evidence.append(f"the {dialect} probe was not sent, the billable budget being spent")
            break
        probes_answered += 1
        evidence.append(f"the {dialect} dialect's minimal request got {answered}")
        if answered == "its success":
            return DialectFinding(dialect, tuple(evidence))
    return DialectFinding(None, tuple(evidence), answered=probes_answered > 0)


def _answers_in(target: Target) -> str:
    """How the target answered the dialect's minimal request: "its success", or what it got instead."""
    operation = target.create
    example = target.minimal_example
    with target.session() as session:
        headers = {**target.auth_headers, "Content-Type": "application/json"}
        response = session.post(target.url(operation.path), json=example, headers=headers, timeout=30)
    try:
        body = orjson.loads(response.content)
    except orjson.JSONDecodeError:
        return f"HTTP {response.status_code} with a body that is not JSON"
    code = body.get("code") if isinstance(body, dict) else None
    if response.status_code != 200:
        return f"HTTP {response.status_code}, code {code}"
    success = target.spec.document["paths"][operation.path][operation.method.lower()]["responses"]["200"]
    pointer = success.get("$ref") or f"#/paths/{_escape(operation.path)}/{operation.method.lower()}/responses/200"
    if "application/json" not in resolve_response(target.spec.document, success).get("content", {}):
        return "HTTP 200 without a JSON schema to hold it to"
    validator = target.spec.validator(f"{pointer}/content/application~1json/schema")
    problems = [error.message for error in validator.iter_errors(body)]
    return "its success" if not problems else f"HTTP 200 in another shape ({problems[0]})"


def _escape(path: str) -> str:
    return path.replace("~", "~0").replace("/", "~1")
