"""The admin API (`serve --admin`, openapi/admin.yaml) over real HTTP: journal, verdicts, scenarios, tasks.

One mock with an admin token and a `--scenarios` file serves most of this module; each test starts from
`POST /__admin/reset`. Another, with a tiny journal and no token, shows the bound; the session's mock (no
`--admin`) shows that the admin API is off by default. Faults are checked by what a client sees (statuses,
headers, a cut connection) and by what the journal recorded. Times are only ever lower bounds.
Every test of those two mocks runs twice: with the journal, scenarios and tasks in the mock's process, and
in Redis (`--store`, a real redis-server: skipped without one, except in CI), which must behave the same.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import jsonschema_rs
import pytest

from mock_server.client.process import MockProcess
from mock_server.spec import ADMIN_SPEC_PATH, load_spec
from tests.support import CREATE_PATH, SEED_EXAMPLE
from tests.support.lip_sync import open_session, valid_request
from tests.support.redis_server import RedisServer, redis_server_executable

ADMIN_TOKEN = "admin-token-for-the-api-tests-4c2d"
TOKEN = "sk-kling-admin-api-test-71f0"
OTHER_TOKEN = "sk-kling-another-caller-0a9e"
FILE_TOKEN = "sk-kling-file-scenario-caller-5e7b"
UNKNOWN_PATH = "/kling/v1/videos/identify-face-typo"
VALID_BODY: dict[str, Any] = {
    "input": {
        "video_url": "https://example.com/v.mp4",
        "mode": "audio2video",
        "audio_type": "url",
        "audio_url": "https://example.com/a.mp3",
    }
}
TEXT_WITHOUT_LANGUAGE: dict[str, Any] = {
    "input": {"video_id": "v1", "mode": "text2video", "text": "Hello", "voice_id": "girlfriend_1_speech02"}
}
SCENARIO_FILE = f"""\
scenarios:
  - name: file-maintenance
    when:
      token: {FILE_TOKEN}
    code: 5001
  - name: file-flaky
    times: 1
    code: 5000
"""

_ADMIN_SPEC = load_spec(ADMIN_SPEC_PATH)
ENTRY = _ADMIN_SPEC.validator("#/components/schemas/JournalEntry")
PAGE = _ADMIN_SPEC.validator("#/components/schemas/JournalPage")
SCENARIO_STATE = _ADMIN_SPEC.validator("#/components/schemas/ScenarioState")
TASK = load_spec().validator("#/components/schemas/Task")


def fingerprint(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()[:12]


def assert_valid(validator: jsonschema_rs.Validator, value: Any) -> None:
    errors = [f"{list(error.instance_path)}: {error.message}" for error in validator.iter_errors(value)]
    assert not errors, (errors, value)


# Servers and clients.


@pytest.fixture(scope="module", params=["memory", "redis"])
def store(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[str]]:
    """Where the module's mocks keep their state, as `serve` arguments; each mock adds a prefix of its own."""
    if request.param == "memory":
        yield []
        return
    with RedisServer(redis_server_executable(), tmp_path_factory.mktemp("redis")).start() as server:
        yield ["--store", server.url]


def _prefixed(store: list[str], prefix: str) -> list[str]:
    return [*store, "--store-prefix", prefix] if store else []


@pytest.fixture(scope="module")
def admin_mock(tmp_path_factory: pytest.TempPathFactory, store: list[str]) -> Iterator[MockProcess]:
    scenarios = tmp_path_factory.mktemp("admin-api") / "scenarios.yaml"
    scenarios.write_text(SCENARIO_FILE)
    args = ["--admin", "--admin-token", ADMIN_TOKEN, "--tick-ms", "0", "--scenarios", str(scenarios)]
    with MockProcess(*args, *_prefixed(store, "admin:")) as mock:
        yield mock


@pytest.fixture(scope="module")
def small_mock(store: list[str]) -> Iterator[MockProcess]:
    """A journal of 3 entries, and no admin token (loopback): the admin API needs none."""
    with MockProcess("--admin", "--journal-size", "3", *_prefixed(store, "small:")) as mock:
        yield mock


@pytest.fixture
def admin(admin_mock: MockProcess) -> Iterator[httpx.Client]:
    """The admin API's client, after a reset: empty journal, the file's scenarios only."""
    with httpx.Client(
        base_url=admin_mock.base_url, headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}, timeout=30
    ) as http:
        assert http.post("/__admin/reset").status_code == 204
        yield http


def kling(mock: MockProcess, token: str | None = TOKEN) -> httpx.Client:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.Client(base_url=mock.base_url, headers=headers, timeout=30)


@pytest.fixture
def client(admin_mock: MockProcess, admin: httpx.Client) -> Iterator[httpx.Client]:
    """A Kling client of the admin mock (after the reset `admin` does)."""
    with kling(admin_mock) as http:
        yield http


def journal(admin: httpx.Client, **params: Any) -> dict[str, Any]:
    """The journal page, every entry checked against admin.yaml's JournalEntry."""
    response = admin.get("/__admin/journal", params=params)
    assert response.status_code == 200, response.text
    page: dict[str, Any] = response.json()
    assert_valid(PAGE, page)
    for item in page["entries"]:
        assert_valid(ENTRY, item)
    return page


def entries(admin: httpx.Client, **params: Any) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = journal(admin, **params)["entries"]
    return items


def last_entry(admin: httpx.Client) -> dict[str, Any]:
    return entries(admin, limit=1)[0]


def add_scenario(admin: httpx.Client, scenario: dict[str, Any]) -> dict[str, Any]:
    response = admin.post("/__admin/scenarios", json=scenario)
    assert response.status_code == 201, response.text
    state: dict[str, Any] = response.json()
    assert_valid(SCENARIO_STATE, state)
    return state


def scenario_states(admin: httpx.Client) -> dict[str, dict[str, Any]]:
    response = admin.get("/__admin/scenarios")
    assert response.status_code == 200
    states = response.json()["scenarios"]
    for state in states:
        assert_valid(SCENARIO_STATE, state)
    return {state["name"]: state for state in states}


def create(http: httpx.Client, body: Any = None, **kwargs: Any) -> httpx.Response:
    return http.post(CREATE_PATH, json=VALID_BODY if body is None else body, **kwargs)


# Off by default; guarded by its token when given one.


@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", "/__admin/journal"), ("GET", "/__admin"), ("POST", "/__admin/reset"), ("GET", "/__admin/tasks")],
)
def test_without_admin_the_admin_api_is_an_unknown_path(mock_server: MockProcess, method: str, path: str) -> None:
    with kling(mock_server) as http:
        response = http.request(method, path)
    assert response.status_code == 404
    body = response.json()
    assert body["code"] == 1203
    assert set(body) == {"code", "message", "request_id"}


