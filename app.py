"""Pruning Lab: the Gradio app. Pick a model, a method, an amount and a scope; see what pruning does."""
from __future__ import annotations

import argparse
import gc
import logging
import os
import signal

from ui import environment

environment.prepare()       # before gradio is imported: analytics off, private temp folders

import gradio as gr  # noqa: E402
from PIL import Image  # noqa: E402

from pruning import finetune as tuning, grid, iterative, list_methods, runtime  # noqa: E402
from starlette.middleware import Middleware  # noqa: E402

from ui import advanced, fairness, glossary, guard, handlers, lessons, links, papers  # noqa: E402
from ui import layout, presenter, preview, stamp, tabs, views, workshop  # noqa: E402
from ui.blocks import LabBlocks  # noqa: E402
from ui.components import lenient  # noqa: E402
from ui.curves import CURVES_JS  # noqa: E402
from ui.drawpad import drawpad  # noqa: E402
from ui.resources import eval_set_and_note, grid_filler, model_status, start_grid_after, sweep_cache  # noqa: E402

MAX_UPLOAD_PIXELS = 4096 * 4096
Image.MAX_IMAGE_PIXELS = MAX_UPLOAD_PIXELS  # PIL refuses 2x this outright ("exceeds limit"): no huge decodes
# show_error: a bad value sent straight to the API gets its message, e.g. a string for a number
# run_history off: Gradio 6 would keep every event's inputs and outputs in the browser's localStorage
# (re-serialised on every slider release: ~12 ms of page work per event; and a shared workshop laptop
# would keep the last participant's runs)
LAUNCH_OPTIONS = {"show_error": True, "max_file_size": "10mb", "enable_monitoring": False, "run_history": False}
# Heavy work in one fair line per kind (ui.fairness), so a fine-tune never holds anyone's curves or size
# check, one participant's jobs go behind others' first ones, and a waiting job is told its place and wait
HEAVY = dict(concurrency_id="heavy")                  # measuring: size, scans, quantize
TRAINING = dict(concurrency_id="training")            # fine-tuning, iterative pruning, the papers' runs
CURVES = dict(concurrency_id="curves")                # mostly the store's grid: reads
LINES = {"heavy": fairness.FairLine("measuring"), "training": fairness.FairLine("training"),
         "curves": fairness.FairLine("curves", slots=2)}
# A stored setting is ~10 ms of work: most of an update's time is Gradio's own per-event awaiting, so more
# of them overlap; settings measured for the first time are one computation each (the store's single flight)
UPDATE_CONCURRENCY, QUEUE_SIZE = 8, 256


