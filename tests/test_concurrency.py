"""16 concurrent gradio_client sessions, 30 random setting changes each: no errors, no cross-talk.

Every response must equal what the engine computes for that session's own settings at that moment:
accuracy panel, sparsity chart, explanation, the digit strip of the session's own sample (sessions
also ask for new samples now and then), and the session's own drawn digit (sent now and then to
/draw, then kept by the server) read by the dense and the pruned model."""
from __future__ import annotations

import random
import re
import statistics
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from functools import lru_cache

import numpy as np
import pytest
import torch
from gradio_client import Client
from torch import nn

from models import create_model, get_model_entry
from pruning import PruneConfig, evaluate, prune_model
from pruning.sketch import preprocess_sketch
from tests.ui_helpers import (DEFAULTS, api_args, drawn_copy, engine_labels, pad_value, same_label,  # noqa: F401
                              seen_pixels, server_url)                                           # (a fixture)
from ui import handlers, views
from ui.resources import eval_set

pytestmark = pytest.mark.slow
SESSIONS, CHANGES, SKETCH_EVERY, RESAMPLE_RATE = 16, 30, 4, 0.2
# Small models mostly, to keep ~570 requests reasonable on 2 cores; convnet now and then.
MODELS = ["mlp"] * 6 + ["lenet"] * 3 + ["convnet"]
METHODS = ["l1_unstructured", "random_unstructured", "ln_structured", "random_structured", "threshold"]
CHOICES = {"model": MODELS, "method": METHODS, "amount": [0.3, 0.7, 0.9], "scope": ["local", "global"]}


def random_walk(rng: random.Random) -> list[dict]:
    """CHANGES settings, each differing from the previous one in one randomly chosen control."""
    setting = {name: rng.choice(values) for name, values in CHOICES.items()}
    walk = []
    for _ in range(CHANGES):
        name = rng.choice(list(CHOICES))
        setting = {**setting, name: rng.choice([v for v in dict.fromkeys(CHOICES[name]) if v != setting[name]])}
        walk.append(setting)
    return walk


@lru_cache(maxsize=None)
def expected_result(model: str, method: str, amount: float, scope: str):
    config = PruneConfig(model=model, method=method, amount=amount, scope=scope,
                         threshold=DEFAULTS["threshold"], layer_types=tuple(DEFAULTS["layer_types"]))
    return prune_model(model, config, eval_set=eval_set())


def session_digit(heldout, session: int) -> np.ndarray:
    """Each session draws its own held-out digit (dark ink on a white 280x280 canvas)."""
    return drawn_copy(heldout.images[session].numpy(), 9, 14, 14, size=(280, 280), rgba=False)["composite"]


def run_session(url: str, session: int, drawing: str) -> list[tuple]:
    """(endpoint, setting, has the session drawn?, outputs or the exception, seconds) for each request, in
    order. Every SKETCH_EVERY setting changes the session (re)draws its digit; later updates show its labels."""
    rng = random.Random(1000 + session)
    client = Client(url, verbose=False)
    records, drawn = [], False
    for step, setting in enumerate(random_walk(random.Random(session))):
        records.append(("update", setting, drawn, *timed(client.predict, *api_args(**setting), api_name="/update")))
        if step % SKETCH_EVERY == SKETCH_EVERY - 1:
            drawn = True
            records.append(("draw", setting, drawn, *timed(client.predict, drawing, api_name="/draw")))
        if rng.random() < RESAMPLE_RATE:              # a new sample of test digits for this session only
            records.append(("resample", setting, drawn, *timed(client.predict, api_name="/resample")))
    return records


def timed(call, *args, **kwargs) -> tuple[object, float]:
    start = time.perf_counter()
    try:
        outputs = call(*args, **kwargs)
    except Exception as err:  # noqa: BLE001  (counted as an error by the test)
        outputs = err
    return outputs, time.perf_counter() - start


def strip_indices(strip: str) -> list[int]:
    """The evaluation-set indices of the digits shown in a strip (named by their image classes)."""
    return [int(i) for i in re.findall(r'class="pl-img pl-img-(\d+)"', strip)]


def comparable(panel: str) -> str:
    """An accuracy panel without what differs between answers of one setting (its answer number, the
    grid's progress line)."""
    return re.sub(r'<div class="pl-grid-note">.*?</div>', "", re.sub(r' data-answer="\d+"', "", panel))


UPDATE_NAMES = ("panel", "chart", "explain", "strip", "before", "after", "images", "grid")


