"""Bad inputs at every boundary (event functions, HTTP API, CLI, Python API) get clear messages and
the server keeps serving; a bad checkpoint disables only its own model; session state is freed."""
from __future__ import annotations

import functools
import gc
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
from gradio_client import Client, handle_file
from PIL import Image

import app
from models import create_model
from pruning import PruneConfig, checkpoint, cli, engine
from pruning import finetune as tuning
from pruning.checkpoint import FORMAT, file_sha256, load_pretrained, save_checkpoint
from tests.test_app import DEFAULTS, run, seen_pixels
from tests.test_server import free_port
from tests.test_sketch import drawn_copy

NAN, INF = float("nan"), float("inf")
API_ORDER = ["model", "method", "amount", "threshold", "scope", "per_type", "conv_amount", "linear_amount",
             "layer_types", "calibration_size", "norm", "seed", "sketch"]

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

def api_args(**changes) -> list:
    """The /update endpoint's positional inputs (the session state is not an API input)."""
    values = {**DEFAULTS, **changes}
    return [values[name] for name in API_ORDER]


class Server:
    """The app launched in-process (with the app's own launch options) and one client session."""

    def __init__(self):
        options = getattr(app, "LAUNCH_OPTIONS", {})
        _, self.url, _ = app.demo.launch(server_name="127.0.0.1", server_port=free_port(),
                                         prevent_thread_lock=True, quiet=True, **options)
        self.client = Client(self.url, verbose=False)

    def predict(self, **changes):
        return self.client.predict(*api_args(**changes), api_name="/update")

    def error(self, **changes) -> str:
        """The error message the API sends back for these settings (fails if there is none)."""
        args = api_args(**changes)
        if any(isinstance(v, float) and not math.isfinite(v) for v in args):
            return self.raw_error(args)     # gradio_client refuses to JSON-encode NaN / inf
        with pytest.raises(Exception) as err:
            self.client.predict(*args, api_name="/update")
        return str(err.value)

    def raw_error(self, args: list) -> str:
        """POST the data as raw JSON (NaN / Infinity literals allowed) and read the event stream."""
        body = json.dumps({"data": args}, allow_nan=True)
        posted = httpx.post(f"{self.url}gradio_api/call/update", content=body,
                            headers={"content-type": "application/json"}, timeout=30)
        posted.raise_for_status()
        stream = httpx.get(f"{self.url}gradio_api/call/update/{posted.json()['event_id']}", timeout=120)
        lines = stream.text.splitlines()
        assert "event: error" in lines, stream.text[:500]
        return str(json.loads(lines[lines.index("event: error") + 1].removeprefix("data: "))["error"])

    def assert_serving(self):
        panel, chart, *_ = self.predict()
        assert "accuracy-panel" in panel and "sparsity-chart" in chart


@pytest.fixture(scope="module")
def server():
    launched = Server()
    launched.assert_serving()
    yield launched
    app.demo.close()


@pytest.mark.slow
@pytest.mark.parametrize("field, value, message", BAD_SETTINGS, ids=CASE_IDS)
def test_bad_setting_through_the_http_api_is_a_clear_error_and_the_server_keeps_serving(
        server, field, value, message):
    error = server.error(**ui_changes(field, value))
    assert re.search(message, error), error
    server.assert_serving()


# ---------------------------------------------------------------- the heavy tabs: caps, order, time budget

STEPS_CAP = rf"steps must be a whole number from 1 to {tuning.MAX_FINETUNE_STEPS}"
HEAVY_BAD = [                                  # (event function, inputs after the session, message)
    ("run_finetune", (tuning.MAX_FINETUNE_STEPS + 1,), STEPS_CAP),
    ("run_finetune", (10**6,), STEPS_CAP),
    ("run_finetune", (0,), STEPS_CAP),
    ("run_finetune", (-5,), STEPS_CAP),
    ("run_finetune", (NAN,), STEPS_CAP),
    ("run_finetune", ("lots",), STEPS_CAP),
    ("run_iterative", (tuning.MAX_ROUNDS + 1, 10), rf"rounds must be a whole number from 1 to {tuning.MAX_ROUNDS}"),
    ("run_iterative", (tuning.MAX_ROUNDS, tuning.MAX_FINETUNE_STEPS),
     rf"rounds x steps per round must be at most {tuning.MAX_TOTAL_STEPS}"),
]
BEFORE_PRUNING = {"curves": ("amount",), "run_finetune": (10,), "run_iterative": (2, 10), "size_and_speed": (),
                  "export": (False,), "inspect_layer": (None,)}


@pytest.fixture(scope="module")
def mlp_session():
    return run(model="mlp", amount=0.5)["session"]


@pytest.mark.parametrize("function, inputs, message", HEAVY_BAD, ids=[f"{f}{i}" for f, i, _ in HEAVY_BAD])
def test_heavy_work_above_its_caps_is_a_gradio_error(mlp_session, function, inputs, message):
    with pytest.raises(gr.Error, match=message):
        getattr(app, function)(mlp_session, *inputs)


