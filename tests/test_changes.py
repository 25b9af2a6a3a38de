"""What changed: per-class accuracy, confusion matrices and the changed-digit pages, checked against
plain loops on a real prune of lenet on the official MNIST test split."""
from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from pruning import DigitSet, PruneConfig, prune_model
from pruning.changes import FILTERS, MAX_PAGE_SIZE, WhatChanged, format_changes, what_changed

CONFIG = PruneConfig(model="lenet", method="l1_unstructured", amount=0.8, scope="global")


@pytest.fixture(scope="module")
def pruned(mnist_test):
    """80% global L1 on lenet, evaluated on the 10,000 official test digits."""
    return prune_model("lenet", CONFIG, eval_set=mnist_test)


@pytest.fixture(scope="module")
def arrays(pruned, mnist_test) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(labels, predictions before, predictions after) as numpy arrays."""
    return (mnist_test.labels.numpy(), pruned.predictions_before.numpy(), pruned.predictions_after.numpy())


@pytest.fixture(scope="module")
def changes(pruned, mnist_test) -> WhatChanged:
    return what_changed(pruned, mnist_test)


def expected_indices(arrays, kind: str) -> list[int]:
    """Positions matching a filter, by a plain loop over the digits."""
    labels, before, after = arrays
    keep = {"all": lambda y, b, a: b != a, "became_wrong": lambda y, b, a: b == y and a != y,
            "became_right": lambda y, b, a: b != y and a == y}[kind]
    return [i for i, (y, b, a) in enumerate(zip(labels, before, after)) if keep(y, b, a)]


def test_predictions_after_are_the_pruned_model_run_by_hand_in_set_order(pruned, mnist_test) -> None:
    # the pages point at eval-set positions: the result's predictions must follow the set's order
    x = (mnist_test.images.float() / 255 - 0.1307) / 0.3081                     # (N, 28, 28)
    x = F.pad(x.unsqueeze(1), [2, 2, 2, 2], value=(0 - 0.1307) / 0.3081)         # (N, 1, 32, 32) lenet input
    with torch.no_grad():
        by_hand = torch.cat([pruned.model(x[i:i + 500]).argmax(1) for i in range(0, len(x), 500)])
    assert (by_hand != pruned.predictions_after).sum() <= 2     # float rounding order may flip a near-tie


def test_per_class_accuracy_matches_a_loop(changes, arrays) -> None:
    labels, before, after = arrays
    assert [c.digit for c in changes.per_class] == list(range(10))
    for c in changes.per_class:
        rows = [i for i in range(len(labels)) if labels[i] == c.digit]
        assert c.count == len(rows)
        assert c.accuracy_before == pytest.approx(sum(before[i] == c.digit for i in rows) / len(rows), abs=1e-12)
        assert c.accuracy_after == pytest.approx(sum(after[i] == c.digit for i in rows) / len(rows), abs=1e-12)
    assert any(c.accuracy_after < c.accuracy_before - 0.05 for c in changes.per_class)   # 80% pruning hurts


def test_per_class_counts_add_up_to_the_engines_overall_accuracy(changes, pruned) -> None:
    total = sum(c.count for c in changes.per_class)
    assert total == 10_000
    assert sum(c.correct_before for c in changes.per_class) / total == pytest.approx(pruned.accuracy_before)
    assert sum(c.correct_after for c in changes.per_class) / total == pytest.approx(pruned.accuracy_after)


def test_confusion_matrices_match_numpy_add_at(changes, arrays) -> None:
    labels, before, after = arrays
    for predicted, matrix in ((before, changes.confusion_before), (after, changes.confusion_after)):
        expected = np.zeros((10, 10), dtype=np.int64)
        np.add.at(expected, (labels, predicted), 1)                  # rows = true class
        np.testing.assert_array_equal(matrix.numpy(), expected)
        np.testing.assert_array_equal(matrix.numpy().sum(1), np.bincount(labels, minlength=10))
    np.testing.assert_array_equal(changes.confusion_difference.numpy(),
                                  changes.confusion_after.numpy() - changes.confusion_before.numpy())
    assert int(changes.confusion_difference.sum()) == 0              # every digit is in both matrices


@pytest.mark.parametrize("kind", FILTERS)
def test_every_changed_digit_is_listed_across_the_pages(changes, arrays, kind) -> None:
    expected = expected_indices(arrays, kind)
    assert expected, f"this prune changes some predictions ({kind})"
    size = 37
    first = changes.page(kind, 1, size)
    assert (first.total, first.pages) == (len(expected), math.ceil(len(expected) / size))
    pages = [changes.page(kind, p, size) for p in range(1, first.pages + 1)]
    assert [i for page in pages for i in page.indices] == expected
    assert all(len(p.indices) == size for p in pages[:-1]) and 1 <= len(pages[-1].indices) <= size
    labels, before, after = arrays
    for page in pages[:3]:
        assert page.labels == labels[page.indices].tolist()
        assert page.before == before[page.indices].tolist() and page.after == after[page.indices].tolist()


def test_counts_and_json(changes, arrays) -> None:
    assert changes.counts() == {kind: len(expected_indices(arrays, kind)) for kind in FILTERS}
    data = json.loads(json.dumps(changes.to_dict()))
    assert data["confusion_before"] == changes.confusion_before.tolist()
    assert len(data["per_class"]) == 10 and data["counts"]["all"] == changes.counts()["all"]


def test_format_changes_shows_every_class_and_the_counts(changes, arrays) -> None:
    text = format_changes(changes)
    labels, before, after = arrays
    for digit in range(10):
        rows = labels == digit
        assert f"{100 * (after[rows] == digit).mean():7.2f}%" in text
    assert f"predictions changed: {len(expected_indices(arrays, 'all'))} " in text


@pytest.mark.parametrize("kwargs, message", [
    ({"filter": "wrong"}, "unknown filter"), ({"filter": None}, "unknown filter"),
    ({"page": 0}, "page must be"), ({"page": -1}, "page must be"), ({"page": 1.5}, "page must be"),
    ({"page": True}, "page must be"), ({"page": 10**6}, "page must be"),
    ({"page_size": 0}, "page_size must be"), ({"page_size": MAX_PAGE_SIZE + 1}, "page_size must be"),
    ({"page_size": "24"}, "page_size must be"),
])
def test_bad_page_requests_are_clear_value_errors(changes, kwargs, message) -> None:
    with pytest.raises(ValueError, match=message):
        changes.page(**kwargs)


def test_last_page_plus_one_is_refused(changes) -> None:
    pages = changes.page("became_right", 1, 10).pages
    changes.page("became_right", pages, 10)
    with pytest.raises(ValueError, match=f"from 1 to {pages}"):
        changes.page("became_right", pages + 1, 10)


def test_bad_inputs_are_clear_value_errors(pruned, mnist_test, heldout) -> None:
    with pytest.raises(ValueError, match="no predictions"):
        what_changed(prune_model("lenet", CONFIG), mnist_test)
    with pytest.raises(ValueError, match="evaluated on MNIST test split"):
        what_changed(pruned, heldout)
    with pytest.raises(ValueError, match="expected a PruneResult"):
        what_changed(pruned.model, mnist_test)
    with pytest.raises(ValueError, match="expected the DigitSet"):
        what_changed(pruned, "mnist")


def test_nothing_changed_gives_one_empty_page(heldout) -> None:
    small = DigitSet("held-out slice", heldout.images[::10], heldout.labels[::10])     # 100 digits
    result = prune_model("lenet", PruneConfig(model="lenet", amount=0.0), eval_set=small)
    changes = what_changed(result, small)
    assert torch.equal(changes.confusion_difference, torch.zeros(10, 10, dtype=torch.long))
    page = changes.page("all", 1, 24)
    assert (page.total, page.pages, page.indices) == (0, 0, [])
    with pytest.raises(ValueError, match="from 1 to 1"):
        changes.page("all", 2, 24)
