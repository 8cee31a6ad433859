"""The face marker: a stylised face whose colours come from a seed, drawn with Pillow.

The mock serves it as an identified face's image and animates it in lip-sync videos, so that a person looking at a
result sees which face it is and when it speaks. The same seed always gives the same colours and the same pixels.
"""

from __future__ import annotations

import colorsys
import hashlib
import io
from dataclasses import dataclass
from functools import cache

from PIL import Image, ImageDraw, ImageFont

__all__ = ["FACE_PNG_SIZE", "MOUTH_LEVELS", "face_image", "face_png"]

FACE_PNG_SIZE = (160, 160)
# The mouth's openings, 0 (closed, a smile) to MOUTH_LEVELS - 1 (wide open).
MOUTH_LEVELS = 4
# The label's band at the bottom of the PNG, and its font size (Pillow's built-in font: nothing downloaded).
_LABEL_BAND = 26
_LABEL_FONT_SIZE = 14

RGB = tuple[int, int, int]
_SKIN_TONES: tuple[RGB, ...] = (
    (255, 224, 189),
    (241, 194, 125),
    (224, 172, 105),
    (198, 134, 66),
    (141, 85, 36),
    (255, 205, 148),
)
_HAIR_COLOURS: tuple[RGB, ...] = ((40, 28, 20), (90, 56, 37), (165, 107, 70), (220, 190, 120), (120, 120, 125))
_IRIS_COLOURS: tuple[RGB, ...] = ((60, 110, 180), (70, 130, 80), (100, 70, 40), (40, 40, 40))
_DARK: RGB = (35, 30, 35)
_WHITE: RGB = (250, 250, 250)
_MOUTH_INSIDE: RGB = (120, 25, 35)
_LIPS: RGB = (175, 60, 70)


@dataclass(frozen=True)
class Palette:
    """A face's colours, derived from its seed."""

    background: RGB
    skin: RGB
    hair: RGB
    iris: RGB


def _hls(hue: float, lightness: float, saturation: float) -> RGB:
    red, green, blue = colorsys.hls_to_rgb(hue, lightness, saturation)
    return round(red * 255), round(green * 255), round(blue * 255)


@cache
def palette(seed: str) -> Palette:
    """The colours of `seed`'s face: a coloured backdrop, and a skin, hair and iris colour among plausible ones."""
    digest = hashlib.sha256(seed.encode("utf-8", "surrogatepass")).digest()
    return Palette(
        background=_hls(digest[0] / 256, 0.32 + digest[1] / 255 * 0.12, 0.45 + digest[2] / 255 * 0.25),
        skin=_SKIN_TONES[digest[3] % len(_SKIN_TONES)],
        hair=_HAIR_COLOURS[digest[4] % len(_HAIR_COLOURS)],
        iris=_IRIS_COLOURS[digest[5] % len(_IRIS_COLOURS)],
    )


def _draw_face(draw: ImageDraw.ImageDraw, box: tuple[float, float, float, float], colours: Palette, mouth: int) -> None:
    """A face filling `box` (left, top, right, bottom): head, hair, eyes, brows, nose, and a mouth open by `mouth`."""
    left, top, right, bottom = box
    width, height = right - left, bottom - top

    def x(fraction: float) -> float:
        return left + width * fraction

    def y(fraction: float) -> float:
        return top + height * fraction

    line = max(1, round(width / 40))
    brows: RGB = (colours.hair[0] * 2 // 3, colours.hair[1] * 2 // 3, colours.hair[2] * 2 // 3)
    # Ears behind the head, hair behind and over its top.
    for ear_left in (0.0, 0.86):
        draw.ellipse((x(ear_left), y(0.42), x(ear_left + 0.14), y(0.6)), fill=colours.skin, outline=_DARK, width=line)
    draw.ellipse((x(0.06), y(0.0), x(0.94), y(0.62)), fill=colours.hair)
    draw.ellipse((x(0.1), y(0.08), x(0.9), y(1.0)), fill=colours.skin, outline=_DARK, width=line)
    draw.chord((x(0.1), y(0.02), x(0.9), y(0.52)), 180, 360, fill=colours.hair)
    # Eyes and brows.
    for eye_left in (0.24, 0.56):
        draw.ellipse((x(eye_left), y(0.4), x(eye_left + 0.2), y(0.52)), fill=_WHITE, outline=_DARK, width=line)
        draw.ellipse((x(eye_left + 0.05), y(0.41), x(eye_left + 0.15), y(0.51)), fill=colours.iris)
        draw.ellipse((x(eye_left + 0.08), y(0.44), x(eye_left + 0.12), y(0.48)), fill=_DARK)
        draw.line((x(eye_left), y(0.36), x(eye_left + 0.2), y(0.34)), fill=brows, width=line + 1)
    # Nose.
    draw.line((x(0.5), y(0.54), x(0.46), y(0.66), x(0.52), y(0.67)), fill=_DARK, width=line)
    # Mouth: a smile when closed, an opening as tall as `mouth` says otherwise.
    if mouth <= 0:
        draw.arc((x(0.34), y(0.66), x(0.66), y(0.8)), 20, 160, fill=_LIPS, width=line + 1)
    else:
        opening = min(mouth, MOUTH_LEVELS - 1) / (MOUTH_LEVELS - 1)
        half = 0.025 + 0.075 * opening
        draw.ellipse((x(0.36), y(0.8 - half), x(0.64), y(0.8 + half)), fill=_MOUTH_INSIDE, outline=_LIPS, width=line)


def face_image(seed: str, size: tuple[int, int], mouth: int = 0) -> Image.Image:
    """An RGB image of `size` with `seed`'s face centred on its backdrop, its mouth open by `mouth` (0 is closed)."""
    width, height = size
    colours = palette(seed)
    image = Image.new("RGB", size, colours.background)
    face_height = height * 0.9
    face_width = face_height * 0.8
    left, top = (width - face_width) / 2, (height - face_height) / 2
    _draw_face(ImageDraw.Draw(image), (left, top, left + face_width, top + face_height), colours, mouth)
    return image


def _fitted(draw: ImageDraw.ImageDraw, text: str, font: ImageFont.FreeTypeFont | ImageFont.ImageFont, room: int) -> str:
    """`text`, shortened with an ellipsis until it fits in `room` pixels."""
    if draw.textlength(text, font=font) <= room:
        return text
    while text and draw.textlength(text + "…", font=font) > room:
        text = text[:-1]
    return text + "…"


def face_png(seed: str, label: str) -> bytes:
    """A PNG (FACE_PNG_SIZE, RGB) of `seed`'s face over a band that says `label` (e.g. "face 0").

    Deterministic: the same arguments give the same bytes (Pillow writes no time or other varying chunk).
    """
    width, height = FACE_PNG_SIZE
    image = Image.new("RGB", FACE_PNG_SIZE, palette(seed).background)
    image.paste(face_image(seed, (width, height - _LABEL_BAND)), (0, 0))
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, height - _LABEL_BAND, width, height), fill=_DARK)
    # Loaded per call (a fraction of a millisecond): a FreeType face is not to be shared between threads.
    font = ImageFont.load_default(size=_LABEL_FONT_SIZE)
    # Pillow's fallback bitmap font (without FreeType) knows Latin-1 only.
    if not isinstance(font, ImageFont.FreeTypeFont):
        label = label.encode("latin-1", "replace").decode("latin-1")
    text = _fitted(draw, " ".join(label.split()), font, width - 8)
    draw.text((width / 2, height - _LABEL_BAND / 2), text, fill=_WHITE, font=font, anchor="mm")
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=True)
    return out.getvalue()
