"""The fixtures in `fixtures/` agree with the spec and with the running mock.

Each request body is checked by two JSON Schema implementations (the mock's compiled jsonschema-rs
validator and the `jsonschema` reference library, over the spec document itself), so that a bug of
one cannot make a wrong fixture look right. Each request is then replayed over HTTP against a real
mock, and its answer compared with what the fixture recorded.

The upstream dialect's fixtures (`fixtures/upstream/`, the same layout) are checked the same way,
against its own spec and a mock started with `--dialect upstream`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import httpx
import jsonschema
import jsonschema_rs
import pytest
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from mock_server.process import MockProcess
from mock_server.scenarios import ScenarioBook, read_scenario_file
from mock_server.spec import DEFAULT_SPEC_PATH, UPSTREAM_SPEC_PATH, Operation, Spec, load_spec

from .support import CREATE_PATH

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
DOCUMENTED, UPSTREAM = "documented", "upstream"
# Each dialect's fixture folder and spec; the documented dialect's fixtures are at the top.
_FOLDERS = {DOCUMENTED: FIXTURES, UPSTREAM: FIXTURES / "upstream"}
_SPEC_PATHS = {DOCUMENTED: DEFAULT_SPEC_PATH, UPSTREAM: UPSTREAM_SPEC_PATH}
# The spec document is registered under this URI for the reference library; any URI would do.
SPEC_URI = "urn:kling-mock:openapi"
REQUEST_ID = re.compile(r"^[A-Za-z0-9_-]{22}$")

# The fixture formats of fixtures/README.md, as schemas: a malformed fixture fails here, readably.
_REQUEST_FIXTURE_FORMAT: dict[str, Any] = {
    "type": "object",
    "required": ["description", "request", "expect"],
    "additionalProperties": False,
    "properties": {
        "description": {"type": "string", "minLength": 1},
        "request": {
            "type": "object",
            "required": ["method", "path", "headers"],
            "additionalProperties": False,
            "properties": {
                "method": {"enum": ["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "HEAD"]},
                "path": {"type": "string", "pattern": "^/"},
                "headers": {"type": "object", "additionalProperties": {"type": "string"}},
                "body": True,
                "raw_body": {"type": "string"},
            },
            "not": {"required": ["body", "raw_body"]},
        },
        "expect": {
            "type": "object",
            "required": ["status", "code"],
            "additionalProperties": False,
            "properties": {
                "status": {"type": "integer", "minimum": 200, "maximum": 599},
                "code": {"type": "integer"},
                "message_contains": {"type": "string", "minLength": 1},
            },
        },
    },
}
_RESPONSE_FIXTURE_FORMAT: dict[str, Any] = {
    "type": "object",
    "required": ["description", "status", "body"],
    "additionalProperties": False,
    "properties": {
        "description": {"type": "string", "minLength": 1},
        "status": {"type": "integer", "minimum": 200, "maximum": 599},
        "body": {"type": "object"},
    },
}


@dataclass(frozen=True)
class RequestFixture:
    """One file of fixtures/requests, read as the README describes it."""

    name: str
    raw: dict[str, Any]
    dialect: str = DOCUMENTED

    @property
    def request(self) -> dict[str, Any]:
        return dict(self.raw.get("request", {}))

    @property
    def expect(self) -> dict[str, Any]:
        return dict(self.raw.get("expect", {}))

    @property
    def has_json_body(self) -> bool:
        return "body" in self.request

    @property
    def body(self) -> Any:
        return self.request["body"]

    def content(self) -> bytes | None:
        """The bytes to send: the JSON body serialised, the raw body as is, or nothing."""
        if self.has_json_body:
            return json.dumps(self.body, ensure_ascii=False).encode("utf-8")
        if "raw_body" in self.request:
            return str(self.request["raw_body"]).encode("utf-8")
        return None


@dataclass(frozen=True)
class ResponseFixture:
    name: str
    raw: dict[str, Any]
    dialect: str = DOCUMENTED

    @property
    def status(self) -> int:
        return int(self.raw["status"])


def _read(path: Path) -> dict[str, Any]:
    data = json.loads(path.read_text(encoding="utf-8"))
    return data if isinstance(data, dict) else {"not an object": data}


def _prefix(dialect: str) -> str:
    """Test ids: the documented dialect's fixtures as they always were, the upstream's under `upstream/`."""
    return "" if dialect == DOCUMENTED else f"{dialect}/"


def _request_fixtures(dialect: str, kind: str) -> list[RequestFixture]:
    folder = _FOLDERS[dialect] / "requests" / kind
    return [
        RequestFixture(f"{_prefix(dialect)}{kind}/{path.stem}", _read(path), dialect)
        for path in sorted(folder.glob("*.json"))
    ]


def _response_fixtures(dialect: str) -> list[ResponseFixture]:
    paths = sorted((_FOLDERS[dialect] / "responses").glob("*.json"))
    return [ResponseFixture(f"{_prefix(dialect)}{path.stem}", _read(path), dialect) for path in paths]


VALID = _request_fixtures(DOCUMENTED, "valid") + _request_fixtures(UPSTREAM, "valid")
INVALID = _request_fixtures(DOCUMENTED, "invalid") + _request_fixtures(UPSTREAM, "invalid")
ALL_REQUESTS = VALID + INVALID
RESPONSES = _response_fixtures(DOCUMENTED) + _response_fixtures(UPSTREAM)
# The upstream spec takes its error responses from the documented one, so the documented error
# fixtures are the upstream's too: each is checked against both specs.
RESPONSE_CHECKS = RESPONSES + [
    ResponseFixture(f"{UPSTREAM}/shared/{f.name}", f.raw, UPSTREAM)
    for f in RESPONSES
    if f.dialect == DOCUMENTED and f.status != 200
]
# Invalid fixtures whose JSON body (not a header, path or method) breaks a field rule of the spec.
INVALID_BODIES = [f for f in INVALID if f.expect.get("code") == 1201]


def _ids(fixtures: list[RequestFixture] | list[ResponseFixture]) -> list[str]:
    return [fixture.name for fixture in fixtures]


# --- the spec, as both implementations see it ------------------------------------------------------


@cache
def _spec(dialect: str = DOCUMENTED) -> Spec:
    return load_spec(_SPEC_PATHS[dialect])


def _create_operation(dialect: str) -> Operation:
    """The POST on Kling's path: the documented dialect's create call, or the upstream's identify call."""
    return next(op for op in _spec(dialect).operations if op.method == "POST" and op.path == CREATE_PATH)


