"""The tabs beyond the result (ui/tabs.py), called directly as one page: curves, fine-tuning, size & speed,
inspection, export; and the app's temporary folders (exports among them) removed when it exits."""
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import gradio as gr
import pytest
import torch
from gradio_client import Client

import ui
from pruning import PruneConfig, list_methods, load_checkpoint, load_pretrained, prune_model
from pruning.evaluate import predictions
from pruning.inspection import layer_names
from tests.ui_helpers import NoProgress, api_args, fresh_sweeps, new_request, run  # noqa: F401  (a fixture)
from ui import handlers, resources, tabs
from ui.resources import eval_set, sweep_cache

ROOT = Path(ui.__file__).resolve().parents[1]


def consumed(outputs):
    """The last value of an event function's outputs (a generator's last yield)."""
    if hasattr(outputs, "__next__"):
        *_, outputs = outputs
    return outputs


@pytest.mark.parametrize("handler, args", [
    (tabs.curves, ("amount",)), (tabs.run_finetune, (10,)), (tabs.run_iterative, (2, 10)),
    (tabs.size_and_speed, ()), (tabs.export, (False,)), (tabs.inspect_layer, ("conv1",)),
])
def test_tabs_before_any_pruning_ask_to_prune_first(handler, args):
    with pytest.raises(gr.Error, match="Prune a model first"):
        consumed(handler(*args, request=new_request()))


def test_finetune_and_iterative_report_every_stage_and_keep_the_page_s_result():
    page = run(model="mlp", amount=0.8)
    result = handlers.current_result(page["request"])
    text, figure = tabs.run_finetune(20, page["request"], NoProgress())
    assert "dense" in text and "pruned" in text and "fine-tuning steps" in text and figure is not None
    session = handlers.SESSIONS.peek(page["request"].session_hash)
    assert session.finetuned.config == result.config and session.finetuned.steps == 20
    assert handlers.current_result(page["request"]) is result        # fine-tuning stores its own output only
    progress = NoProgress()
    table, figure = tabs.run_iterative(2, 10, page["request"], progress)
    assert table.count("\n| ") == 3 and figure is not None            # header + 2 rounds
    assert progress.calls and all(0 <= fraction <= 1 for fraction, _ in progress.calls)
    with pytest.raises(gr.Error, match="steps"):
        tabs.run_finetune(10**6, page["request"], NoProgress())         # over the cap


def test_size_and_speed_structured_and_unstructured():
    structured = run(model="mlp", method="ln_structured", amount=0.5, scope="local")["request"]
    table = tabs.size_and_speed(structured, NoProgress())
    assert "**shrunk**" in table and "equal" in table
    unstructured = run(model="mlp", amount=0.9)["request"]
    assert "CSR" in tabs.size_and_speed(unstructured, NoProgress())


def test_export_round_trip_gives_identical_predictions(heldout):
    request = run(model="lenet", method="ln_structured", amount=0.4, scope="local")["request"]
    path, note = tabs.export(False, request)
    model, meta = load_checkpoint(path)
    assert meta["model_name"] == "lenet" and "Wrote" in note
    assert meta["metrics"]["accuracy_pruned"] == handlers.current_result(request).accuracy_after
    pruned = handlers.current_result(request).model
    assert torch.equal(predictions(model, "lenet", heldout), predictions(pruned, "lenet", heldout))


def test_export_of_the_fine_tuned_model_only_for_its_own_setting(heldout):
    page = run(model="mlp", amount=0.7)
    tabs.run_finetune(10, page["request"], NoProgress())
    tuned = handlers.SESSIONS.peek(page["request"].session_hash).finetuned
    path, _ = tabs.export(True, page["request"])
    model, meta = load_checkpoint(path)
    assert meta["metrics"]["accuracy_finetuned"] == tuned.accuracy_finetuned and meta["metrics"]["finetune_steps"] == 10
    assert torch.equal(predictions(model, "mlp", heldout), predictions(tuned.model, "mlp", heldout))
    run(page["request"], model="mlp", amount=0.6)                      # another setting: no fine-tuned model
    with pytest.warns(UserWarning, match="No fine-tuned model for this setting yet"):
        path, _ = tabs.export(True, page["request"])
    assert "accuracy_finetuned" not in load_checkpoint(path)[1]["metrics"]


