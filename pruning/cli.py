"""Command line: prune a pretrained model and print sparsity and accuracy (python -m pruning)."""
from __future__ import annotations

import argparse
import json
import sys

from models import get_model_entry, list_models

from .checkpoint import CheckpointError, load_checkpoint
from .config import LAYER_TYPES, SCOPES, PruneConfig
from .data import DataError, default_eval_set
from .engine import PruneResult, prune_model
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
    parser.add_argument("--calibration-size", type=int, default=256, help="digits for data-driven methods")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--data-dir", help="MNIST test split directory (default: $PRUNING_LAB_DATA_DIR, "
                                           "else the built-in held-out digits)")
    parser.add_argument("--no-eval", action="store_true", help="skip accuracy")
    parser.add_argument("--json", action="store_true",
                        help=f"print the result as one JSON object with keys: {', '.join(JSON_KEYS)}")
    return parser


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


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.list:
        print(format_listing())
        return 0
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
                             threshold=args.threshold, norm=args.norm,
                             calibration_size=args.calibration_size, seed=args.seed)
        eval_set = None if args.no_eval else default_eval_set(args.data_dir)
        result = prune_model(base, config, eval_set=eval_set)
    except (ValueError, CheckpointError, DataError) as err:
        return _fail(str(err))
    print(json.dumps(result.to_dict(), indent=2) if args.json else format_result(result))
    return 0
