"""Sweeps computed once: shared by concurrent callers, streamed while running, kept in memory and on disk."""
from __future__ import annotations

import hashlib
import json
import os
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field, replace
from pathlib import Path

from .checkpoint import read_manifest
from .config import SCOPES, PruneConfig
from .data import DigitSet
from .methods import list_methods
from .runtime import become_background_thread
from .store import MeasurementStore
from .sweep import DEFAULT_AMOUNTS, SweepResult, check_grid, sweep

SWEEP_VERSION = 2       # raise when a change to the engine changes sweep results: old files are ignored


class SweepStopped(Exception):
    """Raised inside a running sweep when its cache is stopped."""


@dataclass
class SweepJob:
    """One sweep, running or done: `result` grows line by line while it runs."""

    key: str
    result: SweepResult | None = None
    fraction: float = 0.0
    message: str = "starting"
    error: BaseException | None = None
    done: threading.Event = field(default_factory=threading.Event)
    from_disk: bool = False

    def wait(self, timeout: float | None = None) -> SweepResult:
        """The finished result; re-raises the sweep's error; TimeoutError if not done in time."""
        if not self.done.wait(timeout):
            raise TimeoutError(f"sweep not finished after {timeout} s")
        if self.error is not None:
            raise self.error
        return self.result


def eval_set_fingerprint(eval_set: DigitSet) -> str:
    """Content digest of a digit set (two loads of the same data share one cache entry)."""
    digest = hashlib.sha1(eval_set.name.encode())
    digest.update(eval_set.images.contiguous().numpy().tobytes())
    digest.update(eval_set.labels.contiguous().numpy().tobytes())
    return digest.hexdigest()


class SweepCache:
    """At most `max_entries` finished sweeps in memory (least recently used dropped first), each also
    written to `directory` (when given) under a key of the checkpoint's sha256, the eval set's content,
    the grid, the fixed settings and SWEEP_VERSION, so a restarted server shows it at once."""

    def __init__(self, directory: str | os.PathLike | None = None, max_entries: int = 16,
                 store: MeasurementStore | None = None) -> None:
        self.directory = None if directory is None else Path(directory)
        self.store = store                    # points measured through it: shared with the slider grid
        self.max_entries = max_entries
        self._jobs: OrderedDict[str, SweepJob] = OrderedDict()
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._threads: list[threading.Thread] = []

    def job(self, model_name: str, eval_set: DigitSet, methods: list[str] | None = None,
            scopes: tuple[str, ...] = SCOPES, amounts: tuple[float, ...] = DEFAULT_AMOUNTS,
            base_config: PruneConfig | None = None) -> SweepJob:
        """The job of this sweep: finished (memory or disk), running (shared), or started now in a
        background thread (low priority, one core)."""
        methods = list(methods or list_methods())
        check_grid(methods, scopes, amounts)
        base = replace(base_config or PruneConfig(model=model_name), model=model_name)
        key = self.key(model_name, eval_set, methods, scopes, amounts, base)
        with self._lock:
            job = self._jobs.get(key)
            if job is None or job.error is not None:
                job = self._from_disk(key) or self._start(key, model_name, eval_set, methods, scopes, amounts, base)
                self._jobs[key] = job
            self._jobs.move_to_end(key)
            self._drop_oldest()
            return job

    @staticmethod
    def key(model_name: str, eval_set: DigitSet, methods: list[str], scopes: tuple[str, ...],
            amounts: tuple[float, ...], base: PruneConfig) -> str:
        """What a sweep's result depends on, as a digest."""
        parts = {"version": SWEEP_VERSION, "checkpoint": read_manifest().get(f"{model_name}.pt"),
                 "eval_set": eval_set_fingerprint(eval_set), "methods": methods, "scopes": list(scopes),
                 "amounts": list(amounts), "base": base.to_dict()}
        return f"{model_name}-" + hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()[:24]

    def _drop_oldest(self) -> None:
        finished = [k for k, j in self._jobs.items() if j.done.is_set()]
        for key in finished[: max(0, len(self._jobs) - self.max_entries)]:
            del self._jobs[key]

    def _from_disk(self, key: str) -> SweepJob | None:
        path = None if self.directory is None else self.directory / f"{key}.json"
        if path is None or not path.is_file():
            return None
        try:
            result = SweepResult.from_dict(json.loads(path.read_text()))
        except (OSError, ValueError, KeyError, TypeError):
            return None                     # unreadable or from another version: recompute
        job = SweepJob(key, result, 1.0, "sweep read from the cache", from_disk=True)
        job.done.set()
        return job

    def _start(self, key: str, model_name: str, eval_set: DigitSet, methods: list[str],
               scopes: tuple[str, ...], amounts: tuple[float, ...], base: PruneConfig) -> SweepJob:
        job = SweepJob(key)

        def progress(fraction: float, message: str) -> None:
            if self._stopping.is_set():
                raise SweepStopped("the server is stopping")
            job.fraction, job.message = fraction, message

        def run() -> None:
            become_background_thread()
            try:
                shared = {} if self.store is None else {"store": self.store}
                job.result = sweep(model_name, eval_set, methods, scopes, amounts, base, progress,
                                   on_line=lambda partial: setattr(job, "result", partial), **shared)
                self._write(key, job.result)
            except BaseException as err:  # noqa: BLE001  (handed to every waiter)
                job.error = err
            finally:
                job.done.set()

        thread = threading.Thread(target=run, name=f"pruning-lab-sweep-{model_name}", daemon=True)
        self._threads = [t for t in self._threads if t.is_alive()] + [thread]
        thread.start()
        return job

    def stop(self, timeout: float = 30.0) -> None:
        """Stop running sweeps at their next line and wait for their threads (a process must not exit
        while one of them is inside torch); finished results are kept."""
        self._stopping.set()
        for thread in list(self._threads):
            thread.join(timeout)

    def _write(self, key: str, result: SweepResult) -> None:
        if self.directory is None:
            return
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            partial = self.directory / f".{key}.{os.getpid()}.{time.monotonic_ns()}"
            partial.write_text(json.dumps(result.to_dict()))
            os.replace(partial, self.directory / f"{key}.json")     # readers never see half a file
        except OSError:
            pass                              # a read-only disk only costs a recomputation later


_DEFAULT = SweepCache()


def cached_sweep(model_name: str, eval_set: DigitSet, methods: list[str] | None = None,
                 scopes: tuple[str, ...] = SCOPES, amounts: tuple[float, ...] = DEFAULT_AMOUNTS,
                 base_config: PruneConfig | None = None, progress=None,
                 cache: SweepCache | None = None) -> SweepResult:
    """The sweep from `cache` (default: this process's in-memory one), waiting for it; progress
    (fraction, message) is called about every 0.2 s while it runs (it may raise to stop waiting:
    the sweep itself goes on and is kept)."""
    job = (cache or _DEFAULT).job(model_name, eval_set, methods, scopes, amounts, base_config)
    while not job.done.wait(0.2):
        if progress is not None:
            progress(job.fraction, job.message)
    if progress is not None:
        progress(1.0, job.message)
    return job.wait()