GUARDED = [
    ("GET", "/__admin/journal"),
    ("DELETE", "/__admin/journal"),
    ("GET", "/__admin/scenarios"),
    ("POST", "/__admin/scenarios"),
    ("DELETE", "/__admin/scenarios"),
    ("DELETE", "/__admin/scenarios/file-flaky"),
    ("GET", "/__admin/tasks"),
    ("POST", "/__admin/reset"),
]


@pytest.mark.parametrize(
    "authorization",
    [None, f"Bearer {ADMIN_TOKEN}x", "Bearer", f"Basic {ADMIN_TOKEN}", ADMIN_TOKEN, f"Bearer {TOKEN}"],
    ids=["missing", "wrong", "empty", "basic", "no-scheme", "a-kling-token"],
)
@pytest.mark.parametrize(("method", "path"), GUARDED)
def test_the_admin_token_is_required(
    admin: httpx.Client, admin_mock: MockProcess, method: str, path: str, authorization: str | None
) -> None:
    headers = {"Authorization": authorization} if authorization else {}
    with httpx.Client(base_url=admin_mock.base_url, headers=headers, timeout=30) as anyone:
        response = anyone.request(method, path, json={"name": "intruder", "code": 5001})
    assert response.status_code == 401
    assert "error" in response.json()
    # Nothing happened.
    assert set(scenario_states(admin)) == {"file-maintenance", "file-flaky"}


def test_the_bearer_admin_token_opens_every_endpoint(admin: httpx.Client) -> None:
    assert admin.get("/__admin/journal").status_code == 200
    assert admin.get("/__admin/scenarios").status_code == 200
    assert admin.get("/__admin/tasks").status_code == 200
    assert admin.get("/__admin").status_code == 200
    assert admin.delete("/__admin/journal").status_code == 204


def test_the_page_sends_a_stranger_to_the_login_form(admin_mock: MockProcess) -> None:
    with httpx.Client(base_url=admin_mock.base_url, timeout=30) as anyone:
        response = anyone.get("/__admin")
        assert response.status_code == 303
        assert response.headers["location"] == "/__admin/login"
        form = anyone.get("/__admin/login")
    assert form.status_code == 200
    assert form.headers["content-type"].startswith("text/html")


def test_login_sets_a_cookie_that_then_works(admin_mock: MockProcess) -> None:
    with httpx.Client(base_url=admin_mock.base_url, timeout=30) as browser:
        assert browser.get("/__admin/journal").status_code == 401
        response = browser.post("/__admin/login", data={"token": ADMIN_TOKEN})
        assert response.status_code == 303
        assert response.headers["location"] == "/__admin"
        set_cookie = response.headers["set-cookie"]
        assert set_cookie.startswith("kling_mock_admin=")
        assert "httponly" in set_cookie.lower()
        assert ADMIN_TOKEN not in set_cookie
        assert browser.cookies.get("kling_mock_admin")
        assert browser.get("/__admin/journal").status_code == 200
        assert browser.get("/__admin/scenarios").status_code == 200
        assert browser.get("/__admin").status_code == 200


def test_a_forged_cookie_does_not_work(admin_mock: MockProcess) -> None:
    for value in (ADMIN_TOKEN, "0" * 64, ""):
        with httpx.Client(base_url=admin_mock.base_url, cookies={"kling_mock_admin": value}, timeout=30) as browser:
            assert browser.get("/__admin/journal").status_code == 401
            assert browser.get("/__admin").status_code == 303


@pytest.mark.parametrize("token", [f"{ADMIN_TOKEN}x", "", ADMIN_TOKEN.upper()])
def test_login_with_a_wrong_token_is_401_and_sets_no_cookie(admin_mock: MockProcess, token: str) -> None:
    with httpx.Client(base_url=admin_mock.base_url, timeout=30) as browser:
        response = browser.post("/__admin/login", data={"token": token})
        assert response.status_code == 401
        assert "set-cookie" not in response.headers
        assert browser.get("/__admin/journal").status_code == 401


def test_login_refusal_is_the_form_again_as_admin_yaml_documents(admin_mock: MockProcess) -> None:
    with httpx.Client(base_url=admin_mock.base_url, timeout=30) as browser:
        response = browser.post("/__admin/login", data={"token": "wrong"})
    assert response.status_code == 401
    assert response.headers["content-type"].startswith("text/html")
    assert "not the admin token" in response.text
    assert "set-cookie" not in response.headers


def test_without_an_admin_token_on_loopback_no_token_is_needed(small_mock: MockProcess) -> None:
    with httpx.Client(base_url=small_mock.base_url, timeout=30) as anyone:
        assert anyone.get("/__admin/journal").status_code == 200
        assert anyone.get("/__admin").status_code == 200
        login = anyone.post("/__admin/login", data={"token": "anything"})
        assert login.status_code == 303
        assert "set-cookie" not in login.headers


# The journal: what is recorded, and how it is shaped.


def test_journal_entries_record_each_request_as_admin_yaml_says(
    admin: httpx.Client, client: httpx.Client, admin_mock: MockProcess
) -> None:
    answers = [
        create(client),
        create(client, {"input": {"mode": "text2video"}}),
        client.get(CREATE_PATH, params={"pageSize": 2}),
        client.get(f"{CREATE_PATH}/AAAAAAAAAAAAAAAAAAAAAA"),
        client.get(UNKNOWN_PATH),
        client.delete(CREATE_PATH),
        client.post(CREATE_PATH, content=b"{not json", headers={"Content-Type": "application/json"}),
    ]
    with kling(admin_mock, token=None) as anonymous:
        answers.append(create(anonymous))
    page = journal(admin)
    recorded = page["entries"]
    assert (page["total"], page["recorded"], page["dropped"], page["capacity"]) == (8, 8, 0, 1000)
    assert [item["seq"] for item in recorded] == sorted(item["seq"] for item in recorded)
    assert len({item["seq"] for item in recorded}) == 8
    for answer, item in zip(answers, recorded, strict=True):
        sent = answer.request
        assert item["request_id"] == answer.json()["request_id"]
        assert item["method"] == sent.method
        assert item["path"] == sent.url.path
        assert item["query"] == sent.url.query.decode()
        assert item["response"] == {
            "status": answer.status_code,
            "code": answer.json()["code"],
            "message": answer.json()["message"],
        }
        assert all(name == name.lower() for name in item["headers"])
        assert item["body"] == sent.content.decode()
        assert item["body_bytes"] == len(sent.content)
        assert item["body_truncated"] is False
        assert item["at"] > 1_600_000_000_000
        assert item["duration_ms"] >= 0
        assert item["scenarios"] == []
    assert [item["operation"] for item in recorded] == [
        "createIdentifyFaceTask",
        "createIdentifyFaceTask",
        "listIdentifyFaceTasks",
        "getIdentifyFaceTask",
        None,
        None,
        # At `/kling`, a body that is not JSON speaks no dialect: it reached the operation that answers by body.
        "identifyFaceByBody",
        "createIdentifyFaceTask",
    ]
    assert [item["caller"] for item in recorded[:4]] == [fingerprint(TOKEN)] * 4
    assert recorded[-1]["caller"] is None
    assert [item["verdict"]["result"] for item in recorded] == [
        "clean",
        "error",
        "clean",
        "error",
        "error",
        "error",
        "error",
        "error",
    ]
    expected_rules = [None, "video-source", None, "unknown-task", "unknown-path", "method", "body-not-json"]
    for item, rule in zip(recorded, [*expected_rules, "auth-missing"], strict=True):
        found = [finding["rule"] for finding in item["verdict"]["errors"]]
        assert (rule in found) if rule else found == [], (rule, found)


