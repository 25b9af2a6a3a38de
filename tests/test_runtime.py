"""The runtime: an explicitly started worker pool, thread settings, background work at low priority."""
from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import torch

from pruning import load_pretrained
from pruning.data import normalize
from pruning.evaluate import predictions
from pruning import runtime

ROOT = Path(__file__).resolve().parents[1]


def test_the_evaluation_workers_leave_torch_threads_of_other_threads_alone(heldout):
    def new_thread_count() -> int:          # what a thread started now gets (earlier tests' threads may
        seen = []                           # have changed torch's default for new threads)
        thread = threading.Thread(target=lambda: seen.append(torch.get_num_threads()))
        thread.start()
        thread.join()
        return seen[0]
    before, new_before = torch.get_num_threads(), new_thread_count()
    predictions(load_pretrained("mlp")[0], "mlp", heldout)
    assert torch.get_num_threads() == before and new_thread_count() == new_before


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


def test_the_idle_trimmer_trims_once_per_quiet_spell_and_never_while_evaluations_run(heldout):
    model, _ = load_pretrained("mlp")
    digits = normalize(heldout.images[:64]).unsqueeze(1)        # (64, 1, 28, 28)
    trims: list[float] = []
    stop = runtime.trim_when_idle(idle_s=0.2, trim=lambda: trims.append(time.monotonic()))
    try:
        busy_until = time.monotonic() + 1.0
        while time.monotonic() < busy_until:                 # evaluations every 50 ms: never idle
            runtime.run_batches(model, digits, 32)
            time.sleep(0.05)
        assert trims == []
        time.sleep(1.0)                                      # quiet: one trim, not one per wake-up
        assert len(trims) == 1
        runtime.run_batches(model, digits, 32)  # busy again, then quiet again: a second trim
        time.sleep(1.0)
        assert len(trims) == 2
    finally:
        stop.set()



ARENAS_SCRIPT = """
import ctypes, os, sys, tempfile, threading
import torch
from pruning import runtime
runtime.start(warm_up=False)
started = threading.Barrier(8)
def work():
    blocks = [torch.ones(1 << 16) for _ in range(40)]   # 256 KB each: from a malloc arena
    started.wait()
started_threads = [threading.Thread(target=work) for _ in range(8)]
for thread in started_threads: thread.start()
for thread in started_threads: thread.join()
libc = ctypes.CDLL("libc.so.6")
libc.fopen.restype = ctypes.c_void_p
path = tempfile.mktemp()
stream = libc.fopen(path.encode(), b"w")
libc.malloc_info(0, ctypes.c_void_p(stream)); libc.fclose(ctypes.c_void_p(stream))
print(open(path).read().count("<heap nr="))
"""


@pytest.mark.parametrize("environment, most", [({}, max(2, os.cpu_count() or 1)), ({"MALLOC_ARENA_MAX": "16"}, 16)])
def test_malloc_arenas_are_capped_at_one_per_core_unless_the_environment_says(environment, most):
    env = {key: value for key, value in os.environ.items() if key != "MALLOC_ARENA_MAX"} | environment
    done = subprocess.run([sys.executable, "-c", ARENAS_SCRIPT], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    arenas = int(done.stdout.split()[-1])
    assert 1 <= arenas <= most
    if environment:                 # glibc's own limit: eight threads allocating at once get more arenas
        assert arenas > max(2, os.cpu_count() or 1)
