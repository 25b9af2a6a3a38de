"""Pruning Lab: the Gradio app. Pick a model, a method, an amount and a scope; see what pruning does."""
from __future__ import annotations

import argparse
import atexit
import logging
import math
import os
import random
import shutil
import signal
import tempfile
import time
from dataclasses import dataclass, field, replace
from functools import lru_cache


def _scratch_dir(prefix: str) -> str:
    """A new temporary directory, removed with its contents when this process exits."""
    path = tempfile.mkdtemp(prefix=prefix)
    atexit.register(shutil.rmtree, path, ignore_errors=True)
    return path


os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
if "MPLCONFIGDIR" not in os.environ:
    os.environ["MPLCONFIGDIR"] = _scratch_dir("pruning-lab-mpl-")    # no ~/.config writes
os.environ.setdefault("MPLBACKEND", "agg")

import gradio as gr  # noqa: E402
from PIL import Image  # noqa: E402

from models import get_model_entry, list_models  # noqa: E402
from pruning import (CheckpointError, DataError, PruneConfig, PruneResult, builtin_heldout,  # noqa: E402
                     default_eval_set, get_method, list_methods, load_pretrained, prune_model)
from pruning.evaluate import probabilities  # noqa: E402
from pruning import finetune as tuning, inspection, plots  # noqa: E402
from pruning.export import export_pruned  # noqa: E402
from pruning.size import shrink_report, sparse_size  # noqa: E402
from pruning.sweep import cached_sweep  # noqa: E402
from pruning.sketch import SketchError, preprocess_sketch  # noqa: E402
from pruning import views  # noqa: E402

log = logging.getLogger("pruning_lab")
STRIP_SIZE = 12
BLANK_HINT = "✏️ Draw a digit on the pad"
TIME_BUDGET_S = 90.0     # a heavy request (sweep, fine-tuning, shrinking) stops after this long
BUSY_HINT = "the server is busy, try again in a while."   # for work the user cannot make smaller
EXPORT_DIR = _scratch_dir("pruning-lab-exports-")
MAX_UPLOAD_PIXELS = 4096 * 4096
Image.MAX_IMAGE_PIXELS = MAX_UPLOAD_PIXELS  # PIL refuses 2x this outright ("exceeds limit"): no huge decodes
# show_error: a bad value sent straight to the API gets its message, e.g. a string for a number
LAUNCH_OPTIONS = {"show_error": True, "max_file_size": "10mb", "state_session_capacity": 200}
EXPORT_MAX_AGE_S = 3600  # exported files older than this are deleted at the next export
SAMPLE_SEED = 0


@lru_cache(maxsize=1)
def eval_set_and_note():
    """The evaluation set (official test split if configured, else built-in) and a note for the page."""
    try:
        eval_set = default_eval_set()
        return eval_set, f"Evaluating on **{eval_set.describe()}**."
    except DataError as err:
        eval_set = builtin_heldout()
        return eval_set, f"⚠️ {err}. Evaluating on **{eval_set.describe()}** instead."


@lru_cache(maxsize=1)
def model_status() -> tuple[list[str], dict[str, str]]:
    """(usable model names, {broken model: reason}); a bad checkpoint disables only its model."""
    usable, broken = [], {}
    for name in list_models():
        try:
            load_pretrained(name)
            usable.append(name)
        except (CheckpointError, ValueError) as err:
            log.error("model %s disabled: %s", name, err)
            broken[name] = str(err)
    return usable, broken


@dataclass
class Session:
    """Per-browser-session state: the last result (and its pruned model) and the digit sample."""

    result: PruneResult | None = None
    sample: list[int] = field(default_factory=list)
    finetuned: tuning.FinetuneResult | None = None


def new_sample(size: int, seed: int | None = None) -> list[int]:
    """Indices of `STRIP_SIZE` digits of the evaluation set."""
    rng = random.Random(seed)
    return sorted(rng.sample(range(size), min(STRIP_SIZE, size)))


