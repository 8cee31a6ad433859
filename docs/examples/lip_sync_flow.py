"""Kling's lip-sync flow, end to end: find the faces in a video, choose one, make it speak a WAV, fetch the result.

python docs/examples/lip_sync_flow.py http://127.0.0.1:8000                      # any static key
python docs/examples/lip_sync_flow.py http://127.0.0.1:8000/kling --key MY-KEY   # an aggregator's path and key
python docs/examples/lip_sync_flow.py https://api-singapore.klingai.com --access-key AK --secret-key SK

Written from Kling's public API docs: identify-face answers a `session_id` and the faces it found, each with the
window `[start_time, end_time]` (ms) in which it is on screen; advanced lip-sync takes that session, one face and an
audio clip (here a WAV made on the spot and sent in base64), and answers a task to poll until `succeed`; the
result's video and each face's image are plain URLs, downloaded without the API key. With Kling's access and
secret keys, each request carries a JWT (HS256) whose `iss` is the access key, valid from 5 s ago for 30 minutes.
"""

from __future__ import annotations

import argparse
import base64
import io
import math
import struct
import sys
import tempfile
import time
import wave
from collections.abc import Generator
from pathlib import Path
from typing import Any

import httpx
import jwt

# A video of two people (the mock reads the `faces-2` in its name and finds two faces).
VIDEO_URL = "https://example.com/videos/interview-faces-2.mp4"
AUDIO_SECONDS = 5
SHORTEST_CLIP_MS = 2000  # Kling's least: a shorter clip, or a shorter overlap with the face, is refused


class KlingJwt(httpx.Auth):
    """`Authorization: Bearer <JWT>` signed with the secret key, minted again before it expires."""

    LIFETIME_S = 1800

    def __init__(self, access_key: str, secret_key: str) -> None:
        self.access_key, self.secret_key = access_key, secret_key
        self.token, self.expires = "", 0.0

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        now = time.time()
        if now > self.expires - 60:
            claims = {"iss": self.access_key, "exp": int(now) + self.LIFETIME_S, "nbf": int(now) - 5}
            self.token = jwt.encode(claims, self.secret_key, algorithm="HS256", headers={"typ": "JWT"})
            self.expires = now + self.LIFETIME_S
        request.headers["Authorization"] = f"Bearer {self.token}"
        yield request


def data(response: httpx.Response) -> Any:
    """The `data` of Kling's envelope; any other answer stops the flow with its code and message."""
    try:
        envelope = response.json()
    except ValueError:
        sys.exit(f"{response.request.url}: HTTP {response.status_code}, not Kling's JSON: {response.text[:200]!r}")
    if response.status_code != 200 or envelope.get("code") != 0:
        sys.exit(
            f"{response.request.method} {response.request.url.path}: HTTP {response.status_code}, "
            f"code {envelope.get('code')}: {envelope.get('message')} (request_id {envelope.get('request_id')})"
        )
    return envelope["data"]


def spoken_wav(seconds: int) -> bytes:
    """A WAV of `seconds` of a rising tone (16 kHz, mono, 16 bit), made with the standard library."""
    rate = 16_000
    samples = (int(8000 * math.sin(2 * math.pi * (220 + 40 * n / rate) * n / rate)) for n in range(rate * seconds))
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(b"".join(struct.pack("<h", sample) for sample in samples))
    return buffer.getvalue()


def follow(kling: httpx.Client, task_id: str, deadline_s: float = 600) -> dict[str, Any]:
    """Poll the task until it is finished: first after a second (Kling asks for no more than one poll a second),
    then less and less often."""
    delay, give_up = 1.0, time.monotonic() + deadline_s
    while True:
        time.sleep(delay)
        task: dict[str, Any] = data(kling.get(f"/v1/videos/advanced-lip-sync/{task_id}"))
        print("task", task_id, task["task_status"])
        if task["task_status"] in ("succeed", "failed"):
            return task
        if time.monotonic() > give_up:
            sys.exit(f"task {task_id} is still {task['task_status']} after {deadline_s:g} s")
        delay = min(delay * 1.5, 10)


