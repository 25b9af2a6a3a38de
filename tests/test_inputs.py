"""Raw page and API values into a PruneConfig: numbers from strings, per-layer amounts, clear refusals."""
from __future__ import annotations

import gradio as gr
import pytest

from ui.inputs import build_config, layer_amounts, number, shorten, whole

SETTING = ["lenet", "l1_unstructured", 0.5, 0.05, "local", False, 0.2, 0.4, ["conv", "linear"], 256, "L1", 0]


def test_numbers_from_strings_and_whole_numbers():
    assert number("0.5") == 0.5 and number("abc") == "abc" and number(True) is True
    assert whole("3") == 3 and whole(2.0) == 2 and whole(2.5) == 2.5


def test_per_layer_amounts_from_the_text_box():
    assert layer_amounts("fc1=0.8, conv1=0.1") == {"fc1": 0.8, "conv1": 0.1}
    assert not layer_amounts("") and layer_amounts({"fc1": 0.3}) == {"fc1": 0.3}
    config = build_config(*SETTING, "2:4", "fc1=0.8")
    assert config.amount_for("linear", "fc1") == 0.8 and config.amount_for("conv", "conv1") == 0.5


@pytest.mark.parametrize("nm, per_layer, message", [
    ("2:4", "fc1", "LAYER=AMOUNT"), ("2:4", "fc1=lots", "amount of layer fc1 must be a number"),
    ("2:4", "fc1=1.5", "between 0 and 1"), ("5:4", "", "N:M"), ("2:4" * 100, "", "N:M"),
])
def test_bad_new_controls_are_refused_in_the_apps_words(nm, per_layer, message):
    with pytest.raises(gr.Error, match=message) as refused:
        build_config(*SETTING, nm, per_layer)
    assert len(str(refused.value)) <= 300


def test_per_layer_amounts_need_the_local_scope_and_known_layers():
    with pytest.raises(gr.Error, match="scope 'local'"):
        build_config(*SETTING[:4], "global", *SETTING[5:], "2:4", "fc1=0.5")
    from ui import handlers
    with pytest.raises(gr.Error, match="fc9"):
        handlers.update(*SETTING, "2:4", "fc9=0.5", request=gr.Request(session_hash="inputs"))


def test_long_messages_are_shortened():
    assert len(shorten("x" * 10_000)) == 300 and shorten("short") == "short"


@pytest.mark.parametrize("text", ["conv1=0.1,conv1=0.2", "conv1=0.1; fc1=0.5; conv1 = 0.1"])
def test_a_layer_named_twice_is_refused_not_overwritten(text):
    with pytest.raises(gr.Error, match="name layer conv1 twice") as refused:
        layer_amounts(text)
    assert "give each layer one amount" in str(refused.value)
    with pytest.raises(gr.Error, match="twice"):
        build_config(*SETTING, "2:4", text)
    assert layer_amounts({"conv1": 0.1}) == {"conv1": 0.1}           # a dict cannot name a layer twice


def test_per_type_amounts_apply_under_local_scope_only_as_the_page_shows():
    ticked = list(SETTING)
    ticked[5], ticked[6], ticked[7] = True, 0.2, 0.9          # per type ticked, conv 0.2, linear 0.9
    ticked[4] = "local"
    local = build_config(*ticked)
    assert (local.conv_amount, local.linear_amount) == (0.2, 0.9)
    ticked[4] = "global"                                      # then switched to global: the box is off there
    switched = build_config(*ticked)
    assert (switched.scope, switched.conv_amount, switched.linear_amount) == ("global", None, None)
