"""Plain words for the lab's terms: a short glossary whose entries open on hover and on tap (no script)."""
from __future__ import annotations

import html

# key -> (shown word, what it means); the keys are what views pass to term()
TERMS: dict[str, tuple[str, str]] = {
    "amount": ("amount", "The fraction of weights (or of whole filters / neurons) to remove: 0.50 removes half."),
    "sparsity": ("sparsity", "The share of weights that are exactly zero. Global sparsity counts all pruned "
                             "layers together."),
    "scope": ("scope", "Local: every layer loses the same fraction of its own weights. Global: one ranking over "
                       "all layers decides, so some layers lose more than others."),
    "structured": ("structured", "Removes whole conv filters or linear neurons, so the network can really be made "
                                 "smaller."),
    "unstructured": ("unstructured", "Removes single weights anywhere; the layers keep their shape, only with "
                                     "zeros inside."),
    "nm": ("N:M", "Semi-structured: in every group of M neighbouring weights only the N largest are kept "
                  "(2:4 keeps 2 of every 4), a pattern some GPUs run faster."),
    "norm": ("filter ranking norm", "How a structured method measures a filter or neuron: L1 adds up the "
                                    "absolute weights, L2 is their root of squares. The smallest are removed."),
    "calibration": ("calibration digits", "Training digits the data-driven methods (gradient, taylor, "
                                          "activation) run through the model to score its weights."),
    "layer_amounts": ("per-layer amounts", "An amount for a named layer (conv1=0.1, fc1=0.8) instead of the "
                                           "slider's; needs local scope."),
    "became_wrong": ("became wrong", "Test digits the model got right before pruning and gets wrong after."),
    "became_right": ("became right", "Test digits the model got wrong before pruning and gets right after."),
    "macs": ("MACs", "Multiply-accumulate operations: one multiplication and one addition. MACs per digit count "
                     "the arithmetic the network does for one image."),
    "layer": ("layer", "A named part of the network (conv1, fc1, ...): conv layers look at patches of the image, "
                       "linear (fc) layers combine everything."),
    "int8": ("int8", "Weights stored as whole numbers from -127 to 127 times one scale per channel: 4x smaller "
                     "than fp32 (32-bit floating point)."),
    "zlib": ("zlib", "The file compressed (like a zip): runs of zeros left by pruning compress well."),
    "fine_tune": ("fine-tune", "Train the pruned model a little more with the removed weights held at zero, to win "
                               "back accuracy."),
}


def term(key: str, shown: str | None = None) -> str:
    """HTML of a term with its meaning: underlined, the meaning opens on hover, on keyboard focus and on
    a tap (a focusable span; CSS only, since Markdown and HTML views run no inline script)."""
    word, meaning = TERMS[key]
    return (f'<span class="pl-term" tabindex="0" data-term="{key}">'
            f'{html.escape(shown or word)}<span class="pl-term-tip" role="tooltip">{html.escape(meaning)}'
            "</span></span>")


CSS = """
.pl-term{border-bottom:1px dotted currentColor;cursor:help;position:relative;outline-offset:2px}
.pl-term-tip{display:none;position:absolute;left:0;top:1.5em;z-index:60;width:max-content;
 max-width:min(20em,80vw);padding:.45em .6em;border-radius:6px;background:var(--background-fill-primary,#fff);
 color:var(--body-text-color,#222)!important;border:1px solid var(--border-color-primary,#ccc);font-size:13px;
 font-weight:normal;line-height:1.35;white-space:normal;text-align:left;box-shadow:0 2px 8px rgba(0,0,0,.3)}
.pl-term:hover .pl-term-tip,.pl-term:focus .pl-term-tip,.pl-term:focus-within .pl-term-tip{display:block}
@media (max-width:600px){.pl-term-tip{position:fixed;left:4vw;right:4vw;top:auto;bottom:12px;width:auto;
 max-width:none;font-size:14px}}
.pl-glossary{font-size:13px;line-height:2}
.pl-glossary .pl-term{margin-right:.7em;white-space:nowrap}
"""

SHOWN = ("amount", "sparsity", "scope", "structured", "unstructured", "nm", "norm", "calibration",
         "layer_amounts", "layer", "became_wrong", "macs", "int8", "fine_tune")


def glossary_html() -> str:
    """The glossary block of the controls column: its CSS (for every term on the page) and the words."""
    words = " ".join(term(key) for key in SHOWN)                # spaces: the line can wrap between terms
    return (f"<style>{CSS}</style><div class=\"pl-glossary\" id=\"glossary\"><b>Words used here</b> "
            f"(hover or tap one): {words}</div>")
