"""pruning/lru.py: a bounded map that drops the entry used longest ago, shared safely between threads."""
from __future__ import annotations

import threading

import pytest

from pruning.lru import LruCache


def test_past_its_size_the_entry_used_longest_ago_goes():
    cache: LruCache[str, int] = LruCache(2)
    cache.put("a", 1)
    cache.put("b", 2)
    assert cache.get("a") == 1                    # "a" is now the most recently used
    cache.put("c", 3)
    assert (cache.get("a"), cache.get("b"), cache.get("c")) == (1, None, 3)
    assert [key for key, _ in cache.items()] == ["a", "c"] and len(cache) == 2


def test_pop_and_clear_forget_entries():
    cache: LruCache[str, int] = LruCache(3)
    cache.put("a", 1)
    cache.put("b", 2)
    assert cache.pop("a") == 1 and cache.pop("a") is None and cache.get("a") is None
    cache.clear()
    assert len(cache) == 0 and cache.get("b") is None


def test_a_cache_that_holds_nothing_is_refused():
    with pytest.raises(ValueError, match="at least 1"):
        LruCache(0)


def test_threads_putting_and_getting_at_once_keep_it_bounded_and_consistent():
    cache: LruCache[int, int] = LruCache(16)

    def work(offset: int) -> None:
        for i in range(2000):
            cache.put(offset + i % 40, offset + i % 40)
            value = cache.get(offset + (i * 7) % 40)
            assert value is None or value == offset + (i * 7) % 40
    threads = [threading.Thread(target=work, args=(1000 * n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(cache) == 16 and all(key == value for key, value in cache.items())
