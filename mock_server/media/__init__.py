"""The files the mock serves for download, made for real: face images (PNG), lip-sync videos (MP4), audio lengths.

A bottom layer: it imports nothing from the rest of mock_server. Every function is pure and synchronous, and the
video and image ones deterministic (the same arguments give the same bytes), so that callers may cache results and
run them off the event loop.
"""

from __future__ import annotations

from .audio import AudioFormat, audio_duration_ms, audio_format, wav_bytes
from .face import FACE_PNG_SIZE, face_png
from .video import FRAME_MS, MAX_VIDEO_MS, VIDEO_SIZE, lip_sync_mp4

__all__ = [
    "FACE_PNG_SIZE",
    "FRAME_MS",
    "MAX_VIDEO_MS",
    "VIDEO_SIZE",
    "AudioFormat",
    "audio_duration_ms",
    "audio_format",
    "face_png",
    "lip_sync_mp4",
    "wav_bytes",
]