def _escape(token: str) -> str:
    return token.replace("~", "~0").replace("/", "~1")


def _operation_pointer() -> str:
    return f"/paths/{_escape(CREATE_PATH)}/post"


def _request_schema_pointer() -> str:
    return f"{_operation_pointer()}/requestBody/content/{_escape('application/json')}/schema"


def _declared_responses(dialect: str) -> dict[str, Any]:
    responses: dict[str, Any] = _spec(dialect).document["paths"][CREATE_PATH]["post"]["responses"]
    return responses


def _response_schema_pointer(dialect: str, status: int) -> str:
    """The pointer to the JSON schema of the POST's response with this status.

    Responses of the spec are OpenAPI objects, often a `$ref` to `components.responses`: that
    reference is followed here, the JSON Schema `$ref`s below it by the validators.
    """
    responses = _declared_responses(dialect)
    response = responses[str(status)]
    pointer = f"{_operation_pointer()}/responses/{status}"
    if "$ref" in response:
        ref = str(response["$ref"])
        assert ref.startswith("#/"), f"only local references are expected, got {ref}"
        pointer = ref[1:]
    return f"{pointer}/content/{_escape('application/json')}/schema"


@cache
def _registry(dialect: str) -> Registry[Any]:
    resource: Resource[Any] = Resource.from_contents(_spec(dialect).document, default_specification=DRAFT202012)
    registry: Registry[Any] = Registry().with_resource(SPEC_URI, resource)
    return registry


@cache
def _reference_validator(pointer: str, dialect: str = DOCUMENTED) -> jsonschema.Draft202012Validator:
    """The `jsonschema` library's validator for the schema at `pointer` in the spec document (bundled, for upstream)."""
    return jsonschema.Draft202012Validator(
        {"$ref": f"{SPEC_URI}#{pointer}"},
        registry=_registry(dialect),
        format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER,
    )


@cache
def _compiled_validator(pointer: str, dialect: str = DOCUMENTED) -> jsonschema_rs.Validator:
    """jsonschema-rs over the same document, compiled the way `mock_server.spec` compiles schemas."""
    return jsonschema_rs.Draft202012Validator({**_spec(dialect).document, "$ref": f"#{pointer}"}, validate_formats=True)


