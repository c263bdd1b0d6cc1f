"""Text folding for keyword rules: case- and accent-insensitive, on word boundaries."""

import re
import unicodedata
from functools import lru_cache

_WORD = re.compile(r"\w+")


# Every combining mark (accents and the like) of the first two Unicode planes, to delete.
_MARKS = dict.fromkeys(cp for cp in range(0x20000) if unicodedata.combining(chr(cp)))


@lru_cache(maxsize=8192)
def fold(text: str) -> str:
    """Lower-case `text` and strip its accents: "Générale" -> "generale"."""
    if text.isascii():
        return text.lower()
    return unicodedata.normalize("NFKD", text.casefold()).translate(_MARKS)


@lru_cache(maxsize=8192)
def word_string(text: str) -> str:
    """The folded words of `text`, space-separated and space-framed: " head of sales "."""
    return f" {' '.join(_WORD.findall(fold(text)))} "
