"""Event functions of the main view: raw page values -> engine -> view values (the only place gr.Error is raised)."""
from __future__ import annotations

import json
import random
from typing import Any

import gradio as gr
import torch

from models import get_model_entry
from pruning import PruneConfig, PruneResult, get_method, load_pretrained, runtime, shared
from pruning.evaluate import probabilities
from pruning.sketch import SketchError, preprocess_sketch
from ui import glossary, links, preview, views
from ui.drawpad import pad_image
from ui.inputs import build_config, shorten, user_errors
from ui.rendered import RENDERED
from ui.resources import eval_set, eval_set_and_note, grid_filler, grid_starting, model_status, store
from ui.session import Session, SessionRefused, SessionStore

STRIP_SIZE = 12
SAMPLE_SEED = 0
BLANK_HINT = "✏️ Draw a digit on the pad"
SESSIONS = SessionStore()


def new_sample(size: int, seed: int | None = None) -> list[int]:
    """Indices of `STRIP_SIZE` digits of the evaluation set."""
    rng = random.Random(seed)
    return sorted(rng.sample(range(size), min(STRIP_SIZE, size)))


def _key(request: gr.Request | None) -> tuple[str, str]:
    """(session key, client address) of a request; direct calls without one share a local session."""
    key = getattr(request, "session_hash", None) or "local"
    client = getattr(request, "client", None)
    return key, str(getattr(client, "host", None) or "local")


def session_for(request: gr.Request | None) -> Session:
    """This page's session, made on its first event (refused with a message when the server is full)."""
    key, address = _key(request)
    try:
        return SESSIONS.get(key, address, lambda: new_sample(len(eval_set()), SAMPLE_SEED))
    except SessionRefused as err:
        raise gr.Error(str(err)) from None


def existing_session(request: gr.Request | None) -> Session | None:
    """This page's session if it has one (tabs never create a session)."""
    return SESSIONS.peek(_key(request)[0])


def current_result(request: gr.Request | None) -> PruneResult:
    """The result the page shows, with its pruned model (rebuilt from the masks if it was served from
    the store); a message if nothing was pruned in this session yet."""
    session = existing_session(request)
    if session is None or session.result is None:
        raise gr.Error("Prune a model first: pick a setting on the left.")
    result = session.result
    if result.model is None:
        result.model = shared.pruned_model(result)      # this session's own result object
    return result


def update(model: Any, method: Any, amount: Any, threshold: Any, scope: Any, per_type: Any, conv_amount: Any,
           linear_amount: Any, layer_types: Any, calibration_size: Any, norm: Any, seed: Any, nm: Any = "2:4",
           layer_amounts: Any = "", request: gr.Request | None = None) -> tuple:
    """The measured result of the setting (the server's shared measurement, or measured now), as every
    output of the Result view, the drawn digit's labels, the strip's images and the preview's grid line.
    Outputs that did not change since this page last got them are skipped; an answer overtaken by a
    newer one changes nothing."""
    config = build_config(model, method, amount, threshold, scope, per_type, conv_amount, linear_amount,
                          layer_types, calibration_size, norm, seed, nm, layer_amounts)
    session = session_for(request)
    ticket = session.ticket()
    result = session.result
    if result is None or result.config != config:
        with user_errors(), runtime.interactive():      # what only the model can check (e.g. a layer name)
            result = shared.measured(config, eval_set(), store())
    grid_filler().prefer(config)
    if not session.offer(ticket, result):
        return (gr.skip(),) * len(UPDATE_OUTPUTS)
    return _changed_only(session, _update_outputs(session, result))


def update_page(packed: Any, request: gr.Request | None = None) -> tuple:
    """The page's own update: the setting's controls packed by the page into one JSON list (one input
    instead of fourteen: Gradio's page work per event grows with the inputs), then as `update`."""
    try:
        values = json.loads(packed) if isinstance(packed, str) else None
    except ValueError:
        values = None
    if not isinstance(values, list) or len(values) != len(links.CONTROLS):
        raise gr.Error("This page sent a setting the server cannot read: reload the page.")
    return update(*values, request=request)


# The page packs the controls into one hidden text (a browser-only step: no request, no loading status)
PACK_JS = "(...values) => JSON.stringify(values)"
UPDATE_OUTPUTS = ("accuracy", "chart", "explain", "strip", "before", "after", "images", "grid")


def _update_outputs(session: Session, result: PruneResult) -> dict[str, Any]:
    digit = session.digit               # nothing drawn: the labels keep their hint, nothing re-sent
    before, after = (gr.skip(), gr.skip()) if digit is None else _labels(digit, result)
    grid, _ = preview.grid_data(result.config, store(), eval_set())
    chart, explain, strip = RENDERED.views(result, eval_set(), session.sample)
    return {"accuracy": views.accuracy_panel(result, session.ticket(), grid_note()), "chart": chart,
            "explain": explain, "strip": strip, "before": before, "after": after,
            "images": views.digit_images(eval_set(), session.sample), "grid": grid}


