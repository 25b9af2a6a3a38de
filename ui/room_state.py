"""A workshop room's shared state: the challenge, its submissions, the setting sent to everyone, who is here."""
from __future__ import annotations

import json
import logging
import os
import re
import threading
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Callable

log = logging.getLogger("pruning_lab")
RULES = {"accuracy": "accuracy ≥ {target} — highest global sparsity wins",
         "sparsity": "global sparsity ≥ {target} — highest accuracy wins"}
MAX_NICKNAME = 24
ANONYMOUS = "anonymous"
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2066-\u2069]")


class RoomRefused(Exception):
    """A room action that is not allowed now; the message says why (shown to the participant)."""


def clean_nickname(text: Any) -> str:
    """A nickname as the board shows it: no control or direction characters, spaces collapsed,
    trimmed, at most MAX_NICKNAME characters; empty: "anonymous". (Escaped when shown, not here.)"""
    name = " ".join(_CONTROL.sub("", str(text or "")).split())[:MAX_NICKNAME].strip()
    return name or ANONYMOUS


@dataclass(frozen=True)
class Challenge:
    """What the room competes on: one model, a rule with its target (0..1), optionally only some methods."""

    model: str
    rule: str                       # "accuracy": accuracy >= target, sparsest wins; "sparsity": the reverse
    target: float
    methods: tuple[str, ...] = ()   # empty: any method
    number: int = 1
    started: float = 0.0            # wall-clock time it was started
    open: bool = True

    def describe(self) -> str:
        """One line: the rule in words."""
        allowed = f" · methods: {', '.join(self.methods)}" if self.methods else ""
        return f"{self.model}: " + RULES[self.rule].format(target=f"{100 * self.target:.2f}%") + allowed


@dataclass(frozen=True)
class Entry:
    """One participant's submitted result, as the server measured it (never values a client sent)."""

    participant: str                # the page's session key: never shown on the board
    nickname: str
    model: str
    method: str
    scope: str
    amount: float
    sparsity: float                 # global weight sparsity, 0..1
    accuracy: float                 # accuracy after pruning, 0..1
    time: float                     # wall-clock time of the submission (ties: the earlier wins)
    query: str = ""                 # the link of the setting ("model=...&...")


@dataclass(frozen=True)
class Sent:
    """A setting the presenter sent to everyone (as a link's query string)."""

    query: str
    number: int
    time: float


def qualifies(entry: Entry, challenge: Challenge) -> bool:
    """Whether a result meets the challenge (model, allowed methods, the rule's threshold)."""
    if entry.model != challenge.model or (challenge.methods and entry.method not in challenge.methods):
        return False
    measured = entry.accuracy if challenge.rule == "accuracy" else entry.sparsity
    return measured >= challenge.target - 5e-7            # what the page shows as ≥ target (to 2 decimals of %)


def score(entry: Entry, challenge: Challenge) -> float:
    """What wins: sparsity under the accuracy rule, accuracy under the sparsity rule."""
    return entry.sparsity if challenge.rule == "accuracy" else entry.accuracy