def build_config(model: str, method: str, amount, threshold, scope: str, per_type: bool, conv_amount,
                 linear_amount, layer_types, calibration_size, norm, seed) -> PruneConfig:
    """A validated PruneConfig from raw UI/API values; bad values raise gr.Error with the reason."""
    usable, broken = model_status()
    if model in broken:
        raise gr.Error(f"Model {model} is disabled: {broken[model]}")
    try:
        return PruneConfig(model=model, method=method, amount=_number(amount, "amount"),
                           threshold=_number(threshold, "threshold"), scope=scope,
                           conv_amount=_number(conv_amount, "conv amount") if per_type else None,
                           linear_amount=_number(linear_amount, "linear amount") if per_type else None,
                           layer_types=tuple(layer_types or ()), calibration_size=_whole(calibration_size),
                           norm=_whole(str(norm).lstrip("L")), seed=_whole(seed))
    except ValueError as err:
        raise gr.Error(str(err)) from None


def _number(value, what: str) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{what} must be a number, got {value!r}") from None
    if not math.isfinite(number):
        raise ValueError(f"{what} must be a finite number, got {value!r}")
    return number


def _whole(value) -> int:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return value  # PruneConfig names the field and the bad value
    return int(number) if number.is_integer() else value


def sketch_outputs(sketch, result: PruneResult):
    """(HTML of the image the model sees, top-3 before, top-3 after) for the drawn digit; hints when blank."""
    try:
        processed = preprocess_sketch(sketch)
    except SketchError as err:
        gr.Warning(f"Could not read the drawing: {err}")
        processed = None
    if processed is None:
        return views.seen_digit(None), BLANK_HINT, BLANK_HINT
    digit, x = processed                                           # (28, 28) uint8, (1, 1, 28, 28)
    base = load_pretrained(result.config.model)[0]
    before = probabilities(base, result.config.model, x)[0]
    after = probabilities(result.model, result.config.model, x)[0]
    return views.seen_digit(digit), views.top_classes(before), views.top_classes(after)


def update(model, method, amount, threshold, scope, per_type, conv_amount, linear_amount, layer_types,
           calibration_size, norm, seed, sketch, session: Session | None):
    """Every output from one PruneResult; re-prunes only when the setting changed."""
    config = build_config(model, method, amount, threshold, scope, per_type, conv_amount, linear_amount,
                          layer_types, calibration_size, norm, seed)
    eval_set, _ = eval_set_and_note()
    session = session or Session(sample=new_sample(len(eval_set), SAMPLE_SEED))
    if session.result is None or session.result.config != config:
        session = Session(prune_model(config.model, config, eval_set=eval_set), session.sample)
    result = session.result
    seen, before, after = sketch_outputs(sketch, result)
    return (views.accuracy_panel(result), views.sparsity_chart(result), views.explanation(result),
            views.digit_strip(result, eval_set, session.sample), seen, before, after, session)


def resample(session: Session | None):
    """A new random strip of test digits (same pruning result)."""
    eval_set, _ = eval_set_and_note()
    if session is None or session.result is None:
        return gr.skip(), session
    session = replace(session, sample=new_sample(len(eval_set)))
    return views.digit_strip(session.result, eval_set, session.sample), session


def method_help(method: str):
    """Description of the method; the threshold slider replaces the amount slider where it applies."""
    entry = get_method(method)
    tags = ["structured: removes whole filters/neurons" if entry.structured else "unstructured: single weights"]
    if entry.data_driven:
        tags.append("uses calibration digits")
    text = f"{entry.description} _({'; '.join(tags)})_"
    return text, gr.update(visible=not entry.uses_threshold), gr.update(visible=entry.uses_threshold)


def _current(session: Session | None) -> PruneResult:
    if session is None or session.result is None:
        raise gr.Error("Prune a model first: pick a setting on the left.")
    return session.result


def budgeted(progress: gr.Progress, seconds: float = TIME_BUDGET_S, hint: str = "try fewer steps or rounds."):
    """An engine progress callback that updates the bar and stops work past the time budget."""
    deadline = time.monotonic() + seconds

    def report(fraction: float, message: str) -> None:
        if time.monotonic() > deadline:
            raise gr.Error(f"Stopped after {seconds:.0f} s (this server's time budget per request): {hint}")
        progress(fraction, desc=message)
    return report


def curves(session: Session | None, x_axis: str, progress=gr.Progress()):
    """Accuracy-vs-amount curves for the selected model (computed once per server, then cached)."""
    result = _current(session)
    eval_set, _ = eval_set_and_note()
    sweep = cached_sweep(result.config.model, eval_set,
                         progress=budgeted(progress, hint=BUSY_HINT))
    current = {"method": result.config.method, "scope": result.config.scope, "amount": result.config.amount}
    return plots.sweep_figure(sweep, current, x_axis)


