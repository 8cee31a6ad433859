"""Fast unit tests of `mock_server.spec.bundle`: a spec referencing another file's components loads self-contained."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import schemathesis
import yaml
from openapi_spec_validator import validate

from mock_server.spec import ADMIN_SPEC_PATH, UPSTREAM_SPEC_PATH, load_spec
from mock_server.spec.bundle import SpecBundleError, bundle, dump
from tests.support import SPEC_CREATE_PATH


def _refs(node: Any) -> list[str]:
    if isinstance(node, list):
        return [ref for item in node for ref in _refs(item)]
    if not isinstance(node, dict):
        return []
    own = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
    return own + [ref for value in node.values() for ref in _refs(value)]


def _resolve(document: dict[str, Any], ref: str) -> Any:
    node: Any = document
    for part in ref.removeprefix("#/").split("/"):
        node = node[part.replace("~1", "/").replace("~0", "~")]
    return node


def _write(folder: Path, name: str, document: dict[str, Any]) -> Path:
    path = folder / name
    path.write_text(yaml.safe_dump(document), encoding="utf-8")
    return path


# --- the upstream spec, as the mock loads it --------------------------------------------------------


def test_upstream_spec_is_self_contained() -> None:
    document = load_spec(UPSTREAM_SPEC_PATH).document
    refs = _refs(document)
    assert refs and all(ref.startswith("#/") for ref in refs)
    for ref in refs:
        assert _resolve(document, ref) is not None, ref
    schemas = document["components"]["schemas"]
    assert {"IdentifyFaceRequest", "TaskResult", "FaceData", "HttpUrl", "SuccessEnvelope", "ErrorEnvelope"} <= set(
        schemas
    )
    assert document["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"


def test_shared_components_are_the_documented_specs_own() -> None:
    documented = load_spec().document["components"]
    upstream = load_spec(UPSTREAM_SPEC_PATH).document["components"]
    assert upstream["responses"] == documented["responses"]
    assert upstream["schemas"]["FaceData"] == documented["schemas"]["FaceData"]
    assert upstream["securitySchemes"] == documented["securitySchemes"]


def test_upstream_spec_has_the_documented_business_code_table() -> None:
    upstream, documented = load_spec(UPSTREAM_SPEC_PATH), load_spec()
    assert upstream.status_by_code == documented.status_by_code
    assert upstream.meaning_by_code == documented.meaning_by_code


def test_upstream_operation_compiles_from_the_bundled_document() -> None:
    operations = load_spec(UPSTREAM_SPEC_PATH).operations
    (operation,) = [operation for operation in operations if operation.path == SPEC_CREATE_PATH]
    assert (operation.operation_id, operation.method, operation.path) == ("identifyFace", "POST", SPEC_CREATE_PATH)
    assert (operation.max_body_bytes, operation.max_body_depth, operation.requires_auth) == (8388608, 32, True)
    assert operation.body_validator is not None and operation.recommended_validator is not None
    assert operation.recommended_at == ("components", "schemas", "IdentifyFaceRequestRecommended")
    assert operation.body_validator.is_valid({"video_url": "https://example.com/v.mp4"})
    assert not operation.body_validator.is_valid({"video_url": "https://example.com/v.mp4", "video_id": "v"})


def test_served_text_is_the_bundled_document_and_a_valid_spec() -> None:
    spec = load_spec(UPSTREAM_SPEC_PATH)
    assert "identify-face.yaml#" not in spec.text
    assert yaml.safe_load(spec.text) == spec.document
    validate(yaml.safe_load(spec.text))


@pytest.mark.parametrize(
    ("path", "operation_id"),
    [
        (SPEC_CREATE_PATH, "identifyFace"),
        # Path items another file holds (lip-sync.yaml), copied in by the bundler.
        ("/v1/videos/advanced-lip-sync", "createAdvancedLipSyncTask"),
        ("/v1/videos/lip-sync", "createLipSyncTask"),
    ],
)
def test_schemathesis_loads_the_bundled_document(path: str, operation_id: str) -> None:
    schema = schemathesis.openapi.from_dict(load_spec(UPSTREAM_SPEC_PATH).document)
    operation = schema[path]["POST"]
    assert operation.definition.raw["operationId"] == operation_id


def test_a_spec_without_external_refs_is_served_as_written() -> None:
    """The admin API's spec references no other file (every dialect's spec now includes lip-sync.yaml's paths)."""
    assert ".yaml#" not in ADMIN_SPEC_PATH.read_text(encoding="utf-8")
    spec = load_spec(ADMIN_SPEC_PATH)
    assert spec.text == ADMIN_SPEC_PATH.read_text(encoding="utf-8")
    assert spec.document == yaml.safe_load(spec.text)


# --- bundling rules, on small documents -------------------------------------------------------------


