"""The main view's event functions (ui/handlers.py), called directly: outputs follow the engine, each
page keeps its own session, errors are clean."""
from __future__ import annotations

import threading
from types import SimpleNamespace

import gradio as gr
import numpy as np
import pytest
from PIL import Image

from models import get_model_entry, list_models
from pruning import PruneConfig, list_methods, prune_model
from pruning.sketch import preprocess_sketch
from tests.ui_helpers import (drawn_copy, engine_labels, new_request, pad_value, percents, run, seen_pixels,
                              top)
from ui import handlers
from ui.resources import eval_set, model_status

SKIPPED = gr.skip()            # what an event function returns for an output it leaves as it is
# (the drawing's labels start with handlers.BLANK_HINT on the page; updates leave them until a drawing)


def test_changed_amount_changes_chart_accuracy_and_sparsity_like_the_engine():
    low, high = run(amount=0.3), run(amount=0.9)
    for out, amount in ((low, 0.3), (high, 0.9)):
        expected = prune_model("lenet", PruneConfig(amount=amount, scope="global"), eval_set=eval_set())
        assert f"{100 * expected.accuracy_after:.2f}%" in out["accuracy"]
        assert f"Global sparsity <b>{100 * expected.global_sparsity:.2f}%" in out["chart"]
        layer_percents = percents(out["chart"])[:len(expected.layers)]
        assert layer_percents == [round(100 * s.sparsity, 2) for s in expected.layers]
    assert low["accuracy"] != high["accuracy"] and low["chart"] != high["chart"]
    assert percents(low["chart"])[-1] < percents(high["chart"])[-1]


def test_every_method_and_model_gives_all_outputs():
    request = new_request()
    for model in model_status()[0]:
        for method in list_methods():
            out = run(request, model=model, method=method, amount=0.4)
            fresh = run(model=model, method=method, amount=0.4)           # a new page gets every view
            assert "accuracy-panel" in out["accuracy"] and "sparsity-chart" in fresh["chart"]
            assert out["chart"] in (fresh["chart"], SKIPPED)       # skipped only if the page already shows it
            assert handlers.current_result(request).config.model == model
            assert handlers.current_result(request).config.method == method
            assert f"({model})" in out["accuracy"]                     # never another model's numbers


def test_the_same_setting_again_reuses_the_result_and_a_new_one_prunes_again():
    first = run(amount=0.6)
    result = handlers.current_result(first["request"])
    again = run(first["request"], amount=0.6)
    assert handlers.current_result(first["request"]) is result
    assert again["accuracy"].replace('data-answer="4"', "") == first["accuracy"].replace('data-answer="2"', "")
    assert all(again[name] == SKIPPED for name in ("chart", "explain", "strip", "images", "grid"))  # not re-sent
    run(first["request"], amount=0.7)
    assert handlers.current_result(first["request"]).config.amount == 0.7


def test_each_page_keeps_its_own_result():
    one, other = run(model="mlp", amount=0.9), run(model="lenet", amount=0.2)
    assert handlers.current_result(one["request"]).config.model == "mlp"
    assert handlers.current_result(other["request"]).config.amount == 0.2
    assert "(mlp)" in run(one["request"], model="mlp", amount=0.9)["accuracy"]


def test_direct_calls_without_a_request_share_one_local_session():
    outputs = handlers.update("mlp", "l1_unstructured", 0.35, 0.05, "global", False, 0.2, 0.4,
                              ["conv", "linear"], 256, "L1", 0)
    assert "accuracy-panel" in outputs[0]
    assert handlers.current_result(None).config.amount == 0.35
    assert handlers.current_result(gr.Request()).config.amount == 0.35    # no session hash: the same one


def test_drawing_shows_what_the_model_sees_and_its_labels_before_and_after(mnist_test):
    page = run(amount=0.6)
    sketch = pad_value(drawn_copy(mnist_test.images[0].numpy(), 9, 50, 100))
    seen, before, after = handlers.draw(sketch, page["request"])
    assert np.array_equal(seen_pixels(seen), preprocess_sketch(sketch)[0])          # (28, 28)
    assert top(before) == str(int(mnist_test.labels[0]))
    assert set(after) == {str(d) for d in range(10)} and abs(sum(after.values()) - 1) < 1e-4
    want_before, want_after = engine_labels(preprocess_sketch(sketch)[1], handlers.current_result(page["request"]))
    assert before == pytest.approx(want_before, abs=1e-6) and after == pytest.approx(want_after, abs=1e-6)


