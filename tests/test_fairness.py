"""Fair lines for heavy work: order, per-participant limit, honest estimates, and the wrapper under Gradio."""
from __future__ import annotations

import asyncio
import threading
import time

import gradio as gr
import pytest

from ui import fairness
from ui.fairness import FairLine


def test_a_participant_with_a_job_running_goes_behind_those_without() -> None:
    async def scenario() -> list[str]:
        line, started = FairLine("measuring"), []
        first = line.join("ann", "scan")               # runs at once
        second = line.join("ann", "scan")              # ann already has one running
        bob = line.join("bob", "scan")                 # later, but bob has nothing running
        assert first.turn.done() and not second.turn.done() and not bob.turn.done()
        assert line.ranked() == [bob, second]
        line.leave(first)
        started.append("bob" if bob.turn.done() else "ann")
        assert not second.turn.done()
        line.leave(bob)
        started.append("ann" if second.turn.done() else "?")
        return started
    assert asyncio.run(scenario()) == ["bob", "ann"]


def test_one_participant_may_not_fill_a_line() -> None:
    async def scenario() -> None:
        line = FairLine("training")
        line.join("ann", "finetune")
        line.join("ann", "finetune")
        with pytest.raises(gr.Error, match="already have 2 jobs in line for training"):
            line.join("ann", "finetune")
        line.join("bob", "finetune")                   # others still may
    asyncio.run(scenario())


def test_the_estimate_comes_from_measured_jobs_and_says_when_there_is_none() -> None:
    async def scenario() -> None:
        line = FairLine("measuring")
        running = line.join("ann", "scan")
        waiting = line.join("bob", "quantize")
        assert "No estimate yet" in line.message(waiting)
        assert line.estimate(waiting) is None
        line.durations["scan"].extend([10.0, 12.0, 30.0])     # median 12 s
        line.running[running.order] = ("ann", "scan", time.monotonic() - 2.0)   # started 2 s ago
        assert line.estimate(waiting) == pytest.approx(10.0, abs=0.1)
        third = line.join("cat", "scan")
        line.durations["quantize"].append(5.0)
        assert line.estimate(third) == pytest.approx(15.0, abs=0.1)         # 10 left + bob's 5
        assert "1 running, 1 job ahead of yours. About 15 s" in line.message(third)
    asyncio.run(scenario())


def test_a_cancelled_waiter_leaves_the_line() -> None:
    async def scenario() -> None:
        line = FairLine("measuring")
        first = line.join("ann", "scan")
        waiting = line.join("bob", "scan")
        line.leave(waiting)                            # bob closed the page
        assert line.waiting == []
        line.leave(first)
        assert line.running == {}
    asyncio.run(scenario())


def _slow(seconds: float, request: gr.Request | None = None) -> str:
    time.sleep(seconds)
    return f"{request.session_hash if request else None}:{time.monotonic():.3f}"


def _slow_lines(steps: int):
    for step in range(int(steps)):
        time.sleep(0.05)
        yield f"step {step}"


@pytest.fixture(scope="module")
def fair_server():
    with gr.Blocks() as demo:
        seconds, text, steps = gr.Number(0.6), gr.Textbox(), gr.Number(3)
        gr.Button("go").click(_slow, seconds, text, api_name="slow", concurrency_id="heavy")
        gr.Button("lines").click(_slow_lines, steps, text, api_name="lines", concurrency_id="heavy")
    fairness.make_fair(demo, {"heavy": FairLine("measuring")})
    demo.queue(default_concurrency_limit=8)
    _, url, _ = demo.launch(prevent_thread_lock=True, quiet=True)
    yield url
    demo.close()


def test_under_gradio_the_job_gets_its_request_and_a_second_job_of_one_page_goes_behind(fair_server) -> None:
    from gradio_client import Client
    ann, bob = Client(fair_server, verbose=False), Client(fair_server, verbose=False)
    jobs = [ann.submit(2.0, api_name="/slow")]          # long enough for both others to join on a busy machine
    time.sleep(0.3)                                    # ann's first runs
    jobs.append(ann.submit(0.6, api_name="/slow"))     # ann's second: waits
    time.sleep(0.3)
    jobs.append(bob.submit(0.6, api_name="/slow"))     # bob arrives later, goes first
    finished = [job.result(timeout=30) for job in jobs]
    sessions = [text.split(":")[0] for text in finished]
    times = [float(text.split(":")[1]) for text in finished]
    assert sessions[0] == sessions[1] != sessions[2] != "None"
    assert times[0] < times[2] < times[1]              # bob before ann's second


def test_under_gradio_a_generator_streams_and_a_waiting_job_is_told_its_place(fair_server) -> None:
    from gradio_client import Client
    ann, bob = Client(fair_server, verbose=False), Client(fair_server, verbose=False)
    running = ann.submit(1.5, api_name="/slow")
    time.sleep(0.3)
    waiting = bob.submit(3, api_name="/lines")
    seen, deadline = [], time.monotonic() + 30
    while not waiting.done() and time.monotonic() < deadline:
        progress = waiting.status().progress_data
        seen += [unit.desc for unit in progress or [] if unit.desc]
        time.sleep(0.1)
    assert running.result(timeout=30)
    assert waiting.outputs()[-1] == "step 2"           # every yield arrived, in order
    assert any("In line for measuring: 1 running, yours is next." in text for text in seen), seen
