"""The app and the engine write only under the temporary directory, start no processes and fetch
nothing from the network: a real run in a subprocess (engine, CLI, event functions, and a server
answering /update, /draw, /finetune, /inspect and /export), watched by a Python audit hook."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow

# Runs in a fresh interpreter (cwd = the repository, as `python app.py` would). An audit hook, installed
# before anything is imported, records every file opened for writing outside the temporary directory,
# every process start, and every connection or name lookup that is not to this machine.
WATCHED_RUN = r'''
import json, os, sys, tempfile
TEMP = os.path.realpath(tempfile.gettempdir())
LOCAL = {"127.0.0.1", "::1", "localhost", "0.0.0.0", ""}
WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC
seen, known = [], []
# Read-only queries that libraries make, not the app: `import torch` asks the dynamic linker's cache
# (ctypes.util.find_library); matplotlib lists the system fonts once, when it builds its font cache.
KNOWN = {"ldconfig": [["-p"]], "fc-list": [["--help"], ["--format=%{file}\\n"]]}

REPO = os.path.realpath(sys.argv[2])

def outside_temp(path):
    """Outside the temporary directory (and /dev), or anywhere in the repository even if that is in it."""
    if isinstance(path, int):
        return False                                    # an already open descriptor
    path = os.path.realpath(os.fsdecode(path))
    in_temp = path == TEMP or path.startswith(TEMP + os.sep) or path.startswith("/dev/")
    return not in_temp or path == REPO or path.startswith(REPO + os.sep)

def hook(event, args):
    if event == "open":
        path, mode, flags = args
        writing = any(c in (mode or "") for c in "wax+") or bool((flags or 0) & WRITE_FLAGS)
        if writing and outside_temp(path):
            seen.append(["write", os.fsdecode(path)])
    elif event in ("os.rename", "os.replace", "os.link", "os.symlink", "os.mkdir", "shutil.copyfile"):
        if outside_temp(args[1] if event != "os.mkdir" else args[0]):
            seen.append([event, repr(args[:2])])
    elif event.startswith(("subprocess.", "os.exec", "os.spawn", "os.posix_spawn", "os.system", "os.fork",
                           "os.popen", "pty.spawn")):
        program = os.path.basename(os.fsdecode(args[0] or "")) if event == "subprocess.Popen" else ""
        if program in KNOWN and list(args[1])[1:] in KNOWN[program]:
            known.append(program)
        else:
            seen.append([event, repr(args)[:300]])
    elif event in ("socket.connect", "socket.sendto") and isinstance(args[1], tuple):
        if str(args[1][0]) not in LOCAL:
            seen.append([event, repr(args[1])])
    elif event == "socket.getaddrinfo" and str(args[0]) not in LOCAL:
        seen.append([event, repr(args[:2])])
    elif event == "urllib.Request":
        seen.append([event, str(args[0])])

sys.addaudithook(hook)

import base64, io
import numpy as np
import gradio as gr
import app
from gradio_client import Client
from PIL import Image
from pruning import PruneConfig, cli, prune_model
from ui import handlers
from ui.resources import model_status

steps = []
for model in model_status()[0]:
    for method in ("l1_unstructured", "ln_structured", "taylor"):
        prune_model(model, PruneConfig(model=model, method=method, amount=0.5))
steps.append("prune_model")
canvas = np.full((280, 280, 3), 255, np.uint8)
canvas[60:220, 130:150] = 0                                   # a "1"
png = io.BytesIO()
Image.fromarray(canvas).save(png, format="PNG")
drawing = "data:image/png;base64," + base64.b64encode(png.getvalue()).decode()   # as the drawing pad sends it
page = gr.Request(session_hash="watched")
out = handlers.update("lenet", "l1_unstructured", 0.5, 0.05, "global", False, 0.2, 0.4, ["conv", "linear"], 256,
                      "L1", 0, request=page)
_, before, after = handlers.draw(drawing, request=page)
assert "accuracy-panel" in out[0] and set(before) == set(after) == {str(d) for d in range(10)}
assert handlers.resample(page)[0].count("<figure") == handlers.STRIP_SIZE
steps.append("update")
assert cli.main(["--model", "mlp", "--amount", "0.3"]) == 0
steps.append("cli")
_, url, _ = app.demo.launch(server_name="127.0.0.1", server_port=int(sys.argv[1]), prevent_thread_lock=True,
                            quiet=True, **app.LAUNCH_OPTIONS)
client = Client(url, verbose=False)
panel = client.predict("mlp", "l1_unstructured", 0.4, 0.05, "local", False, 0.2, 0.4, ["conv", "linear"], 256,
                       "L1", 0, api_name="/update")[0]
assert "accuracy-panel" in panel
shown = client.predict(drawing, api_name="/draw")[0]          # (`seen` is the audit hook's record)
assert "data:image/png" in shown
client.predict(10, api_name="/finetune")                      # a drawn chart and a table
client.predict(None, api_name="/inspect")                     # two drawn figures
exported, _ = client.predict(True, api_name="/export")        # a file written and downloaded
assert os.path.getsize(exported) > 0
app.demo.close()
steps.append("server")
print("WATCHED:" + json.dumps({"steps": steps, "events": seen, "known": known}))
'''


def test_a_real_run_writes_only_temp_files_starts_no_process_and_fetches_nothing():
    from tests.ui_helpers import free_port
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1",   # byte-code caches are Python's, not the app's
           "PYTHONPATH": str(ROOT),
           # the run's own gradio_client (the test's, not the app's) pings huggingface.co when made; gradio's
           # analytics from the app would still be seen (they do not read this variable)
           "HF_HUB_DISABLE_TELEMETRY": "1"}
    env.pop("PRUNING_LAB_DATA_DIR", None)
    done = subprocess.run([sys.executable, "-c", WATCHED_RUN, str(free_port()), str(ROOT)], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=600)
    report = [line for line in done.stdout.splitlines() if line.startswith("WATCHED:")]
    assert done.returncode == 0 and report, done.stderr[-3000:]
    result = json.loads(report[0].removeprefix("WATCHED:"))
    assert result["steps"] == ["prune_model", "update", "cli", "server"]
    assert result["events"] == [], f"side effects (outside {tempfile.gettempdir()} or in {ROOT}): " \
                                   f"{result['events'][:20]}"
    # The only processes a run starts, both read-only queries by libraries (see KNOWN in WATCHED_RUN):
    # `ldconfig -p` while `import torch` runs, and `fc-list` when matplotlib builds its font cache.
    assert set(result["known"]) <= {"ldconfig", "fc-list"}
