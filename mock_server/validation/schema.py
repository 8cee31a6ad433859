"""Turn schema violations into Kling's errors, with messages that name the field path.

The rules themselves are the spec's compiled schemas; this module only words their failures.
A schema node may carry `x-kling-errors: {keyword: message}` to word a failure of that keyword
better than a generic message can (for instance "required when mode is text2video").
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import jsonschema_rs

from ..core import rules
from ..core.errors import BusinessCode, Finding, KlingError
from ..spec import Operation, schema_node

_MAX_REPORTED = 5
# Messages never echo the offending value: it may be megabytes of base64, or a secret.
_GENERIC: dict[str, str] = {
    "required": "is required",
    "type": "must be of type {types}",
    "enum": "must be one of {options}",
    "const": "must be {expected_value}",
    "minLength": "must be at least {limit} characters long",
    "maxLength": "must be at most {limit} characters long",
    "minimum": "must be >= {limit}",
    "maximum": "must be <= {limit}",
    "exclusiveMinimum": "must be > {limit}",
    "exclusiveMaximum": "must be < {limit}",
    "pattern": "must match the pattern {pattern}",
    "format": "must be a valid {format}",
    "anyOf": "must match at least one of the allowed shapes",
    "oneOf": "must match exactly one of the allowed shapes",
    "unevaluatedProperties": "is not a field of the contract",
    "additionalProperties": "is not a field of the contract",
}


def validate_body(
    document: Mapping[str, Any],
    validator: jsonschema_rs.Validator,
    body: Any,
    elsewhere: Mapping[str, str] | None = None,
) -> None:
    """Raise `KlingError` naming every violation (up to a few) of the request body.

    `elsewhere`: top-level fields another operation takes, with it; a refused body holding one is first told where
    it belongs (the seed page's request sent to identify-face rather than to the older lip-sync).
    """
    if validator.is_valid(body):
        return
    findings = body_findings(document, validator, body, elsewhere=elsewhere)
    # A body of the wrong type altogether is a malformed request, not a bad parameter.
    malformed = any(finding.path == "body" and finding.rule == "type" for finding in findings)
    code = BusinessCode.INVALID_REQUEST if malformed else BusinessCode.INVALID_PARAMETER
    raise _refusal(code, findings)


def body_findings(
    document: Mapping[str, Any],
    validator: jsonschema_rs.Validator,
    body: Any,
    within: tuple[str, ...] = (),
    elsewhere: Mapping[str, str] | None = None,
) -> list[Finding]:
    """Every violation of `validator`'s schema by `body`; with `within`, only those of schema nodes under it.

    `within` keeps the recommended schema's own advice and drops the errors it repeats from the
    schema it builds on. `elsewhere`: as `validate_body`'s, the first such field leading the findings.
    """
    findings = [
        finding
        for error in validator.iter_errors(body)
        if error.schema_path[: len(within)] == list(within)
        for finding in _describe(document, error)
    ]
    if findings and elsewhere and isinstance(body, dict):
        name = next((name for name in body if name in elsewhere), None)
        if name is not None:
            message = f"{name}: not a field of this request; {elsewhere[name]} takes it"
            findings.insert(0, Finding(rules.WRONG_ENDPOINT.name, name, message))
    return findings


def validate_parameters(operation: Operation, path: Mapping[str, str], query: Mapping[str, str]) -> dict[str, Any]:
    """The operation's query and path parameters, typed as the spec says, with its defaults.

    Parameters the spec does not name are ignored, as real backends ignore them.
    """
    values, findings = parameter_findings(operation, path, query)
    if findings:
        raise _refusal(BusinessCode.INVALID_PARAMETER, findings)
    return values


def parameter_findings(
    operation: Operation, path: Mapping[str, str], query: Mapping[str, str]
) -> tuple[dict[str, Any], list[Finding]]:
    """The typed parameters with their defaults, and every violation of their schemas."""
    if not operation.parameter_types:
        return {}, []
    values = {}
    for name, kind in operation.parameter_types.items():
        raw = path.get(name, query.get(name))
        if raw is not None:
            values[name] = _typed(raw, kind)
    if operation.parameters_validator is None or operation.parameters_validator.is_valid(values):
        return {**operation.parameter_defaults, **values}, []
    findings = [
        finding
        for error in operation.parameters_validator.iter_errors(values)
        for finding in _describe(operation.document, error, operation.parameter_locations)
    ]
    return values, findings


def _refusal(code: BusinessCode, findings: list[Finding]) -> KlingError:
    message = "; ".join(finding.message for finding in findings[:_MAX_REPORTED])
    if len(findings) > _MAX_REPORTED:
        message += f"; and {len(findings) - _MAX_REPORTED} more"
    first = findings[0]
    return KlingError(code, message, rule=rules.RULES[first.rule], path=first.path)


def _typed(value: str, kind: str) -> Any:
    """A URL's string as the JSON type the schema wants, when it is one; else as is, for the schema to refuse."""
    try:
        if kind == "integer" and value.lstrip("-").isdigit():
            return int(value)
        if kind == "number":
            return float(value)
    except ValueError:
        pass
    if kind == "boolean" and value in ("true", "false"):
        return value == "true"
    return value


def _describe(
    document: Mapping[str, Any], error: jsonschema_rs.ValidationError, locations: Mapping[str, str] | None = None
) -> list[Finding]:
    """The findings of one validation error: one, or one per property an `unevaluatedProperties` names.

    A body's paths are its fields' (`input.mode`, or `body` for the whole); parameters, validated
    together as one object, are named by where each comes from (`locations`: `query.pageSize`).
    """
    keyword = str(error.schema_path[-1])
    params = error.kind.as_dict()
    node = schema_node(dict(document), error.schema_path[:-1])
    rule = rules.for_schema(node.get("x-kling-rules", {}).get(keyword, keyword))
    template = node.get("x-kling-errors", {}).get(keyword) or _GENERIC.get(keyword, "is invalid ({keyword})")
    if keyword == "minLength" and params.get("limit") == 1:
        template = "must not be empty"
    message = template.format_map(_Params(keyword=keyword, **_readable(params)))
    base = list(error.instance_path)
    if keyword in ("unevaluatedProperties", "additionalProperties"):
        paths = [[*base, name] for name in params.get("unexpected", [])]
    else:
        paths = [[*base, params["property"]] if keyword == "required" else base]
    findings = []
    for parts in paths:
        where = _dotted(parts, "body")
        if locations is not None and parts:
            where = f"{locations.get(str(parts[0]), 'query')}.{where}"
        findings.append(Finding(rule, where, f"{where}: {message}"))
    return findings


def _dotted(path: list[str | int], root: str) -> str:
    out = root
    for part in path:
        out = f"{out}[{part}]" if isinstance(part, int) else (part if out == root else f"{out}.{part}")
    return out


class _Params(dict[str, str]):
    def __missing__(self, key: str) -> str:
        return "?"


def _readable(params: dict[str, Any]) -> dict[str, str]:
    return {key: ", ".join(map(str, value)) if isinstance(value, list) else str(value) for key, value in params.items()}
