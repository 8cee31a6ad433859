"""`kling-mock proxy` over real HTTP: a client, the proxy, and an upstream, each a real server on 127.0.0.1.

The upstream is either a deliberately non-conforming stand-in (a small ASGI app in a uvicorn thread, which
answers what each request's `X-Stand-In` header asks for and keeps what it was sent), or the real mock
(`MockProcess`). The client must get the upstream's answer unchanged; the journal and `kling-mock verify`
must tell the upstream's faults from the client's; tokens must never show; no upstream must mean Kling's
503 or 504, not a crash. No assertion depends on how long anything takes.
"""

from __future__ import annotations

import asyncio
import gzip
import json
import socket
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import orjson
import pytest
from starlette.types import Receive, Scope, Send

from mock_server.client.process import MockProcess
from tests.mock_server.admin.test_api import journal
from tests.support import CREATE_PATH, CREATED_ANSWER, CREATED_AT_MS, REQUEST_ID, SEED_EXAMPLE, TASK_ID
from tests.support.threaded_server import served_in_thread

ADMIN_TOKEN = "proxy-admin-token-8b1e44"
CLIENT_TOKEN = "sk-client-token-for-the-proxy-3c9d71"
UPSTREAM_KEY = "sk-upstream-accepted-key-5a20f6"
HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade", "proxy-authenticate"}
STAND_IN = "X-Stand-In"
INVALID_PARAMETER: dict[str, Any] = {"code": 1201, "message": "input.mode: is required", "request_id": REQUEST_ID}
JSON = "application/json"
# What the stand-in answers, by the name in the request's `X-Stand-In`: status, Content-Type, body.
ANSWERS: dict[str, tuple[int, str, bytes]] = {
    "conforming": (200, JSON, orjson.dumps(CREATED_ANSWER)),
    "code-1201-on-200": (200, JSON, orjson.dumps(INVALID_PARAMETER)),
    "seconds": (
        200,
        JSON,
        orjson.dumps({**CREATED_ANSWER, "data": {**CREATED_ANSWER["data"], "created_at": CREATED_AT_MS // 1000}}),
    ),
    "bad-id": (200, JSON, orjson.dumps({**CREATED_ANSWER, "request_id": "req-42"})),
    "missing-field": (
        200,
        JSON,
        orjson.dumps(
            {**CREATED_ANSWER, "data": {k: v for k, v in CREATED_ANSWER["data"].items() if k != "task_status"}}
        ),
    ),
    "1201-on-404": (404, JSON, orjson.dumps(INVALID_PARAMETER)),
    "text": (200, "text/plain; charset=utf-8", b"OK, created"),
    "too-large-refused": (
        400,
        JSON,
        orjson.dumps({"code": 1200, "message": "body: too large", "request_id": REQUEST_ID}),
    ),
}


# The stand-in upstream.


@dataclass
class Seen:
    method: str
    raw_path: bytes
    query: bytes
    headers: list[tuple[bytes, bytes]]
    body_bytes: int
    body: bytes


@dataclass
class StandIn:
    """A raw ASGI app: it sees the request exactly as the proxy sent it, and answers by name."""

    base_url: str = ""
    seen: list[Seen] = field(default_factory=list)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        assert scope["type"] == "http"
        chunks, more = [], True
        while more:
            message = await receive()
            chunks.append(message.get("body", b""))
            more = message.get("more_body", False)
        body = b"".join(chunks)
        headers = scope["headers"]
        self.seen.append(
            Seen(scope["method"], scope["raw_path"], scope["query_string"], headers, len(body), body[:4096])
        )
        name = dict(headers).get(STAND_IN.lower().encode(), b"conforming").decode()
        extra = [(b"set-cookie", b"session=stand-in-cookie-77aa; HttpOnly"), (b"x-stand-in-answer", name.encode())]
        extra.append((b"keep-alive", b"timeout=5"))  # hop-by-hop: the proxy must not pass it on
        if name == "slow":
            await asyncio.sleep(60)  # past any proxy's --timeout here; cut short when the stand-in stops
        if name == "gzip":
            # mtime=0: the same bytes at each call, to compare a direct answer with a proxied one.
            status, content_type, content = 200, JSON, gzip.compress(orjson.dumps(CREATED_ANSWER), mtime=0)
            extra.append((b"content-encoding", b"gzip"))
        elif name == "echo-token":
            authorization = dict(headers).get(b"authorization", b"").decode()
            message = f"the key in {authorization!r} is not accepted"
            status, content_type = 401, JSON
            content = orjson.dumps({"code": 1000, "message": message, "request_id": REQUEST_ID})
        else:
            status, content_type, content = ANSWERS[name]
        head = [(b"content-type", content_type.encode()), (b"content-length", str(len(content)).encode()), *extra]
        await send({"type": "http.response.start", "status": status, "headers": head})
        await send({"type": "http.response.body", "body": content})


@pytest.fixture(scope="module")
def stand_in() -> Iterator[StandIn]:
    app = StandIn()
    with served_in_thread(app) as base_url:
        app.base_url = base_url
        yield app


@pytest.fixture(scope="module")
def proxy(stand_in: StandIn) -> Iterator[MockProcess]:
    args = ("--upstream", stand_in.base_url, "--admin", "--admin-token", ADMIN_TOKEN)
    with MockProcess(*args, subcommand="proxy") as server:
        yield server


@pytest.fixture
def admin(proxy: MockProcess, stand_in: StandIn) -> Iterator[httpx.Client]:
    """The proxy's admin API, after a reset: an empty journal, and a stand-in that has seen nothing."""
    with httpx.Client(base_url=proxy.base_url, headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}, timeout=30) as http:
        assert http.post("/__admin/reset").status_code == 204
        stand_in.seen.clear()
        yield http


def client(server: MockProcess, token: str = CLIENT_TOKEN) -> httpx.Client:
    return httpx.Client(base_url=server.base_url, headers={"Authorization": f"Bearer {token}"}, timeout=30)


def ask(server: MockProcess | StandIn, name: str) -> tuple[httpx.Response, bytes]:
    """The answer to the documented example, asking the stand-in for `name`; and its body's bytes as sent."""
    with (
        httpx.Client(base_url=server.base_url, headers={"Authorization": f"Bearer {CLIENT_TOKEN}"}, timeout=30) as http,
        http.stream("POST", CREATE_PATH, json=SEED_EXAMPLE, headers={STAND_IN: name}) as response,
    ):
        return response, b"".join(response.iter_raw())


def end_to_end(response: httpx.Response) -> list[tuple[str, str]]:
    """The headers that must come through a proxy unchanged (not hop-by-hop; Date is the moment's)."""
    return [
        (name.decode().lower(), value.decode())
        for name, value in response.headers.raw
        if name.decode().lower() not in HOP_BY_HOP | {"date"}
    ]


def upstream_findings(entry: dict[str, Any]) -> set[tuple[str, str, str]]:
    verdict = entry["upstream"]["verdict"]
    return {
        (severity, finding["rule"], finding["path"])
        for severity in ("errors", "warnings")
        for finding in verdict[severity]
    }


def verify(server: MockProcess, *options: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "mock_server", "verify", "--base-url", server.base_url, *options]
    return subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)


# The answer goes through unchanged.


@pytest.mark.parametrize("name", [*ANSWERS, "gzip"])
def test_the_client_gets_the_upstreams_answer_unchanged(
    proxy: MockProcess, stand_in: StandIn, admin: httpx.Client, name: str
) -> None:
    expected, expected_body = ask(stand_in, name)
    received, received_body = ask(proxy, name)
    assert received.status_code == expected.status_code
    assert received_body == expected_body  # the bytes as sent: a gzipped body stays gzipped
    assert end_to_end(received) == end_to_end(expected)
    assert "keep-alive" not in received.headers
    assert len(received.headers.get_list("date")) == 1  # the upstream's, not a second one of the proxy's


def test_the_request_reaches_the_upstream_as_the_client_sent_it(
    proxy: MockProcess, stand_in: StandIn, admin: httpx.Client
) -> None:
    body = b'{"input": {"video_id": "v1", "mode": "text2video", "text": "Hi", "voice_id": "x"}, "extra": [1,2]}'
    headers = {
        "Content-Type": "application/json; charset=utf-8",
        "X-Request-Trace": "trace-1",
        "Connection": "keep-alive, X-Hop",
        "X-Hop": "dropped because Connection names it",
    }
    with client(proxy) as http:
        response = http.post(f"{CREATE_PATH}?a=%20b&c=%2F", content=body, headers=headers)
    assert response.status_code == 200
    (seen,) = stand_in.seen
    assert (seen.method, seen.raw_path, seen.query, seen.body) == ("POST", CREATE_PATH.encode(), b"a=%20b&c=%2F", body)
    sent = {name.decode(): value.decode() for name, value in seen.headers}
    assert sent["authorization"] == f"Bearer {CLIENT_TOKEN}"
    assert sent["content-type"] == "application/json; charset=utf-8"
    assert sent["x-request-trace"] == "trace-1"
    assert sent["host"] == stand_in.base_url.removeprefix("http://")
    # Every end-to-end header the client sent, and nothing the proxy (or its HTTP library) added.
    by_client = {name.lower() for name in response.request.headers} - {"connection", "x-hop", "host"}
    assert set(sent) - {"host"} == by_client


def test_an_oversized_body_still_goes_to_the_upstream_and_is_judged_too_large(
    proxy: MockProcess, stand_in: StandIn, admin: httpx.Client
) -> None:
    size = 8 * 1024 * 1024 + 100
    body = b'{"input": "' + b"x" * (size - 13) + b'"}'
    with client(proxy) as http:
        response = http.post(CREATE_PATH, content=body, headers={"Content-Type": JSON, STAND_IN: "too-large-refused"})
    assert response.status_code == 400
    assert stand_in.seen[-1].body_bytes == len(body)
    (entry,) = journal(admin)["entries"]
    assert (entry["body_bytes"], entry["body_truncated"]) == (len(body), True)
    assert [finding["rule"] for finding in entry["verdict"]["errors"]] == ["body-too-large"]
    assert entry["upstream"]["verdict"]["result"] == "clean"


# The journal: the upstream's faults apart from the client's.


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("conforming", set()),
        ("code-1201-on-200", {("errors", "response-status", "code"), ("errors", "response-schema", "data")}),
        ("seconds", {("errors", "response-schema", "data.created_at")}),
        ("bad-id", {("errors", "response-schema", "request_id")}),
        ("missing-field", {("errors", "response-schema", "data.task_status")}),
        ("1201-on-404", {("errors", "response-status", "code"), ("errors", "response-refused-valid-request", "code")}),
        ("text", {("errors", "response-content-type", "header.Content-Type"), ("errors", "response-envelope", "body")}),
        ("gzip", set()),
    ],
)
def test_the_journal_shows_what_the_upstream_answered_wrong(
    proxy: MockProcess, admin: httpx.Client, name: str, expected: set[tuple[str, str, str]]
) -> None:
    ask(proxy, name)
    (entry,) = journal(admin)["entries"]
    assert expected <= upstream_findings(entry)
    assert bool(expected) == (entry["upstream"]["verdict"]["result"] == "error")
    assert entry["verdict"]["result"] == "clean"  # the client sent the documented example
    assert entry["upstream"]["status"] == entry["response"]["status"]
    assert entry["upstream"]["error"] is None
    if name == "gzip":
        assert json.loads(entry["upstream"]["body"]) == CREATED_ANSWER  # judged, and kept, decoded


