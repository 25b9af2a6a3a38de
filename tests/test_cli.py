"""Command line (python -m pruning): tutorial-style output, JSON, listing, one-line errors."""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from models import get_model_entry, list_models
from pruning.checkpoint import load_pretrained, save_checkpoint
from pruning.cli import JSON_KEYS, main
from pruning.config import PruneConfig
from pruning.data import DATA_DIR_ENV, TEST_FILES
from pruning.engine import prune_model
from pruning.evaluate import accuracy
from pruning.methods import get_method, list_methods

ROOT = Path(__file__).resolve().parents[1]
SPARSITY_LINE = re.compile(r"^Sparsity in (\w+)\.weight: (\d+\.\d\d)%$")


@pytest.fixture(autouse=True)
def no_data_dir_env(monkeypatch) -> None:
    """Without --data-dir / --eval-set the CLI evaluates on the shipped official test split."""
    monkeypatch.delenv(DATA_DIR_ENV, raising=False)


def run(argv: list[str], capsys) -> tuple[int, str, str]:
    """main(argv) -> (exit code, stdout, stderr); argparse errors exit via SystemExit."""
    try:
        code = main(argv)
    except SystemExit as exit_:
        code = exit_.code
    out, err = capsys.readouterr()
    return code, out, err


def test_global_l1_prints_tutorial_lines_and_accuracy(capsys, mnist_test) -> None:
    code, out, err = run(["--model", "lenet", "--scope", "global", "--amount", "0.2"], capsys)
    assert code == 0 and err == ""
    lines = out.splitlines()
    expected = prune_model("lenet", PruneConfig(scope="global", amount=0.2))
    sparsity = [SPARSITY_LINE.match(line).groups() for line in lines[:5]]
    assert sparsity == [(s.name, f"{100 * s.sparsity:.2f}") for s in expected.layers]
    assert [name for name, _ in sparsity] == ["conv1", "conv2", "fc1", "fc2", "fc3"]
    assert len({value for _, value in sparsity}) > 1                       # unequal per-layer shares
    assert "Global sparsity: 20.00%" in lines
    before = 100 * accuracy(load_pretrained("lenet")[0], "lenet", mnist_test)
    after = 100 * accuracy(expected.model, "lenet", mnist_test)
    assert f"Accuracy on MNIST test split (10,000 digits): {before:.2f}% -> {after:.2f}%" in out
    assert f"Nonzero parameters: {expected.nonzero_params:,} / {expected.total_params:,}" in lines


def test_per_layer_type_amounts_print_the_tutorial_sparsities(capsys) -> None:
    code, out, _ = run(["--conv-amount", "0.2", "--linear-amount", "0.4", "--no-eval"], capsys)
    assert code == 0
    assert [line for line in out.splitlines() if line.startswith("Sparsity in")] == [
        "Sparsity in conv1.weight: 20.00%", "Sparsity in conv2.weight: 20.00%",
        "Sparsity in fc1.weight: 40.00%", "Sparsity in fc2.weight: 40.00%", "Sparsity in fc3.weight: 40.00%"]
    assert "Accuracy" not in out


def test_data_dir_evaluates_on_that_split(capsys, tmp_path: Path, mnist_test) -> None:
    for stem, array in zip(TEST_FILES, (mnist_test.images, mnist_test.labels.to(torch.uint8))):
        header = bytes([0, 0, 0x08, array.dim()]) + b"".join(n.to_bytes(4, "big") for n in array.shape)
        (tmp_path / stem).write_bytes(header + array.numpy().tobytes())          # raw IDX, as in MNIST
    code, out, _ = run(["--model", "mlp", "--data-dir", str(tmp_path)], capsys)
    before = 100 * accuracy(load_pretrained("mlp")[0], "mlp", mnist_test)
    assert code == 0 and f"Accuracy on {mnist_test.describe()}: {before:.2f}% -> " in out


@pytest.mark.parametrize("name", ["test", "heldout"])
def test_eval_set_flag_picks_the_named_set(capsys, name: str, mnist_test, heldout) -> None:
    expected = {"test": mnist_test, "heldout": heldout}[name]
    code, out, _ = run(["--model", "mlp", "--eval-set", name], capsys)
    before = 100 * accuracy(load_pretrained("mlp")[0], "mlp", expected)
    assert code == 0 and f"Accuracy on {expected.describe()}: {before:.2f}% -> " in out


def test_eval_set_flag_overrides_the_environment(capsys, monkeypatch, tmp_path: Path, heldout) -> None:
    monkeypatch.setenv(DATA_DIR_ENV, str(tmp_path / "typo"))       # would be an error if it were read
    code, out, err = run(["--model", "mlp", "--eval-set", "heldout"], capsys)
    assert code == 0, err
    assert f"Accuracy on {heldout.describe()}:" in out


def test_json_output_parses_with_the_documented_keys(capsys) -> None:
    code, out, _ = run(["--model", "mlp", "--method", "ln_structured", "--amount", "0.5", "--json"], capsys)
    assert code == 0
    data = json.loads(out)
    assert set(data) == set(JSON_KEYS)
    assert {"config", "layers", "global_sparsity", "total_params", "nonzero_params", "eval_set",
            "accuracy_before", "accuracy_after", "timings"} <= set(data)
    assert data["config"]["model"] == "mlp" and data["config"]["method"] == "ln_structured"
    assert [layer["name"] for layer in data["layers"]] == ["fc1", "fc2"]
    assert 0 <= data["accuracy_after"] <= 1 and 0 < data["accuracy_before"] <= 1
    assert data["nonzero_params"] < data["total_params"]


