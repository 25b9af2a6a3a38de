"""Heavy work in fair lines: one line per kind; a participant with a job running goes behind those without;
the wait is told honestly (place in line and an estimate from the jobs measured on this server)."""
from __future__ import annotations

import asyncio
import inspect
import itertools
import statistics
import time
import typing
from collections import defaultdict, deque
from dataclasses import dataclass, field
from typing import Any, Callable

import anyio
import gradio as gr

PER_PARTICIPANT = 2          # jobs one participant may have in one line (running + waiting)
TELL_EVERY_S = 1.0           # how often a waiting job's message is renewed
_DONE = object()


@dataclass
class Waiter:
    """A job waiting for its turn."""

    participant: str
    job: str                             # the function's name: its own duration statistics
    order: int                           # arrival
    round: int                           # the participant's jobs already in this line when it came
    turn: asyncio.Future = field(default_factory=lambda: asyncio.get_running_loop().create_future())


class FairLine:
    """At most `slots` jobs of one kind at once, taken in rounds: a job whose participant already had one
    in the line (running or waiting) when it came goes behind every job that came without; within a round,
    arrival order. State is touched on the server's event loop only."""

    def __init__(self, label: str, slots: int = 1, history: int = 20):
        self.label, self.slots = label, slots
        self.waiting: list[Waiter] = []
        self.running: dict[int, tuple[str, str, float]] = {}            # order -> (participant, job, started)
        self.durations: dict[str, deque] = defaultdict(lambda: deque(maxlen=history))
        self._orders = itertools.count()

    def ranked(self) -> list[Waiter]:
        """The waiters in the order they will run."""
        return sorted(self.waiting, key=lambda w: (w.round, w.order))

    def _dispatch(self) -> None:
        while self.waiting and len(self.running) < self.slots:
            first = self.ranked()[0]
            self.waiting.remove(first)
            self.running[first.order] = (first.participant, first.job, time.monotonic())
            first.turn.set_result(None)

    def join(self, participant: str, job: str) -> Waiter:
        """A new job in line (raises gr.Error if its participant already has too many in this line)."""
        mine = sum(w.participant == participant for w in self.waiting) + \
            sum(who == participant for who, _, _ in self.running.values())
        if mine >= PER_PARTICIPANT:
            raise gr.Error(f"You already have {mine} jobs in line for {self.label}: wait for one to finish.")
        waiter = Waiter(participant, job, next(self._orders), mine)
        self.waiting.append(waiter)
        self._dispatch()
        return waiter

    def leave(self, waiter: Waiter) -> None:
        """The job finished, failed or was cancelled, waiting or running."""
        if waiter in self.waiting:
            self.waiting.remove(waiter)
        started = self.running.pop(waiter.order, None)
        if started is not None:
            self.durations[waiter.job].append(time.monotonic() - started[2])
        self._dispatch()

    def median(self, job: str) -> float | None:
        seconds = self.durations.get(job)
        return statistics.median(seconds) if seconds else None

    def estimate(self, waiter: Waiter) -> float | None:
        """Seconds until `waiter` starts, from the median durations measured here; None if a job ahead
        has no measured duration yet."""
        ahead = self.ranked()[:self.ranked().index(waiter)] if waiter in self.waiting else []
        now, total = time.monotonic(), 0.0
        for _, job, started in self.running.values():
            median = self.median(job)
            if median is None:
                return None
            total += max(0.0, median - (now - started))
        for other in ahead:
            median = self.median(other.job)
            if median is None:
                return None
            total += median
        return total / self.slots

    def message(self, waiter: Waiter) -> str:
        """What the waiting participant reads."""
        ahead = self.ranked().index(waiter) if waiter in self.waiting else 0
        place = f"{ahead} job{'s' if ahead != 1 else ''} ahead of yours" if ahead else "yours is next"
        text = f"In line for {self.label}: {len(self.running)} running, {place}."
        seconds = self.estimate(waiter)
        if seconds is None:
            return text + " No estimate yet (a job ahead has not been timed on this server)."
        timed = sum(len(d) for d in self.durations.values())
        return text + f" About {seconds:.0f} s to wait (medians of the last {timed} jobs timed here)."


