"""The lessons' event functions: what changed, sensitivity and allocation, quantize, pin and compare."""
from __future__ import annotations

import csv
import re

import gradio as gr
import pytest

from pruning import PruneConfig, prune_model
from pruning.changes import what_changed
from ui import handlers, lessons
from ui.resources import eval_set
from ui.stamp import setting_id
from tests.ui_helpers import NoProgress, api_args


def plain(text: str) -> str:
    """What a reader sees of a view's HTML/Markdown: the tags gone, the glossary's hidden meanings too."""
    text = re.sub(r'<span class="pl-term-tip"[^>]*>.*?</span>', "", text)
    return re.sub(r"<[^>]+>", "", text)


def stamps(view: str) -> list[str]:
    """The setting ids of a view's stamps."""
    return re.findall(r'class="pl-for pl-set-(\w+)"', view)


def prepared(name: str, **setting) -> gr.Request:
    request = gr.Request(session_hash=name)
    handlers.update(*api_args(**setting), request=request)
    return request


def test_what_changed_shows_the_engines_numbers_and_pages_the_changed_digits():
    request = prepared("changes", model="mlp", amount=0.8)
    summary, per_class, confusion, gallery, page = lessons.show_changes("became_wrong", 2, request)
    expected = what_changed(prune_model("mlp", PruneConfig(model="mlp", amount=0.8, scope="global"),
                                        eval_set=eval_set()), eval_set())
    assert f"{expected.counts()['became_wrong']:,} became wrong" in plain(summary)
    for c in expected.per_class:
        assert f"| {c.digit} | {c.count:,} | {100 * c.accuracy_before:.2f}% | {100 * c.accuracy_after:.2f}% |" in per_class
    shown = expected.page("became_wrong", 2, lessons.PAGE_SIZE)
    assert re.findall(r"#(\d+) true", gallery) == [str(i) for i in shown.indices]
    assert confusion.count("<table>") == 3 and page["value"] == 2
    *_, last = lessons.show_changes("became_wrong", 10_000, request)            # past the end: the last page
    assert last["value"] == shown.pages
    with pytest.raises(gr.Error, match="Unknown filter"):
        lessons.show_changes("<b>bad</b>", 1, request)


def test_pins_keep_at_most_eight_results_and_download_as_csv():
    request = prepared("pins", model="mlp")
    for amount in (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.9):
        handlers.update(*api_args(model="mlp", amount=amount), request=request)
        table = lessons.pin(request)
    rows = list(csv.DictReader(open(lessons.pins_csv(request))))
    assert len(rows) == lessons.MAX_PINNED and [r["amount"] for r in rows][-1] == "0.90"   # no duplicate of 0.9
    assert rows[0]["amount"] == "0.20" and table.count("| mlp |") == lessons.MAX_PINNED
    assert lessons.clear_pins(request)[0].startswith("_Nothing pinned")
    with pytest.raises(gr.Error, match="Pin a result first"):
        lessons.pins_csv(request)


def test_sensitivity_and_allocation_through_the_tab():
    request = prepared("scan", model="mlp", amount=0.5)
    plot = lessons.scan_layers(request)
    assert 'data-layer="fc1"' in plot and 'data-layer="fc2"' in plot
    table, amounts = lessons.allocate_layers(0.6, request)
    assert "allocated per layer" in table and "local (uniform)" in table and "global" in table
    assert re.fullmatch(r"fc1=[\d.]+, fc2=[\d.]+", amounts)
    with pytest.raises(gr.Error, match="target"):
        lessons.allocate_layers(0.99, request)


def test_quantize_tab_shows_the_grid_and_the_order_lesson():
    request = prepared("quantize", model="mlp", amount=0.5)
    text = lessons.quantize(request)
    assert all(name in text for name in ("dense · fp32", "dense · int8", "pruned · fp32", "pruned · int8"))
    assert "every one is still exactly 0" in text and "Order matters" in text


def test_the_lessons_ask_to_prune_first():
    for call in (lambda r: lessons.show_changes("all", 1, r), lessons.scan_layers, lessons.pin, lessons.quantize):
        with pytest.raises(gr.Error, match="Prune a model first"):
            call(gr.Request(session_hash="never-pruned"))


def test_what_changed_names_its_setting_once_and_every_part_is_dimmed_with_it():
    request = prepared("changes-stamp", model="mlp", amount=0.7)
    summary, per_class, confusion, gallery, _ = lessons.show_changes("all", 1, request)
    shown = setting_id(PruneConfig(model="mlp", amount=0.7, scope="global"))
    assert "For mlp · l1_unstructured · amount 0.70 · global" in plain(summary)
    assert all(stamps(view) == [shown] for view in (summary, per_class, confusion, gallery))
    assert all("<div hidden>" in view for view in (per_class, confusion, gallery))   # one visible line
    assert "<div hidden>" not in summary and '<span class="pl-for-again">press Show what changed</span>' in summary
    assert "became_wrong" not in plain(summary) and "became wrong" in plain(summary)


def test_the_changed_digits_filter_shows_words_and_sends_the_engines_names():
    labels = dict((value, label) for label, value in [(lessons.FILTER_LABELS[f], f) for f in lessons.FILTERS])
    assert set(labels) == set(lessons.FILTERS) and not any("_" in label for label in labels.values())


def test_the_scan_moves_its_progress_layer_by_layer_and_is_kept(monkeypatch):
    monkeypatch.setattr(lessons, "_scans", {})
    request = prepared("scan-progress", model="mlp", amount=0.4)
    progress = NoProgress()
    plot = lessons.scan_layers(request, progress=progress)
    fractions = [f for f, _ in progress.calls]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0 and 0 < fractions[2] < 1
    assert any(desc.startswith("layer fc1 (1 of 2): amounts 0.10 to 0.90") for _, desc in progress.calls)
    assert any(desc.startswith("layer fc2 (2 of 2)") for _, desc in progress.calls)
    assert stamps(plot) == [setting_id(PruneConfig(model="mlp", amount=0.4, scope="global"))]
    again = NoProgress()
    assert lessons.scan_layers(request, progress=again) == plot and len(again.calls) == 1   # kept: no new scan


def test_quantize_moves_its_progress_step_by_step_and_names_its_setting():
    request = prepared("quantize-progress", model="mlp", amount=0.6)
    progress = NoProgress()
    text = lessons.quantize(request, progress=progress)
    fractions = [f for f, _ in progress.calls]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0 and len(fractions) > 10
    descriptions = [desc for _, desc in progress.calls]
    assert "accuracy of pruned · int8 (4 of 4)" in descriptions
    assert f"timing dense · fp32, round {lessons.QUANTIZE_REPEATS} of {lessons.QUANTIZE_REPEATS}" in descriptions
    assert stamps(text) == [setting_id(PruneConfig(model="mlp", amount=0.6, scope="global"))]


def test_allocation_and_pins_name_their_setting():
    request = prepared("stamps", model="mlp", amount=0.3)
    table, _ = lessons.allocate_layers(0.6, request)
    current = setting_id(PruneConfig(model="mlp", amount=0.3, scope="global"))
    assert stamps(table) == [current] and '<span class="pl-for-again">press Allocate and compare</span>' in table
    pinned = lessons.pin(request)
    assert stamps(pinned) == [current] and "Row 1 is this one" in pinned
    handlers.update(*api_args(model="mlp", amount=0.35), request=request)
    assert stamps(lessons.pin(request)) == [setting_id(PruneConfig(model="mlp", amount=0.35, scope="global"))]
