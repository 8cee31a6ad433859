"""`kling-mock contract` against a stand-in for the real API, as a CI job against staging runs it.

The stand-in is the mock on another loopback port with an access/secret key pair, counting the
tasks it creates (its admin API lists them): the suite signs JWTs, keeps to its budget, writes
its reports, and no output holds the key, the secret or a token.
"""

from __future__ import annotations

import secrets
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import jwt
import pytest

from mock_server.client.admin_client import AdminClient
from mock_server.client.process import MockProcess
from tests.support import CREATE_PATH

from .harness import HANG_GUARD_SECONDS, KLING_PREFIX, command_env

pytestmark = pytest.mark.slow

ACCESS_KEY = "ak-stand-in-" + secrets.token_hex(8)
SECRET_KEY = secrets.token_urlsafe(48)
SECOND_KEY = "second-caller-" + secrets.token_hex(8)
ADMIN_TOKEN = secrets.token_urlsafe(24)
BUDGET = 5
# Every JWT PyJWT signs starts with this header, {"alg":"HS256","typ":"JWT"}, base64url-encoded.
JWT_PREFIX = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9"


def stand_in(*extra: str) -> MockProcess:
    env = {
        "KLING_MOCK_ACCESS_KEY": ACCESS_KEY,
        "KLING_MOCK_SECRET_KEY": SECRET_KEY,
        "KLING_MOCK_KEYS": SECOND_KEY,
        "KLING_MOCK_ADMIN_TOKEN": ADMIN_TOKEN,
    }
    return MockProcess("--admin", "--journal-size", "20000", "--log-level", "warning", *extra, env=env)


def contract(base_url: str, cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = command_env()
    del env["KLING_API_KEY"]
    env.update({"KLING_ACCESS_KEY": ACCESS_KEY, "KLING_SECRET_KEY": SECRET_KEY, "KLING_API_KEY_2": SECOND_KEY})
    command = [sys.executable, "-m", "mock_server", "contract", "--base-url", base_url, "--max-examples", "5", *args]
    return subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=HANG_GUARD_SECONDS)


@pytest.fixture(scope="module")
def budgeted_run(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[subprocess.CompletedProcess[str], Path, int]]:
    cwd = tmp_path_factory.mktemp("staging-run")
    with stand_in() as server:
        result = contract(server.base_url + KLING_PREFIX, cwd, "--max-billable", str(BUDGET), "--report-dir", "reports")
        with AdminClient(server.base_url, ADMIN_TOKEN) as admin:
            created = len(admin.tasks(limit=1000))
    yield result, cwd / "reports", created


def test_the_suite_passes_with_jwts_and_creates_no_more_tasks_than_the_budget(
    budgeted_run: tuple[subprocess.CompletedProcess[str], Path, int],
) -> None:
    result, _, created = budgeted_run
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    assert 1 <= created <= BUDGET
    assert f"billable budget of {BUDGET} spent" in result.stdout + result.stderr
    assert "HS256 JWTs signed from $KLING_ACCESS_KEY and $KLING_SECRET_KEY" in result.stderr


def test_junit_and_markdown_reports_are_written(
    budgeted_run: tuple[subprocess.CompletedProcess[str], Path, int],
) -> None:
    _, reports, created = budgeted_run
    assert (reports / "junit.xml").read_text().startswith("<?xml")
    drift = (reports / "drift-report.md").read_text()
    assert drift.splitlines()[2].startswith("**The target speaks the documented dialect")
    assert "**Result: passed**" in drift
    assert f"{created} billable call(s) spent, a budget of {BUDGET}" in drift
    assert list((reports / "schemathesis").glob("*.yaml")), "schemathesis's own record of the cases"


def test_no_output_holds_the_key_the_secret_or_a_token(
    budgeted_run: tuple[subprocess.CompletedProcess[str], Path, int],
) -> None:
    result, reports, _ = budgeted_run
    outputs = {"stdout": result.stdout, "stderr": result.stderr}
    outputs |= {str(path): path.read_text(errors="replace") for path in reports.rglob("*") if path.is_file()}
    assert len(outputs) >= 5
    for name, text in outputs.items():
        for secret in (ACCESS_KEY, SECRET_KEY, SECOND_KEY, JWT_PREFIX):
            assert secret not in text, f"{name} holds a secret"
    # Not even the runner's last scrub of the written files had anything to blank.
    assert "a secret was blanked" not in result.stderr


@pytest.fixture(scope="module")
def jwt_stand_in() -> Iterator[MockProcess]:
    with stand_in() as server:
        yield server


def signed(**claims: object) -> str:
    now = int(time.time())
    payload = {"iss": ACCESS_KEY, "exp": now + 600, "nbf": now - 5, **claims}
    return jwt.encode(payload, SECRET_KEY, algorithm="HS256")


@pytest.mark.parametrize(
    ("token", "code"),
    [
        (lambda: signed(exp=int(time.time()) - 10), 1004),
        (lambda: signed(nbf=int(time.time()) + 600), 1003),
        (lambda: jwt.encode({"iss": ACCESS_KEY, "exp": int(time.time()) + 600}, "x" * 32, algorithm="HS256"), 1000),
        (lambda: signed(iss="another-access-key"), 1000),
        (lambda: signed(), 0),
    ],
    ids=["expired", "not-yet-valid", "wrong-signature", "unknown-access-key", "valid"],
)
def test_the_stand_in_refuses_tokens_as_kling_does(jwt_stand_in: MockProcess, token: object, code: int) -> None:
    assert callable(token)
    response = httpx.post(
        jwt_stand_in.base_url + CREATE_PATH,
        json={"input": {"video_url": "https://example.com/v.mp4", "mode": "text2video", "text": "hi", "voice_id": "v"}},
        headers={"Authorization": f"Bearer {token()}"},
    )
    assert response.json()["code"] == code
    assert response.status_code == (200 if code == 0 else 401)


def test_a_rate_limited_target_is_never_tripped_twice_in_a_row(tmp_path: Path) -> None:
    """The stand-in lets each caller create 20 tasks a second; the suite, uncapped on loopback, finds out."""
    scenarios = tmp_path / "rate-limit.yaml"
    scenarios.write_text(
        "scenarios:\n  - name: provider-rate-limit\n    when: {operation: createIdentifyFaceTask}\n    rate_limit: 20\n"
    )
    with stand_in("--scenarios", str(scenarios)) as server:
        result = contract(server.base_url + KLING_PREFIX, tmp_path, "--max-examples", "3")
        with AdminClient(server.base_url, ADMIN_TOKEN) as admin:
            entries = admin.journal(operation="createIdentifyFaceTask")["entries"]
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    by_caller: dict[str, list[int]] = {}
    for entry in sorted(entries, key=lambda entry: entry["seq"]):
        by_caller.setdefault(entry["caller"] or "", []).append(entry["response"]["status"])
    limited = sum(statuses.count(429) for statuses in by_caller.values())
    assert limited >= 1, "the suite never met the limit: the test proves nothing"
    for caller, statuses in by_caller.items():
        twice = [index for index in range(1, len(statuses)) if statuses[index - 1] == statuses[index] == 429]
        assert not twice, f"caller {caller} was refused twice in a row at requests {twice}"
