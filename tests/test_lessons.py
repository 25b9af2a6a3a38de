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
from tests.ui_helpers import api_args


def prepared(name: str, **setting) -> gr.Request:
    request = gr.Request(session_hash=name)
    handlers.update(*api_args(**setting), request=request)
    return request


def test_what_changed_shows_the_engines_numbers_and_pages_the_changed_digits():
    request = prepared("changes", model="mlp", amount=0.8)
    summary, per_class, confusion, gallery, page = lessons.show_changes("became_wrong", 2, request)
    expected = what_changed(prune_model("mlp", PruneConfig(model="mlp", amount=0.8, scope="global"),
                                        eval_set=eval_set()), eval_set())
    assert f"{expected.counts()['became_wrong']:,} became wrong" in summary
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
