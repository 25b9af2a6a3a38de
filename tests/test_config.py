"""PruneConfig: validation with clear messages, frozen, JSON form."""
from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest

from models import list_models
from pruning.config import LAYER_TYPES, SCOPES, PruneConfig
from pruning.methods import list_methods

BAD_FRACTIONS = [-0.1, -1e-9, 1.0000001, 1.5, 2, float("nan"), float("inf"), float("-inf"), "0.2", True,
                 False, None, [0.2]]


@pytest.mark.parametrize("bad", BAD_FRACTIONS, ids=repr)
def test_bad_amount_is_refused_naming_amount(bad) -> None:
    with pytest.raises(ValueError, match="amount") as err:
        PruneConfig(amount=bad)
    assert "between 0 and 1" in str(err.value)


@pytest.mark.parametrize("bad", [b for b in BAD_FRACTIONS if b is not None], ids=repr)  # None: use amount
@pytest.mark.parametrize("kind", ["conv", "linear"])
def test_bad_per_layer_type_amount_is_refused_naming_it(kind: str, bad) -> None:
    with pytest.raises(ValueError, match=f"{kind}_amount"):
        PruneConfig(**{f"{kind}_amount": bad})


@pytest.mark.parametrize("good", [0, 0.0, 0.25, 1, 1.0, np.float32(0.5), np.float64(0.3)], ids=repr)
def test_amounts_are_stored_as_floats(good) -> None:
    # torch.nn.utils.prune reads an int amount as a count of weights: an int 1 must mean 100%
    config = PruneConfig(amount=good, conv_amount=good, linear_amount=good)
    for value in (config.amount, config.conv_amount, config.linear_amount):
        assert type(value) is float and value == pytest.approx(float(good))


@pytest.mark.parametrize("field, bad, message", [
    ("model", "resnet", "unknown model"), ("model", None, "unknown model"), ("model", ["lenet"], "unknown model"),
    ("method", "prune_everything", "unknown method"), ("method", None, "unknown method"),
    ("scope", "layerwise", "unknown scope"), ("scope", ["local"], "unknown scope"),
    ("layer_types", ("conv", "attention"), "unknown layer type"), ("layer_types", (), "unknown layer type"),
    ("layer_types", "bogus", "unknown layer type"), ("layer_types", [["conv"]], "unknown layer type"),
    ("layer_types", 5, "unknown layer type"),
    ("threshold", -0.1, "threshold"), ("threshold", float("nan"), "threshold"),
    ("threshold", float("inf"), "threshold"), ("threshold", "0.1", "threshold"), ("threshold", True, "threshold"),
    ("norm", 3, "norm"), ("norm", True, "norm"), ("norm", "1", "norm"),
    ("calibration_size", 0, "calibration_size"), ("calibration_size", 10**6, "calibration_size"),
    ("calibration_size", 2.5, "calibration_size"), ("seed", -1, "seed"), ("seed", 1.5, "seed"),
    ("seed", True, "seed"),
])
def test_bad_field_is_refused_naming_the_problem(field: str, bad, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        PruneConfig(**{field: bad})


@pytest.mark.parametrize("field, known", [("model", list_models()), ("method", list_methods()),
                                          ("scope", SCOPES), ("layer_types", LAYER_TYPES)])
def test_unknown_names_list_the_known_ones(field: str, known) -> None:
    with pytest.raises(ValueError) as err:
        PruneConfig(**{field: ("nonsense",) if field == "layer_types" else "nonsense"})
    for name in known:
        assert name in str(err.value)


@pytest.mark.parametrize("kind", ["conv", "linear"])
def test_per_layer_type_amount_needs_local_scope(kind: str) -> None:
    with pytest.raises(ValueError, match=f"{kind}_amount.*local"):
        PruneConfig(scope="global", **{f"{kind}_amount": 0.2})


def test_amount_for_uses_overrides_only_where_given() -> None:
    config = PruneConfig(amount=0.1, conv_amount=0.2)
    assert (config.amount_for("conv"), config.amount_for("linear")) == (0.2, 0.1)
    config = PruneConfig(amount=0.1, linear_amount=0.4)
    assert (config.amount_for("conv"), config.amount_for("linear")) == (0.1, 0.4)


def test_layer_types_are_normalized_to_a_tuple_without_duplicates() -> None:
    assert PruneConfig(layer_types="conv").layer_types == ("conv",)
    assert PruneConfig(layer_types=["linear", "conv", "linear"]).layer_types == ("linear", "conv")


def test_config_is_frozen_and_hashable() -> None:
    config = PruneConfig()
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.amount = 0.9  # type: ignore[misc]
    assert hash(config) == hash(PruneConfig()) and config == PruneConfig()


def test_to_dict_is_plain_json_and_round_trips() -> None:
    config = PruneConfig(model="mlp", method="gradient", amount=1, linear_amount=0.3, layer_types=["linear"])
    data = json.loads(json.dumps(config.to_dict()))
    assert data["layer_types"] == ["linear"] and data["amount"] == 1.0
    assert PruneConfig(**{**data, "layer_types": tuple(data["layer_types"])}) == config
