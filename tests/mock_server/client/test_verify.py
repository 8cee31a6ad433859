"""`run_verify` and `AdminClient` against a fake admin API served by a real uvicorn on 127.0.0.1.

The fake answers as admin.yaml says (and, switched off, as the mock does: 404 in Kling's envelope), so
these tests pin the client's side of the contract while the server side is written elsewhere.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from mock_server.client.admin_client import AdminClient, AdminError, AdminUnavailable
from mock_server.client.verify import run_verify
from mock_server.core.environment import ADMIN_TOKEN_ENV
from tests.support import free_loopback_port
from tests.support.journal_pages import entry, finding, page
from tests.support.threaded_server import served_in_thread

SECRET = "s3cret-admin-token-3f9a1c77"


@dataclass
class FakeAdmin:
    """What the fake admin API answers; each test sets it up afresh."""

    base_url: str = ""
    enabled: bool = True
    broken: bool = False
    token: str | None = None
    # Like a careless server, quote the Authorization header it refused in its error text.
    echo_authorization: bool = False
    journal: dict[str, Any] = field(default_factory=lambda: page())
    scenarios: dict[str, dict[str, Any]] = field(default_factory=dict)
    tasks: list[dict[str, Any]] = field(default_factory=list)
    seen: list[tuple[str, str, str, str | None]] = field(default_factory=list)

    def reset(self) -> None:
        base_url = self.base_url
        self.__dict__.update(FakeAdmin().__dict__)
        self.base_url = base_url


def _fake_app(fake: FakeAdmin) -> Starlette:
    async def handle(request: Request) -> Response:
        path, method = request.url.path, request.method
        authorization = request.headers.get("authorization")
        raw_path = request.scope["raw_path"].decode("ascii")
        fake.seen.append((method, raw_path, request.url.query, authorization))
        if not fake.enabled or not path.startswith("/__admin"):
            return JSONResponse({"code": 1203, "message": f"{path}: no such resource", "request_id": "r" * 22}, 404)
        if fake.broken:
            return PlainTextResponse("Internal Server Error", 500)
        if fake.token is not None and authorization != f"Bearer {fake.token}":
            said = f": got {authorization}" if fake.echo_authorization else ""
            return JSONResponse({"error": f"Authorization: admin token missing or wrong{said}"}, 401)
        if path == "/__admin/journal" and method == "GET":
            if request.query_params.get("verdict", "clean") not in ("error", "warning", "clean"):
                return JSONResponse({"error": "verdict: must be one of error, warning, clean"}, 400)
            return JSONResponse(fake.journal)
        if path == "/__admin/scenarios" and method == "GET":
            return JSONResponse({"scenarios": list(fake.scenarios.values())})
        if path == "/__admin/scenarios" and method == "POST":
            scenario = await request.json()
            if "name" not in scenario:
                return JSONResponse({"error": "name: required"}, 400)
            kept = {"name": scenario["name"], "source": "api", "remaining": scenario.get("times")}
            fake.scenarios[scenario["name"]] = kept
            return JSONResponse(kept, 201)
        if path.startswith("/__admin/scenarios/") and method == "DELETE":
            name = request.path_params["path"].removeprefix("__admin/scenarios/")
            if fake.scenarios.pop(name, None) is None:
                return JSONResponse({"error": f"no scenario named {name}"}, 404)
            return Response(status_code=204)
        if path == "/__admin/tasks" and method == "GET":
            return JSONResponse({"tasks": fake.tasks[: int(request.query_params.get("limit", "100"))]})
        if (path, method) in {
            ("/__admin/journal", "DELETE"),
            ("/__admin/scenarios", "DELETE"),
            ("/__admin/reset", "POST"),
        }:
            if path != "/__admin/journal":
                fake.scenarios.clear()
            return Response(status_code=204)
        return JSONResponse({"error": f"{method} {path}: not an admin call"}, 404)

    methods = ["GET", "POST", "DELETE", "PUT", "PATCH"]
    return Starlette(routes=[Route("/{path:path}", handle, methods=methods)])


@pytest.fixture(scope="module")
def served() -> Iterator[FakeAdmin]:
    fake = FakeAdmin()
    with served_in_thread(_fake_app(fake)) as base_url:
        fake.base_url = base_url
        yield fake


@pytest.fixture
def fake(served: FakeAdmin, monkeypatch: pytest.MonkeyPatch) -> FakeAdmin:
    served.reset()
    monkeypatch.delenv(ADMIN_TOKEN_ENV, raising=False)
    return served


@pytest.fixture
def closed_port_url() -> str:
    """A loopback address nothing listens on: the port was free a moment ago."""
    return f"http://127.0.0.1:{free_loopback_port()}"


ERRORS_PAGE = page(
    entry(1, errors=[finding("required", "input.video_id")]),
    entry(2, warnings=[finding("unknown-field", "input.extra")]),
    entry(3),
)
WARNINGS_PAGE = page(entry(1, warnings=[finding("unknown-field", "input.extra")]), entry(2))
CLEAN_PAGE = page(entry(1), entry(2))


def verify(
    capsys: pytest.CaptureFixture[str], base_url: str, token: str | None = None, **options: Any
) -> tuple[int, str, str]:
    status = run_verify(
        base_url,
        token,
        options.pop("output_format", "text"),
        options.pop("output", None),
        options.pop("fail_on_warnings", False),
    )
    assert not options
    out, err = capsys.readouterr()
    return status, out, err


# run_verify: exit statuses


def test_clean_client_passes(fake: FakeAdmin, capsys: pytest.CaptureFixture[str]) -> None:
    fake.journal = CLEAN_PAGE
    status, out, err = verify(capsys, fake.base_url)
    assert status == 0
    assert out.strip() == "kling-mock conformance: clean: 2 requests, no errors, no warnings"
    assert err == ""


def test_errors_break_the_contract(fake: FakeAdmin, capsys: pytest.CaptureFixture[str]) -> None:
    fake.journal = ERRORS_PAGE
    status, out, _ = verify(capsys, fake.base_url)
    assert status == 1
    assert out.startswith("kling-mock conformance: FAILED")
    assert "[error] required" in out and "[warning] unknown-field" in out
    # The whole journal is asked for: no filter, no limit.
    assert [(method, path, query) for method, path, query, _ in fake.seen] == [("GET", "/__admin/journal", "")]


@pytest.mark.parametrize(("fail_on_warnings", "expected"), [(False, 0), (True, 1)])
def test_warnings_fail_only_when_asked(
    fake: FakeAdmin, capsys: pytest.CaptureFixture[str], fail_on_warnings: bool, expected: int
) -> None:
    fake.journal = WARNINGS_PAGE
    status, out, _ = verify(capsys, fake.base_url, fail_on_warnings=fail_on_warnings)
    assert status == expected
    assert "[warning] unknown-field" in out


def test_dropped_requests_are_reported(fake: FakeAdmin, capsys: pytest.CaptureFixture[str]) -> None:
    fake.journal = page(entry(1), dropped=7, capacity=1)
    status, out, _ = verify(capsys, fake.base_url)
    assert status == 0
    assert "the oldest 7 requests were pushed out of the journal" in out


def test_lost_requests_are_reported_without_failing_the_run(
    fake: FakeAdmin, capsys: pytest.CaptureFixture[str]
) -> None:
    """The journal's Redis was away for some requests: the run still passes, and says those were not judged."""
    fake.journal = {**page(entry(1)), "lost": 2}
    status, out, _ = verify(capsys, fake.base_url)
    assert status == 0
    assert "; 2 not judged (lost: answered but never journaled)" in out.splitlines()[0]
    assert "note: 2 requests answered by the mock never reached the journal" in out

    status, out, _ = verify(capsys, fake.base_url, output_format="json")
    assert status == 0
    report = json.loads(out)
    assert report["totals"]["lost"] == 2
    assert any("never reached the journal" in note for note in report["notes"])


