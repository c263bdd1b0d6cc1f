"""Table tests for text folding (app.engine.text): case, accents and word boundaries."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.engine.text import KeywordSet, fold, word_string
from tests.engine.test_rules_properties import has_phrase


@pytest.mark.parametrize(
    ("text", "folded"),
    [
        pytest.param("", "", id="empty"),
        pytest.param("ceo", "ceo", id="already-folded"),
        pytest.param("CEO", "ceo", id="ascii-upper"),
        pytest.param("Head Of Sales", "head of sales", id="ascii-mixed-keeps-spaces"),
        pytest.param("  VP, Sales!  ", "  vp, sales!  ", id="ascii-keeps-punctuation-and-spaces"),
        pytest.param("Générale", "generale", id="acute-accent"),
        pytest.param("DIRECTRICE GÉNÉRALE", "directrice generale", id="upper-accents"),
        pytest.param("Crème Brûlée", "creme brulee", id="grave-and-circumflex"),
        pytest.param("Noël à Zürich", "noel a zurich", id="diaeresis-and-grave"),
        pytest.param("Façade", "facade", id="cedilla"),
        pytest.param("São Paulo", "sao paulo", id="tilde"),
        pytest.param("Straße", "strasse", id="sharp-s-casefolds"),
        pytest.param("\uff23\uff45\uff4f", "ceo", id="fullwidth-compatibility"),
        pytest.param("ﬁnance", "finance", id="ligature-compatibility"),
        pytest.param("e\u0301cole", "ecole", id="decomposed-combining-mark"),
        pytest.param("Δελτα", "δελτα", id="greek-lowercased"),
        pytest.param("Ἀθῆναι", "αθηναι", id="greek-breathing-and-accent-stripped"),
        pytest.param("Łódź", "łodz", id="stroke-letter-is-not-a-mark"),
        pytest.param("Ærø", "ærø", id="ligature-letters-kept"),
        pytest.param("日本", "日本", id="cjk-unchanged"),
    ],
)
def test_fold(text, folded):
    assert fold(text) == folded


@pytest.mark.parametrize(
    ("left", "right"),
    [
        pytest.param("Directrice Générale", "directrice generale", id="accents-and-case"),
        pytest.param("ÉLODIE", "elodie", id="upper-accented-initial"),
        pytest.param("naïve", "NAIVE", id="diaeresis"),
        pytest.param("e\u0301", "\u00e9", id="composed-vs-decomposed"),
    ],
)
def test_fold_makes_variants_equal(left, right):
    assert fold(left) == fold(right)


@pytest.mark.parametrize(
    ("left", "right"),
    [
        pytest.param("ceo", "ceos", id="plural"),
        pytest.param("resume", "résumés", id="accent-and-plural"),
        pytest.param("head of", "head-of", id="punctuation-kept-by-fold"),
    ],
)
def test_fold_keeps_real_differences(left, right):
    assert fold(left) != fold(right)


@pytest.mark.parametrize(
    ("text", "words"),
    [
        pytest.param("", "  ", id="empty-is-just-the-frame"),
        pytest.param("!!! ...", "  ", id="punctuation-only"),
        pytest.param("CEO", " ceo ", id="one-word"),
        pytest.param("Head of Sales", " head of sales ", id="several-words"),
        pytest.param("  Head   of\tSales\n", " head of sales ", id="whitespace-collapsed"),
        pytest.param("Head-of-Sales", " head of sales ", id="hyphens-split"),
        pytest.param("CEO, co-founder & CTO.", " ceo co founder cto ", id="punctuation-split"),
        pytest.param("l'équipe", " l equipe ", id="apostrophe-splits-and-accent-folds"),
        pytest.param("Directrice Générale", " directrice generale ", id="accents"),
        pytest.param("Web3 / AI_ML", " web3 ai_ml ", id="digits-and-underscore-are-word-chars"),
        pytest.param("Straße 42", " strasse 42 ", id="casefold-inside-words"),
        pytest.param("Zürich—Genève", " zurich geneve ", id="em-dash-splits"),
    ],
)
def test_word_string(text, words):
    assert word_string(text) == words


@pytest.mark.parametrize(
    ("keyword", "text", "found"),
    [
        pytest.param("ceo", "CEO at Acme", True, id="word-at-start"),
        pytest.param("ceo", "Founder & CEO", True, id="word-at-end"),
        pytest.param("ceo", "CEOS united", False, id="prefix-of-a-word"),
        pytest.param("ceo", "the exCEO", False, id="suffix-of-a-word"),
        pytest.param("head of", "Head of Sales", True, id="phrase"),
        pytest.param("head of", "Head-of-Sales", True, id="phrase-over-hyphens"),
        pytest.param("head of", "Head office", False, id="phrase-cut-mid-word"),
        pytest.param("head of", "of head", False, id="phrase-order-matters"),
        pytest.param("directrice generale", "Directrice Générale", True, id="accents"),
    ],
)
def test_word_string_containment_is_on_word_boundaries(keyword, text, found):
    assert (word_string(keyword) in word_string(text)) is found


VOCABULARY = ["head", "of", "sales", "Générale", "ceo", "co-founder", "Zürich", "data", "ops"]
words_of = st.lists(st.sampled_from(VOCABULARY), min_size=1, max_size=6).map(" ".join)


@settings(max_examples=200, deadline=None)
@given(
    keywords=st.lists(words_of, min_size=1, max_size=400),
    text=st.lists(st.sampled_from([*VOCABULARY, "x", ","]), max_size=300).map(" ".join),
)
def test_keyword_sets_find_exactly_the_keywords_in_a_row(keywords: list[str], text: str) -> None:
    # Large sets and long texts take the word-sequence path, small ones substring search:
    # both find a keyword exactly when its words appear in a row in the text.
    expected = tuple(has_phrase(text, keyword) for keyword in keywords)

    assert KeywordSet(keywords).found(text) == expected


def test_a_keyword_set_finds_list_items_whole() -> None:
    found = KeywordSet(["Data", "head of", "x"]).found(["DATA", "Head of sales", 3])

    assert found == (True, False, False)


def test_a_keyword_set_judges_only_texts_and_lists() -> None:
    assert KeywordSet(["ceo"]).found(42) is None
    assert KeywordSet(["ceo"]).found({"ceo": True}) is None


def test_long_texts_are_not_cached() -> None:
    long_text = "Générale " * 100

    assert fold(long_text) == "generale " * 100
    assert word_string(long_text) == " " + " ".join(["generale"] * 100) + " "


def test_a_keyword_without_words_is_never_found() -> None:
    assert KeywordSet([",", "ceo"]).found("ceo , x") == (False, True)
