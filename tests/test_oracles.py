"""The numbers the engine reports (prune_model: what the page shows), the CLI prints and the curves plot,
held against independent oracles (tests/oracle.py) on the full official 10,000-digit test split: a plain
evaluation loop, zeros counted in the weights, and the README's pruning rules restated from scratch."""
from __future__ import annotations

import json
from functools import lru_cache

import pytest
import torch

from pruning import PruneConfig, get_method, list_methods, prune_model
from pruning.cli import main as cli_main
from pruning.sweep import sweep
from tests import oracle

SCOPES = ("local", "global")
AMOUNTS = (0.3, 0.5, 0.7, 0.9)


def _grid(model: str, amounts: tuple[float, ...]) -> list[tuple[str, str, str, float]]:
    """Every registered method x both scopes, the amount cycling through `amounts`."""
    settings = [(m, s) for m in list_methods() for s in SCOPES]
    return [(model, m, s, amounts[i % len(amounts)]) for i, (m, s) in enumerate(settings)]


# Fast: mlp evaluates 10,000 digits in ~30 ms; it covers every method and both scopes. lenet adds the
# cases mlp cannot show (global structured needs two prunable layers: mlp's fc2 is its output layer).
FAST = _grid("mlp", AMOUNTS) + [("lenet", "ln_structured", "global", 0.5)]
SLOW = _grid("lenet", (0.2, 0.5, 0.8)) + _grid("convnet", (0.4, 0.6))
SETTINGS = [pytest.param(*s, id="/".join(map(str, s))) for s in FAST] + \
           [pytest.param(*s, id="/".join(map(str, s)), marks=pytest.mark.slow) for s in SLOW if s not in FAST]


@pytest.fixture(scope="module")
def digits(mnist_dir) -> tuple[torch.Tensor, torch.Tensor]:
    """The official split read by the oracle itself (not by pruning.data)."""
    return oracle.load_test_split(mnist_dir)


@pytest.fixture(scope="module")
def plain_eval(digits):
    """(model, model name) -> oracle.Evaluation over the whole split; inputs made once per model."""
    images, labels = digits
    inputs: dict[str, torch.Tensor] = {}
    dense: dict[str, oracle.Evaluation] = {}      # the pretrained models' evaluations, once each

    def run(model: torch.nn.Module, model_name: str) -> oracle.Evaluation:
        if model_name not in inputs:
            inputs[model_name] = oracle.model_inputs(images, model_name)
        if model is pretrained(model_name):
            if model_name not in dense:
                dense[model_name] = oracle.evaluate(model, inputs[model_name], labels)
            return dense[model_name]
        return oracle.evaluate(model, inputs[model_name], labels)
    return run


@lru_cache(maxsize=None)
def pretrained(model_name: str) -> torch.nn.Module:
    """The shipped weights, read by the oracle; the rule checks count zeros, so there must be none."""
    model = oracle.load_shipped(model_name)
    assert all(z == 0 for z, _ in oracle.zero_counts(model).values()), f"{model_name} ships zero weights"
    return model


def assert_accuracy(what: str, reported: float, truth: oracle.Evaluation, where: str) -> None:
    """Equal, up to digits whose oracle logits nearly tie (float rounding order may flip those)."""
    slack = int(truth.near_ties.sum()) / truth.total
    assert abs(reported - truth.accuracy) <= slack + 1e-6, (   # 1e-6: float32 means; one digit is 1e-4
        f"{what} {reported:.4f} != oracle {truth.accuracy:.4f} ({truth.correct}/{truth.total} digits) for {where}")


def assert_predictions(what: str, reported: torch.Tensor, truth: oracle.Evaluation, where: str) -> None:
    assert reported.shape == truth.predictions.shape, (
        f"{what} has {reported.shape[0]} predictions != oracle {truth.total} digits for {where}")
    wrong = (reported != truth.predictions) & ~truth.near_ties
    assert not wrong.any(), (f"{what} differ from the oracle on {int(wrong.sum())} of {truth.total} digits "
                             f"(first: digit {int(wrong.nonzero()[0])}) for {where}")


