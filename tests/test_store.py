"""The shared measurement store (pruning/store.py): content-addressed entries that survive a restart,
are verified on every read (corrupt, truncated, foreign: dropped and measured again), bounded in bytes,
and computed once however many ask at once."""
from __future__ import annotations

import threading
import time

import pytest

from pruning import PruneConfig, prune_model
from pruning.measurement import Measurement
from pruning.store import MeasurementStore


@pytest.fixture(scope="module")
def measurement(heldout) -> Measurement:
    return Measurement.of(prune_model("mlp", PruneConfig(model="mlp", amount=0.5), eval_set=heldout))


def test_an_entry_read_back_after_a_restart_equals_what_was_stored(tmp_path, measurement):
    store = MeasurementStore(tmp_path / "m.sqlite")
    store.remember("setting-a", "masks-a", measurement)
    again = MeasurementStore(tmp_path / "m.sqlite").lookup("setting-a")          # a new process's store
    assert again is not None and again is not measurement
    assert again.accuracy_after == measurement.accuracy_after and again.layers == measurement.layers
    assert (again.predictions_after == measurement.predictions_after).all()
    assert (again.predictions_before == measurement.predictions_before).all()


@pytest.mark.parametrize("damage", ["flip a byte", "truncate", "another key's entry"])
def test_a_damaged_entry_is_dropped_never_served(tmp_path, measurement, damage):
    path = tmp_path / "m.sqlite"
    store = MeasurementStore(path)
    store.remember("setting-a", "masks-a", measurement)
    store.remember("setting-b", "masks-b", measurement)
    payload = store._db.execute("SELECT payload FROM entries WHERE key = 'masks-a'").fetchone()[0]
    if damage == "flip a byte":
        payload = payload[:-20] + bytes([payload[-20] ^ 0xFF]) + payload[-19:]
    elif damage == "truncate":
        payload = payload[: len(payload) // 2]
    else:                                      # a valid entry, but stored under the wrong key
        payload = store._db.execute("SELECT payload FROM entries WHERE key = 'masks-b'").fetchone()[0]
    from pruning.measurement import checksum
    store._db.execute("UPDATE entries SET payload = ?, checksum = ? WHERE key = 'masks-a'",
                      (payload, checksum(payload) if damage == "another key's entry" else "x"))
    fresh = MeasurementStore(path)                                               # nothing in memory
    assert fresh.lookup("setting-a") is None and fresh.corrupt == 1
    assert fresh.lookup("setting-b") is not None                                 # the others stay
    assert "setting-a" not in fresh.known(["setting-a", "setting-b"])


def test_an_unreadable_database_file_is_set_aside_and_the_store_starts_empty(tmp_path, measurement):
    path = tmp_path / "m.sqlite"
    path.write_bytes(b"this is not a database" * 100)
    store = MeasurementStore(path)
    assert len(store) == 0 and list(tmp_path.glob("m.sqlite.unreadable-*"))
    store.remember("setting-a", "masks-a", measurement)
    assert MeasurementStore(path).lookup("setting-a") is not None


def test_the_store_stays_within_its_byte_bound_dropping_the_least_recently_used(tmp_path, measurement):
    size = len(measurement.encode("masks-0"))
    store = MeasurementStore(tmp_path / "m.sqlite", max_bytes=5 * size, memory_entries=2)
    for i in range(12):
        store.remember(f"setting-{i}", f"masks-{i}", measurement)
        if i >= 1:
            store.lookup("setting-0")                                            # kept in use
    assert store.size_bytes() <= 5 * size and len(store) < 12
    assert store.lookup("setting-0") is not None and store.lookup("setting-1") is None


def test_a_setting_read_lately_is_served_from_memory_and_a_dropped_one_never(tmp_path, measurement, monkeypatch):
    store = MeasurementStore(tmp_path / "m.sqlite")
    store.remember("setting-a", "masks-a", measurement)
    store.remember("setting-b", "masks-b", measurement)
    real_sql = store._sql
    monkeypatch.setattr(store, "_sql", lambda _: pytest.fail("SQLite asked for a setting read lately"))
    assert store.lookup("setting-a") is measurement and store.lookup("setting-b") is measurement
    monkeypatch.setattr(store, "_sql", real_sql)
    store._delete(["masks-a"])                                                   # evicted (or corrupt)
    assert store.lookup("setting-a") is None and store.lookup("setting-b") is measurement


def test_settings_with_identical_masks_share_one_entry(tmp_path, measurement):
    store = MeasurementStore(tmp_path / "m.sqlite")
    store.remember("setting-a", "masks-a", measurement)
    store.remember("setting-b", "masks-a", measurement)
    assert len(store) == 1 and store.known(["setting-a", "setting-b", "setting-c"]) == {"setting-a", "setting-b"}


def test_once_runs_one_computation_for_many_callers_and_hands_errors_to_all(tmp_path):
    store, calls, results = MeasurementStore(None), [], []

    def slow():
        calls.append(1)
        time.sleep(0.3)
        return "value"
    threads = [threading.Thread(target=lambda: results.append(store.once("k", slow))) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert calls == [1] and results == ["value"] * 8

    def broken():
        raise RuntimeError("no")
    with pytest.raises(RuntimeError):
        store.once("k2", broken)
    assert store.once("k2", lambda: "retried") == "retried"                      # an error is not kept