def test_the_verdict_lists_every_error_the_answer_stopped_short_of(admin: httpx.Client, client: httpx.Client) -> None:
    body = {"input": {"mode": "text2video", "voice_speed": 9, "voice_language": "fr"}, "callback_url": "x"}
    answer = create(client, body)
    assert (answer.status_code, answer.json()["code"]) == (400, 1201)
    verdict = last_entry(admin)["verdict"]
    paths = {finding["path"] for finding in verdict["errors"]}
    assert paths >= {"input", "input.text", "input.voice_id", "input.voice_speed", "input.voice_language"}
    assert "callback_url" in paths


def test_a_large_body_is_judged_whole_then_cut(admin: httpx.Client, client: httpx.Client) -> None:
    audio = "A" * 100_000 + "!!"
    body = {"input": {"video_url": "https://example.com/v.mp4", "mode": "audio2video", "audio_type": "file"}}
    body["input"]["audio_file"] = audio
    answer = create(client, body)
    assert (answer.status_code, answer.json()["code"]) == (400, 1201)
    item = last_entry(admin)
    assert item["body_truncated"] is True
    assert len(item["body"].encode()) == 64 * 1024
    assert item["body_bytes"] == len(answer.request.content)
    assert [(f["rule"], f["path"]) for f in item["verdict"]["errors"]] == [("pattern", "input.audio_file")]


def test_a_chunked_body_over_the_limit_is_judged_too_large(admin: httpx.Client, client: httpx.Client) -> None:
    limit = 8 * 1024 * 1024

    def chunks() -> Iterator[bytes]:
        for _ in range(9):
            yield b" " * (1024 * 1024)

    answer = client.post(CREATE_PATH, content=chunks(), headers={"Content-Type": "application/json"})
    assert (answer.status_code, answer.json()["code"]) == (400, 1200)
    item = last_entry(admin)
    assert "content-length" not in item["headers"]
    assert [f["rule"] for f in item["verdict"]["errors"]] == ["body-too-large"]
    assert item["body_bytes"] > limit


def test_a_declared_body_over_the_limit_is_judged_too_large(admin: httpx.Client, client: httpx.Client) -> None:
    limit = 8 * 1024 * 1024
    answer = client.post(CREATE_PATH, content=b" " * (limit + 1), headers={"Content-Type": "application/json"})
    assert (answer.status_code, answer.json()["code"]) == (400, 1200)
    item = last_entry(admin)
    assert item["body_bytes"] == limit + 1
    assert item["body_truncated"] is True
    assert [f["rule"] for f in item["verdict"]["errors"]] == ["body-too-large"]


def test_warnings_reach_the_journal(admin: httpx.Client, client: httpx.Client) -> None:
    create(client, TEXT_WITHOUT_LANGUAGE)
    create(client, {**VALID_BODY, "model_name": "kling-v1"}, params={"debug": "1"})
    first, second = entries(admin)
    assert first["verdict"]["result"] == "warning"
    assert [(w["rule"], w["path"]) for w in first["verdict"]["warnings"]] == [
        ("default-relied-on", "input.voice_language")
    ]
    assert sorted((w["rule"], w["path"]) for w in second["verdict"]["warnings"]) == [
        ("unknown-field", "model_name"),
        ("unknown-parameter", "query.debug"),
    ]


def make_filterable_traffic(admin_mock: MockProcess, client: httpx.Client) -> None:
    create(client)  # 1: clean
    create(client, TEXT_WITHOUT_LANGUAGE)  # 2: warning
    create(client, {"input": {"mode": "audio2video", "video_id": "v"}})  # 3: 400/1201
    client.get(CREATE_PATH, params={"pageSize": 2})  # 4: clean GET
    client.get(UNKNOWN_PATH)  # 5: 404/1203 unknown-path
    client.get(f"{CREATE_PATH}/AAAAAAAAAAAAAAAAAAAAAA")  # 6: 404/1203 unknown-task
    with kling(admin_mock, OTHER_TOKEN) as other:
        create(other)  # 7: clean, another caller


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({}, [1, 2, 3, 4, 5, 6, 7]),
        ({"operation": "createIdentifyFaceTask"}, [1, 2, 3, 7]),
        ({"operation": "listIdentifyFaceTasks"}, [4]),
        ({"operation": "nosuchOperation"}, []),
        ({"method": "GET"}, [4, 5, 6]),
        ({"path": UNKNOWN_PATH}, [5]),
        ({"path": CREATE_PATH}, [1, 2, 3, 4, 7]),
        ({"status": 404}, [5, 6]),
        ({"status": 200}, [1, 2, 4, 7]),
        ({"code": 1201}, [3]),
        ({"code": 0}, [1, 2, 4, 7]),
        ({"verdict": "clean"}, [1, 4, 7]),
        ({"verdict": "warning"}, [2]),
        ({"verdict": "error"}, [3, 5, 6]),
        ({"rule": "default-relied-on"}, [2]),
        ({"rule": "unknown-path"}, [5]),
        ({"rule": "unknown-task"}, [6]),
        ({"rule": "required"}, [3]),
        ({"rule": "no-such-rule"}, []),
        ({"method": "POST", "verdict": "clean"}, [1, 7]),
        ({"status": 404, "rule": "unknown-task"}, [6]),
    ],
    ids=lambda value: json.dumps(value) if isinstance(value, dict) else None,
)
def test_journal_filters(
    admin: httpx.Client, client: httpx.Client, admin_mock: MockProcess, params: dict[str, Any], expected: list[int]
) -> None:
    make_filterable_traffic(admin_mock, client)
    first_seq = entries(admin)[0]["seq"]
    page = journal(admin, **params)
    assert [item["seq"] - first_seq + 1 for item in page["entries"]] == expected
    assert page["total"] == len(expected)
    assert page["recorded"] == 7


