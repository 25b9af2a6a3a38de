"""Benchmarks keep working: helpers, and a quick smoke run of every suite (timings reported, never asserted)."""
from __future__ import annotations

import json
import math
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
