"""Sessions (ui/session.py): the newest update's result wins; the store keeps active pages, frees idle
ones, and refuses a flood of new ones with a message."""
from __future__ import annotations

import gc
import threading
import weakref
from collections.abc import Callable
from types import SimpleNamespace

import pytest
from torch import nn

from pruning import PruneConfig
from ui import session as session_module
from ui.session import Session, SessionRefused, SessionStore


class Clock:
    """A monotonic clock the test moves by hand (stands in for the time module in ui.session)."""

    def __init__(self) -> None:
        self.now = 1000.0

    def monotonic(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch) -> Clock:
    fake = Clock()
    monkeypatch.setattr(session_module, "time", fake)
    return fake


def result(amount: float) -> SimpleNamespace:
    """Stands in for a PruneResult: sessions only store it and compare its config."""
    return SimpleNamespace(config=PruneConfig(amount=amount), model=nn.Linear(2, 2))


def opener(calls: list) -> Callable[[], list[int]]:
    """A new_sample function that records each call (one per session made)."""
    def new_sample() -> list[int]:
        calls.append(1)
        return [len(calls)]
    return new_sample


# ---------------------------------------------------------------- tickets: the newest update wins

def test_tickets_grow_in_the_order_updates_start():
    session = Session([0])
    assert [session.ticket() for _ in range(3)] == [1, 2, 3]


def test_an_older_update_never_replaces_a_newer_stored_result():
    session = Session([0])
    older, newer = session.ticket(), session.ticket()
    assert session.offer(newer, result(0.8)) is True
    assert session.offer(older, result(0.3)) is False           # finished last, started first: dropped
    assert session.result.config.amount == 0.8


def test_a_newer_update_replaces_an_older_stored_result():
    session = Session([0])
    older, newer = session.ticket(), session.ticket()
    assert session.offer(older, result(0.3)) is True
    assert session.offer(newer, result(0.8)) is True
    assert session.result.config.amount == 0.8


def test_tickets_taken_from_many_threads_are_all_different():
    session, taken = Session([0]), []
    lock = threading.Lock()

    def take() -> None:
        mine = [session.ticket() for _ in range(200)]
        with lock:
            taken.extend(mine)

    threads = [threading.Thread(target=take) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(taken) == list(range(1, 8 * 200 + 1))


def test_a_fine_tuned_model_belongs_to_its_own_setting_only():
    session = Session([0])
    pruned = result(0.5)
    session.store_finetuned(SimpleNamespace(config=pruned.config))
    assert session.finetuned_for(pruned) is session.finetuned
    assert session.finetuned_for(result(0.6)) is None
    assert Session([0]).finetuned_for(pruned) is None


# ---------------------------------------------------------------- the store: keep, free, refuse

def test_the_store_keeps_a_session_per_key_and_makes_it_once(clock):
    store, calls = SessionStore(), []
    first = store.get("a", "1.1.1.1", opener(calls))
    assert store.get("a", "1.1.1.1", opener(calls)) is first and len(calls) == 1
    assert store.peek("a") is first and store.peek("b") is None and len(store) == 1   # peek makes nothing
    assert store.get("b", "1.1.1.1", opener(calls)) is not first and len(store) == 2


def test_new_sessions_per_address_are_capped_per_minute_with_a_message(clock):
    store, calls = SessionStore(new_per_minute=3), []
    for key in "abc":
        store.get(key, "1.1.1.1", opener(calls))
    with pytest.raises(SessionRefused, match=r"Too many new sessions from your address \(3 a minute\)"):
        store.get("d", "1.1.1.1", opener(calls))
    assert store.get("a", "1.1.1.1", opener(calls)) is store.peek("a")     # open pages keep working
    store.get("e", "2.2.2.2", opener(calls))                               # another address is admitted
    clock.now += 61                                                        # a minute later: admitted again
    store.get("d", "1.1.1.1", opener(calls))
    assert len(store) == 5 and len(calls) == 5


def test_a_full_store_refuses_new_sessions_while_every_session_is_in_use(clock):
    store = SessionStore(capacity=2, idle_seconds=3600, evictable_after=600)
    store.get("a", "1.1.1.1", opener([]))
    store.get("b", "2.2.2.2", opener([]))
    clock.now += 599                                      # both used within the last ten minutes
    with pytest.raises(SessionRefused, match="The server is full"):
        store.get("c", "3.3.3.3", opener([]))
    assert store.peek("a") is not None and store.peek("b") is not None


def test_a_full_store_makes_room_by_dropping_the_least_recently_used_idle_session(clock):
    store = SessionStore(capacity=2, idle_seconds=3600, evictable_after=600)
    store.get("a", "1.1.1.1", opener([]))
    store.get("b", "2.2.2.2", opener([]))
    clock.now += 300
    store.get("a", "1.1.1.1", opener([]))                 # "a" used again: "b" is now the oldest
    clock.now += 400                                      # "b" idle 700 s, "a" idle 400 s
    store.get("c", "3.3.3.3", opener([]))
    assert store.peek("b") is None and store.peek("a") is not None and store.peek("c") is not None


def test_sessions_idle_past_idle_seconds_are_dropped_even_below_capacity(clock):
    store = SessionStore(capacity=10, idle_seconds=60)
    store.get("old", "1.1.1.1", opener([]))
    clock.now += 30
    store.get("recent", "2.2.2.2", opener([]))
    clock.now += 31                                       # "old" idle 61 s, "recent" 31 s
    store.get("new", "3.3.3.3", opener([]))
    assert store.peek("old") is None and store.peek("recent") is not None and len(store) == 2


def test_a_dropped_session_frees_its_pruned_model(clock):
    store = SessionStore(capacity=10, idle_seconds=60)
    session = store.get("a", "1.1.1.1", opener([]))
    session.offer(session.ticket(), result(0.5))
    model = weakref.ref(session.result.model)
    del session
    clock.now += 61
    store.get("b", "2.2.2.2", opener([]))                 # the next admission drops "a"
    gc.collect()
    assert store.peek("a") is None and model() is None
