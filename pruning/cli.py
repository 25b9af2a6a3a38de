"""Command line: prune a pretrained model and print sparsity and accuracy (python -m pruning; lottery|agp: the papers' lessons)."""
from __future__ import annotations

import argparse
import json
import sys

from models import get_model_entry, list_models

from .checkpoint import CheckpointError, load_checkpoint
from .config import LAYER_TYPES, SCOPES, PruneConfig
from .data import DATA_DIR_ENV, EVAL_SETS, DataError, DigitSet, default_eval_set, eval_set_by_name
from .engine import PruneResult, prune_model
from . import papers_cli, runtime
from .changes import format_changes, what_changed
from .quantize import format_grid, prune_quantize_grid
from .sensitivity import compare_allocation, format_sensitivity, layer_sensitivity
from .methods import get_method, list_methods


# The documented keys of --json (PruneResult.to_dict()).
JSON_KEYS = ("config", "layers", "layers_before", "global_sparsity", "total_params", "nonzero_params",
             "eval_set", "accuracy_before", "accuracy_after", "probabilities_before", "probabilities_after",
             "timings")


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one clear line, exit code 2, no usage dump
        raise SystemExit(_fail(message))


def _fail(message: str) -> int:
    one_line = " ".join(str(message).split())
    print(f"error: {one_line}", file=sys.stderr)
    return 2


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="python -m pruning", description=__doc__)
    parser.add_argument("--list", action="store_true", help="list models and methods, then exit")
    parser.add_argument("--model", help=f"one of: {', '.join(list_models())} (default: lenet, or the "
                                        "checkpoint's model)")
    parser.add_argument("--checkpoint", help="prune this checkpoint / exported model instead of the shipped one")
    parser.add_argument("--method", default="l1_unstructured", help=f"one of: {', '.join(list_methods())}")
    parser.add_argument("--amount", type=float, default=0.2, help="fraction to remove, 0..1")
    parser.add_argument("--scope", default="local", help=f"one of: {', '.join(SCOPES)}")
    parser.add_argument("--conv-amount", type=float, help="amount for conv layers (local scope)")
    parser.add_argument("--linear-amount", type=float, help="amount for linear layers (local scope)")
    parser.add_argument("--layer-types", default=",".join(LAYER_TYPES), help="comma list: conv,linear")
    parser.add_argument("--threshold", type=float, default=0.05, help="magnitude threshold (method threshold)")
    parser.add_argument("--norm", type=int, default=1, help="1 or 2 (method ln_structured)")
    parser.add_argument("--nm", default="2:4", help="N:M pattern, e.g. 2:4, 1:4, 4:8 (method nm_semi_structured)")
    parser.add_argument("--layer-amount", action="append", default=[], metavar="LAYER=AMOUNT",
                        help="amount for one layer, e.g. fc1=0.8 (local scope; repeatable)")
    parser.add_argument("--calibration-size", type=int, default=256, help="digits for data-driven methods")
    parser.add_argument("--seed", type=int, default=0)
    # Where the accuracy is measured: a named set, or a directory; never both (argparse: exit 2).
    data = parser.add_mutually_exclusive_group()
    data.add_argument("--eval-set", choices=list(EVAL_SETS),
                      help="test: the official 10,000-digit MNIST test split shipped in data/mnist; heldout: "
                           "the 1,000 built-in held-out training digits (default: test, or --data-dir)")
    data.add_argument("--data-dir", help="evaluate on the MNIST test split (t10k IDX files) in this directory "
                                         f"(default: ${DATA_DIR_ENV}, else the shipped official split)")
    parser.add_argument("--no-eval", action="store_true", help="skip accuracy")
    lessons = parser.add_argument_group("lessons (each prints its own report after the prune)")
    lessons.add_argument("--changes", action="store_true", help="per-class accuracy and the largest new confusions")
    lessons.add_argument("--quantize", action="store_true",
                         help="dense/pruned x fp32/int8: accuracy, file size, CPU time, and the lesson of order")
    lessons.add_argument("--sensitivity", action="store_true",
                         help="accuracy when only one layer is pruned, for each layer (amounts 0.1..0.9)")
    lessons.add_argument("--allocate", type=float, metavar="SPARSITY",
                         help="per-layer amounts reaching SPARSITY from the sensitivity scan, vs local and global")
    parser.add_argument("--json", action="store_true",
                        help=f"print the result as one JSON object with keys: {', '.join(JSON_KEYS)}")
    return parser


