"""No output of the mock or of `kling-mock verify` ever holds the client's Kling token or the admin token.

A client sends one known, unusual Kling token through every kind of request (accepted, refused for its body,
for its Authorization header, by a per-token scenario, to an unknown task, with the wrong method), repeating
it wherever careless clients repeat theirs: the body, the query string, a `Cookie`, an `X-Api-Key`. The mock
runs with a known admin token. Then every output is searched for both: the admin API's answers (journal,
page, scenarios, tasks, sign-in), the mock's answers to the client, the reports of `kling-mock verify` in
every format (stdout, stderr, `--output` files), and the mock's own access log and stderr.

Each token is built around long alphanumeric markers: a marker survives URL-encoding, JSON, HTML and XML
escaping, so finding any marker anywhere catches the token in whatever form it leaked, whole or in part.
The `/`, `+` and `=` between the markers make the encoded forms differ from the raw one.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import httpx
import pytest

from mock_server.client.process import MockProcess
from tests.support import ROOT
from tests.support import clients as buggy

REPO = ROOT
KLING_MARKERS = ("KLx7QmZ4vR", "Np2WsT8Jd", "Hc5YfB3Ke")
ADMIN_MARKERS = ("ADx9PwLk3T", "Ue6RgYs2V", "Mb8Qc4Zn")
KLING_TOKEN = f"{KLING_MARKERS[0]}/{KLING_MARKERS[1]}+{KLING_MARKERS[2]}="
ADMIN_TOKEN = f"{ADMIN_MARKERS[0]}/{ADMIN_MARKERS[1]}+{ADMIN_MARKERS[2]}="
MARKERS = {**dict.fromkeys(KLING_MARKERS, "Kling token"), **dict.fromkeys(ADMIN_MARKERS, "admin token")}
CREATE = buggy.CREATE_PATH
ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
# Where careless clients repeat their token besides Authorization.
REPEATED = {"Cookie": f"session={KLING_TOKEN}; theme=dark", "X-Api-Key": KLING_TOKEN}


def leaked(text: str) -> list[str]:
    """Which token has a piece in `text`, and which piece."""
    return [f"{MARKERS[marker]} ({marker})" for marker in MARKERS if marker in text]


def leaks_in(outputs: Mapping[str, str]) -> dict[str, list[str]]:
    return {name: found for name, text in outputs.items() if (found := leaked(text))}


def exchange(response: httpx.Response) -> str:
    """An answer as a client's log would keep it: status, headers and body."""
    headers = "\n".join(f"{name}: {value}" for name, value in response.headers.multi_items())
    return f"{response.status_code}\n{headers}\n\n{response.text}"


def documented(**extra: Any) -> dict[str, Any]:
    task_input = {
        "video_url": buggy.VIDEO_URL,
        "mode": "text2video",
        "text": "Welcome to the product tour.",
        "voice_id": "girlfriend_1_speech02",
        "voice_language": "en",
    }
    return {"input": {**task_input, **extra}}


