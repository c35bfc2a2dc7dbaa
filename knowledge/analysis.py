"""Lexical analysis for keyword search: Korean morphemes via Kiwi, English through the same path.

Both indexing and querying call :func:`analyse`, so a chunk and a question are cut into
the same units. The output is a list of lowercase terms made only of letters and digits,
which PostgreSQL's ``simple`` text-search parser keeps as they are.
"""

import functools
import re
import threading
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from kiwipiepy import Kiwi

# Kiwi (Sejong) tags kept as search terms: common/proper/bound nouns, numerals,
# verb and adjective stems, roots, foreign words, Chinese characters, numbers.
# Particles, endings and punctuation carry no topic and are dropped.
KEPT_TAG_PREFIXES = ("NNG", "NNP", "NNB", "NR", "NP", "VV", "VA", "XR", "SL", "SH", "SN", "W_")
_NON_TERM = re.compile(r"[^\w]+|_")
_lock = threading.Lock()


@functools.cache
def _kiwi() -> "Kiwi":
    from kiwipiepy import Kiwi

    return Kiwi()


def analyse(text: str) -> list[str]:
    """Return the search terms of ``text`` in order, duplicates kept (term frequency counts).

    Korean text is split into morphemes by Kiwi; verb/adjective stems are returned
    without their endings (``받았다`` -> ``받``), so inflected forms match.
    """
    if not text.strip():
        return []
    with _lock:  # one Kiwi instance per process; keep calls serial across threads
        tokens = _kiwi().tokenize(text)
    terms: list[str] = []
    for token in tokens:
        if not token.tag.startswith(KEPT_TAG_PREFIXES):
            continue
        for piece in _NON_TERM.split(token.form.lower()):
            if piece:
                terms.append(piece)
    return terms
