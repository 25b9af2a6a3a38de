"""The Advanced controls: the ones the setting does not read are switched off; a lesson can fill them."""
from __future__ import annotations

from typing import Any

import gradio as gr

from ui import handlers
from ui.inputs import layer_amounts

TYPE_SLIDERS_OFF = "Off: tick “Separate amounts per layer type” and pick local scope to use it."
PER_TYPE_OFF = "Needs local scope: pick local above to use it."
PER_TYPE_ON = "Tick it to give conv and linear layers the amounts below instead of the slider's."
TYPE_SLIDERS_ON = "Used: this layer type loses this amount (local scope)."
# a switched-off slider looks switched off (Gradio only disables its inputs); only a control's own block
# (one holding no other block), never the Advanced accordion around it
CSS = ("#controls .block:not(:has(.block)):has(input[type=range]:disabled),"
       "#controls .block:not(:has(.block)):has(> label input[type=checkbox]:disabled){opacity:.45;filter:grayscale(1)}")


def type_sliders(per_type: Any, scope: Any) -> tuple[dict, dict, dict]:
    """The per-type checkbox (live under local scope only: the engine refuses per-type amounts under
    global) and the conv and linear amount sliders (live only while it is ticked under local scope),
    each saying so."""
    local = scope == "local"
    live = bool(per_type) and local
    info = TYPE_SLIDERS_ON if live else TYPE_SLIDERS_OFF
    return (gr.update(interactive=local, info=PER_TYPE_ON if local else PER_TYPE_OFF),
            gr.update(interactive=live, info=info), gr.update(interactive=live, info=info))


def copy_into_advanced(amounts: Any, scope: Any) -> tuple:
    """The allocated per-layer amounts into Advanced → per-layer amounts, switching the scope to local
    (per-layer amounts need it) with a note; outputs: scope, per-layer amounts, note, the Advanced accordion."""
    text = amounts.strip() if isinstance(amounts, str) else ""
    if not text:
        return gr.skip(), gr.skip(), "Press **Allocate and compare** first: it fills the amounts to copy.", gr.skip()
    try:
        layer_amounts(text)
    except gr.Error as err:
        return gr.skip(), gr.skip(), f"Could not copy: {err.message}", gr.skip()
    note = f"Copied into Advanced → per-layer amounts: `{text}`."
    if scope != "local":
        note += (" **Scope switched to local**: per-layer amounts give each layer its own amount, which a "
                 "global ranking would override.")
    return "local", text, note + " The result on the left is for these amounts.", gr.update(open=True)


def wire(controls: dict, lessons: dict, update: tuple[list, list]) -> None:
    """The type sliders follow per-type and scope (in the page, no queue); Copy into Advanced fills the
    controls and re-prunes with `update` = (the setting's inputs, the update's outputs)."""
    gr.on([controls["per_type"].change, controls["scope"].change], type_sliders,
          [controls["per_type"], controls["scope"]],
          [controls["per_type"], controls["conv_amount"], controls["linear_amount"]],
          queue=False, api_visibility="private")
    setting, outputs = update
    lessons["copy_button"].click(
        copy_into_advanced, [lessons["allocated"], controls["scope"]],
        [controls["scope"], controls["layer_amounts"], lessons["copy_note"], controls["advanced"]],
        queue=False, api_visibility="private").then(
        handlers.update, setting, outputs, api_visibility="private", show_progress="minimal",
        show_progress_on=outputs[0])
