"""P5: `python app.py` to first HTTP 200, vs the bare import time of its dependencies (same run)."""
from __future__ import annotations

import subprocess
import sys
from functools import lru_cache

from bench.common import ROOT, alternate, free_port, record, start_app, stop, wait_for_http

OWN_PACKAGES = {"app", "models", "pruning", "bench"}
LIST_DEPENDENCIES = ("import sys, app\n"
                     f"own = {sorted(OWN_PACKAGES)!r}\n"
                     "print('\\n'.join(sorted(m for m in sys.modules if not m.startswith('_') and "
                     "m.split('.')[0] not in sys.stdlib_module_names and m.split('.')[0] not in own)))")
IMPORT_ALL = ("import importlib, sys\n"
              "for name in sys.stdin.read().split():\n"
              "    try:\n"
              "        importlib.import_module(name)\n"
              "    except Exception:\n"
              "        pass\n")


@lru_cache(maxsize=1)
def app_dependencies() -> str:
    """Every third-party module (full dotted names) loaded by `import app`, one per line."""
    listed = subprocess.run([sys.executable, "-c", LIST_DEPENDENCIES], cwd=ROOT, check=True,
                            capture_output=True, text=True)
    return listed.stdout


def bare_imports() -> None:
    """Import exactly the third-party modules the app loads, nothing of the app itself."""
    subprocess.run([sys.executable, "-c", IMPORT_ALL], cwd=ROOT, check=True, input=app_dependencies(), text=True)


def app_to_first_200() -> None:
    port = free_port()
    process = start_app(port)
    try:
        wait_for_http(f"http://127.0.0.1:{port}/", process)
    finally:
        stop(process)


def run(quick: bool = False) -> list[dict]:
    imports, app = alternate(bare_imports, app_to_first_200, repeats=2 if quick else 5, warmup=1)
    overhead = [a - i for a, i in zip(app, imports)]
    modules = len(app_dependencies().split())
    return [record(f"P5 bare imports of the app's {modules} third-party modules", imports, "s", None),
            record("P5 python app.py to first HTTP 200", app, "s", None),
            record("P5 app start minus imports (paired)", overhead, "s", 3.0)]


if __name__ == "__main__":
    from bench.__main__ import print_table
    print_table(run("--quick" in sys.argv))