def _reference_error_paths(dialect: str, instance: Any) -> set[str]:
    """The dotted field paths the reference library finds broken in a request body.

    For a missing required property the path is that property's, as the mock words it.
    """
    paths: set[str] = set()
    for error in _reference_validator(_request_schema_pointer(), dialect).iter_errors(instance):
        parts = [str(part) for part in error.absolute_path]
        if error.validator == "required" and isinstance(error.instance, dict):
            missing = [name for name in error.validator_value if name not in error.instance]
            paths.update(".".join([*parts, name]) for name in missing)
        else:
            paths.add(".".join(parts) or "body")
    return paths


# --- the fixtures themselves ------------------------------------------------------------------------


def test_fixtures_exist() -> None:
    """Guards the parametrised tests below against silently running on an empty folder."""
    for dialect, valid, invalid, responses in [(DOCUMENTED, 10, 30, 9), (UPSTREAM, 4, 10, 2)]:
        assert len([f for f in VALID if f.dialect == dialect]) >= valid
        assert len([f for f in INVALID if f.dialect == dialect]) >= invalid
        assert len([f for f in RESPONSES if f.dialect == dialect]) >= responses
    assert SCENARIO_FILES


@pytest.mark.parametrize("fixture", ALL_REQUESTS, ids=_ids(ALL_REQUESTS))
def test_request_fixture_format(fixture: RequestFixture) -> None:
    jsonschema.Draft202012Validator(_REQUEST_FIXTURE_FORMAT).validate(fixture.raw)
    expect = fixture.expect
    assert (expect["status"] == 200) == (expect["code"] == 0), "code is 0 exactly when the status is 200"
    if fixture.name.removeprefix(_prefix(fixture.dialect)).startswith("valid/"):
        assert expect["status"] == 200
    else:
        assert expect["status"] != 200
        status = _spec(fixture.dialect).status_by_code.get(expect["code"])
        assert status == expect["status"], "status and code disagree with the spec"
    if expect["code"] == 1201:
        assert fixture.has_json_body, "a broken field rule needs a JSON body"
        assert "message_contains" in expect, "a broken field rule must say which path the message names"


@pytest.mark.parametrize("fixture", RESPONSES, ids=_ids(RESPONSES))
def test_response_fixture_format(fixture: ResponseFixture) -> None:
    jsonschema.Draft202012Validator(_RESPONSE_FIXTURE_FORMAT).validate(fixture.raw)
    stem = fixture.name.removeprefix(_prefix(fixture.dialect))
    assert stem.startswith(f"{fixture.raw['status']}_"), "response fixtures are named after their status"


# --- fixtures against the spec ----------------------------------------------------------------------


@pytest.mark.parametrize("fixture", VALID, ids=_ids(VALID))
def test_valid_body_matches_spec(fixture: RequestFixture) -> None:
    validator = _create_operation(fixture.dialect).body_validator
    assert validator is not None
    errors = [error.message for error in validator.iter_errors(fixture.body)]
    assert not errors, f"jsonschema-rs (the mock's validator) rejects it: {errors}"
    reference_validator = _reference_validator(_request_schema_pointer(), fixture.dialect)
    reference = [error.message for error in reference_validator.iter_errors(fixture.body)]
    assert not reference, f"the jsonschema library rejects it: {reference}"


@pytest.mark.parametrize("fixture", INVALID_BODIES, ids=_ids(INVALID_BODIES))
def test_invalid_body_breaks_spec(fixture: RequestFixture) -> None:
    validator = _create_operation(fixture.dialect).body_validator
    assert validator is not None
    assert not validator.is_valid(fixture.body), "jsonschema-rs (the mock's validator) accepts it"
    assert not _reference_validator(_request_schema_pointer(), fixture.dialect).is_valid(fixture.body), (
        "the jsonschema library accepts it"
    )


@pytest.mark.parametrize("fixture", INVALID_BODIES, ids=_ids(INVALID_BODIES))
def test_invalid_body_breaks_exactly_the_rule_it_names(fixture: RequestFixture) -> None:
    """Each invalid body breaks one rule, the one whose path it expects in the message.

    Checked by the reference library, independently of the mock's wording.
    """
    named_path = fixture.expect["message_contains"].split(":")[0]
    assert _reference_error_paths(fixture.dialect, fixture.body) == {named_path}


