"""`kling-mock serve --store redis://...` over real HTTP: mocks and workers sharing one Redis behave as one backend.

A real redis-server on a loopback port (skipped without one, except in CI), and real mock processes:
a task created through one mock is read, listed and advanced through another, and a session opened through one
is lip-synced through another; ownership and rate limits hold across them; with `--admin`, so do the journal
(one `seq` order, polls timed across mocks, `kling-mock verify` judging every worker's requests) and the
scenarios (added through one, played by the other, `times` counted across them). A Redis that goes away gets
503/5001 answers on Kling's paths and on `/healthz` (a load balancer's check), 503 on the admin API, not crashes,
and service resumes when it is back. Waiting is done by bounded polling, never by timing assertions: an entry reaches
the shared journal a moment after its answer, so a journal read through another mock may have to wait for it.
"""

from __future__ import annotations

import json
import signal
import time
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import pytest

from mock_server.cli import main
from mock_server.client.process import MockProcess
from tests.support import CREATE_PATH, SEED_EXAMPLE
from tests.support.lip_sync import follow, open_session, valid_request
from tests.support.redis_server import RedisServer, redis_server_executable

ALICE, BOB = "redis-test-alice", "redis-test-bob"
ADVANCED_PATH = "/v1/videos/advanced-lip-sync"
# Requests polling for Redis to be back: bounded, and each answers at once (503 or 200).
_MAX_POLLS = 400
_UNREACHABLE = "the task store (Redis) cannot be reached"


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    with RedisServer(redis_server_executable(), tmp_path).start() as server:
        yield server


def _mock(redis_server: RedisServer, *args: str) -> MockProcess:
    return MockProcess("--store", redis_server.url, "--tick-ms", "0", *args)


def _client(mock: MockProcess, token: str) -> httpx.Client:
    return httpx.Client(base_url=mock.base_url, headers={"Authorization": f"Bearer {token}"}, timeout=30)


def _call(mock: MockProcess, token: str, method: str, path: str, **kwargs: Any) -> httpx.Response:
    """One request on a connection of its own: with workers, successive ones may land on any of them."""
    with _client(mock, token) as http:
        return http.request(method, path, headers={"Connection": "close"}, **kwargs)


def _create(mock: MockProcess, token: str, video_url: str = "https://example.com/faces-2.mp4") -> dict[str, Any]:
    answer = _call(mock, token, "POST", CREATE_PATH, json={"input": {**SEED_EXAMPLE["input"], "video_url": video_url}})
    assert answer.status_code == 200, answer.text
    data: dict[str, Any] = answer.json()["data"]
    return data


def _query(mock: MockProcess, token: str, task_id: str) -> httpx.Response:
    return _call(mock, token, "GET", f"{CREATE_PATH}/{task_id}")


def _listed(mock: MockProcess, token: str) -> list[str]:
    answer = _call(mock, token, "GET", CREATE_PATH, params={"pageNum": 1, "pageSize": 500})
    assert answer.status_code == 200, answer.text
    return [task["task_id"] for task in answer.json()["data"]]


def _assert_unavailable(answer: httpx.Response) -> None:
    """While Redis is away: Kling's envelope, 503/5001, saying what is wrong (`/healthz` too)."""
    assert answer.status_code == 503, answer.text
    body = answer.json()
    assert body["code"] == 5001
    assert body["message"] == f"service temporarily unavailable: {_UNREACHABLE}"
    assert isinstance(body["request_id"], str) and body["request_id"]
    assert "data" not in body


def _poll(send: Callable[[], httpx.Response], done: Callable[[httpx.Response], bool]) -> httpx.Response:
    """`send()`'s first answer that is `done`, or its last, after a bounded number of polls."""
    for _ in range(_MAX_POLLS):
        answer = send()
        if done(answer):
            break
        time.sleep(0.05)
    return answer


