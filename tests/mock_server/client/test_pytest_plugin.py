"""The pytest plugin (mock_server/client/pytest_plugin.py), as its users meet it.

Each test writes a small client test suite and runs it in a pytest subprocess (`pytester`): the plugin comes
in through its `pytest11` entry point, as in a user's project, and starts a real mock on 127.0.0.1.
"""

from __future__ import annotations

import pytest

pytest_plugins = ["pytester"]

# The client under test, shared by the inline suites: a task creator with optional retries on 429 that
# honours Retry-After, and a poller. `WAITS` records the waits it chose.
CLIENT = """
import time

import httpx

CREATE = "/kling/v1/videos/identify-face"
BODY = {
    "input": {
        "video_url": "https://example.com/faces-2.mp4",
        "mode": "audio2video",
        "audio_type": "url",
        "audio_url": "https://example.com/voice.mp3",
    }
}
WAITS = []


def create_task(base_url, token, retries=0):
    with httpx.Client(base_url=base_url, headers={"Authorization": f"Bearer {token}"}) as kling:
        for attempt in range(retries + 1):
            response = kling.post(CREATE, json=BODY)
            if response.status_code != 429 or attempt == retries:
                break
            wait = float(response.headers["Retry-After"])
            WAITS.append(wait)
            time.sleep(wait)
        response.raise_for_status()
        return response.json()["data"]["task_id"]


def poll(base_url, token, task_id, wait=0.0):
    with httpx.Client(base_url=base_url, headers={"Authorization": f"Bearer {token}"}) as kling:
        while True:
            task = kling.get(f"{CREATE}/{task_id}").json()["data"]
            if task["task_status"] in ("succeed", "failed"):
                return task
            time.sleep(wait)
"""


@pytest.fixture
def suite(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    """A pytester folder holding the client; the plugin must load by its entry point, as for users."""
    monkeypatch.delenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", raising=False)
    monkeypatch.delenv("PYTEST_ADDOPTS", raising=False)
    pytester.makepyfile(kling_client=CLIENT)
    return pytester


def run(suite: pytest.Pytester, *args: str) -> pytest.RunResult:
    # The environment's other heavy plugins are not under test, and cost a second a run to load.
    quiet = ("-p", "no:cacheprovider", "-p", "no:schemathesis", "-p", "no:hypothesispytest")
    return suite.runpytest_subprocess("-v", *quiet, *args, timeout=120)


def test_the_fixtures_serve_a_real_mock_with_a_token_per_test(suite: pytest.Pytester) -> None:
    suite.makepyfile(
        test_fixtures="""
        import httpx

        from kling_client import create_task, poll

        TOKENS = []


        def test_serves(kling_mock, kling_mock_server):
            assert kling_mock.base_url == kling_mock_server.base_url
            assert kling_mock.base_url.startswith("http://127.0.0.1:")
            assert kling_mock_server.args == ("--tick-ms", "0")
            assert httpx.get(f"{kling_mock.base_url}/healthz").json() == {"status": "ok"}
            task_id = create_task(kling_mock.base_url, kling_mock.token)
            # --tick-ms 0: each poll moves the task a step, no waiting.
            task = poll(kling_mock.base_url, kling_mock.token, task_id)
            assert task["task_status"] == "succeed"
            assert len(task["task_result"]["face_data"]) == 2
            assert [t["task_id"] for t in kling_mock.tasks()] == [task_id]
            assert [e["operation"] for e in kling_mock.journal()] == [
                "createIdentifyFaceTask", "getIdentifyFaceTask", "getIdentifyFaceTask"
            ]
            assert len(kling_mock.journal(operation="getIdentifyFaceTask")) == 2
            TOKENS.append(kling_mock.token)


        def test_another_test_another_caller(kling_mock):
            assert kling_mock.token != TOKENS[0]
            assert kling_mock.headers == {"Authorization": f"Bearer {kling_mock.token}"}
            # The first test's task is not this caller's, and its requests are gone from the journal.
            assert kling_mock.tasks() == []
            assert kling_mock.journal() == []
        """
    )
    result = run(suite)
    result.assert_outcomes(passed=2)


def test_a_correct_client_passes_assert_conformant(suite: pytest.Pytester) -> None:
    suite.makepyfile(
        test_conformant="""
        import pytest

        from kling_client import create_task, poll


        def test_correct_client(kling_mock):
            task_id = create_task(kling_mock.base_url, kling_mock.token)
            poll(kling_mock.base_url, kling_mock.token, task_id, wait=0.0)
            report = kling_mock.assert_conformant()
            assert report.totals.judged == 3
            assert report.totals.with_errors == 0
            # Polling without a pause breaks no rule, but a careful client would not: warnings, which fail
            # only when asked.
            assert [rule.rule for rule in report.warnings] == ["polling-too-fast"]
            with pytest.raises(pytest.fail.Exception, match="polling-too-fast"):
                kling_mock.assert_conformant(fail_on_warnings=True)
        """
    )
    result = run(suite)
    result.assert_outcomes(passed=1)


def test_a_lip_sync_client_passes_and_sessions_expire_when_the_clock_is_moved(suite: pytest.Pytester) -> None:
    suite.makepyfile(
        test_lip_sync="""
        import httpx


        def lip_sync(kling, session, face):
            choice = {
                "face_id": face["face_id"],
                "sound_file": "https://example.com/voice-6s.mp3",
                "sound_start_time": 0,
                "sound_end_time": 3000,
                "sound_insert_time": face["start_time"],
            }
            return kling.post("/v1/videos/advanced-lip-sync", json={"session_id": session, "face_choose": [choice]})


        def test_the_flow(kling_mock):
            with httpx.Client(base_url=kling_mock.base_url, headers=kling_mock.headers) as kling:
                found = kling.post("/v1/videos/identify-face", json={"video_url": "https://example.com/a.mp4"})
                session, face = found.json()["data"]["session_id"], found.json()["data"]["face_data"][0]
                task_id = lip_sync(kling, session, face).json()["data"]["task_id"]
                while (task := kling.get(f"/v1/videos/advanced-lip-sync/{task_id}").json()["data"])[
                    "task_status"
                ] not in ("succeed", "failed"):
                    pass
                assert task["task_status"] == "succeed" and task["task_result"]["videos"]
                assert [t["task_id"] for t in kling_mock.tasks(kind="advanced-lip-sync")] == [task_id]
                # The synchronous call is kept as a finished task, whose id is the session's.
                assert [t["task_id"] for t in kling_mock.tasks(kind="identify-face-at-once")] == [session]
                kling_mock.assert_conformant()
                # A day later the session is gone: refused as an unknown one, naming the field.
                kling_mock.advance_clock(24 * 60 * 60 * 1000)
                refused = lip_sync(kling, session, face).json()
                assert refused["code"] == 1201 and refused["message"].startswith("session_id")
        """
    )
    result = run(suite)
    result.assert_outcomes(passed=1)


def test_a_client_without_authorization_fails_with_the_report(suite: pytest.Pytester) -> None:
    suite.makepyfile(
        test_no_auth="""
        import httpx

        from kling_client import BODY, CREATE


        def test_forgets_the_header(kling_mock):
            response = httpx.post(kling_mock.base_url + CREATE, json=BODY)
            assert response.status_code == 401
            kling_mock.assert_conformant()
        """
    )
    result = run(suite)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "*kling-mock conformance: FAILED: 1 request: 1 with errors (1 rule), 0 with warnings (0 rules), 0 clean",
            "*[[]error] auth-missing: 1 request, 1 finding",
            "*paths: header.Authorization (1)",
            "*< 401 code 1001: Authorization: header is missing or empty",
            "FAILED test_no_auth.py::test_forgets_the_header*",
        ]
    )
    # pytest.fail(pytrace=False): the report, not the plugin's traceback.
    result.stdout.no_fnmatch_line("*pytest_plugin.py*")


