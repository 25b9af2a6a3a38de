"""HTML of the lessons: what changed, per-layer sensitivity and allocation, pinned results (pure functions)."""
from __future__ import annotations

import csv
import html
import io

from pruning import DigitSet, PruneResult
from pruning.changes import ChangedPage, WhatChanged
from pruning.sensitivity import AllocationComparison, Sensitivity
from ui.curves import HEIGHT, STYLES, WIDTH, _axes, _marker, _x, _y
from ui.views import _digit_png


def per_class_table(changes: WhatChanged) -> str:
    """Markdown: accuracy per true digit before -> after, with the change."""
    rows = ["| digit | digits | before | after | change |", "|---:|---:|---:|---:|---:|"]
    for c in changes.per_class:
        if c.count:
            change = 100 * (c.accuracy_after - c.accuracy_before)
            rows.append(f"| {c.digit} | {c.count:,} | {100 * c.accuracy_before:.2f}% | {100 * c.accuracy_after:.2f}% "
                        f"| {change:+.2f} |")
    return "\n".join(rows)


def confusion_html(changes: WhatChanged) -> str:
    """Three 10x10 tables side by side: before, after, after - before (rows true digit, columns predicted);
    off-diagonal cells shaded by count so the confusions stand out."""
    parts = []
    for title, matrix, signed in (("before", changes.confusion_before, False), ("after", changes.confusion_after, False),
                                  ("after − before", changes.confusion_difference, True)):
        rows: list[str] = []
        _rows(matrix, signed, rows)
        header = "<tr><th></th>" + "".join(f"<th>{j}</th>" for j in range(10)) + "</tr>"
        parts.append(f'<div class="pl-confusion"><div class="pl-confusion-title">{title}</div>'
                     f'<table>{header}{"".join(rows)}</table></div>')
    return (f'<div class="pl-confusions">{"".join(parts)}</div><div class="pl-strip-note">Rows: true digit; '
            "columns: predicted. Red off the diagonal: more digits sent to the wrong class (green: fewer).</div>")


def _rows(matrix, signed: bool, rows: list[str]) -> None:
    off = [abs(int(matrix[i, j])) for i in range(10) for j in range(10) if i != j]
    top = max(off + [1])
    for i in range(10):
        cells = [f"<th>{i}</th>"]
        for j in range(10):
            value = int(matrix[i, j])
            shade = 0.0 if i == j else min(1.0, abs(value) / top)
            rgb = "42,157,75" if signed and value < 0 else "208,49,45"
            text = (f"{value:+d}" if value else "") if signed else str(value)
            cells.append(f'<td style="background:rgba({rgb},{shade:.2f})" title="true {i}, predicted {j}: '
                         f'{value:+d}">{text}</td>' if signed else
                         f'<td style="background:rgba({rgb},{shade:.2f})" title="true {i}, predicted {j}: {value}">'
                         f'{text}</td>')
        rows.append(f"<tr>{''.join(cells)}</tr>")


def changed_gallery(page: ChangedPage, digits: DigitSet) -> str:
    """One page of the digits whose prediction changed, with true label and prediction before -> after."""
    if page.total == 0:
        return '<div class="pl-strip-note">No digit matches this filter.</div>'
    cells = []
    for index, true, before, after in zip(page.indices, page.labels, page.before, page.after):
        wrong = "pl-wrong" if after != true else ""
        cells.append(f'<figure class="pl-digit pl-flip {wrong}"><img src="{_digit_png(digits, index)}" '
                     f'alt="digit {true}"/><figcaption>#{index} true {true}<br>{before} &rarr; <b>{after}</b>'
                     "</figcaption></figure>")
    return (f'<div class="pl-strip" id="changed-gallery">{"".join(cells)}</div><div class="pl-strip-note">Page '
            f"{page.page} of {page.pages}: {page.total:,} digits {page.filter.replace('_', ' ')}.</div>")


def sensitivity_html(scan: Sensitivity) -> str:
    """One line per layer: accuracy when only that layer loses the amount (hover a point for numbers)."""
    parts = [_axes("one layer at a time", "amount"),
             f'<line x1="{_x(0):.1f}" x2="{_x(1):.1f}" y1="{_y(scan.dense_accuracy):.1f}" '
             f'y2="{_y(scan.dense_accuracy):.1f}" stroke="#444" stroke-dasharray="1 3"/>']
    legend = []
    for i, (layer, accuracies) in enumerate(scan.accuracy.items()):
        color, dash, marker = STYLES[i % len(STYLES)]
        xy = [(_x(a), _y(acc)) for a, acc in zip(scan.amounts, accuracies)]
        points = " ".join(f"{x:.1f},{y:.1f}" for x, y in xy)
        marks = "".join(_marker(marker, x, y, color, f"{layer} · amount {a:.2f} · accuracy {100 * acc:.2f}%")
                        for (x, y), a, acc in zip(xy, scan.amounts, accuracies))
        parts.append(f'<g data-layer="{html.escape(layer)}"><polyline points="{points}" fill="none" '
                     f'stroke="{color}" stroke-width="1.8" stroke-dasharray="{dash}"/>{marks}</g>')
        legend.append(f'<span class="pl-curve-key"><svg width="26" height="10"><line x1="1" x2="25" y1="5" y2="5" '
                      f'stroke="{color}" stroke-width="2" stroke-dasharray="{dash}"/></svg>{html.escape(layer)} '
                      f"({scan.weights[layer]:,} weights)</span>")
    return (f'<div class="pl-curves" id="sensitivity"><div class="pl-curve-legend">{"".join(legend)}</div>'
            f'<svg class="pl-curve-panel" viewBox="0 0 {WIDTH} {HEIGHT}" role="img">{"".join(parts)}</svg>'
            f'<div class="pl-curves-note">{html.escape(scan.method)} on {html.escape(scan.model)}: accuracy on '
            f"{html.escape(scan.eval_set)} when only one layer is pruned (dotted: dense, "
            f"{100 * scan.dense_accuracy:.2f}%). A flat line: that layer can lose much; a steep one: keep it.</div></div>")


