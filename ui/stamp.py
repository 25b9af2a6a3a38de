"""Which setting a view shows: a one-line stamp the page dims (with what to press) once the setting moves on."""
from __future__ import annotations

import hashlib
import html
from dataclasses import asdict
from functools import lru_cache
from pathlib import Path

from pruning import PruneConfig
from pruning.measure_key import canonical_config

STAMP_JS = (Path(__file__).parent / "stamp.js").read_text()


@lru_cache(maxsize=4096)
def setting_id(config: PruneConfig) -> str:
    """A short id of what a setting prunes (canonical: options the method does not read don't count);
    the accuracy panel carries the current one, every stamp the one its view was made for."""
    text = repr(sorted(asdict(canonical_config(config)).items()))
    return hashlib.sha1(text.encode()).hexdigest()[:12]


def config_summary(config: PruneConfig) -> str:
    """One line naming the setting, for captions: only what its method reads (a threshold has no scope)."""
    method = config.method_entry
    if method.uses_threshold:
        return f"{config.model} · {config.method} · threshold {config.threshold:g}"
    if not method.uses_amount:
        return f"{config.model} · {config.method} · pattern {config.nm}"
    return f"{config.model} · {config.method} · amount {config.amount:.2f} · {config.scope}"


def stamp(config: PruneConfig, again: str) -> str:
    """One visible line naming the setting a view was made for; `again` says how to update it
    ("press Measure"). The page (stamp.js) marks the view stale when the current setting differs. Only
    classes carry the id and the hint: Markdown's sanitizer keeps classes, not data attributes."""
    return (f'<p class="pl-for pl-set-{setting_id(config)}">For {html.escape(config_summary(config))}'
            f'<span class="pl-for-again">{html.escape(again)}</span><span class="pl-for-stale"></span></p>')