def run_finetune(session: Session | None, steps, progress=gr.Progress()):
    """Prune (current setting), fine-tune with masks fixed, report accuracy at each stage."""
    config, (eval_set, _) = _current(session).config, eval_set_and_note()
    try:
        tuned = tuning.prune_and_finetune(config.model, config, steps=_whole(steps), eval_set=eval_set,
                                          progress=budgeted(progress))
    except gr.Error:             # the time budget's own message (gr.Error is a ValueError)
        raise
    except ValueError as err:
        raise gr.Error(str(err)) from None
    session.finetuned = tuned
    return views.finetune_summary(tuned), plots.finetune_figure(tuned), session


def run_iterative(session: Session | None, rounds, steps, progress=gr.Progress()):
    """k rounds of prune -> fine-tune up to the current amount (Han et al. style)."""
    config, (eval_set, _) = _current(session).config, eval_set_and_note()
    try:
        result = tuning.iterative_prune(config.model, config, rounds=_whole(rounds), steps_per_round=_whole(steps),
                                        eval_set=eval_set, progress=budgeted(progress))
    except gr.Error:
        raise
    except ValueError as err:
        raise gr.Error(str(err)) from None
    return views.iterative_table(result), plots.iterative_figure(result)


def size_and_speed(session: Session | None, progress=gr.Progress()):
    """Structured: dense vs masked vs shrunk network. Unstructured: file size, dense vs sparse."""
    result, (eval_set, _) = _current(session), eval_set_and_note()
    if get_method(result.config.method).structured:
        report = shrink_report(result.config.model, result.config, eval_set, repeats=3,
                               progress=budgeted(progress, hint=BUSY_HINT))
        return views.shrink_table(report)
    return views.sparse_size_table(sparse_size(result.model))


def export(session: Session | None, use_finetuned: bool):
    """A self-describing file of the pruned (or pruned + fine-tuned) model to download."""
    result = _current(session)
    _delete_old_exports()
    tuned = session.finetuned if use_finetuned and session.finetuned is not None \
        and session.finetuned.config == result.config else None
    if use_finetuned and tuned is None:
        gr.Warning("No fine-tuned model for this setting yet: exporting the pruned one.")
    model = tuned.model if tuned else result.model
    metrics = {"eval_set": result.eval_set, "accuracy_dense": result.accuracy_before,
               "accuracy_pruned": result.accuracy_after}
    if tuned:
        metrics.update(accuracy_finetuned=tuned.accuracy_finetuned, finetune_steps=tuned.steps)
    name = f"{result.config.model}-{result.config.method}-{result.config.scope}-{int(time.time() * 1000)}.pt"
    written = export_pruned(model, result.config.model, os.path.join(EXPORT_DIR, name), result.config,
                            metrics=metrics)
    return written.path, views.export_note(written)


def _delete_old_exports(now: float | None = None) -> None:
    """Keep the export folder bounded: remove files older than EXPORT_MAX_AGE_S."""
    now = time.time() if now is None else now
    for entry in os.scandir(EXPORT_DIR):
        if entry.is_file() and now - entry.stat().st_mtime > EXPORT_MAX_AGE_S:
            os.remove(entry.path)


def inspect_layer(session: Session | None, layer: str | None):
    """Weight-magnitude histogram (cut marked) and the filters with their masks, for one layer."""
    result = _current(session)
    dense = load_pretrained(result.config.model)[0]
    layers = inspection.layer_names(dense)
    layer = layer if layer in layers else layers[0]
    histogram = plots.histogram_figure(inspection.weight_histogram(dense, result.model, layer))
    grid = plots.filter_grid_figure(inspection.filter_grid(dense, result.model, layer))
    return gr.update(choices=layers, value=layer), histogram, grid


def model_help(model: str) -> str:
    """One line about the selected architecture."""
    return f"_{get_model_entry(model).description}_"


def page_header() -> str:
    _, note = eval_set_and_note()
    _, broken = model_status()
    disabled = "".join(f"\n\n⚠️ Model **{name}** is disabled: {reason}" for name, reason in broken.items())
    return note + disabled


