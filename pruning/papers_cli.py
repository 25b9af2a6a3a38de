"""The papers' lessons on the command line: python -m pruning lottery ... / python -m pruning agp ..."""
from __future__ import annotations

import argparse
import json
import sys

from models import list_models

from . import lottery, runtime, schedules
from .data import EVAL_SETS, DataError, eval_set_by_name

COMMANDS = ("lottery", "agp")


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one clear line, exit code 2, as `python -m pruning`
        print(f"error: {' '.join(message.split())}", file=sys.stderr)
        raise SystemExit(2)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="python -m pruning", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    ticket = commands.add_parser("lottery", help="lottery tickets (Frankle & Carbin 2019): winning ticket vs "
                                                 "random re-init vs dense, accuracy against weights remaining")
    ticket.add_argument("--model", choices=list_models(), default=lottery.DEFAULT_MODEL)
    ticket.add_argument("--rounds", type=int, default=lottery.DEFAULT_ROUNDS)
    ticket.add_argument("--rate", type=float, default=lottery.DEFAULT_RATE,
                        help="fraction of each layer's remaining weights pruned per round (output layer: half)")
    ticket.add_argument("--steps", type=int, default=lottery.DEFAULT_STEPS, help="training steps of every run")
    ticket.add_argument("--init-seed", type=int, default=0,
                        help="the seed that builds the initial weights (pruning.train's --seed: 0 for the shipped)")
    ticket.add_argument("--rewind-steps", type=int, default=0, help="late rewinding: rewind to the dense run's "
                                                                    "weights after this many steps (0: the init)")
    gradual = commands.add_parser("agp", help="one-shot + fine-tune vs iterative (Han) vs gradual (Zhu & Gupta "
                                              "AGP) at the same sparsity and steps")
    gradual.add_argument("--model", choices=list_models(), default=schedules.DEFAULT_MODEL)
    gradual.add_argument("--sparsity", type=float, default=schedules.DEFAULT_SPARSITY)
    gradual.add_argument("--steps", type=int, default=schedules.DEFAULT_STEPS)
    gradual.add_argument("--rounds", type=int, default=schedules.DEFAULT_ROUNDS, help="rounds of the iterative run")
    for sub in (ticket, gradual):
        sub.add_argument("--seed", type=int, default=0, help="order of the training digits and augmentation")
        sub.add_argument("--eval-set", choices=list(EVAL_SETS), default="test")
        sub.add_argument("--json", action="store_true", help="print the result as one JSON object")
    return parser


def _progress(fraction: float, message: str) -> None:
    print(f"[{100 * fraction:3.0f}%] {message}", file=sys.stderr, flush=True)


def main(argv: list[str]) -> int:
    args = build_parser().parse_args(argv)
    runtime.start()
    progress = None if args.json else _progress
    try:
        eval_set = eval_set_by_name(args.eval_set)
        if args.command == "lottery":
            result = lottery.lottery_ticket(args.model, args.rounds, args.rate, args.steps, eval_set,
                                            args.init_seed, args.rewind_steps, args.seed, progress)
            text = lottery.format_lottery(result)
        else:
            result = schedules.compare_schedules(args.model, args.sparsity, args.steps, args.rounds, eval_set,
                                                 args.seed, progress)
            text = schedules.format_schedules(result)
    except (ValueError, DataError) as err:
        print(f"error: {' '.join(str(err).split())}", file=sys.stderr)
        return 2
    print(json.dumps(result.to_dict(), indent=2) if args.json else text)
    return 0

