"""Bad inputs at every boundary (event functions, HTTP API, CLI, Python API) get clear messages and
the server keeps serving; a bad checkpoint disables only its own model; session state is freed."""
from __future__ import annotations

import base64
import functools
import gc
import io
import json
import math
import re
import shutil
import time
import weakref
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import gradio as gr
import httpx
import numpy as np
import pytest
import torch
from gradio_client import Client
from PIL import Image

import app
from models import create_model
from pruning import PruneConfig, checkpoint, cli, iterative, shared
from pruning import finetune as tuning
from pruning.checkpoint import FORMAT, file_sha256, load_pretrained, save_checkpoint
from pruning.engine import dense_predictions
from tests.ui_helpers import (api_args, drawn_copy, fresh_sweeps, new_request, pad_value, run,  # noqa: F401
                              same_label, seen_pixels, server_url, top)                          # (fixtures)
from ui import handlers, resources, tabs

NAN, INF = float("nan"), float("inf")

# (PruneConfig field = UI/API control, bad value, what the message must say). Over HTTP, gradio's own
# check of the control (slider bounds, dropdown choices) runs first, so its wording is accepted there.
BAD_SETTINGS = [
    ("amount", -0.1, r"amount must be between 0 and 1|less than minimum value 0"),
    ("amount", 1.5, r"amount must be between 0 and 1|greater than maximum value 0\.99"),
    ("amount", NAN, r"amount must be (a finite number|between 0 and 1)"),
    ("amount", INF, r"amount must be (a finite number|between 0 and 1)|greater than maximum value 0\.99"),
    ("amount", "lots", r"amount must be a number|invalid float value: 'lots'|Expected a `float`.*'lots'"),
    ("model", "resnet", r"unknown model 'resnet'|resnet.*not in the list of choices"),
    ("method", "magic", r"unknown method 'magic'|magic.*not in the list of choices"),
    ("scope", "everywhere", r"unknown scope 'everywhere'|everywhere.*not in the list of choices"),
    ("layer_types", ["lstm"], r"unknown layer type\(s\) \['lstm'\]|lstm.*not in the list of choices"),
    ("conv_amount", 2.0, r"conv_amount must be between 0 and 1|greater than maximum value 0\.99"),
    ("linear_amount", -0.5, r"linear_amount must be between 0 and 1|less than minimum value 0"),
    ("threshold", -1.0, r"threshold must be a finite number >= 0|less than minimum value 0"),
    ("calibration_size", 10**6, r"calibration_size must be a whole number from 1 to 1024|"
                                r"greater than maximum value 1024"),
    ("seed", -1, r"seed must be a whole number from 0|less than minimum value 0"),
]
CASE_IDS = [f"{field}={value!r}" for field, value, _ in BAD_SETTINGS]


def ui_changes(field: str, value) -> dict:
    """The UI/API controls for one bad setting (per-layer-type amounts need the checkbox and local scope)."""
    if field in ("conv_amount", "linear_amount"):
        return {field: value, "per_type": True, "scope": "local"}
    return {field: value}


def config_kwargs(field: str, value) -> dict:
    extra = {"scope": "local"} if field in ("conv_amount", "linear_amount") else {}
    return {field: tuple(value) if field == "layer_types" else value, **extra}


def cli_args(field: str, value) -> list[str]:
    text = ",".join(value) if isinstance(value, list) else str(value)
    extra = ["--scope=local"] if field in ("conv_amount", "linear_amount") else []
    return [f"--{field.replace('_', '-')}={text}", "--no-eval", *extra]


# ---------------------------------------------------------------- the four boundaries, one table

@pytest.mark.parametrize("field, value, message", BAD_SETTINGS, ids=CASE_IDS)
def test_bad_setting_through_the_event_function_is_a_gradio_error(field, value, message):
    with pytest.raises(gr.Error, match=message):
        run(**ui_changes(field, value))


@pytest.mark.parametrize("field, value, message", BAD_SETTINGS, ids=CASE_IDS)
def test_bad_setting_through_the_python_api_is_a_value_error(field, value, message):
    with pytest.raises(ValueError, match=message):
        PruneConfig(**config_kwargs(field, value))


