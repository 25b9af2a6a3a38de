"""Sketch preprocessing: MNIST layout from drawings, and odd inputs handled without errors."""
import base64
import io

import numpy as np
import pytest
import torch
from PIL import Image

from pruning.checkpoint import load_pretrained
from pruning.evaluate import probabilities
from pruning.sketch import MAX_DATA_URL_CHARS, SketchError, preprocess_sketch


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


# --- files as phones, scanners and editors save them (issue 17 item 5) --------------------------------
# Each variant stores the same real "7" of the official test split in another encoding; decoded
# right, every one must give (nearly) the 28x28 digit of the plain 8-bit image, and read as a 7.

EXIF_ORIENTATION = 0x0112


def sevens(mnist_test, count: int = 3) -> list[np.ndarray]:
    """The first `count` 7s of the official test split, 280x280, dark ink on a white page (uint8)."""
    indices = (mnist_test.labels == 7).nonzero().flatten()[:count].tolist()
    return [255 - np.asarray(Image.fromarray(mnist_test.images[i].numpy()).resize((280, 280), Image.BILINEAR))
            for i in indices]


def exif_rotated(page: np.ndarray, orientation: int, path) -> str:
    """A JPEG whose stored pixels need the EXIF orientation to show `page` upright (EXIF 2.3 spec:
    3 = turn 180 degrees to view, 6 = turn 90 clockwise, 8 = turn 90 counter-clockwise)."""
    stored = {3: np.rot90(page, 2), 6: np.rot90(page, 1), 8: np.rot90(page, -1)}[orientation]
    exif = Image.Exif()
    exif[EXIF_ORIENTATION] = orientation
    Image.fromarray(np.ascontiguousarray(stored)).convert("RGB").save(path, quality=95, exif=exif)
    return str(path)


def palette_with_transparent_page(page: np.ndarray, path) -> str:
    """A palette PNG: gray ink levels, and the white page as a transparent entry whose colour is black."""
    image = Image.fromarray(page, "L").convert("P")                 # index k = gray level k
    palette = [level for k in range(256) for level in (k, k, k)]
    palette[255 * 3:] = [0, 0, 0]                                   # page colour black ...
    image.putpalette(palette)
    image.save(path, transparency=255)                              # ... but fully transparent
    return str(path)


def alpha_ink(page: np.ndarray, mode: str, path) -> str:
    """Black colour everywhere; the stroke is in the alpha channel only (LA or RGBA PNG)."""
    alpha = Image.fromarray(255 - page, "L")
    colour = Image.new(mode[:-1], alpha.size, 0)
    colour.putalpha(alpha)
    colour.save(path)
    return str(path)


def sixteen_bit_png(page: np.ndarray, path) -> str:
    Image.fromarray(page.astype(np.uint16) * 257).save(path)       # 0..65535, mode I;16
    with Image.open(path) as saved:
        assert saved.mode.startswith("I")                            # the file really is 16-bit
    return str(path)


def cmyk_jpeg(page: np.ndarray, path) -> str:
    Image.fromarray(page, "L").convert("CMYK").save(path, quality=95)
    return str(path)


VARIANTS = {
    "16-bit PNG": sixteen_bit_png,
    "16-bit array": lambda page, path: page.astype(np.uint16) * 257,
    "32-bit I image": lambda page, path: Image.fromarray(page.astype(np.int32) * 257, "I"),
    "float F image 0..1": lambda page, path: Image.fromarray(page.astype(np.float32) / 255, "F"),
    "JPEG, EXIF orientation 6": lambda page, path: exif_rotated(page, 6, path),
    "JPEG, EXIF orientation 3": lambda page, path: exif_rotated(page, 3, path),
    "JPEG, EXIF orientation 8": lambda page, path: exif_rotated(page, 8, path),
    "palette PNG, transparent page": palette_with_transparent_page,
    "LA PNG, ink in alpha": lambda page, path: alpha_ink(page, "LA", path),
    "RGBA PNG, ink in alpha": lambda page, path: alpha_ink(page, "RGBA", path),
    "CMYK JPEG": cmyk_jpeg,
}