def send_everything(base_url: str) -> dict[str, str]:
    """Every kind of request, each repeating the Kling token; the mock's answers, by name."""
    answers: dict[str, httpx.Response] = {}
    bearer = {"Authorization": f"Bearer {KLING_TOKEN}", **REPEATED}
    query = {"api_key": KLING_TOKEN}
    with httpx.Client(base_url=base_url, timeout=10) as http:
        # Accepted, with the token in the body (a value, and a field named by it) and the query.
        body = {**documented(**{KLING_TOKEN: "x"}), "api_key": KLING_TOKEN}
        answers["create"] = http.post(CREATE, json=body, params=query, headers=bearer)
        task_id = answers["create"].json()["data"]["task_id"]
        for poll in range(3):
            answers[f"poll {poll}"] = http.get(f"{CREATE}/{task_id}", params=query, headers=bearer)
        answers["list"] = http.get(CREATE, params={"pageNum": 1, "pageSize": 30, "token": KLING_TOKEN}, headers=bearer)
        # Refused for the body: a broken field, a value the token itself, a body that is not JSON.
        answers["missing mode"] = http.post(
            CREATE, json={"input": {"video_url": buggy.VIDEO_URL}, "api_key": KLING_TOKEN}, params=query, headers=bearer
        )
        answers["token as values"] = http.post(
            CREATE, json=documented(mode=KLING_TOKEN, video_url=KLING_TOKEN, text=KLING_TOKEN), headers=bearer
        )
        answers["form body"] = http.post(CREATE, data={"api_key": KLING_TOKEN, "mode": "text2video"}, headers=bearer)
        answers["not json"] = http.post(
            CREATE, content=f"{{api_key: {KLING_TOKEN}", headers={**bearer, "Content-Type": "application/json"}
        )
        # Refused for the Authorization header: no scheme, another scheme.
        for name, authorization in (("no scheme", KLING_TOKEN), ("token scheme", f"Token {KLING_TOKEN}")):
            answers[name] = http.post(
                CREATE, json=documented(), params=query, headers={**REPEATED, "Authorization": authorization}
            )
        # Refused for the task or the method.
        answers["unknown task"] = http.get(f"{CREATE}/no-such-task", params=query, headers=bearer)
        answers["wrong method"] = http.delete(f"{CREATE}/{task_id}", params=query, headers=bearer)
        # A scenario for this token: a rate limit (an answer the client is not to blame for).
        scenario = {"name": "t", "when": {"token": KLING_TOKEN}, "code": 1302}
        answers["scenario added"] = http.post(f"{base_url}/__admin/scenarios", json=scenario, headers=ADMIN)
        assert answers["scenario added"].status_code == 201, answers["scenario added"].text
        answers["rate limited"] = http.post(CREATE, json=documented(), params=query, headers=bearer)
        # The Kling token offered to the admin API.
        answers["admin with kling token"] = http.get(
            "/__admin/journal", headers={"Authorization": f"Bearer {KLING_TOKEN}"}
        )
    expected = {
        "create": 200,
        "poll 2": 200,
        "missing mode": 400,
        "token as values": 400,
        "form body": 400,
        "not json": 400,
        "no scheme": 401,
        "token scheme": 401,
        "unknown task": 404,
        "wrong method": 404,
        "rate limited": 429,
        "admin with kling token": 401,
    }
    assert {name: answers[name].status_code for name in expected} == expected
    assert answers["poll 2"].json()["data"]["task_status"] == "succeed"
    return {f"answer to {name}": exchange(response) for name, response in answers.items()}


def read_admin(base_url: str) -> dict[str, str]:
    """Everything the admin API shows, signed in with the bearer token and as a browser."""
    outputs = {}
    with httpx.Client(base_url=base_url, headers=ADMIN, timeout=10) as admin:
        for path in ("/__admin/journal", "/__admin/scenarios", "/__admin/tasks", "/__admin?refresh=0"):
            response = admin.get(path)
            assert response.status_code == 200, (path, response.text)
            outputs[f"GET {path}"] = exchange(response)
        journal = admin.get("/__admin/journal").json()
        # The journal did record the requests, verdicts and all: an empty journal would leak nothing.
        assert journal["total"] >= 12
        assert any(entry["verdict"]["errors"] for entry in journal["entries"])
        assert admin.get("/__admin/scenarios").json()["scenarios"][0]["when"]["caller"]
    with httpx.Client(base_url=base_url, timeout=10) as browser:
        login = browser.post("/__admin/login", data={"token": ADMIN_TOKEN})
        assert login.status_code == 303
        outputs["POST /__admin/login"] = exchange(login)
        page = browser.get("/__admin")
        assert page.status_code == 200
        outputs["GET /__admin (cookie)"] = exchange(page)
        wrong = httpx.post(f"{base_url}/__admin/login", data={"token": KLING_TOKEN}, timeout=10)
        assert wrong.status_code == 401
        outputs["POST /__admin/login (wrong token)"] = exchange(wrong)
    return outputs


def run_verify(base_url: str, tmp_path: Path) -> dict[str, str]:
    """`kling-mock verify` in every format, the admin token by option and by environment; every output."""
    outputs = {}
    runs: list[tuple[str, list[str], dict[str, str]]] = []
    for output_format in ("text", "json", "junit"):
        runs.append((f"{output_format}, stdout", ["--format", output_format, "--admin-token", ADMIN_TOKEN], {}))
        report = tmp_path / f"report.{output_format}"
        args = ["--format", output_format, "--output", str(report), "--fail-on-warnings"]
        runs.append((f"{output_format}, --output", args, {"KLING_MOCK_ADMIN_TOKEN": ADMIN_TOKEN}))
    # Mixed up tokens: the Kling token given as the admin token is refused, and must not be repeated.
    runs.append(("wrong admin token", ["--admin-token", KLING_TOKEN], {}))
    for name, args, env in runs:
        command = [sys.executable, "-m", "mock_server", "verify", "--base-url", base_url, *args]
        environment = {key: value for key, value in os.environ.items() if key != "KLING_MOCK_ADMIN_TOKEN"}
        run = subprocess.run(
            command, capture_output=True, text=True, timeout=60, cwd=REPO, env={**environment, **env}, check=False
        )
        outputs[f"verify {name}: stdout"] = run.stdout
        outputs[f"verify {name}: stderr"] = run.stderr
        if name == "wrong admin token":
            assert run.returncode == 2, run.stderr
        else:
            assert run.returncode == 1, run.stderr  # the requests above broke the contract
            assert "FAILED" in run.stdout
    for report in sorted(tmp_path.glob("report.*")):
        outputs[f"verify --output {report.name}"] = report.read_text(encoding="utf-8")
    assert len([name for name in outputs if name.startswith("verify --output")]) == 3
    json.loads(outputs["verify --output report.json"])
    return outputs


