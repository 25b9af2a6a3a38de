"""Benchmarks keep working: helpers, and a quick smoke run of every suite (timings reported, never asserted)."""
from __future__ import annotations

import json
import math
import re
import os
import subprocess
import sys

import pytest

from bench.common import ROOT, alternate, record

SMOKE_SUITES = "app_latency,engine_speed,sweep_speed,shrink_speed,startup,sessions_memory"
TARGET_IDS = ("P1", "P2b", "P2c", "P3", "P4", "P5", "P6")


def test_record_gives_median_min_max_and_a_verdict_only_with_a_target():
    row = record("x", [0.3, 0.1, 0.2], "ms", 250.0, scale=1000)
    assert (row["median"], row["min"], row["max"], row["n"]) == (200.0, 100.0, 300.0, 3)
    assert row["passed"] is True and row["target"] == "<= 250 ms"
    assert record("x", [2.0], "x", 3.0, higher_is_better=True)["passed"] is False
    assert record("x", [1.0], "s", None)["passed"] is None


def test_alternate_runs_a_and_b_in_turn_after_the_warm_up():
    calls: list[str] = []
    samples_a, samples_b = alternate(lambda: calls.append("a"), lambda: calls.append("b"), repeats=3, warmup=1)
    assert calls == ["a", "b"] * 4 and len(samples_a) == len(samples_b) == 3


@pytest.mark.slow
def test_every_suite_runs_in_quick_mode_and_writes_json(tmp_path, mnist_dir):
    out = tmp_path / "bench.json"
    done = subprocess.run([sys.executable, "-m", "bench", "--quick", "--only", SMOKE_SUITES, "--json", str(out)],
                          cwd=ROOT, capture_output=True, text=True, timeout=1200,
                          env={**os.environ, "PRUNING_LAB_DATA_DIR": str(mnist_dir)})
    assert done.returncode == 0, done.stderr[-3000:]
    data = json.loads(out.read_text())
    assert data["errors"] == [] and data["quick"] is True
    names = [row["name"] for row in data["results"]]
    for ident in TARGET_IDS:
        assert any(name.startswith(f"{ident} ") for name in names), ident
    for row in data["results"]:
        assert math.isfinite(row["median"]) and row["min"] <= row["median"] <= row["max"], row
        assert (row["target"] is None) == (row["passed"] is None), row
    assert "P1 update latency lenet" in done.stdout                 # the printed table


@pytest.mark.slow
def test_soak_runs_a_short_mix_without_errors(mnist_dir, monkeypatch):
    monkeypatch.setenv("PRUNING_LAB_DATA_DIR", str(mnist_dir))      # the benchmarks' eval set
    from bench.soak import metrics, soak
    rows = {row["name"]: row for row in metrics(soak(quick=True, requests=40))}
    assert rows["soak: errors"]["median"] == 0
    growth = next(row for name, row in rows.items() if name.startswith("soak: idle RSS growth"))
    assert len(growth["rss_curve_mb"]) >= 2                           # sampled after warm-up and after the block


# --- browser_latency and workshop (issue 13) ---------------------------------------------------

def sse(*messages: dict) -> str:
    return "".join(f"data: {json.dumps(message)}\n\n" for message in messages)


def test_completed_message_is_read_across_chunk_boundaries_and_timed_by_its_last_chunk():
    from bench.browser_latency import completed_message
    stream = sse({"msg": "estimation", "rank": 0}, {"msg": "process_starts"},
                 {"msg": "process_completed", "output": {"data": ["<b>98.1%</b>", {"label": "7"}]}},
                 {"msg": "close_stream"})
    end = stream.index("process_completed") + 20                       # split inside the completed message
    chunks = [(1.0, stream[:30]), (2.0, stream[30:end]), (3.5, stream[end:]), (9.0, "")]
    assert completed_message(chunks) == (["<b>98.1%</b>", {"label": "7"}], 3.5)
    assert completed_message([(1.0, stream[:end])]) == ([], None)      # never completed: no time


def test_resent_images_counts_only_data_urls_the_previous_event_already_had():
    a, b, c = "data:image/png;base64,AAAA", "data:image/png;base64,BBBBBB==", "data:image/png;base64,CC"
    previous = f'<img src="{a}"><img src="{b}">'
    assert resent_images_of(previous, f'<img src="{b}"><img src="{c}"> x') == len(b)
    assert resent_images_of(previous, previous) == len(a) + len(b)
    assert resent_images_of("", previous) == 0


def resent_images_of(previous: str, current: str) -> int:
    from bench.common import resent_images
    return resent_images(previous, current)


def test_percentile_takes_the_nearest_rank():
    from bench.common import percentile
    values = [5.0, 1.0, 4.0, 2.0, 3.0]
    assert (percentile(values, 0.0), percentile(values, 0.5), percentile(values, 1.0)) == (1.0, 3.0, 5.0)
    assert percentile(list(range(101)), 0.95) == 95


