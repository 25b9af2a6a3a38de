"""Event functions of the tabs beyond the result: curves, fine-tuning, size & speed, inspection, export."""
from __future__ import annotations

import os
import time
from collections.abc import Iterator
from typing import Any, Callable

import gradio as gr

from pruning import PruneConfig, load_pretrained
from pruning import finetune as tuning
from pruning import inspection, iterative
from pruning.export import export_pruned
from pruning.runtime import run_in_background
from pruning.size import shrink_report, sparse_size
from pruning.sweep_cache import SweepJob
from ui import plots, views
from ui.curve_marks import pattern_marks
from ui.curves import curves_html, curves_pending
from ui.environment import scratch_dir
from ui.handlers import current_result, existing_session
from ui.inputs import user_errors, whole
from ui.resources import eval_set, store, sweep_cache
from ui.stamp import stamp

TIME_BUDGET_S = 90.0     # a heavy request (fine-tuning, shrinking, waiting for curves) stops after this long
BUSY_HINT = "the server is busy, try again in a while."   # for work the user cannot make smaller
EXPORT_MAX_AGE_S = 3600  # exported files older than this are deleted at the next export
CURVES_REFRESH_S = 1.0   # while a sweep runs, the plot is redrawn this often (when new lines came)
# What each tab's stamp says to press once the setting has moved on (the buttons' own words)
AGAIN = {"finetune": "press Prune + fine-tune", "iterative": "press Run iterative pruning",
         "size": "press Measure", "inspect": "press Show weights", "export": "press Export pruned model"}


def budgeted(progress: gr.Progress, seconds: float = TIME_BUDGET_S,
             hint: str = "try fewer steps or rounds.") -> Callable[[float, str], None]:
    """An engine progress callback that updates the bar and stops work past the time budget."""
    deadline = time.monotonic() + seconds

    def report(fraction: float, message: str) -> None:
        if time.monotonic() > deadline:
            raise gr.Error(f"Stopped after {seconds:.0f} s (this server's time budget per request): {hint}")
        progress(fraction, desc=message)
    return report


def curves(x_axis: str, request: gr.Request | None = None, progress=gr.Progress()) -> Iterator[Any]:
    """Accuracy-vs-amount curves of the current model, drawn as the lines come in (computed once per
    server and kept on disk; a sweep already running for another user is shared). Past the time budget
    the request ends with the lines so far and a note; the sweep itself goes on for the next click."""
    current = current_result(request)                        # the star: this result, as measured
    session = existing_session(request)
    pinned = [result for result, _ in session.pinned] if session is not None else []
    with user_errors():
        job = sweep_cache().job(current.config.model, eval_set())
    deadline, shown, patterns = time.monotonic() + TIME_BUDGET_S, -1, []
    while True:
        finished = job.done.wait(CURVES_REFRESH_S)
        out_of_time = not finished and time.monotonic() > deadline
        partial = job.result
        if partial is not None and (len(partial.points) != shown or finished or out_of_time):
            shown = len(partial.points)
            with user_errors():
                patterns = patterns or pattern_marks(partial, eval_set(), store())     # N:M: one point per pattern
                yield curves_html(partial, current, x_axis, _curves_status(job, finished, out_of_time), pinned,
                                  patterns)
        elif partial is None and out_of_time:                    # not one line yet: the note alone
            yield curves_pending(_curves_status(job, finished, out_of_time))
        if finished or out_of_time:
            break
        progress(job.fraction, desc=job.message)
    if job.error is not None:
        raise gr.Error(f"The curves could not be computed: {views.first_line(job.error)}")


def _curves_status(job: SweepJob, finished: bool, out_of_time: bool) -> str | None:
    """The line above a partial plot: still computing, or (past the budget) where to find the rest."""
    if finished:
        return None
    if out_of_time:
        return (f"Shown after {TIME_BUDGET_S:.0f} s, {100 * job.fraction:.0f}% computed: the server is busy. The "
                "rest is still being computed: click again in a while to see more lines.")
    return f"Still computing: {job.message} ({100 * job.fraction:.0f}%)…"


def run_finetune(steps: Any, request: gr.Request | None = None, progress=gr.Progress()):
    """Prune (the setting the page shows now), fine-tune with masks fixed, report each stage."""
    config = current_result(request).config
    with user_errors():
        tuned = run_in_background(tuning.prune_and_finetune, config.model, config, steps=whole(steps),
                                  eval_set=eval_set(), progress=budgeted(progress))
    session = existing_session(request)
    if session is not None:
        session.store_finetuned(tuned)          # its own output only: the pruning result stays the page's
    text = f"{views.finetune_summary(tuned)}\n\n{plots.loss_note(len(tuned.losses))}"
    return stamped(config, "finetune", text), plots.finetune_figure(tuned)