def assert_sparsity(layers: list[dict], global_sparsity: float, truth: dict[str, tuple[int, int]],
                    where: str) -> None:
    """Per-layer zeros/totals and the global sparsity against zeros counted in the weights."""
    reported = {d["name"]: (d["zeros"], d["total"]) for d in layers}
    assert list(reported) == list(truth), f"layers {list(reported)} != oracle {list(truth)} for {where}"
    for name, (zeros, total) in truth.items():
        assert reported[name] == (zeros, total), (
            f"{name} zeros/total {reported[name][0]}/{reported[name][1]} != oracle {zeros}/{total} for {where}")
    truth_global = oracle.global_sparsity(truth)
    assert global_sparsity == pytest.approx(truth_global, abs=1e-12), (
        f"global_sparsity {global_sparsity:.6f} != oracle {truth_global:.6f} for {where}")


def rule_violations(model: torch.nn.Module, base: torch.nn.Module, method: str, scope: str,
                    amount: float, threshold: float) -> list[str]:
    """Where the pruned model breaks the README's rule for this method and scope (zeros counted from
    the weights; the shipped weights have none of their own, checked)."""
    entry, names = get_method(method), list(oracle.weight_layers(base))
    if getattr(entry, "masker", None) is not None:
        return []                                        # its own rule: not one of the README's
    zeros = {n: z for n, (z, _) in oracle.zero_counts(model).items()}
    layers, base_layers = oracle.weight_layers(model), oracle.weight_layers(base)
    if entry.uses_threshold:
        expected = {n: int((m.weight.abs() < threshold).sum()) for n, m in base_layers.items()}
        return [f"{n}: {zeros[n]} zeros != {expected[n]} weights with |w| < {threshold}"
                for n in names if zeros[n] != expected[n]]
    if not entry.structured:
        return _unstructured_violations(zeros, base, method, scope, amount)
    dead = {n: oracle.dead_units(layers[n]) for n in names[:-1]}
    problems = [f"{names[-1]} (output layer) has {zeros[names[-1]]} zeros"] if zeros[names[-1]] else []
    problems += [f"{n}: {zeros[n]} zeros are not {int(d.sum())} whole rows" for n, d in dead.items()
                 if zeros[n] != int(d.sum()) * layers[n].weight[0].numel()]
    problems += [f"{n}: a removed unit keeps its bias" for n, d in dead.items()
                 if layers[n].bias is not None and bool((layers[n].bias[d] != 0).any())]
    return problems + _unit_violations(dead, base, method, scope, amount)


def _unstructured_violations(zeros: dict[str, int], base: torch.nn.Module, method: str, scope: str,
                             amount: float) -> list[str]:
    totals = {n: m.weight.numel() for n, m in oracle.weight_layers(base).items()}
    if scope == "local":
        return [f"{n}: {zeros[n]} zeros != round({amount} x {totals[n]})" for n in totals
                if zeros[n] != round(amount * totals[n])]
    wanted = round(amount * sum(totals.values()))
    if sum(zeros.values()) != wanted:
        return [f"{sum(zeros.values())} zeros in all != round({amount} x {sum(totals.values())}) = {wanted}"]
    keep = oracle.magnitude_keep(base, amount, scope) if method == "l1_unstructured" else None
    return [] if keep is None else [f"{n}: {zeros[n]} zeros != {int((~k).sum())} (global |w| ranking)"
                                    for n, k in keep.items() if zeros[n] != int((~k).sum())]


def _unit_violations(dead: dict[str, torch.Tensor], base: torch.nn.Module, method: str, scope: str,
                     amount: float) -> list[str]:
    units = {n: d.numel() for n, d in dead.items()}
    if scope == "local":
        problems = [f"{n}: {int(d.sum())} units removed != round({amount} x {units[n]})" for n, d in dead.items()
                    if int(d.sum()) != round(amount * units[n])]
    else:
        wanted = min(round(amount * sum(units.values())), sum(units.values()) - len(units))
        removed = sum(int(d.sum()) for d in dead.values())
        problems = [f"{removed} units removed in all != {wanted}"] if removed != wanted else []
        problems += [f"{n}: every unit removed" for n, d in dead.items() if bool(d.all())]
    if method != "ln_structured":
        return problems
    norms = oracle.unit_norms(base, list(dead), p=1)     # norm 1 (the default): the whole ranking is known
    keep = (oracle.global_unit_keep(norms, amount) if scope == "global"
            else {n: oracle.local_unit_keep(s, amount) for n, s in norms.items()})
    rule = "norm / layer mean norm" if scope == "global" else "norm, per layer"
    return problems + [f"{n}: units removed {d.nonzero().flatten().tolist()} != "
                       f"{(~keep[n]).nonzero().flatten().tolist()} (ranked by {rule})"
                       for n, d in dead.items() if not torch.equal(d, ~keep[n])]


