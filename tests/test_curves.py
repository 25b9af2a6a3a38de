"""The interactive curves: every point where its numbers say (with a title), one style per registered method,
N:M as points per pattern, the star at the measured setting beneath the markers, pins apart, the model named."""
from __future__ import annotations

import re
import xml.dom.minidom

import pytest

from pruning import PruneConfig, PruneResult, list_methods
from pruning.nm import PATTERNS
from pruning.sweep import SweepPoint, SweepResult
from ui.curve_marks import Mark, without_amount
from ui.curve_styles import method_styles
from ui.curves import HEIGHT, WIDTH, curves_html, _x, _y

METHODS = ["l1_unstructured", "ln_structured", "threshold"]
NM = "nm_semi_structured"


@pytest.fixture()
def result() -> SweepResult:
    points = [SweepPoint(m, s, a, a * (0.9 if s == "local" else 1.0), 0.98 - a * (i + 1) / 10,
                         0.01 if m == "threshold" else None)
              for i, m in enumerate(METHODS) for s in ("local", "global") for a in (0.0, 0.5, 0.9)]
    return SweepResult("lenet", "MNIST test split (10,000 digits)", (0.0, 0.5, 0.9), PruneConfig(), 0.98, points)


@pytest.fixture()
def registry_sweep() -> SweepResult:
    """Every registered method, both scopes; N:M's line flat (what the sweep measures for it)."""
    points = [SweepPoint(m, s, a, a, 0.97 if m == NM else 0.98 - a * (i + 1) / 20)
              for i, m in enumerate(list_methods()) for s in ("local", "global") for a in (0.0, 0.5, 0.9)]
    return SweepResult("lenet", "held-out", (0.0, 0.5, 0.9), PruneConfig(), 0.99, points)


def measured_as(config: PruneConfig, sparsity: float, accuracy: float) -> PruneResult:
    """A page's result with these numbers (what the session holds)."""
    return PruneResult(config, [], [], sparsity, 100, 50, "held-out", 0.99, accuracy)


NM_MARKS = [Mark(NM, "global", None, 0.49, 0.972, "2:4"), Mark(NM, "global", None, 0.73, 0.8798, "1:4"),
            Mark(NM, "global", None, 0.48, 0.9795, "4:8")]


def panels(page: str) -> list:
    return [xml.dom.minidom.parseString(svg) for svg in re.findall(r'<svg class="pl-curve-panel".*?</svg>', page)]


def groups(svg) -> dict:
    return {g.getAttribute("data-method"): g for g in svg.getElementsByTagName("g") if g.getAttribute("data-method")}


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
        for method, group in groups(svg).items():
            line = group.getElementsByTagName("polyline")[0].getAttribute("points").split()
            assert [tuple(map(float, xy.split(","))) for xy in line] == \
                [(round(_x(getattr(p, x_axis)), 1), round(_y(p.accuracy), 1)) for p in result.curve(method, scope)]


def test_the_legend_has_one_toggle_per_method_outside_the_plots(result):
    page = curves_html(result)
    legend = page.split('<div class="pl-curve-panels">')[0]
    assert re.findall(r'data-method="([^"]+)" id="pl-show-(\d)"', legend) == [(m, str(i)) for i, m in enumerate(METHODS)]
    for i in range(len(METHODS)):
        assert f"#pl-curves:has(#pl-show-{i}:not(:checked)) .pl-m{i}{{display:none}}" in page


def test_every_registered_method_has_its_own_style_and_legend_entry(registry_sweep):
    methods = list_methods()
    styles = method_styles(methods)
    assert len(set(styles.values())) == len(methods)                     # colour + dash + marker, per method
    page = curves_html(registry_sweep)
    legend = page.split('<div class="pl-curve-panels">')[0]
    entries = re.findall(r'<label class="pl-curve-key" data-style="([^"]+)">.*?(<svg class="pl-swatch".*?</svg>)',
                         legend)
    assert len(entries) == len(methods)
    assert len({style for style, _ in entries}) == len({swatch for _, swatch in entries}) == len(methods)
    for svg in panels(page):                                              # each line drawn in its own style
        for method, group in groups(svg).items():
            colour, dash, _ = styles[method]
            if not without_amount(method):
                line = group.getElementsByTagName("polyline")[0]
                assert (line.getAttribute("stroke"), line.getAttribute("stroke-dasharray")) == (colour, dash)
    assert styles["activation"] != styles["l1_unstructured"]             # the old collision (9 methods, 8 styles)


