"""The contract's rules of both dialects, tested one by one with requests written by hand.

Generated cases explore; these pin down what docs/contract.md says outright: the documented example
succeeds, auth failures carry their codes, a wrong method is 404/1202, malformed bodies are 1200.
"""

from __future__ import annotations

import json

import pytest

from mock_server.spec import HTTP_METHODS

from . import rules
from .calls import JSON, create, create_path, examples, primary, send, target
from .transport import SuiteSession


def test_documented_example_succeeds(http: SuiteSession) -> None:
    """The provider page's own example must succeed, and twice gives two different answers."""
    seen = set()
    for _ in range(2):
        status, body = create(http, primary)
        assert (status, body["code"], body["message"]) == (200, 0, "SUCCEED"), body
        if target.documented:
            assert body["data"]["task_status"] == "submitted"
            rules.timestamps(body, recent=True)
            seen.add(body["data"]["task_id"])
        else:
            assert isinstance(body["data"].get("face_data"), list), f"no face_data in {body}"
            seen.add(body["request_id"])
    assert len(seen) == 2


@pytest.mark.parametrize("name", sorted(examples))
def test_every_documented_request_example_succeeds(http: SuiteSession, name: str) -> None:
    status, body = create(http, examples[name])
    assert status == 200, body


@pytest.mark.parametrize("header", [None, ""], ids=["absent", "empty"])
def test_missing_authorization_is_401_1001(http: SuiteSession, header: str | None) -> None:
    headers = dict(JSON) if header is None else {**JSON, "Authorization": header}
    status, body = create(http, primary, headers=headers, refused=True)
    assert (status, body["code"]) == (401, 1001), body


@pytest.mark.parametrize("header", ["Basic dXNlcjpwYXNz", "Bearer", "bare-token-without-scheme", "Bearer a b"])
def test_malformed_authorization_is_401_1002(http: SuiteSession, header: str) -> None:
    status, body = create(http, primary, headers={**JSON, "Authorization": header}, refused=True)
    assert (status, body["code"]) == (401, 1002), body


def test_unknown_key_is_401_1000(http: SuiteSession) -> None:
    if not target.checks_keys:
        pytest.skip("the target accepts any non-empty token (--contract-any-token)")
    headers = {**JSON, "Authorization": "Bearer kling-mock-contract-unknown-key"}
    status, body = create(http, primary, headers=headers, refused=True)
    assert (status, body["code"]) == (401, 1000), body


@pytest.mark.parametrize(
    "method",
    [
        m.upper()
        for m in HTTP_METHODS
        if m not in ("head", "options", "trace") and m not in target.spec.document["paths"][create_path]
    ],
)
def test_wrong_method_is_404_1202(http: SuiteSession, method: str) -> None:
    """Kling answers a method a known path does not have with 404/1202, not 405."""
    status, body = send(http, method, create_path, refused=True, headers=target.auth_headers)
    assert (status, body["code"]) == (404, 1202), body


def test_unknown_path_is_404_1203(http: SuiteSession) -> None:
    path = create_path + "-that-does-not-exist"
    status, body = send(http, "POST", path, refused=True, headers={**target.auth_headers, **JSON}, json={})
    assert (status, body["code"]) == (404, 1203), body


@pytest.mark.parametrize(
    "raw", [b"{not json", b"", b"[1, 2]", b'"a string"', b"42"], ids=["broken", "empty", "array", "string", "number"]
)
def test_body_not_a_json_object_is_400_1200(http: SuiteSession, raw: bytes) -> None:
    status, body = create(http, headers={**target.auth_headers, **JSON}, data=raw, refused=True)
    assert (status, body["code"]) == (400, 1200), body


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", "application/xml"])
def test_wrong_content_type_is_400_1200(http: SuiteSession, content_type: str) -> None:
    headers = {**target.auth_headers, "Content-Type": content_type}
    status, body = send(http, "POST", create_path, refused=True, headers=headers, data=json.dumps(primary))
    assert (status, body["code"]) == (400, 1200), body


def test_content_type_with_charset_is_accepted(http: SuiteSession) -> None:
    """docs/contract.md, "Create an identify-face task": `application/json; charset=utf-8` is fine."""
    headers = {**target.auth_headers, "Content-Type": "application/json; charset=utf-8"}
    status, body = send(http, "POST", create_path, headers=headers, json=primary)
    assert status == 200, body