def test_the_journal_has_the_upstreams_request_id_and_code(proxy: MockProcess, admin: httpx.Client) -> None:
    ask(proxy, "code-1201-on-200")
    (entry,) = journal(admin, rule="response-status")["entries"]
    assert entry["request_id"] == REQUEST_ID
    assert entry["response"] == {"status": 200, "code": 1201, "message": "input.mode: is required"}
    headers = entry["upstream"]["headers"]
    assert headers["set-cookie"] == "<redacted>"
    assert headers["x-stand-in-answer"] == "code-1201-on-200"
    assert journal(admin, rule="response-status", verdict="clean")["total"] == 1  # the client's verdict
    assert journal(admin, rule="required")["total"] == 0


def test_verify_reports_the_upstreams_violations_apart_and_exits_1(proxy: MockProcess, admin: httpx.Client) -> None:
    for name in ("seconds", "1201-on-404", "conforming", "text"):
        ask(proxy, name)
    with client(proxy) as http:
        http.post(CREATE_PATH, json={"input": {"video_id": "v1"}}, headers={STAND_IN: "conforming"})
    result = verify(proxy, "--admin-token", ADMIN_TOKEN)
    assert result.returncode == 1, result.stderr
    text = result.stdout
    summary = text.splitlines()[0]
    assert summary.startswith("kling-mock conformance: FAILED: 5 requests: 1 with errors")
    assert "; upstream: 5 answers: 3 with errors" in summary
    client_part, upstream_part = text.split("THE UPSTREAM BROKE THE CONTRACT")
    assert "THE CLIENT BROKE THE CONTRACT" in client_part
    assert "[error] required" in client_part and "response-" not in client_part
    for rule in ("response-schema", "response-status", "response-content-type", "response-envelope"):
        assert f"[upstream error] {rule}" in upstream_part
    assert "UPSTREAM WARNINGS" in upstream_part  # HTTP 200 to the client's bad request
    assert "  < OK, created" in upstream_part  # the answer itself, in the example
    report = json.loads(verify(proxy, "--admin-token", ADMIN_TOKEN, "--format", "json").stdout)
    assert report["passed"] is False
    assert report["upstream"]["totals"] == {
        "judged": 5,
        "clean": 1,
        "with_errors": 3,
        "with_warnings": 1,
        "unanswered": 0,
    }
    assert "required" in {rule["rule"] for rule in report["rules"]}
    assert all(rule["rule"].startswith("response-") for rule in report["upstream"]["rules"])
    assert not any(rule["rule"].startswith("response-") for rule in report["rules"])