@pytest.mark.parametrize("field, value, message", BAD_SETTINGS, ids=CASE_IDS)
def test_bad_setting_through_the_cli_is_one_line_and_exit_code_2(field, value, message, capsys):
    code = cli_exit_code(cli_args(field, value))
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("error: ") and "Traceback" not in err
    assert re.search(message, err), err


def cli_exit_code(argv: list[str]) -> int:
    """`python -m pruning ARGV`'s exit code (argparse errors exit, the others return)."""
    try:
        return cli.main(argv)
    except SystemExit as exit_:
        return int(exit_.code)


# ---------------------------------------------------------------- the launched server (HTTP API)

class Server:
    """The app launched in-process (with the app's own launch options) and one client session."""

    def __init__(self, url: str):
        self.url = url
        self.client = Client(self.url, verbose=False)

    def predict(self, **changes):
        return self.client.predict(*api_args(**changes), api_name="/update")

    def draw(self, sketch) -> tuple:
        """/draw's outputs (the drawing as the model sees it, labels before and after) for this client."""
        return self.client.predict(sketch, api_name="/draw")

    def error(self, **changes) -> str:
        """The error message /update sends back for these settings (fails if there is none)."""
        args = api_args(**changes)
        if any(isinstance(v, float) and not math.isfinite(v) for v in args):
            return self.raw_error(args)     # gradio_client refuses to JSON-encode NaN / inf
        return self.call_error(*args, api_name="/update")

    def call_error(self, *args, api_name: str) -> str:
        """The error message an endpoint sends back for these inputs (fails if there is none)."""
        with pytest.raises(Exception) as err:
            self.client.predict(*args, api_name=api_name)
        return str(err.value)

    def raw_error(self, args: list) -> str:
        """POST the data as raw JSON (NaN / Infinity literals allowed) and read the event stream. A raw
        call sends every input: any /update has beyond the setting get their defaults from the API info."""
        parameters = self.client.view_api(return_format="dict", print_info=False)["named_endpoints"]["/update"]
        args = args + [p["parameter_default"] for p in parameters["parameters"][len(args):]]
        body = json.dumps({"data": args}, allow_nan=True)
        posted = httpx.post(f"{self.url}gradio_api/call/update", content=body,
                            headers={"content-type": "application/json"}, timeout=30)
        posted.raise_for_status()
        stream = httpx.get(f"{self.url}gradio_api/call/update/{posted.json()['event_id']}", timeout=120)
        lines = stream.text.splitlines()
        assert "event: error" in lines, stream.text[:500]
        return str(json.loads(lines[lines.index("event: error") + 1].removeprefix("data: "))["error"])

    def assert_serving(self):
        """This client's page answers (it then holds a result), and a new page gets every view (a page that
        already shows a setting is not sent its unchanged views again)."""
        assert "accuracy-panel" in self.predict()[0]
        panel, chart, *_ = Client(self.url, verbose=False).predict(*api_args(), api_name="/update")
        assert "accuracy-panel" in panel and "sparsity-chart" in chart


@pytest.fixture(scope="module")
def server(server_url):
    launched = Server(server_url)
    launched.assert_serving()
    return launched


@pytest.mark.slow
@pytest.mark.parametrize("field, value, message", BAD_SETTINGS, ids=CASE_IDS)
def test_bad_setting_through_the_http_api_is_a_clear_error_and_the_server_keeps_serving(
        server, field, value, message):
    error = server.error(**ui_changes(field, value))
    assert re.search(message, error), error
    server.assert_serving()


# ---------------------------------------------------------------- the heavy tabs: caps, order, time budget