def _healthy_again(mock: MockProcess) -> httpx.Response:
    """`/healthz` once it is ok again (or the last answer, after a bounded number of polls)."""

    def healthy(answer: httpx.Response) -> bool:
        if answer.status_code != 503:
            return True
        _assert_unavailable(answer)
        return False

    return _poll(partial(_call, mock, ALICE, "GET", "/healthz"), healthy)


def _assert_no_traceback(*mocks: MockProcess) -> None:
    for mock in mocks:
        assert not any("Traceback" in line for line in mock.stderr_lines), "".join(mock.stderr_lines)


def test_a_task_created_on_one_mock_is_read_listed_and_advanced_on_the_other(redis_server: RedisServer) -> None:
    with _mock(redis_server) as first, _mock(redis_server) as second:
        assert first.base_url != second.base_url
        created = _create(first, ALICE)
        task_id = created["task_id"]
        assert created["task_status"] == "submitted"
        # Each poll advances the task one step (--tick-ms 0), whichever mock it goes to.
        seen = [_query(mock, ALICE, task_id).json()["data"]["task_status"] for mock in (second, first, second)]
        assert seen == ["processing", "succeed", "succeed"]
        data = _query(first, ALICE, task_id).json()["data"]
        assert data["created_at"] == created["created_at"]
        assert len(data["task_result"]["face_data"]) == 2

        later = _create(second, ALICE, "https://example.com/no-face.mp4")["task_id"]
        assert _listed(first, ALICE) == _listed(second, ALICE) == [later, task_id]

        # Ownership holds across them: bob neither sees alice's tasks nor lists them.
        for mock in (first, second):
            refused = _query(mock, BOB, task_id)
            assert refused.status_code == 404 and refused.json()["code"] == 1203
            assert _listed(mock, BOB) == []
    _assert_no_traceback(first, second)


def test_a_session_opened_on_one_mock_is_lip_synced_on_the_other(redis_server: RedisServer) -> None:
    """Identify-face on mock A, advanced lip-sync with its session on mock B: sessions are in the shared store."""
    with _mock(redis_server) as first, _mock(redis_server) as second:
        with _client(first, ALICE) as http:
            session = open_session(http)
        created = _call(second, ALICE, "POST", ADVANCED_PATH, json=valid_request(session))
        assert (created.status_code, created.json()["code"]) == (200, 0), created.text
        task_id = created.json()["data"]["task_id"]
        # Followed to its end on the first mock; listed by both.
        with _client(first, ALICE) as http:
            done = follow(http, ADVANCED_PATH, task_id)
        assert done["task_status"] == "succeed", done
        for mock in (first, second):
            listed = _call(mock, ALICE, "GET", ADVANCED_PATH, params={"pageSize": 500})
            assert task_id in [task["task_id"] for task in listed.json()["data"]]
        # The results download from either mock: the session's faces, and the video made through the other one.
        video_path = done["task_result"]["videos"][0]["url"].removeprefix(first.base_url)
        face_path = session["face_data"][0]["face_image"].removeprefix(first.base_url)
        for mock in (first, second):
            video = httpx.get(mock.base_url + video_path, timeout=30)
            assert (video.status_code, video.headers["content-type"]) == (200, "video/mp4")
            picture = httpx.get(mock.base_url + face_path, timeout=30)
            assert (picture.status_code, picture.content[:8]) == (200, b"\x89PNG\r\n\x1a\n")
        # The session is still its owner's alone, on either mock.
        foreign = _call(second, BOB, "POST", ADVANCED_PATH, json=valid_request(session))
        assert (foreign.status_code, foreign.json()["code"]) == (400, 1201)
        assert foreign.json()["message"].startswith("session_id: ")
    _assert_no_traceback(first, second)