def test_admin_api_off_exits_2_with_the_hint(fake: FakeAdmin, capsys: pytest.CaptureFixture[str]) -> None:
    fake.enabled = False
    status, out, err = verify(capsys, fake.base_url)
    assert status == 2
    assert out == ""
    assert "kling-mock verify: cannot read the journal" in err
    assert "start it with `kling-mock serve --admin`" in err


def test_missing_token_exits_2(fake: FakeAdmin, capsys: pytest.CaptureFixture[str]) -> None:
    fake.token = SECRET
    status, _, err = verify(capsys, fake.base_url)
    assert status == 2
    assert "the admin API needs a token" in err and "--admin-token" in err


def test_wrong_token_exits_2(fake: FakeAdmin, capsys: pytest.CaptureFixture[str]) -> None:
    fake.token = "the-right-one"
    status, _, err = verify(capsys, fake.base_url, "not-the-right-one")
    assert status == 2
    assert "the admin token was refused" in err
    assert "not-the-right-one" not in err


def test_the_right_token_is_sent_as_bearer(fake: FakeAdmin, capsys: pytest.CaptureFixture[str]) -> None:
    fake.token, fake.journal = SECRET, CLEAN_PAGE
    status, _, _ = verify(capsys, fake.base_url, SECRET)
    assert status == 0
    assert fake.seen[-1][3] == f"Bearer {SECRET}"