STEPS_CAP = rf"steps must be a whole number from 1 to {tuning.MAX_FINETUNE_STEPS}"
HEAVY_BAD = [                                  # (event function of ui.tabs, its inputs, message)
    ("run_finetune", (tuning.MAX_FINETUNE_STEPS + 1,), STEPS_CAP),
    ("run_finetune", (10**6,), STEPS_CAP),
    ("run_finetune", (0,), STEPS_CAP),
    ("run_finetune", (-5,), STEPS_CAP),
    ("run_finetune", (NAN,), STEPS_CAP),
    ("run_finetune", ("lots",), STEPS_CAP),
    ("run_iterative", (iterative.MAX_ROUNDS + 1, 10),
     rf"rounds must be a whole number from 1 to {iterative.MAX_ROUNDS}"),
    ("run_iterative", (iterative.MAX_ROUNDS, tuning.MAX_FINETUNE_STEPS),
     rf"rounds x steps per round must be at most {iterative.MAX_TOTAL_STEPS}"),
]
BEFORE_PRUNING = {"curves": ("amount",), "run_finetune": (10,), "run_iterative": (2, 10), "size_and_speed": (),
                  "export": (False,), "inspect_layer": (None,)}


@pytest.fixture(scope="module")
def mlp_page() -> gr.Request:
    """A page that has pruned the MLP (the tabs work from its result)."""
    return run(model="mlp", amount=0.5)["request"]


def call_tab(function: str, *inputs, request: gr.Request):
    """ui.tabs.<function>(*inputs) for `request`'s page; a generator (the curves) is run to its end."""
    outputs = getattr(tabs, function)(*inputs, request=request)
    if hasattr(outputs, "__next__"):
        *_, outputs = outputs
    return outputs


@pytest.mark.parametrize("function, inputs, message", HEAVY_BAD, ids=[f"{f}{i}" for f, i, _ in HEAVY_BAD])
def test_heavy_work_above_its_caps_is_a_gradio_error(mlp_page, function, inputs, message):
    with pytest.raises(gr.Error, match=message):
        call_tab(function, *inputs, request=mlp_page)


@pytest.mark.parametrize("function", list(BEFORE_PRUNING))
def test_tabs_before_any_pruning_ask_to_prune_first(function):
    with pytest.raises(gr.Error, match="Prune a model first"):
        call_tab(function, *BEFORE_PRUNING[function], request=new_request())


@pytest.mark.parametrize("function, inputs", [("run_finetune", (tuning.MAX_FINETUNE_STEPS,)),
                                              ("run_iterative", (3, 100))])
def test_heavy_work_stops_at_the_time_budget_and_the_next_request_works(mlp_page, monkeypatch, function, inputs):
    budgeted = tabs.budgeted
    monkeypatch.setattr(tabs, "budgeted", functools.partial(budgeted, seconds=0.0))
    start = time.perf_counter()
    with pytest.raises(gr.Error) as stopped:
        call_tab(function, *inputs, request=mlp_page)
    # what the user reads: the budget's own message, not that message quoted inside another gr.Error
    assert stopped.value.message.startswith("Stopped after 0 s (this server's time budget per request)")
    assert time.perf_counter() - start < 30                  # stopped early, not at the end (generous)
    monkeypatch.setattr(tabs, "budgeted", budgeted)
    small = {"run_finetune": (10,), "run_iterative": (2, 10)}[function]
    assert call_tab(function, *small, request=mlp_page) is not None


def test_curves_past_the_time_budget_end_without_an_error_and_the_sweep_goes_on(mlp_page, monkeypatch, fresh_sweeps):
    # fresh_sweeps: the curves are not computed yet, so waiting for them meets the budget
    monkeypatch.setattr(tabs, "TIME_BUDGET_S", 0.0)
    start = time.perf_counter()
    views = list(tabs.curves("amount", request=mlp_page))
    assert time.perf_counter() - start < 30                  # ended early, not at the end of the sweep
    assert views and "Shown after 0 s" in views[-1] and "click again in a while" in views[-1]   # lines or not
    monkeypatch.setattr(tabs, "TIME_BUDGET_S", 600.0)
    view = next(tabs.curves("amount", request=mlp_page))     # the sweep went on: lines are drawn
    assert "pl-curve-panel" in view and "data-method=" in view


def test_size_and_speed_stops_at_the_time_budget(monkeypatch):
    structured = run(model="lenet", method="ln_structured", amount=0.5)["request"]
    monkeypatch.setattr(tabs, "budgeted", functools.partial(tabs.budgeted, seconds=0.0))
    with pytest.raises(gr.Error) as stopped:
        tabs.size_and_speed(structured)
    assert stopped.value.message.startswith("Stopped after 0 s (this server's time budget per request)")
    monkeypatch.undo()
    assert "shrunk" in tabs.size_and_speed(structured)


