"""The lessons beyond one prune: what changed, per-layer sensitivity, prune x quantize, N:M, compare."""
from __future__ import annotations

import os
import threading
from typing import Any

import gradio as gr

from pruning import PruneConfig
from pruning.changes import FILTERS, what_changed
from pruning.runtime import run_in_background
from pruning.sensitivity import Sensitivity, compare_allocation
from pruning.size import sparse_size
from ui import lesson_views as lv
from ui.glossary import term
from ui.lesson_steps import from_any_thread, quantize_in_steps, scan_in_steps
from ui.stamp import stamp
from ui.environment import scratch_dir
from ui.handlers import current_result, existing_session
from ui.inputs import number, user_errors, whole
from ui.resources import eval_set
from ui.tabs import budgeted

MAX_PINNED = 8
PAGE_SIZE = 24
MAX_SCANS = 16                  # sensitivity scans kept (shared by every session)
QUANTIZE_REPEATS = 3
FILTER_LABELS = {"all": "any change", "became_wrong": "became wrong (right → wrong)",
                 "became_right": "became right (wrong → right)"}
_scans: dict[PruneConfig, Sensitivity] = {}
_scans_lock = threading.Lock()


def quiet_stamp(config: PruneConfig, again: str) -> str:
    """The stamp, not shown: a view beside a stamped one is dimmed with it (one visible line per view)."""
    return f'<div hidden>{stamp(config, again)}</div>'


