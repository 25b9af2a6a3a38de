"""ui/blocks.py: LabBlocks answers a skipped output with Gradio's "no change" message without rebuilding
its component, and every other output exactly as gr.Blocks does."""
from __future__ import annotations

import asyncio

import gradio as gr
import pytest
from gradio.blocks import BlockFunction
from gradio.state_holder import SessionState

from ui.blocks import LabBlocks, is_skip

CASES = [["<b>x</b>", gr.skip(), gr.skip(), "y"],          # two skipped
         [gr.skip()] * 4,                                 # all skipped
         ["x", {"7": 0.9, "1": 0.1}, "**m**", "z"],       # none skipped
         ["x", gr.skip(), gr.skip(), gr.skip()],          # one left (sent unwrapped, as a one-output event)
         [gr.skip(), {"7": 0.9, "1": 0.1}, gr.skip(), gr.skip()]]   # one left, a Label's dict value


def event(blocks_class):
    """A page of four outputs (HTML, Label, Markdown, HTML) and one event writing all of them."""
    with blocks_class() as demo:
        outputs = [gr.HTML(), gr.Label(), gr.Markdown(), gr.HTML()]
    fn = BlockFunction(None, [], outputs, preprocess=True, postprocess=True, inputs_as_dict=False, targets=[],
                       _id=0, page="", renderable=None, rendered_in=None, render_iteration=None)
    return demo, fn, outputs


def sent(blocks_class, predictions):
    demo, fn, outputs = event(blocks_class)
    state = SessionState(demo)
    data = asyncio.run(demo.postprocess_data(fn, list(predictions), state))
    rebuilt = [block._id in state and state[block._id] is not block for block in outputs]
    return data, rebuilt


@pytest.mark.parametrize("predictions", CASES)
def test_what_the_page_receives_is_what_gradio_sends(predictions):
    ours, _ = sent(LabBlocks, predictions)
    theirs, _ = sent(gr.Blocks, predictions)
    for value, mine, gradio in zip(predictions, ours, theirs):
        if is_skip(value):                       # "no change" (Gradio adds an empty props update to HTML)
            assert mine.get("__type__") == gradio.get("__type__") == "update" and "value" not in mine
            assert set(mine) <= set(gradio)
        else:
            assert mine == gradio


def test_a_skipped_output_rebuilds_no_component():
    for predictions in (CASES[0], CASES[3], CASES[4]):
        _, rebuilt = sent(LabBlocks, predictions)
        assert rebuilt == [False, False, False, False]
    _, rebuilt_by_gradio = sent(gr.Blocks, CASES[0])
    assert rebuilt_by_gradio == [False, True, True, False]          # what the subclass is there to avoid


def test_the_app_is_served_by_lab_blocks():
    import app
    assert isinstance(app.demo, LabBlocks)