@pytest.mark.slow
def test_heavy_endpoints_over_http_refuse_bad_requests_and_keep_serving(server):
    fresh = Client(server.url, verbose=False)                 # a session that has not pruned yet
    for api_name, inputs in [("/export", [False]), ("/finetune", [10]), ("/curves", ["amount"])]:
        with pytest.raises(Exception, match="Prune a model first"):
            fresh.predict(*inputs, api_name=api_name)
    server.assert_serving()                                   # this session has pruned
    for api_name, inputs, message in [           # gradio's own check of the slider, or the app's
            ("/finetune", [10**6], rf"greater than maximum value {tuning.MAX_FINETUNE_STEPS}|{STEPS_CAP}"),
            ("/iterative", [iterative.MAX_ROUNDS + 5, 10],
             rf"greater than maximum value {iterative.MAX_ROUNDS}|rounds must be a whole number from 1 to "
             rf"{iterative.MAX_ROUNDS}"),
            ("/iterative", [iterative.MAX_ROUNDS, tuning.MAX_FINETUNE_STEPS],
             rf"at most {iterative.MAX_TOTAL_STEPS}")]:
        with pytest.raises(Exception, match=message):
            server.client.predict(*inputs, api_name=api_name)
    path, note = server.client.predict(False, api_name="/export")
    assert Path(path).stat().st_size > 0 and "Wrote" in note
    server.assert_serving()


# ---------------------------------------------------------------- drawings: odd images

def _digit_canvas(heldout, index: int = 0, scale: int = 9, size=(280, 280)) -> np.ndarray:
    """A held-out digit drawn as dark ink on a white RGB canvas."""
    top = (size[0] - 28 * scale) // 2
    left = (size[1] - 28 * scale) // 2
    return drawn_copy(heldout.images[index].numpy(), scale, top, left, size=size, rgba=False)["composite"]


def _modes(canvas: np.ndarray) -> dict[str, Image.Image]:
    rgb = Image.fromarray(canvas)
    black = Image.new("L", rgb.size, 0)
    rgba = Image.merge("RGBA", [black, black, black, Image.fromarray(255 - canvas[..., 0])])  # ink = alpha
    gray = rgb.convert("L")
    return {"RGB": rgb, "RGBA": rgba, "L": gray, "P": gray.convert("P", palette=Image.ADAPTIVE, colors=256)}


BLANKS = {
    "transparent": lambda: Image.new("RGBA", (280, 280), (0, 0, 0, 0)),
    "all-black": lambda: Image.new("RGB", (280, 280), "black"),
    "all-white": lambda: Image.new("RGB", (280, 280), "white"),
    "tiny-1x1": lambda: Image.new("RGB", (1, 1), "white"),
    "tiny-1x1-ink": lambda: Image.new("L", (1, 1), 0),
}


def _truncated_png(heldout, tmp_path: Path) -> str:
    """A PNG data URL cut after 200 bytes of the image."""
    buffer = io.BytesIO()
    Image.fromarray(_digit_canvas(heldout)).save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()[:200]).decode()


def _digit_file(heldout, tmp_path: Path) -> str:
    """The path of a readable digit PNG on the server: a path is not a drawing and must not be opened."""
    Image.fromarray(_digit_canvas(heldout)).save(tmp_path / "digit.png")
    return str(tmp_path / "digit.png")


NOT_IMAGES = {                              # pad values that are no readable drawing (name -> maker)
    "text": lambda heldout, tmp_path: "data:image/png;base64," + base64.b64encode(b"hello, not an image").decode(),
    "truncated png": _truncated_png,
    "not base64": lambda heldout, tmp_path: "data:image/png;base64,@@@not base64@@@",
    "gif data url": lambda heldout, tmp_path: "data:image/gif;base64,R0lGODlhAQABAAAAACw=",
    "server file path": _digit_file,
}


@pytest.mark.parametrize("name", list(BLANKS))
def test_blank_drawings_show_the_hint_through_the_event_function(name):
    page = run()
    seen, before, after = handlers.draw(pad_value(BLANKS[name]()), page["request"])
    assert seen_pixels(seen) is None and before == handlers.BLANK_HINT == after
    assert "accuracy-panel" in run(page["request"], amount=0.6)["accuracy"]


