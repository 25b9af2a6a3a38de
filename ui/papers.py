"""The "Papers" tab: lottery tickets and gradual pruning (AGP) run live, stoppable, computed once per setting."""
from __future__ import annotations

import threading
import time
from typing import Any, Callable

import gradio as gr

from models import list_models
from pruning import lottery, schedules
from pruning.finetune import MAX_FINETUNE_STEPS
from pruning.iterative import MAX_ROUNDS
from pruning.runtime import run_in_background
from ui import paper_views as pv
from ui.inputs import number, user_errors, whole
from ui.resources import eval_set

BUDGET_S = 90.0          # a lesson request stops past this (the defaults take well under 60 s on 2 cores)
_STOPS: dict[str, threading.Event] = {}
_LOCK = threading.Lock()


def _stop_event(request: gr.Request | None) -> threading.Event:
    key = getattr(request, "session_hash", None) or "anonymous"
    with _LOCK:
        if len(_STOPS) > 1000:
            _STOPS.clear()
        return _STOPS.setdefault(key, threading.Event())


def stop(request: gr.Request | None = None) -> str:
    """Ask this page's running lesson to stop at its next progress report (within a few steps)."""
    _stop_event(request).set()
    return "Stop requested: the run ends at its next step report."


def reporter(progress: Any, request: gr.Request | None, seconds: float = BUDGET_S):
    """An engine progress callback: moves the bar, stops on the page's Stop button or past the budget."""
    event, deadline = _stop_event(request), time.monotonic() + seconds
    event.clear()

    def report(fraction: float, message: str) -> None:
        if event.is_set():
            raise gr.Error("Stopped. Nothing was kept: run it again to start over.")
        if time.monotonic() > deadline:
            raise gr.Error(f"Stopped after {seconds:.0f} s (this server's time budget per request): the server "
                           "is busy or the setting is large; try fewer rounds or steps.")
        progress(fraction, desc=message)
    return report


MAX_KEPT = 64            # lesson results kept per server (each a few small models)
_RESULTS: dict[tuple, Any] = {}


def computed(key: tuple, compute: Callable[[Any], Any], progress: Any) -> Any:
    """compute(progress) once per server and setting `key` (runs are deterministic per setting): a
    setting seen before, by any participant, is answered at once. A stopped run keeps nothing."""
    with _LOCK:
        if key in _RESULTS:
            return _RESULTS[key]
    result = run_in_background(compute, progress)
    with _LOCK:
        _RESULTS[key] = result
        while len(_RESULTS) > MAX_KEPT:
            _RESULTS.pop(next(iter(_RESULTS)))
    return result


def _model(value: Any) -> str:
    if value not in list_models():
        raise gr.Error(f"Unknown model; choose one of: {', '.join(list_models())}")
    return value


def run_lottery(model: Any, rounds: Any, rate: Any, steps: Any, init_seed: Any, rewind_steps: Any,
                request: gr.Request | None = None, progress=gr.Progress()):
    """Winning ticket vs random re-init vs dense: the curve, the lab's figure and the paper's trend."""
    key = ("lottery", _model(model), whole(rounds), number(rate), whole(steps), whole(init_seed),
           whole(rewind_steps), 0)
    report = reporter(progress, request)
    with user_errors():
        result = computed(key, lambda p: lottery.lottery_ticket(*key[1:4], key[4], eval_set(), *key[5:], progress=p),
                          report)
    return pv.lottery_figure(result), pv.lottery_summary(result)


def run_schedules(model: Any, sparsity: Any, steps: Any, rounds: Any, request: gr.Request | None = None,
                  progress=gr.Progress()):
    """One-shot + fine-tune vs iterative vs AGP at the same sparsity and steps."""
    key = ("schedules", _model(model), number(sparsity), whole(steps), whole(rounds), 0)
    report = reporter(progress, request)
    with user_errors():
        result = computed(key, lambda p: schedules.compare_schedules(*key[1:5], eval_set(), key[5], progress=p),
                          report)
    return pv.schedules_figure(result), pv.schedules_table(result)


def papers_tab() -> dict:
    """The tab's layout: the lottery ticket, then the three schedules; each with run and stop."""
    w: dict = {}
    with gr.Tab("Papers", elem_id="papers-tab"):
        _lottery_section(w, list_models())
        _schedules_section(w, list_models())
    return w


