"""Line styles: one (colour, dash, marker) per registered method, distinct however many methods are registered."""
from __future__ import annotations

import pytest

from pruning import list_methods
from ui import curve_styles
from ui.curve_styles import CAPACITY, STYLES, marker, method_styles, style, swatch


def test_styles_stay_distinct_as_methods_are_added_and_do_not_depend_on_the_plot(monkeypatch):
    assert len({style(i) for i in range(CAPACITY)}) == CAPACITY >= 100 > len(list_methods())
    assert [style(i) for i in range(8)] == STYLES                       # the first eight: all three differ
    assert len({s[0] for s in STYLES}) == len({s[1] for s in STYLES}) == len({s[2] for s in STYLES}) == 8
    assert method_styles(["activation"]) == {"activation": method_styles(list_methods())["activation"]}
    more = list_methods() + [f"new_method_{i}" for i in range(40)]      # a bigger registry
    monkeypatch.setattr(curve_styles, "list_methods", lambda: more)
    assert len(set(method_styles(more).values())) == len(more)
    with pytest.raises(ValueError, match="distinct line styles"):
        style(CAPACITY)


def test_a_legend_sample_shows_the_dash_and_the_marker_without_a_title():
    sample = swatch(style(8))
    assert 'stroke="#882255"' in sample and "<title>" not in sample and 'data-style="#882255 solid diamond-open"' in sample
    assert "<line" not in swatch(style(5), line=False)
    assert "<title>a · b</title>" in marker("plus", 10, 10, "#000", "a · b")