@dataclass
class Room:
    """The room, in memory (saved to `path` after every change when given). Bounded: one submission
    per participant per `min_interval_s`, one entry per participant (its best), at most `max_entries`
    entries (the worst dropped), at most `max_tracked` participants remembered."""

    path: Path | None = None
    min_interval_s: float = 10.0
    max_entries: int = 200
    max_tracked: int = 2000
    clock: Callable[[], float] = time.time
    challenge: Challenge | None = None
    entries: dict[str, Entry] = field(default_factory=dict)
    sent: Sent | None = None
    version: int = 0                # raised on every change that pages show
    sends: int = 0                  # settings sent so far (never reset: a page never mistakes a new one for an old)
    _last_try: dict[str, float] = field(default_factory=dict, repr=False)
    _seen: dict[str, float] = field(default_factory=dict, repr=False)
    _lock: threading.RLock = field(default_factory=threading.RLock, repr=False)

    def start_challenge(self, model: str, rule: str, target: float, methods: tuple[str, ...] = ()) -> Challenge:
        """A new open challenge (the previous one's submissions are cleared)."""
        if rule not in RULES:
            raise RoomRefused(f"rule must be one of {', '.join(RULES)}")
        if not 0 <= target <= 1:
            raise RoomRefused("the target must be from 0% to 100%")
        with self._lock:
            number = self.challenge.number + 1 if self.challenge else 1
            self.challenge = Challenge(model, rule, float(target), tuple(methods), number, self.clock())
            self.entries.clear()
            self._changed()
            return self.challenge

    def stop_challenge(self) -> None:
        """Close the challenge: no more submissions; its board stays."""
        with self._lock:
            if self.challenge is not None and self.challenge.open:
                self.challenge = replace(self.challenge, open=False)
                self._changed()

    def send(self, query: str) -> Sent:
        """Send a setting (a link's query string) to every participant."""
        with self._lock:
            self.sends += 1
            self.sent = Sent(query, self.sends, self.clock())
            self._changed()
            return self.sent

    def reset(self, presence: bool = False) -> None:
        """Forget the challenge, its submissions and the sent setting (and who is here, if `presence`:
        the presenter's reset keeps it, as open pages would report again within seconds)."""
        with self._lock:
            self.challenge, self.sent = None, None
            self.entries.clear()
            self._last_try.clear()
            if presence:
                self._seen.clear()
            self._changed()

    def submit(self, entry: Entry) -> int | None:
        """Record a participant's measured result; its rank (1 = best; None: not among the kept
        `max_entries`). RoomRefused if there is no open
        challenge, it came too soon after the participant's last try, or it does not qualify."""
        with self._lock:
            challenge, now = self.challenge, self.clock()
            if challenge is None or not challenge.open:
                raise RoomRefused("There is no open challenge right now.")
            last = self._last_try.get(entry.participant)
            if last is not None and now - last < self.min_interval_s:
                raise RoomRefused(f"One submission per {self.min_interval_s:.0f} s: try again in "
                                  f"{self.min_interval_s - (now - last):.0f} s.")
            self._remember_try(entry.participant, now)
            if not qualifies(entry, challenge):
                raise RoomRefused(why_not(entry, challenge))
            entry = replace(entry, time=now)
            old = self.entries.get(entry.participant)
            if old is None or score(entry, challenge) > score(old, challenge):
                self.entries[entry.participant] = entry
            elif old.nickname != entry.nickname:
                self.entries[entry.participant] = replace(old, nickname=entry.nickname)
            self._trim()
            self._changed()
            board = self.leaderboard(len(self.entries))
            return next((i for i, e in enumerate(board, 1) if e.participant == entry.participant), None)

    def leaderboard(self, limit: int = 20) -> list[Entry]:
        """The best `limit` entries: highest score first, ties broken by time (earlier first)."""
        with self._lock:
            challenge = self.challenge
            if challenge is None:
                return []
            ranked = sorted(self.entries.values(), key=lambda e: (-score(e, challenge), e.time))
            return ranked[:limit]

    def seen(self, participant: str) -> None:
        """A participant's page is open now (its banner poll)."""
        with self._lock:
            self._seen[participant] = time.monotonic()
            if len(self._seen) > self.max_tracked:
                for key in sorted(self._seen, key=self._seen.get)[: len(self._seen) - self.max_tracked]:
                    del self._seen[key]

    def active(self, within_s: float = 30.0) -> list[str]:
        """Participants whose page was seen in the last `within_s` seconds, most recent first."""
        now = time.monotonic()
        with self._lock:
            return [k for k, t in sorted(self._seen.items(), key=lambda kv: -kv[1]) if now - t <= within_s]

    def _remember_try(self, participant: str, now: float) -> None:
        self._last_try[participant] = now
        if len(self._last_try) > self.max_tracked:            # forget those whose wait is over, then the oldest
            recent = sorted(((t, k) for k, t in self._last_try.items() if now - t < self.min_interval_s),
                            reverse=True)[: self.max_tracked]
            self._last_try = {k: t for t, k in recent}

    def _trim(self) -> None:
        if len(self.entries) > self.max_entries:
            keep = {e.participant for e in self.leaderboard(self.max_entries)}
            self.entries = {k: e for k, e in self.entries.items() if k in keep}

    def _changed(self) -> None:
        self.version += 1
        if self.path is not None:
            self.save(self.path)

    def save(self, path: Path) -> None:
        """The challenge, the entries and the sent setting as JSON, written atomically."""
        data = {"challenge": self.challenge and asdict(self.challenge), "sent": self.sent and asdict(self.sent),
                "entries": [asdict(e) for e in self.entries.values()], "version": self.version, "sends": self.sends}
        partial = Path(f"{path}.{os.getpid()}.partial")
        try:
            partial.write_text(json.dumps(data))
            os.replace(partial, path)
        except OSError as err:
            log.warning("room file %s not written: %s", path, err)

    def load(self, path: Path) -> None:
        """Read a file `save` wrote (a missing file: an empty room; an unreadable one: logged, ignored)."""
        try:
            data = json.loads(Path(path).read_text())
            challenge = data.get("challenge") and Challenge(**{**data["challenge"],
                                                               "methods": tuple(data["challenge"]["methods"])})
            sent = data.get("sent") and Sent(**data["sent"])
            entries = {e["participant"]: Entry(**e) for e in data.get("entries", [])}
        except FileNotFoundError:
            return
        except (OSError, ValueError, TypeError, KeyError) as err:
            log.warning("room file %s ignored: %s", path, err)
            return
        with self._lock:
            self.challenge, self.sent, self.entries = challenge or None, sent or None, entries
            self.version, self.sends = int(data.get("version", 0)) + 1, int(data.get("sends", 0))

    def attach(self, path: str | os.PathLike | None) -> None:
        """Keep the room in `path` from now on (loading what it holds)."""
        self.path = None if path is None else Path(path)
        if self.path is not None:
            self.load(self.path)


def why_not(entry: Entry, challenge: Challenge) -> str:
    """Why a result is not on the board, in the participant's words."""
    if entry.model != challenge.model:
        return f"This challenge is on {challenge.model}: your result is on {entry.model}."
    if challenge.methods and entry.method not in challenge.methods:
        return f"This challenge allows {', '.join(challenge.methods)}: your method is {entry.method}."
    if challenge.rule == "accuracy":
        return (f"Your accuracy {100 * entry.accuracy:.2f}% is below the challenge's "
                f"{100 * challenge.target:.2f}%: prune a little less.")
    return (f"Your global sparsity {100 * entry.sparsity:.2f}% is below the challenge's "
            f"{100 * challenge.target:.2f}%: prune a little more.")


ROOM = Room()
