"""Audio lengths read by mutagen from wav, mp3, m4a and raw AAC files, and None, quickly, for anything else."""

from __future__ import annotations

import io
import os
import random
import struct
import time
import wave

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mock_server.media import audio_duration_ms, audio_format, face_png, wav_bytes

from .tools import encoded_audio

COMPRESSED_DURATIONS_MS = [1000, 2500, 5200, 12345]
# A minimal ID3v2.4 tag (no frames): the way many mp3 files, and some AAC ones, begin.
EMPTY_ID3 = b"ID3\x04\x00\x00\x00\x00\x00\x00"


@pytest.mark.parametrize("duration_ms", [1, 999, 1000, 5200, 12345, 60000])
@pytest.mark.parametrize("sample_rate", [8000, 16000, 44100, 48000])
def test_a_wav_lasts_exactly_what_it_holds(duration_ms: int, sample_rate: int) -> None:
    wav = wav_bytes(duration_ms, sample_rate=sample_rate)
    assert audio_duration_ms(wav) == duration_ms
    assert audio_format(wav) == "wav"


def test_wav_bytes_is_a_valid_deterministic_wav() -> None:
    tone = wav_bytes(1500, tone_hz=440)
    assert tone == wav_bytes(1500, tone_hz=440)
    assert tone != wav_bytes(1500)
    with wave.open(io.BytesIO(tone)) as reader:
        assert (reader.getnchannels(), reader.getsampwidth(), reader.getframerate()) == (1, 2, 16000)
        assert reader.getnframes() == 24000
        assert any(reader.readframes(24000))
    assert audio_duration_ms(tone) == 1500


@pytest.mark.parametrize("audio", ["m4a", "aac", "mp3"])
@pytest.mark.parametrize("duration_ms", COMPRESSED_DURATIONS_MS)
def test_compressed_audio_lasts_about_what_was_encoded(audio: str, duration_ms: int) -> None:
    data = encoded_audio(audio, duration_ms)
    assert audio_format(data) == audio
    length = audio_duration_ms(data)
    assert length is not None
    # What the files declare includes the encoder's priming and padding (64 ms of AAC priming at 16 kHz, LAME's
    # delay and padding), and an ADTS stream's length is estimated from its first frames.
    assert abs(length - duration_ms) <= 150 + duration_ms // 100


@pytest.mark.parametrize("audio", ["aac", "mp3"])
def test_an_id3_tag_before_the_audio_is_skipped(audio: str) -> None:
    data = encoded_audio(audio, 2500)
    assert audio_format(EMPTY_ID3 + data) == audio
    assert audio_duration_ms(EMPTY_ID3 + data) == audio_duration_ms(data)


def _wav_header(*, riff_size: int, fmt_size: int, channels: int, rate: int, block: int, bits: int, data: int) -> bytes:
    return (
        struct.pack("<4sI4s", b"RIFF", riff_size, b"WAVE")
        + struct.pack("<4sIHHIIHH", b"fmt ", fmt_size, 1, channels, rate, rate * block, block, bits)
        + struct.pack("<4sI", b"data", data)
    )