@pytest.mark.parametrize("function", list(BEFORE_PRUNING))
def test_tabs_before_any_pruning_ask_to_prune_first(function):
    with pytest.raises(gr.Error, match="Prune a model first"):
        getattr(app, function)(None, *BEFORE_PRUNING[function])


@pytest.mark.parametrize("function, inputs", [("run_finetune", (tuning.MAX_FINETUNE_STEPS,)),
                                              ("run_iterative", (3, 100)), ("curves", ("amount",))])
def test_heavy_work_stops_at_the_time_budget_and_the_next_request_works(mlp_session, monkeypatch, function,
                                                                        inputs):
    monkeypatch.setattr(app, "budgeted", functools.partial(app.budgeted, seconds=0.0))
    start = time.perf_counter()
    with pytest.raises(gr.Error) as stopped:
        getattr(app, function)(mlp_session, *inputs)
    # what the user reads: the budget's own message, not that message quoted inside another gr.Error
    assert stopped.value.message.startswith("Stopped after 0 s (this server's time budget per request)")
    assert time.perf_counter() - start < 30                  # stopped early, not at the end (generous)
    monkeypatch.undo()
    small = {"run_finetune": (10,), "run_iterative": (2, 10), "curves": ("amount",)}[function]
    assert getattr(app, function)(mlp_session, *small) is not None


def test_size_and_speed_stops_at_the_time_budget(monkeypatch):
    structured = run(model="lenet", method="ln_structured", amount=0.5)["session"]
    monkeypatch.setattr(app, "budgeted", functools.partial(app.budgeted, seconds=0.0))
    with pytest.raises(gr.Error) as stopped:
        app.size_and_speed(structured)
    assert stopped.value.message.startswith("Stopped after 0 s (this server's time budget per request)")
    monkeypatch.undo()
    assert "shrunk" in app.size_and_speed(structured)


@pytest.mark.slow
def test_heavy_endpoints_over_http_refuse_bad_requests_and_keep_serving(server):
    fresh = Client(server.url, verbose=False)                 # a session that has not pruned yet
    for api_name, inputs in [("/export", [False]), ("/finetune", [10]), ("/curves", ["amount"])]:
        with pytest.raises(Exception, match="Prune a model first"):
            fresh.predict(*inputs, api_name=api_name)
    server.assert_serving()                                   # this session has pruned
    for api_name, inputs, message in [
            ("/finetune", [10**6], rf"greater than maximum value {tuning.MAX_FINETUNE_STEPS}"),
            ("/iterative", [tuning.MAX_ROUNDS + 5, 10], rf"greater than maximum value {tuning.MAX_ROUNDS}"),
            ("/iterative", [tuning.MAX_ROUNDS, tuning.MAX_FINETUNE_STEPS],
             rf"at most {tuning.MAX_TOTAL_STEPS}")]:
        with pytest.raises(Exception, match=message):
            server.client.predict(*inputs, api_name=api_name)
    path, note = server.client.predict(False, api_name="/export")
    assert Path(path).stat().st_size > 0 and "Wrote" in note
    server.assert_serving()


# ---------------------------------------------------------------- sketches: odd images

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


@pytest.mark.parametrize("name", list(BLANKS))
def test_blank_sketches_show_the_hint_through_the_event_function(name):
    out = run(sketch={"background": None, "layers": [], "composite": np.asarray(BLANKS[name]())})
    assert seen_pixels(out["seen"]) is None and out["before"] == app.BLANK_HINT == out["after"]
    assert "accuracy-panel" in out["accuracy"]


@pytest.mark.parametrize("mode", ["RGBA", "L", "P"])
def test_rgba_grayscale_and_palette_sketches_read_like_rgb(heldout, mode):
    images = _modes(_digit_canvas(heldout))
    reference = run(sketch=images["RGB"])
    out = run(sketch=images[mode], session=reference["session"])
    assert seen_pixels(out["seen"]).shape == (28, 28) and out["seen"] == reference["seen"]
    assert out["before"] == reference["before"] and out["after"] == reference["after"]


def test_huge_sketch_through_the_event_function_is_shrunk_and_read(heldout):
    small = run(sketch=_digit_canvas(heldout))
    huge = _digit_canvas(heldout, scale=250, size=(8000, 8000))[..., 0]       # (8000, 8000) grayscale
    out = run(sketch=huge, session=small["session"])
    assert seen_pixels(out["seen"]).shape == seen_pixels(small["seen"]).shape == (28, 28)
    assert max(out["before"], key=out["before"].get) == max(small["before"], key=small["before"].get)


def test_huge_image_file_through_the_event_function_is_refused_unread_with_a_warning(tmp_path):
    path = tmp_path / "huge.png"
    Image.new("L", (8000, 8000), 255).save(path)              # 64 M pixels
    with pytest.warns(UserWarning, match=r"Could not read the drawing: image too large"):
        out = run(sketch={"background": None, "layers": [], "composite": str(path)})
    assert seen_pixels(out["seen"]) is None and "accuracy-panel" in out["accuracy"]


