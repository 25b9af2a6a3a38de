"""Event functions of the main view: raw page values -> engine -> view values (the only place gr.Error is raised)."""
from __future__ import annotations

import random
from typing import Any

import gradio as gr
import torch

from models import get_model_entry
from pruning import PruneResult, get_method, load_pretrained, prune_model
from pruning.evaluate import probabilities
from pruning.sketch import SketchError, preprocess_sketch
from ui import views
from ui.drawpad import pad_image
from ui.inputs import build_config, shorten, user_errors
from ui.resources import eval_set, eval_set_and_note, model_status
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
    """The result the page shows; a message if nothing was pruned in this session yet."""
    session = existing_session(request)
    if session is None or session.result is None:
        raise gr.Error("Prune a model first: pick a setting on the left.")
    return session.result


def update(model: Any, method: Any, amount: Any, threshold: Any, scope: Any, per_type: Any, conv_amount: Any,
           linear_amount: Any, layer_types: Any, calibration_size: Any, norm: Any, seed: Any, nm: Any = "2:4",
           layer_amounts: Any = "", request: gr.Request | None = None) -> tuple:
    """Re-prune from the pretrained weights when the setting changed; every output of the Result view
    plus the drawn digit's label after pruning. The session keeps the newest setting's result."""
    config = build_config(model, method, amount, threshold, scope, per_type, conv_amount, linear_amount,
                          layer_types, calibration_size, norm, seed, nm, layer_amounts)
    session = session_for(request)
    ticket = session.ticket()
    result = session.result
    if result is None or result.config != config:
        with user_errors():                 # what only the model can check (e.g. a layer name)
            result = prune_model(config.model, config, eval_set=eval_set())
    session.offer(ticket, result)
    digit = session.digit               # nothing drawn: the labels keep their hint, nothing re-sent
    before, after = (gr.skip(), gr.skip()) if digit is None else _labels(digit, result)
    return (views.accuracy_panel(result), views.sparsity_chart(result), views.explanation(result),
            views.digit_strip(result, eval_set(), session.sample), before, after)


def _labels(x: torch.Tensor, result: PruneResult) -> tuple[dict[str, float], dict[str, float]]:
    """Top classes of a normalized (1, 1, 28, 28) digit before and after pruning."""
    base = load_pretrained(result.config.model)[0]
    return (views.top_classes(probabilities(base, result.config.model, x)[0]),
            views.top_classes(probabilities(result.model, result.config.model, x)[0]))


def draw(sketch: Any, request: gr.Request | None = None) -> tuple:
    """The drawing as the model sees it, and its top classes before and after pruning (the current
    setting); the digit is kept in the session so slider moves do not resend the drawing."""
    session = session_for(request)
    try:
        processed = preprocess_sketch(pad_image(sketch))
    except SketchError as err:
        gr.Warning(shorten(f"Could not read the drawing: {err}"))
        processed = None
    session.digit = None if processed is None else processed[1]        # (1, 1, 28, 28)
    if processed is None:
        return views.seen_digit(None), BLANK_HINT, BLANK_HINT
    if session.result is None:
        return views.seen_digit(processed[0]), gr.skip(), gr.skip()
    return (views.seen_digit(processed[0]), *_labels(session.digit, session.result))


def resample(request: gr.Request | None = None):
    """A new random strip of test digits (same pruning result)."""
    session = existing_session(request)
    if session is None or session.result is None:
        return gr.skip()
    session.sample = new_sample(len(eval_set()))
    return views.digit_strip(session.result, eval_set(), session.sample)


def method_help(method: str):
    """Description of the method, and the controls it reads: the amount slider, or the threshold
    slider, or the N:M pattern instead (outputs: text, amount, threshold, nm)."""
    try:
        entry = get_method(method)
    except ValueError:
        return gr.skip(), gr.skip(), gr.skip(), gr.skip()
    tags = ["structured: removes whole filters/neurons" if entry.structured else "unstructured: single weights"]
    if entry.data_driven:
        tags.append("uses calibration digits")
    text = f"{entry.description} _({'; '.join(tags)})_"
    return (text, gr.update(visible=entry.uses_amount), gr.update(visible=entry.uses_threshold),
            gr.update(visible="nm" in entry.settings))


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
