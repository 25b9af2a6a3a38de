"""The app's event functions, called directly: outputs follow the engine, errors are clean."""
import base64
import io
import os
import re
import subprocess
import sys
from pathlib import Path

import gradio as gr
import numpy as np
import pytest
from PIL import Image

import app
from pruning import PruneConfig, prune_model
from pruning.sketch import preprocess_sketch
from tests.test_sketch import drawn_copy

DEFAULTS = dict(model="lenet", method="l1_unstructured", amount=0.5, threshold=0.05, scope="global",
                per_type=False, conv_amount=0.2, linear_amount=0.4, layer_types=["conv", "linear"],
                calibration_size=256, norm="L1", seed=0, sketch=None, session=None)


def seen_pixels(html: str) -> np.ndarray | None:
    """The digit shown under "What the model sees" (decoded from its inline PNG); None if no image."""
    found = re.search(r'src="data:image/png;base64,([^"]+)"', html)
    return None if found is None else np.asarray(Image.open(io.BytesIO(base64.b64decode(found.group(1)))))


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
    assert np.array_equal(seen_pixels(second["seen"]), preprocess_sketch(sketch)[0])    # (28, 28)
    label = str(int(mnist_test.labels[0]))
    assert max(second["before"], key=second["before"].get) == label
    assert set(second["after"]) == {str(d) for d in range(10)}
    assert abs(sum(second["after"].values()) - 1) < 1e-4


def test_blank_sketch_shows_a_hint():
    out = run(sketch={"background": None, "layers": [], "composite": np.zeros((280, 280, 4), np.uint8)})
    assert seen_pixels(out["seen"]) is None and "nothing drawn" in out["seen"]
    assert out["before"] == app.BLANK_HINT == out["after"]


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


class NoProgress:
    """Stands in for gr.Progress when event functions are called directly."""

    def __call__(self, fraction, desc=None):
        self.last = (fraction, desc)


@pytest.mark.parametrize("handler, args", [
    (app.curves, ("amount",)), (app.run_finetune, (10,)), (app.run_iterative, (2, 10)),
    (app.size_and_speed, ()), (app.export, (False,)), (app.inspect_layer, ("conv1",)),
])
def test_advanced_tabs_before_any_pruning_ask_to_prune_first(handler, args):
    with pytest.raises(gr.Error, match="Prune a model first"):
        handler(None, *args) if handler in (app.export, app.inspect_layer) else handler(None, *args, NoProgress())


def test_finetune_and_iterative_report_every_stage():
    session = run(model="mlp", amount=0.8)["session"]
    text, figure, session = app.run_finetune(session, 20, NoProgress())
    assert "dense" in text and "pruned" in text and "fine-tuning steps" in text and figure is not None
    assert session.finetuned.config == session.result.config
    table, figure = app.run_iterative(session, 2, 10, NoProgress())
    assert table.count("\n| ") == 3                                  # header + 2 rounds
    with pytest.raises(gr.Error, match="steps"):
        app.run_finetune(session, 10**6, NoProgress())                # over the cap


def test_size_and_speed_structured_and_unstructured():
    structured = run(model="mlp", method="ln_structured", amount=0.5, scope="local")["session"]
    table = app.size_and_speed(structured, NoProgress())
    assert "**shrunk**" in table and "equal" in table
    unstructured = run(model="mlp", amount=0.9)["session"]
    assert "CSR" in app.size_and_speed(unstructured, NoProgress())


def test_export_round_trip_gives_identical_predictions(heldout):
    import torch
    from pruning import load_checkpoint
    from pruning.evaluate import predictions
    session = run(model="lenet", method="ln_structured", amount=0.4, scope="local")["session"]
    path, note = app.export(session, use_finetuned=False)
    model, meta = load_checkpoint(path)
    assert meta["model_name"] == "lenet" and "Wrote" in note
    assert torch.equal(predictions(model, "lenet", heldout), predictions(session.result.model, "lenet", heldout))


def test_inspect_layer_gives_histogram_and_filter_grid():
    session = run(model="lenet")["session"]
    choices, histogram, grid = app.inspect_layer(session, "conv2")
    assert choices["value"] == "conv2" and "fc3" in choices["choices"]
    assert histogram is not None and grid is not None


def test_curves_mark_the_current_setting_and_are_cached():
    session = run(model="mlp", amount=0.5)["session"]
    progress = NoProgress()
    figure = app.curves(session, "amount", progress)
    assert figure is not None and hasattr(progress, "last")        # the progress bar moved
    again = NoProgress()
    app.curves(session, "sparsity", again)
    assert again.last == (1.0, "sweep taken from the cache")       # cached: computed once per server


def test_old_exports_are_deleted(monkeypatch, tmp_path):
    monkeypatch.setattr(app, "EXPORT_DIR", str(tmp_path))
    (tmp_path / "old.pt").write_bytes(b"x")
    (tmp_path / "new.pt").write_bytes(b"x")
    old_time = os.path.getmtime(tmp_path / "new.pt") - app.EXPORT_MAX_AGE_S - 10
    os.utime(tmp_path / "old.pt", (old_time, old_time))
    app._delete_old_exports()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["new.pt"]


@pytest.mark.slow
def test_the_app_removes_its_temporary_directories_when_it_exits(tmp_path):
    script = "import os, app; print(app.EXPORT_DIR); print(os.environ['MPLCONFIGDIR'])"
    env = {k: v for k, v in os.environ.items() if k != "MPLCONFIGDIR"}
    done = subprocess.run([sys.executable, "-c", script], cwd=Path(app.__file__).parent, env=env,
                          capture_output=True, text=True, timeout=300)
    exports, mpl = done.stdout.split()
    assert done.returncode == 0 and "pruning-lab-exports-" in exports and "pruning-lab-mpl-" in mpl
    assert not os.path.exists(exports) and not os.path.exists(mpl)
    given = tmp_path / "mpl"                                   # a directory the user chose is left alone
    given.mkdir()
    done = subprocess.run([sys.executable, "-c", script], cwd=Path(app.__file__).parent,
                          env={**env, "MPLCONFIGDIR": str(given)}, capture_output=True, text=True, timeout=300)
    assert done.stdout.split()[1] == str(given) and given.is_dir()


@pytest.mark.slow
def test_a_server_stopped_with_sigterm_exits_cleanly_and_removes_its_exports_folder(tmp_path):
    from bench.common import free_port, start_app, wait_for_http
    port = free_port()
    server = start_app(port, env={"TMPDIR": str(tmp_path), "MPLCONFIGDIR": str(tmp_path / "mpl")})
    try:
        wait_for_http(f"http://127.0.0.1:{port}/", server)
        assert len(list(tmp_path.glob("pruning-lab-exports-*"))) == 1
        server.terminate()                                        # SIGTERM, as a service manager stops it
        assert server.wait(timeout=60) == 0
    finally:
        server.kill()
    assert list(tmp_path.glob("pruning-lab-exports-*")) == []
