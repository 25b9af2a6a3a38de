"""P5: `python app.py` to first HTTP 200, vs the bare import time of its dependencies (same run)."""
from __future__ import annotations

import subprocess
import sys

from bench.common import ROOT, alternate, free_port, record, start_app, stop, wait_for_http

DEPENDENCY_IMPORTS = "import torch, torchvision, gradio, matplotlib.pyplot, torch_pruning, mlxtend.data, PIL"


def bare_imports() -> None:
    subprocess.run([sys.executable, "-c", DEPENDENCY_IMPORTS], cwd=ROOT, check=True)


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
    return [record("P5 bare dependency imports", imports, "s", None),
            record("P5 python app.py to first HTTP 200", app, "s", None),
            record("P5 app start minus imports (paired)", overhead, "s", 3.0)]


if __name__ == "__main__":
    from bench.__main__ import print_table
    print_table(run("--quick" in sys.argv))