def test_a_drawing_stays_with_its_page_and_updates_show_its_labels_without_resending_it(mnist_test):
    page = run(amount=0.3)
    sketch = pad_value(drawn_copy(mnist_test.images[1].numpy(), 9, 50, 100))
    _, before, _ = handlers.draw(sketch, page["request"])
    later = run(page["request"], amount=0.95)                     # a slider move: no drawing sent
    want_before, want_after = engine_labels(preprocess_sketch(sketch)[1],
                                            handlers.current_result(page["request"]))
    assert later["before"] == pytest.approx(want_before, abs=1e-6) == before
    assert later["after"] == pytest.approx(want_after, abs=1e-6)
    other = run(amount=0.95)                                       # another page has drawn nothing:
    assert other["before"] == SKIPPED == other["after"]            # its labels keep their hint


def test_drawing_before_any_pruning_shows_the_digit_and_the_first_update_labels_it(mnist_test):
    request = new_request()
    sketch = pad_value(drawn_copy(mnist_test.images[2].numpy(), 9, 50, 100))
    seen, before, after = handlers.draw(sketch, request)
    assert seen_pixels(seen).shape == (28, 28) and before == SKIPPED == after     # nothing pruned yet
    out = run(request, model="mlp")
    assert top(out["before"]) == str(int(mnist_test.labels[2])) and out["after"] != handlers.BLANK_HINT


@pytest.mark.parametrize("blank", ["", "transparent", "white"])
def test_a_blank_or_cleared_pad_shows_a_hint_and_forgets_the_previous_digit(mnist_test, blank):
    page = run()
    handlers.draw(pad_value(drawn_copy(mnist_test.images[0].numpy(), 9, 50, 100)), page["request"])
    value = {"": "", "transparent": pad_value(np.zeros((280, 280, 4), np.uint8)),       # "": Clear pressed
             "white": pad_value(np.full((280, 280, 3), 255, np.uint8))}[blank]
    seen, before, after = handlers.draw(value, page["request"])
    assert seen_pixels(seen) is None and "nothing drawn" in seen
    assert before == handlers.BLANK_HINT == after
    later = run(page["request"], amount=0.7)                        # the hint stays: no labels sent
    assert later["before"] == SKIPPED == later["after"]


@pytest.mark.parametrize("changes, message", [
    ({"amount": -0.1}, "amount"), ({"amount": 1.5}, "amount"), ({"amount": float("nan")}, "amount"),
    ({"amount": float("inf")}, "amount"), ({"amount": "lots"}, "amount"), ({"model": "resnet"}, "model"),
    ({"method": "magic"}, "method"), ({"scope": "everywhere"}, "scope"), ({"layer_types": ["lstm"]}, "layer"),
    ({"per_type": True, "scope": "local", "conv_amount": 2.0}, "conv"), ({"seed": -1}, "seed"),
    ({"calibration_size": 10**6}, "calibration"),
])   # per type ticked under global scope is not an error: the page switches it off there (test_inputs)
def test_bad_values_raise_a_clear_gradio_error(changes, message):
    with pytest.raises(gr.Error, match=message):
        run(**changes)


def test_a_bad_setting_leaves_the_page_s_result_as_it_was():
    page = run(amount=0.4)
    result = handlers.current_result(page["request"])
    with pytest.raises(gr.Error):
        run(page["request"], amount=1.5)
    assert handlers.current_result(page["request"]) is result


def test_an_unreadable_drawing_warns_and_keeps_serving():
    page = run()
    with pytest.warns(UserWarning, match="Could not read the drawing"):
        seen, before, after = handlers.draw("data:image/png;base64,bm90IGFuIGltYWdl", page["request"])
    assert seen_pixels(seen) is None and before == handlers.BLANK_HINT == after
    assert "accuracy-panel" in run(page["request"], amount=0.6)["accuracy"]


def test_a_file_path_sent_as_the_drawing_is_not_opened(mnist_test, tmp_path):
    # the pad's value comes from a browser or an API client: a server path must not be read
    path = tmp_path / "digit.png"
    Image.fromarray(drawn_copy(mnist_test.images[0].numpy(), 9, 50, 100)["composite"]).save(path)
    page = run()
    with pytest.warns(UserWarning, match="Could not read the drawing"):
        seen, before, after = handlers.draw(str(path), page["request"])
    assert seen_pixels(seen) is None and before == handlers.BLANK_HINT == after


def test_resample_changes_the_strip_but_not_the_result_and_the_page_keeps_the_new_sample():
    page = run()
    result = handlers.current_result(page["request"])
    old_sample = list(handlers.SESSIONS.peek(page["request"].session_hash).sample)
    strip, images = handlers.resample(page["request"])
    session = handlers.SESSIONS.peek(page["request"].session_hash)
    assert handlers.current_result(page["request"]) is result and session.sample != old_sample
    assert strip.count("<figure") == handlers.STRIP_SIZE and strip != page["strip"]
    assert "pl-img-" in images and all(f"pl-img-{i}{{" in images for i in session.sample)
    assert run(page["request"])["strip"] == SKIPPED                 # the next update: the same digits, not re-sent
    assert run(page["request"], amount=0.7)["strip"].count(f"pl-img-{session.sample[0]}") == 1
    assert session.sample != old_sample