def test_a_retrying_client_rides_out_a_rate_limit_scenario_and_a_naive_one_fails(suite: pytest.Pytester) -> None:
    suite.makepyfile(
        test_retries="""
        import kling_client
        from kling_client import create_task


        def test_with_retries(kling_mock):
            kling_mock.scenario(name="rate-limited", code=1302, retry_after=1, times=2)
            task_id = create_task(kling_mock.base_url, kling_mock.token, retries=3)
            assert kling_client.WAITS == [1.0, 1.0]
            journal = kling_mock.journal()
            assert [(e["response"]["status"], e["response"]["code"]) for e in journal] == [
                (429, 1302), (429, 1302), (200, 0)
            ]
            assert [e["scenarios"] for e in journal] == [["rate-limited"], ["rate-limited"], []]
            assert [t["task_id"] for t in kling_mock.tasks()] == [task_id]
            assert [s["remaining"] for s in kling_mock.scenarios()] == [0]
            # The 429s were the scenario's doing, not the client's fault.
            kling_mock.assert_conformant(fail_on_warnings=True)


        def test_without_retries(kling_mock):
            kling_mock.scenario(name="rate-limited", code=1302, retry_after=1, times=2)
            create_task(kling_mock.base_url, kling_mock.token)
        """
    )
    result = run(suite)
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(
        [
            "test_retries.py::test_with_retries PASSED*",
            "test_retries.py::test_without_retries FAILED*",
            "*HTTPStatusError: Client error '429 Too Many Requests'*",
        ]
    )