def build_demo() -> gr.Blocks:
    usable, _ = model_status()
    methods = list_methods()
    with gr.Blocks(title="Pruning Lab", analytics_enabled=False, delete_cache=(600, 3600)) as demo:
        gr.Markdown("# ✂️ Pruning Lab\nPrune a pretrained digit classifier and see at once which layers "
                    "lose weights, what happens to test accuracy, and how its answers change.")
        gr.HTML(f"<style>{views.CSS}</style>", padding=False)
        header = gr.Markdown()
        with gr.Row():
            with gr.Column(scale=2, min_width=300):
                model = gr.Dropdown(usable, value=usable[0] if usable else None, label="Model")
                model_text = gr.Markdown(model_help(usable[0]) if usable else "No model could be loaded.")
                method = gr.Dropdown(methods, value=methods[0], label="Pruning method")
                method_text = gr.Markdown(method_help(methods[0])[0])
                amount = gr.Slider(0, 0.99, value=0.5, step=0.01, label="Amount (fraction to remove)",
                                   elem_id="amount-slider")
                threshold = gr.Slider(0, 0.5, value=0.05, step=0.005, visible=False,
                                      label="Threshold (|w| below it is removed)")
                scope = gr.Radio(["local", "global"], value="global", label="Scope",
                                 info="local: each layer loses the amount; global: one ranking over all layers")
                with gr.Accordion("Advanced", open=False):
                    per_type = gr.Checkbox(False, label="Separate amounts per layer type (local scope)")
                    conv_amount = gr.Slider(0, 0.99, value=0.2, step=0.01, label="Conv layers amount")
                    linear_amount = gr.Slider(0, 0.99, value=0.4, step=0.01, label="Linear layers amount")
                    layer_types = gr.CheckboxGroup(["conv", "linear"], value=["conv", "linear"],
                                                   label="Layer types to prune")
                    norm = gr.Radio(["L1", "L2"], value="L1", label="Norm (ln_structured)")
                    calibration_size = gr.Slider(16, 1024, value=256, step=16,
                                                 label="Calibration digits (gradient, taylor, activation)")
                    seed = gr.Number(0, precision=0, minimum=0, label="Random seed")
            with gr.Column(scale=3, min_width=360):
                with gr.Tabs():
                    with gr.Tab("Result"):
                        accuracy = gr.HTML(label="Accuracy")
                        chart = gr.HTML(label="Per-layer sparsity")
                        explain = gr.Markdown(label="What was removed")
                    with gr.Tab("Accuracy curves"):
                        gr.Markdown("Accuracy over amounts 0–0.95 for every method and both scopes "
                                    "(computed once per model on this server, then cached; ★ = your setting).")
                        x_axis = gr.Radio(["amount", "sparsity"], value="amount", label="x axis")
                        curves_button = gr.Button("Compute / show curves", variant="primary")
                        curves_plot = gr.Plot(label="Accuracy vs pruning")
                    with gr.Tab("Fine-tune"):
                        gr.Markdown("Retrain the pruned model on training digits with its masks fixed "
                                    "(pruned weights stay exactly zero).")
                        steps = gr.Slider(10, tuning.MAX_FINETUNE_STEPS, value=100, step=10, label="Steps")
                        finetune_button = gr.Button("Prune + fine-tune", variant="primary")
                        finetune_text = gr.Markdown()
                        finetune_plot = gr.Plot(label="Fine-tuning")
                        gr.Markdown("**Iterative pruning**: k rounds of prune → fine-tune up to the amount "
                                    "on the left.")
                        rounds = gr.Slider(1, tuning.MAX_ROUNDS, value=3, step=1, label="Rounds")
                        round_steps = gr.Slider(10, tuning.MAX_FINETUNE_STEPS, value=50, step=10,
                                                label="Steps per round")
                        iterative_button = gr.Button("Run iterative pruning")
                        iterative_text = gr.Markdown()
                        iterative_plot = gr.Plot(label="Rounds")
                    with gr.Tab("Size & speed"):
                        gr.Markdown("Structured methods: the pruned filters/neurons are physically removed "
                                    "(torch-pruning) and dense, masked and shrunk networks are measured. "
                                    "Unstructured methods: file size, dense vs sparse encodings.")
                        size_button = gr.Button("Measure", variant="primary")
                        size_text = gr.Markdown()
                    with gr.Tab("Inspect"):
                        layer = gr.Dropdown([], label="Layer", allow_custom_value=True)
                        inspect_button = gr.Button("Show weights", variant="primary")
                        histogram_plot = gr.Plot(label="Weight magnitudes")
                        grid_plot = gr.Plot(label="Filters and masks")
                    with gr.Tab("Export"):
                        use_finetuned = gr.Checkbox(False, label="Export the fine-tuned model (if any)")
                        export_button = gr.Button("Export pruned model", variant="primary")
                        export_file = gr.File(label="Download", interactive=False)
                        export_text = gr.Markdown()
        gr.Markdown("### Your digit\nDraw a digit: it is cropped, scaled into 20×20 and centred like MNIST.")
        with gr.Row():
            with gr.Column(scale=1, min_width=320):
                sketch = gr.Sketchpad(label="Draw a digit (pick the brush, then draw)", canvas_size=(280, 280),
                                      height=380, fixed_canvas=True, layers=False,
                                      brush=gr.Brush(default_size=12, colors=["#000000"], color_mode="fixed"),
                                      elem_id="sketchpad")
            with gr.Column(scale=1, min_width=320):
                seen = gr.HTML(views.seen_digit(None), elem_id="sketch-seen")
                with gr.Row():
                    before = gr.Label(num_top_classes=3, label="Before pruning", elem_id="label-before")
                    after = gr.Label(num_top_classes=3, label="After pruning", elem_id="label-after")
        gr.Markdown("### Real test digits\nPredicted digit before → after pruning.")
        strip = gr.HTML(label="Test digits")
        resample_button = gr.Button("New sample", size="sm")
        session = gr.State(None, time_to_live=3600)

        controls = [model, method, amount, threshold, scope, per_type, conv_amount, linear_amount,
                    layer_types, calibration_size, norm, seed, sketch, session]
        outputs = [accuracy, chart, explain, strip, seen, before, after, session]
        model.change(model_help, model, model_text, queue=False, api_visibility="private")
        method.change(method_help, method, [method_text, amount, threshold], queue=False,
                      api_visibility="private")
        gr.on([demo.load, model.change, method.change, amount.release, threshold.release, scope.change,
               per_type.change, conv_amount.release, linear_amount.release, layer_types.change,
               calibration_size.release, norm.change, seed.change, sketch.change],
              update, controls, outputs, trigger_mode="always_last", api_name="update")
        demo.load(page_header, None, header, queue=False, api_visibility="private")
        resample_button.click(resample, session, [strip, session], api_name="resample")
        heavy = dict(concurrency_limit=1, concurrency_id="heavy")
        curves_button.click(curves, [session, x_axis], curves_plot, api_name="curves", **heavy)
        finetune_button.click(run_finetune, [session, steps], [finetune_text, finetune_plot, session],
                              api_name="finetune", **heavy)
        iterative_button.click(run_iterative, [session, rounds, round_steps], [iterative_text, iterative_plot],
                               api_name="iterative", **heavy)
        size_button.click(size_and_speed, session, size_text, api_name="size", **heavy)
        inspect_button.click(inspect_layer, [session, layer], [layer, histogram_plot, grid_plot],
                             api_name="inspect")
        export_button.click(export, [session, use_finetuned], [export_file, export_text], api_name="export")
    return demo


