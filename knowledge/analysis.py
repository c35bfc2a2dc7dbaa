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
    from kiwipiepy import Kiwi, Token

# Kiwi (Sejong) tags kept as search terms: common/proper/bound nouns, numerals,
# verb and adjective stems, roots, foreign words, Chinese characters, numbers.
# Particles, endings and punctuation carry no topic and are dropped.
KEPT_TAG_PREFIXES = ("NNG", "NNP", "NNB", "NR", "NP", "VV", "VA", "XR", "SL", "SH", "SN", "W_")
# Dropped from questions only (chunks keep them): pronouns/interrogatives (NP: 어디, 무엇,
# 누구), light verbs that every "how do I…" question carries, and English function words.
# In a large collection BM25's idf already mutes them; in a help centre of a dozen
# articles it can't, and they made clear questions look uncovered.
QUERY_DROPPED_TAGS = ("NP",)
QUERY_STOPWORDS = frozenset(
    [
        "하",
        "되",
        "있",
        "없",
        "이",
        "그",
        "저",
        "a",
        "an",
        "and",
        "are",
        "be",
        "can",
        "could",
        "did",
        "do",
        "does",
        "for",
        "from",
        "how",
        "i",
        "in",
        "is",
        "it",
        "me",
        "my",
        "of",
        "on",
        "or",
        "our",
        "please",
        "should",
        "the",
        "there",
        "this",
        "to",
        "was",
        "we",
        "what",
        "when",
        "where",
        "which",
        "who",
        "why",
        "will",
        "with",
        "would",
        "you",
        "your",
    ]
)
_NON_TERM = re.compile(r"[^\w]+|_")
_lock = threading.Lock()


@functools.cache
def _kiwi() -> "Kiwi":
    from kiwipiepy import Kiwi

    return Kiwi()


def analyse(text: str, *, query: bool = False) -> list[str]:
    """Return the search terms of ``text`` in order, duplicates kept (term frequency counts).

    Korean text is split into morphemes by Kiwi; verb/adjective stems are returned
    without their endings (``받았다`` -> ``받``), so inflected forms match. ``query=True``
    (questions) also drops ``QUERY_DROPPED_TAGS`` and ``QUERY_STOPWORDS``.
    """
    if not text.strip():
        return []
    with _lock:  # one Kiwi instance per process; keep calls serial across threads
        tokens = _kiwi().tokenize(text)
    terms: list[str] = []
    for token in tokens:
        if not token.tag.startswith(KEPT_TAG_PREFIXES) or (query and token.tag.startswith(QUERY_DROPPED_TAGS)):
            continue
        for piece in _NON_TERM.split(token.form.lower()):
            if piece and not (query and piece in QUERY_STOPWORDS):
                terms.append(piece)
    return terms


def morphemes(text: str) -> list["Token"]:
    """Kiwi's tokens of ``text`` (``form``, ``tag``, ``start``, ``len`` in characters), serially.

    For callers that need positions or tags (the answer span); search terms come from
    :func:`analyse`.
    """
    if not text.strip():
        return []
    with _lock:
        return list(_kiwi().tokenize(text))


def other_language(question_language: str, article_language: str) -> bool:
    """Whether an article is in another language than the question (False when either is
    unknown, ""). The one rule behind the cross-language offset in dense retrieval,
    sentence re-ranking and extractive answers, and the ``cross_language`` feature."""
    return bool(question_language and article_language and question_language != article_language)


def detect_language(text: str) -> str:
    """``"ko"`` when Hangul syllables make up at least a third of the letters, else ``"en"``."""
    hangul = sum(1 for ch in text if "\uac00" <= ch <= "\ud7a3")
    letters = sum(1 for ch in text if ch.isalpha())
    return "ko" if hangul and hangul * 3 >= letters else "en"
