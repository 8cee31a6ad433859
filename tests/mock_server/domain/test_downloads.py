"""The URLs answers hold, downloaded over real HTTP as clients do: without the API key, from the mock itself.

A result's video is an MP4 that ffprobe reads and whose duration is the task's `duration`; a face image is a PNG
that opens; the watermarked video too, when one was asked for. The URL is the permission (docs/contract.md, "What
real clients rely on"): another caller's ids in it, an unknown one, or an altered one are 404. The URLs start with
the address the client reached the mock by (its `/kling` prefix included), or `--public-url`.
"""

from __future__ import annotations

import io
import json
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from PIL import Image

from mock_server.client.process import MockProcess
from tests.mock_server.media.tools import ffprobe
from tests.support.lip_sync import (
    OTHER_KEY,
    STATIC_KEY,
    bearer,
    envelope,
    flow_mock,
    follow,
    open_session,
    valid_request,
)

ADVANCED = "/v1/videos/advanced-lip-sync"
PUBLIC_URL = "https://example.test/base"


@pytest.fixture(scope="module")
def mock() -> Iterator[MockProcess]:
    with flow_mock() as server:
        yield server


def _client(base_url: str, key: str = STATIC_KEY) -> httpx.Client:
    return httpx.Client(base_url=base_url, headers=bearer(key), timeout=30)


def _lip_synced(http: httpx.Client, prefix: str = "", video_url: str | None = None, **body: Any) -> dict[str, Any]:
    """A succeeded advanced lip-sync task of a new session, and that session."""
    session = open_session(http, prefix, *([video_url] if video_url else []))
    created = http.post(f"{prefix}{ADVANCED}", json={**valid_request(session), **body})
    assert envelope(created)[:2] == (200, 0), created.text
    task = follow(http, f"{prefix}{ADVANCED}", created.json()["data"]["task_id"])
    assert task["task_status"] == "succeed", task
    return {"task": task, "session": session}


def _download(url: str) -> httpx.Response:
    """As a client downloads a result: a plain GET, no Authorization header."""
    return httpx.get(url, timeout=60)


def _duration_s(mp4: bytes, directory: Path) -> float:
    """The MP4's duration as ffprobe reads it."""
    path = directory / "video.mp4"
    path.write_bytes(mp4)
    command = [ffprobe(), "-v", "error", "-show_entries", "format=duration", "-of", "json", str(path)]
    probed = subprocess.run(command, capture_output=True, text=True, check=True, timeout=60)
    assert probed.stderr == ""
    return float(json.loads(probed.stdout)["format"]["duration"])


@pytest.mark.parametrize("prefix", ["", "/kling"], ids=["kling-paths", "aggregator-paths"])
@pytest.mark.parametrize(
    "video_url",
    ["https://example.com/videos/interview-faces-2-8s.mp4", "https://example.com/videos/short-5.2s.mp4"],
    ids=["8s", "5.2s"],
)
def test_the_video_is_an_mp4_as_long_as_the_task_says(
    mock: MockProcess, tmp_path: Path, prefix: str, video_url: str
) -> None:
    with _client(mock.base_url) as http:
        task = _lip_synced(http, prefix, video_url)["task"]
    [video] = task["task_result"]["videos"]
    assert isinstance(video["duration"], str)
    assert video["url"].startswith(f"{mock.base_url}{prefix}/files/videos/")
    answer = _download(video["url"])
    assert answer.status_code == 200 and answer.headers["content-type"] == "video/mp4"
    assert abs(_duration_s(answer.content, tmp_path) - float(video["duration"])) <= 0.1
    # The video the session was made of, which the task names, is as long.
    parent = task["task_info"]["parent_video"]
    answer = _download(parent["url"])
    assert answer.status_code == 200 and answer.headers["content-type"] == "video/mp4"
    assert abs(_duration_s(answer.content, tmp_path) - float(parent["duration"])) <= 0.1


@pytest.mark.parametrize("prefix", ["", "/kling"], ids=["kling-paths", "aggregator-paths"])
def test_each_face_image_is_a_png_that_opens(mock: MockProcess, prefix: str) -> None:
    with _client(mock.base_url) as http:
        session = open_session(http, prefix)
    assert len(session["face_data"]) == 2
    images = []
    for face in session["face_data"]:
        assert face["face_image"].startswith(f"{mock.base_url}{prefix}/files/faces/")
        answer = _download(face["face_image"])
        assert answer.status_code == 200 and answer.headers["content-type"] == "image/png"
        with Image.open(io.BytesIO(answer.content)) as image:
            image.load()
            assert image.format == "PNG" and image.width > 0 and image.height > 0
        images.append(answer.content)
        assert _download(face["face_image"]).content == answer.content, "the same URL, the same bytes"
    assert images[0] != images[1], "each face its own picture"


