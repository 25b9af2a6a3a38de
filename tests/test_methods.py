"""Method registry: every registered method is described and looked up by name; unknown names fail clearly."""
from __future__ import annotations

import pytest

from pruning.methods import MethodEntry, get_method, list_methods, register_method

TUTORIAL_AND_ARTICLE_METHODS = {"l1_unstructured", "random_unstructured", "ln_structured", "random_structured",
                                "threshold", "gradient", "taylor", "activation"}


def test_registry_holds_the_methods_of_the_three_articles() -> None:
    assert TUTORIAL_AND_ARTICLE_METHODS <= set(list_methods())
    assert len(list_methods()) == len(set(list_methods()))


def test_both_kinds_and_data_driven_methods_are_registered() -> None:
    entries = [get_method(name) for name in list_methods()]
    assert any(e.structured for e in entries) and any(not e.structured for e in entries)
    assert any(e.data_driven for e in entries)


@pytest.mark.parametrize("name", list_methods())
def test_every_method_entry_is_complete(name: str) -> None:
    entry = get_method(name)
    assert isinstance(entry, MethodEntry) and entry.name == name
    assert callable(entry.importance)
    assert entry.description.strip().endswith(".")     # one sentence, shown in the UI
    assert isinstance(entry.structured, bool) and isinstance(entry.data_driven, bool)


@pytest.mark.parametrize("bad", ["l2_unstructured", "", "L1_UNSTRUCTURED", None, 1])
def test_unknown_method_raises_listing_the_known_ones(bad) -> None:
    with pytest.raises(ValueError, match="unknown method") as err:
        get_method(bad)
    for name in list_methods():
        assert name in str(err.value)


def test_registering_a_name_twice_is_refused() -> None:
    with pytest.raises(ValueError, match="already registered"):
        register_method(list_methods()[0], "duplicate.", structured=False)(lambda context: {})
    assert len(list_methods()) == len(set(list_methods()))
