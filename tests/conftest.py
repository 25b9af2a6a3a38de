"""Shared fixtures: the official MNIST test split (from ../shared in CI) and the built-in set."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from pruning.data import builtin_heldout, load_mnist_test

ROOT = Path(__file__).resolve().parents[1]
MNIST_DIR = Path(os.environ.get("PRUNING_LAB_TEST_MNIST", ROOT.parent / "shared" / "data" / "mnist"))


@pytest.fixture(scope="session")
def mnist_dir() -> Path:
    """The directory of the official test split. Missing: a failure in CI, a visible skip elsewhere."""
    if not MNIST_DIR.is_dir():
        message = f"official MNIST test split not found at {MNIST_DIR} (set PRUNING_LAB_TEST_MNIST)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return MNIST_DIR


@pytest.fixture(scope="session")
def mnist_test(mnist_dir):
    """The official 10,000-digit test split (see mnist_dir)."""
    return load_mnist_test(mnist_dir)


@pytest.fixture(scope="session")
def heldout():
    """The built-in 1,000 held-out digits (always available, offline)."""
    return builtin_heldout()