def test_a_watermark_asked_for_gives_a_downloadable_watermark_url(mock: MockProcess, tmp_path: Path) -> None:
    with _client(mock.base_url) as http:
        task = _lip_synced(http, watermark_info={"enabled": True})["task"]
        plain = _lip_synced(http, watermark_info={"enabled": False})["task"]
    [video] = task["task_result"]["videos"]
    assert video["watermark_url"] != video["url"]
    marked, unmarked = _download(video["watermark_url"]), _download(video["url"])
    assert marked.status_code == unmarked.status_code == 200
    assert marked.headers["content-type"] == "video/mp4" and marked.content != unmarked.content
    assert abs(_duration_s(marked.content, tmp_path) - float(video["duration"])) <= 0.1
    [plain_video] = plain["task_result"]["videos"]
    assert "watermark_url" not in plain_video
    # A watermark no one asked for is no file.
    assert _download(plain_video["url"].replace(".mp4", "-watermark.mp4")).status_code == 404


def _with_id(url: str, old: str, new: str) -> str:
    assert f"/{old}/" in url
    return url.replace(f"/{old}/", f"/{new}/")


def test_a_url_of_another_caller_an_unknown_one_or_an_altered_one_is_404(mock: MockProcess) -> None:
    with _client(mock.base_url) as mine, _client(mock.base_url, OTHER_KEY) as theirs:
        my = _lip_synced(mine)
        their = _lip_synced(theirs)
    my_video = my["task"]["task_result"]["videos"][0]["url"]
    my_face = my["session"]["face_data"][0]["face_image"]
    their_task_id = their["task"]["task_id"]
    their_session_id = their["session"]["session_id"]
    assert _download(my_video).status_code == _download(my_face).status_code == 200

    signature = urlsplit(my_video).path.rsplit("/", 1)[1].removesuffix(".mp4")
    altered = signature[:-1] + ("A" if signature[-1] != "A" else "B")
    refused = {
        "their task with my signature": _with_id(my_video, my["task"]["task_id"], their_task_id),
        "their session with my signature": _with_id(my_face, my["session"]["session_id"], their_session_id),
        "an unknown task": _with_id(my_video, my["task"]["task_id"], "NoSuchTask000000000000"),
        "an altered signature": my_video.replace(signature, altered),
        "another face of my session": my_face.replace("/0/", "/5/"),
        "the wrong extension": my_video.removesuffix(".mp4") + ".png",
        "no signature": my_video.rsplit("/", 1)[0] + ".mp4",
        "a session's face as a video": my_face.replace("/faces/", "/videos/"),
    }
    for what, url in refused.items():
        answer = _download(url)
        assert answer.status_code == 404, what
        assert answer.json()["code"] == 1203, what
    # Each one's own still downloads.
    assert _download(their["task"]["task_result"]["videos"][0]["url"]).status_code == 200


def test_a_public_url_puts_every_url_under_it() -> None:
    with flow_mock("--public-url", PUBLIC_URL) as mock, _client(mock.base_url) as http:
        for prefix in ("", "/kling"):
            done = _lip_synced(http, prefix)
            urls = [face["face_image"] for face in done["session"]["face_data"]]
            urls += [video["url"] for video in done["task"]["task_result"]["videos"]]
            urls.append(done["task"]["task_info"]["parent_video"]["url"])
            for url in urls:
                assert url.startswith(f"{PUBLIC_URL}{prefix}/files/"), url
                # Behind the proxy that forwards PUBLIC_URL to the mock, each is the mock's file.
                answer = _download(mock.base_url + url.removeprefix(PUBLIC_URL))
                assert answer.status_code == 200, url


def test_results_past_the_store_s_bound_are_gone() -> None:
    """Kling clears results after 30 days; the mock, when its store drops the task."""
    with flow_mock("--max-tasks", "3") as mock, _client(mock.base_url) as http:
        first = _lip_synced(http)["task"]["task_result"]["videos"][0]["url"]
        assert _download(first).status_code == 200
        for _ in range(3):
            _lip_synced(http)
        assert _download(first).status_code == 404
