"""Turn a drawn or uploaded image into a 28x28 MNIST-style digit (crop, fit 20x20, centre of mass)."""
from __future__ import annotations

import base64
import binascii
import io
import os
import re
from typing import Any

import numpy as np
import torch
from PIL import Image, ImageOps

from .data import normalize

MAX_SIDE = 1024          # larger images are first shrunk to this (bounded work for huge uploads)
MAX_FILE_PIXELS = 4096 * 4096   # image files larger than this are refused before decoding
MAX_DATA_URL_CHARS = 4 * 1024 * 1024   # a drawing pad sends ~10 KB; a data URL is untrusted input
INK_LEVEL = 0.15         # a pixel with more ink than this (0..1) belongs to the stroke
MIN_INK_PIXELS = 4       # fewer stroke pixels than this is a blank sketch
SIXTEEN_BIT_MODES = ("I;16", "I;16L", "I;16B", "I;16N")
EIGHT_BIT_MODES = ("1", "L", "LA", "RGB", "RGBA")   # read as they are
# A data URL may only carry these (what a browser canvas or a phone camera produces); the decoder
# is then limited to the matching Pillow formats, so no other image parser sees untrusted bytes.
DATA_URL_FORMATS = {"image/png": "PNG", "image/jpeg": "JPEG", "image/webp": "WEBP"}
DATA_URL = re.compile(r"data:(image/[a-z]+);base64,", re.ASCII)


class SketchError(ValueError):
    """The input cannot be read as an image."""


def to_image(value: Any) -> Image.Image | None:
    """A PIL image (EXIF orientation applied) from a numpy array, PIL image, file path, PNG/JPEG/WebP
    data URL, or Gradio editor value {background, layers, composite}; None for nothing drawn."""
    if value is None:
        return None
    if isinstance(value, dict):
        value = value.get("composite")
        if value is None:
            return None
    if isinstance(value, Image.Image):
        return upright(value)
    if isinstance(value, str) and not value.strip():               # an emptied drawing pad
        return None
    if isinstance(value, str) and value[:5].lower() == "data:":
        return upright(decode_data_url(value))
    if isinstance(value, (str, os.PathLike)):                       # a file path (uploads, filepath type)
        return upright(_open_bounded(value))
    if isinstance(value, np.ndarray) and value.ndim in (2, 3) and value.size > 0:
        return _from_array(value)
    raise SketchError(f"expected an image, got {type(value).__name__}")


def decode_data_url(url: str) -> Image.Image:
    """The image in a base64 PNG/JPEG/WebP data URL, with bounded length and pixel count."""
    if len(url) > MAX_DATA_URL_CHARS:
        raise SketchError(f"image data too large ({len(url):,} characters; at most {MAX_DATA_URL_CHARS:,})")
    header = DATA_URL.match(url)
    if header is None or header.group(1) not in DATA_URL_FORMATS:
        raise SketchError("not an image data URL (expected data:image/png;base64,...)")
    try:
        data = base64.b64decode(url[header.end():], validate=True)
    except (binascii.Error, ValueError):
        raise SketchError("image data URL is not valid base64") from None
    return _open_bounded(io.BytesIO(data), formats=[DATA_URL_FORMATS[header.group(1)]])


def _open_bounded(source: Any, formats: list[str] | None = None) -> Image.Image:
    """Decode an image file or buffer, refusing more than MAX_FILE_PIXELS before decoding pixels."""
    try:
        with Image.open(source, formats=formats) as image:      # reads the header only
            if image.width * image.height > MAX_FILE_PIXELS:
                raise SketchError(f"image too large ({image.width}x{image.height} pixels; "
                                  f"at most {MAX_FILE_PIXELS:,})")
            image.load()
            return image
    except SketchError:
        raise
    except Image.DecompressionBombError:
        raise SketchError(f"image too large (more than {MAX_FILE_PIXELS:,} pixels)") from None
    except (OSError, ValueError) as err:
        raise SketchError(f"not a readable image file ({err.__class__.__name__})") from None


def upright(image: Image.Image) -> Image.Image:
    """The image as it is meant to be seen: EXIF orientation (phone photos, scanners) applied."""
    try:
        return ImageOps.exif_transpose(image)
    except (OSError, ValueError, TypeError, KeyError, SyntaxError):   # broken EXIF: keep the pixels as stored
        return image


def _from_array(array: np.ndarray) -> Image.Image:
    """A PIL image from (H, W), (H, W, 1), (H, W, 3) or (H, W, 4) values; uint16 is read as 16-bit."""
    if array.ndim == 3 and array.shape[2] not in (1, 3, 4):
        raise SketchError(f"an image needs 1, 3 or 4 channels, got {array.shape[2]}")
    if array.dtype == np.uint16:                                   # full 16-bit range -> 0..255
        array = (array.astype(np.float64) / 257.0).round()
    if array.dtype != np.uint8:
        array = np.clip(np.nan_to_num(array.astype(np.float64)), 0, 255).astype(np.uint8)
    return Image.fromarray(array[..., 0] if array.ndim == 3 and array.shape[2] == 1 else array)


