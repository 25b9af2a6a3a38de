"""Sketch preprocessing: MNIST layout from drawings, and odd inputs handled without errors."""
import io

import numpy as np
import pytest
import torch
from PIL import Image

from pruning.checkpoint import load_pretrained
from pruning.evaluate import probabilities
from pruning.sketch import SketchError, preprocess_sketch


def drawn_copy(digit: np.ndarray, scale: int, top: int, left: int, size=(400, 500), rgba=True) -> dict:
    """A real test digit drawn as dark ink on a large white canvas, as the sketchpad sends it."""
    big = np.asarray(Image.fromarray(digit).resize((28 * scale, 28 * scale), Image.BILINEAR))
    canvas = np.full(size, 255, np.uint8)
    canvas[top:top + big.shape[0], left:left + big.shape[1]] = 255 - big
    image = np.stack([canvas] * 3 + ([np.full_like(canvas, 255)] if rgba else []), -1)
    return {"background": None, "layers": [], "composite": image}


def test_drawn_test_digits_are_classified_by_dense_lenet(mnist_test):
    model, _ = load_pretrained("lenet")
    correct = 0
    placements = [(9, 60, 150), (6, 10, 10), (12, 40, 120), (5, 200, 300)]
    for i in range(100):
        scale, top, left = placements[i % len(placements)]
        _, x = preprocess_sketch(drawn_copy(mnist_test.images[i].numpy(), scale, top, left))
        correct += int(probabilities(model, "lenet", x).argmax()) == int(mnist_test.labels[i])
    assert correct >= 95


def test_output_is_mnist_like():
    digit = np.zeros((28, 28), np.uint8)
    digit[4:24, 12:16] = 255                                      # a "1": tall thin bar
    seen, x = preprocess_sketch(drawn_copy(digit, 10, 50, 100))
    assert seen.shape == (28, 28) and seen.dtype == np.uint8
    rows, cols = np.nonzero(seen > 30)
    assert rows.max() - rows.min() + 1 <= 21                      # fitted into 20 px (+ resampling)
    ys, xs = np.mgrid[0:28, 0:28]
    assert abs((ys * seen).sum() / seen.sum() - 13.5) <= 1.0      # centre of mass in the middle
    assert abs((xs * seen).sum() / seen.sum() - 13.5) <= 1.0
    assert x.shape == (1, 1, 28, 28) and x.dtype == torch.float32


@pytest.mark.parametrize("value", [
    None,
    {"background": None, "layers": [], "composite": None},
    np.zeros((280, 280, 4), np.uint8),                             # transparent, nothing drawn
    np.full((280, 280, 3), 255, np.uint8),                         # all white
    np.zeros((280, 280, 3), np.uint8),                             # all black
    np.zeros((1, 1), np.uint8),                                    # tiny
])
def test_blank_inputs_give_none(value):
    assert preprocess_sketch(value) is None


def test_light_ink_on_dark_page_is_read_like_mnist(mnist_test):
    digit = mnist_test.images[0].numpy()
    big = np.asarray(Image.fromarray(digit).resize((280, 280)))
    seen, _ = preprocess_sketch(big)                               # grayscale, white on black
    inverted, _ = preprocess_sketch(255 - big)                     # black on white
    assert np.abs(seen.astype(int) - inverted.astype(int)).max() <= 1


@pytest.mark.parametrize("mode", ["L", "RGB", "RGBA", "P"])
def test_pil_modes(mode):
    image = Image.new("L", (200, 200), 255)
    image.paste(0, (90, 30, 110, 170))                             # a dark vertical bar
    seen, _ = preprocess_sketch(image.convert(mode))
    assert seen.max() > 200


def test_huge_image_is_bounded():
    image = np.full((8000, 8000), 255, np.uint8)
    image[1000:7000, 3800:4200] = 0
    seen, _ = preprocess_sketch(image)
    assert seen.max() > 200


@pytest.mark.parametrize("value", ["not an image", b"\x89PNG garbage", 42, np.zeros((5, 5, 7), np.uint8)])
def test_non_images_raise_a_clear_error(value):
    with pytest.raises(SketchError, match="image|channels"):
        preprocess_sketch(value)


def test_image_file_path_is_read(tmp_path):
    path = tmp_path / "digit.png"
    image = Image.new("L", (100, 100), 255)
    image.paste(0, (45, 10, 55, 90))
    image.save(path)
    seen, _ = preprocess_sketch(str(path))
    assert seen.max() > 200
    (tmp_path / "bad.png").write_bytes(b"not a png")
    with pytest.raises(SketchError):
        preprocess_sketch(str(tmp_path / "bad.png"))