def test_a_per_token_rate_limit_counts_across_both_mocks(redis_server: RedisServer, tmp_path: Path) -> None:
    """One request per 100 seconds for alice: the first, on one mock, spends it for the other too."""
    scenarios = tmp_path / "scenarios.yaml"
    scenarios.write_text(
        f"scenarios:\n  - name: shared-limit\n    when: {{token: {ALICE}}}\n    rate_limit: 0.01\n", encoding="utf-8"
    )
    with (
        _mock(redis_server, "--scenarios", str(scenarios)) as first,
        _mock(redis_server, "--scenarios", str(scenarios)) as second,
    ):
        _create(first, ALICE)
        limited = _call(second, ALICE, "POST", CREATE_PATH, json=SEED_EXAMPLE)
        assert limited.status_code == 429, limited.text
        assert limited.json()["code"] == 1302
        assert int(limited.headers["Retry-After"]) >= 1
        again = _call(first, ALICE, "GET", CREATE_PATH, params={"pageNum": 1, "pageSize": 30})
        assert again.status_code == 429 and again.json()["code"] == 1302
        # Another token is not limited, on either mock.
        _create(second, BOB)
        _create(first, BOB)
    _assert_no_traceback(first, second)


def test_a_redis_outage_is_answered_5001_and_service_resumes_when_it_is_back(redis_server: RedisServer) -> None:
    with _mock(redis_server) as first, _mock(redis_server) as second:
        task_id = _create(first, ALICE)["task_id"]
        redis_server.stop()

        for mock in (first, second):
            _assert_unavailable(_call(mock, ALICE, "POST", CREATE_PATH, json=SEED_EXAMPLE))
            _assert_unavailable(_query(mock, ALICE, task_id))
            _assert_unavailable(_call(mock, ALICE, "GET", CREATE_PATH, params={"pageNum": 1, "pageSize": 30}))
            # What needs no store still answers as usual.
            invalid = _call(mock, ALICE, "POST", CREATE_PATH, json={"input": {"mode": "text2video"}})
            assert invalid.status_code == 400 and invalid.json()["code"] == 1201
            _assert_unavailable(_call(mock, ALICE, "GET", "/healthz"))
        assert first.running and second.running
        assert any("unavailable" in line for line in first.stderr_lines)

        redis_server.start()  # on the same port, and empty: it saved nothing
        for mock in (first, second):
            healthy = _healthy_again(mock)
            assert (healthy.status_code, healthy.json()) == (200, {"status": "ok"})
            answer = _poll(
                partial(_call, mock, ALICE, "POST", CREATE_PATH, json=SEED_EXAMPLE),
                lambda answer: answer.status_code != 503,
            )
            assert answer.status_code == 200, answer.text
        resumed = _create(second, ALICE)["task_id"]
        assert _query(first, ALICE, resumed).json()["data"]["task_status"] == "processing"
    _assert_no_traceback(first, second)


def test_healthz_follows_redis_down_and_up_again_on_every_worker(redis_server: RedisServer) -> None:
    """A load balancer's check sees what Kling's callers see: 503/5001 while Redis is away, ok once it is back.

    With two workers, each on a connection of its own, every answer comes from either: all of them must agree.
    """
    with _mock(redis_server, "--workers", "2") as mock:
        for _ in range(4):
            answer = _call(mock, ALICE, "GET", "/healthz")
            assert (answer.status_code, answer.json()) == (200, {"status": "ok"})

        for outage in range(2):  # and again: going down is noticed each time, not only the first
            redis_server.stop()
            for _ in range(4):
                _assert_unavailable(_call(mock, ALICE, "GET", "/healthz"))
            _assert_unavailable(_call(mock, ALICE, "POST", CREATE_PATH, json=SEED_EXAMPLE))
            assert mock.running, outage

            redis_server.start()
            assert _healthy_again(mock).status_code == 200, outage
            for _ in range(4):  # whichever worker answers: each finds Redis again at its first ping
                answer = _call(mock, ALICE, "GET", "/healthz")
                assert (answer.status_code, answer.json()) == (200, {"status": "ok"}), outage
            _create(mock, ALICE)
        # /healthz is the kit's, not Kling's: no auth needed, even while Redis is away.
        redis_server.stop()
        with httpx.Client(base_url=mock.base_url, timeout=30) as anonymous:
            _assert_unavailable(anonymous.get("/healthz", headers={"Connection": "close"}))
        redis_server.start()
    assert any("unavailable" in line for line in mock.stderr_lines)
    assert any("is back" in line for line in mock.stderr_lines)
    _assert_no_traceback(mock)


