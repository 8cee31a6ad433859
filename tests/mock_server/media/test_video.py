"""The lip-sync MP4s, as ffprobe and a decoder see them: H.264 in yuv420p, exactly as long as asked, moov first.

ffprobe is Debian's (apt-get install ffmpeg): without it the ffprobe tests are skipped, except in CI (`$CI` set).
"""

from __future__ import annotations

import io
import json
import struct
import subprocess
import time
from itertools import pairwise
from pathlib import Path
from typing import Any

import av
import pytest
from PIL import ImageChops, ImageStat

from mock_server.media import FRAME_MS, MAX_VIDEO_MS, VIDEO_SIZE, audio_duration_ms, lip_sync_mp4
from mock_server.media.face import MOUTH_LEVELS, face_image

from .tools import ffprobe

DURATIONS_MS = [1000, 1999, 2000, 4900, 5000, 5200, 10000, 12345, 60000]
# Around the face's mouth in a 160x90 frame, and the forehead and eyes above it.
MOUTH_AREA = (60, 55, 100, 85)
ABOVE_MOUTH = (0, 0, 160, 50)


def _probed(ffprobe_path: str, mp4: bytes, directory: Path) -> dict[str, Any]:
    path = directory / "video.mp4"
    path.write_bytes(mp4)
    entries = "format=duration,format_name:stream=codec_name,codec_type,profile,pix_fmt,width,height,nb_frames"
    command = [ffprobe_path, "-v", "error", "-show_entries", entries, "-of", "json", str(path)]
    answer = subprocess.run(command, capture_output=True, text=True, check=True, timeout=60)
    assert answer.stderr == ""
    probed: dict[str, Any] = json.loads(answer.stdout)
    return probed


def _top_level_boxes(mp4: bytes) -> list[str]:
    """The types of the MP4's top-level boxes, in file order."""
    boxes, offset = [], 0
    while offset + 8 <= len(mp4):
        size, kind = struct.unpack(">I4s", mp4[offset : offset + 8])
        if size == 1:
            size = struct.unpack(">Q", mp4[offset + 8 : offset + 16])[0]
        elif size == 0:
            size = len(mp4) - offset
        assert size >= 8, f"a box of {size} bytes at {offset}"
        boxes.append(kind.decode("latin-1"))
        offset += size
    assert offset == len(mp4)
    return boxes


