"""The Advanced controls: the type sliders are live only when the setting reads them; Copy into Advanced switches to local."""
from __future__ import annotations

from ui import advanced, handlers
from tests.ui_helpers import run


def test_the_type_sliders_are_live_only_with_per_type_amounts_under_local_scope():
    for per_type, scope, live in ((False, "global", False), (False, "local", False), (True, "global", False),
                                  (True, "local", True)):
        checkbox, conv, linear = advanced.type_sliders(per_type, scope)
        assert conv["interactive"] is live and linear["interactive"] is live
        assert checkbox["interactive"] is (scope == "local")              # global refuses per-type amounts
        assert checkbox["info"] == (advanced.PER_TYPE_ON if scope == "local" else advanced.PER_TYPE_OFF)
        assert conv["info"] == (advanced.TYPE_SLIDERS_ON if live else advanced.TYPE_SLIDERS_OFF)


def test_copy_into_advanced_under_global_switches_to_local_and_the_setting_then_prunes():
    scope, amounts, note, accordion = advanced.copy_into_advanced("conv1=0.2, fc1=0.85", "global")
    assert scope == "local" and amounts == "conv1=0.2, fc1=0.85" and accordion["open"] is True
    assert "Scope switched to local" in note and "conv1=0.2, fc1=0.85" in note
    request = run(scope=scope, layer_amounts=amounts)["request"]       # what the page then asks for: no error
    config = handlers.current_result(request).config
    assert config.scope == "local" and config.layer_amounts == (("conv1", 0.2), ("fc1", 0.85))
    _, _, note, _ = advanced.copy_into_advanced("conv1=0.2", "local")
    assert "switched" not in note


def test_copy_into_advanced_with_nothing_allocated_says_what_to_press():
    scope, amounts, note, accordion = advanced.copy_into_advanced("", "global")
    assert "Allocate and compare" in note
    assert all(value == handlers.gr.skip() for value in (scope, amounts, accordion))
    _, _, note, _ = advanced.copy_into_advanced("fc1", "global")
    assert note.startswith("Could not copy: Per-layer amounts are LAYER=AMOUNT")