def test_an_upstream_fault_alone_fails_verify(proxy: MockProcess, admin: httpx.Client) -> None:
    ask(proxy, "bad-id")
    result = verify(proxy, "--admin-token", ADMIN_TOKEN)
    assert result.returncode == 1
    assert result.stdout.splitlines()[0] == (
        "kling-mock conformance: FAILED: 1 request: 0 with errors (0 rules), 0 with warnings (0 rules), 1 clean; "
        "upstream: 1 answer: 1 with errors (1 rule), 0 with warnings (0 rules), 0 clean"
    )
    assert "THE CLIENT BROKE THE CONTRACT" not in result.stdout  # nothing to say there


# A conforming upstream: the real mock.


@pytest.fixture(scope="module")
def real_upstream() -> Iterator[MockProcess]:
    with MockProcess("--tick-ms", "0", "--keys", UPSTREAM_KEY) as mock:
        yield mock


@pytest.fixture(scope="module")
def proxy_to_mock(real_upstream: MockProcess) -> Iterator[MockProcess]:
    with MockProcess("--upstream", real_upstream.base_url, "--admin", subcommand="proxy") as server:
        yield server


@pytest.fixture
def mock_admin(proxy_to_mock: MockProcess) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=proxy_to_mock.base_url, timeout=30) as http:
        assert http.post("/__admin/reset").status_code == 204
        yield http


