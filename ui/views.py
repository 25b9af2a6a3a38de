"""HTML and Markdown of engine results for the page (pure functions of the results)."""
from __future__ import annotations

import base64
import html
import io
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from pruning import DigitSet, PruneConfig, PruneResult
from pruning.export import LOAD_IN_PLAIN_PYTORCH, ExportResult

from ui.stamp import setting_id, stamp

RESULT_AGAIN = "let go of the slider (or press Enter)"   # what updates the Result views

SCOPE_TEXT = {
    "local": "Local scope: every selected layer loses the same fraction of its own {unit}. "
             "Switch to global to let one ranking decide which layers can afford to lose more.",
    "global": "Global scope: all {unit} of the selected layers are ranked together, so layers lose "
              "unequal shares: a layer full of weak {unit} loses more, a layer of strong ones less. "
              "Switch to local to see every layer lose exactly the same share.",
}


def layer_numbers(layer) -> tuple[str, str, str]:
    """(after %, bar width, zeros text) of one layer as the bars show them (the preview reuses them)."""
    after = 100 * layer.sparsity
    return f"{after:.2f}", f"{after:.1f}%", f"{layer.zeros:,} / {layer.total:,} zero"


def accuracy_numbers(result: PruneResult) -> tuple[str, str, str]:
    """(after %, change in points, tone class) as the accuracy panel shows them."""
    before, after = 100 * result.accuracy_before, 100 * result.accuracy_after
    change = after - before
    tone = "pl-good" if change > -0.5 else "pl-warn" if change > -5 else "pl-bad"
    return f"{after:.2f}", f"{change:+.2f}", tone


def line_of(config: PruneConfig) -> str:
    """The slider line a setting is on (model|method|scope): the page's preview matches on it."""
    return f"{config.model}|{config.method}|{config.scope}"


def sparsity_chart(result: PruneResult) -> str:
    """Per-layer bars, before (pretrained, grey) vs after (pruned, coloured), with counts."""
    rows = []
    for layer, dense in zip(result.layers, result.layers_before):
        after, width, zeros = layer_numbers(layer)
        rows.append(
            f'<div class="pl-row"><span class="pl-name">{html.escape(layer.name)}'
            f'<small>{layer.kind}</small></span><span class="pl-bars">'
            f'<span class="pl-bar pl-before" style="width:{100 * dense.sparsity:.1f}%"></span>'
            f'<span class="pl-bar pl-after" style="width:{width}"></span></span>'
            f'<span class="pl-value">{100 * dense.sparsity:.2f}% &rarr; <b>{after}%</b>'
            f'<small>{zeros}</small></span></div>')
    summary = (f'<div class="pl-summary">Global sparsity <b>{100 * result.global_sparsity:.2f}%</b>'
               f' · nonzero parameters <b>{result.nonzero_params:,}</b> / {result.total_params:,}</div>')
    legend = ('<div class="pl-legend"><span class="pl-key pl-before"></span>before (pretrained) '
              '<span class="pl-key pl-after"></span>after pruning · bar = share of the layer\'s weights '
              'that are zero</div>')
    return f'<div class="pl-chart" id="sparsity-chart">{"".join(rows)}{summary}{legend}</div>'


def accuracy_panel(result: PruneResult, answer: int = 0, note: str = "") -> str:
    """Accuracy before -> after on the named evaluation set, with the change in points. `answer`
    numbers the server's answers (the page's preview knows a new one has arrived); `note`: a last line."""
    if result.accuracy_after is None:
        return "<div class='pl-accuracy'>Accuracy not measured.</div>"
    after, change, tone = accuracy_numbers(result)
    amount = "" if not result.config.method_entry.uses_amount else f"{result.config.amount:.2f}"
    return (f'<div class="pl-accuracy" id="accuracy-panel" data-line="{html.escape(line_of(result.config))}" '
            f'data-amount="{amount}" data-answer="{answer}" data-setting="{setting_id(result.config)}">'
            f'<div class="pl-big">'
            f'{100 * result.accuracy_before:.2f}% &rarr; <span class="pl-after-value {tone}">{after}%</span> '
            f'<small class="pl-change">({change} points)</small></div>'
            f'<div>Test accuracy on {html.escape(result.eval_set or "")}, before &rarr; after pruning '
            f'({result.config.model}).</div>'
            + (f'<div class="pl-grid-note">{html.escape(note)}</div>' if note else "") + '</div>')