def test_scenarios_do_not_outlive_their_test(suite: pytest.Pytester) -> None:
    suite.makepyfile(
        test_isolation="""
        import hashlib

        import httpx
        import pytest

        from kling_client import BODY, CREATE, create_task


        def test_plays_scenarios(kling_mock):
            kling_mock.scenario(name="everyone", when={}, code=1303)
            kling_mock.scenario(name="on-demand", when=None, code=5000)
            with pytest.raises(httpx.HTTPStatusError):
                create_task(kling_mock.base_url, kling_mock.token)
            assert {s["name"] for s in kling_mock.scenarios()} == {"everyone", "on-demand"}


        def test_starts_clean(kling_mock):
            assert kling_mock.scenarios() == []
            assert kling_mock.journal() == []
            create_task(kling_mock.base_url, kling_mock.token)
            named = httpx.post(
                kling_mock.base_url + CREATE,
                json=BODY,
                headers={**kling_mock.headers, "X-Kling-Mock-Scenario": "on-demand"},
            )
            assert named.status_code == 400
            assert "no scenario named 'on-demand'" in named.json()["message"]


        def test_a_scenario_as_a_context_manager(kling_mock):
            other = "another-client-token"
            with kling_mock.scenario(code=1302) as scenario:
                assert scenario.name == "kling-mock-test-1"
                assert scenario.state["when"]["caller"] == hashlib.sha256(kling_mock.token.encode()).hexdigest()[:12]
                with pytest.raises(httpx.HTTPStatusError):
                    create_task(kling_mock.base_url, kling_mock.token)
                # Only this test's token is concerned.
                create_task(kling_mock.base_url, other)
            assert kling_mock.scenarios() == []
            create_task(kling_mock.base_url, kling_mock.token)
            scenario.remove()  # gone already: nothing happens
            assert [e["response"]["status"] for e in kling_mock.journal()] == [429, 200, 200]
        """
    )
    result = run(suite)
    result.assert_outcomes(passed=3)


def test_serve_arguments_come_from_the_ini_option_or_the_command_line(suite: pytest.Pytester) -> None:
    suite.makepyfile(
        test_args="""
        import httpx

        from kling_client import create_task


        def test_args(kling_mock, kling_mock_server):
            task_id = create_task(kling_mock.base_url, kling_mock.token)
            with httpx.Client(base_url=kling_mock.base_url, headers=kling_mock.headers) as kling:
                status = kling.get(f"/kling/v1/videos/identify-face/{task_id}").json()["data"]["task_status"]
            print("ARGS", " ".join(kling_mock_server.args), "STATUS", status)
        """
    )
    # The ini option: a mock whose tasks take a minute a step stays `submitted`.
    suite.makeini("[pytest]\nkling_mock_args = --tick-ms 60000 --seed 7\n")
    result = run(suite, "-s")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["*ARGS --tick-ms 60000 --seed 7 STATUS submitted*"])

    # The command line replaces the ini option, even one the plugin would refuse.
    suite.makeini("[pytest]\nkling_mock_args = --keys k1\n")
    result = run(suite, "-s", "--kling-mock-args=--tick-ms 0")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["*ARGS --tick-ms 0 STATUS processing*"])

    # Options the plugin sets itself are refused at start-up, before any mock runs.
    for refused in ("--keys k1", "--port=8123", "--admin-tok secret"):
        result = run(suite, f"--kling-mock-args={refused}")
        assert result.ret == pytest.ExitCode.USAGE_ERROR
        result.stderr.fnmatch_lines(["*kling-mock: '--*' in the serve arguments: the plugin sets --port*"])


def test_a_scenarios_file_from_the_ini_is_found_from_anywhere_and_survives_resets(
    suite: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    suite.makeini("[pytest]\nkling_mock_args = --tick-ms 0 --scenarios scenarios/maintenance.yaml\n")
    scenarios = suite.mkdir("scenarios") / "maintenance.yaml"
    scenarios.write_text("scenarios:\n  - name: maintenance\n    code: 5001\n")
    sub = suite.mkdir("sub")
    (sub / "test_file_scenarios.py").write_text(
        """
import httpx

CREATE = "/kling/v1/videos/identify-face"


def test_file_scenario(kling_mock):
    kling_mock.scenario(name="extra", when=None, code=5000)
    assert [(s["name"], s["source"]) for s in kling_mock.scenarios()] == [("maintenance", "file"), ("extra", "api")]


def test_file_scenario_after_reset(kling_mock):
    assert [(s["name"], s["source"]) for s in kling_mock.scenarios()] == [("maintenance", "file")]
    headers = {**kling_mock.headers, "X-Kling-Mock-Scenario": "maintenance"}
    named = httpx.get(kling_mock.base_url + CREATE, params={"pageNum": 1, "pageSize": 30}, headers=headers)
    assert named.json()["code"] == 5001
"""
    )
    # Run from a folder below the ini's: the file's path is the ini's, not the working directory's.
    monkeypatch.chdir(sub)
    result = run(suite)
    result.assert_outcomes(passed=2)
