"""Judging an upstream's answer against the spec, for `kling-mock proxy`: Kling's envelope and the response schemas.

The request's verdict (`judge.Judge`) says what the client did wrong; this says what the upstream
did wrong answering it. Every rule comes from the spec: the business-code table from its error
responses (`Spec.status_by_code`), the schemas from each operation's `responses`, compiled once.
What a schema already says (ids of 22 characters, `message: SUCCEED` on HTTP 200, millisecond
timestamps) is left to it; the envelope rules add only what no single schema can say.

Rule names all start with `response-`, so that a finding names its side by itself:

- `response-content-type`: the answer is not `application/json`;
- `response-envelope`: its body is not a JSON object (not JSON, too deep, or a broken Content-Encoding);
- `response-status`: HTTP status and business code disagree (200 exactly when code 0; each error code
  with its status in the table), or the operation declares no answer with that status;
- `response-schema`: the body breaks the schema the operation declares for that status;
- `response-refused-valid-request`: a refusal for a reason the request did not have (1001, 1002, 1200,
  1201, 1202, or 1203 for a known path), when the request's verdict has no error;
- warnings: `response-accepted-invalid-request` (HTTP 200 to a request the contract refuses) and
  `response-not-judged` (a Content-Encoding the proxy cannot undo: the body was not judged).
"""

from __future__ import annotations

from typing import Any

import jsonschema_rs

from ..core import rules
from ..core.errors import BusinessCode, Finding, KlingError
from ..core.rules import Rule
from ..spec import Operation, Spec, json_pointer, resolve_response
from ..validation import body_findings, check_media_type, parse_json
from .entries import UpstreamAnswer

_JSON = "application/json"
# A Kling answer nests 5 levels; deeper is no answer of this API, and would strain the validator.
_MAX_DEPTH = 64
# Refusals whose every reason the request's verdict works out again: when it finds none, the upstream
# refused for a reason the contract does not have. (1203 only for an operation without path parameters:
# for one with, it is an unknown task, which only the upstream knows.)
_REJUDGED = frozenset(
    {
        BusinessCode.AUTH_MISSING,
        BusinessCode.AUTH_MALFORMED,
        BusinessCode.INVALID_REQUEST,
        BusinessCode.INVALID_PARAMETER,
        BusinessCode.INVALID_METHOD,
    }
)


def _finding(rule: Rule, path: str, message: str) -> Finding:
    return Finding(rule.name, path, f"{path}: {message}")


