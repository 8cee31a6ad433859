"""Load the OpenAPI document once and compile everything the mock needs from it.

The mock holds no copy of the contract's rules: routes, media types, body limits, request schemas
and the business-code table all come from here, so that editing the spec is enough to change
the mock.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any
from urllib.parse import quote

import jsonschema_rs
import yaml

from . import decisions
from .bundle import SpecBundleError, bundle, dump

_PACKAGE_DIR = Path(__file__).resolve().parent.parent
# A wheel carries a copy of the spec inside the package; a source checkout reads the one at the root.
_SPEC_DIR = _PACKAGE_DIR / "openapi" if (_PACKAGE_DIR / "openapi").exists() else _PACKAGE_DIR.parent / "openapi"
DEFAULT_SPEC_PATH = _SPEC_DIR / "identify-face.yaml"
# The synchronous dialect (docs/contract.md), which references the documented spec's components.
UPSTREAM_SPEC_PATH = _SPEC_DIR / "identify-face-upstream.yaml"
# Each request in the dialect its body speaks, as the seed's path is served (docs/contract.md).
BY_BODY_SPEC_PATH = _SPEC_DIR / "identify-face-by-body.yaml"
DOCUMENTED, UPSTREAM, BY_BODY = "documented", "upstream", "by-body"
# The dialects of identify-face (`serve --dialect`, `contract --dialect`): each one's spec (which serves the lip-sync
# flow too, from lip-sync.yaml), and the operation only that dialect has, by which a spec is known to speak it.
DIALECTS: dict[str, tuple[Path, str]] = {
    DOCUMENTED: (DEFAULT_SPEC_PATH, "createIdentifyFaceTask"),
    UPSTREAM: (UPSTREAM_SPEC_PATH, "identifyFace"),
    BY_BODY: (BY_BODY_SPEC_PATH, "identifyFaceByBody"),
}
# Every operation is served under Kling's own paths (`/v1/videos/...`) and the aggregators' (`/kling/v1/...`);
# identify-face in the dialect its sources give each path unless one is forced (docs/contract.md, "Which dialect
# answers where").
PREFIXES = ("", "/kling")
DIALECT_BY_PREFIX = {"": UPSTREAM, "/kling": BY_BODY}
# The mock's own admin API (`serve --admin`), whose schemas also validate scenarios.
ADMIN_SPEC_PATH = _SPEC_DIR / "admin.yaml"

HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")


@dataclass(frozen=True)
class Operation:
    """One operation of the spec, with what validating a request to it takes, compiled."""

    operation_id: str
    method: str
    path: str
    media_types: tuple[str, ...]
    max_body_bytes: int
    max_body_depth: int
    requires_auth: bool
    body_validator: jsonschema_rs.Validator | None = field(repr=False)
    # Query and path parameters, validated together as one object; each with its JSON type, to
    # turn the strings of a URL into the values the schema expects.
    parameter_types: dict[str, str] = field(default_factory=dict)
    # Each parameter's place, `query` or `path`, which findings name it by (`query.pageSize`).
    parameter_locations: dict[str, str] = field(default_factory=dict)
    parameter_defaults: dict[str, Any] = field(default_factory=dict)
    parameters_validator: jsonschema_rs.Validator | None = field(default=None, repr=False)
    # The body as a careful client sends it (`x-kling-recommended`): its breaches are warnings. Only
    # errors located under `recommended_at` are its own; the rest repeat the body schema's.
    recommended_validator: jsonschema_rs.Validator | None = field(default=None, repr=False)
    recommended_at: tuple[str, ...] = ()
    # Polling the same resource faster than this is worth a warning (`x-kling-min-poll-interval-ms`).
    min_poll_interval_ms: int | None = None
    # A success costs money on the real API (`x-kling-billable`): the contract suite budgets it.
    billable: bool = False
    # Codes it answers for what the content holds, not its form (`x-kling-content-refusals`).
    content_refusals: frozenset[int] = frozenset()
    # The operations that answer it, by what the body holds (`x-kling-by-body`): the first whose schema the body
    # matches (None: any), by operationId.
    by_body: tuple[tuple[jsonschema_rs.Validator | None, str], ...] = field(default=(), repr=False)
    # Top-level fields of a body another operation takes (`x-kling-elsewhere`), each with that operation
    # (`POST /v1/videos/lip-sync`): a refused body holding one is told where it belongs.
    elsewhere: dict[str, str] = field(default_factory=dict)
    # The document its validators were compiled against, where a validation error's schema path points.
    document: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    def answered_as(self, body: Any) -> str:
        """The operationId that answers `body`: this one's, or, dispatched by body, the first whose `when` holds."""
        for when, operation_id in self.by_body:
            if when is None or when.is_valid(body):
                return operation_id
        return self.operation_id