@pytest.mark.parametrize("mode", ["RGBA", "L", "P"])
def test_rgba_grayscale_and_palette_drawings_read_like_rgb(heldout, mode):
    images, page = _modes(_digit_canvas(heldout)), run()
    reference = handlers.draw(pad_value(images["RGB"]), page["request"])
    seen, before, after = handlers.draw(pad_value(images[mode]), page["request"])
    assert seen_pixels(seen).shape == (28, 28) and (seen, before, after) == reference


def test_a_large_drawing_is_shrunk_and_read_like_a_small_one(heldout):
    page = run()
    small_seen, small_before, _ = handlers.draw(pad_value(_digit_canvas(heldout)), page["request"])
    large = _digit_canvas(heldout, scale=140, size=(4000, 4000))[..., 0]      # (4000, 4000): 16 M pixels
    seen, before, _ = handlers.draw(pad_value(large), page["request"])
    assert seen_pixels(seen).shape == seen_pixels(small_seen).shape == (28, 28)
    assert top(before) == top(small_before)


def test_a_huge_image_is_refused_unread_with_a_warning():
    page = run()
    huge = pad_value(Image.new("L", (8000, 8000), 255))                      # 64 M pixels, a small PNG
    start = time.perf_counter()
    with pytest.warns(UserWarning, match=r"Could not read the drawing: image too large"):
        seen, before, _ = handlers.draw(huge, page["request"])
    assert time.perf_counter() - start < 30                  # refused, not decoded (generous: shared CPU)
    assert seen_pixels(seen) is None and before == handlers.BLANK_HINT
    assert "accuracy-panel" in run(page["request"], amount=0.6)["accuracy"]


def test_too_much_image_data_is_refused_unread_with_a_warning():
    page = run()
    with pytest.warns(UserWarning, match=r"Could not read the drawing: image data too large"):
        seen, before, _ = handlers.draw("data:image/png;base64," + "A" * (5 << 20), page["request"])
    assert seen_pixels(seen) is None and before == handlers.BLANK_HINT


@pytest.mark.parametrize("name", list(NOT_IMAGES))
def test_a_value_that_is_no_drawing_warns_and_keeps_serving(heldout, tmp_path, name):
    page = run()
    with pytest.warns(UserWarning, match=r"Could not read the drawing"):
        seen, before, _ = handlers.draw(NOT_IMAGES[name](heldout, tmp_path), page["request"])
    assert seen_pixels(seen) is None and before == handlers.BLANK_HINT
    assert "accuracy-panel" in run(page["request"], amount=0.6)["accuracy"]


@pytest.mark.slow
def test_drawings_through_the_http_api(server, heldout):
    server.predict()                                                     # this client's result: DEFAULTS
    for name, make in BLANKS.items():
        seen, before, after = server.draw(pad_value(make()))
        assert seen_pixels(seen) is None and before["label"] == handlers.BLANK_HINT == after["label"], name
    page = run()                                                         # in-process, DEFAULTS, RGB
    reference_seen, *reference = handlers.draw(pad_value(_digit_canvas(heldout)), page["request"])
    for mode, image in _modes(_digit_canvas(heldout)).items():
        seen, before, after = server.draw(pad_value(image))
        assert seen == reference_seen and seen_pixels(seen).shape == (28, 28), mode
        assert same_label(before, reference[0]) and same_label(after, reference[1]), mode
    before, after = server.predict(amount=0.9)[4:6]                    # the drawing stays with the client
    expected = run(page["request"], amount=0.9)
    assert same_label(before, expected["before"]) and same_label(after, expected["after"])
    server.assert_serving()


@pytest.mark.slow
@pytest.mark.parametrize("name", list(NOT_IMAGES))
def test_a_value_that_is_no_drawing_through_the_http_api_gets_the_hint_and_the_server_keeps_serving(
        server, heldout, tmp_path, name):
    seen, before, after = server.draw(NOT_IMAGES[name](heldout, tmp_path))
    assert seen_pixels(seen) is None and before["label"] == handlers.BLANK_HINT == after["label"]
    server.assert_serving()