demo = build_demo()
demo.queue(max_size=64, default_concurrency_limit=2)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Run the Pruning Lab web app.")
    parser.add_argument("--host", help="address to serve on (default 127.0.0.1 or $GRADIO_SERVER_NAME); "
                                       "0.0.0.0 for a workshop on your network")
    parser.add_argument("--port", type=int, help="port (default 7860 or $GRADIO_SERVER_PORT)")
    parser.add_argument("--share", action="store_true", help="also create a public gradio.live link")
    parser.add_argument("--data-dir", help="directory with the MNIST test split (IDX files, .gz or not); "
                                           "default $PRUNING_LAB_DATA_DIR, else the built-in held-out digits")
    args = parser.parse_args(argv)
    if args.data_dir:
        os.environ["PRUNING_LAB_DATA_DIR"] = args.data_dir
        eval_set_and_note.cache_clear()
    logging.basicConfig(level=logging.INFO)
    signal.signal(signal.SIGTERM, signal.default_int_handler)   # stop like Ctrl-C: close, clean up (atexit)
    try:
        demo.launch(server_name=args.host, server_port=args.port, share=args.share, **LAUNCH_OPTIONS)
    except KeyboardInterrupt:                                   # stopped while still starting up
        demo.close()


if __name__ == "__main__":
    main()