@dataclass(frozen=True)
class Spec:
    """The parsed spec: its text, its self-contained document and its compiled operations.

    `text` is the file as written, or, when the file references another's components, the bundled
    document as YAML: what `/openapi.yaml` serves must stand alone.
    """

    text: str
    document: dict[str, Any]
    operations: tuple[Operation, ...]
    # `enforced`: the spec as written, the kit's decisions included; `relaxed`: the contract alone.
    decisions: str = decisions.ENFORCED

    @cached_property
    def status_by_code(self) -> dict[int, int]:
        return {code: status for code, (status, _) in business_code_table(self.document).items()}

    @cached_property
    def meaning_by_code(self) -> dict[int, str]:
        return {code: meaning for code, (_, meaning) in business_code_table(self.document).items()}

    def validator(self, pointer: str) -> jsonschema_rs.Validator:
        """A validator of the schema at `pointer` (e.g. `#/components/schemas/Scenario`)."""
        return _compile(self.document, {"$ref": pointer})

    def schema_node(self, schema_path: list[str | int]) -> Any:
        """The node of the document at a validator's schema path."""
        return schema_node(self.document, schema_path)


def schema_node(document: dict[str, Any], schema_path: list[str | int]) -> Any:
    """The node of `document` at a validator's schema path (the validator compiled against it)."""
    node: Any = document
    for part in schema_path:
        node = node[part]
    return node


def business_code_table(document: dict[str, Any]) -> dict[int, tuple[int, str]]:
    """Kling's business-code table: each code with the HTTP status it is sent with, and its meaning.

    Read from the `code` enums of the error responses the operations declare, so that the spec's
    `components.responses` are the only copy of the table.
    """
    table: dict[int, tuple[int, str]] = {}
    for item in document["paths"].values():
        for method in HTTP_METHODS:
            for status, response in item.get(method, {}).get("responses", {}).items():
                response = resolve_response(document, response)
                schema = response.get("content", {}).get("application/json", {}).get("schema", {})
                for part in schema.get("allOf", []):
                    code_schema = part.get("properties", {}).get("code", {})
                    meanings = code_schema.get("x-enum-descriptions", [])
                    for index, code in enumerate(code_schema.get("enum", [])):
                        meaning = meanings[index] if index < len(meanings) else response.get("description", "")
                        table[code] = (int(status), meaning)
    return table


def resolve_response(document: dict[str, Any], response: dict[str, Any]) -> dict[str, Any]:
    """A response object, following its `$ref` into `components.responses`."""
    if "$ref" in response:
        resolved: dict[str, Any] = document["components"]["responses"][response["$ref"].rsplit("/", 1)[-1]]
        return resolved
    return response


class SpecProblem(ValueError):
    """A spec that cannot serve as asked: unreadable, or not of the dialect named."""


def dialect_spec(dialect: str | None, spec: Path | None) -> Path:
    """The spec a dialect is served or tested by: its own, or the one given, which must speak it."""
    if spec is None:
        return DIALECTS[dialect or "documented"][0]
    if dialect is None:
        return spec
    operation_id = DIALECTS[dialect][1]
    try:
        operations = {operation.operation_id for operation in load_spec(spec).operations}
    except OSError as exc:
        raise SpecProblem(f"--spec {spec}: cannot read it ({exc.strerror})") from None
    except (yaml.YAMLError, SpecBundleError, decisions.DecisionError, KeyError, TypeError, AttributeError) as exc:
        raise SpecProblem(f"--spec {spec}: not an OpenAPI document the mock can use ({type(exc).__name__})") from None
    if operation_id not in operations:
        raise SpecProblem(f"--spec {spec} is not of the {dialect} dialect: it has no {operation_id} operation")
    return spec


def views(dialect: str | None, spec: Path | None) -> dict[str, Path]:
    """The spec each path prefix answers by: `spec` on every path, else `dialect`'s, else each path its own."""
    if spec is not None:
        return dict.fromkeys(PREFIXES, spec)
    if dialect is not None:
        return dict.fromkeys(PREFIXES, DIALECTS[dialect][0])
    return {prefix: DIALECTS[DIALECT_BY_PREFIX[prefix]][0] for prefix in PREFIXES}


def load_spec(path: Path = DEFAULT_SPEC_PATH, relax_decisions: bool = False) -> Spec:
    """The spec at `path`, bundled and compiled; with `relax_decisions`, its contract view (`decisions.py`)."""
    text = path.read_text(encoding="utf-8")
    document, bundled = bundle(yaml.safe_load(text), path)
    decisions.check(document)
    if relax_decisions:
        document = decisions.contract_view(document)
    if bundled or relax_decisions:
        text = dump(document)
    global_security = document.get("security", [])
    operations = []
    for route, item in document["paths"].items():
        for method in HTTP_METHODS:
            if method in item:
                operations.append(_compile_operation(document, route, method, global_security))
    view = decisions.RELAXED if relax_decisions else decisions.ENFORCED
    return Spec(text=text, document=document, operations=tuple(operations), decisions=view)