def _lottery_section(w: dict, models: list[str]) -> None:
    """Lottery ticket: settings, run, stop, plot, the lab's figure and the paper's trend."""
    gr.Markdown("### Lottery tickets (Frankle & Carbin 2019)\nTrain from a known init, prune the smallest "
                "weights, **rewind the survivors to their initial values**, train again; k rounds. Beside it: "
                "the same masks on a random re-initialisation, and the dense network. Every run trains on the "
                "same batches. The default run takes about 15–30 s on a 2-core server (budget 60 s), "
                "then it is kept: the same setting is answered at once for everyone.")
    with gr.Row():
        w["lt_model"] = gr.Dropdown(models, value=lottery.DEFAULT_MODEL, label="Model (trained from its init)")
        w["lt_init_seed"] = gr.Number(0, precision=0, minimum=0, label="Init seed (torch.manual_seed)")
    with gr.Row():
        w["lt_rounds"] = gr.Slider(1, lottery.MAX_LOTTERY_ROUNDS, value=lottery.DEFAULT_ROUNDS, step=1,
                                   label="Rounds")
        w["lt_rate"] = gr.Slider(0.1, 0.8, value=lottery.DEFAULT_RATE, step=0.05,
                                 label="Pruned per round (of each layer's remaining weights)")
    with gr.Row():
        w["lt_steps"] = gr.Slider(50, MAX_FINETUNE_STEPS, value=lottery.DEFAULT_STEPS, step=10,
                                  label="Training steps per run")
        w["lt_rewind"] = gr.Slider(0, 100, value=0, step=10, label="Late rewinding: rewind to step (0 = init)")
    with gr.Row():
        w["lt_button"] = gr.Button("Run the lottery ticket", variant="primary", elem_id="lottery-run")
        w["lt_stop"] = gr.Button("Stop", elem_id="lottery-stop")
    w["lt_plot"] = gr.Plot(label="Lottery ticket", show_label=False, elem_id="lottery-plot")
    w["lt_text"] = gr.Markdown(elem_id="lottery-text")
    gr.Markdown(pv.LOTTERY_PAPER)


def _schedules_section(w: dict, models: list[str]) -> None:
    """One-shot vs iterative vs AGP: settings, run, stop, plot, table and the papers' claims."""
    gr.Markdown("### Gradual pruning (Zhu & Gupta 2017) vs one-shot vs iterative (Han et al. 2015)\nFrom the "
                "shipped pretrained model to the same sparsity (one global magnitude ranking) with the same "
                "number of training steps. AGP raises sparsity along s_t = s_f + (s_i − s_f)(1 − (t − t₀)/(nΔt))³, "
                "masks updated every Δt steps. Default: about 15–30 s on 2 cores (budget 60 s).")
    with gr.Row():
        w["ag_model"] = gr.Dropdown(models, value=schedules.DEFAULT_MODEL, label="Model (pretrained)")
        w["ag_sparsity"] = gr.Slider(0.5, 0.99, value=schedules.DEFAULT_SPARSITY, step=0.01,
                                     label="Final sparsity")
    with gr.Row():
        w["ag_steps"] = gr.Slider(60, MAX_FINETUNE_STEPS, value=schedules.DEFAULT_STEPS, step=30,
                                  label="Training steps (each schedule)")
        w["ag_rounds"] = gr.Slider(2, MAX_ROUNDS, value=schedules.DEFAULT_ROUNDS, step=1,
                                   label="Iterative rounds (must divide the steps)")
    with gr.Row():
        w["ag_button"] = gr.Button("Compare the schedules", variant="primary", elem_id="agp-run")
        w["ag_stop"] = gr.Button("Stop", elem_id="agp-stop")
    w["ag_plot"] = gr.Plot(label="Schedules", show_label=False, elem_id="agp-plot")
    w["ag_text"] = gr.Markdown(elem_id="agp-text")
    gr.Markdown(pv.SCHEDULES_PAPER + "\n\n" + pv.HONEST_GAP)


def wire_papers(w: dict, heavy: dict) -> None:
    """The tab's events: the runs share the heavy queue; Stop skips the queue."""
    inputs = [w[k] for k in ("lt_model", "lt_rounds", "lt_rate", "lt_steps", "lt_init_seed", "lt_rewind")]
    w["lt_button"].click(run_lottery, inputs, [w["lt_plot"], w["lt_text"]], api_name="lottery", **heavy)
    w["lt_stop"].click(stop, None, w["lt_text"], queue=False, api_visibility="private")
    inputs = [w[k] for k in ("ag_model", "ag_sparsity", "ag_steps", "ag_rounds")]
    w["ag_button"].click(run_schedules, inputs, [w["ag_plot"], w["ag_text"]], api_name="agp", **heavy)
    w["ag_stop"].click(stop, None, w["ag_text"], queue=False, api_visibility="private")