def _workers_of(pid: int) -> list[int]:
    """The worker processes uvicorn's supervisor `pid` started (multiprocessing's spawned children)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            parent = int((entry / "stat").read_text().rpartition(")")[2].split()[1])
            command = (entry / "cmdline").read_bytes()
        except (OSError, IndexError, ValueError):
            continue  # gone meanwhile
        if parent == pid and b"spawn_main" in command:
            found.append(int(entry.name))
    return found


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="counts worker processes through /proc")
def test_two_workers_serve_as_one_backend(redis_server: RedisServer) -> None:
    with _mock(redis_server, "--workers", "2") as mock:
        announcements = [line for line in mock.stderr_lines if "kling-mock listening on" in line]
        assert len(announcements) == 1 and "2 workers" in announcements[0]
        workers = _workers_of(mock.pid)
        assert len(workers) == 2
        created = [_create(mock, ALICE)["task_id"] for _ in range(8)]
        for task_id in created:
            statuses = [_query(mock, ALICE, task_id).json()["data"]["task_status"] for _ in range(3)]
            assert statuses == ["processing", "succeed", "succeed"]
        assert _listed(mock, ALICE) == created[::-1]
        assert mock.stop() in (0, -signal.SIGTERM)
    for worker in workers:  # stopped, and reaped, with their supervisor
        assert not Path(f"/proc/{worker}").exists()
    _assert_no_traceback(mock)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--workers", "2"], "--workers above 1 needs --store redis://HOST:PORT/DB"),
        (["--workers", "2", "--state", "state.db"], "--workers above 1 cannot share --state's SQLite file"),
        (["--store", "redis://127.0.0.1:1/0", "--state", "state.db"], "--store and --state do not mix"),
        (["--store", "redis://127.0.0.1:1/0", "--seed", "7"], "--seed and --store do not mix"),
        (["--store", "memcached://127.0.0.1:1"], "--store takes a Redis URL"),
    ],
)
def test_what_cannot_be_served_is_refused_with_a_message(
    args: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["serve", "--port", "0", *args]) == 2
    assert message in capsys.readouterr().err


def test_a_redis_that_cannot_be_reached_at_start_exits_2_without_showing_its_password(
    redis_server: RedisServer, capsys: pytest.CaptureFixture[str]
) -> None:
    redis_server.stop()
    url = f"redis://:not-shown-pw@127.0.0.1:{redis_server.port}/0"
    assert main(["serve", "--port", "0", "--store", url, "--workers", "2"]) == 2
    err = capsys.readouterr().err
    assert f"cannot use the task store at redis://127.0.0.1:{redis_server.port}/0" in err
    assert "not-shown-pw" not in err


# The journal and the scenarios, shared.


def _journal(mock: MockProcess, expected: int | None = None, **params: Any) -> dict[str, Any]:
    """The journal page, once it holds `expected` entries: another process's may be a moment behind."""

    def held(answer: httpx.Response) -> bool:
        assert answer.status_code == 200, answer.text
        return expected is None or answer.json()["total"] >= expected

    page: dict[str, Any] = _poll(partial(_call, mock, ALICE, "GET", "/__admin/journal", params=params), held).json()
    if expected is not None and page["total"] < expected:
        raise AssertionError(f"the journal never held {expected} entries: {page['total']}")
    assert expected is None or page["total"] == expected, page["total"]
    return page


