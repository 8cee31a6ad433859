"""Turn schema violations into Kling's errors, with messages that name the field path.

The rules themselves are the spec's compiled schemas; this module only words their failures.
A schema node may carry `x-kling-errors: {keyword: message}` to word a failure of that keyword
better than a generic message can (for instance "required when mode is text2video").
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import jsonschema_rs

from .errors import BusinessCode, KlingError
from .spec import Operation, Spec

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
}


def validate_body(spec: Spec, validator: jsonschema_rs.Validator, body: Any) -> None:
    """Raise `KlingError` naming every violation (up to a few) of the request body."""
    if validator.is_valid(body):
        return
    errors = list(validator.iter_errors(body))
    problems = [_describe(spec, error) for error in errors]
    # A body of the wrong type altogether is a malformed request, not a bad parameter.
    malformed = any(not error.instance_path and error.schema_path[-1] == "type" for error in errors)
    code = BusinessCode.INVALID_REQUEST if malformed else BusinessCode.INVALID_PARAMETER
    message = "; ".join(problems[:_MAX_REPORTED])
    if len(problems) > _MAX_REPORTED:
        message += f"; and {len(problems) - _MAX_REPORTED} more"
    raise KlingError(code, message)


def validate_parameters(
    spec: Spec, operation: Operation, path: Mapping[str, str], query: Mapping[str, str]
) -> dict[str, Any]:
    """The operation's query and path parameters, typed as the spec says, with its defaults.

    Parameters the spec does not name are ignored, as real backends ignore them.
    """
    if not operation.parameter_types:
        return {}
    values = {}
    for name, kind in operation.parameter_types.items():
        raw = path.get(name, query.get(name))
        if raw is not None:
            values[name] = _typed(raw, kind)
    if operation.parameters_validator is None or operation.parameters_validator.is_valid(values):
        return {**operation.parameter_defaults, **values}
    problems = [
        _describe(spec, error, root="parameters") for error in operation.parameters_validator.iter_errors(values)
    ]
    raise KlingError(BusinessCode.INVALID_PARAMETER, "; ".join(problems[:_MAX_REPORTED]))


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


def _describe(spec: Spec, error: jsonschema_rs.ValidationError, root: str = "body") -> str:
    keyword = error.schema_path[-1]
    params = error.kind.as_dict()
    path = list(error.instance_path)
    if keyword == "required":
        path.append(params["property"])
    overrides = spec.schema_node(error.schema_path[:-1]).get("x-kling-errors", {})
    template = overrides.get(keyword) or _GENERIC.get(str(keyword), "is invalid ({keyword})")
    if keyword == "minLength" and params.get("limit") == 1:
        template = "must not be empty"
    return f"{_dotted(path, root)}: {template.format_map(_Params(keyword=str(keyword), **_readable(params)))}"


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