@pytest.mark.parametrize("duration_ms", DURATIONS_MS)
def test_ffprobe_reads_h264_yuv420p_of_the_exact_duration(duration_ms: int, tmp_path: Path) -> None:
    mp4 = lip_sync_mp4("task-1", duration_ms, (500, duration_ms - 200))
    probed = _probed(ffprobe(), mp4, tmp_path)
    assert probed["format"]["duration"] == f"{duration_ms / 1000:.6f}"
    assert "mp4" in probed["format"]["format_name"]
    [stream] = probed["streams"]
    assert stream["codec_type"] == "video"
    assert stream["codec_name"] == "h264"
    assert stream["pix_fmt"] == "yuv420p"
    assert stream["profile"] in {"Constrained Baseline", "Baseline", "Main"}
    assert (stream["width"], stream["height"]) == VIDEO_SIZE
    assert int(stream["nb_frames"]) == -(-duration_ms // FRAME_MS)


@pytest.mark.parametrize("duration_ms", [1, 99, 100, 101, 999, 1001, 59_999])
def test_ffprobe_reads_the_exact_duration_of_odd_lengths(duration_ms: int, tmp_path: Path) -> None:
    assert _probed(ffprobe(), lip_sync_mp4("task-1", duration_ms), tmp_path)["format"]["duration"] == (
        f"{duration_ms / 1000:.6f}"
    )


@pytest.mark.parametrize("duration_ms", [1000, 60000])
def test_the_index_comes_before_the_data(duration_ms: int) -> None:
    boxes = _top_level_boxes(lip_sync_mp4("task-1", duration_ms, (0, duration_ms)))
    assert boxes[:2] == ["ftyp", "moov"]
    assert boxes.count("moov") == 1
    assert "mdat" in boxes


def test_the_same_arguments_give_the_same_bytes() -> None:
    assert lip_sync_mp4("task-1", 5200, (1000, 4000)) == lip_sync_mp4("task-1", 5200, (1000, 4000))


def test_seeds_durations_and_speech_make_different_videos() -> None:
    videos = {
        lip_sync_mp4("task-1", 5000),
        lip_sync_mp4("task-2", 5000),
        lip_sync_mp4("task-1", 5001),
        lip_sync_mp4("task-1", 5000, (1000, 4000)),
        lip_sync_mp4("task-1", 5000, (1000, 3000)),
    }
    assert len(videos) == 5


def _frames(mp4: bytes) -> list[tuple[int, Any]]:
    """(start in ms, RGB image) of each decoded frame."""
    with av.open(io.BytesIO(mp4), "r") as container:
        return [
            (round(frame.time * 1000), frame.to_image())  # type: ignore[no-untyped-call]
            for frame in container.decode(video=0)
            if frame.time is not None
        ]


def _difference(first: Any, second: Any, area: tuple[int, int, int, int]) -> float:
    return float(max(ImageStat.Stat(ImageChops.difference(first.crop(area), second.crop(area))).mean))


def test_the_mouth_moves_while_the_face_speaks_and_only_then() -> None:
    frames = _frames(lip_sync_mp4("task-1", 6000, (2000, 4000)))
    assert [start for start, _ in frames] == list(range(0, 6000, FRAME_MS))
    # Each frame's mouth, as the nearest of the pictures drawn with each opening.
    drawn = [face_image("task-1", VIDEO_SIZE, mouth) for mouth in range(MOUTH_LEVELS)]
    mouths = {
        start: min(range(MOUTH_LEVELS), key=lambda mouth: _difference(image, drawn[mouth], MOUTH_AREA))
        for start, image in frames
    }
    assert {mouths[start] for start in range(0, 2000, FRAME_MS)} == {0}
    assert {mouths[start] for start in range(4000, 6000, FRAME_MS)} == {0}
    speaking = [mouths[start] for start in range(2000, 4000, FRAME_MS)]
    assert 0 not in speaking
    assert set(speaking) == set(range(1, MOUTH_LEVELS))
    assert sum(first != second for first, second in pairwise(speaking)) > len(speaking) // 2
    # The encoded frames are near the drawn ones (up to yuv420p and crf 28), and the rest of the face stays still.
    for start, image in frames:
        assert _difference(image, drawn[mouths[start]], (0, 0, *VIDEO_SIZE)) < 8
        assert _difference(image, drawn[0], ABOVE_MOUTH) < 8


def test_a_speaking_window_past_the_end_is_cut_there(tmp_path: Path) -> None:
    mp4 = lip_sync_mp4("task-1", 2000, (1000, 9000))
    assert _probed(ffprobe(), mp4, tmp_path)["format"]["duration"] == "2.000000"


@pytest.mark.parametrize(
    ("duration_ms", "speaking"),
    [(0, None), (-5, None), (MAX_VIDEO_MS + 1, None), (5000, (2000, 2000)), (5000, (3000, 2000)), (5000, (-1, 2000))],
)
def test_impossible_arguments_are_refused(duration_ms: int, speaking: tuple[int, int] | None) -> None:
    with pytest.raises(ValueError):
        lip_sync_mp4("task-1", duration_ms, speaking)


def test_a_minute_is_small_and_quick() -> None:
    lip_sync_mp4("warm-up", 1000)
    started = time.perf_counter()
    minute = lip_sync_mp4("task-1", 60000, (0, 60000))
    elapsed = time.perf_counter() - started
    # Some 30 KB in some 0.1 s on a 2-core machine: the bounds leave room for a busy CI machine.
    assert len(minute) < 100_000
    assert elapsed < 3
    assert len(lip_sync_mp4("task-1", 5000, (1000, 4000))) < 20_000


def test_a_video_has_no_audio_length() -> None:
    assert audio_duration_ms(lip_sync_mp4("task-1", 2000)) is None