def test_the_token_comes_from_the_environment_when_not_given(
    fake: FakeAdmin, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    fake.token, fake.journal = SECRET, CLEAN_PAGE
    monkeypatch.setenv(ADMIN_TOKEN_ENV, SECRET)
    status, out, _ = verify(capsys, fake.base_url)
    assert status == 0
    assert SECRET not in out


def test_unreachable_mock_exits_2(closed_port_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    status, out, err = verify(capsys, closed_port_url, SECRET)
    assert status == 2
    assert out == ""
    assert f"cannot reach the mock at {closed_port_url}" in err
    assert SECRET not in err


def test_a_base_url_without_scheme_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    status, _, err = verify(capsys, "127.0.0.1:8000")
    assert status == 2
    assert "http://" in err


def test_a_failing_mock_exits_2(fake: FakeAdmin, capsys: pytest.CaptureFixture[str]) -> None:
    fake.broken = True
    status, _, err = verify(capsys, fake.base_url)
    assert status == 2
    assert "HTTP 500" in err


def test_a_page_without_verdicts_exits_2(fake: FakeAdmin, capsys: pytest.CaptureFixture[str]) -> None:
    fake.journal = {"entries": [{"seq": 1}], "total": 1, "recorded": 1, "dropped": 0, "capacity": 10}
    status, _, err = verify(capsys, fake.base_url)
    assert status == 2
    assert "entries[0].verdict" in err


# run_verify: formats and the output file


def test_junit_to_a_file_prints_the_summary(
    fake: FakeAdmin, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    fake.journal = ERRORS_PAGE
    report = tmp_path / "reports" / "conformance.xml"
    status, out, _ = verify(capsys, fake.base_url, output_format="junit", output=report)
    assert status == 1
    assert out.splitlines()[0].startswith("kling-mock conformance: FAILED: 3 requests")
    assert str(report) in out
    suite = ET.parse(report).getroot().find("testsuite")
    assert suite is not None
    assert {case.get("name") for case in suite.iter("testcase")} == {"required", "unknown-field"}


def test_json_to_stdout(fake: FakeAdmin, capsys: pytest.CaptureFixture[str]) -> None:
    fake.journal = WARNINGS_PAGE
    status, out, _ = verify(capsys, fake.base_url, output_format="json", fail_on_warnings=True)
    assert status == 1
    document = json.loads(out)
    assert document["passed"] is False and document["fail_on_warnings"] is True
    assert document["rules"][0]["rule"] == "unknown-field"


def test_an_unwritable_output_exits_2(fake: FakeAdmin, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    fake.journal = CLEAN_PAGE
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    status, _, err = verify(capsys, fake.base_url, output=blocker / "report.txt")
    assert status == 2
    assert "cannot write the report" in err


def test_an_unknown_format_is_a_programming_error(fake: FakeAdmin) -> None:
    with pytest.raises(ValueError, match="output_format"):
        run_verify(fake.base_url, None, "yaml", None, False)


# The admin token never leaks


def test_the_admin_token_never_appears_in_any_output(
    fake: FakeAdmin, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """Even when the journal (or a careless server) repeats it, in every format and every failure."""
    fake.token = SECRET
    fake.journal = page(
        entry(
            1,
            errors=[finding("enum", "input.mode", f"input.mode: '{SECRET}' is not one of text2video")],
            body=json.dumps({"input": {"mode": SECRET}}),
            query=f"admin={SECRET}",
            headers={"x-forwarded-token": SECRET},
            response={"status": 400, "code": 1201, "message": SECRET},
        ),
        entry(2, warnings=[finding("unknown-field", f"input.{SECRET}")]),
    )
    outputs: list[str] = []
    for output_format in ("text", "json", "junit"):
        status, out, err = verify(capsys, fake.base_url, SECRET, output_format=output_format)
        assert status == 1
        outputs += [out, err]
        report = tmp_path / f"report.{output_format}"
        status, out, err = verify(capsys, fake.base_url, SECRET, output_format=output_format, output=report)
        assert status == 1
        outputs += [out, err, report.read_text(encoding="utf-8")]
    fake.token, fake.echo_authorization = "another-token", True
    status, out, err = verify(capsys, fake.base_url, SECRET)
    assert status == 2
    outputs += [out, err]
    fake.enabled = False
    outputs += verify(capsys, fake.base_url, SECRET)[1:]
    assert all(SECRET not in text for text in outputs)
    assert any("<redacted>" in text for text in outputs)


# AdminClient


def test_client_calls(fake: FakeAdmin) -> None:
    fake.tasks = [{"caller": "0123456789ab", "task": {"task_id": f"t{n}"}} for n in range(5)]
    with AdminClient(fake.base_url) as admin:
        assert admin.scenarios() == []
        kept = admin.add_scenario({"name": "flaky", "code": 1302, "times": 2})
        assert kept == {"name": "flaky", "source": "api", "remaining": 2}
        assert [scenario["name"] for scenario in admin.scenarios()] == ["flaky"]
        admin.remove_scenario("flaky")
        admin.add_scenario({"name": "slow", "latency_ms": 100})
        admin.clear_scenarios()
        assert admin.scenarios() == []
        assert len(admin.tasks(limit=3)) == 3
        admin.clear_journal()
        admin.reset()
        assert admin.journal()["entries"] == []
    assert ("GET", "/__admin/tasks", "limit=3", None) in fake.seen
    assert ("DELETE", "/__admin/journal", "", None) in fake.seen
    assert ("POST", "/__admin/reset", "", None) in fake.seen


def test_journal_filters_go_in_the_query(fake: FakeAdmin) -> None:
    with AdminClient(fake.base_url) as admin:
        admin.journal(verdict="error", rule="required", since=4, limit=10, code=None)
    _, _, query, _ = fake.seen[-1]
    assert sorted(query.split("&")) == ["limit=10", "rule=required", "since=4", "verdict=error"]


def test_an_unknown_filter_is_refused_before_any_call(fake: FakeAdmin) -> None:
    with AdminClient(fake.base_url) as admin, pytest.raises(TypeError, match="colour"):
        admin.journal(colour="red")
    assert fake.seen == []


def test_a_refused_call_is_an_admin_error_with_the_servers_reason(fake: FakeAdmin) -> None:
    with AdminClient(fake.base_url) as admin:
        with pytest.raises(AdminError, match="verdict: must be one of error, warning, clean") as bad_filter:
            admin.journal(verdict="nope")
        assert bad_filter.value.status == 400
        with pytest.raises(AdminError, match="no scenario named ghost") as missing:
            admin.remove_scenario("ghost")
        assert missing.value.status == 404
        with pytest.raises(AdminError, match="name: required"):
            admin.add_scenario({"code": 1302})


def test_scenario_names_are_quoted_in_the_path(fake: FakeAdmin) -> None:
    with AdminClient(fake.base_url) as admin, pytest.raises(AdminError):
        admin.remove_scenario("a/b c")
    assert fake.seen[-1][1] == "/__admin/scenarios/a%2Fb%20c"


def test_admin_off_is_unavailable_even_for_remove_scenario(fake: FakeAdmin) -> None:
    """A 404 in Kling's envelope means no admin API, not "no such scenario"."""
    fake.enabled = False
    with AdminClient(fake.base_url) as admin, pytest.raises(AdminUnavailable, match="kling-mock serve --admin"):
        admin.remove_scenario("flaky")


def test_the_token_is_in_no_message_nor_repr(fake: FakeAdmin, closed_port_url: str) -> None:
    fake.token, fake.echo_authorization = "another-token", True
    admin = AdminClient(fake.base_url, SECRET)
    assert SECRET not in repr(admin) and "<set>" in repr(admin)
    with admin, pytest.raises(AdminUnavailable) as refused:
        admin.journal()
    assert refused.value.status == 401
    assert SECRET not in str(refused.value) and SECRET not in repr(refused.value)
    assert "<redacted>" in str(refused.value)
    with AdminClient(closed_port_url, SECRET) as admin, pytest.raises(AdminUnavailable) as unreachable:
        admin.reset()
    assert SECRET not in repr(unreachable.value)
    assert unreachable.value.__cause__ is None and unreachable.value.__suppress_context__


@pytest.mark.parametrize("token", ["has space", "new\nline", "naïve"])
def test_a_token_http_cannot_carry_is_refused_without_quoting_it(token: str) -> None:
    with pytest.raises(AdminUnavailable) as caught:
        AdminClient("http://127.0.0.1:9", token)
    assert token not in str(caught.value)


def test_an_empty_token_is_no_token(fake: FakeAdmin) -> None:
    with AdminClient(fake.base_url, "") as admin:
        admin.journal()
    assert fake.seen[-1][3] is None


def test_credentials_in_the_base_url_stay_out_of_messages(closed_port_url: str) -> None:
    url = closed_port_url.replace("http://", "http://user:hunter2@")
    with AdminClient(url) as admin, pytest.raises(AdminUnavailable) as caught:
        admin.journal()
    assert "hunter2" not in str(caught.value)
    assert closed_port_url in str(caught.value)