def test_json_keys_are_documented_in_the_help(capsys) -> None:
    code, out, _ = run(["--help"], capsys)
    assert code == 0
    assert all(key in " ".join(out.split()) for key in JSON_KEYS)


def test_list_names_every_model_and_method(capsys) -> None:
    code, out, _ = run(["--list"], capsys)
    assert code == 0
    listed = {line.split()[0] for line in out.splitlines() if line.startswith("  ")}
    assert listed == set(list_models()) | set(list_methods())
    for name in list_models():
        assert get_model_entry(name).description in out
    for name in list_methods():
        assert get_method(name).description in out


def test_checkpoint_argument_prunes_that_file(capsys, tmp_path: Path) -> None:
    save_checkpoint(tmp_path / "mine.pt", "mlp", load_pretrained("mlp")[0])
    code, out, _ = run(["--checkpoint", str(tmp_path / "mine.pt"), "--no-eval"], capsys)
    assert code == 0 and "Sparsity in fc1.weight: 20.00%" in out


def _noise_file(tmp_path: Path) -> str:
    path = tmp_path / "noise.pt"
    path.write_bytes(os.urandom(512))
    return str(path)


BAD_ARGUMENTS = {
    "amount-negative": (["--amount", "-0.1"], "amount"),
    "amount-above-one": (["--amount", "1.5"], "amount"),
    "amount-nan": (["--amount", "nan"], "amount"),
    "amount-inf": (["--amount", "inf"], "amount"),
    "amount-text": (["--amount", "lots"], "--amount"),
    "conv-amount": (["--conv-amount", "2"], "conv_amount"),
    "unknown-model": (["--model", "resnet"], "unknown model"),
    "unknown-method": (["--method", "magic"], "unknown method"),
    "unknown-scope": (["--scope", "everywhere"], "unknown scope"),
    "unknown-layer-type": (["--layer-types", "conv,attention"], "unknown layer type"),
    "per-type-amount-global": (["--scope", "global", "--linear-amount", "0.3"], "linear_amount"),
    "no-such-layers": (["--model", "mlp", "--layer-types", "conv", "--scope", "global"], "no conv layers"),
    "norm": (["--norm", "3"], "norm"),
    "seed": (["--seed", "-1"], "seed"),
    "calibration-size": (["--calibration-size", "0"], "calibration_size"),
    "unknown-option": (["--bogus"], "unrecognized arguments"),
    "missing-checkpoint": (["--checkpoint", "/nonexistent/model.pt"], "does not exist"),
    "noise-checkpoint": (["--checkpoint", "NOISE"], "cannot be read"),
    "checkpoint-model-mismatch": (["--checkpoint", str(ROOT / "checkpoints" / "mlp.pt"), "--model", "lenet"],
                                  "holds a 'mlp' model"),
    "missing-data-dir": (["--data-dir", "/nonexistent/mnist"], "does not exist"),
    "unknown-eval-set": (["--eval-set", "train"], "invalid choice: 'train'"),
    "eval-set-and-data-dir": (["--eval-set", "test", "--data-dir", "/tmp"], "not allowed with argument"),
}


@pytest.mark.parametrize("argv, message", BAD_ARGUMENTS.values(), ids=BAD_ARGUMENTS.keys())
def test_bad_arguments_give_one_error_line_and_exit_code_2(argv, message, capsys, tmp_path: Path) -> None:
    argv = [_noise_file(tmp_path) if a == "NOISE" else a for a in argv]
    code, out, err = run(argv, capsys)
    assert code == 2 and out == ""
    assert len(err.splitlines()) == 1 and err.startswith("error: ")
    assert message in err and "Traceback" not in err


def test_subprocess_run_prints_the_tutorial_lines() -> None:
    env = {k: v for k, v in os.environ.items() if k != DATA_DIR_ENV}
    done = subprocess.run([sys.executable, "-m", "pruning", "--scope", "global", "--amount", "0.2"],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert [SPARSITY_LINE.match(line).group(1) for line in lines[:5]] == ["conv1", "conv2", "fc1", "fc2", "fc3"]
    assert "Global sparsity: 20.00%" in lines
    assert re.search(r"^Accuracy on MNIST test split \(10,000 digits\): \d+\.\d\d% -> \d+\.\d\d% "
                     r"\([+-]\d+\.\d\d points\)$", done.stdout, re.M)



def test_lesson_flags_print_their_reports(capsys):
    assert main(["--model", "mlp", "--amount", "0.8", "--scope", "global", "--eval-set", "heldout", "--changes",
                 "--sensitivity", "--allocate", "0.5"]) == 0
    out = capsys.readouterr().out
    assert "what changed on built-in held-out" in out and "predictions changed:" in out
    assert re.search(r"^fc1 .*%$", out, re.M) and "allocated per layer" in out and "allocated: fc1=" in out


def test_quantize_flag_prints_the_grid(capsys):
    assert main(["--model", "mlp", "--amount", "0.5", "--eval-set", "heldout", "--quantize"]) == 0
    out = capsys.readouterr().out
    assert all(cell in out for cell in ("dense_fp32", "dense_int8", "pruned_fp32", "pruned_int8"))
    assert "zeros kept: yes" in out


@pytest.mark.parametrize("extra", [["--no-eval"], ["--allocate", "0.99"]])
def test_lesson_flags_refuse_what_they_cannot_measure(extra, capsys):
    assert main(["--model", "mlp", "--eval-set", "heldout", "--changes", *extra]) == 2 if extra == ["--no-eval"] \
        else main(["--model", "mlp", "--eval-set", "heldout", *extra]) == 2
    assert capsys.readouterr().err.startswith("error: ")