def test_a_conforming_upstream_and_client_give_clean_verdicts(
    proxy_to_mock: MockProcess, mock_admin: httpx.Client
) -> None:
    with client(proxy_to_mock, UPSTREAM_KEY) as http:
        created = http.post(CREATE_PATH, json=SEED_EXAMPLE)
        assert created.status_code == 200
        task_id = created.json()["data"]["task_id"]
        assert http.get(f"{CREATE_PATH}/{task_id}").json()["data"]["task_id"] == task_id
        assert http.get(CREATE_PATH, params={"pageSize": 10}).status_code == 200
    entries = journal(mock_admin)["entries"]
    assert [entry["operation"] for entry in entries] == [
        "createIdentifyFaceTask",
        "getIdentifyFaceTask",
        "listIdentifyFaceTasks",
    ]
    assert {(entry["verdict"]["result"], entry["upstream"]["verdict"]["result"]) for entry in entries} == {
        ("clean", "clean")
    }
    result = verify(proxy_to_mock)
    assert result.returncode == 0, result.stdout
    assert result.stdout.splitlines()[0] == (
        "kling-mock conformance: clean: 3 requests, no errors, no warnings; upstream: 3 answers, no errors, no warnings"
    )


def test_a_proxy_in_front_of_the_upstream_dialect_judges_by_its_spec() -> None:
    """`--dialect upstream`: faces at once are a clean answer, and the documented shape the client's mistake."""
    with (
        MockProcess("--dialect", "upstream", "--keys", UPSTREAM_KEY) as upstream,
        MockProcess("--upstream", upstream.base_url, "--dialect", "upstream", "--admin", subcommand="proxy") as server,
        client(server, UPSTREAM_KEY) as http,
    ):
        assert http.post(CREATE_PATH, json={"video_url": "https://example.com/faces-2.mp4"}).status_code == 200
        assert http.post(CREATE_PATH, json=SEED_EXAMPLE).status_code == 400
        # Refused for what the video holds, which the spec declares (`x-kling-content-refusals`): no fault.
        assert http.post(CREATE_PATH, json={"video_url": "https://example.com/no-face.mp4"}).status_code == 400
        with httpx.Client(base_url=server.base_url) as admin_http:
            entries = journal(admin_http)["entries"]
    verdicts = [(entry["verdict"]["result"], entry["upstream"]["verdict"]["result"]) for entry in entries]
    assert verdicts == [("clean", "clean"), ("error", "clean"), ("clean", "clean")]


