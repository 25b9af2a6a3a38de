"""Per-browser sessions: what each participant's page shows, kept so that the newest setting always wins."""
from __future__ import annotations

import itertools
import threading
import time
from collections import OrderedDict, deque
from dataclasses import dataclass, field
from typing import Any

import torch

from pruning import PruneResult
from pruning.finetune import FinetuneResult


class SessionRefused(Exception):
    """A new session cannot be admitted now (too many from one address, or the server is full)."""


@dataclass
class Session:
    """One participant's state. Events of one session can overlap (a fine-tune and a slider drag; two
    API calls): every update takes a ticket when it starts, and a result is stored only if no update
    that started later has stored its own. Long jobs read the result they start from and store only
    their own outputs (`finetuned`), never the pruning result."""

    sample: list[int]
    result: PruneResult | None = None
    finetuned: FinetuneResult | None = None
    digit: torch.Tensor | None = None          # the drawn digit, normalized (1, 1, 28, 28)
    pinned: list = field(default_factory=list)  # (PruneResult, file bytes) kept for comparison, oldest first
    last_used: float = field(default_factory=time.monotonic)
    sent: dict[str, Any] = field(default_factory=dict, repr=False)   # what the page last got, by output
    _stored_ticket: int = 0
    _tickets: Any = field(default_factory=lambda: itertools.count(1), repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def ticket(self) -> int:
        """A number for an update that starts now (later starts get larger numbers)."""
        with self._lock:
            return next(self._tickets)

    def offer(self, ticket: int, result: PruneResult) -> bool:
        """Store `result` unless an update with a later ticket already stored one; True if stored."""
        with self._lock:
            if ticket < self._stored_ticket:
                return False
            self._stored_ticket, self.result = ticket, result
            return True

    def store_finetuned(self, tuned: FinetuneResult) -> None:
        """Keep a fine-tuned model (its config says which setting it belongs to)."""
        with self._lock:
            self.finetuned = tuned

    def finetuned_for(self, result: PruneResult) -> FinetuneResult | None:
        """The fine-tuned model of exactly this result's setting, if one was made."""
        tuned = self.finetuned
        return tuned if tuned is not None and tuned.config == result.config else None


class SessionStore:
    """Sessions by Gradio session hash. A flood of new sessions cannot push out active participants:
    each address may open `new_per_minute` sessions a minute, and when `capacity` is reached only
    sessions idle for `idle_seconds` (then the least recently used of those idle for `evictable_after`)
    are dropped; if none is, the new session is refused with a message."""

    def __init__(self, capacity: int = 300, idle_seconds: float = 3600.0, evictable_after: float = 600.0,
                 new_per_minute: int = 60) -> None:
        self.capacity, self.idle_seconds = capacity, idle_seconds
        self.evictable_after, self.new_per_minute = evictable_after, new_per_minute
        self._sessions: OrderedDict[str, Session] = OrderedDict()
        self._opened: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._sessions)

    def peek(self, key: str) -> Session | None:
        """The session under `key`, if any (no admission, no bookkeeping)."""
        return self._sessions.get(key)

    def get(self, key: str, address: str, new_sample: Any) -> Session:
        """The session under `key`, or a new one (Session(new_sample())) if admitted."""
        now = time.monotonic()
        with self._lock:
            session = self._sessions.get(key)
            if session is None:
                self._admit(address, now)
                session = self._sessions[key] = Session(new_sample())
            self._sessions.move_to_end(key)
            session.last_used = now
            return session

    def _admit(self, address: str, now: float) -> None:
        opened = self._opened.setdefault(address, deque())
        while opened and now - opened[0] > 60:
            opened.popleft()
        if len(opened) >= self.new_per_minute:
            raise SessionRefused(f"Too many new sessions from your address ({self.new_per_minute} a minute): "
                                 "wait a minute, or keep using the page you have open.")
        self._evict(now)
        if len(self._sessions) >= self.capacity:
            raise SessionRefused("The server is full (every session is in use): try again in a few minutes.")
        opened.append(now)
        if len(self._opened) > 4 * self.capacity:          # forget addresses quiet for a minute
            self._opened = {a: q for a, q in self._opened.items() if q and now - q[-1] <= 60}

    def _evict(self, now: float) -> None:
        """Drop sessions idle past idle_seconds; at capacity, the oldest idle past evictable_after."""
        for key in [k for k, s in self._sessions.items() if now - s.last_used > self.idle_seconds]:
            del self._sessions[key]
        if len(self._sessions) >= self.capacity:
            oldest_key, oldest = next(iter(self._sessions.items()))      # least recently used first
            if now - oldest.last_used > self.evictable_after:
                del self._sessions[oldest_key]
