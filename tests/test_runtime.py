"""The runtime: an explicitly started worker pool, thread settings, background work at low priority."""
from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest
import torch

from pruning import load_pretrained
from pruning.evaluate import predictions
from pruning import runtime

ROOT = Path(__file__).resolve().parents[1]


def test_the_evaluation_workers_leave_torch_threads_of_other_threads_alone(heldout):
    before = torch.get_num_threads()
    predictions(load_pretrained("mlp")[0], "mlp", heldout)
    seen = []
    thread = threading.Thread(target=lambda: seen.append(torch.get_num_threads()))
    thread.start()
    thread.join()
    assert torch.get_num_threads() == before and seen == [before]


def run_python(script: str, **env: str) -> str:
    """stdout of `script` in a fresh interpreter at the repository root."""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True, cwd=ROOT,
                          env={**os.environ, **env})
    return done.stdout


def test_the_worker_pool_takes_the_callers_thread_count_and_leaves_it_unchanged():
    script = ("import torch\nfrom pruning import runtime\n"
              "with runtime.single_threaded():\n    runtime.start(warm_up=False)\n"
              "    inside = torch.get_num_threads()\n"
              "print(runtime.pool_size(), inside, torch.get_num_threads())")
    workers, inside, after = map(int, run_python(script, OMP_NUM_THREADS="2").split())
    assert workers == 0                                    # one thread asked for: no pool, work inline
    assert inside == 1 and after == 2                      # the caller's own setting is kept
    script = "from pruning import runtime\nruntime.start(warm_up=False)\nprint(runtime.pool_size())"
    assert run_python(script, OMP_NUM_THREADS="2").strip() == "2"


def test_importing_the_engine_starts_no_thread_and_changes_no_process_setting():
    script = ("import threading, torch\nbefore = torch.get_num_threads()\n"
              "import pruning, pruning.sweep_cache, pruning.fastpath, pruning.evaluate\n"
              "from pruning import runtime\n"
              "print(threading.active_count(), runtime.pool_size(), torch.get_num_threads() == before, "
              "len(pruning.fastpath._GRAPHS))")
    assert run_python(script).split() == ["1", "0", "True", "0"]


def test_background_work_runs_inline_on_one_thread_at_lower_priority():
    seen = runtime.run_in_background(lambda: (torch.get_num_threads(), threading.current_thread().name,
                                              os.getpriority(os.PRIO_PROCESS, threading.get_native_id())))
    threads, name, niceness = seen
    assert threads == 1 and name.startswith("pruning-lab-background")
    assert niceness >= os.getpriority(os.PRIO_PROCESS, 0) + runtime.BACKGROUND_NICENESS or niceness == 19


def test_background_errors_reach_the_caller():
    def fail() -> None:
        raise ValueError("stopped")
    with pytest.raises(ValueError, match="stopped"):
        runtime.run_in_background(fail)