def test_non_image_file_through_the_event_function_warns_and_keeps_serving(tmp_path):
    path = tmp_path / "notes.png"
    path.write_text("not an image")
    out = run(sketch={"background": None, "layers": [], "composite": str(path)})
    assert seen_pixels(out["seen"]) is None and out["before"] == app.BLANK_HINT
    assert "accuracy-panel" in out["accuracy"]


def _upload(image: Image.Image, path: Path) -> dict:
    image.save(path)
    return {"background": None, "layers": [], "composite": handle_file(str(path))}


@pytest.mark.slow
def test_sketches_through_the_http_api(server, heldout, tmp_path):
    for name, make in BLANKS.items():
        *_, seen, before, after = server.predict(sketch=_upload(make(), tmp_path / f"{name}.png"))
        assert seen_pixels(seen) is None and before["label"] == app.BLANK_HINT == after["label"], name
    reference = run(sketch=_digit_canvas(heldout))                       # in-process, RGB
    for mode, image in _modes(_digit_canvas(heldout)).items():
        *_, seen, before, after = server.predict(sketch=_upload(image, tmp_path / f"{mode}.png"))
        assert seen == reference["seen"] and seen_pixels(seen).shape == (28, 28), mode
        for label, expected in ((before, reference["before"]), (after, reference["after"])):
            assert label["label"] == max(expected, key=expected.get), mode
            for item in label["confidences"]:
                assert item["confidence"] == pytest.approx(expected[item["label"]], abs=1e-5), mode
    server.assert_serving()


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["text file", "truncated png"])
def test_non_image_upload_through_the_http_api_is_a_clear_error(server, heldout, tmp_path, kind):
    path = tmp_path / ("notes.txt" if kind == "text file" else "cut.png")
    if kind == "text file":
        path.write_text("hello, not an image")
    else:
        Image.fromarray(_digit_canvas(heldout)).save(path)
        path.write_bytes(path.read_bytes()[:200])
    error = server.error(sketch={"background": None, "layers": [], "composite": handle_file(str(path))})
    assert re.search(r"cannot identify image file|truncated|not a readable image", error), error
    server.assert_serving()


@pytest.mark.slow
def test_huge_upload_is_refused_before_decoding(server, tmp_path):
    image = Image.new("L", (8000, 8000), 255)                # 64 M pixels; ~80 KB as a PNG
    image.paste(0, (3700, 1000, 4300, 7000))                 # a "1"
    start = time.perf_counter()
    error = server.error(sketch=_upload(image, tmp_path / "huge.png"))
    assert re.search(r"exceeds limit|too large", error), error
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
    app.model_status.cache_clear()
    engine._dense_predictions.cache_clear()


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
    usable, broken = app.model_status()
    assert usable == others and list(broken) == [model]
    assert re.search(message, broken[model]), broken[model]
    # shown on the page: no terminal colour codes, no advice to load an unsafe file anyway
    assert "\x1b" not in broken[model] and "can still be loaded" not in broken[model]
    assert str(checkpoint_copy.parent) not in broken[model]        # no server paths on the page
    assert f"Model **{model}** is disabled" in app.page_header() and broken[model] in app.page_header()
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
def test_expired_session_state_frees_the_pruned_model():
    demo = app.build_demo()
    demo.queue(max_size=64, default_concurrency_limit=2)
    state = next(b for b in demo.blocks.values() if isinstance(b, gr.State))
    assert state.time_to_live <= 3600                        # the app bounds how long a session is kept
    state.time_to_live = 1                                   # ...shortened here to see it happen
    server_app, url, _ = demo.launch(server_name="127.0.0.1", server_port=free_port(),
                                     prevent_thread_lock=True, quiet=True)
    try:
        client = Client(url, verbose=False)
        client.predict(*api_args(), api_name="/update")
        stored = server_app.state_holder.session_data[client.session_hash].state_data
        session = next(v for v in stored.values() if isinstance(v, app.Session))
        model = weakref.ref(session.result.model)
        del session
        deadline = time.monotonic() + 30
        while any(isinstance(v, app.Session) for v in list(stored.values())) and time.monotonic() < deadline:
            time.sleep(0.5)
        gc.collect()
        assert not any(isinstance(v, app.Session) for v in stored.values()), "state was not deleted"
        assert model() is None, "the expired session's pruned model is still referenced somewhere"
    finally:
        demo.close()


@pytest.mark.slow
def test_the_same_drawing_from_several_sessions_at_once_gives_the_same_image(server, heldout, tmp_path):
    # the drawn digit is inline HTML, not a cached file that concurrent identical outputs rewrite
    sketch = _upload(_modes(_digit_canvas(heldout))["RGB"], tmp_path / "same.png")
    clients = [Client(server.url, verbose=False) for _ in range(8)]
    with ThreadPoolExecutor(len(clients)) as pool:
        outputs = list(pool.map(lambda client: client.predict(*api_args(sketch=sketch), api_name="/update"),
                                clients))
    seen = {output[4] for output in outputs}
    assert len(seen) == 1 and seen_pixels(seen.pop()).shape == (28, 28)
    server.assert_serving()
