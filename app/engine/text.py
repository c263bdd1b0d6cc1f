"""Text folding for keyword rules: case- and accent-insensitive, on word boundaries."""

import re
import unicodedata
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

_WORD = re.compile(r"\w+")

# Every combining mark (accents and the like) of the first two Unicode planes, to delete.
_MARKS = dict.fromkeys(cp for cp in range(0x20000) if unicodedata.combining(chr(cp)))

# Short texts (keywords, names, headlines) come back again and again: many are cached. Long
# ones are rarely seen twice, and caching many would let a caller fill memory.
CACHED_TEXT = 256
# Below this much work (words of the text x keywords), plain substring searches are
# quickest; above, a set of the text's word sequences makes each keyword one lookup.
_SUBSTRING_WORK = 20_000


def fold(text: str) -> str:
    """Lower-case `text` and strip its accents: "Générale" -> "generale"."""
    return _fold(text) if len(text) <= CACHED_TEXT else _fold_long(text)


def _fold_text(text: str) -> str:
    if text.isascii():
        return text.lower()
    return unicodedata.normalize("NFKD", text.casefold()).translate(_MARKS)


_fold = lru_cache(maxsize=8192)(_fold_text)
# A long text is read by several rules of one evaluation: a few are kept, for that.
_fold_long = lru_cache(maxsize=16)(_fold_text)


def word_string(text: str) -> str:
    """The folded words of `text`, space-separated and space-framed: " head of sales "."""
    return _word_string(text) if len(text) <= CACHED_TEXT else _word_string_long(text)


def _words_of(text: str) -> str:
    return f" {' '.join(_WORD.findall(fold(text)))} "


_word_string = lru_cache(maxsize=8192)(_words_of)
_word_string_long = lru_cache(maxsize=16)(_words_of)


@lru_cache(maxsize=64)
def _word_sequences(words: str, sizes: tuple[int, ...]) -> frozenset[str]:
    """Every run of `sizes` consecutive words in `words` (a word string), space-joined."""
    tokens = words.split()
    return frozenset(
        " ".join(tokens[start : start + size])
        for size in sizes
        for start in range(len(tokens) - size + 1)
    )


class KeywordSet:
    """Keywords found as whole words, without case or accents, in a text or a list.

    In a text, a keyword is found when its words appear in a row ("head of" in "Head of
    Sales"); in a list, when an item equals it. A keyword without any word is never found.
    """

    __slots__ = ("_items", "_last", "_phrases", "_runs", "_sizes", "keywords")

    def __init__(self, keywords: Sequence[str]) -> None:
        self.keywords = tuple(keywords)
        words = [word_string(keyword) for keyword in self.keywords]
        # Framed (" head of ") for substring search, NUL for a keyword that never matches.
        self._phrases = tuple(w if w.strip() else "\0" for w in words)
        self._runs = tuple(w.strip() for w in words)  # "head of"; "" never matches
        self._sizes = tuple(sorted({len(run.split()) for run in self._runs if run}))
        self._items = tuple(fold(keyword).strip() for keyword in self.keywords)
        self._last: tuple[Any, tuple[bool, ...] | None] = (None, None)

    def found(self, value: Any) -> tuple[bool, ...] | None:
        """Whether each keyword is in `value`, a text or a list; None for anything else."""
        last_value, last_found = self._last
        if value is last_value and last_found is not None:
            return last_found  # a rule is tested, then explained, on the same value
        found: tuple[bool, ...] | None
        if isinstance(value, str):
            words = word_string(value)
            if len(words) * len(self._phrases) <= _SUBSTRING_WORK:
                found = tuple(phrase in words for phrase in self._phrases)
            else:
                runs = _word_sequences(words, self._sizes)
                found = tuple(run in runs for run in self._runs)
        elif isinstance(value, list):
            items = {fold(item).strip() for item in value if isinstance(item, str)}
            found = tuple(item in items for item in self._items)
        else:
            found = None
        self._last = (value, found)
        return found