def test_resample_before_any_pruning_changes_nothing():
    assert handlers.resample(new_request()) == (SKIPPED, SKIPPED)


def test_new_samples_are_distinct_indices_of_the_set():
    sample = handlers.new_sample(1000, seed=3)
    assert len(set(sample)) == handlers.STRIP_SIZE and all(0 <= i < 1000 for i in sample)
    assert sample == handlers.new_sample(1000, seed=3) != handlers.new_sample(1000, seed=4)
    assert sorted(handlers.new_sample(5)) == [0, 1, 2, 3, 4]       # a set smaller than the strip: all of it


def test_method_help_swaps_amount_for_threshold():
    text, amount, threshold = handlers.method_help("threshold")[:3]        # (text, amount, threshold, ...)
    assert "threshold" in text and amount["visible"] is False and threshold["visible"] is True
    _, amount, threshold = handlers.method_help("l1_unstructured")[:3]
    assert amount["visible"] is True and threshold["visible"] is False
    assert all(output == SKIPPED for output in handlers.method_help("magic"))


def test_model_help_describes_the_architecture():
    for name in list_models():
        assert handlers.model_help(name) == f"_{get_model_entry(name).description}_"
    assert handlers.model_help("resnet") == ""


def test_page_header_names_the_evaluation_set():
    assert eval_set().describe() in handlers.page_header()


def test_an_update_that_finishes_late_never_replaces_a_newer_setting(monkeypatch):
    """Two updates of one page overlap (a slow setting, then a quick one): the page keeps the newer."""
    request, held, release = new_request(), threading.Event(), threading.Event()
    real_measured = handlers.shared.measured

    def measured(config, *args, **kwargs):
        if config.amount == 0.3:                   # the older update: held until the newer one is stored
            held.set()
            assert release.wait(60)
        return real_measured(config, *args, **kwargs)

    monkeypatch.setattr(handlers.shared, "measured", measured)
    older = {}
    thread = threading.Thread(target=lambda: older.update(run(request, model="mlp", amount=0.3)))
    thread.start()
    assert held.wait(60)
    newer = run(request, model="mlp", amount=0.8)
    stored = handlers.current_result(request)
    release.set()
    thread.join(60)
    assert not thread.is_alive() and "accuracy-panel" in newer["accuracy"]
    assert all(value == SKIPPED for name, value in older.items() if name != "request")   # overtaken: no change
    assert handlers.current_result(request) is stored and stored.config.amount == 0.8


def test_a_new_page_refused_by_the_session_store_gets_a_message_and_open_pages_keep_working(monkeypatch):
    page = run(model="mlp")
    monkeypatch.setattr(handlers.SESSIONS, "new_per_minute", 0)
    with pytest.raises(gr.Error, match="Too many new sessions from your address"):
        run(model="mlp")
    assert "accuracy-panel" in run(page["request"], model="mlp", amount=0.7)["accuracy"]


def test_current_result_before_any_pruning_asks_to_prune_first():
    with pytest.raises(gr.Error, match="Prune a model first"):
        handlers.current_result(new_request())


def test_the_explanation_is_ready_html_naming_the_method_and_the_layers_that_lost_most_and_least():
    out = run(amount=0.6)                                     # lenet, global: layers lose unequal shares
    expected = prune_model("lenet", PruneConfig(amount=0.6, scope="global"), eval_set=eval_set())
    most = max(expected.layers, key=lambda layer: layer.sparsity)
    least = min(expected.layers, key=lambda layer: layer.sparsity)
    text = out["explain"]
    assert text.startswith('<div class="prose pl-explain"') and "**" not in text
    assert "<b>l1_unstructured</b>" in text and "Global scope" in text
    assert f"<b>{most.name}</b> lost the most ({100 * most.sparsity:.1f}%" in text
    assert f"<b>{least.name}</b> the least ({100 * least.sparsity:.1f}%)" in text
    assert 'class="pl-for pl-set-' in text                   # stamped with its setting


@pytest.mark.parametrize("measured, running, starting, words", [
    (4, True, False, "4 of 9 settings measured on this server; measuring the rest in the background"),
    (4, False, True, "4 of 9 settings measured on this server; background measuring starts in a few seconds"),
    (4, False, False, "4 of 9 settings measured on this server; background measuring is off"),
    (9, False, False, "all 9 settings measured on this server"),
])
def test_the_grid_note_says_what_the_background_measuring_is_doing(monkeypatch, measured, running, starting, words):
    from pruning.grid import GridStatus
    status = GridStatus(measured, 9, running)
    monkeypatch.setattr(handlers, "grid_filler", lambda: SimpleNamespace(status=lambda: status))
    monkeypatch.setattr(handlers, "grid_starting", lambda: starting)
    assert words in handlers.grid_note()