def show_changes(filter_name: Any, page: Any, request: gr.Request | None = None):
    """Per-class accuracy, confusion matrices, and one page of the digits whose prediction changed."""
    result = current_result(request)
    changes = what_changed(result, eval_set())
    counts = changes.counts()
    if filter_name not in FILTERS:
        raise gr.Error(f"Unknown filter; choose one of: {', '.join(FILTERS)}")
    pages = max(1, -(-counts[filter_name] // PAGE_SIZE))
    page = whole(page)
    page = min(max(1, page), pages) if isinstance(page, int) else 1        # past the end: the last page
    shown = changes.page(filter_name, page, PAGE_SIZE)
    again = "press Show what changed"
    summary = (f"{counts['all']:,} of {len(eval_set()):,} predictions changed: {counts['became_wrong']:,} "
               f"{term('became_wrong')}, {counts['became_right']:,} {term('became_right')}."
               f"\n\n{stamp(result.config, again)}")
    quiet = quiet_stamp(result.config, again)
    return (summary, f"{lv.per_class_table(changes)}\n\n{quiet}", lv.confusion_html(changes) + quiet,
            lv.changed_gallery(shown, eval_set()) + quiet, gr.update(maximum=max(1, shown.pages), value=shown.page))


def _scan(config: PruneConfig, report) -> Sensitivity:
    """The sensitivity scan of a setting's method and fixed settings (kept, shared by every session),
    reporting each layer as it starts when it is measured now."""
    with _scans_lock:
        found = _scans.get(config)
    if found is None:
        found = scan_in_steps(config, eval_set(), report)
        with _scans_lock:
            _scans[config] = found
            while len(_scans) > MAX_SCANS:
                _scans.pop(next(iter(_scans)))
    return found


def _scan_config(result) -> PruneConfig:
    c = result.config
    return PruneConfig(model=c.model, method=c.method, layer_types=c.layer_types, norm=c.norm,
                       calibration_size=c.calibration_size, seed=c.seed)


def scan_layers(request: gr.Request | None = None, progress=gr.Progress()) -> str:
    """Accuracy vs amount with one layer pruned at a time, for the current model and method."""
    result = current_result(request)
    report = from_any_thread(budgeted(progress, hint="the server is busy, try again in a while."))
    report(0.0, "waiting for the server's measuring queue")
    with user_errors():
        scan = run_in_background(_scan, _scan_config(result), report)
    return lv.sensitivity_html(scan) + stamp(result.config, "press Scan layers")


def allocate_layers(target: Any, request: gr.Request | None = None, progress=gr.Progress()):
    """Per-layer amounts for a target sparsity from the scan, measured beside local and global."""
    result = current_result(request)
    config = _scan_config(result)
    report = from_any_thread(budgeted(progress, hint="the server is busy, try again in a while."))
    report(0.0, "waiting for the server's measuring queue")
    with user_errors():
        scan = run_in_background(_scan, config, report)
        report(0.95, "pruning with the allocated amounts, then local and global at the same sparsity")
        comparison = run_in_background(compare_allocation, config, scan, number(target), eval_set())
    amounts = ", ".join(f"{n}={a:g}" for n, a in comparison.allocated.config.layer_amounts)
    return f"{lv.allocation_table(comparison)}\n\n{stamp(result.config, 'press Allocate and compare')}", amounts


def quantize(request: gr.Request | None = None, progress=gr.Progress()) -> str:
    """The 2x2 grid dense/pruned x fp32/int8 for the current setting, and the lesson of order."""
    config = current_result(request).config
    report = from_any_thread(budgeted(progress, hint="the server is busy, try again in a while."))
    report(0.0, "waiting for the server's measuring queue")
    with user_errors():
        grid = run_in_background(quantize_in_steps, config, eval_set(), QUANTIZE_REPEATS, report)
    return f"{lv.quantize_table(grid)}\n\n{stamp(config, 'press Measure prune × quantize')}"


def pin(request: gr.Request | None = None):
    """Keep the current result in this session's comparison table (at most MAX_PINNED, oldest dropped)."""
    result = current_result(request)
    session = existing_session(request)
    file_bytes = sparse_size(result.model).zlib_bytes
    if not any(p.config == result.config for p, _ in session.pinned):
        session.pinned = (session.pinned + [(result, file_bytes)])[-MAX_PINNED:]
    newest = next(i for i, (p, _) in enumerate(session.pinned, start=1) if p.config == result.config)
    return (f"{lv.pinned_table(lv.pinned_rows(session.pinned))}\n\nRow {newest} is this one:"
            f"\n{stamp(result.config, 'press 📌 Pin')}")


def clear_pins(request: gr.Request | None = None):
    session = existing_session(request)
    if session is not None:
        session.pinned = []
    return lv.pinned_table([]), None


def pins_csv(request: gr.Request | None = None):
    """The pinned results as a CSV file to download."""
    session = existing_session(request)
    if session is None or not session.pinned:
        raise gr.Error("Pin a result first.")
    path = os.path.join(scratch_dir("pruning-lab-exports-"), f"pinned-{id(session):x}.csv")
    with open(path, "w") as f:
        f.write(lv.pinned_csv(lv.pinned_rows(session.pinned)))
    return path


def changes_section() -> dict:
    """In the Result tab: a button that shows what changed, with the filter and page of changed digits."""
    w = {}
    with gr.Accordion("What changed: per class, confusions, every changed digit", open=False):
        w["button"] = gr.Button("Show what changed", size="sm", elem_id="changes-button")
        w["summary"] = gr.Markdown(elem_id="changes-summary")
        w["per_class"] = gr.Markdown()
        w["confusion"] = gr.HTML()
        with gr.Row():
            w["filter"] = gr.Radio([(FILTER_LABELS[f], f) for f in FILTERS], value="became_wrong",
                                   label="Changed digits")
            w["page"] = gr.Number(1, precision=0, minimum=1, label="Page")
        w["gallery"] = gr.HTML()
    return w


def lesson_tabs() -> dict:
    """The tabs: sensitivity and allocation, compare."""
    w = {}
    with gr.Tab("Sensitivity"):
        gr.Markdown("Which layers can lose how much? Each layer pruned alone with the current method "
                    "(amounts 10–90%), accuracy on the evaluation set. Then **allocate**: per-layer amounts that "
                    "reach a target sparsity with the least predicted loss, measured beside local and global.")
        w["scan_button"] = gr.Button("Scan layers", variant="primary", elem_id="scan-button")
        w["scan_plot"] = gr.HTML(elem_id="scan-plot")
        w["target"] = gr.Slider(0.1, 0.85, value=0.7, step=0.05, label="Target sparsity of the pruned layers")
        w["allocate_button"] = gr.Button("Allocate and compare", elem_id="allocate-button")
        w["allocation"] = gr.Markdown(elem_id="allocation")
        w["allocated"] = gr.Textbox(label="Allocated amount per layer", interactive=False, buttons=["copy"],
                                    elem_id="allocated")
        w["copy_button"] = gr.Button("Copy into Advanced (switches to local scope)", size="sm",
                                     elem_id="copy-into-advanced")
        w["copy_note"] = gr.Markdown(elem_id="copy-note")
    with gr.Tab("Quantize"):
        gr.Markdown("Does pruning compose with int8 quantization, and in which order? The current setting, dense "
                    "and pruned, in fp32 and int8: accuracy, file size and CPU time over the evaluation set.")
        w["quantize_button"] = gr.Button("Measure prune × quantize", variant="primary", elem_id="quantize-button")
        w["quantize_text"] = gr.Markdown(elem_id="quantize-text")
    with gr.Tab("Compare"):
        gr.Markdown("Pin results to compare them side by side (up to 8 per session); download them as CSV.")
        with gr.Row():
            w["pin_button"] = gr.Button("📌 Pin the current result", variant="primary")
            w["clear_button"] = gr.Button("Clear")
            w["csv_button"] = gr.Button("Download CSV")
        w["pinned"] = gr.Markdown(lv.pinned_table([]), elem_id="pinned")
        w["csv"] = gr.File(label="CSV", interactive=False)
    return w


def wire_lessons(changes: dict, lessons: dict, heavy: dict) -> None:
    """The lessons' events."""
    outputs = [changes["summary"], changes["per_class"], changes["confusion"], changes["gallery"], changes["page"]]
    changes["button"].click(show_changes, [changes["filter"], changes["page"]], outputs, api_name="changes")
    gr.on([changes["filter"].change, changes["page"].submit], show_changes, [changes["filter"], changes["page"]],
          outputs, api_visibility="private")
    lessons["scan_button"].click(scan_layers, None, lessons["scan_plot"], api_name="sensitivity", **heavy)
    lessons["allocate_button"].click(allocate_layers, lessons["target"], [lessons["allocation"], lessons["allocated"]],
                                     api_name="allocate", **heavy)
    lessons["quantize_button"].click(quantize, None, lessons["quantize_text"], api_name="quantize", **heavy)
    lessons["pin_button"].click(pin, None, lessons["pinned"], api_name="pin")
    lessons["clear_button"].click(clear_pins, None, [lessons["pinned"], lessons["csv"]], api_visibility="private")
    lessons["csv_button"].click(pins_csv, None, lessons["csv"], api_name="pinned_csv")
