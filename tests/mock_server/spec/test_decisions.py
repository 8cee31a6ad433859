"""The kit's decisions are marked, listed and relaxable, and nothing the contract states is among them.

Every constraint of the specs (a schema keyword that can refuse something, a body limit) is either the contract's,
listed here by where it stands (reviewed against docs/contract.md), or the kit's decision, marked
`x-kling-decision` and listed in `components.x-kling-decisions`. A constraint added to a spec without either fails
`test_every_constraint_is_the_contract_s_or_a_marked_decision`: a new rule is a choice to make, not an accident.
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema_rs
import orjson
import pytest
import yaml

from mock_server.spec import Spec, decisions, load_spec
from mock_server.spec.bundle import bundle
from mock_server.validation import parse_json
from tests.support import ROOT

SPECS = ["identify-face.yaml", "identify-face-upstream.yaml", "identify-face-by-body.yaml"]
# lip-sync.yaml is no spec the mock loads alone (each dialect's spec includes its paths, and the decisions of its
# older lip-sync request are identify-face.yaml's): only its constraints are reviewed here, as the file states them.
CONSTRAINED = [*SPECS, "lip-sync.yaml"]
CONSTRAINTS = {
    "type",
    "required",
    "enum",
    "const",
    "minLength",
    "maxLength",
    "minimum",
    "maximum",
    "exclusiveMinimum",
    "exclusiveMaximum",
    "pattern",
    "format",
    "minItems",
    "maxItems",
    "anyOf",
    "oneOf",
    "not",
    "if",
    "allOf",
    "additionalProperties",
    "x-kling-max-body-bytes",
    "x-kling-max-body-depth",
}
_SKIPPED = {decisions.MARK, "x-kling-decisions", "examples", "example", "x-kling-errors", "x-kling-rules"}

# The contract's own constraints, where each file states them (docs/contract.md says each in words). A prefix
# covers every node under it: the business-code table's responses, the paging bounds, the ids' shapes, ...
CONTRACT = {
    "identify-face.yaml": {
        "paths": {"type", "required", "minimum", "maximum", "minLength"},
        # The paging bounds and the task id's shape, which every list and query references.
        "components/parameters": {"type", "required", "minimum", "maximum", "minLength"},
        "components/securitySchemes": {"type"},
        "components/schemas/CreateTaskRequest": {"type", "required"},
        "components/schemas/TaskInput": {"type", "required", "enum", "minLength", "maxLength", "minimum", "maximum"}
        | {"anyOf", "allOf", "if", "const"},
        # Warnings, never refusals: what a careful client sends.
        "components/schemas/CreateTaskRequestRecommended": {"if", "required", "const"},
        "components/schemas/HttpUrl": {"type", "format", "pattern"},
        "components/schemas/RequestUrl": {"type", "format"},
        "components/schemas/RequestId": {"type", "pattern"},
        "components/schemas/TaskId": {"type", "pattern"},
        "components/schemas/TaskStatus": {"type", "enum"},
        "components/schemas/EpochMillis": {"type", "minimum", "maximum"},
        "components/schemas/SuccessEnvelope": {"type", "required", "const"},
        "components/schemas/CreateTaskResponse": {"allOf"},
        "components/schemas/CreatedTask": {"type", "required", "const"},
        "components/schemas/TaskResponse": {"allOf"},
        "components/schemas/TaskListResponse": {"allOf", "type", "maxItems"},
        "components/schemas/Task": {"type", "required", "allOf", "if", "const"},
        "components/schemas/TaskResult": {"type", "required"},
        "components/schemas/FaceData": {"type", "required", "minimum"},
        "components/schemas/ErrorEnvelope": {"type", "required", "minLength"},
        "components/responses": {"allOf", "enum", "type", "minimum"},
    },
    "identify-face-upstream.yaml": {
        "paths": {"required"},
        "components/schemas/IdentifyFaceRequest": {"type", "anyOf", "not", "if", "required", "minLength"},
        "components/schemas/IdentifyFaceResponse": {"allOf"},
    },
    # "Which dialect answers where": a body wrapped in `input` gets a task, one with `video_id` or `video_url` at
    # the top level the faces at once; the request and the answer are either dialect's. (What answers a body of
    # both shapes or neither, the decision the contract leaves to the spec, is the order of `x-kling-by-body`.)
    "identify-face-by-body.yaml": {
        "paths": {"required", "anyOf"},
        "paths//v1/videos/identify-face/post/x-kling-by-body": {"type", "required", "anyOf"},
    },
    # "Advanced lip-sync": the field table and rule 3 (exactly one of `audio_id`, `sound_file`) and rule 4
    # (base64 without a `data:` prefix, at most 5 MB, or an http(s) URL); "Sessions": an empty string is missing;
    # "The lip-sync answer" and "Following a lip-sync task": the envelope, `task_info`, `task_result.videos` with
    # `duration` a string of seconds, and the identify-face counterparts' page bounds and status rules.
    "lip-sync.yaml": {
        "paths": {"required"},
        "components/schemas/AdvancedLipSyncRequest": {"type", "required", "minLength", "maxLength"}
        | {"minItems", "maxItems", "anyOf"},
        "components/schemas/FaceChoice": {"type", "required", "minimum", "maximum", "minLength", "maxLength"}
        | {"pattern", "anyOf", "not"},
        "components/schemas/TaskInfo": {"type", "required"},
        # A succeeded lip-sync's result is its video: `videos` holds at least the one.
        "components/schemas/LipSyncResult": {"type", "required", "minItems"},
        "components/schemas/LipSyncVideo": {"type", "required", "pattern"},
        "components/schemas/AdvancedLipSyncCreated": {"type", "required", "const"},
        "components/schemas/AdvancedLipSyncCreatedResponse": {"allOf"},
        "components/schemas/AdvancedLipSyncTask": {"type", "required", "allOf", "if", "const"},
        "components/schemas/AdvancedLipSyncTaskResponse": {"allOf"},
        "components/schemas/AdvancedLipSyncTaskListResponse": {"allOf", "type", "maxItems"},
        "components/schemas/LipSyncTask": {"type", "required", "allOf", "if", "const"},
        "components/schemas/LipSyncTaskResponse": {"allOf"},
        "components/schemas/LipSyncTaskListResponse": {"allOf", "type", "maxItems"},
    },
}


@cache
def _document(name: str) -> dict[str, Any]:
    path = ROOT / "openapi" / name
    document: dict[str, Any] = yaml.safe_load(path.read_text(encoding="utf-8"))
    return document


@cache
def _bundled(name: str) -> dict[str, Any]:
    path = ROOT / "openapi" / name
    return bundle(_document(name), path)[0]


def _constraints(node: Any, where: tuple[str, ...] = ()) -> Iterator[tuple[str, str]]:
    """Each unmarked constraint keyword of the file, with where it stands."""
    if isinstance(node, dict):
        marked = set(node.get(decisions.MARK) or {})
        for key, value in node.items():
            if key in CONSTRAINTS and key not in marked:
                yield "/".join(where), key
            if key not in _SKIPPED and key != "description":
                yield from _constraints(value, (*where, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _constraints(value, (*where, str(index)))


@pytest.mark.parametrize("name", CONSTRAINED)
def test_every_constraint_is_the_contract_s_or_a_marked_decision(name: str) -> None:
    contract = CONTRACT[name]
    unexplained = sorted(
        f"{where}: {keyword}"
        for where, keyword in _constraints(_document(name))
        if not any(where.startswith(prefix) and keyword in allowed for prefix, allowed in contract.items())
    )
    assert unexplained == [], "a constraint the contract does not state: mark it as a decision, or list it here"


@pytest.mark.parametrize("name", SPECS)
def test_every_mark_names_a_listed_decision_and_every_decision_is_marked(name: str) -> None:
    document = _bundled(name)
    decisions.check(document)
    listed = decisions.catalog(document)
    marked = {mark.decision for mark in decisions.marks(document)}
    unmarked = {decision for decision, entry in listed.items() if entry.enforced_by is None} - marked
    assert unmarked == set(), "a decision of the catalog that no constraint carries (nor code enforces)"


@pytest.mark.parametrize("name", SPECS)
def test_the_description_lists_every_decision(name: str) -> None:
    """The spec's `info.description` lists the decisions for people; the catalog is the list the code reads."""
    document = _bundled(name)
    description = document["info"]["description"]
    assert [name for name in decisions.catalog(document) if f"`{name}`" not in description] == []


