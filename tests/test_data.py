"""Digit data: the built-in held-out set, the training digits, and IDX loading with clear errors."""
from __future__ import annotations

import gzip
import hashlib
from pathlib import Path

import pytest
import torch

from pruning.data import (DATA_DIR_ENV, TEST_FILES, DataError, DigitSet, builtin_heldout, default_eval_set,
                          load_mnist_test, normalize, package_train_digits, read_idx)


def _row_hashes(digits: DigitSet) -> set[str]:
    return {hashlib.sha256(image.numpy().tobytes()).hexdigest() for image in digits.images}


def _idx_bytes(array: torch.Tensor) -> bytes:
    """uint8 tensor -> IDX bytes (magic 0x0000080n, big-endian sizes, data)."""
    header = bytes([0, 0, 0x08, array.dim()]) + b"".join(int(n).to_bytes(4, "big") for n in array.shape)
    return header + array.numpy().tobytes()


def _write_split(directory: Path, images: torch.Tensor, labels: torch.Tensor) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / TEST_FILES[0]).write_bytes(_idx_bytes(images))
    (directory / TEST_FILES[1]).write_bytes(_idx_bytes(labels.to(torch.uint8)))
    return directory


@pytest.fixture(scope="module")
def train_digits() -> DigitSet:
    return package_train_digits()


def test_heldout_and_training_sizes_and_balanced_classes(heldout, train_digits) -> None:
    assert len(heldout) == 1000 and len(train_digits) == 4000
    assert torch.bincount(heldout.labels, minlength=10).tolist() == [100] * 10
    assert torch.bincount(train_digits.labels, minlength=10).tolist() == [400] * 10
    for digits in (heldout, train_digits):
        assert digits.images.shape[1:] == (28, 28) and digits.images.dtype == torch.uint8
        assert digits.labels.dtype == torch.int64


def test_heldout_digits_are_disjoint_from_training_digits(heldout, train_digits) -> None:
    held, train = _row_hashes(heldout), _row_hashes(train_digits)
    assert len(held) == len(heldout) and len(train) == len(train_digits)   # no duplicates inside either
    assert held.isdisjoint(train)


def test_builtin_digits_are_disjoint_from_the_official_test_split(heldout, train_digits, mnist_test) -> None:
    test = _row_hashes(mnist_test)
    assert test.isdisjoint(_row_hashes(heldout))
    assert test.isdisjoint(_row_hashes(train_digits))


def test_official_test_split_loads(mnist_test) -> None:
    assert len(mnist_test) == 10_000
    assert mnist_test.images.shape == (10_000, 28, 28) and mnist_test.images.dtype == torch.uint8
    assert torch.bincount(mnist_test.labels, minlength=10).sum() == 10_000
    assert mnist_test.describe() == "MNIST test split (10,000 digits)"


def test_normalize_gives_model_input_shape_and_statistics(heldout) -> None:
    x = normalize(heldout.images)                              # (N, 28, 28) uint8 -> (N, 1, 28, 28)
    assert x.shape == (1000, 1, 28, 28) and x.dtype == torch.float32
    assert abs(float(x.mean())) < 0.2 and 0.8 < float(x.std()) < 1.2
    assert torch.allclose(normalize(heldout.images.float() / 255), x)


def test_idx_round_trip_plain_and_gz(tmp_path: Path, heldout) -> None:
    images, labels = heldout.images[:50], heldout.labels[:50]
    plain = load_mnist_test(_write_split(tmp_path / "plain", images, labels))
    assert torch.equal(plain.images, images) and torch.equal(plain.labels, labels)
    gz_dir = tmp_path / "gz"
    gz_dir.mkdir()
    for stem, array in zip(TEST_FILES, (images, labels.to(torch.uint8))):
        (gz_dir / f"{stem}.gz").write_bytes(gzip.compress(_idx_bytes(array)))
    packed = load_mnist_test(gz_dir)
    assert torch.equal(packed.images, images) and torch.equal(packed.labels, labels)


def test_missing_directory_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="does not exist"):
        load_mnist_test(tmp_path / "nowhere")


def test_directory_without_the_files_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("not MNIST")
    with pytest.raises(DataError, match=f"no {TEST_FILES[0]}"):
        load_mnist_test(tmp_path)


def test_bad_magic_is_a_clear_error(tmp_path: Path, heldout) -> None:
    directory = _write_split(tmp_path, heldout.images[:5], heldout.labels[:5])
    (directory / TEST_FILES[0]).write_bytes(b"\x12\x34\x56\x78" + bytes(100))
    with pytest.raises(DataError, match="bad magic"):
        load_mnist_test(directory)


def test_truncated_idx_is_a_clear_error(tmp_path: Path, heldout) -> None:
    directory = _write_split(tmp_path, heldout.images[:5], heldout.labels[:5])
    path = directory / TEST_FILES[0]
    path.write_bytes(path.read_bytes()[:-100])
    with pytest.raises(DataError, match="truncated"):
        load_mnist_test(directory)


def test_truncated_and_corrupt_gz_are_clear_errors(tmp_path: Path, heldout) -> None:
    packed = gzip.compress(_idx_bytes(heldout.images[:200]))
    path = tmp_path / f"{TEST_FILES[0]}.gz"
    path.write_bytes(packed[: len(packed) // 2])                       # cut mid-stream
    with pytest.raises(DataError, match="cannot read IDX file"):
        read_idx(path)
    generator = torch.Generator().manual_seed(0)
    noise = bytes(torch.randint(0, 256, (2000,), dtype=torch.uint8, generator=generator).tolist())
    path.write_bytes(packed[:20] + noise + packed[2020:])              # valid header, corrupt deflate data
    with pytest.raises(DataError, match="cannot read IDX file"):
        read_idx(path)


def test_images_and_labels_of_different_lengths_are_refused(tmp_path: Path, heldout) -> None:
    directory = _write_split(tmp_path, heldout.images[:5], heldout.labels[:4])
    with pytest.raises(DataError, match="5 images but 4 labels"):
        load_mnist_test(directory)


def test_empty_split_is_refused(tmp_path: Path) -> None:
    directory = _write_split(tmp_path, torch.zeros(0, 28, 28, dtype=torch.uint8), torch.zeros(0))
    with pytest.raises(DataError, match="no digits"):
        load_mnist_test(directory)


def test_default_eval_set_is_the_builtin_set_without_a_directory(monkeypatch) -> None:
    monkeypatch.delenv(DATA_DIR_ENV, raising=False)
    assert default_eval_set() is builtin_heldout()


def test_default_eval_set_never_falls_back_on_a_bad_directory(monkeypatch, tmp_path: Path) -> None:
    monkeypatch.setenv(DATA_DIR_ENV, str(tmp_path / "typo"))
    with pytest.raises(DataError, match="typo"):
        default_eval_set()
    with pytest.raises(DataError, match="elsewhere"):
        default_eval_set(tmp_path / "elsewhere")


def test_default_eval_set_reads_the_named_directory(monkeypatch, tmp_path: Path, heldout) -> None:
    directory = _write_split(tmp_path / "mine", heldout.images[:7], heldout.labels[:7])
    monkeypatch.setenv(DATA_DIR_ENV, str(directory))
    assert len(default_eval_set()) == 7