def explanation(result: PruneResult) -> str:
    """Plain-language account of what the chosen method and scope removed, with this run's numbers, as
    HTML (a Markdown view would be parsed again in the page on every answer)."""
    config, method = result.config, result.config.method_entry
    unit = "filters / neurons" if method.structured else "weights"
    text = [f"<b>{config.method}</b> — {html.escape(method.description)}"]
    if method.uses_threshold:
        text.append(f"Threshold {config.threshold:g}: every weight with |w| below it is zero, in every "
                    "layer alike (scope does not matter); the sparsity is a result, not a setting.")
    elif method.masker is not None and not method.uses_amount:
        dense = [layer.name for layer in result.layers if layer.zeros == 0]
        text.append(f"Pattern {config.nm}: in every group of consecutive weights of a unit's inputs only the "
                    "largest survive, so each pruned layer loses exactly the same share (amount and scope do "
                    "not apply)." + (f" Left dense: {html.escape(', '.join(dense))} (fan-in not a multiple of "
                                      "the group size, which sparse kernels need)." if dense else ""))
        text.append("N:M sparsity is fast only on GPUs with sparse tensor cores (torch's semi-structured "
                    "sparse tensors are CUDA-only): on this CPU it changes accuracy, not speed.")
    else:
        text.append(SCOPE_TEXT[config.scope].format(unit=unit))
    if method.structured:
        text.append("Whole rows of the weight matrix (and their bias) go, so the layer really has fewer "
                    "units; the output layer is kept whole because its neurons are the 10 classes.")
    pruned = [layer for layer in result.layers if layer.zeros]
    if pruned and len({round(layer.sparsity, 4) for layer in result.layers}) > 1:
        most = max(pruned, key=lambda s: s.sparsity)
        least = min(result.layers, key=lambda s: s.sparsity)
        text.append(f"Here <b>{html.escape(most.name)}</b> lost the most ({100 * most.sparsity:.1f}% of its "
                    f"weights) and <b>{html.escape(least.name)}</b> the least ({100 * least.sparsity:.1f}%).")
    paragraphs = "".join(f"<p>{paragraph}</p>" for paragraph in text)
    return f'<div class="prose pl-explain" id="explanation">{paragraphs}{stamp(config, RESULT_AGAIN)}</div>'


@lru_cache(maxsize=4096)
def _digit_png(digit_set: DigitSet, index: int) -> str:
    return png_data_uri(digit_set.images[index].numpy())


def png_data_uri(image: np.ndarray) -> str:
    """A uint8 (H, W) image as a data: URI (white ink on black, like MNIST)."""
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


def digit_images(digit_set: DigitSet, indices: list[int]) -> str:
    """The strip's digit images as a style sheet, one class per digit: sent once per sample, while the
    strip itself (captions, sent on every update) only names the classes."""
    return _digit_style_sheet(digit_set, tuple(indices))


@lru_cache(maxsize=64)
def _digit_style_sheet(digit_set: DigitSet, indices: tuple[int, ...]) -> str:
    rules = "".join(f".pl-img-{index}{{background-image:url({_digit_png(digit_set, index)})}}" for index in indices)
    return f'<style id="strip-images">{rules}</style>'


def digit_strip(result: PruneResult, digit_set: DigitSet, indices: list[int]) -> str:
    """Real test digits with the predicted class before and after; flips highlighted (the images are
    digit_images' classes)."""
    if result.predictions_after is None:
        return ""
    cells = []
    for index in indices:
        true = int(digit_set.labels[index])
        before, after = int(result.predictions_before[index]), int(result.predictions_after[index])
        flipped = "pl-flip" if before != after else ""
        wrong = "pl-wrong" if after != true else ""
        cells.append(f'<figure class="pl-digit {flipped} {wrong}"><span class="pl-img pl-img-{index}" role="img" '
                     f'aria-label="digit {true}"></span><figcaption>true {true}<br>{before} &rarr; <b>{after}</b>'
                     f'</figcaption></figure>')
    flips = sum(int(result.predictions_before[i] != result.predictions_after[i]) for i in indices)
    total_flips = int((result.predictions_before != result.predictions_after).sum())
    note = (f'<div class="pl-strip-note">{flips} of these {len(indices)} predictions changed '
            f'(outlined); {total_flips:,} of all {len(digit_set):,} digits changed. '
            'Red caption: the pruned model is wrong.</div>') + stamp(result.config, RESULT_AGAIN)
    return f'<div class="pl-strip" id="digit-strip">{"".join(cells)}</div>{note}'


def seen_digit(digit: np.ndarray | None, problem: str | None = None) -> str:
    """The (28, 28) uint8 digit the model reads, inline and enlarged with crisp pixels (no file to
    fetch); a placeholder when nothing is drawn, or why the drawing could not be read (`problem`)."""
    title = '<div class="pl-seen-title">What the model sees (28×28)</div>'
    if problem:
        return (f'<div class="pl-seen">{title}<div class="pl-seen-empty pl-seen-problem" role="alert">'
                f'Could not read the drawing: {html.escape(problem)}. Nothing was classified: clear the pad '
                'and draw again.</div></div>')
    if digit is None:
        return f'<div class="pl-seen">{title}<div class="pl-seen-empty">nothing drawn yet</div></div>'
    return (f'<div class="pl-seen">{title}<img src="{png_data_uri(digit)}" '
            'alt="the drawing as the model sees it, 28 by 28 pixels"/></div>')


def first_line(error: BaseException, limit: int = 200) -> str:
    """The first line of an error's message, at most `limit` characters (no server paths or traces)."""
    lines = str(error).strip().splitlines() or [type(error).__name__]
    return lines[0][:limit]


def top_classes(probabilities: torch.Tensor) -> dict[str, float]:
    """{digit: probability} for gr.Label (it shows the top ones)."""
    return {str(digit): float(p) for digit, p in enumerate(probabilities.tolist())}