@pytest.fixture(scope="module")
def lenet():
    return load_pretrained("lenet")[0]


@pytest.mark.parametrize("variant", VARIANTS)
def test_encodings_read_as_the_plain_digit(variant, mnist_test, lenet, tmp_path):
    lossy = "JPEG" in variant
    for i, page in enumerate(sevens(mnist_test)):
        plain_path = tmp_path / f"plain{i}.png"
        Image.fromarray(page, "L").save(plain_path)
        plain, _ = preprocess_sketch(str(plain_path))
        seen, x = preprocess_sketch(VARIANTS[variant](page, tmp_path / f"{i}.{'jpg' if lossy else 'png'}"))
        difference = np.abs(seen.astype(int) - plain.astype(int))     # (28, 28), 0..255
        # lossless encodings give the same digit; JPEG's own noise measured at most 21 (mean 0.7),
        # while a digit left turned by 90 or 180 degrees differs by a mean of ~37
        assert difference.max() <= (40 if lossy else 1), f"{variant}: seven {i} differs from the plain one"
        assert difference.mean() <= (2 if lossy else 0.1), f"{variant}: seven {i} differs from the plain one"
        assert int(probabilities(lenet, "lenet", x).argmax()) == 7, f"{variant}: seven {i} not read as 7"


def test_the_rotation_check_would_notice_a_turned_digit(mnist_test):
    page = sevens(mnist_test, 1)[0]
    plain, _ = preprocess_sketch(page)
    turned, _ = preprocess_sketch(np.ascontiguousarray(np.rot90(page, 1)))   # EXIF ignored would give this
    assert np.abs(turned.astype(int) - plain.astype(int)).mean() > 10


# --- data URLs, as a browser canvas sends them: decoded, but only small PNG/JPEG/WebP ----------------

def data_url(image: Image.Image, fmt: str = "PNG", media: str = "image/png") -> str:
    buffer = io.BytesIO()
    image.save(buffer, fmt)
    return f"data:{media};base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def test_png_data_url_reads_as_the_image(mnist_test):
    page = sevens(mnist_test, 1)[0]
    plain, _ = preprocess_sketch(page)
    seen, _ = preprocess_sketch(data_url(Image.fromarray(page, "L")))
    assert np.array_equal(seen, plain)                               # PNG is lossless
    assert preprocess_sketch("") is None                             # an emptied pad


@pytest.mark.parametrize("url", [
    "data:text/html;base64,PGgxPmhpPC9oMT4=",                        # not an image
    "data:image/png;base64,not base64!",
    "data:image/png,rawbytes",                                       # not base64-encoded
    "data:image/png;base64," + base64.b64encode(b"\x89PNG garbage").decode(),
])
def test_bad_data_urls_raise_a_clear_error(url):
    with pytest.raises(SketchError, match="image"):
        preprocess_sketch(url)


def test_data_url_is_limited_to_its_declared_format_and_size():
    image = Image.new("L", (50, 50), 255)
    with pytest.raises(SketchError):                                 # a GIF labelled as PNG
        preprocess_sketch(data_url(image, "GIF", "image/png"))
    with pytest.raises(SketchError, match="image/png"):              # formats other than PNG/JPEG/WebP
        preprocess_sketch(data_url(image, "GIF", "image/gif"))
    with pytest.raises(SketchError, match="too large"):
        preprocess_sketch("data:image/png;base64," + "A" * (MAX_DATA_URL_CHARS + 1))
    huge = Image.new("1", (5000, 5000), 1)                           # ~25 M pixels, a few KB as PNG
    with pytest.raises(SketchError, match="too large"):
        preprocess_sketch(data_url(huge))
