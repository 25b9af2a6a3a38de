"""The app's gr.Blocks: the same, except that an output returned as gr.skip() costs nothing to send.

Gradio (6.31) treats gr.skip() as a property update: for each skipped output it builds a new component
from the old one's constructor arguments and regenerates its config (~1.5 ms each on the 2-core machine,
4 of the 8 outputs of a slider move), only to send {"__type__": "update"}, which changes nothing in the
page. Here the skipped outputs are answered with that message directly and the others go through Gradio's
own postprocessing unchanged, so what the page receives is equivalent (the same values and updates).
"""
from __future__ import annotations

import copy
from typing import Any

import gradio as gr

SKIP = gr.skip()                         # {"__type__": "update"}: what Gradio sends for a skipped output


def is_skip(value: Any) -> bool:
    """Whether an output value is exactly gr.skip() (no property, no value)."""
    return isinstance(value, dict) and value == SKIP


class LabBlocks(gr.Blocks):
    """gr.Blocks whose skipped outputs bypass the per-output component rebuild."""

    async def postprocess_data(self, block_fn: Any, predictions: Any, state: Any) -> list[Any]:
        """Gradio's postprocess_data, with each gr.skip() output answered as is (no component rebuilt)."""
        outputs = block_fn.outputs
        if not isinstance(predictions, (list, tuple)) or len(predictions) != len(outputs) or len(outputs) < 2:
            return await super().postprocess_data(block_fn, predictions, state)
        kept = [i for i, value in enumerate(predictions) if not is_skip(value)]
        # Gradio's own path where nothing is skipped, or for State outputs (kept in the session, not sent)
        if len(kept) == len(predictions) or any(output.stateful for output in outputs):
            return await super().postprocess_data(block_fn, predictions, state)
        processed: list[Any] = []
        if kept:
            partial = copy.copy(block_fn)                 # the same event, with only the outputs that changed
            partial.outputs = [outputs[i] for i in kept]
            values = [predictions[i] for i in kept]       # one output left: Gradio takes its value unwrapped
            processed = await super().postprocess_data(partial, values[0] if len(values) == 1 else values, state)
        answer: list[Any] = [dict(SKIP) for _ in predictions]
        for index, value in zip(kept, processed):
            answer[index] = value
        return answer