def to_8bit(image: Image.Image) -> Image.Image:
    """An 8-bit L/LA/RGB/RGBA image that shows what the input shows: 16-bit gray scaled (not clipped)
    to 0..255, 32-bit/float gray by its range, palette transparency kept, CMYK as RGB."""
    if image.mode in ("I", "F") or image.mode in SIXTEEN_BIT_MODES:
        values = np.asarray(image, dtype=np.float32)                # (H, W)
        top = float(values.max()) if values.size else 0.0
        # Pillow's own convert("L") clips at 255, which turns a 16-bit page (0..65535) all white.
        if image.mode == "F":
            full_scale = 1.0 if top <= 1.0 else 255.0               # 0..1 floats, or 0..255
        else:                                                       # "I": 8-bit values or a 16-bit PNG
            full_scale = 65535.0 if image.mode in SIXTEEN_BIT_MODES or top > 255 else 255.0
        gray = np.clip(np.nan_to_num(values) * (255.0 / full_scale), 0, 255).round().astype(np.uint8)
        return Image.fromarray(gray)
    if image.mode in EIGHT_BIT_MODES:
        return image
    target = "RGB" if image.mode in ("CMYK", "YCbCr") else "RGBA"  # P/PA keep their transparency
    try:
        return image.convert(target)
    except ValueError:                                             # e.g. LAB or HSV: no conversion
        raise SketchError(f"unsupported image mode {image.mode}") from None


def ink_map(image: Image.Image) -> np.ndarray:
    """Stroke intensity 0..1 (H, W): dark ink on a light or transparent page, or light ink on dark."""
    image = to_8bit(image)                       # before resizing: Pillow cannot resize 16-bit, P loses alpha
    if max(image.size) > MAX_SIDE:
        image = image.copy()
        image.thumbnail((MAX_SIDE, MAX_SIDE))
    rgba = image.convert("RGBA")
    page = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
    gray = np.asarray(Image.alpha_composite(page, rgba).convert("L"), dtype=np.float32) / 255.0
    ink = 1.0 - gray                                             # dark strokes on white -> high ink
    border = np.concatenate([ink[0], ink[-1], ink[:, 0], ink[:, -1]])
    if border.mean() > 0.5:                                      # light strokes on a dark page
        ink = 1.0 - ink
    return ink


def center_digit(ink: np.ndarray) -> np.ndarray | None:
    """MNIST layout: crop to the stroke, fit into 20x20 keeping aspect, centre of mass at (14, 14)."""
    rows, cols = np.nonzero(ink > INK_LEVEL)
    if rows.size < MIN_INK_PIXELS or rows.size > 0.9 * ink.size:  # blank, or the whole page is "ink"
        return None
    crop = ink[rows.min():rows.max() + 1, cols.min():cols.max() + 1]
    height, width = crop.shape
    scale = 20.0 / max(height, width)
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    fitted = np.asarray(Image.fromarray((crop * 255).astype(np.uint8)).resize(size, Image.LANCZOS),
                        dtype=np.float32)                         # (h <= 20, w <= 20)
    canvas = np.zeros((28, 28), dtype=np.float32)
    top, left = (28 - size[1]) // 2, (28 - size[0]) // 2
    canvas[top:top + size[1], left:left + size[0]] = fitted
    total = canvas.sum()
    if total <= 0:
        return None
    ys, xs = np.mgrid[0:28, 0:28]
    shift_y = int(round(14 - 0.5 - (ys * canvas).sum() / total))   # pixel centres: COM -> 13.5
    shift_x = int(round(14 - 0.5 - (xs * canvas).sum() / total))
    canvas = _shift(canvas, shift_y, shift_x)
    return np.clip(canvas, 0, 255).astype(np.uint8)


def _shift(image: np.ndarray, dy: int, dx: int) -> np.ndarray:
    """Translate without wrap-around (pixels leaving the frame are dropped)."""
    out = np.zeros_like(image)
    h, w = image.shape
    src = image[max(0, -dy):h - max(0, dy), max(0, -dx):w - max(0, dx)]
    out[max(0, dy):max(0, dy) + src.shape[0], max(0, dx):max(0, dx) + src.shape[1]] = src
    return out


def preprocess_sketch(value: Any) -> tuple[np.ndarray, torch.Tensor] | None:
    """(28x28 uint8 digit as the model sees it, normalized (1, 1, 28, 28) tensor), or None if blank."""
    image = to_image(value)
    if image is None:
        return None
    digit = center_digit(ink_map(image))
    if digit is None:
        return None
    return digit, normalize(torch.from_numpy(digit)[None])
