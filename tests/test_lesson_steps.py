"""The lessons' work in steps: the same numbers as the engine's one-shot calls, each step reported in words."""
from __future__ import annotations

import contextvars
import threading
from dataclasses import asdict

from pruning import PruneConfig
from pruning.quantize import prune_quantize_grid
from pruning.sensitivity import layer_sensitivity
from ui import lesson_steps
from tests.helpers import small_eval  # noqa: F401  (a fixture)
from tests.ui_helpers import NoProgress

TIMES = ("latency_ms", "latency_min_ms", "latency_max_ms")


def test_the_scan_in_steps_is_the_engines_scan_with_each_layer_told(small_eval):
    config = PruneConfig(model="lenet", method="l1_unstructured")
    progress = NoProgress()
    scan = lesson_steps.scan_in_steps(config, small_eval, progress)
    expected = layer_sensitivity(config, small_eval)
    assert scan.accuracy == expected.accuracy and scan.dense_accuracy == expected.dense_accuracy
    assert [d.split(" (")[0] for _, d in progress.calls[:-1]] == [f"layer {n}" for n in expected.accuracy]
    assert progress.calls[1] == (0.2, "layer conv2 (2 of 5): amounts 0.10 to 0.90, only this layer pruned")
    assert progress.calls[-1][0] == 1.0


def test_quantize_in_steps_measures_what_the_one_shot_grid_measures(small_eval):
    config = PruneConfig(model="lenet", method="ln_structured", amount=0.4, scope="local")
    progress = NoProgress()
    grid = lesson_steps.quantize_in_steps(config, small_eval, 2, progress)
    expected = prune_quantize_grid("lenet", config, small_eval, repeats=2)
    without_times = lambda cell: {k: v for k, v in asdict(cell).items() if k not in TIMES}   # noqa: E731
    assert {n: without_times(c) for n, c in grid.cells.items()} == {n: without_times(c) for n, c in expected.cells.items()}
    assert grid.order == expected.order and grid.eval_set == expected.eval_set and grid.scheme == expected.scheme
    assert all(c.latency_ms > 0 and c.repeats == 2 for c in grid.cells.values())        # timed, twice each
    fractions = [f for f, _ in progress.calls]
    assert fractions == sorted(fractions) and len(fractions) == 3 + 4 + 4 * 2 + 1 and fractions[-1] == 1.0
    assert progress.calls[0] == (0.0, "quantizing the dense model to int8")
    assert "timing pruned · int8, round 2 of 2" in [d for _, d in progress.calls]


def test_a_report_made_in_the_request_reaches_it_from_the_background_thread():
    event = contextvars.ContextVar("event")           # Gradio's progress finds its event like this
    event.set("the request's event")
    seen: list = []
    told = lesson_steps.from_any_thread(lambda fraction, message: seen.append((event.get(None), fraction, message)))
    worker = threading.Thread(target=told, args=(0.5, "layer fc1"))
    worker.start()
    worker.join()
    assert seen == [("the request's event", 0.5, "layer fc1")]