def _layer_amounts(pairs: list[str]) -> dict[str, float]:
    """{"fc1": 0.8} from ["fc1=0.8"]; a ValueError naming a malformed pair."""
    amounts = {}
    for pair in pairs:
        name, _, amount = pair.partition("=")
        try:
            amounts[name.strip()] = float(amount)
        except ValueError:
            raise ValueError(f"--layer-amount takes LAYER=AMOUNT, e.g. fc1=0.8; got {pair[:60]!r}") from None
    return amounts


def format_listing() -> str:
    lines = ["models:"] + [f"  {n:<10} {get_model_entry(n).description}" for n in list_models()]
    lines += ["methods:"] + [f"  {n:<20} {get_method(n).description}" for n in list_methods()]
    return "\n".join(lines)


def format_result(result: PruneResult) -> str:
    """Per-layer sparsity in the tutorial's style, then global sparsity and accuracy."""
    lines = [f"Sparsity in {s.name}.weight: {100 * s.sparsity:.2f}%" for s in result.layers]
    lines.append(f"Global sparsity: {100 * result.global_sparsity:.2f}%")
    lines.append(f"Nonzero parameters: {result.nonzero_params:,} / {result.total_params:,}")
    if result.accuracy_after is not None:
        change = 100 * (result.accuracy_after - result.accuracy_before)
        lines.append(f"Accuracy on {result.eval_set}: {100 * result.accuracy_before:.2f}% -> "
                     f"{100 * result.accuracy_after:.2f}% ({change:+.2f} points)")
    return "\n".join(lines)


def _eval_set(args: argparse.Namespace) -> DigitSet:
    """--eval-set by name (it overrides $PRUNING_LAB_DATA_DIR), else --data-dir / the default set."""
    return eval_set_by_name(args.eval_set) if args.eval_set else default_eval_set(args.data_dir)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] in papers_cli.COMMANDS:              # python -m pruning lottery|agp ...
        return papers_cli.main(argv)
    args = build_parser().parse_args(argv)
    if args.list:
        print(format_listing())
        return 0
    runtime.start()
    try:
        model_name = base = args.model or "lenet"
        if args.checkpoint:
            base, meta = load_checkpoint(args.checkpoint)
            if args.model and args.model != meta["model_name"]:
                raise ValueError(f"{args.checkpoint} holds a {meta['model_name']!r} model, not {args.model!r}")
            model_name = meta["model_name"]
        config = PruneConfig(model=model_name, method=args.method, amount=args.amount, scope=args.scope,
                             conv_amount=args.conv_amount, linear_amount=args.linear_amount,
                             layer_types=tuple(t.strip() for t in args.layer_types.split(",") if t.strip()),
                             threshold=args.threshold, norm=args.norm, nm=args.nm,
                             layer_amounts=_layer_amounts(args.layer_amount),
                             calibration_size=args.calibration_size, seed=args.seed)
        eval_set = None if args.no_eval else _eval_set(args)
        result = prune_model(base, config, eval_set=eval_set)
    except (ValueError, CheckpointError, DataError) as err:
        return _fail(str(err))
    print(json.dumps(result.to_dict(), indent=2) if args.json else format_result(result))
    try:
        for report in lesson_reports(args, config, result, eval_set):
            print(report)
    except ValueError as err:
        return _fail(str(err))
    return 0


def lesson_reports(args: argparse.Namespace, config: PruneConfig, result: PruneResult, eval_set) -> list[str]:
    """The reports of the lesson flags given (text; JSON with --json)."""
    wanted = args.changes or args.quantize or args.sensitivity or args.allocate is not None
    if wanted and eval_set is None:
        raise ValueError("the lessons measure accuracy: drop --no-eval")
    if wanted and args.checkpoint:
        raise ValueError("the lessons use the shipped pretrained models: drop --checkpoint")
    reports = []
    if args.changes:
        changes = what_changed(result, eval_set)
        reports.append(json.dumps(changes.to_dict()) if args.json else format_changes(changes))
    if args.quantize:
        grid = prune_quantize_grid(config.model, config, eval_set, repeats=3)
        reports.append(json.dumps(grid.to_dict()) if args.json else format_grid(grid))
    if args.sensitivity or args.allocate is not None:
        scan = layer_sensitivity(config, eval_set)
        reports.append(json.dumps(scan.to_dict()) if args.json else format_sensitivity(scan))
        if args.allocate is not None:
            comparison = compare_allocation(config, scan, args.allocate, eval_set)
            reports.append("\n".join(f"{label:<20} sparsity {100 * s:6.2f}%  accuracy {100 * a:6.2f}%"
                                     for label, s, a in comparison.rows()) +
                           "\nallocated: " + ", ".join(f"{n}={a:g}" for n, a in comparison.allocated.config.layer_amounts))
    return reports