def test_a_participant_changes_exactly_one_of_model_method_amount_scope():
    import random
    from bench.workshop import DEFAULT, changed, update_args
    rng, setting = random.Random(1), dict(DEFAULT)
    for _ in range(200):
        new = changed(setting, rng, ["l1_unstructured", "ln_structured"])
        differs = [key for key in setting if new[key] != setting[key]]
        assert len(differs) == 1 and differs[0] in ("model", "method", "amount", "scope"), differs
        setting = new
    defaults = [f"default {i}" for i in range(14)]                     # two more controls than the setting
    assert update_args(DEFAULT, defaults) == list(DEFAULT.values()) + ["default 12", "default 13"]
    assert update_args(DEFAULT, defaults[:12]) == list(DEFAULT.values())


@pytest.mark.slow
@pytest.mark.browser
def test_browser_latency_quick_run_times_both_apps_and_accounts_for_the_time(mnist_dir, monkeypatch):
    from bench import browser_latency
    from bench.common import CHROMIUM
    if not os.path.exists(CHROMIUM):
        message = "Debian's chromium is not installed (apt-get install chromium)"
        pytest.fail(message) if os.environ.get("CI") else pytest.skip(message)
    monkeypatch.setenv("PRUNING_LAB_DATA_DIR", str(mnist_dir))
    targets = browser_latency.measure(quick=True)
    for target in targets:
        assert len(target.trials) == 3 and target.misses == 0, target.name
        for trial in target.trials:
            assert 1 < trial.latency < 60_000 and trial.up < trial.request_at < trial.response_at <= trial.change
            assert trial.server is not None and trial.sent > 0 and trial.received > sum(map(len, trial.outputs))
            # the page's and the server's clocks agree: every step of the timeline comes after the one
            # before it (up to the page clock's 1 ms setting against the wall clock)
            parts = browser_latency.segments(trial)
            assert len(parts) == len(browser_latency.TIMELINE) + 5 and min(parts.values()) > -3, parts
    assert targets[1].output_names[0] == "Accuracy" and "%" in targets[1].trials[0].outputs[0]
    rows = {row["name"]: row for row in browser_latency.rows_of(targets)}
    ratio = rows["browser: app lenet grid / minimal (per-round ratio)"]
    assert ratio["target"] == "<= 1.3 x" and ratio["passed"] is not None and ratio["min"] > 0
    assert rows["browser: app lenet first-time / minimal (per-round ratio)"]["min"] > 0   # reported beside it
    amounts = [re.search(r'data-amount=\\?"([0-9.]+)', t.outputs[0]).group(1) for t in targets[2].trials]
    assert len(set(amounts)) == len(amounts)                            # first-time: a new setting every round
    for row in rows.values():
        assert math.isfinite(row["median"]) and row["min"] <= row["median"] <= row["max"], row


@pytest.mark.slow
def test_workshop_quick_run_serves_every_participant_without_errors(mnist_dir, monkeypatch):
    monkeypatch.setenv("PRUNING_LAB_DATA_DIR", str(mnist_dir))
    from bench.workshop import HEAVY, UPDATE, metrics, workshop
    run = workshop(quick=True)
    assert run.errors == []
    assert len(run.latencies[UPDATE]) >= 2 * run.participants            # the page load and at least one change
    assert all(run.latencies.get(api_name) for api_name, _ in HEAVY)
    rows = {row["name"].split(" (")[0]: row for row in metrics(run)}
    p50, p95 = rows["workshop: /update latency p50"], rows["workshop: /update latency p95"]
    assert 0 < p50["min"] <= p50["median"] <= p95["median"] <= p50["max"]
    assert len(run.server) == len(run.latencies[UPDATE])                # every call found in the server's traces
    server_fn = rows["  workshop: /update server fn call"]
    assert server_fn["median"] <= p50["median"]                         # the server's part of what clients saw
    assert rows["workshop: errors"]["passed"] is True


def test_room_soak_memory_watch_samples_while_running_then_once_idle():
    import os
    import time

    from bench.room_soak import MemoryWatch, memory_rows
    watch = MemoryWatch(idle_after_s=0.0, every_s=0.05)
    watch.start(os.getpid())
    ballast = bytearray(64 << 20)                          # 64 MB more resident while it runs
    ballast[::4096] = b"x" * len(ballast[::4096])
    time.sleep(0.5)
    watch.finish()
    assert len(watch.samples) >= 5 and watch.idle is not None
    times = [t for t, _ in watch.samples]
    assert times == sorted(times) and watch.at(1e9) == watch.samples[-1][1]
    rows = {row["name"].split(" (")[0]: row for row in memory_rows(watch, "test")}
    growth = rows["room: RSS growth after the first 5 min"]
    assert growth["median"] == watch.samples[-1][1]["rss"] - watch.samples[-1][1]["rss"] == 0   # a short run
    warm = rows["room: server RSS after warm-up"]["median"]
    assert rows["room: server RSS at the end"]["peak_mb"] >= warm + 50               # it saw the ballast
    assert all(0 < mb["anon"] <= mb["rss"] for _, mb in watch.samples)
    del ballast
