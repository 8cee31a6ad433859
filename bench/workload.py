"""The requests measured: the spec's documented create request, the query of a task it created, and the lip-sync flow.

The bench follows the spec: the body is the `seedDocumented` example of `createIdentifyFaceTask`
(the provider page's own example), sent with one bearer token throughout, where the seed page documents it:
under `/kling`. The flow's rows follow a client of Kling's own paths: identify-face answered at once, advanced
lip-sync with the session it opened (created, then queried), and the download of the video a task made.
"""

from __future__ import annotations

import http.client
import json
import time
import urllib.parse
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

OPERATION_ID = "createIdentifyFaceTask"
EXAMPLE = "seedDocumented"
TOKEN = "bench-token"
ROOT = Path(__file__).resolve().parent.parent
# The spec whose documented request is measured (the checkout's, which `kling-mock serve` loads by default).
SPEC = ROOT / "openapi" / "identify-face.yaml"
# Where the seed page documents the create: the aggregators' prefix (the spec's paths are Kling's own).
DOCUMENTED_PREFIX = "/kling"
IDENTIFY = "/v1/videos/identify-face"
LIP_SYNC = "/v1/videos/advanced-lip-sync"
# A video the mock finds faces in at once, and an audio whose length the URL tells (6 s).
VIDEO_URL = "https://example.com/videos/presenter.mp4"
AUDIO_URL = "https://example.com/audio/voice-6s.mp3"
# How long the download row waits for the task it downloads to finish (the bench's mock ticks every second).
FINISH_TIMEOUT_S = 30.0


class WorkloadError(RuntimeError):
    """The spec lacks the documented request, or a server answered it wrongly."""


@dataclass(frozen=True)
class Request:
    """What wrk repeats: a method, a path and, for a create, a JSON body."""

    method: str
    path: str
    body: bytes | None = None


def documented_request(spec: Path) -> Request:
    """The create request of the spec's documented example."""
    document = yaml.safe_load(spec.read_text(encoding="utf-8"))
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if isinstance(operation, dict) and operation.get("operationId") == OPERATION_ID:
                example = operation["requestBody"]["content"]["application/json"]["examples"][EXAMPLE]
                body = json.dumps(example["value"], separators=(",", ":")).encode()
                return Request(method.upper(), path, body)
    raise WorkloadError(f"{spec}: no operation {OPERATION_ID}")


def query_of(create: Request, task_id: str) -> Request:
    """The query of one task: GET on the create path followed by the task id."""
    return Request("GET", f"{create.path}/{urllib.parse.quote(task_id, safe='')}")


def send(base_url: str, request: Request, timeout: float = 10.0) -> tuple[int, Any]:
    """One exchange on a fresh connection: the status and the parsed JSON answer (None when not JSON).

    Raises OSError while nothing listens yet; the caller polls with it.
    """
    status, raw = send_raw(base_url, request, timeout)
    try:
        return status, json.loads(raw) if raw else None
    except ValueError:
        return status, None


def send_raw(base_url: str, request: Request, timeout: float = 10.0) -> tuple[int, bytes]:
    """One exchange on a fresh connection: the status and the body as it came."""
    url = urllib.parse.urlsplit(base_url)
    connection = http.client.HTTPConnection(url.hostname or "127.0.0.1", url.port, timeout=timeout)
    headers = {"Authorization": f"Bearer {TOKEN}"}
    if request.body is not None:
        headers["Content-Type"] = "application/json"
    try:
        connection.request(request.method, request.path, body=request.body, headers=headers)
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def is_good(status: int, answer: Any, kling_envelope: bool) -> bool:
    """HTTP 200 and, for a server that speaks Kling's envelope, `code: 0` with a task or a session in `data`."""
    if status != 200:
        return False
    if not kling_envelope:
        return True
    return (
        isinstance(answer, dict)
        and answer.get("code") == 0
        and isinstance(answer.get("data"), dict)
        and bool(answer["data"].get("task_id") or answer["data"].get("session_id"))
    )


def check(name: str, base_url: str, request: Request, kling_envelope: bool) -> Any:
    """The answer to `request`, or WorkloadError when it is not a good one: then requests/s would mean nothing."""
    status, answer = send(base_url, request)
    if not is_good(status, answer, kling_envelope):
        raise WorkloadError(f"{name} answered {request.method} {request.path} with {status}: {answer!r:.500}")
    return answer


def identify_request() -> Request:
    """identify-face on Kling's own path, which the mock answers at once (the synchronous dialect)."""
    return Request("POST", IDENTIFY, json.dumps({"video_url": VIDEO_URL}).encode())


def lip_sync_request(identified: Any) -> Request:
    """An advanced lip-sync create voicing the first face of an identify-face answer: 4 s of the audio, inserted
    where the face appears (so that it overlaps the face by the 2 s the contract asks)."""
    data = identified["data"]
    face = data["face_data"][0]
    length = min(4000, face["end_time"] - face["start_time"])
    choice = {
        "face_id": face["face_id"],
        "sound_file": AUDIO_URL,
        "sound_start_time": 0,
        "sound_end_time": length,
        "sound_insert_time": face["start_time"],
    }
    return Request("POST", LIP_SYNC, json.dumps({"session_id": data["session_id"], "face_choose": [choice]}).encode())


def prepare(name: str, base_url: str, workload: str, create: Request) -> Request:
    """What wrk repeats for `workload` on a server that answers, after the calls it needs made once.

    `create` is the documented create as this server takes it; the flow's workloads make their own calls.
    """
    if workload not in ("create", "query", "identify", "lip-sync create", "lip-sync query", "download"):
        raise WorkloadError(f"no workload {workload!r}")
    if workload == "create":
        return create
    if workload == "query":
        return query_of(create, check(name, base_url, create, kling_envelope=True)["data"]["task_id"])
    identify = identify_request()
    if workload == "identify":
        return identify
    lip_sync = lip_sync_request(check(name, base_url, identify, kling_envelope=True))
    if workload == "lip-sync create":
        return lip_sync
    task_id = check(name, base_url, lip_sync, kling_envelope=True)["data"]["task_id"]
    query = query_of(lip_sync, task_id)
    if workload == "lip-sync query":
        return query
    return Request("GET", _path_of(_finished_video_url(name, base_url, query)))


def _finished_video_url(name: str, base_url: str, query: Request) -> str:
    deadline = time.monotonic() + FINISH_TIMEOUT_S
    while time.monotonic() < deadline:
        task = check(name, base_url, query, kling_envelope=True)["data"]
        if task["task_status"] == "succeed":
            return str(task["task_result"]["videos"][0]["url"])
        if task["task_status"] == "failed":
            raise WorkloadError(f"{name}: the lip-sync task failed: {task.get('task_status_msg')}")
        time.sleep(0.2)
    raise WorkloadError(f"{name}: the lip-sync task did not finish within {FINISH_TIMEOUT_S:.0f} s")


def _path_of(url: str) -> str:
    parts = urllib.parse.urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


def check_answer(name: str, base_url: str, request: Request, workload: str) -> None:
    """WorkloadError unless `request` is answered well: a download with an MP4 (its `ftyp` box), any other request
    in Kling's envelope with a task or a session."""
    if workload != "download":
        check(name, base_url, request, kling_envelope=True)
        return
    status, raw = send_raw(base_url, request)
    if status != 200 or raw[4:8] != b"ftyp":
        raise WorkloadError(f"{name} answered the download {request.path} with {status}: {raw[:100]!r}")
