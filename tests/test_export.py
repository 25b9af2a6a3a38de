"""Export: permanent, self-describing files that load back to identical predictions."""
from __future__ import annotations

import pytest
import torch

from models import create_model
from pruning.checkpoint import FORMAT, load_checkpoint
from pruning.cli import main as cli_main
from pruning.config import PruneConfig
from pruning.engine import prune_model
from pruning.evaluate import predictions
from pruning.export import LOAD_IN_PLAIN_PYTORCH, export_pruned


@pytest.mark.parametrize("config", [
    PruneConfig(model="lenet", method="l1_unstructured", amount=0.9, scope="global"),
    PruneConfig(model="convnet", method="ln_structured", amount=0.5),
    PruneConfig(model="lenet", method="activation", amount=0.4),
], ids=lambda c: f"{c.model}-{c.method}")
def test_export_then_load_gives_identical_predictions(config, heldout, tmp_path):
    result = prune_model(config.model, config)
    exported = export_pruned(result.model, config.model, tmp_path / "pruned.pt", config)
    loaded, meta = load_checkpoint(exported.path)
    assert torch.equal(predictions(loaded, config.model, heldout), predictions(result.model, config.model, heldout))
    assert meta["format"] == FORMAT and meta["model_name"] == config.model
    assert meta["pruning"] == config.to_dict() and meta["shrunk"] == exported.shrunk
    assert not any(name.endswith(("_orig", "_mask")) for name in loaded.state_dict())


def test_unstructured_export_keeps_the_zeros_and_the_architecture(tmp_path):
    config = PruneConfig(model="lenet", method="l1_unstructured", amount=0.9, scope="global")
    result = prune_model("lenet", config)
    exported = export_pruned(result.model, "lenet", tmp_path / "lenet.pt", config)
    loaded, meta = load_checkpoint(exported.path)
    assert not exported.shrunk and exported.model_args == {"channels": (3, 16), "hidden": (120, 84)}
    assert exported.nonzero_params == result.nonzero_params and meta["sparsity"] == pytest.approx(0.9, abs=1e-3)
    assert torch.equal(loaded.fc1.weight, result.model.fc1.weight)


def test_structured_export_is_the_shrunk_architecture(tmp_path):
    config = PruneConfig(model="convnet", method="ln_structured", amount=0.5)
    result = prune_model("convnet", config)
    exported = export_pruned(result.model, "convnet", tmp_path / "convnet.pt", config)
    loaded, meta = load_checkpoint(exported.path)
    assert exported.shrunk and meta["model_args"] == exported.model_args
    assert exported.total_params < result.total_params
    assert sum(p.numel() for p in loaded.parameters()) == exported.total_params
    unshrunk = export_pruned(result.model, "convnet", tmp_path / "full.pt", config, shrink=False)
    assert not unshrunk.shrunk and unshrunk.file_bytes > exported.file_bytes


def test_the_plain_pytorch_recipe_loads_the_export(heldout, tmp_path):
    config = PruneConfig(model="lenet", method="ln_structured", amount=0.5)
    result = prune_model("lenet", config)
    path = export_pruned(result.model, "lenet", tmp_path / "lenet.pt", config).path
    namespace = {"torch": torch, "path": path, "models": __import__("models")}
    exec(LOAD_IN_PLAIN_PYTORCH, namespace)                       # the documented lines, verbatim
    model = namespace["model"]
    assert isinstance(model, type(create_model("lenet")))
    assert torch.equal(predictions(model, "lenet", heldout), predictions(result.model, "lenet", heldout))


def test_the_cli_prunes_an_exported_file(tmp_path, capsys):
    config = PruneConfig(model="convnet", method="ln_structured", amount=0.5)
    path = export_pruned(prune_model("convnet", config).model, "convnet", tmp_path / "c.pt", config).path
    assert cli_main(["--checkpoint", str(path), "--amount", "0.2", "--json"]) == 0
    out = capsys.readouterr().out
    assert '"model": "convnet"' in out and '"accuracy_after"' in out