def _rules(entry: dict[str, Any]) -> list[str]:
    verdict = entry["verdict"]
    return [finding["rule"] for finding in verdict["errors"] + verdict["warnings"]]


def test_two_mocks_keep_one_journal_in_one_order_with_their_verdicts(redis_server: RedisServer) -> None:
    with _mock(redis_server, "--admin") as first, _mock(redis_server, "--admin") as second:
        task_id = _create(first, ALICE)["task_id"]
        refused = _call(second, ALICE, "POST", CREATE_PATH, json={"input": {"mode": "text2video"}})
        assert refused.status_code == 400
        assert _query(first, ALICE, task_id).status_code == 200
        _journal(first, expected=3)  # that poll is in the journal: the next, through the other mock, follows it
        assert _query(second, ALICE, task_id).status_code == 200
        assert _call(second, BOB, "GET", f"{CREATE_PATH}-typo").status_code == 404
        pages = [_journal(mock, expected=5) for mock in (first, second)]
        assert pages[0] == pages[1]
        entries = pages[0]["entries"]
        assert [entry["seq"] for entry in entries] == sorted({entry["seq"] for entry in entries})
        assert [(entry["method"], entry["response"]["status"]) for entry in entries] == [
            ("POST", 200),
            ("POST", 400),
            ("GET", 200),
            ("GET", 200),
            ("GET", 404),
        ]
        assert [entry["verdict"]["result"] for entry in entries] == ["clean", "error", "clean", "warning", "error"]
        assert _rules(entries[3]) == ["polling-too-fast"]
        assert "unknown-path" in _rules(entries[4])
        assert (pages[0]["recorded"], pages[0]["dropped"], pages[0]["lost"]) == (5, 0, 0)
        for token in (ALICE, BOB):
            assert token not in json.dumps(pages[0])
        # Cleared through one, cleared for both.
        assert _call(second, ALICE, "DELETE", "/__admin/journal").status_code == 204
        assert _journal(first)["entries"] == []
    _assert_no_traceback(first, second)


def test_a_scenario_added_through_one_mock_plays_on_the_other_its_times_counted_across_both(
    redis_server: RedisServer,
) -> None:
    with _mock(redis_server, "--admin") as first, _mock(redis_server, "--admin") as second:
        busy = {"name": "busy", "when": {"token": ALICE}, "code": 1302, "times": 2}
        added = _call(first, ALICE, "POST", "/__admin/scenarios", json=busy)
        assert added.status_code == 201, added.text
        statuses = [_call(mock, ALICE, "POST", CREATE_PATH, json=SEED_EXAMPLE).status_code for mock in (second, first)]
        statuses += [_call(mock, ALICE, "POST", CREATE_PATH, json=SEED_EXAMPLE).status_code for mock in (second, first)]
        assert statuses == [429, 429, 200, 200]
        assert _call(second, BOB, "POST", CREATE_PATH, json=SEED_EXAMPLE).status_code == 200
        (state,) = _call(second, ALICE, "GET", "/__admin/scenarios").json()["scenarios"]
        assert (state["name"], state["remaining"]) == ("busy", 0)
        scenarios = [entry["scenarios"] for entry in _journal(first, expected=5)["entries"]]
        assert scenarios == [["busy"], ["busy"], [], [], []]

        # A reset through one resets both: no scenario, an empty journal.
        assert _call(second, ALICE, "POST", "/__admin/scenarios", json={**busy, "times": 1}).status_code == 201
        assert _call(second, ALICE, "POST", "/__admin/reset").status_code == 204
        assert _call(first, ALICE, "GET", "/__admin/scenarios").json() == {"scenarios": []}
        assert _journal(first)["total"] == 0
        assert _call(first, ALICE, "POST", CREATE_PATH, json=SEED_EXAMPLE).status_code == 200
    _assert_no_traceback(first, second)