def test_inspect_layer_gives_histogram_and_filter_grid():
    request = run(model="lenet")["request"]
    choices, histogram, grid, stamp = tabs.inspect_layer("conv2", request)
    assert choices["value"] == "conv2" and choices["choices"] == layer_names(load_pretrained("lenet")[0])
    assert "fc3" in choices["choices"] and histogram is not None and grid is not None
    assert 'class="pl-for pl-set-' in stamp and '<span class="pl-for-again">press Show weights</span>' in stamp
    choices, *_ = tabs.inspect_layer("no-such-layer", request)          # an unknown layer: the first one
    assert choices["value"] == choices["choices"][0]


def stamp_of(text: str) -> tuple[str, str, str]:
    """(setting id, what to press, the visible line) of a tab's stamp."""
    found = re.search(r'<p class="pl-for pl-set-(\w+)">(.*?)<span class="pl-for-again">([^<]+)</span>', text)
    assert found is not None, f"no stamp in {text[:200]!r}"
    setting, line, again = found.groups()
    return setting, again, line


def test_every_tab_made_for_one_setting_names_it_in_its_stamp():
    page = run(model="mlp", amount=0.7)
    request, config = page["request"], handlers.current_result(page["request"]).config
    panel_setting = re.search(r'data-setting="(\w+)"', page["accuracy"]).group(1)
    texts = {"press Prune + fine-tune": tabs.run_finetune(10, request, NoProgress())[0],
             "press Run iterative pruning": tabs.run_iterative(1, 10, request, NoProgress())[0],
             "press Measure": tabs.size_and_speed(request, NoProgress()),
             "press Show weights": tabs.inspect_layer(None, request)[3],
             "press Export pruned model": tabs.export(False, request)[1]}
    for again, text in texts.items():
        setting, said, line = stamp_of(text)
        assert (setting, said) == (panel_setting, again)             # the page's current setting: not dimmed
        assert line == "For mlp · l1_unstructured · amount 0.70 · global"
    other = run(request, model="mlp", amount=0.6)["accuracy"]        # the setting moves on: the stamps differ
    assert re.search(r'data-setting="(\w+)"', other).group(1) != panel_setting
    assert "Loss plot: faint dots" in texts["press Prune + fine-tune"]
    assert "Plot's accuracy axis:" in texts["press Run iterative pruning"]


def test_a_fine_tuned_export_is_named_so_and_says_so(tmp_path, monkeypatch):
    page = run(model="mlp", amount=0.7)
    path, note = tabs.export(False, page["request"])
    assert "-0.70-pruned-" in Path(path).name and "finetuned" not in Path(path).name
    assert "Wrote the pruned model" in note
    tabs.run_finetune(10, page["request"], NoProgress())
    path, note = tabs.export(True, page["request"])
    assert Path(path).name.startswith("mlp-l1_unstructured-global-0.70-finetuned-")
    assert "Wrote the pruned and then fine-tuned model" in note and Path(path).name in note
    recipe = re.search(r"```python\n(.*?)\n```", note, re.S).group(1)   # the inline recipe loads the file
    monkeypatch.chdir(Path(path).parent)
    namespace = {}
    exec(recipe, namespace)
    tuned = handlers.SESSIONS.peek(page["request"].session_hash).finetuned
    assert torch.equal(predictions(namespace["model"], "mlp", eval_set()), predictions(tuned.model, "mlp", eval_set()))


@pytest.mark.parametrize("method, part", [("threshold", "-t0.05-pruned-1000.pt"),
                                          ("nm_semi_structured", "-2of4-pruned-1000.pt")])
def test_export_names_of_settings_without_an_amount(method, part):
    config = PruneConfig(model="lenet", method=method)
    assert tabs.export_name(config, finetuned=False, now=1.0) == f"lenet-{method}-{config.scope}{part}"


