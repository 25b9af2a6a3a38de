"""The README's examples run as written: its `python -m pruning` lines and its Python blocks, from any directory."""
from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from pruning.data import DATA_DIR_ENV

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()
BLOCK = re.compile(r"^```(\w+)\n(.*?)^```", re.M | re.S)
VENV_PYTHON = ".venv/bin/python"          # how the README spells the interpreter, relative to the clone
TEST_SPLIT = "MNIST test split (10,000 digits)"
HELDOUT = "built-in held-out MNIST digits (1,000 digits)"


def _blocks(language: str) -> list[str]:
    return [body for lang, body in BLOCK.findall(README) if lang == language]


def _cli_lines() -> list[str]:
    lines = [line.strip() for body in _blocks("bash") for line in body.splitlines()]
    return [line for line in lines if re.search(r"python -m pruning(\s|$)", line)]


CLI_LINES = _cli_lines()
PYTHON_BLOCKS = _blocks("python")


def _clean_env() -> dict[str, str]:
    """The environment of a new user: no data-dir override, no PYTHONPATH pointing into the clone."""
    return {k: v for k, v in os.environ.items() if k not in (DATA_DIR_ENV, "PYTHONPATH")}


def _run(command: list[str], cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(command, cwd=cwd, env=_clean_env(), capture_output=True, text=True, timeout=300)


def _model_card_test_accuracy(model: str) -> str:
    """The model card's 'MNIST test (10,000)' figure for `model`, e.g. '98.15%' (checkpoints/README.md)."""
    card = (ROOT / "checkpoints" / "README.md").read_text()
    row = re.search(rf"^\| `{model}` \|.*\*\*(\d+\.\d\d%)\*\*", card, re.M)
    assert row, f"no test accuracy for {model} in the model card"
    return row.group(1)


def test_the_readme_has_the_examples_this_file_runs() -> None:
    assert len(CLI_LINES) >= 5 and len(PYTHON_BLOCKS) >= 1
    assert not any("../shared" in text for text in CLI_LINES + PYTHON_BLOCKS)   # nothing beside the clone


def test_ci_runs_the_readmes_test_command_exactly() -> None:
    commands = [body.strip() for body in _blocks("bash") if body.strip().endswith("-m pytest")]
    assert len(commands) == 1
    ci_lines = [line.strip() for line in (ROOT / ".ci" / "run").read_text().splitlines()]
    assert commands[0] in ci_lines
    assert "PRUNING_LAB_TEST_MNIST" not in (ROOT / ".ci" / "run").read_text()


def _check_cli_output(line: str, out: str) -> None:
    """What each kind of README command line must print."""
    if "--list" in line:
        assert out.startswith("models:\n") and "\nmethods:\n" in out
    elif "--json" in line:
        assert json.loads(out)["eval_set"] == TEST_SPLIT
    else:
        assert re.search(r"^Global sparsity: \d+\.\d\d%$", out, re.M)
        assert f"Accuracy on {HELDOUT if '--eval-set heldout' in line else TEST_SPLIT}: " in out


def _cli_id(line: str) -> str:
    return line.split("#")[0].split("-m pruning", 1)[1].strip() or "no-arguments"


@pytest.mark.slow
@pytest.mark.parametrize("line", CLI_LINES, ids=[_cli_id(line) for line in CLI_LINES])
def test_readme_command_line_runs_from_any_directory(line: str, tmp_path: Path) -> None:
    assert line.startswith(f"{VENV_PYTHON} -m pruning"), line
    # As typed in a shell (quotes, comments), with the clone's interpreter spelled out, from elsewhere.
    command = line.replace(VENV_PYTHON, shlex.quote(sys.executable), 1)
    done = _run(["bash", "-c", command], cwd=tmp_path)
    assert done.returncode == 0, f"{line}\n{done.stderr}"
    _check_cli_output(line, done.stdout)


@pytest.mark.slow
@pytest.mark.parametrize("block", PYTHON_BLOCKS)
def test_readme_python_example_runs_as_a_script_from_any_directory(block: str, tmp_path: Path) -> None:
    script = tmp_path / "example.py"
    script.write_text(block)
    done = _run([sys.executable, str(script)], cwd=tmp_path)
    assert "No module named 'pruning'" not in done.stderr, \
        "pruning is not importable outside the clone: install it as the README says (pip install ... -e .)"
    assert done.returncode == 0, done.stderr
    assert re.findall(r"^Sparsity in (\w+)\.weight: \d+\.\d\d%$", done.stdout, re.M) == \
        ["conv1", "conv2", "fc1", "fc2", "fc3"]
    assert "Global sparsity: 20.00%" in done.stdout.splitlines()
    before = _model_card_test_accuracy("lenet")
    assert re.search(rf"^Accuracy on {re.escape(TEST_SPLIT)}: {re.escape(before)} -> \d+\.\d\d%$",
                     done.stdout, re.M), done.stdout


# --- the README's test command in CI: zero skips (tests/conftest.py) --------------------------------

SKIPPING_TEST = "import pytest\n\ndef test_ok():\n    pass\n\ndef test_skipped():\n    pytest.skip('no chromium')\n"


@pytest.mark.slow
@pytest.mark.parametrize("ci", [True, False], ids=["CI", "no-CI"])
def test_a_skip_fails_the_run_only_in_ci(ci: bool, tmp_path: Path) -> None:
    shutil.copy(ROOT / "tests" / "conftest.py", tmp_path / "conftest.py")
    (tmp_path / "test_sample.py").write_text(SKIPPING_TEST)
    env = {k: v for k, v in _clean_env().items() if k != "CI"}
    env.update({"PYTHONPATH": str(ROOT), **({"CI": "true"} if ci else {})})
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tmp_path)],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert "1 passed, 1 skipped" in done.stdout
    if ci:
        assert done.returncode == 1
        assert "CI is set and 1 test(s) were skipped" in done.stdout
        assert "test_sample.py::test_skipped (Skipped: no chromium)" in done.stdout
    else:
        assert done.returncode == 0 and "CI is set" not in done.stdout
