"""The result views of recent settings, rendered once: a measurement is a pure function of its setting."""
from __future__ import annotations

import threading
from collections import OrderedDict

from pruning import DigitSet, PruneResult
from ui import views


class RenderedViews:
    """The result views of a setting (chart, explanation, strip) as rendered for a sample, kept for the
    most recent settings: a measurement is a pure function of its setting, so is its rendering, and a
    room asks the same few settings over and over."""

    def __init__(self, capacity: int = 512) -> None:
        self.capacity = capacity
        self._views: OrderedDict[tuple, tuple[str, str, str]] = OrderedDict()
        self._lock = threading.Lock()

    def views(self, result: PruneResult, digit_set: DigitSet, sample: list[int]) -> tuple[str, str, str]:
        """(sparsity chart, explanation, digit strip) of `result` for the strip's `sample`."""
        key = (result.config, id(digit_set), tuple(sample))
        with self._lock:
            if key in self._views:
                self._views.move_to_end(key)
                return self._views[key]
        rendered = (views.sparsity_chart(result), views.explanation(result),
                    views.digit_strip(result, digit_set, sample))
        with self._lock:
            self._views[key] = rendered
            while len(self._views) > self.capacity:
                self._views.popitem(last=False)
        return rendered


RENDERED = RenderedViews()
