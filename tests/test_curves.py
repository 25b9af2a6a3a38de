"""The interactive curves: every point drawn where its numbers say, with a hover title; legend and star."""
from __future__ import annotations

import re
import xml.dom.minidom

import pytest

from pruning import PruneConfig
from pruning.sweep import SweepPoint, SweepResult
from ui.curves import HEIGHT, STYLES, curves_html, _x, _y

METHODS = ["l1_unstructured", "ln_structured", "threshold"]


@pytest.fixture()
def result() -> SweepResult:
    points = [SweepPoint(m, s, a, a * (0.9 if s == "local" else 1.0), 0.98 - a * (i + 1) / 10,
                         0.01 if m == "threshold" else None)
              for i, m in enumerate(METHODS) for s in ("local", "global") for a in (0.0, 0.5, 0.9)]
    return SweepResult("lenet", "MNIST test split (10,000 digits)", (0.0, 0.5, 0.9), PruneConfig(), 0.98, points)


def panels(page: str) -> list:
    return [xml.dom.minidom.parseString(svg) for svg in re.findall(r'<svg class="pl-curve-panel".*?</svg>', page)]


@pytest.mark.parametrize("x_axis", ["amount", "sparsity"])
def test_every_point_is_drawn_at_its_value_with_a_title_naming_its_numbers(result, x_axis):
    page = curves_html(result, None, x_axis)
    titles = re.findall(r"<title>([^<]+)</title>", page)
    assert len(titles) == len(result.points)
    for point in result.points:
        expected = (f"{point.method} · {point.scope} · amount {point.amount:.2f}")
        found = [t for t in titles if t.startswith(expected)]
        assert len(found) == 1, expected
        assert f"sparsity {100 * point.sparsity:.1f}% · accuracy {100 * point.accuracy:.2f}%" in found[0]
    for svg, scope in zip(panels(page), ("local", "global")):
        for group in svg.getElementsByTagName("g"):
            method = group.getAttribute("data-method")
            line = group.getElementsByTagName("polyline")[0].getAttribute("points").split()
            curve = result.curve(method, scope)
            assert [tuple(map(float, xy.split(","))) for xy in line] == \
                [(round(_x(getattr(p, x_axis)), 1), round(_y(p.accuracy), 1)) for p in curve]


def test_the_legend_has_one_toggle_per_method_outside_the_plots(result):
    page = curves_html(result)
    legend = page.split('<div class="pl-curve-panels">')[0]
    assert re.findall(r'data-method="([^"]+)" id="pl-show-(\d)"', legend) == [(m, str(i)) for i, m in enumerate(METHODS)]
    for i in range(len(METHODS)):
        assert f"#pl-curves:has(#pl-show-{i}:not(:checked)) .pl-m{i}{{display:none}}" in page


def test_lines_differ_in_colour_dash_and_marker():
    assert len({s[0] for s in STYLES}) == len({s[1] for s in STYLES}) == len({s[2] for s in STYLES}) == len(STYLES)


def test_the_users_setting_is_starred_on_its_scope_only(result):
    page = curves_html(result, PruneConfig(method="ln_structured", amount=0.5, scope="global"))
    local, global_ = panels(page)
    assert not local.getElementsByTagName("polygon") or all(
        p.getAttribute("class") != "pl-star" for p in local.getElementsByTagName("polygon"))
    stars = [p for p in global_.getElementsByTagName("polygon") if p.getAttribute("class") == "pl-star"]
    assert len(stars) == 1 and "ln_structured · global · amount 0.50" in stars[0].toxml()


def test_a_partial_sweep_says_it_is_running_and_bad_axes_are_refused(result):
    assert "still computing" in curves_html(result, running="still computing: 2 of 16 lines")
    with pytest.raises(ValueError, match="x_axis"):
        curves_html(result, x_axis="layers")
    assert 0 < _y(0.5) < HEIGHT
