"""Judging a recorded request against the spec: every error the real API would refuse it for, and warnings.

The mock itself stops at the first problem; a client's authors want them all. So a request is
judged again from its recorded facts, with the same compiled schemas and the same checks the
mock answers with, collecting instead of stopping. What cannot be judged again from the record
(the token, or whether a task existed) is taken from the refusal the mock answered with.

Behind `kling-mock proxy`, the upstream's answer is judged too, apart (`upstream_verdict`,
`answers.py`): the client's verdict says what the client did wrong, the upstream's what
the upstream did.
"""

from __future__ import annotations

from urllib.parse import parse_qsl

from ..core import rules
from ..core.errors import Finding, KlingError
from ..spec import Operation, Spec
from ..validation import body_findings, body_too_large, check_media_type, parameter_findings, parse_json
from .answers import ResponseJudge
from .entries import Entry
from .verdict import Verdict

# Refusals the record cannot be judged again for (the token is not kept, nor a JWT's times; a task's
# existence was of its moment), so the verdict takes them from the answer. Every other refusal is
# worked out again, along with whatever else the answer did not mention.
_TAKEN_FROM_ANSWER = frozenset(
    rule.name
    for rule in (
        rules.AUTH_MISSING,
        rules.AUTH_MALFORMED,
        rules.AUTH_REJECTED,
        rules.AUTH_NOT_YET_VALID,
        rules.AUTH_EXPIRED,
        rules.UNKNOWN_PATH,
        rules.PATH_SPELLING,
        rules.METHOD,
        rules.UNKNOWN_TASK,
        rules.SCENARIO_HEADER,
        rules.SESSION,
        rules.FACE,
        rules.CLIP_LENGTH,
        rules.CLIP_PAST_AUDIO,
        rules.AUDIO,
        rules.INSERT_PAST_VIDEO,
        rules.INSERT_OUTSIDE_FACE,
        rules.EXTERNAL_TASK_ID_TAKEN,
    )
)


class Judge:
    """Judges the journal's entries against the operations of `specs` (a mock serves several views, one per path
    prefix, their operations alike by operationId); with `responses` (a proxy's), the upstream's answers too."""

    def __init__(self, *specs: Spec, responses: ResponseJudge | None = None) -> None:
        self._responses = responses
        self._operations = {operation.operation_id: operation for spec in specs for operation in spec.operations}

    def verdict(self, entry: Entry) -> Verdict:
        """The entry's verdict, worked out once."""
        if entry.verdict is None:
            entry.verdict = self._judge(entry)
        return entry.verdict

    def upstream_verdict(self, entry: Entry) -> Verdict | None:
        """The verdict of the upstream's answer, worked out once; None when no upstream answered."""
        upstream = entry.upstream
        if upstream is None or upstream.status is None or self._responses is None:
            return None
        if upstream.verdict is None:
            operation = self._operations.get(entry.operation_id or "")
            errors, warnings = self._responses.verdict(operation, entry.method, upstream, self.verdict(entry).errors)
            upstream.verdict = Verdict(errors, warnings)
        return upstream.verdict

    def judge(self, entry: Entry) -> None:
        """Both verdicts, while the entry still holds what they are made from."""
        self.verdict(entry)
        self.upstream_verdict(entry)

    def _judge(self, entry: Entry) -> Verdict:
        errors: list[Finding] = []
        warnings: list[Finding] = []
        refusal = entry.refusal
        operation = self._operations.get(entry.operation_id or "")
        if refusal is not None and refusal.rule in _TAKEN_FROM_ANSWER:
            errors.append(refusal)
        if operation is None:
            return Verdict(_unique(errors), ())
        query = dict(parse_qsl(entry.query, keep_blank_values=True))
        path_values = _path_values(operation, entry.path)
        _, parameter_errors = parameter_findings(operation, path_values, query)
        errors += parameter_errors
        warnings += [
            Finding(rules.UNKNOWN_PARAMETER.name, f"query.{name}", f"query.{name}: is not a parameter of the contract")
            for name in query
            if name not in operation.parameter_types
        ]
        if operation.body_validator is not None:
            body_errors, body_warnings = self._judge_body(operation, entry)
            errors += body_errors
            warnings += body_warnings
        minimum = operation.min_poll_interval_ms
        if minimum is not None and entry.since_last_poll_ms is not None and entry.since_last_poll_ms < minimum:
            warnings.append(
                Finding(
                    rules.POLLING_TOO_FAST.name,
                    "path.task_id",
                    f"{entry.path}: polled again after {entry.since_last_poll_ms} ms; "
                    f"poll the same task at most once every {minimum} ms",
                )
            )
        return Verdict(_unique(errors), _unique(warnings))

    def _judge_body(self, operation: Operation, entry: Entry) -> tuple[list[Finding], list[Finding]]:
        errors: list[Finding] = []
        try:
            check_media_type(entry.headers.get("content-type"), operation.media_types)
        except KlingError as exc:
            errors.append(exc.finding)
        if entry.body_bytes > operation.max_body_bytes:
            errors.append(body_too_large(operation.max_body_bytes).finding)
            return errors, []
        try:
            body = parse_json(entry.body, operation.max_body_depth)
        except KlingError as exc:
            errors.append(exc.finding)
            return errors, []
        operation = self._operations.get(operation.answered_as(body), operation)
        assert operation.body_validator is not None
        errors += body_findings(operation.document, operation.body_validator, body, elsewhere=operation.elsewhere)
        warnings: list[Finding] = []
        if operation.recommended_validator is not None:
            warnings = body_findings(
                operation.document, operation.recommended_validator, body, operation.recommended_at
            )
        return errors, warnings


def _path_values(operation: Operation, path: str) -> dict[str, str]:
    """The path parameters of `path`, matched against the operation's template segment by segment, from the end:
    a path prefix (`/kling`) comes before the template."""
    values = {}
    for template, actual in zip(reversed(operation.path.split("/")), reversed(path.split("/")), strict=False):
        if template.startswith("{") and template.endswith("}"):
            values[template[1:-1]] = actual
    return values


def _unique(findings: list[Finding]) -> tuple[Finding, ...]:
    """Findings once each: a rule reached through two schema branches reports the same thing twice."""
    return tuple(dict.fromkeys(findings))
