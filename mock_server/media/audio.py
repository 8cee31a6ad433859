"""Audio lengths read from the audio itself (with mutagen), and silent or tone WAVs for tests and docs.

A lip-sync request's audio decides how long the result is, so the mock reads the length that the file declares
rather than trusting a client's figure. The bytes come from clients: anything that is not a readable mp3, wav,
m4a (MP4/AAC) or raw AAC (ADTS) file is None, never an exception, however it is malformed.
"""

from __future__ import annotations

import io
import math
import wave
from typing import Literal

from mutagen import FileType
from mutagen.aac import AAC
from mutagen.mp3 import MP3
from mutagen.mp4 import MP4
from mutagen.wave import WAVE

__all__ = ["AudioFormat", "audio_duration_ms", "audio_format", "wav_bytes"]

AudioFormat = Literal["mp3", "wav", "m4a", "aac"]
# mutagen's loaders, in the order they are tried when their scores tie. mutagen scores a file by its first bytes
# (and its name, which bytes have none of); raw AAC (ADTS) has no signature it scores, so AAC is tried last
# whatever the score, and it accepts a stream only after finding three frames in a row.
_LOADERS: tuple[tuple[AudioFormat, type[FileType]], ...] = (("wav", WAVE), ("m4a", MP4), ("mp3", MP3), ("aac", AAC))
_HEADER_BYTES = 128
# RIFF's header (12 bytes), a PCM fmt chunk (24) and the data chunk's header (8): what precedes a WAV's samples.
_SHORTEST_WAV_HEADER = 44


def _loaded(data: bytes) -> tuple[AudioFormat, int] | None:
    """The format and length in milliseconds of the audio file `data`, or None when mutagen reads none there."""
    header = data[:_HEADER_BYTES]
    scored = sorted(
        ((loader.score("", None, header), index) for index, (_, loader) in enumerate(_LOADERS)),
        key=lambda pair: (-pair[0], pair[1]),
    )
    for score, index in scored:
        name, loader = _LOADERS[index]
        if score <= 0 and name != "aac":
            continue
        try:
            info = loader(io.BytesIO(data)).info
        # mutagen raises its own errors on malformed files, but hostile bytes reach struct, index and arithmetic
        # errors too; every one of them means "not a file mutagen can read".
        except Exception:
            continue
        length = float(getattr(info, "length", 0.0) or 0.0)
        # Audio that lasts no time (not a millisecond) is none: there is nothing to lip-sync.
        if not math.isfinite(length) or round(length * 1000) < 1:
            continue
        # mutagen accepts two MPEG frames in a row as an mp3; a real one has four, or a Xing/VBRI header.
        if name == "mp3" and getattr(info, "sketchy", True):
            continue
        # Without a sound track, mutagen reads an MP4's length from its movie header: a video's, not audio's.
        if name == "m4a" and not getattr(info, "codec", ""):
            continue
        # A WAV's length is its header's word; one that claims more samples than the bytes after the shortest
        # header can hold is truncated or lying (e.g. a data chunk of 4 GB in a few bytes).
        if name == "wav":
            bitrate = int(getattr(info, "bitrate", 0) or 0)
            if bitrate <= 0 or round(length * bitrate / 8) > len(data) - _SHORTEST_WAV_HEADER:
                continue
        return name, round(length * 1000)
    return None


def audio_duration_ms(data: bytes) -> int | None:
    """The length in milliseconds (rounded) of the mp3, wav, m4a or raw AAC file `data`; None if it is none of those.

    The length is what the file declares, as mutagen reads it: exact for WAV and MP4, from the Xing/LAME header
    (else estimated from the bitrate) for MP3, estimated from the first frames for ADTS. Audio that lasts less
    than a millisecond is None too.
    """
    loaded = _loaded(data)
    return None if loaded is None else loaded[1]


def audio_format(data: bytes) -> AudioFormat | None:
    """The format of the audio file `data` ("mp3", "wav", "m4a" or "aac" for ADTS), as audio_duration_ms reads it."""
    loaded = _loaded(data)
    return None if loaded is None else loaded[0]


def wav_bytes(duration_ms: int, *, sample_rate: int = 16_000, tone_hz: float | None = None) -> bytes:
    """A mono 16-bit PCM WAV of `duration_ms` ms: silence, or a sine at `tone_hz` Hz. Deterministic.

    What a client sends as a lip-sync request's audio in tests and docs (base64-encoded).
    """
    if duration_ms < 0 or sample_rate <= 0:
        raise ValueError("duration_ms must be >= 0 and sample_rate > 0")
    frames = duration_ms * sample_rate // 1000
    if tone_hz is None:
        samples = bytes(2 * frames)
    else:
        amplitude = 0.3 * 32767
        samples = b"".join(
            round(amplitude * math.sin(2 * math.pi * tone_hz * n / sample_rate)).to_bytes(2, "little", signed=True)
            for n in range(frames)
        )
    out = io.BytesIO()
    with wave.open(out, "wb") as writer:
        writer.setnchannels(1)
        writer.setsampwidth(2)
        writer.setframerate(sample_rate)
        writer.writeframes(samples)
    return out.getvalue()