@pytest.mark.parametrize("x_axis", ["amount", "sparsity"])
def test_nm_is_points_per_pattern_never_a_flat_line(registry_sweep, x_axis):
    page = curves_html(registry_sweep, None, x_axis, patterns=NM_MARKS)
    for svg in panels(page):
        group = groups(svg)[NM]
        assert group.getElementsByTagName("polyline") == []
        labels = [t.firstChild.data for t in group.getElementsByTagName("text")]
        assert sorted(labels) == sorted(PATTERNS)
        titles = [t.firstChild.data for t in group.getElementsByTagName("title")]
        for mark in NM_MARKS:                                            # at its measured numbers
            assert any(f"{mark.label} · " in t and f"accuracy {100 * mark.accuracy:.2f}%" in t for t in titles)
        xs = {t.firstChild.data: round(float(t.getAttribute("x")) - 6, 1)          # a label: 6 right of its marker
              for t in group.getElementsByTagName("text")}
        if x_axis == "sparsity":                                         # at each pattern's own sparsity
            assert "N:M" not in svg.toxml()
            assert xs == {m.label: round(_x(m.sparsity), 1) for m in NM_MARKS}
        else:                                                            # beside the amount axis, not over it
            assert "N:M" in svg.toxml() and f'viewBox="0 0 {WIDTH + 56} {HEIGHT}"' in svg.toxml()
            assert all(x > _x(1.0) for x in xs.values())
    assert "(points: one per pattern)" in page


@pytest.mark.parametrize("x_axis", ["amount", "sparsity"])
def test_the_star_sits_at_the_measured_setting_on_its_scope_beneath_the_markers(result, x_axis):
    current = measured_as(PruneConfig(method="ln_structured", amount=0.42, scope="global"), 0.37, 0.6123)
    page = curves_html(result, current, x_axis)
    local, global_ = panels(page)
    assert "pl-star" not in local.toxml()
    stars = [p for p in global_.getElementsByTagName("polygon") if p.getAttribute("class") == "pl-star"]
    assert len(stars) == 1
    x = _x(0.42 if x_axis == "amount" else 0.37)
    assert (float(stars[0].getAttribute("data-x")), float(stars[0].getAttribute("data-y"))) == \
        (round(x, 1), round(_y(0.6123), 1))                               # not a curve's point: measured
    assert "ln_structured · global · amount 0.42" in stars[0].toxml() and "accuracy 61.23%" in stars[0].toxml()
    svg = global_.toxml()
    assert svg.index("pl-star") < svg.index('data-method="l1_unstructured"')   # beneath every line


def test_an_nm_setting_s_star_sits_at_its_pattern_beside_the_amount_axis(registry_sweep):
    current = measured_as(PruneConfig(method=NM, nm="1:4", scope="global"), 0.73, 0.8798)
    page = curves_html(registry_sweep, current, "amount", patterns=NM_MARKS)
    star = re.search(r'class="pl-star"[^>]*data-x="([\d.]+)" data-y="([\d.]+)"', page)
    assert float(star.group(1)) > _x(1.0) and float(star.group(2)) == round(_y(0.8798), 1)
    assert "accuracy 87.98%" in page.split('class="pl-star"')[1].split("</polygon>")[0]


def test_pins_are_drawn_over_the_star_apart_from_each_other(result):
    current = measured_as(PruneConfig(method="l1_unstructured", amount=0.5, scope="global"), 0.5, 0.9)
    twin = measured_as(PruneConfig(method="l1_unstructured", amount=0.5, scope="global", seed=1), 0.5, 0.9)
    other_model = measured_as(PruneConfig(model="mlp", amount=0.5, scope="global"), 0.5, 0.9)
    page = curves_html(result, current, "amount", pinned=[current, twin, other_model])
    svg = panels(page)[1].toxml()
    pins = re.findall(r'<g class="pl-pinned" data-pin="(\d)" data-x="([\d.]+)" data-y="([\d.]+)"', svg)
    assert [p[0] for p in pins] == ["1", "2"]                            # another model's pin: not on this plot
    (_, x1, y1), (_, x2, y2) = pins
    star = (_x(0.5), _y(0.9))
    assert abs(float(x1) - float(x2)) >= 15                             # side by side, not on top of each other
    for x, y in ((float(x1), float(y1)), (float(x2), float(y2))):
        assert ((x - star[0]) ** 2 + (y - star[1]) ** 2) ** 0.5 > 10 + 7.5    # the ring clear of the star
    assert svg.index("pl-star") < svg.index("pl-pinned")                  # drawn after (on top of) the star


def test_the_view_names_its_model_and_axis_in_one_line(result):
    page = curves_html(result, None, "sparsity")
    line = re.search(r'<p class="pl-curves-for">(.*?)</p>', page).group(1)
    assert re.sub(r"<[^>]+>", "", line) == "Curves for lenet · x axis: weight sparsity (achieved)"
    assert 'data-model="lenet"' in page and 'data-again="press Compute / show curves"' in page


def test_a_partial_sweep_says_it_is_running_and_bad_axes_are_refused(result):
    assert "still computing" in curves_html(result, running="still computing: 2 of 16 lines")
    with pytest.raises(ValueError, match="x_axis"):
        curves_html(result, x_axis="layers")
    assert 0 < _y(0.5) < HEIGHT