@pytest.mark.parametrize(
    ("token", "send", "rule"),
    [
        (UPSTREAM_KEY, lambda http: http.post(CREATE_PATH, json={"input": {"video_id": "v1"}}), "required"),
        ("sk-not-a-key-of-the-upstream", lambda http: http.post(CREATE_PATH, json=SEED_EXAMPLE), "auth-rejected"),
        (UPSTREAM_KEY, lambda http: http.get(f"{CREATE_PATH}/{TASK_ID}"), "unknown-task"),
        (UPSTREAM_KEY, lambda http: http.delete(CREATE_PATH), "method"),
        (UPSTREAM_KEY, lambda http: http.get("/kling/v1/videos/identify-faces"), "unknown-path"),
    ],
    ids=["bad-body", "refused-key", "unknown-task", "wrong-method", "unknown-path"],
)
def test_the_clients_mistakes_are_the_clients(
    proxy_to_mock: MockProcess, mock_admin: httpx.Client, token: str, send: Any, rule: str
) -> None:
    with client(proxy_to_mock, token) as http:
        assert send(http).status_code >= 400
    (entry,) = journal(mock_admin)["entries"]
    assert rule in {finding["rule"] for finding in entry["verdict"]["errors"]}
    assert entry["upstream"]["verdict"] == {"result": "clean", "errors": [], "warnings": []}
    result = verify(proxy_to_mock)
    assert result.returncode == 1
    assert "THE CLIENT BROKE THE CONTRACT" in result.stdout
    assert "THE UPSTREAM BROKE THE CONTRACT" not in result.stdout


# Secrets.


def test_tokens_never_appear_in_the_journal_the_report_or_the_logs(proxy: MockProcess, admin: httpx.Client) -> None:
    with client(proxy) as http:
        http.post(f"{CREATE_PATH}?key={CLIENT_TOKEN}", json={"input": {"video_id": CLIENT_TOKEN}})
        http.post(CREATE_PATH, json=SEED_EXAMPLE, headers={STAND_IN: "echo-token"})
    (_, echoed) = journal(admin)["entries"]
    assert "<redacted>" in echoed["upstream"]["body"]
    assert echoed["verdict"]["errors"][0]["rule"] == "auth-rejected"  # as the upstream said
    outputs = [
        admin.get("/__admin/journal").text,
        admin.get("/__admin").text,
        *(verify(proxy, "--admin-token", ADMIN_TOKEN, "--format", kind).stdout for kind in ("text", "json", "junit")),
    ]
    logs = [*proxy.access_log, *proxy.stderr_lines]
    for text in [*outputs, *logs]:
        assert CLIENT_TOKEN not in text
        assert ADMIN_TOKEN not in text


# No upstream.