def _example_request(spec_name: str, example: dict[str, Any]) -> tuple[str, bytes]:
    """The example's operation and the bytes it sends: the operation's first request example, altered."""
    document = _bundled(spec_name)
    for item in document["paths"].values():
        for operation in item.values():
            if isinstance(operation, dict) and operation.get("operationId") == example["operation"]:
                content = operation["requestBody"]["content"]["application/json"]
                body: dict[str, Any] = next(iter(content["examples"].values()))["value"]
                break
        else:
            continue
        break
    else:
        raise AssertionError(f"{spec_name} has no operation {example['operation']}")
    if "input" in example:
        body = {**body, "input": {**body["input"], **example["input"]}}
    if "body" in example:
        body = {**body, **example["body"]}
    if "nested_levels" in example:
        nested: Any = "deep"
        for _ in range(example["nested_levels"]):
            nested = [nested]
        body = {**body, "nested": nested}
    raw = orjson.dumps(body)
    if "padded_to_bytes" in example:
        padding = example["padded_to_bytes"] - len(raw) - len(b',"pad":""')
        raw = raw[:-1] + b',"pad":"' + b"a" * padding + b'"}'
    return example["operation"], raw


@cache
def _spec(spec_name: str, relaxed: bool = False) -> Spec:
    return load_spec(ROOT / "openapi" / spec_name, relax_decisions=relaxed)