def _signature(fn: Callable) -> tuple[inspect.Signature, dict, int | None, int | None]:
    """The wrapper's signature: fn's own, plus a request and a progress tracker where fn has none."""
    signature, hints = inspect.signature(fn), typing.get_type_hints(fn)
    params = list(signature.parameters.values())
    request_at = next((i for i, p in enumerate(params) if hints.get(p.name) in (gr.Request, gr.Request | None)), None)
    progress_at = next((i for i, p in enumerate(params) if isinstance(p.default, gr.Progress)), None)
    added = []
    if request_at is None:
        added.append(inspect.Parameter("fair_request", inspect.Parameter.POSITIONAL_OR_KEYWORD, default=None))
        hints = {**hints, "fair_request": gr.Request}
    if progress_at is None:
        added.append(inspect.Parameter("fair_progress", inspect.Parameter.POSITIONAL_OR_KEYWORD,
                                       default=gr.Progress()))
    return signature.replace(parameters=params + added), hints, request_at, progress_at


async def _turn(line: FairLine, request: Any, job: str, progress: Any) -> Waiter:
    """Wait for this job's turn, telling where it stands every second."""
    participant = getattr(request, "session_hash", None) or "anonymous"
    waiter, since = line.join(participant, job), time.monotonic()
    try:
        while not waiter.turn.done():
            waited, left = time.monotonic() - since, line.estimate(waiter)
            # the bar: the share of the estimated wait gone by (the text says it is an estimate)
            progress(0.0 if left is None else waited / (waited + left + 1e-9), desc=line.message(waiter))
            await asyncio.wait({waiter.turn}, timeout=TELL_EVERY_S)
    except BaseException:
        line.leave(waiter)
        raise
    return waiter


def in_line(line: FairLine, fn: Callable) -> Callable:
    """fn (a plain or generator function, as Gradio calls it) run in its turn of `line`, in a worker thread;
    Gradio sees fn's own parameters, plus a request and a progress tracker if fn has none."""
    signature, hints, request_at, progress_at = _signature(fn)
    own = len(inspect.signature(fn).parameters)

    def split(args: tuple) -> tuple[tuple, Any, Any]:
        extra = list(args[own:])
        request = args[request_at] if request_at is not None else extra.pop(0)
        progress = args[progress_at] if progress_at is not None else extra.pop(0)
        return args[:own], request, progress

    if inspect.isgeneratorfunction(fn):
        async def wrapper(*args):
            own_args, request, progress = split(args)
            waiter = await _turn(line, request, fn.__name__, progress)
            try:
                iterator = await anyio.to_thread.run_sync(lambda: fn(*own_args))
                while (item := await anyio.to_thread.run_sync(next, iterator, _DONE)) is not _DONE:
                    yield item
            finally:
                line.leave(waiter)
    else:
        async def wrapper(*args):
            own_args, request, progress = split(args)
            waiter = await _turn(line, request, fn.__name__, progress)
            try:
                return await anyio.to_thread.run_sync(lambda: fn(*own_args))
            finally:
                line.leave(waiter)
    wrapper.__name__, wrapper.__doc__, wrapper.__qualname__ = fn.__name__, fn.__doc__, fn.__qualname__
    wrapper.__signature__, wrapper.__annotations__ = signature, hints
    return wrapper


def make_fair(demo: gr.Blocks, lines: dict[str, FairLine]) -> None:
    """Every event of `demo` whose concurrency id names a line runs in that line: Gradio starts it at once
    (no limit of its own: the line is the limit), and its wait is told as progress."""
    for block_fn in demo.fns.values():
        line = lines.get(block_fn.concurrency_id)
        if line is not None and block_fn.fn is not None:
            block_fn.fn = in_line(line, block_fn.fn)
            block_fn.tracks_progress = True
            block_fn.concurrency_limit = None