def test_a_scenario_file_seeds_the_shared_list_once(redis_server: RedisServer, tmp_path: Path) -> None:
    """Workers and mocks started with the same file refill nothing: `times: 1` is one refusal among them all."""
    scenarios = tmp_path / "scenarios.yaml"
    scenarios.write_text("scenarios:\n  - name: once\n    when: {}\n    times: 1\n    code: 5000\n")
    with _mock(redis_server, "--admin", "--workers", "2", "--scenarios", str(scenarios)) as workers:
        codes = [_call(workers, ALICE, "POST", CREATE_PATH, json=SEED_EXAMPLE).json()["code"] for _ in range(3)]
        assert codes == [5000, 0, 0]
        with _mock(redis_server, "--admin", "--scenarios", str(scenarios)) as another:
            assert _call(another, ALICE, "POST", CREATE_PATH, json=SEED_EXAMPLE).json()["code"] == 0
            assert _call(another, ALICE, "POST", "/__admin/reset").status_code == 204
            assert _call(workers, ALICE, "POST", CREATE_PATH, json=SEED_EXAMPLE).json()["code"] == 5000
    _assert_no_traceback(workers, another)


def test_verify_against_workers_judges_every_worker_s_requests(
    redis_server: RedisServer, capsys: pytest.CaptureFixture[str]
) -> None:
    with _mock(redis_server, "--admin", "--workers", "2") as mock:
        assert len(_workers_of(mock.pid)) == 2
        # Each on a connection of its own: any worker may answer it.
        for _ in range(6):
            _create(mock, ALICE)
        for _ in range(4):
            _call(mock, ALICE, "POST", CREATE_PATH, json={"input": {"mode": "audio2video"}})
        _journal(mock, expected=10)
        assert main(["verify", "--base-url", mock.base_url, "--format", "json"]) == 1
        report = json.loads(capsys.readouterr().out)
        assert (report["totals"]["judged"], report["totals"]["with_errors"], report["totals"]["clean"]) == (10, 4, 6)
    _assert_no_traceback(mock)


def test_a_redis_outage_is_503_on_the_admin_api_and_the_journal_counts_what_it_lost(
    redis_server: RedisServer,
) -> None:
    with _mock(redis_server, "--admin") as mock:
        _create(mock, ALICE)
        assert _journal(mock, expected=1)["lost"] == 0
        redis_server.stop()

        sent = [
            _call(mock, ALICE, "POST", CREATE_PATH, json=SEED_EXAMPLE),
            _call(mock, ALICE, "POST", CREATE_PATH, json={"input": {"mode": "text2video"}}),
        ]
        assert [answer.status_code for answer in sent] == [503, 400]
        for method, path in [
            ("GET", "/__admin/journal"),
            ("DELETE", "/__admin/journal"),
            ("GET", "/__admin/scenarios"),
            ("POST", "/__admin/scenarios"),
            ("DELETE", "/__admin/scenarios"),
            ("DELETE", "/__admin/scenarios/any"),
            ("GET", "/__admin/tasks"),
            ("POST", "/__admin/reset"),
            ("GET", "/__admin"),
        ]:
            answer = _call(mock, ALICE, method, path, json={"name": "s", "code": 5001})
            assert answer.status_code == 503, (method, path, answer.text)
            assert answer.json() == {"error": f"service temporarily unavailable: {_UNREACHABLE}"}
        assert mock.running

        redis_server.start()  # empty
        answer = _poll(partial(_call, mock, ALICE, "GET", "/__admin/journal"), lambda answer: answer.status_code == 200)
        assert answer.status_code == 200, answer.text
        page = answer.json()
        # Both requests of the outage were answered, and counted lost: Redis could not take them.
        assert (page["entries"], page["recorded"], page["lost"]) == ([], 0, 2)
        assert "2 requests answered but never recorded" in _call(mock, ALICE, "GET", "/__admin").text
        _create(mock, ALICE)
        assert [entry["response"]["status"] for entry in _journal(mock, expected=1)["entries"]] == [200]
    _assert_no_traceback(mock)
