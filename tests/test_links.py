"""Links to a setting: parameters read on load (bad ones ignored with a note), and made by "Copy link"."""
from __future__ import annotations

from urllib.parse import parse_qsl

import pytest

from ui.links import CONTROLS, link_for, link_query, read_link

SETTING = dict(model="lenet", method="ln_structured", amount=0.6, threshold=0.05, scope="local", per_type=False,
               conv_amount=0.2, linear_amount=0.4, layer_types=["conv", "linear"], calibration_size=256,
               norm="L2", seed=3, nm="1:4", layer_amounts="fc1=0.8,conv1=0.1")


def test_a_link_gives_back_the_setting_it_was_made_from():
    query = link_for(*[SETTING[name] for name in CONTROLS])["value"]
    values, notes = read_link(dict(parse_qsl(query.lstrip("?"))))
    assert notes == [] and values == SETTING


def test_the_workshop_example_link():
    values, notes = read_link({"model": "lenet", "method": "ln_structured", "amount": "0.6", "scope": "local"})
    assert values == {"model": "lenet", "method": "ln_structured", "amount": 0.6, "scope": "local"} and not notes


@pytest.mark.parametrize("name, text, reason", [
    ("model", "resnet", "choose one of"), ("amount", "1.5", "from 0 to 0.99"), ("amount", "half", "could not"),
    ("seed", "-1", "whole number"), ("layer_types", "conv,attention", "comma list"), ("norm", "L3", "choose one"),
    ("per_type", "maybe", "1 or 0"), ("threshold", "nan", "0 to 0.5"),
])
def test_bad_parameters_are_ignored_with_a_note_and_the_rest_applied(name, text, reason):
    values, notes = read_link({name: text, "scope": "local"})
    assert values == {"scope": "local"}
    assert len(notes) == 1 and name in notes[0] and (reason in notes[0] or "ignored" in notes[0])


def test_unknown_parameters_and_long_values_are_named_briefly():
    values, notes = read_link({"x" * 500: "1", "model": "<script>" * 100})
    assert values == {} and len(notes) == 2 and all(len(note) < 200 for note in notes)
    assert "<script>" not in " ".join(notes)


def test_per_type_amounts_in_a_link_switch_per_type_on():
    values, _ = read_link({"conv_amount": "0.1", "scope": "local"})
    assert values["per_type"] is True and values["conv_amount"] == 0.1


def test_the_query_names_every_control():
    assert set(dict(parse_qsl(link_query(SETTING)))) == set(CONTROLS)


def test_the_link_box_is_shown_only_once_it_holds_a_link():
    import app
    box = app.demo.blocks[next(i for i, b in app.demo.blocks.items() if b.elem_id == "setting-link")]
    assert box.visible == "hidden"                  # no empty box on a fresh page (in the page, not shown)
    made = link_for(*[SETTING[name] for name in CONTROLS])
    assert made["visible"] is True and made["value"].startswith("?model=lenet")


def test_a_link_naming_a_layer_twice_is_ignored_with_a_note():
    values, notes = read_link({"layer_amounts": "conv1=0.1,conv1=0.2", "amount": "0.3"})
    assert values == {"amount": 0.3} and notes == ["layer_amounts=conv1=0.1,conv1=0.2 ignored (names a layer twice)"]
