"""Text folding for keyword rules: case- and accent-insensitive, on word boundaries."""

import re
import unicodedata
from functools import lru_cache

_WORD = re.compile(r"\w+")


@lru_cache(maxsize=8192)
def fold(text: str) -> str:
    """Lower-case `text` and strip its accents: "Générale" -> "generale"."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


@lru_cache(maxsize=8192)
def word_string(text: str) -> str:
    """The folded words of `text`, space-separated and space-framed: " head of sales "."""
    return f" {' '.join(_WORD.findall(fold(text)))} "
