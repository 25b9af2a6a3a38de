"""The app's event functions, called directly: outputs follow the engine, errors are clean."""
import re

import gradio as gr
import numpy as np
import pytest

import app
from pruning import PruneConfig, prune_model
from tests.test_sketch import drawn_copy

DEFAULTS = dict(model="lenet", method="l1_unstructured", amount=0.5, threshold=0.05, scope="global",
                per_type=False, conv_amount=0.2, linear_amount=0.4, layer_types=["conv", "linear"],
                calibration_size=256, norm="L1", seed=0, sketch=None, session=None)


def run(**changes):
    outputs = app.update(**{**DEFAULTS, **changes})
    names = ["accuracy", "chart", "explain", "strip", "seen", "before", "after", "session"]
    return dict(zip(names, outputs))


def percents(html: str) -> list[float]:
    return [float(v) for v in re.findall(r"<b>([\d.]+)%</b>", html)]


def test_changed_amount_changes_chart_accuracy_and_sparsity_like_the_engine():
    eval_set, _ = app.eval_set_and_note()
    low, high = run(amount=0.3), run(amount=0.9)
    for out, amount in ((low, 0.3), (high, 0.9)):
        expected = prune_model("lenet", PruneConfig(amount=amount, scope="global"), eval_set=eval_set)
        assert f"{100 * expected.accuracy_after:.2f}%" in out["accuracy"]
        assert f"Global sparsity <b>{100 * expected.global_sparsity:.2f}%" in out["chart"]
        layer_percents = percents(out["chart"])[:len(expected.layers)]
        assert layer_percents == [round(100 * s.sparsity, 2) for s in expected.layers]
    assert low["accuracy"] != high["accuracy"] and low["chart"] != high["chart"]
    assert percents(low["chart"])[-1] < percents(high["chart"])[-1]


def test_every_method_and_model_gives_all_outputs():
    for model in app.model_status()[0]:
        for method in app.list_methods():
            out = run(model=model, method=method, amount=0.4)
            assert "accuracy-panel" in out["accuracy"] and "sparsity-chart" in out["chart"]
            assert out["session"].result.config.model == model
            assert model in out["accuracy"]                          # never another model's numbers


def test_sketch_reuses_the_pruned_model_and_shows_predictions(mnist_test):
    first = run(amount=0.6)
    sketch = drawn_copy(mnist_test.images[0].numpy(), 9, 50, 100)
    second = run(amount=0.6, sketch=sketch, session=first["session"])
    assert second["session"].result is first["session"].result     # same setting: no re-pruning
    assert second["seen"].shape == (28 * app.SEEN_SCALE, 28 * app.SEEN_SCALE)
    label = str(int(mnist_test.labels[0]))
    assert max(second["before"], key=second["before"].get) == label
    assert set(second["after"]) == {str(d) for d in range(10)}
    assert abs(sum(second["after"].values()) - 1) < 1e-4


def test_blank_sketch_shows_a_hint():
    out = run(sketch={"background": None, "layers": [], "composite": np.zeros((280, 280, 4), np.uint8)})
    assert out["seen"] is None and out["before"] == app.BLANK_HINT == out["after"]


@pytest.mark.parametrize("changes, message", [
    ({"amount": -0.1}, "amount"), ({"amount": 1.5}, "amount"), ({"amount": float("nan")}, "amount"),
    ({"amount": float("inf")}, "amount"), ({"amount": "lots"}, "amount"), ({"model": "resnet"}, "model"),
    ({"method": "magic"}, "method"), ({"scope": "everywhere"}, "scope"), ({"layer_types": ["lstm"]}, "layer"),
    ({"per_type": True, "scope": "local", "conv_amount": 2.0}, "conv"), ({"seed": -1}, "seed"),
    ({"calibration_size": 10**6}, "calibration"), ({"per_type": True, "scope": "global"}, "local"),
])
def test_bad_values_raise_a_clear_gradio_error(changes, message):
    with pytest.raises(gr.Error, match=message):
        run(**changes)


def test_a_bad_sketch_warns_and_keeps_serving():
    out = run(sketch="/no/such/file.png")
    assert out["before"] == app.BLANK_HINT and "accuracy-panel" in out["accuracy"]


def test_resample_changes_the_strip_but_not_the_result():
    first = run()
    strip, session = app.resample(first["session"])
    assert session.result is first["session"].result and session.sample != first["session"].sample
    assert strip.count("<figure") == app.STRIP_SIZE


def test_method_help_swaps_amount_for_threshold():
    text, amount, threshold = app.method_help("threshold")
    assert "threshold" in text and amount["visible"] is False and threshold["visible"] is True
    _, amount, threshold = app.method_help("l1_unstructured")
    assert amount["visible"] is True and threshold["visible"] is False
