"""Measured settings as single markers: the page's result, pinned results, every N:M pattern."""
from __future__ import annotations

from dataclasses import replace

from pruning import PruneConfig, PruneResult, prune_model
from pruning.nm import PATTERNS
from pruning.store import MeasurementStore
from pruning.sweep import SweepPoint, SweepResult
from tests.helpers import small_eval  # noqa: F401  (a fixture)
from ui.curve_marks import mark_of, pattern_marks, without_amount

NM = "nm_semi_structured"


def measured_as(config: PruneConfig, sparsity: float, accuracy: float) -> PruneResult:
    """A page's result with these numbers (what the session holds)."""
    return PruneResult(config, [], [], sparsity, 100, 50, "held-out", 0.99, accuracy)


def test_pattern_marks_measure_every_pattern_with_the_sweep_s_other_settings(small_eval, tmp_path):
    sweep = SweepResult("mlp", "held-out", (0.5,), PruneConfig(model="mlp"), 0.99,
                        [SweepPoint(NM, "global", 0.5, 0.5, 0.97), SweepPoint("l1_unstructured", "global", 0.5, 0.5, 0.9)])
    marks = pattern_marks(sweep, small_eval, MeasurementStore(tmp_path / "m.sqlite"))
    assert [m.label for m in marks] == list(PATTERNS)
    for mark in marks:
        expected = prune_model("mlp", replace(sweep.base_config, method=NM, nm=mark.label), eval_set=small_eval)
        assert (mark.accuracy, mark.sparsity, mark.amount) == (expected.accuracy_after, expected.global_sparsity, None)


def test_mark_of_reads_the_measured_numbers():
    threshold = mark_of(measured_as(PruneConfig(method="threshold", threshold=0.05), 0.61, 0.93))
    assert (threshold.amount, threshold.sparsity, threshold.accuracy) == (0.61, 0.61, 0.93)
    nm = mark_of(measured_as(PruneConfig(method=NM, nm="4:8"), 0.48, 0.97))
    assert nm.amount is None and nm.label == "4:8" and "local" not in nm.tooltip     # N:M: no amount, no scope
    assert nm.tooltip == "nm_semi_structured · 4:8 · sparsity 48.0% · accuracy 97.00%"


def test_only_methods_without_an_amount_are_points():
    assert without_amount(NM) and not without_amount("threshold") and not without_amount("l1_unstructured")
