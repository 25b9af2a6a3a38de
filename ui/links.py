"""Links to a setting: ?model=&method=&amount=&scope=... read on page load, and made for "Copy link"."""
from __future__ import annotations

import html
from typing import Any
from urllib.parse import urlencode

import gradio as gr

from models import list_models
from pruning import LAYER_TYPES, SCOPES, list_methods
from pruning.nm import PATTERNS

# The page's controls in the order the update event takes them, with the default each link omits.
CONTROLS = ("model", "method", "amount", "threshold", "scope", "per_type", "conv_amount", "linear_amount",
            "layer_types", "calibration_size", "norm", "seed", "nm", "layer_amounts")
MAX_VALUE = 40          # characters of a bad parameter shown back in the note
NM_PATTERNS = PATTERNS   # the N:M choices of the page (pruning.nm.PATTERNS)


def _fraction(text: str) -> float:
    value = float(text)
    if not 0 <= value <= 0.99:
        raise ValueError("must be from 0 to 0.99")
    return value


def _threshold(text: str) -> float:
    value = float(text)
    if not 0 <= value <= 0.5:
        raise ValueError("must be from 0 to 0.5")
    return value


def _choice(options: list[str]):
    def parse(text: str) -> str:
        if text not in options:
            raise ValueError(f"choose one of {', '.join(options)}")
        return text
    return parse


def _whole(low: int, high: int):
    def parse(text: str) -> int:
        value = int(text)
        if not low <= value <= high:
            raise ValueError(f"must be a whole number from {low} to {high}")
        return value
    return parse


def _layer_types(text: str) -> list[str]:
    names = [t for t in text.split(",") if t]
    if not names or any(t not in LAYER_TYPES for t in names):
        raise ValueError(f"a comma list of {', '.join(LAYER_TYPES)}")
    return list(dict.fromkeys(names))


def _per_layer(text: str) -> str:
    pairs = [p.partition("=") for p in text.split(",") if p]
    if not pairs or any(not sign or not name for name, sign, _ in pairs):
        raise ValueError("a comma list of LAYER=AMOUNT")
    for _, _, value in pairs:
        _fraction(value)
    if len({name.strip() for name, _, _ in pairs}) != len(pairs):
        raise ValueError("names a layer twice")
    return ",".join(f"{name}={value}" for name, _, value in pairs)


def _flag(text: str) -> bool:
    if text.lower() not in ("1", "0", "true", "false", "yes", "no"):
        raise ValueError("must be 1 or 0")
    return text.lower() in ("1", "true", "yes")


def parsers() -> dict[str, Any]:
    """How each link parameter is read (raises ValueError with the reason for a bad value)."""
    return {"model": _choice(list_models()), "method": _choice(list_methods()), "amount": _fraction,
            "threshold": _threshold, "scope": _choice(list(SCOPES)), "per_type": _flag,
            "conv_amount": _fraction, "linear_amount": _fraction, "layer_types": _layer_types,
            "calibration_size": _whole(16, 1024), "norm": _choice(["L1", "L2"]), "seed": _whole(0, 2**31 - 1),
            "nm": _choice(list(NM_PATTERNS)), "layer_amounts": _per_layer}


def read_link(query: dict[str, str]) -> tuple[dict[str, Any], list[str]]:
    """(control values to apply, notes on what was ignored) from a page's query parameters."""
    values, notes, read = {}, [], parsers()
    for name, text in query.items():
        if name in ("token", "__theme", "view", "presenter", "projector"):
            continue
        shown = html.escape(str(text)[:MAX_VALUE])
        if name not in read:
            notes.append(f"unknown parameter “{html.escape(name[:MAX_VALUE])}” ignored")
            continue
        try:
            values[name] = read[name](str(text))
        except ValueError as err:
            notes.append(f"{name}={shown} ignored ({err})")
    if ("conv_amount" in values or "linear_amount" in values) and "per_type" not in values:
        values["per_type"] = True
    return values, notes


def link_query(values: dict[str, Any]) -> str:
    """The query string of a setting (every control, so the link is the whole setting)."""
    shown = {}
    for name in CONTROLS:
        value = values.get(name)
        if value is None or (name == "layer_amounts" and not value):
            continue
        if name == "layer_types":
            value = ",".join(value)
        elif name == "per_type":
            value = int(bool(value))
        elif isinstance(value, float):
            value = f"{value:g}"
        shown[name] = value
    return urlencode(shown, safe=",")


def apply_link(request: gr.Request = None) -> list:
    """On page load: the controls set from the page's link (gr.update per control, in CONTROLS order)
    and a note listing what was ignored."""
    params = getattr(request, "query_params", None) or {}
    values, notes = read_link({k: params[k] for k in params})
    updates = [gr.update(value=values[name]) if name in values else gr.skip() for name in CONTROLS]
    note = ("⚠️ From the link: " + "; ".join(notes) + ". The rest of the setting was applied.") if notes else ""
    return updates + [gr.update(value=note, visible=bool(note))]


def link_for(*controls: Any) -> dict:
    """The query string of the page's current setting ("?model=...&...") for "Copy link", shown in the
    link box (hidden until a link exists, so the page never shows an empty box)."""
    return gr.update(value="?" + link_query(dict(zip(CONTROLS, controls))), visible=True)


COPY_JS = ("(query) => { const link = window.location.origin + window.location.pathname + query; "
           "if (navigator.clipboard) { navigator.clipboard.writeText(link).catch(() => {}); } return link; }")