def test_journal_since_and_limit(admin: httpx.Client, client: httpx.Client, admin_mock: MockProcess) -> None:
    make_filterable_traffic(admin_mock, client)
    seqs = [item["seq"] for item in entries(admin)]
    assert [item["seq"] for item in entries(admin, since=seqs[2])] == seqs[3:]
    assert entries(admin, since=seqs[-1]) == []
    assert [item["seq"] for item in entries(admin, since=0)] == seqs
    newest = journal(admin, limit=2)
    assert [item["seq"] for item in newest["entries"]] == seqs[-2:]
    assert newest["total"] == 7
    assert [item["seq"] for item in entries(admin, limit=1000)] == seqs
    both = journal(admin, since=seqs[1], limit=2, method="POST")
    assert [item["seq"] for item in both["entries"]] == [seqs[2], seqs[6]]
    assert both["total"] == 2
    assert [item["seq"] for item in journal(admin, since=seqs[1], limit=1, method="POST")["entries"]] == [seqs[6]]


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("status", "abc"),
        ("status", "-1"),
        ("status", "2.0"),
        ("code", "x"),
        ("code", "-1200"),
        ("since", "-1"),
        ("since", "one"),
        ("since", "²"),
        ("since", "١٢"),
        ("since", "9" * 5000),
        ("since", "1" * 40),
        ("limit", "x"),
        ("limit", "²"),
        ("limit", "\uff11\uff10"),
        ("limit", "9" * 5000),
        ("limit", "+1"),
        ("limit", ""),
        ("status", "²"),
        ("code", "9" * 5000),
        ("verdict", "bad"),
        ("verdict", ""),
        ("verdict", "ERROR"),
    ],
    ids=lambda value: value[:12] if isinstance(value, str) else None,
)
def test_bad_journal_filters_are_400_naming_the_parameter(admin: httpx.Client, name: str, value: str) -> None:
    response = admin.get("/__admin/journal", params={name: value})
    assert response.status_code == 400, response.text
    assert f"query.{name}" in response.json()["error"]


def test_limit_zero_is_400(admin: httpx.Client) -> None:
    response = admin.get("/__admin/journal", params={"limit": "0"})
    assert response.status_code == 400
    assert "query.limit" in response.json()["error"]


@pytest.mark.parametrize("refresh", ["²", "9" * 5000, "-1", "x"])
def test_the_page_takes_any_refresh_value_without_failing(admin: httpx.Client, refresh: str) -> None:
    assert admin.get("/__admin", params={"refresh": refresh}).status_code == 200


def test_clearing_the_journal(admin: httpx.Client, client: httpx.Client) -> None:
    create(client)
    create(client)
    before = entries(admin)
    assert admin.delete("/__admin/journal").status_code == 204
    page = journal(admin)
    assert (page["entries"], page["total"], page["recorded"], page["dropped"]) == ([], 0, 0, 0)
    create(client)
    after = entries(admin)
    assert len(after) == 1
    # Sequence numbers survive clears.
    assert after[0]["seq"] > before[-1]["seq"]


def test_the_journal_size_bounds_the_journal_and_counts_what_it_dropped(small_mock: MockProcess) -> None:
    with httpx.Client(base_url=small_mock.base_url, timeout=30) as admin, kling(small_mock) as http:
        assert admin.post("/__admin/reset").status_code == 204
        answers = [create(http) for _ in range(5)]
        http.get(UNKNOWN_PATH)
        page = journal(admin)
        assert (page["recorded"], page["dropped"], page["capacity"]) == (6, 3, 3)
        assert [item["request_id"] for item in page["entries"][:2]] == [a.json()["request_id"] for a in answers[3:]]
        assert page["entries"][-1]["path"] == UNKNOWN_PATH
        assert journal(admin, verdict="error")["total"] == 1
        assert admin.delete("/__admin/journal").status_code == 204
        page = journal(admin)
        assert (page["recorded"], page["dropped"]) == (0, 0)


# Credentials never reach the journal.


SECRET_TOKEN = "sk-live/Secret+Token=="


def test_credentials_are_redacted_everywhere_they_were_sent(admin: httpx.Client, admin_mock: MockProcess) -> None:
    api_key = "x-api-key-value-8d1f"
    cookie = "session=cookie-value-2b7e"
    with kling(admin_mock, SECRET_TOKEN) as http:
        answer = http.post(
            CREATE_PATH,
            params={"token": SECRET_TOKEN, "echo": f"a{SECRET_TOKEN}b"},
            json={**VALID_BODY, "my_token_again": SECRET_TOKEN},
            headers={
                "Cookie": cookie,
                "X-Api-Key": api_key,
                "Proxy-Authorization": "Basic cHJveHk6cHJveHk=",
                "X-Auth-Token": "yet-another-secret-3e1a",
            },
        )
    assert answer.status_code == 200
    assert SECRET_TOKEN in answer.request.content.decode()
    response = admin.get("/__admin/journal")
    raw = response.text
    for secret in (SECRET_TOKEN, api_key, cookie, "cHJveHk6cHJveHk=", "yet-another-secret-3e1a", "Secret+Token"):
        assert secret not in raw
    assert "Secret%2BToken" not in raw
    item = last_entry(admin)
    headers = item["headers"]
    assert headers["authorization"] == "Bearer <redacted>"
    assert headers["cookie"] == "<redacted>"
    assert headers["x-api-key"] == "<redacted>"
    assert headers["proxy-authorization"] == "Basic <redacted>"
    assert headers["x-auth-token"] == "<redacted>"
    assert "<redacted>" in item["query"]
    assert json.loads(item["body"])["my_token_again"] == "<redacted>"
    assert item["caller"] == fingerprint(SECRET_TOKEN)
    # The rest of the request is still there to be judged.
    assert {(w["rule"], w["path"]) for w in item["verdict"]["warnings"]} == {
        ("unknown-field", "my_token_again"),
        ("unknown-parameter", "query.token"),
        ("unknown-parameter", "query.echo"),
    }


def test_a_refused_token_is_redacted_too(admin: httpx.Client, admin_mock: MockProcess) -> None:
    with httpx.Client(base_url=admin_mock.base_url, timeout=30) as http:
        answer = http.post(
            CREATE_PATH, json={**VALID_BODY, "t": SECRET_TOKEN}, headers={"Authorization": f"Token {SECRET_TOKEN}"}
        )
    assert (answer.status_code, answer.json()["code"]) == (401, 1002)
    assert SECRET_TOKEN not in admin.get("/__admin/journal").text
    item = last_entry(admin)
    assert item["headers"]["authorization"] == "Token <redacted>"
    assert item["verdict"]["errors"][0]["rule"] == "auth-malformed"


@pytest.mark.parametrize("header", ["X-Original-Authorization", "X-Debug"])
def test_the_token_repeated_in_another_header_is_redacted(
    admin: httpx.Client, admin_mock: MockProcess, header: str
) -> None:
    with kling(admin_mock, SECRET_TOKEN) as http:
        assert create(http, headers={header: f"Bearer {SECRET_TOKEN}"}).status_code == 200
    assert SECRET_TOKEN not in admin.get("/__admin/journal").text


