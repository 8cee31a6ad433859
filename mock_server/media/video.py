"""Lip-sync results as real MP4 files: the face marker, its mouth moving while it speaks, encoded with PyAV.

Clients download and play what the mock serves, so it is a real H.264 video that browsers play (constrained
baseline, yuv420p, its index before its data) and that lasts exactly as long as asked, to the millisecond. It is
tiny (160x90 at 10 frames a second), so that a minute encodes in a fraction of a second, and deterministic: the
same arguments give the same bytes (one x264 thread, FFmpeg's bitexact flags, no creation time).
"""

from __future__ import annotations

import io
from fractions import Fraction
from typing import Any

import av
from av.video.stream import VideoStream
from PIL import Image, ImageDraw, ImageFont

from .face import MOUTH_LEVELS, face_image

__all__ = ["FRAME_MS", "MAX_VIDEO_MS", "VIDEO_SIZE", "lip_sync_mp4"]

VIDEO_SIZE = (160, 90)
# 10 frames a second: enough to see a mouth move, few enough to encode a minute in a blink.
FRAME_MS = 100
# Longer than any result the mock makes; a bound on what one call may cost.
MAX_VIDEO_MS = 600_000
# A keyframe every 10 s (a keyframe costs as much as a hundred other frames): players seek to within 10 s.
_KEYFRAME_FRAMES = 100
# The mouth's openings, frame after frame, while the face speaks (a syllable every few frames).
_SPEAKING_MOUTH = (1, 3, 2, 3, 1, 2, 3, 1)
_MILLISECOND = Fraction(1, 1000)
# FFmpeg's flag (libavformat/avio.h) for a file opened for writing.
_AVIO_FLAG_WRITE = 2
_X264_OPTIONS = {
    "preset": "ultrafast",
    "profile": "baseline",
    "crf": "28",
    # Six reference frames hold every mouth opening: a frame whose mouth was shown lately costs some 15 bytes.
    "x264-params": "ref=6",
    "flags": "+bitexact",
}
# The index (moov) before the data, for playback before the download ends; no encoder version or creation time.
_MP4_OPTIONS = {"movflags": "+faststart", "fflags": "+bitexact"}


def _mouth_at(frame_start_ms: int, speaking: tuple[int, int] | None) -> int:
    """The mouth's opening in the frame that starts at `frame_start_ms`: closed unless the face is speaking."""
    if speaking is None or not speaking[0] <= frame_start_ms < speaking[1]:
        return 0
    return _SPEAKING_MOUTH[(frame_start_ms - speaking[0]) // FRAME_MS % len(_SPEAKING_MOUTH)]


def _marked(image: Image.Image, watermark: str | None) -> Image.Image:
    """`image` with `watermark` written in its top-left corner, in white over a dark band (none: as it is)."""
    if watermark:
        draw = ImageDraw.Draw(image)
        draw.rectangle((0, 0, image.width, 12), fill=(20, 20, 20))
        draw.text((3, 1), watermark, fill=(255, 255, 255), font=ImageFont.load_default(size=10))
    return image


def _picture(image: Image.Image) -> av.VideoFrame:
    """`image` as a frame x264 takes (yuv420p)."""
    frame: av.VideoFrame = av.VideoFrame.from_image(image)  # type: ignore[no-untyped-call]  # unannotated in PyAV's stubs
    return frame.reformat(format="yuv420p")


def lip_sync_mp4(
    seed: str, duration_ms: int, speaking: tuple[int, int] | None = None, watermark: str | None = None
) -> bytes:
    """An MP4 of `duration_ms` milliseconds of `seed`'s face, which speaks from `speaking[0]` to `speaking[1]` ms;
    with `watermark`, that text over every frame.

    One H.264 track (constrained baseline, yuv420p, VIDEO_SIZE, a frame every FRAME_MS ms, the last one shortened
    so that the video ends exactly at `duration_ms`), its moov before its mdat. A speaking window that runs past
    the end is cut there. Deterministic: the same arguments give the same bytes, in every process.

    Raises ValueError for a duration outside 1..MAX_VIDEO_MS ms or a speaking window that is empty or negative.
    """
    if not 1 <= duration_ms <= MAX_VIDEO_MS:
        raise ValueError(f"duration_ms must be from 1 to {MAX_VIDEO_MS}, not {duration_ms}")
    if speaking is not None and not 0 <= speaking[0] < speaking[1]:
        raise ValueError(f"speaking must be (start_ms, end_ms) with 0 <= start_ms < end_ms, not {speaking}")
    # Each frame's start and length in milliseconds; the last one lasts what remains.
    starts = range(0, duration_ms, FRAME_MS)
    lengths = {start: min(FRAME_MS, duration_ms - start) for start in starts}
    out = io.BytesIO()

    def reopen(url: str, flags: int, options: dict[str, Any]) -> io.BytesIO:
        # +faststart moves the moov to the front in a second pass, which reopens the output to read the file as
        # written so far while it shifts it: for an output in memory, a copy of that file.
        if flags & _AVIO_FLAG_WRITE:
            raise OSError(f"the MP4 muxer asked to write to a second file ({url})")
        return io.BytesIO(out.getvalue())

    with av.open(out, "w", format="mp4", options=_MP4_OPTIONS, io_open=reopen) as container:
        stream = container.add_stream("libx264", rate=1000 // FRAME_MS, options=_X264_OPTIONS)
        stream.width, stream.height = VIDEO_SIZE
        stream.pix_fmt = "yuv420p"
        stream.time_base = _MILLISECOND
        stream.codec_context.time_base = _MILLISECOND
        stream.codec_context.gop_size = _KEYFRAME_FRAMES
        # One thread (so no sliced threads, one lookahead thread): x264's output depends on its input alone.
        stream.codec_context.thread_count = 1
        # One picture per mouth opening, converted once and sent as often as it shows (x264 copies what it is sent).
        pictures = [_picture(_marked(face_image(seed, VIDEO_SIZE, mouth), watermark)) for mouth in range(MOUTH_LEVELS)]

        def mux(packets: list[av.Packet[VideoStream]]) -> None:
            for packet in packets:
                # x264 makes no B-frames here: packets come out in order, each with its frame's start as pts.
                packet.duration = lengths[int(packet.pts or 0)]
                container.mux(packet)

        for start in starts:
            picture = pictures[_mouth_at(start, speaking)]
            picture.pts = start
            picture.time_base = _MILLISECOND
            mux(stream.encode(picture))
        mux(stream.encode(None))
    return out.getvalue()