def download(url: str, to: Path) -> Path:
    """A result's URL needs no API key, as from Kling's CDN."""
    with httpx.stream("GET", url, timeout=60, follow_redirects=True) as response:
        response.raise_for_status()
        with to.open("wb") as file:
            for chunk in response.iter_bytes():
                file.write(chunk)
    return to


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("base_url", nargs="?", default="http://127.0.0.1:8000", help="with /kling for aggregators")
    parser.add_argument("--key", default="any-static-key", help="a static API key (Bearer)")
    parser.add_argument("--access-key", help="Kling's access key: requests carry a JWT instead of --key")
    parser.add_argument("--secret-key", help="the secret key the JWT is signed with")
    parser.add_argument("--video-url", default=VIDEO_URL)
    parser.add_argument("--out", type=Path, help="where the video and the face image go (default: a new temp dir)")
    args = parser.parse_args()
    if bool(args.access_key) != bool(args.secret_key):
        parser.error("--access-key and --secret-key go together")
    # Kling's own keys sign a JWT; aggregators give a static key.
    auth = KlingJwt(args.access_key, args.secret_key) if args.access_key else None
    headers = {} if args.access_key else {"Authorization": f"Bearer {args.key}"}
    args.out = args.out or Path(tempfile.mkdtemp(prefix="kling-lip-sync-"))
    args.out.mkdir(parents=True, exist_ok=True)

    # The base URL's path (`/kling`) stays in front of every path.
    with httpx.Client(base_url=args.base_url, auth=auth, headers=headers, timeout=60) as kling:
        # 1. Identify the faces in the video: answered at once, with a session for the next step (valid 24 h).
        found = data(kling.post("/v1/videos/identify-face", json={"video_url": args.video_url}))
        session_id, faces = found["session_id"], found["face_data"]
        print("session", session_id, "faces", [face["face_id"] for face in faces])

        # 2. Choose the face on screen longest, and keep its picture (a user interface shows these).
        face = max(faces, key=lambda face: face["end_time"] - face["start_time"])
        picture = download(face["face_image"], args.out / f"face-{face['face_id']}.png")
        print("face", face["face_id"], f"[{face['start_time']}, {face['end_time']}] ms, image", picture)

        # 3. Make it speak: the clip [0, D] of the audio, inserted where the face appears. D fits both the audio
        #    and the face's window, so the clip ends inside the video and overlaps the face by D >= 2 s.
        clip_ms = min(AUDIO_SECONDS * 1000, face["end_time"] - face["start_time"])
        assert clip_ms >= SHORTEST_CLIP_MS, "Kling's faces are on screen for 2 s at least"
        created = data(
            kling.post(
                "/v1/videos/advanced-lip-sync",
                json={
                    "session_id": session_id,
                    "face_choose": [
                        {
                            "face_id": face["face_id"],
                            "sound_file": base64.b64encode(spoken_wav(AUDIO_SECONDS)).decode(),  # no `data:` prefix
                            "sound_start_time": 0,
                            "sound_end_time": clip_ms,
                            "sound_insert_time": face["start_time"],
                        }
                    ],
                },
            )
        )
        print("task", created["task_id"], created["task_status"])

        # 4. Poll until it is done, then fetch the video (`duration` is a string of seconds, as Kling sends it).
        task = follow(kling, created["task_id"])
    if task["task_status"] == "failed":
        sys.exit(f"failed: {task.get('task_status_msg')}")
    for video in task["task_result"]["videos"]:
        saved = download(video["url"], args.out / f"lip-sync-{video['id']}.mp4")
        print("video", saved, f"{float(video['duration']):g} s")


if __name__ == "__main__":
    main()