@pytest.mark.parametrize(
    ("query", "body"),
    [
        ("token=sk-live/Secret%2BToken%3D%3D", VALID_BODY),
        (
            "",
            b'{"input": {"video_id": "v", "mode": "audio2video", "audio_type": "url", '
            b'"audio_url": "https://example.com/a.mp3"}, "t": "sk-live\\/Secret+Token=="}',
        ),
    ],
    ids=["query-slash-unescaped", "json-escaped-slash"],
)
def test_the_token_in_another_spelling_is_redacted(
    admin: httpx.Client, admin_mock: MockProcess, query: str, body: Any
) -> None:
    with kling(admin_mock, SECRET_TOKEN) as http:
        content = body if isinstance(body, bytes) else json.dumps(body).encode()
        url = f"{CREATE_PATH}?{query}" if query else CREATE_PATH
        answer = http.post(url, content=content, headers={"Content-Type": "application/json"})
        assert answer.status_code == 200, answer.text
    raw = admin.get("/__admin/journal").text
    assert "Secret+Token" not in raw
    assert "Secret%2BToken" not in raw


def test_redacting_the_body_does_not_mark_it_truncated(admin: httpx.Client, admin_mock: MockProcess) -> None:
    with kling(admin_mock, SECRET_TOKEN) as http:
        assert create(http, {**VALID_BODY, "note": SECRET_TOKEN}).status_code == 200
    item = last_entry(admin)
    assert item["body_bytes"] < 64 * 1024
    assert item["body_truncated"] is False


# Scenarios through the API.


def test_scenarios_crud(admin: httpx.Client) -> None:
    assert set(scenario_states(admin)) == {"file-maintenance", "file-flaky"}
    slow = {"name": "slow-create", "when": {"operation": "createIdentifyFaceTask"}, "latency_ms": 5}
    state = add_scenario(admin, slow)
    assert state == {
        "name": "slow-create",
        "source": "api",
        "remaining": None,
        "when": {"operation": "createIdentifyFaceTask"},
        "latency_ms": 5,
    }
    mine = add_scenario(admin, {"name": "mine", "when": {"token": TOKEN}, "times": 2, "code": 1103})
    assert mine["when"] == {"caller": fingerprint(TOKEN)}
    assert mine["remaining"] == 2
    assert TOKEN not in admin.get("/__admin/scenarios").text
    assert list(scenario_states(admin)) == ["file-maintenance", "file-flaky", "slow-create", "mine"]

    # Same name: replaced.
    add_scenario(admin, {"name": "mine", "code": 5001})
    assert scenario_states(admin)["mine"] == {"name": "mine", "source": "api", "remaining": None, "code": 5001}

    assert admin.delete("/__admin/scenarios/mine").status_code == 204
    assert "mine" not in scenario_states(admin)
    missing = admin.delete("/__admin/scenarios/mine")
    assert missing.status_code == 404
    assert "mine" in missing.json()["error"]

    assert admin.delete("/__admin/scenarios").status_code == 204
    assert scenario_states(admin) == {}

    assert admin.post("/__admin/reset").status_code == 204
    assert set(scenario_states(admin)) == {"file-maintenance", "file-flaky"}
    assert all(state["source"] == "file" for state in scenario_states(admin).values())


@pytest.mark.parametrize(
    ("scenario", "field"),
    [
        ({"name": "x", "bogus": 1}, "bogus"),
        ({"name": "x", "code": 9999}, "code"),
        ({"name": "x", "times": 0}, "times"),
        ({"name": "x", "when": {"operation": "deleteEverything"}}, "when.operation"),
        ({"name": "x", "task": "exploded"}, "task"),
        ({"code": 5001}, "name"),
        ({"name": "has space"}, "name"),
        (["not", "an", "object"], "body"),
    ],
)
def test_a_bad_scenario_is_400_naming_the_field(admin: httpx.Client, scenario: Any, field: str) -> None:
    response = admin.post("/__admin/scenarios", json=scenario)
    assert response.status_code == 400
    assert response.json()["error"].startswith(f"{field}: ") or f"; {field}: " in response.json()["error"]
    assert set(scenario_states(admin)) == {"file-maintenance", "file-flaky"}


@pytest.mark.parametrize("raw", [b"{", b"", b"\xff\xfe", b"x" * (64 * 1024 + 1)], ids=["cut", "empty", "bytes", "big"])
def test_a_scenario_body_that_is_not_json_is_400(admin: httpx.Client, raw: bytes) -> None:
    response = admin.post("/__admin/scenarios", content=raw, headers={"Content-Type": "application/json"})
    assert response.status_code == 400
    assert response.json()["error"].startswith("body: ")


def test_a_scenario_file_is_played_from_the_start(admin: httpx.Client, admin_mock: MockProcess) -> None:
    states = scenario_states(admin)
    assert states["file-maintenance"]["when"] == {"caller": fingerprint(FILE_TOKEN)}
    assert FILE_TOKEN not in admin.get("/__admin/scenarios").text
    with kling(admin_mock, FILE_TOKEN) as file_caller, kling(admin_mock) as http:
        refused = create(file_caller)
        assert (refused.status_code, refused.json()["code"]) == (503, 5001)
        assert create(http).status_code == 200
        # Header-only, once.
        flaky = create(http, headers={"X-Kling-Mock-Scenario": "file-flaky"})
        assert (flaky.status_code, flaky.json()["code"]) == (500, 5000)
        assert create(http, headers={"X-Kling-Mock-Scenario": "file-flaky"}).status_code == 200
    assert scenario_states(admin)["file-flaky"]["remaining"] == 0
    assert admin.post("/__admin/reset").status_code == 204
    assert scenario_states(admin)["file-flaky"]["remaining"] == 1


