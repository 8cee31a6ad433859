"""What the media tests share: Debian's ffprobe and ffmpeg, and audio samples of every format the mock reads."""

from __future__ import annotations

import io
import math
import shutil
import subprocess
import tempfile
from functools import cache
from pathlib import Path
from typing import NoReturn

import av

from tests.support import skip_or_fail

SAMPLE_RATE = 16_000
# One block of a 440 Hz tone, repeated: cheap to make, and real sound for the encoders.
_BLOCK_SAMPLES = 1024
_TONE = b"".join(
    round(8000 * math.sin(2 * math.pi * 440 * n / SAMPLE_RATE)).to_bytes(2, "little", signed=True)
    for n in range(_BLOCK_SAMPLES)
)
# format: (FFmpeg's muxer, PyAV's encoder, the encoder of Debian's ffmpeg when PyAV's build lacks PyAV's).
_ENCODINGS = {"m4a": ("mp4", "aac", "aac"), "aac": ("adts", "aac", "aac"), "mp3": ("mp3", "libmp3lame", "libmp3lame")}


def _skip_or_fail(tool: str) -> NoReturn:
    skip_or_fail(
        f"needs Debian's {tool}", "CI must check the media (.ci/run installs ffmpeg)", "apt-get install ffmpeg"
    )


def ffprobe() -> str:
    """The path of ffprobe; skips the test without it (fails it in CI)."""
    return shutil.which("ffprobe") or _skip_or_fail("ffprobe")


def _has_encoder(name: str) -> bool:
    try:
        av.codec.Codec(name, "w")
    except av.codec.codec.UnknownCodecError:
        return False
    return True


@cache
def encoded_audio(audio_format: str, duration_ms: int) -> bytes:
    """`duration_ms` of a 16 kHz mono tone as an m4a, raw AAC (ADTS) or mp3 file.

    Encoded with PyAV; with Debian's ffmpeg when PyAV's FFmpeg lacks the encoder.
    """
    muxer, encoder, debian_encoder = _ENCODINGS[audio_format]
    if not _has_encoder(encoder):
        return _encoded_by_ffmpeg(muxer, debian_encoder, duration_ms)
    out = io.BytesIO()
    with av.open(out, "w", format=muxer, options={"fflags": "+bitexact"}) as container:
        # FFmpeg's aac encoder's fast coder: a tenth of the default's time, for a test's sample.
        options = {"aac_coder": "fast"} if encoder == "aac" else {}
        stream = container.add_stream(encoder, rate=SAMPLE_RATE, layout="mono", options=options)
        assert isinstance(stream, av.AudioStream)
        total = duration_ms * SAMPLE_RATE // 1000
        for start in range(0, total, _BLOCK_SAMPLES):
            count = min(_BLOCK_SAMPLES, total - start)
            frame = av.AudioFrame(format="s16", layout="mono", samples=count)
            frame.planes[0].update(_TONE[: 2 * count])
            frame.sample_rate = SAMPLE_RATE
            frame.pts = start
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    return out.getvalue()


def _encoded_by_ffmpeg(muxer: str, encoder: str, duration_ms: int) -> bytes:
    ffmpeg = shutil.which("ffmpeg") or _skip_or_fail("ffmpeg")
    tone = f"sine=frequency=440:sample_rate={SAMPLE_RATE}:duration={duration_ms / 1000}"
    # A file, not a pipe: the mp4 muxer seeks back to write its index.
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "sample"
        command = [
            ffmpeg,
            "-v",
            "error",
            "-f",
            "lavfi",
            "-i",
            tone,
            "-ac",
            "1",
            "-c:a",
            encoder,
            "-f",
            muxer,
            str(path),
        ]
        subprocess.run(command, check=True, timeout=60)
        return path.read_bytes()