@pytest.fixture(scope="module")
def everything(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """Every output of one mock's life, by name, its access log and stderr included once it has stopped."""
    mock = MockProcess("--admin", "--admin-token", ADMIN_TOKEN, "--tick-ms", "0")
    with mock:
        outputs = send_everything(mock.base_url)
        outputs.update(read_admin(mock.base_url))
        outputs.update(run_verify(mock.base_url, tmp_path_factory.mktemp("verify")))
    outputs["mock access log (stdout)"] = "".join(mock.access_log)
    outputs["mock stderr"] = "".join(mock.stderr_lines)
    yield outputs


def test_the_outputs_are_the_real_thing(everything: dict[str, str]) -> None:
    """The search below is only worth something if the outputs hold what the requests carried."""
    assert "<redacted>" in everything["GET /__admin/journal"]
    assert "api_key" in everything["GET /__admin/journal"]
    assert "api_key" in everything["verify json, stdout: stdout"]
    assert "[error] auth-malformed" in everything["verify text, stdout: stdout"]
    assert json.loads(everything["GET /__admin/scenarios"].split("\n\n", 1)[1])["scenarios"][0]["name"] == "t"
    assert len(everything["mock access log (stdout)"].splitlines()) >= 15
    assert "kling-mock listening on" in everything["mock stderr"]


def test_no_output_holds_either_token(everything: dict[str, str]) -> None:
    assert leaks_in(everything) == {}


# Tokens in places the sweep above does not send them: one request each, to a fresh mock, whose every output
# (journal, page, the mock's access log and stderr) is searched.


def _header_not_named_as_credential(http: httpx.Client) -> None:
    """The token in Authorization and again in a header whose name does not say credential."""
    headers = {"Authorization": f"Bearer {KLING_TOKEN}", "X-Kling-Api-Key": KLING_TOKEN}
    http.post(CREATE, json=documented(), headers=headers)


def _slash_escaped_json(http: httpx.Client) -> None:
    """A JSON encoder that escapes `/` (PHP's json_encode does by default): the body holds `\\/`, not `/`."""
    body = json.dumps({**documented(), "api_key": KLING_TOKEN}).replace("/", "\\/")
    headers = {"Authorization": f"Bearer {KLING_TOKEN}", "Content-Type": "application/json"}
    http.post(CREATE, content=body, headers=headers)


def _credential_header_without_authorization(http: httpx.Client) -> None:
    """No Authorization: the token in X-Api-Key, and again in the query."""
    http.post(CREATE, json=documented(), params={"api_key": KLING_TOKEN}, headers={"X-Api-Key": KLING_TOKEN})


def _token_in_the_path(http: httpx.Client) -> None:
    """Arguments swapped: the token where the task id goes, so also in the answer's message."""
    http.get(f"{CREATE}/{KLING_TOKEN}", headers={"Authorization": f"Bearer {KLING_TOKEN}"})


ELSEWHERE = [
    pytest.param(_header_not_named_as_credential, id="header-not-named-as-credential"),
    pytest.param(_slash_escaped_json, id="slash-escaped-json"),
    pytest.param(_credential_header_without_authorization, id="credential-header-without-authorization"),
    pytest.param(_token_in_the_path, id="token-in-the-path"),
]


@pytest.mark.parametrize("send", ELSEWHERE)
def test_a_token_repeated_elsewhere_never_leaks(send: Any) -> None:
    mock = MockProcess("--admin", "--admin-token", ADMIN_TOKEN, "--tick-ms", "0")
    with mock, httpx.Client(base_url=mock.base_url, timeout=10) as http:
        send(http)
        journal = http.get("/__admin/journal", headers=ADMIN)
        assert journal.json()["total"] == 1
        page = http.get("/__admin?refresh=0", headers=ADMIN)
    outputs = {
        "journal": journal.text,
        "page": page.text,
        "access log": "".join(mock.access_log),
        "stderr": "".join(mock.stderr_lines),
    }
    assert leaks_in(outputs) == {}
