"""Process runtime for fast evaluation: the worker pool, thread settings, allocator tuning (started explicitly)."""
from __future__ import annotations

import contextlib
import ctypes
import os
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import torch
from torch import nn

WORKER_NAME = "pruning-lab-eval"
BACKGROUND_NICENESS = 10        # heavy jobs yield the cores to interactive requests
IDLE_TRIM_S = 30.0              # evaluation idle this long: freed heap goes back to the kernel (trim_when_idle)
_state_lock = threading.Lock()
_pool: ThreadPoolExecutor | None = None
_background: ThreadPoolExecutor | None = None
_thread = threading.local()     # .background: this thread runs heavy work inline, at low priority
_evaluations = 0                # batches run so far (read by the idle trimmer; a racy count is fine)
_live = threading.Condition()   # guards _live_count / _live_ended: interactive work in progress
_live_count = 0
_live_ended = 0.0
QUIET_S = 0.25                  # background fillers start the next item this long after live work ended
T = TypeVar("T")


def start(threads: int | None = None, warm_up: bool = True) -> None:
    """Start the evaluation worker pool (one single-threaded worker per core), keep freed activation
    memory in the heap, and trace the registered architectures for the fast path.

    Call once before evaluating from several threads (the app, the CLI and the bench do); without
    it every evaluation runs in the calling thread. Idempotent; `threads` defaults to torch's count."""
    global _pool
    with _state_lock:
        if _pool is not None:
            return
        _tune_allocator()
        if warm_up:
            from .fastpath import warm_up_graphs    # tracing patches nn.Module.__call__ process-wide:
            warm_up_graphs()                        # do it now, before other threads run models
        workers = threads or torch.get_num_threads()
        if workers > 1:
            _pool = _start_pool(workers)


def stop() -> None:
    """Shut the worker pool down (tests; a forked child)."""
    global _pool
    with _state_lock:
        pool, _pool = _pool, None
    if pool is not None:
        pool.shutdown(wait=True)


def pool_size() -> int:
    """Workers in the evaluation pool (0 when not started, or on one core)."""
    return 0 if _pool is None else _pool._max_workers


def _start_pool(workers: int) -> ThreadPoolExecutor:
    callers_threads = torch.get_num_threads()
    started = threading.Barrier(workers + 1, timeout=60)
    pool = ThreadPoolExecutor(workers, WORKER_NAME, initializer=_one_thread_worker, initargs=(started,))
    for _ in range(workers):
        pool.submit(int)            # each worker blocks in its initializer, so each submit starts one
    started.wait()
    # torch.set_num_threads also sets the count for threads that start using torch later: restore it
    torch.set_num_threads(callers_threads)
    return pool


def _forget_pool_in_child() -> None:
    global _pool, _background
    _pool = _background = None      # a forked child has none of the worker threads


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_pool_in_child)


def _one_thread_worker(started: threading.Barrier) -> None:
    torch.get_num_threads()         # torch's one-time per-thread setup first: it would undo the next line
    torch.set_num_threads(1)        # this thread's OpenMP/MKL setting
    started.wait()


def run_batches(model: nn.Module, x: torch.Tensor, batch_size: int) -> torch.Tensor:
    """model over x in batches, inference mode; (N, 10). Spread over the worker pool when started.

    A work queue of single-threaded workers instead of intra-op threads: no fork/join per operator,
    and when another process holds a core, the other worker simply takes more batches."""
    global _evaluations
    _evaluations += 1
    batches = [x[i:i + batch_size] for i in range(0, x.shape[0], batch_size)]
    pool = _pool
    if pool is None or getattr(_thread, "background", False) \
            or threading.current_thread().name.startswith(WORKER_NAME):
        return torch.cat([_infer(model, batch) for batch in batches])
    return torch.cat(list(pool.map(lambda batch: _infer(model, batch), batches)))


def _infer(model: nn.Module, batch: torch.Tensor) -> torch.Tensor:
    with torch.inference_mode():     # grad mode is per thread
        return model(batch)


