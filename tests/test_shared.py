"""Measured once, shared (pruning/shared.py): every served number equals a fresh prune_model's, two
sessions asking one setting cause one computation, a restarted server serves without evaluating, and a
damaged entry is measured again."""
from __future__ import annotations

import threading
import time
from dataclasses import replace

import pytest
import torch

from pruning import PruneConfig, engine, list_methods, prune_model, shared
from pruning.measure_key import canonical_config, setting_key
from pruning.store import MeasurementStore

SETTINGS = [PruneConfig(model="mlp", method=method, amount=0.4, calibration_size=64) for method in list_methods()]


def same_numbers(served, fresh) -> bool:
    """Every number a view shows, and every prediction, equal."""
    return (served.accuracy_before == fresh.accuracy_before and served.accuracy_after == fresh.accuracy_after
            and served.layers == fresh.layers and served.layers_before == fresh.layers_before
            and served.global_sparsity == fresh.global_sparsity and served.nonzero_params == fresh.nonzero_params
            and torch.equal(served.predictions_after, fresh.predictions_after)
            and torch.equal(served.predictions_before, fresh.predictions_before))


@pytest.mark.parametrize("config", SETTINGS, ids=lambda c: c.method)
def test_fresh_and_stored_answers_equal_prune_model(config, heldout, tmp_path):
    store = MeasurementStore(tmp_path / "m.sqlite")
    fresh = prune_model(config.model, config, eval_set=heldout)
    first = shared.measured(config, heldout, store)
    again = shared.measured(config, heldout, MeasurementStore(tmp_path / "m.sqlite"))   # after a restart
    assert not first.from_store and again.from_store and again.model is None
    assert same_numbers(first, fresh) and same_numbers(again, fresh)
    rebuilt = shared.pruned_model(again)                                     # masks only: equal weights
    for (name, a), (_, b) in zip(rebuilt.state_dict().items(), fresh.model.state_dict().items()):
        assert torch.equal(a, b), name


def test_two_sessions_asking_one_setting_cause_one_computation(heldout, monkeypatch):
    store, evaluations, started = MeasurementStore(None), [], threading.Event()
    real = shared.measure

    def counted(result, *args, **kwargs):
        evaluations.append(result.config)
        started.set()
        return real(result, *args, **kwargs)
    monkeypatch.setattr(shared, "measure", counted)
    config = PruneConfig(model="lenet", amount=0.37)
    answers = []
    threads = [threading.Thread(target=lambda: answers.append(shared.measured(config, heldout, store)))
               for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    pruned = [c for c in evaluations if c.amount == 0.37]
    assert len(pruned) == 1 and len(answers) == 2 and answers[0].accuracy_after == answers[1].accuracy_after


def test_callers_sharing_one_flight_each_get_their_own_result_for_their_own_setting(heldout, monkeypatch):
    store, started, release = MeasurementStore(None), threading.Event(), threading.Event()
    real = shared.measure

    def held(result, *args, **kwargs):             # the first flight waits until the second caller joined it
        started.set()
        release.wait(30)
        return real(result, *args, **kwargs)
    monkeypatch.setattr(shared, "measure", held)
    local = PruneConfig(model="lenet", method="threshold", threshold=0.07, scope="local")
    both = {"local": local, "global": replace(local, scope="global")}   # scope: not read by a threshold
    answers = {}
    threads = {name: threading.Thread(target=lambda n=name: answers.update({n: shared.measured(both[n], heldout,
                                                                                                store)}))
               for name in both}
    threads["local"].start()
    started.wait(30)
    threads["global"].start()
    time.sleep(0.3)                                  # the second caller is waiting on the first one's flight
    release.set()
    for thread in threads.values():
        thread.join(60)
    assert answers["local"].config == local and answers["global"].config == both["global"]
    assert answers["local"] is not answers["global"]                     # sessions never share one object
    assert same_numbers(answers["local"], answers["global"])


def test_a_restarted_server_serves_a_stored_setting_without_evaluating(heldout, tmp_path, monkeypatch):
    config = PruneConfig(model="lenet", amount=0.6)
    expected = shared.measured(config, heldout, MeasurementStore(tmp_path / "m.sqlite"))

    def no_evaluation(*args, **kwargs):
        raise AssertionError("evaluated although the store holds this setting")
    monkeypatch.setattr(shared, "measure", no_evaluation)
    monkeypatch.setattr(engine, "measure", no_evaluation)
    served = shared.measured(config, heldout, MeasurementStore(tmp_path / "m.sqlite"))
    assert served.from_store and same_numbers(served, expected)


def test_a_damaged_entry_is_measured_again(heldout, tmp_path):
    path, config = tmp_path / "m.sqlite", PruneConfig(model="mlp", amount=0.55)
    store = MeasurementStore(path)
    expected = shared.measured(config, heldout, store)
    store._db.execute("UPDATE entries SET payload = substr(payload, 1, 40)")      # truncated on disk
    again = shared.measured(config, heldout, MeasurementStore(path))
    assert not again.from_store and same_numbers(again, expected)


def test_settings_that_prune_identically_share_one_measurement(heldout):
    store = MeasurementStore(None)
    shared.measured(PruneConfig(model="mlp", amount=0.0), heldout, store)
    shared.measured(PruneConfig(model="mlp", amount=0.0, scope="local"), heldout, store)   # the same masks
    assert len(store) == 1


@pytest.mark.parametrize("method", list_methods())
def test_settings_a_method_does_not_read_do_not_change_its_key_or_its_masks(method, heldout):
    config = PruneConfig(model="lenet", method=method, amount=0.4, calibration_size=64)
    other = replace(config, threshold=0.11, norm=2, nm="1:4", calibration_size=128)
    if not config.method_entry.uses_amount:
        other = replace(other, amount=0.8, scope="local")
    other = replace(other, **{name: getattr(config, name) for name in config.method_entry.settings})
    if config.method_entry.data_driven:
        other = replace(other, calibration_size=config.calibration_size)
    if config.method_entry.uses_threshold:
        other = replace(other, threshold=config.threshold)
    same_key = setting_key(config, heldout) == setting_key(other, heldout)
    assert same_key and canonical_config(config) == canonical_config(other)
    masks = [{n: b for n, b in prune_model("lenet", c).model.named_buffers() if n.endswith("_mask")}
             for c in (config, other)]
    assert masks[0].keys() == masks[1].keys() and all(torch.equal(masks[0][n], masks[1][n]) for n in masks[0])
    read = replace(config, seed=config.seed + 1, layer_types=("linear",))     # read by every method
    assert setting_key(read, heldout) != setting_key(config, heldout)
