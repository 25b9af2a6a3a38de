"""Turn a drawn or uploaded image into a 28x28 MNIST-style digit (crop, fit 20x20, centre of mass)."""
from __future__ import annotations

import os
from typing import Any

import numpy as np
import torch
from PIL import Image

from .data import normalize

MAX_SIDE = 1024          # larger images are first shrunk to this (bounded work for huge uploads)
MAX_FILE_PIXELS = 4096 * 4096   # image files larger than this are refused before decoding
INK_LEVEL = 0.15         # a pixel with more ink than this (0..1) belongs to the stroke
MIN_INK_PIXELS = 4       # fewer stroke pixels than this is a blank sketch


class SketchError(ValueError):
    """The input cannot be read as an image."""


def to_image(value: Any) -> Image.Image | None:
    """A PIL image from a numpy array, PIL image, file path, or Gradio editor value {background, layers, composite}."""
    if value is None:
        return None
    if isinstance(value, dict):
        value = value.get("composite")
        if value is None:
            return None
    if isinstance(value, Image.Image):
        return value
    if isinstance(value, (str, os.PathLike)):                       # a file path (uploads, filepath type)
        try:
            with Image.open(value) as image:      # reads the header only
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
    if isinstance(value, np.ndarray) and value.ndim in (2, 3) and value.size > 0:
        array = value
        if array.dtype != np.uint8:
            array = np.clip(np.nan_to_num(array.astype(np.float64)), 0, 255).astype(np.uint8)
        if array.ndim == 3 and array.shape[2] not in (1, 3, 4):
            raise SketchError(f"an image needs 1, 3 or 4 channels, got {array.shape[2]}")
        return Image.fromarray(array[..., 0] if array.ndim == 3 and array.shape[2] == 1 else array)
    raise SketchError(f"expected an image, got {type(value).__name__}")


def ink_map(image: Image.Image) -> np.ndarray:
    """Stroke intensity 0..1 (H, W): dark ink on a light or transparent page, or light ink on dark."""
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
