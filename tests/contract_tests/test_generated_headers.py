"""Generated cases stay within HTTP: no header that frames the message reaches the target.

A flake of `kling-mock contract` (1 run in 4 at `--max-examples 500`): Hypothesis drew the header name
`content-length` from the strings of the project's own code, with the value `rA]@4}+{`, and uvicorn's HTTP
parser answered `Invalid HTTP request received.` in text/plain, which `kling_envelope` and schemathesis's
`content_type_conformance` both failed. With a number instead, a bodiless GET leaves the server waiting
for a body, and the next request on the connection, another case, is swallowed as that body.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode

from contract_tests import checks
from mock_server.client.process import MockProcess
from mock_server.spec import DEFAULT_SPEC_PATH, load_spec
from tests.support import SPEC_CREATE_PATH, TOKEN

# The spec's path; the mock serves it under `/kling` in the documented dialect, which the spec states.
QUERY_PATH = SPEC_CREATE_PATH + "/{task_id}"
# The headers of the failing case, as its cassette recorded them.
RECORDED_HEADERS = {"Xu.1OdD8h`pMeJ0AP~AYVd+'V": "[5", "fM3": "=*${~DOp`5z", "content-length": "rA]@4}+{", "l3": "X"}


@pytest.fixture(scope="module")
def schema(mock_server: MockProcess) -> Any:
    loaded = schemathesis.openapi.from_dict(load_spec(DEFAULT_SPEC_PATH).document)
    loaded.config.update(base_url=mock_server.base_url + "/kling")
    return loaded


@pytest.fixture
def http() -> Iterator[requests.Session]:
    """One kept-alive connection, as the suite's session holds one across cases."""
    with requests.Session() as session:
        yield session


def _query_case(schema: Any, headers: dict[str, str]) -> schemathesis.Case[Any]:
    case: schemathesis.Case[Any] = schema[QUERY_PATH]["GET"].Case(
        path_parameters={"task_id": "no-such-task"}, headers={"Authorization": f"Bearer {TOKEN}", **headers}
    )
    return case


def _envelope_checked(case: schemathesis.Case[Any], session: requests.Session) -> schemathesis.Response:
    response = case.call(session=session)
    checks.kling_envelope(None, response, case)
    return response


def test_the_recorded_case_gets_the_http_servers_answer_not_the_apis(schema: Any, http: requests.Session) -> None:
    """The flake, repeated: the case as generated, sent as it was."""
    with pytest.raises(AssertionError, match="every response must be JSON, got Content-Type 'text/plain"):
        _envelope_checked(_query_case(schema, RECORDED_HEADERS), http)


def test_a_numeric_content_length_swallows_the_next_case(schema: Any, http: requests.Session) -> None:
    """The other half: the case itself passes, the next one on the connection fails."""
    assert _envelope_checked(_query_case(schema, {"content-length": "5"}), http).status_code == 404
    with pytest.raises(AssertionError, match="every response must be JSON"):
        _envelope_checked(_query_case(schema, {}), http)


@pytest.mark.parametrize("name", sorted(checks.TRANSPORT_HEADERS))
def test_the_hook_drops_each_transport_header_whatever_its_case(name: str, schema: Any) -> None:
    context = schemathesis.HookContext(operation=schema[QUERY_PATH]["GET"])
    case = checks.without_transport_headers(context, _query_case(schema, {name.title(): "5", "X-Kept": "1"}))
    assert case.headers is not None
    assert {key.lower() for key in case.headers} == {"authorization", "x-kept"}


def test_generated_cases_keep_no_transport_header_and_get_the_envelope(schema: Any, http: requests.Session) -> None:
    """Through schemathesis's own generation, which applies the hook: every case the suite sends is an API request."""
    operation = schema[QUERY_PATH]["GET"]
    strategy = operation.as_strategy(generation_mode=GenerationMode.NEGATIVE, headers=RECORDED_HEADERS)
    seen = []

    @given(case=strategy)
    @settings(max_examples=10, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    def sent(case: schemathesis.Case[Any]) -> None:
        assert case.headers is not None
        assert "content-length" not in {name.lower() for name in case.headers}, case.headers
        seen.append(_envelope_checked(case, http).headers["content-type"][0])

    sent()
    assert seen and set(seen) == {"application/json"}
