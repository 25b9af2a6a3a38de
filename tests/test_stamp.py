"""The setting stamp: one id per pruned model, and the line that names it."""
from __future__ import annotations

from pruning import PruneConfig
from ui import stamp
from tests.ui_helpers import run


def test_options_the_method_does_not_read_do_not_change_the_id() -> None:
    base = PruneConfig(model="lenet", method="l1_unstructured", amount=0.5)
    assert stamp.setting_id(base) == stamp.setting_id(PruneConfig(model="lenet", method="l1_unstructured",
                                                                   amount=0.5, calibration_size=512))
    assert stamp.setting_id(base) != stamp.setting_id(PruneConfig(model="lenet", method="l1_unstructured",
                                                                   amount=0.51))
    assert stamp.setting_id(base) != stamp.setting_id(PruneConfig(model="mlp", method="l1_unstructured",
                                                                   amount=0.5))


def test_the_stamp_names_the_setting_and_what_to_press() -> None:
    line = stamp.stamp(PruneConfig(model="lenet", method="random_unstructured", amount=0.3, scope="local"),
                       "press Measure")
    assert "For lenet · random_unstructured · amount 0.30 · local" in line
    assert '<span class="pl-for-again">press Measure</span>' in line


def test_the_accuracy_panel_carries_the_current_setting_id() -> None:
    shown = run(amount=0.3)["accuracy"]
    assert f'data-setting="{stamp.setting_id(PruneConfig(model="lenet", method="l1_unstructured", amount=0.3, scope="global"))}"' \
        in shown


def test_the_stamp_names_only_what_the_method_reads() -> None:
    threshold = stamp.config_summary(PruneConfig(model="mlp", method="threshold", threshold=0.1, scope="local"))
    assert threshold == "mlp · threshold · threshold 0.1"
    assert stamp.config_summary(PruneConfig(model="mlp", method="nm_semi_structured", nm="1:4")) == \
        "mlp · nm_semi_structured · pattern 1:4"
