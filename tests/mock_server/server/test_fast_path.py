"""Kling's routes served without Starlette: matching from the spec, wrong methods, bodies read from `receive`."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from starlette.requests import ClientDisconnect
from starlette.testclient import TestClient

from mock_server import Settings, create_app
from mock_server.core.errors import KlingError
from mock_server.core.ids import IdGenerator
from mock_server.http.bodies import read_body
from mock_server.http.routes import KlingRoutes
from mock_server.spec import PREFIXES, load_spec
from tests.support import CREATE_PATH, SPEC_CREATE_PATH


@pytest.mark.parametrize("prefix", PREFIXES)
@pytest.mark.parametrize(
    "spec_path", [SPEC_CREATE_PATH, "/v1/videos/advanced-lip-sync", "/v1/videos/lip-sync"], ids=lambda path: path
)
def test_routes_come_from_the_spec_with_head_wherever_get_is(prefix: str, spec_path: str) -> None:
    """Every operation is served under each prefix; the create paths of the lip-sync flow are routed alike."""
    routes = KlingRoutes(dict.fromkeys(PREFIXES, load_spec().operations))
    path = prefix + spec_path
    exact = routes.match(path)
    templated = routes.match(f"{path}/abc_-123")
    assert exact is not None and templated is not None
    assert exact[0].allow == "GET, HEAD, POST" and exact[1] == {}
    assert exact[0].prefix == templated[0].prefix == prefix
    assert templated[0].allow == "GET, HEAD" and templated[1] == {"task_id": "abc_-123"}
    assert templated[0].operation("HEAD") is templated[0].operation("GET") is not None
    assert routes.match(f"{path}/") is None
    assert routes.match(f"{path}/a/b") is None


def test_a_wrong_method_is_1202_with_every_allowed_one() -> None:
    with TestClient(create_app(Settings())) as http:
        answer = http.delete(f"{CREATE_PATH}/some-task", headers={"Authorization": "Bearer t"})
    assert answer.status_code == 404
    assert answer.headers["allow"] == "GET, HEAD"
    assert answer.json()["code"] == 1202
    assert answer.json()["message"] == f"DELETE {CREATE_PATH}/some-task: method not allowed, use GET, HEAD"


def test_unknown_paths_and_kit_endpoints_still_go_to_starlette() -> None:
    with TestClient(create_app(Settings())) as http:
        assert http.get("/healthz").json() == {"status": "ok"}
        unknown = http.get(f"{CREATE_PATH}/")
    assert (unknown.status_code, unknown.json()["code"]) == (404, 1203)


def _receive(messages: list[dict[str, Any]]) -> Any:
    async def receive() -> dict[str, Any]:
        return messages.pop(0)

    return receive


def test_read_body_refuses_one_message_over_the_limit() -> None:
    """A body in a single message, with no Content-Length, is measured too."""
    receive = _receive([{"type": "http.request", "body": b"abcdef", "more_body": False}])
    with pytest.raises(KlingError):
        asyncio.run(read_body(receive, 5, None))


def test_read_body_joins_chunks_and_notices_a_disconnect() -> None:
    chunks: list[dict[str, Any]] = [
        {"type": "http.request", "body": b"ab", "more_body": True},
        {"type": "http.request", "body": b"c"},
    ]
    assert asyncio.run(read_body(_receive(chunks), 5, None)) == b"abc"
    gone: list[dict[str, Any]] = [
        {"type": "http.request", "body": b"ab", "more_body": True},
        {"type": "http.disconnect"},
    ]
    with pytest.raises(ClientDisconnect):
        asyncio.run(read_body(_receive(gone), 5, None))


def test_ids_drawn_in_batches_are_distinct_and_well_formed() -> None:
    ids = IdGenerator()
    drawn = [ids.new() for _ in range(1000)]
    assert len(set(drawn)) == 1000
    assert all(len(one) == 22 and one.replace("-", "").replace("_", "").isalnum() for one in drawn)
    assert IdGenerator(7).new() == IdGenerator(7).new()