def allocation_table(comparison: AllocationComparison) -> str:
    """Markdown: the allocated per-layer amounts, then the three strategies at one achieved sparsity."""
    per_layer = dict(comparison.allocated.config.layer_amounts)
    lines = ["| layer | allocated amount |", "|---|---:|"] + [f"| {n} | {100 * a:.1f}% |" for n, a in per_layer.items()]
    lines += ["", "| strategy | global sparsity | accuracy |", "|---|---:|---:|"]
    lines += [f"| {label} | {100 * sparsity:.2f}% | {100 * accuracy:.2f}% |" for label, sparsity, accuracy
              in comparison.rows()]
    return "\n".join(lines)


PIN_COLUMNS = ("model", "method", "scope", "amount", "sparsity", "accuracy", "change", "nonzero", "file_kib")


def pinned_rows(pinned: list[tuple[PruneResult, int]]) -> list[dict]:
    """One row per pinned (result, file bytes) for the table and the CSV."""
    rows = []
    for result, file_bytes in pinned:
        c = result.config
        amount = f"threshold {c.threshold:g}" if c.method_entry.uses_threshold else (
            c.nm if not c.method_entry.uses_amount else f"{c.amount:.2f}")
        rows.append({"model": c.model, "method": c.method, "scope": c.scope, "amount": amount,
                     "sparsity": round(100 * result.global_sparsity, 2), "accuracy": round(100 * result.accuracy_after, 2),
                     "change": round(100 * (result.accuracy_after - result.accuracy_before), 2),
                     "nonzero": result.nonzero_params, "file_kib": round(file_bytes / 1024, 1)})
    return rows


def pinned_table(rows: list[dict]) -> str:
    """Markdown table of the pinned results."""
    if not rows:
        return "_Nothing pinned yet: press 📌 Pin to keep the current result here._"
    lines = ["| # | model | method | scope | amount | sparsity | accuracy | change | nonzero | file |",
             "|---:|---|---|---|---|---:|---:|---:|---:|---:|"]
    lines += [f"| {i} | {r['model']} | {r['method']} | {r['scope']} | {r['amount']} | {r['sparsity']:.2f}% | "
              f"{r['accuracy']:.2f}% | {r['change']:+.2f} | {r['nonzero']:,} | {r['file_kib']:,.1f} KiB |"
              for i, r in enumerate(rows, start=1)]
    return "\n".join(lines)


def pinned_csv(rows: list[dict]) -> str:
    """CSV text of the pinned results."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(PIN_COLUMNS))
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


def quantize_table(grid) -> str:
    """Markdown: the 2x2 grid dense/pruned x fp32/int8 and the lesson of order."""
    names = {"dense_fp32": "dense · fp32", "dense_int8": "dense · int8", "pruned_fp32": "pruned · fp32",
             "pruned_int8": "pruned · int8"}
    lines = [f"{grid.model}, {grid.config.method} on {grid.eval_set}; int8: linear layers by torchao "
             f"({grid.scheme}), conv layers per-output-channel symmetric (weights only).", "",
             "| model | accuracy | file | zlib | nonzero weights | CPU time over the set |",
             "|---|---:|---:|---:|---:|---:|"]
    for name, c in grid.cells.items():
        lines.append(f"| **{names.get(name, name)}** | {100 * c.accuracy:.2f}% | {c.file_bytes / 1024:,.1f} KiB | "
                     f"{c.zlib_bytes / 1024:,.1f} KiB | {c.nonzero_weights:,} / {c.weights:,} | {c.latency_ms:,.0f} ms "
                     f"({c.latency_min_ms:,.0f}–{c.latency_max_ms:,.0f}) |")
    o = grid.order
    kept = "every one is still exactly 0" if o.zeros_kept else f"{o.pruned_nonzero_codes:,} became nonzero"
    lines += ["", f"**Order matters.** Prune → quantize: of the {o.pruned_weights:,} pruned weights {kept} "
              "(symmetric int8 maps 0.0 to code 0). Quantize → prune ranks the rounded weights instead: the "
              f"masks differ at {o.mask_differences:,} weights and the int8 values at {o.value_differences:,}; "
              f"accuracy {100 * o.accuracy_prune_then_quantize:.2f}% (prune first) vs "
              f"{100 * o.accuracy_quantize_then_prune:.2f}% (quantize first), {o.prediction_differences:,} "
              "predictions differ.", "", f"⚠️ {grid.note}"]
    return "\n".join(lines)