def _shared(tmp_path: Path) -> None:
    """shared.yaml: a schema referring to another of its file, and one to a third file's."""
    _write(
        tmp_path,
        "shared.yaml",
        {
            "components": {
                "schemas": {
                    "Face": {"type": "object", "properties": {"image": {"$ref": "#/components/schemas/Url"}}},
                    "Url": {"type": "string", "format": "uri"},
                    "Tree": {"type": "object", "properties": {"child": {"$ref": "#/components/schemas/Tree"}}},
                    "Stamp": {"$ref": "more/time.yaml#/components/schemas/Millis"},
                    "Unused": {"type": "null"},
                },
                "securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer"}},
            }
        },
    )
    (tmp_path / "more").mkdir()
    _write(tmp_path / "more", "time.yaml", {"components": {"schemas": {"Millis": {"type": "integer"}}}})


def _main(schemas: dict[str, Any], **components: Any) -> dict[str, Any]:
    return {"openapi": "3.1.0", "components": {"schemas": schemas, **components}}


def test_copies_what_is_referenced_with_what_it_references(tmp_path: Path) -> None:
    _shared(tmp_path)
    document = _main({"Both": {"allOf": [{"$ref": "shared.yaml#/components/schemas/Face"}, {"$ref": "#/x"}]}})
    bundled, changed = bundle(document, _write(tmp_path, "main.yaml", document))
    assert changed
    schemas = bundled["components"]["schemas"]
    assert schemas["Both"] == {"allOf": [{"$ref": "#/components/schemas/Face"}, {"$ref": "#/x"}]}
    assert schemas["Face"]["properties"]["image"] == {"$ref": "#/components/schemas/Url"}
    assert schemas["Url"] == {"type": "string", "format": "uri"}
    assert "Unused" not in schemas


def test_follows_references_into_a_third_file(tmp_path: Path) -> None:
    _shared(tmp_path)
    document = _main({"When": {"$ref": "shared.yaml#/components/schemas/Stamp"}})
    bundled, _ = bundle(document, _write(tmp_path, "main.yaml", document))
    schemas = bundled["components"]["schemas"]
    assert schemas["Stamp"] == {"$ref": "#/components/schemas/Millis"}
    assert schemas["Millis"] == {"type": "integer"}


def test_a_recursive_component_is_copied_once(tmp_path: Path) -> None:
    _shared(tmp_path)
    document = _main({"Root": {"$ref": "shared.yaml#/components/schemas/Tree"}})
    bundled, _ = bundle(document, _write(tmp_path, "main.yaml", document))
    assert bundled["components"]["schemas"]["Tree"]["properties"]["child"] == {"$ref": "#/components/schemas/Tree"}


def test_each_file_is_read_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _shared(tmp_path)
    reads: list[str] = []
    read_text = Path.read_text

    def counting(path: Path, *args: Any, **kwargs: Any) -> str:
        reads.append(path.name)
        return read_text(path, *args, **kwargs)

    document = _main(
        {
            "A": {"$ref": "shared.yaml#/components/schemas/Face"},
            "B": {"$ref": "./shared.yaml#/components/schemas/Url"},
            "C": {"$ref": "shared.yaml#/components/schemas/Stamp"},
        }
    )
    path = _write(tmp_path, "main.yaml", document)
    monkeypatch.setattr(Path, "read_text", counting)
    bundle(document, path)
    assert sorted(reads) == ["shared.yaml", "time.yaml"]


def test_a_local_alias_becomes_the_component(tmp_path: Path) -> None:
    _shared(tmp_path)
    alias = {"bearerAuth": {"$ref": "shared.yaml#/components/securitySchemes/bearerAuth"}}
    document = _main({}, securitySchemes=alias)
    bundled, _ = bundle(document, _write(tmp_path, "main.yaml", document))
    assert bundled["components"]["securitySchemes"] == {"bearerAuth": {"type": "http", "scheme": "bearer"}}


def test_the_given_document_is_left_as_it_was(tmp_path: Path) -> None:
    _shared(tmp_path)
    document = _main({"A": {"$ref": "shared.yaml#/components/schemas/Face"}})
    before = json.dumps(document)
    bundle(document, _write(tmp_path, "main.yaml", document))
    assert json.dumps(document) == before


@pytest.mark.parametrize(
    ("schemas", "problem"),
    [
        (
            {"Url": {"type": "string"}, "A": {"$ref": "shared.yaml#/components/schemas/Url"}},
            "is defined here and copied",
        ),
        ({"A": {"$ref": "shared.yaml#/components"}}, "only components can be referenced"),
        ({"A": {"$ref": "shared.yaml#/components/schemas/Nope"}}, "no such component"),
        ({"A": {"$ref": "missing.yaml#/components/schemas/Url"}}, "cannot read it"),
    ],
    ids=["name-taken", "not-a-component", "no-such-component", "no-such-file"],
)
def test_what_cannot_be_bundled_is_said(tmp_path: Path, schemas: dict[str, Any], problem: str) -> None:
    _shared(tmp_path)
    document = _main(schemas)
    with pytest.raises(SpecBundleError, match=problem):
        bundle(document, _write(tmp_path, "main.yaml", document))


def test_dump_writes_multi_line_text_as_blocks_without_anchors() -> None:
    shared = {"type": "string"}
    text = dump({"description": "one\ntwo\n", "a": shared, "b": shared})
    assert "description: |\n  one\n  two\n" in text
    assert "&" not in text and "*" not in text
    assert yaml.safe_load(text) == {"description": "one\ntwo\n", "a": shared, "b": shared}
