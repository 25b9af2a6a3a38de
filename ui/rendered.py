"""The result views of recent settings, rendered once: a measurement is a pure function of its setting."""
from __future__ import annotations

from pruning import DigitSet, PruneResult
from pruning.lru import LruCache
from ui import views


class RenderedViews:
    """The result views of a setting (chart, explanation, strip) as rendered for a sample, kept for the
    most recent settings: a measurement is a pure function of its setting, so is its rendering, and a
    room asks the same few settings over and over."""

    def __init__(self, capacity: int = 512) -> None:
        self._views: LruCache[tuple, tuple[str, str, str]] = LruCache(capacity)

    def views(self, result: PruneResult, digit_set: DigitSet, sample: list[int]) -> tuple[str, str, str]:
        """(sparsity chart, explanation, digit strip) of `result` for the strip's `sample`."""
        key = (result.config, digit_set, tuple(sample))       # a DigitSet hashes by identity (eq=False)
        rendered = self._views.get(key)
        if rendered is None:
            rendered = (views.sparsity_chart(result), views.explanation(result),
                        views.digit_strip(result, digit_set, sample))
            self._views.put(key, rendered)
        return rendered


RENDERED = RenderedViews()