def test_concurrent_sessions_get_their_own_results_without_errors(server_url, heldout):
    drawings = [pad_value(session_digit(heldout, session)) for session in range(SESSIONS)]   # as the pad sends
    start = time.perf_counter()
    with ThreadPoolExecutor(SESSIONS) as pool:
        sessions = list(pool.map(run_session, [server_url] * SESSIONS, range(SESSIONS), drawings))
    wall = time.perf_counter() - start

    errors = [(s, out) for s, records in enumerate(sessions) for *_, out, _ in records
              if isinstance(out, Exception)]
    assert not errors, f"{len(errors)} errors, first: {errors[0]!r}"
    digits = eval_set()
    mismatches = []
    for session, records in enumerate(sessions):
        drawing = preprocess_sketch(drawings[session])                          # (28x28 seen, (1, 1, 28, 28))
        page: dict = {}                                                         # what this page shows now
        for step, (endpoint, setting, drawn, outputs, _) in enumerate(records):
            expected = expected_result(**setting)
            if endpoint == "resample":
                shown(page, ("strip", "images"), outputs)
                same = page["strip"] == views.digit_strip(expected, digits, strip_indices(page["strip"]))
                same = same and page["images"] == views.digit_images(digits, strip_indices(page["strip"]))
            elif endpoint == "draw":
                seen, before, after = outputs
                want_before, want_after = engine_labels(drawing[1], expected)
                same = (np.array_equal(seen_pixels(seen), drawing[0]) and same_label(before, want_before)
                        and same_label(after, want_after))
                page.update(before=before, after=after)
            else:
                shown(page, UPDATE_NAMES, outputs)
                same = matches(page, expected, digits, drawing[1] if drawn else None)
            if not same:
                mismatches.append((session, step, endpoint, setting))
    assert not mismatches, f"{len(mismatches)} responses differ from their own settings: {mismatches[:5]}"
    latencies = sorted(seconds for records in sessions for *_, seconds in records)
    resamples = sum(record[0] == "resample" for records in sessions for record in records)
    p95 = latencies[int(0.95 * (len(latencies) - 1))]
    print(f"\n{SESSIONS} sessions x {CHANGES} changes (+{resamples} new samples) = {len(latencies)} requests "
          f"in {wall:.1f} s: 0 errors, 0 cross-talk; latency p50 {statistics.median(latencies):.2f} s, "
          f"p95 {p95:.2f} s, max {latencies[-1]:.2f} s; {expected_result.cache_info().currsize} distinct settings")


def shown(page: dict, names: tuple[str, ...], outputs) -> None:
    """Apply one response to the page: every output not skipped replaces what it showed."""
    for name, value in zip(names, outputs):
        if not (isinstance(value, dict) and value.get("__type__") == "update"):     # skipped: left as it is
            page[name] = value


def matches(page: dict, expected, digits, digit: torch.Tensor | None) -> bool:
    """What the page shows after an /update equals the views of `expected` (its strip: the digits of its
    own sample, with their images), and its labels read the session's own drawn digit (normalized
    (1, 1, 28, 28)) with `expected`'s models, or still show the page's hint if none was sent."""
    sample = strip_indices(page["strip"])
    same = (comparable(page["panel"]) == comparable(views.accuracy_panel(expected))
            and page["chart"] == views.sparsity_chart(expected) and page["explain"] == views.explanation(expected)
            and page["strip"] == views.digit_strip(expected, digits, sample)
            and page["images"] == views.digit_images(digits, sample) and len(sample) == handlers.STRIP_SIZE)
    if digit is None:
        return same and "before" not in page and "after" not in page
    want_before, want_after = engine_labels(digit, expected)
    return same and same_label(page["before"], want_before) and same_label(page["after"], want_after)


def test_first_evaluations_of_new_structures_in_parallel_threads_break_nothing(monkeypatch):
    """The server evaluates in several threads at once, and a structure it has not seen before (a shrunk
    model, say) gets its fast inference copy built (torch.fx) on first use. That must not disturb a
    forward pass running in another thread, nor leave torch.nn.Module.__call__ patched for the rest of
    the process (every later request failing)."""
    original_call = nn.Module.__call__
    monkeypatch.setattr(nn.Module, "__call__", original_call)     # restored after the test in any case
    steady = create_model("mlp").eval()
    errors, done = [], threading.Event()

    def evaluate_new(model: nn.Module, x: torch.Tensor, start: threading.Barrier) -> None:
        start.wait()
        try:
            evaluate.logits(model, x)
        except Exception as err:  # noqa: BLE001  (collected)
            errors.append(f"{type(model).__name__}: {type(err).__name__}: {err}")

    def forwards() -> None:                                       # another request's plain forward passes
        x = torch.randn(4, 1, 28, 28)
        while not done.is_set():
            try:
                with torch.no_grad():
                    steady(x)
            except Exception as err:  # noqa: BLE001  (collected)
                errors.append(f"forward: {type(err).__name__}: {err}")

    runner = threading.Thread(target=forwards)
    runner.start()
    try:
        for width in range(20, 40):                               # structures never evaluated before
            new = [create_model("lenet", channels=(3, width)), create_model("convnet", channels=(16, 32, width)),
                   create_model("mlp", hidden=width)]
            sides = [28 + 2 * get_model_entry(name).input_padding for name in ("lenet", "convnet", "mlp")]
            start = threading.Barrier(len(new))
            threads = [threading.Thread(target=evaluate_new, args=(model.eval(), torch.randn(
                evaluate.FAST_MIN_INPUTS, 1, side, side), start)) for model, side in zip(new, sides)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
    finally:
        done.set()
        runner.join()
    assert nn.Module.__call__ is original_call, "torch.nn.Module.__call__ was left patched by tracing"
    assert not errors, f"{len(errors)} failures, e.g. {sorted(set(errors))[:3]}"