def controls_column(usable: list[str], methods: list[str]) -> dict:
    """The setting: model, method, amount, scope, and the advanced options."""
    c = {}
    c["model"] = gr.Dropdown(usable, value=usable[0] if usable else None, label="Model", elem_id="model-dropdown")
    c["model_text"] = gr.Markdown(handlers.model_help(usable[0]) if usable else "No model could be loaded.")
    c["method"] = gr.Dropdown(methods, value=methods[0], label="Pruning method", elem_id="method-dropdown")
    c["method_text"] = gr.Markdown(handlers.method_help(methods[0])[0])
    c["amount"] = gr.Slider(0, grid.AMOUNT_MAX, value=0.5, step=grid.AMOUNT_STEP, label="Amount (fraction to remove)",
                            elem_id="amount-slider")
    c["threshold"] = gr.Slider(0, grid.THRESHOLD_MAX, value=0.05, step=grid.THRESHOLD_STEP, visible=False,
                               label="Threshold (|w| below it is removed)")
    c["scope"] = gr.Radio(["local", "global"], value="global", label="Scope", elem_id="scope-radio",
                          info="local: each layer loses the amount; global: one ranking over all layers")
    with gr.Row():
        c["copy_link"] = gr.Button("🔗 Copy link to this setting", size="sm", elem_id="copy-link")
    c["link"] = gr.Textbox(label="Link to this setting", interactive=False, visible="hidden", max_lines=2,
                           elem_id="setting-link", buttons=["copy"])
    c["link_note"] = gr.Markdown(visible=False, elem_id="link-note")
    c["packed"] = gr.Textbox(visible=False, elem_id="setting-packed")          # the setting, packed by the page
    c["api_update"] = gr.Button(visible=False, elem_id="api-update")          # /update's trigger: the API only
    with gr.Accordion("Advanced", open=False) as c["advanced"]:
        c["per_type"] = gr.Checkbox(False, label="Separate amounts per layer type (local scope)", elem_id="per-type",
                                    interactive=False, info=advanced.PER_TYPE_OFF)
        c["conv_amount"] = gr.Slider(0, 0.99, value=0.2, step=0.01, label="Conv layers amount", interactive=False,
                                     elem_id="conv-amount", info=advanced.TYPE_SLIDERS_OFF)
        c["linear_amount"] = gr.Slider(0, 0.99, value=0.4, step=0.01, label="Linear layers amount",
                                       interactive=False, elem_id="linear-amount", info=advanced.TYPE_SLIDERS_OFF)
        c["layer_types"] = gr.CheckboxGroup(["conv", "linear"], value=["conv", "linear"],
                                            label="Layer types to prune")
        c["norm"] = gr.Radio(["L1", "L2"], value="L1", label="Filter ranking norm (structured methods)",
                             info="how ln_structured scores a filter/neuron: L1 sum of |w|, L2 root of squares")
        c["nm"] = gr.Dropdown(list(links.NM_PATTERNS), value="2:4", label="N:M pattern (keep N of every M weights)",
                              visible=False)
        c["layer_amounts"] = gr.Textbox("", label="Amount per layer, by name (local scope; overrides the sliders)",
                                        placeholder="e.g. conv1=0.1, fc1=0.8", max_lines=1,
                                        info="press Enter to apply", elem_id="layer-amounts")
        c["calibration_size"] = gr.Slider(16, 1024, value=256, step=16, label="Calibration digits: how many "
                                          "training digits score the weights (gradient, taylor, activation)")
        c["seed"] = gr.Number(0, precision=0, minimum=0, label="Random seed")
    c["glossary"] = gr.HTML(glossary.glossary_html() + f"<style>{advanced.CSS}</style>", padding=False)
    return c