def run_serve(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mock_server", "serve", "--host", "127.0.0.1", "--port", "0", *args],
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize(
    ("content", "named"),
    [
        ("scenarios:\n  - name: ok\n    code: 5001\n  - name: broken\n    times: 0\n", ["scenarios[1]", "times"]),
        ("scenarios:\n  - name: x\n    latency: 100\n", ["scenarios[0]", "latency"]),
        ("scenarios:\n  - name: x\n    code: 4242\n", ["scenarios[0]", "code"]),
        ("- name: x\n", ["scenarios"]),
        ("scenarios: [\n", ["cannot read"]),
    ],
    ids=["times", "unknown-field", "unknown-code", "not-a-mapping", "not-yaml"],
)
def test_a_bad_scenario_file_makes_serve_exit_2_naming_the_field(
    tmp_path: Path, content: str, named: list[str]
) -> None:
    path = tmp_path / "scenarios.yaml"
    path.write_text(content)
    result = run_serve("--admin", "--scenarios", str(path))
    assert result.returncode == 2, result.stderr
    assert "listening" not in result.stderr
    assert "kling-mock: " in result.stderr, result.stderr
    message = result.stderr[result.stderr.index("kling-mock: ") :]
    for word in named:
        assert word in message
    assert "Traceback" not in result.stderr


def test_a_missing_scenario_file_makes_serve_exit_2(tmp_path: Path) -> None:
    result = run_serve("--scenarios", str(tmp_path / "absent.yaml"))
    assert result.returncode == 2
    assert "absent.yaml" in result.stderr
    assert "Traceback" not in result.stderr


# Faults over real HTTP.


@pytest.mark.parametrize(("code", "status"), [(1302, 429), (5001, 503), (1103, 403), (5002, 504), (1201, 400)])
def test_an_injected_code_comes_with_its_http_status(
    admin: httpx.Client, client: httpx.Client, code: int, status: int
) -> None:
    add_scenario(admin, {"name": "fault", "when": {"token": TOKEN}, "code": code})
    answer = create(client)
    assert (answer.status_code, answer.json()["code"]) == (status, code)
    assert answer.json()["message"]
    assert ("retry-after" in answer.headers) == (status == 429)
    if status == 429:
        assert answer.headers["retry-after"] == "1"
    item = last_entry(admin)
    assert item["scenarios"] == ["fault"]
    assert item["response"]["code"] == code
    # Not the client's fault.
    assert item["verdict"] == {"result": "clean", "errors": [], "warnings": []}


def test_the_header_inline_form_over_http(admin: httpx.Client, client: httpx.Client) -> None:
    answer = client.get(CREATE_PATH, headers={"X-Kling-Mock-Scenario": "code=1302, retry_after=2"})
    assert (answer.status_code, answer.json()["code"]) == (429, 1302)
    assert answer.headers["retry-after"] == "2"
    assert last_entry(admin)["scenarios"] == ["header"]


def test_a_bad_scenario_header_is_the_clients_error(admin: httpx.Client, client: httpx.Client) -> None:
    answer = create(client, headers={"X-Kling-Mock-Scenario": "nosuch"})
    assert (answer.status_code, answer.json()["code"]) == (400, 1200)
    assert "nosuch" in answer.json()["message"]
    verdict = last_entry(admin)["verdict"]
    assert [(f["rule"], f["path"]) for f in verdict["errors"]] == [("scenario-header", "header.X-Kling-Mock-Scenario")]


@pytest.mark.parametrize(
    ("prefer", "status", "code"), [("code=429", 429, 1302), ("example=maintenance", 503, 5001), ("code=403", 403, 1103)]
)
def test_prefer_over_http(admin: httpx.Client, client: httpx.Client, prefer: str, status: int, code: int) -> None:
    answer = client.get(CREATE_PATH, headers={"Prefer": prefer})
    assert (answer.status_code, answer.json()["code"]) == (status, code)
    assert last_entry(admin)["verdict"]["result"] == "clean"
    assert client.get(CREATE_PATH, headers={"Prefer": "dynamic=true"}).status_code == 200


def test_times_over_http(admin: httpx.Client, client: httpx.Client) -> None:
    add_scenario(admin, {"name": "flaky", "when": {"token": TOKEN}, "times": 2, "code": 5000})
    codes = [create(client).json()["code"] for _ in range(4)]
    assert codes == [5000, 5000, 0, 0]


def test_a_rate_limit_over_http(admin: httpx.Client, client: httpx.Client, admin_mock: MockProcess) -> None:
    # One request per 1000 s: the second is over the limit however slow the machine.
    add_scenario(admin, {"name": "rl", "when": {"token": TOKEN}, "rate_limit": 0.001})
    assert client.get(CREATE_PATH).status_code == 200
    for _ in range(3):
        answer = client.get(CREATE_PATH)
        assert (answer.status_code, answer.json()["code"]) == (429, 1302)
        assert int(answer.headers["retry-after"]) >= 1
    with kling(admin_mock, OTHER_TOKEN) as other:
        assert other.get(CREATE_PATH).status_code == 200


def test_latency_delays_the_answer(admin: httpx.Client, client: httpx.Client) -> None:
    latency_ms = 300
    answer = create(client, headers={"X-Kling-Mock-Scenario": f"latency_ms={latency_ms}"})
    assert answer.status_code == 200
    # A lower bound only; 1 ms of slack for the event loop's millisecond timer clock.
    assert last_entry(admin)["duration_ms"] >= latency_ms - 1


def test_latency_with_an_error_delays_the_error(admin: httpx.Client, client: httpx.Client) -> None:
    add_scenario(admin, {"name": "slow-fail", "latency_ms": 200, "code": 5001})
    answer = create(client, headers={"X-Kling-Mock-Scenario": "slow-fail"})
    assert answer.status_code == 503
    assert last_entry(admin)["duration_ms"] >= 199


def test_a_dropped_connection(admin: httpx.Client, client: httpx.Client, admin_mock: MockProcess) -> None:
    with pytest.raises(httpx.RemoteProtocolError):
        create(client, headers={"X-Kling-Mock-Scenario": "drop_connection"})
    item = last_entry(admin)
    assert item["response"]["code"] is None
    assert item["response"]["message"] is None
    assert item["scenarios"] == ["header"]
    # The server keeps serving, on new connections and this client's next one.
    assert create(client).status_code == 200
    with kling(admin_mock) as fresh:
        assert fresh.get(CREATE_PATH).status_code == 200
    assert httpx.get(f"{admin_mock.base_url}/healthz", timeout=30).status_code == 200
    assert admin_mock.running


def test_a_dropped_connection_of_an_error(admin: httpx.Client, client: httpx.Client) -> None:
    add_scenario(admin, {"name": "cut", "when": {"token": TOKEN}, "code": 5001, "drop_connection": True})
    for _ in range(2):
        with pytest.raises(httpx.RemoteProtocolError):
            client.get(CREATE_PATH)
    assert [item["response"]["code"] for item in entries(admin)] == [None, None]


@pytest.mark.parametrize("header", ["slow_body_ms=300", "slow_body_ms=300, code=5001"])
def test_a_slow_body_arrives_whole(admin: httpx.Client, client: httpx.Client, header: str) -> None:
    answer = create(client, headers={"X-Kling-Mock-Scenario": header})
    assert len(answer.content) == int(answer.headers["content-length"])
    body = answer.json()
    if "code=" in header:
        assert (answer.status_code, body["code"]) == (503, 5001)
    else:
        assert (answer.status_code, body["code"]) == (200, 0)
        assert body["data"]["task_status"] == "submitted"
    item = last_entry(admin)
    assert item["response"]["code"] == body["code"]
    # A lower bound only: 10 pieces, each timer up to 1 ms early on the event loop's millisecond clock.
    assert item["duration_ms"] >= 300 - 10


def poll(http: httpx.Client, task_id: str, times: int) -> list[dict[str, Any]]:
    seen = []
    for _ in range(times):
        answer = http.get(f"{CREATE_PATH}/{task_id}")
        assert answer.status_code == 200, answer.text
        seen.append(answer.json()["data"])
    return seen


def test_a_task_made_to_fail(admin: httpx.Client, client: httpx.Client) -> None:
    created = create(client, headers={"X-Kling-Mock-Scenario": "task=failed"})
    assert created.status_code == 200
    task_id = created.json()["data"]["task_id"]
    seen = poll(client, task_id, 4)
    assert [data["task_status"] for data in seen] == ["processing", "failed", "failed", "failed"]
    final = seen[-1]
    assert final["task_status_msg"]
    assert "task_result" not in final
    assert_valid(TASK, final)
    # Only the create named the scenario; the polls are plain.
    assert [item["scenarios"] for item in entries(admin)] == [["header"], [], [], [], []]


def test_a_task_made_to_fail_by_a_kept_scenario(admin: httpx.Client, client: httpx.Client) -> None:
    add_scenario(admin, {"name": "doomed", "when": {"operation": "createIdentifyFaceTask"}, "task": "failed"})
    task_id = create(client).json()["data"]["task_id"]
    assert poll(client, task_id, 2)[-1]["task_status"] == "failed"
    admin.delete("/__admin/scenarios/doomed")
    task_id = create(client).json()["data"]["task_id"]
    assert poll(client, task_id, 2)[-1]["task_status"] == "succeed"


def test_a_task_held_processing(admin: httpx.Client, client: httpx.Client) -> None:
    created = create(client, headers={"X-Kling-Mock-Scenario": "task=processing"})
    task_id = created.json()["data"]["task_id"]
    seen = poll(client, task_id, 12)
    assert {data["task_status"] for data in seen} == {"processing"}
    assert all("task_result" not in data and "task_status_msg" not in data for data in seen)
    listed = client.get(CREATE_PATH).json()["data"]
    assert next(task for task in listed if task["task_id"] == task_id)["task_status"] == "processing"


# Tasks of every caller.


def test_admin_tasks_lists_every_callers_tasks_newest_first(admin: httpx.Client, admin_mock: MockProcess) -> None:
    made = []
    with kling(admin_mock) as mine, kling(admin_mock, OTHER_TOKEN) as theirs:
        for http, token in ((mine, TOKEN), (theirs, OTHER_TOKEN), (mine, TOKEN)):
            made.append((fingerprint(token), create(http).json()["data"]["task_id"]))
        poll(theirs, made[1][1], 2)
    response = admin.get("/__admin/tasks", params={"limit": 3})
    assert response.status_code == 200
    items = response.json()["tasks"]
    assert [(item["caller"], item["task"]["task_id"]) for item in items] == made[::-1]
    for item in items:
        assert_valid(TASK, item["task"])
    assert items[1]["task"]["task_status"] == "succeed"
    for token in (TOKEN, OTHER_TOKEN):
        assert token not in response.text
    assert len(admin.get("/__admin/tasks", params={"limit": 1}).json()["tasks"]) == 1
    assert len(admin.get("/__admin/tasks").json()["tasks"]) <= 100


@pytest.mark.parametrize("limit", ["0", "1001", "-1", "x", "1.5", "", "²", "9" * 5000])
def test_admin_tasks_limit_is_validated(admin: httpx.Client, limit: str) -> None:
    response = admin.get("/__admin/tasks", params={"limit": limit})
    assert response.status_code == 400
    assert "query.limit" in response.json()["error"]


@pytest.mark.parametrize("limit", ["1", "1000"])
def test_admin_tasks_limit_bounds_are_accepted(admin: httpx.Client, limit: str) -> None:
    assert admin.get("/__admin/tasks", params={"limit": limit}).status_code == 200


# What is journaled and what is not.


def test_the_admin_api_and_the_mocks_own_endpoints_are_not_journaled(
    admin: httpx.Client, admin_mock: MockProcess
) -> None:
    admin.get("/__admin/journal")
    admin.get("/__admin/scenarios")
    admin.get("/__admin/tasks")
    admin.get("/__admin")
    admin.get("/__admin/login")
    admin.post("/__admin/scenarios", json={"name": "x", "code": 5001})
    admin.delete("/__admin/scenarios/x")
    admin.get("/__admin/nope")
    with httpx.Client(base_url=admin_mock.base_url, timeout=30) as anyone:
        anyone.get("/__admin/journal")
        anyone.post("/__admin/login", data={"token": "wrong"})
        anyone.get("/healthz")
        anyone.get("/openapi.yaml")
    page = journal(admin)
    assert (page["entries"], page["recorded"]) == ([], 0)


@pytest.mark.parametrize(
    ("method", "path", "rule"),
    [
        ("GET", UNKNOWN_PATH, "unknown-path"),
        ("POST", "/nope", "unknown-path"),
        ("GET", f"{CREATE_PATH}/a/b", "unknown-path"),
        # Wrong only by a trailing slash or letter case: still 404/1203, under a rule that says so.
        ("GET", f"{CREATE_PATH}/", "path-spelling"),
        ("GET", CREATE_PATH.upper(), "path-spelling"),
    ],
)
def test_unknown_paths_are_journaled_as_unknown_path(
    admin: httpx.Client, client: httpx.Client, method: str, path: str, rule: str
) -> None:
    answer = client.request(method, path, json=VALID_BODY)
    assert (answer.status_code, answer.json()["code"]) == (404, 1203)
    if rule == "path-spelling":
        assert CREATE_PATH in answer.json()["message"]
    item = last_entry(admin)
    assert (item["method"], item["path"], item["operation"]) == (method, path, None)
    assert item["response"]["code"] == 1203
    assert [(f["rule"], f["path"]) for f in item["verdict"]["errors"]] == [(rule, "path")]
    assert item["verdict"]["warnings"] == []
    assert journal(admin, rule=rule)["total"] == 1


# What a review found: each fixed, each pinned here.


def test_unknown_admin_paths_and_methods_get_the_admin_apis_own_errors(admin: httpx.Client) -> None:
    unknown = admin.get("/__admin/nothing-here")
    assert unknown.status_code == 404
    assert "no such admin resource" in unknown.json()["error"]
    wrong_method = admin.put("/__admin/journal")
    assert wrong_method.status_code == 405
    assert set(wrong_method.headers["allow"].replace(" ", "").split(",")) >= {"GET", "DELETE"}
    assert "error" in wrong_method.json()


def test_numeric_filters_compare_numbers(admin: httpx.Client, client: httpx.Client) -> None:
    create(client, {"input": {}})
    assert [item["response"]["status"] for item in entries(admin, status="0400")] == [400]


def test_a_cross_site_request_may_not_change_the_mock(small_mock: MockProcess) -> None:
    with httpx.Client(base_url=small_mock.base_url, timeout=30) as page_elsewhere:
        refused = page_elsewhere.post("/__admin/reset", headers={"Origin": "https://evil.example"})
        assert refused.status_code == 403
        plain_text = page_elsewhere.post(
            "/__admin/scenarios", content='{"name": "x", "code": 1302}', headers={"Content-Type": "text/plain"}
        )
        assert plain_text.status_code == 400
        assert "Content-Type" in plain_text.json()["error"]
        assert page_elsewhere.get("/__admin/scenarios").json()["scenarios"] == []


def test_integer_fields_given_as_floats_reach_the_client_as_integers(admin: httpx.Client, client: httpx.Client) -> None:
    add_scenario(admin, {"name": "floaty", "when": {"token": TOKEN}, "code": 1302.0, "retry_after": 2.0})
    answer = create(client)
    assert answer.json()["code"] == 1302 and isinstance(answer.json()["code"], int)
    assert answer.headers["retry-after"] == "2"


def test_a_vanishing_rate_limit_is_refused(admin: httpx.Client) -> None:
    response = admin.post("/__admin/scenarios", json={"name": "tiny", "rate_limit": 5e-324})
    assert response.status_code == 400
    assert "rate_limit" in response.json()["error"]


def test_prefer_a_404_on_a_task_poll_is_an_unknown_task(client: httpx.Client) -> None:
    answer = client.get(f"{CREATE_PATH}/some-task", headers={"Prefer": "code=404"})
    assert (answer.status_code, answer.json()["code"]) == (404, 1203)


def test_a_scenario_file_item_that_is_not_a_mapping_is_a_clear_error(tmp_path: Path) -> None:
    bad = tmp_path / "scenarios.yaml"
    bad.write_text("scenarios: [busy]\n")
    result = subprocess.run(
        [sys.executable, "-m", "mock_server", "serve", "--port", "0", "--admin", "--scenarios", str(bad)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "scenarios[0]" in result.stderr and "object" in result.stderr
    assert "Traceback" not in result.stderr


# Tasks of every kind, and the page's pictures of the faces sessions found.

ADVANCED_PATH = "/v1/videos/advanced-lip-sync"
LIP_SYNC_PATH = "/v1/videos/lip-sync"
CLOCK = _ADMIN_SPEC.validator("#/components/responses/Clock/content/application~1json/schema")
ADMIN_ERROR = _ADMIN_SPEC.validator("#/components/schemas/AdminError")


def test_admin_tasks_items_say_which_operation_made_them(admin: httpx.Client, client: httpx.Client) -> None:
    made = [("identify-face", create(client).json()["data"]["task_id"])]
    session = open_session(client)
    made.append(("identify-face-at-once", session["session_id"]))
    lip_sync = client.post(ADVANCED_PATH, json=valid_request(session))
    assert lip_sync.status_code == 200, lip_sync.text
    made.append(("advanced-lip-sync", lip_sync.json()["data"]["task_id"]))
    older = client.post(LIP_SYNC_PATH, json=SEED_EXAMPLE)
    assert older.status_code == 200, older.text
    made.append(("lip-sync", older.json()["data"]["task_id"]))
    items = admin.get("/__admin/tasks", params={"limit": 4}).json()["tasks"]
    assert [(item["kind"], item["task"]["task_id"]) for item in items] == made[::-1]
    assert {item["caller"] for item in items} == {fingerprint(TOKEN)}
    assert_valid(TASK, items[-1]["task"])


def test_the_page_shows_the_faces_of_sessions_from_the_mocks_own_urls(
    admin: httpx.Client, client: httpx.Client, admin_mock: MockProcess
) -> None:
    session = open_session(client)
    lip_sync = client.post(ADVANCED_PATH, json=valid_request(session))
    assert lip_sync.status_code == 200, lip_sync.text
    page = admin.get("/__admin")
    assert page.status_code == 200
    assert "img-src 'self'" in page.headers["content-security-policy"]
    (item,) = [
        item for item in admin.get("/__admin/tasks").json()["tasks"] if item["task"]["task_id"] == session["session_id"]
    ]
    urls = [face["face_image"] for face in item["task"]["task_result"]["face_data"]]
    assert urls and all(url.startswith(f"{admin_mock.base_url}/files/faces/{session['session_id']}/") for url in urls)
    for url in urls:
        assert f'<img src="{url}"' in page.text
        picture = httpx.get(url, timeout=30)  # as the browser loads it: the URL is the permission, no token
        assert (picture.status_code, picture.headers["content-type"]) == (200, "image/png")
        assert picture.content.startswith(b"\x89PNG\r\n\x1a\n")
    assert '<td class="kind mono">advanced-lip-sync</td>' in page.text
    assert '<td class="kind mono">identify-face-at-once</td>' in page.text


# The clock.


def read_clock(admin: httpx.Client) -> int:
    response = admin.get("/__admin/clock")
    assert response.status_code == 200, response.text
    assert_valid(CLOCK, response.json())
    now: int = response.json()["now_ms"]
    return now


def test_the_clock_is_read_and_moved_forward(admin: httpx.Client, admin_mock: MockProcess) -> None:
    before = read_clock(admin)
    assert before > 1_600_000_000_000
    moved = admin.post("/__admin/clock", json={"advance_ms": 60_000})
    assert moved.status_code == 200, moved.text
    assert_valid(CLOCK, moved.json())
    assert moved.json()["now_ms"] >= before + 60_000
    assert read_clock(admin) >= moved.json()["now_ms"]
    assert admin.post("/__admin/clock", json={"advance_ms": 0}).status_code == 200
    with httpx.Client(base_url=admin_mock.base_url, timeout=30) as anyone:
        assert anyone.get("/__admin/clock").status_code == 401
        assert anyone.post("/__admin/clock", json={"advance_ms": 1}).status_code == 401


@pytest.mark.parametrize(
    "body",
    [
        b"{not json",
        b"",
        b"[]",
        b"{}",
        b'{"advance_ms": -1}',
        b'{"advance_ms": 1.5}',
        b'{"advance_ms": "1000"}',
        b'{"advance_ms": true}',
        b'{"advance_ms": null}',
        b'{"advance_ms": 31622400001}',
        b'{"advance_ms": 1e400}',
    ],
)
def test_a_clock_body_it_cannot_take_is_400_naming_advance_ms(admin: httpx.Client, body: bytes) -> None:
    before = read_clock(admin)
    response = admin.post("/__admin/clock", content=body, headers={"Content-Type": "application/json"})
    assert response.status_code == 400
    assert_valid(ADMIN_ERROR, response.json())
    assert "advance_ms" in response.json()["error"]
    # Not moved: a day's jump would show, however long the call took.
    assert read_clock(admin) < before + 24 * 60 * 60 * 1000


def test_a_session_expires_when_the_clock_passes_its_24_hours(admin: httpx.Client, client: httpx.Client) -> None:
    """Last in the module: the module's mock stays a day ahead after it."""
    session = open_session(client)
    assert admin.post("/__admin/clock", json={"advance_ms": 24 * 60 * 60 * 1000 + 1}).status_code == 200
    expired = client.post(ADVANCED_PATH, json=valid_request(session))
    assert (expired.status_code, expired.json()["code"]) == (400, 1201)
    assert expired.json()["message"].startswith("session_id: ")
    assert last_entry(admin)["verdict"]["errors"][0]["rule"] == "session"
