"""Checkpoints: accuracy floors on the official split, safe loading, clear errors for bad files."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import torch

from models import create_model, list_models
from pruning.checkpoint import (CHECKPOINT_DIR, FORMAT, MANIFEST, CheckpointError, file_sha256, load_checkpoint,
                                load_pretrained, load_verified, read_manifest, save_checkpoint)
from pruning.evaluate import accuracy

FLOORS = {"lenet": 0.980, "convnet": 0.988, "mlp": 0.960}   # on the official 10,000 test digits


def test_every_registered_model_has_a_floor() -> None:
    assert set(FLOORS) == set(list_models())


@pytest.mark.parametrize("name", list_models())
def test_shipped_checkpoint_meets_its_floor_on_the_official_split(name: str, mnist_test) -> None:
    model, meta = load_pretrained(name)
    measured = accuracy(model, name, mnist_test)
    assert measured >= FLOORS[name], f"{name}: {measured:.4f} < {FLOORS[name]}"
    recorded = meta["metrics"][mnist_test.describe()]             # what training wrote down
    assert measured == pytest.approx(recorded, abs=1e-4)


@pytest.mark.parametrize("name", list_models())
def test_manifest_lists_every_shipped_checkpoint_with_its_hash(name: str) -> None:
    manifest = read_manifest()
    assert manifest[f"{name}.pt"] == file_sha256(CHECKPOINT_DIR / f"{name}.pt")


@pytest.mark.parametrize("name", list_models())
def test_pretrained_is_shared_read_only_and_self_describing(name: str) -> None:
    model, meta = load_pretrained(name)
    assert load_pretrained(name)[0] is model                      # loaded once
    assert not model.training and not any(p.requires_grad for p in model.parameters())
    assert meta["format"] == FORMAT and meta["model_name"] == name and "state_dict" not in meta


def test_save_and_load_round_trip(tmp_path: Path) -> None:
    torch.manual_seed(0)
    model = create_model("mlp", hidden=32)
    digest = save_checkpoint(tmp_path / "small.pt", "mlp", model, {"hidden": 32}, metrics={"note": 1.0})
    loaded, meta = load_checkpoint(tmp_path / "small.pt", expected_sha256=digest)
    assert meta["model_args"] == {"hidden": 32} and meta["metrics"] == {"note": 1.0}
    assert all(torch.equal(a, b) for a, b in zip(model.state_dict().values(), loaded.state_dict().values()))
    assert not loaded.training


def test_missing_checkpoint_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(CheckpointError, match="does not exist"):
        load_checkpoint(tmp_path / "nothing.pt")


def test_random_bytes_are_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "noise.pt"
    path.write_bytes(bytes(torch.randint(0, 256, (4096,), generator=torch.Generator().manual_seed(0),
                                         dtype=torch.uint8).tolist()))
    with pytest.raises(CheckpointError, match="noise.pt cannot be read"):
        load_checkpoint(path)


@pytest.mark.parametrize("keep", [0, 100, 0.5])
def test_truncated_checkpoint_is_a_clear_error(tmp_path: Path, keep) -> None:
    data = (CHECKPOINT_DIR / "lenet.pt").read_bytes()
    path = tmp_path / "cut.pt"
    path.write_bytes(data[: int(keep * len(data)) if isinstance(keep, float) else keep])
    with pytest.raises(CheckpointError, match="cut.pt cannot be read"):
        load_checkpoint(path)


def test_a_plain_state_dict_is_not_a_checkpoint(tmp_path: Path) -> None:
    torch.save(create_model("lenet").state_dict(), tmp_path / "plain.pt")
    with pytest.raises(CheckpointError, match="not a Pruning Lab checkpoint"):
        load_checkpoint(tmp_path / "plain.pt")


def test_wrong_architecture_under_a_name_is_a_clear_error(tmp_path: Path) -> None:
    save_checkpoint(tmp_path / "fake.pt", "lenet", create_model("mlp"))        # mlp weights named lenet
    with pytest.raises(CheckpointError, match="does not fit architecture 'lenet'"):
        load_checkpoint(tmp_path / "fake.pt")


def test_unknown_model_name_in_a_checkpoint_is_a_clear_error(tmp_path: Path) -> None:
    save_checkpoint(tmp_path / "odd.pt", "resnet", create_model("mlp"))
    with pytest.raises(CheckpointError, match="'resnet'"):
        load_checkpoint(tmp_path / "odd.pt")


class _OpensAFile:
    def __reduce__(self):                                      # unpickling would call open("/dev/null")
        return (open, ("/dev/null",))


def test_code_in_a_pickle_is_refused_naming_what_was_refused(tmp_path: Path) -> None:
    torch.save({"format": FORMAT, "model_name": "mlp", "payload": _OpensAFile()}, tmp_path / "pickle.pt")
    with pytest.raises(CheckpointError, match=r"pickle\.pt cannot be read safely.*\b(io|builtins)\.open\b") as err:
        load_checkpoint(tmp_path / "pickle.pt")                 # weights_only=True
    assert "\x1b" not in str(err.value) and "can still be loaded" not in str(err.value)


@pytest.fixture()
def shipped_copy(tmp_path: Path) -> Path:
    """A copy of checkpoints/ (all .pt files and the manifest) to tamper with."""
    for path in [*CHECKPOINT_DIR.glob("*.pt"), MANIFEST]:
        shutil.copy(path, tmp_path / path.name)
    return tmp_path


def test_verified_copy_loads(shipped_copy: Path) -> None:
    model, meta = load_verified("mlp", shipped_copy)
    reference = load_pretrained("mlp")[0]
    assert meta["model_name"] == "mlp"
    assert all(torch.equal(a, b) for a, b in zip(model.state_dict().values(), reference.state_dict().values()))


def test_sha256_mismatch_is_refused(shipped_copy: Path) -> None:
    path = shipped_copy / "lenet.pt"
    model, _ = load_checkpoint(path)
    with torch.no_grad():
        model.fc3.bias.add_(1.0)                                       # a tampered but loadable file
    save_checkpoint(path, "lenet", model)
    with pytest.raises(CheckpointError, match="sha256"):
        load_verified("lenet", shipped_copy)
    with pytest.raises(CheckpointError, match="sha256"):
        load_checkpoint(path, expected_sha256=read_manifest(shipped_copy / MANIFEST.name)["lenet.pt"])


def test_checkpoint_of_another_model_under_a_shipped_name_is_refused(shipped_copy: Path) -> None:
    shutil.copy(shipped_copy / "mlp.pt", shipped_copy / "lenet.pt")
    manifest = shipped_copy / MANIFEST.name
    lines = [line for line in manifest.read_text().splitlines() if not line.endswith("lenet.pt")]
    manifest.write_text("\n".join([*lines, f"{file_sha256(shipped_copy / 'lenet.pt')}  lenet.pt"]) + "\n")
    with pytest.raises(CheckpointError, match="holds 'mlp', not 'lenet'"):
        load_verified("lenet", shipped_copy)


def test_checkpoint_missing_from_the_manifest_is_refused(shipped_copy: Path) -> None:
    manifest = shipped_copy / MANIFEST.name
    manifest.write_text("".join(line + "\n" for line in manifest.read_text().splitlines()
                                if not line.endswith("convnet.pt")))
    with pytest.raises(CheckpointError, match="not listed"):
        load_verified("convnet", shipped_copy)


def test_malformed_manifest_is_a_clear_error(shipped_copy: Path) -> None:
    (shipped_copy / MANIFEST.name).write_text("just-one-field\n")
    with pytest.raises(CheckpointError, match="malformed"):
        load_verified("mlp", shipped_copy)


def test_missing_shipped_file_is_a_clear_error(shipped_copy: Path) -> None:
    (shipped_copy / "convnet.pt").unlink()
    with pytest.raises(CheckpointError, match="does not exist"):
        load_verified("convnet", shipped_copy)


def test_unknown_pretrained_name_lists_known_models() -> None:
    with pytest.raises(ValueError, match="unknown model.*lenet"):
        load_pretrained("resnet")
