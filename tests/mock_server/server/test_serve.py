"""`kling-mock serve` as users run it: a real process, real sockets, real HTTP."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
import yaml

from mock_server.client.process import MockProcess
from mock_server.spec import BY_BODY_SPEC_PATH, UPSTREAM_SPEC_PATH, load_spec
from tests.support import CREATE_PATH, SEED_EXAMPLE, SPEC_CREATE_PATH


def test_documented_example_gets_submitted_task_with_fresh_ids(client: httpx.Client) -> None:
    answers = [client.post(CREATE_PATH, json=SEED_EXAMPLE).json() for _ in range(3)]
    for body in answers:
        assert body["code"] == 0 and body["message"] == "SUCCEED"
        assert body["data"]["task_status"] == "submitted"
        assert len(body["request_id"]) == len(body["data"]["task_id"]) == 22
        assert body["data"]["updated_at"] >= body["data"]["created_at"] > 10**12
    assert len({b["request_id"] for b in answers}) == len({b["data"]["task_id"] for b in answers}) == 3


@pytest.mark.parametrize(
    ("prefix", "spec_path"),
    [("", UPSTREAM_SPEC_PATH), ("/kling", BY_BODY_SPEC_PATH)],
    ids=["kling-paths", "aggregator-paths"],
)
def test_serves_its_spec_and_health(client: httpx.Client, prefix: str, spec_path: Path) -> None:
    """Each path prefix serves the spec it answers by (docs/contract.md: synchronous at `/v1/...`, by body at
    `/kling/v1/...`), bundled with the lip-sync flow's paths."""
    spec = client.get(f"{prefix}/openapi.yaml")
    assert spec.status_code == 200
    assert spec.headers["content-type"].startswith("application/yaml")
    assert spec.text == load_spec(spec_path).text
    assert {SPEC_CREATE_PATH, "/v1/videos/advanced-lip-sync", "/v1/videos/lip-sync"} <= set(
        yaml.safe_load(spec.text)["paths"]
    )
    assert client.get("/healthz").json() == {"status": "ok"}


def test_with_keys_only_those_are_accepted() -> None:
    with MockProcess("--keys", "key-one,key-two") as mock, httpx.Client(base_url=mock.base_url) as http:
        for key, expected in [("key-one", (200, 0)), ("key-two", (200, 0)), ("key-three", (401, 1000))]:
            response = http.post(CREATE_PATH, json=SEED_EXAMPLE, headers={"Authorization": f"Bearer {key}"})
            assert (response.status_code, response.json()["code"]) == expected


def test_keys_from_the_environment() -> None:
    with MockProcess(env={"KLING_MOCK_KEYS": "env-key"}) as mock, httpx.Client(base_url=mock.base_url) as http:
        refused = http.post(CREATE_PATH, json=SEED_EXAMPLE, headers={"Authorization": "Bearer other"})
        accepted = http.post(CREATE_PATH, json=SEED_EXAMPLE, headers={"Authorization": "Bearer env-key"})
    assert refused.json()["code"] == 1000
    assert accepted.json()["code"] == 0


def test_access_log_has_one_line_per_request_and_never_the_token() -> None:
    token = "sk-live-this-must-never-be-printed"
    with MockProcess() as mock, httpx.Client(base_url=mock.base_url) as http:
        ok = http.post(CREATE_PATH, json=SEED_EXAMPLE, headers={"Authorization": f"Bearer {token}"}).json()
        bad = http.post(CREATE_PATH, json={"input": {}}, headers={"Authorization": f"Bearer {token}"}).json()
        http.get("/nowhere", headers={"Authorization": f"Bearer {token}"})
        mock.stop()
    lines = [json.loads(line) for line in mock.access_log]
    assert [line["request_id"] for line in lines[:2]] == [ok["request_id"], bad["request_id"]]
    assert [(line["status"], line["code"]) for line in lines] == [(200, 0), (400, 1201), (404, 1203)]
    everything = "".join(mock.access_log + mock.stderr_lines)
    assert token not in everything


def test_taken_port_is_a_clear_error() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run(
            [sys.executable, "-m", "mock_server", "serve", "--port", str(port)],
            capture_output=True,
            text=True,
            timeout=30,
        )
    assert result.returncode != 0
    assert f"cannot listen on 127.0.0.1:{port}" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--admin", "--host", "0.0.0.0"], "--admin on 0.0.0.0, beyond loopback, needs --admin-token"),
        (["--admin", "--journal-size", "0"], "--admin needs a journal"),
    ],
)
def test_flags_that_do_not_go_together_are_refused_before_listening(flags: list[str], message: str) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "mock_server", "serve", "--port", "0", *flags],
        capture_output=True,
        text=True,
        timeout=30,
        env={**os.environ, "KLING_MOCK_ADMIN_TOKEN": ""},
    )
    assert result.returncode == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def test_sigterm_shuts_down_gracefully() -> None:
    """Uvicorn finishes in-flight requests, then re-raises SIGTERM so the exit status tells why."""
    with MockProcess() as mock:
        assert mock.running
        assert mock.stop() in (0, -signal.SIGTERM)
    assert any("Finished server process" in line for line in mock.stderr_lines)


def _vm_hwm_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise AssertionError("no VmHWM")


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs /proc to read the server's peak memory")
@pytest.mark.parametrize(
    "create_path",
    [CREATE_PATH, "/v1/videos/advanced-lip-sync", "/kling/v1/videos/lip-sync"],
    ids=["identify-face", "advanced-lip-sync", "lip-sync"],
)
def test_oversized_chunked_body_is_refused_without_being_read_into_memory(create_path: str) -> None:
    """64 MiB sent in chunks, with no Content-Length: the server must stop at its 8 MiB limit, on every create."""
    with MockProcess() as mock:
        pid = mock.pid
        host, port = mock.base_url.removeprefix("http://").split(":")
        before = _vm_hwm_kib(pid)
        with socket.create_connection((host, int(port)), timeout=30) as conn:
            conn.sendall(
                f"POST {create_path} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer t\r\n"
                "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n".encode()
            )
            chunk = b"x" * (1 << 20)
            try:
                for _ in range(64):
                    conn.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            except OSError:
                pass  # the server answered and closed the connection: what we want
            response = conn.recv(65536).decode(errors="replace")
        grown_mib = (_vm_hwm_kib(pid) - before) / 1024
        assert response.startswith("HTTP/1.1 400"), response[:200]
        assert '"code":1200' in response
        assert grown_mib < 40, f"the server's peak memory grew by {grown_mib:.0f} MiB for a refused body"