def curve_panels(html: str) -> dict[str, str]:
    """{scope: that panel's SVG} of the curves view."""
    return dict(re.findall(r'<svg class="pl-curve-panel"[^>]*data-scope="(\w+)"[^>]*>(.*?)</svg>', html, re.S))


def drawn_methods(panel: str) -> list[str]:
    """The methods with a line in one panel, in drawing order."""
    return re.findall(r'<g class="pl-m\d+" data-method="([^"]+)"', panel)


@pytest.mark.slow
def test_curves_come_in_line_by_line_mark_the_setting_and_are_then_served_from_the_cache(fresh_sweeps):
    request = run(model="mlp", amount=0.5)["request"]
    progress = NoProgress()
    views = list(tabs.curves("amount", request, progress))
    lines = [sum(len(drawn_methods(panel)) for panel in curve_panels(view).values()) for view in views]
    assert len(views) >= 2 and lines == sorted(lines) and lines[0] < lines[-1], lines
    assert all("Still computing" in view for view in views[:-1]) and "Still computing" not in views[-1]
    assert progress.calls and all(0 <= fraction <= 1 for fraction, _ in progress.calls)
    panels = curve_panels(views[-1])
    assert list(panels) == ["local", "global"]
    assert drawn_methods(panels["local"]) == drawn_methods(panels["global"]) == list_methods()
    stars = re.findall(r'class="pl-star"[^>]*><title>([^<]*)</title>', panels["global"])
    expected = prune_model("mlp", PruneConfig(model="mlp", amount=0.5, scope="global"), eval_set=eval_set())
    assert len(stars) == 1 and "pl-star" not in panels["local"]                  # the setting is global
    assert "l1_unstructured · global · amount 0.50" in stars[0]
    assert f"accuracy {100 * expected.accuracy_after:.2f}%" in stars[0]          # the engine's own number
    again = NoProgress()
    cached = list(tabs.curves("sparsity", request, again))
    assert len(cached) == 1 and again.calls == []                              # computed once per server
    assert 'aria-label="accuracy vs sparsity' in cached[0] and "Still computing" not in cached[0]


@pytest.mark.slow
def test_curves_past_the_time_budget_end_with_the_lines_so_far_and_the_sweep_goes_on(fresh_sweeps, monkeypatch):
    monkeypatch.setattr(tabs, "TIME_BUDGET_S", 1.5)          # a busy server: the request's budget runs out
    request = run(model="mlp", amount=0.5)["request"]
    views = list(tabs.curves("amount", request, NoProgress()))  # no error: the partial plot and a note
    assert views and "click again in a while" in views[-1] and "pl-curve-panel" in views[-1]
    job = sweep_cache().job("mlp", eval_set())
    assert not job.done.is_set() or len(job.result.points) > 0
    assert job.done.wait(300)                                 # the sweep went on without the request
    complete = list(tabs.curves("amount", request, NoProgress()))
    assert len(complete) == 1 and "click again" not in complete[0] and "Still computing" not in complete[0]
    assert sum(len(drawn_methods(panel)) for panel in curve_panels(complete[0]).values()) == 2 * len(list_methods())


def test_old_exports_are_deleted(tmp_path):
    (tmp_path / "old.pt").write_bytes(b"x")
    (tmp_path / "new.pt").write_bytes(b"x")
    now = os.path.getmtime(tmp_path / "new.pt")
    old_time = now - tabs.EXPORT_MAX_AGE_S - 10
    os.utime(tmp_path / "old.pt", (old_time, old_time))
    tabs.delete_old_exports(str(tmp_path), now=now)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["new.pt"]


# A page exports a model, then the interpreter exits: the folders the app made must be gone.
EXPORT_THEN_EXIT = """
import os, app
from ui import handlers, tabs
request = handlers.gr.Request(session_hash="exit-test")
handlers.update("mlp", "l1_unstructured", 0.5, 0.05, "global", False, 0.2, 0.4, ["linear"], 256, "L1", 0,
                request=request)
path, _ = tabs.export(False, request)
print(os.path.dirname(path)); print(os.environ["MPLCONFIGDIR"]); print(os.environ["GRADIO_TEMP_DIR"])
"""


