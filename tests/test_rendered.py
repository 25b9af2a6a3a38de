"""ui/rendered.py: a setting's result views are rendered once per sample and served unchanged; the
cache is bounded and never serves one setting's or one sample's views for another."""
from __future__ import annotations

from pruning import PruneConfig, prune_model
from ui import views
from ui.rendered import RenderedViews


def fresh(heldout, amount):
    return prune_model("mlp", PruneConfig(model="mlp", amount=amount, scope="global"), eval_set=heldout)


def test_served_views_are_what_rendering_gives_for_that_setting_and_sample(heldout):
    cache = RenderedViews()
    for amount, sample in ((0.3, [0, 1, 2]), (0.8, [0, 1, 2]), (0.3, [5, 6, 7])):
        result = fresh(heldout, amount)
        expected = (views.sparsity_chart(result), views.explanation(result), views.digit_strip(result, heldout, sample))
        assert cache.views(result, heldout, sample) == expected
        assert cache.views(fresh(heldout, amount), heldout, sample) == expected       # served again: the same
    assert cache.views(fresh(heldout, 0.3), heldout, [0, 1, 2]) != cache.views(fresh(heldout, 0.8), heldout, [0, 1, 2])


def test_a_second_ask_renders_nothing(heldout, monkeypatch):
    cache, result = RenderedViews(), fresh(heldout, 0.5)
    first = cache.views(result, heldout, [3, 4])
    monkeypatch.setattr(views, "sparsity_chart", lambda _: (_ for _ in ()).throw(AssertionError("rendered")))
    assert cache.views(result, heldout, [3, 4]) == first


def test_the_cache_keeps_only_the_most_recent_settings(heldout):
    cache = RenderedViews(capacity=2)
    results = [fresh(heldout, amount) for amount in (0.2, 0.4, 0.6)]
    for result in results:
        cache.views(result, heldout, [0])
    kept = [key for key, _ in cache._views.items()]
    assert len(kept) == 2 and all(key[0] != results[0].config for key in kept)
