"""The house rules: no import cycle, arrows point down (app -> ui -> pruning -> models), short documented files."""
from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("app", "ui", "pruning", "models", "bench")
# What each room may import from the project (itself included): arrows point down only.
MAY_IMPORT = {"app": {"app", "ui", "pruning", "models"}, "ui": {"ui", "pruning", "models"},
              "pruning": {"pruning", "models"}, "models": {"models"},
              "bench": {"bench", "pruning", "models", "app", "ui"}}
MAX_LINES = 300


def project_modules() -> dict[str, Path]:
    """Dotted module name -> file, for every Python file of the product (tests excluded)."""
    files = [ROOT / "app.py"] + [p for name in PACKAGES[1:] for p in sorted((ROOT / name).rglob("*.py"))]
    modules = {}
    for path in files:
        parts = list(path.relative_to(ROOT).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        modules[".".join(parts)] = path
    return modules


def imported(module: str, path: Path, known: set[str]) -> set[str]:
    """Project modules that `module` imports anywhere in its file (late imports too; not under
    `if TYPE_CHECKING:`), resolved to the most specific known module."""
    tree = ast.parse(path.read_text())
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    skipped = {id(n) for node in ast.walk(tree) if isinstance(node, ast.If)
               and "TYPE_CHECKING" in ast.unparse(node.test) for n in ast.walk(node)}
    found = set()
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        names = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1] + ([base] if base else []))
            names = [f"{base}.{alias.name}" for alias in node.names] + [base]
        for name in names:
            while name and name not in known:
                name = name.rpartition(".")[0]
            if name and name != module:
                found.add(name)
    return found


def import_graph() -> dict[str, set[str]]:
    modules = project_modules()
    return {module: imported(module, path, set(modules)) for module, path in modules.items()}


def test_there_is_no_import_cycle():
    graph, state, cycles = import_graph(), {}, []

    def visit(node: str, stack: list[str]) -> None:
        state[node] = "open"
        for target in sorted(graph[node]):
            # a package's __init__ importing its own submodules is not a cycle through them
            if target.startswith(node + "."):
                continue
            if state.get(target) == "open":
                cycles.append(stack[stack.index(target):] + [target])
            elif target not in state:
                visit(target, stack + [target])
        state[node] = "done"

    for module in sorted(graph):
        if module not in state:
            visit(module, [module])
    assert not cycles, f"import cycles: {cycles}"


def test_arrows_point_down():
    wrong = [(module, target) for module, targets in import_graph().items() for target in targets
             if target.split(".")[0] not in MAY_IMPORT[module.split(".")[0]]]
    assert not wrong, f"imports against the layering app -> ui -> pruning -> models: {wrong}"


def test_the_engine_imports_neither_gradio_nor_matplotlib():
    for module, path in project_modules().items():
        if module.split(".")[0] in ("pruning", "models"):
            source = ast.parse(path.read_text())
            roots = {alias.name.split(".")[0] for node in ast.walk(source) if isinstance(node, ast.Import)
                     for alias in node.names}
            roots |= {(node.module or "").split(".")[0] for node in ast.walk(source)
                      if isinstance(node, ast.ImportFrom) and not node.level}
            assert not roots & {"gradio", "matplotlib"}, f"{module} imports {roots & {'gradio', 'matplotlib'}}"


@pytest.mark.parametrize("module", sorted(project_modules()))
def test_every_file_is_short_and_opens_with_a_one_line_docstring(module):
    path = project_modules()[module]
    text = path.read_text()
    assert len(text.splitlines()) <= MAX_LINES, f"{path.relative_to(ROOT)} has {len(text.splitlines())} lines"
    docstring = ast.get_docstring(ast.parse(text))
    assert docstring and docstring.splitlines()[0].strip(), f"{path.relative_to(ROOT)} has no docstring"


def test_importing_the_engine_in_a_fresh_interpreter_imports_no_ui_library():
    script = ("import sys, threading\nimport pruning, pruning.cli, pruning.sweep_cache, pruning.size\n"
              "print(sorted({'gradio', 'matplotlib'} & set(sys.modules)), threading.active_count())")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True, cwd=ROOT)
    assert done.stdout.split() == ["[]", "1"]