@pytest.mark.slow
def test_a_huge_image_through_the_http_api_is_refused_before_decoding(server):
    image = Image.new("L", (8000, 8000), 255)                # 64 M pixels; ~80 KB as a PNG
    image.paste(0, (3700, 1000, 4300, 7000))                 # a "1"
    start = time.perf_counter()
    seen, before, _ = server.draw(pad_value(image))
    assert seen_pixels(seen) is None and before["label"] == handlers.BLANK_HINT
    assert time.perf_counter() - start < 30                  # refused, not decoded (generous: shared CPU)
    server.assert_serving()


# ---------------------------------------------------------------- checkpoints: only the bad model goes

def _rehash(directory: Path, name: str) -> None:
    """Write the manifest line for `name` as the file is now (an attacker who also edits the manifest)."""
    manifest = directory / "MANIFEST.sha256"
    lines = [line for line in manifest.read_text().splitlines() if not line.endswith(f"  {name}")]
    manifest.write_text("\n".join(lines + [f"{file_sha256(directory / name)}  {name}"]) + "\n")


class _Payload:
    """Pickled as a call of open(marker, "w"): a checkpoint that runs code if unpickled unsafely."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return open, (str(self.marker), "w")


def _corrupt(directory: Path, model: str, kind: str) -> None:
    path = directory / f"{model}.pt"
    data = bytearray(path.read_bytes())
    if kind == "tampered":                       # one byte changed, manifest untouched
        data[len(data) // 2] ^= 0xFF
        path.write_bytes(bytes(data))
    elif kind == "truncated":                    # cut in half; manifest updated so the reader sees it
        path.write_bytes(bytes(data[: len(data) // 2]))
        _rehash(directory, path.name)
    elif kind == "wrong architecture":           # an MLP's weights labelled as this model
        save_checkpoint(path, model, create_model("mlp" if model != "mlp" else "lenet"))
        _rehash(directory, path.name)
    elif kind == "other model's file":           # a valid checkpoint of another model under this name
        shutil.copy(directory / ("lenet.pt" if model != "lenet" else "mlp.pt"), path)
        _rehash(directory, path.name)
    elif kind == "code in pickle":               # would create a file if loaded without weights_only
        torch.save({"format": FORMAT, "model_name": model, "payload": _Payload(directory / "pwned")}, path)
        _rehash(directory, path.name)
    elif kind == "not in manifest":
        manifest = directory / "MANIFEST.sha256"
        manifest.write_text("".join(line + "\n" for line in manifest.read_text().splitlines()
                                    if not line.endswith(f"  {path.name}")))


CORRUPTIONS = [
    ("tampered", "lenet", r"does not match its sha256"),
    ("truncated", "convnet", r"cannot be read safely"),
    ("wrong architecture", "lenet", r"does not fit architecture 'lenet'"),
    ("other model's file", "mlp", r"holds 'lenet', not 'mlp'"),
    ("code in pickle", "convnet", r"convnet\.pt.*\b(io|builtins)\.open\b"),  # names what it refused
    ("not in manifest", "mlp", r"not listed in"),
]


def _clear_model_caches() -> None:
    load_pretrained.cache_clear()
    resources.model_status.cache_clear()
    dense_predictions.cache_clear()


@pytest.fixture
def checkpoint_copy(tmp_path, monkeypatch):
    """checkpoints/ copied to a temporary directory that the loader reads; caches restored afterwards."""
    directory = tmp_path / "checkpoints"
    shutil.copytree(checkpoint.CHECKPOINT_DIR, directory)
    monkeypatch.setattr(checkpoint, "CHECKPOINT_DIR", directory)
    monkeypatch.setattr(checkpoint, "MANIFEST", directory / checkpoint.MANIFEST.name)
    _clear_model_caches()
    yield directory
    monkeypatch.undo()
    _clear_model_caches()


@pytest.mark.parametrize("kind, model, message", CORRUPTIONS, ids=[c[0] for c in CORRUPTIONS])
def test_a_bad_checkpoint_disables_only_its_model_with_a_visible_message(checkpoint_copy, kind, model, message):
    _corrupt(checkpoint_copy, model, kind)
    others = [name for name in ("lenet", "convnet", "mlp") if name != model]
    usable, broken = resources.model_status()
    assert usable == others and list(broken) == [model]
    assert re.search(message, broken[model]), broken[model]
    # shown on the page: no terminal colour codes, no advice to load an unsafe file anyway
    assert "\x1b" not in broken[model] and "can still be loaded" not in broken[model]
    assert str(checkpoint_copy.parent) not in broken[model]        # no server paths on the page
    assert f"Model **{model}** is disabled" in handlers.page_header() and broken[model] in handlers.page_header()
    dropdown = next(b for b in app.build_demo().blocks.values()
                    if isinstance(b, gr.Dropdown) and b.label == "Model")
    assert [value for _, value in dropdown.choices] == others
    with pytest.raises(gr.Error, match=f"Model {model} is disabled"):
        run(model=model)
    for other in others:
        assert f"({other})" in run(model=other, amount=0.3)["accuracy"]
    assert not (checkpoint_copy / "pwned").exists()          # nothing was executed while loading


@pytest.mark.parametrize("kind", ["truncated", "code in pickle", "wrong architecture"])
def test_a_bad_checkpoint_through_the_cli_is_one_line_and_exit_code_2(checkpoint_copy, kind, capsys):
    _corrupt(checkpoint_copy, "lenet", kind)
    code = cli_exit_code(["--checkpoint", str(checkpoint_copy / "lenet.pt"), "--no-eval"])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("error: ") and "lenet.pt" in err and "Traceback" not in err
    assert not (checkpoint_copy / "pwned").exists()


# ---------------------------------------------------------------- session state is freed

@pytest.mark.slow
def test_a_session_is_kept_while_used_and_freed_with_its_pruned_model_when_idle(server, monkeypatch):
    assert handlers.SESSIONS.idle_seconds <= 3600 and handlers.SESSIONS.capacity <= 1000   # the app bounds them
    client = Client(server.url, verbose=False)
    client.predict(*api_args(model="mlp", amount=0.6), api_name="/update")
    session = handlers.SESSIONS.peek(client.session_hash)
    result = session.result
    client.predict(*api_args(model="mlp", amount=0.6), api_name="/update")    # in use: kept, not re-pruned
    assert handlers.SESSIONS.peek(client.session_hash) is session and session.result is result
    model = weakref.ref(result.model if result.model is not None else shared.pruned_model(result))  # served: rebuilt
    del session, result
    monkeypatch.setattr(handlers.SESSIONS, "idle_seconds", 1.0)     # ...shortened here to see it happen
    time.sleep(1.5)
    Client(server.url, verbose=False).predict(*api_args(model="mlp"), api_name="/update")   # a new page arrives
    gc.collect()
    assert handlers.SESSIONS.peek(client.session_hash) is None, "the idle session was not dropped"
    for i in range(shared.MODEL_CACHE_SIZE):
        shared.MODELS.put(PruneConfig(model="mlp", amount=0.01 * (i + 1), seed=999), torch.nn.Linear(1, 1))
    gc.collect()
    assert model() is None, "the dropped session's pruned model is still referenced somewhere"
    with pytest.raises(Exception, match="Prune a model first"):    # the page starts afresh
        client.predict(False, api_name="/export")


@pytest.mark.slow
def test_the_same_drawing_from_several_sessions_at_once_gives_the_same_image(server, heldout):
    # the drawn digit is inline HTML, not a cached file that concurrent identical outputs rewrite
    sketch = pad_value(_modes(_digit_canvas(heldout))["RGB"])
    clients = [Client(server.url, verbose=False) for _ in range(8)]

    def prune_then_draw(client: Client) -> tuple:
        client.predict(*api_args(), api_name="/update")
        return client.predict(sketch, api_name="/draw")

    with ThreadPoolExecutor(len(clients)) as pool:
        outputs = list(pool.map(prune_then_draw, clients))
    seen = {output[0] for output in outputs}
    assert len(seen) == 1 and seen_pixels(seen.pop()).shape == (28, 28)
    server.assert_serving()
