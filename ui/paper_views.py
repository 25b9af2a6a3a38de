"""The papers' lessons on the page: the lottery-ticket curve, the schedules' comparison, the papers' figures as text."""
from __future__ import annotations

from matplotlib.figure import Figure

from pruning.lottery import LotteryResult
from pruning.schedules import SCHEDULES, ScheduleComparison
from ui.plots import new_figure

# What each paper reports, named beside the lab's own figure (never drawn as if it were ours).
LOTTERY_PAPER = (
    "**The paper's trend** (Frankle & Carbin, *The Lottery Ticket Hypothesis*, ICLR 2019; LeNet-300-100 on "
    "MNIST's 60,000 training digits, Adam, 20% of each layer pruned per round, output layer 10%): winning "
    "tickets reach the dense network's test accuracy down to roughly 10–20% of the weights and, above that "
    "size, learn faster and reach *higher* accuracy; the same masks with a random re-initialisation learn "
    "more slowly and fall behind as pruning goes on. The paper's curves are not drawn here.")
SCHEDULES_PAPER = (
    "**The papers' claims** — Zhu & Gupta, *To prune, or not to prune* (2017): sparsity raised gradually "
    "along the cubic schedule during training, masks updated every Δt steps, reaches up to 10× fewer "
    "non-zero weights with minimal loss (ImageNet CNNs, LSTMs), and large-sparse beats small-dense models of "
    "the same size; it does not itself tabulate one-shot against gradual — that comparison is the lab's. "
    "Han et al., *Learning both Weights and Connections* (NeurIPS 2015): iterative prune → retrain takes "
    "LeNet-300-100 and LeNet-5 on MNIST about 12× smaller with no loss of accuracy.")
HONEST_GAP = (
    "Why the lab's numbers differ: 4,000 training digits here, not 60,000; a few hundred steps per run "
    "(seconds on 2 CPU cores), not tens of thousands; the lab's `mlp` is 784-128-10, not LeNet-300-100 "
    "(`lenet` is the PyTorch tutorial's LeNet, not Caffe's LeNet-5); one seed, no error bars.")


def lottery_figure(result: LotteryResult) -> Figure:
    """Test accuracy against % of weights remaining: winning ticket, random re-init, dense (log x, reversed)."""
    figure = new_figure(7.5, 4.2)
    ax = figure.subplots()
    x = [100.0] + [100 * p.remaining for p in result.points]
    if result.accuracy_dense is not None:
        dense = 100 * result.accuracy_dense
        ticket = [dense] + [100 * p.accuracy_ticket for p in result.points]
        random = [dense] + [100 * p.accuracy_random for p in result.points]
        ax.plot(x, ticket, marker="o", color="tab:green", label="winning ticket (rewound to the init)")
        ax.plot(x, random, marker="v", color="tab:red", linestyle="--", label="same masks, random re-init")
        ax.axhline(dense, color="black", linestyle=":", linewidth=1.2, label=f"dense ({dense:.1f}%)")
        low = min(ticket + random)
        ax.set_ylim(max(0.0, low - 5), min(100.0, max(ticket + random) + 3))
    ax.set_xscale("log")
    ax.set_xlim(110, min(x) * 0.8)                                   # pruning goes right, as in the paper
    ax.set_xticks(x, [f"{v:.1f}" if v < 10 else f"{v:.0f}" for v in x])
    ax.minorticks_off()
    rewind = f", late rewinding to step {result.rewind_steps}" if result.rewind_steps else ""
    ax.set(xlabel="weights remaining (%)", ylabel="test accuracy (%)",
           title=f"lottery ticket: {result.model}, {result.steps} steps per run{rewind}")
    ax.grid(alpha=0.3)
    ax.legend(fontsize="small", loc="lower left")
    return figure


def lottery_summary(result: LotteryResult) -> str:
    """The lab's measured figure in words, with the run's settings."""
    best = max(result.points, key=lambda p: p.accuracy_ticket or 0.0)
    last = result.points[-1]
    return (f"**Measured here** on {result.eval_set}, {result.seconds:.1f} s: dense "
            f"{100 * result.accuracy_dense:.2f}% after {result.steps} steps; best ticket "
            f"{100 * best.accuracy_ticket:.2f}% at {100 * best.remaining:.1f}% of the weights; at "
            f"{100 * last.remaining:.1f}% the ticket gets {100 * last.accuracy_ticket:.2f}% and the random "
            f"re-init {100 * last.accuracy_random:.2f}%. Init: `torch.manual_seed({result.init_seed})`, "
            f"{result.rounds} rounds × {100 * result.rate:g}% per layer (output layer half), data seed {result.seed}.")


def schedules_figure(result: ScheduleComparison) -> Figure:
    """Left: sparsity over the training steps for each schedule. Right: final test accuracy."""
    figure = new_figure(9.0, 3.8)
    over_time, bars = figure.subplots(1, 2, width_ratios=[3, 2])
    steps, s, rounds = result.steps, result.schedule, result.rounds
    t = list(range(steps))
    per_round = steps // rounds
    one_shot = [100 * result.sparsity] * steps
    iterative = [100 * (1 - (1 - result.sparsity) ** ((i // per_round + 1) / rounds)) for i in t]
    gradual = [100 * s.in_force(i) for i in t]
    colors = ["tab:red", "tab:blue", "tab:green"]
    for name, line, color in zip(SCHEDULES, (one_shot, iterative, gradual), colors):
        over_time.step(t, line, where="post", color=color, label=name)
    curve = [100 * s.formula(i) for i in t]
    over_time.plot(t, curve, color="tab:green", linestyle=":", linewidth=1, label="AGP formula s_t")
    over_time.set(xlabel="training step", ylabel="sparsity (%)", title=f"to {100 * result.sparsity:g}% in "
                  f"{steps} steps", ylim=(0, 103))
    over_time.grid(alpha=0.3)
    over_time.legend(fontsize="x-small", loc="lower right")
    values = [100 * (r.accuracy or 0.0) for r in result.rows]
    drawn = bars.bar(["one-shot", "iterative", "AGP"], values, color=colors)
    bars.bar_label(drawn, fmt="%.1f%%")
    title = result.model
    if result.accuracy_dense is not None:
        bars.axhline(100 * result.accuracy_dense, color="black", linestyle=":", linewidth=1)
        title = f"{result.model}: dense {100 * result.accuracy_dense:.1f}% (dotted)"
    bars.set(ylim=(0, 108), ylabel="test accuracy (%)", title=title)
    return figure


def schedules_table(result: ScheduleComparison) -> str:
    """The three rows as a Markdown table."""
    lines = ["| schedule | sparsity | steps | test accuracy |", "|---|---|---|---|"]
    lines += [f"| {r.schedule} | {100 * r.sparsity:.2f}% | {r.steps} | "
              f"{'-' if r.accuracy is None else f'{100 * r.accuracy:.2f}%'} |" for r in result.rows]
    dense = "-" if result.accuracy_dense is None else f"{100 * result.accuracy_dense:.2f}%"
    s = result.schedule
    return ("\n".join(lines) + f"\n\nDense (the shipped checkpoint): {dense} on {result.eval_set}. AGP: t0 = "
            f"{s.start}, n = {s.updates}, Δt = {s.every}; iterative: {result.rounds} rounds × "
            f"{result.steps // result.rounds} steps. {result.seconds:.1f} s.")