@pytest.fixture
def closed_port() -> int:
    """A loopback port nothing listens on: it was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def test_an_unreachable_upstream_is_503_5001_in_klings_envelope(closed_port: int) -> None:
    args = ("--upstream", f"http://127.0.0.1:{closed_port}/api", "--admin")
    with MockProcess(*args, subcommand="proxy") as server, client(server) as http:
        for _ in range(2):  # and the proxy is still there for the next one
            response = http.post(CREATE_PATH, json=SEED_EXAMPLE)
            assert response.status_code == 503
            body = response.json()
            assert (body["code"], set(body)) == (5001, {"code", "message", "request_id"})
            assert body["message"].startswith("kling-mock proxy: the upstream could not be reached")
        with httpx.Client(base_url=server.base_url, timeout=30) as admin:
            entry = journal(admin)["entries"][-1]
        assert entry["upstream"]["status"] is None
        assert entry["upstream"]["verdict"] is None
        assert "could not be reached" in entry["upstream"]["error"]
        assert entry["verdict"]["result"] == "clean"
        result = verify(server)
        assert result.returncode == 0
        assert "2 unanswered by the upstream" in result.stdout
        assert server.running
    assert not any("Traceback" in line for line in server.stderr_lines)
    assert sum("no answer passed on: the upstream could not be reached" in line for line in server.stderr_lines) == 2


def test_a_target_that_is_no_path_is_the_proxys_own_400(proxy: MockProcess, admin: httpx.Client) -> None:
    host, port = proxy.base_url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=30) as connection:
        connection.sendall(b"OPTIONS * HTTP/1.1\r\nHost: proxy\r\nConnection: close\r\n\r\n")
        answer = b"".join(iter(lambda: connection.recv(65536), b""))
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 400 ")
    assert b"\r\ndate: " in head.lower()
    assert orjson.loads(body)["code"] == 1200
    (entry,) = journal(admin)["entries"]
    assert entry["upstream"]["error"] == "the request's target cannot be forwarded"
    assert proxy.running


def test_an_upstream_that_does_not_answer_in_time_is_504_5002(stand_in: StandIn) -> None:
    # Long enough for the conforming answer after it on a busy machine; the slow one never comes.
    args = ("--upstream", stand_in.base_url, "--timeout", "2")
    with MockProcess(*args, subcommand="proxy") as server:
        response, body = ask(server, "slow")
        assert response.status_code == 504
        answer = orjson.loads(body)
        assert answer["code"] == 5002
        assert "did not answer within 2 s" in answer["message"]
        assert ask(server, "conforming")[0].status_code == 200


# The admin API of a proxy.


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/__admin/tasks"),
        ("GET", "/__admin/scenarios"),
        ("POST", "/__admin/scenarios"),
        ("DELETE", "/__admin/scenarios"),
        ("DELETE", "/__admin/scenarios/any"),
    ],
)
def test_a_proxy_has_no_tasks_and_no_scenarios(admin: httpx.Client, method: str, path: str) -> None:
    response = admin.request(method, path)
    assert response.status_code == 404
    assert "a proxy plays no scenarios and holds no tasks" in response.json()["error"]


def test_the_admin_api_is_the_proxys_own(proxy: MockProcess, stand_in: StandIn, admin: httpx.Client) -> None:
    assert admin.put("/__admin/journal").status_code == 405
    assert admin.get("/__admin/nothing-here").json() == {"error": "GET /__admin/nothing-here: no such admin resource"}
    with httpx.Client(base_url=proxy.base_url, timeout=30) as anyone:
        assert anyone.get("/__admin/journal").status_code == 401
    assert not stand_in.seen  # none of it reached the upstream
    ask(proxy, "seconds")
    page = admin.get("/__admin").text
    assert "Forwarding to" in page and stand_in.base_url in page
    assert 'data-rule="response-schema"' in page
    assert "<h2>Tasks</h2>" not in page


@pytest.mark.parametrize(("method", "body"), [("GET", None), ("POST", {"advance_ms": 1000})])
def test_a_proxy_has_no_clock_to_read_or_move(admin: httpx.Client, stand_in: StandIn, method: str, body: Any) -> None:
    """The upstream keeps its own time: the proxy says so (404), rather than leave the clock an unknown path."""
    response = admin.request(method, "/__admin/clock", json=body)
    assert response.status_code == 404
    assert response.json() == {
        "error": f"{method} /__admin/clock: a proxy plays no scenarios and holds no tasks (the upstream has its own)"
    }
    assert not stand_in.seen
    with httpx.Client(base_url=admin.base_url, timeout=30) as anyone:
        assert anyone.request(method, "/__admin/clock", json=body).status_code == 401


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--upstream", "ftp://example.com"), "must be an http:// or https:// URL"),
        (("--upstream", "https://user:pw@example.com"), "must not carry credentials"),
        (("--upstream", "https://example.com", "--admin", "--host", "0.0.0.0"), "needs --admin-token"),
    ],
)
def test_the_proxy_refuses_to_start_on_bad_arguments(args: tuple[str, ...], message: str) -> None:
    command = [sys.executable, "-m", "mock_server", "proxy", "--port", "0", *args]
    result = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 2
    assert message in result.stderr
    assert "pw" not in result.stderr