def result_tabs() -> dict:
    """The tabs: result, curves, fine-tuning, size & speed, inspection, export, the lessons, the papers.
    The tab row wraps instead of hiding tabs behind a "more" menu: every tab is one tap away."""
    t = {}
    with gr.Tabs(overflow_behavior="wrap", elem_id="result-tabs"):
        with gr.Tab("Result"):
            t["accuracy"] = gr.HTML(label="Accuracy")
            t["chart"] = gr.HTML(label="Per-layer sparsity")
            t["grid"] = gr.HTML(preview.EMPTY, elem_id="grid-data", padding=False)   # the drag preview's points
            t["explain"] = gr.HTML(label="What was removed")
            t["changes"] = lessons.changes_section()
        with gr.Tab("Accuracy curves"):
            gr.Markdown("Accuracy over amounts 0–0.95 for every method and both scopes (computed once per "
                        "model on this server, then kept; ★ = your setting). Lines appear as they are computed. "
                        "Tap a point to read it, or Tab to a plot and step through its points with the arrows.")
            t["x_axis"] = gr.Radio(["amount", "sparsity"], value="amount", label="x axis")
            t["curves_button"] = gr.Button("Compute / show curves", variant="primary")
            t["curves_plot"] = gr.HTML(elem_id="curves")
        with gr.Tab("Fine-tune"):
            gr.Markdown("Retrain the pruned model on training digits with its masks fixed "
                        "(pruned weights stay exactly zero).")
            t["steps"] = gr.Slider(10, tuning.MAX_FINETUNE_STEPS, value=100, step=10, label="Steps")
            t["finetune_button"] = gr.Button("Prune + fine-tune", variant="primary")
            t["finetune_text"] = gr.Markdown()
            t["finetune_plot"] = gr.Plot(label="Fine-tuning", show_label=False, elem_id="finetune-plot")
            gr.Markdown("**Iterative pruning**: k rounds of prune → fine-tune up to the amount on the left.")
            t["rounds"] = gr.Slider(1, iterative.MAX_ROUNDS, value=3, step=1, label="Rounds")
            t["round_steps"] = gr.Slider(10, tuning.MAX_FINETUNE_STEPS, value=50, step=10, label="Steps per round")
            t["iterative_button"] = gr.Button("Run iterative pruning")
            t["iterative_text"] = gr.Markdown()
            t["iterative_plot"] = gr.Plot(label="Rounds", show_label=False, elem_id="iterative-plot")
        with gr.Tab("Size & speed"):
            gr.Markdown("Structured methods: the pruned filters/neurons are physically removed (torch-pruning) "
                        "and dense, masked and shrunk networks are measured. Unstructured methods: file size, "
                        "dense vs sparse encodings.")
            t["size_button"] = gr.Button("Measure", variant="primary")
            t["size_text"] = gr.Markdown()
        with gr.Tab("Inspect"):
            t["layer"] = gr.Dropdown([], value="", label="Layer (empty: the first)", allow_custom_value=True)
            t["inspect_button"] = gr.Button("Show weights", variant="primary")
            t["inspect_text"] = gr.Markdown()  # the stamp: which setting the plots show
            t["histogram_plot"] = gr.Plot(label="Weight magnitudes", show_label=False, elem_id="histogram-plot")
            t["grid_plot"] = gr.Plot(label="Filters and masks", show_label=False, elem_id="filters-plot")
        with gr.Tab("Export"):
            t["use_finetuned"] = gr.Checkbox(False, label="Export the fine-tuned model (if any)")
            t["export_button"] = gr.Button("Export pruned model", variant="primary")
            t["export_file"] = gr.File(label="Download", interactive=False)
            t["export_text"] = gr.Markdown()
        t["lessons"] = lessons.lesson_tabs()
        t["papers"] = papers.papers_tab()
    return t


def digit_section() -> dict:
    """The drawing pad with its predictions (beside it, or just under it on a phone: in view while
    drawing), what the model sees, and the strip of real test digits."""
    d = {}
    gr.Markdown("### Your digit\nDraw a digit: it is cropped, scaled into 20×20 and centred like MNIST.")
    with gr.Row(elem_id="digit-row"):
        with gr.Column(scale=1, min_width=300):
            d["sketch"] = drawpad(elem_id="sketchpad")
        with gr.Column(scale=1, min_width=300):
            with gr.Row(elem_id="digit-predictions"):
                d["before"] = gr.Label(handlers.BLANK_HINT, num_top_classes=3, label="Before pruning",
                                       elem_id="label-before", min_width=140)   # the hint until a drawing
                d["after"] = gr.Label(handlers.BLANK_HINT, num_top_classes=3, label="After pruning",
                                      elem_id="label-after", min_width=140)
            d["seen"] = gr.HTML(views.seen_digit(None), elem_id="sketch-seen")
    gr.Markdown("### Real test digits\nPredicted digit before → after pruning.")
    d["strip"] = gr.HTML(label="Test digits")
    d["images"] = gr.HTML("", elem_id="strip-images-holder", padding=False)     # the strip's images, once per sample
    d["resample_button"] = gr.Button("New sample", size="sm")
    return d


