"""Which setting a view shows: a one-line stamp the page dims (with what to press) once the setting moves on."""
from __future__ import annotations

import hashlib
import html
from dataclasses import asdict
from pathlib import Path

from pruning import PruneConfig
from pruning.measure_key import canonical_config

STAMP_JS = (Path(__file__).parent / "stamp.js").read_text()


def setting_id(config: PruneConfig) -> str:
    """A short id of what a setting prunes (canonical: options the method does not read don't count);
    the accuracy panel carries the current one, every stamp the one its view was made for."""
    text = repr(sorted(asdict(canonical_config(config)).items()))
    return hashlib.sha1(text.encode()).hexdigest()[:12]


def config_summary(config: PruneConfig) -> str:
    """One line naming the setting, for captions."""
    amount = f"threshold {config.threshold:g}" if config.method_entry.uses_threshold \
        else f"amount {config.amount:.2f}"
    return f"{config.model} · {config.method} · {amount} · {config.scope}"


def stamp(config: PruneConfig, again: str) -> str:
    """One visible line naming the setting a view was made for; `again` says how to update it
    ("press Measure"). The page (stamp.js) marks the view stale when the current setting differs."""
    return (f'<p class="pl-for" data-setting="{setting_id(config)}" data-again="{html.escape(again)}">'
            f'For {html.escape(config_summary(config))}<span class="pl-for-stale"></span></p>')
