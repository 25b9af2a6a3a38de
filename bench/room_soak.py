"""Room soak (issue 17): the workshop's participants for half an hour against one `python app.py`, with the
server's memory sampled throughout and once more after the room has left and the server sat idle.

    python -m bench.room_soak                      # 30 participants, 30 minutes, then 75 s idle (~33 min)
    python -m bench.room_soak --participants 12 --minutes 10
"""
from __future__ import annotations

import argparse
import threading
import time
from dataclasses import dataclass, field

from bench.common import machine_reference, record
from bench.workshop import metrics, workshop

GROWTH_TARGET_MB = 100.0     # RSS growth after the first five minutes
SETTLED_AFTER_S = 300.0      # what the first five minutes bring (allocator, caches, sessions) is not growth
SAMPLE_EVERY_S = 10.0
IDLE_AFTER_S = 75.0          # the room has left: more than twice the server's idle-trim interval


def memory_mb(pid: int) -> dict[str, float]:
    """A process's resident memory (MB): all of it, the file-backed part (libraries, mapped files) and the
    rest, anonymous (heaps, arenas: where a leak or a kept allocation shows)."""
    import psutil
    info = psutil.Process(pid).memory_info()
    return {"rss": info.rss / 2**20, "anon": (info.rss - info.shared) / 2**20, "file": info.shared / 2**20}


@dataclass
class MemoryWatch:
    """Samples (seconds since the room came in, memory) every few seconds while the participants run,
    then waits for the server to sit idle and takes the last sample."""

    idle_after_s: float = IDLE_AFTER_S
    every_s: float = SAMPLE_EVERY_S
    samples: list[tuple[float, dict]] = field(default_factory=list)
    idle: dict | None = None
    _pid: int = 0
    _started: float = 0.0
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self, pid: int) -> None:
        self._pid, self._started = pid, time.monotonic()
        self._sample()                                            # before this returns: the warm baseline

        def sample_until_stopped() -> None:
            while not self._stop.wait(self.every_s):
                self._sample()
        self._thread = threading.Thread(target=sample_until_stopped, name="room-soak-memory", daemon=True)
        self._thread.start()

    def finish(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        self._sample()                                            # the room leaves
        time.sleep(self.idle_after_s)
        self.idle = memory_mb(self._pid)

    def _sample(self) -> None:
        self.samples.append((time.monotonic() - self._started, memory_mb(self._pid)))

    def at(self, seconds: float) -> dict:
        """The first sample taken at or after `seconds` (the last one if the run was shorter)."""
        return next((mb for t, mb in self.samples if t >= seconds), self.samples[-1][1])


def memory_rows(watch: MemoryWatch, who: str) -> list[dict]:
    """Warm, settled, end, growth after settling (the target), peak, and idle after the room left."""
    warm, settled, end = watch.samples[0][1], watch.at(SETTLED_AFTER_S), watch.samples[-1][1]
    growth = end["rss"] - settled["rss"]
    peak = max(mb["rss"] for _, mb in watch.samples)
    each_minute = watch.samples[::max(1, round(60 / watch.every_s))]
    curve = [(round(t), round(mb["rss"]), round(mb["anon"])) for t, mb in each_minute]
    return [record(f"room: server RSS after warm-up ({who})", [warm["rss"]], "MB", None, anon_mb=round(warm["anon"])),
            record(f"room: server RSS after {SETTLED_AFTER_S / 60:.0f} min", [settled["rss"]], "MB", None,
                   anon_mb=round(settled["anon"])),
            record("room: server RSS at the end", [end["rss"]], "MB", None, anon_mb=round(end["anon"]), peak_mb=round(peak)),
            record(f"room: RSS growth after the first {SETTLED_AFTER_S / 60:.0f} min", [growth], "MB",
                   GROWTH_TARGET_MB, curve_s_rss_anon=curve),
            record(f"room: server RSS idle {watch.idle_after_s:.0f} s after the room left", [watch.idle["rss"]], "MB",
                   None, anon_mb=round(watch.idle["anon"]), file_mb=round(watch.idle["file"]))]


def room_soak(participants: int, minutes: float, idle_after_s: float = IDLE_AFTER_S) -> list[dict]:
    watch = MemoryWatch(idle_after_s=idle_after_s)
    run = workshop(participants=participants, seconds=60.0 * minutes, watch=watch)
    who = f"{participants} participants, {minutes:g} min"
    return metrics(run) + memory_rows(watch, who)


def run(quick: bool = False) -> list[dict]:
    reference = machine_reference()
    return [reference, *(room_soak(8, 1.0, 40.0) if quick else room_soak(30, 30.0))]


if __name__ == "__main__":
    from bench.__main__ import print_table
    parser = argparse.ArgumentParser(prog="python -m bench.room_soak", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--participants", type=int, default=30)
    parser.add_argument("--minutes", type=float, default=30.0)
    parser.add_argument("--idle", type=float, default=IDLE_AFTER_S, help="seconds idle before the last sample")
    args = parser.parse_args()
    rows = [machine_reference(), *room_soak(args.participants, args.minutes, args.idle)]
    print_table(rows)
    for row in rows:
        extra = {k: v for k, v in row.items() if k not in ("name", "median", "min", "max", "unit", "n", "target",
                                                           "passed")}
        if extra:
            print(row["name"].strip(), extra)
