"""The Papers tab (ui/papers.py), called directly as one page: the lottery curve and the schedules' comparison
come with their figures and text, a setting is computed once, Stop and bad values end a run with a message."""
from __future__ import annotations

import gradio as gr
import pytest
from matplotlib.figure import Figure

from tests.ui_helpers import NoProgress, new_request
from ui import paper_views, papers


@pytest.fixture(autouse=True)
def no_kept_results(monkeypatch):
    monkeypatch.setattr(papers, "_RESULTS", {})


def test_the_lottery_lesson_draws_three_lines_and_names_the_paper_beside_them():
    progress = NoProgress()
    figure, text = papers.run_lottery("mlp", 2, 0.5, 6, 0, 0, request=new_request(), progress=progress)
    assert isinstance(figure, Figure)
    labels = [line.get_label() for line in figure.axes[0].get_lines()]
    assert any("winning ticket" in l for l in labels) and any("random re-init" in l for l in labels)
    assert any(l.startswith("dense") for l in labels)
    assert "Measured here" in text and "torch.manual_seed(0)" in text
    assert any("round 2/2" in (desc or "") for _, desc in progress.calls)             # the rounds stream
    assert "Frankle & Carbin" in paper_views.LOTTERY_PAPER


def test_a_setting_seen_before_is_answered_at_once_without_training(monkeypatch):
    papers.run_lottery("mlp", 1, 0.5, 4, 0, 0, request=new_request(), progress=NoProgress())
    import pruning.lottery as lottery
    monkeypatch.setattr(lottery, "finetune", lambda *a, **k: pytest.fail("trained again"))
    _, text = papers.run_lottery("mlp", 1, 0.5, 4, 0, 0, request=new_request(), progress=NoProgress())
    assert "Measured here" in text


def test_stop_ends_the_run_at_its_next_report():
    request = new_request()

    class StopAtFirstReport(NoProgress):
        def __call__(self, fraction, desc=None):
            super().__call__(fraction, desc)
            papers.stop(request)
    with pytest.raises(gr.Error, match="Stopped"):
        papers.run_lottery("mlp", 2, 0.5, 20, 0, 0, request=request, progress=StopAtFirstReport())
    assert papers._RESULTS == {}                                                      # nothing kept


def test_the_schedules_lesson_compares_three_at_one_sparsity():
    figure, table = papers.run_schedules("mlp", 0.9, 24, 3, request=new_request(), progress=NoProgress())
    assert isinstance(figure, Figure) and len(figure.axes) == 2
    for name in ("one-shot + fine-tune", "iterative (Han et al.)", "gradual (AGP)"):
        assert name in table
    assert "Zhu & Gupta" in paper_views.SCHEDULES_PAPER


@pytest.mark.parametrize("call", [lambda: papers.run_lottery("mlp", 1, 2.0, 10, 0, 0, request=new_request(),
                                                             progress=NoProgress()),
                                  lambda: papers.run_schedules("nope", 0.9, 24, 3, request=new_request(),
                                                               progress=NoProgress())])
def test_bad_values_are_a_message(call):
    with pytest.raises(gr.Error):
        call()