@contextlib.contextmanager
def single_threaded() -> Iterator[None]:
    """Run the block with one intra-op thread in the calling thread (torch.set_num_threads is per
    thread with OpenMP). Many tiny operators (training steps, masks) spend more time synchronizing
    threads than computing, and far more when other work holds the cores. Evaluation inside the
    block still uses every core through the worker pool."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def become_background_thread() -> None:
    """Make the calling thread a background worker for good: one intra-op thread, evaluation inline
    (not in the shared worker pool), and on Linux a lower scheduling priority, so that heavy jobs
    (sweeps, fine-tuning, timing) leave the cores to interactive requests. Only for threads this
    package starts: an unprivileged process cannot raise a thread's priority again."""
    _thread.background = True
    torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        tid = threading.get_native_id()
        os.setpriority(os.PRIO_PROCESS, tid, min(19, os.getpriority(os.PRIO_PROCESS, tid) + BACKGROUND_NICENESS))
    except (AttributeError, OSError):      # on Linux a thread id names one thread; elsewhere: no change
        pass


@contextlib.contextmanager
def interactive() -> Iterator[None]:
    """Mark the block as work a person is waiting for (a page's update): background fillers
    (`wait_for_quiet`) do not start new items while any such block runs, nor just after."""
    global _live_count, _live_ended
    with _live:
        _live_count += 1
    try:
        yield
    finally:
        with _live:
            _live_count -= 1
            _live_ended = time.monotonic()
            _live.notify_all()


def wait_for_quiet(stop: threading.Event | None = None, quiet_s: float = QUIET_S) -> bool:
    """Block until no interactive work has run for `quiet_s`; False if `stop` was set meanwhile."""
    with _live:
        while not (stop is not None and stop.is_set()):
            idle = time.monotonic() - _live_ended
            if _live_count == 0 and idle >= quiet_s:
                return True
            _live.wait(0.05 if _live_count else quiet_s - idle)
    return False


def run_in_background(function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """function(*args, **kwargs) run in the background thread (see become_background_thread), one job
    at a time; the caller waits for it. Exceptions (e.g. a progress callback stopping the job) propagate."""
    global _background
    with _state_lock:
        if _background is None:
            _background = ThreadPoolExecutor(1, "pruning-lab-background", initializer=become_background_thread)
    return _background.submit(function, *args, **kwargs).result()


def _tune_allocator() -> None:
    """Keep freed activation memory in glibc's heap instead of returning it to the kernel after
    every batch: otherwise each batch page-faults its activations in again (see docs/BENCHMARKS.md).
    And at most one malloc arena per core: glibc's default (8 per core) let each of a server's many
    request threads grow its own 64 MB heaps and keep them, ~1 GB in a 30-participant room
    (docs/RELIABILITY.md, section 10). MALLOC_ARENA_MAX in the environment wins. Process-wide; a no-op
    where libc is not glibc."""
    libc = _glibc()
    if libc is None:
        return
    libc.mallopt(-1, 256 << 20)   # M_TRIM_THRESHOLD: keep up to 256 MiB of free heap
    libc.mallopt(-3, 32 << 20)    # M_MMAP_THRESHOLD: blocks under 32 MiB come from the heap
    if "MALLOC_ARENA_MAX" not in os.environ:
        libc.mallopt(-8, max(2, os.cpu_count() or 1))   # M_ARENA_MAX


def _glibc() -> ctypes.CDLL | None:
    """The C library when it is glibc (it has mallopt and malloc_trim), else None."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL("libc.so.6")   # by soname: find_library would start ldconfig
        return libc if hasattr(libc, "mallopt") and hasattr(libc, "malloc_trim") else None
    except OSError:
        return None


def release_free_memory() -> bool:
    """Hand the free pages of glibc's heaps back to the kernel (malloc_trim): what `_tune_allocator` keeps
    for speed while requests come. False where libc is not glibc."""
    libc = _glibc()
    return libc is not None and bool(libc.malloc_trim(0))


def trim_when_idle(idle_s: float = IDLE_TRIM_S, trim: Callable[[], Any] = release_free_memory) -> threading.Event:
    """Start a daemon thread that calls `trim` once whenever no evaluation has run for `idle_s` (a quiet
    server gives back the ~100 MB of heap kept between batches); set the returned event to stop it."""
    stopped = threading.Event()

    def watch() -> None:
        seen, trimmed = _evaluations, True
        while not stopped.wait(idle_s):
            if _evaluations != seen:
                seen, trimmed = _evaluations, False
            elif not trimmed:
                trim()
                trimmed = True
    threading.Thread(target=watch, name="pruning-lab-idle-trim", daemon=True).start()
    return stopped