CSS = (Path(__file__).parent / "style.css").read_text()


def _size(n_bytes: int) -> str:
    return f"{n_bytes / 1024:,.1f} KiB"


def shrink_table(report) -> str:
    """Markdown: dense vs masked vs shrunk (parameters, MACs, file size, latency, accuracy)."""
    lines = ["| network | params | MACs/digit | file | latency* | accuracy |",
             "|---|---:|---:|---:|---:|---:|"]
    for label, cost in report.costs.items():
        latency = "–" if cost.latency_ms is None else f"{cost.latency_ms:,.0f} ms"
        lines.append(f"| **{label}** | {cost.params:,} | {cost.macs:,} | {_size(cost.file_bytes)} | "
                     f"{latency} | {100 * report.accuracy[label]:.2f}% |")
    widths = ", ".join(f"{name} {before}→{after}" for name, (before, after) in report.widths.items())
    check = "equal" if report.outputs_match else "DIFFERENT"
    speedup = "" if report.speedup is None else f" Shrunk is **{report.speedup:.2f}×** faster than dense."
    return "\n".join(lines) + (f"\n\nUnits per layer: {widths}. Shrunk vs masked outputs are **{check}** "
                               f"(max |difference| {report.max_abs_difference:.1e} over {report.eval_set})."
                               f"{speedup} *Latency: the whole eval set, median of repeated runs on this server's CPU.")


def sparse_size_table(size) -> str:
    """Markdown: file size of an unstructured-pruned model, dense vs sparse encodings."""
    return "\n".join([
        f"Weight sparsity **{100 * size.sparsity:.1f}%**.", "",
        "| encoding | file size |", "|---|---:|",
        f"| dense state_dict (zeros stored like any weight) | {_size(size.dense_bytes)} |",
        f"| masked state_dict (weight_orig + weight_mask) | {_size(size.masked_bytes)} |",
        f"| CSR (values + column indices + row pointers) | {_size(size.csr_bytes)} |",
        f"| dense, zlib-compressed | {_size(size.zlib_bytes)} |", "", f"⚠️ {size.note}"])


def finetune_summary(result) -> str:
    """One line: accuracy dense -> pruned -> fine-tuned."""
    return (f"Accuracy on {result.eval_set}: dense **{100 * result.accuracy_dense:.2f}%** → pruned "
            f"**{100 * result.accuracy_pruned:.2f}%** → after {result.steps} fine-tuning steps "
            f"**{100 * result.accuracy_finetuned:.2f}%** (sparsity {100 * result.sparsity:.1f}%, pruned weights "
            f"stay exactly zero; {result.seconds:.1f} s).")


def iterative_table(result) -> str:
    """Markdown: one row per round of iterative pruning (four short columns: they fit a phone)."""
    lines = [f"Dense accuracy {100 * result.accuracy_dense:.2f}% on {result.eval_set}; each round's accuracy "
             "right after its pruning and after its fine-tuning (sparsity: of the weights; target: the "
             "round's amount).", "",
             "| round | sparsity (target) | pruned | fine-tuned |", "|---:|---:|---:|---:|"]
    for r in result.rounds:
        lines.append(f"| {r.round} | {100 * r.sparsity:.1f}% ({100 * r.target:.1f}%) | "
                     f"{100 * r.accuracy_pruned:.2f}% | {100 * r.accuracy_finetuned:.2f}% |")
    return "\n".join(lines)


def export_note(export: ExportResult, finetuned: bool = False) -> str:
    """What was written (pruned, or pruned and then fine-tuned), and how to load it: the plain-PyTorch
    recipe inline (the page works offline; docs/ADVANCED.md says more)."""
    kind = "shrunk architecture (removed units are gone)" if export.shrunk else "masks made permanent"
    what = "pruned and then fine-tuned model" if finetuned else "pruned model"
    name = export.path.rsplit('/', 1)[-1]
    return (f"Wrote the {what} `{name}` ({_size(export.file_bytes)}, {kind}; "
            f"{export.nonzero_params:,} / {export.total_params:,} nonzero parameters, sha256 "
            f"`{export.sha256[:12]}…`). Load it with `python -m pruning --checkpoint FILE` or "
            "`pruning.load_checkpoint(FILE)`, or in plain PyTorch with this repository's `models/` package:\n\n"
            f"```python\n{plain_pytorch_recipe(name)}\n```\n\n"
            "Loading it without this repository: the section “Export, and loading it in plain PyTorch” of "
            "docs/ADVANCED.md, in the folder the app runs from.")


def plain_pytorch_recipe(file_name: str) -> str:
    """The lines that load an exported file in plain PyTorch: pruning.export.LOAD_IN_PLAIN_PYTORCH, one
    statement a line."""
    return "\n".join(["import torch", "import models   # Pruning Lab's models/ package: the architectures",
                      f"path = {file_name!r}", *LOAD_IN_PLAIN_PYTORCH.split("; "),
                      "# payload['input']: MNIST digits, normalized; lenet pads them to 32x32"])
