"""The glossary: every term the page uses has plain words that open on hover and on tap, without a script."""
from __future__ import annotations

import re

from pruning import list_methods
from ui import glossary, handlers


def test_a_term_is_focusable_and_carries_its_meaning():
    shown = glossary.term("macs")
    assert 'tabindex="0"' in shown and 'data-term="macs"' in shown and "<script" not in shown
    assert re.search(r'class="pl-term-tip"[^>]*>Multiply-accumulate operations', shown)
    assert glossary.term("nm", "semi-structured").split("<span class=\"pl-term-tip\"")[0].endswith("semi-structured")


def test_the_meaning_opens_on_hover_and_on_focus_which_a_tap_gives():
    rule = re.search(r"([^{}]+)\{display:block\}", glossary.CSS).group(1)
    assert {".pl-term:hover .pl-term-tip", ".pl-term:focus .pl-term-tip"} <= {s.strip() for s in rule.split(",")}


def test_the_glossary_block_holds_the_terms_the_issue_named_and_its_css():
    block = glossary.glossary_html()
    assert block.startswith("<style>") and glossary.CSS in block
    for key in ("became_wrong", "layer_amounts", "macs", "norm", "layer", "sparsity", "scope", "nm"):
        assert f'data-term="{key}"' in block
    words = re.sub(r'<span class="pl-term-tip"[^>]*>.*?</span>', "", block)
    assert "became_wrong" not in re.sub(r"<[^>]+>", "", words)            # identifiers never shown raw


def test_every_meaning_is_a_short_sentence():
    for key, (word, meaning) in glossary.TERMS.items():
        assert word and meaning.endswith(".") and len(meaning) < 220, key


def test_methods_say_what_kind_they_are_n_m_is_semi_structured():
    texts = {method: handlers.method_help(method)[0] for method in list_methods()}
    assert "semi-structured" in texts["nm_semi_structured"] and "N of every M weights" in texts["nm_semi_structured"]
    assert "single weights" not in texts["nm_semi_structured"]
    assert 'data-term="structured"' in texts["ln_structured"] and 'data-term="unstructured"' in texts["l1_unstructured"]
    assert 'data-term="calibration"' in texts["taylor"]