@pytest.mark.slow
def test_the_app_removes_its_temporary_directories_when_it_exits(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("MPLCONFIGDIR", "GRADIO_TEMP_DIR")}
    done = subprocess.run([sys.executable, "-c", EXPORT_THEN_EXIT], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    exports, mpl, uploads = done.stdout.split()
    assert "pruning-lab-exports-" in exports and "pruning-lab-mpl-" in mpl and "pruning-lab-gradio-" in uploads
    assert not os.path.exists(exports) and not os.path.exists(mpl) and not os.path.exists(uploads)
    given = tmp_path / "mpl"                                   # a directory the user chose is left alone
    given.mkdir()
    done = subprocess.run([sys.executable, "-c", EXPORT_THEN_EXIT], cwd=ROOT,
                          env={**env, "MPLCONFIGDIR": str(given)}, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0 and done.stdout.split()[1] == str(given) and given.is_dir()


def start_server(port: int, tmp_path: Path, *args: str) -> subprocess.Popen:
    """`python app.py ARGS` on `port` with its temporary folders (and sweep cache) under tmp_path."""
    env = {**os.environ, "GRADIO_SERVER_PORT": str(port), "GRADIO_SERVER_NAME": "127.0.0.1", "TMPDIR": str(tmp_path),
           "MPLCONFIGDIR": str(tmp_path / "mpl"), resources.CACHE_ENV: str(tmp_path / "sweeps")}
    env.pop("GRADIO_TEMP_DIR", None)        # set in this process once app was imported: the server makes its own
    return subprocess.Popen([sys.executable, "app.py", *args], cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)


def app_folders(tmp_path: Path) -> list[str]:
    """The temporary folders a server made under tmp_path (exports, gradio's uploads and cached outputs)."""
    return sorted(p.name.rsplit("-", 1)[0] for p in tmp_path.glob("pruning-lab-*"))


@pytest.mark.slow
def test_a_server_stopped_with_sigterm_exits_cleanly_and_removes_its_exports_folder(tmp_path):
    from bench.common import free_port, wait_for_http
    port = free_port()
    server = start_server(port, tmp_path, "--no-precompute")
    try:
        wait_for_http(f"http://127.0.0.1:{port}/", server)
        client = Client(f"http://127.0.0.1:{port}/", verbose=False)
        client.predict(*api_args(model="mlp"), api_name="/update")
        path, _ = client.predict(False, api_name="/export")       # the server writes its exports folder
        assert Path(path).stat().st_size > 0
        assert app_folders(tmp_path) == ["pruning-lab-exports", "pruning-lab-gradio"]
        server.terminate()                                        # SIGTERM, as a service manager stops it
        assert server.wait(timeout=60) == 0
    finally:
        server.kill()
    assert app_folders(tmp_path) == []


@pytest.mark.slow
def test_a_server_stopped_while_its_start_up_sweep_runs_exits_cleanly(tmp_path):
    from bench.common import free_port, wait_for_http
    port = free_port()
    server = start_server(port, tmp_path)                          # computes the first model's curves at start
    try:
        wait_for_http(f"http://127.0.0.1:{port}/", server)
        server.terminate()
        code = server.wait(timeout=60)
    finally:
        server.kill()
    assert app_folders(tmp_path) == [] and code == 0


def test_curves_past_the_time_budget_before_any_line_show_the_note_alone(monkeypatch):
    from pruning.sweep_cache import SweepJob
    request = run(model="mlp", amount=0.5)["request"]
    not_started = SweepJob("a sweep with no line yet")                  # never done, no result
    monkeypatch.setattr(resources.sweep_cache(), "job", lambda *args, **kwargs: not_started)
    monkeypatch.setattr(tabs, "TIME_BUDGET_S", 0.0)
    monkeypatch.setattr(tabs, "CURVES_REFRESH_S", 0.01)
    views = list(tabs.curves("amount", request, NoProgress()))
    assert len(views) == 1 and "click again in a while" in views[0] and "pl-curve-panel" not in views[0]
