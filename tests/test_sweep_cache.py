"""The sweep cache: one computation for concurrent callers, partial results while it runs, kept on disk."""
from __future__ import annotations

import threading
import time

import pytest

import pruning.sweep_cache as sweep_cache_module
from pruning import DigitSet, PruneConfig
from pruning.sweep import SweepPoint, SweepResult
from pruning.sweep_cache import SweepCache, cached_sweep
from tests.helpers import small_eval  # noqa: F401  (a fixture)

AMOUNTS = (0.0, 0.5)


def fake_sweep(calls: list, delay: float = 0.3):
    """A stand-in for sweep(): records its calls, reports two lines, returns a small result."""
    def run(model, eval_set, methods, scopes, amounts, base, progress=None, on_line=None):
        calls.append((model, tuple(methods)))
        result = SweepResult(model, eval_set.describe(), tuple(amounts), base, 0.9)
        for i, method in enumerate(methods):
            time.sleep(delay / len(methods))
            result.points = result.points + [SweepPoint(method, "local", a, a, 0.9 - a) for a in amounts]
            if progress is not None:
                progress((i + 1) / len(methods), f"line {i + 1}")
            if on_line is not None:
                on_line(result)
        return result
    return run


def test_concurrent_callers_share_one_computation(small_eval, monkeypatch):
    calls = []
    monkeypatch.setattr(sweep_cache_module, "sweep", fake_sweep(calls))
    cache, results = SweepCache(), []
    threads = [threading.Thread(target=lambda: results.append(cached_sweep("mlp", small_eval, amounts=AMOUNTS,
                                                                           cache=cache)))
               for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(calls) == 1 and len(results) == 4 and all(r is results[0] for r in results)
    # the same data loaded again (a new DigitSet object) hits the cache; another grid does not
    copy = DigitSet(small_eval.name, small_eval.images.clone(), small_eval.labels.clone())
    assert cached_sweep("mlp", copy, amounts=AMOUNTS, cache=cache) is results[0]
    cached_sweep("mlp", small_eval, amounts=(0.0,), cache=cache)
    assert len(calls) == 2


def test_a_running_job_shows_its_finished_lines(small_eval, monkeypatch):
    calls = []
    monkeypatch.setattr(sweep_cache_module, "sweep", fake_sweep(calls, delay=1.0))
    job = SweepCache().job("mlp", small_eval, methods=["l1_unstructured", "ln_structured"], amounts=AMOUNTS)
    deadline = time.monotonic() + 5
    while (job.result is None or not job.result.points) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not job.done.is_set() and len(job.result.points) == 2          # one line of two, still running
    assert len(job.wait(5).points) == 4


def test_a_finished_sweep_is_read_back_from_disk_after_a_restart(small_eval, monkeypatch, tmp_path):
    calls = []
    monkeypatch.setattr(sweep_cache_module, "sweep", fake_sweep(calls, delay=0.0))
    first = SweepCache(tmp_path).job("mlp", small_eval, amounts=AMOUNTS).wait(5)
    restarted = SweepCache(tmp_path).job("mlp", small_eval, amounts=AMOUNTS)     # a new server process
    assert restarted.done.is_set() and restarted.from_disk and len(calls) == 1
    assert restarted.wait().to_dict() == first.to_dict()
    other = SweepCache(tmp_path).job("mlp", small_eval, amounts=AMOUNTS, base_config=PruneConfig(model="mlp", seed=1))
    other.wait(5)
    assert len(calls) == 2 and not other.from_disk                 # another setting: another key


def test_an_unreadable_file_is_recomputed(small_eval, monkeypatch, tmp_path):
    calls = []
    monkeypatch.setattr(sweep_cache_module, "sweep", fake_sweep(calls, delay=0.0))
    cache = SweepCache(tmp_path)
    cache.job("mlp", small_eval, amounts=AMOUNTS).wait(5)
    for path in tmp_path.glob("*.json"):
        path.write_text("{not json")
    SweepCache(tmp_path).job("mlp", small_eval, amounts=AMOUNTS).wait(5)
    assert len(calls) == 2


def test_errors_reach_every_waiter_and_a_later_call_retries(small_eval, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("out of memory")
    monkeypatch.setattr(sweep_cache_module, "sweep", broken)
    cache = SweepCache()
    with pytest.raises(RuntimeError, match="out of memory"):
        cached_sweep("mlp", small_eval, methods=["threshold"], amounts=AMOUNTS, cache=cache)
    calls = []
    monkeypatch.setattr(sweep_cache_module, "sweep", fake_sweep(calls, delay=0.0))
    result = cached_sweep("mlp", small_eval, methods=["threshold"], amounts=AMOUNTS, cache=cache)
    assert len(result.points) == 2 and len(calls) == 1


def test_memory_keeps_at_most_max_entries(small_eval, monkeypatch):
    monkeypatch.setattr(sweep_cache_module, "sweep", fake_sweep([], delay=0.0))
    cache = SweepCache(max_entries=2)
    for amount in (0.1, 0.2, 0.3, 0.4):
        cache.job("mlp", small_eval, amounts=(amount,)).wait(5)
    assert len(cache._jobs) <= 3           # finished entries beyond max_entries are dropped on the next job


def test_the_grid_is_checked_before_any_work(small_eval):
    with pytest.raises(ValueError, match="unknown method"):
        SweepCache().job("mlp", small_eval, methods=["no_such_method"])
    with pytest.raises(ValueError, match="amounts"):
        SweepCache().job("mlp", small_eval, amounts=(1.5,))