@pytest.mark.parametrize("fixture", RESPONSE_CHECKS, ids=_ids(RESPONSE_CHECKS))
def test_response_fixture_matches_spec(fixture: ResponseFixture) -> None:
    status, body = fixture.status, fixture.raw["body"]
    assert str(status) in _declared_responses(fixture.dialect), f"the spec declares no {status} response for the POST"
    pointer = _response_schema_pointer(fixture.dialect, status)
    errors = [error.message for error in _compiled_validator(pointer, fixture.dialect).iter_errors(body)]
    assert not errors, f"jsonschema-rs rejects it: {errors}"
    reference = [error.message for error in _reference_validator(pointer, fixture.dialect).iter_errors(body)]
    assert not reference, f"the jsonschema library rejects it: {reference}"


@pytest.mark.parametrize("dialect", [DOCUMENTED, UPSTREAM])
def test_every_response_status_of_the_spec_has_a_fixture(dialect: str) -> None:
    declared = {int(status) for status in _declared_responses(dialect)}
    covered = {fixture.status for fixture in RESPONSE_CHECKS if fixture.dialect == dialect}
    assert declared <= covered, f"no response fixture for {sorted(declared - covered)}"


def test_seed_documented_answer_is_the_spec_example() -> None:
    """The 200 fixture is the page's documented answer, the same the spec shows as its example."""
    fixture = next(f for f in RESPONSES if f.dialect == DOCUMENTED and f.status == 200)
    content = _declared_responses(DOCUMENTED)["200"]["content"]["application/json"]
    assert fixture.raw["body"] == content["examples"]["submitted"]["value"]


def test_upstream_examples_are_fixtures() -> None:
    """The upstream spec's `minimal` request and `oneFace` answer are fixtures, replayed and checked like the rest."""
    operation = _spec(UPSTREAM).document["paths"][CREATE_PATH]["post"]
    minimal = operation["requestBody"]["content"]["application/json"]["examples"]["minimal"]["value"]
    one_face = operation["responses"]["200"]["content"]["application/json"]["examples"]["oneFace"]["value"]
    assert minimal in [f.body for f in VALID if f.dialect == UPSTREAM]
    assert one_face in [f.raw["body"] for f in RESPONSES if f.dialect == UPSTREAM]


# --- fixtures against the running mock --------------------------------------------------------------


@pytest.fixture(scope="module")
def upstream_mock() -> Iterator[MockProcess]:
    with MockProcess("--dialect", UPSTREAM) as mock:
        yield mock


@pytest.fixture(scope="module")
def bare_clients(mock_server: MockProcess, upstream_mock: MockProcess) -> Iterator[dict[str, httpx.Client]]:
    """Per dialect, a client that adds no Authorization or Content-Type: the fixtures say which to send."""
    with (
        httpx.Client(base_url=mock_server.base_url, timeout=30) as documented,
        httpx.Client(base_url=upstream_mock.base_url, timeout=30) as upstream,
    ):
        yield {DOCUMENTED: documented, UPSTREAM: upstream}


@pytest.mark.parametrize("fixture", ALL_REQUESTS, ids=_ids(ALL_REQUESTS))
def test_replay_against_mock(bare_clients: dict[str, httpx.Client], fixture: RequestFixture) -> None:
    request, expect = fixture.request, fixture.expect
    response = bare_clients[fixture.dialect].request(
        request["method"], request["path"], headers=request["headers"], content=fixture.content()
    )
    assert response.headers.get("content-type", "").startswith("application/json")
    envelope = response.json()
    assert (response.status_code, envelope.get("code")) == (expect["status"], expect["code"]), envelope
    assert isinstance(envelope.get("message"), str) and envelope["message"]
    assert isinstance(envelope.get("request_id"), str) and REQUEST_ID.match(envelope["request_id"])
    if "message_contains" in expect:
        assert expect["message_contains"] in envelope["message"]
    pointer = _response_schema_pointer(fixture.dialect, response.status_code)
    errors = [error.message for error in _compiled_validator(pointer, fixture.dialect).iter_errors(envelope)]
    assert not errors, f"the mock's answer breaks the spec's {response.status_code} response schema: {errors}"


# --- scenario files ---------------------------------------------------------------------------------

SCENARIO_FILES = sorted((Path(__file__).resolve().parent.parent / "fixtures" / "scenarios").glob("*.yaml"))


@pytest.mark.parametrize("path", SCENARIO_FILES, ids=[path.name for path in SCENARIO_FILES])
def test_scenario_file_is_playable(path: Path) -> None:
    """Each example scenario file passes the admin spec's `Scenario` schema and the mock's own checks."""
    scenarios = read_scenario_file(path)
    book = ScenarioBook(_spec(), scenarios)
    assert [scenario.name for scenario in book.file_scenarios()] == [raw["name"] for raw in scenarios]
