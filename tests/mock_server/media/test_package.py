"""mock_server.media as a whole: a bottom layer, and the same bytes in every process."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from functools import cache
from pathlib import Path

import mock_server.media
from mock_server.media import face_png, lip_sync_mp4, wav_bytes

ROOT = Path(__file__).resolve().parents[3]
# Run in a fresh interpreter: the modules importing mock_server.media loads, and the digests of what it makes.
_PROBE = """
import hashlib, json, sys
from mock_server.media import face_png, lip_sync_mp4, wav_bytes
print(json.dumps({
    "modules": sorted(name for name in sys.modules if name.split(".")[0] == "mock_server"),
    "png": hashlib.sha256(face_png("task-1", "face 0")).hexdigest(),
    "mp4": hashlib.sha256(lip_sync_mp4("task-1", 5200, (1000, 4000))).hexdigest(),
    "wav": hashlib.sha256(wav_bytes(1500, tone_hz=440)).hexdigest(),
}))
"""


@cache
def _in_a_fresh_process() -> dict[str, object]:
    answer = subprocess.run(
        [sys.executable, "-c", _PROBE], cwd=ROOT, capture_output=True, text=True, check=True, timeout=120
    )
    probed: dict[str, object] = json.loads(answer.stdout)
    return probed


def test_another_process_makes_the_same_bytes() -> None:
    probed = _in_a_fresh_process()
    assert probed["png"] == hashlib.sha256(face_png("task-1", "face 0")).hexdigest()
    assert probed["mp4"] == hashlib.sha256(lip_sync_mp4("task-1", 5200, (1000, 4000))).hexdigest()
    assert probed["wav"] == hashlib.sha256(wav_bytes(1500, tone_hz=440)).hexdigest()


def test_it_imports_nothing_else_of_mock_server() -> None:
    modules = _in_a_fresh_process()["modules"]
    assert isinstance(modules, list)
    assert [name for name in modules if name != "mock_server" and not name.startswith("mock_server.media")] == []


def test_all_names_what_it_exports() -> None:
    exported = mock_server.media.__all__
    assert len(set(exported)) == len(exported)
    assert all(hasattr(mock_server.media, name) for name in exported)
    assert {"face_png", "lip_sync_mp4", "audio_duration_ms", "audio_format", "wav_bytes"} <= set(exported)


def test_threads_make_the_same_bytes() -> None:
    """Callers run these off the event loop, several at once."""
    expected = (face_png("task-1", "face 0"), lip_sync_mp4("task-1", 5200, (1000, 4000)))
    with ThreadPoolExecutor(4) as pool:
        made = list(
            pool.map(lambda _: (face_png("task-1", "face 0"), lip_sync_mp4("task-1", 5200, (1000, 4000))), range(12))
        )
    assert all(pair == expected for pair in made)