def test_the_evaluation_set_is_the_whole_official_split(mnist_test, digits) -> None:
    images, labels = digits
    assert len(mnist_test) == labels.shape[0] == 10_000, f"eval set has {len(mnist_test)} digits, not 10,000"
    assert torch.equal(mnist_test.images, images) and torch.equal(mnist_test.labels, labels)


@pytest.mark.parametrize("model_name, method, scope, amount", SETTINGS)
def test_prune_model_numbers_equal_the_oracle(model_name, method, scope, amount, mnist_test, plain_eval) -> None:
    where = f"{model_name}/{method}/{scope}/{amount}"
    config = PruneConfig(model=model_name, method=method, amount=amount, scope=scope)
    result = prune_model(model_name, config, eval_set=mnist_test)
    dense, after = plain_eval(pretrained(model_name), model_name), plain_eval(result.model, model_name)
    assert_accuracy("accuracy_before", result.accuracy_before, dense, where)
    assert_accuracy("accuracy_after", result.accuracy_after, after, where)
    assert_predictions("predictions_before", result.predictions_before, dense, where)
    assert_predictions("predictions_after", result.predictions_after, after, where)
    assert_sparsity([s.to_dict() for s in result.layers], result.global_sparsity,
                    oracle.zero_counts(result.model), where)
    before = {s.name: (s.zeros, s.total) for s in result.layers_before}
    assert before == oracle.zero_counts(pretrained(model_name)), f"layers_before {before} for {where}"
    problems = rule_violations(result.model, pretrained(model_name), method, scope, amount, config.threshold)
    assert not problems, f"masks break the documented rule for {where}: " + "; ".join(problems)


def oracle_pruned(model_name: str, method: str, scope: str, amount: float) -> torch.nn.Module:
    """The pretrained model masked by the oracle's own reading of the rule (l1_unstructured or
    ln_structured with norm 1): no engine code involved."""
    base = pretrained(model_name)
    if method == "l1_unstructured":
        keep = oracle.magnitude_keep(base, amount, scope)
        assert keep is not None, f"|w| ties at the cut for {model_name}/{scope}/{amount}: pick another amount"
        return oracle.masked_copy(base, keep)
    assert method == "ln_structured", method
    hidden = list(oracle.weight_layers(base))[:-1]                       # the output layer stays whole
    norms = oracle.unit_norms(base, hidden, p=1)
    keep = (oracle.global_unit_keep(norms, amount) if scope == "global"
            else {n: oracle.local_unit_keep(s, amount) for n, s in norms.items()})
    return oracle.masked_copy(base, keep)


CLI_FAST = [("mlp", "l1_unstructured", "local", 0.5), ("mlp", "ln_structured", "global", 0.5)]
CLI_SLOW = [("lenet", "ln_structured", "global", 0.5), ("lenet", "l1_unstructured", "global", 0.4),
            ("convnet", "ln_structured", "global", 0.3), ("convnet", "ln_structured", "local", 0.6)]


@pytest.mark.parametrize("model_name, method, scope, amount",
                         CLI_FAST + [pytest.param(*s, marks=pytest.mark.slow) for s in CLI_SLOW])
def test_cli_json_numbers_equal_the_oracle(model_name, method, scope, amount, mnist_dir, plain_eval,
                                           capsys) -> None:
    where = f"{model_name}/{method}/{scope}/{amount}"
    code = cli_main(["--model", model_name, "--method", method, "--scope", scope, "--amount", str(amount),
                     "--data-dir", str(mnist_dir), "--json"])
    out = capsys.readouterr().out
    assert code == 0, f"exit code {code} for {where}"
    reported = json.loads(out)
    masked = oracle_pruned(model_name, method, scope, amount)
    assert_accuracy("CLI accuracy_before", reported["accuracy_before"], plain_eval(pretrained(model_name), model_name),
                    where)
    assert_accuracy("CLI accuracy_after", reported["accuracy_after"], plain_eval(masked, model_name), where)
    assert_sparsity(reported["layers"], reported["global_sparsity"], oracle.zero_counts(masked), where)


# A sample: magnitude and norm (whose masks the oracle also computes), threshold (amount -> threshold),
# activation (data-driven, structured: the sweep measures a physically shrunk copy); the slow one: lenet.
SWEEP_FAST = ("mlp", ["l1_unstructured", "ln_structured", "threshold", "activation"], (0.0, 0.6))
SWEEP_SLOW = ("lenet", None, (0.0, 0.5))                     # None: every registered method


