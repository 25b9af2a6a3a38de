"""ui/resources.py: the server's shared things; here, the grid filler started once the server has begun."""
from __future__ import annotations

import threading

from ui import resources


class FakeFiller:
    def __init__(self) -> None:
        self.started = threading.Event()

    def start(self) -> None:
        self.started.set()


def test_the_grid_starts_after_its_delay_and_not_at_all_once_called_off(monkeypatch):
    filler = FakeFiller()
    monkeypatch.setattr(resources, "grid_filler", lambda: filler)
    timer = resources.start_grid_after(0.2)
    assert timer.daemon and not filler.started.is_set()            # never keeps a stopping process alive
    assert filler.started.wait(10)
    called_off = FakeFiller()
    monkeypatch.setattr(resources, "grid_filler", lambda: called_off)
    timer = resources.start_grid_after(0.2)
    timer.cancel()
    timer.join(5)
    assert not called_off.started.is_set()


def test_the_grid_counts_as_starting_only_while_its_timer_waits(monkeypatch):
    filler = FakeFiller()
    monkeypatch.setattr(resources, "grid_filler", lambda: filler)
    monkeypatch.setattr(resources, "_grid_timer", None)
    assert not resources.grid_starting()                           # never scheduled (--no-precompute)
    timer = resources.start_grid_after(0.3)
    assert resources.grid_starting()
    assert filler.started.wait(10)
    timer.join(5)
    assert not resources.grid_starting()                           # fired: the filler's own status says the rest
    resources.start_grid_after(60).cancel()
    assert not resources.grid_starting()                           # called off (the server stopped)
