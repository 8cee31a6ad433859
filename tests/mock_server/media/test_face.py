"""The face markers: real PNGs of the promised size, a face drawn in the seed's colours, the same bytes every time."""

from __future__ import annotations

import io

import pytest
from PIL import Image, ImageStat

from mock_server.media import FACE_PNG_SIZE, face_png
from mock_server.media.face import face_image, palette


def _opened(png: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(png))
    image.load()
    return image


def test_a_png_of_the_promised_size_and_mode() -> None:
    png = face_png("task-1", "face 0")
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    image = _opened(png)
    assert (image.format, image.size, image.mode) == ("PNG", FACE_PNG_SIZE, "RGB")
    # Small: a few KB.
    assert len(png) < 20_000


def test_the_face_is_drawn_on_the_seeds_backdrop() -> None:
    image = _opened(face_png("task-1", "face 0"))
    colours = palette("task-1")
    assert image.getpixel((2, 2)) == colours.background
    # The middle of the face (the cheek below the left eye) is skin; the label's band is dark.
    width, height = FACE_PNG_SIZE
    assert image.getpixel((width // 2 - 18, height // 2 + 4)) == colours.skin
    assert max(ImageStat.Stat(image.crop((0, height - 20, width, height))).mean) < 128


def test_the_same_arguments_give_the_same_bytes() -> None:
    assert face_png("task-1", "face 0") == face_png("task-1", "face 0")


def test_seeds_and_labels_make_different_images() -> None:
    assert face_png("task-1", "face 0") != face_png("task-2", "face 0")
    assert face_png("task-1", "face 0") != face_png("task-1", "face 1")
    seeds = [f"task-{n}" for n in range(20)]
    assert len({palette(seed).background for seed in seeds}) > 15


@pytest.mark.parametrize(
    "label", ["", "face 0", "a label far too long to fit on a face of 160 pixels", "脸 0 ✓", "a\nb\tc"]
)
def test_any_label_gives_a_png(label: str) -> None:
    assert _opened(face_png("task-1", label)).size == FACE_PNG_SIZE


def test_the_mouth_opens() -> None:
    closed, wide_open = (face_image("task-1", (160, 90), mouth) for mouth in (0, 3))
    assert closed.tobytes() != wide_open.tobytes()
    # Only around the mouth.
    mouth_area = (60, 55, 100, 85)
    assert closed.crop((0, 0, 160, 50)).tobytes() == wide_open.crop((0, 0, 160, 50)).tobytes()
    assert closed.crop(mouth_area).tobytes() != wide_open.crop(mouth_area).tobytes()
