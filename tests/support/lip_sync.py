"""What the lip-sync flow's tests share: keys, a WAV, a session, a valid face choice, the docs' client, verify."""

from __future__ import annotations

import base64
import io
import json
import subprocess
import sys
import time
import wave
from pathlib import Path
from typing import Any

import httpx
import jwt

from mock_server.client.process import MockProcess
from tests.support import ROOT

STATIC_KEY, OTHER_KEY = "static-key-of-team-a", "static-key-of-team-b"
ACCESS_KEY, SECRET_KEY = "ak-lip-sync-test", "sk-lip-sync-test-not-a-secret-0123456789"
# Two faces, 8 s long: the mock reads the markers `faces-2` and `-8s`.
VIDEO_URL = "https://example.com/videos/interview-faces-2-8s.mp4"
VIDEO_MS = 8000
DOCS_CLIENT = ROOT / "docs" / "examples" / "lip_sync_flow.py"
FINISHED = ("succeed", "failed")


def flow_mock(*more: str) -> MockProcess:
    """A mock with the admin API, tasks moving one step per poll, two static keys and a Kling key pair."""
    keys = ("--keys", f"{STATIC_KEY},{OTHER_KEY}", "--access-key", ACCESS_KEY, "--secret-key", SECRET_KEY)
    return MockProcess("--admin", "--tick-ms", "0", *keys, *more)


def kling_jwt(access_key: str = ACCESS_KEY, secret_key: str = SECRET_KEY, lifetime_s: int = 1800) -> str:
    """A token as Kling's docs make one: HS256, `iss` the access key, valid from 5 s ago for 30 minutes."""
    now = int(time.time())
    return jwt.encode({"iss": access_key, "exp": now + lifetime_s, "nbf": now - 5}, secret_key, algorithm="HS256")


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def wav(milliseconds: int, rate: int = 8000) -> bytes:
    """A WAV of silence, `milliseconds` long (mono, 16 bit)."""
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(b"\0\0" * (rate * milliseconds // 1000))
    return buffer.getvalue()


def wav_base64(milliseconds: int) -> str:
    return base64.b64encode(wav(milliseconds)).decode()


def envelope(response: httpx.Response) -> tuple[int, int, str]:
    """(HTTP status, business code, message) of an answer."""
    body = response.json()
    return response.status_code, body["code"], body["message"]


def open_session(http: httpx.Client, prefix: str = "", video_url: str = VIDEO_URL) -> dict[str, Any]:
    """A synchronous identify-face call's `data`: the session and its faces."""
    response = http.post(f"{prefix}/v1/videos/identify-face", json={"video_url": video_url})
    assert response.status_code == 200, response.text
    data: dict[str, Any] = response.json()["data"]
    return data


def longest_face(session: dict[str, Any]) -> dict[str, Any]:
    face: dict[str, Any] = max(session["face_data"], key=lambda face: face["end_time"] - face["start_time"])
    return face


def valid_request(session: dict[str, Any], audio_ms: int = 5000, **choice: Any) -> dict[str, Any]:
    """A create that keeps every rule: the clip fits the audio and the face's window, inserted where the face is."""
    face = longest_face(session)
    clip = min(audio_ms, face["end_time"] - face["start_time"])
    entry = {
        "face_id": face["face_id"],
        "sound_file": wav_base64(audio_ms),
        "sound_start_time": 0,
        "sound_end_time": clip,
        "sound_insert_time": face["start_time"],
        **choice,
    }
    return {"session_id": session["session_id"], "face_choose": [{k: v for k, v in entry.items() if v is not None}]}


def follow(http: httpx.Client, path: str, task_id: str, interval: float = 0.0) -> dict[str, Any]:
    """Poll `path/task_id` until the task is finished (`interval` 1 s for a client verify should pass)."""
    for _ in range(30):
        response = http.get(f"{path}/{task_id}")
        assert response.status_code == 200, response.text
        task: dict[str, Any] = response.json()["data"]
        if task["task_status"] in FINISHED:
            return task
        time.sleep(interval)
    raise AssertionError(f"task {task_id} never finished")


def run_docs_client(base_url: str, out: Path, *auth: str) -> subprocess.CompletedProcess[str]:
    """The docs' client of the whole flow, as a user runs it."""
    command = [sys.executable, str(DOCS_CLIENT), base_url, "--out", str(out), *auth]
    return subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)


def reset(mock: MockProcess) -> None:
    """An empty journal, as `POST /__admin/reset` leaves it, for verify to judge one client."""
    assert httpx.post(f"{mock.base_url}/__admin/reset", timeout=10).status_code == 204


def advance_clock(mock: MockProcess, milliseconds: int) -> None:
    answer = httpx.post(f"{mock.base_url}/__admin/clock", json={"advance_ms": milliseconds}, timeout=10)
    assert answer.status_code == 200, answer.text


def verify(base_url: str) -> tuple[int, dict[str, Any]]:
    """`kling-mock verify --format json` as CI runs it: its exit status and its report."""
    command = [sys.executable, "-m", "mock_server", "verify", "--base-url", base_url, "--format", "json"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=60, cwd=ROOT, check=False)
    assert done.stderr == "", done.stderr
    report: dict[str, Any] = json.loads(done.stdout)
    return done.returncode, report


def findings(report: dict[str, Any]) -> dict[tuple[str, str], set[str]]:
    """(severity, rule): the field paths the report names for it."""
    return {(rule["severity"], rule["rule"]): {path["path"] for path in rule["paths"]} for rule in report["rules"]}