def _operation_named(document: dict[str, Any], operation_id: str) -> str:
    """`POST /v1/videos/lip-sync`: how a message names the operation `operation_id` of the document."""
    for route, item in document["paths"].items():
        for method in HTTP_METHODS:
            if item.get(method, {}).get("operationId") == operation_id:
                return f"{method.upper()} {route}"
    raise KeyError(f"x-kling-elsewhere names {operation_id}, not an operation of the spec")


def _parameters(document: dict[str, Any], route: str, method: str) -> list[tuple[str, dict[str, Any]]]:
    """The operation's parameters with the path item's it does not override, each with its JSON pointer, `$ref`s to
    `components.parameters` followed."""
    item = document["paths"][route]
    found: dict[tuple[str, str], tuple[str, dict[str, Any]]] = {}
    for at in (("paths", route, "parameters"), ("paths", route, method, "parameters")):
        listed = item.get("parameters", []) if len(at) == 3 else item[method].get("parameters", [])
        for index, parameter in enumerate(listed):
            pointer = json_pointer(*at, str(index))
            if "$ref" in parameter:
                pointer = parameter["$ref"]
                parameter = document["components"]["parameters"][pointer.rsplit("/", 1)[-1]]
            found[parameter["name"], parameter["in"]] = (pointer, parameter)
    return list(found.values())


def _compile_operation(document: dict[str, Any], route: str, method: str, global_security: list[Any]) -> Operation:
    raw = document["paths"][route][method]
    body = raw.get("requestBody")
    validator = recommended_validator = None
    recommended_at: tuple[str, ...] = ()
    media_types: tuple[str, ...] = ()
    max_body_bytes = max_body_depth = 0
    if body is not None:
        media_types = tuple(body["content"])
        max_body_bytes = int(body.get("x-kling-max-body-bytes", 1024 * 1024))
        max_body_depth = int(body.get("x-kling-max-body-depth", 32))
        pointer = json_pointer("paths", route, method, "requestBody", "content", media_types[0], "schema")
        validator = _compile(document, {"$ref": pointer})
        recommended = body.get("x-kling-recommended")
        if recommended is not None:
            recommended_validator = _compile(document, recommended)
            recommended_at = tuple(recommended["$ref"].removeprefix("#/").split("/"))
    parameter_types: dict[str, str] = {}
    parameter_locations: dict[str, str] = {}
    parameter_defaults: dict[str, Any] = {}
    properties: dict[str, Any] = {}
    required: list[str] = []
    for pointer, parameter in _parameters(document, route, method):
        if parameter["in"] not in ("query", "path"):
            continue
        name = parameter["name"]
        parameter_types[name] = parameter.get("schema", {}).get("type", "string")
        parameter_locations[name] = parameter["in"]
        if "default" in parameter.get("schema", {}):
            parameter_defaults[name] = parameter["schema"]["default"]
        properties[name] = {"$ref": f"{pointer}/schema"}
        if parameter.get("required"):
            required.append(name)
    parameters_validator = None
    if properties:
        parameters_validator = _compile(document, {"type": "object", "properties": properties, "required": required})
    elsewhere = {
        name: _operation_named(document, operation_id)
        for name, operation_id in (body or {}).get("x-kling-elsewhere", {}).items()
    }
    return Operation(
        elsewhere=elsewhere,
        operation_id=raw["operationId"],
        method=method.upper(),
        path=route,
        media_types=media_types,
        max_body_bytes=max_body_bytes,
        max_body_depth=max_body_depth,
        requires_auth=bool(raw.get("security", global_security)),
        body_validator=validator,
        parameter_types=parameter_types,
        parameter_locations=parameter_locations,
        parameter_defaults=parameter_defaults,
        parameters_validator=parameters_validator,
        recommended_validator=recommended_validator,
        recommended_at=recommended_at,
        min_poll_interval_ms=raw.get("x-kling-min-poll-interval-ms"),
        billable=bool(raw.get("x-kling-billable")),
        content_refusals=frozenset(raw.get("x-kling-content-refusals", ())),
        by_body=tuple(
            (_compile(document, choice["when"]) if "when" in choice else None, choice["operation"])
            for choice in raw.get("x-kling-by-body", ())
        ),
        document=document,
    )


def json_pointer(*tokens: str) -> str:
    """A JSON pointer into the document, as a URI fragment (tokens escaped, `{` and `}` percent-encoded)."""
    return "#/" + "/".join(quote(token.replace("~", "~0").replace("/", "~1"), safe="~") for token in tokens)


def _compile(document: dict[str, Any], schema: dict[str, Any]) -> jsonschema_rs.Validator:
    """Compile `schema` with the whole document as its root resource.

    `#/components/...` references then resolve, and since the schema reaches the spec's own
    schemas through `$ref`s, every error's schema path points into the document, where
    `schema_node` finds it.
    """
    return jsonschema_rs.Draft202012Validator({**document, **schema}, validate_formats=True)