GIGANTIC = 0xFFFF_FFFF
HOSTILE = {
    "empty": b"",
    "one byte": b"\x00",
    "an mp3 sync byte": b"\xff",
    "an ADTS sync": b"\xff\xf1",
    "RIFF alone": b"RIFF",
    "a WAV header claiming 4 GB of data": _wav_header(
        riff_size=GIGANTIC, fmt_size=16, channels=1, rate=16000, block=2, bits=16, data=GIGANTIC
    )
    + bytes(1000),
    "a WAV header claiming a gigantic fmt chunk": _wav_header(
        riff_size=GIGANTIC, fmt_size=GIGANTIC, channels=1, rate=16000, block=2, bits=16, data=1000
    ),
    "a WAV of no channels, rate or block size": _wav_header(
        riff_size=36 + 1000, fmt_size=16, channels=0, rate=0, block=0, bits=0, data=1000
    )
    + bytes(1000),
    "a WAV header claiming one byte more data than it has": _wav_header(
        riff_size=36 + 1001, fmt_size=16, channels=1, rate=16000, block=2, bits=16, data=1001
    )
    + bytes(1000),
    "a WAV with no data": wav_bytes(1000)[:36],
    "a WAV of no samples": wav_bytes(0),
    "an ID3 tag claiming 256 MB": b"ID3\x04\x00\x00\x7f\x7f\x7f\x7f" + os.urandom(2000),
    "an MP4 box of 4 GB": struct.pack(">I4s4sI", 16, b"ftyp", b"M4A ", 0) + struct.pack(">I4s", GIGANTIC, b"moov"),
    "an MP4 box of 2**64 bytes": struct.pack(">I4s4sI", 16, b"ftyp", b"M4A ", 0)
    + struct.pack(">I4sQ", 1, b"moov", 2**64 - 1),
    "ADIF with nothing after": b"ADIF",
    "a PNG": face_png("task-1", "face 0"),
    "text": b"RIFF WAVE ftyp mp4 ID3 ADIF " * 100,
    "zeros": bytes(100_000),
    "random bytes": random.Random(1).randbytes(100_000),
    "5 MB of random bytes": random.Random(2).randbytes(5_000_000),
}


@pytest.mark.parametrize("name", HOSTILE)
def test_hostile_bytes_are_none_quickly(name: str) -> None:
    started = time.perf_counter()
    assert audio_duration_ms(HOSTILE[name]) is None
    assert audio_format(HOSTILE[name]) is None
    # Some milliseconds; the bound leaves room for a busy machine.
    assert time.perf_counter() - started < 2


@pytest.mark.parametrize("pattern", [b"\xff\xfb\x90\x00", b"\xff\xf1\x50\x80", b"ID3\x04\x00\x00\x00\x00\x00\x00"])
def test_megabytes_of_sync_words_are_answered_quickly(pattern: bytes) -> None:
    # mutagen's ADTS reader checks 12 bits of sync and each frame's length: bytes made of headers pass as AAC, with
    # a length estimated from their size (some 57 s for 5 MB), never a length the bytes cannot hold.
    data = pattern * (5_000_000 // len(pattern))
    started = time.perf_counter()
    length_ms = audio_duration_ms(data)
    assert time.perf_counter() - started < 2
    assert length_ms is None or length_ms < 120_000


@pytest.mark.parametrize("audio", ["wav", "m4a", "aac", "mp3"])
def test_truncated_headers_are_none(audio: str) -> None:
    data = wav_bytes(2500, tone_hz=440) if audio == "wav" else encoded_audio(audio, 2500)
    for length in (1, 2, 3, 4, 8, 11, 12, 16, 32, 43):
        assert audio_duration_ms(data[:length]) is None, length


def test_a_truncated_wav_is_none() -> None:
    wav = wav_bytes(2500)
    assert audio_duration_ms(wav[: len(wav) // 2]) is None
    assert audio_duration_ms(wav[:-1]) is None


@pytest.mark.parametrize("audio", ["wav", "m4a", "aac", "mp3"])
def test_truncated_files_never_raise(audio: str) -> None:
    data = wav_bytes(2500, tone_hz=440) if audio == "wav" else encoded_audio(audio, 2500)
    for length in range(0, len(data), max(1, len(data) // 97)):
        length_ms = audio_duration_ms(data[:length])
        assert length_ms is None or 0 < length_ms <= 2700


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.binary(max_size=4096))
def test_any_bytes_give_a_length_or_none(data: bytes) -> None:
    assert (audio_duration_ms(data) is None) == (audio_format(data) is None)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    audio=st.sampled_from(["wav", "m4a", "aac", "mp3"]),
    changes=st.lists(st.tuples(st.integers(min_value=0, max_value=2000), st.integers(0, 255)), max_size=8),
)
def test_corrupted_files_never_raise(audio: str, changes: list[tuple[int, int]]) -> None:
    data = bytearray(wav_bytes(1000, tone_hz=440) if audio == "wav" else encoded_audio(audio, 1000))
    for offset, value in changes:
        data[offset % len(data)] = value
    length_ms = audio_duration_ms(bytes(data))
    assert length_ms is None or length_ms > 0
    assert (length_ms is None) == (audio_format(bytes(data)) is None)