def grid_note() -> str:
    """How far the server's slider grid is (the settings a drag previews)."""
    status = grid_filler().status()
    if status.measured >= status.total:
        return f"Slider grid: all {status.total:,} settings measured on this server: dragging shows each one."
    going = ("measuring the rest in the background" if status.running
             else "background measuring starts in a few seconds" if grid_starting() else "background measuring is off")
    return f"Slider grid: {status.measured:,} of {status.total:,} settings measured on this server; {going}."


def _changed_only(session: Session, outputs: dict[str, Any]) -> tuple:
    """The outputs, with gr.skip() for each one this page already shows (the accuracy panel is always
    sent: it numbers the answer)."""
    sent = session.sent
    values = []
    for name in UPDATE_OUTPUTS:
        value = outputs[name]
        if isinstance(value, str) and sent.get(name) == value:
            value = gr.skip()
        elif isinstance(value, str):
            sent[name] = value
        values.append(value)
    return tuple(values)


def _labels(x: torch.Tensor, result: PruneResult) -> tuple[dict[str, float], dict[str, float]]:
    """Top classes of a normalized (1, 1, 28, 28) digit before and after pruning."""
    base = load_pretrained(result.config.model)[0]
    return (views.top_classes(probabilities(base, result.config.model, x)[0]),
            views.top_classes(probabilities(shared.pruned_model(result), result.config.model, x)[0]))


def draw(sketch: Any, request: gr.Request | None = None) -> tuple:
    """The drawing as the model sees it (or why it cannot be read), and its top classes before and after
    pruning (the current setting); the digit is kept in the session so slider moves do not resend it."""
    session = session_for(request)
    try:
        processed, problem = preprocess_sketch(pad_image(sketch)), None
    except SketchError as err:
        processed, problem = None, shorten(str(err), 200)
        gr.Warning(f"Could not read the drawing: {problem}")
    session.digit = None if processed is None else processed[1]        # (1, 1, 28, 28)
    if processed is None:                  # unreadable: the reason in the page's own panel, not only a toast
        return views.seen_digit(None, problem), BLANK_HINT, BLANK_HINT
    if session.result is None:
        return views.seen_digit(processed[0]), gr.skip(), gr.skip()
    return (views.seen_digit(processed[0]), *_labels(session.digit, session.result))


def resample(request: gr.Request | None = None):
    """A new random strip of test digits (same pruning result): the strip and its images."""
    session = existing_session(request)
    if session is None or session.result is None:
        return gr.skip(), gr.skip()
    session.sample = new_sample(len(eval_set()))
    outputs = {"strip": views.digit_strip(session.result, eval_set(), session.sample),
               "images": views.digit_images(eval_set(), session.sample)}
    session.sent.update(outputs)
    return outputs["strip"], outputs["images"]


def method_help(method: str):
    """Description of the method, and the controls it reads: the amount slider, or the threshold
    slider, or the N:M pattern instead (outputs: text, amount, threshold, nm)."""
    try:
        entry = get_method(method)
    except ValueError:
        return gr.skip(), gr.skip(), gr.skip(), gr.skip()
    text = f"{entry.description} _({'; '.join(method_tags(entry))})_"
    return (text, gr.update(visible=entry.uses_amount), gr.update(visible=entry.uses_threshold),
            gr.update(visible="nm" in entry.settings))


def method_tags(entry) -> list[str]:
    """What kind of method it is, in glossary terms. N:M is semi-structured (the engine's registry files it
    under structured=False, since it masks single weights; the page names the pattern)."""
    if "nm" in entry.settings:
        tags = [f"{glossary.term('nm', 'semi-structured')}: N of every M weights"]
    elif entry.structured:
        tags = [f"{glossary.term('structured')}: removes whole filters/neurons"]
    else:
        tags = [f"{glossary.term('unstructured')}: single weights"]
    if entry.data_driven:
        tags.append(f"uses {glossary.term('calibration')}")
    return tags


def model_help(model: str) -> str:
    """One line about the selected architecture."""
    try:
        return f"_{get_model_entry(model).description}_"
    except ValueError:
        return ""


def page_header() -> str:
    """The evaluation set in use, and any model disabled by a bad checkpoint."""
    _, note = eval_set_and_note()
    _, broken = model_status()
    disabled = "".join(f"\n\n⚠️ Model **{name}** is disabled: {reason}" for name, reason in broken.items())
    return note + disabled