class ResponseJudge:
    """The spec's response rules, compiled once: `verdict` judges one upstream answer."""

    def __init__(self, *specs: Spec) -> None:
        """`specs`: the specs the proxy judges by, one per path prefix (their operations alike by operationId)."""
        self.spec = specs[0]
        # Per operation, each declared status key ("200", "4XX", "default") with its body's validator, if any.
        self._responses: dict[str, dict[str, jsonschema_rs.Validator | None]] = {}
        # Per operation, the document its validators were compiled against, where their errors' schema paths point.
        self._documents: dict[str, dict[str, Any]] = {}
        for spec in specs:
            for operation in spec.operations:
                self._responses[operation.operation_id] = self._compile(spec, operation)
                self._documents[operation.operation_id] = spec.document

    @staticmethod
    def _compile(spec: Spec, operation: Operation) -> dict[str, jsonschema_rs.Validator | None]:
        method = operation.method.lower()
        declared = spec.document["paths"][operation.path][method].get("responses", {})
        compiled: dict[str, jsonschema_rs.Validator | None] = {}
        for key, response in declared.items():
            base = response.get("$ref") or json_pointer("paths", operation.path, method, "responses", str(key))
            has_schema = "schema" in resolve_response(spec.document, response).get("content", {}).get(_JSON, {})
            compiled[str(key)] = (
                spec.validator(base + json_pointer("content", _JSON, "schema")[1:]) if has_schema else None
            )
        return compiled

    def _refused_valid(
        self, operation: Operation | None, status: int, code: int, request_errors: tuple[Finding, ...]
    ) -> list[Finding]:
        rejudged = code in _REJUDGED or (code == BusinessCode.NOT_FOUND and not _has_path_parameters(operation))
        if operation is not None:
            rejudged = rejudged and code not in operation.content_refusals
        if status == 200 or request_errors or not rejudged:
            return []
        message = f"{code} refuses a request whose verdict has no error: the upstream is stricter than the contract"
        return [_finding(rules.RESPONSE_REFUSED_VALID_REQUEST, "code", message)]

    def verdict(
        self, operation: Operation | None, method: str, answer: UpstreamAnswer, request_errors: tuple[Finding, ...]
    ) -> tuple[tuple[Finding, ...], tuple[Finding, ...]]:
        """The errors and warnings of `answer` (one with a status), given the errors of the request it answers."""
        assert answer.status is not None
        status = answer.status
        declared = self._responses.get(operation.operation_id, {}) if operation else {}
        key = _declared_key(declared, status)
        errors = _content_type(answer)
        if operation is not None and key is None:
            listed = ", ".join(declared)
            message = f"HTTP {status} is not an answer the contract declares for {operation.operation_id} ({listed})"
            errors.append(_finding(rules.RESPONSE_STATUS, "status", message))
        body, body_errors, warnings = _body(method, answer)
        errors += body_errors
        code = body.get("code") if isinstance(body, dict) else None
        disagreement = []
        if isinstance(code, int) and not isinstance(code, bool):
            disagreement = self._agreement(status, code)
            errors += disagreement + self._refused_valid(operation, status, code, request_errors)
        warnings += _accepted_invalid(status, request_errors)
        validator = declared.get(key) if key is not None else None
        if body is not None and validator is not None and operation is not None:
            errors += [
                Finding(rules.RESPONSE_SCHEMA.name, finding.path, finding.message)
                for finding in body_findings(self._documents[operation.operation_id], validator, body)
                # The table is the code enums of the error responses: a disagreement is said once.
                if not (disagreement and finding.path == "code")
            ]
        return tuple(dict.fromkeys(errors)), tuple(dict.fromkeys(warnings))

    def _agreement(self, status: int, code: int) -> list[Finding]:
        """HTTP 200 exactly when code 0; every other code with the status Kling's table gives it."""
        expected = self.spec.status_by_code.get(code)
        sent_with = f", which Kling sends with HTTP {expected}" if expected is not None else ""
        if status == 200 and code != 0:
            return [_finding(rules.RESPONSE_STATUS, "code", f"HTTP 200 must carry code 0, got {code}{sent_with}")]
        if status != 200 and code == 0:
            return [_finding(rules.RESPONSE_STATUS, "code", f"code 0 (success) came with HTTP {status}")]
        if status != 200 and expected is None:
            return [_finding(rules.RESPONSE_STATUS, "code", f"{code} is not in Kling's business-code table")]
        if status != 200 and expected != status:
            return [_finding(rules.RESPONSE_STATUS, "code", f"{code} is sent with HTTP {expected}, not {status}")]
        return []


def _declared_key(declared: dict[str, Any], status: int) -> str | None:
    """The response key that covers `status`: the exact status, its range (`4XX`), or `default`."""
    for key in (str(status), f"{status // 100}XX", "default"):
        if key in declared:
            return key
    return None


def _content_type(answer: UpstreamAnswer) -> list[Finding]:
    try:
        check_media_type(answer.headers.get("content-type"), (_JSON,))
    except KlingError as exc:
        return [Finding(rules.RESPONSE_CONTENT_TYPE.name, exc.path, exc.message)]
    return []


def _body(method: str, answer: UpstreamAnswer) -> tuple[Any, list[Finding], list[Finding]]:
    """The body parsed when it is a JSON object, else None; and the errors and warnings that say why not."""
    if method == "HEAD":
        return None, [], []  # an answer to HEAD has no body
    if answer.undecoded is not None:
        return None, [], [_finding(rules.RESPONSE_NOT_JUDGED, "body", f"not judged: {answer.undecoded}")]
    try:
        body = parse_json(answer.body, _MAX_DEPTH)
    except KlingError as exc:
        return None, [Finding(rules.RESPONSE_ENVELOPE.name, "body", exc.message)], []
    if not isinstance(body, dict):
        message = f"must be a JSON object (Kling's envelope), got {type(body).__name__}"
        return None, [_finding(rules.RESPONSE_ENVELOPE, "body", message)], []
    return body, [], []


def _accepted_invalid(status: int, request_errors: tuple[Finding, ...]) -> list[Finding]:
    if status != 200 or not request_errors:
        return []
    broken = ", ".join(dict.fromkeys(finding.rule for finding in request_errors))
    message = f"HTTP 200 accepts a request the contract refuses ({broken}): the upstream is more lenient"
    return [_finding(rules.RESPONSE_ACCEPTED_INVALID_REQUEST, "status", message)]


def _has_path_parameters(operation: Operation | None) -> bool:
    return operation is not None and "path" in operation.parameter_locations.values()