def wire(demo: gr.Blocks, c: dict, t: dict, d: dict, header: gr.Markdown) -> None:
    """The events: a setting change re-prunes; the drawing, the strip and each tab have their own."""
    setting = [c[name] for name in links.CONTROLS]
    outputs = [t["accuracy"], t["chart"], t["explain"], d["strip"], d["before"], d["after"], d["images"], t["grid"]]
    c["model"].change(handlers.model_help, c["model"], c["model_text"], queue=False, api_visibility="private")
    c["method"].change(handlers.method_help, c["method"], [c["method_text"], c["amount"], c["threshold"], c["nm"]],
                       queue=False, api_visibility="private", show_progress_on=c["method_text"])
    # The page packs the setting into one hidden input in the browser, then asks the server: Gradio's page
    # work per event grows with the inputs (14 of them cost more than the whole minimal app's event)
    page_update = dict(fn=handlers.update_page, inputs=c["packed"], outputs=outputs, trigger_mode="always_last",
                       concurrency_limit=UPDATE_CONCURRENCY, concurrency_id="update", api_visibility="private",
                       show_progress="minimal", show_progress_on=t["accuracy"])   # one spinner: less page work
    pack = dict(fn=None, inputs=setting, outputs=c["packed"], js=handlers.PACK_JS, queue=False)
    demo.load(links.apply_link, None, setting + [c["link_note"]], api_visibility="private",
              show_progress_on=c["link_note"]).then(**pack).then(**page_update, api_name="update_from_link")
    c["copy_link"].click(links.link_for, setting, c["link"], api_visibility="private").then(
        None, c["link"], c["link"], js=links.COPY_JS)
    gr.on([c["model"].change, c["method"].change, c["amount"].release, c["threshold"].release,
           c["scope"].change, c["per_type"].change, c["conv_amount"].release, c["linear_amount"].release,
           c["layer_types"].change, c["calibration_size"].release, c["norm"].change, c["seed"].change,
           c["nm"].change, c["layer_amounts"].submit], trigger_mode="always_last", **pack).then(
        **page_update, api_name="update_page")
    # /update: the same over HTTP with the controls as arguments (the page never presses this button)
    c["api_update"].click(handlers.update, setting, outputs, api_name="update", concurrency_limit=UPDATE_CONCURRENCY,
                          concurrency_id="update")
    d["sketch"].change(handlers.draw, d["sketch"], [d["seen"], d["before"], d["after"]],
                       trigger_mode="always_last", api_name="draw")
    demo.load(handlers.page_header, None, header, queue=False, api_visibility="private")
    d["resample_button"].click(handlers.resample, None, [d["strip"], d["images"]], api_name="resample")
    demo.load(None, js=preview.PREVIEW_JS)                     # the drag preview: in the page, no round trip
    demo.load(None, js=stamp.STAMP_JS)                         # stale views: dimmed, with what to press
    demo.load(None, js=CURVES_JS)                              # curves: tap to read; dimmed once the model changes
    t["curves_button"].click(tabs.curves, t["x_axis"], t["curves_plot"], api_name="curves", **CURVES)
    t["finetune_button"].click(tabs.run_finetune, t["steps"], [t["finetune_text"], t["finetune_plot"]],
                               api_name="finetune", **TRAINING)
    t["iterative_button"].click(tabs.run_iterative, [t["rounds"], t["round_steps"]],
                                [t["iterative_text"], t["iterative_plot"]], api_name="iterative", **TRAINING)
    t["size_button"].click(tabs.size_and_speed, None, t["size_text"], api_name="size", **HEAVY)
    t["inspect_button"].click(tabs.inspect_layer, t["layer"],
                              [t["layer"], t["histogram_plot"], t["grid_plot"], t["inspect_text"]], api_name="inspect")
    t["export_button"].click(tabs.export, t["use_finetuned"], [t["export_file"], t["export_text"]],
                             api_name="export")
    lessons.wire_lessons(t["changes"], t["lessons"], HEAVY)
    advanced.wire(c, t["lessons"], (setting, outputs))       # live type sliders; Copy into Advanced
    papers.wire_papers(t["papers"], TRAINING)                 # training runs: the training queue


