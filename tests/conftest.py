"""Shared fixtures (the shipped official MNIST test split, the built-in set) and CI's no-skip rule."""
from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from pruning.data import TEST_SPLIT_DIR, builtin_heldout, load_mnist_test, official_test_split

ROOT = Path(__file__).resolve().parents[1]
# Optional override, e.g. to run the tests against another copy of the split; by default the tests
# use the split the repository ships in data/mnist, so a fresh clone needs nothing beside it.
MNIST_OVERRIDE_ENV = "PRUNING_LAB_TEST_MNIST"


@pytest.fixture(scope="session", autouse=True)
def private_cache(tmp_path_factory):
    """The app's measurements and sweeps kept in a folder of this test run (never the user's cache)."""
    directory = tmp_path_factory.mktemp("pruning-lab-cache")
    os.environ["PRUNING_LAB_CACHE_DIR"] = str(directory)
    yield directory
    resources = sys.modules.get("ui.resources")
    if resources is not None:              # no background sweep or grid thread may be inside torch at exit
        resources.sweep_cache().stop()
        resources.grid_filler().stop()


@pytest.fixture(scope="session", autouse=True)
def started_runtime() -> None:
    """The evaluation worker pool and warm graphs, started as the app, CLI and bench start them."""
    from pruning import runtime
    runtime.start()


@pytest.fixture(scope="session")
def mnist_dir() -> Path:
    """The directory of the official test split: data/mnist, or $PRUNING_LAB_TEST_MNIST if set."""
    directory = Path(os.environ.get(MNIST_OVERRIDE_ENV) or TEST_SPLIT_DIR)
    if not directory.is_dir():   # a failure, never a skip: the split ships with the repository
        pytest.fail(f"official MNIST test split not found at {directory}")
    return directory


@pytest.fixture(scope="session")
def mnist_test(mnist_dir):
    """The official 10,000-digit test split: the app's shared default set unless overridden."""
    if mnist_dir == TEST_SPLIT_DIR:
        return official_test_split()      # checksum-verified, and the very object default_eval_set() returns
    return load_mnist_test(mnist_dir)


@pytest.fixture(scope="session")
def heldout():
    """The built-in 1,000 held-out digits (always available, offline)."""
    return builtin_heldout()


# --- CI: a skipped test fails the run (a skip there means something CI needs is missing) ---------

_SKIPPED: list[str] = []


def _note_skip(report) -> None:
    if report.skipped and not hasattr(report, "wasxfail"):    # an expected failure is not a skip
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        _SKIPPED.append(f"{report.nodeid} ({reason})")


def pytest_runtest_logreport(report) -> None:
    _note_skip(report)


def pytest_collectreport(report) -> None:
    _note_skip(report)    # module-level skips (pytest.importorskip, allow_module_level) happen here


def pytest_sessionfinish(session, exitstatus) -> None:
    if os.environ.get("CI") and _SKIPPED and exitstatus == pytest.ExitCode.OK:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter, exitstatus, config) -> None:
    if os.environ.get("CI") and _SKIPPED:
        terminalreporter.write_line(f"CI is set and {len(_SKIPPED)} test(s) were skipped, which fails the run "
                                    f"(skipped: {'; '.join(_SKIPPED)})", red=True, bold=True)