def run_iterative(rounds: Any, steps: Any, request: gr.Request | None = None, progress=gr.Progress()):
    """k rounds of prune -> fine-tune up to the current amount (Han et al. style)."""
    config = current_result(request).config
    with user_errors():
        result = run_in_background(iterative.iterative_prune, config.model, config, rounds=whole(rounds),
                                   steps_per_round=whole(steps), eval_set=eval_set(),
                                   progress=budgeted(progress))
    text = f"{views.iterative_table(result)}\n\n{plots.axis_note(result)}"
    return stamped(config, "iterative", text), plots.iterative_figure(result)


def size_and_speed(request: gr.Request | None = None, progress=gr.Progress()) -> str:
    """Structured: dense vs masked vs shrunk network. Unstructured: file size, dense vs sparse."""
    result = current_result(request)
    if result.config.method_entry.structured:
        with user_errors():
            report = run_in_background(shrink_report, result.config.model, result.config, eval_set(), repeats=3,
                                       progress=budgeted(progress, hint=BUSY_HINT))
        return stamped(result.config, "size", views.shrink_table(report))
    return stamped(result.config, "size", views.sparse_size_table(sparse_size(result.model)))


def export(use_finetuned: bool, request: gr.Request | None = None):
    """A self-describing file of the pruned (or pruned + fine-tuned) model to download."""
    result = current_result(request)
    session = existing_session(request)
    directory = scratch_dir("pruning-lab-exports-")
    delete_old_exports(directory)
    tuned = session.finetuned_for(result) if use_finetuned and session is not None else None
    if use_finetuned and tuned is None:
        gr.Warning("No fine-tuned model for this setting yet: exporting the pruned one.")
    metrics = {"eval_set": result.eval_set, "accuracy_dense": result.accuracy_before,
               "accuracy_pruned": result.accuracy_after}
    if tuned:
        metrics.update(accuracy_finetuned=tuned.accuracy_finetuned, finetune_steps=tuned.steps)
    written = export_pruned(tuned.model if tuned else result.model, result.config.model,
                            os.path.join(directory, export_name(result.config, tuned is not None)),
                            result.config, metrics=metrics)
    return written.path, stamped(result.config, "export", views.export_note(written, tuned is not None))


def export_name(config: PruneConfig, finetuned: bool, now: float | None = None) -> str:
    """The exported file's name: the setting, and whether the model was fine-tuned after pruning
    (lenet-l1_unstructured-global-0.50-finetuned-1712345678901.pt)."""
    method = config.method_entry
    amount = f"t{config.threshold:g}" if method.uses_threshold else \
        f"{config.amount:.2f}" if method.uses_amount else str(config.nm).replace(":", "of")
    kind = "finetuned" if finetuned else "pruned"
    return f"{config.model}-{config.method}-{config.scope}-{amount}-{kind}-{int((now or time.time()) * 1000)}.pt"


def stamped(config: PruneConfig, tab: str, text: str) -> str:
    """A tab's text under its stamp: which setting it was made for, and (once that changes) what to press."""
    return f"{stamp(config, AGAIN[tab])}\n\n{text}"


def delete_old_exports(directory: str, now: float | None = None) -> None:
    """Keep the export folder bounded: remove files older than EXPORT_MAX_AGE_S."""
    now = time.time() if now is None else now
    for entry in os.scandir(directory):
        if entry.is_file() and now - entry.stat().st_mtime > EXPORT_MAX_AGE_S:
            os.remove(entry.path)


def inspect_layer(layer: str | None, request: gr.Request | None = None):
    """Weight-magnitude histogram (cut marked) and the filters with their masks, for one layer, and
    the stamp naming the setting they show."""
    result = current_result(request)
    dense = load_pretrained(result.config.model)[0]
    layers = inspection.layer_names(dense)
    layer = layer if layer in layers else layers[0]
    histogram = plots.histogram_figure(inspection.weight_histogram(dense, result.model, layer))
    grid = plots.filter_grid_figure(inspection.filter_grid(dense, result.model, layer))
    return gr.update(choices=layers, value=layer), histogram, grid, stamp(result.config, AGAIN["inspect"])