def build_demo() -> gr.Blocks:
    """The page: the setting on the left, the tabs on the right, the digits below."""
    usable, _ = model_status()
    with LabBlocks(title="Pruning Lab", analytics_enabled=False, delete_cache=(600, 3600)) as demo:
        gr.Markdown("# ✂️ Pruning Lab\nPrune a pretrained digit classifier and see at once which layers "
                    "lose weights, what happens to test accuracy, and how its answers change.")
        gr.HTML(f"<style>{views.CSS}</style>", padding=False)
        header = gr.Markdown()
        room = workshop.section()           # the presenter's section and the participants' banners (hidden)
        with gr.Row():
            with gr.Column(scale=2, min_width=300, elem_id="controls"):
                c = controls_column(usable, list_methods())
            with gr.Column(scale=3, min_width=300):
                t = result_tabs()
        d = digit_section()
        wire(demo, c, t, d, header)
        workshop.wire(demo, room, c)
        fairness.make_fair(demo, LINES)
        demo.load(None, js=layout.SUMMARY_JS)   # a phone: the headline mirrored next to the amount slider
        demo.load(None, js=layout.TABLES_JS)    # a table wider than its box: stacked, words kept whole
    for block in demo.blocks.values():      # malformed API values: the handlers' messages, not gradio's
        if isinstance(block, (gr.Slider, gr.Number, gr.Dropdown, gr.Radio, gr.Checkbox, gr.CheckboxGroup, gr.Textbox)):
            lenient(block)
    return demo


demo = build_demo()
demo.queue(max_size=QUEUE_SIZE, default_concurrency_limit=2)


def network_options(args: argparse.Namespace) -> dict:
    """On a network address: only this server's own host names, same-origin requests, and the
    password or token if given; everywhere: upload and queue limits per participant."""
    host = args.host or os.environ.get("GRADIO_SERVER_NAME")
    hosts = None if guard.is_loopback(host) else guard.allowed_hosts_for(host, args.allowed_host)
    queue = guard.QueueLimits(guard.gradio_queue_waiting(demo))
    middleware = Middleware(guard.RoomGuard, allowed_hosts=hosts, same_origin=True, token=args.token, queue=queue)
    options = {"app_kwargs": {"middleware": [middleware]}}
    if args.password:
        options["auth"] = ("workshop", args.password)
    return options


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Run the Pruning Lab web app.")
    parser.add_argument("--host", help="address to serve on (default 127.0.0.1 or $GRADIO_SERVER_NAME); "
                                       "0.0.0.0 for a workshop on your network")
    parser.add_argument("--port", type=int, help="port (default 7860 or $GRADIO_SERVER_PORT)")
    parser.add_argument("--share", action="store_true", help="also create a public gradio.live link")
    parser.add_argument("--data-dir", help="directory with an MNIST test split (IDX files, .gz or not) to "
                                           "evaluate on instead of the shipped one; default $PRUNING_LAB_DATA_DIR")
    parser.add_argument("--no-precompute", action="store_true",
                        help="don't measure the slider grid (and the default model's curves) in the background")
    parser.add_argument("--password", help="require this password (user name: workshop) on a network")
    parser.add_argument("--token", help="require this token: participants open the link with ?token=...")
    parser.add_argument("--allowed-host", action="append", default=[],
                        help="a host name participants use to reach this server (repeatable)")
    parser.add_argument("--presenter-token", help="workshop mode: the presenter opens /?presenter=THIS")
    parser.add_argument("--room-file", help="keep the workshop room (challenge, board, sent setting) in this JSON file")
    args = parser.parse_args(argv)
    if args.data_dir:
        os.environ["PRUNING_LAB_DATA_DIR"] = args.data_dir
        eval_set_and_note.cache_clear()
    logging.basicConfig(level=logging.INFO)
    presenter.configure(args.presenter_token, args.room_file)
    runtime.start()
    idle_trimmer = runtime.trim_when_idle()                     # a quiet server gives its spare heap back
    usable, _ = model_status()
    signal.signal(signal.SIGTERM, signal.default_int_handler)   # stop like Ctrl-C: close, clean up (atexit)
    precompute = start_grid_after(5.0) if usable and not args.no_precompute else None
    gc.freeze()              # the ~370k objects of the imports and the page live for good: collections skip them
    try:
        demo.launch(server_name=args.host, server_port=args.port, share=args.share, **network_options(args),
                    **LAUNCH_OPTIONS)
    except KeyboardInterrupt:                                   # stopped while still starting up
        demo.close()
    finally:
        idle_trimmer.set()
        if precompute is not None:
            precompute.cancel()
            grid_filler().stop()                                # no thread left inside torch at exit
        sweep_cache().stop()


if __name__ == "__main__":
    main()