def _accepts(spec_name: str, relaxed: bool, operation_id: str, raw: bytes) -> bool:
    """Whether the spec's view takes the request's body: its size, its depth, its schema."""
    spec = _spec(spec_name, relaxed)
    (operation,) = [op for op in spec.operations if op.operation_id == operation_id]
    if len(raw) > operation.max_body_bytes:
        return False
    try:
        body = parse_json(raw, operation.max_body_depth)
    except Exception:
        return False
    assert operation.body_validator is not None
    return bool(operation.body_validator.is_valid(body))


def _examples() -> Iterator[Any]:
    for name in SPECS:
        for decision in decisions.catalog(_bundled(name)).values():
            for number, example in enumerate(decision.examples):
                if any(op.operation_id == example["operation"] for op in _spec(name).operations):
                    yield pytest.param(name, decision.name, example, id=f"{name}:{decision.name}:{number}")


@pytest.mark.parametrize(("spec_name", "decision", "example"), list(_examples()))
def test_each_decision_s_example_breaks_it_and_nothing_else(
    spec_name: str, decision: str, example: dict[str, Any]
) -> None:
    """Refused by the spec as written (the mock), accepted by the contract alone (any other target may)."""
    operation_id, raw = _example_request(spec_name, example)
    assert not _accepts(spec_name, relaxed=False, operation_id=operation_id, raw=raw), f"{decision}: not refused"
    assert _accepts(spec_name, relaxed=True, operation_id=operation_id, raw=raw), f"{decision}: the contract refuses it"


def test_the_contract_view_keeps_the_contract() -> None:
    """Relaxing the decisions relaxes nothing the contract states: its own refusals stay refusals."""
    spec = _spec("identify-face.yaml", relaxed=True)
    (create,) = [op for op in spec.operations if op.operation_id == "createIdentifyFaceTask"]
    assert create.body_validator is not None
    seed = {"video_id": "v1", "mode": "text2video", "text": "Hi", "voice_id": "v"}
    breaking = [
        {},
        {"input": []},
        {"input": {**seed, "mode": "sing"}},
        {"input": {**seed, "text": ""}},
        {"input": {**seed, "text": "x" * 121}},
        {"input": {**seed, "voice_speed": 2.01}},
        {"input": {**seed, "voice_language": "fr"}},
        {"input": {key: value for key, value in seed.items() if key != "video_id"}},
        {"input": {**seed, "video_id": ""}},
        {"input": {key: value for key, value in seed.items() if key != "text"}},
        {"input": {"video_id": "v1", "mode": "audio2video"}},
        {"input": {"video_id": "v1", "mode": "audio2video", "audio_type": "url"}},
        {"input": {**seed, "video_url": "not a uri"}},
    ]
    assert [body for body in breaking if create.body_validator.is_valid(body)] == []
    assert isinstance(create.body_validator, jsonschema_rs.Validator)
    assert (create.max_body_bytes, create.max_body_depth) == (64 * 1024 * 1024, 512)


def test_the_contract_view_has_no_marks_left(tmp_path: Path) -> None:
    for name in SPECS:
        assert list(decisions.marks(decisions.contract_view(_bundled(name)))) == []
