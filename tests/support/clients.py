"""Small client implementations of the identify-face API, one correct and the others each with one realistic bug.

Each is a function `client(base_url, token)` written as a team integrating Kling would write it: httpx, the
token from their config, the task followed to its end. The bugs are the ones such teams make: a forgotten
header, a form post, the upstream dialect's shape copied from Kling's own docs, a typo that the server
tolerates, a polling loop without a pause. `test_verify_flags_buggy_clients.py` runs each against the mock
and checks that `kling-mock verify` names the bug.

A client that the API refuses raises `KlingApiError`, as a real one would; one whose bug the API tolerates
returns the finished task, as if nothing were wrong. That is the point of verifying: the mock answers, the
journal remembers what a careful client would not have done.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import httpx

CREATE_PATH = "/kling/v1/videos/identify-face"
# The spec's `x-kling-min-poll-interval-ms: 1000`: poll the same task at most once a second.
POLL_INTERVAL_SECONDS = 1.0
FINISHED = ("succeed", "failed")
VIDEO_URL = "https://example.com/videos/presenter.mp4"
VIDEO_ID = "de1b86d9-8e40-4f1c-a6a5-6459f8eb42f2"

Client = Callable[[str, str], dict[str, Any]]


class KlingApiError(RuntimeError):
    """The API answered with a business code other than 0."""

    def __init__(self, status: int, code: int | None, message: str) -> None:
        super().__init__(f"HTTP {status}, code {code}: {message}")
        self.status = status
        self.code = code


def _data(response: httpx.Response) -> dict[str, Any]:
    """The `data` of Kling's envelope, or `KlingApiError`."""
    try:
        envelope = response.json()
    except ValueError:
        raise KlingApiError(response.status_code, None, response.text[:200]) from None
    if envelope.get("code") != 0:
        raise KlingApiError(response.status_code, envelope.get("code"), str(envelope.get("message")))
    data: dict[str, Any] = envelope["data"]
    return data


def _follow(http: httpx.Client, task_id: str, interval: float = POLL_INTERVAL_SECONDS) -> dict[str, Any]:
    """Poll the task until it is finished, `interval` seconds apart."""
    while True:
        task = _data(http.get(f"{CREATE_PATH}/{task_id}"))
        if task["task_status"] in FINISHED:
            return task
        if interval:
            time.sleep(interval)


def _session(base_url: str, headers: dict[str, str] | None) -> httpx.Client:
    return httpx.Client(base_url=base_url, headers=headers, timeout=10)


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _text2video(**overrides: Any) -> dict[str, Any]:
    task_input: dict[str, Any] = {
        "video_url": VIDEO_URL,
        "mode": "text2video",
        "text": "Welcome to the product tour.",
        "voice_id": "girlfriend_1_speech02",
        "voice_language": "en",
    }
    task_input.update(overrides)
    return {k: v for k, v in task_input.items() if v is not None}


def _create_and_follow(base_url: str, headers: dict[str, str] | None, body: dict[str, Any]) -> dict[str, Any]:
    with _session(base_url, headers) as http:
        task_id = _data(http.post(CREATE_PATH, json=body))["task_id"]
        return _follow(http, task_id)


# The correct client.


def correct_client(base_url: str, token: str) -> dict[str, Any]:
    """The documented shape, voice_language included; polls once a second until the task is finished."""
    return _create_and_follow(base_url, _bearer(token), {"input": _text2video()})


# Refused by the API: the contract's errors.


def no_auth_client(base_url: str, token: str) -> dict[str, Any]:
    """Builds its session without the Authorization header (the token was read, then never used)."""
    return _create_and_follow(base_url, None, {"input": _text2video()})


def token_without_bearer_client(base_url: str, token: str) -> dict[str, Any]:
    """Sends `Authorization: <token>`, as some other APIs take it, without the `Bearer` scheme."""
    return _create_and_follow(base_url, {"Authorization": token}, {"input": _text2video()})


def missing_mode_client(base_url: str, token: str) -> dict[str, Any]:
    """An audio2video request that forgets `mode` (it only ever sent audio, so it thought mode was implied)."""
    body = {"input": {"video_url": VIDEO_URL, "audio_type": "url", "audio_url": "https://example.com/voice.mp3"}}
    return _create_and_follow(base_url, _bearer(token), body)


def form_body_client(base_url: str, token: str) -> dict[str, Any]:
    """Posts the fields as an HTML form would (`data=` instead of `json=`): form-encoded, flat."""
    with _session(base_url, _bearer(token)) as http:
        task_id = _data(http.post(CREATE_PATH, data=_text2video()))["task_id"]
        return _follow(http, task_id)


def upstream_dialect_client(base_url: str, token: str) -> dict[str, Any]:
    """Follows Kling's own identify-face page: `video_id` at the top level, no `input` wrapper."""
    return _create_and_follow(base_url, _bearer(token), {"video_id": VIDEO_ID})


def flattened_input_client(base_url: str, token: str) -> dict[str, Any]:
    """The documented fields, but at the top level: the `input` wrapper is missing."""
    return _create_and_follow(base_url, _bearer(token), _text2video())


def french_voice_client(base_url: str, token: str) -> dict[str, Any]:
    """Asks for a voice language outside the contract's `zh`/`en`."""
    return _create_and_follow(base_url, _bearer(token), {"input": _text2video(voice_language="fr")})


def lipsync_mode_client(base_url: str, token: str) -> dict[str, Any]:
    """Takes the name of the next step (lip-sync) for the mode: `mode` outside `text2video`/`audio2video`."""
    return _create_and_follow(base_url, _bearer(token), {"input": _text2video(mode="lipsync")})


# Tolerated by the API: warnings.


def tight_polling_client(base_url: str, token: str) -> dict[str, Any]:
    """Polls the task in a loop with no pause between the calls."""
    with _session(base_url, _bearer(token)) as http:
        task_id = _data(http.post(CREATE_PATH, json={"input": _text2video()}))["task_id"]
        return _follow(http, task_id, interval=0)


def default_language_client(base_url: str, token: str) -> dict[str, Any]:
    """Omits voice_language in text2video mode, relying on the default `zh` the provider page does not promise."""
    return _create_and_follow(base_url, _bearer(token), {"input": _text2video(voice_language=None)})


def misspelt_field_client(base_url: str, token: str) -> dict[str, Any]:
    """Spells `voice_langauge`: tolerated as an unknown field, so the task is voiced in the default `zh`, not `en`."""
    body = {"input": _text2video(voice_language=None, voice_langauge="en")}
    return _create_and_follow(base_url, _bearer(token), body)


def typo_url_client(base_url: str, token: str) -> dict[str, Any]:
    """Sends the video both ways, one of them misspelt `video_ur1`: the task still works from `video_id`."""
    body = {"input": _text2video(video_url=None, video_id=VIDEO_ID, video_ur1=VIDEO_URL)}
    return _create_and_follow(base_url, _bearer(token), body)