def zero_pattern(model: torch.nn.Module) -> bytes:
    """Where the weights and biases are zero: two models of the same base weights with the same pattern
    compute the same function, so one plain evaluation serves both."""
    return b"".join((p.detach() == 0).numpy().tobytes() for n, m in oracle.weight_layers(model).items()
                    for p in (m.weight, m.bias))


@pytest.mark.parametrize("model_name, methods, amounts",
                         [SWEEP_FAST, pytest.param(*SWEEP_SLOW, marks=pytest.mark.slow)], ids=["mlp", "lenet"])
def test_every_sweep_point_equals_prune_model_and_plain_evaluation(model_name, methods, amounts, mnist_test,
                                                                   plain_eval) -> None:
    result = sweep(model_name, mnist_test, methods=methods, scopes=SCOPES, amounts=amounts)
    dense = plain_eval(pretrained(model_name), model_name)
    assert_accuracy("sweep dense_accuracy", result.dense_accuracy, dense, model_name)
    expected = {(m, s, a) for m in methods or list_methods() for s in SCOPES for a in amounts}
    assert {(p.method, p.scope, p.amount) for p in result.points} == expected
    evaluations = {zero_pattern(pretrained(model_name)): dense}
    for point in result.points:
        where = f"sweep point {model_name}/{point.method}/{point.scope}/{point.amount}"
        pruned = prune_model(model_name, point.config(result.base_config)).model
        key = zero_pattern(pruned)
        if key not in evaluations:
            evaluations[key] = plain_eval(pruned, model_name)
        assert_accuracy("accuracy", point.accuracy, evaluations[key], where)
        counts = oracle.zero_counts(pruned)
        assert point.sparsity == pytest.approx(oracle.global_sparsity(counts), abs=1e-12), (
            f"sparsity {point.sparsity:.6f} != oracle {oracle.global_sparsity(counts):.6f} for {where}")
        if point.method in ("l1_unstructured", "ln_structured"):          # the oracle's own masks agree
            masked = oracle_pruned(model_name, point.method, point.scope, point.amount)
            if zero_pattern(masked) != key:
                assert_accuracy("accuracy", point.accuracy, plain_eval(masked, model_name), f"{where} (oracle masks)")
                pytest.fail(f"{where}: zeros per layer {oracle.zero_counts(pruned)} != oracle masks' "
                            f"{oracle.zero_counts(masked)}")


APP_SETTINGS = [("mlp", "l1_unstructured", "global", 0.7), ("mlp", "ln_structured", "local", 0.5)]


@pytest.mark.parametrize("model_name, method, scope, amount",
                         APP_SETTINGS + [pytest.param("lenet", "ln_structured", "global", 0.5, marks=pytest.mark.slow)])
def test_what_the_page_shows_equals_the_oracle(model_name, method, scope, amount, plain_eval) -> None:
    """The app's accuracy panel and sparsity chart (as HTML, to the digit shown) against the oracle."""
    import re

    import gradio as gr

    from ui import handlers
    where = f"page {model_name}/{method}/{scope}/{amount}"
    accuracy_html, chart_html, *_ = handlers.update(
        model_name, method, amount, 0.05, scope, False, 0.2, 0.4, ["conv", "linear"], 256, "L1", 0,
        request=gr.Request(session_hash=f"oracle-{where}"))
    masked = oracle_pruned(model_name, method, scope, amount)
    before, after = plain_eval(pretrained(model_name), model_name), plain_eval(masked, model_name)
    shown = re.findall(r"([\d.]+)%", accuracy_html)[:2]
    assert shown == [f"{100 * before.accuracy:.2f}", f"{100 * after.accuracy:.2f}"], \
        f"{where}: the page shows {shown[0]}% -> {shown[1]}%, the oracle {100 * before.accuracy:.2f}% -> " \
        f"{100 * after.accuracy:.2f}% on {after.total:,} digits"
    counts = oracle.zero_counts(masked)
    layer_percents = [float(v) for v in re.findall(r"<b>([\d.]+)%</b>", chart_html)][:len(counts)]
    expected = [round(100 * zeros / total, 2) for zeros, total in counts.values()]
    assert layer_percents == expected, f"{where}: bars show {layer_percents}, the oracle counts {expected}"
    assert f"Global sparsity <b>{100 * oracle.global_sparsity(counts):.2f}%" in chart_html, where
